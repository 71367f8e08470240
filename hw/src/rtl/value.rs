//! Fixed-width bit-vector values: constants, ROM contents and simulator port values.
//!
//! A [`Value`] is `width` bits (1..=[`MAX_WIDTH`]) stored little-endian in 64-bit words.
//! Bits above `width` are always zero, so two values are equal exactly when their bit
//! patterns are equal. Signedness is not part of a value: it belongs to the signal or
//! port that carries it, and the `*_signed` accessors interpret the pattern.

use std::fmt;

/// Widest signal the builder accepts, in bits.
pub const MAX_WIDTH: u32 = 8192;

/// A bit pattern of a given width.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Value {
    width: u32,
    words: Vec<u64>,
}

/// Why a number cannot be represented as a [`Value`] of the requested width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError {
    /// Human-readable description naming the value and the allowed range.
    pub message: String,
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RangeError {}

fn words_for(width: u32) -> usize {
    width.div_ceil(64) as usize
}

fn check_width(width: u32) -> Result<(), RangeError> {
    if width == 0 || width > MAX_WIDTH {
        Err(RangeError {
            message: format!("width {width} is outside the allowed range 1..={MAX_WIDTH}"),
        })
    } else {
        Ok(())
    }
}

impl Value {
    /// All-zero value of `width` bits. Panics if `width` is outside 1..=[`MAX_WIDTH`].
    pub fn zero(width: u32) -> Value {
        check_width(width).expect("Value::zero");
        Value {
            width,
            words: vec![0; words_for(width)],
        }
    }

    /// Value from little-endian 64-bit words; fails if a bit at or above `width` is set.
    pub fn from_words(width: u32, words: &[u64]) -> Result<Value, RangeError> {
        check_width(width)?;
        let mut v = Value::zero(width);
        for (i, &w) in words.iter().enumerate() {
            if i < v.words.len() {
                v.words[i] = w;
            } else if w != 0 {
                return Err(RangeError {
                    message: format!("word {i} is nonzero but the value is only {width} bits"),
                });
            }
        }
        let before = v.words.clone();
        v.mask();
        if before != v.words {
            return Err(RangeError {
                message: format!("value has bits set above bit {}", width - 1),
            });
        }
        Ok(v)
    }

    /// Value from the low `width` bits of little-endian words, discarding higher bits.
    pub fn from_words_truncating(width: u32, words: &[u64]) -> Value {
        let mut v = Value::zero(width);
        for (dst, src) in v.words.iter_mut().zip(words) {
            *dst = *src;
        }
        v.mask();
        v
    }

    /// Unsigned value; fails unless `0 <= v < 2^width`.
    pub fn from_u128(width: u32, v: u128) -> Result<Value, RangeError> {
        check_width(width)?;
        if width < 128 && v >> width != 0 {
            return Err(RangeError {
                message: format!(
                    "{v} does not fit in {width} unsigned bits (allowed 0..={})",
                    (1u128 << width) - 1
                ),
            });
        }
        Ok(Value::from_words_truncating(
            width,
            &[v as u64, (v >> 64) as u64],
        ))
    }

    /// Signed (two's-complement) value; fails unless `-2^(width-1) <= v < 2^(width-1)`.
    pub fn from_i128(width: u32, v: i128) -> Result<Value, RangeError> {
        check_width(width)?;
        if width < 128 {
            let lo = -(1i128 << (width - 1));
            let hi = (1i128 << (width - 1)) - 1;
            if v < lo || v > hi {
                return Err(RangeError {
                    message: format!(
                        "{v} does not fit in {width} signed bits (allowed {lo}..={hi})"
                    ),
                });
            }
        }
        Ok(Value::from_i128_wrapping(width, v))
    }

    /// The low `width` bits of the two's-complement pattern of `v` (sign-filled above bit 127).
    pub fn from_i128_wrapping(width: u32, v: i128) -> Value {
        let fill = if v < 0 { u64::MAX } else { 0 };
        let mut words = vec![fill; words_for(width).max(2)];
        words[0] = v as u64;
        words[1] = (v >> 64) as u64;
        Value::from_words_truncating(width, &words)
    }

