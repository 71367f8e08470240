//! `accgen sim requant`, `sim gelu` and `sim softmax`: stream a tensor through a unit
//! and compare with golden. The channel is the last axis; elements stream in row-major order, element i
//! on lane i % lanes.

use std::path::Path;

use accgen_golden::requant::PerChannel;
use accgen_sim::npy::{self, Dtype, NpyArray};
use accgen_sim::stream::{run_lanes, LaneFormat};
use anyhow::{bail, Context, Result};
use serde_json::json;

use super::sim::{build_model, SimArgs};

/// Read a signed integer tensor of at least one dimension.
pub fn read_tensor(path: &Path) -> Result<NpyArray> {
    let x = npy::read(path).context("reading X")?;
    if !matches!(x.dtype, Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64) {
        bail!(
            "X ({}) has dtype {}; expected a signed integer array (int8, int16, int32 or int64)",
            path.display(),
            x.dtype.name()
        );
    }
    if x.shape.is_empty() || x.data.is_empty() {
        bail!(
            "X ({}) has shape {:?}; expected at least one element in at least one dimension",
            path.display(),
            x.shape
        );
    }
    Ok(x)
}

/// The element at flat index `i` as `X[a, b, c]`.
pub fn index_of(shape: &[usize], mut i: usize) -> String {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    format!(
        "X[{}]",
        idx.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Check every element against a signed `bits` range; the message names the element.
pub fn check_range(x: &NpyArray, bits: u32, field: &str) -> Result<()> {
    let (lo, hi) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
    if let Some(i) = x
        .data
        .iter()
        .position(|&v| (v as i128) < lo || (v as i128) > hi)
    {
        bail!(
            "{} = {} is outside the signed {bits}-bit range {lo}..={hi} ({field} = {bits})",
            index_of(&x.shape, i),
            x.data[i]
        );
    }
    Ok(())
}

/// Output dtype for `out_bits` and signedness: 8-bit when it fits, else 16-bit.
pub fn out_dtype(out_bits: u32, signed: bool) -> Dtype {
    match (out_bits <= 8, signed) {
        (true, true) => Dtype::I8,
        (true, false) => Dtype::U8,
        (false, true) => Dtype::I16,
        (false, false) => Dtype::U16,
    }
}

/// `accgen sim requant`.
pub fn requant(args: &SimArgs, x_path: &Path) -> Result<()> {
    let cfg = super::generate::load_config(&args.config)?;
    let rq = cfg
        .requant
        .clone()
        .with_context(|| format!("config {} has no [requant] section", args.config.display()))?;
    let x = read_tensor(x_path)?;
    check_range(&x, rq.in_bits, "requant.in_bits")?;
    let per_channel = matches!(rq.shift, PerChannel::Channel(_))
        || matches!(rq.bias, Some(PerChannel::Channel(_)));
    let channels = *x.shape.last().expect("non-empty shape");
    if per_channel && channels != rq.lanes as usize {
        bail!(
            "X has shape {:?}: its last axis (channels) has {channels} entries, but [requant] has per-channel shift or bias for lanes = {}",
            x.shape,
            rq.lanes
        );
    }
    args.check_outputs()?;
    let mut lib = accgen_hw::rtl::Library::new();
    let top = accgen_hw::requant::requant(&mut lib, &rq)?;
    let golden = |lane: usize, v: i64| accgen_golden::requant::requant(&rq, lane, v);
    let fmt = (
        LaneFormat {
            bits: rq.in_bits,
            signed: true,
        },
        LaneFormat {
            bits: rq.out_bits,
            signed: rq.out_signed,
        },
    );
    let dtype = out_dtype(rq.out_bits, rq.out_signed);
    stream_and_report(args, "requant", &top, rq.lanes, fmt, &x, &golden, dtype)
}

/// `accgen sim gelu`.
pub fn gelu(args: &SimArgs, x_path: &Path) -> Result<()> {
    let cfg = super::generate::load_config(&args.config)?;
    let g = cfg
        .gelu
        .clone()
        .with_context(|| format!("config {} has no [gelu] section", args.config.display()))?;
    let x = read_tensor(x_path)?;
    check_range(&x, g.in_bits, "gelu.in_bits")?;
    args.check_outputs()?;
    let unit = accgen_golden::gelu::GeluUnit::new(&g);
    let mut lib = accgen_hw::rtl::Library::new();
    let top = accgen_hw::gelu::gelu(&mut lib, &g)?;
    let fmt = (
        LaneFormat {
            bits: g.in_bits,
            signed: true,
        },
        LaneFormat {
            bits: g.out_bits,
            signed: true,
        },
    );
    let golden = |_: usize, v: i64| unit.eval(v);
    let dtype = out_dtype(g.out_bits, true);
    stream_and_report(args, "gelu", &top, g.lanes, fmt, &x, &golden, dtype)
}

/// Build the model, stream `x`, print and write statistics, and write Y only when the
/// verdict passed.
#[allow(clippy::too_many_arguments)]
fn stream_and_report(
    args: &SimArgs,
    unit: &str,
    top: &std::rc::Rc<accgen_hw::rtl::Module>,
    lanes: u32,
    fmt: (LaneFormat, LaneFormat),
    x: &NpyArray,
    golden: &dyn Fn(usize, i64) -> i64,
    dtype: Dtype,
) -> Result<()> {
    let (model, build_s) = build_model(top, args.vcd.as_deref(), args.inject_fault)?;
    let mut dut = args.instantiate(&model)?;
    eprintln!(
        "streaming {} elements through {lanes} lanes ...",
        x.data.len()
    );
    let shape = x.shape.clone();
    let run = run_lanes(
        &mut dut,
        lanes as usize,
        fmt.0,
        fmt.1,
        &x.data,
        golden,
        &|i| index_of(&shape, i),
        &args.traffic(),
        256,
    )?;
    let v = &run.verdict;
    let stats = run_stats(
        args,
        unit,
        lanes,
        &run.timing,
        run.elements,
        run.elements_per_cycle,
        v,
        build_s,
        json!({}),
    );
    let arr = NpyArray {
        dtype,
        shape: x.shape.clone(),
        data: run.outputs,
    };
    finish(args, &stats, v, arr)
}

/// Print a stream run's one-line summary and build its `--json` statistics (the keys
/// of `extra` added).
#[allow(clippy::too_many_arguments)]
pub fn run_stats(
    args: &SimArgs,
    unit: &str,
    lanes: u32,
    timing: &accgen_sim::axis::Timing,
    elements: u64,
    elements_per_cycle: f64,
    verdict: &accgen_sim::Verdict,
    build_s: f64,
    extra: serde_json::Value,
) -> serde_json::Value {
    println!(
        "cycles {}  elements {elements}  elements/cycle {elements_per_cycle:.3}  input stalls {}  bit_exact {}",
        timing.cycles,
        timing.input_stalls,
        verdict.passed()
    );
    let mut stats = json!({
        "unit": unit,
        "lanes": lanes,
        "cycles": timing.cycles,
        "elements": elements,
        "elements_per_cycle": elements_per_cycle,
        "input_stalls": timing.input_stalls,
        "bit_exact": verdict.passed(),
        "verdict": verdict,
        "sim_cycles_per_s": timing.sim_cycles_per_s,
        "verilator_build_s": build_s,
        "traffic": args.traffic_stats(),
    });
    if let (Some(o), serde_json::Value::Object(e)) = (stats.as_object_mut(), extra) {
        o.extend(e);
    }
    stats
}

/// Write the statistics, fail on a failed verdict, and only then write the output.
pub fn finish(
    args: &SimArgs,
    stats: &serde_json::Value,
    verdict: &accgen_sim::Verdict,
    out: NpyArray,
) -> Result<()> {
    if let Some(j) = &args.json {
        super::sim::write_stats(j, stats)?;
    }
    if !verdict.passed() {
        bail!("{verdict}");
    }
    if let Some(path) = &args.out {
        npy::write(path, &out)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `accgen sim softmax`: rows along the last axis.
pub fn softmax(args: &SimArgs, x_path: &Path) -> Result<()> {
    let cfg = super::generate::load_config(&args.config)?;
    let sm = cfg
        .softmax
        .clone()
        .with_context(|| format!("config {} has no [softmax] section", args.config.display()))?;
    let x = read_tensor(x_path)?;
    check_range(&x, sm.in_bits, "softmax.in_bits")?;
    let len = *x.shape.last().expect("non-empty shape");
    if len == 0 || len > sm.max_len as usize {
        bail!(
            "X has shape {:?}: rows (the last axis) have {len} elements, but softmax.max_len = {} (rows need 1..={})",
            x.shape,
            sm.max_len,
            sm.max_len
        );
    }
    args.check_outputs()?;
    let unit = accgen_golden::softmax::SoftmaxUnit::new(&sm);
    let rows: Vec<Vec<i64>> = x.data.chunks(len).map(<[i64]>::to_vec).collect();
    let mut lib = accgen_hw::rtl::Library::new();
    let top = accgen_hw::softmax::softmax(&mut lib, &sm)?;
    let (model, build_s) = build_model(&top, args.vcd.as_deref(), args.inject_fault)?;
    let mut dut = args.instantiate(&model)?;
    eprintln!(
        "streaming {} rows of {len} through {} lane(s) ...",
        rows.len(),
        sm.lanes
    );
    let run = accgen_sim::softmax::run_rows(
        &mut dut,
        sm.lanes as usize,
        accgen_sim::softmax::formats(&sm).0,
        accgen_sim::softmax::formats(&sm).1,
        &rows,
        &|r| unit.row(r).expect("rows are checked above"),
        &args.traffic(),
    )?;
    let v = &run.verdict;
    let stats = run_stats(
        args,
        "softmax",
        sm.lanes,
        &run.timing,
        run.elements,
        run.elements_per_cycle,
        v,
        build_s,
        json!({ "rows": rows.len() }),
    );
    let arr = NpyArray {
        dtype: out_dtype(sm.out_bits, false),
        shape: x.shape.clone(),
        data: run.outputs.concat(),
    };
    finish(args, &stats, v, arr)
}
