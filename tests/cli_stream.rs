//! End-to-end tests of `accgen sim requant` and `sim gelu`: a good run writes Y with the documented
//! dtype and the golden values; bad shapes, dtypes and values fail cleanly.

mod common;

use accgen_golden::config::Config;
use accgen_golden::requant::requant_stream;
use accgen_sim::npy::{self, Dtype, NpyArray};
use common::*;

const CFG: &str = "[requant]\nlanes = 4\nin_bits = 16\nout_bits = 6\nout_signed = false\nrounding = \"half-away\"\nshift = [3, -2, 0, 9]\nbias = 5\nzero_point = 10\n";

fn write_x(t: &Tmp, name: &str, dtype: Dtype, shape: Vec<usize>, data: Vec<i64>) -> String {
    npy::write(&t.path(name), &NpyArray { dtype, shape, data }).unwrap();
    t.s(name)
}

#[test]
fn requant_good_run_and_bad_inputs() {
    let t = Tmp::new("rq");
    std::fs::write(t.path("c.toml"), CFG).unwrap();
    let cfg = t.s("c.toml");
    let data: Vec<i64> = (0..3 * 5 * 4).map(|i| (i * 977 % 60000) - 30000).collect();
    let x = write_x(&t, "x.npy", Dtype::I16, vec![3, 5, 4], data.clone());
    let o = accgen(&[
        "sim",
        "requant",
        "--config",
        &cfg,
        "--x",
        &x,
        "--out",
        &t.s("y.npy"),
        "--json",
        &t.s("s.json"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let y = npy::read(&t.path("y.npy")).unwrap();
    assert_eq!(y.dtype, Dtype::U8, "out_bits 6 unsigned -> uint8");
    assert_eq!(y.shape, vec![3, 5, 4]);
    let rq = Config::from_toml_str(CFG).unwrap().requant.unwrap();
    assert_eq!(y.data, requant_stream(&rq, &data).unwrap());
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("s.json")).unwrap()).unwrap();
    assert_eq!(s["bit_exact"], true);
    assert_eq!(s["elements"], 60);
    assert!(s["elements_per_cycle"].as_f64().unwrap() > 0.0);

    let fail = |x: &str, needle: &str| {
        let o = accgen(&[
            "sim",
            "requant",
            "--config",
            &cfg,
            "--x",
            x,
            "--out",
            &t.s("bad.npy"),
        ]);
        assert!(!o.status.success(), "expected failure for {x}");
        assert!(
            stderr(&o).contains(needle),
            "stderr lacks {needle:?}: {}",
            stderr(&o)
        );
        assert!(!t.path("bad.npy").exists());
    };
    let x5 = write_x(&t, "x5.npy", Dtype::I16, vec![2, 5], vec![0; 10]);
    fail(&x5, "last axis (channels) has 5 entries, but [requant] has per-channel shift or bias for lanes = 4");
    let xu = write_x(&t, "xu.npy", Dtype::U16, vec![4], vec![0; 4]);
    fail(&xu, "has dtype uint16; expected a signed integer array");
    let xr = write_x(
        &t,
        "xr.npy",
        Dtype::I32,
        vec![2, 4],
        vec![0, 0, 0, 0, 0, 40000, 0, 0],
    );
    fail(
        &xr,
        "X[1, 1] = 40000 is outside the signed 16-bit range -32768..=32767 (requant.in_bits = 16)",
    );
    fail(&t.s("missing.npy"), "cannot open");
}

#[test]
fn gelu_good_run_matches_golden() {
    let t = Tmp::new("gelu");
    std::fs::write(
        t.path("c.toml"),
        "[gelu]\nlanes = 3\nin_bits = 10\nin_frac = 6\nout_bits = 8\nout_frac = 5\n",
    )
    .unwrap();
    let cfg = t.s("c.toml");
    let data: Vec<i64> = (-512..512).collect();
    let x = write_x(&t, "x.npy", Dtype::I16, vec![8, 128], data.clone());
    let o = accgen(&[
        "sim",
        "gelu",
        "--config",
        &cfg,
        "--x",
        &x,
        "--out",
        &t.s("y.npy"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let y = npy::read(&t.path("y.npy")).unwrap();
    assert_eq!((y.dtype, y.shape.clone()), (Dtype::I8, vec![8, 128]));
    let g = Config::from_toml_str(&std::fs::read_to_string(t.path("c.toml")).unwrap())
        .unwrap()
        .gelu
        .unwrap();
    assert_eq!(
        y.data,
        accgen_golden::gelu::GeluUnit::new(&g)
            .eval_stream(&data)
            .unwrap()
    );
    let bad = write_x(&t, "bad.npy", Dtype::I16, vec![2], vec![0, 600]);
    let o = accgen(&[
        "sim",
        "gelu",
        "--config",
        &cfg,
        "--x",
        &bad,
        "--out",
        &t.s("z.npy"),
    ]);
    assert!(
        stderr(&o).contains(
            "X[1] = 600 is outside the signed 10-bit range -512..=511 (gelu.in_bits = 10)"
        ),
        "{}",
        stderr(&o)
    );
    assert!(!t.path("z.npy").exists());
}

#[test]
fn softmax_good_run_and_row_length_error() {
    let t = Tmp::new("sm");
    std::fs::write(
        t.path("c.toml"),
        "[softmax]\nmax_len = 16\nin_bits = 8\nin_frac = 4\nout_bits = 8\n",
    )
    .unwrap();
    let cfg = t.s("c.toml");
    let data: Vec<i64> = (0..3 * 4 * 10).map(|i| (i * 53 % 256) - 128).collect();
    let x = write_x(&t, "x.npy", Dtype::I8, vec![3, 4, 10], data.clone());
    let o = accgen(&[
        "sim",
        "softmax",
        "--config",
        &cfg,
        "--x",
        &x,
        "--out",
        &t.s("y.npy"),
        "--json",
        &t.s("s.json"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let y = npy::read(&t.path("y.npy")).unwrap();
    assert_eq!((y.dtype, y.shape.clone()), (Dtype::U8, vec![3, 4, 10]));
    let sm = Config::from_toml_str(&std::fs::read_to_string(t.path("c.toml")).unwrap())
        .unwrap()
        .softmax
        .unwrap();
    let unit = accgen_golden::softmax::SoftmaxUnit::new(&sm);
    let want: Vec<i64> = data.chunks(10).flat_map(|r| unit.row(r).unwrap()).collect();
    assert_eq!(y.data, want);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("s.json")).unwrap()).unwrap();
    assert_eq!(s["bit_exact"], true);
    assert_eq!(s["input_stalls"], 0);
    let long = write_x(&t, "long.npy", Dtype::I8, vec![2, 17], vec![0; 34]);
    let o = accgen(&[
        "sim",
        "softmax",
        "--config",
        &cfg,
        "--x",
        &long,
        "--out",
        &t.s("z.npy"),
    ]);
    assert!(
        stderr(&o).contains("rows (the last axis) have 17 elements, but softmax.max_len = 16"),
        "{}",
        stderr(&o)
    );
    assert!(!t.path("z.npy").exists());
}

#[test]
fn layernorm_good_run_and_bad_parameters() {
    let t = Tmp::new("ln");
    std::fs::write(
        t.path("c.toml"),
        "[layernorm]\nmax_len = 16\nin_bits = 8\nin_frac = 4\ngamma_bits = 8\ngamma_frac = 6\nbeta_bits = 8\nout_bits = 8\nout_frac = 4\n",
    )
    .unwrap();
    let cfg = t.s("c.toml");
    let data: Vec<i64> = (0..3 * 4 * 10).map(|i| (i * 53 % 256) - 128).collect();
    let x = write_x(&t, "x.npy", Dtype::I8, vec![3, 4, 10], data.clone());
    let gv: Vec<i64> = (0..10).map(|i| 64 - 9 * i).collect();
    let bv: Vec<i64> = (0..10).map(|i| 13 * i - 60).collect();
    let g = write_x(&t, "g.npy", Dtype::I8, vec![10], gv.clone());
    let b = write_x(&t, "b.npy", Dtype::I16, vec![10], bv.clone());
    let run = |x: &str, g: &str, b: &str, out: &str| {
        accgen(&[
            "sim",
            "layernorm",
            "--config",
            &cfg,
            "--x",
            x,
            "--gamma",
            g,
            "--beta",
            b,
            "--out",
            out,
        ])
    };
    let o = run(&x, &g, &b, &t.s("y.npy"));
    assert!(o.status.success(), "{}", stderr(&o));
    let y = npy::read(&t.path("y.npy")).unwrap();
    assert_eq!((y.dtype, y.shape.clone()), (Dtype::I8, vec![3, 4, 10]));
    let ln = Config::from_toml_str(&std::fs::read_to_string(t.path("c.toml")).unwrap())
        .unwrap()
        .layernorm
        .unwrap();
    let want: Vec<i64> = data
        .chunks(10)
        .flat_map(|r| accgen_golden::layernorm::layernorm_row(&ln, r, &gv, &bv).unwrap())
        .collect();
    assert_eq!(y.data, want);
    // Wrong channel count, out-of-range gamma, missing beta: clear errors, no output.
    let g9 = write_x(&t, "g9.npy", Dtype::I8, vec![9], vec![1; 9]);
    let o = run(&x, &g9, &b, &t.s("z.npy"));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("GAMMA") && stderr(&o).contains("expected [10]"),
        "{}",
        stderr(&o)
    );
    let mut bad = gv.clone();
    bad[4] = 200;
    let gb = write_x(&t, "gb.npy", Dtype::I16, vec![10], bad);
    let o = run(&x, &gb, &b, &t.s("z.npy"));
    assert!(
        stderr(&o).contains("GAMMA[4] = 200") && stderr(&o).contains("layernorm.gamma_bits = 8"),
        "{}",
        stderr(&o)
    );
    let o = run(&x, &g, &t.s("missing.npy"), &t.s("z.npy"));
    assert!(
        !o.status.success() && stderr(&o).contains("BETA"),
        "{}",
        stderr(&o)
    );
    assert!(!t.path("z.npy").exists());
}

#[test]
fn residual_good_run_and_bad_operands() {
    let t = Tmp::new("res");
    std::fs::write(
        t.path("c.toml"),
        "[residual]\nlanes = 4\na_bits = 8\na_frac = 5\nb_bits = 16\nb_frac = 2\nout_bits = 8\nout_frac = 3\nrounding = \"half-away\"\n",
    )
    .unwrap();
    let cfg = t.s("c.toml");
    let av: Vec<i64> = (0..2 * 3 * 7).map(|i| (i * 37 % 256) - 128).collect();
    let bv: Vec<i64> = (0..2 * 3 * 7).map(|i| (i * 911 % 4000) - 2000).collect();
    let a = write_x(&t, "a.npy", Dtype::I8, vec![2, 3, 7], av.clone());
    let b = write_x(&t, "b.npy", Dtype::I16, vec![2, 3, 7], bv.clone());
    let run = |a: &str, b: &str, out: &str| {
        accgen(&[
            "sim", "residual", "--config", &cfg, "--a", a, "--b", b, "--out", out,
        ])
    };
    let o = run(&a, &b, &t.s("y.npy"));
    assert!(o.status.success(), "{}", stderr(&o));
    let y = npy::read(&t.path("y.npy")).unwrap();
    assert_eq!((y.dtype, y.shape.clone()), (Dtype::I8, vec![2, 3, 7]));
    // Independent check: a/32 + b/4 at scale 1/8, half away from zero, saturated.
    for (k, &got) in y.data.iter().enumerate() {
        let v = av[k] as f64 / 32.0 + bv[k] as f64 / 4.0;
        let want = (v * 8.0).round().clamp(-128.0, 127.0) as i64;
        assert_eq!(got, want, "element {k}");
    }
    let b2 = write_x(&t, "b2.npy", Dtype::I16, vec![6, 7], bv.clone());
    let o = run(&a, &b2, &t.s("z.npy"));
    assert!(
        stderr(&o).contains("A has shape [2, 3, 7] and B has shape [6, 7]"),
        "{}",
        stderr(&o)
    );
    let mut big = bv.clone();
    big[5] = 40000;
    let b3 = write_x(&t, "b3.npy", Dtype::I32, vec![2, 3, 7], big);
    let o = run(&a, &b3, &t.s("z.npy"));
    assert!(
        stderr(&o).contains("B[0, 0, 5] = 40000") && stderr(&o).contains("residual.b_bits = 16"),
        "{}",
        stderr(&o)
    );
    assert!(!o.status.success() && !t.path("z.npy").exists());
}
