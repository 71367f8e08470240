//! Co-simulation driver of the softmax unit: rows stream back to back on every lane
//! (row r on lane r % lanes), honouring `in_ready`; every output is compared with the
//! golden row, and per-row latency and input stalls are measured.

use std::collections::VecDeque;
use std::time::Instant;

use crate::dut::{Dut, InPort, OutPort};
use crate::error::SimResult;

/// First differing output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowMismatch {
    /// Row index.
    pub row: usize,
    /// Element index in the row.
    pub index: usize,
    /// Lane.
    pub lane: usize,
    /// Cycle (from the first beat).
    pub cycle: u64,
    /// Golden value.
    pub expected: i64,
    /// Hardware value.
    pub actual: i64,
}

impl std::fmt::Display for RowMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "softmax: mismatch at row {}, element {} (lane {}), cycle {}: expected {}, actual {}",
            self.row, self.index, self.lane, self.cycle, self.expected, self.actual
        )
    }
}

/// Result of streaming rows through the unit.
#[derive(Debug, Clone)]
pub struct RowsRun {
    /// Hardware outputs per row.
    pub outputs: Vec<Vec<i64>>,
    /// Simulated cycles, first beat to last output inclusive.
    pub cycles: u64,
    /// Elements processed.
    pub elements: u64,
    /// elements / cycles.
    pub elements_per_cycle: f64,
    /// Elements presented that entered the unit (each exactly once).
    pub accepted: u64,
    /// Cycles in which an element was presented but `in_ready` was 0.
    pub stalls: u64,
    /// Max over rows of (last output cycle - last input cycle - row length).
    pub max_latency_excess: i64,
    /// Outputs that differ from golden (missing or extra outputs count too).
    pub mismatches: u64,
    /// The first of them.
    pub first_mismatch: Option<RowMismatch>,
    /// Simulated cycles per wall-clock second.
    pub sim_cycles_per_s: f64,
}

impl RowsRun {
    /// True when every output matched.
    pub fn bit_exact(&self) -> bool {
        self.mismatches == 0
    }
}

struct Lane {
    valid: InPort,
    last: InPort,
    x: InPort,
    ready: OutPort,
    out_valid: OutPort,
    out_last: OutPort,
    y: OutPort,
    /// Rows to send: (row index, next element).
    todo: VecDeque<(usize, usize)>,
    /// Rows sent or being sent, awaiting outputs: (row, outputs seen, last-input cycle).
    waiting: VecDeque<(usize, usize, Option<u64>)>,
}

/// Stream `rows` through the unit and compare with `expected` (golden rows).
pub fn run_rows(
    dut: &mut Dut,
    lanes: usize,
    rows: &[Vec<i64>],
    expected: &[Vec<i64>],
) -> SimResult<RowsRun> {
    assert_eq!(rows.len(), expected.len());
    let mut ls = Vec::with_capacity(lanes);
    for c in 0..lanes {
        ls.push(Lane {
            valid: dut.input(&format!("in_valid_{c}"))?,
            last: dut.input(&format!("in_last_{c}"))?,
            x: dut.input(&format!("x_{c}"))?,
            ready: dut.output(&format!("in_ready_{c}"))?,
            out_valid: dut.output(&format!("out_valid_{c}"))?,
            out_last: dut.output(&format!("out_last_{c}"))?,
            y: dut.output(&format!("y_{c}"))?,
            todo: (0..rows.len())
                .filter(|r| r % lanes == c)
                .map(|r| (r, 0))
                .collect(),
            waiting: VecDeque::new(),
        });
        dut.poke_u64(ls[c].valid, 0);
    }
    dut.reset(2);
    let mut run = RowsRun {
        outputs: rows.iter().map(|r| vec![0; r.len()]).collect(),
        cycles: 0,
        elements: rows.iter().map(|r| r.len() as u64).sum(),
        elements_per_cycle: 0.0,
        accepted: 0,
        stalls: 0,
        max_latency_excess: i64::MIN,
        mismatches: 0,
        first_mismatch: None,
        sim_cycles_per_s: 0.0,
    };
    let t0 = dut.cycle();
    let wall = Instant::now();
    let mut last_out = t0;
    let limit = run.elements * 4 + 10_000;
    while ls
        .iter()
        .any(|l| !l.todo.is_empty() || !l.waiting.is_empty())
    {
        let cycle = dut.cycle() - t0;
        if cycle > limit {
            run.mismatches += 1;
            break;
        }
        for (c, l) in ls.iter_mut().enumerate() {
            // Outputs of this cycle.
            if dut.peek_u64(l.out_valid) == 1 {
                last_out = dut.cycle();
                match l.waiting.front_mut() {
                    Some((row, seen, last_in)) => {
                        let (row, i) = (*row, *seen);
                        let actual = dut.peek_i64(l.y);
                        let want = expected[row].get(i).copied();
                        if i < run.outputs[row].len() {
                            run.outputs[row][i] = actual;
                        }
                        if want != Some(actual) {
                            run.mismatches += 1;
                            run.first_mismatch.get_or_insert(RowMismatch {
                                row,
                                index: i,
                                lane: c,
                                cycle,
                                expected: want.unwrap_or(-1),
                                actual,
                            });
                        }
                        *seen += 1;
                        let is_last = dut.peek_u64(l.out_last) == 1;
                        if is_last != (*seen == expected[row].len()) {
                            run.mismatches += 1;
                        }
                        if *seen == expected[row].len() {
                            if let Some(li) = *last_in {
                                let excess =
                                    (cycle as i64) - (li as i64) - expected[row].len() as i64;
                                run.max_latency_excess = run.max_latency_excess.max(excess);
                            }
                            l.waiting.pop_front();
                        }
                    }
                    None => run.mismatches += 1,
                }
            }
            // Inputs of this cycle.
            match l.todo.front().copied() {
                Some((row, i)) => {
                    let len = rows[row].len();
                    dut.poke_u64(l.valid, 1);
                    dut.poke_u64(l.last, (i + 1 == len) as u64);
                    dut.poke_i64(l.x, rows[row][i]);
                    if dut.peek_u64(l.ready) == 1 {
                        run.accepted += 1;
                        if i == 0 {
                            l.waiting.push_back((row, 0, None));
                        }
                        if i + 1 == len {
                            l.todo.pop_front();
                            if let Some(w) = l.waiting.iter_mut().find(|w| w.0 == row) {
                                w.2 = Some(cycle);
                            }
                        } else {
                            l.todo.front_mut().expect("row in progress").1 += 1;
                        }
                    } else {
                        run.stalls += 1;
                    }
                }
                None => dut.poke_u64(l.valid, 0),
            }
        }
        dut.tick();
    }
    run.cycles = last_out - t0 + 1;
    run.elements_per_cycle = run.elements as f64 / run.cycles as f64;
    run.sim_cycles_per_s = (dut.cycle() - t0) as f64 / wall.elapsed().as_secs_f64().max(1e-9);
    Ok(run)
}
