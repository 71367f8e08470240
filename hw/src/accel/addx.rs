//! The ADD engine of the compute queue: runs `ADD` instructions, element-wise residual
//! adds of two scratchpad row blocks into a third ([`crate::residual::residual_lane`]
//! lanes). This is `golden::machine`'s ADD.
//!
//! - **Set-up (2 cycles), in the golden model's order:** the `a`, `b` and output rows
//!   (`rows * ceil(len * bytes / W)` each) must lie inside the scratchpad (error 2); an
//!   output that overlaps `a` or `b` is error 1 unless it starts at or before that
//!   input with a pitch no larger.
//! - **Chunks:** a row is cut into chunks of `E = W / max(a, b, out bytes)` elements,
//!   so every chunk of every operand lies inside one scratchpad row. The engine keeps
//!   the current `a` row and `b` row in registers and reads the next one (port A, one
//!   read at a time) when a chunk needs it; with both at hand it issues one chunk per
//!   cycle into `E` residual lanes.
//! - **Output:** results come back [`RESIDUAL_LATENCY`] cycles later with their place
//!   in the output row; elements past `len` are zero (as golden's zero fill). A full
//!   output row, or the last of a row, is written in one cycle. Writes only reach rows
//!   whose inputs were read already (the overlap rule), so in place works.
//!
//! Throughput: `E` elements per cycle between row reads; each `a` or `b` row read costs
//! the read latency plus one cycle.
//!
//! Ports: `start`, `a`, `b`, `dst`, `rows`, `len` in, `ready` out; `spad_re`,
//! `spad_raddr`, `spad_rdata`; `spad_we`, `spad_waddr`, `spad_wdata`; `idle`,
//! `err_valid`, `err_code` (combinational, in the cycle of the check).

use std::rc::Rc;

use accgen_golden::accel::{elem_bytes, Geometry};
use accgen_golden::config::Config;

use crate::accel::div_const;
use crate::accel::gemm::bits_for;
use crate::residual::{residual_lane, RESIDUAL_LATENCY};
use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlError, RtlResult, Sig};

/// One operand's row cursor: the scratchpad row holding the current chunk, whether it
/// is in the register, and the chunk's place in that row.
struct Cursor {
    row: Sig,
    sub: Sig,
    cached: Sig,
}

