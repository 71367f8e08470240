//! Phase 2 of one softmax lane (golden `output`): from a stored `{i, E}` and its row's
//! `(m, R, out_shift)`, `y = clamp(round_ne((E >> (m - i)) * R >> out_shift), 0,
//! 2^out_bits - 1)`.
//!
//! Ports: in `ie` (the element-buffer word), `m` (SInt max_bits), `recip` (UInt T+2),
//! `shift` (UInt, at least 1); out `y` (UInt out_bits), [`latency`] cycles later.
//! Free-running, fully pipelined.
//!
//! Rounding uses one variable shift: `r1 = prod >> (shift - 1)` gives the half bit
//! (`r1[0]`) and the quotient (`r1 >> 1`); the sticky bit (any 1 below the half bit)
//! comes from a thermometer mask in parallel with the shifter.
//!
//! ```text
//!  ie ─▶ d = m - i ─▶ E >> d (2) ─▶ × R (pmul) ─▶ >> (sh - 1) (2), sticky ─▶ q + up ─▶ clamp ─▶ y
//! ```

use std::rc::Rc;

use accgen_golden::softmax::SoftmaxConfig;

use crate::arith::{shr_var_pipelined, shr_var_stages};
use crate::mul::{mul_latency, pmul};
use crate::rtl::{
    Library, Module, ModuleBuilder, ReduceOp, RegOpts, RtlResult, ShiftAmt, ShiftOp, Value,
};

use super::norm::shift_bits;
use super::phase1::SHIFT_LEVELS;

fn bits_for(n: u64) -> u32 {
    64 - n.leading_zeros()
}

/// Cycles from `ie` to `y`.
pub fn latency(cfg: &SoftmaxConfig) -> u32 {
    let p = cfg.params();
    let ew = p.et + 2;
    let aw = bits_for(ew as u64);
    let pw = ew + p.t + 2;
    // d, E shift, multiply, sh - 1 register, rounding shift, round-up bit and
    // flags, add and saturate.
    1 + shr_var_stages(ew, aw, SHIFT_LEVELS)
        + mul_latency(ew, p.t + 2)
        + 1
        + shr_var_stages(pw, shift_bits(cfg), SHIFT_LEVELS)
        + 1
        + 1
}

