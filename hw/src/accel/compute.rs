//! The compute engine: the compute queue's dispatcher and its sub-engines, the GEMM
//! engine ([`crate::accel::gemm`]), the epilogue engine ([`crate::accel::epilogue`]),
//! the softmax and LayerNorm engines ([`crate::accel::smx`], [`crate::accel::lnx`])
//! and the ADD engine ([`crate::accel::addx`]).
//!
//! For each instruction, in program order: take the tokens it pops (compute pops from
//! load with `pop_prev` and from store with `pop_next`); reject what the generated
//! datapath cannot run (error 1: a unit missing from the config, `act = gelu` with an
//! incompatible re-quantizer); start the sub-engine; when it is done, push the tokens.
//!
//! - **GEMM:** done, for the dispatcher, once its set-up has passed: the GEMM engine
//!   pipelines instructions, so the next GEMM streams in behind it. A GEMM with
//!   `push_next` (results for the store engine) waits until every tile is written. A
//!   GEMM with only `push_prev` (its scratchpad rows may be overwritten) is done at
//!   once and its token is deferred: it is pushed when the GEMM engine's count of
//!   GEMMs whose reads have all returned reaches this one.
//! - **EPILOGUE** runs in the background: it starts when no GEMM in flight writes its
//!   accumulator rows (`acc_busy`), and the dispatcher moves on. Its tokens are pushed
//!   when it ends. A later GEMM starts beside it only when their accumulator rows, the
//!   GEMM's operand rows and the epilogue's output rows are apart.
//! - **SOFTMAX, LAYERNORM, ADD, NOP** and instructions that push while a deferred push is pending wait
//!   for every GEMM and the epilogue; at most one deferred `push_prev` is pending, so
//!   tokens keep program order.
//! - **Errors:** a sub-engine's error is reported with the failing instruction's index
//!   (the background epilogue's own index first); after an error nothing more starts,
//!   and with `abort_all` the running sub-engines finish their instructions.
//!
//! Memory ports: scratchpad read ports A (GEMM A rows, softmax, LayerNorm and ADD
//! rows, LayerNorm parameters), B (GEMM B rows,
//! with a grant) and C (epilogue parameters, with a grant), the scratchpad write port
//! (priority over the load engine); the accumulator read port (GEMM accumulate reads
//! first, then the epilogue; the store engine after the compute engine) and write port.
//!
//! Ports: `in_word`, `in_index`, `in_valid`, `in_ready`; `abort_all`; `tok_prev`,
//! `tok_next` (tokens waiting), `room_prev`, `room_next`; `pop_prev`, `pop_next`,
//! `push_prev`, `push_next`; the memory ports; `idle`, `progress`, `beat` (a beat
//! entered the array), `err_valid`, `err_code`, `err_index`.

use std::rc::Rc;

use accgen_golden::accel::Geometry;
use accgen_golden::config::Config;
use accgen_golden::isa;

use crate::accel::addx::add_engine;
use crate::accel::div_const;
use crate::accel::epilogue::epilogue_engine;
use crate::accel::gemm::{bits_for, gemm_engine, GemmParams};
use crate::accel::lnx::layernorm_engine;
use crate::accel::smx::softmax_engine;
use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlError, RtlResult, Sig, Value};

fn field(m: &mut ModuleBuilder, w: Sig, f: &isa::Field) -> RtlResult<Sig> {
    m.slice(w, f.lo + f.bits - 1, f.lo)
}

