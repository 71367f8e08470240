//! Golden model of the GELU unit (`[gelu]`, GUIDE §3): `GELU(x) = x * Phi(x)`.
//!
//! Input: signed `in_bits` at scale `2^-in_frac`. Output: signed `out_bits` at scale
//! `2^-out_frac`, within 1 LSB of the exact erf form for every representable input
//! whose GELU lies in the output range (outside it the output saturates; see below).
//!
//! # Algorithm: ReLU minus an interpolated correction (as in Edge-MoE)
//!
//! `GELU(x) = ReLU(x) - C(|x|)` with `C(a) = a * Phi(-a)`. `C` is even in `x`, peaks at
//! 0.17 near `a = 0.75` and decays like `exp(-a^2/2)`, so one small table over `a >= 0`
//! serves both signs. Per element, all integer, `W` internal fraction bits:
//!
//! ```text
//! a = |x|                                        in_bits unsigned
//! i = a >> frac_bits;  f = a mod 2^frac_bits     segment index, position in it
//! c = i < entries ? base[i] + ((delta[i] * f) >> frac_bits) : 0     InterpTable::eval
//! r = (x > 0 ? x << (W - in_frac) : 0) - c       signed in_bits + W - in_frac bits
//! y = clamp(round_shift(r, W - out_frac, nearest-even), qrange(out_bits, signed))
//! ```
//!
//! The table ([`gelu_table`], shared with the generator) holds, at the segment starts
//! `i*h` with `h = 2^-seg_frac`, the values `base[i] = round(C(i*h) 2^W)` and the
//! rises `delta[i] = base[i+1] - base[i]`. The parameters ([`GeluParams`]) follow
//! from the formats:
//!
//! - `W = max(out_frac + 4, in_frac)`: four guard bits, and the ReLU term exact.
//! - `seg_frac = min(ceil(out_frac / 2), in_frac)`: linear interpolation errs by at
//!   most `h^2/8 * max|C''| = 0.1 h^2` (`C'' = phi(a)(a^2 - 2)`, at most `2 phi(0) =
//!   0.80`), at most 1/8 output LSB. When `seg_frac = in_frac` every input has its own
//!   entry (`frac_bits = 0`) and the table is exact.
//! - `entries`: the first segment start beyond the peak where `C <= 2^-(out_frac+3)`
//!   (1/8 LSB; `C` only falls from there), capped by the input range. Past it the
//!   correction is 0.
//!
//! Error budget in output LSBs: interpolation or cutoff 1/8, table rounding 1/32, floor
//! of the interpolation product 1/16, final rounding 1/2: at most 0.72 LSB, so every
//! output is one of the two codes around the exact value. Measured over every input
//! (`tests::exhaustive_formats`, snapshot `error histogram` files):
//!
//! | format (in_bits,in_frac)->(out_bits,out_frac) | entries | max err | mean err |
//! |---|---|---|---|
//! | (8,4)->(8,4)       | 12  | 0.582 | 0.103 |
//! | (12,8)->(12,8)     | 59  | 0.632 | 0.123 |
//! | (16,12)->(16,12)   | 278 | 0.658 | 0.142 |
//! | (16,8)->(8,4)      | 12  | 0.640 | 0.011 |
//! | (16,15)->(16,15)   | 257 | 0.634 | 0.256 |
//!
//! Every split of 8- and 11-bit inputs into 4-, 9- and 16-bit outputs (551 formats) is
//! also checked exhaustively, with a worst case below the 0.72 LSB bound. The mean is
//! low where many inputs are large and GELU(x) is almost exactly x.
//!
//! (I-BERT's i-GELU, for comparison, errs by up to 0.018 in real units, about 74 LSB
//! at `out_frac = 12`.)
//!
//! **Saturation.** If the output has fewer integer bits than the input, large positive
//! inputs saturate at the top code; the 1 LSB bound then holds against the reference
//! clamped to the output range, which the tests check.
//!
//! # Hardware
//! One ROM word per entry holds `base` (unsigned) and `delta` (signed), widths from
//! [`InterpTable::base_width`] and [`InterpTable::delta_width`]. Per lane and element:
//! one abs, one ROM read, one `delta_bits x frac_bits` multiply, one add, one rounding
//! shift and a clamp: one element per cycle per lane, fully pipelined.

use serde::{Deserialize, Serialize};

use crate::config::{check_range, ConfigError};
use crate::num::{
    check_signed_input, clamp, fits_signed, qrange, round_shift, InputError, InterpTable, Rounding,
};
use crate::special;

/// Guard bits of the internal value beyond `out_frac`.
const GUARD: u32 = 4;

/// `[gelu]` section: a GELU unit, `lanes` elements per cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeluConfig {
    /// Elements per cycle, 1..=64 (default 16).
    pub lanes: u32,
    /// Width of the signed input, 8..=16 (default 16).
    pub in_bits: u32,
    /// Fraction bits of the input, 0..=in_bits-1 (default 12): the input range is at
    /// least [-1, 1); finer grids only shrink it towards where GELU is x/2.
    pub in_frac: u32,
    /// Width of the signed output, 4..=16 (default 16).
    pub out_bits: u32,
    /// Fraction bits of the output, 0..=out_bits-1 (default 12): the output range
    /// holds at least [-1, 1 - LSB], enough for GELU's minimum of -0.17 and for x on [0, 1).
    pub out_frac: u32,
}

