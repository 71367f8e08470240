//! Single-pass softmax unit (`[softmax]`), bit-exact with `accgen_golden::softmax`
//! (base-2 / Softermax formulation; see the golden docs for the number pipeline).
//!
//! Ports per lane c (besides `clk`, `rst`): `in_valid_<c>`, `in_last_<c>`, `x_<c>`
//! (SInt in_bits) and `in_ready_<c>` out; `out_valid_<c>`, `out_last_<c>`, `y_<c>`
//! (UInt out_bits, scale 2^-out_bits). A row is a run of valid beats ending with
//! `in_last`; an element is taken when `in_valid & in_ready`. Outputs leave in input
//! order. Lanes are independent row streams.
//!
//! Structure of a lane:
//! - **Phase 1** (each element enters once): `u = x * log2 e`, exp2 of its fraction from
//!   the shared ROM, and the online update of the integer running max `m` and the sum
//!   `S` (rescaling is a shift), one element per cycle. The element is stored in a
//!   circular element buffer (2 * max_len + 64 words).
//! - **Per row** (fixed-latency pipeline): `e = msb(S)`, the top T+1 bits `s`, and the
//!   exact reciprocal `R = floor(2^(2T+1) / s)` from a pipelined restoring divider (3
//!   quotient bits per stage). The row's (length, m, R, shift) enter a descriptor FIFO.
//! - **Phase 2**: a reader streams each finished row back out of the element buffer,
//!   recomputes `E`, and outputs `round(E >> (m - i) * R >> shift)`, clamped. It moves
//!   to the next row without a bubble.
//!
//! Throughput: one element per cycle per lane, sustained for back-to-back rows.
//! Latency: the last output of a row leaves [`ROW_LATENCY`]` + L` cycles (at most)
//! after its last input when the reader is idle; a row queued behind a longer row waits
//! for it (outputs are in order). `in_ready` falls only when the element buffer or the
//! descriptor FIFO ([`ROW_QUEUE`] rows) is full.

use std::rc::Rc;

use accgen_golden::num::Rounding;
use accgen_golden::softmax::{exp2_table, SoftmaxConfig};

use crate::arith::{round_shift, round_shift_ne_var};
use crate::rtl::{
    CmpOp, Library, Mem, MemSpec, Module, ModuleBuilder, RegOpts, RtlResult, ShiftAmt, ShiftOp,
    Sig, Value,
};

/// Rows that may wait for the reader (descriptor FIFO depth).
pub const ROW_QUEUE: u32 = 32;

/// Upper bound of (last output cycle - last input cycle - L) for a row that does not
/// wait behind another row; the tests measure it.
pub const ROW_LATENCY: u32 = 32;

fn clog2(n: u64) -> u32 {
    64 - (n.max(2) - 1).leading_zeros()
}

/// Per-lane datapath constants shared by phase 1 and phase 2.
struct Consts {
    p: accgen_golden::softmax::SoftmaxParams,
    rom: Mem,
    base_w: u32,
    delta_w: u32,
}

/// `u = round(x * K >> u_shift)`, integer part `i`, fraction `fr` (phase 1 and 2).
fn log2_split(m: &mut ModuleBuilder, k: &Consts, x: Sig) -> RtlResult<(Sig, Sig)> {
    let kc = m.const_u(64 - k.p.k.leading_zeros(), k.p.k as u128)?;
    let prod = m.mul(x, kc)?;
    let u = round_shift(m, prod, k.p.u_shift as i32, Rounding::NearestEven)?;
    let u = m.resize(u, k.p.u_bits)?;
    let i = m.slice(u, k.p.u_bits - 1, k.p.f)?.as_signed();
    let fr = m.slice(u, k.p.f - 1, 0)?;
    Ok((i, fr))
}

/// ROM address and interpolation position of a fraction.
fn exp2_addr(m: &mut ModuleBuilder, k: &Consts, fr: Sig) -> RtlResult<(Sig, Sig)> {
    let lo = k.p.f - k.p.exp_index_bits;
    let idx = m.slice(fr, k.p.f - 1, lo)?;
    let idx = m.resize(idx, k.rom.addr_bits())?;
    let f = m.slice(fr, lo - 1, 0)?;
    Ok((idx, f))
}

