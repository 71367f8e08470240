//! `accgen run`: run an accelerator program (or a generated GEMM program) on the
//! instruction-level golden model and, unless `--golden-only`, on the accelerator's
//! RTL in Verilator, comparing the DRAM images byte for byte; tensors are placed with
//! `--load` and read back with `--dump`.

use std::path::{Path, PathBuf};

use accgen_golden::asm::assemble;
use accgen_golden::config::Config;
use accgen_golden::gemm::{gemm, Matrix};
use accgen_golden::gemm_program::{gemm_program, GemmEpilogue};
use accgen_golden::isa::Program;
use accgen_golden::machine::{Machine, Outcome};
use accgen_golden::num::wrap_signed;
use accgen_golden::requant::{requant, PerChannel, RequantConfig};
use accgen_golden::rng::SplitMix64;
use accgen_sim::npy::{self, Dtype, NpyArray};
use anyhow::{bail, Context, Result};
use serde_json::json;

/// `--load NAME=FILE.npy@ADDR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadSpec {
    /// Name, for messages.
    pub name: String,
    /// The .npy file.
    pub path: PathBuf,
    /// DRAM byte address.
    pub addr: u64,
}

/// `--dump NAME@ADDR:SHAPE:DTYPE=OUT.npy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpSpec {
    /// Name, for messages.
    pub name: String,
    /// DRAM byte address.
    pub addr: u64,
    /// Shape, for example `[16, 16]`.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: Dtype,
    /// Output file.
    pub out: PathBuf,
}

fn parse_addr(text: &str, spec: &str) -> Result<u64, String> {
    let t = text.replace('_', "");
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    };
    v.ok_or_else(|| {
        format!("`{spec}`: address `{text}` is not a number (decimal or 0x hex, 0..=2^64-1)")
    })
}

fn valid_name(name: &str, spec: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "`{spec}`: the name `{name}` must be 1 or more letters, digits, `_` or `-`"
        ));
    }
    Ok(())
}

/// Parse `NAME=FILE.npy@ADDR`.
pub fn parse_load(spec: &str) -> Result<LoadSpec, String> {
    let (name, rest) = spec
        .split_once('=')
        .ok_or_else(|| format!("`{spec}` is not NAME=FILE.npy@ADDR"))?;
    let (file, addr) = rest
        .rsplit_once('@')
        .ok_or_else(|| format!("`{spec}` has no `@ADDR`; expected NAME=FILE.npy@ADDR"))?;
    valid_name(name, spec)?;
    if file.is_empty() {
        return Err(format!(
            "`{spec}` names no file; expected NAME=FILE.npy@ADDR"
        ));
    }
    Ok(LoadSpec {
        name: name.into(),
        path: file.into(),
        addr: parse_addr(addr, spec)?,
    })
}

fn parse_dtype(text: &str, spec: &str) -> Result<Dtype, String> {
    Ok(match text {
        "int8" | "i8" => Dtype::I8,
        "uint8" | "u8" => Dtype::U8,
        "int16" | "i16" => Dtype::I16,
        "uint16" | "u16" => Dtype::U16,
        "int32" | "i32" => Dtype::I32,
        "uint32" | "u32" => Dtype::U32,
        "int64" | "i64" => Dtype::I64,
        _ => {
            return Err(format!(
                "`{spec}`: dtype `{text}` is not one of int8, uint8, int16, uint16, int32, uint32, int64"
            ))
        }
    })
}

