//! Integer semantics shared by every model and every generator.
//!
//! All arithmetic is done exactly in `i128` and then mapped to a fixed-width format
//! by one of the helpers here; the hardware mirrors these helpers and has no rules of
//! its own. Rounding ([`round_shift`] with [`Rounding`]), saturation ([`clamp`] to
//! [`qrange`]) and table interpolation ([`InterpTable`]) are defined here once and
//! used by the requantizer, GELU and softmax models alike.

use serde::{Deserialize, Serialize};

/// Smallest value of a signed `bits`-bit integer (1..=127 bits).
pub fn smin(bits: u32) -> i128 {
    assert!(
        (1..128).contains(&bits),
        "smin: bits {bits} outside 1..=127"
    );
    -(1i128 << (bits - 1))
}

/// Largest value of a signed `bits`-bit integer (1..=127 bits).
pub fn smax(bits: u32) -> i128 {
    assert!(
        (1..128).contains(&bits),
        "smax: bits {bits} outside 1..=127"
    );
    (1i128 << (bits - 1)) - 1
}

/// Largest value of an unsigned `bits`-bit integer (0..=127 bits).
pub fn umax(bits: u32) -> i128 {
    assert!(bits < 128, "umax: bits {bits} outside 0..=127");
    (1i128 << bits) - 1
}

/// Two's-complement wrap of `v` to a signed `bits`-bit integer (1..=127 bits): the
/// value whose low `bits` bits equal those of `v`, read as signed.
pub fn wrap_signed(v: i128, bits: u32) -> i128 {
    assert!(
        (1..128).contains(&bits),
        "wrap_signed: bits {bits} outside 1..=127"
    );
    let sh = 128 - bits;
    (v << sh) >> sh
}

/// True when `v` is representable as a signed `bits`-bit integer.
pub fn fits_signed(v: i128, bits: u32) -> bool {
    v >= smin(bits) && v <= smax(bits)
}

/// Rounding mode of a right shift (`round_shift` with `s > 0`). TOML names:
/// `nearest-even` (the default), `half-away`, `floor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rounding {
    /// Round to nearest; an exact half goes to the even neighbour (IEEE default).
    #[default]
    NearestEven,
    /// Round to nearest; an exact half goes away from zero (C `round`).
    HalfAway,
    /// Round towards minus infinity: a plain arithmetic right shift.
    Floor,
}

/// `v / 2^s`, rounded by `mode` (the one definition of rounding; GUIDE §3).
///
/// - `s > 0` (at most 126): write `v = q * 2^s + r` with `q = floor(v / 2^s)` (the
///   arithmetic shift `v >> s`) and `0 <= r < 2^s`, and let `h = 2^(s-1)`.
///   `Floor` returns `q`. For the two nearest modes `r < h` gives `q` and `r > h` gives
///   `q + 1`; on the tie `r == h`, `NearestEven` returns whichever of `q`, `q + 1` is
///   even and `HalfAway` returns `q + 1` when `v >= 0` and `q` when `v < 0`.
///   In hardware: `q` is the bits above position `s`, `r` the `s` bits below; the
///   round-up decision needs only bit `s-1` (the half bit), the OR of bits `s-2..0`
///   (sticky), bit `s` (`q`'s LSB, for even) and the sign of `v`.
/// - `s == 0`: `v` (exact; `mode` is irrelevant).
/// - `s < 0` (at least -126): the exact product `v * 2^-s`, never wrapped. Saturation
///   of a left shift is done by the caller's [`clamp`] to the output range; panics if
///   the product does not fit in `i128` (callers keep `|v| < 2^(127+s)`).
pub fn round_shift(v: i128, s: i32, mode: Rounding) -> i128 {
    assert!(
        (-126..=126).contains(&s),
        "round_shift: shift {s} outside -126..=126"
    );
    if s <= 0 {
        return v
            .checked_mul(1i128 << (-s))
            .unwrap_or_else(|| panic!("round_shift: {v} << {} overflows i128", -s));
    }
    let q = v >> s;
    let r = v - (q << s);
    let h = 1i128 << (s - 1);
    let up = match mode {
        Rounding::Floor => false,
        Rounding::NearestEven => r > h || (r == h && q & 1 == 1),
        Rounding::HalfAway => r > h || (r == h && v >= 0),
    };
    q + up as i128
}

/// `v` limited to `lo..=hi` (saturation; `lo <= hi`).
pub fn clamp(v: i128, lo: i128, hi: i128) -> i128 {
    assert!(lo <= hi, "clamp: empty range {lo}..={hi}");
    v.max(lo).min(hi)
}

/// `(qmin, qmax)` of an output format: `-2^(bits-1)..=2^(bits-1)-1` when signed,
/// `0..=2^bits-1` when unsigned (1..=126 bits).
pub fn qrange(out_bits: u32, out_signed: bool) -> (i128, i128) {
    assert!(
        (1..=126).contains(&out_bits),
        "qrange: bits {out_bits} outside 1..=126"
    );
    if out_signed {
        (smin(out_bits), smax(out_bits))
    } else {
        (0, umax(out_bits))
    }
}

