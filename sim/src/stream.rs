//! Co-simulation driver for element-wise AXI4-Stream units (`requant`, `gelu`): the
//! elements are packed `lanes` per beat (element i on lane i % lanes, the last beat
//! padded with zeros, `tlast` on the last beat), streamed through the unit with the
//! given [`Traffic`], and every lane of every output beat, padding lanes included, is
//! compared with golden. Everything that can go wrong lands in one [`Verdict`].

use crate::axis::{self, Beat, Expect, MasterPorts, OutLayout, SlavePorts, Timing, Traffic};
use crate::dut::Dut;
use crate::error::SimResult;
use crate::verdict::Verdict;

/// A lane format: value bits and signedness (fields are whole bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneFormat {
    /// Value bits.
    pub bits: u32,
    /// Two's complement.
    pub signed: bool,
}

impl LaneFormat {
    /// Bits of one padded field.
    pub fn field(&self) -> u32 {
        self.bits.div_ceil(8) * 8
    }

    /// The layout of an output stream of `lanes` fields of this format, with `tlast`
    /// checked and no `tuser`.
    pub fn out_layout(&self, lanes: usize) -> OutLayout {
        OutLayout {
            count: lanes as u32,
            bits: self.bits,
            field: self.field(),
            signed: self.signed,
            check_last: true,
            check_user: false,
        }
    }
}

/// Result of streaming a tensor through a unit.
#[derive(Debug, Clone)]
pub struct StreamRun {
    /// Hardware outputs, one per input element (0 where a beat never arrived).
    pub outputs: Vec<i64>,
    /// Elements processed.
    pub elements: u64,
    /// Cycle counts of the run.
    pub timing: Timing,
    /// elements / cycles.
    pub elements_per_cycle: f64,
    /// What went wrong, if anything.
    pub verdict: Verdict,
}

/// Stream `xs` through the unit in `dut` (ports `s_axis_*`, `m_axis_*`) and compare
/// with `golden(lane, x)`. `name(i)` names element `i` in messages. `tail` quiet
/// cycles after the last expected beat catch extra beats.
#[allow(clippy::too_many_arguments)]
pub fn run_lanes(
    dut: &mut Dut,
    lanes: usize,
    input: LaneFormat,
    output: LaneFormat,
    xs: &[i64],
    golden: &dyn Fn(usize, i64) -> i64,
    name: &dyn Fn(usize) -> String,
    traffic: &Traffic,
    tail: u64,
) -> SimResult<StreamRun> {
    let unit = dut.spec().name.clone();
    let sp = SlavePorts::of(dut, "s_axis")?;
    let mp = MasterPorts::of(dut, "m_axis")?;
    axis::reset(dut, &sp, &mp);
    let beats_n = xs.len().div_ceil(lanes);
    let in_width = lanes as u32 * input.field();
    let mut beats = Vec::with_capacity(beats_n);
    let mut want = Vec::with_capacity(beats_n);
    for b in 0..beats_n {
        let vals: Vec<i64> = (0..lanes)
            .map(|c| xs.get(b * lanes + c).copied().unwrap_or(0))
            .collect();
        let last = b + 1 == beats_n;
        beats.push(Beat {
            data: axis::pack_lanes(&vals, input.field(), in_width),
            last,
            user: 0,
        });
        want.push(Expect {
            lanes: vals
                .iter()
                .enumerate()
                .map(|(c, &x)| golden(c, x))
                .collect(),
            last,
            user: 0,
        });
    }
    let mut verdict = Verdict::new(&unit);
    let (got, timing) = axis::run(dut, &sp, &mp, &beats, beats_n, tail, traffic, &mut verdict)?;
    let layout = output.out_layout(lanes);
    let describe = |b: usize, c: usize| {
        let i = b * lanes + c;
        if i < xs.len() {
            format!("{} (x = {})", name(i), xs[i])
        } else {
            format!("padding lane {c} of the last beat")
        }
    };
    let values = axis::compare(&got, &want, &layout, &mut verdict, &describe);
    let mut outputs = vec![0; xs.len()];
    for (b, v) in values.iter().enumerate().take(beats_n) {
        for (c, &y) in v.iter().enumerate() {
            if let Some(o) = outputs.get_mut(b * lanes + c) {
                *o = y;
            }
        }
    }
    let elements = xs.len() as u64;
    Ok(StreamRun {
        outputs,
        elements,
        elements_per_cycle: elements as f64 / timing.cycles.max(1) as f64,
        timing,
        verdict,
    })
}
