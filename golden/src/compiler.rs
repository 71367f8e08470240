//! The model compiler: a checked [`Model`] to one accelerator program and its DRAM
//! layout.
//!
//! **DRAM layout** (offsets from `dram_base`, each region 64-byte aligned): the
//! constants first (per linear node its weights in column tiles, as
//! [`crate::gemm_program::GemmLayout::b_addr`], and its epilogue parameter blocks; per
//! LayerNorm node its gammas and betas), then every tensor row-major (elements of
//! `elem_bytes(bits)` bytes, little-endian), then the program.
//!
//! **Lowering**, node by node in order, each ending with its leftover dependency tokens
//! drained (`nop` pops) and a `fence`, so nodes never overlap and every node starts
//! with empty token queues:
//! - `linear`: the tiled, double-buffered GEMM + epilogue schedule of
//!   [`crate::gemm_program::emit_gemm`] (GEMM, requant and ReLU/GELU fused);
//! - `add`, `layernorm`, `softmax`: rows in batches (about four, at least 16 rows, as
//!   many as two buffer sets in the scratchpad allow); per batch the load engine reads
//!   the input rows, the compute engine runs the instruction, the store engine writes
//!   the output rows. Batches alternate between two buffer sets, so batch b's loads
//!   overlap batch b-1's instruction and batch b-2's store: a batch's loads wait (a
//!   token) until the instruction two batches back has read its buffers, and the
//!   instruction waits until the store two batches back has read its output buffer.
//!   LayerNorm loads its gammas and betas once, first;
//! - `reshape`: nothing (its output is placed at its input's address).

use std::collections::BTreeMap;
use std::ops::Range;

use crate::accel::{elem_bytes, Geometry};
use crate::config::Config;
use crate::gemm_program::{emit_gemm, GemmEpilogue, GemmPlace};
use crate::isa::{Act, Add, Deps, Dma, Engine, Instr, Layernorm, Op, Program, Softmax, WORD_BYTES};
use crate::model::{Model, ModelError, NodeKind};
use crate::num::wrap_signed;

/// A tensor's place in DRAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// Byte offset.
    pub addr: u64,
    /// Rows.
    pub rows: u32,
    /// Columns.
    pub cols: u32,
    /// Bytes per element.
    pub elem_bytes: u32,
    /// Bits per element.
    pub bits: u32,
    /// Two's complement.
    pub signed: bool,
    /// 0: row-major; else column-tiled with this tile width (tile t holds columns
    /// t*tile.. of every row, `tile` elements per row, zero-padded; tiles one after
    /// another): the layout the GEMM reads B in, for tensors only used as B.
    pub tile: u32,
}

impl Placed {
    /// Bytes the tensor occupies.
    pub fn bytes(&self) -> u64 {
        let cols = if self.tile == 0 {
            self.cols as u64
        } else {
            (self.cols as u64).div_ceil(self.tile as u64) * self.tile as u64
        };
        self.rows as u64 * cols * self.elem_bytes as u64
    }

    /// Byte offset of element (r, c) from `addr`.
    pub fn offset(&self, r: u64, c: u64) -> u64 {
        let e = if self.tile == 0 {
            r * self.cols as u64 + c
        } else {
            let t = self.tile as u64;
            ((c / t) * self.rows as u64 + r) * t + c % t
        };
        e * self.elem_bytes as u64
    }
}

/// A compiled model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The program (ends with `halt`).
    pub program: Program,
    /// Its DRAM offset.
    pub prog_addr: u64,
    /// Every tensor's place, by name.
    pub tensors: BTreeMap<String, Placed>,
    /// Constant regions: (name, offset, bytes).
    pub consts: Vec<(String, u64, Vec<u8>)>,
    /// DRAM bytes used, program included.
    pub dram_bytes: u64,
    /// Per node: its name, op and the range of its instructions in the program.
    pub node_instrs: Vec<(String, &'static str, Range<usize>)>,
    /// The model's input and output tensor names.
    pub io: (String, String),
}

