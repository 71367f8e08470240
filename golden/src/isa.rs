//! The accelerator's instruction set: 128-bit instruction words, version 1.
//!
//! A program is a sequence of instruction words, each 16 bytes, little-endian (bit 0
//! of a word is bit 0 of its first byte). The accelerator fetches it by DMA from
//! DRAM and dispatches each instruction to one of three engines, which run
//! concurrently (GUIDE §8, after VTA): **load** (DRAM to scratchpad), **compute**
//! (GEMM, epilogue, softmax, LayerNorm, residual add) and **store** (scratchpad or accumulator to DRAM).
//! Within an engine instructions run in program order; across engines they are
//! ordered only by dependency tokens and by `FENCE`.
//!
//! ## Header (every instruction)
//! | bits | field |
//! |---|---|
//! | 3:0 | opcode: 1 LOAD, 2 STORE, 3 GEMM, 4 EPILOGUE, 5 SOFTMAX, 6 FENCE, 7 HALT, 8 NOP, 9 LAYERNORM, 10 ADD; 0 and 11..15 are illegal |
//! | 7:4 | ISA version, 1 |
//! | 8 | `pop_prev`: wait for and take a token from the previous engine |
//! | 9 | `pop_next`: wait for and take a token from the next engine |
//! | 10 | `push_prev`: when done, give a token to the previous engine |
//! | 11 | `push_next`: when done, give a token to the next engine |
//!
//! The engines are ordered load, compute, store: load has no previous engine and
//! store no next one, so those flags are illegal there. `FENCE` and `HALT` take no
//! flags. Tokens travel through four queues (load to compute, compute to load,
//! compute to store, store to compute) of `queue_depth` entries.
//!
//! ## Fields (bit ranges inclusive; every bit not listed is reserved and must be 0)
//! DRAM addresses are byte offsets from the `dram_base` control register. Scratchpad
//! and accumulator addresses are row numbers (see [`crate::accel`]).
//!
//! | instruction | engine | fields |
//! |---|---|---|
//! | `LOAD` | load | 51:12 `dram` (40 bits), 63:52 `rows` (1..=4095), 79:64 `bytes` per row (1..=65535), 103:80 `stride` (DRAM bytes between rows), 123:104 `spad` row |
//! | `STORE` | store | as `LOAD`, with 123:104 the source row and 124 set when the source is the accumulator |
//! | `GEMM` | compute | 31:12 `a` (spad row), 51:32 `b` (spad row), 67:52 `acc` (acc row), 83:68 `k` (1..=65535), 91:84 `m` valid rows of A (1..=255), 92 `accumulate` |
//! | `EPILOGUE` | compute | 27:12 `acc` (acc row), 47:28 `spad` (destination row), 63:48 `rows` (1..=65535), 83:64 `params` (spad row), 85:84 `act` (0 none, 1 ReLU, 2 GELU), 86 `trans` |
//! | `SOFTMAX` | compute | 31:12 `src` (spad row), 51:32 `dst` (spad row), 67:52 `rows` (1..=65535), 83:68 `len` (1..=65535) |
//! | `LAYERNORM` | compute | 31:12 `src` (spad row), 51:32 `dst` (spad row), 67:52 `rows` (1..=65535), 83:68 `len` (1..=65535), 103:84 `params` (spad row) |
//! | `ADD` | compute | 31:12 `a` (spad row), 51:32 `b` (spad row), 71:52 `dst` (spad row), 87:72 `rows` (1..=65535), 103:88 `len` (1..=65535) |
//! | `NOP` | any | 13:12 `engine` (0 load, 1 compute, 2 store): moves tokens only |
//!
//! ## Semantics
//! Let W be the scratchpad row size in bytes and `pitch(n) = ceil(n / W)` (at least 1).
//! - **LOAD:** for r in 0..rows, the `bytes` bytes at DRAM `dram + r * stride` go to
//!   the scratchpad starting at row `spad + r * pitch(bytes)`; the rest of those
//!   `pitch(bytes)` rows is zero-filled, so edge tiles are zero-padded.
//! - **STORE:** for r in 0..rows, the first `bytes` bytes starting at row
//!   `src + r * pitch(bytes)` (accumulator rows when `from acc`, with the accumulator
//!   row size instead of W) go to DRAM `dram + r * stride`.
//! - **GEMM:** one R x C output tile. A is row-major: A row i (i < R) starts at row
//!   `a + i * pitch(k * act bytes)`; rows i >= `m` count as zero. B row t (t < k) is
//!   spad row `b + t` (C weights). With `[sparsity]` N:M, B is compressed: K-group g
//!   (g < ceil(k / M)) starts at row `b + g * (N + meta rows)`, rows 0..N-1 hold slot
//!   s's weight of every column, and the meta rows hold each column's packed indices
//!   (`N * log2 M` bits, padded to whole bytes, column j at byte `j * meta bytes`).
//!   Accumulator rows `acc + i` get `C[i][j] = (accumulate ? C[i][j] : 0) + sum_t
//!   A[i][t] * B[t][j]`, wrapping at `acc_bits`.
//! - **EPILOGUE:** for r in 0..rows, accumulator row `acc + r` goes through the
//!   re-quantizer with per-column (channel) parameters, then optionally ReLU or GELU,
//!   into spad row `spad + r * pitch(C * out bytes)`. The parameter block at spad row
//!   `params` holds, each starting on a row boundary: C shifts (int8), C zero points
//!   (int16) and C biases (int32, or int64 when the re-quantizer's `in_bits` > 32).
//! - **SOFTMAX:** for r in 0..rows, the `len` elements at spad row
//!   `src + r * pitch(len * in bytes)` go through the softmax unit into spad row
//!   `dst + r * pitch(len * out bytes)`. The output may overlap the input only when
//!   it starts at or before it with a pitch no larger (in place is fine); other
//!   overlaps are illegal (error 1).
//! - **LAYERNORM:** for r in 0..rows, the `len` elements at spad row
//!   `src + r * pitch(len * in bytes)` go through the LayerNorm unit, channel i using
//!   `gamma[i]` and `beta[i]`, into spad row `dst + r * pitch(len * out bytes)`. The
//!   parameter block at spad row `params` holds `len` gammas (gamma bytes each), then,
//!   from the next row boundary, `len` betas (beta bytes each). Overlaps as SOFTMAX.
//! - **ADD:** for r in 0..rows, element i of the row at `a + r * pitch(len * a bytes)`
//!   and element i of the row at `b + r * pitch(len * b bytes)` go through the
//!   residual-add unit into element i of spad row `dst + r * pitch(len * out bytes)`.
//!   The output may overlap an input only when it starts at or before that input with
//!   a pitch no larger.
//! - **EPILOGUE with `trans`** writes the tile transposed: output column j (of C)
//!   goes to spad row `spad + j`, its element r from accumulator row `acc + r`, zero
//!   beyond `rows` elements; `rows * out bytes` must fit one scratchpad row (W bytes),
//!   else error 1. This is how a GEMM produces a transposed operand (K^T for
//!   attention) without a transposing DMA.
//! - **EPILOGUE with GELU** needs a signed re-quantizer output of GELU's `in_bits`.
//! - **FENCE:** waits until every instruction issued before it has finished.
//! - **HALT:** waits like `FENCE`, then sets `ap_done` and raises `interrupt`. A
//!   program's last instruction must be `HALT`.

