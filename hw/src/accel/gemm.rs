//! The GEMM engine of the compute queue: runs `GEMM` instructions on an
//! output-stationary array ([`crate::array::array_top`], dense or N:M sparse) between
//! the scratchpad and the accumulator. This is `golden::machine`'s GEMM, one R x C
//! output tile per instruction.
//!
//! - **Set-up (2 cycles):** A's row pitch `max(1, ceil(k * act bytes / W))` (a
//!   constant division, [`crate::accel::div_const`]), then the range checks in the
//!   golden model's order: `m > R` is error 1; A's R rows, B's rows and the R
//!   accumulator rows must lie inside their memories (error 2). A checked instruction
//!   waits (state 3) until the A context is free.
//! - **A transposer:** the array takes one beat per K step (per K group of M on the
//!   sparse array): {A column, B row}. A is row-major in the scratchpad, so the A
//!   context reads, for each chunk of `W / act bytes` steps, the chunk's row of each
//!   of A's `m` rows (port A) into one of three sets of R shift registers, up to
//!   three chunks ahead of B. Every beat takes the low element(s) of each A register
//!   of its set (rows `>= m` and K positions past `k` masked to 0, as in golden) and
//!   shifts them.
//! - **B rows:** a two-entry queue of instructions; B rows are read on port B (when
//!   granted) once their A chunk has returned: one row per beat on the dense array,
//!   N value rows and the metadata rows per beat on the sparse one.
//! - **Pipelined across instructions:** the next instruction's set-up and first A
//!   chunk overlap the current one's B rows (global chunk counters keep the sets in
//!   step), so GEMMs stream back to back.
//! - **Input FIFO:** beats wait in a FIFO in front of the array; a beat's B rows are
//!   read only when the FIFO is sure to hold it (a credit count), so the array's tile
//!   rules may stall it without losing anything.
//! - **Accumulator writer:** each output row (its index in `tuser`) goes to
//!   accumulator row `acc + i` of the tile's descriptor (a register queue of
//!   `{acc, accumulate}`, four deep, that also answers `acc_busy` for a row range).
//!   With `accumulate` the row is read, added lane by lane (wrapping at `acc_bits`)
//!   and written 3 cycles later; a row whose address is still in that pipeline waits.
//!
//! Ports: `start`, `a`, `b`, `acc`, `k`, `m`, `accumulate` in, `ready` out (a start
//! is taken when `ready`); `spad_re`, `spad_raddr`, `spad_rdata`, `spad_a_grant`
//! (port A); `spad_b_re`, `spad_b_raddr`, `spad_b_rdata`, `spad_b_grant` (port B);
//! `acc_re`, `acc_raddr`, `acc_rdata`, `acc_we`, `acc_waddr`, `acc_wdata`; `chk_acc`,
//! `chk_rows` in and `acc_busy` out; `setup_idle`, `issue_idle` (nothing being set
//! up or read), `reads_idle`, `idle` (every tile written), `tiles_started`,
//! `reads_done` (GEMMs whose reads have all returned, wrapping), `beat` (a beat
//! entered the array), `err_valid` and `err_code` (combinational, in the cycle the
//! set-up finds the error).

use std::rc::Rc;

use accgen_golden::accel::{elem_bytes, Geometry};
use accgen_golden::gemm::ArrayConfig;
use accgen_golden::nm_sparse::SparsityConfig;

use crate::accel::div_const;
use crate::array::array_top;
use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig};
use crate::stream::{fifo_slice, pack, Axis, FifoStorage};
use crate::systolic::dense_pe;

/// Parameters of the GEMM engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemmParams {
    /// The array.
    pub array: ArrayConfig,
    /// The memories.
    pub geo: Geometry,
    /// Cycles from a read enable to its data, both memories.
    pub read_latency: u32,
    /// N:M sparsity of B (`[sparsity]`): the sparse array, compressed B.
    pub sparsity: Option<SparsityConfig>,
}

/// Beats the input FIFO holds.
const IN_DEPTH: usize = 16;
/// Transposer sets: A may run this many chunks ahead of B, so a few cycles of
/// waiting for port A (an epilogue's parameter reads) cost B nothing.
const SETS: u32 = 3;
/// Tiles in flight (descriptor FIFO depth).
const TILES: u32 = 4;

/// Bits to hold `0..=n`.
pub(crate) fn bits_for(n: u64) -> u32 {
    (64 - n.leading_zeros()).max(1)
}

