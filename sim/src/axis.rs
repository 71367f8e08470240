//! A hostile AXI4-Stream testbench in Rust: one source driving a unit's slave port,
//! one sink on its master port, a protocol monitor, and beat-level checking into a
//! [`Verdict`].
//!
//! Source: presents the beats in order; while idle it inserts a gap with probability
//! [`Traffic::gap`]; once `tvalid` is up it holds the beat until the handshake, as the
//! protocol demands. Sink: drops `tready` with probability [`Traffic::stall`] in each
//! cycle. Monitor: a master that had `tvalid` without `tready` must keep `tvalid` and
//! its payload in the next cycle. The run ends after the expected number of output
//! beats plus a quiet tail (so extra beats are seen), or after [`Traffic::idle_limit`]
//! cycles without any handshake (a timeout).
//!
//! Every unit's outputs are registered, so the monitor reads them before the clock
//! edge and the handshakes of a cycle are decided on settled values.

use std::time::Instant;

use accgen_golden::rng::SplitMix64;
use accgen_hw::rtl::Value;

use crate::dut::{Dut, InPort, OutPort};
use crate::error::SimResult;
use crate::verdict::{Problem, Verdict};

/// Randomness of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    /// Probability that the idle source waits a cycle before its next beat.
    pub gap: f64,
    /// Probability that the sink holds `tready` low in a cycle.
    pub stall: f64,
    /// Seed of both random streams.
    pub seed: u64,
    /// Cycles without a handshake after which the run is a timeout.
    pub idle_limit: u64,
}

impl Traffic {
    /// No gaps, no backpressure: what throughput and latency are measured with.
    pub fn smooth() -> Traffic {
        Traffic {
            gap: 0.0,
            stall: 0.0,
            seed: 1,
            idle_limit: 20_000,
        }
    }

    /// Random gaps and backpressure (30% each) from `seed`: the tests' default.
    pub fn hostile(seed: u64) -> Traffic {
        Traffic {
            gap: 0.3,
            stall: 0.3,
            seed,
            idle_limit: 20_000,
        }
    }

    /// True when neither gaps nor backpressure are injected.
    pub fn is_smooth(&self) -> bool {
        self.gap == 0.0 && self.stall == 0.0
    }
}

/// One beat to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beat {
    /// `tdata`.
    pub data: Value,
    /// `tlast`.
    pub last: bool,
    /// `tuser` (0 when the port has none).
    pub user: u64,
}

/// One beat received, with the cycle of its handshake (from the first input beat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `tdata`.
    pub data: Value,
    /// `tlast` (false when the port has none).
    pub last: bool,
    /// `tuser` (0 when the port has none).
    pub user: u64,
    /// Cycle of the handshake.
    pub cycle: u64,
}

/// Timing of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timing {
    /// Cycles from the first input handshake to the last output handshake, inclusive.
    pub cycles: u64,
    /// Cycle (from the first input handshake) of every input handshake.
    pub input_cycles: Vec<u64>,
    /// Cycles in which the source offered a beat and `tready` was low.
    pub input_stalls: u64,
    /// Simulated cycles per wall-clock second.
    pub sim_cycles_per_s: f64,
    /// The DUT's cycle count at the first input handshake (what the relative cycles
    /// count from).
    pub start_cycle: u64,
}

/// Port handles of a slave (input) stream.
#[derive(Debug, Clone, Copy)]
pub struct SlavePorts {
    data: InPort,
    valid: InPort,
    ready: OutPort,
    last: Option<InPort>,
    user: Option<InPort>,
}

/// Port handles of a master (output) stream.
#[derive(Debug, Clone, Copy)]
pub struct MasterPorts {
    data: OutPort,
    valid: OutPort,
    ready: InPort,
    last: Option<OutPort>,
    user: Option<OutPort>,
}

impl SlavePorts {
    /// The ports `<prefix>_t*` of `dut` (tlast and tuser when present).
    pub fn of(dut: &Dut, prefix: &str) -> SimResult<SlavePorts> {
        let has = |n: &str| dut.spec().ports.iter().any(|p| p.name == n);
        let l = format!("{prefix}_tlast");
        let u = format!("{prefix}_tuser");
        Ok(SlavePorts {
            data: dut.input(&format!("{prefix}_tdata"))?,
            valid: dut.input(&format!("{prefix}_tvalid"))?,
            ready: dut.output(&format!("{prefix}_tready"))?,
            last: if has(&l) { Some(dut.input(&l)?) } else { None },
            user: if has(&u) { Some(dut.input(&u)?) } else { None },
        })
    }
}

