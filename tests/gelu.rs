//! Co-simulation of the GELU unit: every representable input of several formats
//! (including 16-bit inputs) is bit-exact against golden under Verilator, with random
//! gaps and backpressure from randomised initial state, and within 1 LSB of x*Phi(x)
//! computed with `libm::erf` (independent of the `erf` that builds the ROM); plus
//! latency and throughput with smooth traffic.

mod common;

use accgen_golden::gelu::{GeluConfig, GeluUnit};
use accgen_hw::gelu::{gelu, gelu_latency};
use accgen_hw::lanes::top_latency;
use accgen_hw::rtl::Library;
use accgen_sim::axis::Traffic;
use accgen_sim::stream::LaneFormat;

/// x * Phi(x) with libm's erf.
fn gelu_ref(x: f64) -> f64 {
    x * 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

fn exhaustive(in_bits: u32, in_frac: u32, out_bits: u32, out_frac: u32, traffic: Traffic) {
    let cfg = GeluConfig {
        lanes: 8,
        in_bits,
        in_frac,
        out_bits,
        out_frac,
    };
    let mut lib = Library::new();
    let top = gelu(&mut lib, &cfg).unwrap();
    let lo = -(1i64 << (in_bits - 1));
    let xs: Vec<i64> = (lo..-lo).collect();
    let unit = GeluUnit::new(&cfg);
    let golden = unit.eval_stream(&xs).unwrap();
    let r = common::stream_unit(
        &top,
        cfg.lanes as usize,
        LaneFormat {
            bits: in_bits,
            signed: true,
        },
        LaneFormat {
            bits: out_bits,
            signed: true,
        },
        &xs,
        &|_, x| unit.eval(x),
        &traffic,
        in_bits as u64 * 7,
    );
    assert_eq!(r.outputs, golden);
    // 1 LSB of the exact GELU (clamped to the output range where it saturates).
    let (qlo, qhi) = (
        -(1i64 << (out_bits - 1)) as f64,
        ((1i64 << (out_bits - 1)) - 1) as f64,
    );
    for (&x, &y) in xs.iter().zip(&r.outputs) {
        let real = x as f64 / (in_frac as f64).exp2();
        let exact = (gelu_ref(real) * (out_frac as f64).exp2()).clamp(qlo, qhi);
        assert!(
            (y as f64 - exact).abs() <= 1.0,
            "x = {x}: y = {y}, exact {exact}"
        );
    }
    if traffic.is_smooth() {
        let beats = xs.len().div_ceil(cfg.lanes as usize) as u64;
        assert_eq!(
            r.timing.cycles,
            beats + top_latency(gelu_latency(&cfg)) as u64,
            "one beat per cycle"
        );
        assert_eq!(r.timing.input_stalls, 0);
    }
}

#[test]
fn exhaustive_q8_4() {
    exhaustive(8, 4, 8, 4, Traffic::smooth());
}

#[test]
fn exhaustive_q12_8() {
    exhaustive(12, 8, 12, 8, Traffic::hostile(12));
}

#[test]
fn exhaustive_q16_12() {
    exhaustive(16, 12, 16, 12, Traffic::hostile(16));
}

#[test]
fn exhaustive_q16_8_to_q8_4_saturating() {
    exhaustive(16, 8, 8, 4, Traffic::smooth());
}
