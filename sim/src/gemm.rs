//! Tiled GEMM driver for the dense systolic array: runs any M x K x N GEMM on an
//! R x C array, compares every output element with the golden model and reports
//! cycle statistics.
//!
//! Tiling: output tiles of R x C, row-major over (M, N); each tile streams the full K.
//! Edge tiles are zero-padded, and the padded outputs are checked to be zero too.
//! Tiles are issued back to back; a tile with K < R is followed by R - K idle cycles
//! (the array's tile-interval rule, see `accgen_hw::systolic`).
//!
//! Cycle accounting: `cycles` runs from the first input beat to the cycle of the last
//! output row, inclusive; these are simulated clock cycles, not a formula.

use std::collections::VecDeque;
use std::time::Instant;

use accgen_golden::gemm::{check_operands, gemm, ArrayConfig, GemmError, Matrix};

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
    /// Useful multiply-accumulates, M * N * K.
    pub macs: u64,
    /// macs / (cycles * R * C).
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

/// Port handles of an array instance.
pub struct ArrayDriver {
    dut: Dut,
    cfg: ArrayConfig,
    unit: String,
    in_valid: InPort,
    in_last: InPort,
    a: Vec<InPort>,
    b: Vec<InPort>,
    out_valid: OutPort,
    out_row: OutPort,
    out_last: OutPort,
    out: Vec<OutPort>,
}

impl ArrayDriver {
    /// Wrap a DUT of the array generated from `cfg`; resets it.
    pub fn new(dut: Dut, cfg: &ArrayConfig) -> SimResult<ArrayDriver> {
        let unit = dut.spec().name.clone();
        let a = (0..cfg.rows)
            .map(|i| dut.input(&format!("a_{i}")))
            .collect::<SimResult<_>>()?;
        let b = (0..cfg.cols)
            .map(|j| dut.input(&format!("b_{j}")))
            .collect::<SimResult<_>>()?;
        let out = (0..cfg.cols)
            .map(|j| dut.output(&format!("out_{j}")))
            .collect::<SimResult<_>>()?;
        let mut d = ArrayDriver {
            in_valid: dut.input("in_valid")?,
            in_last: dut.input("in_last")?,
            out_valid: dut.output("out_valid")?,
            out_row: dut.output("out_row")?,
            out_last: dut.output("out_last")?,
            a,
            b,
            out,
            cfg: cfg.clone(),
            unit,
            dut,
        };
        d.dut.poke_u64(d.in_valid, 0);
        d.dut.poke_u64(d.in_last, 0);
        d.dut.reset(2);
        Ok(d)
    }

    /// The underlying DUT (for extra probing in tests).
    pub fn dut(&mut self) -> &mut Dut {
        &mut self.dut
    }

    /// Run `a` (M x K) times `b` (K x N), checking every element against golden.
    pub fn run(&mut self, a: &Matrix, b: &Matrix, issue: Issue) -> Result<GemmRun, GemmError> {
        let fmt = self.cfg.format();
        check_operands(a, b, fmt)?;
        if a.rows == 0 || a.cols == 0 || b.cols == 0 {
            return Err(GemmError(format!(
                "empty GEMM: A is [{}, {}], B is [{}, {}]; every dimension must be at least 1",
                a.rows, a.cols, b.rows, b.cols
            )));
        }
        let golden = gemm(a, b, fmt);
        let (r, c) = (self.cfg.rows as usize, self.cfg.cols as usize);
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let tiles: Vec<(usize, usize)> = (0..m.div_ceil(r))
            .flat_map(|mt| (0..n.div_ceil(c)).map(move |nt| (mt, nt)))
            .collect();
        let interval = k.max(r);
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
        for &(mt, nt) in &tiles {
            st.pending.push_back((mt, nt));
            for kk in 0..interval {
                if kk < k {
                    for (i, p) in self.a.iter().enumerate() {
                        let row = mt * r + i;
                        let v = if row < m { a.at(row, kk) } else { 0 };
                        self.dut.poke_i64(*p, v);
                    }
                    for (j, p) in self.b.iter().enumerate() {
                        let col = nt * c + j;
                        let v = if col < n { b.at(kk, col) } else { 0 };
                        self.dut.poke_i64(*p, v);
                    }
                    self.dut.poke_u64(self.in_valid, 1);
                    self.dut.poke_u64(self.in_last, (kk + 1 == k) as u64);
                } else {
                    self.dut.poke_u64(self.in_valid, 0);
                }
                self.observe(&mut st, &golden, t0);
                self.dut.tick();
            }
            self.dut.poke_u64(self.in_valid, 0);
            self.dut.poke_u64(self.in_last, 0);
            if issue == Issue::OneAtATime {
                self.drain(&mut st, &golden, t0);
            }
        }
        self.drain(&mut st, &golden, t0);
        let cycles = st.last_out - t0 + 1;
        let secs = wall.elapsed().as_secs_f64().max(1e-9);
        let macs = (m * n * k) as u64;
        Ok(GemmRun {
            c: st.hw,
            cycles,
            macs,
            utilization: macs as f64 / (cycles as f64 * (r * c) as f64),
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
