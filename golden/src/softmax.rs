//! Golden model of the single-pass softmax unit (`[softmax]`, GUIDE §3), in the base-2
//! (Softermax) formulation.
//!
//! A row of `L <= max_len` signed `in_bits` integers at scale `2^-in_frac` (natural-log
//! units) goes in; `L` unsigned `out_bits` integers at scale `2^-out_bits` come out,
//! in input order, saturating (1.0 becomes the top code). Every output is within 1 LSB
//! of the `f64` softmax.
//!
//! # Pipeline (what the hardware implements)
//!
//! Widths come from [`SoftmaxParams`] (`F`, `ET`, `P`, `T`, ...); `ob = out_bits`.
//!
//! **Phase 1, once per element, as it arrives** (each element enters once):
//! 1. `u = round_shift(x * K, in_frac + 3, nearest-even)`: `x * log2(e)` with `F = ob + 5`
//!    fraction bits; `K = round(log2(e) * 2^(ob+8))` (`ob + 9` bits), so `x * K` is one
//!    `in_bits x (ob+9)` multiply.
//! 2. Split `u = i * 2^F + fr`: integer part `i = u >> F`, fraction `fr` (`F` bits).
//! 3. `E = exp2_table.eval(fr)`: `2^(fr/2^F)` with `ET = ob + 6` fraction bits, in
//!    `[2^ET, 2^(ET+1))`; `2^t` entries, `t = ceil((ob+2)/2)`, linear interpolation
//!    on the low `F - t` bits ([`exp2_table`], shared with the generator).
//! 4. Online max and sum, `P = ET + clog2(max_len)` fraction bits, `S_BITS` wide, for
//!    the k-th element of the row (k from 1):
//!    - running max `m_k = max(m_{k-1}, i_k)` (`m_1 = i_1`): an integer in the base-2
//!      domain, so every rescale is a shift;
//!    - term `T_k = (E_k << (P - ET)) >> (m_k - i_k)` (floor);
//!    - window `W_k = sum_{j = k-4}^{k} (T_j >> (m_k - m_j))` over the row's last
//!      [`CHAIN`] = 5 elements (each term floored to the current max, then added
//!      exactly);
//!    - `S_k = (S_{k-5} >> (m_k - m_{k-5})) + W_k`, with `S_j = 0` for `j <= 0`.
//!
//!    `S_k` covers every element up to k exactly once. Because `S_k` depends on
//!    `S_{k-5}`, not `S_{k-1}`, the hardware loop (read, rescale in two shift stages,
//!    add in two halves) has five cycles, not one, and still takes one element per
//!    cycle: the one-cycle subtract + variable shift + wide add loop of a plain online
//!    softmax is gone. The only one-cycle loop left is the running max (a small
//!    compare). The result is exact up to the floors of the shifts, like the plain
//!    recurrence.
//! 5. Store the element (`x`, `in_bits` wide; or `u`) in the row buffer.
//!
//! **Between the phases, once per row:** `e = msb(S)` (`S >= 2^P`, because the final
//! max element added `E >= 2^ET` unshifted); `s = S >> (e - T)`, the top `T + 1 = ob +
//! 6` bits; `R = floor(2^(2T+1) / s)`, in `(2^T, 2^(T+1)]` (`T + 2` bits). `R` is the
//! exact integer quotient: a restoring divider (`T + 2` iterations) or a reciprocal
//! table plus Newton steps with a final +-1 correction both produce it.
//!
//! **Phase 2, once per stored element, in input order:** recompute `i`, `fr`, `E` from
//! the stored element, `e_i = E >> (m - i)` (floor), and
//! `out = clamp(round_shift(e_i * R, e + T + 1 + ET - P - ob, nearest-even), 0, 2^ob - 1)`.
//! The product is `(ET+1) x (T+2)` bits.
//!
//! # Error budget (output LSBs)
//! exp2 interpolation and table rounding 1/16, `u` quantization 1/45, `K` under 1/64,
//! shift truncations in `S` 1/32, normalisation and reciprocal 1/32, `e_i` truncation
//! 1/64, final rounding 1/2; a relative error in one exponential counts up to twice
//! (numerator and sum). Measured over 2,100 random rows per format (lengths
//! 1..=max_len; uniform, narrow, peaked, all-equal, saturating, tied maxima, bell
//! shaped), error against the float softmax clamped to the top code
//! (`tests::random_rows`, with histogram snapshots):
//!
//! | max_len | in (bits,frac) | out_bits | outputs | max err | mean err |
//! |---|---|---|---|---|---|
//! | 64   | (8,4)   | 8  | 77,629    | 0.510 | 0.170 |
//! | 256  | (16,10) | 16 | 301,079   | 0.511 | 0.165 |
//! | 4096 | (16,12) | 16 | 4,818,463 | 0.510 | 0.199 |
//! | 1024 | (12,6)  | 12 | 1,197,520 | 0.511 | 0.151 |
//! | 2    | (8,0)   | 4  | 3,376     | 0.303 | 0.018 |
//! | 4096 | (16,0)  | 8  | 4,767,684 | 0.500 | 0.063 |
//! | 100  | (10,9)  | 6  | 119,713   | 0.500 | 0.276 |
//!
//! Against the unclamped float value the top code is exactly 1 LSB below 1.0; that is
//! the contract's saturation, and the tests assert `<= 1` there.

