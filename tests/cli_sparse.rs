//! End-to-end tests of `accgen prune` and `accgen sim sparse-gemm`: an N:M violation
//! without --prune is rejected with the first violating group and no output file; both
//! --prune and `accgen prune` give B matrices that pass `check`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use accgen_golden::gemm::{gemm, ArrayConfig, Matrix};
use accgen_golden::nm_sparse::{check, prune, SparsityConfig};
use accgen_golden::rng::SplitMix64;
use accgen_sim::npy::{self, Dtype, NpyArray};

fn accgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accgen"))
        .args(args)
        .output()
        .expect("run accgen")
}

struct Tmp(PathBuf);
impl Tmp {
    fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("accgen-clisp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    fn p(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn s(&self, name: &str) -> String {
        self.p(name).display().to_string()
    }
}
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn save(path: &Path, m: &Matrix) {
    npy::write(
        path,
        &NpyArray {
            dtype: Dtype::I8,
            shape: vec![m.rows, m.cols],
            data: m.data.clone(),
        },
    )
    .unwrap();
}

fn load(path: &Path) -> Matrix {
    let a = npy::read(path).unwrap();
    Matrix::from_vec(a.shape[0], a.shape[1], a.data)
}

const CFG: &str = "[array]\nrows = 2\ncols = 3\n\n[sparsity]\nn = 2\nm = 4\n";
const SP: SparsityConfig = SparsityConfig { n: 2, m: 4 };

fn setup(t: &Tmp) -> (String, Matrix, Matrix) {
    std::fs::write(t.p("cfg.toml"), CFG).unwrap();
    let mut rng = SplitMix64::new(21);
    let a = Matrix::from_vec(5, 18, (0..90).map(|_| rng.signed(8)).collect());
    // Dense B: violates 2:4 almost everywhere.
    let b = Matrix::from_vec(18, 7, (0..126).map(|_| rng.signed(8) | 1).collect());
    save(&t.p("a.npy"), &a);
    save(&t.p("b.npy"), &b);
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
    assert!(!t.p("c.npy").exists() && !t.p("s.json").exists());
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
    assert_eq!(load(&t.p("c.npy")).data, gemm(&a, &pruned, fmt).data);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.p("s.json")).unwrap()).unwrap();
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
    let bnm = load(&t.p("bnm.npy"));
    assert!(check(&bnm, SP).is_ok());
    assert_eq!(bnm, prune(&b, SP));
    let meta = npy::read(&t.p("meta.npy")).unwrap();
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
    std::fs::write(t.p("c.toml"), "[sparsity]\nn = 2\nm = 4\n").unwrap();
    let o = accgen(&["generate", "--config", &t.s("c.toml"), "--out", &t.s("g")]);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("config field `sparsity` needs an [array] section"));
    std::fs::write(t.p("c.toml"), "[array]\n[sparsity]\nn = 2\nm = 6\n").unwrap();
    let o = accgen(&["generate", "--config", &t.s("c.toml"), "--out", &t.s("g")]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("`sparsity.m` = 6 must be one of 2, 4, 8, 16")
    );
    assert!(!t.p("g").exists());
}
