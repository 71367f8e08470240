//! The read DMA: one command (byte address, byte length) becomes AXI4 INCR read
//! bursts, and the bytes come out as a stream of full-width beats starting at the
//! command's first byte.
//!
//! - **Bursts:** beat-aligned, at most 256 beats, never across a 4 KB boundary; up to
//!   `max_outstanding` in flight. The first and last beats may hold bytes outside the
//!   range; they are dropped.
//! - **Realignment:** output beat j is bytes `[addr + jB, addr + (j+1)B)`: the
//!   concatenation of input beats j and j+1 shifted right by the address's offset in
//!   the beat (B = data bytes). The last output beat's `out_keep` marks its valid
//!   bytes (from byte 0), and `out_last` is set on it.
//! - **Errors:** an output beat's `out_error` is set when it or an earlier output
//!   beat of the command holds bytes of an input beat whose `rresp` was not OKAY (so
//!   the last beat tells, and the first flagged beat is the first with bad bytes); the
//!   data still flows, so the engine finishes and reports the error.
//! - **Streams:** `m_axi_gmem_r*` enters a register slice, the realigner feeds another
//!   one to `out_*`; every output is a register.
//! - **Commands:** a command is taken as soon as the previous one's requests have all
//!   been issued; up to [`meta_depth`] commands wait for the realigner, so short
//!   transfers do not each pay the memory latency. `busy` is high while any command is
//!   unfinished.
//!
//! Ports: `cmd_valid`, `cmd_ready`, `cmd_addr` (`addr_bits`), `cmd_len` (32 bits, at
//! least 1); `m_axi_gmem_araddr`, `arlen`, `arsize`, `arburst`, `arvalid`, `arready`,
//! `rdata`, `rresp`, `rlast`, `rvalid`, `rready`; `out_data`, `out_keep` (one bit per
//! byte), `out_last`, `out_error`, `out_valid`, `out_ready`; `busy`.

use std::rc::Rc;

use crate::accel::bursts::{burst_requests, BurstIn, CW};
use crate::rtl::{
    CmpOp, Library, Module, ModuleBuilder, ReduceOp, RegOpts, RtlResult, ShiftAmt, ShiftOp, Value,
};
use crate::stream::{skid, Axis};

/// Parameters of a read DMA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaParams {
    /// Bytes per AXI data beat: 8, 16, 32 or 64.
    pub data_bytes: u32,
    /// AXI address bits, 32..=64.
    pub addr_bits: u32,
    /// Read bursts in flight, 1..=64.
    pub max_outstanding: u32,
}

/// Commands that may wait for the realigner: `max_outstanding` rounded up to a power
/// of two, at least 4, so that short transfers are limited by the reads in flight and
/// not by the command queue.
pub fn meta_depth(p: &DmaParams) -> u32 {
    p.max_outstanding.next_power_of_two().max(4)
}

/// Prefix of the AXI4 master ports.
pub const GMEM: &str = "m_axi_gmem_";

/// Module name: every parameter is in it.
pub fn dma_read_name(p: &DmaParams) -> String {
    format!(
        "accgen_dma_read_d{}_a{}_o{}",
        p.data_bytes * 8,
        p.addr_bits,
        p.max_outstanding
    )
}

fn reset_to(width: u32, v: u128) -> RegOpts {
    RegOpts::new().reset_to(Value::from_u128(width, v).expect("reset fits"))
}