impl MasterPorts {
    /// The ports `<prefix>_t*` of `dut` (tlast and tuser when present).
    pub fn of(dut: &Dut, prefix: &str) -> SimResult<MasterPorts> {
        let has = |n: &str| dut.spec().ports.iter().any(|p| p.name == n);
        let l = format!("{prefix}_tlast");
        let u = format!("{prefix}_tuser");
        Ok(MasterPorts {
            data: dut.output(&format!("{prefix}_tdata"))?,
            valid: dut.output(&format!("{prefix}_tvalid"))?,
            ready: dut.input(&format!("{prefix}_tready"))?,
            last: if has(&l) { Some(dut.output(&l)?) } else { None },
            user: if has(&u) { Some(dut.output(&u)?) } else { None },
        })
    }
}

/// Reset the unit with its stream inputs idle.
pub fn reset(dut: &mut Dut, input: &SlavePorts, output: &MasterPorts) {
    dut.poke_u64(input.valid, 0);
    dut.poke_u64(output.ready, 0);
    dut.reset(4);
}

/// Drive `beats` into `input`, collect output beats from `output` until `expected`
/// beats arrived plus `tail` quiet cycles (or a timeout), checking the master's
/// protocol. Problems go into `verdict`; the collected beats are returned for the
/// caller to compare (see [`compare`]).
#[allow(clippy::too_many_arguments)]
pub fn run(
    dut: &mut Dut,
    input: &SlavePorts,
    output: &MasterPorts,
    beats: &[Beat],
    expected: usize,
    tail: u64,
    traffic: &Traffic,
    verdict: &mut Verdict,
) -> SimResult<(Vec<Received>, Timing)> {
    run_reporting(
        dut,
        input,
        output,
        beats,
        expected,
        tail,
        traffic,
        verdict,
        &mut |_, _| {},
    )
}

/// [`run`] that calls `progress(beats received, beats expected)` about every 64k
/// cycles and once at the end.
#[allow(clippy::too_many_arguments)]
pub fn run_reporting(
    dut: &mut Dut,
    input: &SlavePorts,
    output: &MasterPorts,
    beats: &[Beat],
    expected: usize,
    tail: u64,
    traffic: &Traffic,
    verdict: &mut Verdict,
    progress_cb: &mut dyn FnMut(usize, usize),
) -> SimResult<(Vec<Received>, Timing)> {
    let mut rng_src = SplitMix64::new(traffic.seed ^ 0x5eed_0001);
    let mut rng_sink = SplitMix64::new(traffic.seed ^ 0x5eed_0002);
    let mut got: Vec<Received> = Vec::with_capacity(expected);
    let mut timing = Timing::default();
    let mut next = 0usize;
    let mut presenting = false;
    let mut idle = 0u64;
    let mut t0: Option<u64> = None;
    let mut last_out: Option<u64> = None;
    let mut tail_left = tail;
    // The master's state in the previous cycle, for the stability rule.
    let mut held: Option<(Value, bool, u64)> = None;
    let wall = Instant::now();
    let start = dut.cycle();
    loop {
        // Source.
        if !presenting && next < beats.len() && !rng_src.chance(traffic.gap) {
            let b = &beats[next];
            dut.poke(input.data, &b.data);
            if let Some(l) = input.last {
                dut.poke_u64(l, b.last as u64);
            }
            if let Some(u) = input.user {
                dut.poke_u64(u, b.user);
            }
            presenting = true;
        }
        dut.poke_u64(input.valid, presenting as u64);
        // Sink.
        let ready = !rng_sink.chance(traffic.stall);
        dut.poke_u64(output.ready, ready as u64);
        // Settled outputs of this cycle.
        let in_ready = dut.peek_u64(input.ready) == 1;
        let out_valid = dut.peek_u64(output.valid) == 1;
        let now = dut.cycle();
        // Cycles count from the first input handshake (this one, if none yet).
        let base = t0.unwrap_or(now);
        let rel = |c: u64| c - base;
        if let Some((d, l, u)) = &held {
            let (cd, cl, cu) = read_payload(dut, output);
            if !out_valid {
                verdict.record(Problem::Protocol, || {
                    format!(
                        "m_axis dropped tvalid before its beat was taken (cycle {})",
                        rel(now)
                    )
                });
            } else if &cd != d || cl != *l || cu != *u {
                verdict.record(Problem::Protocol, || {
                    format!(
                        "m_axis changed its payload while stalled (cycle {}): tdata {:?} -> {:?}",
                        rel(now),
                        d,
                        cd
                    )
                });
            }
        }
        let mut progress = false;
        if presenting && in_ready {
            if t0.is_none() {
                t0 = Some(now);
            }
            timing.input_cycles.push(rel(now));
            presenting = false;
            next += 1;
            progress = true;
        } else if presenting {
            timing.input_stalls += 1;
        }
        held = None;
        if out_valid {
            let (d, l, u) = read_payload(dut, output);
            if ready {
                got.push(Received {
                    data: d,
                    last: l,
                    user: u,
                    cycle: rel(now),
                });
                last_out = Some(now);
                progress = true;
            } else {
                held = Some((d, l, u));
            }
        }
        dut.tick();
        if (dut.cycle() - start).is_multiple_of(65_536) {
            progress_cb(got.len(), expected);
        }
        idle = if progress { 0 } else { idle + 1 };
        let done_in = next == beats.len() && !presenting;
        if done_in && got.len() >= expected {
            if tail_left == 0 {
                break;
            }
            tail_left -= 1;
        } else if idle > traffic.idle_limit {
            verdict.record(Problem::Timeout, || {
                format!(
                    "no handshake for {} cycles: {next} of {} input beats accepted, {} of {expected} output beats received",
                    traffic.idle_limit,
                    beats.len(),
                    got.len()
                )
            });
            break;
        }
    }
    progress_cb(got.len(), expected);
    let t0 = t0.unwrap_or(start);
    timing.start_cycle = t0;
    timing.cycles = last_out.map_or(0, |l| l - t0 + 1);
    timing.sim_cycles_per_s = (dut.cycle() - start) as f64 / wall.elapsed().as_secs_f64().max(1e-9);
    Ok((got, timing))
}

