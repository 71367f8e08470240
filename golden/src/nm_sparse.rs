//! N:M structured sparsity (GUIDE §3): pruning, checking, the compressed format and
//! the sparse GEMM computed directly from it.
//!
//! Along K, each column of B is cut into groups of M consecutive rows (K zero-padded to
//! a multiple of M); a group holds at most N nonzeros. Compressed form, per column and
//! group: N values and N indices of ceil(log2 M) bits, in increasing index order;
//! unused slots hold value 0 and still carry a valid, distinct index (the smallest
//! indices not used by a nonzero, so the slot order stays increasing). The packed
//! metadata of a group is `sum_s idx_s << (s * ceil(log2 M))`; for 2:4 that is the
//! nibble `idx0 | idx1 << 2` of NVIDIA's sparse tensor cores.
//!
//! Pruning keeps the N largest |w| of each group; ties go to the lower index.

use serde::{Deserialize, Serialize};

use crate::config::{check_range, ConfigError};
use crate::gemm::{check_operands, GemmError, GemmFormat, Matrix};
use crate::num::wrap_signed;

/// `[sparsity]` section: the N:M pattern of the sparse array's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SparsityConfig {
    /// Nonzeros per group, 1 <= n < m (default 2).
    pub n: u32,
    /// Group size along K: 2, 4, 8 or 16 (default 4).
    pub m: u32,
}

impl Default for SparsityConfig {
    fn default() -> Self {
        SparsityConfig { n: 2, m: 4 }
    }
}

impl SparsityConfig {
    /// Check n and m.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if ![2, 4, 8, 16].contains(&self.m) {
            return Err(ConfigError::Invalid {
                field: "sparsity.m".into(),
                message: format!("= {} must be one of 2, 4, 8, 16 (a power of two)", self.m),
            });
        }
        check_range("sparsity.n", self.n, 1, self.m - 1)
    }

    /// Bits of one index: log2(m).
    pub fn idx_bits(&self) -> u32 {
        self.m.trailing_zeros()
    }

    /// Bits of a group's packed metadata: n * log2(m).
    pub fn meta_bits(&self) -> u32 {
        self.n * self.idx_bits()
    }

    /// Number of groups for a K dimension (K zero-padded to a multiple of m).
    pub fn groups(&self, k: usize) -> usize {
        k.div_ceil(self.m as usize)
    }
}

/// The first group that holds more than N nonzeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    /// Column of B.
    pub col: usize,
    /// Group index along K (rows `group*m .. group*m + m`).
    pub group: usize,
    /// Nonzeros found in the group.
    pub count: usize,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "column {}, group {} has {} nonzeros",
            self.col, self.group, self.count
        )
    }
}

fn group_rows(k: usize, m: usize, g: usize) -> std::ops::Range<usize> {
    (g * m).min(k)..((g + 1) * m).min(k)
}

/// Scan columns in order, groups in order; report the first group with more than n
/// nonzeros.
pub fn check(b: &Matrix, sp: SparsityConfig) -> Result<(), Violation> {
    let m = sp.m as usize;
    for col in 0..b.cols {
        for group in 0..sp.groups(b.rows) {
            let count = group_rows(b.rows, m, group)
                .filter(|&r| b.at(r, col) != 0)
                .count();
            if count > sp.n as usize {
                return Err(Violation { col, group, count });
            }
        }
    }
    Ok(())
}

/// Keep the n largest |w| of every group (ties to the lower index); same shape as `b`.
pub fn prune(b: &Matrix, sp: SparsityConfig) -> Matrix {
    let m = sp.m as usize;
    let mut out = Matrix::zeros(b.rows, b.cols);
    for col in 0..b.cols {
        for group in 0..sp.groups(b.rows) {
            let mut rows: Vec<usize> = group_rows(b.rows, m, group).collect();
            // Stable sort by descending magnitude keeps lower indices first on ties.
            rows.sort_by_key(|&r| std::cmp::Reverse(b.at(r, col).unsigned_abs()));
            for &r in rows.iter().take(sp.n as usize) {
                *out.at_mut(r, col) = b.at(r, col);
            }
        }
    }
    out
}

/// A compressed N:M matrix: for every (group, column), N values and N indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compressed {
    /// The pattern.
    pub sp: SparsityConfig,
    /// K of the dense matrix (before padding).
    pub k: usize,
    /// Columns.
    pub cols: usize,
    /// Values, indexed `[(group * cols + col) * n + slot]`.
    pub values: Vec<i64>,
    /// Indices within the group (0..m), same layout, increasing per (group, col).
    pub indices: Vec<u8>,
}

