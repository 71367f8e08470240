//! The write DMA: one command (byte address, byte length) takes a stream of
//! full-width beats, packed from byte 0, and writes those bytes to memory with AXI4
//! INCR write bursts.
//!
//! - **Bursts:** beat-aligned, at most 256 beats, never across a 4 KB boundary; up to
//!   `max_outstanding` without their write response. `WSTRB` marks exactly the
//!   command's bytes in the first and last beats.
//! - **Realignment:** memory beat j holds stream bytes `jB - o .. (j+1)B - o`, with o
//!   the address's offset in the beat: `({in[j], in[j-1]} << 8o)`, upper half.
//! - **Order:** a burst's W beats follow its AW handshake; W beats and `WLAST` come
//!   from a queue of burst lengths filled when each AW is issued.
//! - **Abort:** while `cancel` is high no new burst is issued, the bursts already
//!   issued are completed with beats whose WSTRB is 0 (nothing is written), input
//!   beats are dropped (the source must offer none), and the command ends with `done` once their responses are in.
//! - **Completion:** a command is done when all its bursts and beats are issued
//!   (`done` pulses, `cmd_ready` rises), so the next command's bursts follow at once
//!   while earlier responses are still due (up to `max_outstanding`); `busy` stays
//!   high until every response has arrived, so a source that waits for `busy` low
//!   knows its writes are in memory. Any `bresp` other than OKAY sets `error`, held
//!   until a command is accepted while no response is due.
//!
//! Ports: `cmd_valid`, `cmd_ready`, `cmd_addr`, `cmd_len` (32 bits, at least 1);
//! `in_data`, `in_valid`, `in_ready` (ceil(len / B) beats); `cancel`; `m_axi_gmem_awaddr`,
//! `awlen`, `awsize`, `awburst`, `awvalid`, `awready`, `wdata`, `wstrb`, `wlast`,
//! `wvalid`, `wready`, `bresp`, `bvalid`, `bready`; `done`, `error`, `busy`.

use std::rc::Rc;

use crate::accel::bursts::{burst_requests, BurstIn, CW};
use crate::accel::dma_read::{DmaParams, GMEM};
use crate::rtl::{
    CmpOp, Library, Module, ModuleBuilder, ReduceOp, RegOpts, RtlResult, ShiftAmt, ShiftOp, Value,
};
use crate::stream::{fifo, skid, Axis, FifoStorage};

/// Module name: every parameter is in it.
pub fn dma_write_name(p: &DmaParams) -> String {
    format!(
        "accgen_dma_write_d{}_a{}_o{}",
        p.data_bytes * 8,
        p.addr_bits,
        p.max_outstanding
    )
}

fn reset_to(width: u32, v: u128) -> RegOpts {
    RegOpts::new().reset_to(Value::from_u128(width, v).expect("reset fits"))
}