use serde::{Deserialize, Serialize};
use std::f64::consts::LOG2_E;

use crate::config::{check_range, ConfigError};
use crate::num::{
    bit_len, check_signed_input, clamp, clog2, round_shift, InputError, InterpTable, Rounding,
};

/// `[softmax]` section: a single-pass softmax unit over rows of up to `max_len` elements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoftmaxConfig {
    /// Rows processed in parallel, one element per cycle each, 1..=64 (default 1).
    pub lanes: u32,
    /// Longest row, 2..=4096 (default 256); sizes the row buffers and the sum.
    pub max_len: u32,
    /// Width of the signed input, 8..=16 (default 16).
    pub in_bits: u32,
    /// Fraction bits of the input, 0..=in_bits-1 (default 10).
    pub in_frac: u32,
    /// Width of the unsigned output at scale 2^-out_bits, 4..=16 (default 16).
    pub out_bits: u32,
}

impl Default for SoftmaxConfig {
    fn default() -> Self {
        SoftmaxConfig {
            lanes: 1,
            max_len: 256,
            in_bits: 16,
            in_frac: 10,
            out_bits: 16,
        }
    }
}

impl SoftmaxConfig {
    /// Check every field's range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("softmax.lanes", self.lanes, 1, 64)?;
        check_range("softmax.max_len", self.max_len, 2, 4096)?;
        check_range("softmax.in_bits", self.in_bits, 8, 16)?;
        check_range("softmax.in_frac", self.in_frac, 0, self.in_bits - 1)?;
        check_range("softmax.out_bits", self.out_bits, 4, 16)?;
        Ok(())
    }

    /// The derived datapath parameters (see module docs).
    pub fn params(&self) -> SoftmaxParams {
        let ob = self.out_bits;
        let (f, kb, et) = (ob + 5, ob + 8, ob + 6);
        let t = (ob + 2).div_ceil(2);
        let lg = clog2(self.max_len as u64);
        let p = et + lg;
        let int_bits = self.in_bits - self.in_frac + 1;
        SoftmaxParams {
            f,
            k: (LOG2_E * (kb as f64).exp2()).round() as u64,
            k_frac: kb,
            u_shift: self.in_frac + kb - f,
            u_bits: int_bits + f,
            max_bits: int_bits,
            et,
            exp_index_bits: t,
            p,
            s_bits: p + 1 + lg,
            t: ob + 6,
        }
    }
}

