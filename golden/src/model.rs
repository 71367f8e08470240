//! A quantized model as the compiler sees it: 2-D integer tensors with power-of-two
//! scales and a list of nodes in execution order, checked against the accelerator's
//! units, and its op-by-op golden evaluation (the reference the compiled program must
//! equal byte for byte).
//!
//! **Tensors** are `rows x cols`, row-major, of signed (or, for softmax outputs,
//! unsigned) `bits`-bit integers at scale `2^-frac`.
//!
//! **Nodes** (every check names the node and the reason):
//! - `linear`: `y = act(requant(x W + bias))` with W (`K x N`, signed `weight_bits` of
//!   `[array]`, scale `2^-weight_frac`) and an optional int bias at the accumulator's
//!   scale `2^-(x.frac + weight_frac)`. The re-quantizer's shift is
//!   `x.frac + weight_frac - y.frac` (`-16..=47`; with GELU, `gelu.in_frac` takes
//!   `y.frac`'s place and y has GELU's output format), zero point 0.
//!   With `transpose_out`, y is written transposed (`N x M`), through the epilogue's
//!   transposed write: this is how K^T is made for attention.
//! - `matmul`: `y = act(requant(A B))` of two activations, A (`M x K`, signed
//!   `act_bits`, or unsigned with fewer bits, as softmax probabilities with
//!   `softmax.out_bits < act_bits`) and B (`K x N`, signed `weight_bits`, row-major),
//!   shift `a.frac + b.frac - y.frac`, no bias.
//! - `add`: `[residual]` with the two inputs' scales as its `a_frac`/`b_frac` (either
//!   order) and the output's as `out_frac`.
//! - `layernorm`: `[layernorm]` over each row (`cols` channels), with per-channel
//!   gamma and beta.
//! - `softmax`: `[softmax]` over each row.
//! - `reshape`: the same elements, row-major, as another `rows x cols` (for example
//!   the flattening of all tokens before a classifier); the same format. No
//!   instruction: the output is the input's DRAM bytes.
//!
//! The formats must match the units' exactly: the hardware has no format converters,
//! so a mismatch is an error, never a silent rescale.

use std::collections::BTreeMap;
use std::fmt;

use crate::config::Config;
use crate::gemm::{gemm, Matrix};
use crate::isa::Act;
use crate::num::{fits_signed, wrap_signed};
use crate::requant::{requant, PerChannel, RequantConfig};
use crate::rng::SplitMix64;

/// One tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorInfo {
    /// Rows.
    pub rows: u32,
    /// Columns (the contiguous axis).
    pub cols: u32,
    /// Bits per element.
    pub bits: u32,
    /// Two's complement (false only for softmax outputs).
    pub signed: bool,
    /// Scale `2^-frac`.
    pub frac: i32,
}

/// What a node computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// `act(requant(x W + bias))`.
    Linear {
        /// `K x N`, row-major.
        weight: Vec<i64>,
        /// Scale of W: `2^-weight_frac`.
        weight_frac: i32,
        /// `N` biases at the accumulator's scale.
        bias: Option<Vec<i64>>,
        /// The activation after re-quantization.
        act: Act,
        /// Write y transposed (`N x M`).
        transpose_out: bool,
    },
    /// `act(requant(A B))` of two activations, per head.
    Matmul {
        /// The activation after re-quantization.
        act: Act,
        /// Attention heads (1: a plain product).
        heads: u32,
        /// How the heads split the operands (with `heads > 1`).
        layout: HeadLayout,
    },
    /// Residual add of the two inputs.
    Add,
    /// LayerNorm of each row with per-channel `gamma` and `beta`.
    Layernorm {
        /// `cols` gammas.
        gamma: Vec<i64>,
        /// `cols` betas.
        beta: Vec<i64>,
    },
    /// Softmax of each row.
    Softmax,
    /// The input's elements, row-major, as the output's shape (a view: no work).
    Reshape,
}

impl NodeKind {
    /// The op name in `model.toml`.
    pub fn op_name(&self) -> &'static str {
        match self {
            NodeKind::Linear { .. } => "linear",
            NodeKind::Matmul { .. } => "matmul",
            NodeKind::Add => "add",
            NodeKind::Layernorm { .. } => "layernorm",
            NodeKind::Softmax => "softmax",
            NodeKind::Reshape => "reshape",
        }
    }
}