/// Parse `NAME@ADDR:SHAPE:DTYPE=OUT.npy` (SHAPE like `16x16`).
pub fn parse_dump(spec: &str) -> Result<DumpSpec, String> {
    let (left, out) = spec
        .split_once('=')
        .ok_or_else(|| format!("`{spec}` is not NAME@ADDR:SHAPE:DTYPE=OUT.npy"))?;
    let (name, rest) = left.split_once('@').ok_or_else(|| {
        format!("`{spec}` has no `@ADDR`; expected NAME@ADDR:SHAPE:DTYPE=OUT.npy")
    })?;
    valid_name(name, spec)?;
    let parts: Vec<&str> = rest.split(':').collect();
    let [addr, shape, dtype] = parts[..] else {
        return Err(format!(
            "`{spec}`: expected ADDR:SHAPE:DTYPE after `@` (for example 0x1000:16x16:int8)"
        ));
    };
    let shape: Vec<usize> = shape
        .split('x')
        .map(|d| d.parse::<usize>().ok().filter(|&v| (1..=1 << 30).contains(&v)))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            format!("`{spec}`: shape `{shape}` must be dimensions in 1..=2^30 joined by `x` (for example 16x16)")
        })?;
    if out.is_empty() {
        return Err(format!("`{spec}` names no output file"));
    }
    Ok(DumpSpec {
        name: name.into(),
        addr: parse_addr(addr, spec)?,
        shape,
        dtype: parse_dtype(dtype, spec)?,
        out: out.into(),
    })
}

/// The options of `accgen run`.
pub struct RunArgs<'a> {
    /// Config with `[accel]`.
    pub config: &'a Path,
    /// A program (`.bin` binary, anything else text).
    pub program: Option<&'a Path>,
    /// A model directory to compile and run.
    pub model: Option<&'a Path>,
    /// The model input.
    pub input: Option<&'a Path>,
    /// `M,K,N` of a generated GEMM program.
    pub gemm: Option<&'a str>,
    /// Epilogue of the generated GEMM program.
    pub epilogue: GemmEpilogue,
    /// A and B for the generated GEMM (random when absent).
    pub a: Option<&'a Path>,
    /// See `a`.
    pub b: Option<&'a Path>,
    /// C of the generated GEMM.
    pub out: Option<&'a Path>,
    /// Tensors to place in DRAM.
    pub loads: &'a [String],
    /// Tensors to read back.
    pub dumps: &'a [String],
    /// Program address (default: after every tensor, 4 KiB aligned).
    pub prog_addr: Option<u64>,
    /// Statistics JSON.
    pub json: Option<&'a Path>,
    /// Replace existing output files.
    pub force: bool,
    /// Run the golden model alone.
    pub golden_only: bool,
    /// VCD waveform of the RTL run.
    pub vcd: Option<&'a Path>,
    /// Memory read latency of the RTL run, in cycles.
    pub mem_latency: u64,
    /// Stall probability on every bus channel of the RTL run.
    pub stall: f64,
    /// Seed of the RTL run's stalls and initial state.
    pub seed: u64,
}

fn put(dram: &mut [u8], at: u64, eb: u64, i: u64, v: i64) {
    for b in 0..eb {
        dram[(at + i * eb + b) as usize] = (v >> (8 * b)) as u8;
    }
}

fn get(dram: &[u8], at: u64, dtype: Dtype, i: u64) -> i64 {
    let eb = dtype.size() as u64;
    let mut v: u64 = 0;
    for b in 0..eb {
        v |= (dram[(at + i * eb + b) as usize] as u64) << (8 * b);
    }
    let bits = 8 * eb as u32;
    match dtype {
        Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64 => wrap_signed(v as i128, bits) as i64,
        _ if bits == 64 => v as i64,
        _ => (v & ((1u64 << bits) - 1)) as i64,
    }
}

