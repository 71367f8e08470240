//! The row engine of the compute queue, shared by `SOFTMAX` ([`crate::accel::smx`]) and
//! `LAYERNORM` ([`crate::accel::lnx`]): scratchpad rows through a row unit (softmax or
//! LayerNorm, AXI4-Stream with `tlast`, `lanes` rows in lockstep) into scratchpad
//! rows. This is `golden::machine`'s SOFTMAX and LAYERNORM.
//!
//! - **Set-up (2 cycles), in the golden model's order:** `len > max_len` is error 1;
//!   the input rows (`rows * ceil(len * in bytes / W)`), the output rows and (for
//!   LayerNorm) the parameter rows must lie inside the scratchpad (error 2); an output
//!   that overlaps the input is error 1 unless it starts at or before the input with a
//!   pitch no larger (then every row is written only after it and every row before it
//!   were read, as the ISA requires).
//! - **Parameters (LayerNorm only):** before any row, the engine reads the gamma rows
//!   and the beta rows of the parameter block into two shift registers (refilled when
//!   empty, one read at a time) and sends channel 0..len-1 as beats `{beta, gamma}`
//!   on the unit's `s_prm_axis`, `tlast` on the last. The unit always takes them.
//! - **Input:** the unit takes one element of each of its `lanes` rows per beat, so
//!   rows go in groups of `lanes`. For each chunk of a row (one scratchpad row,
//!   `W / in bytes` elements) the engine reads that chunk of each row of the group
//!   into shift registers, then offers the elements as beats; `tlast` on element
//!   `len - 1`. Lanes past the last row carry don't-care data.
//! - **Output:** each lane's elements fill a chunk register (zero beyond the row's
//!   end; signed outputs sign-extended to their element bytes); when a chunk is full
//!   or the row ends, the beat is taken and the group's chunks are written, one
//!   scratchpad row per cycle (the unit waits meanwhile). The lanes past the last row
//!   write nothing. A new instruction starts only when the previous one's outputs are
//!   all written, so its parameters never change under rows in flight.
//!
//! Ports: `start`, `src`, `dst`, `rows`, `len` (and `params` for LayerNorm) in, `ready`
//! out; `spad_re`, `spad_raddr`, `spad_rdata`; `spad_we`, `spad_waddr`, `spad_wdata`;
//! `idle`, `err_valid`, `err_code` (combinational, in the cycle of the check).

use std::rc::Rc;

use accgen_golden::accel::{elem_bytes, Geometry};

use crate::accel::div_const;
use crate::accel::gemm::bits_for;
use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig};
use crate::stream::pack;

/// What a row engine wraps.
pub struct RowUnit {
    /// Name of the engine module.
    pub name: String,
    /// One-line description for the module header.
    pub doc: String,
    /// The unit: `s_axis_*`, `m_axis_*` (and `s_prm_axis_*` with `params`).
    pub unit: Rc<Module>,
    /// The unit's lanes (rows in lockstep).
    pub lanes: u32,
    /// Longest row.
    pub max_len: u32,
    /// Signed input bits.
    pub in_bits: u32,
    /// Output bits.
    pub out_bits: u32,
    /// Whether outputs are signed (sign-extended to their element bytes).
    pub out_signed: bool,
    /// `(gamma_bits, beta_bits)` of a LayerNorm parameter stream.
    pub params: Option<(u32, u32)>,
}

