//! Tiled GEMM driver for the systolic array tops (dense and N:M sparse): runs any
//! M x K x N GEMM on an R x C array through its AXI4-Stream ports, compares every
//! output element (padding included) with the golden model into a [`Verdict`], and
//! reports cycle statistics.
//!
//! Tiling: output tiles of R x C, row-major over (M, N); each tile streams the full K,
//! one beat {B row k, A column k} per K value on the dense array and one K-group of M
//! values per beat on the sparse array (ceil(K/M) beats), `tlast` on the tile's last
//! beat. Edge tiles are zero-padded, and the padded outputs must be zero too. The
//! array enforces its own tile rules through `s_axis_tready`, so beats are simply
//! offered back to back (or tile by tile, [`Issue::OneAtATime`]). Every output row is
//! checked for its `tuser` (row index) and `tlast` (row R-1).
//!
//! Cycle accounting: `cycles` runs from the first input handshake to the last output
//! handshake, inclusive; these are simulated clock cycles, not a formula.

use std::time::Instant;

use accgen_golden::gemm::{check_operands, gemm, ArrayConfig, GemmError, Matrix};
use accgen_golden::nm_sparse::{sparse_gemm, Compressed, SparsityConfig};
use accgen_hw::rtl::Value;

use crate::axis::{self, Beat, Expect, MasterPorts, OutLayout, SlavePorts, Traffic};
use crate::dut::Dut;
use crate::error::SimResult;
use crate::verdict::Verdict;

/// How tiles are issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Issue {
    /// Back to back, as fast as the array accepts them.
    #[default]
    BackToBack,
    /// Each tile only after the previous one has fully drained.
    OneAtATime,
}

/// Result of one GEMM on the array.
#[derive(Debug, Clone)]
pub struct GemmRun {
    /// C as the hardware produced it (M x N).
    pub c: Matrix,
    /// Simulated cycles, first input handshake to last output handshake inclusive.
    pub cycles: u64,
    /// Useful multiply-accumulates: M * N * K on the dense array, M * nnz(B) on the
    /// sparse array (multiplications by a zero weight are not useful).
    pub macs: u64,
    /// Multipliers in the array: R * C, times N on the sparse array.
    pub multipliers: u64,
    /// macs / (cycles * multipliers).
    pub utilization: f64,
    /// Number of output tiles.
    pub tiles: usize,
    /// Cycles in which a beat was offered and `s_axis_tready` was low.
    pub input_stalls: u64,
    /// What went wrong, if anything.
    pub verdict: Verdict,
    /// Simulated cycles per wall-clock second.
    pub sim_cycles_per_s: f64,
}

impl GemmRun {
    /// True when every output element matched and the streams were clean.
    pub fn bit_exact(&self) -> bool {
        self.verdict.passed()
    }
}

/// Operand source of one GEMM.
enum Operands<'a> {
    Dense(&'a Matrix, &'a Matrix),
    Sparse(&'a Matrix, &'a Compressed),
}

/// A running array top and its stream ports.
pub struct ArrayDriver {
    dut: Dut,
    cfg: ArrayConfig,
    sparse: Option<SparsityConfig>,
    unit: String,
    input: SlavePorts,
    output: MasterPorts,
    in_bits: u32,
    traffic: Traffic,
    progress: Option<Box<dyn FnMut(usize, usize)>>,
}

fn field(bits: u32) -> u32 {
    bits.div_ceil(8) * 8
}

/// Writes fields into a little-endian bit vector.
struct Packer {
    words: Vec<u64>,
    at: u32,
}

impl Packer {
    fn new(width: u32) -> Packer {
        Packer {
            words: vec![0; width.div_ceil(64) as usize],
            at: 0,
        }
    }

    /// Append `v` in a field of `field(bits)` bits, two's complement.
    fn push(&mut self, v: i64, bits: u32) {
        let f = field(bits);
        for b in 0..f {
            let bit = if b < 64 { (v >> b) & 1 == 1 } else { v < 0 };
            if bit {
                let pos = self.at + b;
                self.words[(pos / 64) as usize] |= 1 << (pos % 64);
            }
        }
        self.at += f;
    }

    fn value(self, width: u32) -> Value {
        Value::from_words_truncating(width, &self.words)
    }
}

impl ArrayDriver {
    /// Wrap a DUT of the dense array top generated from `cfg`; resets it.
    pub fn new(dut: Dut, cfg: &ArrayConfig) -> SimResult<ArrayDriver> {
        ArrayDriver::with(dut, cfg, None)
    }

    /// Wrap a DUT of the N:M sparse array top generated from `cfg` and `sp`; resets it.
    pub fn new_sparse(dut: Dut, cfg: &ArrayConfig, sp: &SparsityConfig) -> SimResult<ArrayDriver> {
        ArrayDriver::with(dut, cfg, Some(*sp))
    }