/// `E = base + (delta * f >> lo)` from a ROM word (ET + 2 bits, unsigned).
fn exp2_interp(m: &mut ModuleBuilder, k: &Consts, word: Sig, f: Sig) -> RtlResult<Sig> {
    let (bw, dw) = (k.base_w, k.delta_w);
    let lo = k.p.f - k.p.exp_index_bits;
    let base = m.slice(word, bw + dw - 1, dw)?;
    let delta = m.slice(word, dw - 1, 0)?;
    let prod = m.mul(delta, f)?;
    let step = m.shr(prod, lo)?;
    // E < 2^(ET+1): add wide enough, then keep ET + 2 bits.
    let w = (k.p.et + 2).max(base.width() + 1).max(step.width() + 1);
    let base = m.zext(base, w)?;
    let step = m.zext(step, w)?;
    let e = m.add(base, step)?;
    m.resize(e, k.p.et + 2)
}

/// Index of the most significant set bit of `s` (0 for 0), `bits` wide.
fn msb(m: &mut ModuleBuilder, s: Sig, bits: u32) -> RtlResult<Sig> {
    let mut cases = Vec::new();
    for b in (0..s.width()).rev() {
        cases.push((m.bit(s, b)?, m.const_u(bits, b as u128)?));
    }
    let zero = m.const_u(bits, 0)?;
    m.priority(&cases, zero)
}

