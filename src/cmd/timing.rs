//! `accgen timing`: post-route Fmax and resources of every top (or the named
//! modules) with the open flow: `synth_ecp5` and `nextpnr-ecp5` on the ECP5-85
//! (CABGA381, speed 8, out of context), the design generated with `--vendor ecp5`.
//! The logic depth after `synth_xilinx -family xcup` (design generated with `--vendor
//! xilinx`) is printed next to it for reference.
//!
//! A top that does not fit the device is replaced by its building blocks (PE, lane,
//! softmax phases; [`accgen_hw::building_blocks`]) and, for an array, by a 4x4 array
//! of the same PE.
//!
//! Files: with `--out`, every netlist, log and report stays in that accgen output
//! directory; otherwise they go to a temporary directory that is removed on success
//! and kept (and named) on failure.

use std::path::{Path, PathBuf};

use accgen_golden::config::Config;
use accgen_hw::vendor::Vendor;
use accgen_sim::timing::{self, OpenFlow, PnrReport};
use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::outdir::OutputDir;

/// Options of `accgen timing`.
pub struct TimingArgs<'a> {
    /// The config file.
    pub config: &'a Path,
    /// Modules to time (any module of the design); all tops when empty.
    pub tops: &'a [String],
    /// Placement seeds per block (the median Fmax is reported).
    pub seeds: u32,
    /// Keep the work files here.
    pub out: Option<&'a Path>,
    /// Write the results as JSON here.
    pub json: Option<&'a Path>,
    /// Replace an existing --json file.
    pub force: bool,
    /// Fail (exit 1) when a block's median Fmax is below this.
    pub min_mhz: Option<f64>,
    /// Skip the synth_xilinx logic depth.
    pub no_depth: bool,
}

/// One timed block.
#[derive(Debug, Clone)]
pub struct Timed {
    /// Module name.
    pub module: String,
    /// `top`, `block` (of a top that does not fit) or `4x4 array`.
    pub role: &'static str,
    /// Median post-route Fmax over the seeds, MHz.
    pub fmax_mhz: f64,
    /// Every seed's result.
    pub runs: Vec<PnrReport>,
    /// Logic depth after synth_xilinx -family xcup.
    pub xcup_depth: Option<u64>,
}

/// A design generated into `<dir>/<sub>/` for one vendor.
struct Generated {
    files: Vec<PathBuf>,
    modules: Vec<String>,
    tops: Vec<String>,
    work: PathBuf,
}

fn generate(cfg: &Config, vendor: Vendor, dir: &mut OutputDir, sub: &str) -> Result<Generated> {
    let design = accgen_hw::generate_for(cfg, vendor)?;
    let files = design.files()?;
    let mut paths = Vec::new();
    for f in &files {
        paths.push(dir.write(&format!("{sub}/{}", f.file_name), f.text.as_bytes())?);
    }
    Ok(Generated {
        files: paths,
        modules: files.iter().map(|f| f.module.clone()).collect(),
        tops: design.tops().iter().map(|m| m.name().to_string()).collect(),
        work: dir.root().join(sub),
    })
}

/// Run the command (see module docs).
pub fn run(a: &TimingArgs) -> Result<()> {
    let cfg = super::generate::load_config(a.config)?;
    if !(1..=9).contains(&a.seeds) {
        bail!("--seeds {}: must be 1..=9", a.seeds);
    }
    if let Some(m) = a.min_mhz {
        if !(m.is_finite() && m > 0.0 && m <= 2000.0) {
            bail!("--min-mhz {m}: must be in (0, 2000]");
        }
    }
    super::paths::check_outputs(&[("--json", a.json)], a.force)?;
    // Check --top against the design's modules before anything touches the disk.
    let modules: Vec<String> = accgen_hw::generate_for(&cfg, Vendor::Ecp5)?
        .files()?
        .into_iter()
        .map(|f| f.module)
        .collect();
    for t in a.tops {
        if !modules.contains(t) {
            bail!(
                "--top {t}: no such module; the design has: {}",
                modules.join(", ")
            );
        }
    }
    let flow = OpenFlow::locate()?;
    let tmp = match a.out {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("accgen-timing-")
                .tempdir()
                .context("cannot create a temporary directory for timing")?,
        ),
    };
    let root = match (a.out, &tmp) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some(t)) => t.path().join("out"),
        (None, None) => unreachable!("a temporary directory exists without --out"),
    };
    let mut dir = OutputDir::claim(&root)?;
    let results = time_all(&cfg, a, &flow, &mut dir);
    // The directory is complete and ours whatever happened: logs an error names stay.
    dir.finish(serde_json::Map::new())?;
    match results {
        Ok(r) => report(&r, a),
        Err(e) => {
            if let Some(tmp) = tmp {
                let kept = tmp.keep();
                eprintln!("timing files kept in {}", kept.join("out").display());
            }
            Err(e)
        }
    }
}

