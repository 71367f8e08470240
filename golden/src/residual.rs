//! Golden model of the residual-add unit (`[residual]`): `y = a + b` for two signed
//! integer tensors with different power-of-two scales, re-quantized to the output's
//! power-of-two scale with the requant semantics of GUIDE §3 (rounding mode and
//! saturation).
//!
//! `a` is signed `a_bits` at scale `2^-a_frac`, `b` signed `b_bits` at `2^-b_frac`, `y`
//! signed `out_bits` at `2^-out_frac`. With `F = max(a_frac, b_frac)`:
//! 1. align exactly on the finer grid: `v = a * 2^(F - a_frac) + b * 2^(F - b_frac)`;
//! 2. `y = clamp(round_shift(v, F - out_frac, rounding))` to the signed `out_bits`
//!    range ([`round_shift`]: a negative shift is an exact left shift, then the clamp
//!    saturates).
//!
//! So `y` is the correctly rounded (in the configured mode) and saturated value of the
//! real sum, and nothing in between rounds.

use serde::{Deserialize, Serialize};

use crate::config::{check_range, ConfigError};
use crate::num::{check_signed_input, clamp, qrange, round_shift, InputError, Rounding};

/// `[residual]` section: an element-wise add of two tensors with their own scales.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResidualConfig {
    /// Element pairs per cycle, 1..=64 (default 16).
    pub lanes: u32,
    /// Width of the signed `a`, 2..=32 (default 8).
    pub a_bits: u32,
    /// Fraction bits of `a`, -16..=32 (default 4); negative means a scale above 1.
    pub a_frac: i32,
    /// Width of the signed `b`, 2..=32 (default 8).
    pub b_bits: u32,
    /// Fraction bits of `b`, -16..=32 (default 4).
    pub b_frac: i32,
    /// Width of the signed output, 2..=32 (default 8).
    pub out_bits: u32,
    /// Fraction bits of the output, -16..=32 (default 4).
    pub out_frac: i32,
    /// Rounding of the final shift (default nearest-even).
    pub rounding: Rounding,
}

impl Default for ResidualConfig {
    fn default() -> Self {
        ResidualConfig {
            lanes: 16,
            a_bits: 8,
            a_frac: 4,
            b_bits: 8,
            b_frac: 4,
            out_bits: 8,
            out_frac: 4,
            rounding: Rounding::NearestEven,
        }
    }
}

impl ResidualConfig {
    /// Check every field's range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("residual.lanes", self.lanes, 1, 64)?;
        check_range("residual.a_bits", self.a_bits, 2, 32)?;
        check_range("residual.b_bits", self.b_bits, 2, 32)?;
        check_range("residual.out_bits", self.out_bits, 2, 32)?;
        check_range("residual.a_frac", self.a_frac, -16, 32)?;
        check_range("residual.b_frac", self.b_frac, -16, 32)?;
        check_range("residual.out_frac", self.out_frac, -16, 32)?;
        Ok(())
    }

    /// `F = max(a_frac, b_frac)`: the common grid.
    pub fn common_frac(&self) -> i32 {
        self.a_frac.max(self.b_frac)
    }

    /// Left shifts that align `a` and `b` on the common grid.
    pub fn align_shifts(&self) -> (u32, u32) {
        let f = self.common_frac();
        ((f - self.a_frac) as u32, (f - self.b_frac) as u32)
    }

    /// Signed width of the aligned sum `v` (exact).
    pub fn sum_bits(&self) -> u32 {
        let (sa, sb) = self.align_shifts();
        (self.a_bits + sa).max(self.b_bits + sb) + 1
    }

    /// The final shift `F - out_frac` (negative: a left shift).
    pub fn out_shift(&self) -> i32 {
        self.common_frac() - self.out_frac
    }
}

/// `y` for one pair (already range-checked).
pub fn residual(cfg: &ResidualConfig, a: i64, b: i64) -> i64 {
    let (sa, sb) = cfg.align_shifts();
    let v = ((a as i128) << sa) + ((b as i128) << sb);
    let s = cfg.out_shift();
    let (lo, hi) = qrange(cfg.out_bits, true);
    // A left shift past the output width saturates whatever the exact product is.
    if s < 0 && v != 0 && (-s) as u32 > cfg.out_bits {
        return if v < 0 { lo as i64 } else { hi as i64 };
    }
    clamp(round_shift(v, s, cfg.rounding), lo, hi) as i64
}

