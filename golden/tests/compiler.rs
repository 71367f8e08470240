//! The model compiler against the op-by-op golden evaluation: random valid graphs
//! (linear with every activation, add, layernorm, softmax; shapes that are not
//! multiples of the array; batches when rows do not fit the scratchpad) compiled and
//! run on the instruction-level model leave every tensor equal to `Model::evaluate`;
//! and models the hardware cannot run fail with the node named.

use std::collections::BTreeMap;

use accgen_golden::compiler::compile;
use accgen_golden::config::Config;
use accgen_golden::isa::Act;
use accgen_golden::machine::Machine;
use accgen_golden::model::{random_chain, HeadLayout, Model, Node, NodeKind, TensorInfo};
use accgen_golden::requant::{requant, PerChannel, RequantConfig};
use accgen_golden::rng::SplitMix64;

const CFG: &str = "[array]\nrows = 4\ncols = 4\n\
[requant]\nin_bits = 32\nout_bits = 8\n\
[gelu]\nin_bits = 8\nin_frac = 4\nout_bits = 8\nout_frac = 4\n\
[softmax]\nmax_len = 64\nin_bits = 8\nin_frac = 4\nout_bits = 8\n\
[layernorm]\nmax_len = 64\n\
[residual]\n\
[accel]\nspad_kib = 16\nacc_kib = 8\n";

fn t8(rows: u32, cols: u32) -> TensorInfo {
    TensorInfo {
        rows,
        cols,
        bits: 8,
        signed: true,
        frac: 4,
    }
}

#[test]
fn random_graphs_equal_the_op_by_op_evaluation() {
    let cfg = Config::from_toml_str(CFG).unwrap();
    let mut rng = SplitMix64::new(12);
    let mut kinds = BTreeMap::new();
    for g in 0..60 {
        // Mostly small; some with rows that need several batches.
        let rows = if g % 10 == 9 {
            rng.range_i64(200, 600)
        } else {
            rng.range_i64(1, 40)
        } as u32;
        let cols = rng.range_i64(1, 64) as u32;
        let len = rng.range_i64(1, 6) as usize;
        let model = random_chain(&mut rng, rows, cols, len);
        let x: Vec<i64> = (0..rows * cols).map(|_| rng.signed(8)).collect();
        let want = model.evaluate(&cfg, &x).unwrap();
        let c = compile(&cfg, &model).unwrap_or_else(|e| panic!("graph {g}: {e}"));
        let mut m = Machine::new(&cfg, c.image(&x), 0).unwrap();
        let out = m.run(c.prog_addr, c.program.instrs.len() as u64);
        if out.fault.is_some() && std::env::var("ACCGEN_DEBUG").is_ok() {
            eprintln!("{:?}", c.node_instrs);
            eprintln!("{}", accgen_golden::asm::disassemble(&c.program));
        }
        assert_eq!(out.fault, None, "graph {g}");
        assert_eq!(out.uninit_reads, [], "graph {g}");
        for (name, vals) in &want {
            assert_eq!(&c.read(&m.dram, name), vals, "graph {g}: tensor {name}");
        }
        for (_, op, _) in &c.node_instrs {
            *kinds.entry(*op).or_insert(0) += 1;
        }
        // A reshape is its input's bytes.
        for nd in model.nodes.iter().filter(|n| n.kind == NodeKind::Reshape) {
            assert_eq!(c.tensors[&nd.output].addr, c.tensors[&nd.inputs[0]].addr);
        }
    }
    for op in ["linear", "add", "layernorm", "softmax", "reshape"] {
        assert!(kinds.get(op).copied().unwrap_or(0) >= 5, "{op}: {kinds:?}");
    }
}

