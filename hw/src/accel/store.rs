//! The store engine: runs `STORE` instructions, scratchpad or accumulator rows into
//! DRAM rows.
//!
//! For each instruction: wait for a compute->store token (`pop_prev`); for each DRAM
//! row r, issue a write-DMA command (`dram_base + dram + r * stride`, `bytes` long)
//! and stream the first `bytes` bytes of scratchpad rows `spad + r * ceil(bytes / W)`
//! onward into it; when every row's write responses are in, give a store->compute
//! token (`push_prev`). This is `golden::machine`'s STORE.
//!
//! - **Reads:** the scratchpad read port answers `read_latency` cycles after
//!   `spad_re`; reads are issued only when the byte queue is sure to have room for
//!   their data (a credit count of reads in flight), so no read is lost.
//! - **Packing:** a byte queue of W + A bytes: a scratchpad row's needed bytes go in at
//!   the fill level, A-byte beats leave from the front (the last beat of a DRAM row
//!   may be partial).
//! - **Errors:** a scratchpad row at or beyond `spad_rows` (error 2) or a write error
//!   response (3) reports `err_valid` with the index.
//! - **Accumulator:** STORE from the accumulator (`from acc`) reads accumulator rows
//!   (`acc_re`, `acc_raddr`, `acc_rdata`) through the same path, rows of the
//!   accumulator's size; on an engine built without an accumulator it is error 1.
//! - **Shared read ports:** a read is issued only in a cycle its memory grants
//!   (`spad_rgrant`, `acc_rgrant`: the compute engine has priority).
//!
//! Ports: `in_word`, `in_index`, `in_valid`, `in_ready`; `dram_base`; `abort_all`;
//! `tok_avail`, `tok_room`, `tok_pop`, `tok_push`; `spad_re`, `spad_raddr`,
//! `spad_rdata` (8 W bits, `read_latency` cycles after `spad_re`); the write DMA's
//! `m_axi_gmem_aw*`/`w*`/`b*`; `idle`, `progress`, `err_valid`, `err_code`,
//! `err_index`.

use std::rc::Rc;

use accgen_golden::isa;

use crate::accel::dma_read::{DmaParams, GMEM};
use crate::accel::dma_write::dma_write;
use crate::rtl::{
    CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlResult, ShiftAmt, ShiftOp, Sig, Value,
};

/// Parameters of the store engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreParams {
    /// Its write DMA.
    pub dma: DmaParams,
    /// Bytes per scratchpad row (W).
    pub row_bytes: u32,
    /// Scratchpad rows.
    pub spad_rows: u32,
    /// Bytes per accumulator row.
    pub acc_row_bytes: u32,
    /// Accumulator rows (0: no accumulator; STORE from it is error 1).
    pub acc_rows: u32,
    /// Cycles from `spad_re` to `spad_rdata`.
    pub read_latency: u32,
}

/// Module name: every parameter is in it.
pub fn store_name(p: &StoreParams) -> String {
    format!(
        "accgen_accel_store_d{}_a{}_o{}_w{}_r{}_aw{}_ar{}_l{}",
        p.dma.data_bytes * 8,
        p.dma.addr_bits,
        p.dma.max_outstanding,
        p.row_bytes,
        p.spad_rows,
        p.acc_row_bytes,
        p.acc_rows,
        p.read_latency
    )
}

fn bits_for(n: u64) -> u32 {
    (64 - n.leading_zeros()).max(1)
}

fn field(m: &mut ModuleBuilder, w: Sig, f: &isa::Field) -> RtlResult<Sig> {
    m.slice(w, f.lo + f.bits - 1, f.lo)
}

