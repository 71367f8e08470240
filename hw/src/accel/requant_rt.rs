//! A re-quantizer lane with run-time parameters, for the accelerator's `EPILOGUE`:
//! the shift, bias and zero point come from the instruction's parameter block in the
//! scratchpad instead of the config (the unit of [`crate::requant`] fixes them at
//! generation). Bit-exact with `accgen_golden::requant::requant` for every valid
//! parameter (shift -16..=47, bias in signed `in_bits`, zero point in the output
//! range); the caller checks the ranges (error 5).
//!
//! One shift covers both directions: with `V = v * 2^16` (exact) and the run-time
//! amount `sh = shift + 16` (0..=63), `V >> sh` is the left shift `v * 2^-shift` for
//! `shift <= 0` (no bit lost) and `floor(v / 2^shift)` for `shift > 0`; the half bit
//! `V[sh - 1]` and the sticky OR of `V[sh - 2 : 0]` are 0 whenever `shift <= 0`, so
//! one rounding rule serves all shifts. Half and sticky are ANDs with masks decoded
//! from `sh` (a LUT per bit), not a second shifter.
//!
//! Ports: `x` (signed `in_bits`), `bias` (signed `in_bits`), `sh` (unsigned 6 bits:
//! `shift + 16`), `zp` (signed `out_bits + 1`), `relu` (1 bit) in; `y` (`out_bits`,
//! signed when `out_signed`) out. The parameters must be stable while an element is
//! in flight.
//!
//! Latency: [`RT_LATENCY`] = 7: `x`; `v = x + bias`; `q = V >> sh` and the round-up
//! bit; `t = q + up`; saturate to `out_bits + 2` (exact, as in the golden docs); add
//! the zero point; clamp (at the zero point under ReLU).

use std::rc::Rc;

use accgen_golden::num::Rounding;
use accgen_golden::requant::RequantConfig;

use crate::arith::{add_round_up, clamp_const, saturate_signed};
use crate::rtl::{
    CmpOp, Library, Module, ModuleBuilder, ReduceOp, RegOpts, RtlResult, ShiftAmt, ShiftOp,
};

/// Cycles from `x` to `y`.
pub const RT_LATENCY: u32 = 7;

/// Bits of the `sh` port.
pub const SH_BITS: u32 = 6;

/// Build (or fetch) the lane for `cfg`'s formats (`in_bits`, `out_bits`,
/// `out_signed`, `rounding`); its shift, bias, zero point and ReLU are ports.
pub fn requant_rt_lane(lib: &mut Library, cfg: &RequantConfig) -> RtlResult<Rc<Module>> {
    let mode = match cfg.rounding {
        Rounding::NearestEven => "ne",
        Rounding::HalfAway => "ha",
        Rounding::Floor => "fl",
    };
    let name = format!(
        "accgen_requant_rt_i{}_o{}{}_{mode}",
        cfg.in_bits,
        cfg.out_bits,
        if cfg.out_signed { "s" } else { "u" }
    );
    let cfg = cfg.clone();
    lib.get_or_build(&name.clone(), move |_| {
        let ib = cfg.in_bits;
        let ob = cfg.out_bits;
        let mut m = ModuleBuilder::new(&name);
        m.doc("Re-quantizer lane with run-time shift, bias, zero point and ReLU (accelerator epilogue).");
        let x = m.input("x", ib, true)?;
        let bias = m.input("bias", ib, true)?;
        let sh = m.input("sh", SH_BITS, false)?;
        let zp = m.input("zp", ob + 1, true)?;
        let relu = m.input("relu", 1, false)?;
        // 1: input.
        let x_q = m.reg_next("x_q", x, RegOpts::new())?;
        // 2: bias.
        let v = m.add_wide(x_q, bias)?;
        let v_q = m.reg_next("v_q", v, RegOpts::new())?;
        // 3: V = v << 16, q = V >>> sh, half and sticky by decoded masks.
        // Wide enough that the half bit and the sticky bits of every shift (sh up to
        // 63) lie inside V, sign copies included.
        let vw = (ib + 1 + 16).max(65);
        let vv = m.resize(v_q, vw)?;
        let vv = m.shl(vv, 16)?;
        let q = m.shift(ShiftOp::Sra, vv, ShiftAmt::Sig(sh))?;
        let mut half_bits = Vec::new();
        let mut low_bits = Vec::new();
        for i in 0..vw {
            // half: i == sh - 1; low: i < sh - 1, i.e. i + 1 < sh.
            let c = m.const_u(SH_BITS + 1, (i + 1) as u128)?;
            let s7 = m.zext(sh, SH_BITS + 1)?;
            half_bits.push(m.cmp(CmpOp::Eq, s7, c)?);
            low_bits.push(m.cmp(CmpOp::Gt, s7, c)?);
        }
        half_bits.reverse();
        low_bits.reverse();
        let hm = m.concat(&half_bits)?;
        let lm = m.concat(&low_bits)?;
        let vu = vv.as_unsigned();
        let hv = m.and(vu, hm)?;
        let half = m.reduce(ReduceOp::Or, hv)?;
        let lv = m.and(vu, lm)?;
        let sticky = m.reduce(ReduceOp::Or, lv)?;
        let zero = m.const_u(1, 0)?;
        let up = match cfg.rounding {
            Rounding::Floor => zero,
            Rounding::NearestEven => {
                let lsb = m.bit(q, 0)?;
                let e = m.or(sticky, lsb)?;
                m.and(half, e)?
            }
            Rounding::HalfAway => {
                let sign = m.bit(vv, vw - 1)?;
                let pos = m.not(sign)?;
                let e = m.or(sticky, pos)?;
                m.and(half, e)?
            }
        };
        let q_q = m.reg_next("q_q", q, RegOpts::new())?;
        let up_q = m.reg_next("up_q", up, RegOpts::new())?;
        // 4: round. q + up cannot overflow: q = V >> sh and up = 1 only for sh >= 17.
        let t = add_round_up(&mut m, q_q, up_q)?;
        let t_q = m.reg_next("t_q", t, RegOpts::new())?;
        // 5: pre-saturate to out_bits + 2 (exact: |zp| < 2^out_bits).
        let ts = saturate_signed(&mut m, t_q, ob + 2)?;
        let ts_q = m.reg_next("ts_q", ts, RegOpts::new())?;
        // 6: zero point.
        let zw = m.resize(zp, ob + 2)?;
        let w = m.add_wide(ts_q, zw)?;
        let w_q = m.reg_next("w_q", w, RegOpts::new())?;
        // 7: clamp; under ReLU the lower bound is the zero point.
        let (qmin, qmax) = cfg.qrange();
        let y = clamp_const(&mut m, w_q, qmin, qmax)?;
        let zpw = m.resize(zp, w_q.width())?;
        let below = m.cmp(CmpOp::Lt, y, zpw)?;
        let lift = m.and(relu, below)?;
        let y = m.mux(lift, zpw, y)?;
        let y = m.resize(y, ob)?;
        let y = if cfg.out_signed {
            y.as_signed()
        } else {
            y.as_unsigned()
        };
        let y_q = m.reg_next("y_q", y, RegOpts::new())?;
        m.output("y", y_q)?;
        m.finish()
    })
}
