//! Lint and synthesis checks on emitted Verilog, run with the real tools:
//! `verilator --lint-only -Wall`, `iverilog -g2005` and Yosys `synth_xilinx`.
//!
//! Each check returns a report instead of printing, so the CLI and the tests decide
//! what a failure is. Any Verilator warning, any iverilog diagnostic and any inferred
//! latch is a failure for accgen.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Outcome of one tool run.
#[derive(Debug, Clone)]
pub struct ToolReport {
    /// Tool name (`verilator`, `iverilog`, `yosys`).
    pub tool: &'static str,
    /// True when the tool ran and reported nothing.
    pub clean: bool,
    /// Warning and error lines the tool printed.
    pub diagnostics: Vec<String>,
}

/// Resource counts from Yosys `synth_xilinx` (flattened, no I/O buffers).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SynthReport {
    /// LUT1..LUT6 cells.
    pub luts: u64,
    /// Flip-flops (FDRE/FDSE/FDCE/FDPE).
    pub ffs: u64,
    /// DSP48E1/DSP48E2 cells.
    pub dsps: u64,
    /// Block RAM in RAMB18 units (a RAMB18 counts 1, a RAMB36 counts 2).
    pub bram18: u64,
    /// LUT-RAM and shift-register LUT cells (RAM32M, RAM64M, RAMxxX1x, SRL16E, SRLC32E).
    pub lutram: u64,
    /// Carry-chain cells (CARRY4/CARRY8).
    pub carry: u64,
    /// Latch cells (LDCE/LDPE); accgen requires zero.
    pub latches: u64,
    /// Every cell type with its count.
    pub cells: BTreeMap<String, u64>,
}

/// Failure to run a tool at all (missing binary, unreadable output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolMissing {
    /// What failed, with the install hint.
    pub message: String,
}

impl std::fmt::Display for ToolMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ToolMissing {}

/// True when `tool` is on the PATH.
pub fn tool_available(tool: &str) -> bool {
    Command::new(tool)
        .arg(if tool == "iverilog" {
            "-V"
        } else {
            "--version"
        })
        .output()
        .is_ok()
}

fn run(cmd: &mut Command, tool: &str) -> Result<std::process::Output, ToolMissing> {
    cmd.output().map_err(|e| ToolMissing {
        message: format!(
            "cannot run `{tool}` ({e}); install it with `sudo apt-get install -y {}` or run scripts/setup.sh",
            if tool == "iverilog" { "iverilog" } else { tool }
        ),
    })
}

fn diagnostics(text: &str, prefixes: &[&str]) -> Vec<String> {
    text.lines()
        .filter(|l| prefixes.iter().any(|p| l.contains(p)))
        .map(str::to_string)
        .collect()
}

/// `verilator --lint-only -Wall` over `files` with `top` as the top module.
pub fn verilator_lint(files: &[PathBuf], top: &str) -> Result<ToolReport, ToolMissing> {
    let out = run(
        Command::new("verilator")
            .args(["--lint-only", "-Wall", "--top-module", top])
            .args(files),
        "verilator",
    )?;
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let diags = diagnostics(&text, &["%Warning", "%Error"]);
    Ok(ToolReport {
        tool: "verilator",
        clean: out.status.success() && diags.is_empty(),
        diagnostics: diags,
    })
}

/// `iverilog -g2005` parse and elaboration of `files` with `top` as the root.
pub fn iverilog_parse(files: &[PathBuf], top: &str) -> Result<ToolReport, ToolMissing> {
    let out = run(
        Command::new("iverilog")
            .args(["-g2005", "-s", top, "-o", "/dev/null"])
            .args(files),
        "iverilog",
    )?;
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let diags: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    Ok(ToolReport {
        tool: "iverilog",
        clean: out.status.success() && diags.is_empty(),
        diagnostics: diags,
    })
}

/// Yosys `synth_xilinx -family <family> -flatten -noiopad -noclkbuf` and the resource
/// counts. `work_dir` receives the log and the JSON statistics.
pub fn yosys_synth(
    files: &[PathBuf],
    top: &str,
    family: &str,
    work_dir: &Path,
) -> Result<(ToolReport, SynthReport), ToolMissing> {
    std::fs::create_dir_all(work_dir).map_err(|e| ToolMissing {
        message: format!("cannot create {}: {e}", work_dir.display()),
    })?;
    let stat = work_dir.join(format!("{top}.stat.json"));
    let log = work_dir.join(format!("{top}.yosys.log"));
    let reads: Vec<String> = files
        .iter()
        .map(|f| format!("read_verilog {}", f.display()))
        .collect();
    let script = format!(
        "{}; synth_xilinx -family {family} -flatten -noiopad -noclkbuf -top {top}; tee -q -o {} stat -json",
        reads.join("; "),
        stat.display()
    );
    let out = run(
        Command::new("yosys")
            .args(["-q", "-l"])
            .arg(&log)
            .args(["-p", &script]),
        "yosys",
    )?;
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let mut diags = diagnostics(&log_text, &["Latch inferred", "ERROR"]);
    if !out.status.success() {
        diags.push(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let mut rep = SynthReport::default();
    if let Ok(text) = std::fs::read_to_string(&stat) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            if let Some(cells) = v["design"]["num_cells_by_type"].as_object() {
                for (k, n) in cells {
                    let n = n.as_u64().unwrap_or(0);
                    rep.cells.insert(k.clone(), n);
                    match k.as_str() {
                        k if k.starts_with("LUT") && k.len() == 4 => rep.luts += n,
                        "FDRE" | "FDSE" | "FDCE" | "FDPE" => rep.ffs += n,
                        k if k.starts_with("DSP48") => rep.dsps += n,
                        k if k.starts_with("RAMB18") => rep.bram18 += n,
                        k if k.starts_with("RAMB36") => rep.bram18 += 2 * n,
                        k if k.starts_with("RAM32")
                            || k.starts_with("RAM64")
                            || k.starts_with("RAM128")
                            || k.starts_with("RAM256")
                            || k.starts_with("RAM16")
                            || k.starts_with("SRL") =>
                        {
                            rep.lutram += n
                        }
                        "CARRY4" | "CARRY8" => rep.carry += n,
                        "LDCE" | "LDPE" | "$_DLATCH_P_" | "$_DLATCH_N_" => rep.latches += n,
                        _ => {}
                    }
                }
            }
        }
    } else {
        diags.push(format!("yosys wrote no statistics; see {}", log.display()));
    }
    if rep.latches > 0 {
        diags.push(format!("{} latch cell(s) inferred", rep.latches));
    }
    Ok((
        ToolReport {
            tool: "yosys",
            clean: out.status.success() && diags.is_empty(),
            diagnostics: diags,
        },
        rep,
    ))
}
