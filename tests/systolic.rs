//! Co-simulation of the dense systolic array: hundreds of random tiled GEMMs against
//! golden on several array shapes (odd-numbered runs with random input gaps and
//! backpressure, from randomised initial state), back-to-back versus one-at-a-time
//! tiles, and, with smooth traffic, cycle counts checked against the documented
//! latency and throughput.

use std::rc::Rc;

use accgen_golden::gemm::{ArrayConfig, Matrix};
use accgen_golden::rng::SplitMix64;
use accgen_hw::array;
use accgen_hw::grid::PeKind;
use accgen_hw::rtl::Library;
use accgen_hw::systolic::{dense_pe, systolic_array};
use accgen_sim::axis::Traffic;
use accgen_sim::gemm::{scalesim_os_cycles, ArrayDriver, Issue};
use accgen_sim::{Model, SimOptions};

fn model(cfg: &ArrayConfig) -> Model {
    let mut lib = Library::new();
    let top: Rc<_> = systolic_array(&mut lib, cfg).unwrap();
    Model::build(&top, &SimOptions::new()).unwrap()
}

fn kind(cfg: &ArrayConfig) -> PeKind {
    dense_pe(&mut Library::new(), cfg).unwrap()
}

fn stream_cycles(cfg: &ArrayConfig, k: u32, tiles: u32) -> u64 {
    array::stream_cycles(&kind(cfg), cfg.rows, cfg.cols, k, tiles)
}

fn tile_cycles(cfg: &ArrayConfig, k: u32) -> u64 {
    array::tile_cycles(&kind(cfg), cfg.rows, cfg.cols, k)
}

fn random(rng: &mut SplitMix64, rows: usize, cols: usize, bits: u32) -> Matrix {
    let data = (0..rows * cols)
        .map(|_| match rng.range_i64(0, 9) {
            0 => -(1 << (bits - 1)),
            1 => (1 << (bits - 1)) - 1,
            2 => 0,
            _ => rng.signed(bits),
        })
        .collect();
    Matrix::from_vec(rows, cols, data)
}

fn cfg(rows: u32, cols: u32) -> ArrayConfig {
    ArrayConfig {
        rows,
        cols,
        ..ArrayConfig::default()
    }
}

/// `count` random GEMMs with M, N up to min(100, 8 x array size) and K in 1..=100.
fn random_gemms(c: ArrayConfig, count: usize, seed: u64) {
    let m = model(&c);
    let mut drv = ArrayDriver::new(m.instantiate_randomized(seed).unwrap(), &c).unwrap();
    let mut rng = SplitMix64::new(seed);
    let max_m = (8 * c.rows as i64).min(100);
    let max_n = (8 * c.cols as i64).min(100);
    for i in 0..count {
        let mm = rng.range_i64(1, max_m) as usize;
        let k = rng.range_i64(1, 100) as usize;
        let n = rng.range_i64(1, max_n) as usize;
        let a = random(&mut rng, mm, k, c.act_bits);
        let b = random(&mut rng, k, n, c.weight_bits);
        let hostile = i % 2 == 1;
        drv.set_traffic(if hostile {
            Traffic::hostile(seed * 1000 + i as u64)
        } else {
            Traffic::smooth()
        });
        let run = drv.run(&a, &b, Issue::BackToBack).unwrap();
        assert!(
            run.bit_exact(),
            "GEMM {i} ({mm}x{k}x{n}) on {}x{}: {}",
            c.rows,
            c.cols,
            run.verdict
        );
        if !hostile {
            let tiles = mm.div_ceil(c.rows as usize) * n.div_ceil(c.cols as usize);
            assert_eq!(
                run.cycles,
                stream_cycles(&c, k as u32, tiles as u32),
                "cycles of GEMM {i}"
            );
        }
    }
}

#[test]
fn random_gemms_1x1() {
    random_gemms(cfg(1, 1), 50, 1);
}

#[test]
fn random_gemms_1x6() {
    random_gemms(cfg(1, 6), 50, 2);
}

#[test]
fn random_gemms_5x1() {
    random_gemms(cfg(5, 1), 50, 3);
}

#[test]
fn random_gemms_3x5() {
    random_gemms(cfg(3, 5), 50, 4);
}

