//! `accgen sim <unit>`: co-simulate a unit on .npy inputs against its golden model.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use accgen_golden::config::Config;
use accgen_golden::gemm::{check_operands, ArrayConfig, Matrix};
use accgen_golden::nm_sparse::{check, compress, prune, SparsityConfig};
use accgen_hw::rtl::Library;
use accgen_sim::fault::Fault;
use accgen_sim::gemm::{scalesim_os_cycles, ArrayDriver, GemmRun, Issue};
use accgen_sim::{Model, SimOptions};
use anyhow::{bail, Context, Result};
use serde_json::json;

use accgen_sim::npy::{self, Dtype, NpyArray};

/// Options shared by the `sim` subcommands.
#[derive(clap::Args)]
pub struct SimArgs {
    /// TOML config file with the unit's section.
    #[arg(long)]
    pub config: PathBuf,
    /// Write the result .npy here, atomically, only after a clean comparison.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a VCD waveform of the run.
    #[arg(long)]
    pub vcd: Option<PathBuf>,
    /// Write run statistics as JSON (cycles, bit_exact, ...).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Replace existing --out/--json/--vcd files (accgen does not overwrite files it
    /// did not create unless told to).
    #[arg(long)]
    pub force: bool,
    /// Probability (0 to 0.95) that the input source idles a cycle between beats
    /// (hostile by default; 0 measures peak throughput).
    #[arg(long, default_value_t = 0.1, value_parser = probability)]
    pub input_gaps: f64,
    /// Probability (0 to 0.95) that the output sink holds tready low in a cycle
    /// (hostile by default; 0 measures peak throughput).
    #[arg(long, default_value_t = 0.1, value_parser = probability)]
    pub backpressure: f64,
    /// Seed of the random input gaps and backpressure.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Start from random register and memory contents drawn from this seed
    /// (0 = all zeros), as hardware does after configuration.
    #[arg(long, default_value_t = 1)]
    pub x_init_seed: u64,
    /// Self-check of the checker: corrupt the unit's output stream with a small
    /// Verilog wrapper (last-low, last-high, drop:K, dup:K, flip:K, stall:K for
    /// output beat K); the run must then fail with exit code 1.
    #[arg(long, value_name = "FAULT")]
    pub inject_fault: Option<accgen_sim::fault::Fault>,
}

/// Parse a probability for --input-gaps / --backpressure.
pub fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number; expected a probability in 0..=0.95"))?;
    if !(0.0..=0.95).contains(&p) {
        return Err(format!("{p} is outside the allowed range 0..=0.95"));
    }
    Ok(p)
}

impl SimArgs {
    /// The traffic these options describe.
    pub fn traffic(&self) -> accgen_sim::axis::Traffic {
        accgen_sim::axis::Traffic {
            gap: self.input_gaps,
            stall: self.backpressure,
            seed: self.seed,
            idle_limit: 100_000,
        }
    }

    /// A fresh instance of `model` with the requested initial state.
    pub fn instantiate(&self, model: &Model) -> Result<accgen_sim::Dut> {
        Ok(model.instantiate_randomized(self.x_init_seed)?)
    }

    /// An array driver on a fresh instance of `model`, with this run's traffic.
    fn array_driver(
        &self,
        model: &Model,
        cfg: &ArrayConfig,
        sp: Option<&SparsityConfig>,
    ) -> Result<ArrayDriver> {
        let dut = self.instantiate(model)?;
        let mut drv = match sp {
            Some(sp) => ArrayDriver::new_sparse(dut, cfg, sp)?,
            None => ArrayDriver::new(dut, cfg)?,
        };
        drv.set_traffic(self.traffic());
        Ok(drv)
    }

    /// The traffic and initial state of this run, for the statistics JSON.
    pub fn traffic_stats(&self) -> serde_json::Value {
        json!({
            "input_gaps": self.input_gaps,
            "backpressure": self.backpressure,
            "seed": self.seed,
            "x_init_seed": self.x_init_seed,
        })
    }

    /// Check the output paths (cheap; before any build).
    pub fn check_outputs(&self) -> Result<()> {
        super::paths::check_outputs(
            &[
                ("--out", self.out.as_deref()),
                ("--json", self.json.as_deref()),
                ("--vcd", self.vcd.as_deref()),
            ],
            self.force,
        )
    }
}

/// Write `stats` as pretty JSON to `path`, atomically.
pub fn write_stats(path: &Path, stats: &serde_json::Value) -> Result<()> {
    accgen_hw::files::write_atomic(
        path,
        (serde_json::to_string_pretty(stats)? + "\n").as_bytes(),
    )
    .with_context(|| format!("cannot write {}", path.display()))
}