fn read_program(path: &Path) -> Result<Program> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "bin") {
        Program::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    } else {
        let text = String::from_utf8(bytes).map_err(|_| {
            anyhow::anyhow!(
                "{} is not UTF-8 text (binaries must end in .bin)",
                path.display()
            )
        })?;
        assemble(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

fn stats_json(out: &Outcome, extra: serde_json::Value) -> serde_json::Value {
    let mut j = json!({
        "engine": "golden",
        "instructions": out.stats.instructions,
        "macs": out.stats.macs,
        "dram_bytes_read": out.stats.dram_bytes_read,
        "dram_bytes_written": out.stats.dram_bytes_written,
        "fetch_bytes": out.stats.fetch_bytes,
        "error_code": out.fault.as_ref().map_or(0, |f| f.code as u32),
        "error": out.fault.as_ref().map(|f| f.to_string()),
    });
    if let (Some(o), serde_json::Value::Object(e)) = (j.as_object_mut(), extra) {
        o.extend(e);
    }
    j
}

/// `accgen run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let cfg = super::generate::load_config(args.config)?;
    accgen_golden::accel::Geometry::of(&cfg)
        .with_context(|| format!("config {}", args.config.display()))?;
    let loads: Vec<LoadSpec> = args
        .loads
        .iter()
        .map(|s| parse_load(s).map_err(|e| anyhow::anyhow!("--load {e}")))
        .collect::<Result<_>>()?;
    let dumps: Vec<DumpSpec> = args
        .dumps
        .iter()
        .map(|s| parse_dump(s).map_err(|e| anyhow::anyhow!("--dump {e}")))
        .collect::<Result<_>>()?;
    if args.golden_only && args.vcd.is_some() {
        bail!("--vcd records the RTL run; it cannot go with --golden-only");
    }
    let mut outs: Vec<(&str, Option<&Path>)> = vec![
        ("--json", args.json),
        ("--out", args.out),
        ("--vcd", args.vcd),
    ];
    for d in &dumps {
        outs.push(("--dump", Some(d.out.as_path())));
    }
    super::paths::check_outputs(&outs, args.force)?;
    if args.out.is_some() && args.gemm.is_none() && args.model.is_none() {
        bail!("--out writes the result of --gemm or --model; with --program use --dump");
    }
    match (args.program, args.gemm, args.model) {
        (Some(p), None, None) => run_program(args, &cfg, p, &loads, &dumps),
        (None, Some(g), None) => {
            if !loads.is_empty() || !dumps.is_empty() {
                bail!("--gemm places its own tensors; --load and --dump go with --program");
            }
            run_gemm(args, &cfg, g)
        }
        (None, None, Some(m)) => {
            if !loads.is_empty() || !dumps.is_empty() {
                bail!("--model places its own tensors; --load and --dump go with --program");
            }
            super::model::run_model(args, &cfg, m)
        }
        _ => bail!("give exactly one of --program PROG, --gemm M,K,N and --model DIR"),
    }
}

fn run_program(
    args: &RunArgs,
    cfg: &Config,
    path: &Path,
    loads: &[LoadSpec],
    dumps: &[DumpSpec],
) -> Result<()> {
    let prog = read_program(path)?;
    prog.check(cfg)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut placed: Vec<(String, u64, u64, NpyArray)> = Vec::new();
    for l in loads {
        let a = npy::read(&l.path)?;
        let len = (a.data.len() * a.dtype.size()) as u64;
        let end = l
            .addr
            .checked_add(len)
            .with_context(|| format!("--load {}: {:#x} + {len} bytes overflows", l.name, l.addr))?;
        if let Some((n, s, e, _)) = placed.iter().find(|(_, s, e, _)| l.addr < *e && *s < end) {
            bail!(
                "--load {} ({:#x}..{end:#x}) overlaps --load {n} ({s:#x}..{e:#x})",
                l.name,
                l.addr
            );
        }
        placed.push((l.name.clone(), l.addr, end, a));
    }
    let data_end = placed
        .iter()
        .map(|p| p.2)
        .chain(dumps.iter().map(|d| {
            d.addr
                .saturating_add((d.shape.iter().product::<usize>() * d.dtype.size()) as u64)
        }))
        .max()
        .unwrap_or(0);
    let prog_bytes = prog.to_bytes();
    let prog_at = args.prog_addr.unwrap_or(data_end.div_ceil(4096) * 4096);
    let prog_end = prog_at + prog_bytes.len() as u64;
    if let Some((n, s, e, _)) = placed
        .iter()
        .find(|(_, s, e, _)| prog_at < *e && *s < prog_end)
    {
        bail!("the program ({prog_at:#x}..{prog_end:#x}) overlaps --load {n} ({s:#x}..{e:#x})");
    }
    let size = data_end.max(prog_end);
    const MAX_DRAM: u64 = 4 << 30;
    if size > MAX_DRAM {
        bail!("the DRAM image would be {size} bytes; tensors and the program must lie below 4 GiB");
    }
    let mut dram = vec![0u8; size as usize];
    for (_, at, _, a) in &placed {
        for (i, v) in a.data.iter().enumerate() {
            put(&mut dram, *at, a.dtype.size() as u64, i as u64, *v);
        }
    }
    dram[prog_at as usize..prog_end as usize].copy_from_slice(&prog_bytes);
    let mut m = Machine::new(cfg, dram.clone(), 0)?;
    let out = m.run(prog_at, prog.instrs.len() as u64);
    print_stats(&out);
    let uninit: Vec<String> = out
        .uninit_reads
        .iter()
        .map(|u| {
            format!(
                "instruction {} reads {} row {}, which nothing wrote",
                u.index, u.memory, u.row
            )
        })
        .collect();
    for u in &uninit {
        eprintln!("warning: {u} (its result depends on the memory's power-on contents)");
    }
    let mut extra = json!({ "program_address": prog_at, "uninit_reads": uninit });
    if !args.golden_only && !uninit.is_empty() {
        bail!(
            "{}; the hardware's memories start with arbitrary contents, so its result cannot be compared with the golden model's (load the rows first, or pass --golden-only)",
            uninit[0]
        );
    }
    let mut mismatch: Option<String> = None;
    if !args.golden_only {
        let (mm, rtl) = compare_on_rtl(
            &timing_of(args),
            None,
            args.vcd,
            cfg,
            dram,
            prog_at,
            prog.instrs.len() as u32,
            &out,
            &m,
        )?;
        mismatch = mm;
        extra = json!({ "program_address": prog_at, "uninit_reads": uninit });
        merge(&mut extra, rtl);
    }
    let stats = stats_json(&out, extra);
    if let Some(j) = args.json {
        super::sim::write_stats(j, &stats)?;
    }
    if let Some(mm) = &mismatch {
        bail!("{mm}");
    }
    if let Some(f) = &out.fault {
        bail!("the program stopped with {f}");
    }
    if !args.golden_only {
        println!("the RTL's DRAM image equals the golden model's, byte for byte");
    }
    for d in dumps {
        let n: usize = d.shape.iter().product();
        let data = (0..n as u64)
            .map(|i| get(&m.dram, d.addr, d.dtype, i))
            .collect();
        npy::write(
            &d.out,
            &NpyArray {
                dtype: d.dtype,
                shape: d.shape.clone(),
                data,
            },
        )?;
        eprintln!("wrote {} ({})", d.out.display(), d.name);
    }
    Ok(())
}

pub(crate) fn timing_of(args: &RunArgs) -> accgen_sim::accel::AccelTiming {
    accgen_sim::accel::AccelTiming {
        mem_latency: args.mem_latency,
        stall: args.stall,
        seed: args.seed,
        timeout: 200_000_000,
    }
}

/// Add `more`'s keys to the object `base`.
pub(crate) fn merge(base: &mut serde_json::Value, more: serde_json::Value) {
    if let (Some(b), serde_json::Value::Object(m)) = (base.as_object_mut(), more) {
        b.extend(m);
    }
}

/// Run the program on the accelerator's RTL (Verilator, the AXI memory model with
/// `--mem-latency` and `--stall`) and compare with the golden run `out`/`gold`: the
/// error code and, without an error, every DRAM byte. Returns the first mismatch, if
/// any, and the RTL's statistics for `--json`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn compare_on_rtl(
    timing: &accgen_sim::accel::AccelTiming,
    model: Option<&accgen_sim::Model>,
    vcd: Option<&Path>,
    cfg: &Config,
    dram: Vec<u8>,
    prog_at: u64,
    prog_len: u32,
    out: &Outcome,
    gold: &Machine,
) -> Result<(Option<String>, serde_json::Value)> {
    let built;
    let model = match model {
        Some(m) => m,
        None => {
            eprintln!("building the accelerator's Verilator model ...");
            let mut opts = accgen_sim::SimOptions::new();
            if let Some(v) = vcd {
                opts = opts.trace(v);
            }
            built = accgen_sim::accel::build_accel_with(cfg, &opts)?;
            &built
        }
    };
    eprintln!("running the program on the RTL ...");
    let t0 = std::time::Instant::now();
    let hw = accgen_sim::accel::run_accel(model, cfg, dram, prog_at, prog_len, timing)?;
    let secs = t0.elapsed().as_secs_f64();
    let golden_code = out.fault.as_ref().map_or(0, |f| f.code as u32);
    let golden_index = out.fault.as_ref().and_then(|f| f.index).unwrap_or(0) as u32;
    let mut mismatch = None;
    if (hw.error_code, hw.error_index) != (golden_code, golden_index) {
        mismatch = Some(format!(
            "the RTL ended with error code {} (instruction {}), the golden model with {golden_code} (instruction {golden_index})",
            hw.error_code, hw.error_index
        ));
    } else if golden_code == 0 {
        if let Some(b) = (0..hw.dram.len()).find(|&b| hw.dram[b] != gold.dram[b]) {
            let writer = gold.last_writer[b]
                .map_or("no instruction".to_string(), |i| format!("instruction {i}"));
            mismatch = Some(format!(
                "DRAM byte {b:#x} is {:#04x} after the RTL run and {:#04x} after golden (last written by {writer})",
                hw.dram[b], gold.dram[b]
            ));
        }
    }
    // Array utilization: the golden MAC count over the PE-cycles of the run.
    let pes = cfg
        .array
        .as_ref()
        .map_or(0, |a| a.rows as u64 * a.cols as u64);
    let util = if pes > 0 && hw.cycles > 0 && out.stats.macs > 0 {
        json!(out.stats.macs as f64 / (pes * hw.cycles) as f64)
    } else {
        serde_json::Value::Null
    };
    println!(
        "rtl: {} cycles, busy load/compute/store {}/{}/{}, {} bytes read, {} bytes written, array utilization {}, error code {}",
        hw.cycles,
        hw.busy[0],
        hw.busy[1],
        hw.busy[2],
        hw.bytes_read,
        hw.bytes_written,
        util.as_f64().map_or("-".to_string(), |u| format!("{u:.3}")),
        hw.error_code
    );
    Ok((
        mismatch.clone(),
        json!({
            "engine": "rtl+golden",
            "cycles": hw.cycles,
            "bit_exact": mismatch.is_none(),
            "rtl_error_code": hw.error_code,
            "busy_cycles": { "load": hw.busy[0], "compute": hw.busy[1], "store": hw.busy[2] },
            "rtl_dram_bytes_read": hw.bytes_read,
            "rtl_dram_bytes_written": hw.bytes_written,
            "dma_read_bytes_per_cycle": hw.bytes_read as f64 / hw.cycles.max(1) as f64,
            "array_utilization": util,
            "sim_cycles_per_s": hw.cycles as f64 / secs.max(1e-9),
            "mismatch": mismatch,
        }),
    ))
}