use std::fmt;

/// Bytes per instruction word.
pub const WORD_BYTES: usize = 16;

/// The ISA version this module encodes.
pub const VERSION: u8 = 1;

/// Longest program accepted: 1 Mi instructions (16 MiB).
pub const MAX_INSTRUCTIONS: usize = 1 << 20;

/// The engine an instruction runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// DRAM to scratchpad.
    Load,
    /// GEMM, epilogue and softmax.
    Compute,
    /// Scratchpad or accumulator to DRAM.
    Store,
}

impl Engine {
    /// Lower-case name, as in the assembly syntax (`nop.load`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Load => "load",
            Engine::Compute => "compute",
            Engine::Store => "store",
        }
    }

    fn code(self) -> u128 {
        match self {
            Engine::Load => 0,
            Engine::Compute => 1,
            Engine::Store => 2,
        }
    }

    /// Whether the engine has a previous engine (compute and store do).
    pub fn has_prev(self) -> bool {
        self != Engine::Load
    }

    /// Whether the engine has a next engine (load and compute do).
    pub fn has_next(self) -> bool {
        self != Engine::Store
    }
}

/// Dependency-token flags of an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Deps {
    /// Take a token from the previous engine before starting.
    pub pop_prev: bool,
    /// Take a token from the next engine before starting.
    pub pop_next: bool,
    /// Give a token to the previous engine when done.
    pub push_prev: bool,
    /// Give a token to the next engine when done.
    pub push_next: bool,
}

impl Deps {
    /// No flags set.
    pub fn is_empty(&self) -> bool {
        *self == Deps::default()
    }

    /// The flags in assembly order, with their names.
    pub fn named(&self) -> [(&'static str, bool); 4] {
        [
            ("pop_prev", self.pop_prev),
            ("pop_next", self.pop_next),
            ("push_prev", self.push_prev),
            ("push_next", self.push_next),
        ]
    }
}

/// `LOAD` or `STORE`: a 2-D strided transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dma {
    /// DRAM byte offset from `dram_base` (40 bits).
    pub dram: u64,
    /// Rows, 1..=4095.
    pub rows: u32,
    /// Bytes per row, 1..=65535.
    pub bytes: u32,
    /// DRAM bytes from one row's start to the next's (24 bits).
    pub stride: u32,
    /// First scratchpad row (LOAD, STORE from spad) or accumulator row (STORE from acc).
    pub row: u32,
}

/// Where a `STORE` reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreSrc {
    /// The scratchpad.
    Spad,
    /// The accumulator.
    Acc,
}

/// `GEMM`: one output tile from a scratchpad-resident A block and B block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gemm {
    /// First scratchpad row of A (row-major, R rows).
    pub a: u32,
    /// First scratchpad row of B (one row per k; compressed groups when sparse).
    pub b: u32,
    /// First accumulator row of the tile.
    pub acc: u32,
    /// Reduction length, 1..=65535.
    pub k: u32,
    /// Valid rows of A, 1..=R (rows beyond count as zero).
    pub m: u32,
    /// Add to the accumulator instead of overwriting it.
    pub accumulate: bool,
}

/// The activation applied after re-quantization in an `EPILOGUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    /// None.
    None,
    /// `max(y, zero_point)`.
    Relu,
    /// The GELU unit.
    Gelu,
}

impl Act {
    /// Assembly name.
    pub fn name(self) -> &'static str {
        match self {
            Act::None => "none",
            Act::Relu => "relu",
            Act::Gelu => "gelu",
        }
    }
}

/// `EPILOGUE`: accumulator rows through requant (and an activation) to the scratchpad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Epilogue {
    /// First accumulator row.
    pub acc: u32,
    /// First destination scratchpad row.
    pub spad: u32,
    /// Rows, 1..=65535.
    pub rows: u32,
    /// Scratchpad row of the parameter block.
    pub params: u32,
    /// Activation after re-quantization.
    pub act: Act,
    /// Write the tile transposed (see the module docs).
    pub trans: bool,
}

/// `SOFTMAX`: scratchpad rows of runtime length through the softmax unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Softmax {
    /// First source scratchpad row.
    pub src: u32,
    /// First destination scratchpad row.
    pub dst: u32,
    /// Rows, 1..=65535.
    pub rows: u32,
    /// Elements per row, 1..=65535 (at most the unit's `max_len`).
    pub len: u32,
}

/// `LAYERNORM`: scratchpad rows through the LayerNorm unit, per-channel parameters from
/// a scratchpad block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layernorm {
    /// First source scratchpad row.
    pub src: u32,
    /// First destination scratchpad row.
    pub dst: u32,
    /// Rows, 1..=65535.
    pub rows: u32,
    /// Elements (channels) per row, 1..=65535 (at most the unit's `max_len`).
    pub len: u32,
    /// Scratchpad row of the parameter block (gammas, then betas).
    pub params: u32,
}

/// `ADD`: element-wise residual add of two scratchpad row blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Add {
    /// First scratchpad row of operand `a`.
    pub a: u32,
    /// First scratchpad row of operand `b`.
    pub b: u32,
    /// First destination scratchpad row.
    pub dst: u32,
    /// Rows, 1..=65535.
    pub rows: u32,
    /// Elements per row, 1..=65535.
    pub len: u32,
}

