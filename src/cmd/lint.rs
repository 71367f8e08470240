//! `accgen lint`: generate, then check every top with Verilator, Icarus and Yosys.
//!
//! With `--out`, the Verilog and the tool logs go into that accgen output directory.
//! Without it they go into a fresh temporary directory, which is removed when the
//! lint is clean and kept (and named) when it is not, so every log an error mentions
//! still exists.

use std::path::{Path, PathBuf};

use accgen_hw::vendor::Vendor;
use accgen_sim::lint::{
    iverilog_parse, tool_available, verilator_lint, yosys_synth, yosys_synth_ecp5, SynthReport,
    XilinxFamily,
};
use anyhow::{bail, Context, Result};

use crate::outdir::OutputDir;

/// Lint result of one top module.
pub struct TopLint {
    /// Module name.
    pub top: String,
    /// Problems found (empty when clean).
    pub problems: Vec<String>,
    /// Yosys resource counts, when synthesis ran.
    pub synth: Option<SynthReport>,
    /// The Yosys log, when synthesis ran.
    pub log: Option<PathBuf>,
}

/// Generate `config` and lint every top; print a table; fail on any problem.
pub fn run(
    config: &Path,
    out: Option<&Path>,
    vendor: Vendor,
    family: XilinxFamily,
    synth: bool,
) -> Result<()> {
    let cfg = super::generate::load_config(config)?;
    match out {
        Some(d) => {
            let mut dir = OutputDir::claim(d)?;
            let g = super::generate::write_design(&cfg, vendor, &mut dir)?;
            let results = lint_files(&g, &mut dir, family, synth)?;
            let fields = super::generate::manifest_fields(&cfg, &g)?;
            // The directory is complete and ours whatever the verdict; logs stay.
            dir.finish(fields)?;
            report(&results, d)
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("accgen-lint-")
                .tempdir()
                .context("cannot create a temporary directory for lint")?;
            let root = tmp.path().join("out");
            let mut dir = OutputDir::claim(&root)?;
            let g = super::generate::write_design(&cfg, vendor, &mut dir)?;
            let results = lint_files(&g, &mut dir, family, synth)?;
            dir.finish(super::generate::manifest_fields(&cfg, &g)?)?;
            let verdict = report(&results, &root);
            if verdict.is_err() {
                // Keep the files: the error names logs inside them.
                let kept = tmp.keep();
                eprintln!("lint files kept in {}", kept.join("out").display());
            }
            verdict
        }
    }
}

/// Print the table and fail on any problem.
fn report(results: &[TopLint], dir: &Path) -> Result<()> {
    print_table(results);
    let bad: Vec<&TopLint> = results.iter().filter(|r| !r.problems.is_empty()).collect();
    if !bad.is_empty() {
        for r in &bad {
            for p in &r.problems {
                eprintln!("{}: {p}", r.top);
            }
            if let Some(log) = &r.log {
                eprintln!("{}: yosys log: {}", r.top, log.display());
            }
        }
        bail!(
            "lint failed for {} of {} top module(s); files in {}",
            bad.len(),
            results.len(),
            dir.display()
        );
    }
    println!("lint clean: {} top module(s)", results.len());
    Ok(())
}

/// Lint each top module of a generated design; Yosys logs go to `<dir>/yosys/`.
pub fn lint_files(
    g: &super::generate::Generated,
    dir: &mut OutputDir,
    family: XilinxFamily,
    synth: bool,
) -> Result<Vec<TopLint>> {
    let do_synth = synth && tool_available("yosys");
    if synth && !do_synth {
        eprintln!("note: yosys not found, skipping synthesis (install with scripts/setup.sh)");
    }
    let mut out = Vec::new();
    // Simulators read the vendor cell models too; synthesis uses its own cell library.
    let sim_files: Vec<PathBuf> = g.files.iter().chain(&g.sim_models).cloned().collect();
    for top in &g.tops {
        eprintln!("linting {top} ...");
        let mut problems = Vec::new();
        for rep in [
            verilator_lint(&sim_files, top)?,
            iverilog_parse(&sim_files, top)?,
        ] {
            if !rep.clean {
                problems.extend(rep.diagnostics.iter().map(|d| format!("{}: {d}", rep.tool)));
                if rep.diagnostics.is_empty() {
                    problems.push(format!("{} failed", rep.tool));
                }
            }
        }
        let (synth, log) = if do_synth {
            let log = dir.reserve(&format!("yosys/{top}.yosys.log"))?;
            dir.reserve(&format!("yosys/{top}.stat.json"))?;
            let work = dir.root().join("yosys");
            let (rep, counts) = if g.vendor == Vendor::Ecp5 {
                eprintln!("synthesising {top} with yosys synth_ecp5 ...");
                dir.reserve(&format!("yosys/{top}.elab.il"))?;
                yosys_synth_ecp5(&g.files, top, &work)?
            } else {
                eprintln!("synthesising {top} with yosys synth_xilinx -family {family} ...");
                yosys_synth(&g.files, top, family, &work)?
            };
            if !rep.clean {
                problems.extend(rep.diagnostics.iter().map(|d| format!("yosys: {d}")));
            }
            (Some(counts), Some(log))
        } else {
            (None, None)
        };
        out.push(TopLint {
            top: top.clone(),
            problems,
            synth,
            log,
        });
    }
    Ok(out)
}

/// Print the lint/synthesis table.
pub fn print_table(results: &[TopLint]) {
    println!(
        "{:<40} {:>6} {:>6} {:>6} {:>6} {:>10} {:>8}  status",
        "top", "LUT", "FF", "DSP", "BRAM18", "LUTRAM/SRL", "latches"
    );
    for r in results {
        let s = |f: fn(&SynthReport) -> u64| {
            r.synth
                .as_ref()
                .map_or("-".to_string(), |x| f(x).to_string())
        };
        println!(
            "{:<40} {:>6} {:>6} {:>6} {:>6} {:>10} {:>8}  {}",
            r.top,
            s(|x| x.luts),
            s(|x| x.ffs),
            s(|x| x.dsps),
            s(|x| x.bram18),
            s(|x| x.lutram),
            s(|x| x.latches),
            if r.problems.is_empty() {
                "clean"
            } else {
                "FAIL"
            }
        );
    }
}
