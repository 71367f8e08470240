//! Special functions in `f64` for building ROM tables and for test references.
//!
//! `std` has no `erf`, so it is implemented here: for `|x| < 2.5` the series
//! `erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n x / (1*3*...*(2n+1))`, whose terms
//! are all positive (no cancellation); above that the continued fraction
//! `erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))`,
//! evaluated bottom-up. `exp(-x^2)` is taken with `x^2` split into an exact high part
//! and a small low part, so the rounding of `x^2` does not cost accuracy. Measured
//! against reference tables: `erf` within about 1e-15 absolute, `erfc` within about
//! 1e-15 relative, far below any output LSB the units use.
//!
//! Table contents depend only on these functions and `f64::exp2`, so the generator
//! and the golden model, run on one machine, read identical ROMs.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

const SWITCH: f64 = 2.5;

/// `exp(-x^2)` with `x = xh + xl`, `xh` holding the top 26 significand bits so that
/// `xh^2` is exact.
fn exp_neg_sq(x: f64) -> f64 {
    let xh = f64::from_bits(x.to_bits() & !((1u64 << 27) - 1));
    let xl = x - xh;
    (-xh * xh).exp() * (-(2.0 * xh * xl + xl * xl)).exp()
}

/// Series for `erf(x)`, `0 <= x < SWITCH`.
fn erf_series(x: f64) -> f64 {
    let x2 = x * x;
    let (mut term, mut sum) = (x, x);
    let mut n = 0.0;
    loop {
        n += 1.0;
        term *= 2.0 * x2 / (2.0 * n + 1.0);
        sum += term;
        if term <= sum * 1e-18 {
            break;
        }
    }
    2.0 / PI.sqrt() * exp_neg_sq(x) * sum
}

/// Continued fraction for `erfc(x)`, `x >= SWITCH`; 80 levels converge to full
/// precision there.
fn erfc_cf(x: f64) -> f64 {
    let mut f = x;
    for k in (1..=80).rev() {
        f = x + (k as f64 * 0.5) / f;
    }
    exp_neg_sq(x) / PI.sqrt() / f
}

/// The error function.
pub fn erf(x: f64) -> f64 {
    let a = x.abs();
    let v = if a < SWITCH {
        erf_series(a)
    } else {
        1.0 - erfc_cf(a)
    };
    v.copysign(x)
}

/// The complementary error function `1 - erf(x)`, accurate in relative terms for large `x`.
pub fn erfc(x: f64) -> f64 {
    let a = x.abs();
    let v = if a < SWITCH {
        1.0 - erf_series(a)
    } else {
        erfc_cf(a)
    };
    if x < 0.0 {
        2.0 - v
    } else {
        v
    }
}

/// The standard normal CDF `Phi(x) = erfc(-x / sqrt 2) / 2`.
pub fn phi(x: f64) -> f64 {
    0.5 * erfc(-x * FRAC_1_SQRT_2)
}

/// GELU in its exact erf form, `x * Phi(x)`.
pub fn gelu(x: f64) -> f64 {
    x * phi(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values quoted to 19 significant digits, as in the standard tables.
    #[allow(clippy::excessive_precision)]
    const ERF: [(f64, f64); 5] = [
        (0.1, 0.112_462_916_018_284_892_2),
        (0.5, 0.520_499_877_813_046_537_7),
        (1.0, 0.842_700_792_949_714_869_3),
        (1.5, 0.966_105_146_475_310_727_1),
        (2.0, 0.995_322_265_018_952_734_2),
    ];
    #[allow(clippy::excessive_precision)]
    const ERFC: [(f64, f64); 4] = [
        (2.5, 4.069_520_174_449_589_803e-4),
        (3.0, 2.209_049_699_858_544_137e-5),
        (5.0, 1.537_459_794_428_034_850e-12),
        (10.0, 2.088_487_583_762_544_757e-45),
    ];

    #[test]
    fn erf_matches_tables() {
        for (x, want) in ERF {
            assert!((erf(x) - want).abs() < 1e-15, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + want).abs() < 1e-15);
            assert!((erfc(x) - (1.0 - want)).abs() < 1e-15);
        }
        for (x, want) in ERFC {
            let rel = (erfc(x) - want).abs() / want;
            assert!(rel < 1e-14, "erfc({x}) = {} rel {rel}", erfc(x));
            assert!((erfc(-x) - (2.0 - want)).abs() < 3e-16);
        }
        assert_eq!(erf(0.0), 0.0);
    }

    #[test]
    fn series_and_fraction_agree_across_the_switch() {
        for i in 0..=400 {
            let x = 2.0 + i as f64 * 0.0025;
            let d = (1.0 - erf_series(x)) - erfc_cf(x);
            assert!(d.abs() < 2e-15, "x={x} d={d}");
        }
    }

    #[test]
    fn gelu_has_known_shape() {
        assert_eq!(gelu(0.0), 0.0);
        assert!((gelu(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
        assert!((gelu(-1.0) + 0.158_655_253_931_457_05).abs() < 1e-15);
        // GELU(x) - GELU(-x) = x for all x (Phi(x) + Phi(-x) = 1).
        for i in 0..200 {
            let x = i as f64 * 0.05;
            assert!((gelu(x) - gelu(-x) - x).abs() < 1e-14, "x={x}");
        }
    }
}