/// What an instruction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// DRAM to scratchpad.
    Load(Dma),
    /// Scratchpad or accumulator to DRAM.
    Store(Dma, StoreSrc),
    /// One GEMM tile.
    Gemm(Gemm),
    /// Accumulator to scratchpad through requant.
    Epilogue(Epilogue),
    /// Softmax over scratchpad rows.
    Softmax(Softmax),
    /// LayerNorm over scratchpad rows.
    Layernorm(Layernorm),
    /// Element-wise residual add.
    Add(Add),
    /// Wait for every earlier instruction.
    Fence,
    /// Wait for every earlier instruction, then stop and raise the interrupt.
    Halt,
    /// Move dependency tokens only, on one engine.
    Nop(Engine),
}

impl Op {
    /// The engine that runs it (`None` for `FENCE` and `HALT`, which the dispatcher
    /// handles).
    pub fn engine(&self) -> Option<Engine> {
        match self {
            Op::Load(_) => Some(Engine::Load),
            Op::Store(..) => Some(Engine::Store),
            Op::Gemm(_) | Op::Epilogue(_) | Op::Softmax(_) | Op::Layernorm(_) | Op::Add(_) => {
                Some(Engine::Compute)
            }
            Op::Fence | Op::Halt => None,
            Op::Nop(e) => Some(*e),
        }
    }

    /// Assembly mnemonic.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            Op::Load(_) => "load",
            Op::Store(..) => "store",
            Op::Gemm(_) => "gemm",
            Op::Epilogue(_) => "epilogue",
            Op::Softmax(_) => "softmax",
            Op::Layernorm(_) => "layernorm",
            Op::Add(_) => "add",
            Op::Fence => "fence",
            Op::Halt => "halt",
            Op::Nop(Engine::Load) => "nop.load",
            Op::Nop(Engine::Compute) => "nop.compute",
            Op::Nop(Engine::Store) => "nop.store",
        }
    }

    fn opcode(&self) -> u128 {
        match self {
            Op::Load(_) => 1,
            Op::Store(..) => 2,
            Op::Gemm(_) => 3,
            Op::Epilogue(_) => 4,
            Op::Softmax(_) => 5,
            Op::Fence => 6,
            Op::Halt => 7,
            Op::Nop(_) => 8,
            Op::Layernorm(_) => 9,
            Op::Add(_) => 10,
        }
    }
}

/// One instruction: an operation and its dependency flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instr {
    /// Dependency-token flags.
    pub deps: Deps,
    /// The operation.
    pub op: Op,
}

/// A field of an instruction word: name, lowest bit, width in bits, smallest legal
/// value.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Assembly name.
    pub name: &'static str,
    /// Lowest bit in the word.
    pub lo: u32,
    /// Width in bits.
    pub bits: u32,
    /// Smallest legal value (counts start at 1).
    pub min: u64,
}

impl Field {
    const fn new(name: &'static str, lo: u32, bits: u32, min: u64) -> Field {
        Field {
            name,
            lo,
            bits,
            min,
        }
    }

    /// Largest value the field holds.
    pub fn max(&self) -> u64 {
        if self.bits == 64 {
            u64::MAX
        } else {
            (1u64 << self.bits) - 1
        }
    }

    fn get(&self, w: u128) -> u64 {
        ((w >> self.lo) as u64) & self.max()
    }

    fn put(&self, w: &mut u128, v: u64) {
        debug_assert!(v <= self.max());
        *w |= (v as u128) << self.lo;
    }

    /// The field's bits within a word.
    pub fn mask(&self) -> u128 {
        (self.max() as u128) << self.lo
    }

    /// Check `v` against the field's range.
    pub fn check(&self, v: u64) -> Result<(), String> {
        if v < self.min || v > self.max() {
            Err(format!(
                "`{}` = {v} is outside the allowed range {}..={}",
                self.name,
                self.min,
                self.max()
            ))
        } else {
            Ok(())
        }
    }
}

/// LOAD and STORE fields (STORE adds [`FROM_ACC`]).
pub const DMA_FIELDS: [Field; 5] = [
    Field::new("dram", 12, 40, 0),
    Field::new("rows", 52, 12, 1),
    Field::new("bytes", 64, 16, 1),
    Field::new("stride", 80, 24, 0),
    Field::new("spad", 104, 20, 0),
];
/// STORE's source flag: set when the source is the accumulator.
pub const FROM_ACC: Field = Field::new("from_acc", 124, 1, 0);
/// GEMM fields (`accumulate` is bit 92).
pub const GEMM_FIELDS: [Field; 5] = [
    Field::new("a", 12, 20, 0),
    Field::new("b", 32, 20, 0),
    Field::new("acc", 52, 16, 0),
    Field::new("k", 68, 16, 1),
    Field::new("m", 84, 8, 1),
];
/// GEMM's accumulate flag.
pub const ACCUMULATE: Field = Field::new("accumulate", 92, 1, 0);
/// EPILOGUE fields (`act` is bits 85:84).
pub const EPILOGUE_FIELDS: [Field; 4] = [
    Field::new("acc", 12, 16, 0),
    Field::new("spad", 28, 20, 0),
    Field::new("rows", 48, 16, 1),
    Field::new("params", 64, 20, 0),
];
/// EPILOGUE's activation: 0 none, 1 ReLU, 2 GELU.
pub const ACT: Field = Field::new("act", 84, 2, 0);
/// EPILOGUE's transposed-write flag.
pub const TRANS: Field = Field::new("trans", 86, 1, 0);
/// SOFTMAX fields.
pub const SOFTMAX_FIELDS: [Field; 4] = [
    Field::new("src", 12, 20, 0),
    Field::new("dst", 32, 20, 0),
    Field::new("rows", 52, 16, 1),
    Field::new("len", 68, 16, 1),
];
/// LAYERNORM fields.
pub const LAYERNORM_FIELDS: [Field; 5] = [
    Field::new("src", 12, 20, 0),
    Field::new("dst", 32, 20, 0),
    Field::new("rows", 52, 16, 1),
    Field::new("len", 68, 16, 1),
    Field::new("params", 84, 20, 0),
];
/// ADD fields.
pub const ADD_FIELDS: [Field; 5] = [
    Field::new("a", 12, 20, 0),
    Field::new("b", 32, 20, 0),
    Field::new("dst", 52, 20, 0),
    Field::new("rows", 72, 16, 1),
    Field::new("len", 88, 16, 1),
];
/// NOP's engine: 0 load, 1 compute, 2 store.
pub const NOP_ENGINE: Field = Field::new("engine", 12, 2, 0);

