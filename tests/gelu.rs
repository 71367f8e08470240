//! Co-simulation of the GELU unit: every representable input of several formats
//! (including 16-bit inputs) is bit-exact against golden under Verilator and within
//! 1 LSB of x*Phi(x) (exact erf form, f64); plus latency and throughput.

use accgen_golden::gelu::{GeluConfig, GeluUnit};
use accgen_golden::special;
use accgen_hw::gelu::{gelu, GELU_LATENCY};
use accgen_hw::rtl::Library;
use accgen_sim::stream::run_lanes;
use accgen_sim::{Model, SimOptions};

fn exhaustive(in_bits: u32, in_frac: u32, out_bits: u32, out_frac: u32) {
    let cfg = GeluConfig {
        lanes: 8,
        in_bits,
        in_frac,
        out_bits,
        out_frac,
    };
    let mut lib = Library::new();
    let top = gelu(&mut lib, &cfg).unwrap();
    let model = Model::build(&top, &SimOptions::new()).unwrap();
    let mut dut = model.instantiate().unwrap();
    let lo = -(1i64 << (in_bits - 1));
    let xs: Vec<i64> = (lo..-lo).collect();
    let golden = GeluUnit::new(&cfg).eval_stream(&xs).unwrap();
    let r = run_lanes(&mut dut, cfg.lanes as usize, &xs, &golden).unwrap();
    assert!(
        r.bit_exact(),
        "{} mismatches; first: {}",
        r.mismatches,
        r.first_mismatch.unwrap()
    );
    // 1 LSB of the exact GELU (clamped to the output range where it saturates).
    let (qlo, qhi) = (
        -(1i64 << (out_bits - 1)) as f64,
        ((1i64 << (out_bits - 1)) - 1) as f64,
    );
    for (&x, &y) in xs.iter().zip(&r.outputs) {
        let real = x as f64 / (in_frac as f64).exp2();
        let exact = (special::gelu(real) * (out_frac as f64).exp2()).clamp(qlo, qhi);
        assert!(
            (y as f64 - exact).abs() <= 1.0,
            "x = {x}: y = {y}, exact {exact}"
        );
    }
    let beats = xs.len().div_ceil(cfg.lanes as usize) as u64;
    assert_eq!(
        r.cycles,
        beats + GELU_LATENCY as u64,
        "one beat per cycle per lane"
    );
}

#[test]
fn exhaustive_q8_4() {
    exhaustive(8, 4, 8, 4);
}

#[test]
fn exhaustive_q12_8() {
    exhaustive(12, 8, 12, 8);
}

#[test]
fn exhaustive_q16_12() {
    exhaustive(16, 12, 16, 12);
}

#[test]
fn exhaustive_q16_8_to_q8_4_saturating() {
    exhaustive(16, 8, 8, 4);
}
