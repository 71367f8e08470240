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
//! into blocks of `kt` (the largest that lets two A blocks fit the lower half of the
//! scratchpad's banks, and two B blocks, every parameter block and two output tiles
//! the upper half, so A and B are read from different banks in the same cycle). The load engine fills
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

    /// The DRAM image of a run of `prog` (from [`gemm_program`] with this layout): A
    /// (M x K) and B (K x N) placed, the epilogue parameters from `cfg`'s
    /// `[requant]` section (column j takes lane `j % lanes`'s shift and bias, and the
    /// zero point) unless `epi` is [`GemmEpilogue::None`], and the program. Elements
    /// are little-endian in their element bytes.
    pub fn image(
        &self,
        cfg: &Config,
        prog: &Program,
        a: &crate::gemm::Matrix,
        b: &crate::gemm::Matrix,
        epi: GemmEpilogue,
    ) -> Vec<u8> {
        let arr = cfg.array.as_ref().expect("gemm_program checked [array]");
        let ab = elem_bytes(arr.act_bits) as u64;
        let put = |dram: &mut [u8], at: u64, eb: u64, v: i64| {
            for byte in 0..eb {
                dram[(at + byte) as usize] = (v >> (8 * byte)) as u8;
            }
        };
        let mut dram = vec![0u8; self.end as usize];
        for (i, v) in a.data.iter().enumerate() {
            put(&mut dram, self.a + i as u64 * ab, ab, *v);
        }
        let n = b.cols as u64;
        for (i, v) in b.data.iter().enumerate() {
            let (t, j) = (i as u64 / n, i as u64 % n);
            put(&mut dram, self.b_addr(t, j), self.b_elem_bytes, *v);
        }
        if let (Some(q), true) = (&cfg.requant, epi != GemmEpilogue::None) {
            let c = self.tile_cols;
            let bias_b = if q.in_bits > 32 { 8 } else { 4 };
            for col in 0..n.div_ceil(c) * c {
                let lane = (col % q.lanes as u64) as usize;
                let base = self.params + (col / c) * c * (1 + 2 + bias_b);
                put(&mut dram, base + col % c, 1, q.shift_of(lane) as i64);
                put(&mut dram, base + c + 2 * (col % c), 2, q.zero_point);
                put(
                    &mut dram,
                    base + 3 * c + bias_b * (col % c),
                    bias_b,
                    q.bias_of(lane),
                );
            }
        }
        let pb = prog.to_bytes();
        dram[self.prog as usize..self.prog as usize + pb.len()].copy_from_slice(&pb);
        dram
    }
}

fn align(x: u64) -> u64 {
    x.div_ceil(64) * 64
}

/// Build the program for C = epilogue(A x B) with A M x K and B K x N on `cfg`, with
/// the DRAM layout of the module docs from offset 0. Errors name what does not fit or
/// which unit is missing.
pub fn gemm_program(
    cfg: &Config,
    m: u32,
    k: u32,
    n: u32,
    epi: GemmEpilogue,
) -> Result<(Program, GemmLayout), String> {
    let (mut ins, lay) = emit_gemm(cfg, m, k, n, epi, None)?;
    ins.push(Instr::new(Op::Halt));
    let prog = Program { instrs: ins };
    prog.check(cfg)
        .map_err(|e| format!("generated program is invalid: {e}"))?;
    let end = lay.prog + (prog.instrs.len() * crate::isa::WORD_BYTES) as u64;
    Ok((prog, GemmLayout { end, ..lay }))
}