/// The opcode, bits 3:0.
pub const OPCODE: Field = Field::new("opcode", 0, 4, 0);
/// The ISA version, bits 7:4.
pub const VERSION_FIELD: Field = Field::new("version", 4, 4, 0);
/// Bits of `pop_prev`, `pop_next`, `push_prev`, `push_next`.
pub const DEP_BITS: [u32; 4] = [8, 9, 10, 11];

/// Highest defined opcode.
pub const MAX_OPCODE: u8 = 10;

/// The fields of opcode `op` (1..=[`MAX_OPCODE`]) beyond the header, flags included, in bit
/// order; `None` for an undefined opcode. Every bit of a word outside the header and
/// these fields is reserved. The hardware decoder is generated from this table.
pub fn fields_of(op: u8) -> Option<Vec<Field>> {
    Some(match op {
        1 => DMA_FIELDS.to_vec(),
        2 => {
            let mut v = DMA_FIELDS.to_vec();
            v.push(FROM_ACC);
            v
        }
        3 => {
            let mut v = GEMM_FIELDS.to_vec();
            v.push(ACCUMULATE);
            v
        }
        4 => {
            let mut v = EPILOGUE_FIELDS.to_vec();
            v.push(ACT);
            v.push(TRANS);
            v
        }
        5 => SOFTMAX_FIELDS.to_vec(),
        6 | 7 => vec![],
        8 => vec![NOP_ENGINE],
        9 => LAYERNORM_FIELDS.to_vec(),
        10 => ADD_FIELDS.to_vec(),
        _ => return None,
    })
}

/// Bits of a word with opcode `op` that are not reserved.
pub fn used_mask(op: u8) -> Option<u128> {
    let header = OPCODE.mask() | VERSION_FIELD.mask() | (0xf << 8);
    fields_of(op).map(|fs| fs.iter().fold(header, |m, f| m | f.mask()))
}

/// Why an instruction word or a program was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsaError {
    /// Index of the instruction (`None` for whole-program problems).
    pub index: Option<usize>,
    /// What is wrong, naming the field and the allowed range.
    pub message: String,
}

impl fmt::Display for IsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(
                f,
                "instruction {i} (byte offset {}): {}",
                i * WORD_BYTES,
                self.message
            ),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for IsaError {}

fn dma_values(d: &Dma) -> [u64; 5] {
    [
        d.dram,
        d.rows as u64,
        d.bytes as u64,
        d.stride as u64,
        d.row as u64,
    ]
}

fn gemm_values(g: &Gemm) -> [u64; 5] {
    [g.a, g.b, g.acc, g.k, g.m].map(u64::from)
}

fn epilogue_values(e: &Epilogue) -> [u64; 4] {
    [e.acc, e.spad, e.rows, e.params].map(u64::from)
}

fn softmax_values(s: &Softmax) -> [u64; 4] {
    [s.src, s.dst, s.rows, s.len].map(u64::from)
}

fn layernorm_values(l: &Layernorm) -> [u64; 5] {
    [l.src, l.dst, l.rows, l.len, l.params].map(u64::from)
}

fn add_values(a: &Add) -> [u64; 5] {
    [a.a, a.b, a.dst, a.rows, a.len].map(u64::from)
}

fn check_fields(fields: &[Field], values: &[u64]) -> Result<(), String> {
    for (f, v) in fields.iter().zip(values) {
        f.check(*v)?;
    }
    Ok(())
}

impl Instr {
    /// An instruction with no dependency flags.
    pub fn new(op: Op) -> Instr {
        Instr {
            deps: Deps::default(),
            op,
        }
    }

    /// Check every field's range and the dependency flags against the engine.
    pub fn validate(&self) -> Result<(), String> {
        match &self.op {
            Op::Load(d) | Op::Store(d, _) => check_fields(&DMA_FIELDS, &dma_values(d))?,
            Op::Gemm(g) => check_fields(&GEMM_FIELDS, &gemm_values(g))?,
            Op::Epilogue(e) => check_fields(&EPILOGUE_FIELDS, &epilogue_values(e))?,
            Op::Softmax(s) => check_fields(&SOFTMAX_FIELDS, &softmax_values(s))?,
            Op::Layernorm(l) => check_fields(&LAYERNORM_FIELDS, &layernorm_values(l))?,
            Op::Add(a) => check_fields(&ADD_FIELDS, &add_values(a))?,
            Op::Fence | Op::Halt | Op::Nop(_) => {}
        }
        let d = &self.deps;
        match self.op.engine() {
            None if !d.is_empty() => {
                return Err(format!(
                    "`{}` takes no dependency flags (it waits for every engine)",
                    self.op.mnemonic()
                ))
            }
            Some(e) if !e.has_prev() && (d.pop_prev || d.push_prev) => {
                return Err(format!(
                    "`{}` runs on the {} engine, which has no previous engine: `pop_prev`/`push_prev` are not allowed",
                    self.op.mnemonic(),
                    e.name()
                ))
            }
            Some(e) if !e.has_next() && (d.pop_next || d.push_next) => {
                return Err(format!(
                    "`{}` runs on the {} engine, which has no next engine: `pop_next`/`push_next` are not allowed",
                    self.op.mnemonic(),
                    e.name()
                ))
            }
            _ => {}
        }
        Ok(())
    }

