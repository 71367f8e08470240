//! The run-time re-quantizer lane of the accelerator's epilogue against
//! `golden::requant::requant`, for every rounding mode, signed and unsigned outputs,
//! in_bits 32 and 48: every shift of -16..=47 with random inputs, biases, zero points
//! and ReLU, plus the extreme inputs, one element per cycle, 7 cycles of latency.

use accgen_golden::num::{qrange, smax, smin, Rounding};
use accgen_golden::requant::{requant, PerChannel, RequantConfig};
use accgen_golden::rng::SplitMix64;
use accgen_hw::accel::requant_rt::{requant_rt_lane, RT_LATENCY};
use accgen_hw::rtl::Library;
use accgen_sim::{Model, SimOptions};

fn check(in_bits: u32, out_bits: u32, out_signed: bool, rounding: Rounding, seed: u64) {
    let base = RequantConfig {
        lanes: 1,
        in_bits,
        out_bits,
        out_signed,
        rounding,
        ..RequantConfig::default()
    };
    let mut lib = Library::new();
    let top = requant_rt_lane(&mut lib, &base).unwrap();
    let model = Model::build(&top, &SimOptions::new()).unwrap();
    let mut dut = model.instantiate_randomized(seed).unwrap();
    let [x, bias, sh, zp, relu] = ["x", "bias", "sh", "zp", "relu"].map(|n| dut.input(n).unwrap());
    let y = dut.output("y").unwrap();
    let mut rng = SplitMix64::new(seed);
    let (qmin, qmax) = qrange(out_bits, out_signed);
    let (lo, hi) = (smin(in_bits) as i64, smax(in_bits) as i64);
    for shift in -16i64..=47 {
        // Parameters are stable while elements are in flight: one setting per batch.
        for _batch in 0..4 {
            let b = match rng.range_i64(0, 3) {
                0 => 0,
                1 => rng.range_i64(lo, hi),
                _ => rng.range_i64(-1000, 1000),
            };
            let z = rng.range_i64(qmin as i64, qmax as i64);
            let r = rng.range_i64(0, 1) == 1;
            let cfg = RequantConfig {
                shift: PerChannel::Tensor(shift),
                bias: Some(PerChannel::Tensor(b)),
                zero_point: z,
                relu: r,
                ..base.clone()
            };
            cfg.validate().unwrap();
            dut.poke_i64(bias, b);
            dut.poke_u64(sh, (shift + 16) as u64);
            dut.poke_i64(zp, z);
            dut.poke_u64(relu, r as u64);
            let xs: Vec<i64> = (0..40)
                .map(|i| match i {
                    0 => lo,
                    1 => hi,
                    2 => 0,
                    3 => -1,
                    _ if i % 3 == 0 => rng.range_i64(-70000, 70000),
                    _ => rng.range_i64(lo, hi),
                })
                .collect();
            let mut got = Vec::new();
            for t in 0..xs.len() + RT_LATENCY as usize {
                if t < xs.len() {
                    dut.poke_i64(x, xs[t]);
                }
                dut.tick();
                if t + 1 >= RT_LATENCY as usize {
                    got.push(dut.peek_i64(y));
                }
            }
            for (i, &xv) in xs.iter().enumerate() {
                let want = requant(&cfg, 0, xv);
                assert_eq!(
                    got[i], want,
                    "x = {xv}, shift {shift}, bias {b}, zp {z}, relu {r}, {rounding:?}, in {in_bits} out {out_bits} {}",
                    if out_signed { "signed" } else { "unsigned" }
                );
            }
        }
    }
}

#[test]
fn run_time_lane_equals_golden_requant() {
    check(32, 8, true, Rounding::NearestEven, 1);
    check(32, 8, false, Rounding::HalfAway, 2);
    check(48, 16, true, Rounding::Floor, 3);
    check(32, 4, true, Rounding::HalfAway, 4);
}
