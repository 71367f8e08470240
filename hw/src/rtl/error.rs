//! Build-time errors of the RTL builder.

use std::fmt;

/// An error found while building a netlist: a width or signedness mismatch, an
/// undriven register, a bad port map. It names the module and the signals involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtlError {
    /// Name of the module being built.
    pub module: String,
    /// What went wrong, naming the signals.
    pub message: String,
}

impl fmt::Display for RtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "module `{}`: {}", self.module, self.message)
    }
}

impl std::error::Error for RtlError {}

/// Result type of every fallible builder call.
pub type RtlResult<T> = Result<T, RtlError>;
