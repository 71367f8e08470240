//! Model directories (`model.toml` plus `.npy` weights), `accgen compile`, and
//! `accgen run --model`.
//!
//! ```toml
//! [model]
//! input = "x"
//! output = "y"
//!
//! [tensors]
//! x = { shape = [16, 64], dtype = "int8", frac = 4 }
//! p = { shape = [16, 16], dtype = "uint8", bits = 7, frac = 7 }   # 7-bit values
//! h = { shape = [16, 32], dtype = "int8", frac = 4 }
//!
//! [[nodes]]
//! name = "fc1"
//! op = "linear"            # linear | matmul | add | layernorm | softmax
//! inputs = ["x"]
//! output = "h"
//! weight = "fc1.weight.npy"  # K x N, signed
//! weight_frac = 6
//! bias = "fc1.bias.npy"      # optional, N, at scale 2^-(x.frac + weight_frac)
//! act = "relu"               # none | relu | gelu
//! transpose_out = false      # optional: write y transposed (N x M), e.g. K^T
//! ```
//! `matmul` nodes take two activations (`inputs = ["a", "b"]`), an optional `act`,
//! and for attention `heads = H` with `head_layout = "qk"` (A `M x H*d` by column
//! blocks, B `H*d x N` by row blocks, Y `H*M x N`) or `"pv"` (A `H*M x K` by row
//! blocks, B `K x H*d` by column blocks, Y `M x H*d`).
//! `layernorm` nodes name `gamma` and `beta` files (one entry per channel). Every
//! error names the node, the field or the file.

use std::collections::BTreeMap;
use std::path::Path;

use accgen_golden::compiler::{compile, Compiled};
use accgen_golden::config::Config;
use accgen_golden::isa::Act;
use accgen_golden::machine::Machine;
use accgen_golden::model::{HeadLayout, Model, Node, NodeKind, TensorInfo};
use accgen_sim::npy::{self, Dtype, NpyArray};
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::json;

