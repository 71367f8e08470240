//! `accgen compile` and `accgen run --model` end to end: a small transformer-style
//! block (linear+GELU, linear, residual add, LayerNorm, softmax) written as a model
//! directory compiles to a program, its disassembly and its layout; it runs bit-exact
//! on the RTL against golden, and its output equals the op-by-op evaluation computed
//! here from the same numbers. Models the hardware cannot run fail with the node named
//! and write nothing.

mod common;

use std::collections::BTreeMap;

use accgen_golden::config::Config;
use accgen_golden::isa::Act;
use accgen_golden::model::{Model, Node, NodeKind, TensorInfo};
use accgen_golden::rng::SplitMix64;
use accgen_sim::npy::{self, Dtype, NpyArray};
use common::*;

const CFG: &str = "[array]\nrows = 4\ncols = 4\n\
[requant]\nin_bits = 32\nout_bits = 8\n\
[gelu]\nin_bits = 8\nin_frac = 4\nout_bits = 8\nout_frac = 4\n\
[softmax]\nmax_len = 64\nin_bits = 8\nin_frac = 4\nout_bits = 8\n\
[layernorm]\nmax_len = 64\n\
[residual]\nlanes = 1\n\
[accel]\nspad_kib = 16\nacc_kib = 8\naxi_addr_bits = 32\n";

const MODEL: &str = r#"[model]
name = "block"
input = "x"
output = "y"

[tensors]
x = { shape = [12, 20], dtype = "int8", frac = 4 }
h1 = { shape = [12, 24], dtype = "int8", frac = 4 }
h2 = { shape = [12, 20], dtype = "int8", frac = 4 }
r = { shape = [12, 20], dtype = "int8", frac = 4 }
n = { shape = [12, 20], dtype = "int8", frac = 4 }
y = { shape = [12, 20], dtype = "uint8", frac = 8 }

[[nodes]]
name = "fc1"
op = "linear"
inputs = ["x"]
output = "h1"
weight = "fc1_w.npy"
weight_frac = 6
bias = "fc1_b.npy"
act = "gelu"

[[nodes]]
name = "fc2"
op = "linear"
inputs = ["h1"]
output = "h2"
weight = "fc2_w.npy"
weight_frac = 7

[[nodes]]
name = "res"
op = "add"
inputs = ["h2", "x"]
output = "r"

[[nodes]]
name = "ln"
op = "layernorm"
inputs = ["r"]
output = "n"
gamma = "ln_g.npy"
beta = "ln_b.npy"

[[nodes]]
name = "attn_like"
op = "softmax"
inputs = ["n"]
output = "y"
"#;

fn save(t: &Tmp, name: &str, shape: Vec<usize>, data: &[i64], dtype: Dtype) {
    npy::write(
        &t.path(name),
        &NpyArray {
            dtype,
            shape,
            data: data.to_vec(),
        },
    )
    .unwrap();
}

