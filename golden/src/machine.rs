//! Instruction-level golden model of the integrated accelerator.
//!
//! [`run`] executes a program held in a DRAM byte image, as the hardware does: it
//! fetches instruction words from the program address, dispatches them in order into
//! the load, compute and store engines' queues (`queue_depth` each), and lets each
//! engine run the instruction at the head of its queue once its dependency tokens are
//! available and the queues it pushes into have room. `FENCE` and `HALT` wait until
//! every engine is idle. When no engine and not the dispatcher can move, the model
//! stops with [`ErrorCode::Watchdog`], which is where the hardware's watchdog fires.
//!
//! The arithmetic is the unit models' (no second copy): GEMM tiles are
//! [`crate::gemm::gemm`] or [`crate::nm_sparse::sparse_gemm`], accumulation wraps
//! with [`crate::num::wrap_signed`], the epilogue is [`crate::requant::requant`] with
//! each column's parameters then [`crate::gelu::GeluUnit`], and softmax is
//! [`crate::softmax::SoftmaxUnit::row`].
//!
//! **Memory encoding.** Elements are little-endian two's complement in
//! [`crate::accel::elem_bytes`] bytes; an operand is read as the low `bits` bits of
//! its element, sign-extended (so a value that does not fit wraps, as in hardware).
//! Outputs are written sign- or zero-extended to whole elements. Accumulator elements
//! are 4 or 8 bytes.
//!
//! **Ordering.** The engines run one instruction at a time, in an order the
//! dependency tokens allow. A program whose engines touch the same scratchpad,
//! accumulator or DRAM bytes without a token or `FENCE` between them has a race: the
//! hardware may run it in another order. Such programs are the programmer's error.
//!
//! **Errors** stop the machine with an [`ErrorCode`]; the DRAM image then holds what
//! the instructions that finished wrote, and is not compared with the hardware's.

use std::collections::VecDeque;
use std::fmt;

use crate::accel::{elem_bytes, Geometry};
use crate::config::Config;
use crate::gemm::{gemm, Matrix};
use crate::isa::{
    Act, Add, Dma, Engine, Epilogue, Gemm, Instr, Layernorm, Op, Softmax, StoreSrc, WORD_BYTES,
};
use crate::nm_sparse::{sparse_gemm, Compressed};
use crate::num::wrap_signed;
use crate::requant::{requant, PerChannel, RequantConfig};

/// Why the accelerator stopped early; the value of the hardware's error register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorCode {
    /// An undefined instruction word, an instruction whose unit is absent, or a
    /// program that runs past its length without `HALT`.
    IllegalInstruction = 1,
    /// A scratchpad or accumulator row range beyond the memory.
    AddressRange = 2,
    /// A DRAM access outside the memory (an AXI SLVERR/DECERR response).
    Axi = 3,
    /// No engine can make progress (for example, waiting for a token nobody sends).
    Watchdog = 4,
    /// An epilogue parameter outside its range (shift, zero point or bias).
    Parameter = 5,
}

/// An error that stopped the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The error register's value.
    pub code: ErrorCode,
    /// The instruction at fault, when there is one.
    pub index: Option<usize>,
    /// What happened.
    pub message: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {:?} ({})", self.code, self.code as u32)?;
        if let Some(i) = self.index {
            write!(f, " at instruction {i}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Instructions executed, `HALT` included.
    pub instructions: u64,
    /// Useful multiply-accumulates: `m x cols x k` per GEMM (nonzero weights only on a
    /// sparse array: `m x cols x N x ceil(k / M)`).
    pub macs: u64,
    /// Bytes read from DRAM by `LOAD`.
    pub dram_bytes_read: u64,
    /// Bytes written to DRAM by `STORE`.
    pub dram_bytes_written: u64,
    /// Bytes of instructions fetched.
    pub fetch_bytes: u64,
}

/// An instruction that read scratchpad or accumulator rows no instruction had
/// written: its result depends on the memories' power-on contents (zero here, random
/// in hardware), so it is a program bug that the golden model reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UninitRead {
    /// The instruction.
    pub index: usize,
    /// `"scratchpad"` or `"accumulator"`.
    pub memory: &'static str,
    /// The first unwritten row it read.
    pub row: u64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Counters.
    pub stats: Stats,
    /// `None` when the program reached `HALT` cleanly.
    pub fault: Option<Fault>,
    /// Reads of never-written rows, one per instruction, the first 16, in execution
    /// order.
    pub uninit_reads: Vec<UninitRead>,
}

/// The accelerator's architectural state.
pub struct Machine<'a> {
    cfg: &'a Config,
    geo: Geometry,
    /// The DRAM byte image; DRAM address = `dram_base` + offset, and the image covers
    /// addresses `0..dram.len()`.
    pub dram: Vec<u8>,
    /// `dram_base` register.
    pub dram_base: u64,
    spad: Vec<u8>,
    acc: Vec<u8>,
    /// For each DRAM byte, the index of the last instruction that wrote it (`None`
    /// for bytes no `STORE` wrote), to name the writer of a mismatching byte.
    pub last_writer: Vec<Option<u32>>,
    stats: Stats,
    /// Rows written so far, per memory.
    spad_written: Vec<bool>,
    acc_written: Vec<bool>,
    uninit: Vec<UninitRead>,
}

