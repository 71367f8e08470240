//! Tiled GEMM driver for the systolic arrays (dense and N:M sparse): runs any
//! M x K x N GEMM on an R x C array, compares every output element with the golden
//! model and reports cycle statistics.
//!
//! Tiling: output tiles of R x C, row-major over (M, N); each tile streams the full K,
//! one K value per beat on the dense array and one K-group of M values per beat on the
//! sparse array (ceil(K/M) beats).
//! Edge tiles are zero-padded, and the padded outputs are checked to be zero too.
//! Tiles are issued back to back; a tile with K < R is followed by R - K idle cycles
//! (the array's tile-interval rule, see `accgen_hw::systolic`).
//!
//! Cycle accounting: `cycles` runs from the first input beat to the cycle of the last
//! output row, inclusive; these are simulated clock cycles, not a formula.

use std::collections::VecDeque;
use std::time::Instant;

use accgen_golden::gemm::{check_operands, gemm, ArrayConfig, GemmError, Matrix};
use accgen_golden::nm_sparse::{sparse_gemm, Compressed, SparsityConfig};

use crate::dut::{Dut, InPort, OutPort};
use crate::error::SimResult;

/// First differing output element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Unit name (the top module).
    pub unit: String,
    /// Output tile as (tile row, tile column).
    pub tile: (usize, usize),
    /// Row of C.
    pub row: usize,
    /// Column of C.
    pub col: usize,
    /// Simulation cycle (from the first beat) in which the row left the array.
    pub cycle: u64,
    /// Golden value.
    pub expected: i64,
    /// Hardware value.
    pub actual: i64,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: mismatch at tile ({}, {}), row {}, column {}, cycle {}: expected {}, actual {}",
            self.unit,
            self.tile.0,
            self.tile.1,
            self.row,
            self.col,
            self.cycle,
            self.expected,
            self.actual
        )
    }
}

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
    /// Simulated cycles, first beat to last output row inclusive.
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
    /// Output elements that differ from golden (padding included).
    pub mismatches: u64,
    /// The first of them.
    pub first_mismatch: Option<Mismatch>,
    /// Simulated cycles per wall-clock second.
    pub sim_cycles_per_s: f64,
}

impl GemmRun {
    /// True when every output element matched.
    pub fn bit_exact(&self) -> bool {
        self.mismatches == 0
    }
}

/// How operands reach the array's input lanes.
enum Lanes {
    Dense {
        a: Vec<InPort>,
        b: Vec<InPort>,
    },
    Sparse {
        sp: SparsityConfig,
        /// `[row][slot]`
        a: Vec<Vec<InPort>>,
        /// `[col][slot]`
        w: Vec<Vec<InPort>>,
        /// `[col][slot]`
        i: Vec<Vec<InPort>>,
    },
}

/// Port handles of an array instance.
pub struct ArrayDriver {
    dut: Dut,
    cfg: ArrayConfig,
    unit: String,
    in_valid: InPort,
    in_last: InPort,
    lanes: Lanes,
    out_valid: OutPort,
    out_row: OutPort,
    out_last: OutPort,
    out: Vec<OutPort>,
    progress: Option<Box<dyn FnMut(usize, usize)>>,
}

/// Report progress at most this often (wall clock).
const PROGRESS_PERIOD: std::time::Duration = std::time::Duration::from_millis(500);

/// Operand source of one GEMM.
enum Operands<'a> {
    Dense(&'a Matrix, &'a Matrix),
    Sparse(&'a Matrix, &'a Compressed),
}

impl ArrayDriver {
    /// Wrap a DUT of the dense array generated from `cfg`; resets it.
    pub fn new(dut: Dut, cfg: &ArrayConfig) -> SimResult<ArrayDriver> {
        let a = (0..cfg.rows)
            .map(|i| dut.input(&format!("a_{i}")))
            .collect::<SimResult<_>>()?;
        let b = (0..cfg.cols)
            .map(|j| dut.input(&format!("b_{j}")))
            .collect::<SimResult<_>>()?;
        ArrayDriver::with_lanes(dut, cfg, Lanes::Dense { a, b })
    }

