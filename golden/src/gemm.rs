//! Golden model of the dense GEMM (GUIDE §3) and the `[array]` config.
//!
//! `C[i][j] = wrap(sum_k A[i][k] * B[k][j], acc_bits)`: A is signed `act_bits`, B is
//! signed `weight_bits`, the sum is exact and then wrapped two's-complement to
//! `acc_bits`. Because wrapping is modular, accumulating with wrapping arithmetic in a
//! 32-bit (acc_bits <= 32) or 64-bit register gives exactly the same result as the
//! exact sum followed by one wrap; the fast path below relies on that.

use serde::{Deserialize, Serialize};

use crate::config::{check_range, ConfigError};
use crate::num::{fits_signed, smax, smin, wrap_signed};

/// `[array]` section: an output-stationary systolic array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArrayConfig {
    /// Rows of PEs (the M direction), 1..=128.
    pub rows: u32,
    /// Columns of PEs (the N direction), 1..=128.
    pub cols: u32,
    /// Width of the signed activations (A), 2..=16.
    pub act_bits: u32,
    /// Width of the signed weights (B), 2..=16.
    pub weight_bits: u32,
    /// Width of the signed accumulators (C), 8..=48; sums wrap at this width.
    pub acc_bits: u32,
}

impl Default for ArrayConfig {
    fn default() -> Self {
        ArrayConfig {
            rows: 16,
            cols: 16,
            act_bits: 8,
            weight_bits: 8,
            acc_bits: 32,
        }
    }
}

impl ArrayConfig {
    /// Check every field's range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("array.rows", self.rows, 1, 128)?;
        check_range("array.cols", self.cols, 1, 128)?;
        check_range("array.act_bits", self.act_bits, 2, 16)?;
        check_range("array.weight_bits", self.weight_bits, 2, 16)?;
        check_range("array.acc_bits", self.acc_bits, 8, 48)?;
        Ok(())
    }

    /// The GEMM number format this array implements.
    pub fn format(&self) -> GemmFormat {
        GemmFormat {
            act_bits: self.act_bits,
            weight_bits: self.weight_bits,
            acc_bits: self.acc_bits,
        }
    }
}

/// Operand and accumulator widths of a GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmFormat {
    /// Signed width of A.
    pub act_bits: u32,
    /// Signed width of B.
    pub weight_bits: u32,
    /// Signed width of C (wrapping).
    pub acc_bits: u32,
}

/// A row-major integer matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub data: Vec<i64>,
}

impl Matrix {
    /// All-zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix {
            rows,
            cols,
            data: vec![0; rows * cols],
        }
    }

    /// Matrix from row-major data; panics if the length is not `rows * cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<i64>) -> Matrix {
        assert_eq!(data.len(), rows * cols, "matrix data length");
        Matrix { rows, cols, data }
    }

    /// Element (r, c).
    pub fn at(&self, r: usize, c: usize) -> i64 {
        self.data[r * self.cols + c]
    }

    /// Mutable element (r, c).
    pub fn at_mut(&mut self, r: usize, c: usize) -> &mut i64 {
        &mut self.data[r * self.cols + c]
    }

    /// The first element outside the signed `bits` range, as (row, col, value).
    pub fn first_out_of_range(&self, bits: u32) -> Option<(usize, usize, i64)> {
        let (lo, hi) = (smin(bits) as i64, smax(bits) as i64);
        self.data
            .iter()
            .position(|&v| v < lo || v > hi)
            .map(|i| (i / self.cols, i % self.cols, self.data[i]))
    }
}

/// Why a GEMM cannot be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemmError(pub String);

impl std::fmt::Display for GemmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GemmError {}

/// Check shapes and operand ranges; the messages name the operand and the range.
pub fn check_operands(a: &Matrix, b: &Matrix, fmt: GemmFormat) -> Result<(), GemmError> {
    if a.cols != b.rows {
        return Err(GemmError(format!(
            "A has shape [{}, {}] but B has {} rows (expected {})",
            a.rows, a.cols, b.rows, a.cols
        )));
    }
    for (name, m, bits, field) in [
        ("A", a, fmt.act_bits, "act_bits"),
        ("B", b, fmt.weight_bits, "weight_bits"),
    ] {
        if let Some((r, c, v)) = m.first_out_of_range(bits) {
            return Err(GemmError(format!(
                "{name}[{r}, {c}] = {v} is outside the signed {bits}-bit range {}..={} ({field} = {bits})",
                smin(bits),
                smax(bits)
            )));
        }
    }
    Ok(())
}