fn read_payload(dut: &mut Dut, p: &MasterPorts) -> (Value, bool, u64) {
    let d = dut.peek(p.data);
    let l = p.last.map(|l| dut.peek_u64(l) == 1).unwrap_or(false);
    let u = p.user.map(|u| dut.peek_u64(u)).unwrap_or(0);
    (d, l, u)
}

/// What one output beat must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// Lane values, lane 0 first.
    pub lanes: Vec<i64>,
    /// `tlast`.
    pub last: bool,
    /// `tuser`.
    pub user: u64,
}

/// Split a `tdata` value into `count` lanes of `bits` value bits in `field`-bit fields.
/// Returns the lane values and, for each lane, whether its padding bits are the sign
/// (signed) or zero (unsigned) extension they must be.
pub fn lanes_of(data: &Value, count: u32, bits: u32, field: u32, signed: bool) -> Vec<(i64, bool)> {
    (0..count)
        .map(|i| {
            let base = i * field;
            let mut v: u128 = 0;
            for b in 0..bits.min(64) {
                if data.bit(base + b) {
                    v |= 1 << b;
                }
            }
            let neg = signed && data.bit(base + bits - 1);
            let val = if neg && bits < 128 {
                (v | (!0u128 << bits)) as i128
            } else {
                v as i128
            } as i64;
            let pad_ok = (bits..field).all(|b| data.bit(base + b) == neg);
            (val, pad_ok)
        })
        .collect()
}

/// Lane layout of an output stream, for [`compare`].
#[derive(Debug, Clone, Copy)]
pub struct OutLayout {
    /// Lanes per beat.
    pub count: u32,
    /// Value bits per lane.
    pub bits: u32,
    /// Field bits per lane.
    pub field: u32,
    /// Signed lanes.
    pub signed: bool,
    /// Whether the stream has `tlast` / `tuser` to check.
    pub check_last: bool,
    /// Whether `tuser` is checked.
    pub check_user: bool,
}

