//! `accgen sim layernorm`: LayerNorm of every row of X (rows along the last axis, one
//! channel per position) with per-channel gamma and beta from .npy files.

use std::path::Path;

use accgen_sim::npy::{self, Dtype, NpyArray};
use anyhow::{bail, Context, Result};
use serde_json::json;

use super::sim::{build_model, SimArgs};
use super::stream::{check_range, finish, out_dtype, read_tensor, run_stats};

/// A 1-D signed integer parameter vector of `len` entries within signed `bits`;
/// `what` names it (`GAMMA`, `BETA`) and `field` the config field setting `bits`.
fn read_param(path: &Path, what: &str, len: usize, bits: u32, field: &str) -> Result<Vec<i64>> {
    let a = npy::read(path).with_context(|| format!("reading {what}"))?;
    if !matches!(a.dtype, Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64) {
        bail!(
            "{what} ({}) has dtype {}; expected a signed integer array (int8, int16, int32 or int64)",
            path.display(),
            a.dtype.name()
        );
    }
    if a.shape != [len] {
        bail!(
            "{what} ({}) has shape {:?}; expected [{len}] (one entry per channel: the last axis of X)",
            path.display(),
            a.shape
        );
    }
    let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
    if let Some(i) = a.data.iter().position(|&v| v < lo || v > hi) {
        bail!(
            "{what}[{i}] = {} is outside the signed {bits}-bit range {lo}..={hi} ({field} = {bits})",
            a.data[i]
        );
    }
    Ok(a.data)
}

/// `accgen sim layernorm`.
pub fn layernorm(args: &SimArgs, x_path: &Path, gamma: &Path, beta: &Path) -> Result<()> {
    let cfg = super::generate::load_config(&args.config)?;
    let ln = cfg.layernorm.clone().with_context(|| {
        format!(
            "config {} has no [layernorm] section",
            args.config.display()
        )
    })?;
    let x = read_tensor(x_path)?;
    check_range(&x, ln.in_bits, "layernorm.in_bits")?;
    let len = *x.shape.last().expect("non-empty shape");
    if len == 0 || len > ln.max_len as usize {
        bail!(
            "X has shape {:?}: rows (the last axis) have {len} elements, but layernorm.max_len = {} (rows need 1..={})",
            x.shape,
            ln.max_len,
            ln.max_len
        );
    }
    let g = read_param(gamma, "GAMMA", len, ln.gamma_bits, "layernorm.gamma_bits")?;
    let b = read_param(beta, "BETA", len, ln.beta_bits, "layernorm.beta_bits")?;
    args.check_outputs()?;
    let rows: Vec<Vec<i64>> = x.data.chunks(len).map(<[i64]>::to_vec).collect();
    let mut lib = accgen_hw::rtl::Library::new();
    let top = accgen_hw::layernorm::layernorm(&mut lib, &ln)?;
    let (model, build_s) = build_model(&top, args.vcd.as_deref(), args.inject_fault)?;
    let mut dut = args.instantiate(&model)?;
    eprintln!(
        "streaming {} rows of {len} through {} lane(s) ...",
        rows.len(),
        ln.lanes
    );
    let run = accgen_sim::layernorm::run_rows(&mut dut, &ln, &rows, &g, &b, &args.traffic())?;
    let v = &run.verdict;
    let stats = run_stats(
        args,
        "layernorm",
        ln.lanes,
        &run.timing,
        run.elements,
        run.elements_per_cycle,
        v,
        build_s,
        json!({ "rows": rows.len() }),
    );
    let arr = NpyArray {
        dtype: out_dtype(ln.out_bits, true),
        shape: x.shape.clone(),
        data: run.outputs.concat(),
    };
    finish(args, &stats, v, arr)
}
