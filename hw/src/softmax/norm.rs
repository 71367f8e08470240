//! Once per row, per lane: normalise the row sum and take its exact reciprocal
//! (golden `finish`): `e = msb(S)`, `s = S >> (e - T)` (the top `T + 1` bits),
//! `R = floor(2^(2T+1) / s)` and `out_shift = e + T + 1 + ET - P - out_bits`.
//!
//! Ports: in `s` (UInt s_bits), `m` (SInt max_bits); out `recip` (UInt T+2), `shift`
//! (UInt), `m_out`, all [`latency`] cycles later. Fully pipelined (a row may finish
//! every cycle): the leading-one search in two stages, the normalising shift in two,
//! and a restoring divider with one quotient bit (one subtract) per stage, so no stage
//! holds more than one carry chain (the divider is non-restoring).
//!
//! ```text
//!  S ─▶ msb (2) ─▶ e ─▶ S >> (e - T) (2) ─▶ s ─▶ divider (T+2 stages) ─▶ R
//!                   └──▶ e + const ─────────────────────────────────────▶ out_shift
//! ```

use std::rc::Rc;

use accgen_golden::softmax::SoftmaxConfig;

use crate::arith::{msb_pipelined, shr_var_pipelined, shr_var_stages};
use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult, Value};

use super::phase1::SHIFT_LEVELS;

fn bits_for(n: u64) -> u32 {
    64 - n.leading_zeros()
}

/// Width of `out_shift`.
pub fn shift_bits(cfg: &SoftmaxConfig) -> u32 {
    bits_for(cfg.params().s_bits as u64) + 1
}

/// Cycles from `s` to `recip`.
pub fn latency(cfg: &SoftmaxConfig) -> u32 {
    let p = cfg.params();
    let eb = bits_for(p.s_bits as u64);
    // msb (2), amount register (1), shift, divider (T + 2 steps, final correction).
    2 + 1 + shr_var_stages(p.s_bits, eb, SHIFT_LEVELS) + p.t + 2 + 1
}

/// Build (or fetch) the normaliser for `cfg`.
pub fn norm(lib: &mut Library, cfg: &SoftmaxConfig) -> RtlResult<Rc<Module>> {
    let name = format!(
        "accgen_softmax_norm_n{}_i{}f{}_o{}",
        cfg.max_len, cfg.in_bits, cfg.in_frac, cfg.out_bits
    );
    lib.get_or_build(&name.clone(), |_| {
        let p = cfg.params();
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Softmax row normaliser: msb, normalise, restoring divider; latency {}.",
            latency(cfg)
        ));
        let s = m.input("s", p.s_bits, false)?;
        let mx = m.input("m", p.max_bits, true)?;
        let eb = bits_for(p.s_bits as u64);
        let e = msb_pipelined(&mut m, "msb", s, eb)?;
        let s2 = m.delay(s, 2, "s_msb")?;
        // e >= P > T, so e - T is a plain right shift.
        let t_c = m.const_u(eb, p.t as u128)?;
        let amt = m.sub(e, t_c)?;
        let amt = m.reg_next("norm_amt", amt, RegOpts::new())?;
        let s3 = m.reg_next("norm_s", s2, RegOpts::new())?;
        let shw = shift_bits(cfg);
        let e_w = m.zext(e, shw)?;
        let c0 = p.t as i64 + 1 + p.et as i64 - p.p as i64 - cfg.out_bits as i64;
        let c0 = m.constant(Value::from_i128_wrapping(shw, c0 as i128), false);
        let out_sh = m.add(e_w, c0)?;
        let out_sh = m.reg_next("out_sh", out_sh, RegOpts::new())?;
        let (sn, ns) = shr_var_pipelined(&mut m, "norm_sh", s3, amt, SHIFT_LEVELS)?;
        let divisor = m.slice(sn, p.t, 0)?;
        let mut sh_d = m.delay(out_sh, ns, "out_sh_n")?;
        // Non-restoring division of 2^(2T+1) by the divisor d (in [2^T, 2^(T+1))):
        // r starts at 2^(T-1); n = T + 2 steps of r = 2r - d (bit 1) when r >= 0, else
        // r = 2r + d (bit 0), bits B; then q = 2B + 1 - 2^n - (r < 0). Each step is one
        // add whose operand (d or -d) is chosen by a register bit, so no multiplexer
        // waits on the carry chain (a restoring step would). Equal to the restoring
        // quotient, floor(2^(2T+1) / d), for every d.
        // Width of r: every r after a step lies in [-d, d) (the non-restoring
        // invariant; it holds for the start value 2^(T-1) < d), so T + 2 signed bits
        // hold it, and the step's 2r ± d may wrap on the way: it lands in range.
        let n = p.t + 2;
        let rw = p.t + 2;
        let mut r = m.const_s(rw, 1i128 << (p.t - 1))?;
        let mut bq = m.const_u(n, 0)?;
        let dv0 = m.zext(divisor, rw)?.as_signed();
        let mut dv = dv0;
        let mut ndv = m.neg(dv0)?;
        for step in 1..=n {
            let neg = m.bit(r, rw - 1)?;
            let r2 = m.shl(r, 1)?;
            let op = m.mux(neg, dv, ndv)?;
            let r_next = m.add(r2, op)?;
            let b = m.not(neg)?;
            let b2 = m.shl(bq, 1)?;
            let bw = m.zext(b, n)?;
            let bq_next = m.or(b2, bw)?;
            r = m.reg_next(&format!("div{step}_r"), r_next, RegOpts::new())?;
            bq = m.reg_next(&format!("div{step}_b"), bq_next, RegOpts::new())?;
            if step < n {
                dv = m.reg_next(&format!("div{step}_d"), dv, RegOpts::new())?;
                ndv = m.reg_next(&format!("div{step}_nd"), ndv, RegOpts::new())?;
            }
            sh_d = m.reg_next(&format!("div{step}_sh"), sh_d, RegOpts::new())?;
        }
        // q = 2B + 1 - 2^n - (r < 0) lies in (2^T, 2^(T+1)], so modulo 2^n it is
        // 2B + 1 - (r < 0): the bits of B shifted up, with the inverted sign below.
        // No adder.
        let neg = m.bit(r, rw - 1)?;
        let pos = m.not(neg)?;
        let b_low = m.slice(bq, n - 2, 0)?;
        let q = m.concat(&[b_low, pos])?;
        let q = m.reg_next("div_q", q, RegOpts::new())?;
        let sh_d = m.reg_next("div_sh", sh_d, RegOpts::new())?;
        let m_out = m.delay(mx, latency(cfg), "m_norm")?;
        m.output("recip", q)?;
        m.output("shift", sh_d)?;
        m.output("m_out", m_out)?;
        m.finish()
    })
}
