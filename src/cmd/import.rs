//! `accgen import --onnx MODEL.onnx --out DIR`: a quantized ONNX graph to a model
//! directory (`model.toml` and `.npy` weights, see [`super::model`]).
//!
//! **Inputs.** QCDQ graphs as Brevitas exports them (`QuantizeLinear`, optional
//! `Clip`, `DequantizeLinear`; weights as integer initializers through `Clip` and
//! `DequantizeLinear`; int32 biases through `DequantizeLinear`) and QONNX graphs
//! (`Quant` nodes of the `qonnx.custom_op.general` domain). The protobuf is decoded by
//! the `onnx-protobuf` crate (the ONNX schema, generated for the maintained `protobuf`
//! crate).
//!
//! **How.** The graph is walked in order. Every value is a constant, a quantized
//! activation (an accgen tensor seen through a view: plain rows, or attention heads
//! split, stacked or transposed), or a float result waiting for its quantizer. A
//! quantizer (Q/DQ pair or `Quant`) with a power-of-two scale turns the waiting result
//! into one accgen node, whose output format is the quantizer's:
//! - `MatMul`/`Gemm` with a constant weight (and an optional bias `Add`): `linear`;
//! - `MatMul` of two activations: `matmul`, per attention head when the operands are
//!   head views (`Reshape` to `[1, R, H, d]`, `Transpose` `[0,2,1,3]` / `[0,2,3,1]`);
//!   a transposed operand makes its producing linear write its output transposed;
//! - `Add` of two activations: `add`;
//! - `Softmax` over the last axis: `softmax`;
//! - `LayerNormalization`, or its decomposition (`ReduceMean`, `Sub`, `Pow`,
//!   `ReduceMean`, `Add` eps, `Sqrt`, `Div`, then `Mul` gamma, `Add` beta):
//!   `layernorm`;
//! - `Gelu` (or the `Div`/`Erf`/`Add`/`Mul`/`Mul` pattern) and `Relu` of a linear's
//!   output: fused into that linear (`act`);
//! - `Reshape`/`Flatten`/`Squeeze`/`Unsqueeze` that keep rows: views; others:
//!   `reshape`.
//!
//! Anything else (another op, a scale that is not a power of two, a non-zero zero
//! point, a narrow or per-channel activation quantizer) is an error naming the ONNX
//! node. `--round-scales` rounds non-power-of-two scales to the nearest power of two
//! and reports the relative error of each. LayerNorm gammas are written with the
//! fewest fraction bits that hold them exactly (up to 16), betas on the output's grid;
//! values off those grids are rounded and the largest error is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use accgen_sim::npy::{Dtype, NpyArray};
use anyhow::{anyhow, bail, Context, Result};
use onnx_protobuf::{Message, ModelProto, NodeProto, TensorProto};
use serde::Serialize;

use crate::outdir::OutputDir;

/// A constant: dims and values (exact for every integer type and for f32/f64).
#[derive(Debug, Clone)]
struct Const {
    dims: Vec<i64>,
    data: Vec<f64>,
}

/// How an activation's ONNX shape maps onto its 2-D accgen tensor (`rows x cols`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// The tensor itself (leading dimensions of 1).
    Rows,
    /// `[1, R, H, d]` of an `R x H*d` tensor.
    Split(u32),
    /// `[1, H, R, d]` of an `R x H*d` tensor (head h is column block h).
    Heads(u32),
    /// `[1, H, d, R]` of an `R x H*d` tensor (needs the tensor stored transposed).
    HeadsT(u32),
    /// `[1, H, R, N]` of an `H*R x N` tensor (heads stacked by rows).
    Stack(u32),
}

/// A quantized activation.
#[derive(Debug, Clone)]
struct Act {
    /// The accgen tensor.
    t: String,
    /// The ONNX shape.
    shape: Vec<u64>,
    form: Form,
}

/// A float result waiting for its quantizer.
#[derive(Debug, Clone)]
enum Pend {
    Lin {
        x: Act,
        /// `K x N`.
        w: Vec<i64>,
        k: u32,
        n: u32,
        wfrac: i32,
        bias: Option<(Vec<i64>, i32)>,
        float_bias: Option<Vec<f64>>,
        act: &'static str,
        node: String,
    },
    Mm {
        a: Act,
        b: Act,
        heads: u32,
        layout: &'static str,
        shape: Vec<u64>,
        form: Form,
        node: String,
    },
    Add(Act, Act, String),
    Softmax(Act, String),
    Ln {
        x: Act,
        gamma: Vec<f64>,
        beta: Vec<f64>,
        eps: f64,
        node: String,
    },
    Gelu(Act, String),
    Relu(Act, String),
    // The Erf form of GELU, step by step.
    ErfIn(Act),
    Erf(Act),
    Erf1(Act),
    XErf1(Act),
    HalfX(Act),
    // The decomposed LayerNorm, step by step.
    Mean(Act),
    Cen(Act),
    Sq(Act),
    Var(Act),
    VarEps(Act, f64),
    Std(Act, f64),
    Normed(Act, f64, String),
    NormedG(Act, f64, Vec<f64>, String),
}

#[derive(Debug, Clone)]
enum Val {
    Const(Const),
    /// A dequantized constant: `ints * 2^-frac`.
    QConst {
        c: Const,
        frac: i32,
    },
    /// The graph input, not yet quantized.
    Input(Vec<u64>),
    Act(Act),
    Pend(Pend),
    /// The integers of a quantizer (between `QuantizeLinear` and `DequantizeLinear`).
    Quantized {
        src: Box<Val>,
        frac: i32,
        scale: f64,
        lo: i64,
        hi: i64,
    },
}

#[derive(Serialize)]
struct OutModel {
    model: OutHeader,
    tensors: BTreeMap<String, OutTensor>,
    nodes: Vec<OutNode>,
}

#[derive(Serialize)]
struct OutHeader {
    name: String,
    input: String,
    output: String,
}

#[derive(Serialize, Clone)]
struct OutTensor {
    shape: [u32; 2],
    dtype: &'static str,
    frac: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    bits: Option<u32>,
}

#[derive(Serialize, Default, Clone)]
struct OutNode {
    name: String,
    op: &'static str,
    inputs: Vec<String>,
    output: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight_frac: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transpose_out: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    heads: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head_layout: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gamma: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gamma_frac: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    beta: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    eps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gelu_in_frac: Option<i32>,
}

/// The importer's state.
struct Importer {
    round_scales: bool,
    vals: BTreeMap<String, Val>,
    tensors: BTreeMap<String, OutTensor>,
    nodes: Vec<OutNode>,
    files: Vec<(String, NpyArray)>,
    input: Option<String>,
    /// Tensors that must be stored transposed (read through `HeadsT`), and those read
    /// as they are.
    transposed: BTreeSet<String>,
    plain_use: BTreeMap<String, String>,
    /// Pre-activation tensors fused away (by the node that fused them).
    fused: BTreeMap<String, String>,
    /// Notes for the report.
    notes: Vec<String>,
    /// ONNX data type of every constant (zero points name the integer type).
    zp_type: BTreeMap<String, i32>,
    /// The default opset's version (Softmax's default axis changed at 13).
    opset: i64,
}

/// The ONNX data types read here.
fn const_of(t: &TensorProto) -> Result<Const> {
    let n: usize = t.dims.iter().map(|&d| d.max(0) as usize).product();
    let raw = &t.raw_data;
    let data: Vec<f64> = match t.data_type {
        1 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect(),
        1 => t.float_data.iter().map(|&v| v as f64).collect(),
        11 if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect(),
        11 => t.double_data.clone(),
        2 if !raw.is_empty() => raw.iter().map(|&v| v as f64).collect(),
        3 if !raw.is_empty() => raw.iter().map(|&v| v as i8 as f64).collect(),
        4 if !raw.is_empty() => raw
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as f64)
            .collect(),
        5 if !raw.is_empty() => raw
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f64)
            .collect(),
        6 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect(),
        2..=6 => t.int32_data.iter().map(|&v| v as f64).collect(),
        7 if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64)
            .collect(),
        7 => t.int64_data.iter().map(|&v| v as f64).collect(),
        other => bail!(
            "tensor `{}` has ONNX data type {other}; supported: float, double, int8, uint8, int16, uint16, int32, int64",
            t.name
        ),
    };
    if !t.external_data.is_empty() {
        bail!(
            "tensor `{}` keeps its data in an external file; save the model with its weights inside",
            t.name
        );
    }
    if data.len() != n {
        bail!(
            "tensor `{}` has {} values for its dims {:?}",
            t.name,
            data.len(),
            t.dims
        );
    }
    Ok(Const {
        dims: t.dims.clone(),
        data,
    })
}

fn attr_i(n: &NodeProto, name: &str) -> Option<i64> {
    n.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    n.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.ints.clone())
}

fn attr_f(n: &NodeProto, name: &str) -> Option<f32> {
    n.attribute.iter().find(|a| a.name == name).map(|a| a.f)
}