fn time_all(
    cfg: &Config,
    a: &TimingArgs,
    flow: &OpenFlow,
    dir: &mut OutputDir,
) -> Result<Vec<Timed>> {
    let ecp5 = generate(cfg, Vendor::Ecp5, dir, "ecp5")?;
    let xilinx = if a.no_depth {
        None
    } else {
        Some(generate(cfg, Vendor::Xilinx, dir, "xilinx")?)
    };
    let explicit = !a.tops.is_empty();
    let wanted: Vec<String> = if explicit {
        a.tops.to_vec()
    } else {
        ecp5.tops.clone()
    };
    let mut results = Vec::new();
    for top in &wanted {
        let role = if ecp5.tops.contains(top) {
            "top"
        } else {
            "block"
        };
        match time_one(flow, dir, &ecp5, xilinx.as_ref(), top, role, a.seeds)? {
            Some(t) => results.push(t),
            None if explicit => {
                bail!("{top} does not fit the ECP5-85; time one of its blocks with --top")
            }
            None => {
                let blocks = accgen_hw::building_blocks(top, &ecp5.modules);
                for b in &blocks {
                    if let Some(t) =
                        time_one(flow, dir, &ecp5, xilinx.as_ref(), b, "block", a.seeds)?
                    {
                        results.push(t);
                    }
                }
                if top.starts_with("accgen_array_") {
                    if let Some(small) = four_by_four(cfg) {
                        let e = generate(&small, Vendor::Ecp5, dir, "ecp5_4x4")?;
                        let x = match a.no_depth {
                            true => None,
                            false => Some(generate(&small, Vendor::Xilinx, dir, "xilinx_4x4")?),
                        };
                        let t4 = e.tops[0].clone();
                        if let Some(t) =
                            time_one(flow, dir, &e, x.as_ref(), &t4, "4x4 array", a.seeds)?
                        {
                            results.push(t);
                        }
                    }
                }
            }
        }
    }
    Ok(results)
}

/// The config's array (and sparsity) at 4 x 4, when the array is larger.
fn four_by_four(cfg: &Config) -> Option<Config> {
    let arr = cfg.array.as_ref()?;
    if arr.rows <= 4 && arr.cols <= 4 {
        return None;
    }
    Some(Config {
        array: Some(accgen_golden::gemm::ArrayConfig {
            rows: 4,
            cols: 4,
            ..arr.clone()
        }),
        sparsity: cfg.sparsity,
        ..Config::default()
    })
}

