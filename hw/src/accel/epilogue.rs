//! The epilogue engine of the compute queue: runs `EPILOGUE` instructions,
//! accumulator rows through C run-time re-quantizer lanes
//! ([`crate::accel::requant_rt`]), optionally ReLU or GELU
//! ([`crate::gelu::gelu_lane`]), into scratchpad rows. This is `golden::machine`'s
//! EPILOGUE.
//!
//! 1. **Parameters:** the block at scratchpad row `params` (C shifts int8, C zero
//!    points int16, C biases int32 or int64, each from a row boundary) is read into a
//!    register; out of range is error 2.
//! 2. **Checks, in the golden model's order:** every column's shift (-16..=47), zero
//!    point (the output range) and bias (signed `in_bits`) must be valid (error 5);
//!    then the accumulator rows and the destination rows must lie inside their
//!    memories (error 2).
//! 3. **Stream:** one accumulator row read every `pitch` cycles, where `pitch` is the
//!    output's scratchpad rows per accumulator row; after the fixed pipeline latency
//!    (memory, re-quantizer, GELU or an equal delay) the packed output row is written
//!    `pitch` scratchpad rows, zero beyond its C elements.
//! 4. **Drain:** the instruction ends when its last row is written.
//!
//! The lanes' parameters are registers that hold still while the instruction runs.
//! `act = GELU` with an unsigned re-quantizer output, or without `[gelu]`, is rejected
//! by the dispatcher (error 1), as in golden.
//!
//! The scratchpad read port is shared with a GEMM that may run beside the epilogue:
//! parameter rows are read in cycles `spad_grant` allows. The accumulator read port is
//! shared with the GEMM engine's accumulate reads, which
//! come first: a row is read in a cycle `acc_grant` allows (the pipeline tracks each
//! read, so a late read only shifts its row).
//!
//! Ports: `start`, `acc`, `spad`, `rows`, `params`, `act` in, `ready` out;
//! `spad_re`, `spad_raddr`, `spad_rdata`; `acc_re`, `acc_raddr`, `acc_rdata`,
//! `acc_grant`; `checked` (past the checks);
//! `spad_we`, `spad_waddr`, `spad_wdata`; `idle`, `err_valid`, `err_code`
//! (combinational, in the cycle of the check).

use std::rc::Rc;

use accgen_golden::accel::{elem_bytes, Geometry};
use accgen_golden::config::Config;
use accgen_golden::num::{qrange, smax, smin};

use crate::accel::gemm::bits_for;
use crate::accel::requant_rt::{requant_rt_lane, RT_LATENCY};
use crate::gelu::{gelu_lane, gelu_latency};
use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlError, RtlResult, Sig};

/// Output scratchpad rows per accumulator row for `out_bits` outputs.
fn out_pitch(geo: &Geometry, cols: u32, out_bits: u32) -> u32 {
    geo.spad_pitch((cols * elem_bytes(out_bits)) as u64) as u32
}