#[test]
fn models_the_hardware_cannot_run_name_the_node() {
    let cfg = Config::from_toml_str(CFG).unwrap();
    let base = |kind: NodeKind, out: TensorInfo| {
        let mut tensors = BTreeMap::new();
        tensors.insert("x".to_string(), t8(4, 8));
        tensors.insert("y".to_string(), out);
        Model {
            tensors,
            nodes: vec![Node {
                name: "bad".into(),
                kind,
                inputs: vec!["x".into()],
                output: "y".into(),
            }],
            input: "x".into(),
            output: "y".into(),
        }
    };
    let lin = |wf: i32, act: Act| NodeKind::Linear {
        weight: vec![1; 8 * 3],
        weight_frac: wf,
        bias: None,
        act,
        transpose_out: false,
    };
    for (m, frag) in [
        (
            base(
                lin(4, Act::None),
                TensorInfo {
                    frac: 60,
                    ..t8(4, 3)
                },
            ),
            "shift x.frac + weight_frac - y.frac = -52 is outside the allowed range -16..=47",
        ),
        (
            base(lin(4, Act::None), t8(4, 5)),
            "output `y` is 4x5; x (4x8) times W (8x3) is 4x3",
        ),
        (
            base(
                lin(4, Act::Gelu),
                TensorInfo {
                    frac: 3,
                    ..t8(4, 3)
                },
            ),
            "the GELU unit gives signed int8 at 2^-4",
        ),
        (
            base(NodeKind::Softmax, t8(4, 8)),
            "[softmax] gives 4x8 uint8 at 2^-8",
        ),
        (
            base(
                NodeKind::Layernorm {
                    gamma: vec![1; 7],
                    beta: vec![0; 8],
                },
                t8(4, 8),
            ),
            "gamma has 7 entries; the rows have 8 channels",
        ),
    ] {
        let e = compile(&cfg, &m).unwrap_err();
        assert_eq!(e.node.as_deref(), Some("bad"), "{e}");
        assert!(e.to_string().contains(frag), "{e}");
    }
    // A softmax too long for the unit, an input nothing computes, a missing unit.
    let mut m = base(
        NodeKind::Softmax,
        TensorInfo {
            signed: false,
            frac: 8,
            ..t8(4, 8)
        },
    );
    m.tensors.insert("x".into(), t8(4, 80));
    m.tensors.insert(
        "y".into(),
        TensorInfo {
            signed: false,
            frac: 8,
            ..t8(4, 80)
        },
    );
    let e = compile(&cfg, &m).unwrap_err().to_string();
    assert!(
        e.contains("node `bad`: rows have 80 elements; [softmax] max_len is 64"),
        "{e}"
    );
    let mut m = base(NodeKind::Add, t8(4, 8));
    m.nodes[0].inputs = vec!["x".into(), "z".into()];
    let e = compile(&cfg, &m).unwrap_err().to_string();
    assert!(
        e.contains("input `z` is not computed before this node"),
        "{e}"
    );
    let no_ln = Config::from_toml_str("[array]\n[requant]\n[accel]\n").unwrap();
    let m = base(
        NodeKind::Layernorm {
            gamma: vec![1; 8],
            beta: vec![0; 8],
        },
        t8(4, 8),
    );
    let e = compile(&no_ln, &m).unwrap_err().to_string();
    assert!(e.contains("`layernorm` needs a [layernorm] section"), "{e}");
}

