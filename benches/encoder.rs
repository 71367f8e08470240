//! Issue 10's encoder-layer bench: a ViT-Tiny-shaped transformer encoder layer (197
//! tokens, dim 192, 3 heads, MLP 768) with random power-of-two-quantized weights,
//! compiled by `golden::compiler` and run on the 16x16 int8 accelerator (AXI 128-bit,
//! memory latency 100, no stalls) in Verilator. Prints the compile time, cycles per
//! node and per op kind (each node alone, from the image golden left), the whole
//! program's cycles and the array utilization over the layer (target 0.8). Every run
//! is checked against golden, and golden against the op-by-op evaluation.
//!
//! Then the trained ViT of `models/vit_digits` (imported from its ONNX file with the
//! `accgen` binary, on `configs/vit_digits.toml`, same memory timing) over its whole
//! held-out split: import and compile times, cycles per image, utilization, images/s
//! at 300 MHz and accuracy against onnxruntime's.
//!
//! `cargo bench --bench encoder` (`-- --vit-only` skips the encoder layer)

use std::collections::BTreeMap;
use std::time::Instant;

use accgen_golden::compiler::compile;
use accgen_golden::config::Config;
use accgen_golden::isa::{Act, Instr, Op, Program};
use accgen_golden::machine::Machine;
use accgen_golden::model::{HeadLayout, Model, Node, NodeKind, TensorInfo};
use accgen_golden::rng::SplitMix64;
use accgen_sim::accel::{build_accel, run_accel, AccelTiming};

const CFG: &str = "[array]\nrows = 16\ncols = 16\n\
[requant]\nlanes = 16\nin_bits = 32\nout_bits = 8\n\
[gelu]\nlanes = 16\nin_bits = 8\nin_frac = 4\nout_bits = 8\nout_frac = 4\n\
[softmax]\nlanes = 8\nmax_len = 256\nin_bits = 8\nin_frac = 4\nout_bits = 7\n\
[layernorm]\nlanes = 8\nmax_len = 256\n\
[residual]\nlanes = 1\n\
[accel]\nspad_kib = 256\nacc_kib = 64\nspad_banks = 4\naxi_data_bits = 128\nmax_outstanding = 32\n";

fn t8(rows: u32, cols: u32) -> TensorInfo {
    TensorInfo {
        rows,
        cols,
        bits: 8,
        signed: true,
        frac: 4,
    }
}

