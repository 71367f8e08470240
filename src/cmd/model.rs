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
//! op = "linear"            # linear | matmul | add | layernorm | softmax | reshape
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
//! `layernorm` nodes name `gamma` and `beta` files (one entry per channel), optionally
//! with `gamma_frac` (the gamma file's fraction bits, converted exactly to
//! `layernorm.gamma_frac`) and `eps` (checked against `layernorm.eps`). A linear with
//! `act = "gelu"` may record `gelu_in_frac` (checked against `gelu.in_frac`).
//! `reshape` nodes reinterpret their input's elements, row-major, as the output's
//! shape (no instruction). Every error names the node, the field or the file.

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
    /// Fraction bits of the gamma file (default: `layernorm.gamma_frac`).
    gamma_frac: Option<i32>,
    beta: Option<String>,
    /// The model's LayerNorm epsilon (checked against `layernorm.eps`).
    eps: Option<f64>,
    /// The pre-GELU scale of a GELU-fused linear (checked against `gelu.in_frac`).
    gelu_in_frac: Option<i32>,
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

/// LayerNorm gammas at `gamma_frac` fraction bits, at the unit's `layernorm.gamma_frac`
/// (exactly, or an error).
fn gammas_for(cfg: &Config, node: &str, g: Vec<i64>, gamma_frac: Option<i32>) -> Result<Vec<i64>> {
    let (Some(f), Some(ln)) = (gamma_frac, cfg.layernorm.as_ref()) else {
        return Ok(g);
    };
    let want = ln.gamma_frac as i32;
    if f <= want {
        Ok(g.iter().map(|&v| v << (want - f)).collect())
    } else {
        let d = 1i64 << (f - want);
        if let Some(v) = g.iter().find(|&&v| v % d != 0) {
            bail!(
                "node `{node}`: gamma {v} at 2^-{f} is not exact at the unit's 2^-{want} (layernorm.gamma_frac); raise gamma_frac to {f}"
            );
        }
        Ok(g.iter().map(|&v| v / d).collect())
    }
}

/// Check a model node's recorded unit formats against `cfg`.
fn check_unit_formats(cfg: &Config, n: &NodeSpec) -> Result<()> {
    if let (Some(e), Some(ln)) = (n.eps, cfg.layernorm.as_ref()) {
        if (e - ln.eps.0).abs() > 1e-6 * e.abs().max(ln.eps.0.abs()) {
            bail!(
                "node `{}`: the model's LayerNorm eps is {e:e}; the unit's (layernorm.eps) is {:e}; set layernorm.eps = {e:e}",
                n.name,
                ln.eps.0
            );
        }
    }
    if let (Some(f), Some(g)) = (n.gelu_in_frac, cfg.gelu.as_ref()) {
        if f != g.in_frac as i32 {
            bail!(
                "node `{}`: the model quantizes GELU's input at 2^-{f}; the unit's gelu.in_frac is {}; set gelu.in_frac = {f}",
                n.name,
                g.in_frac
            );
        }
    }
    Ok(())
}

/// Load a model directory (gammas converted to `cfg`'s LayerNorm format).
pub fn load_model(dir: &Path, cfg: &Config) -> Result<Model> {
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
            "reshape" => NodeKind::Reshape,
            "layernorm" => NodeKind::Layernorm {
                gamma: gammas_for(
                    cfg,
                    &n.name,
                    read_ints(dir, &need(&n.gamma, "gamma")?, &n.name, "gamma", 1)?.data,
                    n.gamma_frac,
                )?,
                beta: read_ints(dir, &need(&n.beta, "beta")?, &n.name, "beta", 1)?.data,
            },
            other => bail!(
                "node `{}`: op `{other}` is not supported by this accelerator compiler (supported: linear, matmul, add, layernorm, softmax, reshape)",
                n.name
            ),
        };
        check_unit_formats(cfg, n)?;
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

/// The smallest signed `.npy` dtype that holds every value.
fn dtype_for(values: &[i64]) -> Dtype {
    let fits = |bits: u32| {
        values
            .iter()
            .all(|&v| accgen_golden::num::fits_signed(v as i128, bits))
    };
    if fits(8) {
        Dtype::I8
    } else if fits(16) {
        Dtype::I16
    } else if fits(32) {
        Dtype::I32
    } else {
        Dtype::I64
    }
}