/// Build (or fetch) the epilogue engine of `cfg` (which has `[array]`, `[requant]`
/// and `[accel]`; `[gelu]` optional).
pub fn epilogue_engine(
    lib: &mut Library,
    cfg: &Config,
    read_latency: u32,
) -> RtlResult<Rc<Module>> {
    let err = |message: String| RtlError {
        module: "accgen_accel_epilogue".into(),
        message,
    };
    let geo = Geometry::of(cfg).map_err(|e| err(e.to_string()))?;
    let arr = cfg.array.clone().ok_or_else(|| err("no [array]".into()))?;
    let rq = cfg
        .requant
        .clone()
        .ok_or_else(|| err("no [requant]".into()))?;
    let name = format!("accgen_accel_epilogue_{}", &cfg.hash()[..10]);
    let lane = requant_rt_lane(lib, &rq)?;
    let gelu = match &cfg.gelu {
        Some(g) if rq.out_signed && g.in_bits == rq.out_bits => {
            Some((gelu_lane(lib, g)?, gelu_latency(g), g.out_bits))
        }
        _ => None,
    };
    lib.get_or_build(&name.clone(), move |_| {
        let c = arr.cols;
        let w = geo.spad_row_bytes;
        let eb = geo.acc_elem_bytes;
        let ib = rq.in_bits;
        let ob_rq = rq.out_bits;
        let bias_b: u32 = if ib > 32 { 8 } else { 4 };
        let p_sh = geo.spad_pitch(c as u64) as u32;
        let p_zp = geo.spad_pitch(2 * c as u64) as u32;
        let p_b = geo.spad_pitch((bias_b * c) as u64) as u32;
        let prow = p_sh + p_zp + p_b;
        let pitch_rq = out_pitch(&geo, c, ob_rq);
        let pitch_g = gelu.as_ref().map_or(pitch_rq, |g| out_pitch(&geo, c, g.2));
        let maxp = pitch_rq.max(pitch_g);
        let glat = gelu.as_ref().map_or(0, |g| g.1);
        let lat = read_latency;
        let total = lat + RT_LATENCY + glat;
        let srb = bits_for(geo.spad_rows as u64);
        let arb = bits_for(geo.acc_rows as u64);
        let mut m = ModuleBuilder::new(&name);
        m.doc("Epilogue engine: accumulator rows through run-time requant (and ReLU/GELU) into the scratchpad.");
        let start = m.input("start", 1, false)?;
        let f_acc = m.input("acc", 16, false)?;
        let f_spad = m.input("spad", 20, false)?;
        let f_rows = m.input("rows", 16, false)?;
        let f_params = m.input("params", 20, false)?;
        let f_act = m.input("act", 2, false)?;
        let f_trans = m.input("trans", 1, false)?;
        let spad_rdata = m.input("spad_rdata", 8 * w, false)?;
        let acc_rdata = m.input("acc_rdata", 8 * geo.acc_row_bytes, false)?;

        // ---- states: 0 idle, 1 range of params, 2 read params, 3 wait, 4 validate,
        // 5 check, 6 stream, 7 drain.
        let st = m.reg("state", 3, false, RegOpts::new().reset_zero(3))?;
        let k: Vec<Sig> = (0..8).map(|v| m.const_u(3, v)).collect::<RtlResult<_>>()?;
        let s: Vec<Sig> = (0..8).map(|i| m.eq(st.q, k[i])).collect::<RtlResult<_>>()?;
        let take = m.and(start, s[0])?;
        let en = RegOpts::new().enable(take);
        let r_acc = m.reg_next("f_acc", f_acc, en.clone())?;
        let r_spad = m.reg_next("f_spad", f_spad, en.clone())?;
        let r_rows = m.reg_next("f_rows", f_rows, en.clone())?;
        let r_params = m.reg_next("f_params", f_params, en.clone())?;
        let r_act = m.reg_next("f_act", f_act, en.clone())?;
        let r_trans = m.reg_next("f_trans", f_trans, en)?;
        let two = m.const_u(2, 2)?;
        let is_gelu = m.eq(r_act, two)?;
        let one2 = m.const_u(2, 1)?;
        let is_relu = m.eq(r_act, one2)?;

        // 1: parameter block range.
        let p32 = m.zext(r_params, 32)?;
        let prc = m.const_u(32, prow as u128)?;
        let p_end = m.add(p32, prc)?;
        let spad_rows = m.const_u(32, geo.spad_rows as u128)?;
        let p_bad = m.cmp(CmpOp::Gt, p_end, spad_rows)?;
        let e1 = m.and(s[1], p_bad)?;
        let np = m.not(p_bad)?;
        let ok1 = m.and(s[1], np)?;

        // 2/3: read the block; returns shift into a register, row 0 ending lowest.
        let pcw = bits_for(prow as u64) + 1;
        let issued = m.reg("p_issued", pcw, false, RegOpts::new().reset_zero(pcw))?;
        let got = m.reg("p_got", pcw, false, RegOpts::new().reset_zero(pcw))?;
        let pr_c = m.const_u(pcw, prow as u128)?;
        let one_p = m.const_u(pcw, 1)?;
        let zp_c = m.const_u(pcw, 0)?;
        let more = m.lt(issued.q, pr_c)?;
        let spad_grant = m.input("spad_grant", 1, false)?;
        let p_re = m.and(s[2], more)?;
        let p_re = m.and(p_re, spad_grant)?;
        let iv = m.add(issued.q, one_p)?;
        let iv = m.mux(p_re, iv, issued.q)?;
        let iv = m.mux(ok1, zp_c, iv)?;
        m.connect(issued, iv)?;
        let p_last_issue = {
            let lastc = m.const_u(pcw, (prow - 1) as u128)?;
            let l = m.eq(issued.q, lastc)?;
            m.and(p_re, l)?
        };
        let mut pv = p_re;
        for i in 0..lat {
            pv = m.reg_next(&format!("p_ret{i}"), pv, RegOpts::new().reset_zero(1))?;
        }
        let preg = m.reg("params_q", 8 * w * prow, false, RegOpts::new())?;
        let shifted = m.shr(preg.q, 8 * w)?;
        let top = m.zext(spad_rdata, 8 * w * prow)?;
        let top = m.shl(top, 8 * w * (prow - 1))?;
        let loaded = m.or(shifted, top)?;
        let pn = m.mux(pv, loaded, preg.q)?;
        m.connect(preg, pn)?;
        let gv = m.add(got.q, one_p)?;
        let gv = m.mux(pv, gv, got.q)?;
        let gv = m.mux(ok1, zp_c, gv)?;
        m.connect(got, gv)?;
        let all_got = m.eq(got.q, pr_c)?;
        let wait_done = m.and(s[3], all_got)?;

        // 4: per-column parameters, checked.
        let (qmin, qmax) = qrange(ob_rq, rq.out_signed);
        let mut bad_any = m.const_u(1, 0)?;
        let mut sh_q = Vec::new();
        let mut zp_q = Vec::new();
        let mut bias_q = Vec::new();
        let ven = RegOpts::new().enable(s[4]);
        for j in 0..c {
            let sh = m.slice(preg.q, 8 * j + 7, 8 * j)?.as_signed();
            let zo = 8 * w * p_sh + 16 * j;
            let zp = m.slice(preg.q, zo + 15, zo)?.as_signed();
            let bo = 8 * w * (p_sh + p_zp) + 8 * bias_b * j;
            let bias = m.slice(preg.q, bo + 8 * bias_b - 1, bo)?.as_signed();
            let lo = m.const_s(8, -16)?;
            let hi = m.const_s(8, 47)?;
            let b1 = m.cmp(CmpOp::Lt, sh, lo)?;
            let b2 = m.cmp(CmpOp::Gt, sh, hi)?;
            let zlo = m.const_s(18, qmin)?;
            let zhi = m.const_s(18, qmax)?;
            let zw = m.resize(zp, 18)?;
            let b3 = m.cmp(CmpOp::Lt, zw, zlo)?;
            let b4 = m.cmp(CmpOp::Gt, zw, zhi)?;
            let mut bad = m.or(b1, b2)?;
            bad = m.or(bad, b3)?;
            bad = m.or(bad, b4)?;
            if 8 * bias_b > ib {
                let blo = m.const_s(8 * bias_b, smin(ib))?;
                let bhi = m.const_s(8 * bias_b, smax(ib))?;
                let b5 = m.cmp(CmpOp::Lt, bias, blo)?;
                let b6 = m.cmp(CmpOp::Gt, bias, bhi)?;
                bad = m.or(bad, b5)?;
                bad = m.or(bad, b6)?;
            }
            bad_any = m.or(bad_any, bad)?;
            let s16 = m.const_s(8, 16)?;
            let shp = m.add(sh, s16)?;
            let shp = m.slice(shp, 5, 0)?;
            sh_q.push(m.reg_next(&format!("sh{j}"), shp, ven.clone())?);
            let zr = m.resize(zp, ob_rq + 1)?;
            zp_q.push(m.reg_next(&format!("zp{j}"), zr, ven.clone())?);
            let br = m.resize(bias, ib)?;
            bias_q.push(m.reg_next(&format!("bias{j}"), br, ven.clone())?);
        }
        let bad_q = m.reg_next("param_bad", bad_any, ven.clone())?;

        // 5: checks. Output pitch by the activation.
        let pitch_w = bits_for(maxp as u64) + 1;
        let prq = m.const_u(pitch_w, pitch_rq as u128)?;
        let pg = m.const_u(pitch_w, pitch_g as u128)?;
        let pitch = m.mux(is_gelu, pg, prq)?;
        let rows32 = m.zext(r_rows, 32)?;
        let pitch32 = m.zext(pitch, 32)?;
        let span = m.mul(rows32, pitch32)?;
        let span = m.resize(span, 40)?;
        // Transposed: one scratchpad row per column.
        let c40 = m.const_u(40, c as u128)?;
        let span = m.mux(r_trans, c40, span)?;
        let sp40 = m.zext(r_spad, 40)?;
        let d_end = m.add(sp40, span)?;
        let sr40 = m.const_u(40, geo.spad_rows as u128)?;
        let d_bad = m.cmp(CmpOp::Gt, d_end, sr40)?;
        let acc32 = m.zext(r_acc, 32)?;
        let a_end = m.add(acc32, rows32)?;
        let ar32 = m.const_u(32, geo.acc_rows as u128)?;
        let a_bad = m.cmp(CmpOp::Gt, a_end, ar32)?;
        let rng_bad = m.or(d_bad, a_bad)?;
        let e5 = m.and(s[5], bad_q)?;
        let nb = m.not(bad_q)?;
        let e2b = m.and(s[5], nb)?;
        let e2b = m.and(e2b, rng_bad)?;
        let nr = m.not(rng_bad)?;
        let go = m.and(s[5], nb)?;
        let go = m.and(go, nr)?;

        // 6: stream. One accumulator row every `pitch` cycles.
        let rc = m.reg("rows_issued", 16, false, RegOpts::new().reset_zero(16))?;
        let gap = m.reg("gap", pitch_w, false, RegOpts::new().reset_zero(pitch_w))?;
        let zg = m.const_u(pitch_w, 0)?;
        let gap_ok = m.eq(gap.q, zg)?;
        let more_rows = m.lt(rc.q, r_rows)?;
        let acc_grant = m.input("acc_grant", 1, false)?;
        let a_re = m.and(s[6], more_rows)?;
        let a_re = m.and(a_re, gap_ok)?;
        let a_re = m.and(a_re, acc_grant)?;
        let one16 = m.const_u(16, 1)?;
        let z16 = m.const_u(16, 0)?;
        let rcn = m.add(rc.q, one16)?;
        let rcv = m.mux(a_re, rcn, rc.q)?;
        let rcv = m.mux(go, z16, rcv)?;
        m.connect(rc, rcv)?;
        let onep = m.const_u(pitch_w, 1)?;
        let pm1 = m.sub(pitch, onep)?;
        let gm1 = m.sub(gap.q, onep)?;
        let gnext = m.mux(gap_ok, zg, gm1)?;
        let gnext = m.mux(a_re, pm1, gnext)?;
        m.connect(gap, gnext)?;
        let rows_m1 = m.sub(r_rows, one16)?;
        let last_issue = {
            let l = m.eq(rc.q, rows_m1)?;
            m.and(a_re, l)?
        };
        let acc_raddr = {
            let a = m.add(r_acc, rc.q)?;
            m.resize(a, arb)?
        };

        // The datapath: acc row -> lanes -> (GELU) -> packed row.
        let mut vq = a_re;
        for i in 0..lat {
            vq = m.reg_next(&format!("a_ret{i}"), vq, RegOpts::new().reset_zero(1))?;
        }
        let relu_lane = is_relu;
        let mut rq_out = Vec::new();
        for j in 0..c {
            let x = m.slice(acc_rdata, 8 * eb * j + arr.acc_bits - 1, 8 * eb * j)?;
            let x = m.sext(x, ib)?;
            let inst = m.instance(
                &lane,
                &format!("rq{j}"),
                &[
                    ("x", x),
                    ("bias", bias_q[j as usize]),
                    ("sh", sh_q[j as usize]),
                    ("zp", zp_q[j as usize]),
                    ("relu", relu_lane),
                ],
            )?;
            rq_out.push(inst.out("y")?);
        }
        for i in 0..RT_LATENCY {
            vq = m.reg_next(&format!("rq_v{i}"), vq, RegOpts::new().reset_zero(1))?;
        }
        let ob_r = elem_bytes(ob_rq);
        let pack_row = |m: &mut ModuleBuilder, ys: &[Sig], ebytes: u32| -> RtlResult<Sig> {
            let mut parts: Vec<Sig> = ys
                .iter()
                .rev()
                .map(|y| m.resize(*y, 8 * ebytes).map(|v| v.as_unsigned()))
                .collect::<RtlResult<_>>()?;
            let used = 8 * ebytes * c;
            let full = 8 * w * maxp;
            if full > used {
                parts.insert(0, m.const_u(full - used, 0)?);
            }
            m.concat(&parts)
        };
        let row_rq = {
            // Delay the re-quantized row by the GELU latency so both paths align.
            let mut r = pack_row(&mut m, &rq_out, ob_r)?;
            for i in 0..glat {
                r = m.reg_next(&format!("rq_d{i}"), r, RegOpts::new())?;
            }
            r
        };
        let row = if let Some((gl, _, gob)) = &gelu {
            let mut g_out = Vec::new();
            for (j, y) in rq_out.iter().enumerate() {
                let x = y.as_signed();
                let inst = m.instance(gl, &format!("gelu{j}"), &[("x", x)])?;
                g_out.push(inst.out("y")?);
            }
            let row_g = pack_row(&mut m, &g_out, elem_bytes(*gob))?;
            m.mux(is_gelu, row_g, row_rq)?
        } else {
            row_rq
        };
        for i in 0..glat {
            vq = m.reg_next(&format!("g_v{i}"), vq, RegOpts::new().reset_zero(1))?;
        }
        let _ = total;

        // Transposed writes: each output row's element j goes to slot r (the row's
        // index) of column register j; after the last row the C registers are written
        // to rows spad..spad+C, one per cycle.
        let ntrans = m.not(r_trans)?;
        let vt = m.and(vq, r_trans)?;
        let vq = m.and(vq, ntrans)?;
        let trw = bits_for(w as u64) + 1;
        let tr = m.reg("t_row", trw, false, RegOpts::new().reset_zero(trw))?;
        let otr = m.const_u(trw, 1)?;
        let ztr = m.const_u(trw, 0)?;
        let trn = m.add(tr.q, otr)?;
        let trv = m.mux(vt, trn, tr.q)?;
        let trv = m.mux(go, ztr, trv)?;
        m.connect(tr, trv)?;
        let mut obs = vec![(elem_bytes(ob_rq), None)];
        if let Some((_, _, gob)) = &gelu {
            if elem_bytes(*gob) != elem_bytes(ob_rq) {
                obs = vec![(elem_bytes(ob_rq), Some(false)), (elem_bytes(*gob), Some(true))];
            }
        }
        let zero_w = m.const_u(8 * w, 0)?;
        let mut tregs = Vec::new();
        for j in 0..c {
            let t = m.reg(&format!("t_col{j}"), 8 * w, false, RegOpts::new())?;
            let mut cands = Vec::new();
            for (ob, _) in &obs {
                let y = m.slice(row, 8 * ob * (j + 1) - 1, 8 * ob * j)?;
                let mut slots = Vec::new();
                for p in (0..w / ob).rev() {
                    let cp = m.const_u(trw, p as u128)?;
                    let here = m.eq(tr.q, cp)?;
                    let old = m.slice(t.q, 8 * ob * (p + 1) - 1, 8 * ob * p)?;
                    slots.push(m.mux(here, y, old)?);
                }
                cands.push(m.concat(&slots)?);
            }
            let upd = if cands.len() == 2 {
                m.mux(is_gelu, cands[1], cands[0])?
            } else {
                cands[0]
            };
            let nv = m.mux(vt, upd, t.q)?;
            let nv = m.mux(go, zero_w, nv)?;
            m.connect(t, nv)?;
            tregs.push(t.q);
        }
        let cw = bits_for(c as u64) + 1;
        let tw = m.reg("t_w", cw, false, RegOpts::new().reset_zero(cw))?;
        let twr = m.reg("t_writing", 1, false, RegOpts::new().reset_zero(1))?;
        let tdone = m.reg("t_done", 1, false, RegOpts::new().reset_zero(1))?;
        let rows_m1t = m.sub(r_rows, one16)?;
        let rows_m1t = m.resize(rows_m1t, trw)?;
        let last_in = m.eq(tr.q, rows_m1t)?;
        let t_start = m.and(vt, last_in)?;
        let cm1 = m.const_u(cw, (c - 1) as u128)?;
        let t_last = m.eq(tw.q, cm1)?;
        let t_end = m.and(twr.q, t_last)?;
        let onecw = m.const_u(cw, 1)?;
        let zcw = m.const_u(cw, 0)?;
        let twn = m.add(tw.q, onecw)?;
        let twv = m.mux(twr.q, twn, tw.q)?;
        let twv = m.mux(go, zcw, twv)?;
        m.connect(tw, twv)?;
        let one1t = m.const_u(1, 1)?;
        let zero1t = m.const_u(1, 0)?;
        let twrv = m.mux(t_start, one1t, twr.q)?;
        let twrv = m.mux(t_end, zero1t, twrv)?;
        m.connect(twr, twrv)?;
        let tdv = m.mux(t_end, one1t, tdone.q)?;
        let tdv = m.mux(go, zero1t, tdv)?;
        m.connect(tdone, tdv)?;
        let t_data = m.select(tw.q, &tregs)?;
        let t_addr = {
            let sp = m.zext(r_spad, 32)?;
            let a = m.zext(tw.q, 32)?;
            let a = m.add(sp, a)?;
            m.resize(a, srb)?
        };

        // Writes: `pitch` rows from a hold register.
        let hold = m.reg("hold", 8 * w * maxp, false, RegOpts::new())?;
        let left = m.reg("w_left", pitch_w, false, RegOpts::new().reset_zero(pitch_w))?;
        let wptr = m.reg("w_ptr", 32, false, RegOpts::new())?;
        let written = m.reg("rows_written", 16, false, RegOpts::new().reset_zero(16))?;
        let writing = m.cmp(CmpOp::Ne, left.q, zg)?;
        let hs = m.shr(hold.q, 8 * w)?;
        let hv = m.mux(writing, hs, hold.q)?;
        let hv = m.mux(vq, row, hv)?;
        m.connect(hold, hv)?;
        let lm1 = m.sub(left.q, onep)?;
        let lv = m.mux(writing, lm1, left.q)?;
        let lv = m.mux(vq, pitch, lv)?;
        m.connect(left, lv)?;
        let one32 = m.const_u(32, 1)?;
        let wp1 = m.add(wptr.q, one32)?;
        let wpv = m.mux(writing, wp1, wptr.q)?;
        let sp32 = m.zext(r_spad, 32)?;
        let wpv = m.mux(go, sp32, wpv)?;
        m.connect(wptr, wpv)?;
        let row_done = {
            let l1 = m.eq(left.q, onep)?;
            m.and(writing, l1)?
        };
        let wn = m.add(written.q, one16)?;
        let wn = m.mux(row_done, wn, written.q)?;
        let wn = m.mux(go, z16, wn)?;
        m.connect(written, wn)?;
        let all_written = m.eq(wn, r_rows)?;
        let all_written = m.mux(r_trans, tdone.q, all_written)?;
        let drain_done = m.and(s[7], all_written)?;
        let wdata = m.slice(hold.q, 8 * w - 1, 0)?;
        let waddr = m.resize(wptr.q, srb)?;
        let wdata = m.mux(twr.q, t_data, wdata)?;
        let waddr = m.mux(twr.q, t_addr, waddr)?;
        let writing = m.or(writing, twr.q)?;

        let next = m.priority(
            &[
                (take, k[1]),
                (e1, k[0]),
                (ok1, k[2]),
                (p_last_issue, k[3]),
                (wait_done, k[4]),
                (s[4], k[5]),
                (e5, k[0]),
                (e2b, k[0]),
                (go, k[6]),
                (last_issue, k[7]),
                (drain_done, k[0]),
            ],
            st.q,
        )?;
        m.connect(st, next)?;

        let err_now = m.or(e1, e5)?;
        let err_now = m.or(err_now, e2b)?;
        let c2 = m.const_u(8, 2)?;
        let c5 = m.const_u(8, 5)?;
        let code = m.mux(e5, c5, c2)?;
        let p_raddr = {
            let a = m.zext(issued.q, 32)?;
            let a = m.add(p32, a)?;
            m.resize(a, srb)?
        };
        m.output("ready", s[0])?;
        m.output("spad_re", p_re)?;
        m.output("spad_raddr", p_raddr)?;
        m.output("acc_re", a_re)?;
        m.output("acc_raddr", acc_raddr)?;
        m.output("spad_we", writing)?;
        m.output("spad_waddr", waddr)?;
        m.output("spad_wdata", wdata)?;
        m.output("idle", s[0])?;
        // Past its checks: streaming or draining (reads only accumulator rows now).
        let checked = m.or(s[6], s[7])?;
        m.output("checked", checked)?;
        m.output("err_valid", err_now)?;
        m.output("err_code", code)?;
        m.finish()
    })
}
