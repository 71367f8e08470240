//! Issue 12's regression-throughput bench: `accgen regress run` cases per second on
//! one suite of 12 GELU cases, with model reuse (every case on one config: one
//! Verilator build, the rest from the cache) and without (12 configs that differ in
//! `in_frac` and `out_frac`: 12 builds), each from an empty build cache (the
//! Verilator runtime compiled into it first, untimed), at 1 and 2 jobs. Prints a
//! table.
//!
//! `cargo bench --bench regress`

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn suite(dir: &Path, distinct: bool) {
    std::fs::create_dir_all(dir.join("inputs")).unwrap();
    let mut text = String::from("[suite]\nname = \"bench\"\n");
    for i in 0..12 {
        let (fi, fo) = if distinct { (i % 6, 3 + i / 6) } else { (4, 4) };
        let cfg = format!("c{i}.toml");
        std::fs::write(
            dir.join(&cfg),
            format!(
                "[gelu]\nlanes = 4\nin_bits = 8\nin_frac = {fi}\nout_bits = 8\nout_frac = {fo}\n"
            ),
        )
        .unwrap();
        // Same text for reuse: the cache keys on the Verilog, not the file name.
        let data: Vec<i64> = (0..256).map(|v| v - 128).collect();
        accgen_sim::npy::write(
            &dir.join(format!("inputs/x{i}.npy")),
            &accgen_sim::npy::NpyArray {
                dtype: accgen_sim::npy::Dtype::I8,
                shape: vec![16, 16],
                data,
            },
        )
        .unwrap();
        text.push_str(&format!(
            "\n[[case]]\nname = \"c{i}\"\nconfig = \"{cfg}\"\nunit = \"gelu\"\ninputs = {{ x = \"inputs/x{i}.npy\" }}\nseed = {}\n",
            i + 1
        ));
    }
    std::fs::write(dir.join("suite.toml"), text).unwrap();
}

fn main() {
    let exe = env!("CARGO_BIN_EXE_accgen");
    println!("| suite (12 GELU cases) | jobs | seconds | cases/s |\n|---|---|---|---|");
    for distinct in [false, true] {
        for jobs in [1, 2] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("suite");
            suite(&dir, distinct);
            let cache = tmp.path().join("cache");
            let run = |args: &[&str]| {
                let o = Command::new(exe)
                    .args(args)
                    .env("ACCGEN_CACHE_DIR", &cache)
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            };
            run(&["regress", "record", dir.to_str().unwrap()]);
            // Compile the Verilator runtime into the new cache first (once per cache).
            let warm = tmp.path().join("warm.toml");
            std::fs::write(&warm, "[requant]\nlanes = 1\nin_bits = 8\nout_bits = 4\n").unwrap();
            let x = dir.join("inputs/x0.npy");
            run(&[
                "sim",
                "requant",
                "--config",
                warm.to_str().unwrap(),
                "--x",
                x.to_str().unwrap(),
            ]);
            let t0 = Instant::now();
            run(&[
                "regress",
                "run",
                dir.to_str().unwrap(),
                "--jobs",
                &jobs.to_string(),
            ]);
            let s = t0.elapsed().as_secs_f64();
            println!(
                "| {} | {jobs} | {s:.1} | {:.2} |",
                if distinct {
                    "12 configs: no model reuse (12 builds)"
                } else {
                    "one config: model reuse (1 build)"
                },
                12.0 / s
            );
        }
    }
}
