//! Errors of the Verilator harness: missing tools, designs that cannot be simulated,
//! compile failures (with the tail of the tool's log) and port look-ups.

use std::path::PathBuf;

use accgen_hw::rtl::RtlError;

/// Everything that can go wrong while building, loading or addressing a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// `verilator` could not be run at all.
    #[error(
        "Verilator is not available ({detail}); install it with \
         `sudo apt-get install -y verilator` (or run scripts/setup.sh)"
    )]
    VerilatorMissing {
        /// What failed: the spawn error or the unexpected output.
        detail: String,
    },

    /// The C++ compiler could not be run at all.
    #[error("the C++ compiler `{compiler}` could not be run ({detail}); install it with `sudo apt-get install -y g++`")]
    CompilerMissing {
        /// Program name that was tried (`$CXX` or `g++`).
        compiler: String,
        /// Spawn error text.
        detail: String,
    },

    /// The top module has no ports besides `clk`/`rst`: nothing could be driven or observed.
    #[error(
        "top module `{top}` has no ports (besides clk/rst), so there is nothing to drive \
         or observe; add at least one input or output before simulating it"
    )]
    NoPorts {
        /// Top module name.
        top: String,
    },

    /// The requested top module is not among the Verilog files.
    #[error("top module `{top}` is not among the Verilog files (modules: {available})")]
    TopNotFound {
        /// Requested top module name.
        top: String,
        /// Comma-separated module names that are present.
        available: String,
    },

    /// Verilator rejected the Verilog (syntax error, lint warning, ...).
    #[error("Verilator failed to compile `{top}` ({status}); last lines of its log:\n{log_tail}")]
    VerilogCompile {
        /// Top module name.
        top: String,
        /// Exit status as text.
        status: String,
        /// The last lines of Verilator's combined output.
        log_tail: String,
    },

    /// The C++ compiler or linker failed (wrapper, runtime archive or shared library).
    #[error("compiling {what} failed ({status}); last lines of the compiler log:\n{log_tail}")]
    CxxCompile {
        /// What was being compiled, for example `the Verilator runtime`.
        what: String,
        /// Exit status as text.
        status: String,
        /// The last lines of the compiler's combined output.
        log_tail: String,
    },

    /// Verilator's generated model does not expose the ports the module declares
    /// (for example a port name Verilator had to rename).
    #[error("Verilator's model of `{top}` does not match the module's ports: {message}")]
    PortMismatch {
        /// Top module name.
        top: String,
        /// Which port differs and how.
        message: String,
    },

    /// No port with this name exists.
    #[error("module `{top}` has no port `{name}`; available ports: {available}")]
    UnknownPort {
        /// Top module name.
        top: String,
        /// Requested port name.
        name: String,
        /// Comma-separated `name (dir width)` list.
        available: String,
    },

    /// The port exists but has the other direction (an output asked for as input, ...).
    #[error("port `{name}` of `{top}` is an {actual} port; it cannot be used as an {wanted}")]
    WrongDirection {
        /// Top module name.
        top: String,
        /// Port name.
        name: String,
        /// `input` or `output`: what the port is.
        actual: &'static str,
        /// `input` or `output`: what was asked for.
        wanted: &'static str,
    },

    /// A VCD file was requested from a model built without tracing.
    #[error("a VCD trace was requested for `{top}`, but the model was built without tracing; set SimOptions::trace before building")]
    TraceNotBuilt {
        /// Top module name.
        top: String,
    },

    /// The VCD file could not be opened for writing.
    #[error("could not open VCD file {} for writing", path.display())]
    VcdOpen {
        /// Requested VCD path.
        path: PathBuf,
    },

    /// The shared library could not be loaded or lacks the harness ABI.
    #[error("loading simulation library {}: {message}", path.display())]
    Load {
        /// Path of the `.so`.
        path: PathBuf,
        /// Loader message.
        message: String,
    },

    /// A bus protocol violation or a missing response, naming the channel and cycle.
    #[error("protocol violation: {0}")]
    Protocol(String),

    /// The design could not be turned into Verilog.
    #[error("cannot emit the design: {0}")]
    Rtl(#[from] RtlError),

    /// A file-system or process error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl SimError {
    /// Wrap an I/O error with a description of what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> SimError {
        SimError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result type of the harness.
pub type SimResult<T> = Result<T, SimError>;