/// Build (or fetch) the store engine.
pub fn store(lib: &mut Library, p: &StoreParams) -> RtlResult<Rc<Module>> {
    let name = store_name(p);
    let p = *p;
    let dma_mod = dma_write(lib, &p.dma)?;
    lib.get_or_build(&name.clone(), move |_| {
        let a = p.dma.data_bytes;
        let w = p.row_bytes;
        let aw = p.dma.addr_bits;
        let has_acc = p.acc_rows > 0;
        let aw_row = if has_acc { p.acc_row_bytes } else { w };
        let rw = w.max(aw_row);
        let qb = rw + a;
        let cb = bits_for(qb as u64);
        let rb = bits_for(p.spad_rows.max(p.acc_rows) as u64).max(20) + 1;
        let lat = p.read_latency;
        let mut m = ModuleBuilder::new(&name);
        m.doc("Store engine: STORE instructions, scratchpad rows into DRAM rows.");
        let in_word = m.input("in_word", 128, false)?;
        let in_index = m.input("in_index", 32, false)?;
        let in_valid = m.input("in_valid", 1, false)?;
        let dram_base = m.input("dram_base", aw, false)?;
        let abort = m.input("abort_all", 1, false)?;
        let tok_avail = m.input("tok_avail", 1, false)?;
        let tok_room = m.input("tok_room", 1, false)?;
        let spad_rdata = m.input("spad_rdata", 8 * w, false)?;
        let spad_grant = m.input("spad_rgrant", 1, false)?;
        let (acc_rdata, acc_grant) = if has_acc {
            (
                m.input("acc_rdata", 8 * aw_row, false)?,
                m.input("acc_rgrant", 1, false)?,
            )
        } else {
            (m.const_u(8 * aw_row, 0)?, m.const_u(1, 0)?)
        };
        let awready = m.input(&format!("{GMEM}awready"), 1, false)?;
        let wready = m.input(&format!("{GMEM}wready"), 1, false)?;
        let bresp = m.input(&format!("{GMEM}bresp"), 2, false)?;
        let bvalid = m.input(&format!("{GMEM}bvalid"), 1, false)?;

        let one1 = m.const_u(1, 1)?;
        let zero1 = m.const_u(1, 0)?;

        // ---- states: 0 idle, 1 wait for the token, 2 run, 3 finish (push), 4 drain.
        let st = m.reg("state", 3, false, RegOpts::new().reset_zero(3))?;
        let k: Vec<Sig> = (0..5).map(|v| m.const_u(3, v)).collect::<RtlResult<_>>()?;
        let s_idle = m.eq(st.q, k[0])?;
        let s_wait = m.eq(st.q, k[1])?;
        let s_run = m.eq(st.q, k[2])?;
        let s_fin = m.eq(st.q, k[3])?;
        let s_drain = m.eq(st.q, k[4])?;

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
        let from_acc = m.bit(word, isa::FROM_ACC.lo)?;
        let pop_prev = m.bit(word, isa::DEP_BITS[0])?;
        let push_prev = m.bit(word, isa::DEP_BITS[2])?;

        // ---- token wait (STORE from the accumulator: not built, error 1).
        let npop = m.not(pop_prev)?;
        let tok_ok = m.or(npop, tok_avail)?;
        let w_ok = m.and(s_wait, tok_ok)?;
        let w_ok = m.and(w_ok, nab)?;
        let no_acc = m.const_u(1, (!has_acc) as u128)?;
        let acc_missing = m.and(from_acc, no_acc)?;
        let n_missing = m.not(acc_missing)?;
        let go = m.and(w_ok, n_missing)?;
        let acc_err = m.and(w_ok, acc_missing)?;
        let tok_pop = m.and(w_ok, pop_prev)?;

        // ---- per DRAM row: a write command, and the scratchpad rows it needs.
        // Row geometry: pitch = ceil(bytes / W) rows, the last one holding
        // ((bytes - 1) mod W) + 1 bytes; computed by counting, no divider.
        let z12 = m.const_u(12, 0)?;
        let c1_12 = m.const_u(12, 1)?;
        let r_cmd = m.reg("r_cmd", 12, false, RegOpts::new().reset_zero(12))?;
        let cur = m.reg("cur_addr", aw, false, RegOpts::new())?;
        let dma_cmd_ready = m.wire("dma_cmd_ready", 1, false)?;
        let more_cmd = m.lt(r_cmd.q, f_rows)?;
        let cv = m.and(s_run, more_cmd)?;
        let cmd_valid = m.and(cv, dma_cmd_ready)?;
        let rc = m.add(r_cmd.q, c1_12)?;
        let rc = m.resize(rc, 12)?;
        let rc = m.mux(cmd_valid, rc, r_cmd.q)?;
        let rc = m.mux(go, z12, rc)?;
        m.connect(r_cmd, rc)?;
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

        // Reads walk the scratchpad rows; `left` counts the bytes of the current
        // DRAM row not yet read.
        let r_read = m.reg("r_read", 12, false, RegOpts::new().reset_zero(12))?;
        let left = m.reg("bytes_left", 16, false, RegOpts::new().reset_zero(16))?;
        let raddr = m.reg("raddr", rb, false, RegOpts::new())?;
        let z16 = m.const_u(16, 0)?;
        let w16 = {
            let sw = m.const_u(16, w as u128)?;
            let aw16 = m.const_u(16, aw_row as u128)?;
            m.mux(from_acc, aw16, sw)?
        };
        let more_read = m.lt(r_read.q, f_rows)?;
        // Credits: bytes that may still enter the queue = capacity - fill - in flight.
        let cnt = m.reg("bq_count", cb, false, RegOpts::new().reset_zero(cb))?;
        let infl = m.reg(
            "in_flight_bytes",
            cb + 2,
            false,
            RegOpts::new().reset_zero(cb + 2),
        )?;
        let left_zero = m.eq(left.q, z16)?;
        // This read's byte count: the row start loads `bytes` into `left`.
        let this_left = m.mux(left_zero, f_bytes, left.q)?;
        let this_chunk = {
            let lt = m.lt(this_left, w16)?;
            m.mux(lt, this_left, w16)?
        };
        let used = {
            let c = m.zext(cnt.q, cb + 3)?;
            let f = m.zext(infl.q, cb + 3)?;
            let s = m.add(c, f)?;
            let t = m.zext(this_chunk, cb + 3)?;
            let s = m.add(s, t)?;
            m.resize(s, cb + 3)?
        };
        let cap = m.const_u(cb + 3, qb as u128)?;
        let room = m.cmp(CmpOp::Le, used, cap)?;
        // After a DRAM row's last read, wait until its end has been flushed, so the
        // next row's bytes start a fresh beat (a new DMA command).
        let hold = m.reg("hold", 1, false, RegOpts::new().reset_zero(1))?;
        let nhold = m.not(hold.q)?;
        let can_read = m.and(s_run, more_read)?;
        let can_read = m.and(can_read, nhold)?;
        let can_read = m.and(can_read, room)?;
        let limit = {
            let sl = m.const_u(rb, p.spad_rows as u128)?;
            let al = m.const_u(rb, p.acc_rows as u128)?;
            m.mux(from_acc, al, sl)?
        };
        let in_range = m.lt(raddr.q, limit)?;
        let grant = m.mux(from_acc, acc_grant, spad_grant)?;
        let re = m.and(can_read, in_range)?;
        let re = m.and(re, grant)?;
        let range_err = {
            let n = m.not(in_range)?;
            m.and(can_read, n)?
        };
        let rdata = {
            let sd = m.zext(spad_rdata, 8 * rw)?;
            let ad = m.zext(acc_rdata, 8 * rw)?;
            m.mux(from_acc, ad, sd)?
        };
        let rem = m.sub(this_left, this_chunk)?;
        let rem = m.resize(rem, 16)?;
        let lv = m.mux(re, rem, left.q)?;
        let lv = m.mux(go, z16, lv)?;
        m.connect(left, lv)?;
        let row_end = m.eq(rem, z16)?;
        let rr_inc = m.and(re, row_end)?;
        let rr = m.add(r_read.q, c1_12)?;
        let rr = m.resize(rr, 12)?;
        let rr = m.mux(rr_inc, rr, r_read.q)?;
        let rr = m.mux(go, z12, rr)?;
        m.connect(r_read, rr)?;
        let c1r = m.const_u(rb, 1)?;
        let ra = m.add(raddr.q, c1r)?;
        let ra = m.resize(ra, rb)?;
        let ra = m.mux(re, ra, raddr.q)?;
        let spad_w = m.zext(f_spad, rb)?;
        let ra = m.mux(go, spad_w, ra)?;
        m.connect(raddr, ra)?;
        // The read's byte count and row end travel with it through the latency.
        let tag_in = m.concat(&[row_end, this_chunk])?;
        let mut tag = tag_in;
        let mut tv = re;
        for i in 0..lat {
            tag = m.reg_next(&format!("rtag{i}"), tag, RegOpts::new())?;
            tv = m.reg_next(&format!("rvalid{i}"), tv, RegOpts::new().reset_zero(1))?;
        }
        let d_n = m.slice(tag, 15, 0)?;
        let d_end = m.bit(tag, 16)?;
        // Reads returning this cycle are enqueued unconditionally (room was reserved).
        let enq = tv;

        // ---- byte queue to the write DMA.
        let q = m.reg("bq", 8 * qb, false, RegOpts::new())?;
        let flushing = m.reg("bq_flush", 1, false, RegOpts::new().reset_zero(1))?;
        let ac = m.const_u(cb, a as u128)?;
        let zc = m.const_u(cb, 0)?;
        let full_beat = m.cmp(CmpOp::Ge, cnt.q, ac)?;
        let nonempty = m.cmp(CmpOp::Ne, cnt.q, zc)?;
        let part = m.and(flushing.q, nonempty)?;
        let nfb = m.not(full_beat)?;
        let part = m.and(part, nfb)?;
        let want = m.or(full_beat, part)?;
        let in_ready = m.wire("dma_in_ready", 1, false)?;
        let active = m.or(s_run, s_drain)?;
        let deq = m.and(want, in_ready)?;
        let deq = m.and(deq, active)?;
        let beat = m.slice(q.q, 8 * a - 1, 0)?;
        let ashift = m.shr(q.q, 8 * a)?;
        let zq = m.const_u(8 * qb, 0)?;
        let q_after = m.mux(full_beat, ashift, zq)?;
        let q_after = m.mux(deq, q_after, q.q)?;
        let cm = m.sub(cnt.q, ac)?;
        let cm = m.resize(cm, cb)?;
        let c_after = m.mux(full_beat, cm, zc)?;
        let c_after = m.mux(deq, c_after, cnt.q)?;
        // Keep only the row's needed bytes: (1 << 8n) - 1 over W bytes.
        let nmask = {
            let n3 = m.zext(d_n, 19)?;
            let n8 = m.shl(n3, 3)?;
            let unit = m.const_u(8 * rw + 1, 1)?;
            let pw = m.shift(ShiftOp::Shl, unit, ShiftAmt::Sig(n8))?;
            let c1 = m.const_u(8 * rw + 1, 1)?;
            let mk = m.sub(pw, c1)?;
            m.slice(mk, 8 * rw - 1, 0)?
        };
        let row = m.and(rdata, nmask)?;
        let row_w = m.zext(row, 8 * qb)?;
        let pos = {
            let z = m.zext(c_after, cb + 3)?;
            m.shl(z, 3)?
        };
        let ins = m.shift(ShiftOp::Shl, row_w, ShiftAmt::Sig(pos))?;
        let with_row = m.or(q_after, ins)?;
        let qn = m.mux(enq, with_row, q_after)?;
        let st_go = m.or(go, take)?;
        let qn = m.mux(st_go, zq, qn)?;
        m.connect(q, qn)?;
        let dn_c = m.resize(d_n, cb)?;
        let cplus = m.add(c_after, dn_c)?;
        let cplus = m.resize(cplus, cb)?;
        let cn = m.mux(enq, cplus, c_after)?;
        let cn = m.mux(st_go, zc, cn)?;
        m.connect(cnt, cn)?;
        // In-flight bytes: + this read, - what returned.
        let t_in = m.zext(this_chunk, cb + 2)?;
        let zf = m.const_u(cb + 2, 0)?;
        let add = m.mux(re, t_in, zf)?;
        let d_in = m.zext(d_n, cb + 2)?;
        let sub = m.mux(enq, d_in, zf)?;
        let f1 = m.add(infl.q, add)?;
        let f1 = m.resize(f1, cb + 2)?;
        let f2 = m.sub(f1, sub)?;
        let f2 = m.resize(f2, cb + 2)?;
        m.connect(infl, f2)?;
        // A DRAM row's end: once its last read is in, flush the partial beat. Ends
        // may queue up behind the queue's contents; `ends` counts those not flushed.
        let end_in = m.and(enq, d_end)?;
        let cn_zero = m.eq(cn, zc)?;
        let nfl = m.not(flushing.q)?;
        let start_flush = m.and(end_in, nfl)?;
        let cn_nz = m.not(cn_zero)?;
        let keep_f = m.and(flushing.q, cn_nz)?;
        let fl = m.or(start_flush, keep_f)?;
        let fl = m.mux(st_go, zero1, fl)?;
        m.connect(flushing, fl)?;
        // The hold ends when the flush has emptied the queue.
        let flush_done = m.and(flushing.q, cn_zero)?;
        let hv = m.mux(rr_inc, one1, hold.q)?;
        let hv = m.mux(flush_done, zero1, hv)?;
        let hv = m.mux(st_go, zero1, hv)?;
        m.connect(hold, hv)?;

        // The write DMA; draining cancels its remaining beats.
        let want_active = m.and(want, s_run)?;
        let dma = m.instance(
            &dma_mod,
            "wr",
            &[
                ("cmd_valid", cmd_valid),
                ("cmd_addr", cur.q),
                ("cmd_len", len32),
                ("in_data", beat),
                ("in_valid", want_active),
                ("cancel", s_drain),
                (&format!("{GMEM}awready"), awready),
                (&format!("{GMEM}wready"), wready),
                (&format!("{GMEM}bresp"), bresp),
                (&format!("{GMEM}bvalid"), bvalid),
            ],
        )?;
        m.drive(dma_cmd_ready, dma.out("cmd_ready")?)?;
        m.drive(in_ready, dma.out("in_ready")?)?;
        let dma_done = dma.out("done")?;
        let dma_err = dma.out("error")?;

        // ---- completion, errors, state.
        let r_done = m.reg("r_done", 12, false, RegOpts::new().reset_zero(12))?;
        let rd = m.add(r_done.q, c1_12)?;
        let rd = m.resize(rd, 12)?;
        let rd = m.mux(dma_done, rd, r_done.q)?;
        let rd = m.mux(go, z12, rd)?;
        m.connect(r_done, rd)?;
        let all_done = m.eq(r_done.q, f_rows)?;
        let ok_run = m.and(s_run, all_done)?;
        // Every response of the instruction is in before it finishes.
        let dbusy = dma.out("busy")?;
        let nbusy = m.not(dbusy)?;
        let ok_run = m.and(ok_run, nbusy)?;
        let npush = m.not(push_prev)?;
        let push_ok = m.or(npush, tok_room)?;
        let finish = m.and(s_fin, push_ok)?;
        let tok_push = m.and(finish, push_prev)?;
        let axi_err = m.and(dma_err, s_run)?;
        let err_now = m.or(range_err, axi_err)?;
        let err_now = m.or(err_now, acc_err)?;
        // Draining: every command issued has finished and nothing is in flight.
        let settled = m.eq(r_done.q, r_cmd.q)?;
        let drained = m.and(settled, nbusy)?;
        let drained = m.and(drained, s_drain)?;
        let running_any = {
            let t = m.or(s_wait, s_run)?;
            m.or(t, s_fin)?
        };
        let abort_now = m.and(abort, running_any)?;
        let to_drain = m.or(err_now, abort_now)?;
        let next = m.priority(
            &[
                (to_drain, k[4]),
                (take, k[1]),
                (go, k[2]),
                (ok_run, k[3]),
                (finish, k[0]),
                (drained, k[0]),
            ],
            st.q,
        )?;
        m.connect(st, next)?;
        // While draining, reads stop and the DMA completes its issued bursts with no
        // byte enabled; queued bytes are dropped.

        let err_code = {
            let c1 = m.const_u(8, 1)?;
            let c2 = m.const_u(8, 2)?;
            let c3 = m.const_u(8, 3)?;
            m.priority(&[(acc_err, c1), (range_err, c2)], c3)?
        };
        let err_valid = m.reg_next("err_valid_q", err_now, RegOpts::new().reset_zero(1))?;
        let err_code_q = m.reg_next("err_code_q", err_code, RegOpts::new().enable(err_now))?;
        let idle_now = m.eq(next, k[0])?;
        let idle_q = m.reg_next(
            "idle_q",
            idle_now,
            RegOpts::new().reset_to(Value::from_u128(1, 1).expect("1 bit")),
        )?;
        let prog = m.or(re, deq)?;
        let prog = m.or(prog, dma_done)?;

        m.output("in_ready", take)?;
        m.output("tok_pop", tok_pop)?;
        m.output("tok_push", tok_push)?;
        let nfa = m.not(from_acc)?;
        let s_re = m.and(re, nfa)?;
        m.output("spad_re", s_re)?;
        m.output("spad_raddr", raddr.q)?;
        if has_acc {
            let a_re = m.and(re, from_acc)?;
            m.output("acc_re", a_re)?;
            m.output("acc_raddr", raddr.q)?;
        }
        for port in [
            "awaddr", "awlen", "awsize", "awburst", "awvalid", "wdata", "wstrb", "wlast", "wvalid",
            "bready",
        ] {
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
