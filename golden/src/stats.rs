//! Error statistics of a model against a float reference, in output LSBs: maximum and
//! mean absolute error and a histogram in 1/8-LSB bins, rendered as stable text for
//! snapshots and reports.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Bins per LSB in the histogram.
const BINS_PER_LSB: f64 = 8.0;

/// Accumulated errors `model - reference`, in LSBs.
#[derive(Debug, Clone, Default)]
pub struct ErrorStats {
    count: u64,
    max_abs: f64,
    sum_abs: f64,
    hist: BTreeMap<i64, u64>,
}

impl ErrorStats {
    /// Empty statistics.
    pub fn new() -> ErrorStats {
        ErrorStats::default()
    }

    /// Record one signed error (in LSBs).
    pub fn add(&mut self, err: f64) {
        assert!(err.is_finite(), "ErrorStats::add: non-finite error {err}");
        self.count += 1;
        self.max_abs = self.max_abs.max(err.abs());
        self.sum_abs += err.abs();
        *self
            .hist
            .entry((err * BINS_PER_LSB).floor() as i64)
            .or_default() += 1;
    }

    /// Number of errors recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Largest absolute error.
    pub fn max_abs(&self) -> f64 {
        self.max_abs
    }

    /// Mean absolute error (0 when empty).
    pub fn mean_abs(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_abs / self.count as f64
        }
    }

    /// `count`, max and mean (4 decimals), then one line per non-empty bin
    /// `[lo, hi) count`.
    pub fn render(&self, title: &str) -> String {
        let mut s = String::new();
        writeln!(s, "{title}").unwrap();
        writeln!(
            s,
            "outputs: {}  max |err|: {:.4} LSB  mean |err|: {:.4} LSB",
            self.count,
            self.max_abs(),
            self.mean_abs()
        )
        .unwrap();
        writeln!(s, "error (LSB) -> count").unwrap();
        for (&bin, &n) in &self.hist {
            let lo = bin as f64 / BINS_PER_LSB;
            let hi = (bin + 1) as f64 / BINS_PER_LSB;
            writeln!(s, "[{lo:+.3}, {hi:+.3}) {n}").unwrap();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_max_and_mean() {
        let mut e = ErrorStats::new();
        for v in [0.0, 0.1, -0.1, 0.5, -1.0] {
            e.add(v);
        }
        assert_eq!(e.count(), 5);
        assert_eq!(e.max_abs(), 1.0);
        assert!((e.mean_abs() - 0.34).abs() < 1e-12);
        let r = e.render("t");
        assert!(r.contains("[-1.000, -0.875) 1\n"), "{r}");
        assert!(r.contains("[-0.125, +0.000) 1\n"), "{r}");
        assert!(r.contains("[+0.000, +0.125) 2\n"), "{r}");
        assert!(r.contains("[+0.500, +0.625) 1\n"), "{r}");
    }
}