/// The `[array]` section of `cfg`, or an error naming the file.
pub fn array_section(cfg: &Config, path: &Path) -> Result<ArrayConfig> {
    cfg.array.clone().with_context(|| {
        format!(
            "config {} has no [array] section, which `sim gemm` needs",
            path.display()
        )
    })
}

/// Reject a GEMM with an empty dimension (before any build).
pub fn check_nonempty(a: &Matrix, a_path: &Path, b: &Matrix, b_path: &Path) -> Result<()> {
    if a.rows == 0 || a.cols == 0 || b.cols == 0 {
        bail!(
            "empty GEMM: A ({}) is [{}, {}] and B ({}) is [{}, {}]; M, K and N must each be at least 1",
            a_path.display(),
            a.rows,
            a.cols,
            b_path.display(),
            b.rows,
            b.cols
        );
    }
    Ok(())
}

/// Read a 2-D signed int8/int16 matrix operand.
pub fn read_matrix(path: &Path, name: &str, bits: u32, field: &str) -> Result<Matrix> {
    let arr = npy::read(path).with_context(|| format!("reading {name}"))?;
    matrix_of(&arr, path, name, bits, field)
}

/// A 2-D signed int8/int16 array as a matrix (`path` and `field` for messages).
pub fn matrix_of(
    arr: &NpyArray,
    path: &Path,
    name: &str,
    bits: u32,
    field: &str,
) -> Result<Matrix> {
    if !matches!(arr.dtype, Dtype::I8 | Dtype::I16) {
        bail!(
            "{name} ({}) has dtype {}; expected int8 or int16 ({field} = {bits})",
            path.display(),
            arr.dtype.name()
        );
    }
    if arr.shape.len() != 2 {
        bail!(
            "{name} ({}) has shape {:?}; expected a 2-D matrix",
            path.display(),
            arr.shape
        );
    }
    Ok(Matrix::from_vec(
        arr.shape[0],
        arr.shape[1],
        arr.data.clone(),
    ))
}

/// Build the array model, printing progress.
pub fn build_array_model(
    cfg: &ArrayConfig,
    vcd: Option<&Path>,
    fault: Option<Fault>,
) -> Result<(Model, f64)> {
    let mut lib = Library::new();
    build_model(
        &accgen_hw::systolic::systolic_array(&mut lib, cfg)?,
        vcd,
        fault,
    )
}

thread_local! {
    /// Models built by this thread, by design content and fault, when
    /// [`keep_models`] turned reuse on (fuzz workers run many inputs on one model).
    static KEPT: std::cell::RefCell<Option<std::collections::HashMap<u64, Model>>> =
        const { std::cell::RefCell::new(None) };
}

/// From now on, [`build_model`] in this thread builds quick models
/// ([`SimOptions::quick`]), keeps every model it builds (without a VCD) and hands out
/// the same loaded model for the same design and fault again, skipping the disk cache
/// lookup and the library load: for many short runs of many designs (fuzzing).
pub fn keep_quick_models() {
    KEPT.with(|k| {
        k.borrow_mut().get_or_insert_with(Default::default);
    })
}

/// Content key of `top` (every Verilog file it needs) and `fault`.
fn design_key(top: &Rc<accgen_hw::rtl::Module>, fault: Option<Fault>) -> Result<u64> {
    use std::hash::{Hash, Hasher};
    let mut d = accgen_hw::rtl::Design::new();
    d.add_top(top.clone());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in d.sim_files()? {
        (f.file_name, f.text).hash(&mut h);
    }
    fault.map(|f| f.describe()).hash(&mut h);
    Ok(h.finish())
}

/// Build (or fetch from the cache) the Verilator model of `top`, behind a `fault`
/// wrapper when one is given, printing progress.
pub fn build_model(
    top: &Rc<accgen_hw::rtl::Module>,
    vcd: Option<&Path>,
    fault: Option<Fault>,
) -> Result<(Model, f64)> {
    let keep = vcd.is_none() && KEPT.with(|k| k.borrow().is_some());
    let key = if keep {
        Some(design_key(top, fault)?)
    } else {
        None
    };
    if let Some(m) = key.and_then(|k| KEPT.with(|c| c.borrow().as_ref()?.get(&k).cloned())) {
        return Ok((m, 0.0));
    }
    let (model, secs) = build_model_uncached(top, vcd, fault)?;
    if let Some(k) = key {
        KEPT.with(|c| {
            if let Some(map) = c.borrow_mut().as_mut() {
                map.insert(k, model.clone());
            }
        });
    }
    Ok((model, secs))
}

