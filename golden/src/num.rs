//! Integer semantics shared by every model and every generator.
//!
//! All arithmetic is done exactly in `i128` and then mapped to a fixed-width format
//! by one of the helpers here; the hardware mirrors these helpers and has no rules of
//! its own.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
