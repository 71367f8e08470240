//! Per element, per lane: `y = clamp(round_shift(d*q*gamma + beta*2^sh, sh))` with
//! `d = L*x - S1` (golden `layernorm::output`).
//!
//! Ports: in `x` (SInt in_bits), `len` (UInt len_bits), `s1` (SInt s1_bits), `q` (UInt
//! G+2), `sh` (UInt), `gamma` (SInt gamma_bits), `beta` (SInt beta_bits); out `y`
//! (SInt out_bits), [`latency`] cycles later. Fully pipelined.
//!
//! The rounding never builds `beta * 2^sh`: with `r = floor(P / 2^sh)` and the half and
//! sticky bits of `P`, the result is `r + beta + up` where `up = half & (sticky |
//! lsb(r + beta))` (round half to even of the sum; `beta` is an integer, so the sum
//! has `P`'s fraction). A negative `P` is shifted as `~P` and inverted back, so one
//! logical barrel shifter serves both signs.
//!
//! ```text
//!  x*L ─▶ d = xL - S1 ─▶ d*q ─▶ P = dq*gamma ─▶ |P|-ish, sh-1 ─▶ shift (pipelined) ─▶ r
//!                                                  └▶ sticky mask ─▶ OR ─┘
//!  r saturated, up ─▶ r + beta ─▶ range flags ─▶ + up or the extreme ─▶ y
//! ```

use std::rc::Rc;

use accgen_golden::layernorm::LayernormConfig;

use crate::arith::{saturate_signed, shr_var_pipelined, shr_var_stages};
use crate::mul::{mul_latency, pmul};
use crate::rtl::{
    Library, Module, ModuleBuilder, ReduceOp, RegOpts, RtlResult, ShiftAmt, ShiftOp, Value,
};

use super::rsqrt::sh_bits;

/// Mux levels per register stage of the rounding shift.
const SHIFT_LEVELS: u32 = 2;

fn widths(cfg: &LayernormConfig) -> (u32, u32) {
    let p = cfg.params();
    let dq = p.d_bits + p.q_bits;
    (dq, dq + cfg.gamma_bits)
}

/// Cycles from the inputs to `y`.
pub fn latency(cfg: &LayernormConfig) -> u32 {
    let p = cfg.params();
    let (dq, pw) = widths(cfg);
    mul_latency(cfg.in_bits, p.len_bits)
        + 1
        + mul_latency(p.d_bits, p.q_bits)
        + mul_latency(dq, cfg.gamma_bits)
        + 1
        + shr_var_stages(pw, sh_bits(cfg), SHIFT_LEVELS).max(2)
        + 4
}

