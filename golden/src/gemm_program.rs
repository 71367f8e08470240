//! A tiled, double-buffered accelerator program for one dense GEMM plus its epilogue:
//! the seed of the model compiler.
//!
//! **DRAM layout** ([`GemmLayout`], offsets from `dram_base`, each region aligned to
//! 64 bytes): A (M x K row-major, activation elements), B in column tiles (tile j is
//! the K x C block of columns `j*C..j*C+C`, row-major, zero beyond N, tiles one after
//! another, as weights are packed offline; [`GemmLayout::b_addr`]), the epilogue
//! parameters (per block of `cols` output columns: `cols`
//! int8 shifts, `cols` int16 zero points, `cols` int32 biases, or int64 when
//! `requant.in_bits` > 32), C (M x N row-major: output elements, or accumulator
//! elements without an epilogue), then the program.
//!
//! **Schedule.** Output tiles of R x C are computed row-tile by row-tile; K is split
//! into blocks of `kt` (the largest that lets every parameter block, two output tiles
//! and two A blocks fit the lower half of the scratchpad's banks, and two B blocks the
//! upper half, so A and B are read from different banks in the same cycle). The load engine fills
//! buffer `t % 2` with block t while the compute engine multiplies block t-1 (tokens:
//! load -> compute after each block, compute -> load when a buffer is free). After a
//! tile's last block the compute engine runs the epilogue into output buffer `u % 2`,
//! and the store engine writes it out (tokens: compute -> store, store -> compute
//! when the output buffer is free). Accumulator tiles alternate likewise.

use crate::accel::{elem_bytes, Geometry};
use crate::config::Config;
use crate::isa::{Act, Deps, Dma, Epilogue, Gemm, Instr, Op, Program, StoreSrc};

/// The epilogue of a GEMM program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GemmEpilogue {
    /// Store the raw accumulators.
    None,
    /// Re-quantize (per-column parameters).
    Requant,
    /// Re-quantize, then ReLU.
    RequantRelu,
    /// Re-quantize, then GELU.
    RequantGelu,
}

/// Where a GEMM program's tensors live in DRAM (byte offsets from `dram_base`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmLayout {
    /// A, M x K.
    pub a: u64,
    /// B, in column tiles of K x C (see [`GemmLayout::b_addr`]).
    pub b: u64,
    /// Epilogue parameters (absent without an epilogue: same as `c`).
    pub params: u64,
    /// C, M x N.
    pub c: u64,
    /// The program.
    pub prog: u64,
    /// Total bytes of DRAM used, program included.
    pub end: u64,
    /// Bytes per C element.
    pub c_elem_bytes: u64,
    /// K block length chosen.
    pub kt: u32,
    /// K.
    pub k: u64,
    /// Columns per B tile (the array's `cols`).
    pub tile_cols: u64,
    /// Bytes per B element.
    pub b_elem_bytes: u64,
}

impl GemmLayout {
    /// DRAM byte offset of B[t][j].
    pub fn b_addr(&self, t: u64, j: u64) -> u64 {
        let (tile, col) = (j / self.tile_cols, j % self.tile_cols);
        self.b + ((tile * self.k + t) * self.tile_cols + col) * self.b_elem_bytes
    }
}

fn align(x: u64) -> u64 {
    x.div_ceil(64) * 64
}