/// How a multi-head `matmul` splits its operands, for `H` heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadLayout {
    /// Scores: A (`M x H*d`) by column blocks, B (`H*d x N`, as K^T) by row blocks;
    /// Y (`H*M x N`) stacks the heads' `M x N` results by rows.
    Qk,
    /// Context: A (`H*M x K`, the stacked probabilities) by row blocks, B (`K x H*d`,
    /// as V) by column blocks; Y (`M x H*d`) puts the heads' `M x d` results side by
    /// side.
    Pv,
}

/// One head's operand views of a `matmul`: element offsets into A, B, Y and the
/// product's shape `m x k x n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadView {
    /// First element of A_h, B_h and Y_h in their row-major tensors.
    pub offsets: [u64; 3],
    /// Rows of A_h (and Y_h).
    pub m: u32,
    /// The contraction length.
    pub k: u32,
    /// Columns of B_h (and Y_h).
    pub n: u32,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Unique name (used in every message).
    pub name: String,
    /// The operation.
    pub kind: NodeKind,
    /// Input tensor names (two for `add`, one otherwise).
    pub inputs: Vec<String>,
    /// Output tensor name.
    pub output: String,
}

/// A whole model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// Every tensor by name.
    pub tensors: BTreeMap<String, TensorInfo>,
    /// Nodes in execution order.
    pub nodes: Vec<Node>,
    /// The model's input tensor.
    pub input: String,
    /// The model's output tensor.
    pub output: String,
}

/// Why a model cannot run: the node (if any) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    /// The node at fault.
    pub node: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(n) => write!(f, "node `{n}`: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for ModelError {}

fn err(node: &str, message: String) -> ModelError {
    ModelError {
        node: Some(node.to_string()),
        message,
    }
}

/// The re-quantizer of a checked linear node (its shift, bias, activation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinearPlan {
    /// `K`.
    pub k: u32,
    /// `N`.
    pub n: u32,
    /// The requant shift.
    pub shift: i32,
    /// Per-column biases (0 without a bias).
    pub bias: Vec<i64>,
    /// The activation.
    pub act: Act,
}

/// Whether `add`'s inputs go to the unit swapped (the first input is `b`).
pub type AddSwapped = bool;

impl Model {
    fn tensor(&self, node: &str, name: &str) -> Result<TensorInfo, ModelError> {
        self.tensors
            .get(name)
            .copied()
            .ok_or_else(|| err(node, format!("tensor `{name}` is not declared")))
    }

    /// Check the graph (every input produced before its use, every tensor produced
    /// once, the output produced) and every node against `cfg`'s units.
    pub fn check(&self, cfg: &Config) -> Result<(), ModelError> {
        let mut ready: BTreeMap<&str, &str> = BTreeMap::new();
        ready.insert(&self.input, "the model input");
        self.tensor("<model>", &self.input)?;
        for nd in &self.nodes {
            let want = if matches!(nd.kind, NodeKind::Add | NodeKind::Matmul { .. }) {
                2
            } else {
                1
            };
            if nd.inputs.len() != want {
                return Err(err(
                    &nd.name,
                    format!(
                        "`{}` takes {want} input(s), not {}",
                        nd.kind.op_name(),
                        nd.inputs.len()
                    ),
                ));
            }
            for i in &nd.inputs {
                if !ready.contains_key(i.as_str()) {
                    return Err(err(
                        &nd.name,
                        format!("input `{i}` is not computed before this node"),
                    ));
                }
            }
            if let Some(by) = ready.get(nd.output.as_str()) {
                return Err(err(
                    &nd.name,
                    format!("output `{}` is already produced by {by}", nd.output),
                ));
            }
            self.check_node(cfg, nd)?;
            ready.insert(&nd.output, &nd.name);
        }
        if !ready.contains_key(self.output.as_str()) {
            return Err(ModelError {
                node: None,
                message: format!("no node produces the model output `{}`", self.output),
            });
        }
        Ok(())
    }

