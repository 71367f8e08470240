//! Progress reporting for long runs: an `indicatif` bar on a terminal, plain lines
//! (at most one every few seconds, no carriage returns) when stderr is a file or a
//! CI log.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Minimum interval between plain progress lines.
const LINE_PERIOD: Duration = Duration::from_secs(5);

/// One progress indicator of `total` units.
pub struct Progress {
    what: String,
    unit: &'static str,
    total: u64,
    bar: Option<ProgressBar>,
    last_line: Instant,
    /// The count of the last plain line printed.
    printed: Option<u64>,
}

impl Progress {
    /// Start reporting `what` (for example `gemm`), counted in `unit`s.
    pub fn new(what: &str, unit: &'static str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {prefix} ({eta})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b.set_message(what.to_string());
            b.set_prefix(unit);
            b
        });
        Progress {
            what: what.to_string(),
            unit,
            total,
            bar,
            last_line: Instant::now(),
            printed: None,
        }
    }

    /// `done` units are finished.
    pub fn set(&mut self, done: u64) {
        match &self.bar {
            Some(b) => b.set_position(done),
            None => {
                if self.last_line.elapsed() >= LINE_PERIOD {
                    eprintln!("{}: {done}/{} {}", self.what, self.total, self.unit);
                    self.last_line = Instant::now();
                    self.printed = Some(done);
                }
            }
        }
    }

    /// Everything is done.
    pub fn finish(&mut self) {
        match self.bar.take() {
            Some(b) => b.finish_and_clear(),
            None if self.printed != Some(self.total) => {
                eprintln!("{}: {}/{} {}", self.what, self.total, self.total, self.unit);
                self.printed = Some(self.total);
            }
            None => {}
        }
    }
}
