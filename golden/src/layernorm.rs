//! Golden model of the LayerNorm unit (`[layernorm]`): integer mean and variance, an
//! exact integer reciprocal square root, per-channel gamma and beta, and a power-of-two
//! output scale.
//!
//! A row of `L <= max_len` signed `in_bits` integers `x` (scale `2^-in_frac`; the scale
//! only matters for `eps`) goes in; `L` signed `out_bits` integers at scale
//! `2^-out_frac` come out, in input order, saturating. Channel `i` (the position in
//! the row) has its own `gamma[i]` (signed `gamma_bits`, scale `2^-gamma_frac`) and
//! `beta[i]` (signed `beta_bits`, at the output's scale `2^-out_frac`).
//!
//! # Pipeline (what the hardware implements, all exact integers but one floor)
//!
//! With `EF` = [`EPS_FRAC`] and the derived widths `N`, `G`, `W` of [`LayernormParams`]:
//! 1. **Statistics, once per element as it arrives:** `S1 = sum x`, `S2 = sum x^2`.
//! 2. **Once per row:** `D = L*S2 - S1^2` (`= L^2 * var`, exact, `>= 0`) and the
//!    radicand `R = D * 2^EF + E * L^2`, where `E = round(eps * 2^(2*in_frac + EF))`
//!    (`>= 1`, checked by `validate`) is epsilon in units of the input's LSB squared,
//!    with `EF` fraction bits. `R >= 1`.
//! 3. **Normalise** `R` by an even left shift `2k` into `[2^(W-2), 2^W)`, keep the top
//!    `2N` bits: `Rm = (R << 2k) >> (W - 2N)` (a floor; `Rm` in `[2^(2N-2), 2^2N)`),
//!    and `s = (W - 2N)/2 - k`, so `R ~ Rm * 4^s`.
//! 4. **Reciprocal square root,** exact for `Rm`:
//!    `q = isqrt(floor(2^(2N+2G) / Rm)) = floor(2^(N+G) / sqrt(Rm))`, in
//!    `[2^G, 2^(G+1)]` (the two floors compose exactly: `floor(sqrt(floor(y))) =
//!    floor(sqrt(y))`). The hardware runs a restoring divider, then a restoring
//!    square root, one result bit per pipeline stage.
//! 5. **Per element, in input order:** `d = L*x - S1` (so `x - mean = d / L`), then
//!    `P = d * q * gamma[i]` and, with `sh = max(0, N + G + s + gamma_frac - EF/2 -
//!    out_frac)`, `y = clamp(round_shift(P + beta[i] * 2^sh, sh, nearest-even))` to
//!    the signed `out_bits` range.
//!
//! Why this is LayerNorm: `(x - mean) / sqrt(var + eps') = d * 2^(EF/2) / sqrt(R)`,
//! with `eps' = E * 2^-(2*in_frac + EF)` in real units, and `1/sqrt(R) ~ q *
//! 2^-(N+G+s)`. `sh` is never clamped when `d != 0`: then the row is not constant, so
//! `D >= L - 1 >= 1`, `R >= 2^EF` and `s >= EF/2 + 1 - N`, which makes `sh >= G + 1 +
//! gamma_frac - out_frac > 0`. When `d == 0` the output is `clamp(beta[i])` for any
//! `sh >= 0`.
//!
//! # Error budget
//! `q` is low by less than `2^-G` relative, the truncation to `Rm` moves `1/sqrt(R)`
//! by less than `2^-(2N-1)` relative, and nothing else is approximate. An unsaturated
//! output has `|P / 2^sh| <= 2^(out_bits-1) + 2^(beta_bits-1) + 1`, and `G = max(out_bits,
//! beta_bits) + 4`, `2N - 1 >= G + 1`, so the approximation adds under 1/8 LSB to the
//! final rounding's 1/2. The reference is the `f64` LayerNorm of the same integers
//! with the same gamma, beta and `eps'` (the tests measure against it, and also against
//! the configured `eps`).