/// Bit-exact GEMM (see module docs). Panics on a shape mismatch or out-of-range operand;
/// call [`check_operands`] first for a recoverable error.
pub fn gemm(a: &Matrix, b: &Matrix, fmt: GemmFormat) -> Matrix {
    if let Err(e) = check_operands(a, b, fmt) {
        panic!("gemm: {e}");
    }
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut c = Matrix::zeros(m, n);
    if fmt.acc_bits <= 32 {
        let b32: Vec<i32> = b.data.iter().map(|&v| v as i32).collect();
        let mut row = vec![0i32; n];
        for i in 0..m {
            row.iter_mut().for_each(|x| *x = 0);
            for kk in 0..k {
                let av = a.data[i * k + kk] as i32;
                let brow = &b32[kk * n..kk * n + n];
                for (acc, &bv) in row.iter_mut().zip(brow) {
                    *acc = acc.wrapping_add(av.wrapping_mul(bv));
                }
            }
            for (dst, &v) in c.data[i * n..i * n + n].iter_mut().zip(&row) {
                *dst = wrap_signed(v as i128, fmt.acc_bits) as i64;
            }
        }
    } else {
        let mut row = vec![0i64; n];
        for i in 0..m {
            row.iter_mut().for_each(|x| *x = 0);
            for kk in 0..k {
                let av = a.data[i * k + kk];
                let brow = &b.data[kk * n..kk * n + n];
                for (acc, &bv) in row.iter_mut().zip(brow) {
                    *acc = acc.wrapping_add(av.wrapping_mul(bv));
                }
            }
            for (dst, &v) in c.data[i * n..i * n + n].iter_mut().zip(&row) {
                *dst = wrap_signed(v as i128, fmt.acc_bits) as i64;
            }
        }
    }
    debug_assert!(c.data.iter().all(|&v| fits_signed(v as i128, fmt.acc_bits)));
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Naive reference: exact i128 sum, then wrap.
    fn naive(a: &Matrix, b: &Matrix, acc_bits: u32) -> Matrix {
        let mut c = Matrix::zeros(a.rows, b.cols);
        for i in 0..a.rows {
            for j in 0..b.cols {
                let s: i128 = (0..a.cols)
                    .map(|k| a.at(i, k) as i128 * b.at(k, j) as i128)
                    .sum();
                *c.at_mut(i, j) = wrap_signed(s, acc_bits) as i64;
            }
        }
        c
    }

    fn mat(rows: usize, cols: usize, bits: u32) -> impl Strategy<Value = Matrix> {
        let lo = smin(bits) as i64;
        let hi = smax(bits) as i64;
        // Mix corner values in so wrap-around and -2^(b-1) products are common.
        let elem = prop_oneof![Just(lo), Just(hi), Just(-1i64), Just(0i64), lo..=hi];
        proptest::collection::vec(elem, rows * cols)
            .prop_map(move |d| Matrix::from_vec(rows, cols, d))
    }

    fn case() -> impl Strategy<Value = (Matrix, Matrix, GemmFormat)> {
        (
            1usize..12,
            1usize..40,
            1usize..12,
            2u32..=16,
            2u32..=16,
            8u32..=48,
        )
            .prop_flat_map(|(m, k, n, act_bits, weight_bits, acc_bits)| {
                let fmt = GemmFormat {
                    act_bits,
                    weight_bits,
                    acc_bits,
                };
                (mat(m, k, act_bits), mat(k, n, weight_bits), Just(fmt))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn matches_naive_reference((a, b, fmt) in case()) {
            prop_assert_eq!(gemm(&a, &b, fmt), naive(&a, &b, fmt.acc_bits));
        }
    }

    #[test]
    fn corner_products_wrap_at_small_acc() {
        // 100 * (-128 * -128) = 1_638_400; wrapped to 16 bits: 1_638_400 mod 65536 = 0.
        let a = Matrix::from_vec(1, 100, vec![-128; 100]);
        let b = Matrix::from_vec(100, 1, vec![-128; 100]);
        let fmt = GemmFormat {
            act_bits: 8,
            weight_bits: 8,
            acc_bits: 16,
        };
        assert_eq!(gemm(&a, &b, fmt).data, naive(&a, &b, 16).data);
        let fmt = GemmFormat {
            act_bits: 8,
            weight_bits: 8,
            acc_bits: 8,
        };
        let a = Matrix::from_vec(1, 3, vec![-128, 127, 5]);
        let b = Matrix::from_vec(3, 1, vec![-128, 127, -3]);
        assert_eq!(gemm(&a, &b, fmt).data, naive(&a, &b, 8).data);
    }

    #[test]
    fn operand_errors_are_precise() {
        let fmt = GemmFormat {
            act_bits: 4,
            weight_bits: 8,
            acc_bits: 32,
        };
        let a = Matrix::from_vec(3, 5, vec![0; 15]);
        let b = Matrix::zeros(7, 2);
        assert_eq!(
            check_operands(&a, &b, fmt).unwrap_err().0,
            "A has shape [3, 5] but B has 7 rows (expected 5)"
        );
        let mut a = Matrix::zeros(2, 2);
        *a.at_mut(1, 0) = 8;
        assert_eq!(
            check_operands(&a, &Matrix::zeros(2, 2), fmt).unwrap_err().0,
            "A[1, 0] = 8 is outside the signed 4-bit range -8..=7 (act_bits = 4)"
        );
    }
}
