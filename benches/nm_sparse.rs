//! N:M sparse array versus the dense array with the same number of multipliers, on
//! the same GEMM, in Verilator cycles (targets at K >= 512: 1.9x at 2:4, 3.6x at 2:8
//! and 1:4; multiplier utilization >= 0.9).
//! Run: `cargo bench --bench nm_sparse`. Prints a table; asserts only bit-exactness.

use accgen_golden::gemm::{ArrayConfig, Matrix};
use accgen_golden::nm_sparse::{compress, prune, SparsityConfig};
use accgen_golden::rng::SplitMix64;
use accgen_hw::rtl::Library;
use accgen_sim::gemm::{ArrayDriver, GemmRun, Issue};
use accgen_sim::{Model, SimOptions};

fn random(rng: &mut SplitMix64, rows: usize, cols: usize) -> Matrix {
    Matrix::from_vec(
        rows,
        cols,
        (0..rows * cols).map(|_| rng.signed(8) | 1).collect(),
    )
}

fn dense_run(cfg: &ArrayConfig, a: &Matrix, b: &Matrix) -> GemmRun {
    let mut lib = Library::new();
    let top = accgen_hw::systolic::systolic_array(&mut lib, cfg).unwrap();
    let model = Model::build(&top, &SimOptions::new()).unwrap();
    let mut drv = ArrayDriver::new(model.instantiate().unwrap(), cfg).unwrap();
    drv.run(a, b, Issue::BackToBack).unwrap()
}

fn main() {
    let mut rng = SplitMix64::new(77);
    println!(
        "{:<6} {:<5} {:<15} {:>7} {:>9} {:>9} {:>8} {:>10}",
        "array", "N:M", "MxKxN", "dense", "dense cyc", "sparse cyc", "speedup", "mult util"
    );
    for n in [8u32, 16] {
        let cfg = ArrayConfig {
            rows: n,
            cols: n,
            ..ArrayConfig::default()
        };
        for (sn, sm) in [(2u32, 4u32), (2, 8), (1, 4)] {
            let sp = SparsityConfig { n: sn, m: sm };
            let mut lib = Library::new();
            let top = accgen_hw::sparse_array(&mut lib, &cfg, &sp).unwrap();
            let model = Model::build(&top, &SimOptions::new()).unwrap();
            let mut drv = ArrayDriver::new_sparse(model.instantiate().unwrap(), &cfg, &sp).unwrap();
            let dcfg = ArrayConfig {
                cols: n * sn,
                ..cfg.clone()
            };
            for (m, k, nn) in [
                (64usize, 512usize, 64usize),
                (128, 1024, 64),
                (100, 768, 90),
            ] {
                let a = random(&mut rng, m, k);
                let b = prune(&random(&mut rng, k, nn), sp);
                let c = compress(&b, sp).unwrap();
                let s = drv.run_sparse(&a, &c, Issue::BackToBack).unwrap();
                let d = dense_run(&dcfg, &a, &b);
                assert!(
                    s.bit_exact() && d.bit_exact(),
                    "bench runs must be bit-exact"
                );
                println!(
                    "{:<6} {:<5} {:<15} {:>7} {:>9} {:>9} {:>7.2}x {:>10.4}",
                    format!("{n}x{n}"),
                    format!("{sn}:{sm}"),
                    format!("{m}x{k}x{nn}"),
                    format!("{}x{}", dcfg.rows, dcfg.cols),
                    d.cycles,
                    s.cycles,
                    d.cycles as f64 / s.cycles as f64,
                    s.utilization
                );
            }
        }
    }
}
