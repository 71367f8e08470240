//! LayerNorm unit (`[layernorm]`), bit-exact with `accgen_golden::layernorm` (see the
//! golden docs for the number pipeline and the error budget).
//!
//! Ports (besides `clk`, `rst`):
//! - `s_axis_*` in and `m_axis_*` out, AXI4-Stream with `tlast`. A beat carries one
//!   element of each of `lanes` rows (lane i in field i, lane 0 in the LSBs; inputs
//!   SInt in_bits, outputs SInt out_bits at scale 2^-out_frac, sign-extended to whole
//!   bytes): the lanes are `lanes` rows of one length in lockstep, and `tlast` closes
//!   them. Outputs leave in input order, `tlast` on each row's last beat. A row longer
//!   than `max_len` is closed at `max_len` elements.
//! - `s_prm_axis_*`, AXI4-Stream with `tlast`: the per-channel parameters, one beat per
//!   channel from channel 0 (`tdata` = {beta, gamma}, gamma in the low field, each
//!   sign-extended to whole bytes); `tlast` (or channel `max_len - 1`) returns to
//!   channel 0. `tready` is always high. Load the parameters before the rows that
//!   use them: a row reads them while it streams out.
//!
//! Two passes over a buffered row, not one: the variance needs the whole row before
//! any element can be normalised, so each element enters once (statistics) and is
//! replayed from block RAM once (output), as in the softmax unit. The structure is
//! the softmax unit's:
//! - **admission**: `s_axis_tready` (a register) is high while the element buffer has
//!   room and fewer than [`ROW_QUEUE`] rows wait, counted pessimistically from
//!   registers;
//! - **statistics**: per lane `S1 += x` and `S2 += x^2` (a pipelined square, then one
//!   add per sum per cycle); each element goes into the element buffer with its row
//!   number, position and row-end flag;
//! - **per row** ([`rsqrt`]): variance, radicand and the exact reciprocal square
//!   root, fully pipelined; the row's length and each lane's `(S1, q, sh)` go into a
//!   descriptor RAM indexed by row number;
//! - **output** ([`apply`]): a reader replays finished rows one element per cycle with
//!   no bubble between rows; each element's position reads gamma and beta from the
//!   parameter RAM, its row number the descriptor; a credit counter guarantees room in
//!   the output FIFO, so backpressure stalls only the reader.
//!
//! Throughput: one beat per cycle, sustained for back-to-back rows of any length.
//! Latency: a row that does not wait behind another has its last output at most
//! [`row_latency`] cycles after its last input plus its length.
//!
//! ```text
//!  s_axis ─▶[admit]─▶ S1,S2 ×lanes ─┬─ x ─▶ [element buffer] ─▶ reader ─▶ apply ×lanes ─▶[FIFO]─▶ m_axis
//!                                   └─ S ─▶ rsqrt ×lanes ─▶ [descriptor RAM] ──┘   ▲
//!  s_prm_axis ──────────────────────────────────────────▶ [gamma, beta RAM] ────────┘
//! ```

pub mod apply;
pub mod rsqrt;

use std::rc::Rc;

use accgen_golden::layernorm::LayernormConfig;

use crate::mem::{instantiate, MemoryConfig, MEM_READ_LATENCY};
use crate::mul::{mul_latency, pmul};
use crate::rtl::{CmpOp, Library, MemStyle, Module, ModuleBuilder, RegOpts, RtlResult, Sig, Value};
use crate::stream::{self, credit_gate, Lanes, UpDown};

/// Rows that may be accepted and not yet fully read out (descriptor RAM depth).
pub const ROW_QUEUE: u32 = 128;

/// Cycles after a descriptor write after which its row's elements may be read.
const DESC_VISIBLE: u32 = 1;

fn clog2(n: u64) -> u32 {
    64 - (n.max(2) - 1).leading_zeros()
}

/// Cycles from the input register to complete sums in the accumulators.
fn stats_latency(cfg: &LayernormConfig) -> u32 {
    mul_latency(cfg.in_bits, cfg.in_bits) + 1
}

