//! accgen-sim: Verilator build cache, FFI harness and co-simulation drivers.
//!
//! A top module from the RTL builder is compiled by Verilator into a shared library
//! (cached on disk by content hash) and driven from Rust through typed port handles:
//!
//! ```no_run
//! # use std::rc::Rc;
//! # fn demo(top: Rc<accgen_hw::rtl::Module>) -> Result<(), accgen_sim::SimError> {
//! use accgen_sim::{Dut, SimOptions};
//! let mut dut = Dut::build(&top, &SimOptions::new())?;
//! let a = dut.input("a")?;
//! let y = dut.output("y")?;
//! dut.reset(2);
//! dut.poke_i64(a, -3);
//! dut.tick();
//! println!("y = {}", dut.peek_i64(y));
//! # Ok(()) }
//! ```
//!
//! Layers: [`spec`] (the interface of a top module), [`wrapper`] (the generated C++
//! `extern "C"` layer), [`toolchain`] and [`runtime`] (Verilator and its runtime
//! archive, compiled once per machine), [`cache`] (content-addressed build directories
//! published atomically), [`build`] ([`Model`]: build + load) and [`dut`] ([`Dut`]: one
//! running instance).
//!
//! On top of the harness: [`lint`] (Verilator/Icarus/Yosys checks), co-simulation
//! drivers per unit family ([`gemm`] for the dense and sparse arrays, [`stream`] for
//! lane-parallel units, [`mac`]) and [`npy`] (integer `.npy` I/O for the CLI).
//!
//! Cache location: `ACCGEN_CACHE_DIR`, else `target/accgen-cache` next to the running
//! executable, else `~/.cache/accgen` (see [`default_cache_root`]).

#![warn(missing_docs)]

pub mod accel;
pub mod axi_mem;
pub mod axilite;
pub mod axis;
pub mod board;
pub mod build;
pub mod cache;
pub mod dma;
pub mod dut;
pub mod error;
pub mod fault;
mod ffi;
pub mod gemm;
pub mod layernorm;
pub mod lint;
pub mod mac;
pub mod npy;
pub mod residual;
pub mod runtime;
pub mod softmax;
pub mod spec;
pub mod stream;
pub mod timing;
pub mod toolchain;
pub mod verdict;
pub mod wrapper;

pub use build::{BuildInfo, Model, SimOptions};
pub use cache::default_cache_root;
pub use dut::{Dut, InPort, OutPort, Port};
pub use error::{SimError, SimResult};
pub use spec::TopSpec;
pub use verdict::{Problem, Verdict};
