//! Systolic-array performance table: simulated cycles against SCALE-Sim's
//! non-overlapped output-stationary fold model, utilization, Verilator build time,
//! simulation speed, and generation time up to 64x64.
//! Run: `cargo bench --bench systolic`. Prints tables; asserts nothing.

use std::rc::Rc;
use std::time::Instant;

use accgen_golden::gemm::{ArrayConfig, Matrix};
use accgen_golden::rng::SplitMix64;
use accgen_hw::rtl::{Design, Library};
use accgen_hw::systolic::systolic_array;
use accgen_sim::gemm::{scalesim_os_cycles, ArrayDriver, Issue};
use accgen_sim::{Model, SimOptions};

fn cfg(n: u32) -> ArrayConfig {
    ArrayConfig {
        rows: n,
        cols: n,
        ..ArrayConfig::default()
    }
}

fn random(rng: &mut SplitMix64, rows: usize, cols: usize) -> Matrix {
    Matrix::from_vec(
        rows,
        cols,
        (0..rows * cols).map(|_| rng.signed(8)).collect(),
    )
}

fn main() {
    println!("== generation time (build netlist + emit Verilog) ==");
    println!("{:<8} {:>10} {:>12}", "array", "time (s)", "Verilog (KB)");
    for n in [16u32, 32, 64] {
        let t = Instant::now();
        let mut lib = Library::new();
        let mut d = Design::new();
        d.add_top(systolic_array(&mut lib, &cfg(n)).unwrap());
        let files = d.files().unwrap();
        let secs = t.elapsed().as_secs_f64();
        let kb: usize = files.iter().map(|f| f.text.len()).sum::<usize>() / 1024;
        println!("{:<8} {:>10.3} {:>12}", format!("{n}x{n}"), secs, kb);
    }

    println!("\n== cycles vs SCALE-Sim OS fold model (sum over folds of R+C+K-2) ==");
    println!(
        "{:<7} {:<14} {:>6} {:>10} {:>10} {:>7} {:>8} {:>10} {:>9}",
        "array", "MxKxN", "folds", "cycles", "scalesim", "ratio", "util", "build (s)", "Mcyc/s"
    );
    let mut rng = SplitMix64::new(5);
    for n in [8u32, 16] {
        let c = cfg(n);
        let mut lib = Library::new();
        let top: Rc<_> = systolic_array(&mut lib, &c).unwrap();
        // A private design cache forces a cold Verilator build, so the time is real.
        let cold = std::env::temp_dir().join(format!("accgen-bench-{}-{n}", std::process::id()));
        let t = Instant::now();
        let model = Model::build(&top, &SimOptions::new().cache_root(&cold)).unwrap();
        let build_txt = format!("{:.1}", t.elapsed().as_secs_f64());
        let mut drv = ArrayDriver::new(model.instantiate().unwrap(), &c).unwrap();
        for (m, k, nn) in [
            (n as usize, 256, n as usize),
            (64, 256, 64),
            (100, 300, 70),
            (256, 512, 256),
            (37, 1024, 53),
            (n as usize, 8, n as usize),
            (200, 16, 120),
        ] {
            let a = random(&mut rng, m, k);
            let b = random(&mut rng, k, nn);
            let run = drv.run(&a, &b, Issue::BackToBack).unwrap();
            assert!(run.bit_exact(), "bench run not bit-exact: {}", run.verdict);
            let ss = scalesim_os_cycles(&c, m, k, nn);
            println!(
                "{:<7} {:<14} {:>6} {:>10} {:>10} {:>7.3} {:>8.4} {:>10} {:>9.2}",
                format!("{n}x{n}"),
                format!("{m}x{k}x{nn}"),
                run.tiles,
                run.cycles,
                ss,
                run.cycles as f64 / ss as f64,
                run.utilization,
                build_txt,
                run.sim_cycles_per_s / 1e6
            );
        }
        drop(drv);
        drop(model);
        let _ = std::fs::remove_dir_all(&cold);
    }
    println!(
        "(build = cold Verilator build of the model and wrapper; the runtime archive is cached)"
    );
}