/// Write `m` as a model directory (`model.toml` and `.npy` weights) into `dir`, which
/// must exist (fuzzing writes its random models so; `reshape`, `linear`, `add`,
/// `layernorm` and `softmax` nodes).
pub(crate) fn write_model_dir(m: &Model, dir: &Path) -> Result<()> {
    let q = |s: &str| format!("\"{s}\"");
    let mut t = format!(
        "[model]\ninput = {}\noutput = {}\n\n[tensors]\n",
        q(&m.input),
        q(&m.output)
    );
    for (name, ti) in &m.tensors {
        let (dtype, full) = match (ti.bits, ti.signed) {
            (..=8, true) => ("int8", 8),
            (..=8, false) => ("uint8", 8),
            (..=16, true) => ("int16", 16),
            (..=16, false) => ("uint16", 16),
            _ => ("int32", 32),
        };
        let bits = if ti.bits == full {
            String::new()
        } else {
            format!(", bits = {}", ti.bits)
        };
        t += &format!(
            "{} = {{ shape = [{}, {}], dtype = \"{dtype}\", frac = {}{bits} }}\n",
            q(name),
            ti.rows,
            ti.cols,
            ti.frac
        );
    }
    let mut files: Vec<(String, NpyArray)> = Vec::new();
    let mut file = |stem: String, shape: Vec<usize>, data: &[i64]| -> String {
        let f = format!("{stem}.npy");
        files.push((
            f.clone(),
            NpyArray {
                dtype: dtype_for(data),
                shape,
                data: data.to_vec(),
            },
        ));
        f
    };
    for n in &m.nodes {
        let inputs: Vec<String> = n.inputs.iter().map(|i| q(i)).collect();
        t += &format!(
            "\n[[nodes]]\nname = {}\nop = \"{}\"\ninputs = [{}]\noutput = {}\n",
            q(&n.name),
            n.kind.op_name(),
            inputs.join(", "),
            q(&n.output)
        );
        match &n.kind {
            NodeKind::Linear {
                weight,
                weight_frac,
                bias,
                act,
                transpose_out,
            } => {
                let k = m.tensors[&n.inputs[0]].cols as usize;
                let w = file(
                    format!("{}.weight", n.name),
                    vec![k, weight.len() / k.max(1)],
                    weight,
                );
                t += &format!("weight = {}\nweight_frac = {weight_frac}\n", q(&w));
                if let Some(b) = bias {
                    let f = file(format!("{}.bias", n.name), vec![b.len()], b);
                    t += &format!("bias = {}\n", q(&f));
                }
                let act = match act {
                    Act::None => "none",
                    Act::Relu => "relu",
                    Act::Gelu => "gelu",
                };
                t += &format!("act = \"{act}\"\ntranspose_out = {transpose_out}\n");
            }
            NodeKind::Layernorm { gamma, beta } => {
                let g = file(format!("{}.gamma", n.name), vec![gamma.len()], gamma);
                let b = file(format!("{}.beta", n.name), vec![beta.len()], beta);
                t += &format!("gamma = {}\nbeta = {}\n", q(&g), q(&b));
            }
            NodeKind::Add | NodeKind::Softmax | NodeKind::Reshape => {}
            NodeKind::Matmul { .. } => {
                bail!(
                    "node `{}`: matmul nodes are not written (a fuzzer limit)",
                    n.name
                )
            }
        }
    }
    for (f, a) in &files {
        npy::write(&dir.join(f), a)?;
    }
    std::fs::write(dir.join("model.toml"), t)?;
    Ok(())
}

