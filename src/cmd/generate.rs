//! `accgen generate`: Verilog files, `filelist.f` and `manifest.json`.
//!
//! The output directory is claimed first (see [`crate::outdir`]): a new, empty or
//! earlier accgen directory is accepted, anything else is refused before any work.
//! Every file is written atomically, and the manifest is written last.

use std::path::{Path, PathBuf};

use accgen_golden::config::Config;
use anyhow::{Context, Result};
use serde_json::{json, Map};

use accgen_hw::vendor::Vendor;

use crate::outdir::OutputDir;

/// What `generate` produced.
pub struct Generated {
    /// Top module names, in config order.
    pub tops: Vec<String>,
    /// Paths of the Verilog files, sorted by module name.
    pub files: Vec<PathBuf>,
    /// The generated design.
    pub design: accgen_hw::rtl::Design,
    /// Simulation models of the vendor cells the design instantiates (for Verilator
    /// and Icarus; synthesis reads `files` only).
    pub sim_models: Vec<PathBuf>,
    /// The target vendor.
    pub vendor: Vendor,
}

/// Load and validate a config, with the path in the error.
pub fn load_config(path: &Path) -> Result<Config> {
    Config::load(path).map_err(|e| match e {
        // The read error names the path already.
        accgen_golden::config::ConfigError::Io { .. } => anyhow::Error::new(e),
        other => anyhow::Error::new(other).context(format!("config {}", path.display())),
    })
}

/// Generate into `out` (see module docs).
pub fn run(config: &Path, out: &Path, vendor: Vendor) -> Result<Generated> {
    let cfg = load_config(config)?;
    let mut dir = OutputDir::claim(out)?;
    let g = write_design(&cfg, vendor, &mut dir)?;
    dir.finish(manifest_fields(&cfg, &g)?)?;
    eprintln!(
        "generated {} top module(s) ({}) into {}",
        g.tops.len(),
        g.tops.join(", "),
        out.display()
    );
    Ok(g)
}

/// Emit `cfg`'s Verilog and `filelist.f` into `dir` (the manifest is the caller's
/// [`OutputDir::finish`], with [`manifest_fields`]).
pub fn write_design(cfg: &Config, vendor: Vendor, dir: &mut OutputDir) -> Result<Generated> {
    let design = accgen_hw::generate_for(cfg, vendor)?;
    let mut files = design.files()?;
    // The accelerator's HLS-shaped wrapper (ap_clk, ap_rst_n, interrupt) is text.
    if cfg.accel.is_some() {
        let name = accgen_hw::accel::top::top_name(cfg);
        if let Some(core) = design.tops().iter().find(|m| m.name() == name) {
            files.push(accgen_hw::accel::hls::hls_wrapper(core));
        }
    }
    let mut paths = Vec::with_capacity(files.len());
    for f in &files {
        paths.push(dir.write(&f.file_name, f.text.as_bytes())?);
    }
    let list: String = files.iter().map(|f| format!("{}\n", f.file_name)).collect();
    dir.write("filelist.f", list.as_bytes())?;
    // Simulation models of vendor cells: for simulators only, never for synthesis.
    let mut sim_models = Vec::new();
    for cell in design.primitive_cells()? {
        let model = accgen_hw::vendor::sim_model(&cell)
            .with_context(|| format!("no simulation model for vendor cell {cell}"))?;
        sim_models.push(dir.write(
            &format!("sim_models/{}", model.file_name),
            model.text.as_bytes(),
        )?);
    }
    if !sim_models.is_empty() {
        let list: String = files
            .iter()
            .map(|f| f.file_name.clone())
            .chain(
                design
                    .primitive_cells()?
                    .iter()
                    .map(|c| format!("sim_models/{c}.v")),
            )
            .map(|n| format!("{n}\n"))
            .collect();
        dir.write("sim_filelist.f", list.as_bytes())?;
    }
    Ok(Generated {
        sim_models,
        vendor,
        tops: design.tops().iter().map(|m| m.name().to_string()).collect(),
        files: paths,
        design,
    })
}

/// Manifest fields describing the design: config hash, tops and their ports.
pub fn manifest_fields(cfg: &Config, g: &Generated) -> Result<Map<String, serde_json::Value>> {
    let tops: Vec<serde_json::Value> = g
        .design
        .tops()
        .iter()
        .map(|m| {
            json!({
                "name": m.name(),
                "clock": if m.has_clock() { Some("clk") } else { None },
                "reset": if m.has_reset() { Some("rst") } else { None },
                "ports": m.ports(),
                "interfaces": m.interfaces(),
            })
        })
        .collect();
    let mut m = Map::new();
    m.insert("config_hash".into(), json!(cfg.hash()));
    m.insert("vendor".into(), json!(g.vendor.as_str()));
    m.insert("tops".into(), json!(g.tops));
    m.insert("ports".into(), json!(tops));
    if cfg.accel.is_some() {
        // The HLS-shaped wrapper of the accelerator top (ap_clk, ap_rst_n, interrupt).
        m.insert(
            "hls_top".into(),
            json!(format!("{}_hls", accgen_hw::accel::top::top_name(cfg))),
        );
    }
    m.insert(
        "verilog".into(),
        json!(g
            .files
            .iter()
            .map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect::<Option<Vec<_>>>()
            .context("generated file without a name")?),
    );
    Ok(m)
}