    fn with(
        mut dut: Dut,
        cfg: &ArrayConfig,
        sparse: Option<SparsityConfig>,
    ) -> SimResult<ArrayDriver> {
        let unit = dut.spec().name.clone();
        let input = SlavePorts::of(&dut, "s_axis")?;
        let output = MasterPorts::of(&dut, "m_axis")?;
        axis::reset(&mut dut, &input, &output);
        let in_bits = dut
            .spec()
            .ports
            .iter()
            .find(|p| p.name == "s_axis_tdata")
            .map_or(0, |p| p.width);
        Ok(ArrayDriver {
            dut,
            cfg: cfg.clone(),
            sparse,
            unit,
            input,
            output,
            in_bits,
            traffic: Traffic::smooth(),
            progress: None,
        })
    }

    /// Use `traffic` (input gaps and output backpressure) from now on.
    pub fn set_traffic(&mut self, traffic: Traffic) {
        self.traffic = traffic;
    }

    /// Call `f(tiles done, tiles total)` during long runs (and once at the end), so a
    /// CLI can show progress.
    pub fn on_progress(&mut self, f: impl FnMut(usize, usize) + 'static) {
        self.progress = Some(Box::new(f));
    }

    /// The underlying DUT (for extra probing in tests).
    pub fn dut(&mut self) -> &mut Dut {
        &mut self.dut
    }

    /// Run `a` (M x K) times `b` (K x N) on the dense array, checking every element
    /// against golden.
    pub fn run(&mut self, a: &Matrix, b: &Matrix, issue: Issue) -> Result<GemmRun, GemmError> {
        if self.sparse.is_some() {
            return Err(GemmError(format!(
                "{} is a sparse array: use run_sparse",
                self.unit
            )));
        }
        check_operands(a, b, self.cfg.format())?;
        let golden = gemm(a, b, self.cfg.format());
        let macs = (a.rows * a.cols * b.cols) as u64;
        self.run_tiles(Operands::Dense(a, b), &golden, a.cols, macs, issue)
    }

    /// Run `a` (M x K) times the compressed N:M matrix `b` (K x N) on the sparse array,
    /// checking every element against the golden sparse GEMM.
    pub fn run_sparse(
        &mut self,
        a: &Matrix,
        b: &Compressed,
        issue: Issue,
    ) -> Result<GemmRun, GemmError> {
        match &self.sparse {
            Some(sp) if *sp == b.sp => {}
            _ => {
                return Err(GemmError(format!(
                    "{} is not a {}:{} sparse array",
                    self.unit, b.sp.n, b.sp.m
                )))
            }
        }
        let golden = sparse_gemm(a, b, self.cfg.format())?;
        let nnz = b.values.iter().filter(|&&v| v != 0).count() as u64;
        let macs = a.rows as u64 * nnz;
        self.run_tiles(Operands::Sparse(a, b), &golden, b.groups(), macs, issue)
    }

    /// The beat `beat` of tile (mt, nt).
    fn beat(&self, ops: &Operands, mt: usize, nt: usize, beat: usize, last: bool) -> Beat {
        let (r, c) = (self.cfg.rows as usize, self.cfg.cols as usize);
        let mut p = Packer::new(self.in_bits);
        match (ops, &self.sparse) {
            (Operands::Dense(a, b), None) => {
                for i in 0..r {
                    let row = mt * r + i;
                    p.push(
                        if row < a.rows { a.at(row, beat) } else { 0 },
                        self.cfg.act_bits,
                    );
                }
                for j in 0..c {
                    let col = nt * c + j;
                    p.push(
                        if col < b.cols { b.at(beat, col) } else { 0 },
                        self.cfg.weight_bits,
                    );
                }
            }
            (Operands::Sparse(a, b), Some(sp)) => {
                let m = sp.m as usize;
                for i in 0..r {
                    let row = mt * r + i;
                    for s in 0..m {
                        let k = beat * m + s;
                        let v = if row < a.rows && k < a.cols {
                            a.at(row, k)
                        } else {
                            0
                        };
                        p.push(v, self.cfg.act_bits);
                    }
                }
                let ib = sp.idx_bits().max(1);
                for j in 0..c {
                    let col = nt * c + j;
                    let mut meta = 0i64;
                    for t in 0..sp.n as usize {
                        // Padding columns get value 0 with the distinct indices 0..n.
                        let (v, idx) = if col < b.cols {
                            b.slot(beat, col, t)
                        } else {
                            (0, t as u8)
                        };
                        p.push(v, self.cfg.weight_bits);
                        meta |= (idx as i64) << (t as u32 * ib);
                    }
                    p.push(meta, sp.n * ib);
                }
            }
            _ => unreachable!("operands match the array kind (checked by run/run_sparse)"),
        }
        Beat {
            data: p.value(self.in_bits),
            last,
            user: 0,
        }
    }

