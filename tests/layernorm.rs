//! Co-simulation of the LayerNorm unit: random rows (uniform, narrow, constant,
//! outliers that saturate) of lengths 1..=max_len with random per-channel gamma and
//! beta, bit-exact against golden and within 1 LSB of an f64 LayerNorm computed here
//! (naive two-pass mean and variance, `libm::sqrt`); random input gaps, parameter
//! gaps and backpressure from a randomised initial state; with smooth traffic, no
//! input stall on back-to-back rows and the per-row latency bound.

use accgen_golden::layernorm::{layernorm_row, LayernormConfig};
use accgen_golden::rng::SplitMix64;
use accgen_hw::layernorm::{layernorm, row_latency};
use accgen_hw::rtl::Library;
use accgen_sim::axis::Traffic;
use accgen_sim::layernorm::run_rows;
use accgen_sim::softmax::RowsRun;
use accgen_sim::{Model, SimOptions};

/// `count` rows in lockstep groups of `lanes` (one length per group).
fn rows(cfg: &LayernormConfig, count: usize, seed: u64, fixed_len: Option<usize>) -> Vec<Vec<i64>> {
    let mut rng = SplitMix64::new(seed);
    let hi = (1i64 << (cfg.in_bits - 1)) - 1;
    let lanes = cfg.lanes as usize;
    let mut len = 1;
    (0..count)
        .map(|r| {
            if r % lanes == 0 {
                len = fixed_len.unwrap_or_else(|| rng.range_i64(1, cfg.max_len as i64) as usize);
            }
            let base = rng.range_i64(-hi - 1, hi);
            let kind = r % 5;
            (0..len)
                .map(|j| match kind {
                    0 => rng.range_i64(-hi - 1, hi),
                    1 => (base / 4 + rng.range_i64(-3, 3)).clamp(-hi - 1, hi),
                    2 => base,
                    3 => {
                        if j == len / 3 {
                            hi
                        } else {
                            base / 8
                        }
                    }
                    _ => (j as i64 * 37 - hi).clamp(-hi - 1, hi),
                })
                .collect()
        })
        .collect()
}

/// f64 LayerNorm of one row as output codes (unrounded), with the unit's eps'.
fn reference(cfg: &LayernormConfig, x: &[i64], g: &[i64], b: &[i64]) -> Vec<f64> {
    let v: Vec<f64> = x
        .iter()
        .map(|&e| e as f64 / (cfg.in_frac as f64).exp2())
        .collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n;
    let inv = 1.0 / libm::sqrt(var + cfg.eps_effective());
    v.iter()
        .enumerate()
        .map(|(i, e)| {
            (e - mean) * inv * g[i] as f64 / (cfg.gamma_frac as f64).exp2()
                * (cfg.out_frac as f64).exp2()
                + b[i] as f64
        })
        .collect()
}

fn check(
    cfg: &LayernormConfig,
    xs: &[Vec<i64>],
    traffic: &Traffic,
    seed: u64,
    saturates: bool,
) -> RowsRun {
    let mut rng = SplitMix64::new(seed ^ 0x77);
    let n = cfg.max_len as usize;
    let gamma: Vec<i64> = (0..n).map(|_| rng.signed(cfg.gamma_bits)).collect();
    let beta: Vec<i64> = (0..n).map(|_| rng.signed(cfg.beta_bits)).collect();
    let mut lib = Library::new();
    let top = layernorm(&mut lib, cfg).unwrap();
    let model = Model::build(&top, &SimOptions::new()).unwrap();
    let mut dut = model.instantiate_randomized(seed).unwrap();
    let r = run_rows(&mut dut, cfg, xs, &gamma, &beta, traffic).unwrap();
    assert!(r.verdict.passed(), "{}", r.verdict);
    let want: Vec<Vec<i64>> = xs
        .iter()
        .map(|x| layernorm_row(cfg, x, &gamma, &beta).unwrap())
        .collect();
    assert_eq!(r.outputs, want);
    let (lo, hi) = (
        -(1i64 << (cfg.out_bits - 1)) as f64,
        ((1i64 << (cfg.out_bits - 1)) - 1) as f64,
    );
    let mut saturated = 0;
    for (x, y) in xs.iter().zip(&r.outputs) {
        for (w, &code) in reference(cfg, x, &gamma, &beta).iter().zip(y) {
            assert!(
                (code as f64 - w.clamp(lo, hi)).abs() <= 1.0,
                "code {code} vs f64 {w}"
            );
            saturated += (*w < lo || *w > hi) as usize;
        }
    }
    assert!(!saturates || saturated > 0, "no output saturated");
    let elements: u64 = xs.iter().map(|r| r.len() as u64).sum();
    assert_eq!(r.elements, elements);
    r
}

#[test]
fn random_rows_small_format_hostile() {
    let cfg = LayernormConfig {
        max_len: 64,
        ..Default::default()
    };
    let xs = rows(&cfg, 600, 1, None);
    check(&cfg, &xs, &Traffic::hostile(11), 5, true);
}

#[test]
fn two_lanes_wide_format_hostile() {
    let cfg = LayernormConfig {
        lanes: 2,
        max_len: 200,
        in_bits: 16,
        in_frac: 8,
        gamma_bits: 16,
        gamma_frac: 12,
        beta_bits: 20,
        out_bits: 16,
        out_frac: 10,
        ..Default::default()
    };
    let xs = rows(&cfg, 120, 2, None);
    check(&cfg, &xs, &Traffic::hostile(12), 6, true);
}

/// Lanes of an input width that is not whole bytes (tdata pads each lane field to
/// 16 bits): found by `accgen fuzz --unit layernorm`, where lanes 1.. read their
/// elements from the wrong bits.
#[test]
fn three_lanes_of_13_bit_inputs_hostile() {
    let cfg = LayernormConfig {
        lanes: 3,
        max_len: 33,
        in_bits: 13,
        in_frac: 4,
        gamma_bits: 13,
        gamma_frac: 10,
        beta_bits: 14,
        out_bits: 12,
        out_frac: 6,
        ..Default::default()
    };
    let xs = rows(&cfg, 60, 3, None);
    check(&cfg, &xs, &Traffic::hostile(13), 7, false);
}

#[test]
fn back_to_back_rows_never_stall_and_meet_the_latency_bound() {
    let cfg = LayernormConfig {
        max_len: 32,
        ..Default::default()
    };
    for len in [1usize, 2, 7, 32] {
        let xs = rows(&cfg, 400 / len + 5, 3 + len as u64, Some(len));
        let r = check(&cfg, &xs, &Traffic::smooth(), 0, false);
        let beats = r.timing.input_cycles.len();
        let span = r.timing.input_cycles[beats - 1] - r.timing.input_cycles[0] + 1;
        assert_eq!(span as usize, beats, "len {len}: the input stalled");
        assert!(
            r.max_latency_excess <= row_latency(&cfg) as i64,
            "len {len}: latency excess {} > bound {}",
            r.max_latency_excess,
            row_latency(&cfg)
        );
    }
}
