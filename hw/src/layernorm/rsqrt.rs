//! Once per row, per lane: the variance and the exact reciprocal square root (golden
//! `layernorm::row_norm`, steps 2 to 4).
//!
//! Ports: in `s1` (SInt s1_bits), `s2` (UInt s2_bits), `len` (UInt len_bits, the row
//! length `L`); out `s1_out` (`s1` delayed), `q` (UInt G+2) and `sh` (UInt), all
//! [`latency`] cycles later. Fully pipelined: a row may finish every cycle.
//!
//! ```text
//!  L*S2, S1^2, L^2 ─▶ D = L*S2 - S1^2, E*L^2 ─▶ R = D*2^EF + E*L^2 ─▶ msb (2) ─▶ k
//!  ─▶ R << 2k (pipelined) ─▶ Rm ─▶ divider 2^(2N+2G)/Rm (2G+3 stages)
//!  ─▶ square root (G+2 stages) ─▶ q
//! ```
//!
//! Every divider and square-root stage holds one subtract, whose borrow selects the
//! next remainder (restoring);
//! the shift amount `sh` is computed beside them from `k` and delayed.

use std::rc::Rc;

use accgen_golden::layernorm::{LayernormConfig, EPS_FRAC};

use crate::arith::{msb_pipelined, shr_var_pipelined, shr_var_stages};
use crate::mul::{mul_latency, pmul};
use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig};

/// Mux levels per register stage of the normalising shift.
const SHIFT_LEVELS: u32 = 2;

fn bits_for(n: u64) -> u32 {
    64 - n.leading_zeros()
}

/// Width of the output shift `sh`.
pub fn sh_bits(cfg: &LayernormConfig) -> u32 {
    let p = cfg.params();
    let max = p.sh_base + ((p.w - 2 * p.n) / 2) as i32;
    bits_for(max.max(1) as u64)
}

fn e_bits(cfg: &LayernormConfig) -> u32 {
    bits_for(cfg.params().eps_q as u64).max(1)
}

/// Cycles of the products stage (`L*S2`, `S1^2`, `L^2`, aligned).
fn mul_a(cfg: &LayernormConfig) -> u32 {
    let p = cfg.params();
    mul_latency(p.s2_bits, p.len_bits)
        .max(mul_latency(p.s1_bits, p.s1_bits))
        .max(mul_latency(p.len_bits, p.len_bits))
}

/// Cycles from the inputs to `q`.
pub fn latency(cfg: &LayernormConfig) -> u32 {
    let p = cfg.params();
    let wb = bits_for(p.w as u64);
    // products, D and E*L^2, R, msb (2), k, shift, Rm, divider, square root, out.
    mul_a(cfg)
        + mul_latency(2 * p.len_bits, e_bits(cfg))
        + 1
        + 2
        + 1
        + shr_var_stages(p.w, wb, SHIFT_LEVELS)
        + (2 * p.g + 3)
        + (p.g + 2)
        + 1
}

