//! Mutation tests of the co-simulation checkers: every driver runs units whose output
//! stream is deliberately broken (`accgen_sim::fault`: `tlast` stuck, a beat dropped,
//! a beat duplicated, a bit flipped, the stream stalled) and must report a failing
//! verdict naming the right kind of problem. The same units without a fault pass
//! (so a failure here is the fault's doing, not the setup's).

use std::rc::Rc;

use accgen_golden::gelu::{GeluConfig, GeluUnit};
use accgen_golden::gemm::{ArrayConfig, Matrix};
use accgen_golden::nm_sparse::{compress, prune, SparsityConfig};
use accgen_golden::requant::{requant as requant_one, RequantConfig};
use accgen_golden::rng::SplitMix64;
use accgen_golden::softmax::{SoftmaxConfig, SoftmaxUnit};
use accgen_hw::rtl::{Library, Module};
use accgen_sim::axis::Traffic;
use accgen_sim::fault::{self, Fault};
use accgen_sim::gemm::{ArrayDriver, Issue};
use accgen_sim::stream::LaneFormat;
use accgen_sim::{Model, SimOptions, Verdict};

fn model(top: &Rc<Module>, f: Option<Fault>) -> Model {
    match f {
        Some(f) => fault::build(top, f, &SimOptions::new()).unwrap(),
        None => Model::build(top, &SimOptions::new()).unwrap(),
    }
}

/// Short idle limit: a stalled stream fails fast.
fn traffic(seed: u64) -> Traffic {
    Traffic {
        idle_limit: 2_000,
        ..Traffic::hostile(seed)
    }
}

/// The verdict must fail, and count the problem `fault` causes.
fn assert_caught(v: &Verdict, f: Fault) {
    assert!(!v.passed(), "{} not caught: {v}", f.describe());
    let counted = match f {
        Fault::LastLow | Fault::LastHigh => v.wrong_last > 0,
        Fault::Drop(_) => v.missing > 0 || v.mismatches > 0,
        Fault::Duplicate(_) => v.duplicated > 0 || v.extra > 0 || v.mismatches > 0,
        Fault::Flip(_) => v.mismatches > 0,
        Fault::Stall(_) => v.timeout || v.missing > 0,
    };
    assert!(counted, "{}: wrong kind of problem: {v}", f.describe());
}

fn requant_run(f: Option<Fault>) -> Verdict {
    let cfg = RequantConfig {
        lanes: 2,
        in_bits: 12,
        out_bits: 6,
        shift: accgen_golden::requant::PerChannel::Tensor(3),
        ..RequantConfig::default()
    };
    let top = accgen_hw::requant::requant(&mut Library::new(), &cfg).unwrap();
    let mut dut = model(&top, f).instantiate_randomized(7).unwrap();
    let mut rng = SplitMix64::new(1);
    let xs: Vec<i64> = (0..200).map(|_| rng.range_i64(-2048, 2047)).collect();
    accgen_sim::stream::run_lanes(
        &mut dut,
        2,
        LaneFormat {
            bits: 12,
            signed: true,
        },
        LaneFormat {
            bits: 6,
            signed: true,
        },
        &xs,
        &|lane, x| requant_one(&cfg, lane, x),
        &|i| format!("element {i}"),
        &traffic(3),
        64,
    )
    .unwrap()
    .verdict
}

fn gelu_run(f: Option<Fault>) -> Verdict {
    let cfg = GeluConfig {
        lanes: 1,
        in_bits: 8,
        in_frac: 4,
        out_bits: 8,
        out_frac: 4,
    };
    let top = accgen_hw::gelu::gelu(&mut Library::new(), &cfg).unwrap();
    let mut dut = model(&top, f).instantiate_randomized(9).unwrap();
    let xs: Vec<i64> = (-128..128).collect();
    let unit = GeluUnit::new(&cfg);
    accgen_sim::stream::run_lanes(
        &mut dut,
        1,
        LaneFormat {
            bits: 8,
            signed: true,
        },
        LaneFormat {
            bits: 8,
            signed: true,
        },
        &xs,
        &|_, x| unit.eval(x),
        &|i| format!("element {i}"),
        &traffic(4),
        64,
    )
    .unwrap()
    .verdict
}

fn softmax_run(f: Option<Fault>) -> Verdict {
    let cfg = SoftmaxConfig {
        lanes: 1,
        max_len: 8,
        in_bits: 8,
        in_frac: 4,
        out_bits: 4,
    };
    let top = accgen_hw::softmax::softmax(&mut Library::new(), &cfg).unwrap();
    let mut dut = model(&top, f).instantiate_randomized(11).unwrap();
    let mut rng = SplitMix64::new(2);
    let rows: Vec<Vec<i64>> = (0..12)
        .map(|r| (0..(r % 8 + 1)).map(|_| rng.range_i64(-128, 127)).collect())
        .collect();
    let unit = SoftmaxUnit::new(&cfg);
    accgen_sim::softmax::run_rows(
        &mut dut,
        1,
        LaneFormat {
            bits: 8,
            signed: true,
        },
        LaneFormat {
            bits: 4,
            signed: false,
        },
        &rows,
        &|row| unit.row(row).unwrap(),
        &traffic(5),
    )
    .unwrap()
    .verdict
}