impl Compiled {
    /// The DRAM image of a run: the constants, `input` (the model input, row-major)
    /// and the program; everything else zero.
    pub fn image(&self, input: &[i64]) -> Vec<u8> {
        let mut d = vec![0u8; self.dram_bytes as usize];
        for (_, at, bytes) in &self.consts {
            d[*at as usize..*at as usize + bytes.len()].copy_from_slice(bytes);
        }
        let x = &self.tensors[&self.io.0];
        put_elems(&mut d, x.addr, x.elem_bytes as u64, input);
        let p = self.program.to_bytes();
        d[self.prog_addr as usize..self.prog_addr as usize + p.len()].copy_from_slice(&p);
        d
    }

    /// Tensor `name`'s values in a DRAM image.
    pub fn read(&self, dram: &[u8], name: &str) -> Vec<i64> {
        let t = &self.tensors[name];
        let eb = t.elem_bytes as usize;
        (0..(t.rows * t.cols) as usize)
            .map(|i| {
                let (r, c) = ((i / t.cols as usize) as u64, (i % t.cols as usize) as u64);
                let at = (t.addr + t.offset(r, c)) as usize;
                let mut v: u64 = 0;
                for b in 0..eb {
                    v |= (dram[at + b] as u64) << (8 * b);
                }
                if t.signed {
                    wrap_signed(v as i128, t.bits) as i64
                } else {
                    (v & ((1u64 << t.bits) - 1)) as i64
                }
            })
            .collect()
    }
}

fn put_elems(d: &mut [u8], at: u64, eb: u64, vals: &[i64]) {
    for (i, v) in vals.iter().enumerate() {
        for b in 0..eb {
            d[(at + i as u64 * eb + b) as usize] = (v >> (8 * b)) as u8;
        }
    }
}

fn align(x: u64) -> u64 {
    x.div_ceil(64) * 64
}

/// Drain the tokens a node's instructions leave in the queues (one `nop` pop each on
/// the consuming engine), then `fence`.
fn balance(ins: &mut Vec<Instr>, from: usize) {
    // load->compute, compute->load, compute->store, store->compute
    let mut q = [0i64; 4];
    for i in &ins[from..] {
        let d = i.deps;
        match i.op.engine() {
            Some(Engine::Load) => {
                q[0] += d.push_next as i64;
                q[1] -= d.pop_next as i64;
            }
            Some(Engine::Compute) => {
                q[0] -= d.pop_prev as i64;
                q[1] += d.push_prev as i64;
                q[2] += d.push_next as i64;
                q[3] -= d.pop_next as i64;
            }
            Some(Engine::Store) => {
                q[2] -= d.pop_prev as i64;
                q[3] += d.push_prev as i64;
            }
            None => {}
        }
    }
    debug_assert!(q.iter().all(|&n| n >= 0), "a node pops more than it pushes");
    let nops: [(Engine, Deps); 4] = [
        (
            Engine::Compute,
            Deps {
                pop_prev: true,
                ..Deps::default()
            },
        ),
        (
            Engine::Load,
            Deps {
                pop_next: true,
                ..Deps::default()
            },
        ),
        (
            Engine::Store,
            Deps {
                pop_prev: true,
                ..Deps::default()
            },
        ),
        (
            Engine::Compute,
            Deps {
                pop_next: true,
                ..Deps::default()
            },
        ),
    ];
    for (n, (e, deps)) in q.iter().zip(nops) {
        for _ in 0..*n {
            ins.push(Instr {
                deps,
                op: Op::Nop(e),
            });
        }
    }
    ins.push(Instr::new(Op::Fence));
}

/// A row instruction of a batch: (first input row, second input row, output row,
/// rows).
type RowOp<'a> = &'a dyn Fn(u32, u32, u32, u32) -> Op;

