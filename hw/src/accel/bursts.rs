//! The burst request generator shared by the read and write DMAs: it walks a
//! command's beat-aligned range and issues INCR bursts of at most 256 beats that never
//! cross a 4 KB boundary, with at most `max_outstanding` bursts unanswered.

use crate::rtl::{CmpOp, ModuleBuilder, RegOpts, RtlResult, Sig};

/// Width of the beat counters: up to (2^32 + 64) / 8 beats.
pub const CW: u32 = 34;

/// Inputs of [`burst_requests`].
pub struct BurstIn {
    /// `ar` or `aw`: the prefix of the register names.
    pub prefix: &'static str,
    /// Address bits.
    pub addr_bits: u32,
    /// log2 of the bytes per beat.
    pub lb: u32,
    /// Bursts in flight at most.
    pub max_outstanding: u32,
    /// The command's first byte address (taken when `accept` is high).
    pub cmd_addr: Sig,
    /// A new command starts.
    pub accept: Sig,
    /// The command's beats (taken with `accept`).
    pub beats: Sig,
    /// The address channel's `ready`.
    pub ready: Sig,
    /// A burst was answered this cycle (its last read beat, or its write response).
    pub answered: Sig,
    /// While high no burst is issued and the rest of the command is dropped.
    pub stop: Option<Sig>,
}

/// Outputs of [`burst_requests`].
pub struct Bursts {
    /// The address channel's `valid` (a register).
    pub valid: Sig,
    /// Its address (a register).
    pub addr: Sig,
    /// Its `len`, beats - 1 (a register).
    pub len: Sig,
    /// Beats of the burst being offered (9 bits, a register).
    pub beats: Sig,
    /// The address handshake.
    pub handshake: Sig,
    /// Beats not yet requested, next cycle.
    pub left_next: Sig,
    /// `valid` next cycle.
    pub valid_next: Sig,
    /// Bursts unanswered, next cycle.
    pub outstanding_next: Sig,
}

/// Build the request generator in `m`.
pub fn burst_requests(m: &mut ModuleBuilder, i: &BurstIn) -> RtlResult<Bursts> {
    let (aw, lb, p) = (i.addr_bits, i.lb, i.prefix);
    let zero_c = m.const_u(CW, 0)?;
    let low_mask = m.const_u(aw, !((1u128 << lb) - 1) & ((1u128 << aw) - 1))?;
    let base_now = m.and(i.cmd_addr, low_mask)?;
    let req_addr = m.reg("req_addr", aw, false, RegOpts::new())?;
    let req_left = m.reg("req_left", CW, false, RegOpts::new().reset_zero(CW))?;
    let valid = m.reg(
        &format!("{p}valid_q"),
        1,
        false,
        RegOpts::new().reset_zero(1),
    )?;
    let addr = m.reg(&format!("{p}addr_q"), aw, false, RegOpts::new())?;
    let len = m.reg(&format!("{p}len_q"), 8, false, RegOpts::new())?;
    let beats_r = m.reg(&format!("{p}_beats"), 9, false, RegOpts::new())?;
    let ob = 32 - (i.max_outstanding + 1).leading_zeros();
    let outstanding = m.reg("outstanding", ob, false, RegOpts::new().reset_zero(ob))?;
    let max_o = m.const_u(ob, i.max_outstanding as u128)?;
    let room = m.lt(outstanding.q, max_o)?;
    let nz = m.cmp(CmpOp::Ne, req_left.q, zero_c)?;
    let nv = m.not(valid.q)?;
    let c1 = m.and(nz, nv)?;
    let mut can_issue = m.and(c1, room)?;
    if let Some(stop) = i.stop {
        let ns = m.not(stop)?;
        can_issue = m.and(can_issue, ns)?;
    }
    // Beats to the 4 KB boundary: ((~addr[11:0]) >> lb) + 1, at most 256.
    let a12 = m.slice(req_addr.q, 11, 0)?;
    let na12 = m.not(a12)?;
    let to4k = m.shr(na12, lb)?;
    let to4k = m.zext(to4k, 13)?;
    let one13 = m.const_u(13, 1)?;
    let to4k = m.add(to4k, one13)?;
    let to4k = m.resize(to4k, 13)?;
    let c256 = m.const_u(13, 256)?;
    let lt256 = m.lt(to4k, c256)?;
    let cap = m.mux(lt256, to4k, c256)?;
    let cap_w = m.zext(cap, CW)?;
    let left_lt = m.lt(req_left.q, cap_w)?;
    let beats = m.mux(left_lt, req_left.q, cap_w)?;
    let beats9 = m.resize(beats, 9)?;
    let hs = m.and(valid.q, i.ready)?;
    let one9 = m.const_u(9, 1)?;
    let len8 = m.sub(beats9, one9)?;
    let len8 = m.resize(len8, 8)?;
    let ad = m.mux(can_issue, req_addr.q, addr.q)?;
    m.connect(addr, ad)?;
    let ld = m.mux(can_issue, len8, len.q)?;
    m.connect(len, ld)?;
    let bd = m.mux(can_issue, beats9, beats_r.q)?;
    m.connect(beats_r, bd)?;
    let nhs = m.not(hs)?;
    let keep_v = m.and(valid.q, nhs)?;
    let vn = m.or(can_issue, keep_v)?;
    m.connect(valid, vn)?;
    let step_bytes = {
        let z = m.zext(beats_r.q, aw)?;
        m.shl(z, lb)?
    };
    let next_addr = m.add(req_addr.q, step_bytes)?;
    let next_addr = m.resize(next_addr, aw)?;
    let ra = m.mux(hs, next_addr, req_addr.q)?;
    let ra = m.mux(i.accept, base_now, ra)?;
    m.connect(req_addr, ra)?;
    let b_w = m.zext(beats_r.q, CW)?;
    let rl_dec = m.sub(req_left.q, b_w)?;
    let rl_dec = m.resize(rl_dec, CW)?;
    let rl = m.mux(hs, rl_dec, req_left.q)?;
    let mut rl = m.mux(i.accept, i.beats, rl)?;
    if let Some(stop) = i.stop {
        rl = m.mux(stop, zero_c, rl)?;
    }
    m.connect(req_left, rl)?;
    let o_inc = m.zext(hs, ob)?;
    let o_dec = m.zext(i.answered, ob)?;
    let o1 = m.add(outstanding.q, o_inc)?;
    let o1 = m.resize(o1, ob)?;
    let o2 = m.sub(o1, o_dec)?;
    let o2 = m.resize(o2, ob)?;
    m.connect(outstanding, o2)?;
    Ok(Bursts {
        valid: valid.q,
        addr: addr.q,
        len: len.q,
        beats: beats_r.q,
        handshake: hs,
        left_next: rl,
        valid_next: vn,
        outstanding_next: o2,
    })
}