    /// Width in bits.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Little-endian 64-bit words; bits above `width` are zero.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Bit `i` (0 = least significant).
    pub fn bit(&self, i: u32) -> bool {
        assert!(
            i < self.width,
            "bit {i} out of range for width {}",
            self.width
        );
        (self.words[(i / 64) as usize] >> (i % 64)) & 1 == 1
    }

    /// True when every bit is zero.
    pub fn is_zero(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The pattern as an unsigned number, if it fits in `u128`.
    pub fn to_u128(&self) -> Option<u128> {
        if self.words.iter().skip(2).any(|&w| w != 0) {
            return None;
        }
        let lo = self.words[0] as u128;
        let hi = self.words.get(1).copied().unwrap_or(0) as u128;
        Some(lo | (hi << 64))
    }

    /// The pattern as an unsigned number, if it fits in `u64`.
    pub fn to_u64(&self) -> Option<u64> {
        self.to_u128().and_then(|v| u64::try_from(v).ok())
    }

    /// The pattern read as two's complement, if the number fits in `i128`.
    pub fn to_i128(&self) -> Option<i128> {
        let neg = self.bit(self.width - 1);
        if self.width <= 128 {
            let u = self.to_u128()?;
            if neg && self.width < 128 {
                Some((u | (u128::MAX << self.width)) as i128)
            } else {
                Some(u as i128)
            }
        } else {
            // Wider than 128 bits: every bit from 127 upwards must equal the sign.
            let top = self.width - 1;
            for i in 127..top {
                if self.bit(i) != neg {
                    return None;
                }
            }
            Some((self.words[0] as u128 | ((self.words[1] as u128) << 64)) as i128)
        }
    }

    /// The pattern read as two's complement, if the number fits in `i64`.
    pub fn to_i64(&self) -> Option<i64> {
        self.to_i128().and_then(|v| i64::try_from(v).ok())
    }

    /// Lowercase hexadecimal digits of the unsigned pattern, without prefix or leading zeros.
    pub fn to_hex(&self) -> String {
        let mut s = String::new();
        for (i, w) in self.words.iter().enumerate().rev() {
            if s.is_empty() {
                if *w != 0 || i == 0 {
                    s = format!("{w:x}");
                }
            } else {
                s.push_str(&format!("{w:016x}"));
            }
        }
        s
    }

    fn mask(&mut self) {
        let rem = self.width % 64;
        if rem != 0 {
            let last = self.words.len() - 1;
            self.words[last] &= (1u64 << rem) - 1;
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}'h{}", self.width, self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_round_trip_and_range() {
        for w in [1u32, 7, 8, 33, 64, 65, 128, 200] {
            let lo = if w >= 128 {
                i128::MIN
            } else {
                -(1i128 << (w - 1))
            };
            let hi = if w >= 128 {
                i128::MAX
            } else {
                (1i128 << (w - 1)) - 1
            };
            for v in [lo, -1, 0, hi] {
                if v < lo || v > hi {
                    continue;
                }
                let x = Value::from_i128(w, v).unwrap();
                assert_eq!(x.to_i128(), Some(v), "width {w} value {v}");
            }
            if w < 128 {
                let err = Value::from_i128(w, hi + 1).unwrap_err();
                assert!(
                    err.message.contains(&format!("{w} signed bits")),
                    "{}",
                    err.message
                );
            }
        }
    }

    #[test]
    fn unsigned_range_and_words() {
        assert!(Value::from_u128(8, 256).is_err());
        assert_eq!(Value::from_u128(8, 255).unwrap().to_u64(), Some(255));
        assert!(Value::from_words(65, &[0, 2]).is_err());
        assert_eq!(
            Value::from_words(65, &[5, 1]).unwrap().to_hex(),
            "10000000000000005"
        );
        assert_eq!(Value::from_i128_wrapping(70, -1).words(), &[u64::MAX, 0x3f]);
    }
}