/// Build (or fetch) the compute engine of `cfg`.
pub fn compute_engine(lib: &mut Library, cfg: &Config, read_latency: u32) -> RtlResult<Rc<Module>> {
    let geo = Geometry::of(cfg).map_err(|e| RtlError {
        module: "accgen_accel_compute".into(),
        message: e.to_string(),
    })?;
    let name = format!("accgen_accel_compute_{}", &cfg.hash()[..10]);
    let gemm = match &cfg.array {
        Some(a) => Some(gemm_engine(
            lib,
            &GemmParams {
                array: a.clone(),
                geo,
                read_latency,
                sparsity: cfg.sparsity,
            },
        )?),
        None => None,
    };
    let epi = match (&cfg.array, &cfg.requant) {
        (Some(_), Some(_)) => Some(epilogue_engine(lib, cfg, read_latency)?),
        _ => None,
    };
    let gelu_ok = match (&cfg.requant, &cfg.gelu) {
        (Some(r), Some(g)) => r.out_signed && g.in_bits == r.out_bits,
        _ => false,
    };
    let smx = match &cfg.softmax {
        Some(_) => Some(softmax_engine(lib, cfg, read_latency)?),
        None => None,
    };
    let lnx = match &cfg.layernorm {
        Some(_) => Some(layernorm_engine(lib, cfg, read_latency)?),
        None => None,
    };
    let addx = match &cfg.residual {
        Some(_) => Some(add_engine(lib, cfg, read_latency)?),
        None => None,
    };
    let cfg_arr = cfg.array.clone();
    let cfg_rq_out = cfg.requant.as_ref().map(|r| r.out_bits);
    let cfg_gelu_out = cfg.gelu.as_ref().map(|g| g.out_bits);
    let out_pitch_max = {
        let c = cfg.array.as_ref().map_or(1, |a| a.cols) as u64;
        let bits = [
            cfg.requant.as_ref().map(|r| r.out_bits),
            cfg.gelu.as_ref().map(|g| g.out_bits),
        ];
        bits.iter()
            .flatten()
            .map(|&b| geo.spad_pitch(c * accgen_golden::accel::elem_bytes(b) as u64))
            .max()
            .unwrap_or(1)
    };
    lib.get_or_build(&name.clone(), move |_| {
        let w = geo.spad_row_bytes;
        let srb = bits_for(geo.spad_rows as u64);
        let arb = bits_for(geo.acc_rows as u64);
        let mut m = ModuleBuilder::new(&name);
        m.doc("Compute engine: dispatcher of GEMM, EPILOGUE, SOFTMAX, LAYERNORM and ADD to their engines.");
        let in_word = m.input("in_word", 128, false)?;
        let in_index = m.input("in_index", 32, false)?;
        let in_valid = m.input("in_valid", 1, false)?;
        let abort = m.input("abort_all", 1, false)?;
        let tok_prev = m.input("tok_prev", 1, false)?;
        let tok_next = m.input("tok_next", 1, false)?;
        let room_prev = m.input("room_prev", 1, false)?;
        let room_next = m.input("room_next", 1, false)?;
        let spad_rdata = m.input("spad_rdata", 8 * w, false)?;
        let spad_b_rdata = m.input("spad_b_rdata", 8 * w, false)?;
        let spad_b_grant = m.input("spad_b_grant", 1, false)?;
        let acc_rdata = m.input("acc_rdata", 8 * geo.acc_row_bytes, false)?;
        let zero1 = m.const_u(1, 0)?;
        let one1 = m.const_u(1, 1)?;

        // ---- states: 0 idle, 1 tokens and checks, 2 wait for the sub-engine, 3 push.
        let st = m.reg("state", 2, false, RegOpts::new().reset_zero(2))?;
        let k: Vec<Sig> = (0..4).map(|v| m.const_u(2, v)).collect::<RtlResult<_>>()?;
        let s: Vec<Sig> = (0..4).map(|i| m.eq(st.q, k[i])).collect::<RtlResult<_>>()?;
        let nab = m.not(abort)?;
        let dead = m.reg("dead", 1, false, RegOpts::new().reset_zero(1))?;
        let ndead = m.not(dead.q)?;
        let take = m.and(s[0], in_valid)?;
        let take = m.and(take, nab)?;
        let take = m.and(take, ndead)?;
        let word = m.reg_next("word", in_word, RegOpts::new().enable(take))?;
        let index = m.reg_next("index", in_index, RegOpts::new().enable(take))?;
        let op = m.slice(word, 3, 0)?;
        let is = |m: &mut ModuleBuilder, v: u128| -> RtlResult<Sig> {
            let c = m.const_u(4, v)?;
            m.eq(op, c)
        };
        let is_gemm = is(&mut m, 3)?;
        let is_epi = is(&mut m, 4)?;
        let is_smx = is(&mut m, 5)?;
        let is_ln = is(&mut m, 9)?;
        let is_add = is(&mut m, 10)?;
        let d: Vec<Sig> = isa::DEP_BITS
            .iter()
            .map(|&b| m.bit(word, b))
            .collect::<RtlResult<_>>()?;
        let act = field(&mut m, word, &isa::ACT)?;
        let trans = m.bit(word, isa::TRANS.lo)?;
        let two = m.const_u(2, 2)?;
        let act_gelu = m.eq(act, two)?;

        // Sub-engines: start, ready, idle, memory ports.
        let gemm_start = m.wire("gemm_start", 1, false)?;
        let epi_start = m.wire("epi_start", 1, false)?;
        let smx_start = m.wire("smx_start", 1, false)?;
        let ln_start = m.wire("ln_start", 1, false)?;
        let add_start = m.wire("add_start", 1, false)?;
        let mut sp_re: Vec<(Sig, Sig)> = Vec::new();
        let mut sp_we: Vec<(Sig, Sig, Sig)> = Vec::new();
        let mut ac_re: Vec<(Sig, Sig)> = Vec::new();
        let mut ac_we: Vec<(Sig, Sig, Sig)> = Vec::new();
        let mut errs: Vec<(Sig, Sig)> = Vec::new();
        let mut progress = take;
        let mut sp_b: Option<(Sig, Sig)> = None;
        let mut g_acc_re = zero1;
        let mut g_acc_busy = zero1;
        let spad_c_rdata = m.input("spad_c_rdata", 8 * w, false)?;
        let spad_c_grant = m.input("spad_c_grant", 1, false)?;
        let mut sp_c: Option<(Sig, Sig)> = None;
        let mut g_started = m.const_u(4, 0)?;
        let mut g_reads_done = m.const_u(4, 0)?;
        let (g_ready, g_setup_idle, g_reads_idle, g_idle, g_beat) = if let Some(gm) = &gemm {
            let a_grant = one1;
            let f: Vec<Sig> = isa::GEMM_FIELDS
                .iter()
                .map(|f| field(&mut m, word, f))
                .collect::<RtlResult<_>>()?;
            let accum = m.bit(word, isa::ACCUMULATE.lo)?;
            let e_acc_f = field(&mut m, word, &isa::EPILOGUE_FIELDS[0])?;
            let e_rows_f = field(&mut m, word, &isa::EPILOGUE_FIELDS[2])?;
            let g = m.instance(
                gm,
                "gemm",
                &[
                    ("start", gemm_start),
                    ("a", f[0]),
                    ("b", f[1]),
                    ("acc", f[2]),
                    ("k", f[3]),
                    ("m", f[4]),
                    ("accumulate", accum),
                    ("chk_acc", e_acc_f),
                    ("chk_rows", e_rows_f),
                    ("spad_rdata", spad_rdata),
                    ("spad_b_rdata", spad_b_rdata),
                    ("spad_b_grant", spad_b_grant),
                    ("spad_a_grant", a_grant),
                    ("acc_rdata", acc_rdata),
                ],
            )?;
            sp_re.push((g.out("spad_re")?, g.out("spad_raddr")?));
            sp_b = Some((g.out("spad_b_re")?, g.out("spad_b_raddr")?));
            ac_re.push((g.out("acc_re")?, g.out("acc_raddr")?));
            ac_we.push((g.out("acc_we")?, g.out("acc_waddr")?, g.out("acc_wdata")?));
            errs.push((g.out("err_valid")?, g.out("err_code")?));
            let beat = g.out("beat")?;
            progress = m.or(progress, beat)?;
            let wr = g.out("acc_we")?;
            progress = m.or(progress, wr)?;
            g_acc_re = g.out("acc_re")?;
            g_acc_busy = g.out("acc_busy")?;
            g_started = g.out("tiles_started")?;
            g_reads_done = g.out("reads_done")?;
            (
                g.out("ready")?,
                g.out("setup_idle")?,
                g.out("reads_idle")?,
                g.out("idle")?,
                beat,
            )
        } else {
            (zero1, one1, one1, one1, zero1)
        };
        let (e_ready, e_idle, e_checked, e_err) = if let Some(em) = &epi {
            let acc_grant = m.not(g_acc_re)?;
            // The epilogue reads its parameters on port C (their own bank in GEMM
            // programs), so a GEMM's A reads beside it never wait.
            let spad_grant = spad_c_grant;
            let f: Vec<Sig> = isa::EPILOGUE_FIELDS
                .iter()
                .map(|f| field(&mut m, word, f))
                .collect::<RtlResult<_>>()?;
            let e = m.instance(
                em,
                "epilogue",
                &[
                    ("start", epi_start),
                    ("acc", f[0]),
                    ("spad", f[1]),
                    ("rows", f[2]),
                    ("params", f[3]),
                    ("act", act),
                    ("trans", trans),
                    ("spad_rdata", spad_c_rdata),
                    ("acc_rdata", acc_rdata),
                    ("acc_grant", acc_grant),
                    ("spad_grant", spad_grant),
                ],
            )?;
            let ere = e.out("spad_re")?;
            sp_c = Some((ere, e.out("spad_raddr")?));
            ac_re.push((e.out("acc_re")?, e.out("acc_raddr")?));
            let we = e.out("spad_we")?;
            sp_we.push((we, e.out("spad_waddr")?, e.out("spad_wdata")?));
            let ev = e.out("err_valid")?;
            let ec = e.out("err_code")?;
            progress = m.or(progress, we)?;
            (
                e.out("ready")?,
                e.out("idle")?,
                e.out("checked")?,
                Some((ev, ec)),
            )
        } else {
            (zero1, one1, zero1, None)
        };
        // The row engines (softmax, LayerNorm, ADD): started with their instruction's
        // fields (each port named as its field), reading on port A, writing the
        // scratchpad. Absent, an engine is ready never and idle always.
        let mut row_engine = |m: &mut ModuleBuilder,
                              module: Option<&Rc<Module>>,
                              inst: &str,
                              start: Sig,
                              fields: &[isa::Field]|
         -> RtlResult<(Sig, Sig)> {
            let Some(module) = module else {
                return Ok((zero1, one1));
            };
            let mut conns: Vec<(&str, Sig)> = vec![("start", start), ("spad_rdata", spad_rdata)];
            for f in fields {
                conns.push((f.name, field(m, word, f)?));
            }
            let x = m.instance(module, inst, &conns)?;
            let re = x.out("spad_re")?;
            sp_re.push((re, x.out("spad_raddr")?));
            let we = x.out("spad_we")?;
            sp_we.push((we, x.out("spad_waddr")?, x.out("spad_wdata")?));
            errs.push((x.out("err_valid")?, x.out("err_code")?));
            progress = m.or(progress, we)?;
            progress = m.or(progress, re)?;
            Ok((x.out("ready")?, x.out("idle")?))
        };
        let (x_ready, x_idle) =
            row_engine(&mut m, smx.as_ref(), "softmax", smx_start, &isa::SOFTMAX_FIELDS)?;
        let (l_ready, l_idle) =
            row_engine(&mut m, lnx.as_ref(), "layernorm", ln_start, &isa::LAYERNORM_FIELDS)?;
        let (a_ready, a_idle) = row_engine(&mut m, addx.as_ref(), "add", add_start, &isa::ADD_FIELDS)?;

        // ---- state 1: tokens, the GEMM drain for non-GEMM work, static checks.
        let np = m.not(d[0])?;
        let ok_p = m.or(np, tok_prev)?;
        let nn = m.not(d[1])?;
        let ok_n = m.or(nn, tok_next)?;
        let toks = m.and(ok_p, ok_n)?;
        // The background epilogue (see the module docs).
        let bg = m.reg("bg", 1, false, RegOpts::new().reset_zero(1))?;
        // A GEMM's deferred push_prev: it fires when that GEMM's reads have returned.
        let gp = m.reg("gp", 1, false, RegOpts::new().reset_zero(1))?;
        let gp_seq = m.reg("gp_seq", 4, false, RegOpts::new())?;
        let ngp = m.not(gp.q)?;
        let defer_pp = {
            let nn = m.not(d[3])?;
            let t = m.and(is_gemm, d[2])?;
            m.and(t, nn)?
        };
        let bg_pp = m.reg("bg_push_prev", 1, false, RegOpts::new().reset_zero(1))?;
        let bg_pn = m.reg("bg_push_next", 1, false, RegOpts::new().reset_zero(1))?;
        let bg_failed = m.reg("bg_failed", 1, false, RegOpts::new().reset_zero(1))?;
        let e_start = m.wire("epi_started", 1, false)?;
        let bg_en = RegOpts::new().enable(e_start);
        let bg_idx = m.reg_next("bg_index", index, bg_en.clone())?;
        let ef: Vec<Sig> = isa::EPILOGUE_FIELDS
            .iter()
            .map(|f| field(&mut m, word, f))
            .collect::<RtlResult<_>>()?;
        let bg_acc = m.reg_next("bg_acc", ef[0], bg_en.clone())?;
        let bg_rows = m.reg_next("bg_rows", ef[2], bg_en.clone())?;
        let bg_dst = m.reg_next("bg_dst", ef[1], bg_en.clone())?;
        let nbg = m.not(bg.q)?;
        // A GEMM may run beside it once its checks are passed, when their accumulator
        // rows and the GEMM's operand rows and the epilogue's output rows are apart.
        let gemm_beside = {
            let gf: Vec<Sig> = isa::GEMM_FIELDS
                .iter()
                .map(|f| field(&mut m, word, f))
                .collect::<RtlResult<_>>()?;
            let apart =
                |m: &mut ModuleBuilder, a0: Sig, a1: Sig, b0: Sig, b1: Sig| -> RtlResult<Sig> {
                    let x = m.cmp(CmpOp::Le, a1, b0)?;
                    let y = m.cmp(CmpOp::Le, b1, a0)?;
                    m.or(x, y)
                };
            let w40 = |m: &mut ModuleBuilder, x: Sig| m.zext(x, 40);
            let (r_rows, maxp, ab) = match &cfg_arr {
                Some(a) => (
                    a.rows,
                    out_pitch_max,
                    accgen_golden::accel::elem_bytes(a.act_bits),
                ),
                None => (1, 1, 1),
            };
            // accumulator rows
            let g_acc0 = w40(&mut m, gf[2])?;
            let rc = m.const_u(40, r_rows as u128)?;
            let g_acc1 = m.add(g_acc0, rc)?;
            let e_acc0 = w40(&mut m, bg_acc)?;
            let e_rows = w40(&mut m, bg_rows)?;
            let e_acc1 = m.add(e_acc0, e_rows)?;
            let acc_apart = apart(&mut m, g_acc0, g_acc1, e_acc0, e_acc1)?;
            // the epilogue's output rows (at most `maxp` per accumulator row)
            let d0 = w40(&mut m, bg_dst)?;
            let mp = m.const_u(40, maxp as u128)?;
            let dspan = m.mul(e_rows, mp)?;
            let dspan = m.resize(dspan, 40)?;
            // A transposed write covers C rows whatever `rows` is.
            let cc = m.const_u(40, cfg_arr.as_ref().map_or(1, |a| a.cols) as u128)?;
            let small = m.lt(dspan, cc)?;
            let dspan = m.mux(small, cc, dspan)?;
            let d1 = m.add(d0, dspan)?;
            // A: at most R * (floor(k * act bytes / W) + 1) rows; B: k rows.
            let k20 = m.zext(gf[3], 20)?;
            let k20 = m.shl(k20, ab.trailing_zeros())?;
            let kw = div_const(&mut m, k20, w)?;
            let kw = m.zext(kw, 40)?;
            let one40 = m.const_u(40, 1)?;
            let kw = m.add(kw, one40)?;
            let aspan = m.mul(kw, rc)?;
            let aspan = m.resize(aspan, 40)?;
            let a0 = w40(&mut m, gf[0])?;
            let a1 = m.add(a0, aspan)?;
            let b0 = w40(&mut m, gf[1])?;
            let kk = w40(&mut m, gf[3])?;
            let b1 = m.add(b0, kk)?;
            let a_apart = apart(&mut m, a0, a1, d0, d1)?;
            let b_apart = apart(&mut m, b0, b1, d0, d1)?;
            let ok = m.and(acc_apart, a_apart)?;
            let ok = m.and(ok, b_apart)?;
            let ok = m.and(ok, e_checked)?;
            m.or(nbg, ok)?
        };
        let not_busy = m.not(g_acc_busy)?;
        let epi_may = m.and(nbg, not_busy)?;
        // At most one deferred push_prev at a time, in program order.
        let no_pp_pending = {
            let bgpp = m.and(bg.q, bg_pp.q)?;
            let nb = m.not(bgpp)?;
            m.and(nb, ngp)?
        };
        let pp_ok = {
            let n = m.not(d[2])?;
            m.or(n, no_pp_pending)?
        };
        let epi_may = m.and(epi_may, pp_ok)?;
        let gemm_beside = m.and(gemm_beside, pp_ok)?;
        let other_may = m.and(nbg, g_idle)?;
        let drained = m.priority(&[(is_gemm, gemm_beside), (is_epi, epi_may)], other_may)?;
        let ready1 = m.and(s[1], toks)?;
        let ready1 = m.and(ready1, drained)?;
        let ready1 = m.and(ready1, nab)?;
        // Static legality.
        let c = |b: bool| if b { one1 } else { zero1 };
        let gemm_ok = c(gemm.is_some());
        let epi_ok = c(epi.is_some());
        let gelu_c = c(gelu_ok);
        let smx_ok = c(smx.is_some());
        let bad_gemm = {
            let n = m.not(gemm_ok)?;
            m.and(is_gemm, n)?
        };
        let bad_epi = {
            let ng = m.not(gelu_c)?;
            let gbad = m.and(act_gelu, ng)?;
            let ne = m.not(epi_ok)?;
            let b = m.or(ne, gbad)?;
            // A transposed write puts each column's `rows` outputs in one row.
            let rows_f = field(&mut m, word, &isa::EPILOGUE_FIELDS[2])?;
            let t_bad = {
                let lim = |bits: Option<u32>| {
                    bits.map_or(0, |b| w / accgen_golden::accel::elem_bytes(b))
                };
                let l_rq = m.const_u(16, lim(cfg_rq_out) as u128)?;
                let l_g = m.const_u(16, lim(cfg_gelu_out) as u128)?;
                let l = m.mux(act_gelu, l_g, l_rq)?;
                let over = m.cmp(CmpOp::Gt, rows_f, l)?;
                m.and(trans, over)?
            };
            let b = m.or(b, t_bad)?;
            m.and(is_epi, b)?
        };
        let bad_smx = {
            let n = m.not(smx_ok)?;
            m.and(is_smx, n)?
        };
        let bad_ln = {
            let n = m.not(c(lnx.is_some()))?;
            m.and(is_ln, n)?
        };
        let bad_add = {
            let n = m.not(c(addx.is_some()))?;
            m.and(is_add, n)?
        };
        let bad_new = m.or(bad_ln, bad_add)?;
        let bad = m.or(bad_gemm, bad_epi)?;
        let bad = m.or(bad, bad_smx)?;
        let bad = m.or(bad, bad_new)?;
        let illegal = m.and(ready1, bad)?;
        let nbad = m.not(bad)?;
        let run = m.and(ready1, nbad)?;
        let pop_prev = m.and(run, d[0])?;
        let pop_next = m.and(run, d[1])?;
        // Start the sub-engine when it is ready.
        let sg = m.and(run, is_gemm)?;
        let sg_go = m.and(sg, g_ready)?;
        let se = m.and(run, is_epi)?;
        let se_go = m.and(se, e_ready)?;
        let sx = m.and(run, is_smx)?;
        let sx_go = m.and(sx, x_ready)?;
        let sl = m.and(run, is_ln)?;
        let sl_go = m.and(sl, l_ready)?;
        let sa = m.and(run, is_add)?;
        let sa_go = m.and(sa, a_ready)?;
        let other = {
            let t = m.or(is_gemm, is_epi)?;
            let t = m.or(t, is_smx)?;
            let t = m.or(t, is_ln)?;
            let t = m.or(t, is_add)?;
            m.not(t)?
        };
        let s_nop = m.and(run, other)?;
        // A pop happens only in the cycle the instruction starts.
        let started = m.or(sg_go, se_go)?;
        let started = m.or(started, sx_go)?;
        let started = m.or(started, sl_go)?;
        let started = m.or(started, sa_go)?;
        let started = m.or(started, s_nop)?;
        let pop_prev = m.and(pop_prev, started)?;
        let pop_next = m.and(pop_next, started)?;
        m.drive(gemm_start, sg_go)?;
        m.drive(epi_start, se_go)?;
        m.drive(e_start, se_go)?;
        m.drive(smx_start, sx_go)?;
        m.drive(ln_start, sl_go)?;
        m.drive(add_start, sa_go)?;

        // ---- state 2: wait.
        // A GEMM is done when issued; with push_prev also when its reads have returned
        // (the load engine may overwrite its scratchpad rows), with push_next also when
        // its tile is written (the store engine may read the accumulator).
        let g_full = {
            let np = m.not(d[2])?;
            let np = m.or(np, defer_pp)?;
            let rp = m.or(np, g_reads_idle)?;
            let nn = m.not(d[3])?;
            let wn = m.or(nn, g_idle)?;
            let t = m.and(rp, wn)?;
            m.and(t, g_setup_idle)?
        };
        let sub_done = m.priority(
            &[
                (is_gemm, g_full),
                (is_epi, e_idle),
                (is_smx, x_idle),
                (is_ln, l_idle),
                (is_add, a_idle),
            ],
            one1,
        )?;
        let mut err_any = zero1;
        for (v, _) in &errs {
            err_any = m.or(err_any, *v)?;
        }
        let err_code = {
            let cases: Vec<(Sig, Sig)> = errs.clone();
            let c1 = m.const_u(8, 1)?;
            m.priority(&cases, c1)?
        };
        let nerr = m.not(err_any)?;
        let done2 = m.and(s[2], sub_done)?;
        let done2 = m.and(done2, nerr)?;
        let err2 = m.and(s[2], err_any)?;
        let (e_err_v, e_err_c) = match e_err {
            Some((v, c)) => (v, c),
            None => (zero1, m.const_u(8, 0)?),
        };

        // ---- state 3: push.
        let npp = m.not(d[2])?;
        let okp = m.or(npp, room_prev)?;
        let npn = m.not(d[3])?;
        let okn = m.or(npn, room_next)?;
        let okp = m.or(okp, defer_pp)?;
        let fin = m.and(s[3], okp)?;
        let fin = m.and(fin, okn)?;
        // Pushes keep program order: none while the background epilogue's are pending.
        let any_push = m.or(d[2], d[3])?;
        let np_ = m.not(any_push)?;
        // A deferred push_prev was ordered in state 1 (no earlier prev push pending).
        let quiet = m.and(nbg, ngp)?;
        let may_push = m.or(np_, quiet)?;
        let may_push = m.or(may_push, defer_pp)?;
        let fin = m.and(fin, may_push)?;
        // The background epilogue ends: push its tokens (not after an error).
        let bg_end = m.and(bg.q, e_idle)?;
        let nfail = m.not(bg_failed.q)?;
        let bg_ok = m.and(bg_end, nfail)?;
        let bg_ok = m.and(bg_ok, nab)?;
        let npp2 = m.not(bg_pp.q)?;
        let okp2 = m.or(npp2, room_prev)?;
        let npn2 = m.not(bg_pn.q)?;
        let okn2 = m.or(npn2, room_next)?;
        let bg_push = m.and(bg_ok, okp2)?;
        let bg_push = m.and(bg_push, okn2)?;
        // After an error or an abort the deferred tokens are dropped (nobody waits for
        // them, and a full queue must not keep the engine busy).
        let drop_bg = m.or(bg_failed.q, abort)?;
        let bg_clear = m.and(bg_end, drop_bg)?;
        let bg_done = m.or(bg_push, bg_clear)?;
        let bpp = m.and(bg_push, bg_pp.q)?;
        let bpn = m.and(bg_push, bg_pn.q)?;
        let ndefer = m.not(defer_pp)?;
        let push_prev = m.and(fin, d[2])?;
        let push_prev = m.and(push_prev, ndefer)?;
        let push_prev = m.or(push_prev, bpp)?;
        // The deferred GEMM push: recorded when the GEMM is done, fired when the engine
        // has returned that many GEMMs' reads.
        let gp_set = m.and(fin, defer_pp)?;
        let arrived = m.eq(g_reads_done, gp_seq.q)?;
        let gp_fire = m.and(gp.q, arrived)?;
        let gp_fire = m.and(gp_fire, room_prev)?;
        let gp_fire = m.and(gp_fire, nab)?;
        let push_prev = m.or(push_prev, gp_fire)?;
        let gp_drop = m.or(gp_fire, abort)?;
        let gpv = m.mux(gp_drop, zero1, gp.q)?;
        let gpv = m.mux(gp_set, one1, gpv)?;
        m.connect(gp, gpv)?;
        let gsv = m.mux(gp_set, g_started, gp_seq.q)?;
        m.connect(gp_seq, gsv)?;
        let push_next = m.and(fin, d[3])?;
        let push_next = m.or(push_next, bpn)?;
        let bgv = m.mux(bg_done, zero1, bg.q)?;
        let bgv = m.mux(se_go, one1, bgv)?;
        m.connect(bg, bgv)?;
        let ppv = m.mux(se_go, d[2], bg_pp.q)?;
        m.connect(bg_pp, ppv)?;
        let pnv = m.mux(se_go, d[3], bg_pn.q)?;
        m.connect(bg_pn, pnv)?;
        let fv = m.or(bg_failed.q, e_err_v)?;
        let fv = m.mux(se_go, zero1, fv)?;
        m.connect(bg_failed, fv)?;
        // Abort while waiting for tokens or room: give up the instruction.
        let waiting = m.or(s[1], s[3])?;
        let give_up = m.and(waiting, abort)?;
        let next = m.priority(
            &[
                (take, k[1]),
                (illegal, k[0]),
                // An epilogue runs in the background: the dispatcher moves on.
                (se_go, k[0]),
                (started, k[2]),
                (err2, k[0]),
                (done2, k[3]),
                (fin, k[0]),
                (give_up, k[0]),
            ],
            st.q,
        )?;
        m.connect(st, next)?;
        progress = m.or(progress, fin)?;
        progress = m.or(progress, started)?;

        // ---- errors.
        // The background epilogue's error comes first: it is earlier in the program.
        let err_v = m.or(illegal, err2)?;
        let err_v = m.or(err_v, e_err_v)?;
        let c1 = m.const_u(8, 1)?;
        let code = m.mux(illegal, c1, err_code)?;
        let code = m.mux(e_err_v, e_err_c, code)?;
        let eidx = m.mux(e_err_v, bg_idx, index)?;
        let err_vq = m.reg_next("err_valid_q", err_v, RegOpts::new().reset_zero(1))?;
        let err_cq = m.reg_next("err_code_q", code, RegOpts::new().enable(err_v))?;
        let err_iq = m.reg_next("err_index_q", eidx, RegOpts::new().enable(err_v))?;
        // After an error nothing more starts until the run is aborted.
        let dv = m.or(dead.q, err_v)?;
        let dv = m.and(dv, nab)?;
        m.connect(dead, dv)?;

        // ---- memory ports.
        let mux_ports =
            |m: &mut ModuleBuilder, ports: &[(Sig, Sig)], aw: u32| -> RtlResult<(Sig, Sig)> {
                let mut en = zero1;
                let z = m.const_u(aw, 0)?;
                let mut cases = Vec::new();
                for (e, a) in ports {
                    en = m.or(en, *e)?;
                    let a = m.resize(*a, aw)?;
                    cases.push((*e, a));
                }
                let a = m.priority(&cases, z)?;
                Ok((en, a))
            };
        let (sre, sra) = mux_ports(&mut m, &sp_re, srb)?;
        let (are, ara) = mux_ports(&mut m, &ac_re, arb)?;
        let mux_w = |m: &mut ModuleBuilder,
                     ports: &[(Sig, Sig, Sig)],
                     aw: u32,
                     dw: u32|
         -> RtlResult<(Sig, Sig, Sig)> {
            let mut en = zero1;
            let za = m.const_u(aw, 0)?;
            let zd = m.const_u(dw, 0)?;
            let mut ca = Vec::new();
            let mut cd = Vec::new();
            for (e, a, dd) in ports {
                en = m.or(en, *e)?;
                ca.push((*e, m.resize(*a, aw)?));
                cd.push((*e, *dd));
            }
            Ok((en, m.priority(&ca, za)?, m.priority(&cd, zd)?))
        };
        let (swe, swa, swd) = mux_w(&mut m, &sp_we, srb, 8 * w)?;
        let (awe, awa, awd) = mux_w(&mut m, &ac_we, arb, 8 * geo.acc_row_bytes)?;

        let all_idle = {
            let n0 = m.eq(next, k[0])?;
            let nb = m.not(bgv)?;
            let t = m.and(n0, nb)?;
            let ng = m.not(gpv)?;
            let t = m.and(t, ng)?;
            let t = m.and(t, g_idle)?;
            let t = m.and(t, g_reads_idle)?;
            let t = m.and(t, e_idle)?;
            let t = m.and(t, l_idle)?;
            let t = m.and(t, a_idle)?;
            m.and(t, x_idle)?
        };
        let idle_q = m.reg_next(
            "idle_q",
            all_idle,
            RegOpts::new().reset_to(Value::from_u128(1, 1).expect("1 bit")),
        )?;
        m.output("in_ready", take)?;
        m.output("pop_prev", pop_prev)?;
        m.output("pop_next", pop_next)?;
        m.output("push_prev", push_prev)?;
        m.output("push_next", push_next)?;
        m.output("spad_re", sre)?;
        m.output("spad_raddr", sra)?;
        let (sbre, sbra) = match sp_b {
            Some((e, a)) => (e, m.resize(a, srb)?),
            None => (zero1, m.const_u(srb, 0)?),
        };
        let (scre, scra) = match sp_c {
            Some((e, a)) => (e, m.resize(a, srb)?),
            None => (zero1, m.const_u(srb, 0)?),
        };
        m.output("spad_c_re", scre)?;
        m.output("spad_c_raddr", scra)?;
        m.output("spad_b_re", sbre)?;
        m.output("spad_b_raddr", sbra)?;
        m.output("spad_we", swe)?;
        m.output("spad_waddr", swa)?;
        m.output("spad_wdata", swd)?;
        m.output("acc_re", are)?;
        m.output("acc_raddr", ara)?;
        m.output("acc_we", awe)?;
        m.output("acc_waddr", awa)?;
        m.output("acc_wdata", awd)?;
        m.output("idle", idle_q)?;
        m.output("progress", progress)?;
        m.output("beat", g_beat)?;
        m.output("err_valid", err_vq)?;
        m.output("err_code", err_cq)?;
        m.output("err_index", err_iq)?;
        m.finish()
    })
}
