//! `accgen generate`: Verilog files, `filelist.f` and `manifest.json`.
//!
//! Everything is written into a temporary sibling directory first and renamed into
//! place at the end, so an interrupted or failed run leaves nothing partial behind.

use std::path::{Path, PathBuf};

use accgen_golden::config::Config;
use accgen_hw::files::write_atomic;
use anyhow::{bail, Context, Result};
use serde_json::json;

/// What `generate` produced.
pub struct Generated {
    /// Top module names, in config order.
    pub tops: Vec<String>,
    /// Paths of the Verilog files, dependencies sorted by name.
    pub files: Vec<PathBuf>,
}

/// Load and validate a config, with the path in the error.
pub fn load_config(path: &Path) -> Result<Config> {
    Ok(Config::load(path)?)
}

/// Generate into `out` (see module docs).
pub fn run(config: &Path, out: &Path) -> Result<Generated> {
    let cfg = load_config(config)?;
    let g = write_design(&cfg, out)?;
    eprintln!(
        "generated {} top module(s) ({}) into {}",
        g.tops.len(),
        g.tops.join(", "),
        out.display()
    );
    Ok(g)
}

/// Emit `cfg` into `out` atomically.
pub fn write_design(cfg: &Config, out: &Path) -> Result<Generated> {
    let design = accgen_hw::generate(cfg)?;
    let files = design.files()?;
    if out.exists() {
        let is_ours = out.join("manifest.json").is_file();
        let is_empty = std::fs::read_dir(out)
            .with_context(|| format!("cannot read output directory {}", out.display()))?
            .next()
            .is_none();
        if !is_ours && !is_empty {
            bail!(
                "output directory {} exists and is not an earlier accgen output (no manifest.json); refusing to overwrite it",
                out.display()
            );
        }
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = out
        .file_name()
        .context("--out must name a directory")?
        .to_string_lossy()
        .into_owned();
    let tmp = parent.join(format!(".{name}.accgen-tmp-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        for f in &files {
            write_atomic(&tmp.join(&f.file_name), f.text.as_bytes())?;
        }
        let list: String = files.iter().map(|f| format!("{}\n", f.file_name)).collect();
        write_atomic(&tmp.join("filelist.f"), list.as_bytes())?;
        let tops: Vec<serde_json::Value> = design
            .tops()
            .iter()
            .map(|m| {
                json!({
                    "name": m.name(),
                    "clock": if m.has_clock() { Some("clk") } else { None },
                    "reset": if m.has_reset() { Some("rst") } else { None },
                    "ports": m.ports(),
                })
            })
            .collect();
        let manifest = json!({
            "generator": format!("accgen {}", env!("CARGO_PKG_VERSION")),
            "config_hash": cfg.hash(),
            "tops": design.tops().iter().map(|m| m.name()).collect::<Vec<_>>(),
            "files": files.iter().map(|f| &f.file_name).collect::<Vec<_>>(),
            "ports": tops,
        });
        write_atomic(
            &tmp.join("manifest.json"),
            (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes(),
        )?;
        if out.exists() {
            std::fs::remove_dir_all(out)
                .with_context(|| format!("cannot replace {}", out.display()))?;
        }
        std::fs::rename(&tmp, out)
            .with_context(|| format!("cannot move output into {}", out.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result?;
    Ok(Generated {
        tops: design.tops().iter().map(|m| m.name().to_string()).collect(),
        files: files.iter().map(|f| out.join(&f.file_name)).collect(),
    })
}
