//! One module per subcommand.

pub mod asm;
pub mod board;
pub mod cache;
pub mod demo;
pub mod export_tb;
pub mod fuzz;
pub mod generate;
pub mod import;
pub mod layernorm;
pub mod lint;
pub mod model;
pub mod paths;
pub mod prune;
pub mod regress;
pub mod residual;
pub mod run;
pub mod serve;
pub mod sim;
pub mod stream;
pub mod sweep;
pub mod timing;