/// Build (or fetch) the ADD engine of `cfg` (which has `[residual]` and `[accel]`).
pub fn add_engine(lib: &mut Library, cfg: &Config, read_latency: u32) -> RtlResult<Rc<Module>> {
    let err = |message: String| RtlError {
        module: "accgen_accel_add".into(),
        message,
    };
    let geo = Geometry::of(cfg).map_err(|e| err(e.to_string()))?;
    let rc = cfg
        .residual
        .clone()
        .ok_or_else(|| err("no [residual]".into()))?;
    let lane = residual_lane(lib, &rc)?;
    let name = format!("accgen_accel_add_{}", &cfg.hash()[..10]);
    lib.get_or_build(&name.clone(), move |_| {
        let w = geo.spad_row_bytes;
        let (ab, bb, ob) = (
            elem_bytes(rc.a_bits),
            elem_bytes(rc.b_bits),
            elem_bytes(rc.out_bits),
        );
        let e = w / ab.max(bb).max(ob);
        let (ka, kb, ko) = (w / (e * ab), w / (e * bb), w / (e * ob));
        let lat = read_latency;
        let srb = bits_for(geo.spad_rows as u64);
        let mut m = ModuleBuilder::new(&name);
        m.doc("ADD engine: element-wise residual add of two scratchpad row blocks.");
        let start = m.input("start", 1, false)?;
        let f_a = m.input("a", 20, false)?;
        let f_b = m.input("b", 20, false)?;
        let f_dst = m.input("dst", 20, false)?;
        let f_rows = m.input("rows", 16, false)?;
        let f_len = m.input("len", 16, false)?;
        let spad_rdata = m.input("spad_rdata", 8 * w, false)?;
        let zero1 = m.const_u(1, 0)?;
        let one1 = m.const_u(1, 1)?;

        // ---- states: 0 idle, 1 set-up 1, 2 set-up 2, 3 run.
        let st = m.reg("state", 2, false, RegOpts::new().reset_zero(2))?;
        let k: Vec<Sig> = (0..4).map(|v| m.const_u(2, v)).collect::<RtlResult<_>>()?;
        let s: Vec<Sig> = (0..4).map(|i| m.eq(st.q, k[i])).collect::<RtlResult<_>>()?;
        let out_busy = m.reg("out_busy", 1, false, RegOpts::new().reset_zero(1))?;
        let nob = m.not(out_busy.q)?;
        let ready = m.and(s[0], nob)?;
        let take = m.and(start, ready)?;
        let en = RegOpts::new().enable(take);
        let r_a = m.reg_next("f_a", f_a, en.clone())?;
        let r_b = m.reg_next("f_b", f_b, en.clone())?;
        let r_dst = m.reg_next("f_dst", f_dst, en.clone())?;
        let r_rows = m.reg_next("f_rows", f_rows, en.clone())?;
        let r_len = m.reg_next("f_len", f_len, en)?;

        // Set-up 1: pitches. Set-up 2: ranges, then overlaps.
        let pitch_of = |m: &mut ModuleBuilder, eb: u32| -> RtlResult<Sig> {
            let x = m.zext(r_len, 20)?;
            let x = m.shl(x, eb.trailing_zeros())?;
            let wm1 = m.const_u(20, (w - 1) as u128)?;
            let x = m.add(x, wm1)?;
            let p = div_const(m, x, w)?;
            m.resize(p, 18)
        };
        let mut pitches = Vec::new();
        for (nm, eb) in [("ap", ab), ("bp", bb), ("op", ob)] {
            let p = pitch_of(&mut m, eb)?;
            pitches.push(m.reg_next(nm, p, RegOpts::new().enable(s[1]))?);
        }
        let (apq, bpq, opq) = (pitches[0], pitches[1], pitches[2]);
        let rows40 = m.zext(r_rows, 40)?;
        let lim = m.const_u(40, geo.spad_rows as u128)?;
        let mut spans = Vec::new();
        let mut rng_bad = zero1;
        for (base, p) in [(r_a, apq), (r_b, bpq), (r_dst, opq)] {
            let p40 = m.zext(p, 40)?;
            let span = m.mul(rows40, p40)?;
            let span = m.resize(span, 40)?;
            let b40 = m.zext(base, 40)?;
            let end = m.add(b40, span)?;
            let bad = m.cmp(CmpOp::Gt, end, lim)?;
            rng_bad = m.or(rng_bad, bad)?;
            spans.push((b40, end));
        }
        let (d0, d1) = spans[2];
        let mut ov_bad = zero1;
        for (i, p) in [(0usize, apq), (1, bpq)] {
            let (s0, s1) = spans[i];
            let o1 = m.lt(d0, s1)?;
            let o2 = m.lt(s0, d1)?;
            let overlap = m.and(o1, o2)?;
            let le1 = m.cmp(CmpOp::Le, d0, s0)?;
            let le2 = m.cmp(CmpOp::Le, opq, p)?;
            let safe = m.and(le1, le2)?;
            let nsafe = m.not(safe)?;
            let bad = m.and(overlap, nsafe)?;
            ov_bad = m.or(ov_bad, bad)?;
        }
        let bad = m.or(rng_bad, ov_bad)?;
        let err_now = m.and(s[2], bad)?;
        let nbad = m.not(bad)?;
        let go = m.and(s[2], nbad)?;
        let c1 = m.const_u(8, 1)?;
        let c2 = m.const_u(8, 2)?;
        let code = m.mux(rng_bad, c2, c1)?;

        // ---- issue side: row r, chunk j (element t = j * E), the two cursors.
        let one16 = m.const_u(16, 1)?;
        let z16 = m.const_u(16, 0)?;
        let row = m.reg("row", 16, false, RegOpts::new())?;
        let t = m.reg("t", 16, false, RegOpts::new())?;
        let issuing = m.reg("issuing", 1, false, RegOpts::new().reset_zero(1))?;
        // One read in flight: 1 = a, 2 = b.
        let busy = m.reg("rd_busy", 2, false, RegOpts::new().reset_zero(2))?;
        let z2 = m.const_u(2, 0)?;
        let rd_idle = m.eq(busy.q, z2)?;
        let mut cursors = Vec::new();
        let mut regs = Vec::new();
        let e16 = m.const_u(16, e as u128)?;
        let t_next = m.add(t.q, e16)?;
        let row_last_chunk = m.cmp(CmpOp::Ge, t_next, r_len)?;
        let row_n = m.add(row.q, one16)?;
        let all_last = m.cmp(CmpOp::Ge, row_n, r_rows)?;
        let issue_w = m.wire("issue", 1, false)?;
        let row_end = m.and(issue_w, row_last_chunk)?;
        let nrl = m.not(row_last_chunk)?;
        let chunk_step = m.and(issue_w, nrl)?;
        for (nm, base, pitch, kk) in [("a", r_a, apq, ka), ("b", r_b, bpq, kb)] {
            let sb = kk.trailing_zeros().max(1);
            let rowp = m.reg(&format!("{nm}_row"), 32, false, RegOpts::new())?;
            let blk = m.reg(&format!("{nm}_blk"), 32, false, RegOpts::new())?;
            let sub = m.reg(&format!("{nm}_sub"), sb, false, RegOpts::new())?;
            let cached = m.reg(
                &format!("{nm}_cached"),
                1,
                false,
                RegOpts::new().reset_zero(1),
            )?;
            let one32 = m.const_u(32, 1)?;
            let p32 = m.zext(pitch, 32)?;
            let base32 = m.zext(base, 32)?;
            let blk_n = m.add(blk.q, p32)?;
            let blkv = m.mux(row_end, blk_n, blk.q)?;
            let blkv = m.mux(go, base32, blkv)?;
            m.connect(blk, blkv)?;
            let zs = m.const_u(sb, 0)?;
            let os = m.const_u(sb, 1)?;
            let kmax = m.const_u(sb, (kk - 1) as u128)?;
            let wrap = m.eq(sub.q, kmax)?;
            let sub_n = m.add(sub.q, os)?;
            let sub_n = if kk == 1 { zs } else { m.mux(wrap, zs, sub_n)? };
            let wrap = if kk == 1 { one1 } else { wrap };
            let subv = m.mux(chunk_step, sub_n, sub.q)?;
            let subv = m.mux(row_end, zs, subv)?;
            let subv = m.mux(go, zs, subv)?;
            m.connect(sub, subv)?;
            let adv = m.and(chunk_step, wrap)?;
            let rp_n = m.add(rowp.q, one32)?;
            let rpv = m.mux(adv, rp_n, rowp.q)?;
            let rpv = m.mux(row_end, blk_n, rpv)?;
            let rpv = m.mux(go, base32, rpv)?;
            m.connect(rowp, rpv)?;
            let leave = m.or(adv, row_end)?;
            let leave = m.or(leave, go)?;
            cursors.push((
                Cursor {
                    row: rowp.q,
                    sub: sub.q,
                    cached: cached.q,
                },
                cached,
                leave,
            ));
            regs.push(m.reg(&format!("{nm}_data"), 8 * w, false, RegOpts::new())?);
        }
        // Reads: a first, then b, when their rows are not at hand.
        let a_miss = m.not(cursors[0].0.cached)?;
        let b_miss = m.not(cursors[1].0.cached)?;
        let can_rd = m.and(issuing.q, rd_idle)?;
        let rd_a = m.and(can_rd, a_miss)?;
        let rd_b = m.and(can_rd, b_miss)?;
        let na = m.not(a_miss)?;
        let rd_b = m.and(rd_b, na)?;
        let re = m.or(rd_a, rd_b)?;
        let raddr = m.mux(rd_a, cursors[0].0.row, cursors[1].0.row)?;
        let mut pv = re;
        let mut pa = rd_a;
        for i in 0..lat {
            pv = m.reg_next(&format!("rd_v{i}"), pv, RegOpts::new().reset_zero(1))?;
            pa = m.reg_next(&format!("rd_a{i}"), pa, RegOpts::new())?;
        }
        let (rv, rwhich) = (pv, pa);
        let ret_a = m.and(rv, rwhich)?;
        let nwh = m.not(rwhich)?;
        let ret_b = m.and(rv, nwh)?;
        let one2 = m.const_u(2, 1)?;
        let two2 = m.const_u(2, 2)?;
        let bz = m.mux(rd_b, two2, busy.q)?;
        let bz = m.mux(rd_a, one2, bz)?;
        let bz = m.mux(rv, z2, bz)?;
        m.connect(busy, bz)?;
        for (i, ret) in [(0usize, ret_a), (1, ret_b)] {
            let (_, cached, leave) = &cursors[i];
            let cv = m.mux(ret, one1, cached.q)?;
            let cv = m.mux(*leave, zero1, cv)?;
            m.connect(*cached, cv)?;
            let dv = m.mux(ret, spad_rdata, regs[i].q)?;
            m.connect(regs[i], dv)?;
        }
        // Issue a chunk when both rows are at hand (and no read returns this cycle).
        let both = m.and(cursors[0].0.cached, cursors[1].0.cached)?;
        let issue = m.and(issuing.q, both)?;
        m.drive(issue_w, issue)?;
        let tv = m.mux(chunk_step, t_next, t.q)?;
        let tv = m.mux(row_end, z16, tv)?;
        let tv = m.mux(go, z16, tv)?;
        m.connect(t, tv)?;
        let rowv = m.mux(row_end, row_n, row.q)?;
        let rowv = m.mux(go, z16, rowv)?;
        m.connect(row, rowv)?;
        let final_ = m.and(row_end, all_last)?;
        let isv = m.mux(go, one1, issuing.q)?;
        let isv = m.mux(final_, zero1, isv)?;
        m.connect(issuing, isv)?;
        let stv = m.priority(
            &[
                (take, k[1]),
                (s[1], k[2]),
                (err_now, k[0]),
                (go, k[3]),
                (final_, k[0]),
            ],
            st.q,
        )?;
        m.connect(st, stv)?;

        // The chunk's elements, each lane's x = {b, a} as the residual lane takes it.
        let pick = |m: &mut ModuleBuilder, data: Sig, sub: Sig, kk: u32, eb: u32| {
            let opts: Vec<Sig> = (0..kk)
                .map(|q| m.slice(data, 8 * eb * e * (q + 1) - 1, 8 * eb * e * q))
                .collect::<RtlResult<_>>()?;
            if kk == 1 {
                Ok(opts[0])
            } else {
                m.select(sub, &opts)
            }
        };
        let ach = pick(&mut m, regs[0].q, cursors[0].0.sub, ka, ab)?;
        let bch = pick(&mut m, regs[1].q, cursors[1].0.sub, kb, bb)?;
        let af = rc.a_bits.div_ceil(8) * 8;
        let mut ys = Vec::new();
        for i in 0..e {
            let a = m.slice(ach, 8 * ab * i + rc.a_bits - 1, 8 * ab * i)?;
            let a = m.zext(a, af)?;
            let b = m.slice(bch, 8 * bb * i + rc.b_bits - 1, 8 * bb * i)?;
            let x = m.concat(&[b, a])?.as_signed();
            let inst = m.instance(&lane, &format!("lane{i}"), &[("x", x)])?;
            let y = inst.out("y")?;
            // Elements past len are zero.
            let ti = m.const_u(16, i as u128)?;
            let ti = m.add(t.q, ti)?;
            let inside = m.lt(ti, r_len)?;
            let inside = m.delay(inside, RESIDUAL_LATENCY, &format!("in{i}"))?;
            let y = m.sext(y.as_signed(), 8 * ob)?.as_unsigned();
            let z = m.const_u(8 * ob, 0)?;
            ys.push(m.mux(inside, y, z)?);
        }
        ys.reverse();
        let ochunk = m.concat(&ys)?;

        // ---- output side: results RESIDUAL_LATENCY cycles after their issue.
        let v_o = m.delay_reset(issue, RESIDUAL_LATENCY, "o_v")?;
        let rl_o = m.delay(row_last_chunk, RESIDUAL_LATENCY, "o_rowlast")?;
        let fin_o = {
            let f = m.and(row_last_chunk, all_last)?;
            m.delay(f, RESIDUAL_LATENCY, "o_final")?
        };
        let osb = ko.trailing_zeros().max(1);
        let osub = m.reg("o_sub", osb, false, RegOpts::new().reset_zero(osb))?;
        let oreg = m.reg("o_row", 8 * w, false, RegOpts::new().reset_zero(8 * w))?;
        let oblk = m.reg("o_blk", 32, false, RegOpts::new())?;
        let optr = m.reg("o_ptr", 32, false, RegOpts::new())?;
        let kmax = m.const_u(osb, (ko - 1) as u128)?;
        let ofull = if ko == 1 { one1 } else { m.eq(osub.q, kmax)? };
        let flush = m.or(ofull, rl_o)?;
        let wr = m.and(v_o, flush)?;
        let zs = m.const_u(osb, 0)?;
        let os = m.const_u(osb, 1)?;
        let osn = m.add(osub.q, os)?;
        let osv = m.mux(v_o, osn, osub.q)?;
        let osv = m.mux(wr, zs, osv)?;
        m.connect(osub, osv)?;
        // The row being filled, with this chunk in its place.
        let mut slots = Vec::new();
        for q in (0..ko).rev() {
            let cq = m.const_u(osb, q as u128)?;
            let here = if ko == 1 { one1 } else { m.eq(osub.q, cq)? };
            let here = m.and(here, v_o)?;
            let old = m.slice(oreg.q, 8 * ob * e * (q + 1) - 1, 8 * ob * e * q)?;
            slots.push(m.mux(here, ochunk, old)?);
        }
        let filled = m.concat(&slots)?;
        let zw = m.const_u(8 * w, 0)?;
        let orv = m.mux(wr, zw, filled)?;
        m.connect(oreg, orv)?;
        let one32 = m.const_u(32, 1)?;
        let op32 = m.zext(opq, 32)?;
        let dst32 = m.zext(r_dst, 32)?;
        let row_done = m.and(wr, rl_o)?;
        let ob_n = m.add(oblk.q, op32)?;
        let obv = m.mux(row_done, ob_n, oblk.q)?;
        let obv = m.mux(go, dst32, obv)?;
        m.connect(oblk, obv)?;
        let op_n = m.add(optr.q, one32)?;
        let opv = m.mux(wr, op_n, optr.q)?;
        let opv = m.mux(row_done, ob_n, opv)?;
        let opv = m.mux(go, dst32, opv)?;
        m.connect(optr, opv)?;
        let out_done = m.and(wr, fin_o)?;
        let obz = m.mux(go, one1, out_busy.q)?;
        let obz = m.mux(out_done, zero1, obz)?;
        m.connect(out_busy, obz)?;

        let idle = m.and(s[0], nob)?;
        let raddr = m.resize(raddr, srb)?;
        let waddr = m.resize(optr.q, srb)?;
        m.output("ready", ready)?;
        m.output("spad_re", re)?;
        m.output("spad_raddr", raddr)?;
        m.output("spad_we", wr)?;
        m.output("spad_waddr", waddr)?;
        m.output("spad_wdata", filled)?;
        m.output("idle", idle)?;
        m.output("err_valid", err_now)?;
        m.output("err_code", code)?;
        m.finish()
    })
}