impl Default for GeluConfig {
    fn default() -> Self {
        GeluConfig {
            lanes: 16,
            in_bits: 16,
            in_frac: 12,
            out_bits: 16,
            out_frac: 12,
        }
    }
}

impl GeluConfig {
    /// Check every field's range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("gelu.lanes", self.lanes, 1, 64)?;
        check_range("gelu.in_bits", self.in_bits, 8, 16)?;
        check_range("gelu.in_frac", self.in_frac, 0, self.in_bits - 1)?;
        check_range("gelu.out_bits", self.out_bits, 4, 16)?;
        check_range("gelu.out_frac", self.out_frac, 0, self.out_bits - 1)?;
        Ok(())
    }

    /// The derived datapath parameters (see module docs).
    pub fn params(&self) -> GeluParams {
        let w = (self.out_frac + GUARD).max(self.in_frac);
        let seg_frac = self.out_frac.div_ceil(2).min(self.in_frac);
        let frac_bits = self.in_frac - seg_frac;
        let h = (-(seg_frac as f64)).exp2();
        // Entries reachable: |x| <= 2^(in_bits-1), so index <= 2^(in_bits-1) >> frac_bits.
        let reach = ((1u64 << (self.in_bits - 1)) >> frac_bits) + 1;
        let tiny = (-(self.out_frac as f64 + 3.0)).exp2();
        let mut cut = (1.0 / h).ceil() as u64;
        while correction(cut as f64 * h) > tiny {
            cut += 1;
        }
        GeluParams {
            w,
            seg_frac,
            frac_bits,
            entries: reach.min(cut) as usize,
            r_bits: self.in_bits + w - self.in_frac,
        }
    }
}

/// Datapath parameters of a GELU unit, derived from its [`GeluConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeluParams {
    /// Fraction bits of the table values and of the internal result `r`.
    pub w: u32,
    /// Segments are `2^-seg_frac` wide in real units.
    pub seg_frac: u32,
    /// Low bits of `|x|` interpolated within a segment (`in_frac - seg_frac`).
    pub frac_bits: u32,
    /// ROM depth; `|x| >> frac_bits >= entries` means correction 0.
    pub entries: usize,
    /// Signed width of `r = relu_term - c` (before the final rounding shift).
    pub r_bits: u32,
}

/// `C(a) = a * Phi(-a) = ReLU(a) - GELU(a)` for `a >= 0`, in real units.
pub fn correction(a: f64) -> f64 {
    a * special::phi(-a)
}

/// The correction ROM for `cfg`: the generator emits exactly these numbers.
pub fn gelu_table(cfg: &GeluConfig) -> InterpTable {
    let p = cfg.params();
    let scale = (p.w as f64).exp2();
    let knots: Vec<i64> = (0..=p.entries)
        .map(|i| (correction(i as f64 * (-(p.seg_frac as f64)).exp2()) * scale).round() as i64)
        .collect();
    InterpTable::from_knots(&knots, p.frac_bits)
}

/// A GELU unit's golden model: parameters plus its table.
#[derive(Debug, Clone)]
pub struct GeluUnit {
    cfg: GeluConfig,
    params: GeluParams,
    table: InterpTable,
}

impl GeluUnit {
    /// Build the model (and its table) for a validated config.
    pub fn new(cfg: &GeluConfig) -> GeluUnit {
        GeluUnit {
            cfg: cfg.clone(),
            params: cfg.params(),
            table: gelu_table(cfg),
        }
    }

    /// The derived parameters.
    pub fn params(&self) -> &GeluParams {
        &self.params
    }

    /// The correction ROM.
    pub fn table(&self) -> &InterpTable {
        &self.table
    }

    /// GELU of one input (see module docs). Panics when `x` is not a signed `in_bits`
    /// integer; [`GeluUnit::eval_stream`] checks first.
    pub fn eval(&self, x: i64) -> i64 {
        let (c, p) = (&self.cfg, &self.params);
        assert!(
            fits_signed(x as i128, c.in_bits),
            "gelu: x = {x} is not a signed {}-bit integer",
            c.in_bits
        );
        let corr = self.table.eval(x.unsigned_abs()).unwrap_or(0) as i128;
        let relu = if x > 0 {
            (x as i128) << (p.w - c.in_frac)
        } else {
            0
        };
        let y = round_shift(
            relu - corr,
            (p.w - c.out_frac) as i32,
            Rounding::NearestEven,
        );
        let (lo, hi) = qrange(c.out_bits, true);
        clamp(y, lo, hi) as i64
    }

    /// GELU of every element, after checking the input range.
    pub fn eval_stream(&self, xs: &[i64]) -> Result<Vec<i64>, InputError> {
        check_signed_input(xs, self.cfg.in_bits, "gelu.in_bits")?;
        Ok(xs.iter().map(|&x| self.eval(x)).collect())
    }
}

#[cfg(test)]
mod tests;
