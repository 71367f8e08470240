//! The accelerator's front end: run control, instruction fetch, decode and dispatch
//! into the three engines' instruction queues, `fence`/`halt`, errors and the
//! watchdog. It mirrors the dispatcher of the golden model (`golden::machine`).
//!
//! - **Run:** when idle and `ap_start` is high, the front end takes the start
//!   (`ap_ready` pulses) and fetches from `prog_addr`, `prog_len` instructions at most.
//! - **Fetch:** chunks of up to [`CHUNK`] instructions, one read-DMA command each (a
//!   child [`crate::accel::dma_read`]), requested only when a queue of [`WORD_QUEUE`]
//!   words has room for all of them: the fetch never stalls the read-data channel it
//!   shares with the load engine, and after `halt` or an error little is left to drain. Beats of any AXI width become 128-bit words.
//! - **Dispatch**, one word per cycle at most, in order: an illegal word (see
//!   [`crate::accel::decode`]) or a word fetched with an AXI error stops the run with
//!   error 1 or 3; load, compute and store instructions go into their engine's queue
//!   (`queue_depth` entries of the word and its index) when it has room; `fence` and
//!   `halt` wait until every queue is empty and every engine idle. Reaching
//!   `prog_len` without `halt` is error 1.
//! - **Errors:** the first error wins (a dispatch error, an engine's `eng_error_*`, or
//!   the watchdog, error 4, after `watchdog` cycles without progress: no dispatch, no
//!   fetched word, no `progress_*` from an engine; 0 selects the configured default).
//!   On an error `abort_all` rises until every engine is idle; the queues are flushed and
//!   the fetch drained; then `ap_done` pulses with `error_code` and `error_index`.
//!
//! Ports: `ap_start`, `ap_ready`, `ap_done`, `ap_idle`, `error_code` (8),
//! `error_index` (32), `prog_addr`, `prog_len` (32), `watchdog` (32), `abort_all`; the read
//! DMA's `m_axi_gmem_ar*`/`r*`; per engine E in `load`, `compute`, `store`:
//! `E_word` (128), `E_index` (32), `E_valid`, `E_ready`, `E_idle`, `progress_E`; and
//! `eng_error_valid`, `eng_error_code` (8), `eng_error_index` (32).

use std::rc::Rc;

use crate::accel::decode::decode_logic;
use crate::accel::dma_read::{dma_read, DmaParams, GMEM};
use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig, Value};
use crate::stream::{fifo, Axis, FifoStorage};

/// Instructions per fetch command.
pub const CHUNK: u32 = 16;

/// Words the fetched-instruction queue holds: every chunk requested has room in it,
/// so the fetch DMA never holds up the shared read-data channel.
pub const WORD_QUEUE: u32 = 2 * CHUNK;

/// The engines, in queue order.
pub const ENGINES: [&str; 3] = ["load", "compute", "store"];

/// Parameters of the front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontParams {
    /// The AXI master (fetch DMA).
    pub dma: DmaParams,
    /// Entries per instruction queue (a power of two, 2..=256).
    pub queue_depth: u32,
    /// Watchdog limit used when the `watchdog` input is 0.
    pub watchdog_default: u32,
}

/// Module name: every parameter is in it.
pub fn frontend_name(p: &FrontParams) -> String {
    format!(
        "accgen_accel_frontend_d{}_a{}_o{}_q{}_w{}",
        p.dma.data_bytes * 8,
        p.dma.addr_bits,
        p.dma.max_outstanding,
        p.queue_depth,
        p.watchdog_default
    )
}

fn reset_to(width: u32, v: u128) -> RegOpts {
    RegOpts::new().reset_to(Value::from_u128(width, v).expect("reset fits"))
}

/// Error codes (the same numbers as `golden::machine::ErrorCode`).
const E_ILLEGAL: u128 = 1;
const E_AXI: u128 = 3;
const E_WATCHDOG: u128 = 4;