/// Datapath parameters of a softmax unit, derived from its [`SoftmaxConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftmaxParams {
    /// `F`: fraction bits of `u = x * log2(e)`.
    pub f: u32,
    /// `K = round(log2(e) * 2^k_frac)`.
    pub k: u64,
    /// Fraction bits of `K`.
    pub k_frac: u32,
    /// `u = round_shift(x * K, u_shift, nearest-even)`.
    pub u_shift: u32,
    /// Signed width of `u`.
    pub u_bits: u32,
    /// Signed width of the integer part of `u` and of the running max.
    pub max_bits: u32,
    /// `ET`: fraction bits of the exp2 table values.
    pub et: u32,
    /// The exp2 table has `2^exp_index_bits` entries.
    pub exp_index_bits: u32,
    /// `P`: fraction bits of the running sum.
    pub p: u32,
    /// Unsigned width of the running sum.
    pub s_bits: u32,
    /// `T`: the normalised sum keeps `T + 1` bits; the reciprocal has `T + 2`.
    pub t: u32,
}

/// The exp2 ROM: `2^(j / 2^t)` at `ET` fraction bits for `j = 0..2^t`, interpolated on
/// the low `F - t` bits of the fraction. The generator emits exactly these numbers.
pub fn exp2_table(cfg: &SoftmaxConfig) -> InterpTable {
    let p = cfg.params();
    let n = 1u64 << p.exp_index_bits;
    let knots: Vec<i64> = (0..=n)
        .map(|j| ((j as f64 / n as f64 + p.et as f64).exp2()).round() as i64)
        .collect();
    InterpTable::from_knots(&knots, p.f - p.exp_index_bits)
}

/// How far the online sum recurrence is unrolled: `S_k` is built from
/// `S_{k - CHAIN}`, so the hardware loop has `CHAIN` cycles (read, two shift stages,
/// an add split in two halves) instead of one. See the module docs, step 4.
pub const CHAIN: usize = 5;

/// Phase-1 state of one row: running integer max and running sum.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowAcc {
    /// Running max of the integer parts `i` (None before the first element).
    pub max: Option<i64>,
    /// Running sum `S_k` after the last element, `P` fraction bits, relative to
    /// `2^max`.
    pub sum: u128,
    /// Elements accumulated.
    pub len: usize,
    /// `(T_j, m_j)` of the last `CHAIN` elements, oldest first.
    terms: std::collections::VecDeque<(u128, i64)>,
    /// `(S_j, m_j)` of the last `CHAIN` elements, oldest first.
    sums: std::collections::VecDeque<(u128, i64)>,
}

/// Per-row constants for phase 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowNorm {
    /// Final integer max.
    pub max: i64,
    /// Reciprocal `R` of the normalised sum.
    pub recip: u64,
    /// Right shift of `e_i * R` to the output scale.
    pub out_shift: u32,
}

/// Shift left by `k` if `k >= 0`, else right (floor) by `-k`; 0 past 127 bits.
fn sh(v: u128, k: i64) -> u128 {
    if k >= 0 {
        v << k
    } else if k > -128 {
        v >> -k
    } else {
        0
    }
}

/// A softmax unit's golden model: parameters plus its exp2 table.
#[derive(Debug, Clone)]
pub struct SoftmaxUnit {
    cfg: SoftmaxConfig,
    params: SoftmaxParams,
    table: InterpTable,
}

impl SoftmaxUnit {
    /// Build the model (and its table) for a validated config.
    pub fn new(cfg: &SoftmaxConfig) -> SoftmaxUnit {
        SoftmaxUnit {
            cfg: cfg.clone(),
            params: cfg.params(),
            table: exp2_table(cfg),
        }
    }

    /// The derived parameters.
    pub fn params(&self) -> &SoftmaxParams {
        &self.params
    }

    /// The exp2 ROM.
    pub fn table(&self) -> &InterpTable {
        &self.table
    }