/// Build (or fetch) one lane.
fn lane(lib: &mut Library, cfg: &SoftmaxConfig) -> RtlResult<Rc<Module>> {
    let name = format!(
        "accgen_softmax_lane_n{}_i{}f{}_o{}",
        cfg.max_len, cfg.in_bits, cfg.in_frac, cfg.out_bits
    );
    lib.get_or_build(&name.clone(), |_| {
        let p = cfg.params();
        let table = exp2_table(cfg);
        let (base_w, _) = table.base_width();
        let (delta_w, _) = table.delta_width();
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Softmax lane: rows of up to {} elements, exp2 ROM of {} entries, T = {}.",
            cfg.max_len,
            table.len(),
            p.t
        ));
        let words = table
            .base
            .iter()
            .zip(&table.delta)
            .map(|(&b, &d)| {
                Value::from_u128(base_w + delta_w, ((b as u128) << delta_w) | d as u128)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| crate::rtl::RtlError {
                module: name.clone(),
                message: e.to_string(),
            })?;
        let rom = m.memory(MemSpec {
            name: "exp2_rom".into(),
            depth: table.len(),
            width: base_w + delta_w,
            signed: false,
            init: Some(words),
            style: None,
        })?;
        let k = Consts {
            p,
            rom,
            base_w,
            delta_w,
        };
        let lg = clog2(cfg.max_len as u64);
        let len_w = lg + 1;
        let ab = clog2(2 * cfg.max_len as u64 + 64);
        let depth = 1u64 << ab;
        let qb = clog2(ROW_QUEUE as u64);

        let in_valid = m.input("in_valid", 1, false)?;
        let in_last = m.input("in_last", 1, false)?;
        let x = m.input("x", cfg.in_bits, true)?;

        // ---- admission control -------------------------------------------------
        let elems = m.reg("elems_q", ab + 1, false, RegOpts::new().reset_zero(ab + 1))?;
        let rows_in = m.reg(
            "rows_in_q",
            qb + 1,
            false,
            RegOpts::new().reset_zero(qb + 1),
        )?;
        let mid_row = m.reg("mid_row_q", 1, false, RegOpts::new().reset_zero(1))?;
        let room_c = m.const_u(ab + 1, (depth - 4) as u128)?;
        let room = m.lt(elems.q, room_c)?;
        let rowq_c = m.const_u(qb + 1, ROW_QUEUE as u128)?;
        let row_room = m.lt(rows_in.q, rowq_c)?;
        let row_ok = m.or(mid_row.q, row_room)?;
        let ready = m.and(room, row_ok)?;
        let accept = m.and(in_valid, ready)?;
        let acc_last = m.and(accept, in_last)?;
        let not_last = m.not(in_last)?;
        let mid_next = m.mux(accept, not_last, mid_row.q)?;
        m.connect(mid_row, mid_next)?;

        // ---- phase 1 -------------------------------------------------------------
        let x1 = m.reg_next("x1_q", x, RegOpts::new())?;
        let v1 = m.reg_next("v1_q", accept, RegOpts::new().reset_zero(1))?;
        let l1 = m.reg_next("l1_q", in_last, RegOpts::new())?;
        let buf = m.memory(MemSpec {
            name: "row_buf".into(),
            depth: depth as usize,
            width: cfg.in_bits,
            signed: true,
            init: None,
            style: None,
        })?;
        let wp = m.reg("wp_q", ab, false, RegOpts::new().reset_zero(ab).enable(v1))?;
        let one_a = m.const_u(ab, 1)?;
        let wp_next = m.add(wp.q, one_a)?;
        m.connect(wp, wp_next)?;
        m.mem_write(buf, v1, wp.q, x1)?;
        let (i1, fr1) = log2_split(&mut m, &k, x1)?;
        let (addr1, f1) = exp2_addr(&mut m, &k, fr1)?;
        let word2 = m.mem_read(k.rom, addr1, None)?;
        let i2 = m.reg_next("i2_q", i1, RegOpts::new())?;
        let f2 = m.reg_next("f2_q", f1, RegOpts::new())?;
        let v2 = m.reg_next("v2_q", v1, RegOpts::new().reset_zero(1))?;
        let l2 = m.reg_next("l2_q", l1, RegOpts::new())?;
        let e2 = exp2_interp(&mut m, &k, word2, f2)?;
        let e3 = m.reg_next("e3_q", e2, RegOpts::new())?;
        let i3 = m.reg_next("i3_q", i2, RegOpts::new())?;
        let v3 = m.reg_next("v3_q", v2, RegOpts::new().reset_zero(1))?;
        let l3 = m.reg_next("l3_q", l2, RegOpts::new())?;

        // Online max and sum: the one-cycle loop of phase 1.
        let sb = p.s_bits;
        let mb = p.max_bits;
        let have = m.reg("have_q", 1, false, RegOpts::new().reset_zero(1))?;
        let max = m.reg("max_q", mb, true, RegOpts::new().enable(v3))?;
        let sum = m.reg("sum_q", sb, false, RegOpts::new().enable(v3))?;
        let len = m.reg("len_q", len_w, false, RegOpts::new().enable(v3))?;
        let first = m.not(have.q)?;
        let gt = m.cmp(CmpOp::Gt, i3, max.q)?;
        let take_new = m.or(first, gt)?;
        let e_ext = m.zext(e3, sb)?;
        let e_up = m.shl(e_ext, lg)?;
        // i > m: S >> (i - m) + E << lg.
        let up_amt = m.sub_wide(i3, max.q)?.as_unsigned();
        let s_down = m.shift(ShiftOp::Shr, sum.q, ShiftAmt::Sig(up_amt))?;
        let zero_s = m.const_u(sb, 0)?;
        let s_base = m.mux(first, zero_s, s_down)?;
        let s_new_max = m.add(s_base, e_up)?;
        // i <= m: S + (E << (lg - d)) or S + (E >> (d - lg)), d = m - i >= 0.
        let d = m.sub_wide(max.q, i3)?;
        let d = m.sext(d, mb + 6)?;
        let lg_c = m.const_s(d.width(), lg as i128)?;
        let d_le = m.cmp(CmpOp::Le, d, lg_c)?;
        let left_amt = m.sub(lg_c, d)?.as_unsigned();
        let right_amt = m.sub(d, lg_c)?.as_unsigned();
        let e_left = m.shift(ShiftOp::Shl, e_ext, ShiftAmt::Sig(left_amt))?;
        let e_right = m.shift(ShiftOp::Shr, e_ext, ShiftAmt::Sig(right_amt))?;
        let term = m.mux(d_le, e_left, e_right)?;
        let s_acc = m.add(sum.q, term)?;
        let s_next = m.mux(take_new, s_new_max, s_acc)?;
        let m_next = m.mux(take_new, i3, max.q)?;
        let one_l = m.const_u(len_w, 1)?;
        let len_inc = m.add(len.q, one_l)?;
        let len_next = m.mux(first, one_l, len_inc)?;
        m.connect(sum, s_next)?;
        m.connect(max, m_next)?;
        m.connect(len, len_next)?;
        let not_l3 = m.not(l3)?;
        let have_next = m.mux(v3, not_l3, have.q)?;
        m.connect(have, have_next)?;
        let row_done = m.and(v3, l3)?;

        // ---- per row: msb, normalise, reciprocal -------------------------------
        let eb = clog2(sb as u64 + 1);
        let fv0 = m.reg_next("fin0_v", row_done, RegOpts::new().reset_zero(1))?;
        let fs0 = m.reg_next("fin0_s", s_next, RegOpts::new().enable(row_done))?;
        let fm0 = m.reg_next("fin0_m", m_next, RegOpts::new().enable(row_done))?;
        let fl0 = m.reg_next("fin0_len", len_next, RegOpts::new().enable(row_done))?;
        let e_msb = msb(&mut m, fs0, eb)?;
        let fv1 = m.reg_next("fin1_v", fv0, RegOpts::new().reset_zero(1))?;
        let fe1 = m.reg_next("fin1_e", e_msb, RegOpts::new())?;
        let fs1 = m.reg_next("fin1_s", fs0, RegOpts::new())?;
        let fm1 = m.reg_next("fin1_m", fm0, RegOpts::new())?;
        let fl1 = m.reg_next("fin1_len", fl0, RegOpts::new())?;
        let t_c = m.const_u(eb, p.t as u128)?;
        let norm_amt = m.sub(fe1, t_c)?;
        let s_norm = m.shift(ShiftOp::Shr, fs1, ShiftAmt::Sig(norm_amt))?;
        let s_top = m.slice(s_norm, p.t, 0)?;
        // out_shift = e + T + 1 + ET - P - ob (>= 1 because e >= P).
        let shw = eb + 1;
        let e_w = m.zext(fe1, shw)?;
        let c0 = p.t as i64 + 1 + p.et as i64 - p.p as i64 - cfg.out_bits as i64;
        let c0_c = m.constant(Value::from_i128_wrapping(shw, c0 as i128), false);
        let out_sh = m.add(e_w, c0_c)?;
        let mut dv = m.reg_next("div0_v", fv1, RegOpts::new().reset_zero(1))?;
        let mut ds = m.reg_next("div0_s", s_top, RegOpts::new())?;
        let mut dsh = m.reg_next("div0_sh", out_sh, RegOpts::new())?;
        let mut dm = m.reg_next("div0_m", fm1, RegOpts::new())?;
        let mut dl = m.reg_next("div0_len", fl1, RegOpts::new())?;
        // Restoring division of 2^(2T+1) by s: remainder starts at 2^(T-1), then T+2
        // steps of r = 2r; if r >= s { r -= s; q = 1 }.
        let rw = p.t + 2;
        let mut r = m.const_u(rw, 1u128 << (p.t - 1))?;
        let mut q = m.const_u(rw, 0)?;
        let steps = p.t + 2;
        let mut done = 0;
        let mut stage = 0;
        while done < steps {
            for _ in 0..3.min(steps - done) {
                let r2 = m.shl(r, 1)?;
                let s_w = m.zext(ds, rw)?;
                let ge = m.cmp(CmpOp::Ge, r2, s_w)?;
                let r_sub = m.sub(r2, s_w)?;
                r = m.mux(ge, r_sub, r2)?;
                let q2 = m.shl(q, 1)?;
                let ge_w = m.zext(ge, rw)?;
                q = m.or(q2, ge_w)?;
                done += 1;
            }
            stage += 1;
            r = m.reg_next(&format!("div{stage}_r"), r, RegOpts::new())?;
            q = m.reg_next(&format!("div{stage}_q"), q, RegOpts::new())?;
            dv = m.reg_next(&format!("div{stage}_v"), dv, RegOpts::new().reset_zero(1))?;
            ds = m.reg_next(&format!("div{stage}_s"), ds, RegOpts::new())?;
            dsh = m.reg_next(&format!("div{stage}_sh"), dsh, RegOpts::new())?;
            dm = m.reg_next(&format!("div{stage}_m"), dm, RegOpts::new())?;
            dl = m.reg_next(&format!("div{stage}_len"), dl, RegOpts::new())?;
        }
        let recip = q;

        // ---- descriptor FIFO ------------------------------------------------------
        let desc = m.concat(&[dl, dm.as_unsigned(), recip, dsh])?;
        let qd = ROW_QUEUE as usize;
        let qwp = m.reg("q_wp", qb, false, RegOpts::new().reset_zero(qb).enable(dv))?;
        let one_q = m.const_u(qb, 1)?;
        let qwp_next = m.add(qwp.q, one_q)?;
        m.connect(qwp, qwp_next)?;
        let mut slots = Vec::with_capacity(qd);
        for s in 0..qd {
            let here = m.const_u(qb, s as u128)?;
            let is_here = m.eq(qwp.q, here)?;
            let we = m.and(dv, is_here)?;
            slots.push(m.reg_next(&format!("q_slot{s}"), desc, RegOpts::new().enable(we))?);
        }
        let qcount = m.reg("q_count", qb + 1, false, RegOpts::new().reset_zero(qb + 1))?;
        let qrp = m.reg("q_rp", qb, false, RegOpts::new().reset_zero(qb))?;
        let head = m.select(qrp.q, &slots)?;
        let zero_q = m.const_u(qb + 1, 0)?;
        let q_empty = m.eq(qcount.q, zero_q)?;
        let q_nonempty = m.not(q_empty)?;

        // ---- reader (phase 2 address generation) ----------------------------------
        let active = m.reg("rd_active", 1, false, RegOpts::new().reset_zero(1))?;
        let pos = m.reg("rd_pos", len_w, false, RegOpts::new())?;
        let cur = m.reg("rd_desc", desc.width(), false, RegOpts::new())?;
        let rp = m.reg("rd_ptr", ab, false, RegOpts::new().reset_zero(ab))?;
        let cur_len = m.slice(cur.q, desc.width() - 1, desc.width() - len_w)?;
        let one_p = m.const_u(len_w, 1)?;
        let len_m1 = m.sub(cur_len, one_p)?;
        let at_end = m.eq(pos.q, len_m1)?;
        let finishing = m.and(active.q, at_end)?;
        let not_active = m.not(active.q)?;
        let free = m.or(not_active, finishing)?;
        let start = m.and(free, q_nonempty)?;
        let not_end = m.not(at_end)?;
        let keep = m.and(active.q, not_end)?;
        let act_next = m.or(start, keep)?;
        m.connect(active, act_next)?;
        let pos_inc = m.add(pos.q, one_p)?;
        let zero_p = m.const_u(len_w, 0)?;
        let pos_next = m.mux(start, zero_p, pos_inc)?;
        m.connect(pos, pos_next)?;
        let cur_next = m.mux(start, head, cur.q)?;
        m.connect(cur, cur_next)?;
        let rp_inc = m.add(rp.q, one_a)?;
        let rp_next = m.mux(active.q, rp_inc, rp.q)?;
        m.connect(rp, rp_next)?;
        let qrp_inc = m.add(qrp.q, one_q)?;
        let qrp_next = m.mux(start, qrp_inc, qrp.q)?;
        m.connect(qrp, qrp_next)?;
        // FIFO count: + push (dv) - pop (start).
        let push = m.zext(dv, qb + 1)?;
        let pop = m.zext(start, qb + 1)?;
        let qc1 = m.add(qcount.q, push)?;
        let qc2 = m.sub(qc1, pop)?;
        m.connect(qcount, qc2)?;
        // Admission counters: elements + accepted - read; rows + accepted last - finished.
        let acc_e = m.zext(accept, ab + 1)?;
        let rd_e = m.zext(active.q, ab + 1)?;
        let el1 = m.add(elems.q, acc_e)?;
        let el2 = m.sub(el1, rd_e)?;
        m.connect(elems, el2)?;
        let acc_r = m.zext(acc_last, qb + 1)?;
        let fin_r = m.zext(finishing, qb + 1)?;
        let ro1 = m.add(rows_in.q, acc_r)?;
        let ro2 = m.sub(ro1, fin_r)?;
        m.connect(rows_in, ro2)?;

        // ---- phase 2 datapath -------------------------------------------------------
        let xr = m.mem_read(buf, rp.q, None)?;
        let dw_ = desc.width();
        let shw_ = dsh.width();
        let rdesc_sh = m.slice(cur.q, shw_ - 1, 0)?;
        let rdesc_r = m.slice(cur.q, shw_ + rw - 1, shw_)?;
        let rdesc_m = m.slice(cur.q, dw_ - len_w - 1, shw_ + rw)?.as_signed();
        let pv1 = m.reg_next("p2v1", active.q, RegOpts::new().reset_zero(1))?;
        let pl1 = m.reg_next("p2l1", finishing, RegOpts::new())?;
        let pm1 = m.reg_next("p2m1", rdesc_m, RegOpts::new())?;
        let pr1 = m.reg_next("p2r1", rdesc_r, RegOpts::new())?;
        let ps1 = m.reg_next("p2s1", rdesc_sh, RegOpts::new())?;
        let (ir, frr) = log2_split(&mut m, &k, xr)?;
        let (addr_r, f_r) = exp2_addr(&mut m, &k, frr)?;
        let word_r = m.mem_read(k.rom, addr_r, None)?;
        let pv2 = m.reg_next("p2v2", pv1, RegOpts::new().reset_zero(1))?;
        let pl2 = m.reg_next("p2l2", pl1, RegOpts::new())?;
        let pm2 = m.reg_next("p2m2", pm1, RegOpts::new())?;
        let pr2 = m.reg_next("p2r2", pr1, RegOpts::new())?;
        let ps2 = m.reg_next("p2s2", ps1, RegOpts::new())?;
        let pi2 = m.reg_next("p2i2", ir, RegOpts::new())?;
        let pf2 = m.reg_next("p2f2", f_r, RegOpts::new())?;
        let er = exp2_interp(&mut m, &k, word_r, pf2)?;
        let dm_i = m.sub_wide(pm2, pi2)?.as_unsigned();
        let ei = m.shift(ShiftOp::Shr, er, ShiftAmt::Sig(dm_i))?;
        let pv3 = m.reg_next("p2v3", pv2, RegOpts::new().reset_zero(1))?;
        let pl3 = m.reg_next("p2l3", pl2, RegOpts::new())?;
        let pe3 = m.reg_next("p2e3", ei, RegOpts::new())?;
        let pr3 = m.reg_next("p2r3", pr2, RegOpts::new())?;
        let ps3 = m.reg_next("p2s3", ps2, RegOpts::new())?;
        let prod = m.mul(pe3, pr3)?;
        let pv4 = m.reg_next("p2v4", pv3, RegOpts::new().reset_zero(1))?;
        let pl4 = m.reg_next("p2l4", pl3, RegOpts::new())?;
        let pp4 = m.reg_next("p2p4", prod, RegOpts::new())?;
        let ps4 = m.reg_next("p2s4", ps3, RegOpts::new())?;
        let rounded = round_shift_ne_var(&mut m, pp4, ps4)?;
        let top = (1u128 << cfg.out_bits) - 1;
        let top_c = m.const_u(rounded.width(), top)?;
        let over = m.cmp(CmpOp::Gt, rounded, top_c)?;
        let clamped = m.mux(over, top_c, rounded)?;
        let y = m.resize(clamped, cfg.out_bits)?;
        let yq = m.reg_next("y_q", y, RegOpts::new())?;
        let ov = m.reg_next("out_valid_q", pv4, RegOpts::new().reset_zero(1))?;
        let ol = m.reg_next("out_last_q", pl4, RegOpts::new())?;
        let ol = m.and(ol, ov)?;

        m.output("in_ready", ready)?;
        m.output("out_valid", ov)?;
        m.output("out_last", ol)?;
        m.output("y", yq)?;
        m.finish()
    })
}

