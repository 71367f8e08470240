//! accgen-sim: Verilator build cache, FFI harness and co-simulation drivers.
pub mod lint;