/// Build (or fetch) the write DMA for `p`.
pub fn dma_write(lib: &mut Library, p: &DmaParams) -> RtlResult<Rc<Module>> {
    let name = dma_write_name(p);
    let p = *p;
    lib.get_or_build(&name.clone(), move |lib| {
        let b = p.data_bytes;
        let lb = b.trailing_zeros();
        let dw = 8 * b;
        let aw = p.addr_bits;
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Write DMA: {dw}-bit AXI4 write bursts (<= 256 beats, no 4 KB crossing, {} awaiting responses), WSTRB from the byte range.",
            p.max_outstanding
        ));
        let cmd_valid = m.input("cmd_valid", 1, false)?;
        let cmd_addr = m.input("cmd_addr", aw, false)?;
        let cmd_len = m.input("cmd_len", 32, false)?;
        let in_data = m.input("in_data", dw, false)?;
        let in_valid = m.input("in_valid", 1, false)?;
        let abort = m.input("cancel", 1, false)?;
        let nabort = m.not(abort)?;
        let awready = m.input(&format!("{GMEM}awready"), 1, false)?;
        let wready = m.input(&format!("{GMEM}wready"), 1, false)?;
        let bresp = m.input(&format!("{GMEM}bresp"), 2, false)?;
        let bvalid = m.input(&format!("{GMEM}bvalid"), 1, false)?;

        let zero_c = m.const_u(CW, 0)?;
        let one_c = m.const_u(CW, 1)?;
        let zero1 = m.const_u(1, 0)?;
        let one1 = m.const_u(1, 1)?;

        // ---- command.
        let cmd_ready = m.reg("cmd_ready_q", 1, false, reset_to(1, 1))?;
        let accept = m.and(cmd_valid, cmd_ready.q)?;
        let off_now = m.slice(cmd_addr, lb - 1, 0)?;
        let off = m.reg_next("offset", off_now, RegOpts::new().enable(accept))?;
        let len_w = m.zext(cmd_len, CW)?;
        let off_w = m.zext(off_now, CW)?;
        let bm1 = m.const_u(CW, (b - 1) as u128)?;
        let t = m.add(off_w, len_w)?;
        let t = m.add(t, bm1)?;
        let t = m.resize(t, CW)?;
        let n_mem = m.shr(t, lb)?; // memory beats
        let t = m.add(len_w, bm1)?;
        let t = m.resize(t, CW)?;
        let n_in = m.shr(t, lb)?; // stream beats
        let len_zero = m.eq(len_w, zero_c)?;
        let n_mem = m.mux(len_zero, zero_c, n_mem)?;
        // Byte masks of the first and last memory beats.
        let ones_b = m.const_u(b, (1u128 << b) - 1)?;
        let first_mask_now = {
            let z = m.zext(off_now, lb + 1)?;
            m.shift(ShiftOp::Shl, ones_b, ShiftAmt::Sig(z))?
        };
        let last_mask_now = {
            // Bytes below ((off + len - 1) mod B) + 1.
            let e = m.add(off_w, len_w)?;
            let e = m.resize(e, CW)?;
            let e = m.sub(e, one_c)?;
            let e = m.resize(e, CW)?;
            let r = m.slice(e, lb - 1, 0)?;
            let r1 = m.zext(r, lb + 1)?;
            let c1 = m.const_u(lb + 1, 1)?;
            let r1 = m.add(r1, c1)?;
            let r1 = m.resize(r1, lb + 1)?;
            let unit = m.const_u(b + 1, 1)?;
            let pw = m.shift(ShiftOp::Shl, unit, ShiftAmt::Sig(r1))?;
            let c1b = m.const_u(b + 1, 1)?;
            let mk = m.sub(pw, c1b)?;
            m.slice(mk, b - 1, 0)?
        };
        let first_mask = m.reg_next("first_mask", first_mask_now, RegOpts::new().enable(accept))?;
        let last_mask = m.reg_next("last_mask", last_mask_now, RegOpts::new().enable(accept))?;

        // ---- AW generator (`answered`: a write response arrived).
        let b_hs_w = m.wire("b_hs", 1, false)?;
        let awg = burst_requests(
            &mut m,
            &BurstIn {
                prefix: "aw",
                addr_bits: aw,
                lb,
                max_outstanding: p.max_outstanding,
                cmd_addr,
                accept,
                beats: n_mem,
                ready: awready,
                answered: b_hs_w,
                stop: Some(abort),
            },
        )?;
        let (aw_hs, rl, av, o2) = (
            awg.handshake,
            awg.left_next,
            awg.valid_next,
            awg.outstanding_next,
        );
        let ob = o2.width();
        let one9 = m.const_u(9, 1)?;

        // Burst lengths for the W side, queued at each AW handshake.
        let q_depth = (p.max_outstanding + 1).next_power_of_two().max(2);
        let len_in = Axis {
            data: awg.beats,
            valid: aw_hs,
            last: None,
            user: None,
        };
        let lq_ready = m.wire("lq_ready", 1, false)?;
        let (lq, _lq_in_ready) = fifo(&mut m, lib, "lenq", &len_in, lq_ready, q_depth as usize, FifoStorage::Lutram)?;

        // ---- W side: the input stream enters a register slice, then is realigned
        // into memory beats.
        let take_w = m.wire("take_in", 1, false)?;
        let in_s = Axis {
            data: in_data,
            valid: in_valid,
            last: None,
            user: None,
        };
        let (sin, in_ready) = skid(&mut m, "inslice", &in_s, take_w)?;
        let (in_data, in_valid) = (sin.data, sin.valid);
        let mem_left = m.reg("mem_left", CW, false, RegOpts::new().reset_zero(CW))?;
        let in_left = m.reg("in_left", CW, false, RegOpts::new().reset_zero(CW))?;
        let first = m.reg("first_beat", 1, false, RegOpts::new().reset_zero(1))?;
        let prev = m.reg("prev", dw, false, RegOpts::new())?;
        let burst_left = m.reg("burst_left", 9, false, RegOpts::new().reset_zero(9))?;
        let w_ready_s = m.wire("w_ready_s", 1, false)?;
        // A burst is open when burst_left != 0; open the next one from the queue.
        let zero9 = m.const_u(9, 0)?;
        let open = m.cmp(CmpOp::Ne, burst_left.q, zero9)?;
        let nopen = m.not(open)?;
        m.drive(lq_ready, nopen)?;
        let lq_len = m.mux(lq.valid, lq.data, zero9)?;
        let bl_cur = m.mux(open, burst_left.q, lq_len)?;
        let have_burst = m.or(open, lq.valid)?;
        // The memory beat needs stream beat j (unless all stream beats are in) and
        // the previous one (held in `prev`).
        let in_nz = m.cmp(CmpOp::Ne, in_left.q, zero_c)?;
        let mem_nz = m.cmp(CmpOp::Ne, mem_left.q, zero_c)?;
        let need_in = m.and(in_nz, mem_nz)?;
        let nneed = m.not(need_in)?;
        let data_ok = m.or(nneed, in_valid)?;
        // Aborting: the bursts already issued get their beats with no byte enabled.
        let data_ok = m.or(data_ok, abort)?;
        let c2 = m.and(have_burst, mem_nz)?;
        let w_valid = m.and(c2, data_ok)?;
        let w_fire = m.and(w_valid, w_ready_s)?;
        // Stream beat j is consumed by memory beat j; a final memory beat (when the
        // offset pushes the range into one more beat) uses `prev` only.
        let take_in = m.and(w_fire, need_in)?;
        let take_in = m.and(take_in, nabort)?;
        // Cancelled: whatever sits in the input slice is dropped, so the next command
        // starts clean (the source offers nothing meanwhile).
        let discard = m.and(abort, in_valid)?;
        let tw = m.or(take_in, discard)?;
        m.drive(take_w, tw)?;
        let zero_d = m.const_u(dw, 0)?;
        let cur = m.mux(need_in, in_data, zero_d)?;
        let pv_or_zero = m.mux(first.q, zero_d, prev.q)?;
        let pair = m.concat(&[cur, pv_or_zero])?;
        let amt = {
            let z = m.zext(off, lb + 3)?;
            m.shl(z, 3)?
        };
        let shifted = m.shift(ShiftOp::Shl, pair, ShiftAmt::Sig(amt))?;
        let wdata = m.slice(shifted, 2 * dw - 1, dw)?;
        let is_last_mem = m.eq(mem_left.q, one_c)?;
        let m1 = m.mux(first.q, first_mask, ones_b)?;
        let m2 = m.mux(is_last_mem, last_mask, ones_b)?;
        let wstrb = m.and(m1, m2)?;
        let zs = m.const_u(b, 0)?;
        let wstrb = m.mux(abort, zs, wstrb)?;
        let is_wlast = m.eq(bl_cur, one9)?;
        let pv = m.mux(take_in, in_data, prev.q)?;
        m.connect(prev, pv)?;
        let fb = m.mux(w_fire, zero1, first.q)?;
        let fb = m.mux(accept, one1, fb)?;
        m.connect(first, fb)?;
        let bl_dec = m.sub(bl_cur, one9)?;
        let bl_dec = m.resize(bl_dec, 9)?;
        let bl = m.mux(w_fire, bl_dec, bl_cur)?;
        m.connect(burst_left, bl)?;
        let ml_dec = m.sub(mem_left.q, one_c)?;
        let ml_dec = m.resize(ml_dec, CW)?;
        let ml = m.mux(w_fire, ml_dec, mem_left.q)?;
        let ml = m.mux(accept, n_mem, ml)?;
        m.connect(mem_left, ml)?;
        let il_dec = m.sub(in_left.q, one_c)?;
        let il_dec = m.resize(il_dec, CW)?;
        let il = m.mux(take_in, il_dec, in_left.q)?;
        let il = m.mux(accept, n_in, il)?;
        m.connect(in_left, il)?;
        let w_s = Axis {
            data: m.concat(&[wstrb, wdata])?,
            valid: w_valid,
            last: Some(is_wlast),
            user: None,
        };
        let (w_out, w_rdy) = skid(&mut m, "wslice", &w_s, wready)?;
        m.drive(w_ready_s, w_rdy)?;

        // ---- B responses.
        let bready = m.reg("bready_q", 1, false, reset_to(1, 1))?;
        m.connect(bready, one1)?;
        let b_hs = m.and(bvalid, bready.q)?;
        m.drive(b_hs_w, b_hs)?;
        let err = m.reg("error_q", 1, false, RegOpts::new().reset_zero(1))?;
        let bad = m.reduce(ReduceOp::Or, bresp)?;
        let bad_b = m.and(b_hs, bad)?;
        let e1 = m.or(err.q, bad_b)?;
        let quiet = m.reg("quiet_q", 1, false, reset_to(1, 1))?;
        let clear = m.and(accept, quiet.q)?;
        let e = m.mux(clear, zero1, e1)?;
        m.connect(err, e)?;
        // Done: nothing left to request, send or hear back.
        let active = m.reg("active", 1, false, RegOpts::new().reset_zero(1))?;
        let rl_z = m.eq(rl, zero_c)?;
        let ml_z = m.eq(ml, zero_c)?;
        let zo = m.const_u(ob, 0)?;
        let b_z = m.eq(o2, zo)?;
        let nav_n = m.not(av)?;
        m.connect(quiet, b_z)?;
        let z1 = m.and(rl_z, ml_z)?;
        let z2 = m.and(b_z, nav_n)?;
        let all_done = m.and(z1, nav_n)?;
        // Aborted: no address waiting, no response due, no burst open or queued.
        let ab_done = {
            let blz = m.eq(bl, zero9)?;
            let nlq = m.not(lq.valid)?;
            let t = m.and(z2, blz)?;
            let t = m.and(t, nlq)?;
            m.and(t, abort)?
        };
        let all_done = m.or(all_done, ab_done)?;
        let nd = m.not(all_done)?;
        let still = m.and(active.q, nd)?;
        let act_n = m.or(accept, still)?;
        m.connect(active, act_n)?;
        let finishing = m.and(active.q, all_done)?;
        let nacc = m.not(accept)?;
        let done_now = m.and(finishing, nacc)?;
        let done = m.reg_next("done_q", done_now, RegOpts::new().reset_zero(1))?;
        let nact = m.not(act_n)?;
        m.connect(cmd_ready, nact)?;

        m.output("cmd_ready", cmd_ready.q)?;
        m.output("in_ready", in_ready)?;
        m.output(&format!("{GMEM}awaddr"), awg.addr)?;
        m.output(&format!("{GMEM}awlen"), awg.len)?;
        let size = m.const_u(3, lb as u128)?;
        m.output(&format!("{GMEM}awsize"), size)?;
        let incr = m.const_u(2, 1)?;
        m.output(&format!("{GMEM}awburst"), incr)?;
        m.output(&format!("{GMEM}awvalid"), awg.valid)?;
        let w_strb = m.slice(w_out.data, dw + b - 1, dw)?;
        let w_data = m.slice(w_out.data, dw - 1, 0)?;
        m.output(&format!("{GMEM}wdata"), w_data)?;
        m.output(&format!("{GMEM}wstrb"), w_strb)?;
        m.output(&format!("{GMEM}wlast"), w_out.last.expect("last"))?;
        m.output(&format!("{GMEM}wvalid"), w_out.valid)?;
        m.output(&format!("{GMEM}bready"), bready.q)?;
        m.output("done", done)?;
        m.output("error", err.q)?;
        let nq = m.not(quiet.q)?;
        let busy = m.or(active.q, nq)?;
        m.output("busy", busy)?;
        m.finish()
    })
}
