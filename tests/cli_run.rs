//! `accgen run --golden-only` end to end: a generated GEMM program's C equals the
//! composition of the unit models computed here; a hand-written program moves
//! tensors placed with --load to where --dump reads them; and bad specs, overlaps and
//! a program that stops with an error exit 1 without writing outputs.

mod common;

use accgen_golden::config::Config;
use accgen_golden::gemm::{gemm, Matrix};
use accgen_golden::rng::SplitMix64;
use accgen_sim::npy::{self, Dtype, NpyArray};
use common::*;

#[test]
fn gemm_program_c_equals_gemm_then_requant_then_gelu() {
    let t = Tmp::new("run-gemm");
    let cfg = Config::load(std::path::Path::new("configs/default.toml")).unwrap();
    let mut rng = SplitMix64::new(21);
    let (m, k, n) = (37usize, 70usize, 21usize);
    let a = Matrix::from_vec(m, k, (0..m * k).map(|_| rng.signed(8)).collect());
    let b = Matrix::from_vec(k, n, (0..k * n).map(|_| rng.signed(8)).collect());
    save(&t.path("a.npy"), Dtype::I8, &a);
    save(&t.path("b.npy"), Dtype::I8, &b);
    let o = accgen(&[
        "run",
        "--config",
        "configs/default.toml",
        "--gemm",
        "37,70,21",
        "--epilogue",
        "requant+gelu",
        "--a",
        &t.s("a.npy"),
        "--b",
        &t.s("b.npy"),
        "--out",
        &t.s("c.npy"),
        "--json",
        &t.s("s.json"),
        "--golden-only",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c = npy::read(&t.path("c.npy")).unwrap();
    assert_eq!((c.dtype, c.shape.clone()), (Dtype::I8, vec![m, n]));
    let rq = cfg.requant.as_ref().unwrap();
    let gu = accgen_golden::gelu::GeluUnit::new(cfg.gelu.as_ref().unwrap());
    let prod = gemm(&a, &b, cfg.array.as_ref().unwrap().format());
    for i in 0..m {
        for j in 0..n {
            let y = accgen_golden::requant::requant(rq, j % rq.lanes as usize, prod.at(i, j));
            assert_eq!(c.data[i * n + j], gu.eval(y), "C[{i}][{j}]");
        }
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("s.json")).unwrap()).unwrap();
    assert_eq!(s["error_code"], 0);
    assert_eq!(s["matches_unit_composition"], true);
    assert_eq!(s["macs"], 37 * 32 * 70, "valid rows x padded columns x K");
}

#[test]
fn loads_and_dumps_around_a_hand_written_program() {
    let t = Tmp::new("run-prog");
    // Copy a 3x5 int16 tensor through the scratchpad, rows 10 bytes apart -> 16 apart.
    std::fs::write(
        t.path("p.s"),
        "load dram=0x100 rows=3 bytes=10 stride=10 spad=0 push_next\n\
         nop.compute pop_prev push_next\n\
         store dram=0x200 rows=3 bytes=10 stride=16 spad=0 pop_prev\n\
         halt\n",
    )
    .unwrap();
    let x: Vec<i64> = (0..15).map(|i| i * 1000 - 7000).collect();
    npy::write(
        &t.path("x.npy"),
        &NpyArray {
            dtype: Dtype::I16,
            shape: vec![3, 5],
            data: x.clone(),
        },
    )
    .unwrap();
    let o = accgen(&[
        "run",
        "--config",
        "configs/default.toml",
        "--program",
        &t.s("p.s"),
        "--load",
        &format!("X={}@0x100", t.s("x.npy")),
        "--dump",
        &format!("Y@0x200:3x8:int16={}", t.s("y.npy")),
        "--golden-only",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let y = npy::read(&t.path("y.npy")).unwrap();
    for r in 0..3 {
        assert_eq!(&y.data[r * 8..r * 8 + 5], &x[r * 5..r * 5 + 5]);
        assert_eq!(
            &y.data[r * 8 + 5..r * 8 + 8],
            &[0, 0, 0],
            "untouched bytes stay 0"
        );
    }
    // The same program assembled to a binary runs the same.
    let o = accgen(&["asm", &t.s("p.s"), "-o", &t.s("p.bin")]);
    assert!(o.status.success());
    let o = accgen(&[
        "run",
        "--config",
        "configs/default.toml",
        "--program",
        &t.s("p.bin"),
        "--load",
        &format!("X={}@0x100", t.s("x.npy")),
        "--dump",
        &format!("Y@0x200:3x8:int16={}", t.s("y2.npy")),
        "--golden-only",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(npy::read(&t.path("y2.npy")).unwrap(), y);
}

#[test]
fn bad_runs_exit_1_and_write_no_outputs() {
    let t = Tmp::new("run-bad");
    std::fs::write(t.path("ok.s"), "halt\n").unwrap();
    std::fs::write(t.path("stuck.s"), "nop.compute pop_prev\nhalt\n").unwrap();
    npy::write(
        &t.path("x.npy"),
        &NpyArray {
            dtype: Dtype::I8,
            shape: vec![64],
            data: vec![1; 64],
        },
    )
    .unwrap();
    let x = t.s("x.npy");
    let y = format!("Y@0:4:int8={}", t.s("y.npy"));
    // Every case runs on configs/default.toml unless it names its own config.
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--gemm".into(),
                "4,4,4".into(),
                "--load".into(),
                format!("A={x}@0"),
            ],
            "--gemm places its own tensors",
        ),
        (
            vec![
                "--program".into(),
                t.s("ok.s"),
                "--load".into(),
                format!("A={x}@0"),
                "--load".into(),
                format!("B={x}@0x20"),
                "--golden-only".into(),
            ],
            "--load B (0x20..0x60) overlaps --load A (0x0..0x40)",
        ),
        (
            vec![
                "--program".into(),
                t.s("ok.s"),
                "--load".into(),
                "A=x.npy".into(),
                "--golden-only".into(),
            ],
            "--load `A=x.npy` has no `@ADDR`",
        ),
        (
            vec![
                "--program".into(),
                t.s("ok.s"),
                "--dump".into(),
                "Y@0:4:float=y.npy".into(),
                "--golden-only".into(),
            ],
            "dtype `float` is not one of",
        ),
        (
            vec![
                "--program".into(),
                t.s("stuck.s"),
                "--dump".into(),
                y.clone(),
                "--json".into(),
                t.s("s.json"),
                "--golden-only".into(),
            ],
            "error Watchdog (4) at instruction 0",
        ),
        (
            vec!["--gemm".into(), "4,0,4".into(), "--golden-only".into()],
            "must be M,K,N with each in 1..=1048576",
        ),
        (
            vec![
                "--gemm".into(),
                "4,4,4".into(),
                "--config".into(),
                "configs/nonlinear.toml".into(),
                "--golden-only".into(),
            ],
            "config configs/nonlinear.toml: config field `accel` is missing",
        ),
        (
            vec!["--golden-only".into()],
            "give exactly one of --program PROG, --gemm M,K,N and --model DIR",
        ),
        (
            vec![
                "--program".into(),
                t.s("ok.s"),
                "--golden-only".into(),
                "--vcd".into(),
                t.s("w.vcd"),
            ],
            "--vcd records the RTL run; it cannot go with --golden-only",
        ),
    ];
    for (extra, needle) in &cases {
        let mut args: Vec<&str> = vec!["run"];
        if !extra.iter().any(|a| a == "--config") {
            args.extend(["--config", "configs/default.toml"]);
        }
        args.extend(extra.iter().map(String::as_str));
        let o = accgen(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}\n{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(needle),
            "{args:?}: stderr lacks {needle:?}:\n{e}"
        );
        assert!(!t.path("y.npy").exists(), "{args:?} wrote a dump");
    }
    // The failed run still wrote its statistics, with the error code.
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("s.json")).unwrap()).unwrap();
    assert_eq!(s["error_code"], 4);
}