/// DRAM offsets of a GEMM's tensors for [`emit_gemm`]: A (M x K row-major), B in
/// column tiles ([`GemmLayout::b_addr`]), the epilogue parameter blocks, C (M x N
/// row-major).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmPlace {
    /// A.
    pub a: u64,
    /// B, column-tiled.
    pub b: u64,
    /// Epilogue parameters (per column tile: shifts, zero points, biases).
    pub params: u64,
    /// C.
    pub c: u64,
    /// B is a row-major K x N tensor (an activation), not column-tiled weights.
    pub b_row_major: bool,
    /// C is written transposed (N x M row-major), through `epilogue ... trans`.
    pub c_trans: bool,
    /// Elements between rows of A, B (row-major only) and C (0: dense, K, N and N,
    /// or M for a transposed C): views into wider tensors, as attention heads.
    pub ld: [u64; 3],
    /// Bytes between B's column tiles (0: K x C elements, as packed weights); a view
    /// into a taller column-tiled tensor otherwise.
    pub b_tile_stride: u64,
    /// Write C (or C^T) column-tiled, as B operands are read: tile t holds columns
    /// t*C.. of every row, C elements per row (zero padding untouched), rows of all
    /// `c_rows` rows of the tensor one after another. Needs R = C when transposed.
    pub c_tiled: Option<u64>,
}