/// Synthesise and place `module`; `None` when it does not fit the device.
fn time_one(
    flow: &OpenFlow,
    dir: &mut OutputDir,
    ecp5: &Generated,
    xilinx: Option<&Generated>,
    module: &str,
    role: &'static str,
    seeds: u32,
) -> Result<Option<Timed>> {
    let sub = ecp5
        .work
        .strip_prefix(dir.root())
        .context("work directory outside the output directory")?
        .to_string_lossy()
        .into_owned();
    for suffix in ["yosys.log", "stat.json", "elab.il", "json"] {
        dir.reserve(&format!("{sub}/{module}.{suffix}"))?;
    }
    // The yowasp tools see only their working directory: run them next to the files.
    let syn = ecp5.work.clone();
    eprintln!("timing: synth_ecp5 {module} ...");
    let (rep, counts) = timing::synth_ecp5(flow, &ecp5.files, module, &syn)?;
    if !rep.clean {
        bail!(
            "yosys synth_ecp5 on {module} failed: {}; see {}",
            rep.diagnostics.join("; "),
            syn.join(format!("{module}.yosys.log")).display()
        );
    }
    if let Some(why) = timing::misfit(&counts) {
        eprintln!("timing: {module} does not fit the ECP5-85 ({why}); timing its blocks instead");
        return Ok(None);
    }
    let mut runs = Vec::new();
    for seed in 1..=seeds as u64 {
        for suffix in ["pnr.log", "report.json"] {
            dir.reserve(&format!("{sub}/{module}.s{seed}.{suffix}"))?;
        }
        eprintln!("timing: nextpnr-ecp5 {module} (seed {seed} of {seeds}) ...");
        runs.push(timing::place_and_route(flow, module, &syn, seed)?);
    }
    let mut f: Vec<f64> = runs.iter().map(|r| r.fmax_mhz).collect();
    f.sort_by(f64::total_cmp);
    let fmax_mhz = f[f.len() / 2];
    let xcup_depth = match xilinx {
        Some(x) if x.modules.iter().any(|m| m == module) => {
            let xsub = x
                .work
                .strip_prefix(dir.root())
                .context("work directory outside the output directory")?
                .to_string_lossy()
                .into_owned();
            for suffix in ["yosys.log", "stat.json", "ltp.txt"] {
                dir.reserve(&format!("{xsub}/{module}.{suffix}"))?;
            }
            eprintln!("timing: synth_xilinx -family xcup {module} (logic depth) ...");
            Some(timing::xilinx_logic_depth(&x.files, module, &x.work)?)
        }
        _ => None,
    };
    Ok(Some(Timed {
        module: module.to_string(),
        role,
        fmax_mhz,
        runs,
        xcup_depth,
    }))
}

/// Print the table, write --json, apply --min-mhz.
fn report(results: &[Timed], a: &TimingArgs) -> Result<()> {
    println!(
        "ECP5-85 speed 8, post-route, out of context; median of {} seed(s); target {} MHz",
        a.seeds,
        timing::TARGET_MHZ
    );
    println!(
        "{:<44} {:<9} {:>9} {:>15} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "module", "role", "Fmax MHz", "seeds min-max", "LUT4", "FF", "MULT18", "DP16KD", "depth"
    );
    for t in results {
        let r = &t.runs[0];
        let lo = t
            .runs
            .iter()
            .map(|r| r.fmax_mhz)
            .fold(f64::INFINITY, f64::min);
        let hi = t.runs.iter().map(|r| r.fmax_mhz).fold(0.0, f64::max);
        println!(
            "{:<44} {:<9} {:>9.1} {:>15} {:>6} {:>6} {:>6} {:>6} {:>6}",
            t.module,
            t.role,
            t.fmax_mhz,
            format!("{lo:.0}-{hi:.0}"),
            r.comb,
            r.ff,
            r.mult18,
            r.dp16kd,
            t.xcup_depth.map_or("-".into(), |d| d.to_string())
        );
    }
    for t in results {
        if let Some((from, to)) = &t.runs[0].critical {
            println!("critical path of {} (seed 1): {from} -> {to}", t.module);
        }
    }
    if let Some(j) = a.json {
        super::sim::write_stats(
            j,
            &json!({
                "device": "LFE5U-85F CABGA381 speed 8, out of context",
                "constraint_mhz": timing::CONSTRAINT_MHZ,
                "target_mhz": timing::TARGET_MHZ,
                "seeds": a.seeds,
                "results": results.iter().map(|t| json!({
                    "module": t.module,
                    "role": t.role,
                    "fmax_mhz": t.fmax_mhz,
                    "runs": t.runs,
                    "xcup_depth": t.xcup_depth,
                })).collect::<Vec<_>>(),
            }),
        )?;
    }
    if let Some(min) = a.min_mhz {
        let slow: Vec<String> = results
            .iter()
            .filter(|t| t.fmax_mhz < min)
            .map(|t| format!("{} ({:.1} MHz)", t.module, t.fmax_mhz))
            .collect();
        if !slow.is_empty() {
            bail!("below --min-mhz {min}: {}", slow.join(", "));
        }
    }
    Ok(())
}
