//! Single-pass softmax unit (`[softmax]`), bit-exact with `accgen_golden::softmax`
//! (base-2 / Softermax formulation; see the golden docs for the number pipeline).
//!
//! Ports (besides `clk`, `rst`): AXI4-Stream `s_axis_*` in and `m_axis_*` out, with
//! `tlast`. A beat carries one element of each of `lanes` rows (lane i in field i,
//! lane 0 in the LSBs; inputs are SInt in_bits, outputs UInt out_bits at scale
//! 2^-out_bits, zero-extended to whole bytes): the lanes are `lanes` rows of one
//! length processed in lockstep, and `tlast` closes them. Outputs leave in input
//! order, `tlast` on each row's last beat. A row longer than `max_len` is closed at
//! `max_len` elements (the driver never sends one).
//!
//! Structure (control shared by the lanes, datapath per lane):
//! - **admission**: `s_axis_tready` (a register) is high while the element buffer
//!   has room and fewer than [`ROW_QUEUE`] rows wait, both counted as if this cycle's
//!   beat were taken and closed a row (pessimistic by one, from registers only);
//! - **phase 1** ([`phase1`]): `u`, `E`, the running max and the [`CHAIN`]-cycle sum
//!   loop; each element's `{i, E}` goes into the element buffer (block RAM);
//! - **per row** ([`norm`]): leading one, normalisation and the exact reciprocal,
//!   pipelined; the row's length and each lane's `(m, R, shift)` go into a
//!   descriptor RAM indexed by row number (block RAM or LUT RAM);
//! - **phase 2** ([`phase2`]): a reader replays each finished row from the buffer, one
//!   element per cycle with no bubble between rows, while a credit counter guarantees
//!   room in the output FIFO, so backpressure stalls only the reader.
//!
//! Throughput: one beat per cycle, sustained for back-to-back rows of any length.
//! Latency: a row that does not wait behind another has its last output at most
//! [`row_latency`] cycles after its last input plus its length.
//!
//! ```text
//!  s_axis ─▶[admit]─▶ phase1 ×lanes ─┬─ {i,E} ─▶ [element buffer] ─▶ reader ─▶ phase2 ×lanes ─▶[FIFO]─▶ m_axis
//!                                    └─ S, m ─▶ norm ×lanes ─▶ [descriptor RAM] ──┘
//! ```

pub mod norm;
pub mod phase1;
pub mod phase2;

use std::rc::Rc;

use accgen_golden::softmax::{SoftmaxConfig, CHAIN};

use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig};
use crate::stream::{self, credit_gate, Lanes};

/// Rows that may be accepted and not yet fully read out (descriptor RAM depth).
pub const ROW_QUEUE: u32 = 128;

/// Cycles after a descriptor write after which its row's elements may be read: the
/// first read comes back from the element buffer three cycles later and reads the
/// descriptor RAM, which a write has updated one cycle after it.
const DESC_VISIBLE: u32 = 1;

fn clog2(n: u64) -> u32 {
    64 - (n.max(2) - 1).leading_zeros()
}

/// Cycles from a row's last input handshake to the first read of that row when the
/// reader is idle.
fn to_reader(cfg: &SoftmaxConfig) -> u32 {
    // Input stage, phase 1 to S, normaliser, descriptor visible, readable count.
    1 + phase1::timing(cfg).sum + norm::latency(cfg) + DESC_VISIBLE + 1
}

/// Output FIFO depth: the phase-2 pipeline plus the buffer and descriptor reads,
/// plus room.
fn out_depth(cfg: &SoftmaxConfig) -> usize {
    ((6 + phase2::latency(cfg) + 6) as usize).next_power_of_two()
}

/// Element buffer depth: two rows plus the elements that arrive while a row
/// finishes phase 1 and its normalisation.
pub fn buffer_depth(cfg: &SoftmaxConfig) -> usize {
    ((2 * cfg.max_len + to_reader(cfg) + 16) as usize).next_power_of_two()
}