    /// Wrap a DUT of the N:M sparse array generated from `cfg` and `sp`; resets it.
    pub fn new_sparse(dut: Dut, cfg: &ArrayConfig, sp: &SparsityConfig) -> SimResult<ArrayDriver> {
        let grid = |count: u32, slots: u32, lane: &str| -> SimResult<Vec<Vec<InPort>>> {
            (0..count)
                .map(|x| {
                    (0..slots)
                        .map(|s| dut.input(&format!("{lane}{s}_{x}")))
                        .collect()
                })
                .collect()
        };
        let lanes = Lanes::Sparse {
            sp: *sp,
            a: grid(cfg.rows, sp.m, "a")?,
            w: grid(cfg.cols, sp.n, "w")?,
            i: grid(cfg.cols, sp.n, "i")?,
        };
        ArrayDriver::with_lanes(dut, cfg, lanes)
    }

    fn with_lanes(mut dut: Dut, cfg: &ArrayConfig, lanes: Lanes) -> SimResult<ArrayDriver> {
        let unit = dut.spec().name.clone();
        let out = (0..cfg.cols)
            .map(|j| dut.output(&format!("out_{j}")))
            .collect::<SimResult<_>>()?;
        let (in_valid, in_last) = (dut.input("in_valid")?, dut.input("in_last")?);
        dut.poke_u64(in_valid, 0);
        dut.poke_u64(in_last, 0);
        dut.reset(2);
        Ok(ArrayDriver {
            in_valid,
            in_last,
            out_valid: dut.output("out_valid")?,
            out_row: dut.output("out_row")?,
            out_last: dut.output("out_last")?,
            lanes,
            out,
            cfg: cfg.clone(),
            unit,
            dut,
            progress: None,
        })
    }