    /// The 128-bit word. Panics in debug builds on a field out of range; call
    /// [`Instr::validate`] first for untrusted values.
    pub fn encode(&self) -> u128 {
        let mut w = 0u128;
        OPCODE.put(&mut w, self.op.opcode() as u64);
        VERSION_FIELD.put(&mut w, VERSION as u64);
        for ((_, on), bit) in self.deps.named().iter().zip(DEP_BITS) {
            if *on {
                w |= 1u128 << bit;
            }
        }
        let put_all = |w: &mut u128, fields: &[Field], values: &[u64]| {
            for (f, v) in fields.iter().zip(values) {
                f.put(w, *v);
            }
        };
        match &self.op {
            Op::Load(d) => put_all(&mut w, &DMA_FIELDS, &dma_values(d)),
            Op::Store(d, src) => {
                put_all(&mut w, &DMA_FIELDS, &dma_values(d));
                FROM_ACC.put(&mut w, (*src == StoreSrc::Acc) as u64);
            }
            Op::Gemm(g) => {
                put_all(&mut w, &GEMM_FIELDS, &gemm_values(g));
                ACCUMULATE.put(&mut w, g.accumulate as u64);
            }
            Op::Epilogue(e) => {
                put_all(&mut w, &EPILOGUE_FIELDS, &epilogue_values(e));
                let act = match e.act {
                    Act::None => 0,
                    Act::Relu => 1,
                    Act::Gelu => 2,
                };
                ACT.put(&mut w, act);
                TRANS.put(&mut w, e.trans as u64);
            }
            Op::Softmax(s) => put_all(&mut w, &SOFTMAX_FIELDS, &softmax_values(s)),
            Op::Layernorm(l) => put_all(&mut w, &LAYERNORM_FIELDS, &layernorm_values(l)),
            Op::Add(a) => put_all(&mut w, &ADD_FIELDS, &add_values(a)),
            Op::Fence | Op::Halt => {}
            Op::Nop(e) => NOP_ENGINE.put(&mut w, e.code() as u64),
        }
        w
    }

    /// Decode a word, rejecting unknown opcodes, other versions, set reserved bits,
    /// out-of-range fields and illegal dependency flags.
    pub fn decode(w: u128) -> Result<Instr, String> {
        let opcode = OPCODE.get(w);
        let version = VERSION_FIELD.get(w);
        if !(1..=MAX_OPCODE as u64).contains(&opcode) {
            return Err(format!(
                "opcode {opcode} is not defined (allowed 1..={MAX_OPCODE}: load, store, gemm, epilogue, softmax, fence, halt, nop, layernorm, add)"
            ));
        }
        if version != VERSION as u64 {
            return Err(format!(
                "ISA version {version} is not supported (this accgen reads version {VERSION})"
            ));
        }
        let bit = |b: u32| (w >> b) & 1 == 1;
        let deps = Deps {
            pop_prev: bit(DEP_BITS[0]),
            pop_next: bit(DEP_BITS[1]),
            push_prev: bit(DEP_BITS[2]),
            push_next: bit(DEP_BITS[3]),
        };
        let mut used = OPCODE.mask() | VERSION_FIELD.mask() | (0xf << 8);
        let mut take = |f: &Field| {
            used |= f.mask();
            f.get(w)
        };
        let dma = |take: &mut dyn FnMut(&Field) -> u64| Dma {
            dram: take(&DMA_FIELDS[0]),
            rows: take(&DMA_FIELDS[1]) as u32,
            bytes: take(&DMA_FIELDS[2]) as u32,
            stride: take(&DMA_FIELDS[3]) as u32,
            row: take(&DMA_FIELDS[4]) as u32,
        };
        let op = match opcode {
            1 => Op::Load(dma(&mut take)),
            2 => {
                let d = dma(&mut take);
                let src = if take(&FROM_ACC) == 1 {
                    StoreSrc::Acc
                } else {
                    StoreSrc::Spad
                };
                Op::Store(d, src)
            }
            3 => {
                let v: Vec<u32> = GEMM_FIELDS.iter().map(|f| take(f) as u32).collect();
                Op::Gemm(Gemm {
                    a: v[0],
                    b: v[1],
                    acc: v[2],
                    k: v[3],
                    m: v[4],
                    accumulate: take(&ACCUMULATE) == 1,
                })
            }
            4 => {
                let v: Vec<u32> = EPILOGUE_FIELDS.iter().map(|f| take(f) as u32).collect();
                let act = match take(&ACT) {
                    0 => Act::None,
                    1 => Act::Relu,
                    2 => Act::Gelu,
                    a => {
                        return Err(format!(
                            "`act` = {a} is not defined (allowed 0 none, 1 relu, 2 gelu)"
                        ))
                    }
                };
                Op::Epilogue(Epilogue {
                    acc: v[0],
                    spad: v[1],
                    rows: v[2],
                    params: v[3],
                    act,
                    trans: take(&TRANS) == 1,
                })
            }
            5 => {
                let v: Vec<u32> = SOFTMAX_FIELDS.iter().map(|f| take(f) as u32).collect();
                Op::Softmax(Softmax {
                    src: v[0],
                    dst: v[1],
                    rows: v[2],
                    len: v[3],
                })
            }
            9 => {
                let v: Vec<u32> = LAYERNORM_FIELDS.iter().map(|f| take(f) as u32).collect();
                Op::Layernorm(Layernorm {
                    src: v[0],
                    dst: v[1],
                    rows: v[2],
                    len: v[3],
                    params: v[4],
                })
            }
            10 => {
                let v: Vec<u32> = ADD_FIELDS.iter().map(|f| take(f) as u32).collect();
                Op::Add(Add {
                    a: v[0],
                    b: v[1],
                    dst: v[2],
                    rows: v[3],
                    len: v[4],
                })
            }
            6 => Op::Fence,
            7 => Op::Halt,
            _ => Op::Nop(match take(&NOP_ENGINE) {
                0 => Engine::Load,
                1 => Engine::Compute,
                2 => Engine::Store,
                e => {
                    return Err(format!(
                        "`engine` = {e} is not defined (allowed 0 load, 1 compute, 2 store)"
                    ))
                }
            }),
        };
        let reserved = w & !used;
        if reserved != 0 {
            return Err(format!(
                "reserved bit {} of `{}` is set (reserved bits must be 0)",
                reserved.trailing_zeros(),
                op.mnemonic()
            ));
        }
        let i = Instr { deps, op };
        i.validate()?;
        Ok(i)
    }
}

/// A whole program.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Program {
    /// The instructions, in program order.
    pub instrs: Vec<Instr>,
}

