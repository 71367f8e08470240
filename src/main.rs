//! accgen command-line interface.

mod cmd;
mod outdir;
mod progress;

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
        /// Output directory: new, empty, or an earlier accgen output, of which only the
        /// files its manifest lists are replaced; any other directory is refused.
        #[arg(long)]
        out: PathBuf,
        /// Memory and multiplier style: generic (inferred), xilinx (inferred, with
        /// ram_style/rom_style attributes), ecp5 (DP16KD and MULT18X18D instances).
        #[arg(long, value_enum, default_value_t = VendorArg::Generic)]
        vendor: VendorArg,
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
        /// Yosys synth_xilinx family: xcup = UltraScale+, xcu = UltraScale, xc7 =
        /// 7-series, xc6s = Spartan-6, xc6v = Virtex-6.
        #[arg(long, value_enum, default_value_t = Family::Xcup)]
        family: Family,
        /// Skip Yosys synthesis.
        #[arg(long)]
        no_synth: bool,
        /// Memory and multiplier style (ecp5 synthesises with synth_ecp5).
        #[arg(long, value_enum, default_value_t = VendorArg::Generic)]
        vendor: VendorArg,
    },
    /// Generate, lint and co-simulate every unit in the config (the README demo).
    Demo {
        /// TOML config file.
        #[arg(long, default_value = "configs/default.toml")]
        config: PathBuf,
        /// Where the generated Verilog goes.
        #[arg(long, default_value = "out/demo")]
        out: PathBuf,
        /// Skip Yosys synthesis in the lint step.
        #[arg(long)]
        no_synth: bool,
    },
    /// Write the accelerator's Verilog and a Vivado (or Vitis) flow for a board:
    /// build.tcl or the RTL-kernel files, constraints, the register map for drivers.
    Board {
        /// TOML config with an [accel] section (and optionally [board]).
        #[arg(long)]
        config: PathBuf,
        /// zcu102, zcu104, ultra96v2, pynq-z2 or vcu1525.
        #[arg(long)]
        board: String,
        /// Output directory (new, empty, or written by accgen before).
        #[arg(long)]
        out: PathBuf,
    },
    /// Export a regression case as a self-checking Verilog-2001 testbench with
    /// $readmemh vectors and run scripts for Icarus, Verilator and Vivado xsim.
    ExportTb {
        /// The case: SUITE/NAME (the suite directory, then the case name).
        #[arg(long)]
        case: String,
        /// Output directory (new, empty, or written by accgen before).
        #[arg(long)]
        out: PathBuf,
        /// Seed of the testbench's gaps and backpressure.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Probability of an idle input cycle (0..=0.95).
        #[arg(long, default_value_t = 0.2)]
        gaps: f64,
        /// Probability of backpressure in a cycle (0..=0.95).
        #[arg(long, default_value_t = 0.2)]
        backpressure: f64,
    },
    /// Co-simulate random valid configs (or, for `model`, random accelerator programs)
    /// with random inputs against golden; failing draws are minimized and written as
    /// suite cases.
    Fuzz {
        /// gelu, requant, residual, softmax, layernorm, gemm, sparse-gemm or model.
        #[arg(long)]
        unit: String,
        /// Seed of the draws.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Configs to draw (1..=100000).
        #[arg(long, default_value_t = 50)]
        count: u64,
        /// Random inputs per config (1..=10000), all run on the config's one model.
        #[arg(long, default_value_t = 1)]
        inputs: u64,
        /// Configs at a time (1..=64).
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Run shard I of N (1-based) of the draws: I-1, I-1+N, ... (for a Slurm array:
        /// --shard $SLURM_ARRAY_TASK_ID/N).
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Internal: run config I's inputs in this process and report them.
        #[arg(long, hide = true, value_name = "I")]
        worker: Option<u64>,
        /// Suite directory the failing cases go to.
        #[arg(long)]
        suite: Option<PathBuf>,
        /// Test only: co-simulate a deliberately broken unit (as `sim --inject-fault`).
        #[arg(long, hide = true)]
        inject_fault: Option<String>,
    },
    /// Design-space sweep: every combination of parameter values, each point's
    /// workload cycles, Yosys resources and optionally Fmax; CSV, Pareto plots.
    /// Shards locally (--shard, --merge) or on Slurm (--slurm).
    Sweep {
        /// The sweep file (SPACE.toml).
        space: PathBuf,
        /// Output directory (new, empty, or written by accgen before).
        #[arg(long)]
        out: PathBuf,
        /// Sweep shard I of N (1-based): points I, I+N, ...
        #[arg(long, value_name = "I/N", conflicts_with_all = ["slurm", "merge"])]
        shard: Option<String>,
        /// Submit the sweep to Slurm as an array of N shards (each into DIR/shard-k)
        /// and a merge job after it (DIR/results.csv and the plots); files in DIR/slurm.
        #[arg(long, value_name = "N", conflicts_with = "merge")]
        slurm: Option<usize>,
        /// sbatch --partition (with --slurm).
        #[arg(long, requires = "slurm")]
        partition: Option<String>,
        /// sbatch --time (with --slurm).
        #[arg(long, requires = "slurm")]
        time: Option<String>,
        /// Shared Verilator model cache directory for every task (with --slurm).
        #[arg(long, requires = "slurm")]
        cache: Option<PathBuf>,
        /// Wait for the merge job, print the table, and fail if it failed (with --slurm).
        #[arg(long, requires = "slurm")]
        wait: bool,
        /// Merge DIR/shard-1 ..= DIR/shard-N (the results.csv of `--shard k/N` runs)
        /// into DIR: results, plots, table.
        #[arg(long, value_name = "N")]
        merge: Option<usize>,
    },
    /// Serve the simulated board (the accelerator in Verilator with its DRAM) on a Unix
    /// socket for the drivers: register reads and writes, DRAM buffers, interrupts.
    Serve {
        /// TOML config with an [accel] section.
        #[arg(long)]
        config: PathBuf,
        /// The socket path to create (must not exist).
        #[arg(long)]
        socket: PathBuf,
        /// Simulated DRAM in MiB (1..=4096).
        #[arg(long, default_value_t = 64)]
        mem_mib: u64,
        /// Memory read latency in cycles.
        #[arg(long, default_value_t = 20)]
        mem_latency: u64,
        /// Stall probability per AXI channel and cycle (0 <= p < 1).
        #[arg(long, default_value_t = 0.1)]
        stall: f64,
        /// Seed of the stalls and the random initial state.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Import a quantized ONNX model (QCDQ or QONNX, power-of-two scales) as a model
    /// directory (model.toml and .npy weights).
    Import {
        /// The ONNX file.
        #[arg(long)]
        onnx: PathBuf,
        /// Output model directory (new, empty, or written by accgen before).
        #[arg(long)]
        out: PathBuf,
        /// Round scales that are not powers of two to the nearest one (each rounding
        /// and its relative error is reported) instead of rejecting them.
        #[arg(long)]
        round_scales: bool,
    },
    /// Compile a model directory to a program, its disassembly and its DRAM layout.
    Compile {
        /// TOML config with an [accel] section.
        #[arg(long)]
        config: PathBuf,
        /// Model directory: model.toml and .npy weights.
        #[arg(long)]
        model: PathBuf,
        /// Output directory (new, empty, or written by accgen before).
        #[arg(long)]
        out: PathBuf,
    },
    /// Assemble accelerator program text into a binary (16 bytes per instruction).
    Asm {
        /// Program text (`.s`).
        input: PathBuf,
        /// Binary output (`.bin`).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// Also check the program against this config's [accel] and units (units
        /// present, scratchpad and accumulator ranges).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Replace an existing output file.
        #[arg(long)]
        force: bool,
    },
    /// Disassemble an accelerator program binary into canonical text.
    Disasm {
        /// Program binary (`.bin`).
        input: PathBuf,
        /// Write the text here instead of standard output.
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// Replace an existing output file.
        #[arg(long)]
        force: bool,
    },
    /// Run an accelerator program, a generated GEMM or a compiled model (one input or a
    /// batch) on the golden model and the RTL and compare the DRAM images (or, with
    /// --golden-only, on the golden model alone).
    Run {
        /// TOML config with an [accel] section.
        #[arg(long)]
        config: PathBuf,
        /// Program: `.bin` binary, anything else assembly text.
        #[arg(long, conflicts_with_all = ["gemm", "model"])]
        program: Option<PathBuf>,
        /// Compile and run a model directory (model.toml and .npy weights).
        #[arg(long, conflicts_with = "gemm")]
        model: Option<PathBuf>,
        /// The model input for --model: .npy of the input tensor's shape, a batch [N, ...],
        /// or an .npz with `x` (and optionally `y`, `ort_pred`, `ort_out_x1024`).
        #[arg(long, requires = "model")]
        input: Option<PathBuf>,
        /// Generate and run a tiled GEMM program: M,K,N.
        #[arg(long, value_name = "M,K,N")]
        gemm: Option<String>,
        /// Epilogue of the --gemm program.
        #[arg(long, value_enum, default_value_t = EpilogueArg::Requant, requires = "gemm")]
        epilogue: EpilogueArg,
        /// A (M x K) for --gemm; random (seed 1) when absent.
        #[arg(long, requires = "gemm")]
        a: Option<PathBuf>,
        /// B (K x N) for --gemm; random (seed 1) when absent.
        #[arg(long, requires = "gemm")]
        b: Option<PathBuf>,
        /// Write C of the --gemm program, or the --model output, here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Place a tensor in DRAM: NAME=FILE.npy@ADDR (repeatable).
        #[arg(long = "load", value_name = "NAME=FILE.npy@ADDR")]
        loads: Vec<String>,
        /// Read a tensor back after HALT: NAME@ADDR:SHAPE:DTYPE=OUT.npy, SHAPE like
        /// 16x16 (repeatable).
        #[arg(long = "dump", value_name = "NAME@ADDR:SHAPE:DTYPE=OUT.npy")]
        dumps: Vec<String>,
        /// DRAM address of the program (default: after every tensor, 4 KiB aligned).
        #[arg(long, value_parser = parse_u64)]
        prog_addr: Option<u64>,
        /// Write statistics as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Replace existing output files.
        #[arg(long)]
        force: bool,
        /// Run the golden model only (no Verilator build).
        #[arg(long)]
        golden_only: bool,
        /// Write a VCD waveform of the RTL run (the model is built with tracing).
        #[arg(long)]
        vcd: Option<PathBuf>,
        /// Memory read latency of the RTL run, in cycles (0..=10000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=10000))]
        mem_latency: u64,
        /// Stall probability on every bus channel of the RTL run (0 to 0.95).
        #[arg(long, default_value_t = 0.1, value_parser = cmd::sim::probability)]
        stall: f64,
        /// Seed of the RTL run's stalls and random initial state.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Magnitude-prune B to the config's N:M pattern ([sparsity]); ties keep the lower index.
    Prune {
        /// TOML config file with a [sparsity] section.
        #[arg(long)]
        config: PathBuf,
        /// B, K x N, int8 or int16 .npy.
        #[arg(long)]
        b: PathBuf,
        /// Pruned B (same shape and dtype).
        #[arg(long)]
        out: PathBuf,
        /// Packed indices per (group, column): sum of idx_s << (s * log2 m); for 2:4 the
        /// nibble idx0 | idx1 << 2.
        #[arg(long)]
        meta: Option<PathBuf>,
        /// Replace existing --out/--meta files.
        #[arg(long)]
        force: bool,
    },
    /// Co-simulate a unit on .npy inputs and compare every output with golden.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Inspect or empty the Verilator model cache (size cap: $ACCGEN_CACHE_MAX_MB,
    /// default 2048; least recently used models are evicted first).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Regression suites: record expected outputs from golden, run them on the RTL
    /// (sharded, in parallel, JUnit XML), merge shards.
    #[command(subcommand)]
    Regress(RegressCommand),
    /// Post-route Fmax and resources with the open flow (yowasp synth_ecp5 +
    /// nextpnr-ecp5, ECP5-85 speed 8, out of context), plus the synth_xilinx logic
    /// depth; a top that does not fit is timed by its blocks and a 4x4 array.
    Timing {
        /// TOML config file.
        #[arg(long)]
        config: PathBuf,
        /// Module to time (any module of the design; repeatable). Default: every top.
        #[arg(long = "top")]
        tops: Vec<String>,
        /// Placement seeds per module, 1..=9; the median Fmax is reported.
        #[arg(long, default_value_t = 1)]
        seeds: u32,
        /// Keep netlists, logs and reports in this directory (an accgen output
        /// directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the results as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Replace an existing --json file.
        #[arg(long)]
        force: bool,
        /// Exit 1 when a module's median Fmax is below this many MHz.
        #[arg(long, allow_negative_numbers = true)]
        min_mhz: Option<f64>,
        /// Skip the synth_xilinx logic depth.
        #[arg(long)]
        no_depth: bool,
    },
}

/// Epilogue of `run --gemm`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum EpilogueArg {
    /// Raw accumulators.
    None,
    /// Re-quantize with [requant]'s per-lane constants (column j uses lane j % lanes).
    Requant,
    /// Re-quantize, then ReLU.
    #[value(name = "requant+relu")]
    RequantRelu,
    /// Re-quantize, then GELU.
    #[value(name = "requant+gelu")]
    RequantGelu,
}

impl From<EpilogueArg> for accgen_golden::gemm_program::GemmEpilogue {
    fn from(e: EpilogueArg) -> Self {
        use accgen_golden::gemm_program::GemmEpilogue as G;
        match e {
            EpilogueArg::None => G::None,
            EpilogueArg::Requant => G::Requant,
            EpilogueArg::RequantRelu => G::RequantRelu,
            EpilogueArg::RequantGelu => G::RequantGelu,
        }
    }
}

/// A decimal or 0x-hexadecimal u64.
fn parse_u64(s: &str) -> Result<u64, String> {
    let v = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    v.map_err(|_| format!("`{s}` is not a number in 0..=2^64-1 (decimal or 0x hex)"))
}

/// Yosys `synth_xilinx -family` values (the non-experimental ones).
#[derive(Clone, Copy, clap::ValueEnum)]
enum Family {
    Xcup,
    Xcu,
    Xc7,
    Xc6s,
    Xc6v,
}

impl From<Family> for accgen_sim::lint::XilinxFamily {
    fn from(f: Family) -> Self {
        use accgen_sim::lint::XilinxFamily as X;
        match f {
            Family::Xcup => X::Xcup,
            Family::Xcu => X::Xcu,
            Family::Xc7 => X::Xc7,
            Family::Xc6s => X::Xc6s,
            Family::Xc6v => X::Xc6v,
        }
    }
}

/// `--vendor` values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum VendorArg {
    Generic,
    Xilinx,
    Ecp5,
}