/// Upper bound of (last output cycle - last input cycle - row length) for a row that
/// does not wait behind another row (the tests measure it).
pub fn row_latency(cfg: &SoftmaxConfig) -> u32 {
    // Reader start, buffer read (2) and its register, descriptor read (2) and its
    // register, phase 2, output FIFO (2) and register slice (1).
    to_reader(cfg) + 1 + 3 + 3 + phase2::latency(cfg) + 3
}

/// Module name: every parameter is in it.
pub fn softmax_name(cfg: &SoftmaxConfig) -> String {
    format!(
        "accgen_softmax_l{}_n{}_i{}f{}_o{}",
        cfg.lanes, cfg.max_len, cfg.in_bits, cfg.in_frac, cfg.out_bits
    )
}

/// Build (or fetch) the softmax unit.
pub fn softmax(lib: &mut Library, cfg: &SoftmaxConfig) -> RtlResult<Rc<Module>> {
    let name = softmax_name(cfg);
    lib.get_or_build(&name.clone(), |lib| {
        let p1 = phase1::phase1(lib, cfg)?;
        let nm = norm::norm(lib, cfg)?;
        let p2 = phase2::phase2(lib, cfg)?;
        let tm = phase1::timing(cfg);
        let ln = norm::latency(cfg);
        let p = cfg.params();
        let lanes = cfg.lanes as usize;
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Single-pass softmax: {} lanes, rows up to {}, int{} (2^-{}) -> uint{}.",
            cfg.lanes, cfg.max_len, cfg.in_bits, cfg.in_frac, cfg.out_bits
        ));
        let in_lanes = Lanes::new(cfg.lanes, cfg.in_bits, true);
        let out_lanes = Lanes::new(cfg.lanes, cfg.out_bits, false);
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

        // ---- admission ------------------------------------------------------------
        let lw = clog2(cfg.max_len as u64) + 1;
        let bd = buffer_depth(cfg);
        let one = crate::rtl::Value::from_u128(1, 1).expect("1 fits");
        let ready = m.reg("in_rdy", 1, false, RegOpts::new().reset_to(one))?;
        let accept = m.and(s.valid, ready.q)?;
        let pos = m.reg("in_pos", lw, false, RegOpts::new().reset_zero(lw))?;
        // at_max: the open row already holds max_len - 1 elements (a register, computed
        // one element ahead).
        let at_max = m.reg("in_at_max", 1, false, RegOpts::new().reset_zero(1))?;
        let last = m.or(in_last, at_max.q)?;
        let before_max = m.const_u(lw, (cfg.max_len - 2) as u128)?;
        let next_is_max = m.eq(pos.q, before_max)?;
        let not_last_ = m.not(last)?;
        let at_max_adv = m.and(not_last_, next_is_max)?;
        let zero_p = m.const_u(lw, 0)?;
        let one_p = m.const_u(lw, 1)?;
        let pos_inc = m.add(pos.q, one_p)?;
        let pos_adv = m.mux(last, zero_p, pos_inc)?;
        let pos_next = m.mux(accept, pos_adv, pos.q)?;
        m.connect(pos, pos_next)?;
        let at_max_next = m.mux(accept, at_max_adv, at_max.q)?;
        m.connect(at_max, at_max_next)?;
        // Row number (mod ROW_QUEUE): names the row's slot in the descriptor RAM.
        let qb = clog2(ROW_QUEUE as u64);
        let row_id = m.reg("in_row", qb, false, RegOpts::new().reset_zero(qb))?;
        let one_q = m.const_u(qb, 1)?;
        let row_inc = m.add(row_id.q, one_q)?;
        let row_step = m.and(accept, last)?;
        let row_next = m.mux(row_step, row_inc, row_id.q)?;
        m.connect(row_id, row_next)?;
        // Reader events, driven below.
        let issue_w = m.wire("rd_issue", 1, false)?;
        let row_end_w = m.wire("rd_row_end", 1, false)?;
        let acc_last = m.and(accept, last)?;
        // The reader's events count one cycle late: conservative for admission, and it
        // keeps the reader's decisions off the admission path.
        let issue_q = m.reg_next("rd_issue_q", issue_w, RegOpts::new().reset_zero(1))?;
        let row_end_q = m.reg_next("rd_row_end_q", row_end_w, RegOpts::new().reset_zero(1))?;
        let elems = stream_counter(&mut m, "buf_n", clog2(bd as u64) + 1, accept, issue_q)?;
        let rows = stream_counter(
            &mut m,
            "rows_n",
            clog2(ROW_QUEUE as u64) + 1,
            acc_last,
            row_end_q,
        )?;
        // Both flags assume this cycle's beat is accepted and closes a row whenever
        // tready is high: one element and one row pessimistic at worst, and the next
        // tready depends on registers only, not on s_axis_tvalid/tlast.
        let room = elems.0.next_lt_assuming(&mut m, bd as u64, ready.q)?;
        let row_room = rows.0.next_lt_assuming(&mut m, ROW_QUEUE as u64, ready.q)?;
        let ready_next = m.and(room, row_room)?;
        m.connect(ready, ready_next)?;
        m.drive(s_ready, ready.q)?;

        // ---- input stage and phase 1 ------------------------------------------------
        let v0 = m.reg_next("s0_v", accept, RegOpts::new().reset_zero(1))?;
        let x0 = m.reg_next("s0_x", s.data, RegOpts::new())?;
        // Position mod CHAIN (a counter of its own: CHAIN is not a power of two).
        let pb = phase1::pos_bits();
        let pmod = m.reg("in_pmod", pb, false, RegOpts::new().reset_zero(pb))?;
        let pzero = m.const_u(pb, 0)?;
        let pone = m.const_u(pb, 1)?;
        let ptop = m.const_u(pb, (CHAIN - 1) as u128)?;
        let pwrap = m.eq(pmod.q, ptop)?;
        let pinc = m.add(pmod.q, pone)?;
        let pstep = m.mux(pwrap, pzero, pinc)?;
        let padv = m.mux(last, pzero, pstep)?;
        let pnext = m.mux(accept, padv, pmod.q)?;
        m.connect(pmod, pnext)?;
        let pos20 = m.reg_next("s0_pos", pmod.q, RegOpts::new())?;
        let mut has0 = Vec::new();
        for j in 1..=CHAIN as u128 {
            let h = if j < 1 << lw {
                let jc = m.const_u(lw, j)?;
                m.cmp(CmpOp::Ge, pos.q, jc)?
            } else {
                m.const_u(1, 0)?
            };
            has0.push(m.reg_next(&format!("s0_has{j}"), h, RegOpts::new())?);
        }
        let last0 = m.reg_next("s0_last", last, RegOpts::new())?;
        let row0 = m.reg_next("s0_row", row_id.q, RegOpts::new())?;
        // The row length minus one (the position of its last element).
        let len0 = m.reg_next("s0_lenm1", pos.q, RegOpts::new())?;
        let xs = stream::unpack(&mut m, x0, in_lanes)?;
        let mut ies = Vec::new();
        let mut sums = Vec::new();
        let has_names: Vec<String> = (1..=CHAIN).map(|j| format!("has{j}")).collect();
        for (c, x) in xs.iter().enumerate() {
            let mut conns: Vec<(&str, Sig)> = vec![
                ("v", v0),
                ("last", last0),
                ("pos", pos20),
                ("x", x.as_signed()),
            ];
            for (n, h) in has_names.iter().zip(&has0) {
                conns.push((n.as_str(), *h));
            }
            let inst = m.instance(&p1, &format!("p1_{c}"), &conns)?;
            ies.push(inst.out("ie")?);
            sums.push((inst.out("s")?, inst.out("m")?));
        }

        // ---- element buffer: written with {i, E} ----------------------------------
        let v_ie = m.delay_reset(v0, tm.ie, "v_ie")?;
        let ab = clog2(bd as u64);
        let wp = m.reg(
            "buf_wp",
            ab,
            false,
            RegOpts::new().reset_zero(ab).enable(v_ie),
        )?;
        let one_a = m.const_u(ab, 1)?;
        let wp_next = m.add(wp.q, one_a)?;
        m.connect(wp, wp_next)?;
        // The element's row number and row-end flag travel with it through the buffer.
        let last_ie = m.delay(last0, tm.ie, "last_ie")?;
        let row_ie = m.delay(row0, tm.ie, "row_ie")?;
        let mut ie_parts: Vec<Sig> = vec![last_ie, row_ie];
        ie_parts.extend(ies.iter().rev().copied());
        let ie_word = m.concat(&ie_parts)?;
        let rp = m.reg(
            "buf_rp",
            ab,
            false,
            RegOpts::new().reset_zero(ab).enable(issue_w),
        )?;
        let rp_next = m.add(rp.q, one_a)?;
        m.connect(rp, rp_next)?;
        let buf_cfg = crate::mem::MemoryConfig {
            depth: bd,
            width: ie_word.width(),
            init: None,
            style: Some(crate::rtl::MemStyle::Block),
        };
        let one_b = m.const_u(1, 1)?;
        let word = crate::mem::instantiate(
            &mut m,
            lib,
            "elem_buf",
            &buf_cfg,
            Some((v_ie, wp.q, ie_word)),
            one_b,
            rp.q,
            one_b,
        )?;

        // ---- per row: normalise, descriptor RAM -----------------------------------
        let v_row = m.and(v0, last0)?;
        let v_sum = m.delay_reset(v_row, tm.sum, "v_sum")?;
        // Descriptor, MSB first: len, then lane n-1 .. lane 0, each (m, recip, shift).
        let mut lane_fields = Vec::new();
        for (c, (sk, mk)) in sums.iter().enumerate() {
            let inst = m.instance(&nm, &format!("norm_{c}"), &[("s", *sk), ("m", *mk)])?;
            lane_fields.push([
                inst.out("m_out")?.as_unsigned(),
                inst.out("recip")?,
                inst.out("shift")?,
            ]);
        }
        let len_d = m.delay(len0, tm.sum + ln, "len_row")?;
        let mut desc_parts: Vec<Sig> = vec![len_d];
        for f in lane_fields.iter().rev() {
            desc_parts.extend_from_slice(f);
        }
        let desc_word = m.concat(&desc_parts)?;
        let v_desc = m.delay_reset(v_sum, ln, "v_desc")?;
        // The descriptor RAM: one slot per row number. At most ROW_QUEUE rows are
        // accepted and not yet read out, so a slot is never rewritten while in use.
        let row_desc = m.delay(row0, tm.sum + ln, "row_desc")?;
        let desc_cfg = crate::mem::MemoryConfig {
            depth: ROW_QUEUE as usize,
            width: desc_word.width(),
            init: None,
            style: Some(crate::rtl::MemStyle::Block),
        };
        let desc_addr = m.wire("desc_addr", qb, false)?;
        let desc_data = crate::mem::instantiate(
            &mut m,
            lib,
            "desc_ram",
            &desc_cfg,
            Some((v_desc, row_desc, desc_word)),
            one_b,
            desc_addr,
            one_b,
        )?;

        // ---- reader -------------------------------------------------------------
        // The reader never looks at row boundaries: it reads while elements of rows
        // with a written descriptor remain (`readable`, increased by a row's length a
        // few cycles after its descriptor is written) and the output FIFO has room.
        // Each element comes back with its row number, which reads its descriptor.
        let od = out_depth(cfg);
        let out_fire = m.wire("out_fire", 1, false)?;
        let dw = desc_word.width();
        let lenm1 = m.slice(desc_word, dw - 1, dw - lw)?;
        let len_in = m.add(lenm1, one_p)?;
        let push_d = m.delay_reset(v_desc, DESC_VISIBLE, "desc_push")?;
        let len_d2 = m.delay(len_in, DESC_VISIBLE, "desc_len")?;
        let lenm1_d2 = m.delay(lenm1, DESC_VISIBLE, "desc_lenm1")?;
        // Readable elements are in the element buffer, so the count fits its depth.
        let rw_ = clog2(bd as u64) + 1;
        let readable = m.reg("rd_avail", rw_, false, RegOpts::new().reset_zero(rw_))?;
        let has_r = m.reg("rd_has", 1, false, RegOpts::new().reset_zero(1))?;
        let (_can, issue) = credit_gate(&mut m, "rd", has_r.q, out_fire, od as u32)?;
        m.drive(issue_w, issue)?;
        // Every candidate next value and flag comes from registers; `issue` and the
        // push only select among them.
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
        // Elements come back from the buffer two cycles after their read, and pass a
        // register; their row number then reads the descriptor (two more cycles).
        let ret_v = m.delay_reset(issue, crate::mem::MEM_READ_LATENCY + 1, "ret_v")?;
        let word = m.reg_next("ret_word", word, RegOpts::new())?;
        let ww = word.width();
        let ret_flag = m.bit(word, ww - 1)?;
        let ret_row = m.slice(word, ww - 2, ww - 1 - qb)?;
        m.drive(desc_addr, ret_row)?;
        let ret_last = m.and(ret_v, ret_flag)?;
        // A row counts as read out once its last element is back (conservative).
        let row_end = m.reg_next("rd_row_end", ret_last, RegOpts::new().reset_zero(1))?;
        m.drive(row_end_w, row_end)?;
        // The descriptor (and the element with it) pass one more register: the RAM
        // output is far from phase 2.
        let word = m.delay(word, crate::mem::MEM_READ_LATENCY + 1, "ret_word_d")?;
        let ret_v = m.delay_reset(ret_v, crate::mem::MEM_READ_LATENCY + 1, "ret_v_d")?;
        let ret_last = m.delay(ret_last, crate::mem::MEM_READ_LATENCY + 1, "ret_last_d")?;

        // ---- phase 2 ----------------------------------------------------------------
        let desc_d = m.reg_next("desc_q", desc_data, RegOpts::new())?;
        let ie_w = p.max_bits + p.et + 2;
        let mw = p.max_bits;
        let rw = p.t + 2;
        let shw = norm::shift_bits(cfg);
        let per_lane = mw + rw + shw;
        let mut ys = Vec::with_capacity(lanes);
        for c in 0..lanes as u32 {
            let ie = m.slice(word, (c + 1) * ie_w - 1, c * ie_w)?;
            let base = c * per_lane;
            let sh = m.slice(desc_d, base + shw - 1, base)?;
            let r = m.slice(desc_d, base + shw + rw - 1, base + shw)?;
            let mx = m
                .slice(desc_d, base + per_lane - 1, base + shw + rw)?
                .as_signed();
            let inst = m.instance(
                &p2,
                &format!("p2_{c}"),
                &[("ie", ie), ("m", mx), ("recip", r), ("shift", sh)],
            )?;
            ys.push(inst.out("y")?);
        }
        let l2 = phase2::latency(cfg);
        let v_out = m.delay_reset(ret_v, l2, "v_out")?;
        let last_out = m.delay(ret_last, l2, "last_out")?;
        let fire = stream::lanes_to_m_axis(&mut m, lib, &ys, v_out, last_out, od, &out_lanes)?;
        m.drive(out_fire, fire)?;
        m.finish()
    })
}

/// An up/down counter (see `stream`), returned with its register.
fn stream_counter(
    m: &mut ModuleBuilder,
    name: &str,
    width: u32,
    inc: Sig,
    dec: Sig,
) -> RtlResult<(crate::stream::UpDown, Sig)> {
    let c = crate::stream::UpDown::new(m, name, width, inc, dec)?;
    let q = c.q;
    Ok((c, q))
}