#[test]
fn random_gemms_8x8_int4_acc12() {
    // Narrow formats: wrap-around at a 12-bit accumulator is exercised constantly.
    random_gemms(
        ArrayConfig {
            rows: 8,
            cols: 8,
            act_bits: 4,
            weight_bits: 6,
            acc_bits: 12,
        },
        50,
        5,
    );
}

#[test]
fn random_gemms_16x16() {
    random_gemms(cfg(16, 16), 50, 6);
}

#[test]
fn random_gemms_wide_format() {
    random_gemms(
        ArrayConfig {
            rows: 2,
            cols: 3,
            act_bits: 16,
            weight_bits: 16,
            acc_bits: 48,
        },
        20,
        7,
    );
}

#[test]
fn back_to_back_equals_one_at_a_time_and_cycles_match_formulas() {
    let c = cfg(4, 3);
    let m = model(&c);
    let mut drv = ArrayDriver::new(m.instantiate().unwrap(), &c).unwrap();
    let mut rng = SplitMix64::new(9);
    for (mm, k, n) in [(9, 7, 7), (13, 2, 5), (4, 4, 3), (1, 30, 10)] {
        let a = random(&mut rng, mm, k, 8);
        let b = random(&mut rng, k, n, 8);
        let fast = drv.run(&a, &b, Issue::BackToBack).unwrap();
        let slow = drv.run(&a, &b, Issue::OneAtATime).unwrap();
        assert!(fast.bit_exact() && slow.bit_exact());
        assert_eq!(fast.c, slow.c);
        let tiles = (mm.div_ceil(4) * n.div_ceil(3)) as u64;
        assert_eq!(fast.cycles, stream_cycles(&c, k as u32, tiles as u32));
        if tiles > 1 {
            assert!(slow.cycles > fast.cycles, "back-to-back must be faster");
        }
    }
}

#[test]
fn single_tile_latency_is_exact() {
    for c in [cfg(1, 1), cfg(4, 3), cfg(2, 7)] {
        let m = model(&c);
        let mut drv = ArrayDriver::new(m.instantiate().unwrap(), &c).unwrap();
        let mut rng = SplitMix64::new(11);
        for k in [1usize, 2, 5, 17] {
            let a = random(&mut rng, c.rows as usize, k, 8);
            let b = random(&mut rng, k, c.cols as usize, 8);
            let run = drv.run(&a, &b, Issue::BackToBack).unwrap();
            assert!(run.bit_exact());
            assert_eq!(
                run.cycles,
                tile_cycles(&c, k as u32),
                "{}x{} K={k}",
                c.rows,
                c.cols
            );
        }
    }
}

#[test]
fn long_k_streams_at_full_utilization_and_beats_scalesim() {
    let c = cfg(4, 4);
    let m = model(&c);
    let mut drv = ArrayDriver::new(m.instantiate().unwrap(), &c).unwrap();
    let mut rng = SplitMix64::new(12);
    let (mm, k, n) = (16, 256, 16);
    let a = random(&mut rng, mm, k, 8);
    let b = random(&mut rng, k, n, 8);
    let run = drv.run(&a, &b, Issue::BackToBack).unwrap();
    assert!(run.bit_exact());
    assert!(run.utilization > 0.99, "utilization {}", run.utilization);
    assert!(run.cycles < scalesim_os_cycles(&c, mm, k, n));
}

#[test]
fn progress_reports_end_with_all_tiles() {
    use std::cell::RefCell;
    use std::rc::Rc as StdRc;
    let c = cfg(2, 2);
    let m = model(&c);
    let mut drv = ArrayDriver::new(m.instantiate().unwrap(), &c).unwrap();
    let seen: StdRc<RefCell<Vec<(usize, usize)>>> = StdRc::default();
    let s2 = seen.clone();
    drv.on_progress(move |d, t| s2.borrow_mut().push((d, t)));
    let mut rng = SplitMix64::new(1);
    let a = random(&mut rng, 5, 3, 8);
    let b = random(&mut rng, 3, 7, 8);
    assert!(drv.run(&a, &b, Issue::BackToBack).unwrap().bit_exact());
    let seen = seen.borrow();
    assert_eq!(seen.last(), Some(&(12, 12)), "3 x 4 tiles");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
}