fn build_model_uncached(
    top: &Rc<accgen_hw::rtl::Module>,
    vcd: Option<&Path>,
    fault: Option<Fault>,
) -> Result<(Model, f64)> {
    let mut opts = SimOptions::new();
    if KEPT.with(|k| k.borrow().is_some()) {
        opts = opts.quick();
    }
    if let Some(v) = vcd {
        opts = opts.trace(v);
    }
    eprintln!("preparing Verilator model of {} ...", top.name());
    let t = Instant::now();
    let model = match fault {
        Some(f) => {
            eprintln!("injecting fault {} into the output stream", f.describe());
            accgen_sim::fault::build(top, f, &opts)?
        }
        None => Model::build(top, &opts)?,
    };
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "model ready in {secs:.1} s ({})",
        if model.info().cache_hit {
            "cache hit"
        } else {
            "built"
        }
    );
    Ok((model, secs))
}

/// Show tile progress while a GEMM runs (a bar on a terminal, plain lines otherwise).
pub fn show_progress(drv: &mut ArrayDriver, what: &'static str) {
    let mut p: Option<crate::progress::Progress> = None;
    drv.on_progress(move |done, total| {
        let bar =
            p.get_or_insert_with(|| crate::progress::Progress::new(what, "tiles", total as u64));
        bar.set(done as u64);
        if done == total {
            bar.finish();
        }
    });
}

/// Statistics JSON of a GEMM run.
pub fn gemm_stats(
    cfg: &ArrayConfig,
    a: &Matrix,
    b: &Matrix,
    run: &GemmRun,
    build_s: f64,
) -> serde_json::Value {
    json!({
        "unit": "array",
        "rows": cfg.rows,
        "cols": cfg.cols,
        "m": a.rows, "k": a.cols, "n": b.cols,
        "tiles": run.tiles,
        "cycles": run.cycles,
        "macs": run.macs,
        "utilization": run.utilization,
        "bit_exact": run.bit_exact(),
        "input_stalls": run.input_stalls,
        "verdict": &run.verdict,
        "sim_cycles_per_s": run.sim_cycles_per_s,
        "scalesim_os_cycles": scalesim_os_cycles(cfg, a.rows, a.cols, b.cols),
        "verilator_build_s": build_s,
    })
}

/// `accgen sim gemm`.
pub fn gemm(args: &SimArgs, a_path: &Path, b_path: &Path) -> Result<()> {
    let cfg = super::generate::load_config(&args.config)?;
    let acfg = array_section(&cfg, &args.config)?;
    let a = read_matrix(a_path, "A", acfg.act_bits, "act_bits")?;
    let b = read_matrix(b_path, "B", acfg.weight_bits, "weight_bits")?;
    check_nonempty(&a, a_path, &b, b_path)?;
    check_operands(&a, &b, acfg.format())?;
    args.check_outputs()?;
    let (model, build_s) = build_array_model(&acfg, args.vcd.as_deref(), args.inject_fault)?;
    let mut drv = args.array_driver(&model, &acfg, None)?;
    show_progress(&mut drv, "gemm");
    eprintln!(
        "running {}x{}x{} GEMM on the {}x{} array ...",
        a.rows, a.cols, b.cols, acfg.rows, acfg.cols
    );
    let run = drv.run(&a, &b, Issue::BackToBack)?;
    let mut stats = gemm_stats(&acfg, &a, &b, &run, build_s);
    stats["traffic"] = args.traffic_stats();
    println!(
        "cycles {}  macs {}  utilization {:.4}  bit_exact {}  sim {:.2} Mcycles/s",
        run.cycles,
        run.macs,
        run.utilization,
        run.bit_exact(),
        run.sim_cycles_per_s / 1e6
    );
    if let Some(j) = &args.json {
        write_stats(j, &stats)?;
    }
    if !run.verdict.passed() {
        bail!("{}", run.verdict);
    }
    write_c(args, &acfg, &run.c)
}

/// Dense array with the same multiplier count as the sparse `cfg` with `sp`:
/// C * N columns (or R * N rows when that would exceed 128 columns).
pub fn dense_equivalent(cfg: &ArrayConfig, sp: &SparsityConfig) -> Option<ArrayConfig> {
    let (r, c, n) = (cfg.rows, cfg.cols, sp.n);
    if c * n <= 128 {
        Some(ArrayConfig {
            cols: c * n,
            ..cfg.clone()
        })
    } else if r * n <= 128 {
        Some(ArrayConfig {
            rows: r * n,
            ..cfg.clone()
        })
    } else {
        None
    }
}