/// Compare received beats with the expected ones, beat by beat, into `verdict`.
/// `name(beat, lane)` names an element in messages (for example `y[3, 7]`). Returns
/// the received lane values (one `Vec` per beat).
pub fn compare(
    got: &[Received],
    want: &[Expect],
    layout: &OutLayout,
    verdict: &mut Verdict,
    name: &dyn Fn(usize, usize) -> String,
) -> Vec<Vec<i64>> {
    let mut values = Vec::with_capacity(got.len());
    for (k, g) in got.iter().enumerate() {
        let lanes = lanes_of(
            &g.data,
            layout.count,
            layout.bits,
            layout.field,
            layout.signed,
        );
        let vals: Vec<i64> = lanes.iter().map(|l| l.0).collect();
        for (i, (_, pad_ok)) in lanes.iter().enumerate() {
            if !pad_ok {
                verdict.record(Problem::Protocol, || {
                    format!(
                        "{} (beat {k}, cycle {}): padding bits of lane {i} are not its {} extension",
                        name(k, i),
                        g.cycle,
                        if layout.signed { "sign" } else { "zero" }
                    )
                });
            }
        }
        let Some(w) = want.get(k) else {
            verdict.record(Problem::Extra, || {
                format!(
                    "extra beat {k} at cycle {} (expected {} beats)",
                    g.cycle,
                    want.len()
                )
            });
            values.push(vals);
            continue;
        };
        let duplicate = k > 0 && want[k - 1].lanes == vals && w.lanes != vals;
        if duplicate {
            verdict.record(Problem::Duplicated, || {
                format!("beat {k} at cycle {} repeats beat {}", g.cycle, k - 1)
            });
        }
        for (i, (&e, &a)) in w.lanes.iter().zip(&vals).enumerate() {
            verdict.checked += 1;
            if e != a && !duplicate {
                verdict.record(Problem::Mismatch, || {
                    format!(
                        "{} (beat {k}, lane {i}) at cycle {}: expected {e}, actual {a}",
                        name(k, i),
                        g.cycle
                    )
                });
            }
        }
        if layout.check_last && g.last != w.last {
            verdict.record(Problem::WrongLast, || {
                format!(
                    "beat {k} at cycle {}: tlast {} but expected {}",
                    g.cycle, g.last as u8, w.last as u8
                )
            });
        }
        if layout.check_user && g.user != w.user {
            verdict.record(Problem::WrongUser, || {
                format!(
                    "beat {k} at cycle {}: tuser {} but expected {}",
                    g.cycle, g.user, w.user
                )
            });
        }
        values.push(vals);
    }
    if got.len() < want.len() {
        verdict.record_n(Problem::Missing, (want.len() - got.len()) as u64, || {
            format!(
                "{} of {} output beats never arrived (first missing: beat {})",
                want.len() - got.len(),
                want.len(),
                got.len()
            )
        });
    }
    values
}

/// Pack lane values into a `tdata` value of `count * field` bits, each lane in its
/// field, sign- or zero-extended.
pub fn pack_lanes(values: &[i64], field: u32, width: u32) -> Value {
    let mut words = vec![0u64; width.div_ceil(64) as usize];
    for (i, &v) in values.iter().enumerate() {
        let base = i as u32 * field;
        for b in 0..field {
            let bit = if b < 64 { (v >> b) & 1 == 1 } else { v < 0 };
            if bit {
                let pos = base + b;
                words[(pos / 64) as usize] |= 1 << (pos % 64);
            }
        }
    }
    Value::from_words_truncating(width, &words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_round_trip_and_padding_is_checked() {
        let v = pack_lanes(&[-3, 5, -128, 127], 8, 32);
        let l = lanes_of(&v, 4, 8, 8, true);
        assert_eq!(
            l.iter().map(|x| x.0).collect::<Vec<_>>(),
            [-3, 5, -128, 127]
        );
        let w = pack_lanes(&[-3, 300], 16, 32);
        let l = lanes_of(&w, 2, 12, 16, true);
        assert_eq!(l[0], (-3, true));
        assert_eq!(l[1], (300, true));
        // 0x0F00 in a 12-bit signed lane: value bits 0xF00 = -256 but padding is 0.
        let bad = Value::from_u128(16, 0x0F00).unwrap();
        assert_eq!(lanes_of(&bad, 1, 12, 16, true)[0], (-256, false));
        let u = pack_lanes(&[200], 8, 8);
        assert_eq!(lanes_of(&u, 1, 8, 8, false)[0], (200, true));
    }
}