impl Compressed {
    /// Number of groups along K.
    pub fn groups(&self) -> usize {
        self.sp.groups(self.k)
    }

    /// (value, index) of `slot` of (group, col).
    pub fn slot(&self, group: usize, col: usize, slot: usize) -> (i64, u8) {
        let i = (group * self.cols + col) * self.sp.n as usize + slot;
        (self.values[i], self.indices[i])
    }

    /// Packed metadata of (group, col): `sum_s idx_s << (s * log2 m)`.
    pub fn meta(&self, group: usize, col: usize) -> u64 {
        let bits = self.sp.idx_bits();
        (0..self.sp.n as usize)
            .map(|s| (self.slot(group, col, s).1 as u64) << (s as u32 * bits))
            .sum()
    }
}

/// Compress `b`, which must satisfy the pattern.
pub fn compress(b: &Matrix, sp: SparsityConfig) -> Result<Compressed, Violation> {
    check(b, sp)?;
    let (m, n) = (sp.m as usize, sp.n as usize);
    let groups = sp.groups(b.rows);
    let mut values = Vec::with_capacity(groups * b.cols * n);
    let mut indices = Vec::with_capacity(groups * b.cols * n);
    for group in 0..groups {
        for col in 0..b.cols {
            let base = group * m;
            let nz: Vec<usize> = (0..m)
                .filter(|&i| base + i < b.rows && b.at(base + i, col) != 0)
                .collect();
            // Fill unused slots with the smallest free indices, then sort all slots.
            let mut slots: Vec<usize> = nz.clone();
            for i in 0..m {
                if slots.len() == n {
                    break;
                }
                if !nz.contains(&i) {
                    slots.push(i);
                }
            }
            slots.sort_unstable();
            for i in slots {
                let v = if base + i < b.rows {
                    b.at(base + i, col)
                } else {
                    0
                };
                values.push(v);
                indices.push(i as u8);
            }
        }
    }
    Ok(Compressed {
        sp,
        k: b.rows,
        cols: b.cols,
        values,
        indices,
    })
}

/// Expand back to a dense K x cols matrix.
pub fn decompress(c: &Compressed) -> Matrix {
    let m = c.sp.m as usize;
    let mut out = Matrix::zeros(c.k, c.cols);
    for group in 0..c.groups() {
        for col in 0..c.cols {
            for s in 0..c.sp.n as usize {
                let (v, i) = c.slot(group, col, s);
                let r = group * m + i as usize;
                if r < c.k {
                    *out.at_mut(r, col) = v;
                } else {
                    assert_eq!(v, 0, "padding slot with a nonzero value");
                }
            }
        }
    }
    out
}