#[test]
fn a_block_compiles_and_runs_bit_exact_on_the_rtl() {
    let t = Tmp::new("model");
    std::fs::create_dir_all(t.path("m")).unwrap();
    std::fs::write(t.path("c.toml"), CFG).unwrap();
    std::fs::write(t.path("m/model.toml"), MODEL).unwrap();
    let mut rng = SplitMix64::new(3);
    let mut r = |n: usize, bits: u32| (0..n).map(|_| rng.signed(bits)).collect::<Vec<i64>>();
    let (w1, b1, w2) = (r(20 * 24, 8), r(24, 12), r(24 * 20, 8));
    let (g, b, x) = (r(20, 8), r(20, 8), r(12 * 20, 8));
    save(&t, "m/fc1_w.npy", vec![20, 24], &w1, Dtype::I8);
    save(&t, "m/fc1_b.npy", vec![24], &b1, Dtype::I32);
    save(&t, "m/fc2_w.npy", vec![24, 20], &w2, Dtype::I8);
    save(&t, "m/ln_g.npy", vec![20], &g, Dtype::I8);
    save(&t, "m/ln_b.npy", vec![20], &b, Dtype::I8);
    save(&t, "x.npy", vec![12, 20], &x, Dtype::I8);
    let o = accgen(&[
        "compile",
        "--config",
        &t.s("c.toml"),
        "--model",
        &t.s("m"),
        "--out",
        &t.s("out"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(t.path("out/program.s")).unwrap();
    for op in ["gemm", "epilogue", "add", "layernorm", "softmax", "halt"] {
        assert!(text.contains(op), "program.s has no `{op}`");
    }
    let bin = std::fs::read(t.path("out/program.bin")).unwrap();
    assert_eq!(bin.len(), 16 * text.lines().count());
    let lay: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("out/layout.json")).unwrap()).unwrap();
    assert_eq!(lay["tensors"]["x"]["shape"], serde_json::json!([12, 20]));
    assert!(lay["constants"]["fc1.weight"]["addr"].is_u64());

    let o = accgen(&[
        "run",
        "--config",
        &t.s("c.toml"),
        "--model",
        &t.s("m"),
        "--input",
        &t.s("x.npy"),
        "--out",
        &t.s("y.npy"),
        "--json",
        &t.s("s.json"),
        "--stall",
        "0.2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("s.json")).unwrap()).unwrap();
    assert_eq!(s["bit_exact"], true);
    assert!(s["array_utilization"].as_f64().unwrap() > 0.0);
    // Cycles per node (each node alone) and per op kind.
    let per = s["per_node"].as_array().unwrap();
    assert_eq!(per.len(), 5);
    assert!(per.iter().all(|n| n["cycles"].as_u64().unwrap() > 0));
    let kinds = &s["per_op_kind_cycles"];
    let sum: u64 = ["linear", "add", "layernorm", "softmax"]
        .iter()
        .map(|k| kinds[*k].as_u64().unwrap())
        .sum();
    assert_eq!(sum, s["node_by_node_cycles"].as_u64().unwrap());
    // The same model built here from the same numbers, evaluated op by op.
    let ti = |cols, signed, frac| TensorInfo {
        rows: 12,
        cols,
        bits: 8,
        signed,
        frac,
    };
    let tensors: BTreeMap<String, TensorInfo> = [
        ("x", ti(20, true, 4)),
        ("h1", ti(24, true, 4)),
        ("h2", ti(20, true, 4)),
        ("r", ti(20, true, 4)),
        ("n", ti(20, true, 4)),
        ("y", ti(20, false, 8)),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_string(), t))
    .collect();
    let node = |name: &str, kind, inputs: &[&str], output: &str| Node {
        name: name.into(),
        kind,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        output: output.into(),
    };
    let model = Model {
        tensors,
        nodes: vec![
            node(
                "fc1",
                NodeKind::Linear {
                    weight: w1,
                    weight_frac: 6,
                    bias: Some(b1),
                    act: Act::Gelu,
                    transpose_out: false,
                },
                &["x"],
                "h1",
            ),
            node(
                "fc2",
                NodeKind::Linear {
                    weight: w2,
                    weight_frac: 7,
                    bias: None,
                    act: Act::None,
                    transpose_out: false,
                },
                &["h1"],
                "h2",
            ),
            node("res", NodeKind::Add, &["h2", "x"], "r"),
            node("ln", NodeKind::Layernorm { gamma: g, beta: b }, &["r"], "n"),
            node("attn_like", NodeKind::Softmax, &["n"], "y"),
        ],
        input: "x".into(),
        output: "y".into(),
    };
    let cfg = Config::from_toml_str(CFG).unwrap();
    let want = model.evaluate(&cfg, &x).unwrap();
    let y = npy::read(&t.path("y.npy")).unwrap();
    assert_eq!((y.dtype, y.shape.clone()), (Dtype::U8, vec![12, 20]));
    assert_eq!(y.data, want["y"]);
}

#[test]
fn unsupported_ops_and_formats_name_the_node_and_write_nothing() {
    let t = Tmp::new("model-bad");
    std::fs::create_dir_all(t.path("m")).unwrap();
    std::fs::write(t.path("c.toml"), CFG).unwrap();
    save(&t, "m/w.npy", vec![20, 20], &[1; 400], Dtype::I8);
    let head = "[model]\ninput = \"x\"\noutput = \"y\"\n[tensors]\nx = { shape = [4, 20], dtype = \"int8\", frac = 4 }\ny = { shape = [4, 20], dtype = \"int8\", frac = 4 }\n";
    for (body, frag) in [
        (
            "[[nodes]]\nname = \"qk\"\nop = \"conv2d\"\ninputs = [\"x\"]\noutput = \"y\"\n",
            "node `qk`: op `conv2d` is not supported by this accelerator compiler (supported: linear, matmul, add, layernorm, softmax, reshape)",
        ),
        (
            "[[nodes]]\nname = \"fc\"\nop = \"linear\"\ninputs = [\"x\"]\noutput = \"y\"\nweight = \"w.npy\"\nweight_frac = 60\n",
            "node `fc`: the re-quantizer shift x.frac + weight_frac - y.frac = 60 is outside the allowed range -16..=47",
        ),
        (
            "[[nodes]]\nname = \"fc\"\nop = \"linear\"\ninputs = [\"x\"]\noutput = \"y\"\nweight = \"missing.npy\"\nweight_frac = 4\n",
            "node `fc`: reading `weight`",
        ),
        (
            "[[nodes]]\nname = \"ln\"\nop = \"layernorm\"\ninputs = [\"x\"]\noutput = \"y\"\n",
            "node `ln`: `layernorm` needs the field `gamma`",
        ),
    ] {
        std::fs::write(t.path("m/model.toml"), format!("{head}{body}")).unwrap();
        let o = accgen(&[
            "compile",
            "--config",
            &t.s("c.toml"),
            "--model",
            &t.s("m"),
            "--out",
            &t.s("out"),
        ]);
        assert_eq!(o.status.code(), Some(1), "{body}");
        assert!(stderr(&o).contains(frag), "{}", stderr(&o));
        assert!(!t.path("out").exists(), "{body}: nothing written");
    }
}

#[test]
fn two_head_attention_runs_bit_exact_on_the_rtl() {
    // Q, K^T (transposed epilogue), V; per head S_h = Q_h K^T_h stacked by rows;
    // P = softmax(S) as 7-bit probabilities; O_h = P_h V_h side by side; all on the
    // RTL against golden.
    let t = Tmp::new("model-attn");
    std::fs::create_dir_all(t.path("m")).unwrap();
    std::fs::write(
        t.path("c.toml"),
        "[array]\nrows = 4\ncols = 4\n[requant]\nin_bits = 32\nout_bits = 8\n\
         [softmax]\nmax_len = 64\nin_bits = 8\nin_frac = 4\nout_bits = 7\n\
         [accel]\nspad_kib = 16\nacc_kib = 8\naxi_addr_bits = 32\n",
    )
    .unwrap();
    let (tok, d, dh) = (10usize, 12usize, 6usize);
    let shapes = [
        ("x", tok, d, "int8", 4),
        ("q", tok, dh, "int8", 4),
        ("kt", dh, tok, "int8", 4),
        ("v", tok, dh, "int8", 4),
        ("s", 2 * tok, tok, "int8", 4),
        ("p", 2 * tok, tok, "uint8", 7),
        ("o", tok, dh, "int8", 4),
    ];
    let mut text = String::from("[model]\ninput = \"x\"\noutput = \"o\"\n[tensors]\n");
    for (n, r, c, dt, f) in shapes {
        // p holds 7-bit probabilities in bytes: declare it uint8 would be 8 bits, so
        // the model declares the unit's real width through dtype uint8 and frac 7 and
        // the compiler checks it against softmax.out_bits.
        text += &format!("{n} = {{ shape = [{r}, {c}], dtype = \"{dt}\", frac = {f} }}\n");
    }
    let mut rng = SplitMix64::new(9);
    for (n, trans) in [("wq", false), ("wk", true), ("wv", false)] {
        let w: Vec<i64> = (0..d * dh).map(|_| rng.signed(8)).collect();
        save(&t, &format!("m/{n}.npy"), vec![d, dh], &w, Dtype::I8);
        let out = match n {
            "wq" => "q",
            "wk" => "kt",
            _ => "v",
        };
        text += &format!(
            "[[nodes]]\nname = \"{n}\"\nop = \"linear\"\ninputs = [\"x\"]\noutput = \"{out}\"\nweight = \"{n}.npy\"\nweight_frac = 6\ntranspose_out = {trans}\n"
        );
    }
    text += "[[nodes]]\nname = \"qk\"\nop = \"matmul\"\ninputs = [\"q\", \"kt\"]\noutput = \"s\"\nheads = 2\nhead_layout = \"qk\"\n";
    text += "[[nodes]]\nname = \"probs\"\nop = \"softmax\"\ninputs = [\"s\"]\noutput = \"p\"\n";
    text += "[[nodes]]\nname = \"pv\"\nop = \"matmul\"\ninputs = [\"p\", \"v\"]\noutput = \"o\"\nheads = 2\nhead_layout = \"pv\"\n";
    std::fs::write(t.path("m/model.toml"), &text).unwrap();
    let x: Vec<i64> = (0..tok * d).map(|_| rng.signed(8)).collect();
    save(&t, "x.npy", vec![tok, d], &x, Dtype::I8);
    let o = accgen(&[
        "run",
        "--config",
        &t.s("c.toml"),
        "--model",
        &t.s("m"),
        "--input",
        &t.s("x.npy"),
        "--out",
        &t.s("o.npy"),
        "--json",
        &t.s("s.json"),
    ]);
    // A plain uint8 tensor has 8 bits and the softmax gives 7: refused, naming the
    // node, and nothing written.
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "node `probs`: the output is 20x10 uint8 at 2^-7; [softmax] gives 20x10 uint7 at 2^-7"
        ),
        "{}",
        stderr(&o)
    );
    assert!(!t.path("o.npy").exists() && !t.path("s.json").exists());
    // Declared as 7-bit values, it compiles; golden equals the op-by-op evaluation
    // (checked by `run`) and the RTL equals golden.
    let text = text.replace(
        "p = { shape = [20, 10], dtype = \"uint8\", frac = 7 }",
        "p = { shape = [20, 10], dtype = \"uint8\", bits = 7, frac = 7 }",
    );
    std::fs::write(t.path("m/model.toml"), &text).unwrap();
    let o = accgen(&[
        "run",
        "--config",
        &t.s("c.toml"),
        "--model",
        &t.s("m"),
        "--input",
        &t.s("x.npy"),
        "--out",
        &t.s("o.npy"),
        "--json",
        &t.s("s.json"),
        "--stall",
        "0.2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("s.json")).unwrap()).unwrap();
    assert_eq!(s["bit_exact"], true);
    assert!(s["per_op_kind_cycles"]["matmul"].as_u64().unwrap() > 0);
    let y = npy::read(&t.path("o.npy")).unwrap();
    assert_eq!((y.dtype, y.shape.clone()), (Dtype::I8, vec![10, 6]));
}

#[test]
fn run_model_input_errors_exit_1_and_write_nothing() {
    let t = Tmp::new("model-input");
    std::fs::create_dir_all(t.path("m")).unwrap();
    std::fs::write(t.path("c.toml"), CFG).unwrap();
    std::fs::write(
        t.path("m/model.toml"),
        "[model]\ninput = \"x\"\noutput = \"y\"\n[tensors]\nx = { shape = [4, 8], dtype = \"int8\", frac = 4 }\ny = { shape = [4, 8], dtype = \"uint8\", frac = 8 }\n[[nodes]]\nname = \"sm\"\nop = \"softmax\"\ninputs = [\"x\"]\noutput = \"y\"\n",
    )
    .unwrap();
    save(&t, "x35.npy", vec![5, 7], &[0; 35], Dtype::I8);
    save(&t, "big.npy", vec![4, 8], &[300; 32], Dtype::I16);
    let cfg = t.s("c.toml");
    let m = t.s("m");
    let y = t.s("y.npy");
    let (x35, big) = (t.s("x35.npy"), t.s("big.npy"));
    let cases: [(Vec<&str>, &str); 3] = [
        (vec![], "--model needs --input X.npy"),
        (
            vec!["--input", &x35],
            "--input has shape [5, 7]; the model input `x` is [4, 8]",
        ),
        (
            vec!["--input", &big],
            "input element 0 = 300 does not fit signed 8 bits",
        ),
    ];
    for (extra, frag) in cases {
        let mut args = vec![
            "run",
            "--config",
            &cfg,
            "--model",
            &m,
            "--out",
            &y,
            "--golden-only",
        ];
        args.extend(extra.iter().copied());
        let o = accgen(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains(frag), "{}", stderr(&o));
        assert!(!t.path("y.npy").exists());
    }
}