/// Module name: every parameter is in it.
pub fn softmax_name(cfg: &SoftmaxConfig) -> String {
    format!(
        "accgen_softmax_l{}_n{}_i{}f{}_o{}",
        cfg.lanes, cfg.max_len, cfg.in_bits, cfg.in_frac, cfg.out_bits
    )
}

/// Build (or fetch) the softmax unit: `lanes` independent lanes.
pub fn softmax(lib: &mut Library, cfg: &SoftmaxConfig) -> RtlResult<Rc<Module>> {
    let name = softmax_name(cfg);
    lib.get_or_build(&name.clone(), |lib| {
        let l = lane(lib, cfg)?;
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Single-pass softmax: {} lanes, rows up to {}, int{} (2^-{}) -> uint{}.",
            cfg.lanes, cfg.max_len, cfg.in_bits, cfg.in_frac, cfg.out_bits
        ));
        let mut outs = Vec::new();
        for c in 0..cfg.lanes as usize {
            let v = m.input(&format!("in_valid_{c}"), 1, false)?;
            let l_ = m.input(&format!("in_last_{c}"), 1, false)?;
            let x = m.input(&format!("x_{c}"), cfg.in_bits, true)?;
            let inst = m.instance(
                &l,
                &format!("lane_{c}"),
                &[("in_valid", v), ("in_last", l_), ("x", x)],
            )?;
            outs.push(inst);
        }
        for (c, inst) in outs.iter().enumerate() {
            m.output(&format!("in_ready_{c}"), inst.out("in_ready")?)?;
            m.output(&format!("out_valid_{c}"), inst.out("out_valid")?)?;
            m.output(&format!("out_last_{c}"), inst.out("out_last")?)?;
            m.output(&format!("y_{c}"), inst.out("y")?)?;
        }
        m.finish()
    })
}
