//! `accgen lint`: generate, then check every top with Verilator, Icarus and Yosys.

use std::path::Path;

use accgen_sim::lint::{iverilog_parse, tool_available, verilator_lint, yosys_synth, SynthReport};
use anyhow::{bail, Result};

/// Lint result of one top module.
pub struct TopLint {
    /// Module name.
    pub top: String,
    /// Problems found (empty when clean).
    pub problems: Vec<String>,
    /// Yosys resource counts, when synthesis ran.
    pub synth: Option<SynthReport>,
}

/// Generate `config` and lint every top; print a table; fail on any problem.
pub fn run(config: &Path, out: Option<&Path>, family: &str, synth: bool) -> Result<()> {
    let cfg = super::generate::load_config(config)?;
    let tmp;
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => {
            tmp = std::env::temp_dir().join(format!("accgen-lint-{}", std::process::id()));
            tmp.clone()
        }
    };
    let result = lint_dir(&cfg, &dir, family, synth);
    if out.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let results = result?;
    print_table(&results);
    let bad: Vec<&TopLint> = results.iter().filter(|r| !r.problems.is_empty()).collect();
    if !bad.is_empty() {
        for r in &bad {
            for p in &r.problems {
                eprintln!("{}: {p}", r.top);
            }
        }
        bail!(
            "lint failed for {} of {} top module(s)",
            bad.len(),
            results.len()
        );
    }
    println!("lint clean: {} top module(s)", results.len());
    Ok(())
}

/// Generate into `dir` and lint each top module.
pub fn lint_dir(
    cfg: &accgen_golden::config::Config,
    dir: &Path,
    family: &str,
    synth: bool,
) -> Result<Vec<TopLint>> {
    let g = super::generate::write_design(cfg, dir)?;
    let do_synth = synth && tool_available("yosys");
    if synth && !do_synth {
        eprintln!("note: yosys not found, skipping synthesis (install with scripts/setup.sh)");
    }
    let mut out = Vec::new();
    for top in &g.tops {
        eprintln!("linting {top} ...");
        let mut problems = Vec::new();
        for rep in [
            verilator_lint(&g.files, top)?,
            iverilog_parse(&g.files, top)?,
        ] {
            if !rep.clean {
                problems.extend(rep.diagnostics.iter().map(|d| format!("{}: {d}", rep.tool)));
                if rep.diagnostics.is_empty() {
                    problems.push(format!("{} failed", rep.tool));
                }
            }
        }
        let synth = if do_synth {
            eprintln!("synthesising {top} with yosys synth_xilinx -family {family} ...");
            let (rep, counts) = yosys_synth(&g.files, top, family, &dir.join("yosys"))?;
            if !rep.clean {
                problems.extend(rep.diagnostics.iter().map(|d| format!("yosys: {d}")));
            }
            Some(counts)
        } else {
            None
        };
        out.push(TopLint {
            top: top.clone(),
            problems,
            synth,
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
