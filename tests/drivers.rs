//! The drivers against the simulated board (`accgen serve`):
//! - the Python driver's pytest suite (`scripts/driver/tests`, numpy and pytest from
//!   the venv `scripts/setup.sh` makes) runs a compiled model (`models/block_example`)
//!   bit for bit equal to `accgen run --golden-only`, reads every register's reset
//!   value through AXI4-Lite, and raises a clear exception on an error code;
//! - the C driver (`scripts/driver/c`, built here with gcc -Wall -Wextra -Werror) runs
//!   one GEMM (a single linear layer) bit for bit equal to golden, and reports an
//!   illegal instruction by name;
//! - the committed register files of both drivers equal what `accgen board`
//!   generates from the Rust register map;
//! - `serve` refuses an existing socket path and removes its own socket on shutdown.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use accgen_sim::npy::{self, Dtype, NpyArray};
use common::*;

const CFG: &str = "configs/block_example.toml";

/// Kills the server if the test fails before shutting it down.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_accgen")
}

fn start_server(sock: &Path) -> Server {
    let child = Command::new(exe())
        .args(["serve", "--config", CFG, "--socket"])
        .arg(sock)
        .args(["--stall", "0.2", "--mem-latency", "30", "--seed", "7"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let s = Server(child);
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(1200),
            "accgen serve did not listen"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    s
}

fn shutdown(sock: &Path, mut s: Server) {
    let mut c = std::os::unix::net::UnixStream::connect(sock).unwrap();
    writeln!(c, "{{\"op\":\"shutdown\"}}").unwrap();
    let mut line = String::new();
    BufReader::new(&c).read_line(&mut line).unwrap();
    assert!(line.contains("\"ok\":true"), "{line}");
    let st = s.0.wait().unwrap();
    assert!(st.success());
    assert!(!sock.exists(), "the server removes its socket");
    std::mem::forget(s);
}

/// A one-GEMM model: x (20 x 40) by W (40 x 24) with a bias, requant to int8.
fn gemm_model(dir: &Path) -> Vec<i64> {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = accgen_golden::rng::SplitMix64::new(5);
    let w: Vec<i64> = (0..40 * 24).map(|_| rng.range_i64(-100, 100)).collect();
    let b: Vec<i64> = (0..24).map(|_| rng.range_i64(-2000, 2000)).collect();
    let x: Vec<i64> = (0..20 * 40).map(|_| rng.range_i64(-128, 127)).collect();
    let put = |f: &str, dtype, shape: Vec<usize>, data: Vec<i64>| {
        npy::write(&dir.join(f), &NpyArray { dtype, shape, data }).unwrap()
    };
    put("w.npy", Dtype::I8, vec![40, 24], w);
    put("b.npy", Dtype::I32, vec![24], b);
    put("x.npy", Dtype::I8, vec![20, 40], x.clone());
    std::fs::write(
        dir.join("model.toml"),
        "[model]\ninput = \"x\"\noutput = \"y\"\n[tensors]\n\
         x = { shape = [20, 40], dtype = \"int8\", frac = 4 }\n\
         y = { shape = [20, 24], dtype = \"int8\", frac = 4 }\n\
         [[nodes]]\nname = \"fc\"\nop = \"linear\"\ninputs = [\"x\"]\noutput = \"y\"\n\
         weight = \"w.npy\"\nweight_frac = 7\nbias = \"b.npy\"\n",
    )
    .unwrap();
    x
}

fn compile_and_expect(t: &Tmp, model: &Path, input: &Path, tag: &str) -> (PathBuf, PathBuf) {
    let out = t.path(&format!("{tag}-compiled"));
    let o = accgen(&[
        "compile",
        "--config",
        CFG,
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let exp = t.path(&format!("{tag}-expected.npy"));
    let o = accgen(&[
        "run",
        "--config",
        CFG,
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--out",
        exp.to_str().unwrap(),
        "--golden-only",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    (out, exp)
}

#[test]
fn python_and_c_drivers_run_models_on_the_simulated_board() {
    let t = Tmp::new("drivers");
    let py = Path::new(".venv/bin/python");
    assert!(
        py.exists(),
        "the project venv is missing: run scripts/setup.sh (it installs numpy and pytest)"
    );
    // Python: the block example.
    let (block_dir, block_exp) = compile_and_expect(
        &t,
        Path::new("models/block_example"),
        Path::new("models/block_example/x.npy"),
        "block",
    );
    // C: one GEMM.
    let gemm = t.path("gemm");
    let x = gemm_model(&gemm);
    let (gemm_dir, gemm_exp) = compile_and_expect(&t, &gemm, &gemm.join("x.npy"), "gemm");

    let sock = t.path("board.sock");
    let server = start_server(&sock);
    // A second server may not take the same path.
    let o = accgen(&["serve", "--config", CFG, "--socket", sock.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists"), "{}", stderr(&o));

    // Absolute, but not resolved: the venv is in the symlink's path.
    let o = Command::new(std::env::current_dir().unwrap().join(py))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir("scripts/driver")
        .env("ACCGEN_SOCKET", &sock)
        .env("ACCGEN_MODEL", std::fs::canonicalize(&block_dir).unwrap())
        .env(
            "ACCGEN_INPUT",
            std::fs::canonicalize("models/block_example/x.npy").unwrap(),
        )
        .env("ACCGEN_EXPECTED", &block_exp)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "pytest: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("4 passed"), "{out}");

    // The C driver.
    let bin = t.path("accgen_run_model");
    let c = Path::new("scripts/driver/c");
    let o = Command::new("gcc")
        .args([
            "-std=c99",
            "-D_DEFAULT_SOURCE",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O1",
            "-o",
        ])
        .arg(&bin)
        .args(
            [
                "accgen_driver.c",
                "accgen_sim.c",
                "accgen_mmio.c",
                "accgen_run_model.c",
            ]
            .map(|f| c.join(f)),
        )
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let raw_in = t.path("x.bin");
    std::fs::write(
        &raw_in,
        x.iter().map(|&v| v as i8 as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    let raw_out = t.path("y.bin");
    let run_c = |extra: &[&str]| {
        Command::new(&bin)
            .arg(&sock)
            .arg(&gemm_dir)
            .arg(&raw_in)
            .arg(&raw_out)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run_c(&[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok: "));
    let want = npy::read(&gemm_exp).unwrap();
    let got: Vec<i64> = std::fs::read(&raw_out)
        .unwrap()
        .iter()
        .map(|&b| b as i8 as i64)
        .collect();
    assert_eq!(got, want.data, "the C driver's GEMM equals golden");
    assert!(got.iter().any(|&v| v != 0));
    let o = run_c(&["--corrupt-program"]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("error 1: illegal instruction") && e.contains("instruction 0"),
        "{e}"
    );

    shutdown(&sock, server);
}

#[test]
fn committed_register_files_equal_the_generated_ones() {
    let t = Tmp::new("drivers-regs");
    let o = accgen(&[
        "board",
        "--config",
        "configs/default.toml",
        "--board",
        "zcu104",
        "--out",
        &t.s("b"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (generated, committed) in [
        (
            "drivers/accgen_regs.py",
            "scripts/driver/accgen_driver/regs.py",
        ),
        ("drivers/accgen_regs.h", "scripts/driver/c/accgen_regs.h"),
    ] {
        assert_eq!(
            std::fs::read_to_string(t.path("b").join(generated)).unwrap(),
            std::fs::read_to_string(committed).unwrap(),
            "{committed} is stale: copy {generated} from `accgen board`"
        );
    }
}
