//! Shared arithmetic building blocks that mirror `accgen_golden::num`: the rounding
//! right shift and saturation. Units call these instead of writing their own rules, so
//! the hardware has no rounding or saturation rule that golden does not define.

use accgen_golden::num::Rounding;

use crate::rtl::{CmpOp, ModuleBuilder, ReduceOp, RtlResult, Sig};

/// The two halves of [`round_shift`], for pipelining: `(q, up)` with
/// `round_shift(v, s) = q + up`. For `s > 0`, `q = floor(v / 2^s)` (an arithmetic
/// shift: wiring only) and `up` is the 1-bit round-up decision (the half bit, a sticky
/// OR, the quotient LSB and the sign); for `s <= 0`, `q` is the exact (left-shifted)
/// value and `up` is 0. `q` is signed and wide enough for `q + up` to be exact.
pub fn round_shift_parts(
    m: &mut ModuleBuilder,
    v: Sig,
    s: i32,
    mode: Rounding,
) -> RtlResult<(Sig, Sig)> {
    let v = v.as_signed();
    let zero = m.const_u(1, 0)?;
    if s == 0 {
        return Ok((v, zero));
    }
    if s < 0 {
        let k = (-s) as u32;
        let wide = m.resize(v, v.width() + k)?;
        return Ok((m.shl(wide, k)?, zero));
    }
    let s = s as u32;
    let w = v.width().max(s + 1) + 1;
    let x = m.resize(v, w)?;
    let q = m.sra(x, s)?;
    let up = match mode {
        Rounding::Floor => zero,
        Rounding::NearestEven | Rounding::HalfAway => {
            let half = m.bit(x, s - 1)?;
            let sticky = if s >= 2 {
                let low = m.slice(x, s - 2, 0)?;
                m.reduce(ReduceOp::Or, low)?
            } else {
                zero
            };
            let tie_up = if mode == Rounding::NearestEven {
                m.bit(x, s)?
            } else {
                let sign = m.bit(x, w - 1)?;
                m.not(sign)?
            };
            let either = m.or(sticky, tie_up)?;
            m.and(half, either)?
        }
    };
    Ok((q, up))
}

/// `q + up` of [`round_shift_parts`]: exact in `q`'s width.
pub fn add_round_up(m: &mut ModuleBuilder, q: Sig, up: Sig) -> RtlResult<Sig> {
    let up = m.zext(up, q.width())?;
    m.add(q.as_signed(), up.as_signed())
}

/// `golden::num::round_shift` for a constant shift `s` on a signed signal `v`.
///
/// - `s > 0`: `floor(v / 2^s)` plus the round-up bit, which needs only the half bit
///   `v[s-1]`, the sticky OR of `v[s-2:0]`, the quotient LSB `v[s]` and the sign;
/// - `s == 0`: `v`;
/// - `s < 0`: the exact product `v * 2^-s` (`-s` bits wider), for the caller to clamp.
///
/// The result is signed and wide enough to be exact.
pub fn round_shift(m: &mut ModuleBuilder, v: Sig, s: i32, mode: Rounding) -> RtlResult<Sig> {
    let (q, up) = round_shift_parts(m, v, s, mode)?;
    if s <= 0 {
        return Ok(q);
    }
    // q + up cannot overflow: |q| < 2^(w-1-s) and s >= 1.
    add_round_up(m, q, up)
}

/// `clamp(v, lo, hi)` for constants, on a signed signal; the result keeps `v`'s width.
/// Bounds outside `v`'s range are ignored (nothing to clamp on that side).
pub fn clamp_const(m: &mut ModuleBuilder, v: Sig, lo: i128, hi: i128) -> RtlResult<Sig> {
    let v = v.as_signed();
    let w = v.width();
    let (vmin, vmax) = (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1);
    let mut out = v;
    if lo > vmin {
        let c = m.const_s(w, lo.min(vmax))?;
        let below = m.cmp(CmpOp::Lt, v, c)?;
        out = m.mux(below, c, out)?;
    }
    if hi < vmax {
        let c = m.const_s(w, hi.max(vmin))?;
        let above = m.cmp(CmpOp::Gt, v, c)?;
        out = m.mux(above, c, out)?;
    }
    Ok(out)
}

