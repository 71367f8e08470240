//! `accgen import` on the committed ONNX files (written by
//! `scripts/train_vit_digits.py` with PyTorch, Brevitas and onnxruntime), then
//! `accgen run --model` on their held-out splits:
//! - the MLP, as QCDQ and as QONNX, imports to the same weights, and its golden
//!   outputs equal onnxruntime's on every sample;
//! - the ViT imports to the expected nodes; over the whole split its golden top-1
//!   agrees with onnxruntime's, its accuracy is within 1 percentage point, and its
//!   outputs are within the documented tolerance; a subset runs bit-exact on the RTL;
//! - an unsupported op and a non-power-of-two scale fail with the node named, exit 1
//!   and write nothing; `--round-scales` accepts the scale and reports it.

mod common;

use std::path::Path;

use accgen_sim::npy::{self, Dtype, NpyArray};
use common::*;

const CFG: &str = "configs/vit_digits.toml";

fn import(onnx: &str, out: &str) -> std::process::Output {
    accgen(&["import", "--onnx", onnx, "--out", out])
}

fn npz(path: &str) -> Vec<(String, NpyArray)> {
    npy::read_npz(Path::new(path)).expect("committed npz")
}

fn get<'a>(a: &'a [(String, NpyArray)], k: &str) -> &'a NpyArray {
    &a.iter().find(|(n, _)| n == k).expect("array").1
}