/// `accgen sim sparse-gemm` (`dense_reference`: also run the dense array of the same
/// multiplier count, for the speedup).
pub fn sparse_gemm(
    args: &SimArgs,
    a_path: &Path,
    b_path: &Path,
    do_prune: bool,
    dense_reference: bool,
) -> Result<()> {
    let cfg = super::generate::load_config(&args.config)?;
    let acfg = array_section(&cfg, &args.config)?;
    let sp = super::prune::sparsity_section(&cfg, &args.config)?;
    let a = read_matrix(a_path, "A", acfg.act_bits, "act_bits")?;
    let mut b = read_matrix(b_path, "B", acfg.weight_bits, "weight_bits")?;
    check_nonempty(&a, a_path, &b, b_path)?;
    check_operands(&a, &b, acfg.format())?;
    args.check_outputs()?;
    if let Err(v) = check(&b, sp) {
        if !do_prune {
            let m = sp.m as usize;
            bail!(
                "B violates {}:{} sparsity: {v} (rows {}..{}); pass --prune, or prune it first with `accgen prune`",
                sp.n,
                sp.m,
                v.group * m,
                ((v.group + 1) * m).min(b.rows)
            );
        }
        b = prune(&b, sp);
        eprintln!("pruned B to {}:{}", sp.n, sp.m);
    }
    let compressed = compress(&b, sp).map_err(|v| anyhow::anyhow!("{v}"))?;
    let mut lib = Library::new();
    let top = accgen_hw::sparse_array(&mut lib, &acfg, &sp)?;
    let (model, build_s) = build_model(&top, args.vcd.as_deref(), args.inject_fault)?;
    let mut drv = args.array_driver(&model, &acfg, Some(&sp))?;
    show_progress(&mut drv, "sparse gemm");
    eprintln!("running {}x{}x{} sparse GEMM ...", a.rows, a.cols, b.cols);
    let run = drv.run_sparse(&a, &compressed, Issue::BackToBack)?;
    // Same GEMM on the dense array with the same number of multipliers.
    let dense = dense_equivalent(&acfg, &sp).filter(|_| dense_reference);
    let dense_run = match &dense {
        Some(dcfg) => {
            let (dmodel, _) = build_array_model(dcfg, None, None)?;
            let mut ddrv = args.array_driver(&dmodel, dcfg, None)?;
            show_progress(&mut ddrv, "dense reference");
            eprintln!(
                "running the same GEMM on the dense {}x{} array ...",
                dcfg.rows, dcfg.cols
            );
            Some(ddrv.run(&a, &b, Issue::BackToBack)?)
        }
        None => None,
    };
    let speedup = dense_run
        .as_ref()
        .map(|d| d.cycles as f64 / run.cycles as f64);
    let mut stats = gemm_stats(&acfg, &a, &b, &run, build_s);
    stats["unit"] = json!("sparse_array");
    stats["traffic"] = args.traffic_stats();
    stats["n"] = json!(sp.n);
    stats["m"] = json!(sp.m);
    stats["multipliers"] = json!(run.multipliers);
    stats["speedup_vs_dense"] = json!(speedup);
    stats["dense_cycles"] = json!(dense_run.as_ref().map(|d| d.cycles));
    stats["dense_shape"] = json!(dense.as_ref().map(|d| [d.rows, d.cols]));
    stats["dense_bit_exact"] = json!(dense_run.as_ref().map(|d| d.bit_exact()));
    println!(
        "cycles {}  nonzero macs {}  multiplier utilization {:.4}  bit_exact {}  speedup vs dense {}",
        run.cycles,
        run.macs,
        run.utilization,
        run.bit_exact(),
        speedup.map_or("n/a".to_string(), |s| format!("{s:.3}x"))
    );
    if let Some(j) = &args.json {
        write_stats(j, &stats)?;
    }
    if !run.verdict.passed() {
        bail!("{}", run.verdict);
    }
    if let Some(d) = dense_run.as_ref().filter(|d| !d.verdict.passed()) {
        bail!("dense reference run failed: {}", d.verdict);
    }
    write_c(args, &acfg, &run.c)
}

/// Write C to `--out` (int32, or int64 when acc_bits > 32).
pub fn write_c(args: &SimArgs, acfg: &ArrayConfig, c: &Matrix) -> Result<()> {
    if let Some(out) = &args.out {
        let dtype = if acfg.acc_bits > 32 {
            Dtype::I64
        } else {
            Dtype::I32
        };
        npy::write(
            out,
            &NpyArray {
                dtype,
                shape: vec![c.rows, c.cols],
                data: c.data.clone(),
            },
        )?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}
