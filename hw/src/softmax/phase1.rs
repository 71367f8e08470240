//! Phase 1 of one softmax lane: `u = x * log2(e)`, `E = 2^frac(u)` from the shared
//! ROM, the running max, the term `T_k`, the window `W_k` and the [`CHAIN`]-cycle sum
//! loop `S_k = (S_{k-C} >> (m_k - m_{k-C})) + W_k` (golden step 4, C = [`CHAIN`]).
//!
//! Ports: in `v` (an element is present), `last` (it closes its row), `pos` (its
//! position in the row mod C), `has1` .. `hasC` (the row holds at least that many
//! earlier elements), `x` (SInt in_bits); out `ie` (the element's
//! `{i, E}` for the element buffer, [`Timing::ie`] cycles after the inputs), `s` and
//! `m` (`S_k` and `m_k`, [`Timing::sum`] cycles after the inputs).
//!
//! Every stage holds one carry chain or a few mux levels. The only loops are the
//! running max (compare and select of `max_bits` bits, one cycle) and the sum (five
//! stages: read `S_{k-5}`, shift, shift, add the low half, add the high half), which is
//! why the sum is unrolled.
//! Registers that hold per-row history (`m`, `T`, `S`) update only on `v`; the
//! datapath between them is free-running.
//!
//! ```text
//!  x ─▶ (×K) ─▶ round ─▶ u ─┬─ i ─▶ max loop ─▶ m_k, d_i, dw1..3, d4
//!                           └─ fr ─▶ ROM ─▶ base + delta·f ─▶ E ─▶ T = (E<<up)>>d_i
//!  T, T_{k-1..k-4} ─▶ shifts ─▶ Σ ─▶ W ─▶ [read S_{k-5}] ─▶ >>d5 ─▶ + W ─▶ S_k
//! ```

use std::rc::Rc;

use accgen_golden::num::Rounding;
use accgen_golden::softmax::{exp2_table, SoftmaxConfig, CHAIN};

use crate::arith::{
    add_round_up, round_shift_parts, shr_var_pipelined, shr_var_pipelined_kill, shr_var_stages,
};
use crate::mem::{self, mem_addr_bits, MemoryConfig, MEM_READ_LATENCY};
use crate::mul::{mul_latency, pmul};
use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig, Value};

/// Mux levels per register stage in the variable shifters.
pub const SHIFT_LEVELS: u32 = 3;

/// Stage counts of phase 1 (cycles from the inputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `u` (and `i`, `fr`) registered.
    pub u: u32,
    /// `{i, E}` registered.
    pub ie: u32,
    /// `S_k` and `m_k` registered.
    pub sum: u32,
}

fn bits_for(n: u64) -> u32 {
    64 - n.leading_zeros()
}

/// Width of the `pos` input (position in the row mod [`CHAIN`]).
pub fn pos_bits() -> u32 {
    bits_for(CHAIN as u64 - 1)
}

/// Register levels of the adder tree of the window's [`CHAIN`] terms.
fn window_levels() -> u32 {
    bits_for(CHAIN as u64 - 1)
}

/// Widths and constants shared by the phases.
pub(crate) struct Shape {
    pub p: accgen_golden::softmax::SoftmaxParams,
    pub k_bits: u32,
    pub base_w: u32,
    pub delta_w: u32,
    pub table_len: usize,
    /// Width of `T` and of the window terms: `P + 2`.
    pub t_w: u32,
    /// Width of a shift amount that can express "shift everything out" of `s_bits`.
    pub amt_w: u32,
}

pub(crate) fn shape(cfg: &SoftmaxConfig) -> Shape {
    let p = cfg.params();
    let table = exp2_table(cfg);
    let t_w = p.p + 2;
    Shape {
        p,
        k_bits: bits_for(p.k),
        base_w: table.base_width().0,
        delta_w: table.delta_width().0,
        table_len: table.len(),
        t_w,
        amt_w: bits_for(p.s_bits.max(t_w) as u64),
    }
}

/// Phase-1 timing for `cfg` (see [`Timing`]).
pub fn timing(cfg: &SoftmaxConfig) -> Timing {
    let sh = shape(cfg);
    let mk = mul_latency(cfg.in_bits, sh.k_bits);
    let u = mk + 2;
    let lo = sh.p.f - sh.p.exp_index_bits;
    let mi = mul_latency(sh.delta_w, lo);
    // ROM (2), interpolation multiply, E register.
    let ie = u + MEM_READ_LATENCY + mi + 1;
    let t_shift = shr_var_stages(sh.t_w, sh.amt_w, SHIFT_LEVELS);
    let w_shift = t_shift;
    // T shift; snapshot; window shifts; the adder tree.
    let w = ie + t_shift + 1 + w_shift + window_levels();
    Timing {
        u,
        ie,
        // The loop: read, shift, shift, low add, high add; then S_k registered.
        sum: w + CHAIN as u32,
    }
}