/// Build (or fetch) the per-row normaliser for `cfg`.
pub fn rsqrt(lib: &mut Library, cfg: &LayernormConfig) -> RtlResult<Rc<Module>> {
    let name = format!("accgen_layernorm_rsqrt_{}", super::cfg_tag(cfg));
    lib.get_or_build(&name.clone(), |lib| {
        let vendor = lib.vendor();
        let p = cfg.params();
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "LayerNorm row normaliser: variance, radicand, exact 1/sqrt; latency {}.",
            latency(cfg)
        ));
        let s1 = m.input("s1", p.s1_bits, true)?;
        let s2 = m.input("s2", p.s2_bits, false)?;
        let len = m.input("len", p.len_bits, false)?;
        let mut lat = 0;
        // ---- D = L*S2 - S1^2 and E*L^2 ---------------------------------------
        let la = mul_a(cfg);
        let ls2 = pmul(&mut m, vendor, s2, len, "ls2")?;
        let ls2 = m.delay(ls2, la - mul_latency(p.s2_bits, p.len_bits), "ls2_d")?;
        let s1sq = pmul(&mut m, vendor, s1, s1, "s1sq")?;
        let s1sq = m.delay(s1sq, la - mul_latency(p.s1_bits, p.s1_bits), "s1sq_d")?;
        let l2 = pmul(&mut m, vendor, len, len, "l2")?;
        let l2 = m.delay(l2, la - mul_latency(p.len_bits, p.len_bits), "l2_d")?;
        lat += la;
        let dw = p.s2_bits + p.len_bits + 1;
        let ls2w = m.zext(ls2, dw)?.as_signed();
        let s1w = m.resize(s1sq, dw)?;
        // D >= 0 and fits dw - 1 bits.
        let d = m.sub(ls2w, s1w)?;
        let d = m.slice(d, dw - 2, 0)?;
        let eb = e_bits(cfg);
        let e_c = m.const_u(eb, p.eps_q)?;
        let el2 = pmul(&mut m, vendor, l2, e_c, "el2")?;
        let lb = mul_latency(2 * p.len_bits, eb);
        let d = m.delay(d, lb, "d_d")?;
        lat += lb;
        let rw = p.w;
        let d_sh = m.resize(d.as_unsigned(), rw - EPS_FRAC)?;
        let zeros = m.const_u(EPS_FRAC, 0)?;
        let d_sh = m.concat(&[d_sh, zeros])?;
        let el2 = m.resize(el2.as_unsigned(), rw)?;
        let r = m.add(d_sh, el2)?;
        let r = m.reg_next("r", r, RegOpts::new())?;
        lat += 1;
        // ---- normalise: k = floor((W - 1 - msb) / 2), Rm = top 2N bits of R << 2k ---
        let wb = bits_for(rw as u64);
        let msb = msb_pipelined(&mut m, "msb", r, wb)?;
        let r2 = m.delay(r, 2, "r_msb")?;
        lat += 2;
        let wm1 = m.const_u(wb, (rw - 1) as u128)?;
        let gap = m.sub(wm1, msb)?;
        let k = m.slice(gap, wb - 1, 1)?;
        let zero1 = m.const_u(1, 0)?;
        let two_k = m.concat(&[k, zero1])?;
        let two_k = m.reg_next("two_k", two_k, RegOpts::new())?;
        let r3 = m.reg_next("r_k", r2, RegOpts::new())?;
        let k_r = m.reg_next("k", k, RegOpts::new())?;
        lat += 1;
        // sh = max(0, sh_base + (W - 2N)/2 - k), beside the datapath.
        let shw = sh_bits(cfg);
        let kw = k_r.width().max(shw) + 2;
        let c = p.sh_base as i128 + ((rw - 2 * p.n) / 2) as i128;
        let c_s = m.const_s(kw, c)?;
        let k_s = m.zext(k_r, kw)?.as_signed();
        let sh_full = m.sub(c_s, k_s)?;
        let neg = m.bit(sh_full, kw - 1)?;
        let sh_low = m.slice(sh_full, shw - 1, 0)?;
        let zsh = m.const_u(shw, 0)?;
        let sh = m.mux(neg, zsh, sh_low)?;
        let sh = m.reg_next("sh", sh, RegOpts::new())?;
        // R << 2k as a right shift of the bit-reversed R.
        let rev: Vec<Sig> = (0..rw).map(|i| m.bit(r3, i)).collect::<RtlResult<_>>()?;
        let rrev = m.concat(&rev)?;
        let (srev, ns) = shr_var_pipelined(&mut m, "norm", rrev, two_k, SHIFT_LEVELS)?;
        let back: Vec<Sig> = (0..rw).map(|i| m.bit(srev, i)).collect::<RtlResult<_>>()?;
        let rn = m.concat(&back)?;
        let rm = m.slice(rn, rw - 1, rw - 2 * p.n)?;
        let mut sh_d = m.delay(sh, ns - 1, "sh_n")?;
        lat += ns;
        // ---- restoring division: Y = floor(2^(2N+2G) / Rm), 2G+3 quotient bits ----
        let nb = 2 * p.n + 1;
        let rm_w = m.zext(rm, nb)?;
        let mut rem = m.const_u(nb, 1u128 << (2 * p.n - 3))?;
        let mut y: Option<Sig> = None;
        let mut dv = rm_w;
        let qb = 2 * p.g + 3;
        for step in 0..qb {
            // One carry chain: the subtract's borrow is the comparison.
            let r2x = m.shl(rem, 1)?;
            let diff = m.sub_wide(r2x, dv)?;
            let lt = m.bit(diff, nb)?;
            let ge = m.not(lt)?;
            let diff = m.slice(diff, nb - 1, 0)?;
            let r_next = m.mux(ge, diff, r2x)?;
            let y_next = match y {
                None => ge,
                Some(v) => m.concat(&[v, ge])?,
            };
            rem = m.reg_next(&format!("div{step}_r"), r_next, RegOpts::new())?;
            y = Some(m.reg_next(&format!("div{step}_y"), y_next, RegOpts::new())?);
            if step + 1 < qb {
                dv = m.reg_next(&format!("div{step}_d"), dv, RegOpts::new())?;
            }
            sh_d = m.reg_next(&format!("div{step}_sh"), sh_d, RegOpts::new())?;
        }
        lat += qb;
        // ---- restoring square root of Y (padded to 2G+4 bits): G+2 root bits -------
        let y = y.expect("at least one quotient bit");
        let y = m.zext(y, 2 * p.g + 4)?;
        let qn = p.g + 2;
        let remw = p.g + 5;
        let mut rem = m.const_u(remw, 0)?;
        let mut root = m.const_u(qn, 0)?;
        let mut yv = y;
        for step in 0..qn {
            let top = m.slice(yv, 2 * p.g + 3, 2 * p.g + 2)?;
            let rem4 = m.shl(rem, 2)?;
            let topw = m.zext(top, remw)?;
            let rem4 = m.or(rem4, topw)?;
            let one = m.const_u(1, 1)?;
            let rt = m.slice(root, qn - 2, 0)?;
            let trial = m.concat(&[rt, zero1, one])?;
            let trial = m.zext(trial, remw)?;
            let diff = m.sub_wide(rem4, trial)?;
            let lt = m.bit(diff, remw)?;
            let ge = m.not(lt)?;
            let diff = m.slice(diff, remw - 1, 0)?;
            let r_next = m.mux(ge, diff, rem4)?;
            let root_lo = m.slice(root, qn - 2, 0)?;
            let root_next = m.concat(&[root_lo, ge])?;
            rem = m.reg_next(&format!("sq{step}_r"), r_next, RegOpts::new())?;
            root = m.reg_next(&format!("sq{step}_q"), root_next, RegOpts::new())?;
            if step + 1 < qn {
                let ys = m.shl(yv, 2)?;
                yv = m.reg_next(&format!("sq{step}_y"), ys, RegOpts::new())?;
            }
            sh_d = m.reg_next(&format!("sq{step}_sh"), sh_d, RegOpts::new())?;
        }
        lat += qn;
        let q = m.reg_next("q_out", root, RegOpts::new())?;
        let sh_o = m.reg_next("sh_out", sh_d, RegOpts::new())?;
        lat += 1;
        if lat != latency(cfg) {
            return m.err(format!(
                "rsqrt latency {lat} differs from latency() = {}",
                latency(cfg)
            ));
        }
        let s1_o = m.delay(s1, lat, "s1_d")?;
        m.output("s1_out", s1_o)?;
        m.output("q", q)?;
        m.output("sh", sh_o)?;
        m.finish()
    })
}
