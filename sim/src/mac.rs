//! Co-simulation driver of the multiply-accumulate example unit (`[mac]`): random
//! beats against `accgen_golden::mac::MacModel`, checking the documented latency.

use accgen_golden::mac::{MacBeat, MacConfig, MacModel};
use accgen_golden::rng::SplitMix64;
use accgen_hw::mac::MAC_LATENCY;

use crate::dut::Dut;
use crate::error::SimResult;

/// Outcome of a MAC co-simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacRun {
    /// Beats driven.
    pub beats: u64,
    /// Cycles simulated.
    pub cycles: u64,
    /// First mismatch as (beat index, cycle, expected, actual).
    pub first_mismatch: Option<(u64, u64, i64, i64)>,
    /// Number of mismatching beats.
    pub mismatches: u64,
}

/// Drive `beats` random beats (with random bubbles and clears) and compare each
/// `acc` output exactly `MAC_LATENCY` cycles after its beat.
pub fn run_mac(dut: &mut Dut, cfg: &MacConfig, beats: u64, seed: u64) -> SimResult<MacRun> {
    let (pv, pc, pa, pb) = (
        dut.input("in_valid")?,
        dut.input("clear")?,
        dut.input("a")?,
        dut.input("b")?,
    );
    let (pacc, pov) = (dut.output("acc")?, dut.output("out_valid")?);
    dut.poke_u64(pv, 0);
    dut.reset(2);
    let mut rng = SplitMix64::new(seed);
    let mut golden = MacModel::new(cfg);
    // Expected (acc, valid) per future cycle, indexed by cycle offset.
    let mut expect: std::collections::VecDeque<Option<(u64, i64)>> =
        std::collections::VecDeque::from(vec![None; MAC_LATENCY as usize]);
    let t0 = dut.cycle();
    let mut run = MacRun {
        beats: 0,
        cycles: 0,
        first_mismatch: None,
        mismatches: 0,
    };
    let mut driven = 0;
    while driven < beats || expect.iter().any(Option::is_some) {
        let valid = driven < beats && rng.range_i64(0, 7) != 0;
        let mut this = None;
        if valid {
            let beat = MacBeat {
                a: rng.signed(cfg.a_bits),
                b: rng.signed(cfg.b_bits),
                clear: driven == 0 || rng.range_i64(0, 15) == 0,
            };
            dut.poke_i64(pa, beat.a);
            dut.poke_i64(pb, beat.b);
            dut.poke_u64(pc, beat.clear as u64);
            this = Some((driven, golden.step(beat)));
            driven += 1;
        }
        dut.poke_u64(pv, valid as u64);
        // What must be visible now: the beat issued MAC_LATENCY cycles ago.
        let due = expect.pop_front().flatten();
        let out_valid = dut.peek_u64(pov) == 1;
        let cycle = dut.cycle() - t0;
        match due {
            Some((idx, want)) => {
                let got = dut.peek_i64(pacc);
                if !out_valid || got != want {
                    run.mismatches += 1;
                    run.first_mismatch.get_or_insert((idx, cycle, want, got));
                }
            }
            None if out_valid => {
                run.mismatches += 1;
                run.first_mismatch
                    .get_or_insert((u64::MAX, cycle, 0, dut.peek_i64(pacc)));
            }
            None => {}
        }
        expect.push_back(this);
        dut.tick();
    }
    run.beats = driven;
    run.cycles = dut.cycle() - t0;
    Ok(run)
}
