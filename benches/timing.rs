//! Post-route Fmax of every unit's lane or PE and of 4x4 dense and 2:4 arrays,
//! against the 250 MHz target of issue 8, with `accgen timing` (yowasp synth_ecp5 +
//! nextpnr-ecp5, ECP5-85 speed 8, out of context, generated with `--vendor ecp5`),
//! median of three placement seeds.
//!
//! Run: `cargo bench --bench timing` (about 10 minutes; needs `scripts/setup.sh`).
//! Prints a table; asserts nothing. The "issue 8" column is the figure the issue
//! reported for the design before this work, measured on the same flow.

use std::path::Path;
use std::process::Command;

const SEEDS: &str = "3";

/// (label, config text, module-name prefix, figure reported in issue 8 for the old
/// design, when there is one).
const BLOCKS: &[(&str, &str, &str, Option<f64>)] = &[
    (
        "requant lane, 32 -> 8 bits",
        NONLINEAR,
        "accgen_requant_lane_",
        None,
    ),
    (
        "requant top, 1 lane",
        NONLINEAR,
        "accgen_requant_l1_",
        Some(138.0),
    ),
    ("GELU lane, Q4.12", NONLINEAR, "accgen_gelu_lane_", None),
    ("GELU top, 1 lane", NONLINEAR, "accgen_gelu_l1_", Some(93.0)),
    (
        "softmax phase 1 (max, sum)",
        NONLINEAR,
        "accgen_softmax_p1_",
        None,
    ),
    (
        "softmax reciprocal",
        NONLINEAR,
        "accgen_softmax_norm_",
        None,
    ),
    (
        "softmax phase 2 (outputs)",
        NONLINEAR,
        "accgen_softmax_p2_",
        None,
    ),
    (
        "softmax top, 1 lane, max_len 256",
        NONLINEAR,
        "accgen_softmax_l1_",
        Some(66.0),
    ),
    ("dense PE", DENSE, "accgen_pe_a8_w8_acc32", Some(267.0)),
    ("4x4 dense array top", DENSE, "accgen_array_", Some(115.0)),
    (
        "2:4 sparse PE",
        SPARSE,
        "accgen_pe_nm2of4_a8_w8_acc32",
        Some(270.0),
    ),
    (
        "4x4 2:4 sparse array top",
        SPARSE,
        "accgen_array_",
        Some(73.0),
    ),
];

const NONLINEAR: &str = "
[requant]
lanes = 1
in_bits = 32
out_bits = 8
shift = 12
[gelu]
lanes = 1
in_bits = 16
in_frac = 12
out_bits = 16
out_frac = 12
[softmax]
lanes = 1
max_len = 256
in_bits = 16
in_frac = 10
out_bits = 16
";

const DENSE: &str = "
[array]
rows = 4
cols = 4
";

const SPARSE: &str = "
[array]
rows = 4
cols = 4
[sparsity]
n = 2
m = 4
";

fn accgen(args: &[&str]) -> std::process::Output {
    let o = Command::new(env!("CARGO_BIN_EXE_accgen"))
        .args(args)
        .output()
        .expect("run accgen");
    if !o.status.success() {
        panic!(
            "accgen {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    o
}

/// Module names of `config`'s design (generated with --vendor ecp5).
fn modules(config: &Path, dir: &Path) -> Vec<String> {
    let out = dir.join("gen");
    let _ = std::fs::remove_dir_all(&out);
    accgen(&[
        "generate",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--vendor",
        "ecp5",
    ]);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    m["verilog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().trim_end_matches(".v").to_string())
        .collect()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!(
        "Post-route Fmax, ECP5-85 speed 8 (nextpnr-ecp5, out of context, 300 MHz constraint),"
    );
    println!("--vendor ecp5, median of {SEEDS} placement seeds; target 250 MHz.");
    println!();
    println!(
        "| {:<34} | {:>8} | {:>9} | {:>9} | {:>8} | {:>5} | {:>5} | {:>6} | {:>6} | {:>6} |",
        "block",
        "issue 8",
        "Fmax MHz",
        "seeds",
        "vs old",
        "LUT4",
        "FF",
        "MULT18",
        "DP16KD",
        "target"
    );
    println!("|{}|", ["---"; 10].join("|"));
    for (i, (label, cfg, prefix, old)) in BLOCKS.iter().enumerate() {
        let config = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&config, cfg).unwrap();
        let names = modules(&config, dir.path());
        let module = names
            .iter()
            .find(|n| n.starts_with(prefix) && !n.contains("_clr"))
            .unwrap_or_else(|| panic!("no module {prefix}* in {names:?}"));
        let json = dir.path().join(format!("t{i}.json"));
        accgen(&[
            "timing",
            "--config",
            config.to_str().unwrap(),
            "--top",
            module,
            "--seeds",
            SEEDS,
            "--no-depth",
            "--json",
            json.to_str().unwrap(),
        ]);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let r = &v["results"][0];
        let f = r["fmax_mhz"].as_f64().unwrap();
        let runs: Vec<f64> = r["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["fmax_mhz"].as_f64().unwrap())
            .collect();
        let lo = runs.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = runs.iter().cloned().fold(0.0, f64::max);
        let run0 = &r["runs"][0];
        println!(
            "| {:<34} | {:>8} | {:>9.1} | {:>9} | {:>8} | {:>5} | {:>5} | {:>6} | {:>6} | {:>6} |",
            label,
            old.map_or("-".to_string(), |o| format!("{o:.0}")),
            f,
            format!("{lo:.0}-{hi:.0}"),
            old.map_or("-".to_string(), |o| format!("{:.2}x", f / o)),
            run0["comb"],
            run0["ff"],
            run0["mult18"],
            run0["dp16kd"],
            if f >= 250.0 { "met" } else { "MISSED" }
        );
    }
}