    /// The re-quantizer plan of a linear node (checked).
    pub fn linear_plan(&self, cfg: &Config, nd: &Node) -> Result<LinearPlan, ModelError> {
        let (weight, weight_frac, bias, act, transpose_out) = match &nd.kind {
            NodeKind::Linear {
                weight,
                weight_frac,
                bias,
                act,
                transpose_out,
            } => (weight, *weight_frac, bias, *act, *transpose_out),
            _ => return Err(err(&nd.name, "not a linear node".into())),
        };
        let name = &nd.name;
        let arr = cfg
            .array
            .as_ref()
            .ok_or_else(|| err(name, "`linear` needs an [array] section".into()))?;
        let x = self.tensor(name, &nd.inputs[0])?;
        let y = self.tensor(name, &nd.output)?;
        if x.bits != arr.act_bits || !x.signed {
            return Err(err(
                name,
                format!(
                    "input `{}` is {}int{}; the array takes signed {}-bit activations (array.act_bits)",
                    nd.inputs[0],
                    if x.signed { "" } else { "u" },
                    x.bits,
                    arr.act_bits
                ),
            ));
        }
        let k = x.cols;
        if weight.is_empty() || weight.len() % k as usize != 0 {
            return Err(err(
                name,
                format!(
                    "the weight has {} elements, not K x N with K = {k} (the input's columns)",
                    weight.len()
                ),
            ));
        }
        let n = (weight.len() / k as usize) as u32;
        if let Some(i) = weight
            .iter()
            .position(|&w| !fits_signed(w as i128, arr.weight_bits))
        {
            return Err(err(
                name,
                format!(
                    "weight element {i} = {} does not fit the signed {}-bit weights (array.weight_bits)",
                    weight[i], arr.weight_bits
                ),
            ));
        }
        let want = if transpose_out {
            (n, x.rows)
        } else {
            (x.rows, n)
        };
        if (y.rows, y.cols) != want {
            return Err(err(
                name,
                format!(
                    "output `{}` is {}x{}; x ({}x{}) times W ({k}x{n}) is {}x{n}{}",
                    nd.output,
                    y.rows,
                    y.cols,
                    x.rows,
                    x.cols,
                    x.rows,
                    if transpose_out {
                        ", written transposed as {n}x{rows}"
                            .replace("{n}", &n.to_string())
                            .replace("{rows}", &x.rows.to_string())
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        let q = Requant {
            name,
            out: &nd.output,
            y: &y,
            acc_frac: x.frac + weight_frac,
            acc_what: "x.frac + weight_frac",
            act,
        };
        q.plan(cfg, k, n, bias.as_ref())
    }

    /// The re-quantizer plan of a matmul node (checked).
    pub fn matmul_plan(&self, cfg: &Config, nd: &Node) -> Result<LinearPlan, ModelError> {
        self.matmul_heads(cfg, nd).map(|(p, _)| p)
    }

    /// The re-quantizer plan (per head) and every head's views of a matmul node.
    pub fn matmul_heads(
        &self,
        cfg: &Config,
        nd: &Node,
    ) -> Result<(LinearPlan, Vec<HeadView>), ModelError> {
        let NodeKind::Matmul { act, heads, layout } = &nd.kind else {
            return Err(err(&nd.name, "not a matmul node".into()));
        };
        let h = *heads;
        let name = &nd.name;
        let arr = cfg
            .array
            .as_ref()
            .ok_or_else(|| err(name, "`matmul` needs an [array] section".into()))?;
        let a = self.tensor(name, &nd.inputs[0])?;
        let b = self.tensor(name, &nd.inputs[1])?;
        let y = self.tensor(name, &nd.output)?;
        let a_ok = (a.signed && a.bits == arr.act_bits) || (!a.signed && a.bits < arr.act_bits);
        if !a_ok {
            return Err(err(
                name,
                format!(
                    "A (`{}`) is {}int{}; the array takes signed {}-bit activations (or unsigned with fewer bits)",
                    nd.inputs[0],
                    if a.signed { "" } else { "u" },
                    a.bits,
                    arr.act_bits
                ),
            ));
        }
        if !b.signed || b.bits != arr.weight_bits {
            return Err(err(
                name,
                format!(
                    "B (`{}`) is {}int{}; the array takes signed {}-bit weights (array.weight_bits)",
                    nd.inputs[1],
                    if b.signed { "" } else { "u" },
                    b.bits,
                    arr.weight_bits
                ),
            ));
        }
        let shape_err = |what: &str| {
            err(
                name,
                format!(
                    "A ({}x{}) times B ({}x{}) {what} does not give `{}` ({}x{})",
                    a.rows, a.cols, b.rows, b.cols, nd.output, y.rows, y.cols
                ),
            )
        };
        if h == 0 {
            return Err(err(name, "heads = 0; at least 1".into()));
        }
        let (k, n, views): (u32, u32, Vec<HeadView>) = if h == 1 {
            if b.rows != a.cols || (y.rows, y.cols) != (a.rows, b.cols) {
                return Err(shape_err(""));
            }
            let v = HeadView {
                offsets: [0; 3],
                m: a.rows,
                k: a.cols,
                n: b.cols,
            };
            (a.cols, b.cols, vec![v])
        } else {
            match layout {
                HeadLayout::Qk => {
                    let d = a.cols / h;
                    if a.cols % h != 0
                        || b.rows != a.cols
                        || (y.rows, y.cols) != (h * a.rows, b.cols)
                    {
                        return Err(shape_err(&format!(
                            "over {h} heads (qk: A M x H*d, B H*d x N, Y H*M x N)"
                        )));
                    }
                    let vs = (0..h as u64)
                        .map(|i| HeadView {
                            offsets: [
                                i * d as u64,
                                i * d as u64 * b.cols as u64,
                                i * a.rows as u64 * b.cols as u64,
                            ],
                            m: a.rows,
                            k: d,
                            n: b.cols,
                        })
                        .collect();
                    (d, b.cols, vs)
                }
                HeadLayout::Pv => {
                    let (mh, d) = (a.rows / h, b.cols / h);
                    if a.rows % h != 0
                        || b.cols % h != 0
                        || b.rows != a.cols
                        || (y.rows, y.cols) != (mh, b.cols)
                    {
                        return Err(shape_err(&format!(
                            "over {h} heads (pv: A H*M x K, B K x H*d, Y M x H*d)"
                        )));
                    }
                    let vs = (0..h as u64)
                        .map(|i| HeadView {
                            offsets: [i * mh as u64 * a.cols as u64, i * d as u64, i * d as u64],
                            m: mh,
                            k: a.cols,
                            n: d,
                        })
                        .collect();
                    (a.cols, d, vs)
                }
            }
        };
        let q = Requant {
            name,
            out: &nd.output,
            y: &y,
            acc_frac: a.frac + b.frac,
            acc_what: "a.frac + b.frac",
            act: *act,
        };
        Ok((q.plan(cfg, k, n, None)?, views))
    }

    /// Whether an `add` node's inputs reach the unit swapped (checked).
    pub fn add_plan(&self, cfg: &Config, nd: &Node) -> Result<AddSwapped, ModelError> {
        let name = &nd.name;
        let rc = cfg
            .residual
            .as_ref()
            .ok_or_else(|| err(name, "`add` needs a [residual] section".into()))?;
        let a = self.tensor(name, &nd.inputs[0])?;
        let b = self.tensor(name, &nd.inputs[1])?;
        let y = self.tensor(name, &nd.output)?;
        for t in [&b, &y] {
            if (t.rows, t.cols) != (a.rows, a.cols) {
                return Err(err(
                    name,
                    format!(
                        "shapes differ: {}x{} and {}x{} (add is element-wise, no broadcast)",
                        a.rows, a.cols, t.rows, t.cols
                    ),
                ));
            }
        }
        let fits =
            |t: &TensorInfo, bits: u32, frac: i32| t.signed && t.bits == bits && t.frac == frac;
        let swapped = if fits(&a, rc.a_bits, rc.a_frac) && fits(&b, rc.b_bits, rc.b_frac) {
            false
        } else if fits(&b, rc.a_bits, rc.a_frac) && fits(&a, rc.b_bits, rc.b_frac) {
            true
        } else {
            return Err(err(
                name,
                format!(
                    "inputs are int{} at 2^-{} and int{} at 2^-{}; [residual] takes int{} at 2^-{} and int{} at 2^-{}",
                    a.bits, a.frac, b.bits, b.frac, rc.a_bits, rc.a_frac, rc.b_bits, rc.b_frac
                ),
            ));
        };
        if !fits(&y, rc.out_bits, rc.out_frac) {
            return Err(err(
                name,
                format!(
                    "output `{}` is int{} at 2^-{}; [residual] gives int{} at 2^-{}",
                    nd.output, y.bits, y.frac, rc.out_bits, rc.out_frac
                ),
            ));
        }
        Ok(swapped)
    }

    fn check_node(&self, cfg: &Config, nd: &Node) -> Result<(), ModelError> {
        let name = &nd.name;
        match &nd.kind {
            NodeKind::Linear { .. } => self.linear_plan(cfg, nd).map(|_| ()),
            NodeKind::Matmul { .. } => self.matmul_plan(cfg, nd).map(|_| ()),
            NodeKind::Add => self.add_plan(cfg, nd).map(|_| ()),
            NodeKind::Layernorm { gamma, beta } => {
                let ln = cfg
                    .layernorm
                    .as_ref()
                    .ok_or_else(|| err(name, "`layernorm` needs a [layernorm] section".into()))?;
                let x = self.tensor(name, &nd.inputs[0])?;
                let y = self.tensor(name, &nd.output)?;
                row_formats(
                    name,
                    (&x, &y),
                    (ln.in_bits, ln.in_frac as i32),
                    (ln.out_bits, true, ln.out_frac as i32),
                    ln.max_len,
                    "[layernorm]",
                )?;
                for (what, v, bits) in [
                    ("gamma", gamma, ln.gamma_bits),
                    ("beta", beta, ln.beta_bits),
                ] {
                    if v.len() != x.cols as usize {
                        return Err(err(
                            name,
                            format!(
                                "{what} has {} entries; the rows have {} channels",
                                v.len(),
                                x.cols
                            ),
                        ));
                    }
                    if let Some(i) = v.iter().position(|&g| !fits_signed(g as i128, bits)) {
                        return Err(err(
                            name,
                            format!(
                                "{what}[{i}] = {} does not fit the signed {bits}-bit {what} (layernorm.{what}_bits)",
                                v[i]
                            ),
                        ));
                    }
                }
                Ok(())
            }
            NodeKind::Reshape => {
                let x = self.tensor(name, &nd.inputs[0])?;
                let y = self.tensor(name, &nd.output)?;
                if x.rows as u64 * x.cols as u64 != y.rows as u64 * y.cols as u64 {
                    return Err(err(
                        name,
                        format!(
                            "`reshape` keeps the element count: the input is {}x{}, the output {}x{}",
                            x.rows, x.cols, y.rows, y.cols
                        ),
                    ));
                }
                if (x.bits, x.signed, x.frac) != (y.bits, y.signed, y.frac) {
                    return Err(err(
                        name,
                        format!(
                            "`reshape` keeps the format: the input is {} {} bits at 2^-{}, the output {} {} bits at 2^-{}",
                            if x.signed { "signed" } else { "unsigned" },
                            x.bits,
                            x.frac,
                            if y.signed { "signed" } else { "unsigned" },
                            y.bits,
                            y.frac
                        ),
                    ));
                }
                Ok(())
            }
            NodeKind::Softmax => {
                let sm = cfg
                    .softmax
                    .as_ref()
                    .ok_or_else(|| err(name, "`softmax` needs a [softmax] section".into()))?;
                let x = self.tensor(name, &nd.inputs[0])?;
                let y = self.tensor(name, &nd.output)?;
                row_formats(
                    name,
                    (&x, &y),
                    (sm.in_bits, sm.in_frac as i32),
                    (sm.out_bits, false, sm.out_bits as i32),
                    sm.max_len,
                    "[softmax]",
                )
            }
        }
    }

    /// Evaluate the model op by op with the unit models (no accelerator, no ISA):
    /// every tensor's values by name. `input` holds the input tensor row-major.
    pub fn evaluate(
        &self,
        cfg: &Config,
        input: &[i64],
    ) -> Result<BTreeMap<String, Vec<i64>>, ModelError> {
        self.check(cfg)?;
        let xi = self.tensors[&self.input];
        if input.len() != (xi.rows * xi.cols) as usize {
            return Err(ModelError {
                node: None,
                message: format!(
                    "the input has {} elements; `{}` is {}x{}",
                    input.len(),
                    self.input,
                    xi.rows,
                    xi.cols
                ),
            });
        }
        if let Some(i) = input.iter().position(|&v| !fits_signed(v as i128, xi.bits)) {
            return Err(ModelError {
                node: None,
                message: format!(
                    "input element {i} = {} does not fit signed {} bits",
                    input[i], xi.bits
                ),
            });
        }
        let mut vals: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        vals.insert(self.input.clone(), input.to_vec());
        for nd in &self.nodes {
            let x = &vals[&nd.inputs[0]];
            let xt = self.tensors[&nd.inputs[0]];
            let cols = xt.cols as usize;
            let y: Vec<i64> = match &nd.kind {
                NodeKind::Linear {
                    weight,
                    transpose_out,
                    ..
                } => {
                    let p = self.linear_plan(cfg, nd)?;
                    let b = Matrix::from_vec(p.k as usize, p.n as usize, weight.clone());
                    let y = gemm_requant(
                        cfg,
                        &p,
                        &Matrix::from_vec(xt.rows as usize, cols, x.clone()),
                        &b,
                    );
                    if *transpose_out {
                        let (m, n) = (xt.rows as usize, p.n as usize);
                        (0..n * m).map(|q| y[(q % m) * n + q / m]).collect()
                    } else {
                        y
                    }
                }
                NodeKind::Matmul { .. } => {
                    let (p, views) = self.matmul_heads(cfg, nd)?;
                    let (at, bt, yt) = (xt, self.tensors[&nd.inputs[1]], self.tensors[&nd.output]);
                    let bv = &vals[&nd.inputs[1]];
                    let mut y = vec![0i64; (yt.rows * yt.cols) as usize];
                    for v in &views {
                        // Gather the head's views (row-major with their tensors' row
                        // lengths), multiply, scatter.
                        let view = |src: &[i64], off: u64, ld: u32, r: u32, c: u32| -> Vec<i64> {
                            (0..r as u64)
                                .flat_map(|i| {
                                    let s0 = (off + i * ld as u64) as usize;
                                    src[s0..s0 + c as usize].to_vec()
                                })
                                .collect()
                        };
                        let a = view(x, v.offsets[0], at.cols, v.m, v.k);
                        let b = view(bv, v.offsets[1], bt.cols, v.k, v.n);
                        let yh = gemm_requant(
                            cfg,
                            &p,
                            &Matrix::from_vec(v.m as usize, v.k as usize, a),
                            &Matrix::from_vec(v.k as usize, v.n as usize, b),
                        );
                        for i in 0..v.m as usize {
                            let d0 = v.offsets[2] as usize + i * yt.cols as usize;
                            y[d0..d0 + v.n as usize]
                                .copy_from_slice(&yh[i * v.n as usize..(i + 1) * v.n as usize]);
                        }
                    }
                    y
                }
                NodeKind::Add => {
                    let swapped = self.add_plan(cfg, nd)?;
                    let rc = cfg.residual.as_ref().expect("checked");
                    let other = &vals[&nd.inputs[1]];
                    let (a, b) = if swapped { (other, x) } else { (x, other) };
                    crate::residual::residual_add(rc, a, b).map_err(|e| err(&nd.name, e.0))?
                }
                NodeKind::Layernorm { gamma, beta } => {
                    let ln = cfg.layernorm.as_ref().expect("checked");
                    let mut out = Vec::with_capacity(x.len());
                    for row in x.chunks(cols) {
                        out.extend(
                            crate::layernorm::layernorm_row(ln, row, gamma, beta)
                                .map_err(|e| err(&nd.name, e.0))?,
                        );
                    }
                    out
                }
                NodeKind::Softmax => {
                    let unit =
                        crate::softmax::SoftmaxUnit::new(cfg.softmax.as_ref().expect("checked"));
                    let mut out = Vec::with_capacity(x.len());
                    for row in x.chunks(cols) {
                        out.extend(unit.row(row).map_err(|e| err(&nd.name, e.0))?);
                    }
                    out
                }
                NodeKind::Reshape => x.clone(),
            };
            vals.insert(nd.output.clone(), y);
        }
        Ok(vals)
    }
}

/// The re-quantizer after a GEMM whose accumulator has scale `2^-acc_frac`.
struct Requant<'a> {
    name: &'a str,
    out: &'a str,
    y: &'a TensorInfo,
    acc_frac: i32,
    acc_what: &'a str,
    act: Act,
}

impl Requant<'_> {
    fn plan(
        &self,
        cfg: &Config,
        k: u32,
        n: u32,
        bias: Option<&Vec<i64>>,
    ) -> Result<LinearPlan, ModelError> {
        let (name, y, act) = (self.name, self.y, self.act);
        let rq = cfg
            .requant
            .as_ref()
            .ok_or_else(|| err(name, "a GEMM node needs a [requant] section".into()))?;
        let (mid_frac, out_bits, out_frac) = match act {
            Act::Gelu => {
                let g = cfg
                    .gelu
                    .as_ref()
                    .ok_or_else(|| err(name, "`act = gelu` needs a [gelu] section".into()))?;
                if !rq.out_signed || g.in_bits != rq.out_bits {
                    return Err(err(
                        name,
                        format!(
                            "`act = gelu` feeds requant's output (int{}) into GELU (int{}); they must be equal and signed",
                            rq.out_bits, g.in_bits
                        ),
                    ));
                }
                (g.in_frac as i32, g.out_bits, g.out_frac as i32)
            }
            _ => (y.frac, rq.out_bits, y.frac),
        };
        if y.bits != out_bits || !y.signed || y.frac != out_frac {
            return Err(err(
                name,
                format!(
                    "output `{}` is {}int{} at 2^-{}; the {} gives signed int{out_bits} at 2^-{out_frac}",
                    self.out,
                    if y.signed { "" } else { "u" },
                    y.bits,
                    y.frac,
                    if act == Act::Gelu { "GELU unit" } else { "re-quantizer" }
                ),
            ));
        }
        let shift = self.acc_frac - mid_frac;
        if !(-16..=47).contains(&shift) {
            return Err(err(
                name,
                format!(
                    "the re-quantizer shift {} - {} = {shift} is outside the allowed range -16..=47",
                    self.acc_what,
                    if act == Act::Gelu { "gelu.in_frac" } else { "y.frac" }
                ),
            ));
        }
        let lim = if rq.in_bits > 32 { 64 } else { 32 };
        let bias_bits = rq.in_bits.min(lim);
        let bias = match bias {
            None => vec![0; n as usize],
            Some(b) => {
                if b.len() != n as usize {
                    return Err(err(
                        name,
                        format!("the bias has {} elements; N = {n}", b.len()),
                    ));
                }
                if let Some(i) = b.iter().position(|&v| !fits_signed(v as i128, bias_bits)) {
                    return Err(err(
                        name,
                        format!(
                            "bias element {i} = {} does not fit the re-quantizer's signed {bias_bits}-bit input",
                            b[i]
                        ),
                    ));
                }
                b.clone()
            }
        };
        Ok(LinearPlan {
            k,
            n,
            shift,
            bias,
            act,
        })
    }
}

/// `act(requant(A B))` with a plan's per-column parameters, row-major.
fn gemm_requant(cfg: &Config, p: &LinearPlan, a: &Matrix, b: &Matrix) -> Vec<i64> {
    let arr = cfg.array.as_ref().expect("checked");
    let rq = cfg.requant.as_ref().expect("checked");
    let c = gemm(a, b, arr.format());
    let gelu = (p.act == Act::Gelu)
        .then(|| crate::gelu::GeluUnit::new(cfg.gelu.as_ref().expect("checked")));
    let mut out = Vec::with_capacity(c.data.len());
    for i in 0..c.rows {
        for j in 0..c.cols {
            let q = RequantConfig {
                shift: PerChannel::Tensor(p.shift as i64),
                zero_point: 0,
                bias: Some(PerChannel::Tensor(p.bias[j])),
                relu: p.act == Act::Relu,
                ..rq.clone()
            };
            let v = wrap_signed(c.at(i, j) as i128, rq.in_bits) as i64;
            let v = requant(&q, 0, v);
            out.push(match &gelu {
                Some(g) => g.eval(v),
                None => v,
            });
        }
    }
    out
}

/// Row-unit format checks: input `(bits, frac)`, output `(bits, signed, frac)`, rows of
/// at most `max_len`.
fn row_formats(
    name: &str,
    (x, y): (&TensorInfo, &TensorInfo),
    (ib, ifr): (u32, i32),
    (ob, os, ofr): (u32, bool, i32),
    max_len: u32,
    unit: &str,
) -> Result<(), ModelError> {
    if !x.signed || x.bits != ib || x.frac != ifr {
        return Err(err(
            name,
            format!(
                "the input is {}int{} at 2^-{}; {unit} takes int{ib} at 2^-{ifr}",
                if x.signed { "" } else { "u" },
                x.bits,
                x.frac
            ),
        ));
    }
    if x.cols > max_len {
        return Err(err(
            name,
            format!("rows have {} elements; {unit} max_len is {max_len}", x.cols),
        ));
    }
    if (y.rows, y.cols) != (x.rows, x.cols) || y.signed != os || y.bits != ob || y.frac != ofr {
        return Err(err(
            name,
            format!(
                "the output is {}x{} {}int{} at 2^-{}; {unit} gives {}x{} {}int{ob} at 2^-{ofr}",
                y.rows,
                y.cols,
                if y.signed { "" } else { "u" },
                y.bits,
                y.frac,
                x.rows,
                x.cols,
                if os { "" } else { "u" }
            ),
        ));
    }
    Ok(())
}

/// An int8 tensor at scale 2^-4.
fn int8_q4(rows: u32, cols: u32) -> TensorInfo {
    TensorInfo {
        rows,
        cols,
        bits: 8,
        signed: true,
        frac: 4,
    }
}

/// A random valid chain of `len` nodes on an int8 (scale 2^-4) input `x` of
/// `rows x cols`, for fuzzing and compiler tests: linear nodes (1..=40 outputs, int8
/// weights at 2^-4..2^-8, an optional bias, no activation, ReLU or GELU), `add` to an
/// earlier tensor of the same shape, `layernorm`, `reshape` (not last) and `softmax`
/// (last only). Every activation is int8 at 2^-4 (softmax: 8-bit unsigned at 2^-8),
/// so the formats fit a config with `[requant] out_bits = 8`, GELU 8-bit in and out at
/// `frac = 4`, softmax 8-bit in at `in_frac = 4` and out, and the default LayerNorm
/// and residual sections (as `configs/block_example.toml`).
pub fn random_chain(rng: &mut SplitMix64, rows: u32, cols: u32, len: usize) -> Model {
    let mut tensors = BTreeMap::new();
    tensors.insert("x".to_string(), int8_q4(rows, cols));
    let mut nodes = Vec::new();
    let mut cur = "x".to_string();
    let mut cur_cols = cols;
    let mut rows = rows;
    for i in 0..len {
        let out = format!("t{i}");
        let last = i + 1 == len;
        // 0..=2 linear, add or LayerNorm; 3: softmax last, else reshape.
        let kind = rng.range_i64(0, 3);
        let kind = if kind == 3 && !last { 5 } else { kind };
        let (node_kind, inputs, info) = match kind {
            0 | 1 => {
                let n = rng.range_i64(1, 40) as u32;
                let act = [Act::None, Act::Relu, Act::Gelu][rng.range_i64(0, 2) as usize];
                let weight = (0..cur_cols * n).map(|_| rng.signed(8)).collect();
                let bias = rng
                    .chance(0.7)
                    .then(|| (0..n).map(|_| rng.range_i64(-3000, 3000)).collect());
                let k = NodeKind::Linear {
                    weight,
                    weight_frac: rng.range_i64(4, 8) as i32,
                    bias,
                    act,
                    transpose_out: false,
                };
                cur_cols = n;
                (k, vec![cur.clone()], int8_q4(rows, n))
            }
            2 => {
                // Add to an earlier tensor of the same shape, or LayerNorm.
                let same: Vec<String> = tensors
                    .iter()
                    .filter(|(nm, t)| {
                        t.rows == rows && t.cols == cur_cols && t.signed && **nm != cur
                    })
                    .map(|(nm, _)| nm.clone())
                    .collect();
                if !same.is_empty() && rng.chance(0.6) {
                    let other = same[rng.range_i64(0, same.len() as i64 - 1) as usize].clone();
                    let inputs = if rng.chance(0.5) {
                        vec![cur.clone(), other]
                    } else {
                        vec![other, cur.clone()]
                    };
                    (NodeKind::Add, inputs, int8_q4(rows, cur_cols))
                } else {
                    let gamma = (0..cur_cols).map(|_| rng.signed(8)).collect();
                    let beta = (0..cur_cols).map(|_| rng.signed(8)).collect();
                    (
                        NodeKind::Layernorm { gamma, beta },
                        vec![cur.clone()],
                        int8_q4(rows, cur_cols),
                    )
                }
            }
            5 => {
                // The same elements as another rows x cols (a divisor of the count).
                let total = rows * cur_cols;
                let divs: Vec<u32> = (1..=total.min(64))
                    .filter(|&d| total.is_multiple_of(d))
                    .collect();
                let c = divs[rng.range_i64(0, divs.len() as i64 - 1) as usize];
                rows = total / c;
                cur_cols = c;
                (NodeKind::Reshape, vec![cur.clone()], int8_q4(rows, c))
            }
            _ => (
                NodeKind::Softmax,
                vec![cur.clone()],
                TensorInfo {
                    rows,
                    cols: cur_cols,
                    bits: 8,
                    signed: false,
                    frac: 8,
                },
            ),
        };
        tensors.insert(out.clone(), info);
        nodes.push(Node {
            name: format!("n{i}_{}", node_kind.op_name()),
            kind: node_kind,
            inputs,
            output: out.clone(),
        });
        cur = out;
    }
    Model {
        tensors,
        nodes,
        input: "x".into(),
        output: cur,
    }
}
