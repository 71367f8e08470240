//! Golden model of the multiply-accumulate example unit (`[mac]`).
//!
//! Semantics: on each valid input, `acc = wrap(clear ? a*b : acc + a*b, acc_bits)`,
//! with `a` and `b` signed and the product exact (GUIDE §3, GEMM accumulation rule).

use serde::{Deserialize, Serialize};

use crate::config::{check_range, ConfigError};
use crate::num::{fits_signed, wrap_signed};

/// `[mac]` section: operand and accumulator widths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MacConfig {
    /// Width of the signed `a` operand, 2..=32 (default 8).
    pub a_bits: u32,
    /// Width of the signed `b` operand, 2..=32 (default 8).
    pub b_bits: u32,
    /// Width of the signed accumulator, 8..=64 (default 32); sums wrap at this width.
    pub acc_bits: u32,
}

impl Default for MacConfig {
    fn default() -> Self {
        MacConfig {
            a_bits: 8,
            b_bits: 8,
            acc_bits: 32,
        }
    }
}

impl MacConfig {
    /// Check every field's range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("mac.a_bits", self.a_bits, 2, 32)?;
        check_range("mac.b_bits", self.b_bits, 2, 32)?;
        check_range("mac.acc_bits", self.acc_bits, 8, 64)?;
        Ok(())
    }
}

/// One input beat of the MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacBeat {
    /// Signed `a_bits` operand.
    pub a: i64,
    /// Signed `b_bits` operand.
    pub b: i64,
    /// Start a new sum with this product.
    pub clear: bool,
}

/// Accumulator state of the golden MAC.
#[derive(Debug, Clone)]
pub struct MacModel {
    cfg: MacConfig,
    acc: i64,
}

impl MacModel {
    /// A model with accumulator 0.
    pub fn new(cfg: &MacConfig) -> MacModel {
        MacModel {
            cfg: cfg.clone(),
            acc: 0,
        }
    }

    /// Apply one beat and return the new accumulator. Panics on operands outside their
    /// signed widths (callers validate inputs first).
    pub fn step(&mut self, beat: MacBeat) -> i64 {
        assert!(
            fits_signed(beat.a as i128, self.cfg.a_bits),
            "a = {} out of range",
            beat.a
        );
        assert!(
            fits_signed(beat.b as i128, self.cfg.b_bits),
            "b = {} out of range",
            beat.b
        );
        let p = beat.a as i128 * beat.b as i128;
        let base = if beat.clear { 0 } else { self.acc as i128 };
        self.acc = wrap_signed(base + p, self.cfg.acc_bits) as i64;
        self.acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_acc_bits() {
        let cfg = MacConfig {
            a_bits: 8,
            b_bits: 8,
            acc_bits: 16,
        };
        let mut m = MacModel::new(&cfg);
        let beat = MacBeat {
            a: -128,
            b: -128,
            clear: false,
        };
        assert_eq!(
            m.step(MacBeat {
                clear: true,
                ..beat
            }),
            16384
        );
        // 16384 + 16384 = 32768 wraps to -32768 in 16 bits.
        assert_eq!(m.step(beat), -32768);
        assert_eq!(m.step(beat), -16384);
    }
}
