//! accgen-golden: typed configs and the bit-exact integer models; the number spec.
//!
//! Every hardware unit accgen generates has a twin here. The hardware matches these
//! models bit for bit; co-simulation checks every output against them. Integer
//! semantics (wrapping, rounding, saturation) are defined once, in [`num`].

#![warn(missing_docs)]

pub mod accel;
pub mod asm;
pub mod board;
pub mod compiler;
pub mod config;
pub mod gelu;
pub mod gemm;
pub mod gemm_program;
pub mod hash;
pub mod isa;
pub mod layernorm;
pub mod mac;
pub mod machine;
pub mod model;
pub mod nm_sparse;
pub mod num;
pub mod progen;
pub mod regs;
pub mod requant;
pub mod residual;
pub mod rng;
pub mod softmax;
pub mod special;
pub mod stats;