use serde::{Deserialize, Serialize};

use crate::config::{check_range, ConfigError};
use crate::num::{
    bit_len, check_signed_input, clamp, clog2, qrange, round_shift, InputError, Rounding,
};

/// Fraction bits of epsilon in units of the input's LSB squared (`EF`).
pub const EPS_FRAC: u32 = 24;

/// Epsilon in real units (PyTorch's `eps`): a finite number in `(0, 1]`. A newtype so
/// that configs stay `Eq` (values compare by their bits; NaN is rejected).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Epsilon(pub f64);

impl PartialEq for Epsilon {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Epsilon {}

/// `[layernorm]` section: a LayerNorm unit over rows of up to `max_len` elements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LayernormConfig {
    /// Rows processed in parallel, one element per cycle each, 1..=16 (default 1). All
    /// lanes share gamma and beta (one layer).
    pub lanes: u32,
    /// Longest row (the number of channels), 2..=4096 (default 256).
    pub max_len: u32,
    /// Width of the signed input, 4..=16 (default 8).
    pub in_bits: u32,
    /// Fraction bits of the input, 0..=in_bits-1 (default 4); only `eps` depends on it.
    pub in_frac: u32,
    /// Width of the signed gamma, 2..=16 (default 8).
    pub gamma_bits: u32,
    /// Fraction bits of gamma, 0..=gamma_bits (default 6).
    pub gamma_frac: u32,
    /// Width of the signed beta, at the output's scale, 2..=24 (default 8).
    pub beta_bits: u32,
    /// Width of the signed output, 4..=16 (default 8).
    pub out_bits: u32,
    /// Fraction bits of the output (its power-of-two scale), 0..=out_bits (default 4).
    pub out_frac: u32,
    /// Epsilon in real units, as in PyTorch (default 1e-5); `eps * 2^(2*in_frac + 24)`
    /// must round to 1..=2^(2*in_frac + 24).
    pub eps: Epsilon,
}

impl Default for LayernormConfig {
    fn default() -> Self {
        LayernormConfig {
            lanes: 1,
            max_len: 256,
            in_bits: 8,
            in_frac: 4,
            gamma_bits: 8,
            gamma_frac: 6,
            beta_bits: 8,
            out_bits: 8,
            out_frac: 4,
            eps: Epsilon(1e-5),
        }
    }
}

/// Derived datapath parameters of a LayerNorm unit (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayernormParams {
    /// Bits of a row length `L` (1..=max_len).
    pub len_bits: u32,
    /// Signed width of `S1` (and of `d = L*x - S1`).
    pub s1_bits: u32,
    /// Unsigned width of `S2`.
    pub s2_bits: u32,
    /// Signed width of `d`.
    pub d_bits: u32,
    /// `E`: epsilon in units of the input LSB squared, `EF` fraction bits.
    pub eps_q: u128,
    /// Unsigned width of `R`.
    pub r_bits: u32,
    /// `W`: even width `R` is normalised into.
    pub w: u32,
    /// `N`: `Rm` keeps `2N` bits.
    pub n: u32,
    /// `G`: `q` lies in `[2^G, 2^(G+1)]`.
    pub g: u32,
    /// Unsigned width of `q`.
    pub q_bits: u32,
    /// `sh = max(0, sh_base + s)`: the constant part of the output shift.
    pub sh_base: i32,
}

