//! Discovery of the external tools (Verilator and the C++ compiler) and a helper that
//! runs them with their output captured into a log file.
//!
//! The tool versions are part of every cache key, so upgrading Verilator or g++ never
//! reuses a stale shared library. They are looked up once per process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::error::{SimError, SimResult};

/// Versions and locations of the tools a build uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// `verilator` (the program run).
    pub verilator: String,
    /// First line of `verilator --version`, for example `Verilator 5.006 2023-01-22 ...`.
    pub verilator_version: String,
    /// `verilator --getenv VERILATOR_ROOT`: where `include/verilated.cpp` lives.
    pub verilator_root: PathBuf,
    /// The C++ compiler: `$CXX`, else `g++`.
    pub cxx: String,
    /// First line of `<cxx> --version`.
    pub cxx_version: String,
}

static TOOLCHAIN: OnceLock<Toolchain> = OnceLock::new();

fn first_line_of(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{:?}`: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!(
            "`{:?}` exited with {}: {}",
            cmd.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string())
}

impl Toolchain {
    /// The tools of this machine, probed on first use and then remembered.
    pub fn get() -> SimResult<&'static Toolchain> {
        if let Some(t) = TOOLCHAIN.get() {
            return Ok(t);
        }
        let t = Toolchain::probe()?;
        Ok(TOOLCHAIN.get_or_init(|| t))
    }

    fn probe() -> SimResult<Toolchain> {
        let verilator = "verilator".to_string();
        let missing = |detail: String| SimError::VerilatorMissing { detail };
        let verilator_version =
            first_line_of(Command::new(&verilator).arg("--version")).map_err(missing)?;
        if !verilator_version.starts_with("Verilator") {
            return Err(missing(format!(
                "`verilator --version` printed `{verilator_version}`"
            )));
        }
        let root = first_line_of(Command::new(&verilator).args(["--getenv", "VERILATOR_ROOT"]))
            .map_err(missing)?;
        let verilator_root = PathBuf::from(root);
        if !verilator_root.join("include/verilated.cpp").is_file() {
            return Err(missing(format!(
                "VERILATOR_ROOT {} has no include/verilated.cpp",
                verilator_root.display()
            )));
        }
        let cxx = std::env::var("CXX")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "g++".into());
        let cxx_version = first_line_of(Command::new(&cxx).arg("--version")).map_err(|e| {
            SimError::CompilerMissing {
                compiler: cxx.clone(),
                detail: e,
            }
        })?;
        Ok(Toolchain {
            verilator,
            verilator_version,
            verilator_root,
            cxx,
            cxx_version,
        })
    }

    /// `-I` flags for Verilator's include directories.
    pub fn include_flags(&self) -> Vec<String> {
        let inc = self.verilator_root.join("include");
        vec![
            format!("-I{}", inc.display()),
            format!("-I{}", inc.join("vltstd").display()),
        ]
    }
}

/// How a tool run failed: the exit status and the last lines of its log.
#[derive(Debug)]
pub(crate) struct RunFailure {
    pub status: String,
    pub log_tail: String,
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Run `cmd` in `dir` with stdout and stderr appended to `log`. `Ok(Err(..))` is a
/// tool that ran and failed; `Err(..)` is a tool that could not be started.
pub(crate) fn run_logged(
    cmd: &mut Command,
    dir: &Path,
    log: &Path,
) -> std::io::Result<Result<(), RunFailure>> {
    let out = cmd.current_dir(dir).stdin(Stdio::null()).output()?;
    let mut text = format!("$ {cmd:?}\n");
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let mut prev = std::fs::read(log).unwrap_or_default();
    prev.extend_from_slice(text.as_bytes());
    std::fs::write(log, prev)?;
    if out.status.success() {
        Ok(Ok(()))
    } else {
        Ok(Err(RunFailure {
            status: out.status.to_string(),
            log_tail: tail(&text, 40),
        }))
    }
}
