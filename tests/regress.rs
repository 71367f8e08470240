//! `accgen regress`: a suite of unit and model cases is recorded from golden, runs on
//! the RTL (two at a time), shards and merges back to the same JUnit cases, and fails
//! with the case named when a model is deliberately broken (`inject_fault`) or a
//! recorded output is wrong; `--failed-from` reruns only the failures.

mod common;

use std::path::Path;

use accgen_golden::rng::SplitMix64;
use accgen_sim::npy::{self, Dtype, NpyArray};
use common::*;

fn write(dir: &Path, name: &str, dtype: Dtype, shape: Vec<usize>, data: Vec<i64>) {
    npy::write(&dir.join(name), &NpyArray { dtype, shape, data }).unwrap();
}

/// The suite: gelu twice (one model), requant, residual, gemm, and a model.
fn suite(dir: &Path, extra: &str) {
    let inp = dir.join("inputs");
    std::fs::create_dir_all(&inp).unwrap();
    let mut rng = SplitMix64::new(41);
    let mut r8 = |n: usize| (0..n).map(|_| rng.range_i64(-128, 127)).collect::<Vec<_>>();
    write(&inp, "g1.npy", Dtype::I8, vec![4, 16], r8(64));
    write(&inp, "g2.npy", Dtype::I8, vec![2, 32], r8(64));
    write(&inp, "ra.npy", Dtype::I8, vec![4, 16], r8(64));
    write(&inp, "rb.npy", Dtype::I8, vec![4, 16], r8(64));
    write(&inp, "ga.npy", Dtype::I8, vec![20, 24], r8(480));
    write(&inp, "gb.npy", Dtype::I8, vec![24, 18], r8(432));
    let mut rng = SplitMix64::new(42);
    let q: Vec<i64> = (0..48).map(|_| rng.range_i64(-40000, 40000)).collect();
    write(&inp, "q.npy", Dtype::I32, vec![3, 16], q);
    let root = std::env::current_dir().unwrap();
    let cfg = root.join("configs/block_example.toml");
    let cfg = cfg.display();
    let model = root.join("models/block_example");
    let text = format!(
        r#"[suite]
name = "smoke"

[[case]]
name = "gelu-a"
config = "{cfg}"
unit = "gelu"
inputs = {{ x = "inputs/g1.npy" }}

[[case]]
name = "gelu-b"
config = "{cfg}"
unit = "gelu"
inputs = {{ x = "inputs/g2.npy" }}
seed = 9

[[case]]
name = "requant"
config = "{cfg}"
unit = "requant"
inputs = {{ x = "inputs/q.npy" }}

[[case]]
name = "residual"
config = "{cfg}"
unit = "residual"
inputs = {{ a = "inputs/ra.npy", b = "inputs/rb.npy" }}

[[case]]
name = "gemm"
config = "{cfg}"
unit = "gemm"
inputs = {{ a = "inputs/ga.npy", b = "inputs/gb.npy" }}

[[case]]
name = "block"
config = "{cfg}"
unit = "model"
model = "{model}"
inputs = {{ x = "{model}/x.npy" }}
{extra}"#,
        model = model.display()
    );
    std::fs::write(dir.join("suite.toml"), text).unwrap();
}