/// Cycles from a row's last input handshake to the first read of that row when the
/// reader is idle.
fn to_reader(cfg: &LayernormConfig) -> u32 {
    1 + stats_latency(cfg) + rsqrt::latency(cfg) + DESC_VISIBLE + 1
}

/// Output FIFO depth: the output pipeline plus the buffer and descriptor reads, plus
/// room.
fn out_depth(cfg: &LayernormConfig) -> usize {
    ((6 + apply::latency(cfg) + 6) as usize).next_power_of_two()
}

/// Element buffer depth: two rows plus the elements that arrive while a row finishes
/// its statistics and its normalisation.
pub fn buffer_depth(cfg: &LayernormConfig) -> usize {
    ((2 * cfg.max_len + to_reader(cfg) + 16) as usize).next_power_of_two()
}

/// Upper bound of (last output cycle - last input cycle - row length) for a row that
/// does not wait behind another row (the tests measure it).
pub fn row_latency(cfg: &LayernormConfig) -> u32 {
    to_reader(cfg) + 1 + 3 + 3 + apply::latency(cfg) + 3
}

/// Every number parameter of `cfg` (all but `lanes`), for module names.
pub(crate) fn cfg_tag(cfg: &LayernormConfig) -> String {
    format!(
        "n{}_i{}f{}_g{}f{}_b{}_o{}f{}_e{:x}",
        cfg.max_len,
        cfg.in_bits,
        cfg.in_frac,
        cfg.gamma_bits,
        cfg.gamma_frac,
        cfg.beta_bits,
        cfg.out_bits,
        cfg.out_frac,
        cfg.params().eps_q
    )
}

/// Module name: every parameter is in it.
pub fn layernorm_name(cfg: &LayernormConfig) -> String {
    format!("accgen_layernorm_l{}_{}", cfg.lanes, cfg_tag(cfg))
}

/// Bits of the gamma and beta fields of `s_prm_axis_tdata`: each sign-extended to whole
/// bytes, gamma in the low field.
pub fn param_fields(cfg: &LayernormConfig) -> (u32, u32) {
    (
        cfg.gamma_bits.div_ceil(8) * 8,
        cfg.beta_bits.div_ceil(8) * 8,
    )
}