/// Build (or fetch) the phase-2 lane for `cfg`.
pub fn phase2(lib: &mut Library, cfg: &SoftmaxConfig) -> RtlResult<Rc<Module>> {
    let name = format!(
        "accgen_softmax_p2_n{}_i{}f{}_o{}",
        cfg.max_len, cfg.in_bits, cfg.in_frac, cfg.out_bits
    );
    lib.get_or_build(&name.clone(), |lib| {
        let vendor = lib.vendor();
        let p = cfg.params();
        let ew = p.et + 2;
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Softmax phase 2: y from {{i, E}} and the row's (m, R, shift); latency {}.",
            latency(cfg)
        ));
        let ie = m.input("ie", p.max_bits + ew, false)?;
        let mx = m.input("m", p.max_bits, true)?;
        let recip = m.input("recip", p.t + 2, false)?;
        let shw = shift_bits(cfg);
        let sh = m.input("shift", shw, false)?;
        let e = m.slice(ie, ew - 1, 0)?;
        let i = m.slice(ie, ew + p.max_bits - 1, ew)?.as_signed();
        // d = m - i >= 0, saturated so that a large gap shifts E out entirely.
        let aw = bits_for(ew as u64);
        // (When the difference is narrower than the amount, it cannot saturate.)
        let d = super::phase1::amount(&mut m, mx, i, aw)?;
        let d = m.reg_next("d", d, RegOpts::new())?;
        let e1 = m.reg_next("e1", e, RegOpts::new())?;
        let mut lat = 1;
        let (ei, s1) = shr_var_pipelined(&mut m, "ei", e1, d, SHIFT_LEVELS)?;
        lat += s1;
        let r_d = m.delay(recip, lat, "recip_d")?;
        let prod = pmul(&mut m, vendor, ei, r_d, "er")?;
        let ml = mul_latency(ew, p.t + 2);
        lat += ml;
        // The rounding shift amount minus one, and the thermometer mask of the bits
        // below the half bit.
        let sh_d = m.delay(sh, lat, "sh_d")?;
        let one = m.const_u(shw, 1)?;
        let shm1 = m.sub(sh_d, one)?;
        let pw = prod.width();
        let shm1 = m.reg_next("shm1", shm1, RegOpts::new())?;
        let prod1 = m.reg_next("prod1", prod, RegOpts::new())?;
        lat += 1;
        // The mask of the bits below the half bit: bit j = (shift - 1 > j), registered;
        // then AND and a per-16-bit OR, registered; then the final OR. Two stages, the
        // same as the shifter below (checked).
        // ~(ones << (shift - 1)): a barrel shift of a constant (log depth), not a
        // compare per bit (which synthesis chains).
        let ones = m.constant(Value::from_i128_wrapping(pw, -1), false);
        let high = m.shift(ShiftOp::Shl, ones, ShiftAmt::Sig(shm1))?;
        let mask = m.not(high)?;
        let mask = m.reg_next("sticky_mask", mask, RegOpts::new())?;
        let prod2 = m.reg_next("prod2", prod1.as_unsigned(), RegOpts::new())?;
        let below = m.and(prod2, mask)?;
        let (r1, s2) = shr_var_pipelined(&mut m, "rnd", prod1.as_unsigned(), shm1, SHIFT_LEVELS)?;
        if s2 != 2 {
            return m.err(format!(
                "rounding shift has {s2} stages; the sticky path has 2"
            ));
        }
        let groups = pw.div_ceil(16);
        let mut partial = Vec::new();
        for g in 0..groups {
            let lo = g * 16;
            let hi = (lo + 16).min(pw) - 1;
            let part = m.slice(below, hi, lo)?;
            let any = m.reduce(ReduceOp::Or, part)?;
            partial.push(m.reg_next(&format!("sticky_p{g}"), any, RegOpts::new())?);
        }
        let parts = m.concat(&partial)?;
        let sticky = m.reduce(ReduceOp::Or, parts)?;
        lat += s2;
        // Round half to even: up = half & (sticky | lsb).
        let half = m.bit(r1, 0)?;
        let lsb = m.bit(r1, 1)?;
        let either = m.or(sticky, lsb)?;
        let up = m.and(half, either)?;
        // Register the quotient's low out_bits, the round-up bit and two flags: any
        // quotient bit at or above out_bits, and all low bits set. Then q + up
        // exceeds the top code exactly when the first flag is set or the second and up
        // are, so the final stage holds one out_bits-wide add and a select.
        let ob = cfg.out_bits;
        let q = m.shr(r1, 1)?;
        let qw = pw - 1;
        let q_low = m.slice(q, ob.min(qw) - 1, 0)?;
        let q_low = m.zext(q_low, ob)?;
        let hi = if qw > ob {
            let h = m.slice(q, qw - 1, ob)?;
            m.reduce(ReduceOp::Or, h)?
        } else {
            m.const_u(1, 0)?
        };
        let ones = m.reduce(ReduceOp::And, q_low)?;
        let q_low = m.reg_next("q_round", q_low, RegOpts::new())?;
        let up = m.reg_next("up_round", up, RegOpts::new())?;
        let hi = m.reg_next("hi_round", hi, RegOpts::new())?;
        let ones = m.reg_next("ones_round", ones, RegOpts::new())?;
        lat += 1;
        let up_w = m.zext(up, ob)?;
        let y = m.add(q_low, up_w)?;
        let carry_out = m.and(ones, up)?;
        let over = m.or(hi, carry_out)?;
        let top_c = m.const_u(ob, (1u128 << ob) - 1)?;
        let yc = m.mux(over, top_c, y)?;
        let yq = m.reg_next("y", yc, RegOpts::new())?;
        lat += 1;
        debug_assert_eq!(lat, latency(cfg));
        m.output("y", yq)?;
        m.finish()
    })
}