#[test]
fn record_run_shard_and_merge_round_trip() {
    let t = Tmp::new("regress");
    let s = t.path("suite");
    suite(&s, "");
    let o = accgen(&["regress", "record", &t.s("suite")]);
    assert!(o.status.success(), "{}", stderr(&o));
    for c in ["gelu-a", "gelu-b", "requant", "residual", "gemm", "block"] {
        assert!(s.join(format!("expected/{c}.npy")).exists(), "{c}");
    }
    // The recorded GEMM is the product computed here.
    let a = npy::read(&s.join("inputs/ga.npy")).unwrap();
    let b = npy::read(&s.join("inputs/gb.npy")).unwrap();
    let c = npy::read(&s.join("expected/gemm.npy")).unwrap();
    for i in 0..20 {
        for j in 0..18 {
            let v: i64 = (0..24)
                .map(|k| a.data[i * 24 + k] * b.data[k * 18 + j])
                .sum();
            assert_eq!(c.data[i * 18 + j], v);
        }
    }
    let all = t.path("all.xml");
    let js = t.path("all.json");
    let o = accgen(&[
        "regress",
        "run",
        &t.s("suite"),
        "--jobs",
        "2",
        "--junit",
        all.to_str().unwrap(),
        "--json",
        js.to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("6 passed, 0 failed of 6"));
    let whole = junit_cases(&all);
    assert_eq!(whole.len(), 6);
    assert!(whole.values().all(|&passed| passed));
    // Two shards, merged: the same cases and outcomes.
    let mut parts = Vec::new();
    for k in 1..=2 {
        let p = t.path(&format!("part{k}.xml"));
        let o = accgen(&[
            "regress",
            "run",
            &t.s("suite"),
            "--shard",
            &format!("{k}/2"),
            "--junit",
            p.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(junit_cases(&p).len(), 3);
        parts.push(p.to_str().unwrap().to_string());
    }
    let merged = t.path("merged.xml");
    let mut args = vec!["regress", "merge"];
    args.extend(parts.iter().map(String::as_str));
    args.extend(["--junit", merged.to_str().unwrap()]);
    let o = accgen(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(junit_cases(&merged), whole);
    // A part merged twice is refused.
    let o = accgen(&[
        "regress",
        "merge",
        &parts[0],
        &parts[0],
        "--junit",
        &t.s("twice.xml"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is in two parts"));
}

#[test]
fn broken_models_and_wrong_records_fail_with_the_case_named() {
    let t = Tmp::new("regress-broken");
    let s = t.path("suite");
    let cfg = std::env::current_dir()
        .unwrap()
        .join("configs/block_example.toml");
    suite(
        &s,
        &format!(
            "\n[[case]]\nname = \"gelu-broken\"\nconfig = \"{}\"\nunit = \"gelu\"\ninputs = {{ x = \"inputs/g1.npy\" }}\ninject_fault = \"flip:1\"\n",
            cfg.display()
        ),
    );
    let o = accgen(&["regress", "record", &t.s("suite")]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A wrong recorded value.
    let p = s.join("expected/residual.npy");
    let mut r = npy::read(&p).unwrap();
    r.data[7] += 1;
    npy::write(&p, &r).unwrap();
    let js = t.path("r.json");
    let xml = t.path("r.xml");
    let o = accgen(&[
        "regress",
        "run",
        &t.s("suite"),
        "--json",
        js.to_str().unwrap(),
        "--junit",
        xml.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("FAIL gelu-broken: the co-simulation failed"),
        "{out}"
    );
    assert!(
        out.contains("FAIL residual: output element 7 is") && out.contains("the recorded output"),
        "{out}"
    );
    assert!(stderr(&o).contains("2 of 7 cases failed: gelu-broken, residual"));
    let junit = junit_cases(&xml);
    assert!(!junit["gelu-broken"] && !junit["residual"] && junit["gemm"]);
    // Only the failures again.
    let o = accgen(&[
        "regress",
        "run",
        &t.s("suite"),
        "--failed-from",
        js.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 passed, 2 failed of 2"));
    // Bad suites name the case and the field.
    std::fs::write(
        s.join("suite.toml"),
        "[suite]\nname = \"x\"\n[[case]]\nname = \"c\"\nconfig = \"a.toml\"\nunit = \"conv\"\n",
    )
    .unwrap();
    let o = accgen(&["regress", "run", &t.s("suite")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("case `c`: unit = `conv` is not supported"));
}

/// Run an exported testbench's `run_icarus.sh`.
fn icarus(tb: &Path) -> std::process::Output {
    std::process::Command::new("sh")
        .arg(tb.join("run_icarus.sh"))
        .output()
        .unwrap()
}

/// `regress run SUITE --cross-sim icarus --jobs 2` passes: every case on Verilator,
/// and every exportable case's testbench under Icarus and Verilator, equal cycles.
fn cross_sim_passes(suite: &str) {
    let o = accgen(&[
        "regress",
        "run",
        suite,
        "--cross-sim",
        "icarus",
        "--jobs",
        "2",
    ]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
}

#[test]
fn exported_testbenches_check_themselves_under_icarus_and_verilator() {
    let t = Tmp::new("regress-tb");
    let s = t.path("suite");
    suite(&s, "");
    let o = accgen(&["regress", "record", &t.s("suite")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let tb = t.path("tb");
    let case = format!("{}/gelu-b", s.display());
    let o = accgen(&[
        "export-tb",
        "--case",
        &case,
        "--out",
        tb.to_str().unwrap(),
        "--seed",
        "5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "tb.v",
        "input.hex",
        "expected.hex",
        "rtl/filelist.f",
        "run_icarus.sh",
        "run_verilator.sh",
        "run_xsim.sh",
    ] {
        assert!(tb.join(f).exists(), "{f}");
    }
    let run = || icarus(&tb);
    let o = run();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("PASS: 4 beats in "),
        "{out}"
    );
    // One corrupted expected beat: the testbench names it and fails.
    let exp = tb.join("expected.hex");
    let text = std::fs::read_to_string(&exp).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // (The first digit is tlast; the second is data.)
    let flipped = if lines[2][1..].starts_with('0') {
        "1"
    } else {
        "0"
    };
    lines[2].replace_range(1..2, flipped);
    std::fs::write(&exp, lines.join("\n") + "\n").unwrap();
    let o = run();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("MISMATCH beat 2 at cycle") && out.contains("FAIL: 1 mismatches"),
        "{out}"
    );
    // The array: 20x24x18 on the 16x16 array, 2 x 2 tiles of 24 beats in, 16 rows out.
    let tb2 = t.path("tb2");
    let o = accgen(&[
        "export-tb",
        "--case",
        &format!("{}/gemm", s.display()),
        "--out",
        tb2.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = icarus(&tb2);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("PASS: 96 beats in "),
        "{out}"
    );
    // Units without an export say so.
    let o = accgen(&[
        "export-tb",
        "--case",
        &format!("{}/block", s.display()),
        "--out",
        &t.s("tb3"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("has no testbench export yet"),
        "{}",
        stderr(&o)
    );
    // (Cross-simulation runs in the next test, on smaller designs.)
}

/// Row units: softmax over 3 lanes and LayerNorm (with its parameter stream) over 2
/// lanes of 13-bit inputs, with rows that leave the last lockstep group padded; a
/// 1:4 sparse GEMM with K and the tiles not multiples of M and the array; and GELU
/// over 3 lanes. All four cross-simulate (Icarus and Verilator, equal cycles).
#[test]
fn row_unit_and_sparse_testbenches_pass_under_icarus_and_verilator_and_catch_corruption() {
    let t = Tmp::new("regress-tb-rows");
    let s = t.path("suite");
    let inp = s.join("inputs");
    std::fs::create_dir_all(&inp).unwrap();
    std::fs::write(
        s.join("rows.toml"),
        "[softmax]\nlanes = 3\nmax_len = 16\nin_bits = 12\nin_frac = 6\nout_bits = 10\n\n\
         [gelu]\nlanes = 3\nin_bits = 12\nin_frac = 6\nout_bits = 10\nout_frac = 6\n\n\
         [layernorm]\nlanes = 2\nmax_len = 16\nin_bits = 13\nin_frac = 4\ngamma_bits = 13\n\
         gamma_frac = 10\nbeta_bits = 14\nout_bits = 12\nout_frac = 6\n\n\
         [array]\nrows = 2\ncols = 3\nacc_bits = 20\n\n[sparsity]\nn = 1\nm = 4\n",
    )
    .unwrap();
    let mut rng = SplitMix64::new(77);
    let mut r = |n: usize, bits: u32| (0..n).map(|_| rng.signed(bits)).collect::<Vec<_>>();
    write(&inp, "sx.npy", Dtype::I16, vec![5, 7], r(35, 12));
    write(&inp, "lx.npy", Dtype::I16, vec![3, 9], r(27, 13));
    write(&inp, "g.npy", Dtype::I16, vec![9], r(9, 13));
    // (beta within 10 of its 14 bits, so that the outputs rarely saturate.)
    write(&inp, "b.npy", Dtype::I16, vec![9], r(9, 10));
    // A 5x10 by an N:M (1:4) 10x5 B: one nonzero per group of 4 rows and column.
    write(&inp, "ga.npy", Dtype::I8, vec![5, 10], r(50, 8));
    let mut b = vec![0i64; 50];
    for col in 0..5 {
        for g in 0..3 {
            let row = (4 * g + (col + g) % 4).min(9);
            b[row * 5 + col] = r(1, 8)[0];
        }
    }
    write(&inp, "gb.npy", Dtype::I8, vec![10, 5], b);
    std::fs::write(
        s.join("suite.toml"),
        "[suite]\nname = \"rows\"\n\n\
         [[case]]\nname = \"sm\"\nconfig = \"rows.toml\"\nunit = \"softmax\"\ninputs = { x = \"inputs/sx.npy\" }\nseed = 3\n\n\
         [[case]]\nname = \"ln\"\nconfig = \"rows.toml\"\nunit = \"layernorm\"\n\
         inputs = { x = \"inputs/lx.npy\", gamma = \"inputs/g.npy\", beta = \"inputs/b.npy\" }\nseed = 4\n\n\
         [[case]]\nname = \"sp\"\nconfig = \"rows.toml\"\nunit = \"sparse-gemm\"\n\
         inputs = { a = \"inputs/ga.npy\", b = \"inputs/gb.npy\" }\nseed = 5\n\n\
         [[case]]\nname = \"ge\"\nconfig = \"rows.toml\"\nunit = \"gelu\"\n\
         inputs = { x = \"inputs/sx.npy\" }\nseed = 6\n",
    )
    .unwrap();
    let o = accgen(&["regress", "record", &t.s("suite")]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Both export and pass under Icarus and Verilator with equal cycles, besides the
    // Verilator co-simulation.
    cross_sim_passes(&t.s("suite"));
    // (The sparse GEMM: 3 x 2 tiles of ceil(10/4) = 3 groups in, 2 rows out each.)
    for (case, beats, extra) in [
        ("sm", 14, None),
        ("ln", 18, Some("params.hex")),
        ("sp", 18, None),
    ] {
        let tb = t.path(&format!("tb-{case}"));
        let o = accgen(&[
            "export-tb",
            "--case",
            &format!("{}/{case}", s.display()),
            "--out",
            tb.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let run = || icarus(&tb);
        let o = run();
        let out = String::from_utf8_lossy(&o.stdout);
        // 5 softmax rows of 7 in groups of 3: 2 groups x 7 beats; 3 LayerNorm rows of
        // 9 in groups of 2: 2 x 9.
        assert!(
            o.status.success() && out.contains(&format!("PASS: {beats} beats in ")),
            "{case}: {out}"
        );
        // Corrupt the parameters (LayerNorm: gamma bit 10 of channel 2, a change of
        // 1.0) or one expected beat (softmax: bit 2 of lane 0): FAIL.
        let (file, row, at) = match (extra, case) {
            (Some(f), _) => (f, 2, 6),
            (None, "sp") => ("expected.hex", 3, 0),
            (None, _) => ("expected.hex", 9, 0),
        };
        let p = tb.join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let at = if at == 0 { lines[row].len() - 1 } else { at };
        let d = u8::from_str_radix(&lines[row][at..at + 1], 16).unwrap() ^ 0x4;
        lines[row].replace_range(at..at + 1, &format!("{d:x}"));
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        let o = run();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!o.status.success(), "{case}: {out}");
        assert!(
            out.contains("MISMATCH beat") && out.contains("FAIL: "),
            "{case}: {out}"
        );
    }
}
