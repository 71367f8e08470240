//! The load engine: runs `LOAD` instructions, DRAM rows into scratchpad rows.
//!
//! For each instruction: wait for a compute->load token (`pop_next`), issue one
//! read-DMA command per DRAM row (`dram_base + dram + r * stride`, `bytes` long; the
//! DMA pipelines them), pack each row's bytes into scratchpad rows of W bytes,
//! zero-filling the last one (so row r occupies `spad + r * ceil(bytes / W)` onward,
//! exactly as `golden::machine` does), then give a load->compute token
//! (`push_next`).
//!
//! - **Packing:** a byte queue of W + A bytes (A = AXI data bytes): a DMA beat is
//!   appended at the queue's fill level, a full row (or, at the end of a DRAM row, the
//!   zero-padded remainder) leaves from the front; both can happen in one cycle, so a
//!   row of W = A bytes moves per cycle.
//! - **Errors:** a scratchpad row at or beyond `spad_rows` (error 2) or a DMA beat
//!   with an AXI error (3) reports `err_valid` with the instruction's index, stops
//!   writing, and drains the DMA; `abort_all` does the same without a report.
//!
//! Ports: `in_word` (128), `in_index` (32), `in_valid`, `in_ready`; `dram_base`;
//! `abort_all`; `tok_avail` (a compute->load token is there), `tok_room` (the
//! load->compute queue has room), `tok_pop`, `tok_push`; `spad_we`, `spad_waddr`,
//! `spad_wdata` (8 W bits), `spad_wready`; the read DMA's `m_axi_gmem_ar*`/`r*`;
//! `idle`, `progress`, `err_valid`, `err_code` (8), `err_index` (32).

use std::rc::Rc;

use accgen_golden::isa;

use crate::accel::dma_read::{dma_read, DmaParams, GMEM};
use crate::rtl::{
    CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlResult, ShiftAmt, ShiftOp, Sig, Value,
};

/// Parameters of the load engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadParams {
    /// Its read DMA.
    pub dma: DmaParams,
    /// Bytes per scratchpad row (W).
    pub row_bytes: u32,
    /// Scratchpad rows.
    pub spad_rows: u32,
}

/// Module name: every parameter is in it.
pub fn load_name(p: &LoadParams) -> String {
    format!(
        "accgen_accel_load_d{}_a{}_o{}_w{}_r{}",
        p.dma.data_bytes * 8,
        p.dma.addr_bits,
        p.dma.max_outstanding,
        p.row_bytes,
        p.spad_rows
    )
}

fn bits_for(n: u64) -> u32 {
    (64 - n.leading_zeros()).max(1)
}

fn field(m: &mut ModuleBuilder, w: Sig, f: &isa::Field) -> RtlResult<Sig> {
    m.slice(w, f.lo + f.bits - 1, f.lo)
}

