//! End-to-end tests through the `accgen` binary: generate, lint, sim gemm on .npy
//! files, and the error paths (each with a clear message, non-zero exit, no output).

mod common;

use common::*;

use accgen_golden::gemm::{gemm, ArrayConfig, Matrix};
use accgen_golden::rng::SplitMix64;
use accgen_sim::npy::{self, Dtype};

fn write_cfg(t: &Tmp, text: &str) -> String {
    std::fs::write(t.path("cfg.toml"), text).unwrap();
    t.s("cfg.toml")
}

fn random(rng: &mut SplitMix64, rows: usize, cols: usize, bits: u32) -> Matrix {
    Matrix::from_vec(
        rows,
        cols,
        (0..rows * cols).map(|_| rng.signed(bits)).collect(),
    )
}

const ARRAY_4X4: &str =
    "[array]\nrows = 4\ncols = 4\nact_bits = 8\nweight_bits = 8\nacc_bits = 32\n";

#[test]
fn sim_gemm_good_run_writes_c_and_stats() {
    let t = Tmp::new("good");
    let cfg = write_cfg(&t, ARRAY_4X4);
    let mut rng = SplitMix64::new(3);
    let a = random(&mut rng, 9, 13, 8);
    let b = random(&mut rng, 13, 6, 8);
    save(&t.path("a.npy"), Dtype::I8, &a);
    save(&t.path("b.npy"), Dtype::I16, &b);
    let o = accgen(&[
        "sim",
        "gemm",
        "--config",
        &cfg,
        "--a",
        &t.s("a.npy"),
        "--b",
        &t.s("b.npy"),
        "--out",
        &t.s("c.npy"),
        "--json",
        &t.s("stats.json"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c = npy::read(&t.path("c.npy")).unwrap();
    assert_eq!(c.dtype, Dtype::I32);
    assert_eq!(c.shape, vec![9, 6]);
    let fmt = ArrayConfig {
        rows: 4,
        cols: 4,
        ..ArrayConfig::default()
    }
    .format();
    assert_eq!(c.data, gemm(&a, &b, fmt).data);
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["bit_exact"], true);
    assert_eq!(stats["macs"], 9 * 13 * 6);
    let cycles = stats["cycles"].as_u64().unwrap();
    let util = stats["utilization"].as_f64().unwrap();
    assert!((util - (9.0 * 13.0 * 6.0) / (cycles as f64 * 16.0)).abs() < 1e-9);
    assert!(stats["sim_cycles_per_s"].as_f64().unwrap() > 0.0);
}

fn assert_fails_cleanly(t: &Tmp, args: &[&str], needle: &str) {
    let o = accgen(args);
    assert!(!o.status.success(), "expected failure for {args:?}");
    let e = stderr(&o);
    assert!(e.contains(needle), "stderr lacks {needle:?}:\n{e}");
    assert!(
        !t.path("c.npy").exists(),
        "no output may be written on error"
    );
}

#[test]
fn sim_gemm_bad_inputs_fail_with_clear_errors_and_no_output() {
    let t = Tmp::new("bad");
    let cfg = write_cfg(&t, &ARRAY_4X4.replace("act_bits = 8", "act_bits = 4"));
    let good_a = Matrix::from_vec(3, 5, vec![1; 15]);
    save(&t.path("a.npy"), Dtype::I8, &good_a);
    save(&t.path("b7.npy"), Dtype::I8, &Matrix::zeros(7, 2));
    save(&t.path("b5.npy"), Dtype::I8, &Matrix::zeros(5, 2));
    save(&t.path("bu8.npy"), Dtype::U8, &Matrix::zeros(5, 2));
    let mut wide = good_a.clone();
    *wide.at_mut(2, 4) = 9;
    save(&t.path("a_range.npy"), Dtype::I8, &wide);
    let run = |a: &str, b: &str| {
        vec![
            "sim".to_string(),
            "gemm".into(),
            "--config".into(),
            cfg.clone(),
            "--a".into(),
            t.s(a),
            "--b".into(),
            t.s(b),
            "--out".into(),
            t.s("c.npy"),
        ]
    };
    let args = run("a.npy", "b7.npy");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_fails_cleanly(&t, &args, "A has shape [3, 5] but B has 7 rows");
    let args = run("a.npy", "bu8.npy");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_fails_cleanly(&t, &args, "has dtype uint8; expected int8 or int16");
    let args = run("a_range.npy", "b5.npy");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_fails_cleanly(
        &t,
        &args,
        "A[2, 4] = 9 is outside the signed 4-bit range -8..=7 (act_bits = 4)",
    );
    let args = run("missing.npy", "b5.npy");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_fails_cleanly(&t, &args, "cannot open");
}

#[test]
fn bad_config_names_field_and_range() {
    let t = Tmp::new("cfg");
    let cfg = write_cfg(&t, "[array]\nrows = 200\n");
    let o = accgen(&["generate", "--config", &cfg, "--out", &t.s("gen")]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("config field `array.rows` = 200 is outside the allowed range 1..=128"),
        "{}",
        stderr(&o)
    );
    assert!(!t.path("gen").exists());
    let cfg = write_cfg(&t, "[array]\nrowz = 2\n");
    let o = accgen(&["generate", "--config", &cfg, "--out", &t.s("gen")]);
    assert!(
        stderr(&o).contains("unknown field `rowz`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn generate_writes_manifest_filelist_and_is_deterministic() {
    let t = Tmp::new("gen");
    let cfg = write_cfg(&t, &format!("{ARRAY_4X4}\n[mac]\n"));
    let o = accgen(&["generate", "--config", &cfg, "--out", &t.s("g1")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = accgen(&["generate", "--config", &cfg, "--out", &t.s("g2")]);
    assert!(o.status.success());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("g1/manifest.json")).unwrap())
            .unwrap();
    let tops: Vec<&str> = manifest["tops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        tops,
        ["accgen_array_r4_c4_a8_w8_acc32", "accgen_mac_a8_b8_acc32"]
    );
    assert_eq!(manifest["config_hash"].as_str().unwrap().len(), 32);
    let ports = &manifest["ports"][0]["ports"];
    assert!(ports
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "m_axis_tdata" && p["width"] == 4 * 32));
    // The array's interfaces: clock, reset, AXI4-Stream slave and master, each
    // naming its ports.
    let ifs = manifest["ports"][0]["interfaces"].as_array().unwrap();
    let kind = |name: &str| {
        ifs.iter()
            .find(|i| i["name"] == name)
            .map(|i| i["kind"].as_str().unwrap().to_string())
    };
    assert_eq!(kind("s_axis").as_deref(), Some("axis_slave"));
    assert_eq!(kind("m_axis").as_deref(), Some("axis_master"));
    let s_axis = ifs.iter().find(|i| i["name"] == "s_axis").unwrap();
    assert!(s_axis["ports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p[0] == "tready" && p[1] == "s_axis_tready"));
    let list = std::fs::read_to_string(t.path("g1/filelist.f")).unwrap();
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(files.contains(&"filelist.f"));
    for f in manifest["verilog"].as_array().unwrap() {
        let f = f.as_str().unwrap();
        assert!(list.lines().any(|l| l == f));
        assert!(files.contains(&f));
        assert_eq!(
            std::fs::read(t.path("g1").join(f)).unwrap(),
            std::fs::read(t.path("g2").join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
    // Regenerating over an accgen output is allowed; over a foreign directory it is not.
    assert!(accgen(&["generate", "--config", &cfg, "--out", &t.s("g1")])
        .status
        .success());
    std::fs::create_dir_all(t.path("foreign")).unwrap();
    std::fs::write(t.path("foreign/keep.txt"), "x").unwrap();
    let o = accgen(&["generate", "--config", &cfg, "--out", &t.s("foreign")]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("refusing to write into it"),
        "{}",
        stderr(&o)
    );
    assert!(t.path("foreign/keep.txt").exists());
}

/// The data-loss report: a user directory whose only link to accgen is a file named
/// `manifest.json` must survive `generate`, `lint` and `demo` untouched.
#[test]
fn a_user_directory_with_a_manifest_json_is_never_touched() {
    let t = Tmp::new("userdir");
    let cfg = write_cfg(&t, "[mac]\n");
    let user = t.path("project");
    std::fs::create_dir_all(user.join("src")).unwrap();
    std::fs::write(user.join("src/main.c"), "int main;").unwrap();
    std::fs::write(user.join("README"), "mine").unwrap();
    std::fs::write(
        user.join("manifest.json"),
        r#"{"name": "my-app", "files": ["README"]}"#,
    )
    .unwrap();
    let snapshot = |d: &std::path::Path| {
        let mut v: Vec<(String, Vec<u8>)> = Vec::new();
        for e in ["src/main.c", "README", "manifest.json"] {
            v.push((e.into(), std::fs::read(d.join(e)).unwrap()));
        }
        let n = std::fs::read_dir(d).unwrap().count();
        (v, n)
    };
    let before = snapshot(&user);
    let u = user.display().to_string();
    for args in [
        vec!["generate", "--config", &cfg, "--out", &u],
        vec!["lint", "--config", &cfg, "--out", &u, "--no-synth"],
        vec!["demo", "--config", &cfg, "--out", &u, "--no-synth"],
    ] {
        let o = accgen(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("was not written by accgen"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert_eq!(snapshot(&user), before, "{args:?} touched the directory");
    }
}

#[test]
fn lint_command_passes_on_mac_config() {
    let t = Tmp::new("lint");
    let cfg = write_cfg(&t, "[mac]\n");
    let o = accgen(&["lint", "--config", &cfg]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("lint clean: 1 top module(s)"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("accgen_mac_a8_b8_acc32") && l.ends_with("clean")),
        "{out}"
    );
}

#[test]
fn cache_info_and_clean_remove_only_accgen_entries() {
    let t = Tmp::new("cache");
    let root = t.path("cache");
    let entry = root.join("0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(&entry).unwrap();
    std::fs::write(entry.join("libaccgen_model.so"), vec![0u8; 4096]).unwrap();
    std::fs::write(entry.join(accgen_sim::cache::MARKER), "x").unwrap();
    // Not ours: no marker, or not a hash name.
    std::fs::create_dir_all(root.join("fedcba9876543210fedcba9876543210")).unwrap();
    std::fs::write(root.join("README"), "user notes").unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_accgen"))
            .args(args)
            .env("ACCGEN_CACHE_DIR", &root)
            .output()
            .unwrap()
    };
    let o = run(&["cache", "info"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("models: 1 using"), "{out}");
    let o = run(&["cache", "clean"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("removed 1 cache entry"));
    assert!(!entry.exists());
    assert!(root.join("fedcba9876543210fedcba9876543210").exists());
    assert!(root.join("README").exists());
}

#[test]
fn a_bad_cache_cap_is_rejected_before_any_work() {
    let t = Tmp::new("cache-cap");
    for bad in ["abc", "0", "-5", "1.5", ""] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_accgen"))
            .args(["generate", "--config", "configs/default.toml", "--out"])
            .arg(t.path("out"))
            .env("ACCGEN_CACHE_MAX_MB", bad)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "ACCGEN_CACHE_MAX_MB={bad:?}");
        let e = stderr(&o);
        assert!(
            e.contains("ACCGEN_CACHE_MAX_MB") && e.contains("1 or more"),
            "{e}"
        );
        assert!(!t.path("out").exists(), "nothing may be written");
    }
}

/// `sim gemm` is hostile by default (gaps, backpressure, random initial state, as the
/// JSON records), stays bit-exact, and takes more cycles than the same run with the
/// traffic switched off.
#[test]
fn sim_gemm_is_hostile_by_default() {
    let t = Tmp::new("hostile");
    let cfg = write_cfg(&t, ARRAY_4X4);
    let mut rng = SplitMix64::new(5);
    let a = random(&mut rng, 12, 40, 8);
    let b = random(&mut rng, 40, 8, 8);
    save(&t.path("a.npy"), Dtype::I8, &a);
    save(&t.path("b.npy"), Dtype::I8, &b);
    let (a_path, b_path) = (t.s("a.npy"), t.s("b.npy"));
    let stats = |name: &str, extra: &[&str]| {
        let json = t.s(name);
        let mut args = vec![
            "sim", "gemm", "--config", &cfg, "--a", &a_path, "--b", &b_path, "--json", &json,
        ];
        args.extend_from_slice(extra);
        let o = accgen(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(t.path(name)).unwrap()).unwrap();
        assert_eq!(s["bit_exact"], true);
        s
    };
    let hostile = stats("hostile.json", &[]);
    assert_eq!(hostile["traffic"]["input_gaps"], 0.1);
    assert_eq!(hostile["traffic"]["backpressure"], 0.1);
    assert_eq!(hostile["traffic"]["x_init_seed"], 1);
    let peak = stats(
        "peak.json",
        &[
            "--input-gaps",
            "0",
            "--backpressure",
            "0",
            "--x-init-seed",
            "0",
        ],
    );
    assert_eq!(peak["traffic"]["input_gaps"], 0.0);
    let (h, p) = (
        hostile["cycles"].as_u64().unwrap(),
        peak["cycles"].as_u64().unwrap(),
    );
    assert!(h > p, "hostile traffic must cost cycles: {h} vs {p}");
}
