//! The softmax engine of the compute queue: runs `SOFTMAX` instructions, scratchpad
//! rows through the softmax unit ([`crate::softmax::softmax`]) into scratchpad rows.
//! This is `golden::machine`'s SOFTMAX.
//!
//! - **Set-up (2 cycles), in the golden model's order:** `len > max_len` is error 1;
//!   the input rows (`rows * ceil(len * in bytes / W)`) and the output rows must lie
//!   inside the scratchpad (error 2); an output that overlaps the input is error 1
//!   unless it starts at or before the input with a pitch no larger (then every row is
//!   written only after it and every row before it were read, as the ISA requires).
//! - **Input:** the unit takes one element of each of its `lanes` rows per beat, so
//!   rows go in groups of `lanes`. For each chunk of a row (one scratchpad row,
//!   `W / in bytes` elements) the engine reads that chunk of each row of the group
//!   into shift registers, then offers the elements as beats; `tlast` on element
//!   `len - 1`. Lanes past the last row carry don't-care data.
//! - **Output:** each lane's elements fill a chunk register (zero beyond the row's
//!   end); when a chunk is full or the row ends, the beat is taken and the group's
//!   chunks are written, one scratchpad row per cycle (the unit waits meanwhile). The
//!   lanes past the last row write nothing.
//!
//! Ports: `start`, `src`, `dst`, `rows`, `len` in, `ready` out; `spad_re`,
//! `spad_raddr`, `spad_rdata`; `spad_we`, `spad_waddr`, `spad_wdata`; `idle`,
//! `err_valid`, `err_code` (combinational, in the cycle of the check).

use std::rc::Rc;

use accgen_golden::accel::{elem_bytes, Geometry};
use accgen_golden::config::Config;

use crate::accel::div_const;
use crate::accel::gemm::bits_for;
use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlError, RtlResult, Sig};
use crate::softmax::softmax;
use crate::stream::pack;