/// The encoder layer: LN, Q/K^T/V, scores, softmax, context, projection, residual,
/// LN, MLP (GELU), residual.
fn encoder(rng: &mut SplitMix64, tok: u32, dim: u32, heads: u32, mlp: u32) -> Model {
    let mut tensors = BTreeMap::new();
    for (n, t) in [
        ("x", t8(tok, dim)),
        ("n1", t8(tok, dim)),
        ("q", t8(tok, dim)),
        ("kt", t8(dim, tok)),
        ("v", t8(tok, dim)),
        ("s", t8(heads * tok, tok)),
        (
            "p",
            TensorInfo {
                rows: heads * tok,
                cols: tok,
                bits: 7,
                signed: false,
                frac: 7,
            },
        ),
        ("ctx", t8(tok, dim)),
        ("proj", t8(tok, dim)),
        ("r1", t8(tok, dim)),
        ("n2", t8(tok, dim)),
        ("h", t8(tok, mlp)),
        ("m", t8(tok, dim)),
        ("y", t8(tok, dim)),
    ] {
        tensors.insert(n.to_string(), t);
    }
    let mut w =
        |k: u32, n: u32| -> Vec<i64> { (0..k * n).map(|_| rng.range_i64(-40, 40)).collect() };
    let lin = |weight: Vec<i64>, act: Act, transpose_out: bool| NodeKind::Linear {
        weight,
        weight_frac: 8,
        bias: None,
        act,
        transpose_out,
    };
    let ln = |n: u32| NodeKind::Layernorm {
        gamma: vec![64; n as usize],
        beta: vec![0; n as usize],
    };
    let node = |name: &str, kind, inputs: &[&str], output: &str| Node {
        name: name.into(),
        kind,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        output: output.into(),
    };
    let nodes = vec![
        node("ln1", ln(dim), &["x"], "n1"),
        node("q", lin(w(dim, dim), Act::None, false), &["n1"], "q"),
        node("k", lin(w(dim, dim), Act::None, true), &["n1"], "kt"),
        node("v", lin(w(dim, dim), Act::None, false), &["n1"], "v"),
        node(
            "scores",
            NodeKind::Matmul {
                act: Act::None,
                heads,
                layout: HeadLayout::Qk,
            },
            &["q", "kt"],
            "s",
        ),
        node("softmax", NodeKind::Softmax, &["s"], "p"),
        node(
            "context",
            NodeKind::Matmul {
                act: Act::None,
                heads,
                layout: HeadLayout::Pv,
            },
            &["p", "v"],
            "ctx",
        ),
        node("proj", lin(w(dim, dim), Act::None, false), &["ctx"], "proj"),
        node("res1", NodeKind::Add, &["proj", "x"], "r1"),
        node("ln2", ln(dim), &["r1"], "n2"),
        node("fc1", lin(w(dim, mlp), Act::Gelu, false), &["n2"], "h"),
        node("fc2", lin(w(mlp, dim), Act::None, false), &["h"], "m"),
        node("res2", NodeKind::Add, &["m", "r1"], "y"),
    ];
    Model {
        tensors,
        nodes,
        input: "x".into(),
        output: "y".into(),
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--vit-only") {
        encoder_layer();
    }
    vit_digits();
}

