//! Co-simulation of the single-pass softmax unit: random rows of several distributions
//! and lengths 1..=max_len, bit-exact against golden and within 1 LSB of the softmax
//! computed with `libm::exp`; random input gaps and backpressure from randomised
//! initial state; with smooth traffic, no input stall on back-to-back rows and the
//! per-row latency bound.

use accgen_golden::rng::SplitMix64;
use accgen_golden::softmax::{SoftmaxConfig, SoftmaxUnit};
use accgen_hw::rtl::Library;
use accgen_hw::softmax::{row_latency, softmax, ROW_QUEUE};
use accgen_sim::axis::Traffic;
use accgen_sim::softmax::{run_rows, RowsRun};
use accgen_sim::stream::LaneFormat;
use accgen_sim::{Model, SimOptions};

/// `count` rows in lockstep groups of `lanes` (one length per group).
fn rows(cfg: &SoftmaxConfig, count: usize, seed: u64, fixed_len: Option<usize>) -> Vec<Vec<i64>> {
    let mut rng = SplitMix64::new(seed);
    let hi = (1i64 << (cfg.in_bits - 1)) - 1;
    let lanes = cfg.lanes as usize;
    let mut len = 1;
    (0..count)
        .map(|r| {
            if r % lanes == 0 {
                len = fixed_len.unwrap_or_else(|| rng.range_i64(1, cfg.max_len as i64) as usize);
            }
            let kind = r % 5;
            let base = rng.range_i64(-hi - 1, hi);
            (0..len)
                .map(|j| match kind {
                    0 => rng.range_i64(-hi - 1, hi), // uniform, wide: saturation
                    1 => (base / 4 + rng.range_i64(-64, 64)).clamp(-hi - 1, hi), // narrow
                    2 => {
                        if j == len / 2 {
                            hi
                        } else {
                            rng.range_i64(-hi - 1, 0)
                        }
                    } // peaked
                    3 => base,                       // all equal
                    _ => (j as i64 * 37 - hi).clamp(-hi - 1, hi), // ascending: max rises
                })
                .collect()
        })
        .collect()
}

fn run(cfg: &SoftmaxConfig, xs: &[Vec<i64>], traffic: &Traffic, x_seed: u64) -> RowsRun {
    let mut lib = Library::new();
    let top = softmax(&mut lib, cfg).unwrap();
    let model = Model::build(&top, &SimOptions::new()).unwrap();
    let mut dut = model.instantiate_randomized(x_seed).unwrap();
    let unit = SoftmaxUnit::new(cfg);
    let r = run_rows(
        &mut dut,
        cfg.lanes as usize,
        LaneFormat {
            bits: cfg.in_bits,
            signed: true,
        },
        LaneFormat {
            bits: cfg.out_bits,
            signed: false,
        },
        xs,
        &|row| unit.row(row).unwrap(),
        traffic,
    )
    .unwrap();
    assert!(r.verdict.passed(), "{}", r.verdict);
    r
}

fn check(cfg: SoftmaxConfig, xs: &[Vec<i64>], traffic: &Traffic, x_seed: u64) -> RowsRun {
    let r = run(&cfg, xs, traffic, x_seed);
    let unit = SoftmaxUnit::new(&cfg);
    let want: Vec<Vec<i64>> = xs.iter().map(|r| unit.row(r).unwrap()).collect();
    assert_eq!(r.outputs, want);
    // Within 1 LSB of the softmax in f64 with libm's exp (1.0 saturates to the top code).
    let scale = (cfg.out_bits as f64).exp2();
    let top = scale - 1.0;
    for (x, y) in xs.iter().zip(&r.outputs) {
        let reals: Vec<f64> = x
            .iter()
            .map(|&v| v as f64 / (cfg.in_frac as f64).exp2())
            .collect();
        let mx = reals.iter().cloned().fold(f64::MIN, f64::max);
        let sum: f64 = reals.iter().map(|r| libm::exp(r - mx)).sum();
        for (r, &code) in reals.iter().zip(y) {
            let exact = (libm::exp(r - mx) / sum * scale).min(top);
            assert!(
                (code as f64 - exact).abs() <= 1.0,
                "code {code} vs exact {exact}"
            );
        }
    }
    let elements: u64 = xs.iter().map(|r| r.len() as u64).sum();
    let beats = xs
        .chunks(cfg.lanes as usize)
        .map(|g| g[0].len())
        .sum::<usize>();
    assert_eq!(
        r.timing.input_cycles.len(),
        beats,
        "each element enters exactly once"
    );
    assert_eq!(r.elements, elements);
    r
}

#[test]
fn random_rows_small_format_hostile() {
    let cfg = SoftmaxConfig {
        lanes: 1,
        max_len: 64,
        in_bits: 8,
        in_frac: 4,
        out_bits: 8,
    };
    let xs = rows(&cfg, 2000, 1, None);
    check(cfg, &xs, &Traffic::hostile(1), 0x1234);
}

#[test]
fn random_rows_default_format_two_lanes_hostile() {
    let cfg = SoftmaxConfig {
        lanes: 2,
        max_len: 256,
        ..SoftmaxConfig::default()
    };
    let xs = rows(&cfg, 1200, 2, None);
    check(cfg, &xs, &Traffic::hostile(2), 0x4321);
}

#[test]
fn random_rows_wide_rows_smooth() {
    let cfg = SoftmaxConfig {
        lanes: 3,
        max_len: 1024,
        in_bits: 12,
        in_frac: 6,
        out_bits: 12,
    };
    let xs = rows(&cfg, 150, 5, None);
    check(cfg, &xs, &Traffic::smooth(), 0);
}

#[test]
fn back_to_back_equal_rows_never_stall_and_stream_one_per_cycle() {
    for len in [1usize, 3, 40] {
        let cfg = SoftmaxConfig {
            lanes: 1,
            max_len: 64,
            in_bits: 12,
            in_frac: 6,
            out_bits: 12,
        };
        let xs = rows(&cfg, 200, 3 + len as u64, Some(len));
        let r = check(cfg.clone(), &xs, &Traffic::smooth(), 0);
        assert_eq!(
            r.timing.input_stalls, 0,
            "row length {len}: the input stalled"
        );
        assert!(
            r.max_latency_excess <= row_latency(&cfg) as i64,
            "len {len}: excess {} above {}",
            r.max_latency_excess,
            row_latency(&cfg)
        );
        // 200 rows back to back: cycles = elements + the last row's read-out + a
        // constant pipeline tail.
        assert!(
            r.timing.cycles <= 201 * len as u64 + row_latency(&cfg) as u64 + 1,
            "len {len}: {} cycles",
            r.timing.cycles
        );
    }
}

#[test]
fn backpressure_when_short_rows_queue_behind_a_long_row() {
    // A full-length row followed by many one-element rows: the short rows queue behind
    // it (outputs are in order), the row queue fills, s_axis_tready falls, and every
    // output is still exact and every element still enters exactly once.
    let cfg = SoftmaxConfig {
        lanes: 1,
        max_len: 64,
        in_bits: 8,
        in_frac: 4,
        out_bits: 8,
    };
    let mut xs = rows(&cfg, 1, 9, Some(64));
    xs.extend(rows(&cfg, 2 * ROW_QUEUE as usize + 40, 10, Some(1)));
    let traffic = Traffic {
        stall: 0.5,
        ..Traffic::smooth()
    };
    let r = check(cfg, &xs, &traffic, 3);
    assert!(
        r.timing.input_stalls > 0,
        "the row queue should have filled"
    );
}
