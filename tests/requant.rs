//! Co-simulation of the PoT re-quantizer against golden: exhaustive over every 16-bit
//! input on every lane (16 different shifts at once, left and right) for each rounding
//! mode, random 32- and 48-bit inputs with corner values, saturation at both ends, and
//! the latency and throughput. Runs use random input gaps and backpressure and start
//! from randomised register and memory contents; throughput and latency are measured
//! with smooth traffic.

mod common;

use accgen_golden::num::{qrange, Rounding};
use accgen_golden::requant::{requant as requant_one, PerChannel, RequantConfig};
use accgen_golden::rng::SplitMix64;
use accgen_hw::lanes::top_latency;
use accgen_hw::requant::{requant, REQUANT_LATENCY};
use accgen_hw::rtl::Library;
use accgen_sim::axis::Traffic;
use accgen_sim::stream::{LaneFormat, StreamRun};

const SHIFTS: [i64; 16] = [-16, -9, -3, -1, 0, 1, 2, 3, 5, 7, 8, 11, 15, 16, 17, 47];

fn run(cfg: &RequantConfig, xs: &[i64], traffic: &Traffic, x_seed: u64) -> StreamRun {
    let mut lib = Library::new();
    let top = requant(&mut lib, cfg).unwrap();
    let r = common::stream_unit(
        &top,
        cfg.lanes as usize,
        LaneFormat {
            bits: cfg.in_bits,
            signed: true,
        },
        LaneFormat {
            bits: cfg.out_bits,
            signed: cfg.out_signed,
        },
        xs,
        &|lane, x| requant_one(cfg, lane, x),
        traffic,
        x_seed,
    );
    // Independent of the driver's golden closure: the stream model of golden.
    let lanes = cfg.lanes as usize;
    let want: Vec<i64> = xs
        .iter()
        .enumerate()
        .map(|(i, &x)| requant_one(cfg, i % lanes, x))
        .collect();
    assert_eq!(r.outputs, want);
    r
}

/// Every 16-bit input on every lane: the stream is each value repeated once per lane.
fn exhaustive16(rounding: Rounding, out_bits: u32, out_signed: bool, relu: bool, zero_point: i64) {
    let lanes = SHIFTS.len();
    let cfg = RequantConfig {
        lanes: lanes as u32,
        in_bits: 16,
        out_bits,
        out_signed,
        rounding,
        shift: PerChannel::Channel(SHIFTS.to_vec()),
        bias: Some(PerChannel::Channel(
            (0..lanes as i64).map(|c| c * 37 - 300).collect(),
        )),
        zero_point,
        relu,
    };
    let xs: Vec<i64> = (-32768i64..32768)
        .flat_map(|x| std::iter::repeat_n(x, lanes))
        .collect();
    let r = run(&cfg, &xs, &Traffic::hostile(out_bits as u64), 0x51);
    // Saturation reached at both ends of the output range on the left-shift lanes.
    let (qmin, qmax) = qrange(out_bits, out_signed);
    let lo = if relu { zero_point as i128 } else { qmin };
    assert!(r.outputs.iter().any(|&y| y as i128 == qmax));
    assert!(r.outputs.iter().any(|&y| y as i128 == lo));
}

#[test]
fn exhaustive_16bit_nearest_even_signed() {
    exhaustive16(Rounding::NearestEven, 8, true, false, 3);
}

#[test]
fn exhaustive_16bit_half_away_unsigned_relu() {
    exhaustive16(Rounding::HalfAway, 8, false, true, 20);
}

#[test]
fn exhaustive_16bit_floor_signed_4bit() {
    exhaustive16(Rounding::Floor, 4, true, false, -2);
}

fn random_wide(in_bits: u32, rounding: Rounding, seed: u64) {
    let lanes = 8u32;
    let shifts: Vec<i64> = vec![-16, -1, 0, 1, 13, 31, 40, 47];
    let hi = (1i64 << (in_bits - 1)) - 1;
    let cfg = RequantConfig {
        lanes,
        in_bits,
        out_bits: 16,
        out_signed: true,
        rounding,
        shift: PerChannel::Channel(shifts),
        bias: Some(PerChannel::Channel(vec![
            0,
            -1,
            1,
            hi,
            -hi - 1,
            12345,
            -999,
            7,
        ])),
        zero_point: -17,
        relu: false,
    };
    let mut rng = SplitMix64::new(seed);
    let corners = [-hi - 1, -hi, -1, 0, 1, hi - 1, hi];
    let xs: Vec<i64> = (0..40_000)
        .map(|i| {
            if i % 5 == 0 {
                corners[(i / 5) % corners.len()]
            } else {
                rng.signed(in_bits)
            }
        })
        .collect();
    run(&cfg, &xs, &Traffic::hostile(seed), seed);
}

#[test]
fn random_32bit_all_modes() {
    for (i, mode) in [Rounding::NearestEven, Rounding::HalfAway, Rounding::Floor]
        .into_iter()
        .enumerate()
    {
        random_wide(32, mode, 10 + i as u64);
    }
}

#[test]
fn random_48bit_nearest_even() {
    random_wide(48, Rounding::NearestEven, 20);
}

#[test]
fn latency_throughput_and_per_tensor_default() {
    let cfg = RequantConfig {
        shift: PerChannel::Tensor(4),
        ..RequantConfig::default()
    };
    // A single beat: its outputs appear exactly top_latency cycles later.
    let xs: Vec<i64> = (0..cfg.lanes as i64).map(|c| c * 1000 - 7000).collect();
    let r = run(&cfg, &xs, &Traffic::smooth(), 0);
    assert_eq!(r.timing.cycles, 1 + top_latency(REQUANT_LATENCY) as u64);
    // Many beats back to back: one beat per cycle, no input stall.
    let mut rng = SplitMix64::new(3);
    let xs: Vec<i64> = (0..cfg.lanes as usize * 5000)
        .map(|_| rng.signed(cfg.in_bits))
        .collect();
    let r = run(&cfg, &xs, &Traffic::smooth(), 0);
    assert_eq!(r.timing.cycles, 5000 + top_latency(REQUANT_LATENCY) as u64);
    assert_eq!(r.timing.input_stalls, 0);
}

/// Heavy backpressure: the sink takes a beat only one cycle in ten. Nothing is lost
/// and the unit throttles its input instead.
#[test]
fn heavy_backpressure_loses_nothing() {
    let cfg = RequantConfig::default();
    let mut rng = SplitMix64::new(4);
    let xs: Vec<i64> = (0..cfg.lanes as usize * 600)
        .map(|_| rng.signed(cfg.in_bits))
        .collect();
    let traffic = Traffic {
        gap: 0.0,
        stall: 0.9,
        ..Traffic::hostile(5)
    };
    let r = run(&cfg, &xs, &traffic, 9);
    assert!(r.timing.input_stalls > 1000, "the input was throttled");
}
