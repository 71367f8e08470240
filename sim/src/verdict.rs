//! The verdict of a co-simulation: every way a run can go wrong, collected in one
//! place and shared by every driver.
//!
//! A run passes only when every output matched golden and the stream was clean: no
//! value mismatch, no missing, extra or duplicated beat, no wrong `tlast` or `tuser`,
//! no protocol violation (a master dropping `tvalid` or changing its payload before
//! the handshake, padding bits that are not the lane's sign or zero extension) and no
//! timeout (no progress for the driver's idle limit). The CLI turns a failed verdict
//! into exit status 1 and writes no output file.

use serde::Serialize;

/// How many problem descriptions a verdict keeps (counts are always complete).
pub const KEEP: usize = 8;

/// The kinds of failure a verdict counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// An output value differs from golden.
    Mismatch,
    /// An expected beat never came.
    Missing,
    /// A beat came that was not expected.
    Extra,
    /// A beat repeated the previous one instead of the expected one.
    Duplicated,
    /// `tlast` differs from the expected framing.
    WrongLast,
    /// `tuser` differs from the expected value.
    WrongUser,
    /// An AXI4-Stream rule was broken.
    Protocol,
    /// No progress within the idle limit.
    Timeout,
}

/// Everything observed to be wrong in one run (see module docs).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Verdict {
    /// The unit (top module) that ran.
    pub unit: String,
    /// Output values compared.
    pub checked: u64,
    /// Output values that differ from golden.
    pub mismatches: u64,
    /// Expected beats that never arrived.
    pub missing: u64,
    /// Beats beyond the expected ones.
    pub extra: u64,
    /// Beats that repeated their predecessor.
    pub duplicated: u64,
    /// Beats with a wrong `tlast`.
    pub wrong_last: u64,
    /// Beats with a wrong `tuser`.
    pub wrong_user: u64,
    /// Protocol violations.
    pub protocol: u64,
    /// True when the run stopped for lack of progress.
    pub timeout: bool,
    /// The first [`KEEP`] problems, described (unit, index, cycle, expected, actual).
    pub problems: Vec<String>,
}

impl Verdict {
    /// An empty (passing) verdict for `unit`.
    pub fn new(unit: &str) -> Verdict {
        Verdict {
            unit: unit.to_string(),
            ..Verdict::default()
        }
    }

    /// Record one problem; `describe` is called only while descriptions are kept.
    pub fn record(&mut self, kind: Problem, describe: impl FnOnce() -> String) {
        match kind {
            Problem::Mismatch => self.mismatches += 1,
            Problem::Missing => self.missing += 1,
            Problem::Extra => self.extra += 1,
            Problem::Duplicated => self.duplicated += 1,
            Problem::WrongLast => self.wrong_last += 1,
            Problem::WrongUser => self.wrong_user += 1,
            Problem::Protocol => self.protocol += 1,
            Problem::Timeout => self.timeout = true,
        }
        if self.problems.len() < KEEP {
            self.problems.push(format!("{}: {}", self.unit, describe()));
        }
    }

    /// Record `n` problems of one kind with one description.
    pub fn record_n(&mut self, kind: Problem, n: u64, describe: impl FnOnce() -> String) {
        if n == 0 {
            return;
        }
        self.record(kind, describe);
        let extra = n - 1;
        match kind {
            Problem::Mismatch => self.mismatches += extra,
            Problem::Missing => self.missing += extra,
            Problem::Extra => self.extra += extra,
            Problem::Duplicated => self.duplicated += extra,
            Problem::WrongLast => self.wrong_last += extra,
            Problem::WrongUser => self.wrong_user += extra,
            Problem::Protocol => self.protocol += extra,
            Problem::Timeout => {}
        }
    }

    /// True when nothing went wrong.
    pub fn passed(&self) -> bool {
        self.mismatches == 0
            && self.missing == 0
            && self.extra == 0
            && self.duplicated == 0
            && self.wrong_last == 0
            && self.wrong_user == 0
            && self.protocol == 0
            && !self.timeout
    }

    /// Merge another verdict's counts and descriptions into this one.
    pub fn absorb(&mut self, other: &Verdict) {
        self.checked += other.checked;
        self.mismatches += other.mismatches;
        self.missing += other.missing;
        self.extra += other.extra;
        self.duplicated += other.duplicated;
        self.wrong_last += other.wrong_last;
        self.wrong_user += other.wrong_user;
        self.protocol += other.protocol;
        self.timeout |= other.timeout;
        for p in &other.problems {
            if self.problems.len() < KEEP {
                self.problems.push(p.clone());
            }
        }
    }

    /// One line: the counts that are not zero, then the first problem.
    pub fn summary(&self) -> String {
        if self.passed() {
            return format!(
                "{}: {} outputs checked, all bit-exact",
                self.unit, self.checked
            );
        }
        let mut parts = Vec::new();
        for (n, what) in [
            (self.mismatches, "value mismatch(es)"),
            (self.missing, "missing beat(s)"),
            (self.extra, "extra beat(s)"),
            (self.duplicated, "duplicated beat(s)"),
            (self.wrong_last, "wrong tlast"),
            (self.wrong_user, "wrong tuser"),
            (self.protocol, "protocol violation(s)"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        if self.timeout {
            parts.push("timeout".into());
        }
        format!(
            "{} failed: {}; first: {}",
            self.unit,
            parts.join(", "),
            self.problems.first().map_or("-", String::as_str)
        )
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_problem_fails_and_is_summarised() {
        let mut v = Verdict::new("u");
        v.checked = 5;
        assert!(v.passed());
        for kind in [
            Problem::Mismatch,
            Problem::Missing,
            Problem::Extra,
            Problem::Duplicated,
            Problem::WrongLast,
            Problem::WrongUser,
            Problem::Protocol,
            Problem::Timeout,
        ] {
            let mut w = v.clone();
            w.record(kind, || "x".into());
            assert!(!w.passed(), "{kind:?} must fail");
            assert!(w.summary().contains("first: u: x"), "{}", w.summary());
        }
        v.record_n(Problem::Extra, 3, || "three".into());
        assert_eq!(v.extra, 3);
        assert_eq!(v.problems.len(), 1);
    }
}
