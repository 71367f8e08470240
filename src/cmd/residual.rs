//! `accgen sim residual`: `Y = A + B` element-wise on the `[residual]` unit, A and B
//! with their own power-of-two scales; element i streams on lane i % lanes.

use std::path::Path;

use accgen_sim::npy::{self, Dtype, NpyArray};
use anyhow::{bail, Context, Result};
use serde_json::json;

use super::sim::{build_model, SimArgs};
use super::stream::{finish, index_of, out_dtype, run_stats};

/// A signed integer tensor named `what` whose elements fit signed `bits` (`field`).
fn read_operand(path: &Path, what: &str, bits: u32, field: &str) -> Result<NpyArray> {
    let x = npy::read(path).with_context(|| format!("reading {what}"))?;
    if !matches!(x.dtype, Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64) {
        bail!(
            "{what} ({}) has dtype {}; expected a signed integer array (int8, int16, int32 or int64)",
            path.display(),
            x.dtype.name()
        );
    }
    if x.shape.is_empty() || x.data.is_empty() {
        bail!(
            "{what} ({}) has shape {:?}; expected at least one element",
            path.display(),
            x.shape
        );
    }
    let (lo, hi) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
    if let Some(i) = x
        .data
        .iter()
        .position(|&v| (v as i128) < lo || (v as i128) > hi)
    {
        bail!(
            "{what}{} = {} is outside the signed {bits}-bit range {lo}..={hi} ({field} = {bits})",
            index_of(&x.shape, i).trim_start_matches('X'),
            x.data[i]
        );
    }
    Ok(x)
}

/// `accgen sim residual`.
pub fn residual(args: &SimArgs, a_path: &Path, b_path: &Path) -> Result<()> {
    let cfg = super::generate::load_config(&args.config)?;
    let rc = cfg
        .residual
        .clone()
        .with_context(|| format!("config {} has no [residual] section", args.config.display()))?;
    let a = read_operand(a_path, "A", rc.a_bits, "residual.a_bits")?;
    let b = read_operand(b_path, "B", rc.b_bits, "residual.b_bits")?;
    if a.shape != b.shape {
        bail!(
            "A has shape {:?} and B has shape {:?}; they must have one shape",
            a.shape,
            b.shape
        );
    }
    args.check_outputs()?;
    let mut lib = accgen_hw::rtl::Library::new();
    let top = accgen_hw::residual::residual(&mut lib, &rc)?;
    let (model, build_s) = build_model(&top, args.vcd.as_deref(), args.inject_fault)?;
    let mut dut = args.instantiate(&model)?;
    eprintln!(
        "streaming {} pairs through {} lane(s) ...",
        a.data.len(),
        rc.lanes
    );
    let shape = a.shape.clone();
    let run = accgen_sim::residual::run_pairs(
        &mut dut,
        &rc,
        &a.data,
        &b.data,
        &|i| index_of(&shape, i).replacen('X', "A,B", 1),
        &args.traffic(),
    )?;
    let v = &run.verdict;
    let stats = run_stats(
        args,
        "residual",
        rc.lanes,
        &run.timing,
        run.elements,
        run.elements_per_cycle,
        v,
        build_s,
        json!({}),
    );
    let arr = NpyArray {
        dtype: if rc.out_bits <= 16 {
            out_dtype(rc.out_bits, true)
        } else {
            Dtype::I32
        },
        shape: a.shape.clone(),
        data: run.outputs,
    };
    finish(args, &stats, v, arr)
}