/// Emit a row node: inputs `(dram, elem bytes)`, output likewise, `rows x cols`, the
/// scratchpad rows before `first` reserved (parameters).
#[allow(clippy::too_many_arguments)]
fn emit_rows(
    ins: &mut Vec<Instr>,
    geo: &Geometry,
    node: &str,
    inputs: &[(u64, u64)],
    out: (u64, u64),
    rows: u64,
    cols: u64,
    first: u64,
    op: RowOp,
) -> Result<(), ModelError> {
    let pitches: Vec<u64> = inputs
        .iter()
        .map(|&(_, eb)| geo.spad_pitch(cols * eb))
        .collect();
    let op_p = geo.spad_pitch(cols * out.1);
    let per_row: u64 = pitches.iter().sum::<u64>() + op_p;
    let free = (geo.spad_rows as u64).saturating_sub(first);
    // Two buffer sets, so batch b's loads overlap batch b-1's instruction and b-2's
    // store; about four batches when the rows allow, so the engines overlap.
    let fit = (free / (2 * per_row)).min(4095);
    let nb = fit.min(rows.div_ceil(4).max(16)).min(rows);
    if nb == 0 {
        return Err(ModelError {
            node: Some(node.into()),
            message: format!(
                "two buffer sets of one row of {cols} elements need {} scratchpad rows beside {first} parameter rows; the scratchpad has {} (accel.spad_kib)",
                2 * per_row,
                geo.spad_rows
            ),
        });
    }
    // Buffer set s: inputs, then the output.
    let set_rows = nb * per_row;
    let mut r0 = 0;
    let mut batch = 0u64;
    while r0 < rows {
        let nr = nb.min(rows - r0);
        let mut bufs = Vec::new();
        let mut at = first + (batch % 2) * set_rows;
        for p in &pitches {
            bufs.push(at);
            at += nb * p;
        }
        let obuf = at;
        for (k, &(dram, eb)) in inputs.iter().enumerate() {
            let bytes = cols * eb;
            ins.push(Instr {
                deps: Deps {
                    // The instruction two batches back has read this buffer set.
                    pop_next: batch >= 2 && k == 0,
                    push_next: k + 1 == inputs.len(),
                    ..Deps::default()
                },
                op: Op::Load(Dma {
                    dram: dram + r0 * bytes,
                    rows: nr as u32,
                    bytes: bytes as u32,
                    stride: bytes as u32,
                    row: bufs[k] as u32,
                }),
            });
        }
        let b1 = bufs.get(1).copied().unwrap_or(0);
        ins.push(Instr {
            deps: Deps {
                pop_prev: true,
                // The store two batches back has read this output buffer.
                pop_next: batch >= 2,
                push_prev: true,
                push_next: true,
            },
            op: op(bufs[0] as u32, b1 as u32, obuf as u32, nr as u32),
        });
        let bytes = cols * out.1;
        ins.push(Instr {
            deps: Deps {
                pop_prev: true,
                push_prev: true,
                ..Deps::default()
            },
            op: Op::Store(
                Dma {
                    dram: out.0 + r0 * bytes,
                    rows: nr as u32,
                    bytes: bytes as u32,
                    stride: bytes as u32,
                    row: obuf as u32,
                },
                crate::isa::StoreSrc::Spad,
            ),
        });
        r0 += nr;
        batch += 1;
    }
    Ok(())
}

/// Tensors to store column-tiled: produced by a linear node, read only as the B
/// operand of matmul nodes whose heads start on tile boundaries, neither the model's
/// input nor its output, on a square array (a transposed tiled store needs R = C).
fn tiled_tensors(cfg: &Config, model: &Model) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let Some(arr) = cfg.array.as_ref() else {
        return out;
    };
    if arr.rows != arr.cols {
        return out;
    }
    for nd in &model.nodes {
        if !matches!(nd.kind, NodeKind::Linear { .. })
            || nd.output == model.output
            || nd.output == model.input
        {
            continue;
        }
        let t = &nd.output;
        let mut users = 0;
        let ok = model.nodes.iter().all(|u| {
            let used = u.inputs.iter().any(|i| i == t);
            if !used {
                return true;
            }
            users += 1;
            match &u.kind {
                NodeKind::Matmul { heads, layout, .. } => {
                    let b_only = u.inputs[0] != *t && u.inputs[1] == *t;
                    let cols = model.tensors[t].cols;
                    let aligned = *heads == 1
                        || *layout == crate::model::HeadLayout::Qk
                        || (cols / heads).is_multiple_of(arr.cols);
                    b_only && aligned
                }
                _ => false,
            }
        });
        if ok && users > 0 {
            out.insert(t.clone());
        }
    }
    out
}

