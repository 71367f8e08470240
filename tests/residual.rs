//! Co-simulation of the residual-add unit: random pairs with corner values over formats
//! with equal, finer, coarser and negative scales, each in two rounding modes (every
//! mode on four formats), bit-exact
//! against golden and equal to an exact rational reference computed here; random
//! input gaps and backpressure from a randomised initial state; full throughput with
//! smooth traffic.

use accgen_golden::num::Rounding;
use accgen_golden::residual::{residual_add, ResidualConfig};
use accgen_golden::rng::SplitMix64;
use accgen_hw::residual::residual;
use accgen_hw::rtl::Library;
use accgen_sim::axis::Traffic;
use accgen_sim::residual::run_pairs;
use accgen_sim::{Model, SimOptions};

/// The real sum a*2^-fa + b*2^-fb at scale 2^-fo, as numerator / 2^e with e >= 0,
/// rounded by `mode` through integer floor division, then clamped.
fn exact(cfg: &ResidualConfig, a: i64, b: i64) -> i64 {
    // Put everything over 2^e with e = max(fa, fb, fo) + 16 (all shifts non-negative).
    let e = cfg.a_frac.max(cfg.b_frac).max(cfg.out_frac) + 16;
    let num = ((a as i128) << (e - cfg.a_frac)) + ((b as i128) << (e - cfg.b_frac));
    // y * 2^out_frac = num / 2^(e - fo).
    let den = 1i128 << (e - cfg.out_frac);
    let fl = num.div_euclid(den);
    let twice_rem = 2 * num.rem_euclid(den);
    let y = match cfg.rounding {
        Rounding::Floor => fl,
        Rounding::NearestEven if twice_rem == den => fl + (fl & 1),
        Rounding::HalfAway if twice_rem == den => fl + (num > 0) as i128,
        _ => fl + (twice_rem > den) as i128,
    };
    let lim = 1i128 << (cfg.out_bits - 1);
    y.clamp(-lim, lim - 1) as i64
}

fn operands(cfg: &ResidualConfig, n: usize, seed: u64) -> (Vec<i64>, Vec<i64>) {
    let mut rng = SplitMix64::new(seed);
    let corner = |rng: &mut SplitMix64, bits: u32| -> i64 {
        let hi = (1i64 << (bits - 1)) - 1;
        match rng.range_i64(0, 5) {
            0 => -hi - 1,
            1 => hi,
            2 => rng.range_i64(-2, 2),
            _ => rng.signed(bits),
        }
    };
    let a = (0..n).map(|_| corner(&mut rng, cfg.a_bits)).collect();
    let b = (0..n).map(|_| corner(&mut rng, cfg.b_bits)).collect();
    (a, b)
}

#[test]
fn random_pairs_every_mode_hostile() {
    #[rustfmt::skip]
    let formats: [(u32, u32, i32, u32, i32, u32, i32); 6] = [
        // lanes, a_bits, a_frac, b_bits, b_frac, out_bits, out_frac
        (16, 8, 4, 8, 4, 8, 4),     // equal scales: plain saturating add
        (4, 8, 5, 8, 3, 8, 4),      // a finer, b coarser, output between
        (3, 16, 12, 8, 2, 8, 1),    // large right shift
        (2, 8, 0, 6, -2, 12, 3),    // left shift to a finer output
        (1, 32, 20, 32, -16, 16, -4), // widest operands, a scale above 1
        (5, 4, 1, 12, 9, 2, -10),   // left shift past the output: saturates
    ];
    for (i, f) in formats.iter().enumerate() {
        // Two rounding modes per format (each mode on four formats): one Verilator
        // model per pair keeps the build time down.
        for (j, mode) in [Rounding::NearestEven, Rounding::HalfAway, Rounding::Floor]
            .into_iter()
            .enumerate()
            .filter(|(j, _)| *j != i % 3)
        {
            let cfg = ResidualConfig {
                lanes: f.0,
                a_bits: f.1,
                a_frac: f.2,
                b_bits: f.3,
                b_frac: f.4,
                out_bits: f.5,
                out_frac: f.6,
                rounding: mode,
            };
            cfg.validate().unwrap();
            let (a, b) = operands(&cfg, 700, (i * 3 + j) as u64);
            let mut lib = Library::new();
            let top = residual(&mut lib, &cfg).unwrap();
            let model = Model::build(&top, &SimOptions::new()).unwrap();
            let mut dut = model.instantiate_randomized(1 + i as u64).unwrap();
            let r = run_pairs(
                &mut dut,
                &cfg,
                &a,
                &b,
                &|k| format!("pair {k}"),
                &Traffic::hostile(40 + j as u64),
            )
            .unwrap();
            assert!(r.verdict.passed(), "{cfg:?}: {}", r.verdict);
            assert_eq!(r.outputs, residual_add(&cfg, &a, &b).unwrap(), "{cfg:?}");
            for k in 0..a.len() {
                assert_eq!(r.outputs[k], exact(&cfg, a[k], b[k]), "{cfg:?}: pair {k}");
            }
        }
    }
}

#[test]
fn smooth_traffic_takes_a_beat_every_cycle() {
    let cfg = ResidualConfig {
        lanes: 8,
        ..Default::default()
    };
    let (a, b) = operands(&cfg, 8 * 500, 9);
    let mut lib = Library::new();
    let model = Model::build(&residual(&mut lib, &cfg).unwrap(), &SimOptions::new()).unwrap();
    let mut dut = model.instantiate().unwrap();
    let r = run_pairs(
        &mut dut,
        &cfg,
        &a,
        &b,
        &|k| format!("pair {k}"),
        &Traffic::smooth(),
    )
    .unwrap();
    assert!(r.verdict.passed(), "{}", r.verdict);
    assert_eq!(r.timing.input_stalls, 0);
    let beats = r.timing.input_cycles.len() as u64;
    let span = r.timing.input_cycles[beats as usize - 1] - r.timing.input_cycles[0] + 1;
    assert_eq!(span, beats, "the input stalled");
}