impl From<VendorArg> for accgen_hw::vendor::Vendor {
    fn from(v: VendorArg) -> Self {
        use accgen_hw::vendor::Vendor as V;
        match v {
            VendorArg::Generic => V::Generic,
            VendorArg::Xilinx => V::Xilinx,
            VendorArg::Ecp5 => V::Ecp5,
        }
    }
}

#[derive(Subcommand)]
enum RegressCommand {
    /// Write every case's expected output from the golden model (SUITE/expected/).
    Record {
        /// The suite directory (with suite.toml).
        suite: PathBuf,
    },
    /// Run the cases on the RTL and compare with the recorded outputs and golden.
    Run {
        /// The suite directory (with suite.toml).
        suite: PathBuf,
        /// Run shard I of N (1-based): cases I, I+N, ...
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Cases at a time (1..=64).
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Write JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Run only the cases that failed in this `--json` output.
        #[arg(long)]
        failed_from: Option<PathBuf>,
        /// Replace existing --junit/--json files.
        #[arg(long)]
        force: bool,
        /// Also run each case's exported testbench (requant, gelu, residual) under this
        /// simulator and under Verilator: outputs and cycle counts must agree.
        #[arg(long, value_parser = ["icarus"])]
        cross_sim: Option<String>,
    },
    /// Run the suite on Slurm: an sbatch array of shards and a dependent merge job
    /// (scripts and outputs in SUITE/slurm/).
    Slurm {
        /// The suite directory (with suite.toml).
        suite: PathBuf,
        /// Array tasks (shards), 1..=10000.
        #[arg(long)]
        shards: usize,
        /// sbatch --partition.
        #[arg(long)]
        partition: Option<String>,
        /// sbatch --time (for example 01:00:00).
        #[arg(long)]
        time: Option<String>,
        /// Shared Verilator model cache directory for every task.
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Cases at a time within a task.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Wait for the merge job, then report (exit 1 on any failure).
        #[arg(long)]
        wait: bool,
    },
    /// Merge shards' JUnit files into one.
    Merge {
        /// The parts.
        parts: Vec<PathBuf>,
        /// The merged JUnit XML.
        #[arg(long)]
        junit: PathBuf,
        /// Replace an existing --junit file.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum CacheCommand {
    /// Print the cache directory, its models, their size and the cap.
    Info,
    /// Remove every cached model (and leftover build directories).
    Clean {
        /// Also remove the compiled Verilator runtime (rebuilt on the next run, 10 to
        /// 20 s).
        #[arg(long)]
        runtime: bool,
    },
}

#[derive(Subcommand)]
enum SimCommand {
    /// Tiled GEMM C = A x B on the [array] unit.
    Gemm {
        #[command(flatten)]
        common: cmd::sim::SimArgs,
        /// A, M x K, int8 or int16 .npy.
        #[arg(long)]
        a: PathBuf,
        /// B, K x N, int8 or int16 .npy.
        #[arg(long)]
        b: PathBuf,
    },
    /// N:M sparse GEMM C = A x B on the [array] + [sparsity] unit, with the speedup over
    /// the dense array of the same multiplier count measured in the same run.
    SparseGemm {
        #[command(flatten)]
        common: cmd::sim::SimArgs,
        /// A, M x K, int8 or int16 .npy.
        #[arg(long)]
        a: PathBuf,
        /// B, K x N, int8 or int16 .npy; must satisfy N:M unless --prune is given.
        #[arg(long)]
        b: PathBuf,
        /// Prune B to N:M first instead of rejecting it.
        #[arg(long)]
        prune: bool,
    },
    /// Power-of-two re-quantization of X on the [requant] unit (channel = last axis).
    Requant {
        #[command(flatten)]
        common: cmd::sim::SimArgs,
        /// X: int8/int16/int32/int64 .npy of any shape; values must fit in_bits.
        #[arg(long)]
        x: PathBuf,
    },
    /// Softmax of every row of X (rows along the last axis) on the [softmax] unit.
    Softmax {
        #[command(flatten)]
        common: cmd::sim::SimArgs,
        /// X: int8/int16/int32/int64 .npy; last axis = row, at most max_len long.
        #[arg(long)]
        x: PathBuf,
    },
    /// LayerNorm of every row of X (rows along the last axis) on the [layernorm] unit.
    Layernorm {
        #[command(flatten)]
        common: cmd::sim::SimArgs,
        /// X: int8/int16/int32/int64 .npy; last axis = row (the channels), at most max_len long.
        #[arg(long)]
        x: PathBuf,
        /// GAMMA: 1-D signed .npy, one entry per channel, within gamma_bits.
        #[arg(long)]
        gamma: PathBuf,
        /// BETA: 1-D signed .npy, one entry per channel, within beta_bits (output scale).
        #[arg(long)]
        beta: PathBuf,
    },
    /// Y = A + B element-wise on the [residual] unit (each with its own PoT scale).
    Residual {
        #[command(flatten)]
        common: cmd::sim::SimArgs,
        /// A: int8/int16/int32/int64 .npy of any shape; values must fit a_bits.
        #[arg(long)]
        a: PathBuf,
        /// B: same shape as A; values must fit b_bits.
        #[arg(long)]
        b: PathBuf,
    },
    /// GELU of X on the [gelu] unit.
    Gelu {
        #[command(flatten)]
        common: cmd::sim::SimArgs,
        /// X: int8/int16/int32/int64 .npy of any shape; values must fit in_bits.
        #[arg(long)]
        x: PathBuf,
    },
}

fn main() -> ExitCode {
    // Usage errors exit 1 like every other bad input (clap's default is 2); --help
    // and --version exit 0.
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Err(e) = accgen_sim::cache::max_bytes_from_env() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Generate {
            config,
            out,
            vendor,
        } => cmd::generate::run(&config, &out, vendor.into()).map(|_| ()),
        Command::Lint {
            config,
            out,
            family,
            no_synth,
            vendor,
        } => cmd::lint::run(
            &config,
            out.as_deref(),
            vendor.into(),
            family.into(),
            !no_synth,
        ),
        Command::Demo {
            config,
            out,
            no_synth,
        } => cmd::demo::run(&config, &out, !no_synth),
        Command::Board { config, board, out } => cmd::board::board_cmd(&config, &board, &out),
        Command::Regress(RegressCommand::Record { suite }) => cmd::regress::record(&suite),
        Command::Regress(RegressCommand::Run {
            suite,
            shard,
            jobs,
            junit,
            json,
            failed_from,
            force,
            cross_sim,
        }) => cmd::regress::run(
            &suite,
            &cmd::regress::RunOpts {
                shard: shard.as_deref(),
                jobs,
                junit: junit.as_deref(),
                json: json.as_deref(),
                failed_from: failed_from.as_deref(),
                force,
                cross_sim: cross_sim.is_some(),
            },
        ),
        Command::Regress(RegressCommand::Slurm {
            suite,
            shards,
            partition,
            time,
            cache,
            jobs,
            wait,
        }) => cmd::regress::slurm(
            &suite,
            &cmd::regress::SlurmOpts {
                shards,
                partition: partition.as_deref(),
                time: time.as_deref(),
                cache: cache.as_deref(),
                jobs,
                wait,
            },
        ),
        Command::Regress(RegressCommand::Merge {
            parts,
            junit,
            force,
        }) => cmd::regress::merge(&parts, &junit, force),
        Command::ExportTb {
            case,
            out,
            seed,
            gaps,
            backpressure,
        } => cmd::export_tb::export_tb(&case, &out, seed, gaps, backpressure),
        Command::Fuzz {
            unit,
            seed,
            inputs,
            worker: Some(i),
            inject_fault,
            ..
        } => cmd::fuzz::worker(&unit, seed, i, inputs, inject_fault.as_deref()),
        Command::Fuzz {
            unit,
            seed,
            count,
            inputs,
            jobs,
            worker: None,
            shard,
            suite,
            inject_fault,
        } => shard
            .as_deref()
            .map(cmd::regress::parse_shard)
            .transpose()
            .and_then(|shard| {
                cmd::fuzz::fuzz(
                    &cmd::fuzz::FuzzPlan {
                        unit: &unit,
                        seed,
                        count,
                        inputs,
                        jobs,
                        shard: shard.unwrap_or((1, 1)),
                    },
                    suite.as_deref(),
                    inject_fault.as_deref(),
                )
            }),
        Command::Sweep {
            space,
            out,
            slurm: Some(shards),
            partition,
            time,
            cache,
            wait,
            ..
        } => cmd::sweep::slurm(
            &space,
            &out,
            &cmd::regress::SlurmOpts {
                shards,
                partition: partition.as_deref(),
                time: time.as_deref(),
                cache: cache.as_deref(),
                jobs: 1,
                wait,
            },
        ),
        Command::Sweep {
            space,
            out,
            shard,
            merge,
            ..
        } => cmd::sweep::sweep(&space, &out, shard.as_deref(), merge),
        Command::Serve {
            config,
            socket,
            mem_mib,
            mem_latency,
            stall,
            seed,
        } => cmd::serve::serve(&config, &socket, mem_mib, mem_latency, stall, seed),
        Command::Import {
            onnx,
            out,
            round_scales,
        } => cmd::import::import_cmd(&onnx, &out, round_scales),
        Command::Compile { config, model, out } => cmd::model::compile_cmd(&config, &model, &out),
        Command::Asm {
            input,
            out,
            config,
            force,
        } => cmd::asm::asm(&input, &out, config.as_deref(), force),
        Command::Disasm { input, out, force } => cmd::asm::disasm(&input, out.as_deref(), force),
        Command::Run {
            config,
            program,
            model,
            input,
            gemm,
            epilogue,
            a,
            b,
            out,
            loads,
            dumps,
            prog_addr,
            json,
            force,
            golden_only,
            vcd,
            mem_latency,
            stall,
            seed,
        } => cmd::run::run(&cmd::run::RunArgs {
            config: &config,
            program: program.as_deref(),
            model: model.as_deref(),
            input: input.as_deref(),
            gemm: gemm.as_deref(),
            epilogue: epilogue.into(),
            a: a.as_deref(),
            b: b.as_deref(),
            out: out.as_deref(),
            loads: &loads,
            dumps: &dumps,
            prog_addr,
            json: json.as_deref(),
            force,
            golden_only,
            vcd: vcd.as_deref(),
            mem_latency,
            stall,
            seed,
        }),
        Command::Prune {
            config,
            b,
            out,
            meta,
            force,
        } => cmd::prune::run(&config, &b, &out, meta.as_deref(), force),
        Command::Sim(SimCommand::Gemm { common, a, b }) => cmd::sim::gemm(&common, &a, &b),
        Command::Sim(SimCommand::SparseGemm {
            common,
            a,
            b,
            prune,
        }) => cmd::sim::sparse_gemm(&common, &a, &b, prune, true),
        Command::Sim(SimCommand::Requant { common, x }) => cmd::stream::requant(&common, &x),
        Command::Sim(SimCommand::Gelu { common, x }) => cmd::stream::gelu(&common, &x),
        Command::Sim(SimCommand::Softmax { common, x }) => cmd::stream::softmax(&common, &x),
        Command::Sim(SimCommand::Residual { common, a, b }) => {
            cmd::residual::residual(&common, &a, &b)
        }
        Command::Sim(SimCommand::Layernorm {
            common,
            x,
            gamma,
            beta,
        }) => cmd::layernorm::layernorm(&common, &x, &gamma, &beta),
        Command::Cache(CacheCommand::Info) => cmd::cache::info(),
        Command::Cache(CacheCommand::Clean { runtime }) => cmd::cache::clean(runtime),
        Command::Timing {
            config,
            tops,
            seeds,
            out,
            json,
            force,
            min_mhz,
            no_depth,
        } => cmd::timing::run(&cmd::timing::TimingArgs {
            config: &config,
            tops: &tops,
            seeds,
            out: out.as_deref(),
            json: json.as_deref(),
            force,
            min_mhz,
            no_depth,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
