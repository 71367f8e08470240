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

pub(crate) fn run(cmd: &mut Command, tool: &str) -> Result<std::process::Output, ToolMissing> {
    cmd.output().map_err(|e| ToolMissing {
        message: format!(
            "cannot run `{tool}` ({e}); install it with `sudo apt-get install -y {}` or run scripts/setup.sh",
            if tool == "iverilog" { "iverilog" } else { tool }
        ),
    })
}

pub(crate) fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || x == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
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

/// The families Yosys `synth_xilinx -family` accepts without the EXPERIMENTAL tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XilinxFamily {
    /// UltraScale+ (Zynq UltraScale+, Alveo): DSP48E2, RAMB36E2, CARRY8.
    Xcup,
    /// UltraScale.
    Xcu,
    /// 7-series (Zynq-7000, Artix/Kintex/Virtex-7): DSP48E1, RAMB36E1, CARRY4.
    Xc7,
    /// Spartan-6.
    Xc6s,
    /// Virtex-6.
    Xc6v,
}

impl XilinxFamily {
    /// Every family, in `synth_xilinx -help` order.
    pub const ALL: [XilinxFamily; 5] = [
        XilinxFamily::Xcup,
        XilinxFamily::Xcu,
        XilinxFamily::Xc7,
        XilinxFamily::Xc6s,
        XilinxFamily::Xc6v,
    ];

    /// The `-family` argument.
    pub fn as_str(self) -> &'static str {
        match self {
            XilinxFamily::Xcup => "xcup",
            XilinxFamily::Xcu => "xcu",
            XilinxFamily::Xc7 => "xc7",
            XilinxFamily::Xc6s => "xc6s",
            XilinxFamily::Xc6v => "xc6v",
        }
    }
}

impl std::fmt::Display for XilinxFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Yosys `synth_xilinx -family <family> -flatten -noiopad -noclkbuf` and the resource
/// counts. `work_dir` receives `<top>.yosys.log` and `<top>.stat.json`.
///
/// Nothing from the caller is spliced into the Yosys script: the Verilog files are
/// passed as separate program arguments (so any path works, spaces included), Yosys
/// runs inside `work_dir` and writes its statistics to a fixed relative name, and the
/// script holds only the family keyword (an enum) and the top name (a checked Verilog
/// identifier).
pub fn yosys_synth(
    files: &[PathBuf],
    top: &str,
    family: XilinxFamily,
    work_dir: &Path,
) -> Result<(ToolReport, SynthReport), ToolMissing> {
    let script = format!(
        "synth_xilinx -family {family} -flatten -noiopad -noclkbuf -top {top}; tee -q -o {top}.stat.json stat -json"
    );
    yosys_script(Path::new("yosys"), files, top, &script, work_dir)
}

/// Yosys `synth_ecp5` (Lattice ECP5) and the resource counts, for designs generated
/// with `--vendor ecp5`. The design is elaborated and written as RTLIL first, then
/// read back and synthesised: this avoids a Yosys defect in which a module that
/// instantiates a parameterised vendor cell is re-elaborated from its source after
/// synthesis (its processes come back unmapped).
pub fn yosys_synth_ecp5(
    files: &[PathBuf],
    top: &str,
    work_dir: &Path,
) -> Result<(ToolReport, SynthReport), ToolMissing> {
    yosys_script(
        Path::new("yosys"),
        files,
        top,
        &synth_ecp5_script(top, ""),
        work_dir,
    )
}

/// The `synth_ecp5` script of [`yosys_synth_ecp5`] for `top`, followed by `extra`
/// (fixed commands, for example `; write_json top.json`).
pub(crate) fn synth_ecp5_script(top: &str, extra: &str) -> String {
    format!(
        "hierarchy -top {top}; write_rtlil {top}.elab.il; design -reset; read_rtlil {top}.elab.il; \
         synth_ecp5 -top {top}; tee -q -o {top}.stat.json stat -json{extra}"
    )
}

/// Run a fixed synthesis `script` (which must write `<top>.stat.json`) with the Yosys
/// executable `yosys` over `files` inside `work_dir` and collect the report. `top`
/// must be a Verilog identifier.
pub(crate) fn yosys_script(
    yosys: &Path,
    files: &[PathBuf],
    top: &str,
    script: &str,
    work_dir: &Path,
) -> Result<(ToolReport, SynthReport), ToolMissing> {
    if !is_identifier(top) {
        return Err(ToolMissing {
            message: format!("top module name `{top}` is not a Verilog identifier"),
        });
    }
    std::fs::create_dir_all(work_dir).map_err(|e| ToolMissing {
        message: format!("cannot create {}: {e}", work_dir.display()),
    })?;
    let stat = work_dir.join(format!("{top}.stat.json"));
    let log = work_dir.join(format!("{top}.yosys.log"));
    // Files inside `work_dir` are passed relative to it (the WebAssembly builds of
    // Yosys see only the working directory), the others absolute.
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let work_abs = abs(work_dir);
    let files: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            let a = abs(f);
            a.strip_prefix(&work_abs)
                .map(Path::to_path_buf)
                .unwrap_or(a)
        })
        .collect();
    let tool = yosys.to_string_lossy().into_owned();
    let out = run(
        Command::new(yosys)
            .current_dir(work_dir)
            .args(["-q", "-l"])
            .arg(format!("{top}.yosys.log"))
            .args(["-p", script])
            .args(&files),
        &tool,
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
                        "CARRY4" | "CARRY8" | "CCU2C" => rep.carry += n,
                        "TRELLIS_FF" => rep.ffs += n,
                        "MULT18X18D" => rep.dsps += n,
                        // One DP16KD (18 Kbit) counts as one BRAM18.
                        "DP16KD" => rep.bram18 += n,
                        "TRELLIS_DPR16X4" => rep.lutram += n,
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