fn attr_s(n: &NodeProto, name: &str) -> Option<String> {
    n.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

/// A file name from a node name.
fn file_stem(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches(|c| c == '_' || c == '.').to_string()
}

/// Rows of a 2-D view of a shape (all but the last dimension).
fn rows_cols(shape: &[u64]) -> (u64, u64) {
    match shape.split_last() {
        Some((&c, rest)) => (rest.iter().product(), c),
        None => (1, 1),
    }
}

/// An activation value: tensor `t` seen as `shape` through `form`.
fn act_val(t: &str, shape: Vec<u64>, form: Form) -> Val {
    Val::Act(Act {
        t: t.to_string(),
        shape,
        form,
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

impl Importer {
    fn label(n: &NodeProto, idx: usize) -> String {
        if n.name.is_empty() {
            format!("{}_{idx}", n.op_type)
        } else {
            n.name.clone()
        }
    }

    fn get(&self, name: &str, node: &str) -> Result<Val> {
        if name.is_empty() {
            bail!("node `{node}`: an optional input is absent where one is needed");
        }
        self.vals
            .get(name)
            .cloned()
            .ok_or_else(|| anyhow!("node `{node}`: input `{name}` is not computed before it"))
    }

    fn konst(&self, name: &str, node: &str, what: &str) -> Result<Const> {
        match self.get(name, node)? {
            Val::Const(c) => Ok(c),
            Val::QConst { c, frac } => Ok(Const {
                dims: c.dims,
                data: c.data.iter().map(|v| v * (-frac as f64).exp2()).collect(),
            }),
            _ => bail!("node `{node}`: {what} (`{name}`) must be a constant"),
        }
    }

    fn scalar(&self, name: &str, node: &str, what: &str) -> Result<f64> {
        let c = self.konst(name, node, what)?;
        if c.data.is_empty() || c.data.iter().any(|&v| v != c.data[0]) {
            bail!(
                "node `{node}`: {what} (`{name}`) has {} different values; only per-tensor quantization is supported",
                c.data.len()
            );
        }
        Ok(c.data[0])
    }

    /// The fraction bits of a scale, exact or (with --round-scales) rounded.
    fn frac_of(&mut self, scale: f64, node: &str) -> Result<i32> {
        if !(scale > 0.0 && scale.is_finite()) {
            bail!("node `{node}`: scale {scale} must be positive");
        }
        let l = -scale.log2();
        let f = l.round();
        if !(-32.0..=32.0).contains(&f) {
            bail!(
                "node `{node}`: scale {scale} = 2^{} is outside 2^-32..2^32",
                -l
            );
        }
        if (f.exp2() * scale - 1.0).abs() > 1e-12 {
            if !self.round_scales {
                bail!(
                    "node `{node}`: scale {scale} is not a power of two (the accelerator re-quantizes by shifts); retrain with power-of-two scales, or pass --round-scales to use 2^{}",
                    -f
                );
            }
            let err = (-f).exp2() / scale - 1.0;
            self.notes.push(format!(
                "node `{node}`: scale {scale} rounded to 2^{} (relative error {:+.3}%)",
                -f,
                100.0 * err
            ));
        }
        Ok(f as i32)
    }

    fn zero_point(&self, name: Option<&String>, node: &str) -> Result<(bool, i64, i64)> {
        // (signed, lo, hi) of the integer type; zero point 0 required.
        let Some(name) = name.filter(|s| !s.is_empty()) else {
            return Ok((false, 0, 255));
        };
        let c = self.konst(name, node, "the zero point")?;
        if c.data.iter().any(|&v| v != 0.0) {
            bail!(
                "node `{node}`: zero point {} is not 0; only symmetric quantization is supported",
                c.data[0]
            );
        }
        Ok(match self.zp_type.get(name) {
            Some(3) => (true, -128, 127),
            Some(2) | None => (false, 0, 255),
            Some(5) => (true, -32768, 32767),
            Some(4) => (false, 0, 65535),
            Some(6) => (true, i32::MIN as i64, i32::MAX as i64),
            Some(t) => bail!("node `{node}`: zero point type {t} is not supported"),
        })
    }

    fn new_tensor(
        &mut self,
        name: &str,
        (rows, cols): (u64, u64),
        (lo, hi): (i64, i64),
        frac: i32,
        node: &str,
    ) -> Result<()> {
        let (bits, signed) = if lo < 0 {
            let b = 64 - (hi as u64).leading_zeros() + 1;
            if lo != -(1i64 << (b - 1)) || hi != (1i64 << (b - 1)) - 1 {
                bail!(
                    "node `{node}`: the activation range {lo}..={hi} is not a full two's-complement range (narrow-range activations are not supported; the hardware saturates to -2^(b-1)..2^(b-1)-1)"
                );
            }
            (b, true)
        } else {
            let b = 64 - (hi as u64).leading_zeros();
            if lo != 0 || hi != (1i64 << b) - 1 {
                bail!("node `{node}`: the activation range {lo}..={hi} is not 0..2^b-1");
            }
            (b, false)
        };
        let dtype = match (bits, signed) {
            (2..=8, true) => "int8",
            (9..=16, true) => "int16",
            (17..=32, true) => "int32",
            (1..=8, false) => "uint8",
            (9..=16, false) => "uint16",
            _ => bail!("node `{node}`: {bits}-bit activations are not supported"),
        };
        let full = match dtype {
            "int8" | "uint8" => 8,
            "int16" | "uint16" => 16,
            _ => 32,
        };
        if rows > u32::MAX as u64 || cols > u32::MAX as u64 {
            bail!("node `{node}`: the tensor is too large");
        }
        self.tensors.insert(
            name.to_string(),
            OutTensor {
                shape: [rows as u32, cols as u32],
                dtype,
                frac,
                bits: (bits != full).then_some(bits),
            },
        );
        Ok(())
    }

    fn weight_file(
        &mut self,
        stem: &str,
        what: &str,
        shape: Vec<usize>,
        data: Vec<i64>,
        dtype: Dtype,
    ) -> String {
        let f = format!("{stem}.{what}.npy");
        self.files
            .push((f.clone(), NpyArray { dtype, shape, data }));
        f
    }

    /// Mark `a`'s tensor read as stored (`plain`) or transposed, by `node`.
    fn use_act(&mut self, a: &Act, node: &str) -> Result<()> {
        if let Some(by) = self.fused.get(&a.t) {
            bail!(
                "node `{node}`: it reads `{}`, the input of the activation that node `{by}` fused into its linear layer; the accelerator keeps no copy of a pre-activation tensor",
                a.t
            );
        }
        let transposed = matches!(a.form, Form::HeadsT(_));
        if transposed {
            if let Some(by) = self.plain_use.get(&a.t) {
                bail!(
                    "node `{node}`: it reads `{}` transposed, but node `{by}` reads it as it is; a tensor is stored one way",
                    a.t
                );
            }
            let Some(p) = self.nodes.iter_mut().find(|n| n.output == a.t) else {
                bail!(
                    "node `{node}`: it reads `{}` transposed; only a linear layer's output can be written transposed",
                    a.t
                );
            };
            if p.op != "linear" {
                bail!(
                    "node `{node}`: it reads `{}` transposed; only a linear layer's output can be written transposed, and `{}` is a {}",
                    a.t,
                    p.name,
                    p.op
                );
            }
            p.transpose_out = Some(true);
            if self.transposed.insert(a.t.clone()) {
                let t = self.tensors.get_mut(&a.t).expect("declared");
                t.shape = [t.shape[1], t.shape[0]];
            }
        } else {
            if self.transposed.contains(&a.t) {
                bail!(
                    "node `{node}`: it reads `{}` as it is, but an earlier node reads it transposed; a tensor is stored one way",
                    a.t
                );
            }
            self.plain_use
                .entry(a.t.clone())
                .or_insert_with(|| node.to_string());
        }
        Ok(())
    }

    fn act(&self, v: &Val, node: &str, what: &str) -> Result<Act> {
        match v {
            Val::Act(a) => Ok(a.clone()),
            Val::Pend(_) => bail!(
                "node `{node}`: {what} is a float result without a quantizer; every op of the accelerator reads quantized (power-of-two) tensors"
            ),
            Val::Input(_) => bail!("node `{node}`: {what} is the unquantized graph input; quantize it first"),
            _ => bail!("node `{node}`: {what} must be an activation, not a constant"),
        }
    }

    /// Turn `src` into an accgen tensor `name` with the quantizer's format.
    fn materialize(
        &mut self,
        src: Val,
        name: &str,
        frac: i32,
        lo: i64,
        hi: i64,
        node: &str,
    ) -> Result<Val> {
        Ok(match src {
            Val::Input(shape) => {
                if self.input.is_some() {
                    bail!("node `{node}`: the graph input is quantized twice");
                }
                let (r, c) = rows_cols(&shape);
                self.new_tensor(name, (r, c), (lo, hi), frac, node)?;
                self.input = Some(name.to_string());
                act_val(name, shape, Form::Rows)
            }
            Val::Act(a) => {
                // A re-quantizer of an already quantized tensor: the identity when the
                // format is the same.
                let t = &self.tensors[&a.t];
                let (bits, signed) = (
                    t.bits.unwrap_or(if t.dtype.ends_with('8') {
                        8
                    } else if t.dtype.ends_with("16") {
                        16
                    } else {
                        32
                    }),
                    t.dtype.starts_with("int"),
                );
                let (lo0, hi0) = if signed {
                    (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
                } else {
                    (0, (1i64 << bits) - 1)
                };
                if t.frac != frac || lo > lo0 || hi < hi0 {
                    bail!(
                        "node `{node}`: it re-quantizes `{}` from {lo0}..={hi0} at 2^-{} to {lo}..={hi} at 2^-{frac}; the accelerator has no stand-alone re-quantizer (give both quantizers the same format)",
                        a.t,
                        t.frac
                    );
                }
                Val::Act(a)
            }
            Val::Pend(p) => self.emit(p, name, frac, lo, hi, node)?,
            Val::Const(c) => {
                bail!(
                    "node `{node}`: it quantizes a float constant of dims {:?} as an activation; constant activations are not supported",
                    c.dims
                )
            }
            Val::QConst { .. } | Val::Quantized { .. } => {
                bail!("node `{node}`: it quantizes an already quantized constant")
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        p: Pend,
        name: &str,
        frac: i32,
        lo: i64,
        hi: i64,
        qnode: &str,
    ) -> Result<Val> {
        match p {
            Pend::Lin {
                x,
                w,
                k,
                n,
                wfrac,
                bias,
                float_bias,
                act,
                node,
            } => {
                self.use_act(&x, &node)?;
                let (r, _) = rows_cols(&x.shape);
                self.new_tensor(name, (r, n as u64), (lo, hi), frac, &node)?;
                let stem = file_stem(&node);
                let wf = self.weight_file(&stem, "weight", vec![k as usize, n as usize], w, Dtype::I8);
                let acc_frac = self.tensors[&x.t].frac + wfrac;
                let bias_ints = match (bias, float_bias) {
                    (Some((b, bf)), _) => {
                        if bf != acc_frac {
                            bail!(
                                "node `{node}`: the bias scale is 2^-{bf}; the accelerator adds the bias to the accumulator at 2^-{acc_frac} (input scale times weight scale)"
                            );
                        }
                        Some(b)
                    }
                    (None, Some(fb)) => {
                        let s = (acc_frac as f64).exp2();
                        let q: Vec<i64> = fb.iter().map(|v| (v * s).round_ties_even() as i64).collect();
                        let err = fb
                            .iter()
                            .zip(&q)
                            .map(|(v, &qi)| (v - qi as f64 / s).abs())
                            .fold(0.0, f64::max);
                        self.notes.push(format!(
                            "node `{node}`: float bias quantized to the accumulator's 2^-{acc_frac} (largest error {err:.3e})"
                        ));
                        Some(q)
                    }
                    (None, None) => None,
                };
                if let Some(b) = &bias_ints {
                    if b.iter().any(|&v| i32::try_from(v).is_err()) {
                        bail!("node `{node}`: a bias does not fit int32");
                    }
                }
                let bf = bias_ints.map(|b| self.weight_file(&stem, "bias", vec![n as usize], b, Dtype::I32));
                let mut shape = x.shape.clone();
                *shape.last_mut().expect("rank >= 1") = n as u64;
                self.nodes.push(OutNode {
                    name: node,
                    op: "linear",
                    inputs: vec![x.t],
                    output: name.to_string(),
                    weight: Some(wf),
                    weight_frac: Some(wfrac),
                    bias: bf,
                    act: (act != "none").then_some(act),
                    ..OutNode::default()
                });
                Ok(act_val(name, shape, Form::Rows))
            }
            Pend::Mm {
                a,
                b,
                heads,
                layout,
                shape,
                form,
                node,
            } => {
                self.use_act(&a, &node)?;
                self.use_act(&b, &node)?;
                let (r, c) = match form {
                    Form::Stack(h) => (h as u64 * shape[shape.len() - 2], shape[shape.len() - 1]),
                    Form::Heads(h) => (shape[shape.len() - 2], h as u64 * shape[shape.len() - 1]),
                    _ => rows_cols(&shape),
                };
                self.new_tensor(name, (r, c), (lo, hi), frac, &node)?;
                self.nodes.push(OutNode {
                    name: node,
                    op: "matmul",
                    inputs: vec![a.t, b.t],
                    output: name.to_string(),
                    heads: (heads > 1).then_some(heads),
                    head_layout: (heads > 1).then_some(layout),
                    ..OutNode::default()
                });
                Ok(act_val(name, shape, form))
            }
            Pend::Add(a, b, node) => {
                self.use_act(&a, &node)?;
                self.use_act(&b, &node)?;
                let (r, c) = rows_cols(&a.shape);
                self.new_tensor(name, (r, c), (lo, hi), frac, &node)?;
                self.nodes.push(OutNode {
                    name: node,
                    op: "add",
                    inputs: vec![a.t, b.t],
                    output: name.to_string(),
                    ..OutNode::default()
                });
                Ok(act_val(name, a.shape, Form::Rows))
            }
            Pend::Softmax(x, node) => {
                self.use_act(&x, &node)?;
                let t = self.tensors[&x.t].clone();
                self.new_tensor(name, (t.shape[0] as u64, t.shape[1] as u64), (lo, hi), frac, &node)?;
                self.nodes.push(OutNode {
                    name: node,
                    op: "softmax",
                    inputs: vec![x.t],
                    output: name.to_string(),
                    ..OutNode::default()
                });
                Ok(act_val(name, x.shape, x.form))
            }
            Pend::Ln {
                x,
                gamma,
                beta,
                eps,
                node,
            } => {
                self.use_act(&x, &node)?;
                let (r, c) = rows_cols(&x.shape);
                self.new_tensor(name, (r, c), (lo, hi), frac, &node)?;
                // gamma: the fewest fraction bits that hold every value exactly.
                let gf = (0..=16)
                    .find(|&f| gamma.iter().all(|g| (g * (f as f64).exp2()).fract() == 0.0))
                    .unwrap_or(16);
                let gs = (gf as f64).exp2();
                let gq: Vec<i64> = gamma.iter().map(|g| (g * gs).round_ties_even() as i64).collect();
                let bs = (frac as f64).exp2();
                let bq: Vec<i64> = beta.iter().map(|b| (b * bs).round_ties_even() as i64).collect();
                let gerr = gamma.iter().zip(&gq).map(|(g, &q)| (g - q as f64 / gs).abs()).fold(0.0, f64::max);
                let berr = beta.iter().zip(&bq).map(|(b, &q)| (b - q as f64 / bs).abs()).fold(0.0, f64::max);
                if gerr > 0.0 || berr > 0.0 {
                    self.notes.push(format!(
                        "node `{node}`: gamma rounded to 2^-{gf} (largest error {gerr:.3e}), beta to the output's 2^-{frac} (largest error {berr:.3e})"
                    ));
                }
                let stem = file_stem(&node);
                let g = self.weight_file(&stem, "gamma", vec![gq.len()], gq, Dtype::I32);
                let b = self.weight_file(&stem, "beta", vec![bq.len()], bq, Dtype::I32);
                self.nodes.push(OutNode {
                    name: node,
                    op: "layernorm",
                    inputs: vec![x.t],
                    output: name.to_string(),
                    gamma: Some(g),
                    gamma_frac: Some(gf),
                    beta: Some(b),
                    eps: Some(eps),
                    ..OutNode::default()
                });
                Ok(act_val(name, x.shape, Form::Rows))
            }
            Pend::Gelu(x, node) => self.fuse(x, "gelu", name, frac, lo, hi, node),
            Pend::Relu(x, node) => self.fuse(x, "relu", name, frac, lo, hi, node),
            // LayerNorm without beta (and without gamma).
            Pend::Normed(..) | Pend::NormedG(..) => {
                let (x, eps, gamma, node) = match p {
                    Pend::Normed(x, eps, node) => {
                        let n = x.shape.last().copied().unwrap_or(1) as usize;
                        (x, eps, vec![1.0; n], node)
                    }
                    Pend::NormedG(x, eps, gamma, node) => (x, eps, gamma, node),
                    _ => unreachable!(),
                };
                let beta = vec![0.0; gamma.len()];
                let ln = Pend::Ln {
                    x,
                    gamma,
                    beta,
                    eps,
                    node,
                };
                self.emit(ln, name, frac, lo, hi, qnode)
            }
            _ => bail!(
                "node `{qnode}`: it quantizes a partial pattern (GELU's Erf form or a decomposed LayerNorm that stops early); only the whole pattern maps to a unit"
            ),
        }
    }

    /// Fuse GELU or ReLU of `x` into the linear layer that produced it.
    #[allow(clippy::too_many_arguments)]
    fn fuse(
        &mut self,
        x: Act,
        act: &'static str,
        name: &str,
        frac: i32,
        lo: i64,
        hi: i64,
        node: String,
    ) -> Result<Val> {
        let what = act.to_uppercase();
        if let Some(by) = self.plain_use.get(&x.t).or(self.fused.get(&x.t)) {
            bail!(
                "node `{node}`: {what} reads `{}`, which node `{by}` also reads; the accelerator fuses {what} into the linear layer before it, so its input cannot be shared",
                x.t
            );
        }
        if self.input.as_deref() == Some(x.t.as_str()) {
            bail!("node `{node}`: {what} of the model input; it must follow a linear layer");
        }
        let Some(i) = self.nodes.iter().position(|n| n.output == x.t) else {
            bail!("node `{node}`: {what} must follow a linear layer (it is fused into the layer's epilogue)");
        };
        if self.nodes[i].op != "linear"
            || self.nodes[i].act.is_some()
            || self.nodes[i].transpose_out.is_some()
        {
            bail!(
                "node `{node}`: {what} must follow a linear layer without an activation; `{}` is a {}",
                self.nodes[i].name,
                self.nodes[i].op
            );
        }
        let xt = self.tensors.remove(&x.t).expect("declared");
        let (r, c) = (xt.shape[0] as u64, xt.shape[1] as u64);
        if act == "relu" {
            self.new_tensor(name, (r, c), (lo, hi), frac, &node)?;
            if self.tensors[name].frac != xt.frac
                || self.tensors[name].dtype != xt.dtype
                || self.tensors[name].bits != xt.bits
            {
                bail!(
                    "node `{node}`: ReLU's output is quantized differently from its input (2^-{} {} vs 2^-{} {}); the fused epilogue re-quantizes once, so give both the same format",
                    frac, self.tensors[name].dtype, xt.frac, xt.dtype
                );
            }
        } else {
            self.new_tensor(name, (r, c), (lo, hi), frac, &node)?;
        }
        let n = &mut self.nodes[i];
        n.act = Some(act);
        n.output = name.to_string();
        if act == "gelu" {
            n.gelu_in_frac = Some(xt.frac);
        }
        self.fused.insert(x.t.clone(), node);
        Ok(Val::Act(Act {
            t: name.to_string(),
            shape: x.shape,
            form: x.form,
        }))
    }

    /// A tensor name for a quantizer's output value.
    fn tensor_name(&self, value: &str) -> String {
        let mut base = value;
        for suf in [
            "/export_handler/DequantizeLinear_output_0",
            "/export_handler/Quant_output_0",
        ] {
            base = base.strip_suffix(suf).unwrap_or(base);
        }
        let base = base.trim_start_matches('/');
        let base = if base.is_empty() { value } else { base };
        let mut name = base.to_string();
        let mut k = 2;
        while self.tensors.contains_key(&name) || self.fused.contains_key(&name) {
            name = format!("{base}#{k}");
            k += 1;
        }
        name
    }

    /// The target dims of a `Reshape` (0 copies, -1 infers).
    fn reshape_dims(
        &self,
        from: &[u64],
        spec: &[i64],
        allowzero: bool,
        node: &str,
    ) -> Result<Vec<u64>> {
        let total: u64 = from.iter().product();
        let mut out = Vec::with_capacity(spec.len());
        let mut infer = None;
        for (i, &d) in spec.iter().enumerate() {
            match d {
                0 if !allowzero => out.push(*from.get(i).with_context(|| {
                    format!(
                        "node `{node}`: shape entry {i} copies a dimension the input does not have"
                    )
                })?),
                -1 if infer.is_none() => {
                    infer = Some(i);
                    out.push(1);
                }
                d if d >= 0 => out.push(d as u64),
                _ => bail!("node `{node}`: bad target shape {spec:?}"),
            }
        }
        let known: u64 = out.iter().product();
        if let Some(i) = infer {
            if known == 0 || !total.is_multiple_of(known) {
                bail!("node `{node}`: cannot reshape {from:?} to {spec:?}");
            }
            out[i] = total / known;
        }
        if out.iter().product::<u64>() != total {
            bail!("node `{node}`: cannot reshape {from:?} ({total} elements) to {out:?}");
        }
        Ok(out)
    }

    /// A reshaped activation: a view where one exists, else a `reshape` node.
    fn reshape_act(&mut self, a: Act, to: Vec<u64>, out_value: &str, node: &str) -> Result<Val> {
        let (r, c) = rows_cols(&a.shape);
        let view = |form| {
            Val::Act(Act {
                t: a.t.clone(),
                shape: to.clone(),
                form,
            })
        };
        match a.form {
            Form::Rows | Form::Split(_) if to.last() == Some(&self.cols_of(&a)) && rows_cols(&to).0 == self.rows_of(&a) => {
                return Ok(view(Form::Rows))
            }
            Form::Rows if to.len() == 4 && to[0] == 1 && to[1] == r && to[2] * to[3] == c => {
                return Ok(view(Form::Split(to[2] as u32)))
            }
            Form::Rows => {}
            _ => bail!(
                "node `{node}`: reshaping an attention-head view {:?} to {to:?} is not supported (heads are split as [1, R, H, d] and merged back to [1, R, H*d])",
                a.shape
            ),
        }
        self.use_act(&a, node)?;
        let name = self.tensor_name(out_value);
        let t = self.tensors[&a.t].clone();
        let (nr, nc) = rows_cols(&to);
        self.tensors.insert(
            name.clone(),
            OutTensor {
                shape: [nr as u32, nc as u32],
                ..t
            },
        );
        self.nodes.push(OutNode {
            name: node.to_string(),
            op: "reshape",
            inputs: vec![a.t],
            output: name.clone(),
            ..OutNode::default()
        });
        Ok(Val::Act(Act {
            t: name,
            shape: to,
            form: Form::Rows,
        }))
    }

    fn rows_of(&self, a: &Act) -> u64 {
        self.tensors[&a.t].shape[0] as u64
    }

    fn cols_of(&self, a: &Act) -> u64 {
        self.tensors[&a.t].shape[1] as u64
    }

    fn same(a: &Act, b: &Act) -> bool {
        a.t == b.t && a.form == b.form && a.shape == b.shape
    }

    fn is_const(v: &Val, want: f64) -> bool {
        match v {
            Val::Const(c) => !c.data.is_empty() && c.data.iter().all(|&x| close(x, want)),
            _ => false,
        }
    }

    fn float_vec(v: &Val) -> Option<Vec<f64>> {
        match v {
            Val::Const(c) => Some(c.data.clone()),
            Val::QConst { c, frac } => {
                Some(c.data.iter().map(|x| x * (-*frac as f64).exp2()).collect())
            }
            _ => None,
        }
    }

    /// Process one ONNX node.
    fn step(&mut self, n: &NodeProto, idx: usize) -> Result<()> {
        let node = Self::label(n, idx);
        let inp = |i: usize| n.input.get(i).cloned().unwrap_or_default();
        let out0 = n
            .output
            .first()
            .cloned()
            .with_context(|| format!("node `{node}` has no output"))?;
        let op = n.op_type.as_str();
        let dom = n.domain.as_str();
        let unsupported = || {
            anyhow!(
                "node `{node}`: op `{}{op}` is not supported by accgen import (supported: QuantizeLinear, DequantizeLinear, Clip, Quant (QONNX), MatMul, Gemm, Add, LayerNormalization and its ReduceMean/Sub/Pow/Sqrt/Div form, Gelu and its Erf form, Relu, Softmax, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Identity, Constant)",
                if dom.is_empty() { String::new() } else { format!("{dom}.") }
            )
        };
        let v: Val = match (dom, op) {
            ("", "Identity") => self.get(&inp(0), &node)?,
            ("", "Constant") => {
                let a = n
                    .attribute
                    .first()
                    .with_context(|| format!("node `{node}`: Constant without a value"))?;
                let c = match a.name.as_str() {
                    "value" => const_of(a.t.as_ref().with_context(|| format!("node `{node}`: empty tensor"))?)?,
                    "value_float" => Const { dims: vec![], data: vec![a.f as f64] },
                    "value_int" => Const { dims: vec![], data: vec![a.i as f64] },
                    "value_floats" => Const { dims: vec![a.floats.len() as i64], data: a.floats.iter().map(|&x| x as f64).collect() },
                    "value_ints" => Const { dims: vec![a.ints.len() as i64], data: a.ints.iter().map(|&x| x as f64).collect() },
                    other => bail!("node `{node}`: Constant `{other}` is not supported"),
                };
                if let Some(t) = a.t.as_ref() {
                    self.zp_type.insert(out0.clone(), t.data_type);
                }
                Val::Const(c)
            }
            ("", "QuantizeLinear") => {
                let src = self.get(&inp(0), &node)?;
                let scale = self.scalar(&inp(1), &node, "the scale")?;
                let (_, lo, hi) = self.zero_point(n.input.get(2), &node)?;
                let frac = self.frac_of(scale, &node)?;
                Val::Quantized { src: Box::new(src), frac, scale, lo, hi }
            }
            ("", "Clip") => {
                let bound = |i: usize| -> Result<Option<f64>> {
                    if inp(i).is_empty() { return Ok(None); }
                    Ok(Some(self.scalar(&inp(i), &node, "a Clip bound")?))
                };
                let (lo_b, hi_b) = (bound(1)?, bound(2)?);
                match self.get(&inp(0), &node)? {
                    Val::Quantized { src, frac, scale, lo, hi } => Val::Quantized {
                        src,
                        frac,
                        scale,
                        lo: lo_b.map_or(lo, |b| lo.max(b.ceil() as i64)),
                        hi: hi_b.map_or(hi, |b| hi.min(b.floor() as i64)),
                    },
                    Val::Const(mut c) => {
                        for x in &mut c.data {
                            *x = x.max(lo_b.unwrap_or(f64::MIN)).min(hi_b.unwrap_or(f64::MAX));
                        }
                        if let Some(t) = self.zp_type.get(&inp(0)).copied() {
                            self.zp_type.insert(out0.clone(), t);
                        }
                        Val::Const(c)
                    }
                    _ => bail!("node `{node}`: Clip of a float activation is not supported (only Clip between QuantizeLinear and DequantizeLinear, or of constant weights)"),
                }
            }
            ("", "DequantizeLinear") => {
                let scale = self.scalar(&inp(1), &node, "the scale")?;
                let frac = self.frac_of(scale, &node)?;
                self.zero_point(n.input.get(2), &node)?;
                match self.get(&inp(0), &node)? {
                    Val::Quantized { src, frac: qf, scale: qs, lo, hi } => {
                        if qf != frac || !close(qs, scale) {
                            bail!("node `{node}`: it dequantizes with scale {scale}, its QuantizeLinear quantized with {qs}");
                        }
                        let name = self.tensor_name(&out0);
                        self.materialize(*src, &name, frac, lo, hi, &node)?
                    }
                    Val::Const(c) => {
                        if c.data.iter().any(|x| x.fract() != 0.0) {
                            bail!("node `{node}`: it dequantizes a non-integer constant");
                        }
                        Val::QConst { c, frac }
                    }
                    _ => bail!("node `{node}`: DequantizeLinear must follow a QuantizeLinear (or read an integer constant)"),
                }
            }
            ("qonnx.custom_op.general" | "finn.custom_op.general" | "qonnx.custom_op.general.quant", "Quant") => {
                let scale = self.scalar(&inp(1), &node, "the scale")?;
                let frac = self.frac_of(scale, &node)?;
                if self.scalar(&inp(2), &node, "the zero point")? != 0.0 {
                    bail!("node `{node}`: the zero point is not 0; only symmetric quantization is supported");
                }
                let bits = self.scalar(&inp(3), &node, "the bit width")?;
                if bits.fract() != 0.0 || !(1.0..=32.0).contains(&bits) {
                    bail!("node `{node}`: bit width {bits} must be an integer in 1..=32");
                }
                let bits = bits as u32;
                let signed = attr_i(n, "signed").unwrap_or(1) != 0;
                let narrow = attr_i(n, "narrow").unwrap_or(0) != 0;
                let mode = attr_s(n, "rounding_mode").unwrap_or_else(|| "ROUND".into());
                let (mut lo, hi) = if signed {
                    (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
                } else {
                    (0, (1i64 << bits) - 1)
                };
                if narrow && signed {
                    lo += 1;
                }
                match self.get(&inp(0), &node)? {
                    Val::Const(c) => {
                        let s = (frac as f64).exp2();
                        let data = c
                            .data
                            .iter()
                            .map(|x| {
                                let q = x * s;
                                let q = match mode.as_str() {
                                    "ROUND" => q.round_ties_even(),
                                    "FLOOR" => q.floor(),
                                    "CEIL" => q.ceil(),
                                    _ => q.round_ties_even(),
                                };
                                q.clamp(lo as f64, hi as f64)
                            })
                            .collect();
                        Val::QConst { c: Const { dims: c.dims, data }, frac }
                    }
                    src => {
                        if mode != "ROUND" {
                            bail!("node `{node}`: rounding_mode {mode} for an activation; the accelerator rounds to nearest even (ROUND)");
                        }
                        let name = self.tensor_name(&out0);
                        self.materialize(src, &name, frac, lo, hi, &node)?
                    }
                }
            }
            ("", "Transpose") => {
                let perm = attr_ints(n, "perm");
                match self.get(&inp(0), &node)? {
                    v @ (Val::Const(_) | Val::QConst { .. }) => {
                        let (c, frac) = match v {
                            Val::Const(c) => (c, None),
                            Val::QConst { c, frac } => (c, Some(frac)),
                            _ => unreachable!(),
                        };
                        if c.dims.len() != 2 || perm.as_deref().is_some_and(|p| p != [1, 0]) {
                            bail!("node `{node}`: only 2-D constants are transposed");
                        }
                        let (r, k) = (c.dims[0] as usize, c.dims[1] as usize);
                        let data = (0..r * k).map(|i| c.data[(i % r) * k + i / r]).collect();
                        let t = Const { dims: vec![k as i64, r as i64], data };
                        match frac {
                            None => Val::Const(t),
                            Some(frac) => Val::QConst { c: t, frac },
                        }
                    }
                    Val::Act(a) => {
                        let rank = a.shape.len();
                        let perm: Vec<i64> = perm.unwrap_or_else(|| (0..rank as i64).rev().collect());
                        let mut sorted = perm.clone();
                        sorted.sort_unstable();
                        if sorted != (0..rank as i64).collect::<Vec<_>>() {
                            bail!("node `{node}`: Transpose perm {perm:?} is not a permutation of the {rank} axes of {:?}", a.shape);
                        }
                        let shape: Vec<u64> = perm.iter().map(|&p| a.shape[p as usize]).collect();
                        let swap_last = rank >= 2
                            && perm[..rank - 2].iter().enumerate().all(|(i, &p)| p == i as i64)
                            && perm[rank - 2] == rank as i64 - 1
                            && perm[rank - 1] == rank as i64 - 2;
                        let form = match (a.form, perm.as_slice()) {
                            (Form::Split(h), [0, 2, 1, 3]) => Form::Heads(h),
                            (Form::Split(h), [0, 2, 3, 1]) => Form::HeadsT(h),
                            (Form::Heads(h), [0, 2, 1, 3]) => Form::Split(h),
                            (Form::Heads(h), _) if swap_last => Form::HeadsT(h),
                            (Form::Rows, _) if swap_last && a.shape[..rank - 2].iter().all(|&d| d == 1) => Form::HeadsT(1),
                            _ => bail!(
                                "node `{node}`: Transpose {perm:?} of {:?} is not supported (heads: [0,2,1,3] and [0,2,3,1] of [1, R, H, d]; or swapping the last two axes of a matrix read as a matmul's B)",
                                a.shape
                            ),
                        };
                        Val::Act(Act { t: a.t, shape, form })
                    }
                    _ => bail!("node `{node}`: Transpose of a float result without a quantizer is not supported"),
                }
            }
            ("", "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze") => {
                let src = self.get(&inp(0), &node)?;
                let from: Vec<u64> = match &src {
                    Val::Act(a) => a.shape.clone(),
                    Val::Const(c) | Val::QConst { c, .. } => c.dims.iter().map(|&d| d as u64).collect(),
                    _ => bail!("node `{node}`: {op} of a float result without a quantizer is not supported"),
                };
                let to: Vec<u64> = match op {
                    "Reshape" => {
                        let spec = self.konst(&inp(1), &node, "the target shape")?;
                        let spec: Vec<i64> = spec.data.iter().map(|&d| d as i64).collect();
                        self.reshape_dims(&from, &spec, attr_i(n, "allowzero").unwrap_or(0) != 0, &node)?
                    }
                    "Flatten" => {
                        let ax = attr_i(n, "axis").unwrap_or(1);
                        let r = from.len() as i64;
                        let ax = if ax < 0 { ax + r } else { ax };
                        if !(0..=r).contains(&ax) {
                            bail!("node `{node}`: Flatten axis {ax} is outside 0..={r} for the input {from:?}");
                        }
                        let ax = ax as usize;
                        vec![from[..ax].iter().product(), from[ax..].iter().product()]
                    }
                    _ => {
                        let axes: Vec<i64> = match attr_ints(n, "axes") {
                            Some(a) => a,
                            None if !inp(1).is_empty() => self.konst(&inp(1), &node, "the axes")?.data.iter().map(|&d| d as i64).collect(),
                            None => vec![],
                        };
                        let mut d = from.clone();
                        if op == "Squeeze" {
                            let r = d.len() as i64;
                            let ax: BTreeSet<usize> = axes.iter().map(|&a| (if a < 0 { a + r } else { a }) as usize).collect();
                            d = d.iter().enumerate().filter(|(i, &x)| !(x == 1 && (ax.is_empty() || ax.contains(i)))).map(|(_, &x)| x).collect();
                        } else {
                            let r = (d.len() + axes.len()) as i64;
                            let mut ax: Vec<usize> = axes.iter().map(|&a| (if a < 0 { a + r } else { a }) as usize).collect();
                            ax.sort();
                            for a in ax {
                                d.insert(a.min(d.len()), 1);
                            }
                        }
                        d
                    }
                };
                match src {
                    Val::Act(a) => self.reshape_act(a, to, &out0, &node)?,
                    Val::Const(c) => Val::Const(Const { dims: to.iter().map(|&d| d as i64).collect(), data: c.data }),
                    Val::QConst { c, frac } => Val::QConst { c: Const { dims: to.iter().map(|&d| d as i64).collect(), data: c.data }, frac },
                    _ => unreachable!(),
                }
            }
            ("", "MatMul") | ("", "Gemm") => {
                let a = self.get(&inp(0), &node)?;
                let mut b = self.get(&inp(1), &node)?;
                if op == "Gemm" {
                    if attr_i(n, "transA").unwrap_or(0) != 0 {
                        bail!("node `{node}`: Gemm with transA = 1 is not supported");
                    }
                    for (k, want) in [("alpha", 1.0), ("beta", 1.0)] {
                        if let Some(v) = attr_f(n, k) {
                            if v != want {
                                bail!("node `{node}`: Gemm with {k} = {v} is not supported (1 only)");
                            }
                        }
                    }
                    if attr_i(n, "transB").unwrap_or(0) != 0 {
                        if let Val::QConst { c, frac } = b {
                            if c.dims.len() != 2 {
                                bail!("node `{node}`: the Gemm weight has dims {:?}; expected 2-D", c.dims);
                            }
                            let (r, k) = (c.dims[0] as usize, c.dims[1] as usize);
                            let data = (0..r * k).map(|i| c.data[(i % r) * k + i / r]).collect();
                            b = Val::QConst { c: Const { dims: vec![k as i64, r as i64], data }, frac };
                        }
                    }
                }
                let pend = match (a, b) {
                    (Val::Act(x), Val::QConst { c, frac }) => {
                        if x.form != Form::Rows || c.dims.len() != 2 || c.dims[0] as u64 != *x.shape.last().unwrap_or(&0) {
                            bail!("node `{node}`: the weight {:?} does not fit the input {:?} (K x N with K = the input's last dimension)", c.dims, x.shape);
                        }
                        if c.data.iter().any(|&v| !(-128.0..=127.0).contains(&v)) {
                            bail!("node `{node}`: the weights do not fit int8");
                        }
                        Pend::Lin {
                            x,
                            w: c.data.iter().map(|&v| v as i64).collect(),
                            k: c.dims[0] as u32,
                            n: c.dims[1] as u32,
                            wfrac: frac,
                            bias: None,
                            float_bias: None,
                            act: "none",
                            node: node.clone(),
                        }
                    }
                    (Val::Act(a), Val::Act(b)) => {
                        let ra = a.shape.len();
                        let rb = b.shape.len();
                        if ra < 2 || rb < 2 {
                            bail!("node `{node}`: MatMul of {:?} by {:?}: both operands need at least 2 dimensions", a.shape, b.shape);
                        }
                        let ka = a.shape[ra - 1];
                        let (kb, nn) = (b.shape[rb - 2], b.shape[rb - 1]);
                        if ka != kb {
                            bail!("node `{node}`: MatMul of {:?} by {:?}: the inner dimensions differ", a.shape, b.shape);
                        }
                        let mut shape = a.shape.clone();
                        *shape.last_mut().expect("rank") = nn;
                        let (heads, layout, form) = match (a.form, b.form) {
                            (Form::Heads(h), Form::HeadsT(g)) if h == g => (h, "qk", Form::Stack(h)),
                            (Form::Rows, Form::HeadsT(1)) => (1, "qk", Form::Rows),
                            (Form::Stack(h), Form::Heads(g)) if h == g => (h, "pv", Form::Heads(h)),
                            (Form::Rows, Form::Rows) => (1, "qk", Form::Rows),
                            _ => bail!(
                                "node `{node}`: MatMul of {:?} by {:?} is not an attention product the accelerator runs (scores: q heads [1,H,R,d] by k heads [1,H,d,N]; context: probabilities [1,H,R,N] by v heads [1,H,N,d])",
                                a.shape, b.shape
                            ),
                        };
                        Pend::Mm { a, b, heads, layout, shape, form, node: node.clone() }
                    }
                    (Val::Act(_), Val::Const(_)) => bail!("node `{node}`: the weight is a float constant; export it quantized (DequantizeLinear of int8, or a QONNX Quant)"),
                    _ => bail!("node `{node}`: {op} needs a quantized activation as its first input"),
                };
                if op == "Gemm" && !inp(2).is_empty() {
                    let c = self.get(&inp(2), &node)?;
                    Self::with_bias(Val::Pend(pend), c, &node)?
                } else {
                    Val::Pend(pend)
                }
            }
            ("", "Add") => {
                let (a, b) = (self.get(&inp(0), &node)?, self.get(&inp(1), &node)?);
                match (a, b) {
                    (Val::Act(a), Val::Act(b)) => {
                        if a.form != Form::Rows || b.form != Form::Rows || a.shape != b.shape {
                            bail!("node `{node}`: Add of {:?} and {:?}: only same-shape activations are added", a.shape, b.shape);
                        }
                        Val::Pend(Pend::Add(a, b, node.clone()))
                    }
                    (p @ Val::Pend(Pend::Lin { .. }), c) | (c, p @ Val::Pend(Pend::Lin { .. })) => Self::with_bias(p, c, &node)?,
                    (Val::Pend(Pend::Erf(x)), c) | (c, Val::Pend(Pend::Erf(x))) if Self::is_const(&c, 1.0) => Val::Pend(Pend::Erf1(x)),
                    (Val::Pend(Pend::Var(x)), c) | (c, Val::Pend(Pend::Var(x))) if matches!(c, Val::Const(_)) => {
                        Val::Pend(Pend::VarEps(x, Self::float_vec(&c).expect("const")[0]))
                    }
                    (Val::Pend(Pend::NormedG(x, eps, g, nd)), c) | (c, Val::Pend(Pend::NormedG(x, eps, g, nd))) if Self::float_vec(&c).is_some() => {
                        Val::Pend(Pend::Ln { x, gamma: g, beta: Self::float_vec(&c).expect("const"), eps, node: nd })
                    }
                    (Val::Pend(Pend::Normed(x, eps, nd)), c) | (c, Val::Pend(Pend::Normed(x, eps, nd))) if Self::float_vec(&c).is_some() => {
                        let n = x.shape.last().copied().unwrap_or(1) as usize;
                        Val::Pend(Pend::Ln { x, gamma: vec![1.0; n], beta: Self::float_vec(&c).expect("const"), eps, node: nd })
                    }
                    _ => bail!("node `{node}`: this Add is neither a residual add of two quantized activations, a linear layer's bias, nor part of a LayerNorm or GELU pattern"),
                }
            }
            ("", "Sub") => match (self.get(&inp(0), &node)?, self.get(&inp(1), &node)?) {
                (Val::Act(x), Val::Pend(Pend::Mean(m))) if Self::same(&x, &m) => Val::Pend(Pend::Cen(x)),
                _ => bail!("node `{node}`: Sub is supported only as x - ReduceMean(x) of a LayerNorm"),
            },
            ("", "Pow") => match (self.get(&inp(0), &node)?, self.get(&inp(1), &node)?) {
                (Val::Pend(Pend::Cen(x)), e) if Self::is_const(&e, 2.0) => Val::Pend(Pend::Sq(x)),
                _ => bail!("node `{node}`: Pow is supported only as (x - mean)^2 of a LayerNorm"),
            },
            ("", "Sqrt") => match self.get(&inp(0), &node)? {
                Val::Pend(Pend::VarEps(x, e)) => Val::Pend(Pend::Std(x, e)),
                _ => bail!("node `{node}`: Sqrt is supported only as sqrt(var + eps) of a LayerNorm"),
            },
            ("", "Erf") => match self.get(&inp(0), &node)? {
                Val::Pend(Pend::ErfIn(x)) => Val::Pend(Pend::Erf(x)),
                _ => bail!("node `{node}`: Erf is supported only as erf(x / sqrt(2)) of a GELU"),
            },
            ("", "Div") => match (self.get(&inp(0), &node)?, self.get(&inp(1), &node)?) {
                (Val::Act(x), c) if Self::is_const(&c, std::f64::consts::SQRT_2) => Val::Pend(Pend::ErfIn(x)),
                (Val::Pend(Pend::Cen(x)), Val::Pend(Pend::Std(y, e))) if Self::same(&x, &y) => Val::Pend(Pend::Normed(x, e, node.clone())),
                _ => bail!("node `{node}`: Div is supported only in a GELU (x / sqrt(2)) or a LayerNorm ((x - mean) / std) pattern"),
            },
            ("", "Mul") => match (self.get(&inp(0), &node)?, self.get(&inp(1), &node)?) {
                (Val::Pend(Pend::Cen(x)), Val::Pend(Pend::Cen(y))) if Self::same(&x, &y) => Val::Pend(Pend::Sq(x)),
                (Val::Pend(Pend::Normed(x, e, nd)), c) | (c, Val::Pend(Pend::Normed(x, e, nd))) if Self::float_vec(&c).is_some() => {
                    Val::Pend(Pend::NormedG(x, e, Self::float_vec(&c).expect("const"), nd))
                }
                (Val::Act(x), Val::Pend(Pend::Erf1(y))) | (Val::Pend(Pend::Erf1(y)), Val::Act(x)) if Self::same(&x, &y) => Val::Pend(Pend::XErf1(x)),
                (Val::Pend(Pend::XErf1(x)), c) | (c, Val::Pend(Pend::XErf1(x))) if Self::is_const(&c, 0.5) => Val::Pend(Pend::Gelu(x, node.clone())),
                (Val::Pend(Pend::HalfX(x)), Val::Pend(Pend::Erf1(y))) | (Val::Pend(Pend::Erf1(y)), Val::Pend(Pend::HalfX(x))) if Self::same(&x, &y) => {
                    Val::Pend(Pend::Gelu(x, node.clone()))
                }
                (Val::Act(x), c) | (c, Val::Act(x)) if Self::is_const(&c, std::f64::consts::FRAC_1_SQRT_2) => Val::Pend(Pend::ErfIn(x)),
                (Val::Act(x), c) | (c, Val::Act(x)) if Self::is_const(&c, 0.5) => Val::Pend(Pend::HalfX(x)),
                _ => bail!("node `{node}`: Mul is supported only in GELU's Erf form or a LayerNorm's gamma"),
            },
            ("", "ReduceMean") => {
                let x = self.get(&inp(0), &node)?;
                let rank = match &x {
                    Val::Act(a) | Val::Pend(Pend::Sq(a)) => a.shape.len() as i64,
                    _ => 0,
                };
                let axes: Vec<i64> = match attr_ints(n, "axes") {
                    Some(a) => a,
                    None if !inp(1).is_empty() => self.konst(&inp(1), &node, "the axes")?.data.iter().map(|&d| d as i64).collect(),
                    None => vec![],
                };
                if axes.len() != 1 || (axes[0] != -1 && axes[0] != rank - 1) || attr_i(n, "keepdims").unwrap_or(1) != 1 {
                    bail!("node `{node}`: ReduceMean is supported only over the last axis with keepdims, as part of a LayerNorm");
                }
                match x {
                    Val::Act(a) => Val::Pend(Pend::Mean(a)),
                    Val::Pend(Pend::Sq(a)) => Val::Pend(Pend::Var(a)),
                    _ => bail!("node `{node}`: ReduceMean is supported only as part of a LayerNorm"),
                }
            }
            ("", "LayerNormalization") => {
                let x = self.get(&inp(0), &node)?;
                let x = self.act(&x, &node, "its input")?;
                let ax = attr_i(n, "axis").unwrap_or(-1);
                if ax != -1 && ax != x.shape.len() as i64 - 1 {
                    bail!("node `{node}`: LayerNormalization over axis {ax}; only the last axis is supported");
                }
                let c = x.shape.last().copied().unwrap_or(1) as usize;
                let gamma = Self::float_vec(&self.get(&inp(1), &node)?).with_context(|| format!("node `{node}`: gamma must be a constant"))?;
                let beta = if inp(2).is_empty() {
                    vec![0.0; c]
                } else {
                    Self::float_vec(&self.get(&inp(2), &node)?).with_context(|| format!("node `{node}`: beta must be a constant"))?
                };
                if gamma.len() != c || beta.len() != c {
                    bail!("node `{node}`: gamma and beta must have {c} entries");
                }
                let eps = attr_f(n, "epsilon").unwrap_or(1e-5) as f64;
                Val::Pend(Pend::Ln { x, gamma, beta, eps, node: node.clone() })
            }
            ("" | "com.microsoft", "Gelu") => {
                if let Some(a) = attr_s(n, "approximate") {
                    if a != "none" {
                        bail!("node `{node}`: Gelu with approximate = {a}; the GELU unit computes the exact (erf) form");
                    }
                }
                let x = self.get(&inp(0), &node)?;
                Val::Pend(Pend::Gelu(self.act(&x, &node, "its input")?, node.clone()))
            }
            ("", "Relu") => match self.get(&inp(0), &node)? {
                Val::Act(x) => Val::Pend(Pend::Relu(x, node.clone())),
                Val::Pend(Pend::Lin { x, w, k, n: nn, wfrac, bias, float_bias, act: "none", node: ln }) => {
                    Val::Pend(Pend::Lin { x, w, k, n: nn, wfrac, bias, float_bias, act: "relu", node: ln })
                }
                _ => bail!("node `{node}`: Relu must read a quantized linear layer's output"),
            },
            ("", "Softmax") => {
                let x = self.get(&inp(0), &node)?;
                let x = self.act(&x, &node, "its input")?;
                let rank = x.shape.len() as i64;
                let ax = attr_i(n, "axis").unwrap_or(if self.opset >= 13 { -1 } else { 1 });
                let ax = if ax < 0 { ax + rank } else { ax };
                if ax != rank - 1 {
                    bail!("node `{node}`: Softmax over axis {ax}; only the last axis is supported");
                }
                Val::Pend(Pend::Softmax(x, node.clone()))
            }
            _ => return Err(unsupported()),
        };
        self.vals.insert(out0, v);
        Ok(())
    }

    /// Attach a bias (quantized at the accumulator's scale, or float) to a pending
    /// linear layer.
    fn with_bias(p: Val, c: Val, node: &str) -> Result<Val> {
        let Val::Pend(Pend::Lin {
            x,
            w,
            k,
            n,
            wfrac,
            bias: None,
            float_bias: None,
            act,
            node: ln,
        }) = p
        else {
            bail!("node `{node}`: a second bias on one linear layer");
        };
        let (bias, float_bias) = match c {
            Val::QConst { c, frac } => (
                Some((c.data.iter().map(|&v| v as i64).collect::<Vec<_>>(), frac)),
                None,
            ),
            Val::Const(c) => (None, Some(c.data)),
            _ => bail!("node `{node}`: the bias must be a constant"),
        };
        let len = bias
            .as_ref()
            .map_or_else(|| float_bias.as_ref().map_or(0, |b| b.len()), |b| b.0.len());
        if len != n as usize {
            bail!("node `{node}`: the bias has {len} entries; the layer has {n} outputs");
        }
        Ok(Val::Pend(Pend::Lin {
            x,
            w,
            k,
            n,
            wfrac,
            bias,
            float_bias,
            act,
            node: ln,
        }))
    }
}

/// `accgen import`.
pub fn import_cmd(onnx: &Path, out: &Path, round_scales: bool) -> Result<()> {
    let bytes = std::fs::read(onnx).with_context(|| format!("cannot read {}", onnx.display()))?;
    let m = ModelProto::parse_from_bytes(&bytes)
        .map_err(|e| anyhow!("{} is not an ONNX model (protobuf: {e})", onnx.display()))?;
    let g = m
        .graph
        .as_ref()
        .with_context(|| format!("{} has no graph", onnx.display()))?;
    let opset = m
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(13, |o| o.version);
    let mut im = Importer {
        round_scales,
        vals: BTreeMap::new(),
        tensors: BTreeMap::new(),
        nodes: Vec::new(),
        files: Vec::new(),
        input: None,
        transposed: BTreeSet::new(),
        plain_use: BTreeMap::new(),
        fused: BTreeMap::new(),
        notes: Vec::new(),
        zp_type: BTreeMap::new(),
        opset,
    };
    for t in &g.initializer {
        let c = const_of(t).with_context(|| format!("initializer `{}`", t.name))?;
        im.zp_type.insert(t.name.clone(), t.data_type);
        im.vals.insert(t.name.clone(), Val::Const(c));
    }
    let inputs: Vec<_> = g
        .input
        .iter()
        .filter(|i| !im.vals.contains_key(&i.name))
        .collect();
    if inputs.len() != 1 {
        bail!(
            "the graph has {} inputs besides its initializers ({}); exactly one is supported",
            inputs.len(),
            inputs
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let gi = inputs[0];
    let shape: Vec<u64> = match gi.type_.as_ref().and_then(|t| t.value.as_ref()) {
        Some(onnx_protobuf::type_proto::Value::TensorType(tt)) => {
            tt.shape
                .as_ref()
                .map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match &d.value {
                            Some(
                                onnx_protobuf::tensor_shape_proto::dimension::Value::DimValue(v),
                            ) if *v > 0 => *v as u64,
                            _ => 1,
                        })
                        .collect()
                })
                .unwrap_or_default()
        }
        _ => bail!("the graph input `{}` is not a tensor", gi.name),
    };
    if shape.is_empty() {
        bail!("the graph input `{}` has no shape", gi.name);
    }
    if shape.len() > 2 && shape[..shape.len() - 2].iter().any(|&d| d != 1) {
        bail!(
            "the graph input `{}` has shape {shape:?}; one sample at a time (leading dimensions 1) is supported",
            gi.name
        );
    }
    im.vals.insert(gi.name.clone(), Val::Input(shape));
    let total = g.node.len();
    for (i, n) in g.node.iter().enumerate() {
        im.step(n, i)?;
    }
    if g.output.len() != 1 {
        bail!(
            "the graph has {} outputs; exactly one is supported",
            g.output.len()
        );
    }
    let oname = &g.output[0].name;
    let output = match im.vals.get(oname) {
        Some(Val::Act(a)) if a.form == Form::Rows => a.t.clone(),
        _ => bail!("the graph output `{oname}` is not a quantized activation (end the model with a quantizer)"),
    };
    let input = im
        .input
        .clone()
        .context("the graph input is never quantized")?;
    // `models/vit_digits/model.onnx` is `vit_digits`.
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
    let name = match stem(onnx) {
        Some(s) if !s.starts_with("model") => s,
        _ => onnx
            .parent()
            .and_then(|p| p.file_name())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into()),
    };
    let model = OutModel {
        model: OutHeader {
            name: name.clone(),
            input,
            output,
        },
        tensors: im.tensors.clone(),
        nodes: im.nodes.clone(),
    };
    let text = format!(
        "# Imported by accgen from {} ({total} ONNX nodes).\n{}",
        onnx.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        toml::to_string(&model).context("serializing model.toml")?
    );
    let mut od = OutputDir::claim(out)?;
    od.write("model.toml", text.as_bytes())?;
    for (f, a) in &im.files {
        od.write(f, &accgen_sim::npy::encode(a)?)?;
    }
    od.finish(serde_json::Map::new())?;
    let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &im.nodes {
        *ops.entry(n.op).or_insert(0) += 1;
    }
    println!(
        "imported {total} ONNX nodes of `{name}` into {} accgen nodes ({}); wrote {}",
        im.nodes.len(),
        ops.iter()
            .map(|(o, c)| format!("{c} {o}"))
            .collect::<Vec<_>>()
            .join(", "),
        out.display()
    );
    for n in &im.notes {
        println!("note: {n}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Small graphs built here, each with one thing the importer must reject; the
    //! message must name the node and the reason, and nothing may be written.
    use super::*;
    use onnx_protobuf::{
        tensor_shape_proto, type_proto, AttributeProto, GraphProto, TensorShapeProto, TypeProto,
        ValueInfoProto,
    };
    use protobuf::MessageField;

    fn tensor(name: &str, ty: i32, dims: &[i64], vals: &[f64]) -> TensorProto {
        let mut t = TensorProto::new();
        t.name = name.into();
        t.data_type = ty;
        t.dims = dims.to_vec();
        if ty == 1 {
            t.float_data = vals.iter().map(|&v| v as f32).collect();
        } else {
            t.int32_data = vals.iter().map(|&v| v as i32).collect();
        }
        t
    }

    fn node(op: &str, ins: &[&str], out: &str, attrs: Vec<AttributeProto>) -> NodeProto {
        let mut n = NodeProto::new();
        n.op_type = op.into();
        n.name = format!("{out}/{op}");
        n.input = ins.iter().map(|s| s.to_string()).collect();
        n.output = vec![out.into()];
        n.attribute = attrs;
        n
    }

    fn int_attr(name: &str, v: i64) -> AttributeProto {
        let mut a = AttributeProto::new();
        a.name = name.into();
        a.i = v;
        a
    }

    fn ints_attr(name: &str, v: &[i64]) -> AttributeProto {
        let mut a = AttributeProto::new();
        a.name = name.into();
        a.ints = v.to_vec();
        a
    }

    fn value(name: &str, dims: &[i64]) -> ValueInfoProto {
        let mut shape = TensorShapeProto::new();
        for &d in dims {
            let mut dim = tensor_shape_proto::Dimension::new();
            dim.value = Some(tensor_shape_proto::dimension::Value::DimValue(d));
            shape.dim.push(dim);
        }
        let mut tt = type_proto::Tensor::new();
        tt.elem_type = 1;
        tt.shape = MessageField::some(shape);
        let mut ty = TypeProto::new();
        ty.value = Some(type_proto::Value::TensorType(tt));
        let mut v = ValueInfoProto::new();
        v.name = name.into();
        v.type_ = MessageField::some(ty);
        v
    }

    /// Q/DQ of `src` into `dst` at `scale` (int8, zero point `zp`).
    fn qdq(src: &str, dst: &str, scale: &str) -> Vec<NodeProto> {
        vec![
            node(
                "QuantizeLinear",
                &[src, scale, "z"],
                &format!("{dst}_q"),
                vec![],
            ),
            node(
                "DequantizeLinear",
                &[&format!("{dst}_q"), scale, "z"],
                dst,
                vec![],
            ),
        ]
    }

    /// The common constants: scales s4 (2^-4), s6, a zero point, an 8x8 int8 weight.
    fn inits() -> Vec<TensorProto> {
        vec![
            tensor("s4", 1, &[], &[0.0625]),
            tensor("s6", 1, &[], &[1.0 / 64.0]),
            tensor("z", 3, &[], &[0.0]),
            tensor(
                "w",
                3,
                &[8, 8],
                &(0..64).map(|i| (i % 13 - 6) as f64).collect::<Vec<_>>(),
            ),
        ]
    }

    /// Import a graph of `nodes` from input `x` ([1, 4, 8]) to `out`.
    fn import(
        nodes: Vec<NodeProto>,
        extra: Vec<TensorProto>,
        inputs: &[&str],
        out: &str,
    ) -> (Result<()>, bool) {
        let mut g = GraphProto::new();
        g.node = nodes;
        g.initializer = inits().into_iter().chain(extra).collect();
        g.input = inputs.iter().map(|i| value(i, &[1, 4, 8])).collect();
        g.output = vec![value(out, &[1, 4, 8])];
        let mut m = ModelProto::new();
        m.graph = MessageField::some(g);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.onnx");
        std::fs::write(&f, m.write_to_bytes().unwrap()).unwrap();
        let out_dir = dir.path().join("out");
        let r = import_cmd(&f, &out_dir, false);
        (r, out_dir.exists())
    }

    fn linear(y: &str) -> Vec<NodeProto> {
        let mut v = qdq("x", "xq", "s4");
        v.push(node("DequantizeLinear", &["w", "s6", "z"], "wf", vec![]));
        v.push(node("MatMul", &["xq", "wf"], "h", vec![]));
        v.extend(qdq("h", y, "s4"));
        v
    }

    fn fails(
        nodes: Vec<NodeProto>,
        extra: Vec<TensorProto>,
        inputs: &[&str],
        out: &str,
        want: &[&str],
    ) {
        let (r, wrote) = import(nodes, extra, inputs, out);
        let e = format!("{:#}", r.expect_err("must fail"));
        for w in want {
            assert!(e.contains(w), "`{w}` not in: {e}");
        }
        assert!(!wrote, "an output directory was left behind");
    }

    #[test]
    fn a_plain_linear_imports() {
        let (r, wrote) = import(linear("y"), vec![], &["x"], "y");
        r.unwrap();
        assert!(wrote);
    }

    #[test]
    fn zero_points_must_be_zero() {
        let mut n = linear("y");
        n[0].input[2] = "z3".into();
        fails(
            n,
            vec![tensor("z3", 3, &[], &[3.0])],
            &["x"],
            "y",
            &["node `xq_q/QuantizeLinear`", "zero point 3 is not 0"],
        );
    }

    #[test]
    fn per_channel_scales_are_rejected() {
        let mut n = linear("y");
        n[2].input[1] = "sc".into();
        fails(
            n,
            vec![tensor(
                "sc",
                1,
                &[8],
                &[0.5, 0.25, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
            )],
            &["x"],
            "y",
            &["node `wf/DequantizeLinear`", "only per-tensor quantization"],
        );
    }

    #[test]
    fn narrow_activations_are_rejected() {
        let mut n = qdq("x", "xq", "s4");
        n.insert(1, node("Clip", &["xq_q", "lo", "hi"], "xc", vec![]));
        n[2].input[0] = "xc".into();
        fails(
            n,
            vec![
                tensor("lo", 3, &[], &[-127.0]),
                tensor("hi", 3, &[], &[127.0]),
            ],
            &["x"],
            "xq",
            &[
                "node `xq/DequantizeLinear`",
                "-127..=127 is not a full two's-complement range",
            ],
        );
    }

    #[test]
    fn a_second_quantizer_with_another_scale_is_rejected() {
        let mut n = linear("y");
        n.extend(qdq("y", "y2", "s6"));
        fails(
            n,
            vec![],
            &["x"],
            "y2",
            &["node `y2/DequantizeLinear`", "no stand-alone re-quantizer"],
        );
    }

    #[test]
    fn gelu_must_follow_a_linear_layer() {
        let mut n = qdq("x", "xq", "s4");
        n.push(node("Gelu", &["xq"], "g", vec![]));
        n.extend(qdq("g", "y", "s4"));
        fails(
            n,
            vec![],
            &["x"],
            "y",
            &["node `g/Gelu`", "GELU of the model input"],
        );
    }

    #[test]
    fn float_weights_and_transposed_gemm_inputs_are_rejected() {
        let mut n = qdq("x", "xq", "s4");
        n.push(node("MatMul", &["xq", "wfloat"], "h", vec![]));
        n.extend(qdq("h", "y", "s4"));
        fails(
            n,
            vec![tensor("wfloat", 1, &[8, 8], &[0.5; 64])],
            &["x"],
            "y",
            &["node `h/MatMul`", "float constant"],
        );
        let mut n = linear("y");
        n[3] = node("Gemm", &["xq", "wf"], "h", vec![int_attr("transA", 1)]);
        fails(n, vec![], &["x"], "y", &["node `h/Gemm`", "transA = 1"]);
    }

    #[test]
    fn softmax_over_another_axis_and_odd_transposes_are_rejected() {
        let mut n = linear("y0");
        n.push(node("Softmax", &["y0"], "p", vec![int_attr("axis", 1)]));
        n.extend(qdq("p", "y", "s4"));
        fails(
            n,
            vec![],
            &["x"],
            "y",
            &["node `p/Softmax`", "only the last axis"],
        );
        let mut n = linear("y0");
        n.push(node(
            "Transpose",
            &["y0"],
            "t",
            vec![ints_attr("perm", &[1, 0, 2])],
        ));
        n.extend(qdq("t", "y", "s4"));
        fails(
            n,
            vec![],
            &["x"],
            "y",
            &["node `t/Transpose`", "is not supported"],
        );
    }

    #[test]
    fn two_inputs_and_unquantized_outputs_are_rejected() {
        fails(
            linear("y"),
            vec![],
            &["x", "x2"],
            "y",
            &["2 inputs", "exactly one"],
        );
        let mut n = linear("y");
        n.truncate(4);
        fails(
            n,
            vec![],
            &["x"],
            "h",
            &["the graph output `h` is not a quantized activation"],
        );
    }

    #[test]
    fn malformed_shapes_are_errors_not_panics() {
        // A Transpose perm that is not a permutation.
        let mut n = linear("y0");
        n.push(node(
            "Transpose",
            &["y0"],
            "t",
            vec![ints_attr("perm", &[0, 5, 1])],
        ));
        n.extend(qdq("t", "y", "s4"));
        fails(
            n,
            vec![],
            &["x"],
            "y",
            &["node `t/Transpose`", "not a permutation"],
        );
        // A Flatten axis outside the input's rank.
        let mut n = linear("y0");
        n.push(node("Flatten", &["y0"], "f", vec![int_attr("axis", 7)]));
        n.extend(qdq("f", "y", "s4"));
        fails(
            n,
            vec![],
            &["x"],
            "y",
            &["node `f/Flatten`", "outside 0..=3"],
        );
        // A Gemm weight that is not 2-D.
        let mut n = qdq("x", "xq", "s4");
        n.push(node("DequantizeLinear", &["w1", "s6", "z"], "wf", vec![]));
        n.push(node(
            "Gemm",
            &["xq", "wf"],
            "h",
            vec![int_attr("transB", 1)],
        ));
        n.extend(qdq("h", "y", "s4"));
        fails(
            n,
            vec![tensor("w1", 3, &[64], &[1.0; 64])],
            &["x"],
            "y",
            &["node `h/Gemm`", "expected 2-D"],
        );
    }
}