/// Element-wise `y = a + b` over two equal-length slices, checked.
pub fn residual_add(cfg: &ResidualConfig, a: &[i64], b: &[i64]) -> Result<Vec<i64>, InputError> {
    if a.len() != b.len() {
        return Err(InputError(format!(
            "a has {} elements and b has {}; they must match",
            a.len(),
            b.len()
        )));
    }
    check_signed_input(a, cfg.a_bits, "residual.a_bits")
        .map_err(|e| InputError(format!("a: {e}")))?;
    check_signed_input(b, cfg.b_bits, "residual.b_bits")
        .map_err(|e| InputError(format!("b: {e}")))?;
    Ok(a.iter()
        .zip(b)
        .map(|(&x, &y)| residual(cfg, x, y))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::rng::SplitMix64;

    /// Exact rational reference: the real sum as a fraction over 2^64, rounded by
    /// `mode` with plain integer division, then clamped.
    fn reference(cfg: &ResidualConfig, a: i64, b: i64) -> i64 {
        // value * 2^64, exact for |frac| <= 32.
        let scale = |x: i64, frac: i32| -> i128 { (x as i128) << (64 - frac) as u32 };
        let v = scale(a, cfg.a_frac) + scale(b, cfg.b_frac);
        // y_real * 2^out_frac = v / 2^(64 - out_frac).
        let d: i128 = 1i128 << (64 - cfg.out_frac) as u32;
        let q = v.div_euclid(d);
        let r = v.rem_euclid(d);
        let y = match cfg.rounding {
            Rounding::Floor => q,
            Rounding::NearestEven => {
                if 2 * r > d || (2 * r == d && q % 2 != 0) {
                    q + 1
                } else {
                    q
                }
            }
            Rounding::HalfAway => {
                if 2 * r > d || (2 * r == d && v >= 0) {
                    q + 1
                } else {
                    q
                }
            }
        };
        let hi = (1i128 << (cfg.out_bits - 1)) - 1;
        y.clamp(-hi - 1, hi) as i64
    }

    #[test]
    fn matches_exact_rational_reference() {
        let mut rng = SplitMix64::new(17);
        for t in 0..3000 {
            let mode = [Rounding::NearestEven, Rounding::HalfAway, Rounding::Floor][t % 3];
            let cfg = ResidualConfig {
                lanes: 1,
                a_bits: rng.range_i64(2, 32) as u32,
                a_frac: rng.range_i64(-16, 24) as i32,
                b_bits: rng.range_i64(2, 32) as u32,
                b_frac: rng.range_i64(-16, 24) as i32,
                out_bits: rng.range_i64(2, 32) as u32,
                out_frac: rng.range_i64(-16, 24) as i32,
                rounding: mode,
            };
            cfg.validate().unwrap();
            for _ in 0..50 {
                let a = rng.signed(cfg.a_bits);
                let b = rng.signed(cfg.b_bits);
                assert_eq!(
                    residual(&cfg, a, b),
                    reference(&cfg, a, b),
                    "{cfg:?} a {a} b {b}"
                );
            }
        }
    }

    #[test]
    fn exhaustive_small_formats() {
        for (af, bf, of) in [(0, 2, 1), (3, 0, 0), (2, 2, 4), (-1, 1, -2)] {
            for mode in [Rounding::NearestEven, Rounding::HalfAway, Rounding::Floor] {
                let cfg = ResidualConfig {
                    lanes: 1,
                    a_bits: 5,
                    a_frac: af,
                    b_bits: 4,
                    b_frac: bf,
                    out_bits: 4,
                    out_frac: of,
                    rounding: mode,
                };
                for a in -16..16 {
                    for b in -8..8 {
                        assert_eq!(
                            residual(&cfg, a, b),
                            reference(&cfg, a, b),
                            "{cfg:?} {a} {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn config_and_input_errors() {
        let e = Config::from_toml_str("[residual]\na_frac = 40\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("residual.a_frac") && e.contains("-16..=32"),
            "{e}"
        );
        let e = Config::from_toml_str("[residual]\nlanes = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("residual.lanes") && e.contains("1..=64"), "{e}");
        let cfg = ResidualConfig::default();
        let e = residual_add(&cfg, &[1, 2], &[1]).unwrap_err().to_string();
        assert!(e.contains("a has 2 elements and b has 1"), "{e}");
        let e = residual_add(&cfg, &[1, 2], &[1, 300])
            .unwrap_err()
            .to_string();
        assert!(e.contains("b: x[1] = 300"), "{e}");
    }
}