/// Saturate a signed signal into `bits` signed bits. It overflows exactly when its top
/// `width - bits + 1` bits are not all equal, which is a reduction (no carry chain);
/// the result is then the extreme value of the input's sign, else the low bits.
pub fn saturate_signed(m: &mut ModuleBuilder, v: Sig, bits: u32) -> RtlResult<Sig> {
    let v = v.as_signed();
    let w = v.width();
    if w <= bits {
        return m.resize(v, bits);
    }
    let top = m.slice(v, w - 1, bits - 1)?;
    let all_ones = m.reduce(ReduceOp::And, top)?;
    let any_one = m.reduce(ReduceOp::Or, top)?;
    let all_zeros = m.not(any_one)?;
    let fits = m.or(all_ones, all_zeros)?;
    let sign = m.bit(v, w - 1)?;
    let lo = m.const_s(bits, -(1i128 << (bits - 1)))?;
    let hi = m.const_s(bits, (1i128 << (bits - 1)) - 1)?;
    let extreme = m.mux(sign, lo, hi)?;
    let low = m.resize(v, bits)?;
    m.mux(fits, low, extreme)
}

/// `golden::num::round_shift(v, sh, NearestEven)` for a non-negative (unsigned) `v`
/// and a run-time shift `sh >= 1` (UInt). The result has `v`'s width.
pub fn round_shift_ne_var(m: &mut ModuleBuilder, v: Sig, sh: Sig) -> RtlResult<Sig> {
    use crate::rtl::{ShiftAmt, ShiftOp};
    let v = v.as_unsigned();
    let w = v.width();
    let q = m.shift(ShiftOp::Shr, v, ShiftAmt::Sig(sh))?;
    let one = m.const_u(sh.width(), 1)?;
    let sh1 = m.sub(sh, one)?;
    let hv = m.shift(ShiftOp::Shr, v, ShiftAmt::Sig(sh1))?;
    let half = m.bit(hv, 0)?;
    let ones = m.constant(crate::rtl::Value::from_i128_wrapping(w, -1), false);
    let hi_mask = m.shift(ShiftOp::Shl, ones, ShiftAmt::Sig(sh1))?;
    let lo_mask = m.not(hi_mask)?;
    let low = m.and(v, lo_mask)?;
    let sticky = m.reduce(ReduceOp::Or, low)?;
    let lsb = m.bit(q, 0)?;
    let either = m.or(sticky, lsb)?;
    let up = m.and(half, either)?;
    let up = m.zext(up, w)?;
    m.add(q, up)
}

/// Logical `v >> amt` for an unsigned run-time `amt`, 0 when `amt >= v.width()`,
/// pipelined with a register after every `per_stage` mux levels (and after the last).
/// Returns `(result, register stages)`; callers delay side data by the same count.
pub fn shr_var_pipelined(
    m: &mut ModuleBuilder,
    name: &str,
    v: Sig,
    amt: Sig,
    per_stage: u32,
) -> RtlResult<(Sig, u32)> {
    shr_var_pipelined_kill(m, name, v, amt, per_stage, None)
}

/// [`shr_var_pipelined`] whose result is also 0 when `kill` (1 bit, aligned with the
/// inputs) is set; the kill joins the zero flag, so it costs no logic level up front.
pub fn shr_var_pipelined_kill(
    m: &mut ModuleBuilder,
    name: &str,
    v: Sig,
    amt: Sig,
    per_stage: u32,
    kill: Option<Sig>,
) -> RtlResult<(Sig, u32)> {
    use crate::rtl::{CmpOp, RegOpts};
    let w = v.width();
    let levels = 32 - (w.max(2) - 1).leading_zeros(); // bits of 0..w-1
    let aw = amt.width();
    // Amounts of w or more give 0.
    let big = if aw > levels || (1u64 << aw.min(63)) > w as u64 {
        let limit = m.const_u(aw, w as u128)?;
        m.cmp(CmpOp::Ge, amt, limit)?
    } else {
        m.const_u(1, 0)?
    };
    let big = match kill {
        Some(k) => m.or(big, k)?,
        None => big,
    };
    let mut x = v.as_unsigned();
    let mut a = amt;
    let mut zero = big;
    let mut stages = 0;
    let mut done = 0;
    for b in 0..levels.min(aw) {
        let sel = m.bit(a, b)?;
        let shifted = m.shr(x, 1 << b)?;
        x = m.mux(sel, shifted, x)?;
        done += 1;
        let last = b + 1 == levels.min(aw);
        if done % per_stage == 0 || last {
            stages += 1;
            if last {
                let z = m.const_u(w, 0)?;
                x = m.mux(zero, z, x)?;
            }
            x = m.reg_next(&format!("{name}_s{stages}"), x, RegOpts::new())?;
            if !last {
                a = m.reg_next(&format!("{name}_a{stages}"), a, RegOpts::new())?;
                zero = m.reg_next(&format!("{name}_z{stages}"), zero, RegOpts::new())?;
            }
        }
    }
    if stages == 0 {
        let z = m.const_u(w, 0)?;
        x = m.mux(zero, z, x)?;
        x = m.reg_next(&format!("{name}_s1"), x, RegOpts::new())?;
        stages = 1;
    }
    Ok((x, stages))
}

