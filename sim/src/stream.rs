//! Co-simulation driver for lane-parallel streaming units (`requant`, `gelu`): ports
//! `in_valid`, `x_<c>` in and `out_valid`, `y_<c>` out, one element per lane per cycle.
//!
//! Elements are streamed in beats of `lanes` (element i on lane i % lanes), back to
//! back; every output is compared with the golden result of its element. Cycle count:
//! first beat to last output beat inclusive, from the simulation.

use std::collections::VecDeque;
use std::time::Instant;

use crate::dut::Dut;
use crate::error::SimResult;

/// First differing output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMismatch {
    /// Unit (top module) name.
    pub unit: String,
    /// Element index in the input stream.
    pub index: usize,
    /// Lane that carried it.
    pub lane: usize,
    /// Cycle (from the first beat) in which the output left the unit.
    pub cycle: u64,
    /// Input value.
    pub input: i64,
    /// Golden value.
    pub expected: i64,
    /// Hardware value.
    pub actual: i64,
}

impl std::fmt::Display for StreamMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: mismatch at element {} (lane {}), cycle {}: input {}, expected {}, actual {}",
            self.unit, self.index, self.lane, self.cycle, self.input, self.expected, self.actual
        )
    }
}

/// Result of streaming a tensor through a unit.
#[derive(Debug, Clone)]
pub struct StreamRun {
    /// Hardware outputs, one per input element.
    pub outputs: Vec<i64>,
    /// Simulated cycles, first beat to last output beat inclusive.
    pub cycles: u64,
    /// Elements processed.
    pub elements: u64,
    /// elements / cycles.
    pub elements_per_cycle: f64,
    /// Outputs that differ from golden.
    pub mismatches: u64,
    /// The first of them.
    pub first_mismatch: Option<StreamMismatch>,
    /// Simulated cycles per wall-clock second.
    pub sim_cycles_per_s: f64,
}

impl StreamRun {
    /// True when every output matched.
    pub fn bit_exact(&self) -> bool {
        self.mismatches == 0
    }
}

/// Stream `xs` through the unit in `dut` and compare with `expected` (same length).
pub fn run_lanes(
    dut: &mut Dut,
    lanes: usize,
    xs: &[i64],
    expected: &[i64],
) -> SimResult<StreamRun> {
    assert_eq!(xs.len(), expected.len(), "one golden output per input");
    let unit = dut.spec().name.clone();
    let valid = dut.input("in_valid")?;
    let ins = (0..lanes)
        .map(|c| dut.input(&format!("x_{c}")))
        .collect::<SimResult<Vec<_>>>()?;
    let out_valid = dut.output("out_valid")?;
    let outs = (0..lanes)
        .map(|c| dut.output(&format!("y_{c}")))
        .collect::<SimResult<Vec<_>>>()?;
    dut.poke_u64(valid, 0);
    dut.reset(2);
    let beats = xs.len().div_ceil(lanes);
    let mut run = StreamRun {
        outputs: vec![0; xs.len()],
        cycles: 0,
        elements: xs.len() as u64,
        elements_per_cycle: 0.0,
        mismatches: 0,
        first_mismatch: None,
        sim_cycles_per_s: 0.0,
    };
    let mut pending: VecDeque<usize> = VecDeque::new();
    let t0 = dut.cycle();
    let wall = Instant::now();
    let mut last_out = t0;
    let mut observe = |dut: &mut Dut, pending: &mut VecDeque<usize>, run: &mut StreamRun| {
        if dut.peek_u64(out_valid) == 0 {
            return;
        }
        let cycle = dut.cycle() - t0;
        last_out = dut.cycle();
        let Some(b) = pending.pop_front() else {
            run.mismatches += 1;
            return;
        };
        for (c, p) in outs.iter().enumerate() {
            let i = b * lanes + c;
            if i >= xs.len() {
                break;
            }
            let actual = dut.peek_i64(*p);
            run.outputs[i] = actual;
            if actual != expected[i] {
                run.mismatches += 1;
                run.first_mismatch.get_or_insert(StreamMismatch {
                    unit: unit.clone(),
                    index: i,
                    lane: c,
                    cycle,
                    input: xs[i],
                    expected: expected[i],
                    actual,
                });
            }
        }
    };
    for b in 0..beats {
        for (c, p) in ins.iter().enumerate() {
            dut.poke_i64(*p, xs.get(b * lanes + c).copied().unwrap_or(0));
        }
        dut.poke_u64(valid, 1);
        pending.push_back(b);
        observe(dut, &mut pending, &mut run);
        dut.tick();
    }
    dut.poke_u64(valid, 0);
    for _ in 0..256 {
        if pending.is_empty() {
            break;
        }
        observe(dut, &mut pending, &mut run);
        dut.tick();
    }
    if !pending.is_empty() {
        run.mismatches += pending.len() as u64;
    }
    run.cycles = last_out - t0 + 1;
    run.elements_per_cycle = run.elements as f64 / run.cycles as f64;
    run.sim_cycles_per_s = (dut.cycle() - t0) as f64 / wall.elapsed().as_secs_f64().max(1e-9);
    Ok(run)
}