/// Build (or fetch) the softmax engine of `cfg` (which has `[softmax]` and `[accel]`).
pub fn softmax_engine(lib: &mut Library, cfg: &Config, read_latency: u32) -> RtlResult<Rc<Module>> {
    let err = |message: String| RtlError {
        module: "accgen_accel_softmax".into(),
        message,
    };
    let geo = Geometry::of(cfg).map_err(|e| err(e.to_string()))?;
    let sm = cfg
        .softmax
        .clone()
        .ok_or_else(|| err("no [softmax]".into()))?;
    let unit = softmax(lib, &sm)?;
    let name = format!("accgen_accel_softmax_{}", &cfg.hash()[..10]);
    lib.get_or_build(&name.clone(), move |_| {
        let l = sm.lanes;
        let w = geo.spad_row_bytes;
        let ib = elem_bytes(sm.in_bits);
        let ob = elem_bytes(sm.out_bits);
        let ei = w / ib;
        let eo = w / ob;
        let lat = read_latency;
        let srb = bits_for(geo.spad_rows as u64);
        let lb = bits_for(l as u64) + 1;
        let mut m = ModuleBuilder::new(&name);
        m.doc("Softmax engine: scratchpad rows through the softmax unit into scratchpad rows.");
        let start = m.input("start", 1, false)?;
        let f_src = m.input("src", 20, false)?;
        let f_dst = m.input("dst", 20, false)?;
        let f_rows = m.input("rows", 16, false)?;
        let f_len = m.input("len", 16, false)?;
        let spad_rdata = m.input("spad_rdata", 8 * w, false)?;

        // ---- input side: 0 idle, 1 set-up 1, 2 set-up 2, 3 read chunk, 4 beats.
        let st = m.reg("state", 3, false, RegOpts::new().reset_zero(3))?;
        let k: Vec<Sig> = (0..5).map(|v| m.const_u(3, v)).collect::<RtlResult<_>>()?;
        let s: Vec<Sig> = (0..5).map(|i| m.eq(st.q, k[i])).collect::<RtlResult<_>>()?;
        let out_busy = m.reg("out_busy", 1, false, RegOpts::new().reset_zero(1))?;
        let nob = m.not(out_busy.q)?;
        let ready = m.and(s[0], nob)?;
        let take = m.and(start, ready)?;
        let en = RegOpts::new().enable(take);
        let r_src = m.reg_next("f_src", f_src, en.clone())?;
        let r_dst = m.reg_next("f_dst", f_dst, en.clone())?;
        let r_rows = m.reg_next("f_rows", f_rows, en.clone())?;
        let r_len = m.reg_next("f_len", f_len, en)?;

        // Set-up 1: pitches and the length check.
        let pitch_of = |m: &mut ModuleBuilder, eb: u32| -> RtlResult<Sig> {
            let x = m.zext(r_len, 20)?;
            let x = m.shl(x, eb.trailing_zeros())?;
            let wm1 = m.const_u(20, (w - 1) as u128)?;
            let x = m.add(x, wm1)?;
            let p = div_const(m, x, w)?;
            m.resize(p, 18)
        };
        let ip = pitch_of(&mut m, ib)?;
        let op = pitch_of(&mut m, ob)?;
        let ipq = m.reg_next("ip", ip, RegOpts::new().enable(s[1]))?;
        let opq = m.reg_next("op", op, RegOpts::new().enable(s[1]))?;
        let maxl = m.const_u(16, sm.max_len as u128)?;
        let len_bad = m.cmp(CmpOp::Gt, r_len, maxl)?;
        let len_bad_q = m.reg_next("len_bad", len_bad, RegOpts::new().enable(s[1]))?;
        // Set-up 2: ranges, overlap.
        let rows40 = m.zext(r_rows, 40)?;
        let ip40 = m.zext(ipq, 40)?;
        let op40 = m.zext(opq, 40)?;
        let in_span = m.mul(rows40, ip40)?;
        let in_span = m.resize(in_span, 40)?;
        let out_span = m.mul(rows40, op40)?;
        let out_span = m.resize(out_span, 40)?;
        let src40 = m.zext(r_src, 40)?;
        let dst40 = m.zext(r_dst, 40)?;
        let src_end = m.add(src40, in_span)?;
        let dst_end = m.add(dst40, out_span)?;
        let lim = m.const_u(40, geo.spad_rows as u128)?;
        let src_bad = m.cmp(CmpOp::Gt, src_end, lim)?;
        let dst_bad = m.cmp(CmpOp::Gt, dst_end, lim)?;
        let o1 = m.lt(dst40, src_end)?;
        let o2 = m.lt(src40, dst_end)?;
        let overlap = m.and(o1, o2)?;
        let le1 = m.cmp(CmpOp::Le, dst40, src40)?;
        let le2 = m.cmp(CmpOp::Le, opq, ipq)?;
        let safe = m.and(le1, le2)?;
        let nsafe = m.not(safe)?;
        let ov_bad = m.and(overlap, nsafe)?;
        let rng_bad = m.or(src_bad, dst_bad)?;
        let bad = m.or(len_bad_q, rng_bad)?;
        let bad = m.or(bad, ov_bad)?;
        let err_now = m.and(s[2], bad)?;
        let nbad = m.not(bad)?;
        let go = m.and(s[2], nbad)?;
        let c1 = m.const_u(8, 1)?;
        let c2 = m.const_u(8, 2)?;
        let code = m.priority(&[(len_bad_q, c1), (rng_bad, c2)], c1)?;

        // Input counters: group row base, chunk, lane, element.
        let lconst = m.const_u(16, l as u128)?;
        let grow = m.reg("in_group_row", 16, false, RegOpts::new())?; // first row of the group
        let gptr = m.reg("in_group_ptr", 32, false, RegOpts::new())?; // src + grow * ip
        let ch = m.reg("in_chunk", 18, false, RegOpts::new())?;
        let lane = m.reg("in_lane", lb, false, RegOpts::new().reset_zero(lb))?;
        let rptr = m.reg("in_ptr", 32, false, RegOpts::new())?;
        let t = m.reg("in_t", 16, false, RegOpts::new())?;
        let ti = m.reg("in_ti", bits_for(ei as u64) + 1, false, RegOpts::new())?;
        let pend = m.reg(
            "in_pending",
            lb + 1,
            false,
            RegOpts::new().reset_zero(lb + 1),
        )?;
        let lm1 = m.const_u(lb, (l - 1) as u128)?;
        let last_lane = m.eq(lane.q, lm1)?;
        let re = s[3];
        let rd_done = m.and(re, last_lane)?;
        let zl = m.const_u(lb, 0)?;
        let onel = m.const_u(lb, 1)?;
        let ln1 = m.add(lane.q, onel)?;
        let lnv = m.mux(re, ln1, lane.q)?;
        let lnv = m.mux(rd_done, zl, lnv)?;
        let lnv = m.mux(go, zl, lnv)?;
        m.connect(lane, lnv)?;
        let ip32 = m.zext(ipq, 32)?;
        let rp1 = m.add(rptr.q, ip32)?;
        // Return tracking.
        let mut rv = re;
        for i in 0..lat {
            rv = m.reg_next(&format!("rd_v{i}"), rv, RegOpts::new().reset_zero(1))?;
        }
        let mut rl = lane.q;
        for i in 0..lat {
            rl = m.reg_next(&format!("rd_l{i}"), rl, RegOpts::new())?;
        }
        let pi = m.zext(re, lb + 1)?;
        let pd = m.zext(rv, lb + 1)?;
        let pn = m.add(pend.q, pi)?;
        let pn = m.sub(pn, pd)?;
        m.connect(pend, pn)?;
        let zpe = m.const_u(lb + 1, 0)?;
        let arrived = m.eq(pend.q, zpe)?;
        // Beats.
        let unit_ready = m.wire("unit_ready", 1, false)?;
        let bv = m.and(s[4], arrived)?;
        let hs = m.and(bv, unit_ready)?;
        let one16 = m.const_u(16, 1)?;
        let lenm1 = m.sub(r_len, one16)?;
        let t_last = m.eq(t.q, lenm1)?;
        let eim1 = m.const_u(ti.q.width(), (ei - 1) as u128)?;
        let chunk_end = m.eq(ti.q, eim1)?;
        let row_end = m.and(hs, t_last)?;
        let nl = m.not(t_last)?;
        let ch_end = m.and(hs, chunk_end)?;
        let ch_end = m.and(ch_end, nl)?;
        // Group advance at row end.
        let grow_n = m.add(grow.q, lconst)?;
        let groups_left = m.lt(grow_n, r_rows)?;
        let next_group = m.and(row_end, groups_left)?;
        let in_done = {
            let n = m.not(groups_left)?;
            m.and(row_end, n)?
        };
        let z16 = m.const_u(16, 0)?;
        let gv = m.mux(next_group, grow_n, grow.q)?;
        let gv = m.mux(go, z16, gv)?;
        m.connect(grow, gv)?;
        // gptr += L * ip at a group change (ip registered, L constant).
        let lip = {
            let lc = m.const_u(8, l as u128)?;
            let p = m.mul(ipq, lc)?;
            m.resize(p, 32)?
        };
        let gp_n = m.add(gptr.q, lip)?;
        let src32 = m.zext(r_src, 32)?;
        let gpv = m.mux(next_group, gp_n, gptr.q)?;
        let gpv = m.mux(go, src32, gpv)?;
        m.connect(gptr, gpv)?;
        // Chunk: 0 at a new row, +1 at a chunk end.
        let z18 = m.const_u(18, 0)?;
        let one18 = m.const_u(18, 1)?;
        let chn = m.add(ch.q, one18)?;
        let chv = m.mux(ch_end, chn, ch.q)?;
        let chv = m.mux(row_end, z18, chv)?;
        let chv = m.mux(go, z18, chv)?;
        m.connect(ch, chv)?;
        // Read pointer: group pointer + chunk, then + ip per lane.
        let ch32 = m.zext(chn, 32)?;
        let at_chunk = m.add(gptr.q, ch32)?;
        let rpv = m.mux(re, rp1, rptr.q)?;
        let rpv = m.mux(ch_end, at_chunk, rpv)?;
        let rpv = m.mux(next_group, gp_n, rpv)?;
        let rpv = m.mux(go, src32, rpv)?;
        m.connect(rptr, rpv)?;
        let tn = m.add(t.q, one16)?;
        let tv = m.mux(hs, tn, t.q)?;
        let tv = m.mux(row_end, z16, tv)?;
        let tv = m.mux(go, z16, tv)?;
        m.connect(t, tv)?;
        let zti = m.const_u(ti.q.width(), 0)?;
        let oti = m.const_u(ti.q.width(), 1)?;
        let tin = m.add(ti.q, oti)?;
        let tiv = m.mux(hs, tin, ti.q)?;
        let tiv = m.mux(ch_end, zti, tiv)?;
        let tiv = m.mux(row_end, zti, tiv)?;
        let tiv = m.mux(go, zti, tiv)?;
        m.connect(ti, tiv)?;
        let next = m.priority(
            &[
                (take, k[1]),
                (s[1], k[2]),
                (err_now, k[0]),
                (go, k[3]),
                (rd_done, k[4]),
                (in_done, k[0]),
                (next_group, k[3]),
                (ch_end, k[3]),
            ],
            st.q,
        )?;
        m.connect(st, next)?;

        // Shift registers, one per lane.
        let mut elems = Vec::new();
        for li in 0..l {
            let r = m.reg(&format!("sr{li}"), 8 * w, false, RegOpts::new())?;
            let c = m.const_u(lb, li as u128)?;
            let hit = m.eq(rl, c)?;
            let load = m.and(rv, hit)?;
            let sh = m.shr(r.q, 8 * ib)?;
            let nv = m.mux(hs, sh, r.q)?;
            let nv = m.mux(load, spad_rdata, nv)?;
            m.connect(r, nv)?;
            let e = m.slice(r.q, sm.in_bits - 1, 0)?;
            elems.push(e.as_signed());
        }
        let tdata = pack(&mut m, &elems)?;
        let tdata = tdata.as_unsigned();

        // ---- the unit.
        let out_ready = m.wire("out_ready", 1, false)?;
        let u = m.instance(
            &unit,
            "unit",
            &[
                ("s_axis_tdata", tdata),
                ("s_axis_tvalid", bv),
                ("s_axis_tlast", t_last),
                ("m_axis_tready", out_ready),
            ],
        )?;
        m.drive(unit_ready, u.out("s_axis_tready")?)?;
        let uv = u.out("m_axis_tvalid")?;
        let ud = u.out("m_axis_tdata")?;
        let ulast = u.out("m_axis_tlast")?;

        // ---- output side: chunk registers, then `lanes` writes.
        let writing = m.reg("writing", 1, false, RegOpts::new().reset_zero(1))?;
        let wl = m.reg("w_lane", lb, false, RegOpts::new().reset_zero(lb))?;
        let pos = m.reg(
            "o_pos",
            bits_for(eo as u64) + 1,
            false,
            RegOpts::new().reset_zero(bits_for(eo as u64) + 1),
        )?;
        let orow = m.reg("o_group_row", 16, false, RegOpts::new())?;
        let optr = m.reg("o_group_ptr", 32, false, RegOpts::new())?; // dst + orow * op
        let och = m.reg("o_chunk", 18, false, RegOpts::new())?;
        let wptr = m.reg("w_ptr", 32, false, RegOpts::new())?;
        let was_last = m.reg("o_last", 1, false, RegOpts::new())?;
        let nw = m.not(writing.q)?;
        m.drive(out_ready, nw)?;
        let ohs = m.and(uv, nw)?;
        let eom1 = m.const_u(pos.q.width(), (eo - 1) as u128)?;
        let full = m.eq(pos.q, eom1)?;
        let flush = m.or(full, ulast)?;
        let to_write = m.and(ohs, flush)?;
        let zpos = m.const_u(pos.q.width(), 0)?;
        let opos = m.const_u(pos.q.width(), 1)?;
        let pn1 = m.add(pos.q, opos)?;
        let posv = m.mux(ohs, pn1, pos.q)?;
        let posv = m.mux(to_write, zpos, posv)?;
        m.connect(pos, posv)?;
        let last_w = m.eq(wl.q, lm1)?;
        let w_end = m.and(writing.q, last_w)?;
        let one1 = m.const_u(1, 1)?;
        let zero1 = m.const_u(1, 0)?;
        let wv = m.mux(to_write, one1, writing.q)?;
        let wv = m.mux(w_end, zero1, wv)?;
        m.connect(writing, wv)?;
        let wln = m.add(wl.q, onel)?;
        let wlv = m.mux(writing.q, wln, wl.q)?;
        let wlv = m.mux(w_end, zl, wlv)?;
        m.connect(wl, wlv)?;
        let lv = m.mux(to_write, ulast, was_last.q)?;
        m.connect(was_last, lv)?;
        let ofb = sm.out_bits.div_ceil(8) * 8;
        let mut chunk_regs = Vec::new();
        for li in 0..l {
            let r = m.reg(
                &format!("oc{li}"),
                8 * w,
                false,
                RegOpts::new().reset_zero(8 * w),
            )?;
            let y = m.slice(ud, li * ofb + sm.out_bits - 1, li * ofb)?;
            let y = m.zext(y, 8 * ob)?;
            let mut slots = Vec::new();
            for p in (0..eo).rev() {
                let cp = m.const_u(pos.q.width(), p as u128)?;
                let here = m.eq(pos.q, cp)?;
                let here = m.and(here, ohs)?;
                let old = m.slice(r.q, 8 * ob * (p + 1) - 1, 8 * ob * p)?;
                slots.push(m.mux(here, y, old)?);
            }
            let filled = m.concat(&slots)?;
            // Cleared when its write is done (after the group's writes).
            let z = m.const_u(8 * w, 0)?;
            let nv = m.mux(w_end, z, filled)?;
            m.connect(r, nv)?;
            chunk_regs.push(r.q);
        }
        let wdata = m.select(wl.q, &chunk_regs)?;
        // Write addresses: group pointer + chunk + lane * op.
        let op32 = m.zext(opq, 32)?;
        let och32 = m.zext(och.q, 32)?;
        let first = m.add(optr.q, och32)?;
        let wp_n = m.add(wptr.q, op32)?;
        let wpv = m.mux(writing.q, wp_n, wptr.q)?;
        let wpv = m.mux(to_write, first, wpv)?;
        m.connect(wptr, wpv)?;
        // Lane l writes only when its row exists.
        let wl16 = m.zext(wl.q, 16)?;
        let row_of = m.add(orow.q, wl16)?;
        let exists = m.lt(row_of, r_rows)?;
        let we = m.and(writing.q, exists)?;
        // After the writes: next chunk, or next group at a row's end.
        let grp_end = m.and(w_end, was_last.q)?;
        let chk_end = {
            let n = m.not(was_last.q)?;
            m.and(w_end, n)?
        };
        let ochn = m.add(och.q, one18)?;
        let ochv = m.mux(chk_end, ochn, och.q)?;
        let ochv = m.mux(grp_end, z18, ochv)?;
        let ochv = m.mux(go, z18, ochv)?;
        m.connect(och, ochv)?;
        let lop = {
            let lc = m.const_u(8, l as u128)?;
            let p = m.mul(opq, lc)?;
            m.resize(p, 32)?
        };
        let op_n = m.add(optr.q, lop)?;
        let dst32 = m.zext(r_dst, 32)?;
        let opv = m.mux(grp_end, op_n, optr.q)?;
        let opv = m.mux(go, dst32, opv)?;
        m.connect(optr, opv)?;
        let orn = m.add(orow.q, lconst)?;
        let orv = m.mux(grp_end, orn, orow.q)?;
        let orv = m.mux(go, z16, orv)?;
        m.connect(orow, orv)?;
        let out_done = {
            let more = m.lt(orn, r_rows)?;
            let n = m.not(more)?;
            m.and(grp_end, n)?
        };
        let ob_v = m.mux(go, one1, out_busy.q)?;
        let ob_v = m.mux(out_done, zero1, ob_v)?;
        m.connect(out_busy, ob_v)?;

        let idle = m.and(s[0], nob)?;
        let raddr = m.resize(rptr.q, srb)?;
        let waddr = m.resize(wptr.q, srb)?;
        m.output("ready", ready)?;
        m.output("spad_re", re)?;
        m.output("spad_raddr", raddr)?;
        m.output("spad_we", we)?;
        m.output("spad_waddr", waddr)?;
        m.output("spad_wdata", wdata)?;
        m.output("idle", idle)?;
        m.output("err_valid", err_now)?;
        m.output("err_code", code)?;
        m.finish()
    })
}