    fn run_tiles(
        &mut self,
        ops: Operands,
        golden: &Matrix,
        beats: usize,
        macs: u64,
        issue: Issue,
    ) -> Result<GemmRun, GemmError> {
        let (m, n) = (golden.rows, golden.cols);
        if m == 0 || n == 0 || beats == 0 {
            return Err(GemmError(format!(
                "empty GEMM: C would be [{m}, {n}] with K = {beats} beats; every dimension must be at least 1"
            )));
        }
        let (r, c) = (self.cfg.rows as usize, self.cfg.cols as usize);
        let tiles: Vec<(usize, usize)> = (0..m.div_ceil(r))
            .flat_map(|mt| (0..n.div_ceil(c)).map(move |nt| (mt, nt)))
            .collect();
        let groups: Vec<Vec<(usize, usize)>> = match issue {
            Issue::BackToBack => vec![tiles.clone()],
            Issue::OneAtATime => tiles.iter().map(|t| vec![*t]).collect(),
        };
        let mut verdict = Verdict::new(&self.unit);
        let mut hw = Matrix::zeros(m, n);
        let layout = OutLayout {
            count: c as u32,
            bits: self.cfg.acc_bits,
            field: field(self.cfg.acc_bits),
            signed: true,
            check_last: true,
            check_user: true,
        };
        let wall = Instant::now();
        let start = self.dut.cycle();
        let mut first_in: Option<u64> = None;
        let mut last_out = start;
        let mut stalls = 0;
        let mut done = 0;
        let total = tiles.len();
        let traffic = self.traffic;
        for group in groups {
            let mut beats_v = Vec::with_capacity(group.len() * beats);
            let mut want = Vec::with_capacity(group.len() * r);
            for &(mt, nt) in &group {
                for k in 0..beats {
                    beats_v.push(self.beat(&ops, mt, nt, k, k + 1 == beats));
                }
                for i in 0..r {
                    let row = mt * r + i;
                    let lanes = (0..c)
                        .map(|j| {
                            let col = nt * c + j;
                            if row < m && col < n {
                                golden.at(row, col)
                            } else {
                                0
                            }
                        })
                        .collect();
                    want.push(Expect {
                        lanes,
                        last: i + 1 == r,
                        user: i as u64,
                    });
                }
            }
            let mut progress = self.progress.take();
            let base = done;
            let mut report = |got: usize, _exp: usize| {
                if let Some(p) = progress.as_mut() {
                    p((base + got / r).min(total), total);
                }
            };
            let tail = 16 + 2 * (r + c) as u64;
            let (got, timing) = axis::run_reporting(
                &mut self.dut,
                &self.input,
                &self.output,
                &beats_v,
                want.len(),
                tail,
                &traffic,
                &mut verdict,
                &mut report,
            )
            .map_err(|e| GemmError(e.to_string()))?;
            self.progress = progress;
            stalls += timing.input_stalls;
            if !timing.input_cycles.is_empty() {
                first_in.get_or_insert(timing.start_cycle);
            }
            if let Some(g) = got.last() {
                last_out = timing.start_cycle + g.cycle;
            }
            let name = |b: usize, j: usize| {
                let (mt, nt) = group[(b / r).min(group.len() - 1)];
                format!(
                    "C[{}, {}] (tile ({mt}, {nt}), row {}, column {j})",
                    mt * r + b % r,
                    nt * c + j,
                    b % r
                )
            };
            let values = axis::compare(&got, &want, &layout, &mut verdict, &name);
            for (b, v) in values.iter().enumerate().take(want.len()) {
                let (mt, nt) = group[b / r];
                let row = mt * r + b % r;
                for (j, &x) in v.iter().enumerate() {
                    let col = nt * c + j;
                    if row < m && col < n {
                        *hw.at_mut(row, col) = x;
                    }
                }
            }
            done += group.len();
        }
        if let Some(p) = self.progress.as_mut() {
            p(total, total);
        }
        let cycles = last_out.saturating_sub(first_in.unwrap_or(start)) + 1;
        let secs = wall.elapsed().as_secs_f64().max(1e-9);
        let per_pe = self.sparse.map_or(1, |sp| sp.n as u64);
        let multipliers = (r * c) as u64 * per_pe;
        Ok(GemmRun {
            c: hw,
            cycles,
            macs,
            multipliers,
            utilization: macs as f64 / (cycles as f64 * multipliers as f64),
            tiles: total,
            input_stalls: stalls,
            verdict,
            sim_cycles_per_s: (self.dut.cycle() - start) as f64 / secs,
        })
    }
}

/// SCALE-Sim's output-stationary fold model: sum over folds of (R + C + K - 2).
pub fn scalesim_os_cycles(cfg: &ArrayConfig, m: usize, k: usize, n: usize) -> u64 {
    let folds = m.div_ceil(cfg.rows as usize) * n.div_ceil(cfg.cols as usize);
    folds as u64 * (cfg.rows as u64 + cfg.cols as u64 + k as u64 - 2)
}