use crate::outdir::OutputDir;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    model: Header,
    tensors: BTreeMap<String, TensorSpec>,
    nodes: Vec<NodeSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    #[serde(default)]
    name: Option<String>,
    input: String,
    output: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorSpec {
    shape: Vec<u32>,
    dtype: String,
    frac: i32,
    /// Fewer value bits than the dtype holds (for example 7-bit probabilities).
    bits: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSpec {
    name: String,
    op: String,
    inputs: Vec<String>,
    output: String,
    weight: Option<String>,
    weight_frac: Option<i32>,
    bias: Option<String>,
    act: Option<String>,
    transpose_out: Option<bool>,
    heads: Option<u32>,
    head_layout: Option<String>,
    gamma: Option<String>,
    beta: Option<String>,
}

/// Read a signed integer `.npy` of `dims` dimensions, named for messages.
fn read_ints(dir: &Path, file: &str, node: &str, field: &str, dims: usize) -> Result<NpyArray> {
    let path = dir.join(file);
    let a = npy::read(&path)
        .with_context(|| format!("node `{node}`: reading `{field}` ({})", path.display()))?;
    if !matches!(a.dtype, Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64) {
        bail!(
            "node `{node}`: `{field}` ({}) has dtype {}; expected a signed integer array",
            path.display(),
            a.dtype.name()
        );
    }
    if a.shape.len() != dims {
        bail!(
            "node `{node}`: `{field}` ({}) has shape {:?}; expected {dims} dimension(s)",
            path.display(),
            a.shape
        );
    }
    Ok(a)
}

fn parse_act(n: &NodeSpec) -> Result<Act> {
    Ok(match n.act.as_deref().unwrap_or("none") {
        "none" => Act::None,
        "relu" => Act::Relu,
        "gelu" => Act::Gelu,
        other => bail!(
            "node `{}`: act = `{other}` is not supported (none, relu, gelu)",
            n.name
        ),
    })
}

/// Load a model directory.
pub fn load_model(dir: &Path) -> Result<Model> {
    let path = dir.join("model.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the model file {}", path.display()))?;
    let f: ModelFile =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if let Some(name) = &f.model.name {
        eprintln!(
            "model `{name}`: {} tensors, {} nodes",
            f.tensors.len(),
            f.nodes.len()
        );
    }
    let mut tensors = BTreeMap::new();
    for (name, t) in &f.tensors {
        let (bits, signed) = match t.dtype.as_str() {
            "int8" => (8, true),
            "int16" => (16, true),
            "int32" => (32, true),
            "uint8" => (8, false),
            "uint16" => (16, false),
            other => bail!(
                "tensor `{name}`: dtype `{other}` is not supported (int8, int16, int32, uint8, uint16)"
            ),
        };
        let bits = match t.bits {
            Some(b) if (2..=bits).contains(&b) => b,
            Some(b) => bail!(
                "tensor `{name}`: bits = {b} is outside the allowed range 2..={bits} (dtype {})",
                t.dtype
            ),
            None => bits,
        };
        if t.shape.len() != 2 || t.shape.contains(&0) {
            bail!(
                "tensor `{name}`: shape {:?} must be [rows, cols] with both at least 1",
                t.shape
            );
        }
        if !(-32..=32).contains(&t.frac) {
            bail!("tensor `{name}`: frac = {} is outside -32..=32", t.frac);
        }
        tensors.insert(
            name.clone(),
            TensorInfo {
                rows: t.shape[0],
                cols: t.shape[1],
                bits,
                signed,
                frac: t.frac,
            },
        );
    }
    let mut nodes = Vec::new();
    for n in &f.nodes {
        let need = |v: &Option<String>, field: &str| -> Result<String> {
            v.clone()
                .with_context(|| format!("node `{}`: `{}` needs the field `{field}`", n.name, n.op))
        };
        let kind = match n.op.as_str() {
            "linear" => {
                let w = read_ints(dir, &need(&n.weight, "weight")?, &n.name, "weight", 2)?;
                let bias = match &n.bias {
                    Some(b) => {
                        let b = read_ints(dir, b, &n.name, "bias", 1)?;
                        if b.shape[0] != w.shape[1] {
                            bail!(
                                "node `{}`: the bias has {} entries; the weight is {}x{} (K x N)",
                                n.name,
                                b.shape[0],
                                w.shape[0],
                                w.shape[1]
                            );
                        }
                        Some(b.data)
                    }
                    None => None,
                };
                let act = parse_act(n)?;
                if let Some(x) = n.inputs.first().and_then(|i| tensors.get(i)) {
                    if w.shape[0] != x.cols as usize {
                        bail!(
                            "node `{}`: the weight is {}x{}; K must equal the input's {} columns",
                            n.name,
                            w.shape[0],
                            w.shape[1],
                            x.cols
                        );
                    }
                }
                NodeKind::Linear {
                    weight: w.data,
                    weight_frac: n.weight_frac.with_context(|| {
                        format!("node `{}`: `linear` needs the field `weight_frac`", n.name)
                    })?,
                    bias,
                    act,
                    transpose_out: n.transpose_out.unwrap_or(false),
                }
            }
            "matmul" => NodeKind::Matmul {
                act: parse_act(n)?,
                heads: n.heads.unwrap_or(1),
                layout: match n.head_layout.as_deref().unwrap_or("qk") {
                    "qk" => HeadLayout::Qk,
                    "pv" => HeadLayout::Pv,
                    other => bail!(
                        "node `{}`: head_layout = `{other}` is not supported (qk, pv)",
                        n.name
                    ),
                },
            },
            "add" => NodeKind::Add,
            "softmax" => NodeKind::Softmax,
            "layernorm" => NodeKind::Layernorm {
                gamma: read_ints(dir, &need(&n.gamma, "gamma")?, &n.name, "gamma", 1)?.data,
                beta: read_ints(dir, &need(&n.beta, "beta")?, &n.name, "beta", 1)?.data,
            },
            other => bail!(
                "node `{}`: op `{other}` is not supported by this accelerator compiler (supported: linear, matmul, add, layernorm, softmax)",
                n.name
            ),
        };
        nodes.push(Node {
            name: n.name.clone(),
            kind,
            inputs: n.inputs.clone(),
            output: n.output.clone(),
        });
    }
    Ok(Model {
        tensors,
        nodes,
        input: f.model.input,
        output: f.model.output,
    })
}