#[test]
fn rtl_run_matches_golden_and_refuses_uninit_reads() {
    let t = Tmp::new("run-rtl");
    std::fs::write(
        t.path("c.toml"),
        "[array]\n[accel]\nspad_kib = 16\nacc_kib = 8\naxi_addr_bits = 32\n",
    )
    .unwrap();
    std::fs::write(
        t.path("p.s"),
        "load dram=0x100 rows=3 bytes=10 stride=10 spad=0 push_next\n\
         nop.compute pop_prev push_next\n\
         store dram=0x200 rows=3 bytes=10 stride=16 spad=0 pop_prev\n\
         halt\n",
    )
    .unwrap();
    let x: Vec<i64> = (0..15).map(|i| i * 1000 - 7000).collect();
    npy::write(
        &t.path("x.npy"),
        &NpyArray {
            dtype: Dtype::I16,
            shape: vec![3, 5],
            data: x.clone(),
        },
    )
    .unwrap();
    let o = accgen(&[
        "run",
        "--config",
        &t.s("c.toml"),
        "--program",
        &t.s("p.s"),
        "--load",
        &format!("X={}@0x100", t.s("x.npy")),
        "--dump",
        &format!("Y@0x200:3x8:int16={}", t.s("y.npy")),
        "--json",
        &t.s("s.json"),
        "--mem-latency",
        "37",
        "--stall",
        "0.3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let y = npy::read(&t.path("y.npy")).unwrap();
    for r in 0..3 {
        assert_eq!(&y.data[r * 8..r * 8 + 5], &x[r * 5..r * 5 + 5]);
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("s.json")).unwrap()).unwrap();
    assert_eq!(s["bit_exact"], true);
    assert_eq!(s["error_code"], 0);
    assert_eq!(s["rtl_dram_bytes_written"], 30);
    assert!(
        s["cycles"].as_u64().unwrap() > 37,
        "the memory latency shows"
    );
    // Reading rows nothing wrote: the RTL result would depend on power-on contents.
    std::fs::write(
        t.path("u.s"),
        "store dram=0x100 rows=1 bytes=16 stride=0 spad=3\nhalt\n",
    )
    .unwrap();
    let o = accgen(&["run", "--config", &t.s("c.toml"), "--program", &t.s("u.s")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("instruction 0 reads scratchpad row 3, which nothing wrote"),
        "{}",
        stderr(&o)
    );
    // A GEMM on rows nothing wrote is refused the same way, before any build.
    std::fs::write(t.path("g.s"), "fence\ngemm a=0 b=16 acc=0 k=4 m=4\nhalt\n").unwrap();
    let o = accgen(&["run", "--config", &t.s("c.toml"), "--program", &t.s("g.s")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("instruction 1 reads scratchpad row 0, which nothing wrote"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn gemm_runs_on_the_rtl_bit_exact_with_stats() {
    let t = Tmp::new("run-rtl-gemm");
    std::fs::write(
        t.path("c.toml"),
        "[array]\nrows = 4\ncols = 4\n[requant]\nlanes = 4\nin_bits = 32\nout_bits = 8\nshift = 6\n\
         [gelu]\nlanes = 4\nin_bits = 8\nin_frac = 4\nout_bits = 8\nout_frac = 4\n\
         [softmax]\nlanes = 2\nmax_len = 64\nin_bits = 8\nin_frac = 4\nout_bits = 8\n\
         [accel]\nspad_kib = 16\nacc_kib = 8\naxi_addr_bits = 32\nqueue_depth = 4\nwatchdog_cycles = 100000\nmax_outstanding = 4\n",
    )
    .unwrap();
    let o = accgen(&[
        "run",
        "--config",
        &t.s("c.toml"),
        "--gemm",
        "9,20,7",
        "--epilogue",
        "requant+gelu",
        "--mem-latency",
        "30",
        "--stall",
        "0.2",
        "--json",
        &t.s("s.json"),
        "--out",
        &t.s("c.npy"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("s.json")).unwrap()).unwrap();
    assert_eq!(s["bit_exact"], true);
    assert_eq!(s["engine"], "rtl+golden");
    assert_eq!(s["matches_unit_composition"], true);
    let u = s["array_utilization"].as_f64().unwrap();
    assert!(u > 0.0 && u < 1.0, "{u}");
    assert!(s["cycles"].as_u64().unwrap() > 0);
    assert!(s["dma_read_bytes_per_cycle"].as_f64().unwrap() > 0.0);
    assert_eq!(npy::read(&t.path("c.npy")).unwrap().shape, vec![9, 7]);
}

#[test]
fn layernorm_then_residual_add_run_on_the_rtl() {
    // A transformer block's tail: y = x + LayerNorm(x), on an accelerator without an
    // array (16-byte scratchpad rows).
    let t = Tmp::new("run-ln");
    std::fs::write(
        t.path("c.toml"),
        "[layernorm]\nmax_len = 32\n[residual]\nlanes = 1\n[accel]\nspad_kib = 16\nacc_kib = 8\naxi_addr_bits = 32\n",
    )
    .unwrap();
    // X: 4 rows of 24 int8 at 0x100 (stride 24); gamma int8 at 0x400, beta int8 at
    // 0x480; Y at 0x800 (stride 32).
    std::fs::write(
        t.path("p.s"),
        "load dram=0x400 rows=1 bytes=24 stride=0 spad=100\n\
         load dram=0x480 rows=1 bytes=24 stride=0 spad=102\n\
         load dram=0x100 rows=4 bytes=24 stride=24 spad=0 push_next\n\
         layernorm src=0 dst=20 rows=4 len=24 params=100 pop_prev\n\
         add a=20 b=0 dst=20 rows=4 len=24 push_next\n\
         store dram=0x800 rows=4 bytes=24 stride=32 spad=20 pop_prev\n\
         halt\n",
    )
    .unwrap();
    let x: Vec<i64> = (0..96).map(|i| (i * 37 % 200) - 100).collect();
    let g: Vec<i64> = (0..24).map(|i| 40 + i).collect();
    let b: Vec<i64> = (0..24).map(|i| 3 * i - 30).collect();
    for (name, shape, data) in [
        ("x", vec![4, 24], &x),
        ("g", vec![24], &g),
        ("b", vec![24], &b),
    ] {
        npy::write(
            &t.path(&format!("{name}.npy")),
            &NpyArray {
                dtype: Dtype::I8,
                shape,
                data: data.clone(),
            },
        )
        .unwrap();
    }
    let o = accgen(&[
        "run",
        "--config",
        &t.s("c.toml"),
        "--program",
        &t.s("p.s"),
        "--load",
        &format!("X={}@0x100", t.s("x.npy")),
        "--load",
        &format!("G={}@0x400", t.s("g.npy")),
        "--load",
        &format!("B={}@0x480", t.s("b.npy")),
        "--dump",
        &format!("Y@0x800:4x32:int8={}", t.s("y.npy")),
        "--json",
        &t.s("s.json"),
        "--stall",
        "0.2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = accgen_golden::config::Config::load(&t.path("c.toml")).unwrap();
    let (ln, rc) = (cfg.layernorm.unwrap(), cfg.residual.unwrap());
    let y = npy::read(&t.path("y.npy")).unwrap();
    for r in 0..4 {
        let row = &x[r * 24..r * 24 + 24];
        let n = accgen_golden::layernorm::layernorm_row(&ln, row, &g, &b).unwrap();
        let want = accgen_golden::residual::residual_add(&rc, &n, row).unwrap();
        assert_eq!(&y.data[r * 32..r * 32 + 24], &want[..], "row {r}");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("s.json")).unwrap()).unwrap();
    assert_eq!(s["bit_exact"], true);
}