/// `models/vit_digits` through `accgen import` and `accgen run` (the CLI itself).
fn vit_digits() {
    let exe = env!("CARGO_BIN_EXE_accgen");
    let root = env!("CARGO_MANIFEST_DIR");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vit");
    let t0 = Instant::now();
    let o = std::process::Command::new(exe)
        .args(["import", "--onnx"])
        .arg(format!("{root}/models/vit_digits/model.onnx"))
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    let import_s = t0.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json = tmp.path().join("vit.json");
    let o = std::process::Command::new(exe)
        .args(["run", "--config"])
        .arg(format!("{root}/configs/vit_digits.toml"))
        .arg("--model")
        .arg(&dir)
        .arg("--input")
        .arg(format!("{root}/models/vit_digits/test.npz"))
        .args(["--mem-latency", "100", "--stall", "0", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    println!("\nViT-digits (models/vit_digits on configs/vit_digits.toml: 16x16 int8; memory latency 100, no stalls)");
    println!("| measure | value |\n|---|---|");
    println!("| ONNX import (process, 218 ONNX nodes) | {import_s:.3} s |");
    println!(
        "| compile ({} nodes, {} instructions) | {:.4} s |",
        s["nodes"],
        s["instructions"],
        f(&s["compile_s"])
    );
    println!(
        "| images, every one bit-exact RTL vs golden | {} |",
        s["samples"]
    );
    println!(
        "| cycles per image (min / mean / max) | {} / {:.0} / {} |",
        s["cycles_per_sample"]["min"],
        f(&s["cycles_per_sample"]["mean"]),
        s["cycles_per_sample"]["max"]
    );
    println!("| MACs per image | {} |", s["macs_per_sample"]);
    println!("| array utilization | {:.3} |", f(&s["array_utilization"]));
    println!(
        "| images/s at 300 MHz | {:.0} |",
        f(&s["samples_per_s_at_300mhz"])
    );
    println!(
        "| top-1 accuracy (accgen RTL) | {:.2}% |",
        100.0 * f(&s["accuracy"])
    );
    println!(
        "| top-1 accuracy (onnxruntime, same ONNX) | {:.2}% |",
        100.0 * f(&s["reference_accuracy"])
    );
    println!(
        "| top-1 agreement with onnxruntime | {:.2}% |",
        100.0 * f(&s["reference_agreement"])
    );
}

fn encoder_layer() {
    let cfg = Config::from_toml_str(CFG).unwrap();
    let mut rng = SplitMix64::new(10);
    let (tok, dim, heads, mlp) = (197, 192, 3, 768);
    let model = encoder(&mut rng, tok, dim, heads, mlp);
    let x: Vec<i64> = (0..tok * dim).map(|_| rng.range_i64(-60, 60)).collect();
    let t0 = Instant::now();
    let c = compile(&cfg, &model).unwrap();
    let compile_s = t0.elapsed().as_secs_f64();
    let want = model.evaluate(&cfg, &x).unwrap();
    let mut gold = Machine::new(&cfg, c.image(&x), 0).unwrap();
    let out = gold.run(c.prog_addr, c.program.instrs.len() as u64);
    assert_eq!(out.fault, None);
    for (name, vals) in &want {
        assert_eq!(&c.read(&gold.dram, name), vals, "tensor {name}");
    }
    println!(
        "encoder layer {tok} tokens, dim {dim}, {heads} heads, MLP {mlp}: {} nodes, {} instructions, {} MACs, compiled in {compile_s:.3} s",
        c.node_instrs.len(),
        c.program.instrs.len(),
        out.stats.macs
    );
    let t0 = Instant::now();
    let hw = build_accel(&cfg).unwrap();
    eprintln!("accelerator model: {:.1} s", t0.elapsed().as_secs_f64());
    let timing = AccelTiming {
        mem_latency: 100,
        stall: 0.0,
        seed: 1,
        timeout: 500_000_000,
    };
    // Each node alone, from golden's image after the previous node.
    let mut image = c.image(&x);
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    println!(
        "{:<10} {:<10} {:>8} {:>10}",
        "node", "op", "instrs", "cycles"
    );
    for (name, op, range) in &c.node_instrs {
        let mut instrs: Vec<Instr> = c.program.instrs[range.clone()].to_vec();
        instrs.push(Instr::new(Op::Halt));
        let p = Program { instrs };
        let bytes = p.to_bytes();
        let at = c.prog_addr as usize;
        image[at..at + bytes.len()].copy_from_slice(&bytes);
        let mut g = Machine::new(&cfg, image.clone(), 0).unwrap();
        assert_eq!(g.run(c.prog_addr, p.instrs.len() as u64).fault, None);
        let r = run_accel(
            &hw,
            &cfg,
            image.clone(),
            c.prog_addr,
            p.instrs.len() as u32,
            &timing,
        )
        .unwrap();
        assert!(
            r.error_code == 0 && r.dram == g.dram,
            "node {name}: RTL differs from golden"
        );
        println!("{name:<10} {op:<10} {:>8} {:>10}", range.len(), r.cycles);
        *kinds.entry(op).or_insert(0) += r.cycles;
        image = g.dram;
    }
    let total: u64 = kinds.values().sum();
    println!();
    for (op, cy) in &kinds {
        println!(
            "{op:<10} {cy:>10} cycles ({:.1}%)",
            100.0 * *cy as f64 / total as f64
        );
    }
    let t0 = Instant::now();
    let r = run_accel(
        &hw,
        &cfg,
        c.image(&x),
        c.prog_addr,
        c.program.instrs.len() as u32,
        &timing,
    )
    .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert!(
        r.error_code == 0 && r.dram == gold.dram,
        "the whole program differs from golden"
    );
    let util = out.stats.macs as f64 / (256.0 * r.cycles as f64);
    println!(
        "\nwhole layer: {} cycles (node by node {total}), array utilization {util:.3} (target 0.8: {}), bit-exact, {:.2} M cycles/s simulated",
        r.cycles,
        if util >= 0.8 { "met" } else { "missed" },
        r.cycles as f64 / secs / 1e6
    );
}