/// The layout as JSON: every tensor's and constant's DRAM region, the program.
fn layout_json(c: &Compiled) -> serde_json::Value {
    let tensors: serde_json::Map<String, serde_json::Value> = c
        .tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                json!({
                    "addr": t.addr, "bytes": t.bytes(), "shape": [t.rows, t.cols],
                    "elem_bytes": t.elem_bytes, "bits": t.bits, "signed": t.signed, "tile": t.tile,
                }),
            )
        })
        .collect();
    let consts: serde_json::Map<String, serde_json::Value> = c
        .consts
        .iter()
        .map(|(n, a, b)| (n.clone(), json!({"addr": a, "bytes": b.len()})))
        .collect();
    json!({
        "input": c.io.0, "output": c.io.1,
        "tensors": tensors, "constants": consts,
        "program": {"addr": c.prog_addr, "instructions": c.program.instrs.len()},
        "dram_bytes": c.dram_bytes,
        "nodes": c.node_instrs.iter().map(|(n, op, r)| json!({"name": n, "op": op, "instructions": [r.start, r.end]})).collect::<Vec<_>>(),
    })
}

fn compile_timed(cfg: &Config, dir: &Path) -> Result<(Model, Compiled, f64)> {
    let model = load_model(dir)?;
    let t0 = std::time::Instant::now();
    let c = compile(cfg, &model).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((model, c, t0.elapsed().as_secs_f64()))
}

/// `accgen compile`.
pub fn compile_cmd(config: &Path, dir: &Path, out: &Path) -> Result<()> {
    let cfg = super::generate::load_config(config)?;
    let (_, c, secs) = compile_timed(&cfg, dir)?;
    let mut od = OutputDir::claim(out)?;
    od.write("program.bin", &c.program.to_bytes())?;
    od.write(
        "program.s",
        accgen_golden::asm::disassemble(&c.program).as_bytes(),
    )?;
    let lay = serde_json::to_string_pretty(&layout_json(&c))?;
    od.write("layout.json", lay.as_bytes())?;
    od.finish(serde_json::Map::new())?;
    println!(
        "compiled {} nodes into {} instructions in {:.3} s; DRAM {} bytes; wrote {}",
        c.node_instrs.len(),
        c.program.instrs.len(),
        secs,
        c.dram_bytes,
        out.display()
    );
    Ok(())
}

fn merge_json(base: &mut serde_json::Value, more: serde_json::Value) {
    super::run::merge(base, more)
}

/// Each node alone on the RTL: its instructions and a `halt`, from the DRAM image the
/// golden model left after the previous node; every node's image is compared with
/// golden's. Returns the per-node and per-op-kind cycles (JSON) and the first
/// mismatch.
fn per_node_cycles(
    args: &super::run::RunArgs,
    cfg: &Config,
    hw: &accgen_sim::Model,
    c: &Compiled,
    x: &[i64],
) -> Result<(serde_json::Value, Option<String>)> {
    use accgen_golden::isa::{Instr, Op, Program};
    let mut image = c.image(x);
    let mut rows = Vec::new();
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    let mut mismatch = None;
    eprintln!("running node by node on the RTL for per-op cycles ...");
    println!(
        "{:<24} {:<10} {:>8} {:>10}",
        "node", "op", "instrs", "cycles"
    );
    for (name, op, range) in &c.node_instrs {
        let mut instrs: Vec<Instr> = c.program.instrs[range.clone()].to_vec();
        instrs.push(Instr::new(Op::Halt));
        let p = Program { instrs };
        let bytes = p.to_bytes();
        let at = c.prog_addr as usize;
        image[at..at + bytes.len()].copy_from_slice(&bytes);
        let mut gold = Machine::new(cfg, image.clone(), 0)?;
        let out = gold.run(c.prog_addr, p.instrs.len() as u64);
        if let Some(f) = out.fault {
            bail!("node `{name}` alone failed on the golden model: {f}");
        }
        let r = accgen_sim::accel::run_accel(
            hw,
            cfg,
            image.clone(),
            c.prog_addr,
            p.instrs.len() as u32,
            &super::run::timing_of(args),
        )?;
        if mismatch.is_none() {
            if r.error_code != 0 {
                mismatch = Some(format!(
                    "node `{name}` alone ended with RTL error code {}",
                    r.error_code
                ));
            } else if let Some(b) = (0..r.dram.len()).find(|&b| r.dram[b] != gold.dram[b]) {
                mismatch = Some(format!(
                    "node `{name}` alone: DRAM byte {b:#x} is {:#04x} after the RTL and {:#04x} after golden",
                    r.dram[b], gold.dram[b]
                ));
            }
        }
        println!("{name:<24} {op:<10} {:>8} {:>10}", range.len(), r.cycles);
        *kinds.entry(op).or_insert(0) += r.cycles;
        rows.push(json!({"name": name, "op": op, "instructions": range.len(), "cycles": r.cycles}));
        image = gold.dram;
    }
    let total: u64 = kinds.values().sum();
    for (op, cy) in &kinds {
        println!(
            "{op:<10} {cy:>10} cycles ({:.1}%)",
            100.0 * *cy as f64 / total.max(1) as f64
        );
    }
    Ok((
        json!({"per_node": rows, "per_op_kind_cycles": kinds, "node_by_node_cycles": total}),
        mismatch,
    ))
}