/// Register stages [`shr_var_pipelined`] inserts for a `width`-bit value shifted by an
/// `amt_bits`-bit amount.
pub fn shr_var_stages(width: u32, amt_bits: u32, per_stage: u32) -> u32 {
    let levels = (32 - (width.max(2) - 1).leading_zeros()).min(amt_bits);
    levels.div_ceil(per_stage).max(1)
}

/// Index of the most significant set bit of `s` (0 when `s` is 0), `bits` wide,
/// pipelined over two register stages: per group of 8 bits an OR and a local index,
/// then the highest non-empty group.
pub fn msb_pipelined(m: &mut ModuleBuilder, name: &str, s: Sig, bits: u32) -> RtlResult<Sig> {
    use crate::rtl::RegOpts;
    let w = s.width();
    let groups = w.div_ceil(8);
    let mut any = Vec::new();
    let mut local = Vec::new();
    for g in 0..groups {
        let lo = g * 8;
        let hi = (lo + 8).min(w) - 1;
        let part = m.slice(s, hi, lo)?;
        let a = m.reduce(ReduceOp::Or, part)?;
        let mut cases = Vec::new();
        for b in (0..=(hi - lo)).rev() {
            cases.push((m.bit(part, b)?, m.const_u(3, b as u128)?));
        }
        let zero = m.const_u(3, 0)?;
        let l = m.priority(&cases, zero)?;
        any.push(m.reg_next(&format!("{name}_any{g}"), a, RegOpts::new())?);
        local.push(m.reg_next(&format!("{name}_loc{g}"), l, RegOpts::new())?);
    }
    let mut cases = Vec::new();
    for g in (0..groups).rev() {
        let base = m.const_u(bits, (g * 8) as u128)?;
        let l = m.zext(local[g as usize], bits)?;
        let v = m.or(base, l)?;
        cases.push((any[g as usize], v));
    }
    let zero = m.const_u(bits, 0)?;
    let r = m.priority(&cases, zero)?;
    m.reg_next(&format!("{name}_msb"), r, RegOpts::new())
}

/// `a < c` for an unsigned `a` and a constant `c`, as a logarithmic tree of LUT-sized
/// blocks (per 4-bit block: "less" and "equal", then `(eq_hi & lt_lo) | lt_hi` pairs)
/// instead of a carry chain, so a flag built from it is fast wherever it sits.
pub fn lt_const(m: &mut ModuleBuilder, a: Sig, c: u128) -> RtlResult<Sig> {
    let w = a.width();
    if c == 0 {
        return m.const_u(1, 0);
    }
    if w < 128 && c >= 1u128 << w {
        return m.const_u(1, 1);
    }
    // Blocks from the least significant up: (lt, eq).
    let mut blocks: Vec<(Sig, Sig)> = Vec::new();
    let mut lo = 0;
    while lo < w {
        let hi = (lo + 4).min(w) - 1;
        let part = m.slice(a, hi, lo)?;
        let cv = (c >> lo) & ((1u128 << (hi - lo + 1)) - 1);
        let k = m.const_u(hi - lo + 1, cv)?;
        let lt = m.lt(part, k)?;
        let eq = m.eq(part, k)?;
        blocks.push((lt, eq));
        lo = hi + 1;
    }
    while blocks.len() > 1 {
        let mut next = Vec::with_capacity(blocks.len().div_ceil(2));
        for pair in blocks.chunks(2) {
            next.push(match pair {
                [(lt_lo, eq_lo), (lt_hi, eq_hi)] => {
                    let t = m.and(*eq_hi, *lt_lo)?;
                    (m.or(*lt_hi, t)?, m.and(*eq_hi, *eq_lo)?)
                }
                [only] => *only,
                _ => unreachable!(),
            });
        }
        blocks = next;
    }
    Ok(blocks[0].0)
}

