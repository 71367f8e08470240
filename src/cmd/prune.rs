//! `accgen prune`: magnitude-prune B to the config's N:M pattern.

use std::path::Path;

use accgen_golden::gemm::Matrix;
use accgen_golden::nm_sparse::{check, compress, prune, SparsityConfig};
use accgen_sim::npy::{self, Dtype, NpyArray};
use anyhow::{Context, Result};

/// The `[sparsity]` section, or an error naming the file.
pub fn sparsity_section(
    cfg: &accgen_golden::config::Config,
    path: &Path,
) -> Result<SparsityConfig> {
    cfg.sparsity.with_context(|| {
        format!(
            "config {} has no [sparsity] section (n and m of the N:M pattern)",
            path.display()
        )
    })
}

/// Smallest unsigned dtype holding `bits` bits.
fn meta_dtype(bits: u32) -> Dtype {
    match bits {
        0..=8 => Dtype::U8,
        9..=16 => Dtype::U16,
        17..=32 => Dtype::U32,
        _ => Dtype::U64,
    }
}

/// Prune `b_path` into `out` (same dtype) and optionally write packed metadata.
pub fn run(
    config: &Path,
    b_path: &Path,
    out: &Path,
    meta: Option<&Path>,
    force: bool,
) -> Result<()> {
    let cfg = super::generate::load_config(config)?;
    let sp = sparsity_section(&cfg, config)?;
    let bits = cfg.array.as_ref().map_or(16, |a| a.weight_bits);
    let arr = npy::read(b_path).context("reading B")?;
    let b = super::sim::matrix_of(&arr, b_path, "B", bits, "weight_bits")?;
    if b.rows == 0 || b.cols == 0 {
        anyhow::bail!(
            "B ({}) has shape [{}, {}]; K (rows) and N (columns) must each be at least 1",
            b_path.display(),
            b.rows,
            b.cols
        );
    }
    if let Some((r, c, v)) = b.first_out_of_range(bits) {
        let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
        anyhow::bail!(
            "B[{r}, {c}] = {v} is outside the signed {bits}-bit range {lo}..={hi} (weight_bits = {bits})"
        );
    }
    super::paths::check_outputs(&[("--out", Some(out)), ("--meta", meta)], force)?;
    let dtype = arr.dtype;
    let pruned = prune(&b, sp);
    check(&pruned, sp)
        .map_err(|v| anyhow::anyhow!("internal error: pruned B violates {}:{}: {v}", sp.n, sp.m))?;
    let nnz = |m: &Matrix| m.data.iter().filter(|&&v| v != 0).count();
    let c = compress(&pruned, sp).map_err(|v| anyhow::anyhow!("{v}"))?;
    let groups = c.groups();
    let meta_arr = NpyArray {
        dtype: meta_dtype(sp.meta_bits()),
        shape: vec![groups, b.cols],
        data: (0..groups)
            .flat_map(|g| (0..b.cols).map(move |col| (g, col)))
            .map(|(g, col)| c.meta(g, col) as i64)
            .collect(),
    };
    let out_arr = NpyArray {
        dtype,
        shape: vec![b.rows, b.cols],
        data: pruned.data.clone(),
    };
    if let Some(mp) = meta {
        npy::write(mp, &meta_arr)?;
    }
    if let Err(e) = npy::write(out, &out_arr) {
        if let Some(mp) = meta {
            let _ = std::fs::remove_file(mp);
        }
        return Err(e);
    }
    println!(
        "pruned B [{}, {}] to {}:{}: {} of {} nonzeros kept ({} groups per column); wrote {}{}",
        b.rows,
        b.cols,
        sp.n,
        sp.m,
        nnz(&pruned),
        nnz(&b),
        groups,
        out.display(),
        meta.map_or(String::new(), |m| format!(" and metadata {}", m.display()))
    );
    Ok(())
}