/// The instructions of [`gemm_program`] without the final `HALT`, at the DRAM
/// offsets `place` (or the module docs' layout from 0). The dependency tokens are
/// not balanced at the end (the last buffers' tokens are left in their queues);
/// callers that continue the program drain them (see `compiler`). The layout's
/// `prog` and `end` are where a program would follow the tensors.
pub fn emit_gemm(
    cfg: &Config,
    m: u32,
    k: u32,
    n: u32,
    epi: GemmEpilogue,
    place: Option<GemmPlace>,
) -> Result<(Vec<Instr>, GemmLayout), String> {
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
    let (b_rm, c_tr) = place.map_or((false, false), |p| (p.b_row_major, p.c_trans));
    let ld = place.map_or([0; 3], |p| p.ld);
    let or = |v: u64, d: u64| if v == 0 { d } else { v };
    let (lda, ldb) = (or(ld[0], k as u64), or(ld[1], n as u64));
    let ldc = or(ld[2], if c_tr { m as u64 } else { n as u64 });
    let b_tile_stride = place.map_or(0, |p| p.b_tile_stride);
    let c_tiled = place.and_then(|p| p.c_tiled);
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
    if c_tr && c_tiled.is_some() && r != c {
        return Err("a column-tiled transposed output needs a square array (R = C)".into());
    }
    if c_tr {
        if rq.is_none() {
            return Err("a transposed output needs an epilogue".into());
        }
        if r * ob > geo.spad_row_bytes as u64 {
            return Err(format!(
                "a transposed output puts R = {r} outputs of {ob} bytes in one scratchpad row of {} bytes; it needs R x out bytes <= W",
                geo.spad_row_bytes
            ));
        }
    }
    let out_rows = if c_tr { out_rows.max(c) } else { out_rows };
    let fixed = params_rows + 2 * out_rows;
    // A's buffers fill the lower half of the banks, B's the start of the upper half,
    // so the GEMM engine reads both in the same cycle; the parameters and the output
    // buffers go to the last bank when it is free of B (else right after B), so the
    // store engine's reads do not queue behind A's.
    let banks = cfg.accel.as_ref().map_or(2, |a| a.spad_banks) as u64;
    let bank_rows = geo.bank_rows as u64;
    let half = (banks / 2) * bank_rows;
    let rows_all = geo.spad_rows as u64;
    let a_avail = half;
    let a_block = |kt: u64| r * geo.spad_pitch(kt * ab);
    let b_block = |kt: u64| kt * geo.spad_pitch(c * wb);
    let fits = |kt: u64| 2 * a_block(kt) <= a_avail && half + 2 * b_block(kt) + fixed <= rows_all;
    let mut kt = k64.min(65535);
    while kt > 1 && !fits(kt) {
        kt = kt.div_ceil(2);
    }
    if !fits(kt) {
        return Err(format!(
            "the scratchpad ({} rows in {banks} banks) cannot hold two A blocks in its lower half, and two B blocks, the parameters of {col_tiles} column tiles and two output tiles in its upper half; use a larger accel.spad_kib",
            geo.spad_rows
        ));
    }
    let k_blocks = k64.div_ceil(kt);
    let b_end = half + 2 * b_block(kt);
    let last_bank = (banks - 1) * bank_rows;
    let params0 = if last_bank >= b_end && last_bank + fixed <= rows_all {
        last_bank
    } else {
        b_end
    };
    let out0 = params0 + params_rows;
    let fixed = 0u64; // A's region starts at row 0
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
    let (a_at, b_at, p_at, c_at) = match place {
        Some(pl) => (pl.a, pl.b, pl.params, pl.c),
        None => (a_at, b_at, p_at, c_at),
    };

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
    // Parameters: for column tile j, shifts, zero points and biases, each on a row
    // boundary. When each part fills whole scratchpad rows (C a multiple of W), the
    // DRAM block maps row for row: one long LOAD (few long bursts) for every tile.
    if rq.is_some() {
        let w64 = geo.spad_row_bytes as u64;
        let block = c * (1 + 2 + bias_b);
        if c % w64 == 0 && block == p_rows * w64 {
            let per = (65535 / block).max(1);
            let mut j = 0;
            while j < col_tiles {
                let n_t = per.min(col_tiles - j);
                ins.push(Instr::new(Op::Load(dma(
                    p_at + j * block,
                    1,
                    n_t * block,
                    0,
                    params0 + j * p_rows,
                ))));
                j += n_t;
            }
        } else {
            for j in 0..col_tiles {
                let base = p_at + j * block;
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
    }
    // The epilogue (or raw store) of output tile u: rows mv x nv at C[i*R.., j*C..].
    let act = match epi {
        GemmEpilogue::RequantRelu => Act::Relu,
        GemmEpilogue::RequantGelu => Act::Gelu,
        _ => Act::None,
    };
    let tail = |ins: &mut Vec<Instr>,
                u: u64,
                acc_row: u64,
                i: u64,
                j: u64,
                mv: u64,
                nv: u64|
     -> Result<(), String> {
        let c_dram = c_at + (i * r * ldc + j * c) * ob;
        check_dma(mv, nv * ob, ldc * ob)?;
        match rq {
            Some(_) => {
                let o_row = out0 + (u % 2) * out_rows;
                ins.push(with(
                    Op::Epilogue(Epilogue {
                        acc: acc_row as u32,
                        spad: o_row as u32,
                        rows: r as u32,
                        params: (params0 + j * p_rows) as u32,
                        act,
                        trans: c_tr,
                    }),
                    Deps {
                        pop_next: u >= 2,
                        push_next: true,
                        ..Deps::default()
                    },
                ));
                // Transposed: column jj of the tile is C^T row j*C + jj, its mv
                // elements at column i*R.
                let st = if let Some(rows_all) = c_tiled {
                    // Column-tiled: rows of C (or C^T) are C elements apart, tiles
                    // `rows_all` rows apart.
                    if c_tr {
                        dma(
                            c_at + (i * rows_all + j * c) * c * ob,
                            nv,
                            mv * ob,
                            c * ob,
                            o_row,
                        )
                    } else {
                        dma(
                            c_at + (j * rows_all + i * r) * c * ob,
                            mv,
                            nv * ob,
                            c * ob,
                            o_row,
                        )
                    }
                } else if c_tr {
                    check_dma(nv, mv * ob, ldc * ob)?;
                    dma(
                        c_at + (j * c * ldc + i * r) * ob,
                        nv,
                        mv * ob,
                        ldc * ob,
                        o_row,
                    )
                } else {
                    dma(c_dram, mv, nv * ob, ldc * ob, o_row)
                };
                ins.push(with(
                    Op::Store(st, StoreSrc::Spad),
                    Deps {
                        pop_prev: true,
                        push_prev: true,
                        ..Deps::default()
                    },
                ));
            }
            None => {
                ins.push(with(
                    Op::Store(dma(c_dram, mv, nv * ob, ldc * ob, acc_row), StoreSrc::Acc),
                    Deps {
                        pop_prev: true,
                        push_prev: true,
                        ..Deps::default()
                    },
                ));
            }
        }
        Ok(())
    };
    // B block of column tile j, K rows kb*kt.. (kv of them), into buffer `buf`: long
    // 1-row transfers when its rows fill whole scratchpad rows.
    let b_loads = |j: u64, kb: u64, kv: u64, buf: u64| -> Result<Vec<Dma>, String> {
        let bts = if b_tile_stride == 0 {
            k64 * c * wb
        } else {
            b_tile_stride
        };
        let b0 = b_at + j * bts + kb * kt * c * wb;
        let row_b = c * wb;
        let mut out = Vec::new();
        if b_rm {
            // Row t of a row-major K x N activation: its columns j*C.. (zero-filled
            // past N), N elements apart.
            let nvj = c.min(n64 - j * c);
            let mut done = 0;
            while done < kv {
                let n_rows = 4095.min(kv - done);
                check_dma(n_rows, nvj * wb, ldb * wb)?;
                out.push(dma(
                    b_at + ((kb * kt + done) * ldb + j * c) * wb,
                    n_rows,
                    nvj * wb,
                    ldb * wb,
                    buf + done,
                ));
                done += n_rows;
            }
        } else if row_b == geo.spad_row_bytes as u64 {
            let per = (65535 / row_b).min(4095);
            let mut done = 0;
            while done < kv {
                let n_rows = per.min(kv - done);
                out.push(dma(b0 + done * row_b, 1, n_rows * row_b, 0, buf + done));
                done += n_rows;
            }
        } else {
            check_dma(kv, row_b, row_b)?;
            out.push(dma(b0, kv, row_b, row_b, buf));
        }
        Ok(out)
    };
    // Row tiles whose A blocks stay resident while every B column tile streams past.
    // Each A block pushes a token before the group's first GEMM is dispatched: with
    // more A blocks than the token queue holds, the load engine waits for room, its
    // instruction queue fills and the in-order dispatcher never reaches the GEMM (a
    // deadlock). At most queue_depth blocks: their tokens always fit.
    let depth = cfg.accel.as_ref().map_or(16, |a| a.queue_depth) as u64;
    let group = if k_blocks == 1 {
        (a_avail / a_block(kt)).min(row_tiles).min(depth.max(1))
    } else {
        1
    };
    let mut t = 0u64; // block counter
    let mut u = 0u64; // tile counter
    if group >= 2 || (k_blocks == 1 && row_tiles == 1) {
        // A-stationary: per group of row tiles, load their A blocks once (after a
        // fence, so the previous group's GEMMs are done), then for each column tile
        // load B (double-buffered, tokens load <-> compute) and run the group's GEMMs
        // on it, each followed by its epilogue and store.
        // Each tile's epilogue follows the GEMM two tiles later, so the compute engine
        // re-quantizes a drained tile while the array works on later ones; the
        // accumulator tiles rotate over `acc_tiles`, so a GEMM never waits for the
        // epilogue before it. Every A block gives a token, so a group's first GEMMs
        // start while its later A blocks still load.
        let acc_tiles = if rq.is_some() {
            (geo.acc_rows as u64 / r).min(4)
        } else {
            2
        };
        let mut pending: std::collections::VecDeque<(u64, u64, u64, u64, u64, u64)> =
            std::collections::VecDeque::new();
        let mut i0 = 0;
        while i0 < row_tiles {
            let g_n = group.min(row_tiles - i0);
            if i0 > 0 {
                while let Some((pu, pa, pi, pj, pm, pn)) = pending.pop_front() {
                    tail(&mut ins, pu, pa, pi, pj, pm, pn)?;
                }
                ins.push(Instr::new(Op::Fence));
            }
            for (q, d) in b_loads(0, 0, k64, buf_b(0))?.into_iter().enumerate() {
                let _ = q;
                ins.push(Instr::new(Op::Load(d)));
            }
            for ii in 0..g_n {
                let i = i0 + ii;
                let mv = (m64 - i * r).min(r);
                check_dma(mv, k64 * ab, lda * ab)?;
                ins.push(with(
                    Op::Load(dma(
                        a_at + i * r * lda * ab,
                        mv,
                        k64 * ab,
                        lda * ab,
                        fixed + ii * a_block(kt),
                    )),
                    Deps {
                        push_next: true,
                        ..Deps::default()
                    },
                ));
            }
            for j in 0..col_tiles {
                let nv = (n64 - j * c).min(c);
                let tj = j;
                if j > 0 {
                    let loads = b_loads(j, 0, k64, buf_b(tj))?;
                    let nl = loads.len();
                    for (q, d) in loads.into_iter().enumerate() {
                        ins.push(with(
                            Op::Load(d),
                            Deps {
                                pop_next: q == 0 && tj >= 2,
                                push_next: q + 1 == nl,
                                ..Deps::default()
                            },
                        ));
                    }
                }
                for ii in 0..g_n {
                    let i = i0 + ii;
                    let mv = (m64 - i * r).min(r);
                    let acc_row = (u % acc_tiles) * r;
                    ins.push(with(
                        Op::Gemm(Gemm {
                            a: (fixed + ii * a_block(kt)) as u32,
                            b: buf_b(tj) as u32,
                            acc: acc_row as u32,
                            k: k64 as u32,
                            m: mv as u32,
                            accumulate: false,
                        }),
                        Deps {
                            // Column tile 0: each A block's token; later: B's.
                            pop_prev: j == 0 || ii == 0,
                            // Buffer tj % 2 is free for block tj + 2 after the last GEMM.
                            push_prev: ii + 1 == g_n && tj + 2 < col_tiles,
                            push_next: rq.is_none(),
                            pop_next: u >= 2 && rq.is_none(),
                        },
                    ));
                    // Two GEMMs later the tile has drained: its epilogue starts at
                    // once, beside the GEMM then streaming.
                    if pending.len() == 2 {
                        let (pu, pa, pi, pj, pm, pn) = pending.pop_front().expect("two");
                        tail(&mut ins, pu, pa, pi, pj, pm, pn)?;
                    }
                    pending.push_back((u, acc_row, i, j, mv, nv));
                    u += 1;
                }
            }
            i0 += g_n;
        }
        while let Some((pu, pa, pi, pj, pm, pn)) = pending.pop_front() {
            tail(&mut ins, pu, pa, pi, pj, pm, pn)?;
        }
    } else {
        // Interleave the three engines' streams in an order the dispatcher can follow:
        // each block's loads, its GEMM, and after a tile's last block its epilogue and
        // store. In-order dispatch with queues of at least 2 never deadlocks on this.
        for i in 0..row_tiles {
            let mv = (m64 - i * r).min(r);
            for j in 0..col_tiles {
                let nv = (n64 - j * c).min(c);
                let acc_row = (u % 2) * r;
                for kb in 0..k_blocks {
                    let kv = (k64 - kb * kt).min(kt);
                    check_dma(mv, kv * ab, lda * ab)?;
                    ins.push(with(
                        Op::Load(dma(
                            a_at + (i * r * lda + kb * kt) * ab,
                            mv,
                            kv * ab,
                            lda * ab,
                            buf_a(t),
                        )),
                        Deps {
                            pop_next: t >= 2,
                            ..Deps::default()
                        },
                    ));
                    let loads = b_loads(j, kb, kv, buf_b(t))?;
                    let nl = loads.len();
                    for (q, d) in loads.into_iter().enumerate() {
                        ins.push(with(
                            Op::Load(d),
                            Deps {
                                push_next: q + 1 == nl,
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
                tail(&mut ins, u, acc_row, i, j, mv, nv)?;
                u += 1;
            }
        }
    }
    Ok((
        ins,
        GemmLayout {
            a: a_at,
            b: b_at,
            params: p_at,
            c: c_at,
            prog: prog_at,
            end: prog_at,
            c_elem_bytes: ob,
            kt: kt as u32,
            k: k64,
            tile_cols: c,
            b_elem_bytes: wb,
        },
    ))
}