/// Number of bits needed for the unsigned value `v` (0 for 0): `ceil(log2(v + 1))`.
pub fn bit_len(v: u128) -> u32 {
    128 - v.leading_zeros()
}

/// `ceil(log2(n))` for `n >= 1`.
pub fn clog2(n: u64) -> u32 {
    assert!(n >= 1, "clog2(0)");
    64 - (n - 1).leading_zeros()
}

/// A ROM of `base` values at segment starts plus linear interpolation: the shared
/// shape of the GELU and exp2 tables.
///
/// For an unsigned input `a`, the segment is `i = a >> frac_bits` and the position in
/// it `f = a mod 2^frac_bits`; the value is `base[i] + floor(delta[i] * f / 2^frac_bits)`
/// (an arithmetic right shift of the product; no rounding constant), with
/// `delta[i] = next - base[i]` where `next` is the value at the start of segment
/// `i + 1`. With `frac_bits == 0` the table is a plain lookup. The hardware stores
/// `base` and `delta` side by side in one ROM word, so one read serves one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpTable {
    /// Values at the start of each segment.
    pub base: Vec<i64>,
    /// Rise to the start of the next segment, one per entry.
    pub delta: Vec<i64>,
    /// Low input bits interpolated within a segment.
    pub frac_bits: u32,
}

impl InterpTable {
    /// Table from the values at the `n + 1` segment boundaries (`n` entries).
    pub fn from_knots(knots: &[i64], frac_bits: u32) -> InterpTable {
        assert!(knots.len() >= 2, "InterpTable needs at least two knots");
        InterpTable {
            base: knots[..knots.len() - 1].to_vec(),
            delta: knots.windows(2).map(|w| w[1] - w[0]).collect(),
            frac_bits,
        }
    }

    /// Number of entries (ROM depth).
    pub fn len(&self) -> usize {
        self.base.len()
    }

    /// True when the table has no entries (never, for a built table).
    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    /// The interpolated value at `a`, or `None` when `a`'s segment is past the table.
    pub fn eval(&self, a: u64) -> Option<i64> {
        let i = (a >> self.frac_bits) as usize;
        let f = (a & ((1u64 << self.frac_bits) - 1)) as i128;
        let (b, d) = (*self.base.get(i)? as i128, self.delta[i] as i128);
        Some((b + ((d * f) >> self.frac_bits)) as i64)
    }

    /// Width of the `base` field in the ROM word, as (bits, signed).
    pub fn base_width(&self) -> (u32, bool) {
        field_width(&self.base)
    }

    /// Width of the `delta` field in the ROM word, as (bits, signed).
    pub fn delta_width(&self) -> (u32, bool) {
        field_width(&self.delta)
    }
}

/// Smallest two's-complement (if any value is negative) or unsigned width holding all of `vals`.
fn field_width(vals: &[i64]) -> (u32, bool) {
    let signed = vals.iter().any(|&v| v < 0);
    let bits = vals
        .iter()
        .map(|&v| {
            if signed {
                // Signed width: magnitude bits of v (or of !v for negatives) plus a sign bit.
                let m = if v < 0 { !v } else { v } as u128;
                bit_len(m) + 1
            } else {
                bit_len(v as u128)
            }
        })
        .max()
        .unwrap_or(1)
        .max(1);
    (bits, signed)
}