/// Build (or fetch) the row engine for `spec` on the scratchpad geometry `geo`.
pub fn row_engine(
    lib: &mut Library,
    geo: Geometry,
    spec: RowUnit,
    read_latency: u32,
) -> RtlResult<Rc<Module>> {
    let name = spec.name.clone();
    lib.get_or_build(&name.clone(), move |_| {
        let sm = &spec;
        let unit = spec.unit.clone();
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
        m.doc(&spec.doc);
        let start = m.input("start", 1, false)?;
        let f_src = m.input("src", 20, false)?;
        let f_dst = m.input("dst", 20, false)?;
        let f_rows = m.input("rows", 16, false)?;
        let f_len = m.input("len", 16, false)?;
        let f_params = match spec.params {
            Some(_) => Some(m.input("params", 20, false)?),
            None => None,
        };
        let spad_rdata = m.input("spad_rdata", 8 * w, false)?;

        // ---- input side: 0 idle, 1 set-up 1, 2 set-up 2, 3 read chunk, 4 beats,
        // 5 parameters.
        let st = m.reg("state", 3, false, RegOpts::new().reset_zero(3))?;
        let k: Vec<Sig> = (0..6).map(|v| m.const_u(3, v)).collect::<RtlResult<_>>()?;
        let s: Vec<Sig> = (0..6).map(|i| m.eq(st.q, k[i])).collect::<RtlResult<_>>()?;
        let out_busy = m.reg("out_busy", 1, false, RegOpts::new().reset_zero(1))?;
        let nob = m.not(out_busy.q)?;
        let ready = m.and(s[0], nob)?;
        let take = m.and(start, ready)?;
        let en = RegOpts::new().enable(take);
        let r_src = m.reg_next("f_src", f_src, en.clone())?;
        let r_dst = m.reg_next("f_dst", f_dst, en.clone())?;
        let r_rows = m.reg_next("f_rows", f_rows, en.clone())?;
        let r_len = m.reg_next("f_len", f_len, en.clone())?;
        let r_params = match f_params {
            Some(p) => Some(m.reg_next("f_params", p, en)?),
            None => None,
        };

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
        // Parameter rows: gammas, then betas from the next row boundary.
        let prm_pitch = match spec.params {
            Some((gbits, bbits)) => {
                let gp = pitch_of(&mut m, elem_bytes(gbits))?;
                let bp = pitch_of(&mut m, elem_bytes(bbits))?;
                let gpq = m.reg_next("gp", gp, RegOpts::new().enable(s[1]))?;
                let bpq = m.reg_next("bp", bp, RegOpts::new().enable(s[1]))?;
                Some((gpq, bpq))
            }
            None => None,
        };
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
        let rng_bad = match (r_params, prm_pitch) {
            (Some(p), Some((gpq, bpq))) => {
                let p40 = m.zext(p, 40)?;
                let g40 = m.zext(gpq, 40)?;
                let b40 = m.zext(bpq, 40)?;
                let e = m.add(p40, g40)?;
                let e = m.add(e, b40)?;
                let pbad = m.cmp(CmpOp::Gt, e, lim)?;
                m.or(rng_bad, pbad)?
            }
            _ => rng_bad,
        };
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
        let prm_done_w = m.wire("prm_done", 1, false)?;
        let prm_done = prm_done_w;
        let zero1 = m.const_u(1, 0)?;
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
                (go, if spec.params.is_some() { k[5] } else { k[3] }),
                (prm_done, k[3]),
                (rd_done, k[4]),
                (in_done, k[0]),
                (next_group, k[3]),
                (ch_end, k[3]),
            ],
            st.q,
        )?;
        m.connect(st, next)?;

        // ---- parameters (LayerNorm): gammas and betas into s_prm_axis.
        let wb = bits_for(w as u64) + 1;
        let prm = match (spec.params, r_params, prm_pitch) {
            (Some((gbits, bbits)), Some(pbase), Some((gpq, _))) => {
                let (gb, bb) = (elem_bytes(gbits), elem_bytes(bbits));
                let gsr = m.reg("p_gsr", 8 * w, false, RegOpts::new())?;
                let bsr = m.reg("p_bsr", 8 * w, false, RegOpts::new())?;
                let gcnt = m.reg("p_gcnt", wb, false, RegOpts::new().reset_zero(wb))?;
                let bcnt = m.reg("p_bcnt", wb, false, RegOpts::new().reset_zero(wb))?;
                let gptr = m.reg("p_gptr", 32, false, RegOpts::new())?;
                let bptr = m.reg("p_bptr", 32, false, RegOpts::new())?;
                let pc = m.reg("p_ch", 16, false, RegOpts::new())?;
                // A read in flight (1 = gamma, 2 = beta, 0 none).
                let busy = m.reg("p_busy", 2, false, RegOpts::new().reset_zero(2))?;
                let zw = m.const_u(wb, 0)?;
                let z2 = m.const_u(2, 0)?;
                let g_empty = m.eq(gcnt.q, zw)?;
                let b_empty = m.eq(bcnt.q, zw)?;
                let idle_rd = m.eq(busy.q, z2)?;
                let can = m.and(s[5], idle_rd)?;
                let rd_g = m.and(can, g_empty)?;
                let ng = m.not(g_empty)?;
                let rd_b = m.and(can, ng)?;
                let rd_b = m.and(rd_b, b_empty)?;
                let p_re = m.or(rd_g, rd_b)?;
                let p_addr = m.mux(rd_g, gptr.q, bptr.q)?;
                // Returns, `lat` cycles later.
                let mut pv = p_re;
                let mut pg = rd_g;
                for i in 0..lat {
                    pv = m.reg_next(&format!("p_rv{i}"), pv, RegOpts::new().reset_zero(1))?;
                    pg = m.reg_next(&format!("p_rg{i}"), pg, RegOpts::new())?;
                }
                let ret_g = m.and(pv, pg)?;
                let npg = m.not(pg)?;
                let ret_b = m.and(pv, npg)?;
                let one2 = m.const_u(2, 1)?;
                let two2 = m.const_u(2, 2)?;
                let bz = m.mux(rd_b, two2, busy.q)?;
                let bz = m.mux(rd_g, one2, bz)?;
                let bz = m.mux(pv, z2, bz)?;
                m.connect(busy, bz)?;
                // A beat when both registers hold a channel.
                let both = m.or(g_empty, b_empty)?;
                let both = m.not(both)?;
                let pvalid = m.and(s[5], both)?;
                let lenm1p = m.sub(r_len, one16)?;
                let plast = m.eq(pc.q, lenm1p)?;
                let pdone = m.and(pvalid, plast)?;
                let ow = m.const_u(wb, 1)?;
                let gcn = m.sub(gcnt.q, ow)?;
                let gcv = m.mux(pvalid, gcn, gcnt.q)?;
                let gfull = m.const_u(wb, (w / gb) as u128)?;
                let gcv = m.mux(ret_g, gfull, gcv)?;
                let gcv = m.mux(go, zw, gcv)?;
                m.connect(gcnt, gcv)?;
                let bcn = m.sub(bcnt.q, ow)?;
                let bcv = m.mux(pvalid, bcn, bcnt.q)?;
                let bfull = m.const_u(wb, (w / bb) as u128)?;
                let bcv = m.mux(ret_b, bfull, bcv)?;
                let bcv = m.mux(go, zw, bcv)?;
                m.connect(bcnt, bcv)?;
                let gsh = m.shr(gsr.q, 8 * gb)?;
                let gsv = m.mux(pvalid, gsh, gsr.q)?;
                let gsv = m.mux(ret_g, spad_rdata, gsv)?;
                m.connect(gsr, gsv)?;
                let bsh = m.shr(bsr.q, 8 * bb)?;
                let bsv = m.mux(pvalid, bsh, bsr.q)?;
                let bsv = m.mux(ret_b, spad_rdata, bsv)?;
                m.connect(bsr, bsv)?;
                let one32 = m.const_u(32, 1)?;
                let p32 = m.zext(pbase, 32)?;
                let gp32 = m.zext(gpq, 32)?;
                let b32 = m.add(p32, gp32)?;
                let gpn = m.add(gptr.q, one32)?;
                let gpv = m.mux(rd_g, gpn, gptr.q)?;
                let gpv = m.mux(go, p32, gpv)?;
                m.connect(gptr, gpv)?;
                let bpn = m.add(bptr.q, one32)?;
                let bpv = m.mux(rd_b, bpn, bptr.q)?;
                let bpv = m.mux(go, b32, bpv)?;
                m.connect(bptr, bpv)?;
                let pcn = m.add(pc.q, one16)?;
                let pcv = m.mux(pvalid, pcn, pc.q)?;
                let pcv = m.mux(go, z16, pcv)?;
                m.connect(pc, pcv)?;
                // {beta, gamma}, each sign-extended to whole bytes.
                let (gf, bf) = (gbits.div_ceil(8) * 8, bbits.div_ceil(8) * 8);
                let g = m.slice(gsr.q, gbits - 1, 0)?.as_signed();
                let g = m.sext(g, gf)?;
                let b = m.slice(bsr.q, bbits - 1, 0)?.as_signed();
                let b = m.sext(b, bf)?;
                let pdata = m.concat(&[b, g])?;
                Some((p_re, p_addr, pvalid, plast, pdata, pdone))
            }
            _ => None,
        };
        match &prm {
            Some(p) => m.drive(prm_done_w, p.5)?,
            None => m.drive(prm_done_w, zero1)?,
        }

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
        let mut conns = vec![
            ("s_axis_tdata", tdata),
            ("s_axis_tvalid", bv),
            ("s_axis_tlast", t_last),
            ("m_axis_tready", out_ready),
        ];
        if let Some(p) = &prm {
            conns.push(("s_prm_axis_tdata", p.4));
            conns.push(("s_prm_axis_tvalid", p.2));
            conns.push(("s_prm_axis_tlast", p.3));
        }
        let u = m.instance(&unit, "unit", &conns)?;
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
            let y = if spec.out_signed {
                m.sext(y.as_signed(), 8 * ob)?.as_unsigned()
            } else {
                m.zext(y, 8 * ob)?
            };
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
        let (re, raddr) = match &prm {
            Some(p) => {
                let any = m.or(re, p.0)?;
                let a = m.mux(p.0, p.1, rptr.q)?;
                (any, m.resize(a, srb)?)
            }
            None => (re, m.resize(rptr.q, srb)?),
        };
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
