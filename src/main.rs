//! accgen command-line interface.

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Generate verified DNN-accelerator hardware from a TOML config.
#[derive(Parser)]
#[command(name = "accgen", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Emit Verilog, filelist.f and manifest.json for every unit in the config.
    Generate {
        /// TOML config file.
        #[arg(long)]
        config: PathBuf,
        /// Output directory (created; replaced only if it holds an earlier accgen output).
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate, then run verilator -Wall, iverilog -g2005 and (if present) Yosys
    /// synth_xilinx; fail on any warning or latch.
    Lint {
        /// TOML config file.
        #[arg(long)]
        config: PathBuf,
        /// Keep the generated files and tool logs here instead of a temporary directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Yosys synth_xilinx family (xcup = UltraScale+, xc7 = 7-series).
        #[arg(long, default_value = "xcup")]
        family: String,
        /// Skip Yosys synthesis.
        #[arg(long)]
        no_synth: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate { config, out } => cmd::generate::run(&config, &out).map(|_| ()),
        Command::Lint {
            config,
            out,
            family,
            no_synth,
        } => cmd::lint::run(&config, out.as_deref(), &family, !no_synth),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
