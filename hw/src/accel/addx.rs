//! The ADD engine of the compute queue: runs `ADD` instructions, element-wise residual
//! adds of two scratchpad row blocks into a third ([`crate::residual::residual_lane`]
//! lanes). This is `golden::machine`'s ADD.
//!
//! - **Set-up (2 cycles), in the golden model's order:** the `a`, `b` and output rows
//!   (`rows * ceil(len * bytes / W)` each) must lie inside the scratchpad (error 2); an
//!   output that overlaps `a` or `b` is error 1 unless it starts at or before that
//!   input with a pitch no larger.
//! - **Chunks:** a row is cut into chunks of `E = W / max(a, b, out bytes)` elements,
//!   so every chunk of every operand lies inside one scratchpad row.
//! - **Fetch:** a walker runs ahead through the chunks and reads each `a` and `b` row a
//!   chunk needs (where its index in the row is 0) on port A, one read per cycle, `a`
//!   first, into a FIFO per operand; a credit per operand (reads in flight plus rows
//!   held) keeps the FIFO from overflowing.
//! - **Issue:** a second walker sends a chunk into `E` residual lanes when both FIFO
//!   heads hold its rows, and pops a row after its last chunk.
//! - **Output:** results come back [`RESIDUAL_LATENCY`] cycles later with their place
//!   in the output row; elements past `len` are zero (as golden's zero fill). A full
//!   output row, or the last of a row, is written in one cycle. Writes only reach rows
//!   whose inputs were read already (the overlap rule; the fetch runs ahead, never
//!   behind), so in place works.
//!
//! Throughput: one chunk per cycle while the reads keep up; a chunk needing both an `a`
//! and a `b` row (1-byte operands) takes two read cycles, so `E / 2` elements per cycle.
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

        // ---- fetch and issue. A walker steps through the chunks (row r, element t =
        // j * E) and each operand's place: the scratchpad row holding the chunk and the
        // chunk's index in it (`sub`, 0 when a new row starts). The fetch walker runs
        // ahead, reading every operand row the chunks need (one read per cycle, `a`
        // before `b`) into a FIFO per operand; the issue walker sends a chunk into the
        // lanes when both FIFO heads hold its rows, and pops a row after its last chunk.
        let one16 = m.const_u(16, 1)?;
        let z16 = m.const_u(16, 0)?;
        let e16 = m.const_u(16, e as u128)?;
        struct Walker {
            t: Sig,
            subs: [Sig; 2],
            rowptrs: [Sig; 2],
            row_last: Sig,
            all_last: Sig,
        }
        let bases = [(r_a, apq, ka), (r_b, bpq, kb)];
        let walker = |m: &mut ModuleBuilder, pre: &str, step: Sig| -> RtlResult<Walker> {
            let row = m.reg(&format!("{pre}_row"), 16, false, RegOpts::new())?;
            let t = m.reg(&format!("{pre}_t"), 16, false, RegOpts::new())?;
            let t_next = m.add(t.q, e16)?;
            let row_last = m.cmp(CmpOp::Ge, t_next, r_len)?;
            let row_n = m.add(row.q, one16)?;
            let all_last = m.cmp(CmpOp::Ge, row_n, r_rows)?;
            let row_end = m.and(step, row_last)?;
            let nrl = m.not(row_last)?;
            let chunk_step = m.and(step, nrl)?;
            let tv = m.mux(chunk_step, t_next, t.q)?;
            let tv = m.mux(row_end, z16, tv)?;
            let tv = m.mux(go, z16, tv)?;
            m.connect(t, tv)?;
            let rv = m.mux(row_end, row_n, row.q)?;
            let rv = m.mux(go, z16, rv)?;
            m.connect(row, rv)?;
            let mut subs = Vec::new();
            let mut rowptrs = Vec::new();
            for (k, (base, pitch, kk)) in bases.iter().enumerate() {
                let nm = ["a", "b"][k];
                let sb = kk.trailing_zeros().max(1);
                let rowp = m.reg(&format!("{pre}_{nm}_row"), 32, false, RegOpts::new())?;
                let blk = m.reg(&format!("{pre}_{nm}_blk"), 32, false, RegOpts::new())?;
                let sub = m.reg(&format!("{pre}_{nm}_sub"), sb, false, RegOpts::new())?;
                let one32 = m.const_u(32, 1)?;
                let p32 = m.zext(*pitch, 32)?;
                let base32 = m.zext(*base, 32)?;
                let blk_n = m.add(blk.q, p32)?;
                let blkv = m.mux(row_end, blk_n, blk.q)?;
                let blkv = m.mux(go, base32, blkv)?;
                m.connect(blk, blkv)?;
                let zs = m.const_u(sb, 0)?;
                let os = m.const_u(sb, 1)?;
                let kmax = m.const_u(sb, (kk - 1) as u128)?;
                let (sub_n, wrap) = if *kk == 1 {
                    (zs, one1)
                } else {
                    let w = m.eq(sub.q, kmax)?;
                    let n = m.add(sub.q, os)?;
                    (m.mux(w, zs, n)?, w)
                };
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
                subs.push(sub.q);
                rowptrs.push(rowp.q);
            }
            Ok(Walker {
                t: t.q,
                subs: [subs[0], subs[1]],
                rowptrs: [rowptrs[0], rowptrs[1]],
                row_last,
                all_last,
            })
        };
        // FIFO depth: the reads in flight plus the rows held.
        let depth = (lat + 3).next_power_of_two();
        let pw = depth.trailing_zeros().max(1);
        let cw = pw + 1;
        let f_step_w = m.wire("f_step", 1, false)?;
        let issue_w = m.wire("issue", 1, false)?;
        let fw = walker(&mut m, "f", f_step_w)?;
        let iw = walker(&mut m, "i", issue_w)?;
        let fetching = m.reg("fetching", 1, false, RegOpts::new().reset_zero(1))?;
        let issuing = m.reg("issuing", 1, false, RegOpts::new().reset_zero(1))?;
        let a_done = m.reg("f_a_done", 1, false, RegOpts::new().reset_zero(1))?;
        // A new row is needed where `sub` is 0 (a row start or a wrap).
        let needs: Vec<Sig> = (0..2)
            .map(|k| {
                let z = m.const_u(fw.subs[k].width(), 0)?;
                m.eq(fw.subs[k], z)
            })
            .collect::<RtlResult<_>>()?;
        let na_done = m.not(a_done.q)?;
        let need_a = m.and(needs[0], na_done)?;
        let need_b = needs[1];
        // Per operand: rows in flight or held (credit) and rows held (valid).
        let mut credit = Vec::new();
        let mut held = Vec::new();
        for nm in ["a", "b"] {
            credit.push(m.reg(
                &format!("{nm}_credit"),
                cw,
                false,
                RegOpts::new().reset_zero(cw),
            )?);
            held.push(m.reg(
                &format!("{nm}_held"),
                cw,
                false,
                RegOpts::new().reset_zero(cw),
            )?);
        }
        let dc = m.const_u(cw, depth as u128)?;
        let room_a = m.lt(credit[0].q, dc)?;
        let room_b = m.lt(credit[1].q, dc)?;
        let rd_a = m.and(fetching.q, need_a)?;
        let rd_a = m.and(rd_a, room_a)?;
        let nna = m.not(need_a)?;
        let rd_b = m.and(fetching.q, nna)?;
        let rd_b = m.and(rd_b, need_b)?;
        let rd_b = m.and(rd_b, room_b)?;
        // The chunk is fetched when its last needed read goes out (or none is needed).
        let nnb = m.not(need_b)?;
        let none = m.and(nna, nnb)?;
        let c1 = m.or(none, rd_b)?;
        let c2 = m.and(rd_a, nnb)?;
        let f_step = m.or(c1, c2)?;
        let f_step = m.and(fetching.q, f_step)?;
        m.drive(f_step_w, f_step)?;
        let nfs = m.not(f_step)?;
        let set_a = m.and(rd_a, nfs)?;
        let adv = m.mux(set_a, one1, a_done.q)?;
        let adv = m.mux(f_step, zero1, adv)?;
        let adv = m.mux(go, zero1, adv)?;
        m.connect(a_done, adv)?;
        let f_final = {
            let t = m.and(f_step, fw.row_last)?;
            m.and(t, fw.all_last)?
        };
        let fv = m.mux(go, one1, fetching.q)?;
        let fv = m.mux(f_final, zero1, fv)?;
        m.connect(fetching, fv)?;
        let re = m.or(rd_a, rd_b)?;
        let raddr = m.mux(rd_a, fw.rowptrs[0], fw.rowptrs[1])?;
        let mut pv = re;
        let mut pa = rd_a;
        for i in 0..lat {
            pv = m.reg_next(&format!("rd_v{i}"), pv, RegOpts::new().reset_zero(1))?;
            pa = m.reg_next(&format!("rd_a{i}"), pa, RegOpts::new())?;
        }
        let ret_a = m.and(pv, pa)?;
        let npa = m.not(pa)?;
        let ret_b = m.and(pv, npa)?;
        // Issue a chunk when both heads hold its rows.
        let zc = m.const_u(cw, 0)?;
        let va = m.cmp(CmpOp::Ne, held[0].q, zc)?;
        let vb = m.cmp(CmpOp::Ne, held[1].q, zc)?;
        let issue = m.and(issuing.q, va)?;
        let issue = m.and(issue, vb)?;
        m.drive(issue_w, issue)?;
        let row_last_chunk = iw.row_last;
        let all_last = iw.all_last;
        let mut heads = Vec::new();
        for (k, (ret, rd)) in [(ret_a, rd_a), (ret_b, rd_b)].into_iter().enumerate() {
            let nm = ["a", "b"][k];
            let kk = [ka, kb][k];
            // Pop after the row's last chunk.
            let last_in_row = if kk == 1 {
                one1
            } else {
                let km = m.const_u(iw.subs[k].width(), (kk - 1) as u128)?;
                m.eq(iw.subs[k], km)?
            };
            let lr = m.or(last_in_row, row_last_chunk)?;
            let pop = m.and(issue, lr)?;
            let oc = m.const_u(cw, 1)?;
            let upd =
                |m: &mut ModuleBuilder, r: &crate::rtl::Reg, inc: Sig, dec: Sig| -> RtlResult<()> {
                    let p = m.add(r.q, oc)?;
                    let d = m.sub(r.q, oc)?;
                    let if_inc = m.mux(dec, r.q, p)?;
                    let if_not = m.mux(dec, d, r.q)?;
                    let v = m.mux(inc, if_inc, if_not)?;
                    let v = m.mux(go, zc, v)?;
                    m.connect(*r, v)
                };
            upd(&mut m, &credit[k], rd, pop)?;
            upd(&mut m, &held[k], ret, pop)?;
            let tail = m.reg(
                &format!("{nm}_tail"),
                pw,
                false,
                RegOpts::new().reset_zero(pw),
            )?;
            let head = m.reg(
                &format!("{nm}_head"),
                pw,
                false,
                RegOpts::new().reset_zero(pw),
            )?;
            let op = m.const_u(pw, 1)?;
            let zp = m.const_u(pw, 0)?;
            let tn = m.add(tail.q, op)?;
            let tv = m.mux(ret, tn, tail.q)?;
            let tv = m.mux(go, zp, tv)?;
            m.connect(tail, tv)?;
            let hn = m.add(head.q, op)?;
            let hv = m.mux(pop, hn, head.q)?;
            let hv = m.mux(go, zp, hv)?;
            m.connect(head, hv)?;
            let mut slots = Vec::new();
            for q in 0..depth {
                let r = m.reg(&format!("{nm}_fifo{q}"), 8 * w, false, RegOpts::new())?;
                let cq = m.const_u(pw, q as u128)?;
                let here = m.eq(tail.q, cq)?;
                let wr = m.and(ret, here)?;
                let v = m.mux(wr, spad_rdata, r.q)?;
                m.connect(r, v)?;
                slots.push(r.q);
            }
            heads.push(m.select(head.q, &slots)?);
        }
        let final_ = m.and(issue, row_last_chunk)?;
        let final_ = m.and(final_, all_last)?;
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
        let t = iw.t;

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
        let ach = pick(&mut m, heads[0], iw.subs[0], ka, ab)?;
        let bch = pick(&mut m, heads[1], iw.subs[1], kb, bb)?;
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
            let ti = m.add(t, ti)?;
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
