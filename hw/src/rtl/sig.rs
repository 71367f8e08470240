//! Signal handles, port metadata and the operator kinds of the builder.

/// Direction of a module port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// Driven from outside the module.
    Input,
    /// Driven by the module.
    Output,
}

/// Queryable port metadata: what the simulation harness and testbench exporter read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PortInfo {
    /// Port name as emitted in Verilog.
    pub name: String,
    /// Input or output.
    pub dir: Dir,
    /// Width in bits, 1..=8192.
    pub width: u32,
    /// True when the port carries a two's-complement number.
    pub signed: bool,
}

/// A handle to a net of a module under construction. Cheap to copy; it records the
/// width and signedness so they can be read without the builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sig {
    pub(crate) builder: u32,
    pub(crate) id: u32,
    pub(crate) width: u32,
    pub(crate) signed: bool,
}

impl Sig {
    /// Width in bits.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// True for SInt, false for UInt.
    pub fn signed(&self) -> bool {
        self.signed
    }

    /// The same bits read as two's complement (no hardware).
    pub fn as_signed(self) -> Sig {
        Sig {
            signed: true,
            ..self
        }
    }

    /// The same bits read as unsigned (no hardware).
    pub fn as_unsigned(self) -> Sig {
        Sig {
            signed: false,
            ..self
        }
    }
}

/// Exact-width two-operand operators (both operands and the result share one width).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// Wrapping addition.
    Add,
    /// Wrapping subtraction.
    Sub,
    /// Bitwise and.
    And,
    /// Bitwise or.
    Or,
    /// Bitwise exclusive or.
    Xor,
}

/// Comparisons; the result is one unsigned bit. Ordering respects signedness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
}

/// Shift kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShiftOp {
    /// Left shift, zeros in.
    Shl,
    /// Logical right shift, zeros in.
    Shr,
    /// Arithmetic right shift, copies of the top bit in.
    Sra,
}

/// Reduction operators over all bits of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// 1 when every bit is 1.
    And,
    /// 1 when any bit is 1.
    Or,
    /// Parity.
    Xor,
}

/// Shift amount: a constant or an unsigned signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShiftAmt {
    /// Fixed amount.
    Const(u32),
    /// Amount taken from an unsigned signal at run time.
    Sig(Sig),
}