fn epilogue_of(act: Act) -> GemmEpilogue {
    match act {
        Act::None => GemmEpilogue::Requant,
        Act::Relu => GemmEpilogue::RequantRelu,
        Act::Gelu => GemmEpilogue::RequantGelu,
    }
}

/// The epilogue parameter blocks of a GEMM node, per column tile of C columns: C int8
/// shifts, C int16 zero points (0), C biases (int32, or int64 when requant.in_bits >
/// 32); padding columns get the same shift and a zero bias.
fn param_blocks(cfg: &Config, p: &crate::model::LinearPlan) -> Vec<u8> {
    let arr = cfg.array.as_ref().expect("checked");
    let rq = cfg.requant.as_ref().expect("checked");
    let (n, c) = (p.n as u64, arr.cols as u64);
    let tiles = n.div_ceil(c);
    let bias_b: u64 = if rq.in_bits > 32 { 8 } else { 4 };
    let block = c * (1 + 2 + bias_b);
    let mut pbytes = vec![0u8; (tiles * block) as usize];
    for j in 0..tiles {
        let base = j * block;
        for col in 0..c {
            let jj = (j * c + col) as usize;
            put_elems(&mut pbytes, base + col, 1, &[p.shift as i64]);
            let b = if jj < n as usize { p.bias[jj] } else { 0 };
            put_elems(&mut pbytes, base + 3 * c + col * bias_b, bias_b, &[b]);
        }
    }
    pbytes
}