/// Build (or fetch) the per-element output lane for `cfg`.
pub fn apply(lib: &mut Library, cfg: &LayernormConfig) -> RtlResult<Rc<Module>> {
    let name = format!("accgen_layernorm_apply_{}", super::cfg_tag(cfg));
    lib.get_or_build(&name.clone(), |lib| {
        let vendor = lib.vendor();
        let p = cfg.params();
        let (_, pw) = widths(cfg);
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "LayerNorm output lane: d, d*q*gamma, rounding shift, beta, saturate; latency {}.",
            latency(cfg)
        ));
        let x = m.input("x", cfg.in_bits, true)?;
        let len = m.input("len", p.len_bits, false)?;
        let s1 = m.input("s1", p.s1_bits, true)?;
        let q = m.input("q", p.q_bits, false)?;
        let shw = sh_bits(cfg);
        let sh = m.input("sh", shw, false)?;
        let gamma = m.input("gamma", cfg.gamma_bits, true)?;
        let beta = m.input("beta", cfg.beta_bits, true)?;
        // d = L*x - S1.
        let lx = pmul(&mut m, vendor, x, len, "lx")?;
        let mut lat = mul_latency(cfg.in_bits, p.len_bits);
        let s1_d = m.delay(s1, lat, "s1_d")?;
        let lx = m.sext(lx, p.d_bits)?;
        let s1w = m.sext(s1_d, p.d_bits)?;
        let d = m.sub(lx, s1w)?;
        let d = m.reg_next("d", d, RegOpts::new())?;
        lat += 1;
        // P = d * q * gamma.
        let q_d = m.delay(q, lat, "q_d")?;
        let dq = pmul(&mut m, vendor, d, q_d, "dq")?;
        lat += mul_latency(p.d_bits, p.q_bits);
        let g_d = m.delay(gamma, lat, "g_d")?;
        let prod = pmul(&mut m, vendor, dq, g_d, "pg")?;
        lat += mul_latency(dq.width(), cfg.gamma_bits);
        // X = P ^ sign (non-negative), sh - 1 (wraps to all ones for sh = 0, where P = 0).
        let sh_d = m.delay(sh, lat, "sh_d")?;
        let one = m.const_u(shw, 1)?;
        let shm1 = m.sub(sh_d, one)?;
        let shm1 = m.reg_next("shm1", shm1, RegOpts::new())?;
        let sign = m.bit(prod, pw - 1)?;
        let signs = m.sext(sign.as_signed(), pw)?.as_unsigned();
        let xa = m.xor(prod.as_unsigned(), signs)?;
        let xa = m.reg_next("xa", xa, RegOpts::new())?;
        let p1 = m.reg_next("p1", prod.as_unsigned(), RegOpts::new())?;
        let sign1 = m.reg_next("sign1", sign, RegOpts::new())?;
        lat += 1;
        // Sticky: OR of P's bits below the half bit, two stages.
        let ones = m.constant(Value::from_i128_wrapping(pw, -1), false);
        let high = m.shift(ShiftOp::Shl, ones, ShiftAmt::Sig(shm1))?;
        let mask = m.not(high)?;
        let mask = m.reg_next("sticky_mask", mask, RegOpts::new())?;
        let p2 = m.reg_next("p2", p1, RegOpts::new())?;
        let below = m.and(p2, mask)?;
        let mut partial = Vec::new();
        for g in 0..pw.div_ceil(16) {
            let lo = g * 16;
            let hi = (lo + 16).min(pw) - 1;
            let part = m.slice(below, hi, lo)?;
            let any = m.reduce(ReduceOp::Or, part)?;
            partial.push(m.reg_next(&format!("sticky_p{g}"), any, RegOpts::new())?);
        }
        let parts = m.concat(&partial)?;
        let sticky = m.reduce(ReduceOp::Or, parts)?;
        let (t, ns) = shr_var_pipelined(&mut m, "rnd", xa, shm1, SHIFT_LEVELS)?;
        let stages = ns.max(2);
        let t = m.delay(t, stages - ns, "rnd_al")?;
        let sticky = m.delay(sticky, stages - 2, "sticky_al")?;
        let sign_t = m.delay(sign1, stages, "sign_t")?;
        lat += stages;
        // r = floor(P / 2^sh), half bit of P.
        let half_x = m.bit(t, 0)?;
        let half = m.xor(half_x, sign_t)?;
        let rx = m.slice(t, pw - 1, 1)?;
        let signs_r = m.sext(sign_t.as_signed(), pw - 1)?.as_unsigned();
        let r = m.xor(rx, signs_r)?.as_signed();
        // r saturated to w = max(out_bits, beta_bits) + 2 bits (a reduction, no carry):
        // a saturated r still saturates r + beta + up the same way, and then `up` and
        // the parity of r + beta do not matter.
        let b_d = m.delay(beta, lat, "b_d")?;
        let w = cfg.out_bits.max(cfg.beta_bits) + 2;
        let r_sat = saturate_signed(&mut m, r, w)?;
        let r0 = m.bit(r, 0)?;
        let b0 = m.bit(b_d, 0)?;
        let lsb = m.xor(r0, b0)?;
        let either = m.or(sticky, lsb)?;
        let up = m.and(half, either)?;
        let r_sat = m.reg_next("r_sat", r_sat, RegOpts::new())?;
        let up = m.reg_next("up", up, RegOpts::new())?;
        let b_r = m.reg_next("b_r", b_d, RegOpts::new())?;
        lat += 1;
        // r + beta (w + 1 bits), then + up and saturate.
        let rw_ = m.sext(r_sat, w + 2)?;
        let bw = m.sext(b_r, w + 2)?;
        let sum = m.add(rw_, bw)?;
        let sum = m.reg_next("sum", sum, RegOpts::new())?;
        let up = m.reg_next("up2", up, RegOpts::new())?;
        lat += 1;
        // Flags of the sum (reductions only): it fits out_bits, it is the top code.
        let ob = cfg.out_bits;
        let top = m.slice(sum, w + 1, ob - 1)?;
        let all1 = m.reduce(ReduceOp::And, top)?;
        let any1 = m.reduce(ReduceOp::Or, top)?;
        let all0 = m.not(any1)?;
        let fits = m.or(all1, all0)?;
        let low_m = m.slice(sum, ob - 2, 0)?;
        let low_all1 = m.reduce(ReduceOp::And, low_m)?;
        let at_max = m.and(all0, low_all1)?;
        let sign = m.bit(sum, w + 1)?;
        let low = m.slice(sum, ob - 1, 0)?.as_signed();
        let fits = m.reg_next("fits", fits, RegOpts::new())?;
        let at_max = m.reg_next("at_max", at_max, RegOpts::new())?;
        let sign = m.reg_next("sign", sign, RegOpts::new())?;
        let low = m.reg_next("low", low, RegOpts::new())?;
        let up = m.reg_next("up3", up, RegOpts::new())?;
        lat += 1;
        // y = low + up, or the extreme of the sign (never a carry into the saturation).
        let upw = m.zext(up, ob)?.as_signed();
        let inc = m.add(low, upw)?;
        let lo_c = m.const_s(ob, -(1i128 << (ob - 1)))?;
        let hi_c = m.const_s(ob, (1i128 << (ob - 1)) - 1)?;
        let extreme = m.mux(sign, lo_c, hi_c)?;
        let over = m.and(at_max, up)?;
        let in_range = m.mux(over, hi_c, inc)?;
        let y = m.mux(fits, in_range, extreme)?;
        let y = m.reg_next("y", y, RegOpts::new())?;
        lat += 1;
        if lat != latency(cfg) {
            return m.err(format!(
                "apply latency {lat} differs from latency() = {}",
                latency(cfg)
            ));
        }
        m.output("y", y)?;
        m.finish()
    })
}