    /// Call `f(tiles issued, tiles total)` about twice a second during long runs (and
    /// once at the end), so a CLI can show progress.
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
        if !matches!(self.lanes, Lanes::Dense { .. }) {
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
        match &self.lanes {
            Lanes::Sparse { sp, .. } if *sp == b.sp => {}
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

    fn poke_beat(&mut self, ops: &Operands, mt: usize, nt: usize, beat: usize) {
        let (r, c) = (self.cfg.rows as usize, self.cfg.cols as usize);
        match (&self.lanes, ops) {
            (Lanes::Dense { a: pa, b: pb }, Operands::Dense(a, b)) => {
                for (i, p) in pa.iter().enumerate() {
                    let row = mt * r + i;
                    self.dut
                        .poke_i64(*p, if row < a.rows { a.at(row, beat) } else { 0 });
                }
                for (j, p) in pb.iter().enumerate() {
                    let col = nt * c + j;
                    self.dut
                        .poke_i64(*p, if col < b.cols { b.at(beat, col) } else { 0 });
                }
            }
            (
                Lanes::Sparse {
                    sp,
                    a: pa,
                    w: pw,
                    i: pi,
                },
                Operands::Sparse(a, b),
            ) => {
                let m = sp.m as usize;
                for (i, slots) in pa.iter().enumerate() {
                    let row = mt * r + i;
                    for (s, p) in slots.iter().enumerate() {
                        let k = beat * m + s;
                        let v = if row < a.rows && k < a.cols {
                            a.at(row, k)
                        } else {
                            0
                        };
                        self.dut.poke_i64(*p, v);
                    }
                }
                for j in 0..c {
                    let col = nt * c + j;
                    for t in 0..sp.n as usize {
                        // Padding columns get value 0 with the distinct indices 0..n.
                        let (v, idx) = if col < b.cols {
                            b.slot(beat, col, t)
                        } else {
                            (0, t as u8)
                        };
                        self.dut.poke_i64(pw[j][t], v);
                        self.dut.poke_u64(pi[j][t], idx as u64);
                    }
                }
            }
            _ => unreachable!("operands match the lanes (checked by run/run_sparse)"),
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
        let interval = beats.max(r);
        let mut st = State {
            pending: VecDeque::new(),
            next_row: 0,
            hw: Matrix::zeros(m, n),
            mismatches: 0,
            first: None,
            last_out: 0,
        };
        let t0 = self.dut.cycle();
        let wall = Instant::now();
        let mut last_report = Instant::now();
        for (done, &(mt, nt)) in tiles.iter().enumerate() {
            if let Some(p) = self.progress.as_mut() {
                if last_report.elapsed() >= PROGRESS_PERIOD {
                    p(done, tiles.len());
                    last_report = Instant::now();
                }
            }
            st.pending.push_back((mt, nt));
            for kk in 0..interval {
                if kk < beats {
                    self.poke_beat(&ops, mt, nt, kk);
                    self.dut.poke_u64(self.in_valid, 1);
                    self.dut.poke_u64(self.in_last, (kk + 1 == beats) as u64);
                } else {
                    self.dut.poke_u64(self.in_valid, 0);
                }
                self.observe(&mut st, golden, t0);
                self.dut.tick();
            }
            self.dut.poke_u64(self.in_valid, 0);
            self.dut.poke_u64(self.in_last, 0);
            if issue == Issue::OneAtATime {
                self.drain(&mut st, golden, t0);
            }
        }
        self.drain(&mut st, golden, t0);
        if let Some(p) = self.progress.as_mut() {
            p(tiles.len(), tiles.len());
        }
        let cycles = st.last_out - t0 + 1;
        let secs = wall.elapsed().as_secs_f64().max(1e-9);
        let per_pe = match &self.lanes {
            Lanes::Dense { .. } => 1,
            Lanes::Sparse { sp, .. } => sp.n as u64,
        };
        let multipliers = (r * c) as u64 * per_pe;
        Ok(GemmRun {
            c: st.hw,
            cycles,
            macs,
            multipliers,
            utilization: macs as f64 / (cycles as f64 * multipliers as f64),
            tiles: tiles.len(),
            mismatches: st.mismatches,
            first_mismatch: st.first,
            sim_cycles_per_s: (self.dut.cycle() - t0) as f64 / secs,
        })
    }

    /// Tick until every issued tile has left the array (bounded).
    fn drain(&mut self, st: &mut State, golden: &Matrix, t0: u64) {
        let bound = (self.cfg.rows + self.cfg.cols) as u64 * 2 + 16;
        let mut waited = 0;
        while !st.pending.is_empty() && waited < bound {
            self.observe(st, golden, t0);
            self.dut.tick();
            waited += 1;
        }
        if let Some(&(mt, nt)) = st.pending.front() {
            st.mismatches += 1;
            st.first.get_or_insert(Mismatch {
                unit: self.unit.clone(),
                tile: (mt, nt),
                row: mt * self.cfg.rows as usize + st.next_row,
                col: 0,
                cycle: self.dut.cycle() - t0,
                expected: 0,
                actual: 0,
            });
            st.pending.clear();
        }
    }

    fn observe(&mut self, st: &mut State, golden: &Matrix, t0: u64) {
        if self.dut.peek_u64(self.out_valid) == 0 {
            return;
        }
        let cycle = self.dut.cycle() - t0;
        st.last_out = self.dut.cycle();
        let (r, c) = (self.cfg.rows as usize, self.cfg.cols as usize);
        let Some(&(mt, nt)) = st.pending.front() else {
            st.mismatches += 1;
            return;
        };
        let hw_row = self.dut.peek_u64(self.out_row) as usize;
        let row = mt * r + st.next_row;
        for j in 0..c {
            let col = nt * c + j;
            let actual = self.dut.peek_i64(self.out[j]);
            let inside = row < golden.rows && col < golden.cols;
            let expected = if inside { golden.at(row, col) } else { 0 };
            if inside {
                *st.hw.at_mut(row, col) = actual;
            }
            if actual != expected || hw_row != st.next_row {
                st.mismatches += 1;
                st.first.get_or_insert(Mismatch {
                    unit: self.unit.clone(),
                    tile: (mt, nt),
                    row,
                    col,
                    cycle,
                    expected,
                    actual,
                });
            }
        }
        let last = self.dut.peek_u64(self.out_last) == 1;
        st.next_row += 1;
        if last != (st.next_row == r) {
            st.mismatches += 1;
        }
        if st.next_row == r {
            st.next_row = 0;
            st.pending.pop_front();
        }
    }
}

struct State {
    pending: VecDeque<(usize, usize)>,
    next_row: usize,
    hw: Matrix,
    mismatches: u64,
    first: Option<Mismatch>,
    last_out: u64,
}

/// SCALE-Sim's output-stationary fold model: sum over folds of (R + C + K - 2).
pub fn scalesim_os_cycles(cfg: &ArrayConfig, m: usize, k: usize, n: usize) -> u64 {
    let folds = m.div_ceil(cfg.rows as usize) * n.div_ceil(cfg.cols as usize);
    folds as u64 * (cfg.rows as u64 + cfg.cols as u64 + k as u64 - 2)
}