fn print_stats(out: &Outcome) {
    println!(
        "golden: {} instructions, {} MACs, {} bytes read, {} bytes written, error code {}",
        out.stats.instructions,
        out.stats.macs,
        out.stats.dram_bytes_read,
        out.stats.dram_bytes_written,
        out.fault.as_ref().map_or(0, |f| f.code as u32)
    );
}

fn parse_mkn(text: &str) -> Result<(u32, u32, u32)> {
    let v: Vec<u32> = text
        .split(',')
        .map(|d| {
            d.trim()
                .parse::<u32>()
                .ok()
                .filter(|&v| (1..=1 << 20).contains(&v))
        })
        .collect::<Option<_>>()
        .with_context(|| format!("--gemm `{text}` must be M,K,N with each in 1..=1048576"))?;
    match v[..] {
        [m, k, n] => Ok((m, k, n)),
        _ => bail!("--gemm `{text}` must be three numbers M,K,N"),
    }
}

fn run_gemm(args: &RunArgs, cfg: &Config, spec: &str) -> Result<()> {
    let (m, k, n) = parse_mkn(spec)?;
    let arr = cfg
        .array
        .clone()
        .with_context(|| format!("config {} has no [array] section", args.config.display()))?;
    let (prog, lay) = gemm_program(cfg, m, k, n, args.epilogue)
        .map_err(|e| anyhow::anyhow!("--gemm {m},{k},{n}: {e}"))?;
    let mut rng = SplitMix64::new(1);
    let mut operand =
        |path: Option<&Path>, rows: u32, cols: u32, bits: u32, what: &str| -> Result<Matrix> {
            match path {
                Some(p) => {
                    let mtx = super::sim::read_matrix(
                        p,
                        what,
                        bits,
                        if what == "A" {
                            "act_bits"
                        } else {
                            "weight_bits"
                        },
                    )?;
                    if (mtx.rows, mtx.cols) != (rows as usize, cols as usize) {
                        bail!(
                            "{what} ({}) is {}x{}; --gemm {m},{k},{n} needs {rows}x{cols}",
                            p.display(),
                            mtx.rows,
                            mtx.cols
                        );
                    }
                    Ok(mtx)
                }
                None => Ok(Matrix::from_vec(
                    rows as usize,
                    cols as usize,
                    (0..rows as u64 * cols as u64)
                        .map(|_| rng.signed(bits))
                        .collect(),
                )),
            }
        };
    let a = operand(args.a, m, k, arr.act_bits, "A")?;
    let b = operand(args.b, k, n, arr.weight_bits, "B")?;
    let dram = lay.image(cfg, &prog, &a, &b, args.epilogue);
    let rq = cfg.requant.clone();
    let mut mach = Machine::new(cfg, dram.clone(), 0)?;
    let out = mach.run(lay.prog, prog.instrs.len() as u64);
    print_stats(&out);
    let mut mismatch = None;
    let mut rtl = json!({});
    if !args.golden_only {
        let (mm, r) = compare_on_rtl(
            &timing_of(args),
            None,
            args.vcd,
            cfg,
            dram,
            lay.prog,
            prog.instrs.len() as u32,
            &out,
            &mach,
        )?;
        mismatch = mm;
        rtl = r;
    }
    // The direct composition of the unit models, as a self-check of the program.
    let prod = gemm(&a, &b, arr.format());
    let gelu = cfg.gelu.as_ref().map(accgen_golden::gelu::GeluUnit::new);
    let out_dtype = match (&rq, args.epilogue) {
        (_, GemmEpilogue::None) if lay.c_elem_bytes == 4 => Dtype::I32,
        (_, GemmEpilogue::None) => Dtype::I64,
        (Some(q), GemmEpilogue::Requant | GemmEpilogue::RequantRelu) => {
            super::stream::out_dtype(q.out_bits, q.out_signed)
        }
        _ => super::stream::out_dtype(cfg.gelu.as_ref().map_or(8, |g| g.out_bits), true),
    };
    // C elements are stored in exactly this dtype's width (see golden::accel::elem_bytes).
    debug_assert_eq!(out_dtype.size() as u64, lay.c_elem_bytes);
    let mut data = Vec::with_capacity(m as usize * n as usize);
    let mut mismatches = 0u64;
    let mut first: Option<String> = None;
    for i in 0..m as usize {
        for j in 0..n as usize {
            let x = prod.at(i, j);
            let want = match (&rq, args.epilogue) {
                (_, GemmEpilogue::None) => x,
                (Some(q), e) => {
                    let lane = j % q.lanes as usize;
                    let cq = RequantConfig {
                        shift: PerChannel::Tensor(q.shift_of(lane) as i64),
                        bias: Some(PerChannel::Tensor(q.bias_of(lane))),
                        relu: e == GemmEpilogue::RequantRelu,
                        ..q.clone()
                    };
                    let y = requant(&cq, 0, x);
                    match (&gelu, e) {
                        (Some(g), GemmEpilogue::RequantGelu) => g.eval(y),
                        _ => y,
                    }
                }
                (None, _) => unreachable!("gemm_program checked the epilogue's units"),
            };
            let idx = (i * n as usize + j) as u64;
            let got = get(&mach.dram, lay.c, out_dtype, idx);
            if got != want {
                mismatches += 1;
                first
                    .get_or_insert_with(|| format!("C[{i}][{j}]: model {got}, composition {want}"));
            }
            data.push(got);
        }
    }
    let mut extra = json!({
        "m": m, "k": k, "n": n,
        "kt": lay.kt,
        "program_instructions": prog.instrs.len(),
        "matches_unit_composition": mismatches == 0,
        "mismatches": mismatches,
    });
    merge(&mut extra, rtl);
    let stats = stats_json(&out, extra);
    if let Some(j) = args.json {
        super::sim::write_stats(j, &stats)?;
    }
    if let Some(mm) = &mismatch {
        bail!("{mm}");
    }
    if let Some(f) = &out.fault {
        bail!("the program stopped with {f}");
    }
    if let Some(fst) = first {
        bail!("{mismatches} element(s) of C differ from the unit models' composition; first {fst}");
    }
    println!("C ({m}x{n}) equals the direct composition of the unit models");
    if !args.golden_only {
        println!("the RTL's DRAM image equals the golden model's, byte for byte");
    }
    if let Some(o) = args.out {
        npy::write(
            o,
            &NpyArray {
                dtype: out_dtype,
                shape: vec![m as usize, n as usize],
                data,
            },
        )?;
        eprintln!("wrote {}", o.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_errors_name_the_part() {
        assert_eq!(
            parse_load("A=dir/a@b.npy@0x1000").unwrap(),
            LoadSpec {
                name: "A".into(),
                path: "dir/a@b.npy".into(),
                addr: 0x1000
            }
        );
        let d = parse_dump("C@4096:16x8:int8=c.npy").unwrap();
        assert_eq!((d.addr, d.shape, d.dtype), (4096, vec![16, 8], Dtype::I8));
        for (bad, frag) in [
            ("A", "is not NAME=FILE.npy@ADDR"),
            ("A=a.npy", "has no `@ADDR`"),
            ("A=a.npy@zz", "address `zz` is not a number"),
            ("=a.npy@0", "the name `` must be"),
            ("A=@0", "names no file"),
        ] {
            let e = parse_load(bad).unwrap_err();
            assert!(e.contains(frag), "{bad}: {e}");
        }
        for (bad, frag) in [
            ("C@0:4:int8", "is not NAME@ADDR:SHAPE:DTYPE=OUT.npy"),
            ("C:0:4:int8=c.npy", "has no `@ADDR`"),
            ("C@0:4=c.npy", "expected ADDR:SHAPE:DTYPE"),
            (
                "C@0:4x0:int8=c.npy",
                "shape `4x0` must be dimensions in 1..=2^30",
            ),
            ("C@0:4:float32=c.npy", "dtype `float32` is not one of"),
            ("C@0:4:int8=", "names no output file"),
        ] {
            let e = parse_dump(bad).unwrap_err();
            assert!(e.contains(frag), "{bad}: {e}");
        }
    }
}