/// A model input outside its format, or a row of the wrong length; the message names
/// the element, the value and the allowed range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Check that every value of `xs` is a signed `bits`-bit integer; `field` names the
/// config field that sets `bits` (for the message).
pub fn check_signed_input(xs: &[i64], bits: u32, field: &str) -> Result<(), InputError> {
    match xs.iter().position(|&v| !fits_signed(v as i128, bits)) {
        None => Ok(()),
        Some(i) => Err(InputError(format!(
            "x[{i}] = {} is outside the signed {bits}-bit range {}..={} ({field} = {bits})",
            xs[i],
            smin(bits),
            smax(bits)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wrap_matches_modular_arithmetic() {
        for bits in 1..=12u32 {
            let m = 1i128 << bits;
            for v in -3000i128..3000 {
                let w = wrap_signed(v, bits);
                assert!(fits_signed(w, bits));
                assert_eq!((w - v).rem_euclid(m), 0, "v={v} bits={bits}");
            }
        }
        assert_eq!(wrap_signed(128, 8), -128);
        assert_eq!(wrap_signed(-129, 8), 127);
        assert_eq!(wrap_signed(i128::MAX, 127), -1);
    }

    /// f64 reference: exact for |v| < 2^53, since dividing by 2^s only moves the exponent.
    fn float_ref(v: i128, s: i32, mode: Rounding) -> i128 {
        let q = v as f64 * (-s as f64).exp2();
        (match mode {
            Rounding::Floor => q.floor(),
            Rounding::HalfAway => q.round(),
            Rounding::NearestEven => q.round_ties_even(),
        }) as i128
    }

    const MODES: [Rounding; 3] = [Rounding::NearestEven, Rounding::HalfAway, Rounding::Floor];

    #[test]
    fn round_shift_matches_float_exhaustively_at_small_widths() {
        for mode in MODES {
            for s in -8..=15 {
                for v in -6000i128..=6000 {
                    assert_eq!(
                        round_shift(v, s, mode),
                        float_ref(v, s, mode),
                        "v={v} s={s} {mode:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn round_shift_ties_follow_the_mode() {
        // 2.5, -2.5, 3.5, -3.5, 0.5, -0.5 (s = 1)
        let cases = [
            (5, 2, 3, 2),
            (-5, -2, -3, -3),
            (7, 4, 4, 3),
            (-7, -4, -4, -4),
        ];
        for (v, ne, ha, fl) in cases {
            assert_eq!(round_shift(v, 1, Rounding::NearestEven), ne, "ne {v}");
            assert_eq!(round_shift(v, 1, Rounding::HalfAway), ha, "ha {v}");
            assert_eq!(round_shift(v, 1, Rounding::Floor), fl, "fl {v}");
        }
        assert_eq!(round_shift(1, 1, Rounding::NearestEven), 0);
        assert_eq!(round_shift(-1, 1, Rounding::HalfAway), -1);
        assert_eq!(round_shift(-1, 1, Rounding::NearestEven), 0);
    }

    #[test]
    #[should_panic(expected = "overflows i128")]
    fn left_shift_overflow_panics() {
        round_shift(1 << 120, -8, Rounding::Floor);
    }

    proptest! {
        /// Wide values against a rational reference: the nearest multiple of 2^s is
        /// chosen by comparing exact distances, independently of the bit tricks above.
        #[test]
        fn round_shift_matches_rational_reference(
            v in any::<i128>().prop_map(|v| v >> 2),
            s in 1i32..=126,
        ) {
            let p = 1i128 << s;
            let lo = v.div_euclid(p);
            let (d_lo, d_hi) = (v - lo * p, (lo + 1) * p - v);
            for mode in MODES {
                let want = match mode {
                    Rounding::Floor => lo,
                    _ if d_lo < d_hi => lo,
                    _ if d_lo > d_hi => lo + 1,
                    Rounding::NearestEven => if lo % 2 == 0 { lo } else { lo + 1 },
                    Rounding::HalfAway => if lo >= 0 { lo + 1 } else { lo },
                };
                prop_assert_eq!(round_shift(v, s, mode), want, "v={} s={} {:?}", v, s, mode);
            }
        }
    }

    #[test]
    fn qrange_and_clamp_saturate() {
        assert_eq!(qrange(8, true), (-128, 127));
        assert_eq!(qrange(8, false), (0, 255));
        assert_eq!(qrange(2, true), (-2, 1));
        for v in -300..300 {
            let c = clamp(v, -128, 127);
            assert_eq!(c, v.clamp(-128, 127)); // std's clamp as the reference
            assert!((-128..=127).contains(&c));
        }
    }

    #[test]
    fn interp_table_evaluates_segments() {
        // knots 0, 8, 4 with 2 fraction bits: a = 0..8
        let t = InterpTable::from_knots(&[0, 8, 4], 2);
        let got: Vec<_> = (0..9).map(|a| t.eval(a)).collect();
        let want = [0, 2, 4, 6, 8, 7, 6, 5].map(Some);
        assert_eq!(&got[..8], &want);
        assert_eq!(got[8], None);
        assert_eq!(t.base_width(), (4, false));
        assert_eq!(t.delta_width(), (5, true));
        // floor of a negative product: 8 + floor(-4 * 1 / 4) = 7, 8 + floor(-4*3/4) = 5
        let t = InterpTable::from_knots(&[8, 5], 2);
        assert_eq!(t.eval(1), Some(8 - 1)); // -3/4 floors to -1
        assert_eq!(t.eval(3), Some(8 - 3)); // -9/4 floors to -3
    }

    #[test]
    fn input_errors_name_element_and_range() {
        assert!(check_signed_input(&[-128, 127], 8, "gelu.in_bits").is_ok());
        assert_eq!(
            check_signed_input(&[0, 128], 8, "gelu.in_bits")
                .unwrap_err()
                .0,
            "x[1] = 128 is outside the signed 8-bit range -128..=127 (gelu.in_bits = 8)"
        );
        assert_eq!(clog2(1), 0);
        assert_eq!(clog2(4096), 12);
        assert_eq!(clog2(4097), 13);
        assert_eq!(bit_len(0), 0);
        assert_eq!(bit_len(255), 8);
    }
}