/// Build (or fetch) the read DMA for `p`.
pub fn dma_read(lib: &mut Library, p: &DmaParams) -> RtlResult<Rc<Module>> {
    let name = dma_read_name(p);
    lib.get_or_build(&name.clone(), |lib| {
        let b = p.data_bytes;
        let lb = b.trailing_zeros();
        let dw = 8 * b;
        let aw = p.addr_bits;
                let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Read DMA: {dw}-bit AXI4 bursts (<= 256 beats, no 4 KB crossing, {} in flight), realigned byte stream out.",
            p.max_outstanding
        ));
        let cmd_valid = m.input("cmd_valid", 1, false)?;
        let cmd_addr = m.input("cmd_addr", aw, false)?;
        let cmd_len = m.input("cmd_len", 32, false)?;
        let arready = m.input(&format!("{GMEM}arready"), 1, false)?;
        let rdata = m.input(&format!("{GMEM}rdata"), dw, false)?;
        let rresp = m.input(&format!("{GMEM}rresp"), 2, false)?;
        let rlast = m.input(&format!("{GMEM}rlast"), 1, false)?;
        let rvalid = m.input(&format!("{GMEM}rvalid"), 1, false)?;
        let out_ready = m.input("out_ready", 1, false)?;

        let one_c = m.const_u(CW, 1)?;
        let zero_c = m.const_u(CW, 0)?;

        // ---- command.
        let cmd_ready = m.reg("cmd_ready_q", 1, false, reset_to(1, 1))?;
        let accept = m.and(cmd_valid, cmd_ready.q)?;
        let off_now = m.slice(cmd_addr, lb - 1, 0)?;
        let len_w = m.zext(cmd_len, CW)?;
        let off_w = m.zext(off_now, CW)?;
        let bm1 = m.const_u(CW, (b - 1) as u128)?;
        let t = m.add(off_w, len_w)?;
        let t = m.add(t, bm1)?;
        let t = m.resize(t, CW)?;
        let n_in = m.shr(t, lb)?;
        // An empty command fetches nothing.
        let len_zero = m.eq(len_w, zero_c)?;
        let n_in = m.mux(len_zero, zero_c, n_in)?;
        let t = m.add(len_w, bm1)?;
        let t = m.resize(t, CW)?;
        let n_out = m.shr(t, lb)?;
        // Valid bytes of the last output beat, ((len - 1) mod B) + 1, as a mask from
        // byte 0: (1 << (rem + 1)) - 1.
        let c1_32 = m.const_u(32, 1)?;
        let lm1 = m.sub(cmd_len, c1_32)?;
        let lm1 = m.resize(lm1, 32)?;
        let rem = m.slice(lm1, lb - 1, 0)?;
        let rem1 = m.zext(rem, lb + 1)?;
        let c1_l = m.const_u(lb + 1, 1)?;
        let rem1 = m.add(rem1, c1_l)?;
        let rem1 = m.resize(rem1, lb + 1)?;
        let unit = m.const_u(b + 1, 1)?;
        let pw = m.shift(ShiftOp::Shl, unit, ShiftAmt::Sig(rem1))?;
        let c1_b = m.const_u(b + 1, 1)?;
        let mask = m.sub(pw, c1_b)?;
        let last_keep_now = m.slice(mask, b - 1, 0)?;
        let keep_all = m.const_u(b, (1u128 << b) - 1)?;
        // The realigner's parameters of each command wait in a queue, so the next
        // command's requests go out while the previous one's data still arrives.
        let meta_in = Axis {
            data: m.concat(&[off_now, n_in, n_out, last_keep_now])?,
            valid: accept,
            last: None,
            user: None,
        };
        let start_cmd = m.wire("start_cmd", 1, false)?;
        let (meta, _meta_room) = crate::stream::fifo(
            &mut m,
            lib,
            "metaq",
            &meta_in,
            start_cmd,
            meta_depth(p) as usize,
            crate::stream::FifoStorage::Lutram,
        )?;
        let mk0 = 0;
        let mk1 = mk0 + b;
        let m_keep = m.slice(meta.data, mk1 - 1, mk0)?;
        let m_out = m.slice(meta.data, mk1 + CW - 1, mk1)?;
        let m_in = m.slice(meta.data, mk1 + 2 * CW - 1, mk1 + CW)?;
        let m_off = m.slice(meta.data, mk1 + 2 * CW + lb - 1, mk1 + 2 * CW)?;
        let off = m.reg_next("offset", m_off, RegOpts::new().enable(start_cmd))?;
        let last_keep = m.reg_next("last_keep", m_keep, RegOpts::new().enable(start_cmd))?;

        // ---- request generator (`answered`: a burst's last beat arrived).
        let r_done_w = m.wire("r_done", 1, false)?;
        let ar = burst_requests(
            &mut m,
            &BurstIn {
                prefix: "ar",
                addr_bits: aw,
                lb,
                max_outstanding: p.max_outstanding,
                cmd_addr,
                accept,
                beats: n_in,
                ready: arready,
                answered: r_done_w,
                stop: None,
            },
        )?;
        let (rl, av) = (ar.left_next, ar.valid_next);

        // ---- read data: register slice, then the realigner.
        let r_in = Axis {
            data: rdata,
            valid: rvalid,
            last: Some(rlast),
            user: Some(rresp),
        };
        let s1_ready = m.wire("s1_ready", 1, false)?;
        let (s1, rready) = skid(&mut m, "rslice", &r_in, s1_ready)?;
        let r_hs = m.and(rvalid, rready)?;
        let r_done = m.and(r_hs, rlast)?;
        m.drive(r_done_w, r_done)?;

        let in_left = m.reg("in_left", CW, false, RegOpts::new().reset_zero(CW))?;
        let out_left = m.reg("out_left", CW, false, RegOpts::new().reset_zero(CW))?;
        let have_prev = m.reg("have_prev", 1, false, RegOpts::new().reset_zero(1))?;
        let prev = m.reg("prev", dw, false, RegOpts::new())?;
        let s2_ready = m.wire("s2_ready", 1, false)?;
        let in_nz = m.cmp(CmpOp::Ne, in_left.q, zero_c)?;
        let out_nz = m.cmp(CmpOp::Ne, out_left.q, zero_c)?;
        let in_zero = m.not(in_nz)?;
        let flush = m.and(in_zero, out_nz)?;
        let in_valid = m.and(s1.valid, in_nz)?;
        let emit_in = m.and(in_valid, have_prev.q)?;
        let out_valid = m.or(flush, emit_in)?;
        let nhp = m.not(have_prev.q)?;
        let can_take = m.or(nhp, s2_ready)?;
        let take_in = m.and(in_valid, can_take)?;
        m.drive(s1_ready, take_in)?;
        let out_fire = m.and(out_valid, s2_ready)?;
        let pv = m.mux(take_in, s1.data, prev.q)?;
        m.connect(prev, pv)?;
        let one1 = m.const_u(1, 1)?;
        let zero1 = m.const_u(1, 0)?;
        let hp = m.mux(take_in, one1, have_prev.q)?;
        let hp = m.mux(start_cmd, zero1, hp)?;
        m.connect(have_prev, hp)?;
        let il_dec = m.sub(in_left.q, one_c)?;
        let il_dec = m.resize(il_dec, CW)?;
        let il = m.mux(take_in, il_dec, in_left.q)?;
        let il = m.mux(start_cmd, m_in, il)?;
        m.connect(in_left, il)?;
        let ol_dec = m.sub(out_left.q, one_c)?;
        let ol_dec = m.resize(ol_dec, CW)?;
        let ol = m.mux(out_fire, ol_dec, out_left.q)?;
        let ol = m.mux(start_cmd, m_out, ol)?;
        m.connect(out_left, ol)?;
        // Output beat: ({next, prev} >> 8 * offset), next = 0 on the flush.
        let zero_d = m.const_u(dw, 0)?;
        let next = m.mux(flush, zero_d, s1.data)?;
        let pair = m.concat(&[next, prev.q])?;
        let amt = {
            let z = m.zext(off, lb + 3)?;
            m.shl(z, 3)?
        };
        let shifted = m.shift(ShiftOp::Shr, pair, ShiftAmt::Sig(amt))?;
        let out_data = m.slice(shifted, dw - 1, 0)?;
        let is_last = m.eq(out_left.q, one_c)?;
        let keep = m.mux(is_last, last_keep, keep_all)?;
        // Errors: an output beat is flagged when it, or an earlier beat of the
        // command, holds bytes of an input beat that answered an error. `prev_bad` is
        // the flag of the beat in `prev`; `err_hist` covers beats already passed on.
        let err = m.reg("error_q", 1, false, RegOpts::new().reset_zero(1))?;
        let prev_bad = m.reg("prev_bad", 1, false, RegOpts::new().reset_zero(1))?;
        let resp = s1.user.expect("rresp rides as user");
        let bad = m.reduce(ReduceOp::Or, resp)?;
        let z_off = m.const_u(lb, 0)?;
        let off_nz = m.cmp(CmpOp::Ne, off, z_off)?;
        let nflush = m.not(flush)?;
        let cur_counts = m.and(off_nz, nflush)?;
        let cur_bad = m.and(cur_counts, bad)?;
        let h1 = m.or(err.q, prev_bad.q)?;
        let e1 = m.or(h1, cur_bad)?;
        // When a new beat enters `prev`, the old one has been passed on.
        let passed = m.and(take_in, have_prev.q)?;
        let eh = m.mux(passed, h1, err.q)?;
        let eh = m.mux(start_cmd, zero1, eh)?;
        m.connect(err, eh)?;
        let pb = m.mux(take_in, bad, prev_bad.q)?;
        let pb = m.mux(start_cmd, zero1, pb)?;
        m.connect(prev_bad, pb)?;
        let out_s = Axis {
            data: m.concat(&[keep, out_data])?,
            valid: out_valid,
            last: Some(is_last),
            user: Some(e1),
        };
        let (s2, s2_rdy) = skid(&mut m, "oslice", &out_s, out_ready)?;
        m.drive(s2_ready, s2_rdy)?;

        // ---- command readiness: the request generator is free and the queue of
        // commands waiting for the realigner has room.
        let realign_idle = {
            let a = m.eq(in_left.q, zero_c)?;
            let b2 = m.eq(out_left.q, zero_c)?;
            m.and(a, b2)?
        };
        let sc = m.and(realign_idle, meta.valid)?;
        m.drive(start_cmd, sc)?;
        let md = meta_depth(p);
        let mb = 32 - md.leading_zeros() + 1;
        let meta_cnt = m.reg("meta_count", mb, false, RegOpts::new().reset_zero(mb))?;
        let inc = m.zext(accept, mb)?;
        let dec = m.zext(sc, mb)?;
        let c1m = m.add(meta_cnt.q, inc)?;
        let c1m = m.resize(c1m, mb)?;
        let c2m = m.sub(c1m, dec)?;
        let c2m = m.resize(c2m, mb)?;
        m.connect(meta_cnt, c2m)?;
        let depth_c = m.const_u(mb, md as u128)?;
        let meta_room = m.lt(c2m, depth_c)?;
        let gen_free = {
            let a = m.eq(rl, zero_c)?;
            let nav2 = m.not(av)?;
            m.and(a, nav2)?
        };
        let ready_next = m.and(gen_free, meta_room)?;
        m.connect(cmd_ready, ready_next)?;
        let zm = m.const_u(mb, 0)?;
        let meta_busy = m.cmp(CmpOp::Ne, c2m, zm)?;
        let ol_nz_next = m.cmp(CmpOp::Ne, ol, zero_c)?;
        let gen_busy = m.not(gen_free)?;
        let busy_next = m.or(meta_busy, ol_nz_next)?;
        let busy_next = m.or(busy_next, gen_busy)?;
        let busy = m.reg_next("busy_q", busy_next, RegOpts::new().reset_zero(1))?;

        m.output("cmd_ready", cmd_ready.q)?;
        m.output(&format!("{GMEM}araddr"), ar.addr)?;
        m.output(&format!("{GMEM}arlen"), ar.len)?;
        let size = m.const_u(3, lb as u128)?;
        m.output(&format!("{GMEM}arsize"), size)?;
        let incr = m.const_u(2, 1)?;
        m.output(&format!("{GMEM}arburst"), incr)?;
        m.output(&format!("{GMEM}arvalid"), ar.valid)?;
        m.output(&format!("{GMEM}rready"), rready)?;
        let s2_keep = m.slice(s2.data, dw + b - 1, dw)?;
        let s2_data = m.slice(s2.data, dw - 1, 0)?;
        m.output("out_data", s2_data)?;
        m.output("out_keep", s2_keep)?;
        m.output("out_last", s2.last.expect("last"))?;
        m.output("out_valid", s2.valid)?;
        m.output("out_error", s2.user.expect("error rides as user"))?;
        m.output("busy", busy)?;
        m.finish()
    })
}
