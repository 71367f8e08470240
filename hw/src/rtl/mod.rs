//! A small typed RTL builder in the spirit of hardcaml and Chisel.
//!
//! Rust code builds a netlist at run time from config values; widths (1..=8192) and
//! signedness are checked as each node is created, so a mismatch is an error naming
//! the module and the signals, never silent truncation. [`emit`] turns a finished
//! [`Module`] into Verilog-2001.
//!
//! ```
//! use accgen_hw::rtl::{ModuleBuilder, RegOpts};
//! let mut m = ModuleBuilder::new("acc8");
//! let x = m.input("x", 8, true).unwrap();
//! let acc = m.reg("acc", 8, true, RegOpts::new().reset_zero(8)).unwrap();
//! let next = m.add(acc.q, x).unwrap();
//! m.connect(acc, next).unwrap();
//! m.output("y", acc.q).unwrap();
//! let module = m.finish().unwrap();
//! assert!(module.has_reset());
//! assert!(accgen_hw::rtl::emit::module_verilog(&module).contains("acc <= _t0;"));
//! ```

mod analyse;
mod design;
pub mod emit;
mod error;
mod hier;
mod module;
mod ops;
mod prim;
mod seq;
mod sig;
mod value;

pub use design::{Design, Library, VerilogFile};
pub use error::{RtlError, RtlResult};
pub use hier::Instance;
pub use module::{Module, ModuleBuilder};
pub use prim::{Interface, ParamValue};
pub use seq::{Mem, MemSpec, MemStyle, Reg, RegOpts};
pub use sig::{BinOp, CmpOp, Dir, PortInfo, ReduceOp, ShiftAmt, ShiftOp, Sig};
pub use value::{RangeError, Value, MAX_WIDTH};
