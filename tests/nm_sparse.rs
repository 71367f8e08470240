//! Co-simulation of the N:M sparse systolic array: random sparse GEMMs across 1:2,
//! 1:4, 2:4 and 2:8 on 1x1, 4x4 and 8x8 arrays against the golden sparse GEMM, with
//! K not a multiple of M and all-zero groups; odd-numbered runs use random input gaps
//! and backpressure from randomised initial state, even-numbered runs smooth traffic
//! with the exact documented cycle count.

use accgen_golden::gemm::{ArrayConfig, Matrix};
use accgen_golden::nm_sparse::{compress, prune, SparsityConfig};
use accgen_golden::rng::SplitMix64;
use accgen_hw::array::stream_cycles;
use accgen_hw::nm_pe::nm_pe;
use accgen_hw::rtl::Library;
use accgen_sim::axis::Traffic;
use accgen_sim::gemm::{ArrayDriver, Issue};
use accgen_sim::{Model, SimOptions};

fn random(rng: &mut SplitMix64, rows: usize, cols: usize, bits: u32, zero_pct: i64) -> Matrix {
    let data = (0..rows * cols)
        .map(|_| {
            if rng.range_i64(0, 99) < zero_pct {
                0
            } else {
                match rng.range_i64(0, 9) {
                    0 => -(1 << (bits - 1)),
                    1 => (1 << (bits - 1)) - 1,
                    _ => rng.signed(bits),
                }
            }
        })
        .collect();
    Matrix::from_vec(rows, cols, data)
}

fn run_many(rows: u32, cols: u32, n: u32, m: u32, count: usize, seed: u64) {
    let cfg = ArrayConfig {
        rows,
        cols,
        ..ArrayConfig::default()
    };
    let sp = SparsityConfig { n, m };
    let mut lib = Library::new();
    let top = accgen_hw::sparse_array(&mut lib, &cfg, &sp).unwrap();
    let kind = nm_pe(&mut lib, &cfg, &sp).unwrap();
    let model = Model::build(&top, &SimOptions::new()).unwrap();
    let mut drv =
        ArrayDriver::new_sparse(model.instantiate_randomized(seed).unwrap(), &cfg, &sp).unwrap();
    let mut rng = SplitMix64::new(seed);
    let max_mn = (6 * rows.max(cols) as i64).min(60);
    for g in 0..count {
        let mm = rng.range_i64(1, max_mn) as usize;
        let k = rng.range_i64(1, 90) as usize;
        let nn = rng.range_i64(1, max_mn) as usize;
        let a = random(&mut rng, mm, k, 8, 10);
        // Up to 70 % zeros before pruning: many groups end up all-zero or under-full.
        let zero_pct = rng.range_i64(0, 70);
        let b = prune(&random(&mut rng, k, nn, 8, zero_pct), sp);
        let c = compress(&b, sp).unwrap();
        let hostile = g % 2 == 1;
        drv.set_traffic(if hostile {
            Traffic::hostile(seed * 100 + g as u64)
        } else {
            Traffic::smooth()
        });
        let run = drv.run_sparse(&a, &c, Issue::BackToBack).unwrap();
        assert!(
            run.bit_exact(),
            "{n}:{m} GEMM {g} ({mm}x{k}x{nn}) on {rows}x{cols}: {}",
            run.verdict
        );
        if !hostile {
            let tiles = mm.div_ceil(rows as usize) * nn.div_ceil(cols as usize);
            let beats = k.div_ceil(m as usize) as u32;
            assert_eq!(
                run.cycles,
                stream_cycles(&kind, rows, cols, beats, tiles as u32),
                "cycles of GEMM {g}"
            );
        }
    }
}

#[test]
fn sparse_1x1_all_patterns() {
    for (i, (n, m)) in [(1, 2), (1, 4), (2, 4), (2, 8)].into_iter().enumerate() {
        run_many(1, 1, n, m, 20, 100 + i as u64);
    }
}

#[test]
fn sparse_4x4_2of4_and_2of8() {
    run_many(4, 4, 2, 4, 30, 7);
    run_many(4, 4, 2, 8, 30, 8);
}

#[test]
fn sparse_8x8_2of4_and_1of4() {
    run_many(8, 8, 2, 4, 30, 9);
    run_many(8, 8, 1, 4, 30, 10);
}

#[test]
fn sparse_4x4_1of2_with_all_zero_b() {
    run_many(4, 4, 1, 2, 10, 11);
    // An all-zero B: every slot is padding; C must be all zeros.
    let cfg = ArrayConfig {
        rows: 4,
        cols: 4,
        ..ArrayConfig::default()
    };
    let sp = SparsityConfig { n: 1, m: 2 };
    let mut lib = Library::new();
    let top = accgen_hw::sparse_array(&mut lib, &cfg, &sp).unwrap();
    let model = Model::build(&top, &SimOptions::new()).unwrap();
    let mut drv = ArrayDriver::new_sparse(model.instantiate().unwrap(), &cfg, &sp).unwrap();
    let mut rng = SplitMix64::new(3);
    let a = random(&mut rng, 5, 9, 8, 0);
    let c = compress(&Matrix::zeros(9, 6), sp).unwrap();
    let run = drv.run_sparse(&a, &c, Issue::BackToBack).unwrap();
    assert!(run.bit_exact());
    assert!(run.c.data.iter().all(|&v| v == 0));
    assert_eq!(run.macs, 0);
}