fn random(rows: usize, cols: usize, seed: u64) -> Matrix {
    let mut rng = SplitMix64::new(seed);
    Matrix::from_vec(
        rows,
        cols,
        (0..rows * cols).map(|_| rng.range_i64(-128, 127)).collect(),
    )
}

fn gemm_run(f: Option<Fault>, sparse: bool) -> Verdict {
    let cfg = ArrayConfig {
        rows: 2,
        cols: 2,
        ..ArrayConfig::default()
    };
    let sp = SparsityConfig { n: 2, m: 4 };
    let mut lib = Library::new();
    let top = if sparse {
        accgen_hw::sparse_array(&mut lib, &cfg, &sp).unwrap()
    } else {
        accgen_hw::systolic::systolic_array(&mut lib, &cfg).unwrap()
    };
    let dut = model(&top, f).instantiate_randomized(13).unwrap();
    let mut drv = if sparse {
        ArrayDriver::new_sparse(dut, &cfg, &sp).unwrap()
    } else {
        ArrayDriver::new(dut, &cfg).unwrap()
    };
    drv.set_traffic(traffic(6));
    let a = random(5, 8, 1);
    let b = random(8, 3, 2);
    let run = if sparse {
        let c = compress(&prune(&b, sp), sp).unwrap();
        drv.run_sparse(&a, &c, Issue::BackToBack).unwrap()
    } else {
        drv.run(&a, &b, Issue::BackToBack).unwrap()
    };
    run.verdict
}

fn check(name: &str, run: &dyn Fn(Option<Fault>) -> Verdict, faults: &[Fault]) {
    let clean = run(None);
    assert!(clean.passed(), "{name} without a fault: {clean}");
    for &f in faults {
        assert_caught(&run(Some(f)), f);
    }
}

#[test]
fn requant_driver_catches_every_fault() {
    check("requant", &requant_run, &Fault::all(17));
}

#[test]
fn gelu_driver_catches_broken_framing_and_lost_beats() {
    check(
        "gelu",
        &gelu_run,
        &[
            Fault::LastHigh,
            Fault::Drop(0),
            Fault::Duplicate(255),
            Fault::Flip(100),
        ],
    );
}

#[test]
fn softmax_driver_catches_every_fault() {
    check("softmax", &softmax_run, &Fault::all(5));
}

#[test]
fn dense_gemm_driver_catches_every_fault() {
    check("dense gemm", &|f| gemm_run(f, false), &Fault::all(3));
}

#[test]
fn sparse_gemm_driver_catches_broken_framing_and_lost_beats() {
    check(
        "sparse gemm",
        &|f| gemm_run(f, true),
        &[
            Fault::LastLow,
            Fault::Drop(1),
            Fault::Duplicate(4),
            Fault::Stall(2),
        ],
    );
}

#[test]
fn fault_names_round_trip_and_bad_names_are_refused() {
    for f in Fault::all(12) {
        assert_eq!(f.describe().parse::<Fault>().unwrap(), f);
    }
    for bad in [
        "",
        "drop",
        "drop:",
        "drop:-1",
        "drop:x",
        "last-low:3",
        "flip:2000000",
        "explode:1",
    ] {
        let e = bad.parse::<Fault>().unwrap_err();
        assert!(e.contains("0..=1000000"), "{bad}: {e}");
    }
}

/// Through the CLI: a faulty run exits 1, writes no --out, and its --json report
/// (written so a regression can collect it) records the failure.
#[test]
fn cli_fault_run_fails_writes_report_but_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    std::fs::write(
        p("c.toml"),
        "[requant]\nlanes = 2\nin_bits = 8\nout_bits = 4\nshift = 2\n",
    )
    .unwrap();
    accgen_sim::npy::write(
        dir.path().join("x.npy").as_path(),
        &accgen_sim::npy::NpyArray {
            dtype: accgen_sim::npy::Dtype::I8,
            shape: vec![5, 8],
            data: (-20..20).collect(),
        },
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_accgen"))
        .args([
            "sim",
            "requant",
            "--config",
            &p("c.toml"),
            "--x",
            &p("x.npy"),
        ])
        .args([
            "--out",
            &p("y.npy"),
            "--json",
            &p("s.json"),
            "--inject-fault",
            "flip:3",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("mismatch"));
    assert!(!dir.path().join("y.npy").exists());
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("s.json")).unwrap()).unwrap();
    assert_eq!(s["bit_exact"], false);
    assert!(s["verdict"]["mismatches"].as_u64().unwrap() >= 1);
}