/// The `.npy` dtype of a placed tensor's elements.
fn dtype_of(t: &accgen_golden::compiler::Placed) -> Dtype {
    match (t.elem_bytes, t.signed) {
        (1, true) => Dtype::I8,
        (1, false) => Dtype::U8,
        (2, true) => Dtype::I16,
        (2, false) => Dtype::U16,
        _ => Dtype::I32,
    }
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

pub(crate) fn compile_timed(cfg: &Config, dir: &Path) -> Result<(Model, Compiled, f64)> {
    let model = load_model(dir, cfg)?;
    let t0 = std::time::Instant::now();
    let c = compile(cfg, &model).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((model, c, t0.elapsed().as_secs_f64()))
}

/// `accgen compile`: `program.bin`, `program.s`, `layout.json`, and for drivers
/// `dram.bin` (the initial DRAM image with the input zero) and `dram.txt` (offsets).
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
    // For drivers: the DRAM image (constants and program; the input left zero) and
    // the offsets a host needs, as `key value` lines.
    let xi = &c.tensors[&c.io.0];
    let yo = &c.tensors[&c.io.1];
    od.write("dram.bin", &c.image(&vec![0; (xi.rows * xi.cols) as usize]))?;
    let txt = format!(
        "dram_bytes {}\nprog_offset {}\nprog_len {}\ninput_offset {}\ninput_elems {}\ninput_elem_bytes {}\noutput_offset {}\noutput_rows {}\noutput_cols {}\noutput_elem_bytes {}\noutput_signed {}\noutput_bits {}\n",
        c.dram_bytes,
        c.prog_addr,
        c.program.instrs.len(),
        xi.addr,
        xi.rows * xi.cols,
        xi.elem_bytes,
        yo.addr,
        yo.rows,
        yo.cols,
        yo.elem_bytes,
        yo.signed as u8,
        yo.bits,
    );
    od.write("dram.txt", txt.as_bytes())?;
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
    let batch = read_batch(input, xi.rows as usize, xi.cols as usize, &model.input)?;
    let x = match batch {
        Inputs::One(x) => x,
        Inputs::Batch(b) => return run_batch(args, cfg, &model, &c, secs, b),
    };
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
        let mut lib = accgen_hw::rtl::Library::new();
        let top = accgen_hw::accel::top::accel_top(&mut lib, cfg)?;
        let (hw, _) = super::sim::build_model(&top, args.vcd, None)?;
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
    let dtype = dtype_of(y);
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

/// Reference data that comes with a batch of inputs (from an `.npz`).
pub(crate) struct Batch {
    /// One input per sample, row-major.
    pub(crate) xs: Vec<Vec<i64>>,
    /// True labels (`y`).
    labels: Option<Vec<i64>>,
    /// A reference's top-1 predictions (`ort_pred`).
    ref_pred: Option<Vec<i64>>,
    /// A reference's outputs times 2^10 (`ort_out_x1024`), per sample.
    ref_out: Option<Vec<Vec<i64>>>,
}

pub(crate) enum Inputs {
    One(NpyArray),
    Batch(Batch),
}

/// `--input`: one `rows x cols` array, a batch `[N, ...]` of them (`.npy`), or an
/// `.npz` with the batch `x` and optionally `y`, `ort_pred` and `ort_out_x1024`.
pub(crate) fn read_batch(path: &Path, rows: usize, cols: usize, name: &str) -> Result<Inputs> {
    let want = format!("the model input `{name}` is [{rows}, {cols}]");
    // A sample's shape matches when its elements are rows x cols with cols last.
    let sample_ok = |s: &[usize]| {
        s.iter().product::<usize>() == rows * cols && s.last() == Some(&cols)
            || (s.len() <= 1 && rows == 1 && s.iter().product::<usize>() == cols)
    };
    let split = |a: &NpyArray, what: &str| -> Result<Vec<Vec<i64>>> {
        if a.shape.is_empty() || !sample_ok(&a.shape[1..]) {
            bail!(
                "{what} has shape {:?}; expected [N, ...] with samples of {rows}x{cols} ({want})",
                a.shape
            );
        }
        Ok(a.data.chunks(rows * cols).map(|c| c.to_vec()).collect())
    };
    if path.extension().is_some_and(|e| e == "npz") {
        let arrays = npy::read_npz(path).context("reading --input")?;
        let get = |k: &str| arrays.iter().find(|(n, _)| n == k).map(|(_, a)| a);
        let x = get("x").with_context(|| format!("--input {} has no array `x`", path.display()))?;
        let xs = split(x, "--input's `x`")?;
        let n = xs.len();
        let vec1 = |k: &str| -> Result<Option<Vec<i64>>> {
            match get(k) {
                None => Ok(None),
                Some(a) if a.shape == [n] => Ok(Some(a.data.clone())),
                Some(a) => bail!("--input's `{k}` has shape {:?}; expected [{n}]", a.shape),
            }
        };
        let ref_out = match get("ort_out_x1024") {
            None => None,
            Some(a) if a.shape.first() == Some(&n) => Some(
                a.data
                    .chunks(a.data.len() / n.max(1))
                    .map(|c| c.to_vec())
                    .collect(),
            ),
            Some(a) => bail!(
                "--input's `ort_out_x1024` has shape {:?}; expected [{n}, ...]",
                a.shape
            ),
        };
        return Ok(Inputs::Batch(Batch {
            xs,
            labels: vec1("y")?,
            ref_pred: vec1("ort_pred")?,
            ref_out,
        }));
    }
    let x = npy::read(path).context("reading --input")?;
    if x.shape == [rows, cols] {
        return Ok(Inputs::One(x));
    }
    if x.shape.len() >= 2 && sample_ok(&x.shape[1..]) {
        return Ok(Inputs::Batch(Batch {
            xs: split(&x, "--input")?,
            labels: None,
            ref_pred: None,
            ref_out: None,
        }));
    }
    bail!(
        "--input has shape {:?}; {want} (or a batch [N, {rows}, {cols}])",
        x.shape
    )
}

/// The index of the first largest value.
fn argmax(v: &[i64]) -> i64 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as i64
}