impl LayernormConfig {
    /// Check every field's range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("layernorm.lanes", self.lanes, 1, 16)?;
        check_range("layernorm.max_len", self.max_len, 2, 4096)?;
        check_range("layernorm.in_bits", self.in_bits, 4, 16)?;
        check_range("layernorm.in_frac", self.in_frac, 0, self.in_bits - 1)?;
        check_range("layernorm.gamma_bits", self.gamma_bits, 2, 16)?;
        check_range("layernorm.gamma_frac", self.gamma_frac, 0, self.gamma_bits)?;
        check_range("layernorm.beta_bits", self.beta_bits, 2, 24)?;
        check_range("layernorm.out_bits", self.out_bits, 4, 16)?;
        check_range("layernorm.out_frac", self.out_frac, 0, self.out_bits)?;
        let e = self.eps.0;
        let scale = ((2 * self.in_frac + EPS_FRAC) as f64).exp2();
        let q = (e * scale).round();
        if !e.is_finite() || e <= 0.0 || e > 1.0 || q < 1.0 {
            return Err(ConfigError::Invalid {
                field: "layernorm.eps".into(),
                message: format!(
                    "= {e} is outside the allowed range {:e}..=1 (eps * 2^(2*in_frac + {EPS_FRAC}) must round to at least 1; in_frac = {})",
                    0.5 / scale,
                    self.in_frac
                ),
            });
        }
        Ok(())
    }

    /// The derived datapath parameters.
    pub fn params(&self) -> LayernormParams {
        let len_bits = bit_len(self.max_len as u128);
        let lg = clog2(self.max_len as u64);
        let s1_bits = self.in_bits + lg;
        let s2_bits = 2 * self.in_bits - 1 + lg;
        let d_bits = self.in_bits + 2 * lg + 1;
        let eps_q = (self.eps.0 * ((2 * self.in_frac + EPS_FRAC) as f64).exp2()).round() as u128;
        // R <= L^2 * (2^(2 in_bits - 2) * 2^EF + E), E <= 2^(2 in_frac + EF).
        let r_max = {
            let l2 = (self.max_len as u128).pow(2);
            l2 * ((1u128 << (2 * self.in_bits - 2 + EPS_FRAC)) + eps_q)
        };
        let r_bits = bit_len(r_max);
        let g = self.out_bits.max(self.beta_bits) + 4;
        let n = (g + 2).div_ceil(2) + 1;
        let w = r_bits.max(2 * n).next_multiple_of(2);
        let sh_base =
            (n + g + self.gamma_frac) as i32 - (EPS_FRAC / 2) as i32 - self.out_frac as i32;
        LayernormParams {
            len_bits,
            s1_bits,
            s2_bits,
            d_bits,
            eps_q,
            r_bits,
            w,
            n,
            g,
            q_bits: g + 2,
            sh_base,
        }
    }

    /// `eps'`: the epsilon the unit actually adds, in real units.
    pub fn eps_effective(&self) -> f64 {
        self.params().eps_q as f64 / ((2 * self.in_frac + EPS_FRAC) as f64).exp2()
    }
}

/// Per-row results of the statistics and the reciprocal square root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowNorm {
    /// Row length `L`.
    pub len: u32,
    /// `S1 = sum x`.
    pub s1: i64,
    /// `q = floor(2^(N+G) / sqrt(Rm))`.
    pub q: u64,
    /// The output shift `sh` (>= 0).
    pub sh: u32,
}

