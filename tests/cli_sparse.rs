//! End-to-end tests of `accgen prune` and `accgen sim sparse-gemm`: an N:M violation
//! without --prune is rejected with the first violating group and no output file; both
//! --prune and `accgen prune` give B matrices that pass `check`.

mod common;

use common::*;

use accgen_golden::gemm::{gemm, ArrayConfig, Matrix};
use accgen_golden::nm_sparse::{check, prune, SparsityConfig};
use accgen_golden::rng::SplitMix64;
use accgen_sim::npy::{self, Dtype};

const CFG: &str = "[array]\nrows = 2\ncols = 3\n\n[sparsity]\nn = 2\nm = 4\n";
const SP: SparsityConfig = SparsityConfig { n: 2, m: 4 };

fn setup(t: &Tmp) -> (String, Matrix, Matrix) {
    std::fs::write(t.path("cfg.toml"), CFG).unwrap();
    let mut rng = SplitMix64::new(21);
    let a = Matrix::from_vec(5, 18, (0..90).map(|_| rng.signed(8)).collect());
    // Dense B: violates 2:4 almost everywhere.
    let b = Matrix::from_vec(18, 7, (0..126).map(|_| rng.signed(8) | 1).collect());
    save(&t.path("a.npy"), Dtype::I8, &a);
    save(&t.path("b.npy"), Dtype::I8, &b);
    (t.s("cfg.toml"), a, b)
}

#[test]
fn violation_without_prune_is_rejected_with_no_output() {
    let t = Tmp::new("viol");
    let (cfg, _, b) = setup(&t);
    let v = check(&b, SP).unwrap_err();
    let o = accgen(&[
        "sim",
        "sparse-gemm",
        "--config",
        &cfg,
        "--a",
        &t.s("a.npy"),
        "--b",
        &t.s("b.npy"),
        "--out",
        &t.s("c.npy"),
        "--json",
        &t.s("s.json"),
    ]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    let want = format!(
        "B violates 2:4 sparsity: column {}, group {} has {} nonzeros",
        v.col, v.group, v.count
    );
    assert!(e.contains(&want), "{e}");
    assert!(e.contains("--prune"), "{e}");
    assert!(!t.path("c.npy").exists() && !t.path("s.json").exists());
}

#[test]
fn prune_flag_runs_bit_exact_and_reports_speedup() {
    let t = Tmp::new("flag");
    let (cfg, a, b) = setup(&t);
    let o = accgen(&[
        "sim",
        "sparse-gemm",
        "--config",
        &cfg,
        "--a",
        &t.s("a.npy"),
        "--b",
        &t.s("b.npy"),
        "--prune",
        "--out",
        &t.s("c.npy"),
        "--json",
        &t.s("s.json"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pruned = prune(&b, SP);
    assert!(check(&pruned, SP).is_ok());
    let fmt = ArrayConfig::default().format();
    assert_eq!(load(&t.path("c.npy")).data, gemm(&a, &pruned, fmt).data);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("s.json")).unwrap()).unwrap();
    assert_eq!(s["bit_exact"], true);
    assert_eq!(s["dense_bit_exact"], true);
    assert_eq!(s["dense_shape"], serde_json::json!([2, 6]));
    let speedup = s["speedup_vs_dense"].as_f64().unwrap();
    let ratio = s["dense_cycles"].as_f64().unwrap() / s["cycles"].as_f64().unwrap();
    assert!((speedup - ratio).abs() < 1e-12);
    assert!(speedup > 1.0, "sparse must beat dense here: {speedup}");
}

#[test]
fn prune_command_writes_checked_b_and_metadata() {
    let t = Tmp::new("cmd");
    let (cfg, _, b) = setup(&t);
    let o = accgen(&[
        "prune",
        "--config",
        &cfg,
        "--b",
        &t.s("b.npy"),
        "--out",
        &t.s("bnm.npy"),
        "--meta",
        &t.s("meta.npy"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bnm = load(&t.path("bnm.npy"));
    assert!(check(&bnm, SP).is_ok());
    assert_eq!(bnm, prune(&b, SP));
    let meta = npy::read(&t.path("meta.npy")).unwrap();
    assert_eq!(meta.dtype, Dtype::U8);
    assert_eq!(meta.shape, vec![5, 7], "ceil(18/4) groups x 7 columns");
    let valid = [0x4, 0x8, 0x9, 0xC, 0xD, 0xE];
    assert!(
        meta.data.iter().all(|v| valid.contains(v)),
        "{:?}",
        meta.data
    );
    // Decode group 0 of column 0 and compare with the pruned nonzeros.
    let nib = meta.data[0];
    let (i0, i1) = ((nib & 3) as usize, (nib >> 2) as usize);
    for r in 0..4 {
        if bnm.at(r, 0) != 0 {
            assert!(
                r == i0 || r == i1,
                "nonzero at row {r} not in metadata {nib:#x}"
            );
        }
    }
    // The pruned file passes sim sparse-gemm without --prune.
    let o = accgen(&[
        "sim",
        "sparse-gemm",
        "--config",
        &cfg,
        "--a",
        &t.s("a.npy"),
        "--b",
        &t.s("bnm.npy"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn sparsity_without_array_or_bad_pattern_is_a_config_error() {
    let t = Tmp::new("cfgerr");
    std::fs::write(t.path("c.toml"), "[sparsity]\nn = 2\nm = 4\n").unwrap();
    let o = accgen(&["generate", "--config", &t.s("c.toml"), "--out", &t.s("g")]);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("config field `sparsity` needs an [array] section"));
    std::fs::write(t.path("c.toml"), "[array]\n[sparsity]\nn = 2\nm = 6\n").unwrap();
    let o = accgen(&["generate", "--config", &t.s("c.toml"), "--out", &t.s("g")]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("`sparsity.m` = 6 must be one of 2, 4, 8, 16")
    );
    assert!(!t.path("g").exists());
}