/// `accgen run --model` over a batch: `--json` and `--out` from [`run_samples`].
fn run_batch(
    args: &super::run::RunArgs,
    cfg: &Config,
    model: &Model,
    c: &Compiled,
    secs: f64,
    b: Batch,
) -> Result<()> {
    let timing = (!args.golden_only).then(|| super::run::timing_of(args));
    let (stats, outs) = run_samples(cfg, model, c, secs, &b, timing)?;
    if let Some(j) = args.json {
        super::sim::write_stats(j, &stats)?;
    }
    if let Some(p) = args.out {
        let y = c.tensors[&model.output];
        let dtype = dtype_of(&y);
        npy::write(
            p,
            &NpyArray {
                dtype,
                shape: vec![outs.len(), y.rows as usize, y.cols as usize],
                data: outs.concat(),
            },
        )?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

/// Run every sample of a batch on golden (checked against the op-by-op evaluation)
/// and, with `timing`, on the RTL (every DRAM byte compared; the seed advances per
/// sample); print and return the statistics (cycles, utilization, accuracy and
/// agreement with the reference when the batch has them) and the outputs.
pub(crate) fn run_samples(
    cfg: &Config,
    model: &Model,
    c: &Compiled,
    secs: f64,
    b: &Batch,
    timing: Option<accgen_sim::accel::AccelTiming>,
) -> Result<(serde_json::Value, Vec<Vec<i64>>)> {
    let n = b.xs.len();
    let hw = match timing {
        None => None,
        Some(_) => {
            eprintln!("building the accelerator's Verilator model ...");
            Some(accgen_sim::accel::build_accel(cfg)?)
        }
    };
    println!(
        "compiled {} nodes into {} instructions in {:.3} s; running {n} samples on golden{}",
        c.node_instrs.len(),
        c.program.instrs.len(),
        secs,
        if hw.is_some() { " and the RTL" } else { "" }
    );
    let mut prog = crate::progress::Progress::new("samples", "samples", n as u64);
    let mut outs: Vec<Vec<i64>> = Vec::with_capacity(n);
    let mut cycles: Vec<u64> = Vec::new();
    let mut macs = 0u64;
    let wall = std::time::Instant::now();
    for (i, x) in b.xs.iter().enumerate() {
        let want = model
            .evaluate(cfg, x)
            .map_err(|e| anyhow::anyhow!("sample {i}: {e}"))?;
        let dram = c.image(x);
        let mut gold = Machine::new(cfg, dram.clone(), 0)?;
        let out = gold.run(c.prog_addr, c.program.instrs.len() as u64);
        if let Some(f) = &out.fault {
            bail!("sample {i}: the compiled program failed on the golden model: {f}");
        }
        macs = out.stats.macs;
        for (name, vals) in &want {
            if &c.read(&gold.dram, name) != vals {
                bail!("sample {i}: tensor `{name}`: the compiled program differs from the op-by-op evaluation (a compiler bug)");
            }
        }
        if let (Some(hw), Some(t)) = (&hw, &timing) {
            let mut t = t.clone();
            t.seed = t.seed.wrapping_add(i as u64);
            let r = accgen_sim::accel::run_accel(
                hw,
                cfg,
                dram,
                c.prog_addr,
                c.program.instrs.len() as u32,
                &t,
            )?;
            if r.error_code != 0 {
                bail!(
                    "sample {i}: the RTL ended with error code {} (golden ran clean)",
                    r.error_code
                );
            }
            if let Some(at) = (0..r.dram.len()).find(|&a| r.dram[a] != gold.dram[a]) {
                bail!(
                    "RTL and golden differ: sample {i}: DRAM byte {at:#x} is {:#04x} after the RTL and {:#04x} after golden",
                    r.dram[at],
                    gold.dram[at]
                );
            }
            cycles.push(r.cycles);
        }
        outs.push(c.read(&gold.dram, &model.output));
        prog.set(i as u64 + 1);
    }
    prog.finish();
    let pred: Vec<i64> = outs.iter().map(|o| argmax(o)).collect();
    let frac = |hits: usize| hits as f64 / n.max(1) as f64;
    let mut stats = json!({
        "samples": n,
        "nodes": c.node_instrs.len(),
        "instructions": c.program.instrs.len(),
        "compile_s": secs,
        "macs_per_sample": macs,
        "golden_matches_op_by_op": true,
    });
    if !cycles.is_empty() {
        let mean = cycles.iter().sum::<u64>() as f64 / cycles.len() as f64;
        let arr = cfg.array.as_ref().map_or(1, |a| a.rows * a.cols) as f64;
        let util = macs as f64 / (arr * mean);
        println!(
            "RTL: all {n} samples bit-exact against golden; cycles per sample {} min, {:.0} mean, {} max; array utilization {util:.3}; {:.0} samples/s at 300 MHz; simulated {:.1} samples/s",
            cycles.iter().min().expect("n > 0"),
            mean,
            cycles.iter().max().expect("n > 0"),
            300e6 / mean,
            n as f64 / wall.elapsed().as_secs_f64()
        );
        merge_json(
            &mut stats,
            json!({"rtl_bit_exact": true,
                   "cycles_per_sample": {"min": cycles.iter().min(), "mean": mean, "max": cycles.iter().max()},
                   "array_utilization": util,
                   "samples_per_s_at_300mhz": 300e6 / mean}),
        );
    }
    if let Some(labels) = &b.labels {
        let acc = frac(pred.iter().zip(labels).filter(|(p, l)| p == l).count());
        println!("top-1 accuracy: {:.2}% ({n} samples)", 100.0 * acc);
        merge_json(&mut stats, json!({"accuracy": acc}));
        if let Some(r) = &b.ref_pred {
            let racc = frac(r.iter().zip(labels).filter(|(p, l)| p == l).count());
            println!(
                "reference (onnxruntime) accuracy: {:.2}%; difference {:+.2} percentage points",
                100.0 * racc,
                100.0 * (acc - racc)
            );
            merge_json(&mut stats, json!({"reference_accuracy": racc}));
        }
    }
    if let Some(r) = &b.ref_pred {
        let agree = frac(pred.iter().zip(r).filter(|(p, q)| p == q).count());
        println!("top-1 agreement with the reference: {:.2}%", 100.0 * agree);
        merge_json(&mut stats, json!({"reference_agreement": agree}));
    }
    if let Some(ro) = &b.ref_out {
        // The reference's outputs are times 2^10; ours are at 2^-frac.
        let sh = 10 - model.tensors[&model.output].frac;
        if (0..=20).contains(&sh) {
            let mut worst = 0i64;
            let mut exact = 0usize;
            let mut total = 0usize;
            for (o, r) in outs.iter().zip(ro) {
                for (&a, &b) in o.iter().zip(r) {
                    let d = (a * (1 << sh) - b).abs();
                    worst = worst.max(d);
                    exact += (d == 0) as usize;
                    total += 1;
                }
            }
            let lsb = (1i64 << sh) as f64;
            println!(
                "outputs against the reference: {:.2}% equal, largest difference {} LSB",
                100.0 * exact as f64 / total.max(1) as f64,
                worst as f64 / lsb
            );
            merge_json(
                &mut stats,
                json!({"reference_outputs_equal": exact as f64 / total.max(1) as f64, "reference_outputs_max_lsb": worst as f64 / lsb}),
            );
        }
    }
    Ok((stats, outs))
}