/// `accgen run --golden-only` of model directory `dir` (in `t`) on `input`: its
/// `--json` statistics.
fn golden_stats(t: &Tmp, dir: &str, input: &str) -> serde_json::Value {
    let j = t.path(&format!("{dir}.json"));
    let o = accgen(&[
        "run",
        "--config",
        CFG,
        "--model",
        &t.s(dir),
        "--input",
        input,
        "--golden-only",
        "--json",
        j.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&std::fs::read_to_string(&j).expect("stats")).expect("json")
}

#[test]
fn mlp_qcdq_and_qonnx_import_alike_and_match_onnxruntime() {
    let t = Tmp::new("import-mlp");
    for (f, d) in [("model.onnx", "qcdq"), ("model.qonnx.onnx", "qonnx")] {
        let o = import(&format!("models/mlp_digits/{f}"), &t.s(d));
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("2 linear"));
    }
    // The same weights, biases and formats from both encodings.
    let toml_of = |d: &str| -> toml::Value {
        toml::from_str(&std::fs::read_to_string(t.path(d).join("model.toml")).unwrap()).unwrap()
    };
    let (a, b) = (toml_of("qcdq"), toml_of("qonnx"));
    assert_eq!(a["nodes"].as_array().unwrap().len(), 2);
    for (na, nb) in a["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["nodes"].as_array().unwrap())
    {
        for k in ["op", "weight_frac", "act", "weight", "bias"] {
            assert_eq!(na.get(k), nb.get(k), "field {k}");
        }
        for k in ["weight", "bias"] {
            let f = na[k].as_str().unwrap();
            let x = npy::read(&t.path("qcdq").join(f)).unwrap();
            let y = npy::read(&t.path("qonnx").join(f)).unwrap();
            assert_eq!(x.data, y.data, "{f}");
            assert!(x.data.iter().any(|&v| v != 0));
        }
    }
    // Golden over the held-out split: every output equals onnxruntime's (the MLP
    // has no approximated unit).
    let s = golden_stats(&t, "qcdq", "models/mlp_digits/test.npz");
    assert_eq!(s["samples"], 360);
    assert_eq!(s["reference_outputs_equal"], 1.0, "{s}");
    assert_eq!(s["reference_agreement"], 1.0);
    assert!(s["accuracy"].as_f64().unwrap() > 0.9);
}

#[test]
fn vit_imports_and_matches_onnxruntime_over_the_split() {
    let t = Tmp::new("import-vit");
    let o = import("models/vit_digits/model.onnx", &t.s("vit"));
    assert!(o.status.success(), "{}", stderr(&o));
    let m: toml::Value =
        toml::from_str(&std::fs::read_to_string(t.path("vit").join("model.toml")).unwrap())
            .unwrap();
    let ops: Vec<&str> = m["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["op"].as_str().unwrap())
        .collect();
    let count = |op: &str| ops.iter().filter(|&&o| o == op).count();
    // embed + 2 x (q, k, v, proj, fc1, fc2) + head; 2 x (scores, context);
    // 2 x 2 residual adds; 2 x 2 + 1 LayerNorms; 2 softmaxes; the flatten.
    assert_eq!(count("linear"), 14, "{ops:?}");
    assert_eq!(count("matmul"), 4);
    assert_eq!(count("add"), 4);
    assert_eq!(count("layernorm"), 5);
    assert_eq!(count("softmax"), 2);
    assert_eq!(count("reshape"), 1);
    let nodes = m["nodes"].as_array().unwrap();
    assert!(nodes
        .iter()
        .filter(|n| n["op"].as_str() == Some("matmul"))
        .all(|n| n["heads"].as_integer() == Some(2)));
    assert_eq!(
        nodes
            .iter()
            .filter(|n| n.get("transpose_out").and_then(|v| v.as_bool()) == Some(true))
            .count(),
        2,
        "the two k projections are written transposed"
    );
    assert_eq!(
        nodes
            .iter()
            .filter(|n| n.get("act").and_then(|v| v.as_str()) == Some("gelu"))
            .count(),
        2
    );
    // Golden over the whole held-out split.
    let s = golden_stats(&t, "vit", "models/vit_digits/test.npz");
    assert_eq!(s["samples"], 360);
    let (acc, racc) = (
        s["accuracy"].as_f64().unwrap(),
        s["reference_accuracy"].as_f64().unwrap(),
    );
    assert!((acc - racc).abs() <= 0.01, "{s}");
    assert!(s["reference_agreement"].as_f64().unwrap() >= 0.98, "{s}");
    // The documented tolerance (README): LayerNorm, softmax and GELU are within an
    // LSB of the float ops, so logits drift by a few LSBs, rarely more.
    assert!(
        s["reference_outputs_max_lsb"].as_f64().unwrap() <= 16.0,
        "{s}"
    );
    assert!(s["reference_outputs_equal"].as_f64().unwrap() >= 0.2, "{s}");

    // A subset on the RTL, bit-exact against golden (the command fails otherwise),
    // and its predictions are golden's.
    let data = npz("models/vit_digits/test.npz");
    let x = get(&data, "x");
    let per = 16 * 4;
    let take = 6;
    let sub = t.path("sub.npy");
    npy::write(
        &sub,
        &NpyArray {
            dtype: Dtype::I8,
            shape: vec![take, 16, 4],
            data: x.data[..take * per].to_vec(),
        },
    )
    .unwrap();
    let y = t.path("y.npy");
    let o = accgen(&[
        "run",
        "--config",
        CFG,
        "--model",
        &t.s("vit"),
        "--input",
        sub.to_str().unwrap(),
        "--out",
        y.to_str().unwrap(),
        "--mem-latency",
        "40",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("bit-exact against golden"), "{out}");
    let yv = npy::read(&y).unwrap();
    assert_eq!(yv.shape, vec![take, 1, 10]);
    let pred = get(&data, "ort_pred");
    let agree = (0..take)
        .filter(|&i| {
            let row = &yv.data[i * 10..(i + 1) * 10];
            let best = (0..10).fold(0, |b, k| if row[k] > row[b] { k } else { b });
            best as i64 == pred.data[i]
        })
        .count();
    assert!(agree + 1 >= take, "{agree}/{take}");
}

#[test]
fn unsupported_ops_and_scales_fail_with_the_node_named() {
    let t = Tmp::new("import-bad");
    for (file, out, want) in [
        (
            "unsupported_op",
            "a",
            ["node `act/Tanh`", "op `Tanh` is not supported"],
        ),
        (
            "bad_scale",
            "b",
            ["node `hq/QuantizeLinear`", "is not a power of two"],
        ),
    ] {
        let o = import(&format!("models/onnx_errors/{file}.onnx"), &t.s(out));
        assert_eq!(o.status.code(), Some(1), "{file}");
        let e = stderr(&o);
        assert!(want.iter().all(|w| e.contains(w)), "{file}: {e}");
        assert!(!t.path(out).exists(), "{file}: nothing written");
    }

    let o = accgen(&[
        "import",
        "--onnx",
        "models/onnx_errors/bad_scale.onnx",
        "--out",
        &t.s("c"),
        "--round-scales",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("rounded to 2^-2") && out.contains("relative error"),
        "{out}"
    );

    // Not ONNX at all.
    std::fs::write(t.path("junk.onnx"), b"\xff\xff\xff not protobuf").unwrap();
    let o = import(&t.s("junk.onnx"), &t.s("d"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is not an ONNX model"),
        "{}",
        stderr(&o)
    );
    assert!(!t.path("d").exists());
}

#[test]
fn a_config_that_disagrees_with_the_model_is_named() {
    let t = Tmp::new("import-cfg");
    let o = import("models/vit_digits/model.onnx", &t.s("vit"));
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = std::fs::read_to_string(CFG).unwrap().replace(
        "in_frac = 4\nout_bits = 8\nout_frac = 4\n\n[layernorm]",
        "in_frac = 5\nout_bits = 8\nout_frac = 4\n\n[layernorm]",
    );
    assert!(cfg.contains("in_frac = 5"));
    std::fs::write(t.path("c.toml"), cfg).unwrap();
    let o = accgen(&[
        "compile",
        "--config",
        &t.s("c.toml"),
        "--model",
        &t.s("vit"),
        "--out",
        &t.s("o"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("fc1") && e.contains("gelu.in_frac"), "{e}");
    assert!(!t.path("o").exists());
}

#[test]
fn decomposed_layernorm_and_gelu_op_import_like_the_fused_forms() {
    let t = Tmp::new("import-patterns");
    for tag in ["fused", "decomposed"] {
        let o = import(&format!("models/onnx_patterns/ln_{tag}.onnx"), &t.s(tag));
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // The same graph: node for node, with equal parameter files.
    let nodes = |d: &str| -> Vec<toml::Value> {
        let m: toml::Value =
            toml::from_str(&std::fs::read_to_string(t.path(d).join("model.toml")).unwrap())
                .unwrap();
        m["nodes"].as_array().unwrap().clone()
    };
    let (a, b) = (nodes("fused"), nodes("decomposed"));
    let ops: Vec<&str> = a.iter().map(|n| n["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["linear", "layernorm", "linear"]);
    assert_eq!(a[2]["act"].as_str(), Some("gelu"));
    for (x, y) in a.iter().zip(&b) {
        for k in [
            "op",
            "inputs",
            "output",
            "act",
            "gamma_frac",
            "eps",
            "weight_frac",
        ] {
            assert_eq!(x.get(k), y.get(k), "{k}");
        }
        for k in ["weight", "bias", "gamma", "beta"] {
            if let (Some(f), Some(g)) = (x.get(k), y.get(k)) {
                let p = npy::read(&t.path("fused").join(f.as_str().unwrap())).unwrap();
                let q = npy::read(&t.path("decomposed").join(g.as_str().unwrap())).unwrap();
                assert_eq!(p.data, q.data, "{k}");
            }
        }
    }
    // Golden against onnxruntime on 64 random inputs: LayerNorm and GELU are within
    // an LSB of the float ops, so outputs differ by at most 2 LSBs, and rarely.
    let y = t.path("y.npy");
    let o = accgen(&[
        "run",
        "--config",
        CFG,
        "--model",
        &t.s("decomposed"),
        "--input",
        "models/onnx_patterns/test.npz",
        "--golden-only",
        "--out",
        y.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let yv = npy::read(&y).unwrap();
    assert_eq!(yv.shape, vec![64, 4, 32]);
    let data = npz("models/onnx_patterns/test.npz");
    for k in ["ort_fused_x1024", "ort_decomposed_x1024"] {
        let r = get(&data, k);
        assert_eq!(r.data.len(), yv.data.len());
        let d: Vec<i64> = yv
            .data
            .iter()
            .zip(&r.data)
            .map(|(&a, &b)| (a * 64 - b).abs())
            .collect();
        assert!(d.iter().all(|&v| v <= 2 * 64), "{k}: more than 2 LSBs");
        let equal = d.iter().filter(|&&v| v == 0).count();
        assert!(equal * 100 >= 95 * d.len(), "{k}: {equal}/{}", d.len());
    }
}