    /// Step 1: `u = x * log2(e)` with `F` fraction bits.
    pub fn to_log2(&self, x: i64) -> i64 {
        let p = &self.params;
        round_shift(
            x as i128 * p.k as i128,
            p.u_shift as i32,
            Rounding::NearestEven,
        ) as i64
    }

    /// Steps 2-3: integer part `i` of `u` and `2^frac(u)` with `ET` fraction bits.
    pub fn split_exp2(&self, u: i64) -> (i64, u128) {
        let f = self.params.f;
        let fr = (u & ((1i64 << f) - 1)) as u64;
        let e = self
            .table
            .eval(fr)
            .expect("exp2 table covers every fraction");
        (u >> f, e as u128)
    }

    /// Step 4: add one element (given as `u`) to the row state.
    pub fn accumulate(&self, acc: &mut RowAcc, u: i64) {
        let p = &self.params;
        let (i, e) = self.split_exp2(u);
        let up = (p.p - p.et) as i64;
        // Running max and this element's term relative to it.
        let m = acc.max.map_or(i, |m| m.max(i));
        let t = sh(sh(e, up), i - m);
        acc.terms.push_back((t, m));
        if acc.terms.len() > CHAIN {
            acc.terms.pop_front();
        }
        // The window of the last CHAIN terms, each floored to the current max.
        let w: u128 = acc.terms.iter().map(|&(tj, mj)| sh(tj, mj - m)).sum();
        // S_{k - CHAIN}, rescaled to the current max (0 for the first CHAIN elements).
        let base = if acc.sums.len() == CHAIN {
            let (sp, mp) = acc.sums.pop_front().expect("CHAIN sums");
            sh(sp, mp - m)
        } else {
            0
        };
        let s_k = base + w;
        acc.sums.push_back((s_k, m));
        acc.sum = s_k;
        acc.max = Some(m);
        acc.len += 1;
        assert!(bit_len(acc.sum) <= p.s_bits, "softmax sum exceeds S_BITS");
    }

    /// Between the phases: normalise the sum and take its reciprocal.
    pub fn finish(&self, acc: &RowAcc) -> RowNorm {
        let p = &self.params;
        let max = acc.max.expect("finish: empty row");
        let e = bit_len(acc.sum) - 1;
        assert!(e >= p.p, "sum below 1.0");
        let s = acc.sum >> (e - p.t);
        let recip = ((1u128 << (2 * p.t + 1)) / s) as u64;
        RowNorm {
            max,
            recip,
            out_shift: e + p.t + 1 + p.et - p.p - self.cfg.out_bits,
        }
    }

    /// Phase 2: the output code of one stored element (given as `u`).
    pub fn output(&self, norm: &RowNorm, u: i64) -> i64 {
        let (i, e) = self.split_exp2(u);
        assert!(i <= norm.max, "element above the row max");
        let ei = sh(e, i - norm.max);
        let q = round_shift(
            (ei * norm.recip as u128) as i128,
            norm.out_shift as i32,
            Rounding::NearestEven,
        );
        clamp(q, 0, (1i128 << self.cfg.out_bits) - 1) as i64
    }

    /// Softmax of one row (1..=max_len elements, each signed `in_bits`).
    pub fn row(&self, xs: &[i64]) -> Result<Vec<i64>, InputError> {
        let max_len = self.cfg.max_len as usize;
        if xs.is_empty() || xs.len() > max_len {
            return Err(InputError(format!(
                "row has {} elements; softmax rows need 1..={max_len} (softmax.max_len = {max_len})",
                xs.len()
            )));
        }
        check_signed_input(xs, self.cfg.in_bits, "softmax.in_bits")?;
        let us: Vec<i64> = xs.iter().map(|&x| self.to_log2(x)).collect();
        let mut acc = RowAcc::default();
        for &u in &us {
            self.accumulate(&mut acc, u);
        }
        let norm = self.finish(&acc);
        Ok(us.iter().map(|&u| self.output(&norm, u)).collect())
    }
}

#[cfg(test)]
mod tests;