/// `accgen run --model`: compile, run on golden (and the RTL unless golden-only),
/// compare, check the output against the op-by-op evaluation, write Y and stats.
pub fn run_model(args: &super::run::RunArgs, cfg: &Config, dir: &Path) -> Result<()> {
    let input = args
        .input
        .context("--model needs --input X.npy (the model input)")?;
    let (model, c, secs) = compile_timed(cfg, dir)?;
    let xi = model.tensors[&model.input];
    let x = npy::read(input).context("reading --input")?;
    if x.shape != [xi.rows as usize, xi.cols as usize] {
        bail!(
            "--input has shape {:?}; the model input `{}` is [{}, {}]",
            x.shape,
            model.input,
            xi.rows,
            xi.cols
        );
    }
    let want = model
        .evaluate(cfg, &x.data)
        .map_err(|e| anyhow::anyhow!("--input: {e}"))?;
    let dram = c.image(&x.data);
    let mut gold = Machine::new(cfg, dram.clone(), 0)?;
    let out = gold.run(c.prog_addr, c.program.instrs.len() as u64);
    if let Some(f) = &out.fault {
        bail!("the compiled program failed on the golden model: {f}");
    }
    for (name, vals) in &want {
        if &c.read(&gold.dram, name) != vals {
            bail!("tensor `{name}`: the compiled program differs from the op-by-op evaluation (a compiler bug)");
        }
    }
    println!(
        "compiled {} nodes into {} instructions in {:.3} s; golden: {} MACs, {} DRAM bytes read, {} written",
        c.node_instrs.len(),
        c.program.instrs.len(),
        secs,
        out.stats.macs,
        out.stats.dram_bytes_read,
        out.stats.dram_bytes_written
    );
    let mut stats = json!({
        "nodes": c.node_instrs.len(),
        "instructions": c.program.instrs.len(),
        "compile_s": secs,
        "macs": out.stats.macs,
        "golden_matches_op_by_op": true,
    });
    let mut mismatch = None;
    if !args.golden_only {
        eprintln!("building the accelerator's Verilator model ...");
        let mut opts = accgen_sim::SimOptions::new();
        if let Some(v) = args.vcd {
            opts = opts.trace(v);
        }
        let hw = accgen_sim::accel::build_accel_with(cfg, &opts)?;
        let (per_node, node_mismatch) = per_node_cycles(args, cfg, &hw, &c, &x.data)?;
        merge_json(&mut stats, per_node);
        let (m, rtl) = super::run::compare_on_rtl(
            &super::run::timing_of(args),
            Some(&hw),
            args.vcd,
            cfg,
            dram,
            c.prog_addr,
            c.program.instrs.len() as u32,
            &out,
            &gold,
        )?;
        mismatch = m.or(node_mismatch);
        super::run::merge(&mut stats, rtl);
    }
    if let Some(j) = args.json {
        super::sim::write_stats(j, &stats)?;
    }
    if let Some(m) = mismatch {
        bail!("RTL and golden differ: {m}");
    }
    let y = &c.tensors[&model.output];
    let dtype = match (y.elem_bytes, y.signed) {
        (1, true) => Dtype::I8,
        (1, false) => Dtype::U8,
        (2, true) => Dtype::I16,
        (2, false) => Dtype::U16,
        _ => Dtype::I32,
    };
    if let Some(p) = args.out {
        npy::write(
            p,
            &NpyArray {
                dtype,
                shape: vec![y.rows as usize, y.cols as usize],
                data: c.read(&gold.dram, &model.output),
            },
        )?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}