/// Build (or fetch) the LayerNorm unit.
pub fn layernorm(lib: &mut Library, cfg: &LayernormConfig) -> RtlResult<Rc<Module>> {
    let name = layernorm_name(cfg);
    lib.get_or_build(&name.clone(), |lib| {
        let rs = rsqrt::rsqrt(lib, cfg)?;
        let ap = apply::apply(lib, cfg)?;
        let vendor = lib.vendor();
        let p = cfg.params();
        let lanes = cfg.lanes as usize;
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "LayerNorm: {} lanes, rows up to {}, int{} -> int{} (2^-{}), per-channel gamma/beta.",
            cfg.lanes, cfg.max_len, cfg.in_bits, cfg.out_bits, cfg.out_frac
        ));
        let in_lanes = Lanes::new(cfg.lanes, cfg.in_bits, true);
        let out_lanes = Lanes::new(cfg.lanes, cfg.out_bits, true);
        let (s, s_ready) = stream::slave_ports(
            &mut m,
            "s_axis",
            in_lanes.tdata_bits(),
            true,
            None,
            vec![
                ("lanes".into(), in_lanes.describe()),
                (
                    "rows".into(),
                    "one row per lane, in lockstep; tlast closes them".into(),
                ),
            ],
        )?;
        let in_last = s.last.expect("slave has tlast");

        // ---- parameters: s_prm_axis into the gamma/beta RAM ------------------------
        let (gf, bf) = param_fields(cfg);
        let (prm, prm_ready) = stream::slave_ports(
            &mut m,
            "s_prm_axis",
            gf + bf,
            true,
            None,
            vec![(
                "beats".into(),
                format!(
                    "one per channel from 0: {{beta (SInt{}), gamma (SInt{})}} in {bf}+{gf} bits; tlast returns to channel 0",
                    cfg.beta_bits, cfg.gamma_bits
                ),
            )],
        )?;
        let one1 = Value::from_u128(1, 1).expect("1 fits");
        let prm_rdy = m.reg("prm_rdy", 1, false, RegOpts::new().reset_to(one1.clone()))?;
        let one_b = m.const_u(1, 1)?;
        m.connect(prm_rdy, one_b)?;
        m.drive(prm_ready, prm_rdy.q)?;
        let prm_acc = m.and(prm.valid, prm_rdy.q)?;
        let cb = clog2(cfg.max_len as u64);
        let pdepth = 1usize << cb;
        let pa = m.reg("prm_addr", cb, false, RegOpts::new().reset_zero(cb))?;
        let ptop = m.const_u(cb, (cfg.max_len - 1) as u128)?;
        let p_at_top = m.eq(pa.q, ptop)?;
        let prm_last = prm.last.expect("slave has tlast");
        let p_wrap = m.or(prm_last, p_at_top)?;
        let one_c = m.const_u(cb, 1)?;
        let zero_c = m.const_u(cb, 0)?;
        let pa_inc = m.add(pa.q, one_c)?;
        let pa_adv = m.mux(p_wrap, zero_c, pa_inc)?;
        let pa_next = m.mux(prm_acc, pa_adv, pa.q)?;
        m.connect(pa, pa_next)?;
        let g_in = m.slice(prm.data, cfg.gamma_bits - 1, 0)?;
        let b_in = m.slice(prm.data, gf + cfg.beta_bits - 1, gf)?;
        let prm_word = m.concat(&[b_in, g_in])?;
        let prm_ram_addr = m.wire("prm_raddr", cb, false)?;
        let prm_cfg = MemoryConfig {
            depth: pdepth,
            width: prm_word.width(),
            init: None,
            style: Some(MemStyle::Block),
        };
        let prm_data = instantiate(
            &mut m,
            lib,
            "prm_ram",
            &prm_cfg,
            Some((prm_acc, pa.q, prm_word)),
            one_b,
            prm_ram_addr,
            one_b,
        )?;

        // ---- admission ------------------------------------------------------------
        let lw = clog2(cfg.max_len as u64) + 1;
        let bd = buffer_depth(cfg);
        let ready = m.reg("in_rdy", 1, false, RegOpts::new().reset_to(one1))?;
        let accept = m.and(s.valid, ready.q)?;
        let pos = m.reg("in_pos", lw, false, RegOpts::new().reset_zero(lw))?;
        let at_max = m.reg("in_at_max", 1, false, RegOpts::new().reset_zero(1))?;
        let last = m.or(in_last, at_max.q)?;
        let before_max = m.const_u(lw, (cfg.max_len - 2) as u128)?;
        let next_is_max = m.eq(pos.q, before_max)?;
        let not_last = m.not(last)?;
        let at_max_adv = m.and(not_last, next_is_max)?;
        let zero_p = m.const_u(lw, 0)?;
        let one_p = m.const_u(lw, 1)?;
        let pos_inc = m.add(pos.q, one_p)?;
        let pos_adv = m.mux(last, zero_p, pos_inc)?;
        let pos_next = m.mux(accept, pos_adv, pos.q)?;
        m.connect(pos, pos_next)?;
        let at_max_next = m.mux(accept, at_max_adv, at_max.q)?;
        m.connect(at_max, at_max_next)?;
        let qb = clog2(ROW_QUEUE as u64);
        let row_id = m.reg("in_row", qb, false, RegOpts::new().reset_zero(qb))?;
        let one_q = m.const_u(qb, 1)?;
        let row_inc = m.add(row_id.q, one_q)?;
        let row_step = m.and(accept, last)?;
        let row_next = m.mux(row_step, row_inc, row_id.q)?;
        m.connect(row_id, row_next)?;
        let issue_w = m.wire("rd_issue", 1, false)?;
        let row_end_w = m.wire("rd_row_end", 1, false)?;
        let acc_last = m.and(accept, last)?;
        let issue_q = m.reg_next("rd_issue_q", issue_w, RegOpts::new().reset_zero(1))?;
        let row_end_q = m.reg_next("rd_row_end_q", row_end_w, RegOpts::new().reset_zero(1))?;
        let elems = UpDown::new(&mut m, "buf_n", clog2(bd as u64) + 1, accept, issue_q)?;
        let rows = UpDown::new(
            &mut m,
            "rows_n",
            clog2(ROW_QUEUE as u64) + 1,
            acc_last,
            row_end_q,
        )?;
        let room = elems.next_lt_assuming(&mut m, bd as u64, ready.q)?;
        let row_room = rows.next_lt_assuming(&mut m, ROW_QUEUE as u64, ready.q)?;
        let ready_next = m.and(room, row_room)?;
        m.connect(ready, ready_next)?;
        m.drive(s_ready, ready.q)?;

        // ---- input stage and statistics ---------------------------------------------
        let v0 = m.reg_next("s0_v", accept, RegOpts::new().reset_zero(1))?;
        let x0 = m.reg_next("s0_x", s.data, RegOpts::new())?;
        let first = m.eq(pos.q, zero_p)?;
        let first0 = m.reg_next("s0_first", first, RegOpts::new())?;
        let last0 = m.reg_next("s0_last", last, RegOpts::new())?;
        let row0 = m.reg_next("s0_row", row_id.q, RegOpts::new())?;
        let pos0 = m.reg_next("s0_pos", pos.q, RegOpts::new())?;
        let xs = stream::unpack(&mut m, x0, in_lanes)?;
        let ml = mul_latency(cfg.in_bits, cfg.in_bits);
        let v_m = m.delay_reset(v0, ml, "v_sq")?;
        let first_m = m.delay(first0, ml, "first_sq")?;
        let mut sums = Vec::new();
        for (c, x) in xs.iter().enumerate() {
            let x = x.as_signed();
            let sq = pmul(&mut m, vendor, x, x, &format!("sq{c}"))?;
            let sq = m.resize(sq.as_unsigned(), p.s2_bits)?;
            let xm = m.delay(x, ml, &format!("x_sq{c}"))?;
            let xm = m.sext(xm, p.s1_bits)?;
            let s1 = m.reg(&format!("s1_{c}"), p.s1_bits, true, RegOpts::new().enable(v_m))?;
            let s2 = m.reg(&format!("s2_{c}"), p.s2_bits, false, RegOpts::new().enable(v_m))?;
            let z1 = m.const_s(p.s1_bits, 0)?;
            let z2 = m.const_u(p.s2_bits, 0)?;
            let b1 = m.mux(first_m, z1, s1.q)?;
            let b2 = m.mux(first_m, z2, s2.q)?;
            let n1 = m.add(b1, xm)?;
            let n2 = m.add(b2, sq)?;
            m.connect(s1, n1)?;
            m.connect(s2, n2)?;
            sums.push((s1.q, s2.q));
        }

        // ---- element buffer: {last, row, pos, x lanes} --------------------------------
        let ab = clog2(bd as u64);
        let wp = m.reg("buf_wp", ab, false, RegOpts::new().reset_zero(ab).enable(v0))?;
        let one_a = m.const_u(ab, 1)?;
        let wp_next = m.add(wp.q, one_a)?;
        m.connect(wp, wp_next)?;
        // The lanes unpacked to in_bits each (tdata pads them to whole bytes).
        let mut elem_parts = vec![last0, row0, pos0];
        elem_parts.extend(xs.iter().rev().copied());
        let elem_word = m.concat(&elem_parts)?;
        let rp = m.reg("buf_rp", ab, false, RegOpts::new().reset_zero(ab).enable(issue_w))?;
        let rp_next = m.add(rp.q, one_a)?;
        m.connect(rp, rp_next)?;
        let buf_cfg = MemoryConfig {
            depth: bd,
            width: elem_word.width(),
            init: None,
            style: Some(MemStyle::Block),
        };
        let word = instantiate(
            &mut m,
            lib,
            "elem_buf",
            &buf_cfg,
            Some((v0, wp.q, elem_word)),
            one_b,
            rp.q,
            one_b,
        )?;

        // ---- per row: reciprocal square root, descriptor RAM --------------------------
        let st = stats_latency(cfg);
        let v_row = m.and(v0, last0)?;
        let v_sum = m.delay_reset(v_row, st, "v_sum")?;
        let len0 = m.add(pos0, one_p)?;
        let len_s = m.delay(len0, st, "len_sum")?;
        let len_s = m.zext(len_s, p.len_bits)?;
        let ln = rsqrt::latency(cfg);
        let mut lane_fields = Vec::new();
        for (c, (s1, s2)) in sums.iter().enumerate() {
            let inst = m.instance(
                &rs,
                &format!("rsqrt_{c}"),
                &[("s1", *s1), ("s2", *s2), ("len", len_s)],
            )?;
            lane_fields.push([
                inst.out("s1_out")?.as_unsigned(),
                inst.out("q")?,
                inst.out("sh")?,
            ]);
        }
        let lenm1_d = m.delay(pos0, st + ln, "len_row")?;
        let mut desc_parts: Vec<Sig> = vec![lenm1_d];
        for f in lane_fields.iter().rev() {
            desc_parts.extend_from_slice(f);
        }
        let desc_word = m.concat(&desc_parts)?;
        let v_desc = m.delay_reset(v_sum, ln, "v_desc")?;
        let row_desc = m.delay(row0, st + ln, "row_desc")?;
        let desc_cfg = MemoryConfig {
            depth: ROW_QUEUE as usize,
            width: desc_word.width(),
            init: None,
            style: Some(MemStyle::Block),
        };
        let desc_addr = m.wire("desc_addr", qb, false)?;
        let desc_data = instantiate(
            &mut m,
            lib,
            "desc_ram",
            &desc_cfg,
            Some((v_desc, row_desc, desc_word)),
            one_b,
            desc_addr,
            one_b,
        )?;

        // ---- reader (as in the softmax unit) ---------------------------------------------
        let od = out_depth(cfg);
        let out_fire = m.wire("out_fire", 1, false)?;
        let dw = desc_word.width();
        let lenm1 = m.slice(desc_word, dw - 1, dw - lw)?;
        let len_in = m.add(lenm1, one_p)?;
        let push_d = m.delay_reset(v_desc, DESC_VISIBLE, "desc_push")?;
        let len_d2 = m.delay(len_in, DESC_VISIBLE, "desc_len")?;
        let lenm1_d2 = m.delay(lenm1, DESC_VISIBLE, "desc_lenm1")?;
        let rw_ = clog2(bd as u64) + 1;
        let readable = m.reg("rd_avail", rw_, false, RegOpts::new().reset_zero(rw_))?;
        let has_r = m.reg("rd_has", 1, false, RegOpts::new().reset_zero(1))?;
        let (_can, issue) = credit_gate(&mut m, "rd", has_r.q, out_fire, od as u32)?;
        m.drive(issue_w, issue)?;
        let len_w = m.zext(len_d2, rw_)?;
        let lenm1_w = m.zext(lenm1_d2, rw_)?;
        let one_r = m.const_u(rw_, 1)?;
        let zero_r = m.const_u(rw_, 0)?;
        let plus_len = m.add(readable.q, len_w)?;
        let plus_lenm1 = m.add(readable.q, lenm1_w)?;
        let minus_one = m.sub(readable.q, one_r)?;
        let if_issue = m.mux(push_d, plus_lenm1, minus_one)?;
        let if_idle = m.mux(push_d, plus_len, readable.q)?;
        let next = m.mux(issue, if_issue, if_idle)?;
        m.connect(readable, next)?;
        let ne0 = m.cmp(CmpOp::Ne, readable.q, zero_r)?;
        let ne1 = m.cmp(CmpOp::Ne, readable.q, one_r)?;
        let len_gt1 = m.cmp(CmpOp::Ne, lenm1_d2, zero_p)?;
        let t = m.const_u(1, 1)?;
        let nz_push_issue = m.or(ne0, len_gt1)?;
        let nz_issue = m.mux(push_d, nz_push_issue, ne1)?;
        let nz_idle = m.mux(push_d, t, ne0)?;
        let nz = m.mux(issue, nz_issue, nz_idle)?;
        m.connect(has_r, nz)?;
        let ret_v = m.delay_reset(issue, MEM_READ_LATENCY + 1, "ret_v")?;
        let word = m.reg_next("ret_word", word, RegOpts::new())?;
        let ww = word.width();
        let ret_flag = m.bit(word, ww - 1)?;
        let ret_row = m.slice(word, ww - 2, ww - 1 - qb)?;
        // The position field is lw bits; its low cb bits address the channel.
        let pos_lo = ww - 1 - qb - lw;
        let ret_pos = m.slice(word, pos_lo + cb - 1, pos_lo)?;
        m.drive(desc_addr, ret_row)?;
        m.drive(prm_ram_addr, ret_pos)?;
        let ret_last = m.and(ret_v, ret_flag)?;
        let row_end = m.reg_next("rd_row_end", ret_last, RegOpts::new().reset_zero(1))?;
        m.drive(row_end_w, row_end)?;
        let word = m.delay(word, MEM_READ_LATENCY + 1, "ret_word_d")?;
        let ret_v = m.delay_reset(ret_v, MEM_READ_LATENCY + 1, "ret_v_d")?;
        let ret_last = m.delay(ret_last, MEM_READ_LATENCY + 1, "ret_last_d")?;

        // ---- output lanes -----------------------------------------------------------
        let desc_d = m.reg_next("desc_q", desc_data, RegOpts::new())?;
        let prm_d = m.reg_next("prm_q", prm_data, RegOpts::new())?;
        let gamma = m.slice(prm_d, cfg.gamma_bits - 1, 0)?.as_signed();
        let pww = prm_d.width();
        let beta = m.slice(prm_d, pww - 1, cfg.gamma_bits)?.as_signed();
        let dlenm1 = m.slice(desc_d, dw - 1, dw - lw)?;
        let dlen = m.add(dlenm1, one_p)?;
        let dlen = m.zext(dlen, p.len_bits)?;
        let shw = rsqrt::sh_bits(cfg);
        let per_lane = p.s1_bits + p.q_bits + shw;
        let mut ys = Vec::with_capacity(lanes);
        for c in 0..lanes as u32 {
            let x = m
                .slice(word, (c + 1) * cfg.in_bits - 1, c * cfg.in_bits)?
                .as_signed();
            let base = c * per_lane;
            let sh = m.slice(desc_d, base + shw - 1, base)?;
            let q = m.slice(desc_d, base + shw + p.q_bits - 1, base + shw)?;
            let s1 = m
                .slice(desc_d, base + per_lane - 1, base + shw + p.q_bits)?
                .as_signed();
            let inst = m.instance(
                &ap,
                &format!("apply_{c}"),
                &[
                    ("x", x),
                    ("len", dlen),
                    ("s1", s1),
                    ("q", q),
                    ("sh", sh),
                    ("gamma", gamma),
                    ("beta", beta),
                ],
            )?;
            ys.push(inst.out("y")?);
        }
        let l2 = apply::latency(cfg);
        let v_out = m.delay_reset(ret_v, l2, "v_out")?;
        let last_out = m.delay(ret_last, l2, "last_out")?;
        let fire = stream::lanes_to_m_axis_for(
            &mut m,
            lib,
            &ys,
            v_out,
            last_out,
            od,
            &out_lanes,
            &["s_axis", "s_prm_axis", "m_axis"],
        )?;
        m.drive(out_fire, fire)?;
        m.finish()
    })
}