/// Build (or fetch) the GEMM engine.
pub fn gemm_engine(lib: &mut Library, p: &GemmParams) -> RtlResult<Rc<Module>> {
    let a = &p.array;
    let g = p.geo;
    let name = format!(
        "accgen_accel_gemm_r{}_c{}_a{}_w{}_acc{}_sw{}_sr{}_ar{}_ae{}_l{}{}",
        a.rows,
        a.cols,
        a.act_bits,
        a.weight_bits,
        a.acc_bits,
        g.spad_row_bytes,
        g.spad_rows,
        g.acc_rows,
        g.acc_elem_bytes,
        p.read_latency,
        p.sparsity
            .map_or(String::new(), |s| format!("_nm{}of{}", s.n, s.m))
    );
    let p = p.clone();
    let pe = match &p.sparsity {
        Some(sp) => crate::nm_pe::nm_pe(lib, &p.array, sp)?,
        None => dense_pe(lib, &p.array)?,
    };
    let arr = array_top(lib, p.array.rows, p.array.cols, &pe)?;
    let in_bits = crate::array::in_tdata_bits(&pe, p.array.rows, p.array.cols);
    lib.get_or_build(&name.clone(), move |lib| {
        let (r, c) = (p.array.rows, p.array.cols);
        let ab = elem_bytes(p.array.act_bits);
        let wb = elem_bytes(p.array.weight_bits);
        let w = g.spad_row_bytes;
        let e = w / ab; // elements of A per scratchpad row
        let eb = g.acc_elem_bytes;
        // Per beat: `mg` A elements per row (M on the sparse array), `rpb` B rows (N
        // value rows and the metadata rows), `bpc` beats per A chunk.
        let (mg, ns, meta_b) = match &p.sparsity {
            Some(sp) => (sp.m, sp.n, (sp.n * sp.idx_bits().max(1)).div_ceil(8)),
            None => (1, 1, 0),
        };
        let mp = if p.sparsity.is_some() {
            g.spad_pitch((c * meta_b) as u64) as u32
        } else {
            0
        };
        let rpb = ns + mp;
        if !e.is_multiple_of(mg) {
            return Err(crate::rtl::RtlError {
                module: name.clone(),
                message: format!(
                    "a scratchpad row holds {e} activations, not a multiple of the sparsity's M = {mg}; use a wider array or a smaller M"
                ),
            });
        }
        let bpc = e / mg;
        let lat = p.read_latency;
        assert_eq!(
            lat, 2,
            "the accumulator writer's pipeline assumes a read latency of 2"
        );
        let srb = bits_for(g.spad_rows as u64);
        let arb = bits_for(g.acc_rows as u64);
        let rib = bits_for(r as u64);
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "GEMM engine: {r} x {c} dense array between scratchpad and accumulator."
        ));
        let start = m.input("start", 1, false)?;
        let f_a = m.input("a", 20, false)?;
        let f_b = m.input("b", 20, false)?;
        let f_acc = m.input("acc", 16, false)?;
        let f_k = m.input("k", 16, false)?;
        let f_m = m.input("m", 8, false)?;
        let f_accum = m.input("accumulate", 1, false)?;
        let spad_rdata = m.input("spad_rdata", 8 * w, false)?;
        let acc_rdata = m.input("acc_rdata", 8 * g.acc_row_bytes, false)?;

        let zero1 = m.const_u(1, 0)?;

        // ---- issue state: 0 idle, 1 set-up 1, 2 set-up 2, 3 run.
        let st = m.reg("state", 2, false, RegOpts::new().reset_zero(2))?;
        let k: Vec<Sig> = (0..4).map(|v| m.const_u(2, v)).collect::<RtlResult<_>>()?;
        let s_idle = m.eq(st.q, k[0])?;
        let s_set1 = m.eq(st.q, k[1])?;
        let s_set2 = m.eq(st.q, k[2])?;
        let s_hold = m.eq(st.q, k[3])?;

        // Tiles started and written (wrapping counters).
        let started = m.reg("tiles_started", 4, false, RegOpts::new().reset_zero(4))?;
        let retired = m.reg("tiles_retired", 4, false, RegOpts::new().reset_zero(4))?;
        let outstanding = m.sub(started.q, retired.q)?;
        let tiles = m.const_u(4, TILES as u128)?;
        let desc_room = m.lt(outstanding, tiles)?;
        let ready = m.and(s_idle, desc_room)?;
        let take = m.and(start, ready)?;
        let lat_en = RegOpts::new().enable(take);
        let ra = m.reg_next("f_a", f_a, lat_en.clone())?;
        let rbq = m.reg_next("f_b", f_b, lat_en.clone())?;
        let racc = m.reg_next("f_acc", f_acc, lat_en.clone())?;
        let rk = m.reg_next("f_k", f_k, lat_en.clone())?;
        let rm = m.reg_next("f_m", f_m, lat_en.clone())?;
        let raccum = m.reg_next("f_accum", f_accum, lat_en)?;

        // ---- set-up 1: A's pitch; m check.
        let ka = m.zext(rk, 20)?;
        let ka = m.shl(ka, ab.trailing_zeros())?;
        let wm1 = m.const_u(20, (w - 1) as u128)?;
        let kr = m.add(ka, wm1)?;
        let pitch = div_const(&mut m, kr, w)?;
        let pitch = m.resize(pitch, 18)?;
        let z18 = m.const_u(18, 0)?;
        let p_zero = m.eq(pitch, z18)?;
        let one18 = m.const_u(18, 1)?;
        let pitch = m.mux(p_zero, one18, pitch)?;
        let a_pitch = m.reg_next("a_pitch", pitch, RegOpts::new().enable(s_set1))?;
        let r8 = m.const_u(8, r as u128)?;
        let m_bad = m.cmp(CmpOp::Gt, rm, r8)?;
        let m_bad_q = m.reg_next("m_bad", m_bad, RegOpts::new().enable(s_set1))?;
        // ---- set-up 2: ranges.
        let rconst = m.const_u(8, r as u128)?;
        let span_a = m.mul(a_pitch, rconst)?; // 26 bits
        let span_a = m.resize(span_a, 32)?;
        let a32 = m.zext(ra, 32)?;
        let a_end = m.add(a32, span_a)?;
        let spad_rows = m.const_u(32, g.spad_rows as u128)?;
        let a_bad = m.cmp(CmpOp::Gt, a_end, spad_rows)?;
        let b32 = m.zext(rbq, 32)?;
        // Beats (K groups on the sparse array) and B's rows: rpb per beat.
        let kb = {
            let k17 = m.zext(rk, 17)?;
            let mm1 = m.const_u(17, (mg - 1) as u128)?;
            let t = m.add(k17, mm1)?;
            let t = m.shr(t, mg.trailing_zeros())?;
            m.resize(t, 16)?
        };
        let kb32 = m.zext(kb, 32)?;
        let rpb32 = m.const_u(32, rpb as u128)?;
        let k32 = m.mul(kb32, rpb32)?;
        let k32 = m.resize(k32, 32)?;
        let b_end = m.add(b32, k32)?;
        let b_bad = m.cmp(CmpOp::Gt, b_end, spad_rows)?;
        let acc32 = m.zext(racc, 32)?;
        let r32 = m.const_u(32, r as u128)?;
        let acc_end = m.add(acc32, r32)?;
        let acc_rows = m.const_u(32, g.acc_rows as u128)?;
        let acc_bad = m.cmp(CmpOp::Gt, acc_end, acc_rows)?;
        let rng_bad = m.or(a_bad, b_bad)?;
        let rng_bad = m.or(rng_bad, acc_bad)?;
        let bad = m.or(m_bad_q, rng_bad)?;
        let err_now = m.and(s_set2, bad)?;
        let nbad = m.not(bad)?;
        // Checked: hand over to the A context when it is free and the B queue has room
        // (else hold in state 3).
        let a_free = m.wire("a_free", 1, false)?;
        let checked = m.and(s_set2, nbad)?;
        let pass = m.or(checked, s_hold)?;
        let go = m.and(pass, a_free)?;
        let wait_a = {
            let n = m.not(a_free)?;
            m.and(checked, n)?
        };
        let c1 = m.const_u(8, 1)?;
        let c2 = m.const_u(8, 2)?;
        let code = m.mux(m_bad_q, c1, c2)?;

        // ---- the two read sequencers, pipelined across instructions. The A context
        // (one instruction) loads chunks of A's m rows into transposer set `ca % 2` (a
        // global chunk count), at most two chunks ahead of B; the B queue (two
        // instructions) reads each instruction's B rows once its chunk of A has
        // returned, one per cycle when port B is granted and the input FIFO has room.
        // So the next GEMM's set-up and first A chunk overlap this one's B rows.
        let cw18 = 19;
        let ca = m.reg("a_chunk", cw18, false, RegOpts::new().reset_zero(cw18))?;
        let cb = m.reg("b_chunk", cw18, false, RegOpts::new().reset_zero(cw18))?;
        let a_ret = m.reg("a_chunks_in", cw18, false, RegOpts::new().reset_zero(cw18))?;
        let a_busy = m.reg("a_busy", 1, false, RegOpts::new().reset_zero(1))?;
        let a_left = m.reg("a_chunks_left", 18, false, RegOpts::new())?;
        let a_m = m.reg("a_m", 8, false, RegOpts::new())?;
        let a_p = m.reg("a_pitch_c", 18, false, RegOpts::new())?;
        let i_r = m.reg("i", 8, false, RegOpts::new().reset_zero(8))?;
        let ptr_a = m.reg("ptr_a", 32, false, RegOpts::new())?;
        let base = m.reg("chunk_base", 32, false, RegOpts::new())?;
        let t = m.reg("t", 16, false, RegOpts::new().reset_zero(16))?;
        let eb_bits = bits_for(e as u64) + 1;
        let t_in = m.reg("t_in", eb_bits, false, RegOpts::new().reset_zero(eb_bits))?;
        let mask_now = {
            // Row mask of the instruction being set up: bit i set for i < m.
            let mut bits = Vec::new();
            for i in (0..r).rev() {
                let ci = m.const_u(8, i as u128)?;
                bits.push(m.lt(ci, rm)?);
            }
            m.concat(&bits)?
        };
        // Credits for the input FIFO: B reads issued, beats not yet in the array.
        let cw = bits_for(IN_DEPTH as u64) + 1;
        let credit = m.reg("in_credit", cw, false, RegOpts::new().reset_zero(cw))?;
        let limit = m.const_u(cw, IN_DEPTH as u128)?;
        let has_credit = m.lt(credit.q, limit)?;
        let one19 = m.const_u(cw18, 1)?;
        let sets_c = m.const_u(cw18, SETS as u128)?;

        // A context.
        let ahead = m.sub(ca.q, cb.q)?;
        let a_slot = m.lt(ahead, sets_c)?;
        let a_grant = m.input("spad_a_grant", 1, false)?;
        let a_re = m.and(a_busy.q, a_slot)?;
        let a_re = m.and(a_re, a_grant)?;
        let m1 = m.const_u(8, 1)?;
        let am_m1 = m.sub(a_m.q, m1)?;
        let last_a = m.eq(i_r.q, am_m1)?;
        let a_chunk_done = m.and(a_re, last_a)?;
        let one18 = m.const_u(18, 1)?;
        let last_chunk = m.eq(a_left.q, one18)?;
        let a_instr_done = m.and(a_chunk_done, last_chunk)?;
        let nbusy = m.not(a_busy.q)?;
        let af = m.or(nbusy, a_instr_done)?;
        // The B queue needs room for the next instruction too.
        let bq_valid: Vec<crate::rtl::Reg> = (0..2)
            .map(|i| m.reg(&format!("bq{i}_v"), 1, false, RegOpts::new().reset_zero(1)))
            .collect::<RtlResult<_>>()?;
        let bq_room = m.not(bq_valid[1].q)?;
        let af = m.and(af, bq_room)?;
        m.drive(a_free, af)?;
        let z8 = m.const_u(8, 0)?;
        let i1 = m.add(i_r.q, m1)?;
        let iv = m.mux(a_re, i1, i_r.q)?;
        let iv = m.mux(a_chunk_done, z8, iv)?;
        let iv = m.mux(go, z8, iv)?;
        m.connect(i_r, iv)?;
        let pa32 = m.zext(a_p.q, 32)?;
        let pa_next = m.add(ptr_a.q, pa32)?;
        let one32 = m.const_u(32, 1)?;
        let base1 = m.add(base.q, one32)?;
        let pv = m.mux(a_re, pa_next, ptr_a.q)?;
        let pv = m.mux(a_chunk_done, base1, pv)?;
        let pv = m.mux(go, a32, pv)?;
        m.connect(ptr_a, pv)?;
        let bv = m.mux(a_chunk_done, base1, base.q)?;
        let bv = m.mux(go, a32, bv)?;
        m.connect(base, bv)?;
        let al1 = m.sub(a_left.q, one18)?;
        let alv = m.mux(a_chunk_done, al1, a_left.q)?;
        let alv = m.mux(go, a_pitch, alv)?;
        m.connect(a_left, alv)?;
        let amv = m.mux(go, rm, a_m.q)?;
        m.connect(a_m, amv)?;
        let apv = m.mux(go, a_pitch, a_p.q)?;
        m.connect(a_p, apv)?;
        let zero1b = m.const_u(1, 0)?;
        let one1b = m.const_u(1, 1)?;
        let abv = m.mux(a_instr_done, zero1b, a_busy.q)?;
        let abv = m.mux(go, one1b, abv)?;
        m.connect(a_busy, abv)?;
        let ca1 = m.add(ca.q, one19)?;
        let cav = m.mux(a_chunk_done, ca1, ca.q)?;
        m.connect(ca, cav)?;

        // B queue: {b, k, mask} per instruction; entry 0 is the one B works on.
        let bq_b: Vec<crate::rtl::Reg> = (0..2)
            .map(|i| m.reg(&format!("bq{i}_b"), 32, false, RegOpts::new()))
            .collect::<RtlResult<_>>()?;
        let bq_k: Vec<crate::rtl::Reg> = (0..2)
            .map(|i| m.reg(&format!("bq{i}_k"), 16, false, RegOpts::new()))
            .collect::<RtlResult<_>>()?;
        let bq_kb: Vec<crate::rtl::Reg> = (0..2)
            .map(|i| m.reg(&format!("bq{i}_beats"), 16, false, RegOpts::new()))
            .collect::<RtlResult<_>>()?;
        let bq_m: Vec<crate::rtl::Reg> = (0..2)
            .map(|i| m.reg(&format!("bq{i}_mask"), r, false, RegOpts::new()))
            .collect::<RtlResult<_>>()?;
        let head_v = bq_valid[0].q;
        let head_b = bq_b[0].q;
        let head_k = bq_k[0].q;
        let head_kb = bq_kb[0].q;
        let head_mask = bq_m[0].q;
        let b_grant = m.input("spad_b_grant", 1, false)?;
        let arrived = m.sub(a_ret.q, cb.q)?;
        let z19 = m.const_u(cw18, 0)?;
        let a_ready = m.cmp(CmpOp::Ne, arrived, z19)?;
        let b_want = m.and(head_v, a_ready)?;
        let b_want = m.and(b_want, has_credit)?;
        let b_re = m.and(b_want, b_grant)?;
        // `sub`: the B row within the beat; the beat is issued with its last row.
        let sbits = bits_for(rpb as u64);
        let sub = m.reg("b_sub", sbits, false, RegOpts::new().reset_zero(sbits))?;
        let rpb_m1 = m.const_u(sbits, (rpb - 1) as u128)?;
        let sub_last = m.eq(sub.q, rpb_m1)?;
        let b_beat = m.and(b_re, sub_last)?;
        let zs = m.const_u(sbits, 0)?;
        let ones = m.const_u(sbits, 1)?;
        let sub1 = m.add(sub.q, ones)?;
        let subv = m.mux(b_re, sub1, sub.q)?;
        let subv = m.mux(b_beat, zs, subv)?;
        m.connect(sub, subv)?;
        let k1 = m.const_u(16, 1)?;
        let km1 = m.sub(head_kb, k1)?;
        let t_last = m.eq(t.q, km1)?;
        let e_m1 = m.const_u(eb_bits, (bpc - 1) as u128)?;
        let chunk_end = m.eq(t_in.q, e_m1)?;
        let b_done = m.and(b_beat, t_last)?;
        let ends_chunk = m.or(chunk_end, t_last)?;
        let b_chunk = m.and(b_beat, ends_chunk)?;
        let z16 = m.const_u(16, 0)?;
        let t1 = m.add(t.q, k1)?;
        let tv = m.mux(b_beat, t1, t.q)?;
        let tv = m.mux(b_done, z16, tv)?;
        m.connect(t, tv)?;
        let ze = m.const_u(eb_bits, 0)?;
        let one_e = m.const_u(eb_bits, 1)?;
        let ti1 = m.add(t_in.q, one_e)?;
        let tiv = m.mux(b_beat, ti1, t_in.q)?;
        let tiv = m.mux(b_chunk, ze, tiv)?;
        m.connect(t_in, tiv)?;
        // Which of the beat's `mg` K positions exist (t * mg + s < k).
        let elem_mask = {
            let mut bits = Vec::new();
            for s_ in (0..mg).rev() {
                let t20 = m.zext(t.q, 20)?;
                let base = m.shl(t20, mg.trailing_zeros())?;
                let sc = m.const_u(20, s_ as u128)?;
                let pos = m.add(base, sc)?;
                let k20 = m.zext(head_k, 20)?;
                bits.push(m.lt(pos, k20)?);
            }
            m.concat(&bits)?
        };
        let cb1 = m.add(cb.q, one19)?;
        let cbv = m.mux(b_chunk, cb1, cb.q)?;
        m.connect(cb, cbv)?;
        // Queue: pop at b_done, push at go (into the first free entry after the pop).
        let pop = b_done;
        for i in 0..2usize {
            let (nv, nb, nk, nm) = if i == 0 {
                (bq_valid[1].q, bq_b[1].q, bq_k[1].q, bq_m[1].q)
            } else {
                (zero1b, bq_b[1].q, bq_k[1].q, bq_m[1].q)
            };
            let nkb = bq_kb[1].q;
            let kbv = m.mux(pop, nkb, bq_kb[i].q)?;
            let v = m.mux(pop, nv, bq_valid[i].q)?;
            let bb = m.mux(pop, nb, bq_b[i].q)?;
            let kk = m.mux(pop, nk, bq_k[i].q)?;
            let mm = m.mux(pop, nm, bq_m[i].q)?;
            // The push lands in the first entry that is free after the pop.
            let free_here = if i == 0 {
                m.not(v)?
            } else {
                let v0 = m.mux(pop, bq_valid[1].q, bq_valid[0].q)?;
                let n1 = m.not(v)?;
                m.and(v0, n1)?
            };
            let here = m.and(go, free_here)?;
            let v = m.mux(here, one1b, v)?;
            let bb = m.mux(here, b32, bb)?;
            let kk = m.mux(here, rk, kk)?;
            let mm = m.mux(here, mask_now, mm)?;
            let kbv = m.mux(here, kb, kbv)?;
            m.connect(bq_kb[i], kbv)?;
            m.connect(bq_valid[i], v)?;
            m.connect(bq_b[i], bb)?;
            m.connect(bq_k[i], kk)?;
            m.connect(bq_m[i], mm)?;
        }
        // B's row: the instruction's first row plus the rows read so far.
        let off = m.reg("b_off", 32, false, RegOpts::new().reset_zero(32))?;
        let one32b = m.const_u(32, 1)?;
        let z32 = m.const_u(32, 0)?;
        let off1 = m.add(off.q, one32b)?;
        let offv = m.mux(b_re, off1, off.q)?;
        let offv = m.mux(b_done, z32, offv)?;
        m.connect(off, offv)?;
        let ptr_b = m.add(head_b, off.q)?;
        let mask_bits = head_mask;

        let next = m.priority(
            &[
                (take, k[1]),
                (s_set1, k[2]),
                (err_now, k[0]),
                (go, k[0]),
                (wait_a, k[3]),
            ],
            st.q,
        )?;
        m.connect(st, next)?;
        let sv = m.const_u(4, 1)?;
        let s1 = m.add(started.q, sv)?;
        let s1 = m.mux(go, s1, started.q)?;
        m.connect(started, s1)?;

        // ---- reads and their tags (both ports: fixed latency, in order).
        let a_raddr = m.resize(ptr_a.q, srb)?;
        let b_raddr = m.resize(ptr_b, srb)?;
        let i_tag = m.resize(i_r.q, rib)?;
        // Set pointers rotate over the transposer's sets, one step per chunk.
        let sb = 2;
        let a_set_r = m.reg("a_set", sb, false, RegOpts::new().reset_zero(sb))?;
        let b_set_r = m.reg("b_set", sb, false, RegOpts::new().reset_zero(sb))?;
        let last_set = m.const_u(sb, (SETS - 1) as u128)?;
        let z_set = m.const_u(sb, 0)?;
        let one_set = m.const_u(sb, 1)?;
        for (reg, step) in [(a_set_r, a_chunk_done), (b_set_r, b_chunk)] {
            let wrap = m.eq(reg.q, last_set)?;
            let inc = m.add(reg.q, one_set)?;
            let nx = m.mux(wrap, z_set, inc)?;
            let nv = m.mux(step, nx, reg.q)?;
            m.connect(reg, nv)?;
        }
        let a_set = a_set_r.q;
        let b_set = b_set_r.q;
        let mut atg = m.concat(&[last_a, a_set, i_tag])?;
        let mut btg = m.concat(&[elem_mask, sub_last, mask_bits, t_last, b_set])?;
        let (mut av, mut bvv) = (a_re, b_re);
        let mut any_in_flight = m.or(a_re, b_re)?;
        for s in 0..lat {
            atg = m.reg_next(&format!("atag{s}"), atg, RegOpts::new())?;
            btg = m.reg_next(&format!("btag{s}"), btg, RegOpts::new())?;
            av = m.reg_next(&format!("atag_v{s}"), av, RegOpts::new().reset_zero(1))?;
            bvv = m.reg_next(&format!("btag_v{s}"), bvv, RegOpts::new().reset_zero(1))?;
            let both = m.or(av, bvv)?;
            any_in_flight = m.or(any_in_flight, both)?;
        }
        let reads_quiet = m.not(any_in_flight)?;
        let ret_i = m.slice(atg, rib - 1, 0)?;
        let ret_aset = m.slice(atg, rib + sb - 1, rib)?;
        let ret_alast = m.bit(atg, rib + sb)?;
        let ret_bset = m.slice(btg, sb - 1, 0)?;
        let ret_last = m.bit(btg, sb)?;
        let ret_mask = m.slice(btg, sb + 1 + r - 1, sb + 1)?;
        let ret_sublast = m.bit(btg, sb + 1 + r)?;
        let ret_emask = m.slice(btg, sb + 2 + r + mg - 1, sb + 2 + r)?;
        let ret_a = av;
        let ret_row_b = bvv;
        // A beat completes with its last B row.
        let ret_b = m.and(bvv, ret_sublast)?;
        // Chunks of A fully returned.
        let chunk_in = m.and(ret_a, ret_alast)?;
        let ar1 = m.add(a_ret.q, one19)?;
        let arv = m.mux(chunk_in, ar1, a_ret.q)?;
        m.connect(a_ret, arv)?;
        let spad_b_rdata = m.input("spad_b_rdata", 8 * w, false)?;
        // The beat's earlier B rows (value rows, then metadata rows), oldest lowest.
        let b_rows = if rpb > 1 {
            let cw_ = 8 * w * (rpb - 1);
            let coll = m.reg("b_rows", cw_, false, RegOpts::new())?;
            let nsub = m.not(ret_sublast)?;
            let early = m.and(ret_row_b, nsub)?;
            let sh = if rpb > 2 { m.shr(coll.q, 8 * w)? } else { m.const_u(cw_, 0)? };
            let top = m.zext(spad_b_rdata, cw_)?;
            let top = m.shl(top, 8 * w * (rpb - 2))?;
            let nv = m.or(sh, top)?;
            let nv = m.mux(early, nv, coll.q)?;
            m.connect(coll, nv)?;
            m.concat(&[spad_b_rdata, coll.q])?
        } else {
            spad_b_rdata
        };

        // GEMM instructions whose reads have all returned (their last B row).
        let rd = m.reg("reads_done", 4, false, RegOpts::new().reset_zero(4))?;
        let last_in = m.and(ret_b, ret_last)?;
        let one4 = m.const_u(4, 1)?;
        let rd1 = m.add(rd.q, one4)?;
        let rdv = m.mux(last_in, rd1, rd.q)?;
        m.connect(rd, rdv)?;

        // ---- transposer: `SETS` sets of R shift registers; the beat.
        let ew = 8 * ab;
        let mut a_elems = Vec::new();
        let mut sets: Vec<Vec<Sig>> = vec![Vec::new(); SETS as usize];
        for (si, set) in sets.iter_mut().enumerate() {
            let set_c = m.const_u(sb, si as u128)?;
            let a_here = m.eq(ret_aset, set_c)?;
            let a_here = m.and(ret_a, a_here)?;
            let b_here = m.eq(ret_bset, set_c)?;
            let b_here = m.and(ret_b, b_here)?;
            for row in 0..r {
                let treg = m.reg(&format!("t{si}_row{row}"), 8 * w, false, RegOpts::new())?;
                let ci = m.const_u(rib, row as u128)?;
                let hit = m.eq(ret_i, ci)?;
                let load = m.and(a_here, hit)?;
                let shifted = m.shr(treg.q, ew * mg)?;
                let nv = m.mux(b_here, shifted, treg.q)?;
                let nv = m.mux(load, spad_rdata, nv)?;
                m.connect(treg, nv)?;
                set.push(treg.q);
            }
        }
        for row in 0..r as usize {
            let choices: Vec<Sig> = sets.iter().map(|set| set[row]).collect();
            let word = m.select(ret_bset, &choices)?;
            let keep = m.bit(ret_mask, row as u32)?;
            for s_ in 0..mg {
                let el = m.slice(word, s_ * ew + p.array.act_bits - 1, s_ * ew)?;
                let el = el.as_signed();
                let z = m.const_s(p.array.act_bits, 0)?;
                let here = m.bit(ret_emask, s_)?;
                let k_ = m.and(keep, here)?;
                a_elems.push(m.mux(k_, el, z)?);
            }
        }
        let mut fields = a_elems;
        let ib = p.sparsity.map_or(0, |sp| sp.idx_bits().max(1));
        for j in 0..c {
            let lo = j * 8 * wb;
            for t_ in 0..ns {
                let base = 8 * w * t_;
                let el = m.slice(b_rows, base + lo + p.array.weight_bits - 1, base + lo)?;
                fields.push(el.as_signed());
            }
            if p.sparsity.is_some() {
                let base = 8 * w * ns + 8 * meta_b * j;
                let meta = m.slice(b_rows, base + ns * ib - 1, base)?;
                fields.push(meta);
            }
        }
        let beat = pack(&mut m, &fields)?;
        let beat = m.resize(beat.as_unsigned(), in_bits)?;

        // ---- input FIFO and the array.
        let arr_ready = m.wire("arr_s_ready", 1, false)?;
        let fin = Axis {
            data: beat,
            valid: ret_b,
            last: Some(ret_last),
            user: None,
        };
        let q = fifo_slice(
            &mut m,
            lib,
            "inq",
            &fin,
            arr_ready,
            IN_DEPTH,
            FifoStorage::Lutram,
        )?;
        let out_ready = m.wire("arr_m_ready", 1, false)?;
        let inst = m.instance(
            &arr,
            "array",
            &[
                ("s_axis_tdata", q.data),
                ("s_axis_tvalid", q.valid),
                ("s_axis_tlast", q.last.expect("last")),
                ("m_axis_tready", out_ready),
            ],
        )?;
        let sready = inst.out("s_axis_tready")?;
        m.drive(arr_ready, sready)?;
        let into_array = m.and(q.valid, sready)?;
        // credit: + B read, - beat into the array.
        let inc = m.zext(b_beat, cw)?;
        let dec = m.zext(into_array, cw)?;
        let cr = m.add(credit.q, inc)?;
        let cr = m.sub(cr, dec)?;
        m.connect(credit, cr)?;

        // ---- tile descriptors: a queue of `TILES` registers {acc, accumulate}, all
        // visible, so a reader of the accumulator can ask whether a tile in flight
        // still writes its rows (`chk_acc`, `chk_rows` -> `acc_busy`).
        let dsc_pop = m.wire("dsc_pop", 1, false)?;
        let qb = bits_for(TILES as u64);
        let cnt = m.reg("dsc_count", qb, false, RegOpts::new().reset_zero(qb))?;
        let pop_n = m.zext(dsc_pop, qb)?;
        let at = m.sub(cnt.q, pop_n)?; // where a push lands
        let mut e_acc = Vec::new();
        let mut e_accum = Vec::new();
        let mut e_valid = Vec::new();
        let regs: Vec<(crate::rtl::Reg, crate::rtl::Reg)> = (0..TILES)
            .map(|i| -> RtlResult<_> {
                Ok((
                    m.reg(&format!("dsc{i}_acc"), 16, false, RegOpts::new())?,
                    m.reg(&format!("dsc{i}_accum"), 1, false, RegOpts::new())?,
                ))
            })
            .collect::<RtlResult<_>>()?;
        for i in 0..TILES as usize {
            let (ra_i, rc_i) = regs[i];
            let (nxt_a, nxt_c) = if i + 1 < TILES as usize {
                (regs[i + 1].0.q, regs[i + 1].1.q)
            } else {
                (ra_i.q, rc_i.q)
            };
            let sa = m.mux(dsc_pop, nxt_a, ra_i.q)?;
            let sc = m.mux(dsc_pop, nxt_c, rc_i.q)?;
            let ci = m.const_u(qb, i as u128)?;
            let here = m.eq(at, ci)?;
            let here = m.and(here, go)?;
            let na = m.mux(here, racc, sa)?;
            let nc = m.mux(here, raccum, sc)?;
            m.connect(ra_i, na)?;
            m.connect(rc_i, nc)?;
            e_acc.push(ra_i.q);
            e_accum.push(rc_i.q);
            e_valid.push(m.lt(ci, cnt.q)?);
        }
        let push_n = m.zext(go, qb)?;
        let cn = m.add(cnt.q, push_n)?;
        let cn = m.sub(cn, pop_n)?;
        m.connect(cnt, cn)?;
        let d_acc = e_acc[0];
        let d_accum = e_accum[0];
        let dsc_valid = e_valid[0];
        // acc_busy: a tile in flight (or the GEMM being set up) overlaps the rows.
        let chk_acc = m.input("chk_acc", 16, false)?;
        let chk_rows = m.input("chk_rows", 16, false)?;
        let ca17 = m.zext(chk_acc, 17)?;
        let cr17 = m.zext(chk_rows, 17)?;
        let chk_end = m.add(ca17, cr17)?;
        let r17 = m.const_u(17, r as u128)?;
        let overlaps = |m: &mut ModuleBuilder, base: Sig| -> RtlResult<Sig> {
            let b17 = m.zext(base, 17)?;
            let b_end = m.add(b17, r17)?;
            let o1 = m.lt(b17, chk_end)?;
            let o2 = m.lt(ca17, b_end)?;
            m.and(o1, o2)
        };
        let setting_up = m.or(s_set1, s_set2)?;
        let setting_up = m.or(setting_up, s_hold)?;
        let mut acc_busy = {
            let o = overlaps(&mut m, racc)?;
            m.and(setting_up, o)?
        };
        for i in 0..TILES as usize {
            let o = overlaps(&mut m, e_acc[i])?;
            let o = m.and(o, e_valid[i])?;
            acc_busy = m.or(acc_busy, o)?;
        }

        // ---- accumulator writer.
        let ov = inst.out("m_axis_tvalid")?;
        let od = inst.out("m_axis_tdata")?;
        let ol = inst.out("m_axis_tlast")?;
        let ou = inst.out("m_axis_tuser")?;
        let ou = m.zext(ou, 16)?;
        let row_addr = m.add(d_acc, ou)?;
        let row_addr = m.resize(row_addr, arb)?;
        // Stages 1..3 hold (valid, addr, accumulate, last, data).
        let s1v = m.reg("w1_v", 1, false, RegOpts::new().reset_zero(1))?;
        let s2v = m.reg("w2_v", 1, false, RegOpts::new().reset_zero(1))?;
        let s3v = m.reg("w3_v", 1, false, RegOpts::new().reset_zero(1))?;
        let s1a = m.reg("w1_a", arb, false, RegOpts::new())?;
        let s2a = m.reg("w2_a", arb, false, RegOpts::new())?;
        let s3a = m.reg("w3_a", arb, false, RegOpts::new())?;
        let mut hazard = zero1;
        for (v, ad) in [(s1v.q, s1a.q), (s2v.q, s2a.q), (s3v.q, s3a.q)] {
            let same = m.eq(ad, row_addr)?;
            let h = m.and(v, same)?;
            hazard = m.or(hazard, h)?;
        }
        let nhaz = m.not(hazard)?;
        let can = m.and(nhaz, dsc_valid)?;
        m.drive(out_ready, can)?;
        let accept = m.and(ov, can)?;
        let pop = m.and(accept, ol)?;
        m.drive(dsc_pop, pop)?;
        let acc_re = m.and(accept, d_accum)?;
        m.connect(s1v, accept)?;
        m.connect(s2v, s1v.q)?;
        m.connect(s3v, s2v.q)?;
        m.connect(s1a, row_addr)?;
        m.connect(s2a, s1a.q)?;
        m.connect(s3a, s2a.q)?;
        let meta = m.concat(&[d_accum, ol])?;
        let m1q = m.reg_next("w1_meta", meta, RegOpts::new())?;
        let m2q = m.reg_next("w2_meta", m1q, RegOpts::new())?;
        let d1 = m.reg_next("w1_d", od, RegOpts::new())?;
        let d2 = m.reg_next("w2_d", d1, RegOpts::new())?;
        let accum2 = m.bit(m2q, 1)?;
        let last2 = m.bit(m2q, 0)?;
        let ofb = p.array.acc_bits.div_ceil(8) * 8;
        let mut sums = Vec::new();
        for j in 0..c {
            let nw = m.slice(d2, j * ofb + p.array.acc_bits - 1, j * ofb)?;
            let old = m.slice(acc_rdata, j * 8 * eb + p.array.acc_bits - 1, j * 8 * eb)?;
            let z = m.const_u(p.array.acc_bits, 0)?;
            let old = m.mux(accum2, old, z)?;
            let s = m.add(old, nw)?;
            let s = m.sext(s, 8 * eb)?;
            sums.push(s.as_unsigned());
        }
        sums.reverse();
        let row = m.concat(&sums)?;
        let wdata = m.reg_next("w3_d", row, RegOpts::new())?;
        let last3 = m.reg_next("w3_last", last2, RegOpts::new())?;
        let retire = m.and(s3v.q, last3)?;
        let r1 = m.add(retired.q, sv)?;
        let r1 = m.mux(retire, r1, retired.q)?;
        m.connect(retired, r1)?;

        // ---- outputs.
        let idle = {
            let eq = m.eq(started.q, retired.q)?;
            m.and(s_idle, eq)?
        };
        let issue_idle = {
            let nb = m.not(a_busy.q)?;
            let nq = m.not(head_v)?;
            let t = m.and(s_idle, nb)?;
            m.and(t, nq)?
        };
        let reads_idle = m.and(issue_idle, reads_quiet)?;
        m.output("ready", ready)?;
        m.output("spad_re", a_re)?;
        m.output("spad_raddr", a_raddr)?;
        m.output("spad_b_re", b_re)?;
        m.output("spad_b_raddr", b_raddr)?;
        m.output("acc_re", acc_re)?;
        m.output("acc_raddr", row_addr)?;
        m.output("acc_we", s3v.q)?;
        m.output("acc_waddr", s3a.q)?;
        m.output("acc_wdata", wdata)?;
        m.output("reads_idle", reads_idle)?;
        m.output("idle", idle)?;
        m.output("beat", into_array)?;
        m.output("tiles_started", started.q)?;
        m.output("reads_done", rd.q)?;
        m.output("err_valid", err_now)?;
        m.output("err_code", code)?;
        m.output("issue_idle", issue_idle)?;
        m.output("setup_idle", s_idle)?;
        m.output("acc_busy", acc_busy)?;
        m.finish()
    })
}