/// Build (or fetch) the load engine.
pub fn load(lib: &mut Library, p: &LoadParams) -> RtlResult<Rc<Module>> {
    let name = load_name(p);
    let p = *p;
    let dma_mod = dma_read(lib, &p.dma)?;
    lib.get_or_build(&name.clone(), move |_| {
        let a = p.dma.data_bytes;
        let w = p.row_bytes;
        let aw = p.dma.addr_bits;
        let qb = w + a; // byte-queue capacity
        let cb = bits_for(qb as u64); // fill counter
                                      // Row addresses: the 20-bit `spad` field and one more than spad_rows fit;
                                      // writing stops at the first row >= spad_rows, so the counter cannot wrap.
        let rb = bits_for(p.spad_rows as u64).max(20) + 1;
        let mut m = ModuleBuilder::new(&name);
        m.doc("Load engine: LOAD instructions, DRAM rows into zero-filled scratchpad rows.");
        let in_word = m.input("in_word", 128, false)?;
        let in_index = m.input("in_index", 32, false)?;
        let in_valid = m.input("in_valid", 1, false)?;
        let dram_base = m.input("dram_base", aw, false)?;
        let abort = m.input("abort_all", 1, false)?;
        let tok_avail = m.input("tok_avail", 1, false)?;
        let tok_room = m.input("tok_room", 1, false)?;
        let wready = m.input("spad_wready", 1, false)?;
        let arready = m.input(&format!("{GMEM}arready"), 1, false)?;
        let rdata = m.input(&format!("{GMEM}rdata"), 8 * a, false)?;
        let rresp = m.input(&format!("{GMEM}rresp"), 2, false)?;
        let rlast = m.input(&format!("{GMEM}rlast"), 1, false)?;
        let rvalid = m.input(&format!("{GMEM}rvalid"), 1, false)?;

        let one1 = m.const_u(1, 1)?;
        let zero1 = m.const_u(1, 0)?;

        // ---- states: 0 idle, 1 wait for the token, 2 run, 3 finish (push), 4 drain.
        let st = m.reg("state", 3, false, RegOpts::new().reset_zero(3))?;
        let s_is = |m: &mut ModuleBuilder, k: u128| -> RtlResult<Sig> {
            let c = m.const_u(3, k)?;
            m.eq(st.q, c)
        };
        let s_idle = s_is(&mut m, 0)?;
        let s_wait = s_is(&mut m, 1)?;
        let s_run = s_is(&mut m, 2)?;
        let s_fin = s_is(&mut m, 3)?;
        let s_drain = s_is(&mut m, 4)?;

        // Instruction fields, latched when taken.
        let nab = m.not(abort)?;
        let take = {
            let t = m.and(s_idle, in_valid)?;
            m.and(t, nab)?
        };
        let word = m.reg_next("word", in_word, RegOpts::new().enable(take))?;
        let index = m.reg_next("index", in_index, RegOpts::new().enable(take))?;
        let f_dram = field(&mut m, word, &isa::DMA_FIELDS[0])?;
        let f_rows = field(&mut m, word, &isa::DMA_FIELDS[1])?;
        let f_bytes = field(&mut m, word, &isa::DMA_FIELDS[2])?;
        let f_stride = field(&mut m, word, &isa::DMA_FIELDS[3])?;
        let f_spad = field(&mut m, word, &isa::DMA_FIELDS[4])?;
        let pop_next = m.bit(word, isa::DEP_BITS[1])?;
        let push_next = m.bit(word, isa::DEP_BITS[3])?;

        // ---- token wait.
        let npop = m.not(pop_next)?;
        let tok_ok = m.or(npop, tok_avail)?;
        let go = m.and(s_wait, tok_ok)?;
        let go = m.and(go, nab)?;
        let tok_pop = m.and(go, pop_next)?;

        // ---- DMA commands, one per DRAM row.
        let r_issue = m.reg("r_issue", 12, false, RegOpts::new().reset_zero(12))?;
        let cur = m.reg("cur_addr", aw, false, RegOpts::new())?;
        let dma_cmd_ready = m.wire("dma_cmd_ready", 1, false)?;
        let more = m.lt(r_issue.q, f_rows)?;
        let cv = m.and(s_run, more)?;
        let cmd_valid = m.and(cv, dma_cmd_ready)?;
        let c1_12 = m.const_u(12, 1)?;
        let z12 = m.const_u(12, 0)?;
        let ri = m.add(r_issue.q, c1_12)?;
        let ri = m.resize(ri, 12)?;
        let ri = m.mux(cmd_valid, ri, r_issue.q)?;
        let ri = m.mux(go, z12, ri)?;
        m.connect(r_issue, ri)?;
        let dram_w = m.zext(f_dram, aw)?;
        let start_addr = m.add(dram_base, dram_w)?;
        let start_addr = m.resize(start_addr, aw)?;
        let stride_w = m.zext(f_stride, aw)?;
        let next_addr = m.add(cur.q, stride_w)?;
        let next_addr = m.resize(next_addr, aw)?;
        let ca = m.mux(cmd_valid, next_addr, cur.q)?;
        let ca = m.mux(go, start_addr, ca)?;
        m.connect(cur, ca)?;
        let len32 = m.zext(f_bytes, 32)?;

        let beat_take = m.wire("beat_take", 1, false)?;
        let dma = m.instance(
            &dma_mod,
            "rd",
            &[
                ("cmd_valid", cmd_valid),
                ("cmd_addr", cur.q),
                ("cmd_len", len32),
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
        let b_keep = dma.out("out_keep")?;
        let b_last = dma.out("out_last")?;
        let b_err = dma.out("out_error")?;

        // ---- byte queue.
        let q = m.reg("bq", 8 * qb, false, RegOpts::new())?;
        let cnt = m.reg("bq_count", cb, false, RegOpts::new().reset_zero(cb))?;
        let flushing = m.reg("bq_flush", 1, false, RegOpts::new().reset_zero(1))?;
        let wc = m.const_u(cb, w as u128)?;
        let zc = m.const_u(cb, 0)?;
        let full_row = m.cmp(CmpOp::Ge, cnt.q, wc)?;
        let nonempty = m.cmp(CmpOp::Ne, cnt.q, zc)?;
        let part = m.and(flushing.q, nonempty)?;
        let nfull = m.not(full_row)?;
        let part = m.and(part, nfull)?;
        let want_row = m.or(full_row, part)?;
        // Rows leave to the scratchpad while running, or are dropped while draining.
        let sink_ok = m.mux(s_drain, one1, wready)?;
        let active = m.or(s_run, s_drain)?;
        let deq = m.and(want_row, sink_ok)?;
        let deq = m.and(deq, active)?;
        // After the dequeue, the fill level.
        let cnt_minus = m.sub(cnt.q, wc)?;
        let cnt_minus = m.resize(cnt_minus, cb)?;
        let c_after = m.mux(full_row, cnt_minus, zc)?;
        let c_after = m.mux(deq, c_after, cnt.q)?;
        // Beats enter unless a row end is being flushed, if they fit.
        let nflush = m.not(flushing.q)?;
        let fits = m.cmp(CmpOp::Le, c_after, wc)?;
        let enq = m.and(b_valid, nflush)?;
        let enq = m.and(enq, fits)?;
        let enq = m.and(enq, active)?;
        m.drive(beat_take, enq)?;
        // Bytes of the beat: all A, or the keep count on a command's last beat.
        let a_c = m.const_u(cb, a as u128)?;
        let last_n = {
            // ((bytes - 1) mod A) + 1
            let c1 = m.const_u(16, 1)?;
            let bm1 = m.sub(f_bytes, c1)?;
            let bm1 = m.resize(bm1, 16)?;
            let r = m.slice(bm1, a.trailing_zeros() - 1, 0)?;
            let r = m.zext(r, cb)?;
            let c1c = m.const_u(cb, 1)?;
            let r = m.add(r, c1c)?;
            m.resize(r, cb)?
        };
        let v = m.mux(b_last, last_n, a_c)?;
        // Mask the beat to its kept bytes.
        let keep_bits: Vec<Sig> = (0..a)
            .rev()
            .map(|i| m.bit(b_keep, i))
            .collect::<RtlResult<_>>()?;
        let mut bytes = Vec::new();
        for kb in keep_bits {
            bytes.push(m.concat(&[kb; 8])?);
        }
        let keep_mask = m.concat(&bytes)?;
        let beat = m.and(b_data, keep_mask)?;
        // After the dequeue, the fill level and the queue.
        let wq_shift = m.shr(q.q, 8 * w)?;
        let zq = m.const_u(8 * qb, 0)?;
        let q_after = m.mux(full_row, wq_shift, zq)?;
        let q_after = m.mux(deq, q_after, q.q)?;
        let beat_w = m.zext(beat, 8 * qb)?;
        let pos = {
            let z = m.zext(c_after, cb + 3)?;
            m.shl(z, 3)?
        };
        let ins = m.shift(ShiftOp::Shl, beat_w, ShiftAmt::Sig(pos))?;
        let with_beat = m.or(q_after, ins)?;
        let qn = m.mux(enq, with_beat, q_after)?;
        let st_go = m.or(go, take)?;
        // Bytes above the fill level are always zero: clear the queue at the start.
        let qn = m.mux(st_go, zq, qn)?;
        m.connect(q, qn)?;
        let cplus = m.add(c_after, v)?;
        let cplus = m.resize(cplus, cb)?;
        let cn = m.mux(enq, cplus, c_after)?;
        let cn = m.mux(st_go, zc, cn)?;
        m.connect(cnt, cn)?;
        let enq_last = m.and(enq, b_last)?;
        let cn_zero = m.eq(cn, zc)?;
        let cn_nz = m.not(cn_zero)?;
        let keep_f = m.and(flushing.q, cn_nz)?;
        let fl = m.or(enq_last, keep_f)?;
        let fl = m.mux(st_go, zero1, fl)?;
        m.connect(flushing, fl)?;
        // A DRAM row is done when its flush empties the queue.
        let row_done = m.and(flushing.q, cn_zero)?;
        let r_done = m.reg("r_done", 12, false, RegOpts::new().reset_zero(12))?;
        let rd = m.add(r_done.q, c1_12)?;
        let rd = m.resize(rd, 12)?;
        let rd = m.mux(row_done, rd, r_done.q)?;
        let rd = m.mux(go, z12, rd)?;
        m.connect(r_done, rd)?;

        // ---- scratchpad writes.
        let dest = m.reg("dest", rb, false, RegOpts::new())?;
        let spad_w = m.zext(f_spad, rb)?;
        let c1r = m.const_u(rb, 1)?;
        let dn = m.add(dest.q, c1r)?;
        let dn = m.resize(dn, rb)?;
        let dn = m.mux(deq, dn, dest.q)?;
        let dn = m.mux(go, spad_w, dn)?;
        m.connect(dest, dn)?;
        let limit = m.const_u(rb, p.spad_rows as u128)?;
        let in_range = m.lt(dest.q, limit)?;
        let row_out = m.slice(q.q, 8 * w - 1, 0)?;
        // A partial row carries only the queue's bytes; the rest is already zero.
        let out_row = row_out;
        let writing = m.and(deq, s_run)?;
        let we = m.and(writing, in_range)?;
        let range_err = {
            let n = m.not(in_range)?;
            m.and(writing, n)?
        };
        let axi_err = {
            let t = m.and(enq, b_err)?;
            m.and(t, s_run)?
        };

        // ---- completion, errors and the state machine.
        let all_rows = m.eq(r_done.q, f_rows)?;
        let issued_all = m.eq(r_issue.q, f_rows)?;
        let done_run = m.and(all_rows, issued_all)?;
        let ok_run = m.and(s_run, done_run)?;
        let npush = m.not(push_next)?;
        let push_ok = m.or(npush, tok_room)?;
        let finish = m.and(s_fin, push_ok)?;
        let tok_push = m.and(finish, push_next)?;
        let err_now = m.or(range_err, axi_err)?;
        // Draining ends when every issued command's data has come through.
        let consumed = m.eq(r_done.q, r_issue.q)?;
        let dma_busy = dma.out("busy")?;
        let nbusy = m.not(dma_busy)?;
        let nbv = m.not(b_valid)?;
        let quiet = m.and(nbusy, nbv)?;
        let drained = m.and(consumed, quiet)?;
        let drained = m.and(drained, s_drain)?;
        let c = |m: &mut ModuleBuilder, k: u128| m.const_u(3, k);
        let (k0, k1, k2, k3, k4) = (
            c(&mut m, 0)?,
            c(&mut m, 1)?,
            c(&mut m, 2)?,
            c(&mut m, 3)?,
            c(&mut m, 4)?,
        );
        let running_any = {
            let t = m.or(s_wait, s_run)?;
            m.or(t, s_fin)?
        };
        let abort_now = m.and(abort, running_any)?;
        let to_drain = m.or(err_now, abort_now)?;
        let next = m.priority(
            &[
                (to_drain, k4),
                (take, k1),
                (go, k2),
                (ok_run, k3),
                (finish, k0),
                (drained, k0),
            ],
            st.q,
        )?;
        m.connect(st, next)?;

        let err_code = {
            let c2 = m.const_u(8, 2)?;
            let c3 = m.const_u(8, 3)?;
            m.mux(range_err, c2, c3)?
        };
        let err_valid = m.reg_next("err_valid_q", err_now, RegOpts::new().reset_zero(1))?;
        let err_code_q = m.reg_next("err_code_q", err_code, RegOpts::new().enable(err_now))?;
        let idle_now = m.eq(next, k0)?;
        let idle_q = m.reg_next(
            "idle_q",
            idle_now,
            RegOpts::new().reset_to(Value::from_u128(1, 1).expect("1 bit")),
        )?;
        let prog = m.or(enq, deq)?;
        let prog = m.or(prog, cmd_valid)?;

        m.output("in_ready", take)?;
        m.output("tok_pop", tok_pop)?;
        m.output("tok_push", tok_push)?;
        m.output("spad_we", we)?;
        m.output("spad_waddr", dest.q)?;
        m.output("spad_wdata", out_row)?;
        for port in ["araddr", "arlen", "arsize", "arburst", "arvalid", "rready"] {
            let s = dma.out(&format!("{GMEM}{port}"))?;
            m.output(&format!("{GMEM}{port}"), s)?;
        }
        m.output("idle", idle_q)?;
        m.output("progress", prog)?;
        m.output("err_valid", err_valid)?;
        m.output("err_code", err_code_q)?;
        m.output("err_index", index)?;
        m.finish()
    })
}