/// Build (or fetch) the front end.
pub fn frontend(lib: &mut Library, p: &FrontParams) -> RtlResult<Rc<Module>> {
    let name = frontend_name(p);
    let p = *p;
    let dma_mod = dma_read(lib, &p.dma)?;
    lib.get_or_build(&name.clone(), move |lib| {
        let db = p.dma.data_bytes;
        let dw = 8 * db;
        let aw = p.dma.addr_bits;
        let mut m = ModuleBuilder::new(&name);
        m.doc("Accelerator front end: run control, fetch, decode, dispatch, errors, watchdog.");
        let ap_start = m.input("ap_start", 1, false)?;
        let prog_addr = m.input("prog_addr", aw, false)?;
        let prog_len = m.input("prog_len", 32, false)?;
        let watchdog_in = m.input("watchdog", 32, false)?;
        let arready = m.input(&format!("{GMEM}arready"), 1, false)?;
        let rdata = m.input(&format!("{GMEM}rdata"), dw, false)?;
        let rresp = m.input(&format!("{GMEM}rresp"), 2, false)?;
        let rlast = m.input(&format!("{GMEM}rlast"), 1, false)?;
        let rvalid = m.input(&format!("{GMEM}rvalid"), 1, false)?;
        let mut e_ready = Vec::new();
        let mut e_idle = Vec::new();
        let mut e_prog = Vec::new();
        for e in ENGINES {
            e_ready.push(m.input(&format!("{e}_ready"), 1, false)?);
            e_idle.push(m.input(&format!("{e}_idle"), 1, false)?);
            e_prog.push(m.input(&format!("progress_{e}"), 1, false)?);
        }
        let eng_err_valid = m.input("eng_error_valid", 1, false)?;
        let eng_err_code = m.input("eng_error_code", 8, false)?;
        let eng_err_index = m.input("eng_error_index", 32, false)?;

        let one1 = m.const_u(1, 1)?;
        let zero1 = m.const_u(1, 0)?;
        let z32 = m.const_u(32, 0)?;
        let c1_32 = m.const_u(32, 1)?;

        // ---- run control.
        let running = m.reg("running", 1, false, RegOpts::new().reset_zero(1))?;
        let stopping = m.reg("stopping", 1, false, RegOpts::new().reset_zero(1))?;
        let nrun = m.not(running.q)?;
        let take = m.and(ap_start, nrun)?;
        let len_q = m.reg_next("len_q", prog_len, RegOpts::new().enable(take))?;
        let base_q = m.reg_next("base_q", prog_addr, RegOpts::new().enable(take))?;

        // ---- fetch: one DMA command per chunk.
        let fetch_idx = m.reg("fetch_idx", 32, false, RegOpts::new().reset_zero(32))?;
        let dma_cmd_ready = m.wire("dma_cmd_ready", 1, false)?;
        let nstop = m.not(stopping.q)?;
        let live = m.and(running.q, nstop)?;
        // Instructions not yet requested, counted down (no subtraction in the path).
        let left_q = m.reg("fetch_left", 32, false, RegOpts::new().reset_zero(32))?;
        let more = m.cmp(CmpOp::Ne, left_q.q, z32)?;
        let f1 = m.and(live, more)?;
        let left = left_q.q;
        let chunk_c = m.const_u(32, CHUNK as u128)?;
        let small = m.lt(left, chunk_c)?;
        let n = m.mux(small, left, chunk_c)?;
        // A chunk is requested only when the word queue has room for it and for every
        // word already requested: `reserved` counts words in flight or queued.
        let rb = 32 - WORD_QUEUE.leading_zeros() + 1;
        let reserved = m.reg("reserved", rb, false, RegOpts::new().reset_zero(rb))?;
        let n_r = m.resize(n, rb)?;
        let need = m.add(reserved.q, n_r)?;
        let need = m.resize(need, rb)?;
        let wq_c = m.const_u(rb, WORD_QUEUE as u128)?;
        let fits = m.cmp(CmpOp::Le, need, wq_c)?;
        let f1 = m.and(f1, fits)?;
        // The command waits in a register for the DMA, so no arithmetic feeds the
        // DMA's command inputs. `issue` loads it; the DMA takes it when ready.
        let cq_valid = m.reg("cq_valid", 1, false, RegOpts::new().reset_zero(1))?;
        let cq_take = m.and(cq_valid.q, dma_cmd_ready)?;
        let ncq = m.not(cq_valid.q)?;
        let cq_free = m.or(ncq, cq_take)?;
        let cmd_valid = m.and(f1, cq_free)?;
        let cmd_len = m.shl(n, 4)?;
        let fi_w = m.zext(fetch_idx.q, aw)?;
        let off = m.shl(fi_w, 4)?;
        let cmd_addr = m.add(base_q, off)?;
        let cmd_addr = m.resize(cmd_addr, aw)?;
        let fi_n = m.add(fetch_idx.q, n)?;
        let fi_n = m.resize(fi_n, 32)?;
        let ln = m.sub(left_q.q, n)?;
        let ln = m.resize(ln, 32)?;
        let ln = m.mux(cmd_valid, ln, left_q.q)?;
        let ln = m.mux(take, prog_len, ln)?;
        m.connect(left_q, ln)?;
        let fi = m.mux(cmd_valid, fi_n, fetch_idx.q)?;
        let fi = m.mux(take, z32, fi)?;
        m.connect(fetch_idx, fi)?;

        let nt = m.not(cq_take)?;
        let keep_cq = m.and(cq_valid.q, nt)?;
        let cqv = m.or(cmd_valid, keep_cq)?;
        let nrun2 = m.not(take)?;
        let cqv = m.and(cqv, nrun2)?;
        m.connect(cq_valid, cqv)?;
        let cq_addr = m.reg_next("cq_addr", cmd_addr, RegOpts::new().enable(cmd_valid))?;
        let cq_len = m.reg_next("cq_len", cmd_len, RegOpts::new().enable(cmd_valid))?;
        let head_take = m.wire("head_take", 1, false)?;
        let beat_take = m.wire("beat_take", 1, false)?;
        let dma = m.instance(
            &dma_mod,
            "fetch",
            &[
                ("cmd_valid", cq_valid.q),
                ("cmd_addr", cq_addr),
                ("cmd_len", cq_len),
                (&format!("{GMEM}arready"), arready),
                (&format!("{GMEM}rdata"), rdata),
                (&format!("{GMEM}rresp"), rresp),
                (&format!("{GMEM}rlast"), rlast),
                (&format!("{GMEM}rvalid"), rvalid),
                ("out_ready", beat_take),
            ],
        )?;
        m.drive(dma_cmd_ready, dma.out("cmd_ready")?)?;
        let b_valid = dma.out("out_valid")?;
        let b_data = dma.out("out_data")?;
        let b_err = dma.out("out_error")?;
        let b_keep = dma.out("out_keep")?;

        // ---- beats to 128-bit words.
        let (h_valid, h_word, h_err);
        if dw == 128 {
            h_valid = b_valid;
            h_word = b_data;
            h_err = b_err;
            m.drive(beat_take, head_take)?;
        } else if dw < 128 {
            // Two (64-bit) beats per word: hold the low one.
            let have = m.reg("gb_have", 1, false, RegOpts::new().reset_zero(1))?;
            let lo = m.reg("gb_lo", dw, false, RegOpts::new())?;
            let lo_err = m.reg("gb_lo_err", 1, false, RegOpts::new())?;
            let nh = m.not(have.q)?;
            let load_lo = m.and(b_valid, nh)?;
            let lv = m.mux(load_lo, b_data, lo.q)?;
            m.connect(lo, lv)?;
            let le = m.mux(load_lo, b_err, lo_err.q)?;
            m.connect(lo_err, le)?;
            h_valid = m.and(have.q, b_valid)?;
            h_word = m.concat(&[b_data, lo.q])?;
            h_err = m.or(lo_err.q, b_err)?;
            let bt = m.or(load_lo, head_take)?;
            m.drive(beat_take, bt)?;
            // have: set by loading the low beat, cleared when the word is taken.
            let hv = m.mux(load_lo, one1, have.q)?;
            let hv = m.mux(head_take, zero1, hv)?;
            let hv = m.mux(take, zero1, hv)?;
            m.connect(have, hv)?;
        } else {
            // Several words per beat: walk them; the beat's last valid word ends it.
            let words = dw / 128;
            let sb = 32 - (words - 1).leading_zeros();
            let sub = m.reg("gb_sub", sb, false, RegOpts::new().reset_zero(sb))?;
            let parts: Vec<Sig> = (0..words)
                .map(|i| m.slice(b_data, 128 * i + 127, 128 * i))
                .collect::<RtlResult<_>>()?;
            h_word = m.select(sub.q, &parts)?;
            h_valid = b_valid;
            h_err = b_err;
            // The next word exists when its first byte is kept.
            let next_exists: Vec<Sig> = (0..words)
                .map(|i| {
                    if i + 1 < words {
                        m.bit(b_keep, 16 * (i + 1))
                    } else {
                        Ok(zero1)
                    }
                })
                .collect::<RtlResult<_>>()?;
            let has_next = m.select(sub.q, &next_exists)?;
            let nn = m.not(has_next)?;
            let end = m.and(head_take, nn)?;
            m.drive(beat_take, end)?;
            let c1 = m.const_u(sb, 1)?;
            let inc = m.add(sub.q, c1)?;
            let inc = m.resize(inc, sb)?;
            let zs = m.const_u(sb, 0)?;
            let sv = m.mux(head_take, inc, sub.q)?;
            let sv = m.mux(end, zs, sv)?;
            let sv = m.mux(take, zs, sv)?;
            m.connect(sub, sv)?;
        }

        // ---- the word queue: the gearbox never waits (room was reserved).
        m.drive(head_take, h_valid)?;
        let wq_in = Axis {
            data: m.concat(&[h_err, h_word])?,
            valid: h_valid,
            last: None,
            user: None,
        };
        let wq_take = m.wire("wq_take", 1, false)?;
        let (wq, _wq_room) = fifo(
            &mut m,
            lib,
            "wordq",
            &wq_in,
            wq_take,
            WORD_QUEUE as usize,
            FifoStorage::Lutram,
        )?;
        let popped = m.and(wq.valid, wq_take)?;
        let zero_r = m.const_u(rb, 0)?;
        let add_n = m.mux(cmd_valid, n_r, zero_r)?;
        let sub1 = m.zext(popped, rb)?;
        let r1 = m.add(reserved.q, add_n)?;
        let r1 = m.resize(r1, rb)?;
        let r2 = m.sub(r1, sub1)?;
        let r2 = m.resize(r2, rb)?;
        let zr = m.const_u(rb, 0)?;
        let r2 = m.mux(take, zr, r2)?;
        m.connect(reserved, r2)?;
        let fetch_empty = m.eq(reserved.q, zr)?;
        let ncqv = m.not(cq_valid.q)?;
        let fetch_empty = m.and(fetch_empty, ncqv)?;
        let h_valid = wq.valid;
        let h_word = m.slice(wq.data, 127, 0)?;
        let h_err = m.bit(wq.data, 128)?;

        // ---- decode and dispatch.
        let d = decode_logic(&mut m, h_word)?;
        let disp_idx = m.reg("disp_idx", 32, false, RegOpts::new().reset_zero(32))?;
        let mut q_room = Vec::new();
        let mut q_empty = Vec::new();
        let mut q_push = Vec::new();
        let mut q_out = Vec::new();
        let flush = m.wire("flush", 1, false)?;
        let mut engine_is = Vec::new();
        for (i, e) in ENGINES.iter().enumerate() {
            let k = m.const_u(2, i as u128)?;
            engine_is.push(m.eq(d.engine, k)?);
            let push = m.wire(&format!("{e}_push"), 1, false)?;
            let entry = m.concat(&[disp_idx.q, h_word])?;
            let input = Axis {
                data: entry,
                valid: push,
                last: None,
                user: None,
            };
            // Flushing: the engine side pops everything.
            let pop = m.or(e_ready[i], flush)?;
            let (q, room) = fifo(
                &mut m,
                lib,
                &format!("{e}_q"),
                &input,
                pop,
                p.queue_depth as usize,
                FifoStorage::Lutram,
            )?;
            q_room.push(room);
            // Entries in the queue, counting one written but not yet at its output.
            let cb = 32 - p.queue_depth.leading_zeros() + 1;
            let cnt = m.reg(
                &format!("{e}_count"),
                cb,
                false,
                RegOpts::new().reset_zero(cb),
            )?;
            let popped = m.and(q.valid, pop)?;
            let inc = m.zext(push, cb)?;
            let dec = m.zext(popped, cb)?;
            let c1 = m.add(cnt.q, inc)?;
            let c1 = m.resize(c1, cb)?;
            let c2 = m.sub(c1, dec)?;
            let c2 = m.resize(c2, cb)?;
            m.connect(cnt, c2)?;
            let zc = m.const_u(cb, 0)?;
            let empty = m.eq(cnt.q, zc)?;
            q_empty.push(empty);
            q_push.push(push);
            q_out.push(q);
        }
        let mut all_idle = q_empty[0];
        for i in 0..3 {
            all_idle = m.and(all_idle, q_empty[i])?;
            all_idle = m.and(all_idle, e_idle[i])?;
        }
        let is_disp = {
            let three = m.const_u(2, 3)?;
            m.eq(d.engine, three)?
        };
        let halt_op = {
            let seven = m.const_u(4, 7)?;
            m.eq(d.opcode, seven)?
        };
        let past_end = m.cmp(CmpOp::Ge, disp_idx.q, len_q)?;
        let can = m.and(live, h_valid)?;
        let nill = m.not(d.illegal)?;
        let nerr = m.not(h_err)?;
        let good = m.and(nill, nerr)?;
        let npast = m.not(past_end)?;
        let good = m.and(good, npast)?;
        let cg = m.and(can, good)?;
        let mut room_sel = zero1;
        for i in 0..3 {
            let t = m.and(engine_is[i], q_room[i])?;
            room_sel = m.or(room_sel, t)?;
        }
        let disp_ok = m.and(is_disp, all_idle)?;
        let ok_any = m.or(room_sel, disp_ok)?;
        let dispatch = m.and(cg, ok_any)?;
        for i in 0..3 {
            let t = m.and(dispatch, engine_is[i])?;
            m.drive(q_push[i], t)?;
        }
        let halting = m.and(dispatch, halt_op)?;
        let halting = m.and(halting, is_disp)?;
        // Words are taken when dispatched, or discarded while stopping (drain).
        let draining = m.and(running.q, stopping.q)?;
        let drain_take = m.and(draining, h_valid)?;
        let ht = m.or(dispatch, drain_take)?;
        m.drive(wq_take, ht)?;
        let di = m.add(disp_idx.q, c1_32)?;
        let di = m.resize(di, 32)?;
        let di = m.mux(dispatch, di, disp_idx.q)?;
        let di = m.mux(take, z32, di)?;
        m.connect(disp_idx, di)?;

        // ---- errors: the first one wins.
        // A word fetched with an AXI error is error 3 whatever it decodes to; past
        // `prog_len` is error 1 whatever arrives.
        let past_now = m.and(live, past_end)?;
        let npast2 = m.not(past_end)?;
        let axi_word = m.and(can, h_err)?;
        let axi_word = m.and(axi_word, npast2)?;
        let nerr2 = m.not(h_err)?;
        let ill_word = m.and(can, d.illegal)?;
        let ill_word = m.and(ill_word, nerr2)?;
        let ill = m.or(ill_word, past_now)?;
        // Watchdog.
        let wd = m.reg("wd_count", 32, false, RegOpts::new().reset_zero(32))?;
        let mut progress = m.or(dispatch, head_take)?;
        for s in &e_prog {
            progress = m.or(progress, *s)?;
        }
        let wd_zero = m.eq(watchdog_in, z32)?;
        let wd_def = m.const_u(32, p.watchdog_default as u128)?;
        let limit = m.mux(wd_zero, wd_def, watchdog_in)?;
        let fire = m.cmp(CmpOp::Ge, wd.q, limit)?;
        let fire = m.and(running.q, fire)?;
        let wd_inc = m.add(wd.q, c1_32)?;
        let wd_inc = m.resize(wd_inc, 32)?;
        let np = m.not(progress)?;
        let counting = m.and(running.q, np)?;
        // The watchdog fires once, then starts counting again.
        let wv = m.mux(counting, wd_inc, z32)?;
        let wv = m.mux(fire, z32, wv)?;
        m.connect(wd, wv)?;

        let err_code = m.reg("err_code", 8, false, RegOpts::new().reset_zero(8))?;
        let err_idx = m.reg("err_idx", 32, false, RegOpts::new().reset_zero(32))?;
        let c_ill = m.const_u(8, E_ILLEGAL)?;
        let c_axi = m.const_u(8, E_AXI)?;
        let c_wd = m.const_u(8, E_WATCHDOG)?;
        let ee = m.and(eng_err_valid, running.q)?;
        let any_err = {
            let a = m.or(ill, axi_word)?;
            let b = m.or(fire, ee)?;
            m.or(a, b)?
        };
        let code_now = m.priority(&[(ee, eng_err_code), (ill, c_ill), (axi_word, c_axi)], c_wd)?;
        let idx_now = m.mux(ee, eng_err_index, disp_idx.q)?;
        let z8 = m.const_u(8, 0)?;
        // Only the first error is recorded.
        let errored = m.cmp(CmpOp::Ne, err_code.q, z8)?;
        let nerrored = m.not(errored)?;
        let first = m.and(any_err, running.q)?;
        let set_err = m.and(first, nerrored)?;
        let ec = m.mux(set_err, code_now, err_code.q)?;
        let ec = m.mux(take, z8, ec)?;
        m.connect(err_code, ec)?;
        let ei = m.mux(set_err, idx_now, err_idx.q)?;
        let ei = m.mux(take, z32, ei)?;
        m.connect(err_idx, ei)?;

        // A dispatch error stops dispatch and lets the engines finish what they hold,
        // as the golden model does. An engine's error or the watchdog aborts them:
        // `abort_all` stays high, and the queues are flushed, until the run ends.
        let abort = m.reg("abort_q", 1, false, RegOpts::new().reset_zero(1))?;
        let hard = m.or(ee, fire)?;
        let ab = m.or(abort.q, hard)?;
        let ab = m.and(ab, running.q)?;
        let nt = m.not(take)?;
        let ab = m.and(ab, nt)?;
        m.connect(abort, ab)?;
        m.drive(flush, abort.q)?;

        // Stop after halt or an error; finish when the fetch has drained and every
        // engine is idle with its queue empty.
        let st = m.or(stopping.q, first)?;
        let st = m.or(st, halting)?;
        let st = m.mux(take, zero1, st)?;
        let dma_idle = {
            let busy = dma.out("busy")?;
            let nbusy = m.not(busy)?;
            let nb = m.not(b_valid)?;
            let t = m.and(nbusy, nb)?;
            m.and(t, fetch_empty)?
        };
        let fin = m.and(draining, dma_idle)?;
        let fin = m.and(fin, all_idle)?;
        let nset = m.not(set_err)?;
        let fin = m.and(fin, nset)?;
        let r1 = m.or(take, running.q)?;
        let nfin = m.not(fin)?;
        let r2 = m.and(r1, nfin)?;
        m.connect(running, r2)?;
        let nfin2 = m.not(fin)?;
        let st = m.and(st, nfin2)?;
        m.connect(stopping, st)?;
        let done = m.reg_next("done_q", fin, RegOpts::new().reset_zero(1))?;
        let ready = m.reg_next("ready_q", take, RegOpts::new().reset_zero(1))?;
        let idle_d = m.not(r2)?;
        let idle = m.reg_next("idle_q", idle_d, reset_to(1, 1))?;

        m.output("ap_ready", ready)?;
        m.output("ap_done", done)?;
        m.output("ap_idle", idle)?;
        m.output("error_code", err_code.q)?;
        m.output("error_index", err_idx.q)?;
        m.output("abort_all", abort.q)?;
        for (i, e) in ENGINES.iter().enumerate() {
            let q = &q_out[i];
            let word = m.slice(q.data, 127, 0)?;
            let idx = m.slice(q.data, 159, 128)?;
            m.output(&format!("{e}_word"), word)?;
            m.output(&format!("{e}_index"), idx)?;
            // Hidden while flushing, so an engine never starts a flushed instruction.
            let na = m.not(abort.q)?;
            let v = m.and(q.valid, na)?;
            m.output(&format!("{e}_valid"), v)?;
        }
        for port in ["araddr", "arlen", "arsize", "arburst", "arvalid", "rready"] {
            let s = dma.out(&format!("{GMEM}{port}"))?;
            m.output(&format!("{GMEM}{port}"), s)?;
        }
        m.finish()
    })
}