/// Build the program for C = epilogue(A x B) with A M x K and B K x N on `cfg`.
/// Errors name what does not fit or which unit is missing.
pub fn gemm_program(
    cfg: &Config,
    m: u32,
    k: u32,
    n: u32,
    epi: GemmEpilogue,
) -> Result<(Program, GemmLayout), String> {
    let arr = cfg
        .array
        .as_ref()
        .ok_or("a GEMM program needs an [array] section")?;
    if cfg.sparsity.is_some() {
        return Err(
            "gemm_program emits dense programs only; sparse B layouts are not generated yet".into(),
        );
    }
    if m == 0 || k == 0 || n == 0 {
        return Err(format!(
            "GEMM {m}x{k}x{n} has an empty dimension; M, K and N must be at least 1"
        ));
    }
    let geo = Geometry::of(cfg).map_err(|e| e.to_string())?;
    let rq = match epi {
        GemmEpilogue::None => None,
        _ => Some(
            cfg.requant
                .as_ref()
                .ok_or("the epilogue needs a [requant] section")?,
        ),
    };
    if epi == GemmEpilogue::RequantGelu && cfg.gelu.is_none() {
        return Err("the requant+gelu epilogue needs a [gelu] section".into());
    }
    let (r, c) = (arr.rows as u64, arr.cols as u64);
    let (m64, k64, n64) = (m as u64, k as u64, n as u64);
    let ab = elem_bytes(arr.act_bits) as u64;
    let wb = elem_bytes(arr.weight_bits) as u64;
    let out_bits = match epi {
        GemmEpilogue::None => 0,
        GemmEpilogue::RequantGelu => cfg.gelu.as_ref().expect("checked").out_bits,
        _ => rq.expect("checked").out_bits,
    };
    let ob = if epi == GemmEpilogue::None {
        geo.acc_elem_bytes as u64
    } else {
        elem_bytes(out_bits) as u64
    };
    let bias_b = rq.map_or(4, |q| if q.in_bits > 32 { 8 } else { 4 });
    let col_tiles = n64.div_ceil(c);
    let row_tiles = m64.div_ceil(r);

    // Scratchpad plan: params, two output buffers, then two (A, B) buffers of kt.
    let p_rows = if rq.is_some() {
        geo.spad_pitch(c) + geo.spad_pitch(2 * c) + geo.spad_pitch(bias_b * c)
    } else {
        0
    };
    let params_rows = p_rows * col_tiles;
    let out_rows = if rq.is_some() {
        r * geo.spad_pitch(c * ob)
    } else {
        0
    };
    let fixed = params_rows + 2 * out_rows;
    // A's buffers (with the parameters and outputs) in the lower half of the banks,
    // B's in the upper half, so the GEMM engine reads both in the same cycle.
    let banks = cfg.accel.as_ref().map_or(2, |a| a.spad_banks) as u64;
    let half = (banks / 2) * geo.bank_rows as u64;
    let a_avail = half.saturating_sub(fixed);
    let b_avail = geo.spad_rows as u64 - half;
    let a_block = |kt: u64| r * geo.spad_pitch(kt * ab);
    let b_block = |kt: u64| kt * geo.spad_pitch(c * wb);
    let mut kt = k64.min(65535);
    while kt > 1 && (2 * a_block(kt) > a_avail || 2 * b_block(kt) > b_avail) {
        kt = kt.div_ceil(2);
    }
    if 2 * a_block(kt) > a_avail || 2 * b_block(kt) > b_avail {
        return Err(format!(
            "the scratchpad ({} rows in {banks} banks) cannot hold the parameters of {col_tiles} column tiles and two A blocks in its lower half, and two B blocks in its upper half; use a larger accel.spad_kib",
            geo.spad_rows
        ));
    }
    let k_blocks = k64.div_ceil(kt);
    let params0 = 0u64;
    let out0 = params_rows;
    let buf_a = |t: u64| fixed + (t % 2) * a_block(kt);
    let buf_b = |t: u64| half + (t % 2) * b_block(kt);

    // DRAM layout.
    let a_at = 0u64;
    let b_at = align(a_at + m64 * k64 * ab);
    let p_at = align(b_at + col_tiles * k64 * c * wb);
    let p_bytes = if rq.is_some() {
        col_tiles * c * (1 + 2 + bias_b)
    } else {
        0
    };
    let c_at = align(p_at + p_bytes);
    let prog_at = align(c_at + m64 * n64 * ob);

    let mut ins: Vec<Instr> = Vec::new();
    let with = |op: Op, deps: Deps| Instr { deps, op };
    let dma = |dram: u64, rows: u64, bytes: u64, stride: u64, row: u64| Dma {
        dram,
        rows: rows as u32,
        bytes: bytes as u32,
        stride: stride as u32,
        row: row as u32,
    };
    let check_dma = |rows: u64, bytes: u64, stride: u64| -> Result<(), String> {
        if rows > 4095 || bytes > 65535 || stride >= 1 << 24 {
            return Err(format!(
                "a transfer of {rows} rows of {bytes} bytes, {stride} bytes apart, exceeds the LOAD/STORE fields (rows 1..=4095, bytes 1..=65535, stride < 2^24)"
            ));
        }
        Ok(())
    };
    // Parameters: for column tile j, shifts, zero points and biases, each on a row boundary.
    if rq.is_some() {
        for j in 0..col_tiles {
            let base = p_at + j * c * (1 + 2 + bias_b);
            let row = params0 + j * p_rows;
            ins.push(Instr::new(Op::Load(dma(base, 1, c, 0, row))));
            ins.push(Instr::new(Op::Load(dma(
                base + c,
                1,
                2 * c,
                0,
                row + geo.spad_pitch(c),
            ))));
            ins.push(Instr::new(Op::Load(dma(
                base + 3 * c,
                1,
                bias_b * c,
                0,
                row + geo.spad_pitch(c) + geo.spad_pitch(2 * c),
            ))));
        }
    }
    // Interleave the three engines' streams in an order the dispatcher can follow:
    // each block's loads, its GEMM, and after a tile's last block its epilogue and
    // store. In-order dispatch with queues of at least 2 never deadlocks on this.
    let mut t = 0u64; // block counter
    let mut u = 0u64; // tile counter
    for i in 0..row_tiles {
        let mv = (m64 - i * r).min(r);
        for j in 0..col_tiles {
            let nv = (n64 - j * c).min(c);
            let acc_row = (u % 2) * r;
            for kb in 0..k_blocks {
                let kv = (k64 - kb * kt).min(kt);
                // Load A block (mv rows of kv elements) and B block (kv rows of nv).
                check_dma(mv, kv * ab, k64 * ab)?;
                ins.push(with(
                    Op::Load(dma(
                        a_at + (i * r * k64 + kb * kt) * ab,
                        mv,
                        kv * ab,
                        k64 * ab,
                        buf_a(t),
                    )),
                    Deps {
                        pop_next: t >= 2,
                        ..Deps::default()
                    },
                ));
                // B's block is contiguous in its column tile: when its rows fill
                // whole scratchpad rows it moves as long 1-row transfers (long
                // bursts), else as kv rows of C weights.
                let b0 = b_at + ((j * k64 + kb * kt) * c) * wb;
                let row_b = c * wb;
                let mut b_loads = Vec::new();
                if row_b == geo.spad_row_bytes as u64 {
                    let per = (65535 / row_b).min(4095);
                    let mut done = 0;
                    while done < kv {
                        let n_rows = per.min(kv - done);
                        b_loads.push(dma(b0 + done * row_b, 1, n_rows * row_b, 0, buf_b(t) + done));
                        done += n_rows;
                    }
                } else {
                    check_dma(kv, row_b, row_b)?;
                    b_loads.push(dma(b0, kv, row_b, row_b, buf_b(t)));
                }
                let nb = b_loads.len();
                for (q, d) in b_loads.into_iter().enumerate() {
                    ins.push(with(
                        Op::Load(d),
                        Deps {
                            push_next: q + 1 == nb,
                            ..Deps::default()
                        },
                    ));
                }
                let last = kb + 1 == k_blocks;
                ins.push(with(
                    Op::Gemm(Gemm {
                        a: buf_a(t) as u32,
                        b: buf_b(t) as u32,
                        acc: acc_row as u32,
                        k: kv as u32,
                        m: mv as u32,
                        accumulate: kb > 0,
                    }),
                    Deps {
                        pop_prev: true,
                        push_prev: true,
                        // The raw-accumulator store waits for the tile's last GEMM.
                        push_next: last && rq.is_none(),
                        // Reusing accumulator tile u % 2: its previous store must be done.
                        pop_next: kb == 0 && u >= 2 && rq.is_none(),
                    },
                ));
                t += 1;
            }
            let c_dram = c_at + (i * r * n64 + j * c) * ob;
            check_dma(mv, nv * ob, n64 * ob)?;
            match rq {
                Some(_) => {
                    let o_row = out0 + (u % 2) * out_rows;
                    let act = match epi {
                        GemmEpilogue::RequantRelu => Act::Relu,
                        GemmEpilogue::RequantGelu => Act::Gelu,
                        _ => Act::None,
                    };
                    ins.push(with(
                        Op::Epilogue(Epilogue {
                            acc: acc_row as u32,
                            spad: o_row as u32,
                            rows: r as u32,
                            params: (params0 + j * p_rows) as u32,
                            act,
                        }),
                        Deps {
                            pop_next: u >= 2,
                            push_next: true,
                            ..Deps::default()
                        },
                    ));
                    ins.push(with(
                        Op::Store(
                            Dma {
                                dram: c_dram,
                                rows: mv as u32,
                                bytes: (nv * ob) as u32,
                                stride: (n64 * ob) as u32,
                                row: o_row as u32,
                            },
                            StoreSrc::Spad,
                        ),
                        Deps {
                            pop_prev: true,
                            push_prev: true,
                            ..Deps::default()
                        },
                    ));
                }
                None => {
                    ins.push(with(
                        Op::Store(
                            Dma {
                                dram: c_dram,
                                rows: mv as u32,
                                bytes: (nv * ob) as u32,
                                stride: (n64 * ob) as u32,
                                row: acc_row as u32,
                            },
                            StoreSrc::Acc,
                        ),
                        Deps {
                            pop_prev: true,
                            push_prev: true,
                            ..Deps::default()
                        },
                    ));
                }
            }
            u += 1;
        }
    }
    ins.push(Instr::new(Op::Halt));
    let prog = Program { instrs: ins };
    prog.check(cfg)
        .map_err(|e| format!("generated program is invalid: {e}"))?;
    let end = prog_at + (prog.instrs.len() * crate::isa::WORD_BYTES) as u64;
    Ok((
        prog,
        GemmLayout {
            a: a_at,
            b: b_at,
            params: p_at,
            c: c_at,
            prog: prog_at,
            end,
            c_elem_bytes: ob,
            kt: kt as u32,
            k: k64,
            tile_cols: c,
            b_elem_bytes: wb,
        },
    ))
}