/// Sparse GEMM straight from the compressed form: per group, each slot's value is
/// multiplied by the activation its index selects. Exact sum, wrapped to acc_bits.
pub fn sparse_gemm(a: &Matrix, b: &Compressed, fmt: GemmFormat) -> Result<Matrix, GemmError> {
    let shape = Matrix::zeros(b.k, b.cols);
    check_operands(a, &shape, fmt)?;
    let dense_b = Matrix::from_vec(b.k, b.cols, decompress(b).data);
    check_operands(a, &dense_b, fmt)?;
    let m = b.sp.m as usize;
    let mut c = Matrix::zeros(a.rows, b.cols);
    for i in 0..a.rows {
        for col in 0..b.cols {
            let mut acc: i128 = 0;
            for group in 0..b.groups() {
                for s in 0..b.sp.n as usize {
                    let (v, idx) = b.slot(group, col, s);
                    let k = group * m + idx as usize;
                    if k < a.cols {
                        acc += a.at(i, k) as i128 * v as i128;
                    }
                }
            }
            *c.at_mut(i, col) = wrap_signed(acc, fmt.acc_bits) as i64;
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::gemm;
    use proptest::prelude::*;

    fn sp(n: u32, m: u32) -> SparsityConfig {
        SparsityConfig { n, m }
    }

    fn mat(rows: usize, cols: usize) -> impl Strategy<Value = Matrix> {
        // Many zeros and many ties, so pruning and padding slots are exercised.
        let elem = prop_oneof![3 => Just(0i64), 1 => Just(-128i64), 1 => Just(127i64), 2 => -3i64..=3, 3 => -128i64..=127];
        proptest::collection::vec(elem, rows * cols)
            .prop_map(move |d| Matrix::from_vec(rows, cols, d))
    }

    fn pattern() -> impl Strategy<Value = SparsityConfig> {
        prop_oneof![
            Just(sp(1, 2)),
            Just(sp(1, 4)),
            Just(sp(2, 4)),
            Just(sp(3, 4)),
            Just(sp(1, 8)),
            Just(sp(2, 8)),
            Just(sp(4, 8)),
            Just(sp(7, 8))
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn prune_compress_decompress_round_trip(
            (p, b) in (pattern(), 1usize..40, 1usize..6)
                .prop_flat_map(|(p, k, n)| (Just(p), mat(k, n))),
        ) {
            let pr = prune(&b, p);
            prop_assert!(check(&pr, p).is_ok());
            let c = compress(&pr, p).unwrap();
            prop_assert_eq!(decompress(&c), pr.clone());
            for g in 0..c.groups() {
                for col in 0..b.cols {
                    let idx: Vec<u8> = (0..p.n as usize).map(|s| c.slot(g, col, s).1).collect();
                    prop_assert!(idx.windows(2).all(|w| w[0] < w[1]), "increasing, distinct: {:?}", idx);
                    prop_assert!(idx.iter().all(|&i| (i as u32) < p.m));
                }
            }
            // Pruning an already-valid matrix changes nothing.
            prop_assert_eq!(prune(&pr, p), pr);
        }

        #[test]
        fn sparse_gemm_equals_dense_gemm_of_pruned_b(
            (p, a, b, acc_bits) in (pattern(), 1usize..8, 1usize..50, 1usize..8, 8u32..=40)
                .prop_flat_map(|(p, mm, k, n, acc)| (Just(p), mat(mm, k), mat(k, n), Just(acc))),
        ) {
            let fmt = GemmFormat { act_bits: 8, weight_bits: 8, acc_bits };
            let pr = prune(&b, p);
            let c = compress(&pr, p).unwrap();
            prop_assert_eq!(sparse_gemm(&a, &c, fmt).unwrap(), gemm(&a, &pr, fmt));
        }
    }

    #[test]
    fn prune_keeps_largest_magnitudes_ties_to_lower_index() {
        // One column, K = 6 (two groups of 4, the second padded).
        let b = Matrix::from_vec(6, 1, vec![3, -5, 5, 1, 0, -2]);
        let p = prune(&b, sp(2, 4));
        // Group 0: |-5| and |5| tie for first; 3 is next but only two survive.
        assert_eq!(p.data, vec![0, -5, 5, 0, 0, -2]);
        let b = Matrix::from_vec(4, 1, vec![2, -2, 2, 1]);
        assert_eq!(prune(&b, sp(2, 4)).data, vec![2, -2, 0, 0]);
    }

    #[test]
    fn check_reports_first_violating_group() {
        let b = Matrix::from_vec(8, 2, vec![1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0]);
        assert_eq!(
            check(&b, sp(2, 4)),
            Err(Violation {
                col: 1,
                group: 1,
                count: 3
            })
        );
        assert_eq!(check(&b, sp(3, 4)), Ok(()));
    }

    #[test]
    fn metadata_nibbles_for_2_of_4_are_the_valid_set() {
        // Every 2:4 group pattern, including all-zero and single-nonzero groups.
        let mut seen = std::collections::BTreeSet::new();
        for mask in 0u32..16 {
            if mask.count_ones() > 2 {
                continue;
            }
            let col: Vec<i64> = (0..4)
                .map(|i| ((mask >> i) & 1) as i64 * (i as i64 + 1))
                .collect();
            let c = compress(&Matrix::from_vec(4, 1, col), sp(2, 4)).unwrap();
            seen.insert(c.meta(0, 0));
        }
        let valid: std::collections::BTreeSet<u64> = [0x4, 0x8, 0x9, 0xC, 0xD, 0xE].into();
        assert_eq!(seen, valid);
    }

    #[test]
    fn sparsity_config_errors() {
        let e = SparsityConfig { n: 2, m: 6 }.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "config field `sparsity.m` = 6 must be one of 2, 4, 8, 16 (a power of two)"
        );
        let e = SparsityConfig { n: 4, m: 4 }.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "config field `sparsity.n` = 4 is outside the allowed range 1..=3"
        );
    }
}