impl Program {
    /// Check every instruction, the length, and that the last instruction is `HALT`.
    pub fn validate(&self) -> Result<(), IsaError> {
        if self.instrs.is_empty() {
            return Err(IsaError {
                index: None,
                message: "the program is empty; it needs at least a `halt`".into(),
            });
        }
        if self.instrs.len() > MAX_INSTRUCTIONS {
            return Err(IsaError {
                index: None,
                message: format!(
                    "the program has {} instructions; the allowed range is 1..={MAX_INSTRUCTIONS}",
                    self.instrs.len()
                ),
            });
        }
        for (i, ins) in self.instrs.iter().enumerate() {
            ins.validate().map_err(|message| IsaError {
                index: Some(i),
                message,
            })?;
        }
        let last = self.instrs.len() - 1;
        if self.instrs[last].op != Op::Halt {
            return Err(IsaError {
                index: Some(last),
                message: format!(
                    "the last instruction is `{}`; a program must end with `halt`",
                    self.instrs[last].op.mnemonic()
                ),
            });
        }
        Ok(())
    }

    /// The binary image: 16 little-endian bytes per instruction.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.instrs
            .iter()
            .flat_map(|i| i.encode().to_le_bytes())
            .collect()
    }

    /// Decode and validate a binary image.
    pub fn from_bytes(bytes: &[u8]) -> Result<Program, IsaError> {
        if !bytes.len().is_multiple_of(WORD_BYTES) {
            return Err(IsaError {
                index: None,
                message: format!(
                    "the program is {} bytes, not a multiple of the {WORD_BYTES}-byte instruction word",
                    bytes.len()
                ),
            });
        }
        if bytes.len() / WORD_BYTES > MAX_INSTRUCTIONS {
            return Err(IsaError {
                index: None,
                message: format!(
                    "the program has {} instructions; the allowed range is 1..={MAX_INSTRUCTIONS}",
                    bytes.len() / WORD_BYTES
                ),
            });
        }
        let instrs = bytes
            .chunks_exact(WORD_BYTES)
            .enumerate()
            .map(|(i, c)| {
                let w = u128::from_le_bytes(c.try_into().expect("16-byte chunk"));
                Instr::decode(w).map_err(|message| IsaError {
                    index: Some(i),
                    message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let p = Program { instrs };
        p.validate()?;
        Ok(p)
    }
}

/// Facts of a config that instructions are checked against.
struct Limits {
    geo: crate::accel::Geometry,
    cfg: crate::config::Config,
}

impl Limits {
    fn spad_range(&self, what: &str, first: u64, rows: u64) -> Result<(), String> {
        let end = first + rows;
        if end > self.geo.spad_rows as u64 {
            return Err(format!(
                "{what} uses scratchpad rows {first}..{end}, beyond the {} rows of {} bytes this config has (accel.spad_kib)",
                self.geo.spad_rows, self.geo.spad_row_bytes
            ));
        }
        Ok(())
    }

    fn acc_range(&self, what: &str, first: u64, rows: u64) -> Result<(), String> {
        let end = first + rows;
        if end > self.geo.acc_rows as u64 {
            return Err(format!(
                "{what} uses accumulator rows {first}..{end}, beyond the {} rows of {} bytes this config has (accel.acc_kib)",
                self.geo.acc_rows, self.geo.acc_row_bytes
            ));
        }
        Ok(())
    }

    fn need<'a, T>(&self, unit: &'a Option<T>, section: &str, op: &str) -> Result<&'a T, String> {
        unit.as_ref().ok_or_else(|| {
            format!("`{op}` needs the {section} unit, which this config does not have (add a {section} section)")
        })
    }

    fn check(&self, i: &Instr) -> Result<(), String> {
        let g = &self.geo;
        match &i.op {
            Op::Load(d) => {
                self.spad_range(
                    "`load`",
                    d.row as u64,
                    d.rows as u64 * g.spad_pitch(d.bytes as u64),
                )?;
            }
            Op::Store(d, StoreSrc::Spad) => {
                self.spad_range(
                    "`store`",
                    d.row as u64,
                    d.rows as u64 * g.spad_pitch(d.bytes as u64),
                )?;
            }
            Op::Store(d, StoreSrc::Acc) => {
                self.acc_range(
                    "`store`",
                    d.row as u64,
                    d.rows as u64 * g.acc_pitch(d.bytes as u64),
                )?;
            }
            Op::Gemm(gm) => {
                let a = self.need(&self.cfg.array, "[array]", "gemm")?;
                if gm.m > a.rows {
                    return Err(format!(
                        "`m` = {} is outside the allowed range 1..={} (array.rows)",
                        gm.m, a.rows
                    ));
                }
                let ab = crate::accel::elem_bytes(a.act_bits) as u64;
                let wb = crate::accel::elem_bytes(a.weight_bits) as u64;
                let k = gm.k as u64;
                self.spad_range(
                    "`gemm` A",
                    gm.a as u64,
                    a.rows as u64 * g.spad_pitch(k * ab),
                )?;
                let b_rows = match &self.cfg.sparsity {
                    None => k * g.spad_pitch(a.cols as u64 * wb),
                    Some(sp) => {
                        let meta = (sp.n * sp.idx_bits().max(1)).div_ceil(8) as u64;
                        let group = sp.n as u64 * g.spad_pitch(a.cols as u64 * wb)
                            + g.spad_pitch(a.cols as u64 * meta);
                        k.div_ceil(sp.m as u64) * group
                    }
                };
                self.spad_range("`gemm` B", gm.b as u64, b_rows)?;
                self.acc_range("`gemm`", gm.acc as u64, a.rows as u64)?;
            }
            Op::Epilogue(e) => {
                let rq = self.need(&self.cfg.requant, "[requant]", "epilogue")?;
                let cols = self.cfg.array.as_ref().map_or(16, |a| a.cols) as u64;
                let out_bits = if e.act == Act::Gelu {
                    let ge = self.need(&self.cfg.gelu, "[gelu]", "epilogue act=gelu")?;
                    if ge.in_bits != rq.out_bits {
                        return Err(format!(
                            "`act=gelu` feeds requant's {}-bit output into GELU, whose gelu.in_bits is {}; they must be equal",
                            rq.out_bits, ge.in_bits
                        ));
                    }
                    ge.out_bits
                } else {
                    rq.out_bits
                };
                let ob = crate::accel::elem_bytes(out_bits) as u64;
                if e.trans && e.rows as u64 * ob > g.spad_row_bytes as u64 {
                    return Err(format!(
                        "`trans` writes each column's {} outputs of {ob} bytes into one scratchpad row of {} bytes; `rows` must be at most {}",
                        e.rows,
                        g.spad_row_bytes,
                        g.spad_row_bytes as u64 / ob
                    ));
                }
                self.acc_range("`epilogue`", e.acc as u64, e.rows as u64)?;
                let out_rows = if e.trans {
                    cols
                } else {
                    e.rows as u64 * g.spad_pitch(cols * ob)
                };
                self.spad_range("`epilogue` output", e.spad as u64, out_rows)?;
                let bias_b = if rq.in_bits > 32 { 8 } else { 4 };
                let params =
                    g.spad_pitch(cols) + g.spad_pitch(2 * cols) + g.spad_pitch(bias_b * cols);
                self.spad_range("`epilogue` parameters", e.params as u64, params)?;
            }
            Op::Softmax(s) => {
                let sm = self.need(&self.cfg.softmax, "[softmax]", "softmax")?;
                if s.len > sm.max_len {
                    return Err(format!(
                        "`len` = {} is outside the allowed range 1..={} (softmax.max_len)",
                        s.len, sm.max_len
                    ));
                }
                let ib = crate::accel::elem_bytes(sm.in_bits) as u64;
                let ob = crate::accel::elem_bytes(sm.out_bits) as u64;
                let len = s.len as u64;
                self.spad_range(
                    "`softmax` input",
                    s.src as u64,
                    s.rows as u64 * g.spad_pitch(len * ib),
                )?;
                self.spad_range(
                    "`softmax` output",
                    s.dst as u64,
                    s.rows as u64 * g.spad_pitch(len * ob),
                )?;
            }
            Op::Layernorm(l) => {
                let ln = self.need(&self.cfg.layernorm, "[layernorm]", "layernorm")?;
                if l.len > ln.max_len {
                    return Err(format!(
                        "`len` = {} is outside the allowed range 1..={} (layernorm.max_len)",
                        l.len, ln.max_len
                    ));
                }
                let len = l.len as u64;
                let (ib, ob) = (
                    crate::accel::elem_bytes(ln.in_bits) as u64,
                    crate::accel::elem_bytes(ln.out_bits) as u64,
                );
                let (gb, bb) = (
                    crate::accel::elem_bytes(ln.gamma_bits) as u64,
                    crate::accel::elem_bytes(ln.beta_bits) as u64,
                );
                self.spad_range(
                    "`layernorm` input",
                    l.src as u64,
                    l.rows as u64 * g.spad_pitch(len * ib),
                )?;
                self.spad_range(
                    "`layernorm` output",
                    l.dst as u64,
                    l.rows as u64 * g.spad_pitch(len * ob),
                )?;
                self.spad_range(
                    "`layernorm` parameters",
                    l.params as u64,
                    g.spad_pitch(len * gb) + g.spad_pitch(len * bb),
                )?;
            }
            Op::Add(a) => {
                let rc = self.need(&self.cfg.residual, "[residual]", "add")?;
                let len = a.len as u64;
                for (what, first, bits) in [
                    ("`add` a", a.a, rc.a_bits),
                    ("`add` b", a.b, rc.b_bits),
                    ("`add` output", a.dst, rc.out_bits),
                ] {
                    let eb = crate::accel::elem_bytes(bits) as u64;
                    self.spad_range(what, first as u64, a.rows as u64 * g.spad_pitch(len * eb))?;
                }
            }
            Op::Fence | Op::Halt | Op::Nop(_) => {}
        }
        Ok(())
    }
}

impl Program {
    /// Check the program against an accelerator config: every instruction's unit is
    /// present, and every scratchpad and accumulator range fits.
    pub fn check(&self, cfg: &crate::config::Config) -> Result<(), IsaError> {
        self.validate()?;
        let geo = crate::accel::Geometry::of(cfg).map_err(|e| IsaError {
            index: None,
            message: e.to_string(),
        })?;
        let lim = Limits {
            geo,
            cfg: cfg.clone(),
        };
        for (i, ins) in self.instrs.iter().enumerate() {
            lim.check(ins).map_err(|message| IsaError {
                index: Some(i),
                message,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(op: Op) -> u128 {
        Instr::new(op).encode()
    }

    #[test]
    fn documented_bit_positions() {
        // LOAD dram=0x12345 rows=3 bytes=64 stride=4096 spad=7, push_next.
        let i = Instr {
            deps: Deps {
                push_next: true,
                ..Deps::default()
            },
            op: Op::Load(Dma {
                dram: 0x12345,
                rows: 3,
                bytes: 64,
                stride: 4096,
                row: 7,
            }),
        };
        let w = i.encode();
        assert_eq!(w & 0xf, 1);
        assert_eq!((w >> 4) & 0xf, 1);
        assert_eq!((w >> 11) & 1, 1);
        assert_eq!((w >> 12) & ((1 << 40) - 1), 0x12345);
        assert_eq!((w >> 52) & 0xfff, 3);
        assert_eq!((w >> 64) & 0xffff, 64);
        assert_eq!((w >> 80) & 0xff_ffff, 4096);
        assert_eq!((w >> 104) & 0xf_ffff, 7);
        assert_eq!(Instr::decode(w).unwrap(), i);
        // HALT is opcode 7, version 1, nothing else.
        assert_eq!(word(Op::Halt), 0x17);
        let g = word(Op::Gemm(Gemm {
            a: 1,
            b: 2,
            acc: 3,
            k: 4,
            m: 5,
            accumulate: true,
        }));
        assert_eq!(
            [12, 32, 52, 68, 84].map(|lo| (g >> lo) & 0xff),
            [1, 2, 3, 4, 5]
        );
        assert_eq!((g >> 92) & 1, 1);
    }

    #[test]
    fn malformed_words_are_rejected_with_the_field_named() {
        let halt = word(Op::Halt);
        for (w, frag) in [
            (0u128, "opcode 0 is not defined"),
            ((halt & !0xf) | 11, "opcode 11"),
            ((halt & !0xf0) | 0x20, "ISA version 2"),
            (halt | 1 << 100, "reserved bit 100 of `halt`"),
            (halt | 1 << 8, "`halt` takes no dependency flags"),
            (word(Op::Nop(Engine::Load)) | 1 << 8, "no previous engine"),
            (word(Op::Nop(Engine::Store)) | 1 << 11, "no next engine"),
            (word(Op::Nop(Engine::Load)) | 3 << 12, "`engine` = 3"),
            (
                word(Op::Epilogue(Epilogue {
                    acc: 0,
                    spad: 0,
                    rows: 1,
                    params: 0,
                    act: Act::None,
                    trans: false,
                })) | 3 << 84,
                "`act` = 3",
            ),
            (
                word(Op::Softmax(Softmax {
                    src: 0,
                    dst: 0,
                    rows: 1,
                    len: 1,
                })) & !(0xffff << 52),
                "`rows` = 0 is outside the allowed range 1..=65535",
            ),
            (
                word(Op::Load(Dma {
                    dram: 0,
                    rows: 1,
                    bytes: 1,
                    stride: 0,
                    row: 0,
                })) | 1 << 124,
                "reserved bit 124 of `load`",
            ),
        ] {
            let e = Instr::decode(w).unwrap_err();
            assert!(e.contains(frag), "{w:#x}: {e}");
        }
    }

    #[test]
    fn program_rules() {
        let p = Program {
            instrs: vec![Instr::new(Op::Fence)],
        };
        assert!(p
            .validate()
            .unwrap_err()
            .message
            .contains("must end with `halt`"));
        assert!(Program::default()
            .validate()
            .unwrap_err()
            .message
            .contains("empty"));
        let e = Program::from_bytes(&[0u8; 17]).unwrap_err();
        assert!(e.message.contains("not a multiple of the 16-byte"), "{e}");
        let mut bytes = Program {
            instrs: vec![Instr::new(Op::Fence), Instr::new(Op::Halt)],
        }
        .to_bytes();
        bytes[0] = 0;
        let e = Program::from_bytes(&bytes).unwrap_err();
        assert_eq!(e.index, Some(0));
        assert!(e
            .to_string()
            .starts_with("instruction 0 (byte offset 0): opcode 0"));
    }

    #[test]
    fn checks_against_a_config_name_unit_and_range() {
        use crate::config::Config;
        let cfg = Config::from_toml_str(
            "[array]\n[requant]\nlanes = 16\n[softmax]\nmax_len = 256\n[accel]\nspad_kib = 16\nacc_kib = 8\n",
        )
        .unwrap();
        // 16 KiB of 16-byte rows = 1024 spad rows; 8 KiB of 64-byte rows = 128 acc rows.
        let prog = |i: Op| Program {
            instrs: vec![Instr::new(i), Instr::new(Op::Halt)],
        };
        let dma = |rows, bytes, row| Dma {
            dram: 0,
            rows,
            bytes,
            stride: 0,
            row,
        };
        let gemm = |a, m, k| Gemm {
            a,
            b: 0,
            acc: 0,
            k,
            m,
            accumulate: false,
        };
        assert!(prog(Op::Load(dma(1024, 16, 0))).check(&cfg).is_ok());
        for (op, frag) in [
            (
                Op::Load(dma(1024, 17, 0)),
                "scratchpad rows 0..2048, beyond the 1024 rows of 16 bytes",
            ),
            (Op::Load(dma(1, 1, 1024)), "rows 1024..1025"),
            (
                Op::Store(dma(3, 64, 126), StoreSrc::Acc),
                "accumulator rows 126..129, beyond the 128 rows",
            ),
            (
                Op::Gemm(gemm(0, 17, 16)),
                "`m` = 17 is outside the allowed range 1..=16 (array.rows)",
            ),
            (
                Op::Gemm(gemm(1010, 16, 16)),
                "`gemm` A uses scratchpad rows 1010..1026",
            ),
            (
                Op::Softmax(Softmax {
                    src: 0,
                    dst: 0,
                    rows: 1,
                    len: 257,
                }),
                "`len` = 257 is outside the allowed range 1..=256 (softmax.max_len)",
            ),
            (
                Op::Epilogue(Epilogue {
                    acc: 0,
                    spad: 0,
                    rows: 1,
                    params: 0,
                    act: Act::Gelu,
                    trans: false,
                }),
                "needs the [gelu] unit",
            ),
        ] {
            let e = prog(op).check(&cfg).unwrap_err();
            assert_eq!(e.index, Some(0));
            assert!(e.message.contains(frag), "{op:?}: {e}");
        }
        let no_array = Config::from_toml_str("[softmax]\n[accel]\n").unwrap();
        let e = prog(Op::Gemm(gemm(0, 1, 1))).check(&no_array).unwrap_err();
        assert!(e.message.contains("`gemm` needs the [array] unit"), "{e}");
        let no_accel = Config::from_toml_str("[array]\n").unwrap();
        let e = prog(Op::Fence).check(&no_accel).unwrap_err();
        assert!(e.message.contains("needs an [accel] section"), "{e}");
        let mismatch = Config::from_toml_str(
            "[array]\n[requant]\nout_bits = 8\n[gelu]\nin_bits = 16\nin_frac = 12\nout_bits = 16\nout_frac = 12\n[accel]\n",
        )
        .unwrap();
        let e = prog(Op::Epilogue(Epilogue {
            acc: 0,
            spad: 0,
            rows: 1,
            params: 0,
            act: Act::Gelu,
            trans: false,
        }))
        .check(&mismatch)
        .unwrap_err();
        assert!(
            e.message.contains("gelu.in_bits is 16; they must be equal"),
            "{e}"
        );
    }

    #[test]
    fn used_masks_cover_exactly_what_encode_writes() {
        // Setting any bit outside used_mask must be rejected as reserved, and
        // every bit inside it belongs to a field or the header.
        for op in 1..=MAX_OPCODE {
            let used = used_mask(op).unwrap();
            let base = (op as u128) | (1 << 4);
            for bit in 12..128 {
                let w = base | 1u128 << bit;
                let r = Instr::decode(w);
                if used >> bit & 1 == 0 {
                    let e = r.unwrap_err();
                    assert!(
                        e.contains(&format!("reserved bit {bit}")),
                        "op {op} bit {bit}: {e}"
                    );
                } else if let Err(e) = r {
                    assert!(!e.contains("reserved"), "op {op} bit {bit}: {e}");
                }
            }
        }
        assert_eq!(used_mask(0), None);
        assert_eq!(used_mask(MAX_OPCODE + 1), None);
    }
}