/// Multi-head attention: Q, K^T (a linear node with `transpose_out`, through the
/// transposed epilogue) and V projections, per head S_h = Q_h K^T_h (stacked by rows),
/// P = softmax(S) (7-bit probabilities, so the array takes them as activations),
/// O_h = P_h V_h (side by side): heads are strided views, no copies.
#[test]
fn attention_heads_equal_the_op_by_op_evaluation() {
    let cfg = Config::from_toml_str(
        "[array]\nrows = 4\ncols = 4\n[requant]\nin_bits = 32\nout_bits = 8\n\
         [softmax]\nmax_len = 64\nin_bits = 8\nin_frac = 4\nout_bits = 7\n\
         [accel]\nspad_kib = 16\nacc_kib = 8\n",
    )
    .unwrap();
    let mut rng = SplitMix64::new(44);
    let mut v_tiles = 0;
    for case in 0..12 {
        let t = rng.range_i64(1, 40) as u32;
        let d = rng.range_i64(1, 24) as u32;
        let dh = rng.range_i64(1, 8) as u32;
        let h = [1u32, 2, 3][case % 3];
        let hd = h * dh;
        let mm = |layout| NodeKind::Matmul {
            act: Act::None,
            heads: h,
            layout,
        };
        let mut tensors = BTreeMap::new();
        let ti = |rows, cols| t8(rows, cols);
        for (n, info) in [
            ("x", ti(t, d)),
            ("q", ti(t, hd)),
            ("kt", ti(hd, t)),
            ("v", ti(t, hd)),
            ("s", ti(h * t, t)),
            (
                "p",
                TensorInfo {
                    rows: h * t,
                    cols: t,
                    bits: 7,
                    signed: false,
                    frac: 7,
                },
            ),
            ("o", ti(t, hd)),
        ] {
            tensors.insert(n.to_string(), info);
        }
        let mut lin = |trans: bool| NodeKind::Linear {
            weight: (0..d * hd).map(|_| rng.signed(8)).collect(),
            weight_frac: 6,
            bias: None,
            act: Act::None,
            transpose_out: trans,
        };
        let node = |name: &str, kind, inputs: &[&str], output: &str| Node {
            name: name.into(),
            kind,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            output: output.into(),
        };
        let model = Model {
            tensors,
            nodes: vec![
                node("wq", lin(false), &["x"], "q"),
                node("wk", lin(true), &["x"], "kt"),
                node("wv", lin(false), &["x"], "v"),
                node("qk", mm(HeadLayout::Qk), &["q", "kt"], "s"),
                node("softmax", NodeKind::Softmax, &["s"], "p"),
                node("pv", mm(HeadLayout::Pv), &["p", "v"], "o"),
            ],
            input: "x".into(),
            output: "o".into(),
        };
        let x: Vec<i64> = (0..t * d).map(|_| rng.signed(8)).collect();
        let want = model.evaluate(&cfg, &x).unwrap();
        let c = compile(&cfg, &model).unwrap_or_else(|e| panic!("case {case}: {e}"));
        // K^T is only read as B: stored column-tiled, as weights are; V too when the
        // heads start on tile boundaries.
        assert_eq!(c.tensors["kt"].tile, 4, "case {case}");
        let v_tiled = h == 1 || dh.is_multiple_of(4);
        assert_eq!(
            c.tensors["v"].tile,
            if v_tiled { 4 } else { 0 },
            "case {case}"
        );
        v_tiles += v_tiled as usize;
        let mut m = Machine::new(&cfg, c.image(&x), 0).unwrap();
        let out = m.run(c.prog_addr, c.program.instrs.len() as u64);
        assert_eq!(out.fault, None, "case {case}");
        assert_eq!(out.uninit_reads, [], "case {case}");
        for (name, vals) in &want {
            assert_eq!(&c.read(&m.dram, name), vals, "case {case}: tensor {name}");
        }
        // The head layout, checked naively: S[hh*t + i][j] = requant(sum over the
        // head's d columns of Q[i][hh*dh + c] * K^T[hh*dh + c][j]), shift 4 + 4 - 4.
        let rq = RequantConfig {
            shift: PerChannel::Tensor(4),
            ..cfg.requant.clone().unwrap()
        };
        let (q, kt, sv) = (&want["q"], &want["kt"], &want["s"]);
        let (t, hd, dh) = (t as usize, hd as usize, dh as usize);
        for hh in 0..h as usize {
            for i in 0..t {
                for j in 0..t {
                    let acc: i64 = (0..dh)
                        .map(|c| q[i * hd + hh * dh + c] * kt[(hh * dh + c) * t + j])
                        .sum();
                    assert_eq!(
                        sv[(hh * t + i) * t + j],
                        requant(&rq, 0, acc),
                        "case {case}"
                    );
                }
            }
        }
    }
    assert!(v_tiles > 0 && v_tiles < 12, "both V layouts: {v_tiles}");
}