type Step = Result<(), Fault>;

fn fault(code: ErrorCode, index: usize, message: String) -> Fault {
    Fault {
        code,
        index: Some(index),
        message,
    }
}

/// Read element `i` (of `eb` bytes) of `bytes` as the low `bits` bits, sign-extended.
fn read_elem(bytes: &[u8], i: usize, eb: usize, bits: u32) -> i64 {
    let mut v: u64 = 0;
    for b in 0..eb {
        v |= (bytes[i * eb + b] as u64) << (8 * b);
    }
    wrap_signed(v as i128, bits) as i64
}

/// Write `v` as element `i` of `eb` bytes (two's complement, truncated to `eb` bytes).
fn write_elem(bytes: &mut [u8], i: usize, eb: usize, v: i64) {
    for b in 0..eb {
        bytes[i * eb + b] = (v >> (8 * b)) as u8;
    }
}

impl<'a> Machine<'a> {
    /// A machine for `cfg` (which must have `[accel]`) on the DRAM image `dram`. The
    /// scratchpad and accumulator start at zero.
    pub fn new(
        cfg: &'a Config,
        dram: Vec<u8>,
        dram_base: u64,
    ) -> Result<Machine<'a>, crate::config::ConfigError> {
        let geo = Geometry::of(cfg)?;
        let n = dram.len();
        Ok(Machine {
            cfg,
            geo,
            dram,
            dram_base,
            spad: vec![0; geo.spad_rows as usize * geo.spad_row_bytes as usize],
            acc: vec![0; geo.acc_rows as usize * geo.acc_row_bytes as usize],
            last_writer: vec![None; n],
            spad_written: vec![false; geo.spad_rows as usize],
            acc_written: vec![false; geo.acc_rows as usize],
            uninit: Vec::new(),
            stats: Stats::default(),
        })
    }

    /// The memory geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// The scratchpad bytes.
    pub fn spad(&self) -> &[u8] {
        &self.spad
    }

    /// The accumulator bytes.
    pub fn acc(&self) -> &[u8] {
        &self.acc
    }

    /// The scratchpad bytes, writable (to start from a given image).
    pub fn spad_mut(&mut self) -> &mut [u8] {
        &mut self.spad
    }

    /// The accumulator bytes, writable (to start from a given image).
    pub fn acc_mut(&mut self) -> &mut [u8] {
        &mut self.acc
    }

    /// DRAM image range of `len` bytes at offset `off` from `dram_base`.
    fn dram_range(&self, off: u64, len: u64, idx: usize) -> Result<std::ops::Range<usize>, Fault> {
        let start = self.dram_base.checked_add(off);
        let end = start.and_then(|s| s.checked_add(len));
        match (start, end) {
            (Some(s), Some(e)) if e <= self.dram.len() as u64 => Ok(s as usize..e as usize),
            _ => Err(fault(
                ErrorCode::Axi,
                idx,
                format!(
                    "DRAM bytes {:#x}+{off:#x}..+{len} lie outside the {}-byte memory",
                    self.dram_base,
                    self.dram.len()
                ),
            )),
        }
    }

    /// Byte range of rows `first..first + rows` of the scratchpad (or, with `acc`, the
    /// accumulator), or error 2 naming `what`.
    fn rows_of(
        &self,
        acc: bool,
        first: u64,
        rows: u64,
        idx: usize,
        what: &str,
    ) -> Result<std::ops::Range<usize>, Fault> {
        let (name, w, n) = if acc {
            ("accumulator", self.geo.acc_row_bytes, self.geo.acc_rows)
        } else {
            ("scratchpad", self.geo.spad_row_bytes, self.geo.spad_rows)
        };
        let w = w as u64;
        if first + rows > n as u64 {
            return Err(fault(
                ErrorCode::AddressRange,
                idx,
                format!(
                    "{what} uses {name} rows {first}..{}, beyond its {n} rows",
                    first + rows
                ),
            ));
        }
        Ok((first * w) as usize..((first + rows) * w) as usize)
    }

    fn spad_rows(
        &self,
        first: u64,
        rows: u64,
        idx: usize,
        what: &str,
    ) -> Result<std::ops::Range<usize>, Fault> {
        self.rows_of(false, first, rows, idx, what)
    }

    fn acc_rows(
        &self,
        first: u64,
        rows: u64,
        idx: usize,
        what: &str,
    ) -> Result<std::ops::Range<usize>, Fault> {
        self.rows_of(true, first, rows, idx, what)
    }

    fn missing(&self, idx: usize, op: &str, section: &str) -> Fault {
        fault(
            ErrorCode::IllegalInstruction,
            idx,
            format!("`{op}` needs the {section} unit, which this accelerator does not have"),
        )
    }

    /// Rows `first..first + rows` of a memory have been written.
    fn mark(&mut self, acc: bool, first: u64, rows: u64) {
        let v = if acc {
            &mut self.acc_written
        } else {
            &mut self.spad_written
        };
        for r in first..first + rows {
            v[r as usize] = true;
        }
    }

    /// Instruction `idx` reads rows `first..first + rows`: note the first unwritten one.
    fn check_read(&mut self, acc: bool, first: u64, rows: u64, idx: usize) {
        let v = if acc {
            &self.acc_written
        } else {
            &self.spad_written
        };
        if let Some(r) = (first..first + rows).find(|&r| !v[r as usize]) {
            if self.uninit.len() < 16 && self.uninit.last().is_none_or(|u| u.index != idx) {
                self.uninit.push(UninitRead {
                    index: idx,
                    memory: if acc { "accumulator" } else { "scratchpad" },
                    row: r,
                });
            }
        }
    }

    fn load(&mut self, d: &Dma, idx: usize) -> Step {
        let pitch = self.geo.spad_pitch(d.bytes as u64);
        let dst = self.spad_rows(d.row as u64, d.rows as u64 * pitch, idx, "`load`")?;
        self.mark(false, d.row as u64, d.rows as u64 * pitch);
        let span = pitch as usize * self.geo.spad_row_bytes as usize;
        for r in 0..d.rows as u64 {
            let off = d.dram.saturating_add(r * d.stride as u64);
            let src = self.dram_range(off, d.bytes as u64, idx)?;
            let row0 = dst.start + r as usize * span;
            let row = &mut self.spad[row0..row0 + span];
            row.fill(0);
            row[..d.bytes as usize].copy_from_slice(&self.dram[src]);
            self.stats.dram_bytes_read += d.bytes as u64;
        }
        Ok(())
    }

    fn store(&mut self, d: &Dma, from: StoreSrc, idx: usize) -> Step {
        let (pitch, row_bytes) = match from {
            StoreSrc::Spad => (self.geo.spad_pitch(d.bytes as u64), self.geo.spad_row_bytes),
            StoreSrc::Acc => (self.geo.acc_pitch(d.bytes as u64), self.geo.acc_row_bytes),
        };
        let src = match from {
            StoreSrc::Spad => {
                self.spad_rows(d.row as u64, d.rows as u64 * pitch, idx, "`store`")?
            }
            StoreSrc::Acc => self.acc_rows(d.row as u64, d.rows as u64 * pitch, idx, "`store`")?,
        };
        self.check_read(
            from == StoreSrc::Acc,
            d.row as u64,
            d.rows as u64 * pitch,
            idx,
        );
        let span = pitch as usize * row_bytes as usize;
        for r in 0..d.rows as u64 {
            let off = d.dram.saturating_add(r * d.stride as u64);
            let dst = self.dram_range(off, d.bytes as u64, idx)?;
            let s0 = src.start + r as usize * span;
            let mem = match from {
                StoreSrc::Spad => &self.spad,
                StoreSrc::Acc => &self.acc,
            };
            let bytes = mem[s0..s0 + d.bytes as usize].to_vec();
            self.last_writer[dst.clone()].fill(Some(idx as u32));
            self.dram[dst].copy_from_slice(&bytes);
            self.stats.dram_bytes_written += d.bytes as u64;
        }
        Ok(())
    }

    fn gemm(&mut self, g: &Gemm, idx: usize) -> Step {
        let a_cfg = self
            .cfg
            .array
            .clone()
            .ok_or_else(|| self.missing(idx, "gemm", "[array]"))?;
        let (r, c) = (a_cfg.rows as usize, a_cfg.cols as usize);
        if g.m > a_cfg.rows {
            return Err(fault(
                ErrorCode::IllegalInstruction,
                idx,
                format!("`m` = {} exceeds array.rows = {}", g.m, a_cfg.rows),
            ));
        }
        let k = g.k as usize;
        let ab = elem_bytes(a_cfg.act_bits) as usize;
        let wb = elem_bytes(a_cfg.weight_bits) as usize;
        let w = self.geo.spad_row_bytes as usize;
        // A: row i at a + i * pitch(k * ab); rows >= m are zero.
        let a_pitch = self.geo.spad_pitch((k * ab) as u64);
        let a_range = self.spad_rows(g.a as u64, r as u64 * a_pitch, idx, "`gemm` A")?;
        self.check_read(false, g.a as u64, g.m as u64 * a_pitch, idx);
        let sp = self.cfg.sparsity;
        let kp = match sp {
            Some(s) => k.div_ceil(s.m as usize) * s.m as usize,
            None => k,
        };
        let mut a = Matrix::zeros(r, kp);
        for i in 0..g.m as usize {
            let row0 = a_range.start + i * a_pitch as usize * w;
            for t in 0..k {
                *a.at_mut(i, t) = read_elem(&self.spad[row0..], t, ab, a_cfg.act_bits);
            }
        }
        let fmt = a_cfg.format();
        let b_pitch = self.geo.spad_pitch((c * wb) as u64) as usize;
        let prod = match sp {
            None => {
                let b_range = self.spad_rows(g.b as u64, (k * b_pitch) as u64, idx, "`gemm` B")?;
                self.check_read(false, g.b as u64, (k * b_pitch) as u64, idx);
                let mut b = Matrix::zeros(k, c);
                for t in 0..k {
                    let row0 = b_range.start + t * b_pitch * w;
                    for j in 0..c {
                        *b.at_mut(t, j) = read_elem(&self.spad[row0..], j, wb, a_cfg.weight_bits);
                    }
                }
                self.stats.macs += g.m as u64 * c as u64 * k as u64;
                gemm(&a, &b, fmt)
            }
            Some(s) => {
                let (n, m) = (s.n as usize, s.m as usize);
                let groups = kp / m;
                let meta_b = (s.n * s.idx_bits().max(1)).div_ceil(8) as usize;
                let meta_pitch = self.geo.spad_pitch((c * meta_b) as u64) as usize;
                let group_rows = n * b_pitch + meta_pitch;
                let b_range =
                    self.spad_rows(g.b as u64, (groups * group_rows) as u64, idx, "`gemm` B")?;
                self.check_read(false, g.b as u64, (groups * group_rows) as u64, idx);
                let mut values = Vec::with_capacity(groups * c * n);
                let mut indices = Vec::with_capacity(groups * c * n);
                for grp in 0..groups {
                    let g0 = b_range.start + grp * group_rows * w;
                    let meta0 = g0 + n * b_pitch * w;
                    for j in 0..c {
                        let mut meta: u64 = 0;
                        for b in 0..meta_b {
                            meta |= (self.spad[meta0 + j * meta_b + b] as u64) << (8 * b);
                        }
                        for slot in 0..n {
                            let row0 = g0 + slot * b_pitch * w;
                            values.push(read_elem(&self.spad[row0..], j, wb, a_cfg.weight_bits));
                            let bits = s.idx_bits();
                            indices
                                .push(((meta >> (slot as u32 * bits)) & ((1 << bits) - 1)) as u8);
                        }
                    }
                }
                let comp = Compressed {
                    sp: s,
                    k: kp,
                    cols: c,
                    values,
                    indices,
                };
                self.stats.macs += g.m as u64 * c as u64 * (groups * n) as u64;
                sparse_gemm(&a, &comp, fmt).expect("operands are wrapped to their widths")
            }
        };
        let acc_range = self.acc_rows(g.acc as u64, r as u64, idx, "`gemm`")?;
        if g.accumulate {
            self.check_read(true, g.acc as u64, r as u64, idx);
        }
        self.mark(true, g.acc as u64, r as u64);
        let eb = self.geo.acc_elem_bytes as usize;
        let acc = &mut self.acc[acc_range];
        for i in 0..r {
            for j in 0..c {
                let e = i * c + j;
                let old = if g.accumulate {
                    read_elem(acc, e, eb, a_cfg.acc_bits)
                } else {
                    0
                };
                let v = wrap_signed(old as i128 + prod.at(i, j) as i128, a_cfg.acc_bits);
                write_elem(acc, e, eb, v as i64);
            }
        }
        Ok(())
    }

    fn epilogue(&mut self, e: &Epilogue, idx: usize) -> Step {
        let rq = self
            .cfg
            .requant
            .clone()
            .ok_or_else(|| self.missing(idx, "epilogue", "[requant]"))?;
        let gelu = match e.act {
            Act::Gelu => Some(crate::gelu::GeluUnit::new(
                self.cfg
                    .gelu
                    .as_ref()
                    .ok_or_else(|| self.missing(idx, "epilogue act=gelu", "[gelu]"))?,
            )),
            _ => None,
        };
        if let (Some(_), Some(g)) = (&gelu, &self.cfg.gelu) {
            if !rq.out_signed {
                return Err(fault(
                    ErrorCode::IllegalInstruction,
                    idx,
                    "`act=gelu` needs a signed re-quantizer output (requant.out_signed = true)"
                        .into(),
                ));
            }
            if g.in_bits != rq.out_bits {
                return Err(fault(
                    ErrorCode::IllegalInstruction,
                    idx,
                    format!(
                        "`act=gelu` needs gelu.in_bits = requant.out_bits ({} != {})",
                        g.in_bits, rq.out_bits
                    ),
                ));
            }
        }
        let cols = self.cfg.array.as_ref().map_or(16, |a| a.cols) as usize;
        let acc_bits = self.cfg.array.as_ref().map_or(32, |a| a.acc_bits);
        let w = self.geo.spad_row_bytes as u64;
        if e.trans {
            let out_bits = match (&gelu, &self.cfg.gelu) {
                (Some(_), Some(g)) => g.out_bits,
                _ => rq.out_bits,
            };
            let ob = elem_bytes(out_bits) as u64;
            if e.rows as u64 * ob > w {
                return Err(fault(
                    ErrorCode::IllegalInstruction,
                    idx,
                    format!(
                        "`trans` writes each column's {} outputs of {ob} bytes into one scratchpad row of {w} bytes; `rows` must be at most {}",
                        e.rows,
                        w / ob
                    ),
                ));
            }
        }
        // Parameter block: shifts (int8), zero points (int16), biases (int32/int64).
        let bias_b: usize = if rq.in_bits > 32 { 8 } else { 4 };
        let p_sh = self.geo.spad_pitch(cols as u64);
        let p_zp = self.geo.spad_pitch(2 * cols as u64);
        let p_b = self.geo.spad_pitch((bias_b * cols) as u64);
        let pr = self.spad_rows(
            e.params as u64,
            p_sh + p_zp + p_b,
            idx,
            "`epilogue` parameters",
        )?;
        self.check_read(false, e.params as u64, p_sh + p_zp + p_b, idx);
        let sh0 = pr.start;
        let zp0 = sh0 + (p_sh * w) as usize;
        let b0 = zp0 + (p_zp * w) as usize;
        let mut per_col = Vec::with_capacity(cols);
        for j in 0..cols {
            let c = RequantConfig {
                shift: PerChannel::Tensor(read_elem(&self.spad[sh0..], j, 1, 8)),
                zero_point: read_elem(&self.spad[zp0..], j, 2, 16),
                bias: Some(PerChannel::Tensor(read_elem(
                    &self.spad[b0..],
                    j,
                    bias_b,
                    8 * bias_b as u32,
                ))),
                relu: e.act == Act::Relu,
                ..rq.clone()
            };
            c.validate().map_err(|err| {
                fault(
                    ErrorCode::Parameter,
                    idx,
                    format!("column {j}'s parameters are invalid: {err}"),
                )
            })?;
            per_col.push(c);
        }
        let out_bits = match (&gelu, &self.cfg.gelu) {
            (Some(_), Some(g)) => g.out_bits,
            _ => rq.out_bits,
        };
        let ob = elem_bytes(out_bits) as usize;
        let o_pitch = self.geo.spad_pitch((cols * ob) as u64) as usize;
        let src = self.acc_rows(e.acc as u64, e.rows as u64, idx, "`epilogue`")?;
        let out_rows = if e.trans {
            cols as u64
        } else {
            e.rows as u64 * o_pitch as u64
        };
        let dst = self.spad_rows(e.spad as u64, out_rows, idx, "`epilogue` output")?;
        self.check_read(true, e.acc as u64, e.rows as u64, idx);
        self.mark(false, e.spad as u64, out_rows);
        if e.trans {
            // Column j of the tile becomes scratchpad row spad + j.
            self.spad[dst.start..dst.start + cols * w as usize].fill(0);
        }
        let eb = self.geo.acc_elem_bytes as usize;
        let arb = self.geo.acc_row_bytes as usize;
        for r in 0..e.rows as usize {
            let a0 = src.start + r * arb;
            let d0 = dst.start + r * o_pitch * w as usize;
            if !e.trans {
                self.spad[d0..d0 + o_pitch * w as usize].fill(0);
            }
            for (j, c) in per_col.iter().enumerate() {
                let x = read_elem(&self.acc[a0..], j, eb, acc_bits);
                // The accumulator value enters the re-quantizer as a signed in_bits integer.
                let x = wrap_signed(x as i128, rq.in_bits) as i64;
                let y = requant(c, 0, x);
                let y = match &gelu {
                    Some(gu) => gu.eval(y),
                    None => y,
                };
                if e.trans {
                    let t0 = dst.start + j * w as usize;
                    write_elem(&mut self.spad[t0..], r, ob, y);
                } else {
                    write_elem(&mut self.spad[d0..], j, ob, y);
                }
            }
        }
        Ok(())
    }

    fn softmax(&mut self, s: &Softmax, idx: usize) -> Step {
        let sm = self
            .cfg
            .softmax
            .clone()
            .ok_or_else(|| self.missing(idx, "softmax", "[softmax]"))?;
        if s.len > sm.max_len {
            return Err(fault(
                ErrorCode::IllegalInstruction,
                idx,
                format!("`len` = {} exceeds softmax.max_len = {}", s.len, sm.max_len),
            ));
        }
        let unit = crate::softmax::SoftmaxUnit::new(&sm);
        let (ib, ob) = (
            elem_bytes(sm.in_bits) as usize,
            elem_bytes(sm.out_bits) as usize,
        );
        let len = s.len as usize;
        let ip = self.geo.spad_pitch((len * ib) as u64) as usize;
        let op = self.geo.spad_pitch((len * ob) as u64) as usize;
        let src = self.spad_rows(
            s.src as u64,
            (s.rows as usize * ip) as u64,
            idx,
            "`softmax` input",
        )?;
        let dst = self.spad_rows(
            s.dst as u64,
            (s.rows as usize * op) as u64,
            idx,
            "`softmax` output",
        )?;
        self.check_overlap(
            "softmax",
            "input",
            s.src as u64,
            ip,
            s.dst as u64,
            op,
            s.rows,
            idx,
        )?;
        self.check_read(false, s.src as u64, (s.rows as usize * ip) as u64, idx);
        self.mark(false, s.dst as u64, (s.rows as usize * op) as u64);
        // Read every row first: the output may overlap the input.
        let rows = self.read_rows(src.start, s.rows as usize, ip, len, ib, sm.in_bits);
        let ys: Vec<Vec<i64>> = rows
            .iter()
            .map(|xs| unit.row(xs).expect("row length and range checked"))
            .collect();
        self.write_rows(dst.start, op, ob, &ys);
        Ok(())
    }

    /// An output block `dst0..dst0 + rows * op` may overlap an input block
    /// `src0..src0 + rows * ip` only when it starts at or before it with a pitch no
    /// larger (the hardware streams: every output row is written after that row and
    /// every row before it were read).
    #[allow(clippy::too_many_arguments)]
    fn check_overlap(
        &self,
        what: &str,
        input: &str,
        src0: u64,
        ip: usize,
        dst0: u64,
        op: usize,
        rows: u32,
        idx: usize,
    ) -> Step {
        let (s1, d1) = (
            src0 + (rows as usize * ip) as u64,
            dst0 + (rows as usize * op) as u64,
        );
        if dst0 < s1 && src0 < d1 && !(dst0 <= src0 && op <= ip) {
            return Err(fault(
                ErrorCode::IllegalInstruction,
                idx,
                format!(
                    "`{what}` output rows {dst0}..{d1} overlap its {input} rows {src0}..{s1}; an overlapping output must start at or before the input, with a pitch no larger"
                ),
            ));
        }
        Ok(())
    }

    /// `rows` rows of `len` elements (`eb` bytes, signed `bits`) from scratchpad byte
    /// `start`, `pitch` scratchpad rows apart. Everything is read before anything is
    /// written, since an output may overlap its input.
    fn read_rows(
        &self,
        start: usize,
        rows: usize,
        pitch: usize,
        len: usize,
        eb: usize,
        bits: u32,
    ) -> Vec<Vec<i64>> {
        let w = self.geo.spad_row_bytes as usize;
        (0..rows)
            .map(|r| {
                let r0 = start + r * pitch * w;
                (0..len)
                    .map(|t| read_elem(&self.spad[r0..], t, eb, bits))
                    .collect()
            })
            .collect()
    }

    /// Write `rows` from scratchpad byte `start`, `pitch` scratchpad rows apart,
    /// elements of `eb` bytes, each row zero beyond its elements.
    fn write_rows(&mut self, start: usize, pitch: usize, eb: usize, rows: &[Vec<i64>]) {
        let w = self.geo.spad_row_bytes as usize;
        for (r, ys) in rows.iter().enumerate() {
            let d0 = start + r * pitch * w;
            self.spad[d0..d0 + pitch * w].fill(0);
            for (t, &y) in ys.iter().enumerate() {
                write_elem(&mut self.spad[d0..], t, eb, y);
            }
        }
    }

    fn layernorm(&mut self, l: &Layernorm, idx: usize) -> Step {
        let ln = self
            .cfg
            .layernorm
            .clone()
            .ok_or_else(|| self.missing(idx, "layernorm", "[layernorm]"))?;
        if l.len > ln.max_len {
            return Err(fault(
                ErrorCode::IllegalInstruction,
                idx,
                format!(
                    "`len` = {} exceeds layernorm.max_len = {}",
                    l.len, ln.max_len
                ),
            ));
        }
        let (ib, ob) = (
            elem_bytes(ln.in_bits) as usize,
            elem_bytes(ln.out_bits) as usize,
        );
        let (gb, bb) = (
            elem_bytes(ln.gamma_bits) as usize,
            elem_bytes(ln.beta_bits) as usize,
        );
        let len = l.len as usize;
        let w = self.geo.spad_row_bytes as usize;
        let ip = self.geo.spad_pitch((len * ib) as u64) as usize;
        let op = self.geo.spad_pitch((len * ob) as u64) as usize;
        let gp = self.geo.spad_pitch((len * gb) as u64) as usize;
        let bp = self.geo.spad_pitch((len * bb) as u64) as usize;
        let src = self.spad_rows(
            l.src as u64,
            (l.rows as usize * ip) as u64,
            idx,
            "`layernorm` input",
        )?;
        let dst = self.spad_rows(
            l.dst as u64,
            (l.rows as usize * op) as u64,
            idx,
            "`layernorm` output",
        )?;
        let prm = self.spad_rows(
            l.params as u64,
            (gp + bp) as u64,
            idx,
            "`layernorm` parameters",
        )?;
        self.check_overlap(
            "layernorm",
            "input",
            l.src as u64,
            ip,
            l.dst as u64,
            op,
            l.rows,
            idx,
        )?;
        self.check_read(false, l.params as u64, (gp + bp) as u64, idx);
        self.check_read(false, l.src as u64, (l.rows as usize * ip) as u64, idx);
        self.mark(false, l.dst as u64, (l.rows as usize * op) as u64);
        let gamma: Vec<i64> = (0..len)
            .map(|i| read_elem(&self.spad[prm.start..], i, gb, ln.gamma_bits))
            .collect();
        let b0 = prm.start + gp * w;
        let beta: Vec<i64> = (0..len)
            .map(|i| read_elem(&self.spad[b0..], i, bb, ln.beta_bits))
            .collect();
        let rows = self.read_rows(src.start, l.rows as usize, ip, len, ib, ln.in_bits);
        let ys: Vec<Vec<i64>> = rows
            .iter()
            .map(|xs| {
                crate::layernorm::layernorm_row(&ln, xs, &gamma, &beta)
                    .expect("row length and ranges follow from the formats")
            })
            .collect();
        self.write_rows(dst.start, op, ob, &ys);
        Ok(())
    }

    fn add(&mut self, a: &Add, idx: usize) -> Step {
        let rc = self
            .cfg
            .residual
            .clone()
            .ok_or_else(|| self.missing(idx, "add", "[residual]"))?;
        let (ab, bb, ob) = (
            elem_bytes(rc.a_bits) as usize,
            elem_bytes(rc.b_bits) as usize,
            elem_bytes(rc.out_bits) as usize,
        );
        let len = a.len as usize;
        let ap = self.geo.spad_pitch((len * ab) as u64) as usize;
        let bp = self.geo.spad_pitch((len * bb) as u64) as usize;
        let op = self.geo.spad_pitch((len * ob) as u64) as usize;
        let n = a.rows as usize;
        let sa = self.spad_rows(a.a as u64, (n * ap) as u64, idx, "`add` a")?;
        let sb = self.spad_rows(a.b as u64, (n * bp) as u64, idx, "`add` b")?;
        let dst = self.spad_rows(a.dst as u64, (n * op) as u64, idx, "`add` output")?;
        self.check_overlap("add", "`a`", a.a as u64, ap, a.dst as u64, op, a.rows, idx)?;
        self.check_overlap("add", "`b`", a.b as u64, bp, a.dst as u64, op, a.rows, idx)?;
        self.check_read(false, a.a as u64, (n * ap) as u64, idx);
        self.check_read(false, a.b as u64, (n * bp) as u64, idx);
        self.mark(false, a.dst as u64, (n * op) as u64);
        let xa = self.read_rows(sa.start, n, ap, len, ab, rc.a_bits);
        let xb = self.read_rows(sb.start, n, bp, len, bb, rc.b_bits);
        let ys: Vec<Vec<i64>> = xa
            .iter()
            .zip(&xb)
            .map(|(a, b)| {
                a.iter()
                    .zip(b)
                    .map(|(&x, &y)| crate::residual::residual(&rc, x, y))
                    .collect()
            })
            .collect();
        self.write_rows(dst.start, op, ob, &ys);
        Ok(())
    }

    fn execute(&mut self, i: &Instr, idx: usize) -> Step {
        self.stats.instructions += 1;
        match &i.op {
            Op::Load(d) => self.load(d, idx),
            Op::Store(d, from) => self.store(d, *from, idx),
            Op::Gemm(g) => self.gemm(g, idx),
            Op::Epilogue(e) => self.epilogue(e, idx),
            Op::Softmax(s) => self.softmax(s, idx),
            Op::Layernorm(l) => self.layernorm(l, idx),
            Op::Add(a) => self.add(a, idx),
            Op::Fence | Op::Halt | Op::Nop(_) => Ok(()),
        }
    }

    /// Run the program of `len` instructions at DRAM offset `prog` (from `dram_base`)
    /// until `HALT` or an error.
    pub fn run(&mut self, prog: u64, len: u64) -> Outcome {
        let fault = self.run_inner(prog, len).err();
        Outcome {
            stats: self.stats.clone(),
            fault,
            uninit_reads: self.uninit.clone(),
        }
    }

    fn fetch(&mut self, prog: u64, n: u64) -> Result<Instr, Fault> {
        let at = prog.saturating_add(n.saturating_mul(WORD_BYTES as u64));
        let r = self.dram_range(at, WORD_BYTES as u64, n as usize)?;
        self.stats.fetch_bytes += WORD_BYTES as u64;
        let w = u128::from_le_bytes(self.dram[r].try_into().expect("16 bytes"));
        Instr::decode(w).map_err(|m| fault(ErrorCode::IllegalInstruction, n as usize, m))
    }

    fn run_inner(&mut self, prog: u64, len: u64) -> Result<(), Fault> {
        let depth = self.cfg.accel.as_ref().map_or(16, |a| a.queue_depth) as usize;
        // Engine queues (load, compute, store) of (index, instruction).
        let mut queues: [VecDeque<(usize, Instr)>; 3] = Default::default();
        // Token queues: load->compute, compute->load, compute->store, store->compute.
        let mut tokens = [0usize; 4];
        let (l2c, c2l, c2s, s2c) = (0, 1, 2, 3);
        let eng = |e: Engine| match e {
            Engine::Load => 0,
            Engine::Compute => 1,
            Engine::Store => 2,
        };
        // (pop from prev, pop from next, push to prev, push to next) queue ids per engine.
        let links = |e: usize| -> [Option<usize>; 4] {
            match e {
                0 => [None, Some(c2l), None, Some(l2c)],
                1 => [Some(l2c), Some(s2c), Some(c2l), Some(c2s)],
                _ => [Some(c2s), None, Some(s2c), None],
            }
        };
        let mut pc: u64 = 0;
        let mut pending: Option<Instr> = None;
        // First error seen while dispatch stops and engines drain.
        let mut stop: Option<Fault> = None;
        loop {
            let mut progress = false;
            // Dispatcher.
            while stop.is_none() {
                if pending.is_none() {
                    if pc >= len {
                        stop = Some(fault(
                            ErrorCode::IllegalInstruction,
                            pc as usize,
                            format!("the program ran past its {len} instructions without `halt`"),
                        ));
                        break;
                    }
                    match self.fetch(prog, pc) {
                        Ok(i) => pending = Some(i),
                        Err(f) => {
                            stop = Some(f);
                            break;
                        }
                    }
                }
                let i = pending.expect("fetched");
                match i.op.engine() {
                    Some(e) => {
                        let q = &mut queues[eng(e)];
                        if q.len() >= depth {
                            break;
                        }
                        q.push_back((pc as usize, i));
                    }
                    None => {
                        if queues.iter().any(|q| !q.is_empty()) {
                            break;
                        }
                        self.stats.instructions += 1;
                        if i.op == Op::Halt {
                            return Ok(());
                        }
                    }
                }
                pending = None;
                pc += 1;
                progress = true;
            }
            // Engines, in a fixed order.
            for (e, queue) in queues.iter_mut().enumerate() {
                while let Some(&(idx, ins)) = queue.front() {
                    let l = links(e);
                    let d = ins.deps;
                    let wants = [d.pop_prev, d.pop_next, d.push_prev, d.push_next];
                    let ready = (0..2).all(|k| !wants[k] || l[k].is_some_and(|q| tokens[q] > 0))
                        && (2..4).all(|k| !wants[k] || l[k].is_some_and(|q| tokens[q] < depth));
                    if !ready {
                        break;
                    }
                    for k in 0..2 {
                        if wants[k] {
                            tokens[l[k].expect("checked")] -= 1;
                        }
                    }
                    if let Err(f) = self.execute(&ins, idx) {
                        return Err(stop.unwrap_or(f));
                    }
                    for k in 2..4 {
                        if wants[k] {
                            tokens[l[k].expect("checked")] += 1;
                        }
                    }
                    queue.pop_front();
                    progress = true;
                }
            }
            if !progress {
                // A dispatch error once the engines have drained what they could.
                if let Some(f) = stop {
                    return Err(f);
                }
                let waiting: Vec<String> = queues
                    .iter()
                    .zip(["load", "compute", "store"])
                    .filter_map(|(q, n)| {
                        q.front().map(|(i, ins)| {
                            format!("{n} engine at instruction {i} (`{}`)", ins.op.mnemonic())
                        })
                    })
                    .collect();
                return Err(Fault {
                    code: ErrorCode::Watchdog,
                    index: queues.iter().filter_map(|q| q.front().map(|x| x.0)).min(),
                    message: format!(
                        "no engine can make progress (tokens: load->compute {}, compute->load {}, compute->store {}, store->compute {}); waiting: {}",
                        tokens[l2c],
                        tokens[c2l],
                        tokens[c2s],
                        tokens[s2c],
                        if waiting.is_empty() { "dispatcher".to_string() } else { waiting.join(", ") }
                    ),
                });
            }
        }
    }
}

/// Run `program` (already in `dram` at offset `prog` from `dram_base` = 0) on `cfg`.
pub fn run(
    cfg: &Config,
    dram: Vec<u8>,
    prog: u64,
    len: u64,
) -> Result<(Vec<u8>, Outcome), crate::config::ConfigError> {
    let mut m = Machine::new(cfg, dram, 0)?;
    let out = m.run(prog, len);
    Ok((m.dram, out))
}
