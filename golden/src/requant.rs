//! Golden model of the power-of-two re-quantizer (`[requant]`, GUIDE §3).
//!
//! For an input `x` (signed `in_bits`) on lane `c`:
//!
//! ```text
//! v = x + bias[c]                                   exact, in_bits + 1 bits
//! t = round_shift(v, shift[c], rounding)            num::round_shift
//! y = clamp(t + zero_point, qmin, qmax)             qmin, qmax = num::qrange(out_bits, out_signed)
//! y = max(y, zero_point)                            only when relu = true
//! ```
//!
//! - **Shift.** `shift > 0` divides by `2^shift` with the configured rounding;
//!   `shift < 0` multiplies by `2^-shift` exactly and the clamp saturates it (a
//!   saturating left shift); `shift = 0` only adds and saturates.
//! - **ReLU** is a ReLU of the real value `t`: `max(t, 0) + zero_point`, that is
//!   `max(y, zero_point)`. Because `zero_point` lies in `qmin..=qmax` it does not matter
//!   whether it is applied before or after the clamp.
//! - **Channels are lanes.** `shift` and `bias` are either one integer for the whole
//!   tensor or an array with exactly one entry per lane. A streamed tensor enters
//!   `lanes` elements per beat in row-major order, so element `i` is on lane
//!   `i % lanes`; with per-channel values the channel axis (the last axis) must hold
//!   exactly `lanes` channels, and lane `c` always serves channel `c`. Each lane's
//!   constants are then fixed at generation time: no per-lane channel counter, no
//!   parameter memory. A layer with more channels than lanes uses a per-tensor shift or
//!   a wider unit (lanes up to 64).
//!
//! Hardware facts (the generator mirrors these widths):
//! - `v` needs `in_bits + 1` bits (`bias` is range-checked to signed `in_bits`).
//! - Right shift: rounding needs only the half bit, a sticky OR of the bits below it,
//!   the LSB of the quotient and the sign (see [`round_shift`]).
//! - Left shift: the exact `t` can need `in_bits + 17` bits, but saturating `t` to a
//!   signed `out_bits + 2` bit range first gives the same `y`, because
//!   `|zero_point| < 2^out_bits` (tested below, `presaturation_is_exact`).

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::{check_range, ConfigError};
use crate::num::{
    check_signed_input, clamp, fits_signed, qrange, round_shift, smax, smin, InputError, Rounding,
};

/// A value given once for the whole tensor (a TOML integer) or once per channel (a
/// TOML array with one integer per lane).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PerChannel {
    /// The same value on every lane.
    Tensor(i64),
    /// One value per lane; lane `c` uses entry `c`.
    Channel(Vec<i64>),
}

impl PerChannel {
    /// The value used by lane `lane`.
    pub fn get(&self, lane: usize) -> i64 {
        match self {
            PerChannel::Tensor(v) => *v,
            PerChannel::Channel(vs) => vs[lane],
        }
    }