/// Cycles from a product (with its `valid`/`first`/`last`) to the finished sum in the
/// result register of [`accumulate`].
pub const ACC_RES_LATENCY: u32 = 3;

/// The PE accumulator and its double-buffered result: `acc <= (first ? 0 : acc) +
/// prod` while `valid`, and the finished sum of a `last` beat in the result register
/// [`ACC_RES_LATENCY`] cycles after the product. Wrapping at `prod`'s width.
///
/// - `generic` / `xilinx`: one accumulator register (a DSP48's P with its accumulate
///   path), then a pipeline register and the result register;
/// - `ecp5`: the accumulator is in fabric, so it is split in two halves with the
///   carry registered between them (the high half lags one cycle); each half is a
///   short carry chain plus the `first` select. Same latency, same values.
pub fn accumulate(
    m: &mut ModuleBuilder,
    vendor: crate::vendor::Vendor,
    prod: Sig,
    valid: Sig,
    first: Sig,
    last: Sig,
) -> RtlResult<Sig> {
    use crate::rtl::RegOpts;
    let w = prod.width();
    let done = m.and(valid, last)?;
    let done_q = m.reg_next("done_q", done, RegOpts::new())?;
    let done_qq = m.reg_next("done_qq", done_q, RegOpts::new())?;
    if vendor != crate::vendor::Vendor::Ecp5 || w < 8 {
        let acc = m.reg("acc", w, prod.signed(), RegOpts::new().enable(valid))?;
        let zero = m.constant(crate::rtl::Value::zero(w), prod.signed());
        let base = m.mux(first, zero, acc.q)?;
        let sum = m.add(base, prod)?;
        m.connect(acc, sum)?;
        let acc_d = m.reg_next("acc_d", acc.q, RegOpts::new())?;
        return m.reg_next("res_q", acc_d, RegOpts::new().enable(done_qq));
    }
    let h = w / 2;
    let p = prod.as_unsigned();
    // Low half: (first ? 0 : lo) + p_lo, with its carry out registered.
    let lo = m.reg("acc_lo", h, false, RegOpts::new().enable(valid))?;
    let zl = m.const_u(h, 0)?;
    let lo_base = m.mux(first, zl, lo.q)?;
    let p_lo = m.slice(p, h - 1, 0)?;
    let lo_sum = m.add_wide(lo_base, p_lo)?;
    let lo_next = m.slice(lo_sum, h - 1, 0)?;
    m.connect(lo, lo_next)?;
    let carry = m.bit(lo_sum, h)?;
    let carry_q = m.reg_next("acc_carry", carry, RegOpts::new().enable(valid))?;
    // High half, one cycle later: (first ? 0 : hi) + p_hi + carry.
    let v_d = m.reg_next("acc_v_d", valid, RegOpts::new())?;
    let f_d = m.reg_next("acc_f_d", first, RegOpts::new())?;
    let p_hi = m.slice(p, w - 1, h)?;
    let p_hi = m.reg_next("acc_p_hi", p_hi, RegOpts::new())?;
    let hi = m.reg("acc_hi", w - h, false, RegOpts::new().enable(v_d))?;
    let zh = m.const_u(w - h, 0)?;
    let hi_base = m.mux(f_d, zh, hi.q)?;
    let s1 = m.add(hi_base, p_hi)?;
    let c = m.zext(carry_q, w - h)?;
    let hi_next = m.add(s1, c)?;
    m.connect(hi, hi_next)?;
    let res_lo = m.reg_next("res_lo", lo.q, RegOpts::new().enable(done_q))?;
    let res_hi = m.reg_next("res_hi", hi.q, RegOpts::new().enable(done_qq))?;
    let res = m.concat(&[res_hi, res_lo])?;
    Ok(if prod.signed() { res.as_signed() } else { res })
}