/// Compile `model` for `cfg` (which has `[accel]`).
pub fn compile(cfg: &Config, model: &Model) -> Result<Compiled, ModelError> {
    let top = |message: String| ModelError {
        node: None,
        message,
    };
    model.check(cfg)?;
    let geo = Geometry::of(cfg).map_err(|e| top(e.to_string()))?;
    let mut next = 0u64;
    let mut alloc = |bytes: u64| {
        let at = next;
        next = align(next + bytes.max(1));
        at
    };
    // Constants.
    let mut consts: Vec<(String, u64, Vec<u8>)> = Vec::new();
    let mut node_consts: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for nd in &model.nodes {
        match &nd.kind {
            NodeKind::Linear { weight, .. } => {
                let p = model.linear_plan(cfg, nd)?;
                let arr = cfg.array.as_ref().expect("checked");
                let (k, n, c) = (p.k as u64, p.n as u64, arr.cols as u64);
                let wb = elem_bytes(arr.weight_bits) as u64;
                let tiles = n.div_ceil(c);
                let mut wbytes = vec![0u8; (tiles * k * c * wb) as usize];
                for j in 0..tiles {
                    for t in 0..k {
                        for col in 0..c {
                            let jj = j * c + col;
                            if jj < n {
                                let v = weight[(t * n + jj) as usize];
                                put_elems(&mut wbytes, ((j * k + t) * c + col) * wb, wb, &[v]);
                            }
                        }
                    }
                }
                let pbytes = param_blocks(cfg, &p);
                let wa = alloc(wbytes.len() as u64);
                let pa = alloc(pbytes.len() as u64);
                consts.push((format!("{}.weight", nd.name), wa, wbytes));
                consts.push((format!("{}.params", nd.name), pa, pbytes));
                node_consts.insert(nd.name.clone(), vec![wa, pa]);
            }
            NodeKind::Matmul { .. } => {
                let p = model.matmul_plan(cfg, nd)?;
                let pbytes = param_blocks(cfg, &p);
                let pa = alloc(pbytes.len() as u64);
                consts.push((format!("{}.params", nd.name), pa, pbytes));
                node_consts.insert(nd.name.clone(), vec![pa]);
            }
            NodeKind::Layernorm { gamma, beta } => {
                let ln = cfg.layernorm.as_ref().expect("checked");
                let (gb, bb) = (
                    elem_bytes(ln.gamma_bits) as u64,
                    elem_bytes(ln.beta_bits) as u64,
                );
                let mut g = vec![0u8; gamma.len() * gb as usize];
                put_elems(&mut g, 0, gb, gamma);
                let mut b = vec![0u8; beta.len() * bb as usize];
                put_elems(&mut b, 0, bb, beta);
                let ga = alloc(g.len() as u64);
                let ba = alloc(b.len() as u64);
                consts.push((format!("{}.gamma", nd.name), ga, g));
                consts.push((format!("{}.beta", nd.name), ba, b));
                node_consts.insert(nd.name.clone(), vec![ga, ba]);
            }
            _ => {}
        }
    }
    // Tensors; those only read as matmul B operands are column-tiled.
    let tiled = tiled_tensors(cfg, model);
    // A reshape's output is its input's bytes (row-major, never tiled: only linear
    // outputs are).
    let alias: BTreeMap<&str, &str> = model
        .nodes
        .iter()
        .filter(|nd| matches!(nd.kind, NodeKind::Reshape))
        .map(|nd| (nd.output.as_str(), nd.inputs[0].as_str()))
        .collect();
    let mut tensors = BTreeMap::new();
    for (name, t) in &model.tensors {
        let eb = elem_bytes(t.bits);
        let p = Placed {
            addr: 0,
            rows: t.rows,
            cols: t.cols,
            elem_bytes: eb,
            bits: t.bits,
            signed: t.signed,
            tile: if tiled.contains(name) {
                cfg.array.as_ref().map_or(0, |a| a.cols)
            } else {
                0
            },
        };
        if alias.contains_key(name.as_str()) {
            tensors.insert(name.clone(), p);
            continue;
        }
        let addr = alloc(p.bytes());
        tensors.insert(name.clone(), Placed { addr, ..p });
    }
    // In node order, so a reshape of a reshape finds its input placed.
    for nd in &model.nodes {
        if matches!(nd.kind, NodeKind::Reshape) {
            let addr = tensors[&nd.inputs[0]].addr;
            tensors.get_mut(&nd.output).expect("checked").addr = addr;
        }
    }
    // Instructions.
    let mut ins: Vec<Instr> = Vec::new();
    let mut node_instrs = Vec::new();
    for nd in &model.nodes {
        let start = ins.len();
        let x = tensors[&nd.inputs[0]];
        let y = tensors[&nd.output];
        let e = |m: String| ModelError {
            node: Some(nd.name.clone()),
            message: m,
        };
        match &nd.kind {
            NodeKind::Linear { transpose_out, .. } => {
                let p = model.linear_plan(cfg, nd)?;
                let c = &node_consts[&nd.name];
                let place = GemmPlace {
                    a: x.addr,
                    b: c[0],
                    params: c[1],
                    c: y.addr,
                    b_row_major: false,
                    c_trans: *transpose_out,
                    ld: [0; 3],
                    b_tile_stride: 0,
                    c_tiled: (y.tile > 0).then_some(y.rows as u64),
                };
                let (mut g, _) =
                    emit_gemm(cfg, x.rows, p.k, p.n, epilogue_of(p.act), Some(place)).map_err(e)?;
                ins.append(&mut g);
            }
            NodeKind::Matmul { .. } => {
                let (p, views) = model.matmul_heads(cfg, nd)?;
                let b = tensors[&nd.inputs[1]];
                for (hi, v) in views.iter().enumerate() {
                    // B row-major (strided rows), or column-tiled (a view starting at
                    // the head's first row and first tile).
                    let (row0, col0) = (v.offsets[1] / b.cols as u64, v.offsets[1] % b.cols as u64);
                    let (b_addr, b_tile_stride) = if b.tile > 0 {
                        (
                            b.addr + b.offset(row0, col0),
                            b.rows as u64 * b.tile as u64 * b.elem_bytes as u64,
                        )
                    } else {
                        (b.addr + v.offsets[1] * b.elem_bytes as u64, 0)
                    };
                    let place = GemmPlace {
                        a: x.addr + v.offsets[0] * x.elem_bytes as u64,
                        b: b_addr,
                        params: node_consts[&nd.name][0],
                        c: y.addr + v.offsets[2] * y.elem_bytes as u64,
                        b_row_major: b.tile == 0,
                        c_trans: false,
                        ld: [x.cols as u64, b.cols as u64, y.cols as u64],
                        b_tile_stride,
                        c_tiled: None,
                    };
                    let (mut g, _) = emit_gemm(cfg, v.m, v.k, v.n, epilogue_of(p.act), Some(place))
                        .map_err(|m| ModelError {
                            node: Some(nd.name.clone()),
                            message: format!("head {hi}: {m}"),
                        })?;
                    let from = ins.len();
                    ins.append(&mut g);
                    // Every head's schedule starts with empty token queues.
                    if hi + 1 < views.len() {
                        balance(&mut ins, from);
                    }
                }
            }
            NodeKind::Add => {
                let swapped = model.add_plan(cfg, nd)?;
                let other = tensors[&nd.inputs[1]];
                let (a, b) = if swapped { (other, x) } else { (x, other) };
                let len = x.cols;
                emit_rows(
                    &mut ins,
                    &geo,
                    &nd.name,
                    &[(a.addr, a.elem_bytes as u64), (b.addr, b.elem_bytes as u64)],
                    (y.addr, y.elem_bytes as u64),
                    x.rows as u64,
                    len as u64,
                    0,
                    &|a, b, dst, rows| {
                        Op::Add(Add {
                            a,
                            b,
                            dst,
                            rows,
                            len,
                        })
                    },
                )?;
            }
            NodeKind::Layernorm { .. } => {
                let ln = cfg.layernorm.as_ref().expect("checked");
                let (gb, bb) = (
                    elem_bytes(ln.gamma_bits) as u64,
                    elem_bytes(ln.beta_bits) as u64,
                );
                let len = x.cols;
                let (gp, bp) = (
                    geo.spad_pitch(len as u64 * gb),
                    geo.spad_pitch(len as u64 * bb),
                );
                let c = &node_consts[&nd.name];
                for (dram, bytes, row) in [(c[0], len as u64 * gb, 0), (c[1], len as u64 * bb, gp)]
                {
                    ins.push(Instr::new(Op::Load(Dma {
                        dram,
                        rows: 1,
                        bytes: bytes as u32,
                        stride: 0,
                        row: row as u32,
                    })));
                }
                emit_rows(
                    &mut ins,
                    &geo,
                    &nd.name,
                    &[(x.addr, x.elem_bytes as u64)],
                    (y.addr, y.elem_bytes as u64),
                    x.rows as u64,
                    len as u64,
                    gp + bp,
                    &|src, _, dst, rows| {
                        Op::Layernorm(Layernorm {
                            src,
                            dst,
                            rows,
                            len,
                            params: 0,
                        })
                    },
                )?;
            }
            NodeKind::Softmax => {
                let len = x.cols;
                emit_rows(
                    &mut ins,
                    &geo,
                    &nd.name,
                    &[(x.addr, x.elem_bytes as u64)],
                    (y.addr, y.elem_bytes as u64),
                    x.rows as u64,
                    len as u64,
                    0,
                    &|src, _, dst, rows| {
                        Op::Softmax(Softmax {
                            src,
                            dst,
                            rows,
                            len,
                        })
                    },
                )?;
            }
            NodeKind::Reshape => {}
        }
        balance(&mut ins, start);
        node_instrs.push((nd.name.clone(), nd.kind.op_name(), start..ins.len()));
    }
    ins.push(Instr::new(Op::Halt));
    let program = Program { instrs: ins };
    program
        .check(cfg)
        .map_err(|e| top(format!("the compiled program is invalid: {e}")))?;
    let prog_addr = alloc(0);
    let dram_bytes = align(prog_addr + (program.instrs.len() * WORD_BYTES) as u64);
    Ok(Compiled {
        program,
        prog_addr,
        tensors,
        consts,
        dram_bytes,
        node_instrs,
        io: (model.input.clone(), model.output.clone()),
    })
}