    /// Check the length (per-channel arrays need `lanes` entries) and every value's range.
    fn validate(&self, field: &str, lanes: u32, lo: i64, hi: i64) -> Result<(), ConfigError> {
        match self {
            PerChannel::Tensor(v) => check_range(field, *v, lo, hi),
            PerChannel::Channel(vs) => {
                if vs.len() != lanes as usize {
                    return Err(ConfigError::Invalid {
                        field: field.to_string(),
                        message: format!(
                            "has {} entries but lanes = {lanes}; a per-channel array needs exactly one entry per lane",
                            vs.len()
                        ),
                    });
                }
                for (i, v) in vs.iter().enumerate() {
                    check_range(&format!("{field}[{i}]"), *v, lo, hi)?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for PerChannel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PerChannel::Tensor(v) => s.serialize_i64(*v),
            PerChannel::Channel(vs) => vs.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for PerChannel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PerChannel, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PerChannel;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer or an array of integers (one per lane)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PerChannel, E> {
                Ok(PerChannel::Tensor(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PerChannel, E> {
                i64::try_from(v)
                    .map(PerChannel::Tensor)
                    .map_err(|_| E::custom(format!("{v} does not fit in i64")))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PerChannel, A::Error> {
                let mut vs = Vec::new();
                while let Some(v) = seq.next_element::<i64>()? {
                    vs.push(v);
                }
                Ok(PerChannel::Channel(vs))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[requant]` section: a power-of-two re-quantizer, `lanes` elements per cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequantConfig {
    /// Elements per cycle, 1..=64 (default 16). Also the channel count of per-channel values.
    pub lanes: u32,
    /// Width of the signed input, 8..=48 (default 32).
    pub in_bits: u32,
    /// Width of the output, 2..=16 (default 8).
    pub out_bits: u32,
    /// Signed (two's-complement) output when true (default), unsigned otherwise.
    pub out_signed: bool,
    /// Rounding of right shifts (default `nearest-even`).
    pub rounding: Rounding,
    /// Right shift, -16..=47, per tensor or per lane (default 0); negative = saturating left shift.
    pub shift: PerChannel,
    /// Optional bias added before the shift, per tensor or per lane; signed `in_bits`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<PerChannel>,
    /// Added after the shift; must lie in the output range (default 0).
    pub zero_point: i64,
    /// Clamp the real value at 0, i.e. the output at `zero_point` (default false).
    pub relu: bool,
}

impl Default for RequantConfig {
    fn default() -> Self {
        RequantConfig {
            lanes: 16,
            in_bits: 32,
            out_bits: 8,
            out_signed: true,
            rounding: Rounding::NearestEven,
            shift: PerChannel::Tensor(0),
            bias: None,
            zero_point: 0,
            relu: false,
        }
    }
}

impl RequantConfig {
    /// Check every field's range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("requant.lanes", self.lanes, 1, 64)?;
        check_range("requant.in_bits", self.in_bits, 8, 48)?;
        check_range("requant.out_bits", self.out_bits, 2, 16)?;
        self.shift.validate("requant.shift", self.lanes, -16, 47)?;
        if let Some(b) = &self.bias {
            let (lo, hi) = (smin(self.in_bits) as i64, smax(self.in_bits) as i64);
            b.validate("requant.bias", self.lanes, lo, hi)?;
        }
        let (qmin, qmax) = self.qrange();
        check_range(
            "requant.zero_point",
            self.zero_point,
            qmin as i64,
            qmax as i64,
        )?;
        Ok(())
    }

    /// `(qmin, qmax)` of the output format.
    pub fn qrange(&self) -> (i128, i128) {
        qrange(self.out_bits, self.out_signed)
    }

    /// Shift used by lane `lane`.
    pub fn shift_of(&self, lane: usize) -> i32 {
        self.shift.get(lane) as i32
    }

    /// Bias used by lane `lane` (0 without a bias).
    pub fn bias_of(&self, lane: usize) -> i64 {
        self.bias.as_ref().map_or(0, |b| b.get(lane))
    }
}

/// Re-quantize one element `x` on lane `lane` (see module docs). Panics when `x` is not
/// a signed `in_bits` integer; [`requant_stream`] checks first.
pub fn requant(cfg: &RequantConfig, lane: usize, x: i64) -> i64 {
    assert!(
        fits_signed(x as i128, cfg.in_bits),
        "requant: x = {x} is not a signed {}-bit integer",
        cfg.in_bits
    );
    let v = x as i128 + cfg.bias_of(lane) as i128;
    let t = round_shift(v, cfg.shift_of(lane), cfg.rounding);
    let (qmin, qmax) = cfg.qrange();
    let zp = cfg.zero_point as i128;
    let y = clamp(t + zp, qmin, qmax);
    (if cfg.relu { y.max(zp) } else { y }) as i64
}

/// Re-quantize a stream in arrival order: element `i` is on lane `i % lanes` (for a
/// row-major tensor whose last axis has `lanes` channels, lane = channel).
pub fn requant_stream(cfg: &RequantConfig, xs: &[i64]) -> Result<Vec<i64>, InputError> {
    check_signed_input(xs, cfg.in_bits, "requant.in_bits")?;
    let lanes = cfg.lanes as usize;
    Ok(xs
        .iter()
        .enumerate()
        .map(|(i, &x)| requant(cfg, i % lanes, x))
        .collect())
}

#[cfg(test)]
mod tests;
