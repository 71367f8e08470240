//! Co-simulation driver of the softmax unit: rows stream through `s_axis` in lockstep
//! groups of `lanes` (row r on lane r % lanes; every row of a group has one length,
//! and the last group is padded with all-zero rows), `tlast` on each group's last
//! beat. Every output of every lane, padding rows included, is compared with golden;
//! per-row latency and input stalls are measured. Problems go into a [`Verdict`].

use crate::axis::{self, Beat, Expect, MasterPorts, SlavePorts, Timing, Traffic};
use crate::dut::Dut;
use crate::error::SimResult;
use crate::stream::LaneFormat;
use crate::verdict::Verdict;

/// The input and output lane formats of the softmax unit `cfg`: signed in_bits in,
/// unsigned out_bits out.
pub fn formats(cfg: &accgen_golden::softmax::SoftmaxConfig) -> (LaneFormat, LaneFormat) {
    (
        LaneFormat {
            bits: cfg.in_bits,
            signed: true,
        },
        LaneFormat {
            bits: cfg.out_bits,
            signed: false,
        },
    )
}

/// Result of streaming rows through the unit.
#[derive(Debug, Clone)]
pub struct RowsRun {
    /// Hardware outputs per row.
    pub outputs: Vec<Vec<i64>>,
    /// Elements processed (padding rows excluded).
    pub elements: u64,
    /// Cycle counts.
    pub timing: Timing,
    /// elements / cycles.
    pub elements_per_cycle: f64,
    /// Max over row groups of (last output cycle - last input cycle - row length).
    pub max_latency_excess: i64,
    /// What went wrong, if anything.
    pub verdict: Verdict,
}

/// Stream `rows` through the unit (see module docs) and compare with `golden(row)`.
/// Rows of one lockstep group must have equal lengths (this panics otherwise: a
/// testbench error, not a hardware one).
pub fn run_rows(
    dut: &mut Dut,
    lanes: usize,
    input: LaneFormat,
    output: LaneFormat,
    rows: &[Vec<i64>],
    golden: &dyn Fn(&[i64]) -> Vec<i64>,
    traffic: &Traffic,
) -> SimResult<RowsRun> {
    let unit = dut.spec().name.clone();
    let sp = SlavePorts::of(dut, "s_axis")?;
    let mp = MasterPorts::of(dut, "m_axis")?;
    axis::reset(dut, &sp, &mp);
    let in_width = lanes as u32 * input.field();
    let mut beats = Vec::new();
    let mut want = Vec::new();
    // (first beat index, length) of every group.
    let mut groups = Vec::new();
    for g in rows.chunks(lanes) {
        let len = g[0].len();
        assert!(
            g.iter().all(|r| r.len() == len),
            "rows of one lockstep group must have one length"
        );
        let mut group: Vec<Vec<i64>> = g.to_vec();
        while group.len() < lanes {
            group.push(vec![0; len]);
        }
        let outs: Vec<Vec<i64>> = group.iter().map(|r| golden(r)).collect();
        groups.push((beats.len(), len));
        for k in 0..len {
            let vals: Vec<i64> = group.iter().map(|r| r[k]).collect();
            beats.push(Beat {
                data: axis::pack_lanes(&vals, input.field(), in_width),
                last: k + 1 == len,
                user: 0,
            });
            want.push(Expect {
                lanes: outs.iter().map(|o| o[k]).collect(),
                last: k + 1 == len,
                user: 0,
            });
        }
    }
    let mut verdict = Verdict::new(&unit);
    let tail = 256;
    let (got, timing) = axis::run(
        dut,
        &sp,
        &mp,
        &beats,
        beats.len(),
        tail,
        traffic,
        &mut verdict,
    )?;
    let layout = output.out_layout(lanes);
    // Beat index -> (row of lane 0, element).
    let mut where_: Vec<(usize, usize)> = Vec::with_capacity(beats.len());
    for (gi, &(_, len)) in groups.iter().enumerate() {
        for k in 0..len {
            where_.push((gi * lanes, k));
        }
    }
    let describe = |b: usize, c: usize| match where_.get(b) {
        Some(&(r0, k)) if r0 + c < rows.len() => format!("row {}, element {k}", r0 + c),
        Some(&(_, k)) => format!("padding row on lane {c}, element {k}"),
        None => format!("beat {b}, lane {c}"),
    };
    let values = axis::compare(&got, &want, &layout, &mut verdict, &describe);
    let mut outputs: Vec<Vec<i64>> = rows.iter().map(|r| vec![0; r.len()]).collect();
    for (b, v) in values.iter().enumerate() {
        if let Some(&(r0, k)) = where_.get(b) {
            for (c, &y) in v.iter().enumerate() {
                if let Some(row) = outputs.get_mut(r0 + c) {
                    row[k] = y;
                }
            }
        }
    }
    let mut excess = i64::MIN;
    for &(start, len) in &groups {
        let last = start + len - 1;
        if let (Some(&ci), Some(o)) = (timing.input_cycles.get(last), got.get(last)) {
            excess = excess.max(o.cycle as i64 - ci as i64 - len as i64);
        }
    }
    let elements: u64 = rows.iter().map(|r| r.len() as u64).sum();
    Ok(RowsRun {
        outputs,
        elements,
        elements_per_cycle: elements as f64 / timing.cycles.max(1) as f64,
        timing,
        max_latency_excess: excess,
        verdict,
    })
}