/// `floor(sqrt(v))`, exact.
pub fn isqrt(v: u128) -> u128 {
    if v < 2 {
        return v;
    }
    let mut r = (v as f64).sqrt() as u128;
    while r * r > v {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= v {
        r += 1;
    }
    r
}

/// Steps 1 to 4 for one row (`1 <= xs.len() <= max_len`, already range-checked).
pub fn row_norm(cfg: &LayernormConfig, xs: &[i64]) -> RowNorm {
    let p = cfg.params();
    let l = xs.len() as i128;
    let s1: i128 = xs.iter().map(|&x| x as i128).sum();
    let s2: i128 = xs.iter().map(|&x| (x as i128) * (x as i128)).sum();
    let d = (l * s2 - s1 * s1) as u128;
    let r = (d << EPS_FRAC) + p.eps_q * (l as u128) * (l as u128);
    let bl = bit_len(r);
    let k = (p.w - bl) / 2;
    let rm = (r << (2 * k)) >> (p.w - 2 * p.n);
    let s = ((p.w - 2 * p.n) / 2) as i32 - k as i32;
    let q = isqrt((1u128 << (2 * p.n + 2 * p.g)) / rm);
    RowNorm {
        len: xs.len() as u32,
        s1: s1 as i64,
        q: q as u64,
        sh: (p.sh_base + s).max(0) as u32,
    }
}

/// Step 5 for element `x` of channel `gamma`, `beta` of a row with `norm`.
pub fn output(cfg: &LayernormConfig, norm: &RowNorm, x: i64, gamma: i64, beta: i64) -> i64 {
    let d = norm.len as i128 * x as i128 - norm.s1 as i128;
    let prod = d * norm.q as i128 * gamma as i128;
    let v = round_shift(
        prod + ((beta as i128) << norm.sh),
        norm.sh as i32,
        Rounding::NearestEven,
    );
    let (lo, hi) = qrange(cfg.out_bits, true);
    clamp(v, lo, hi) as i64
}

/// Check a row and its parameters: `1 <= L <= max_len`, every `x` in `in_bits`, and
/// `gamma`, `beta` (at least `L` channels each) in their widths.
pub fn check_row(
    cfg: &LayernormConfig,
    xs: &[i64],
    gamma: &[i64],
    beta: &[i64],
) -> Result<(), InputError> {
    if xs.is_empty() || xs.len() > cfg.max_len as usize {
        return Err(InputError(format!(
            "row length {} is outside the allowed range 1..={} (layernorm.max_len = {})",
            xs.len(),
            cfg.max_len,
            cfg.max_len
        )));
    }
    check_signed_input(xs, cfg.in_bits, "layernorm.in_bits")?;
    for (name, v, bits) in [
        ("gamma", gamma, cfg.gamma_bits),
        ("beta", beta, cfg.beta_bits),
    ] {
        if v.len() < xs.len() {
            return Err(InputError(format!(
                "{name} has {} channels; the row has {} elements",
                v.len(),
                xs.len()
            )));
        }
        check_signed_input(&v[..xs.len()], bits, &format!("layernorm.{name}_bits"))
            .map_err(|e| InputError(format!("{name}: {e}")))?;
    }
    Ok(())
}

/// LayerNorm of one row: channel `i` uses `gamma[i]` and `beta[i]`.
pub fn layernorm_row(
    cfg: &LayernormConfig,
    xs: &[i64],
    gamma: &[i64],
    beta: &[i64],
) -> Result<Vec<i64>, InputError> {
    check_row(cfg, xs, gamma, beta)?;
    let n = row_norm(cfg, xs);
    Ok(xs
        .iter()
        .enumerate()
        .map(|(i, &x)| output(cfg, &n, x, gamma[i], beta[i]))
        .collect())
}

/// The `f64` reference: LayerNorm of the same integers with the unit's `eps'`, as an
/// unrounded output code (`y * 2^out_frac`), not clamped.
pub fn reference_row(
    cfg: &LayernormConfig,
    xs: &[i64],
    gamma: &[i64],
    beta: &[i64],
    eps: f64,
) -> Vec<f64> {
    let sc = (cfg.in_frac as f64).exp2();
    let v: Vec<f64> = xs.iter().map(|&x| x as f64 / sc).collect();
    let l = v.len() as f64;
    let mean = v.iter().sum::<f64>() / l;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / l;
    let inv = 1.0 / (var + eps).sqrt();
    let gs = (cfg.gamma_frac as f64).exp2();
    let os = (cfg.out_frac as f64).exp2();
    v.iter()
        .enumerate()
        .map(|(i, x)| (x - mean) * inv * (gamma[i] as f64 / gs) * os + beta[i] as f64)
        .collect()
}

#[cfg(test)]
mod tests;