/// `(E << up) >> d` style amount: `a - b` (both SInt max_bits, `a >= b`) clamped to
/// `amt_w` bits, saturating at all-ones (which shifts everything out).
pub(crate) fn amount(m: &mut ModuleBuilder, a: Sig, b: Sig, amt_w: u32) -> RtlResult<Sig> {
    let d = m.sub_wide(a, b)?.as_unsigned();
    if d.width() <= amt_w {
        return m.zext(d, amt_w);
    }
    let top = m.slice(d, d.width() - 1, amt_w)?;
    let over = m.reduce(crate::rtl::ReduceOp::Or, top)?;
    let low = m.slice(d, amt_w - 1, 0)?;
    let ones = m.constant(Value::from_i128_wrapping(amt_w, -1), false);
    m.mux(over, ones, low)
}

/// Build (or fetch) the phase-1 lane for `cfg`.
pub fn phase1(lib: &mut Library, cfg: &SoftmaxConfig) -> RtlResult<Rc<Module>> {
    let name = format!(
        "accgen_softmax_p1_n{}_i{}f{}_o{}",
        cfg.max_len, cfg.in_bits, cfg.in_frac, cfg.out_bits
    );
    lib.get_or_build(&name.clone(), |lib| {
        let vendor = lib.vendor();
        let sh = shape(cfg);
        let p = sh.p;
        let tm = timing(cfg);
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Softmax phase 1: u, E, running max, window and {CHAIN}-cycle sum loop; {{i,E}} after {}, S after {} cycles.",
            tm.ie, tm.sum
        ));
        let v = m.input("v", 1, false)?;
        let last = m.input("last", 1, false)?;
        let pb = pos_bits();
        let pos = m.input("pos", pb, false)?;
        let has: Vec<Sig> = (1..=CHAIN)
            .map(|j| m.input(&format!("has{j}"), 1, false))
            .collect::<RtlResult<_>>()?;
        let x = m.input("x", cfg.in_bits, true)?;
        // Control that travels with the element: v (bit 0), last (1), pos, has1..hasC.
        let mut ctl_parts: Vec<Sig> = has.iter().rev().copied().collect();
        ctl_parts.extend([pos, last, v]);
        let ctl = m.concat(&ctl_parts)?;
        let has_bit = |j: usize| 2 + pb + (j as u32 - 1);
        let ctl_at = |m: &mut ModuleBuilder, n: u32, tag: &str| m.delay_reset(ctl, n, tag);
        let field = |m: &mut ModuleBuilder, c: Sig, hi: u32, lo: u32| m.slice(c, hi, lo);

        // u = round_shift(x * K, u_shift): multiply, round parts, round.
        let kc = m.const_u(sh.k_bits, p.k as u128)?;
        let prod = pmul(&mut m, vendor, x, kc, "xk")?;
        let (q, up) = round_shift_parts(&mut m, prod, p.u_shift as i32, Rounding::NearestEven)?;
        let q = m.reg_next("u_q", q, RegOpts::new())?;
        let up = m.reg_next("u_up", up, RegOpts::new())?;
        let u = add_round_up(&mut m, q, up)?;
        let u = m.resize(u, p.u_bits)?;
        let u = m.reg_next("u", u, RegOpts::new())?;
        let i = m.slice(u, p.u_bits - 1, p.f)?.as_signed();
        let fr = m.slice(u, p.f - 1, 0)?;
        // The running max works one stage later, on a copy of i next to the loop.
        let c_u = ctl_at(&mut m, tm.u + 1, "ctl_u")?;
        let v_u = field(&mut m, c_u, 0, 0)?;
        let last_u = field(&mut m, c_u, 1, 1)?;
        // The loop works on biased values (sign bit inverted), so its compare is a plain
        // unsigned carry chain: `max` of the biased values is the biased `max`.
        let bias = |m: &mut ModuleBuilder, a: Sig| -> RtlResult<Sig> {
            let w = a.width();
            let msb = m.const_u(w, 1u128 << (w - 1))?;
            m.xor(a.as_unsigned(), msb)
        };
        let i_b = bias(&mut m, i)?;
        let i_max = m.reg_next("i_max", i_b, RegOpts::new())?;

        // Running max (the one-cycle loop: one compare and one select) and the history
        // of the last four maxima. The loop register returns to the most negative value
        // after a row's last element (and at reset), so a row's first element wins the
        // compare without a `first` term in the loop.
        let mw = p.max_bits;
        // The most negative value, biased, is 0.
        let run = m.reg("m_run", mw, false, RegOpts::new().reset_zero(mw).enable(v_u))?;
        let gt = m.cmp(CmpOp::Gt, i_max, run.q)?;
        let m_new = m.mux(gt, i_max, run.q)?;
        let min_c = m.const_u(mw, 0)?;
        let run_next = m.mux(last_u, min_c, m_new)?;
        m.connect(run, run_next)?;
        // m_k itself is formed one stage later from registered copies, so nothing but
        // the loop register hangs on the compare.
        let gt_q = m.reg_next("m_gt", gt, RegOpts::new())?;
        let ik = m.reg_next("ik_1", i_max, RegOpts::new())?;
        let ik = bias(&mut m, ik)?.as_signed();
        let run_q = m.reg_next("m_old", run.q, RegOpts::new())?;
        let run_q = bias(&mut m, run_q)?.as_signed();
        let m_k = m.mux(gt_q, ik, run_q)?;
        let c_k = ctl_at(&mut m, tm.u + 2, "ctl_k")?;
        let v_k = field(&mut m, c_k, 0, 0)?;
        let mut hist = Vec::new();
        let mut prev = m_k;
        for j in 1..=CHAIN {
            let h = m.reg_next(&format!("m_h{j}"), prev, RegOpts::new().enable(v_k))?;
            hist.push(h);
            prev = h;
        }
        // Snapshot: m_k, i_k and m_{k-1..k-4} (the history before this element).
        let mk = m.reg_next("mk_1", m_k, RegOpts::new())?;
        let ik = m.reg_next("ik_2", ik, RegOpts::new())?;
        let snaps: Vec<Sig> = hist
            .iter()
            .enumerate()
            .map(|(j, h)| m.reg_next(&format!("mh{}_1", j + 1), *h, RegOpts::new()))
            .collect::<RtlResult<_>>()?;
        // Shift amounts: d_i = m_k - i_k, dw_j = m_k - m_{k-j}, d4 = m_k - m_{k-4}.
        let d_i = amount(&mut m, mk, ik, sh.amt_w)?;
        let d_i = m.reg_next("d_i", d_i, RegOpts::new())?;
        let mut dws = Vec::new();
        for (j, s) in snaps.iter().enumerate() {
            let d = amount(&mut m, mk, *s, sh.amt_w)?;
            dws.push(m.reg_next(&format!("d_w{}", j + 1), d, RegOpts::new())?);
        }
        let mk2 = m.reg_next("mk_2", mk, RegOpts::new())?;
        // Now at stage u + 4; align with E at stage ie.
        let to_e = tm.ie - (tm.u + 4);
        let d_i = m.delay(d_i, to_e, "d_i_e")?;
        let dws: Vec<Sig> = dws
            .iter()
            .enumerate()
            .map(|(j, d)| m.delay(*d, to_e, &format!("d_w{}_e", j + 1)))
            .collect::<RtlResult<_>>()?;
        let mk_e = m.delay(mk2, to_e, "mk_e")?;

        // E = base + (delta * f >> lo) from the ROM.
        let lo = p.f - p.exp_index_bits;
        let table = exp2_table(cfg);
        let (bw, dw) = (sh.base_w, sh.delta_w);
        let words = table
            .base
            .iter()
            .zip(&table.delta)
            .map(|(&b, &d)| Value::from_u128(bw + dw, ((b as u128) << dw) | d as u128))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| crate::rtl::RtlError {
                module: name.clone(),
                message: e.to_string(),
            })?;
        let rom = MemoryConfig {
            depth: sh.table_len,
            width: bw + dw,
            init: Some(words),
            style: None,
        };
        let idx = m.slice(fr, p.f - 1, lo)?;
        let idx = m.resize(idx, mem_addr_bits(sh.table_len))?;
        let one = m.const_u(1, 1)?;
        let word = mem::instantiate(&mut m, lib, "exp2_rom", &rom, None, one, idx, one)?;
        let f = m.slice(fr, lo - 1, 0)?;
        let f = m.delay(f, MEM_READ_LATENCY, "f_rom")?;
        let i_rom = m.delay(i, MEM_READ_LATENCY, "i_rom")?;
        let base = m.slice(word, bw + dw - 1, dw)?;
        let delta = m.slice(word, dw - 1, 0)?;
        let mi = mul_latency(dw, lo);
        let step = pmul(&mut m, vendor, delta, f, "interp")?;
        let step = m.shr(step, lo)?;
        let base = m.delay(base, mi, "base_mul")?;
        let i_mul = m.delay(i_rom, mi, "i_mul")?;
        let ew = (p.et + 2).max(base.width() + 1).max(step.width() + 1);
        let base = m.zext(base, ew)?;
        let step = m.zext(step, ew)?;
        let e = m.add(base, step)?;
        let e = m.resize(e, p.et + 2)?;
        let e = m.reg_next("e", e, RegOpts::new())?;
        let i_e = m.reg_next("i_e", i_mul, RegOpts::new())?;
        let ie = m.concat(&[i_e.as_unsigned(), e])?;
        m.output("ie", ie)?;

        // T = (E << up) >> d_i, then the window of the last four terms.
        let upsh = p.p - p.et;
        let e_up = m.zext(e, sh.t_w)?;
        let e_up = m.shl(e_up, upsh)?;
        let (t, ts) = shr_var_pipelined(&mut m, "t_sh", e_up, d_i, SHIFT_LEVELS)?;
        let dws: Vec<Sig> = dws
            .iter()
            .enumerate()
            .map(|(j, d)| m.delay(*d, ts, &format!("d_w{}_t", j + 1)))
            .collect::<RtlResult<_>>()?;
        let c_t = ctl_at(&mut m, tm.ie + ts, "ctl_t")?;
        let v_t = field(&mut m, c_t, 0, 0)?;
        let mut th = Vec::new();
        let mut prev = t;
        for j in 1..CHAIN {
            let h = m.reg_next(&format!("t_h{j}"), prev, RegOpts::new().enable(v_t))?;
            th.push(h);
            prev = h;
        }
        // Snapshot the window (T_k, T_{k-1..k-3}) with its masks and amounts.
        let t0 = m.reg_next("w_t0", t, RegOpts::new())?;
        let mut terms = vec![t0];
        for (j, h) in th.iter().enumerate() {
            let hs = m.reg_next(&format!("w_t{}", j + 1), *h, RegOpts::new())?;
            let hb = has_bit(j + 1);
            let has_j = field(&mut m, c_t, hb, hb)?;
            let has_j = m.reg_next(&format!("w_has{}", j + 1), has_j, RegOpts::new())?;
            let amt = m.reg_next(&format!("w_d{}", j + 1), dws[j], RegOpts::new())?;
            let no_j = m.not(has_j)?;
            let (sv, _) = shr_var_pipelined_kill(
                &mut m,
                &format!("w_sh{}", j + 1),
                hs,
                amt,
                SHIFT_LEVELS,
                Some(no_j),
            )?;
            terms.push(sv);
        }
        let ws = shr_var_stages(sh.t_w, sh.amt_w, SHIFT_LEVELS);
        terms[0] = m.delay(terms[0], ws, "w_t0_d")?;
        // Sum of the window's terms in s_bits (exact: W_k <= S_k < 2^s_bits), a
        // registered adder tree.
        let sb = p.s_bits;
        let mut level: Vec<Sig> = terms
            .iter()
            .map(|t| m.zext(*t, sb.max(sh.t_w)))
            .collect::<RtlResult<_>>()?;
        let mut depth = 0;
        while level.len() > 1 {
            depth += 1;
            let mut next = Vec::new();
            for (k, pair) in level.chunks(2).enumerate() {
                let s2 = match pair {
                    [a, b] => m.add(*a, *b)?,
                    [a] => *a,
                    _ => unreachable!(),
                };
                next.push(m.reg_next(&format!("w_l{depth}_{k}"), s2, RegOpts::new())?);
            }
            level = next;
        }
        debug_assert_eq!(depth, window_levels());
        let w = m.resize(level[0], sb)?;
        let w_at = tm.ie + ts + 1 + ws + window_levels();

        // The sum loop, CHAIN = 5 stages: read S_{k-5}, shift by the low three bits of
        // d5, shift by the rest (0 when d5 >= S_BITS), add the low half, add the high
        // half with the registered carry. Element k writes S_k at the end of stage 5;
        // element k + 5 reads it at stage 1, at least five cycles after element k did.
        let c_l = ctl_at(&mut m, w_at, "ctl_l")?;
        let pos_l = field(&mut m, c_l, 2 + pb - 1, 2)?;
        let hc = has_bit(CHAIN);
        let has_c = field(&mut m, c_l, hc, hc)?;
        let d_c = m.delay(dws[CHAIN - 1], w_at - (tm.ie + ts), "dc_l")?;
        // S by position mod CHAIN, written through clock enables (no multiplexer after
        // the adder).
        let c_wr = ctl_at(&mut m, w_at + CHAIN as u32 - 1, "ctl_w")?;
        let v_wr = field(&mut m, c_wr, 0, 0)?;
        let pos_wr = field(&mut m, c_wr, 2 + pb - 1, 2)?;
        let mut regs: Vec<crate::rtl::Reg> = Vec::with_capacity(CHAIN);
        for j in 0..CHAIN {
            let here = m.const_u(pb, j as u128)?;
            let hit = m.eq(pos_wr, here)?;
            let we = m.and(v_wr, hit)?;
            regs.push(m.reg(&format!("s_r{j}"), sb, false, RegOpts::new().enable(we))?);
        }
        let qs: Vec<Sig> = regs.iter().map(|r| r.q).collect();
        let rd = m.select(pos_l, &qs)?;
        let zero_s = m.const_u(sb, 0)?;
        let rd = m.mux(has_c, rd, zero_s)?;
        let rd = m.reg_next("s_rd", rd, RegOpts::new())?;
        let levels = 32 - (sb - 1).leading_zeros();
        if levels > 6 || d_c.width() < levels {
            return m.err(format!("sum shift of {levels} levels does not fit the loop"));
        }
        let lim = m.const_u(d_c.width(), sb as u128)?;
        let big = m.cmp(CmpOp::Ge, d_c, lim)?;
        let d1 = m.reg_next("s_d1", d_c, RegOpts::new())?;
        let big1 = m.reg_next("s_big1", big, RegOpts::new())?;
        let mut x = rd;
        for b in 0..levels.min(3) {
            let sel = m.bit(d1, b)?;
            let sx = m.shr(x, 1 << b)?;
            x = m.mux(sel, sx, x)?;
        }
        let x1 = m.reg_next("s_sh1", x, RegOpts::new())?;
        let d2 = m.reg_next("s_d2", d1, RegOpts::new())?;
        let big2 = m.reg_next("s_big2", big1, RegOpts::new())?;
        let mut x = x1;
        for b in 3..levels {
            let sel = m.bit(d2, b)?;
            let sx = m.shr(x, 1 << b)?;
            x = m.mux(sel, sx, x)?;
        }
        let x = m.mux(big2, zero_s, x)?;
        let x2 = m.reg_next("s_sh2", x, RegOpts::new())?;
        let w_add = m.delay(w, 3, "w_loop")?;
        let half = sb / 2;
        let x_lo = m.slice(x2, half - 1, 0)?;
        let w_lo = m.slice(w_add, half - 1, 0)?;
        let lo = m.add_wide(x_lo, w_lo)?;
        let lo_sum = m.slice(lo, half - 1, 0)?;
        let carry = m.bit(lo, half)?;
        let lo_q = m.reg_next("s_lo", lo_sum, RegOpts::new())?;
        let carry_q = m.reg_next("s_carry", carry, RegOpts::new())?;
        let x_hi = m.slice(x2, sb - 1, half)?;
        let w_hi = m.slice(w_add, sb - 1, half)?;
        let x_hi = m.reg_next("s_xhi", x_hi, RegOpts::new())?;
        let w_hi = m.reg_next("s_whi", w_hi, RegOpts::new())?;
        let hi = m.add(x_hi, w_hi)?;
        let c = m.zext(carry_q, hi.width())?;
        let hi = m.add(hi, c)?;
        let s_k = m.concat(&[hi, lo_q])?;
        for r in regs {
            m.connect(r, s_k)?;
        }
        let s_out = m.reg_next("s_k", s_k, RegOpts::new())?;
        let m_out = m.delay(mk_e, tm.sum - tm.ie, "mk_s")?;
        debug_assert_eq!(w_at + CHAIN as u32, tm.sum);
        m.output("s", s_out)?;
        m.output("m", m_out.as_signed())?;
        m.finish()
    })
}
