//! `accgen export-tb --case SUITE/NAME --out DIR`: a self-checking Verilog-2001
//! testbench of one regression case, for any simulator.
//!
//! Written into DIR: the unit's Verilog under `rtl/` with `rtl/filelist.f`; `tb.v`;
//! `input.hex` and `expected.hex` (`$readmemh`, one AXI4-Stream beat per line, lanes
//! packed as the unit takes them: lane 0 in the LSBs, each field padded to whole bytes
//! and sign-extended; the expected beats come from the golden model); and
//! `run_icarus.sh`, `run_verilator.sh` (Verilator's `--binary`) and `run_xsim.sh`
//! (Vivado's `xvlog`/`xelab`/`xsim`; not runnable here, so not tested).
//!
//! The testbench drives `s_axis` with random idle cycles and `m_axis_tready` with
//! random backpressure from a 32-bit LFSR seeded by `--seed` (probabilities
//! `--gaps` and `--backpressure`), holds `tdata` and `tlast` while `tvalid` waits for
//! `tready`, compares every output beat (data and `tlast`) as it leaves, prints each
//! mismatch with the beat, the cycle, the value and the expected value, and ends with
//! `PASS: <beats> beats in <cycles> cycles` or `FAIL: ...` (also on a timeout or an
//! extra beat). The run scripts exit non-zero unless the PASS line is printed.
//!
//! Each line of `input.hex` and `expected.hex` carries `tlast` above the beat's data
//! bits. Units: the element-wise streams `requant`, `gelu` and `residual` (pairs
//! packed `{b, a}` per lane, as the unit takes them; `tlast` on the last beat), and
//! the row units `softmax` and `layernorm` (rows in lockstep groups of `lanes`, the
//! last group padded with all-zero rows whose golden outputs are checked too, `tlast`
//! on each group's last beat). For `layernorm` the testbench first streams gamma and
//! beta from `params.hex` through `s_prm_axis` (`{beta, gamma}` per channel, each
//! sign-extended to whole bytes, with the same random gaps). The arrays (`gemm`,
//! `sparse-gemm`) take their tiles of R x C outputs in row-major order, each as K
//! beats `{B row k, A column k}` (or K/M groups `{B values and indices, A}` on the N:M
//! array) with `tlast` on the tile's last beat, as the co-simulation driver streams
//! them, and return R rows per tile (`tlast` on row R-1; edge tiles zero-padded, the
//! padding checked to be zero; `tuser`, the row index, is not checked).

use std::fmt::Write as _;
use std::path::Path;

use accgen_hw::rtl::Design;
use anyhow::{bail, Context, Result};

use crate::outdir::OutputDir;

/// A beat's hex digits (MSB first, all `width / 4` of them) from `lanes` values in
/// `field`-bit fields, packed as the co-simulation drivers pack them.
fn beat_hex(values: &[i64], field: u32, width: u32) -> String {
    let hex = accgen_sim::axis::pack_lanes(values, field, width).to_hex();
    format!("{hex:0>w$}", w = width.div_ceil(4) as usize)
}

fn pct(p: f64) -> u32 {
    (p * 65536.0).round().clamp(0.0, 65535.0) as u32
}

/// The units `export-tb` supports.
pub fn supported(unit: &str) -> bool {
    matches!(
        unit,
        "gelu" | "requant" | "residual" | "softmax" | "layernorm" | "gemm" | "sparse-gemm"
    )
}

/// A `$readmemh` line: `tlast` in a hex digit above the beat's `width` data bits
/// (`width` is whole bytes, so the data is exactly `width / 4` digits).
fn line(values: &[i64], field: u32, width: u32, last: bool) -> String {
    format!("{}{}", u8::from(last), beat_hex(values, field, width))
}

/// Hex digits of whole-byte fields `(value, bits)`, the first in the LSBs, each
/// two's complement in `bits` rounded up to whole bytes (as the array driver packs).
fn pack_hex(fields: &[(i64, u32)]) -> String {
    fields
        .iter()
        .rev()
        .map(|&(v, b)| {
            let f = b.div_ceil(8) * 8;
            beat_hex(&[v], f, f)
        })
        .collect()
}

/// The array's beats (tiles of R x C outputs, row-major; each streams K beats, or
/// K/M groups on the N:M array, `tlast` on its last) and the expected output rows
/// (`tlast` on row R-1): (input lines, expected lines, input beats, output beats).
fn gemm_beats(
    cfg: &accgen_golden::gemm::ArrayConfig,
    sp: Option<accgen_golden::nm_sparse::SparsityConfig>,
    a: &accgen_golden::gemm::Matrix,
    b: &accgen_golden::gemm::Matrix,
    c: &accgen_golden::gemm::Matrix,
) -> Result<(String, String, usize, usize)> {
    let (r, cc) = (cfg.rows as usize, cfg.cols as usize);
    let (m, n) = (c.rows, c.cols);
    let compressed = match sp {
        Some(sp) => Some(
            accgen_golden::nm_sparse::compress(b, sp)
                .map_err(|v| anyhow::anyhow!("B violates {}:{} sparsity: {v}", sp.n, sp.m))?,
        ),
        None => None,
    };
    let k_beats = match &compressed {
        Some(cm) => cm.groups(),
        None => a.cols,
    };
    let (mut input, mut expected) = (String::new(), String::new());
    let (mut ib, mut ob) = (0, 0);
    for mt in 0..m.div_ceil(r) {
        for nt in 0..n.div_ceil(cc) {
            for k in 0..k_beats {
                let mut f: Vec<(i64, u32)> = Vec::new();
                match (&compressed, sp) {
                    (Some(cm), Some(sp)) => {
                        let g = sp.m as usize;
                        for i in 0..r {
                            let row = mt * r + i;
                            for s in 0..g {
                                let kk = k * g + s;
                                let v = if row < a.rows && kk < a.cols {
                                    a.at(row, kk)
                                } else {
                                    0
                                };
                                f.push((v, cfg.act_bits));
                            }
                        }
                        let idx_bits = sp.idx_bits().max(1);
                        for j in 0..cc {
                            let col = nt * cc + j;
                            let mut meta = 0i64;
                            for t in 0..sp.n as usize {
                                // Padding columns: value 0 at the distinct indices 0..n.
                                let (v, idx) = if col < n {
                                    cm.slot(k, col, t)
                                } else {
                                    (0, t as u8)
                                };
                                f.push((v, cfg.weight_bits));
                                meta |= (idx as i64) << (t as u32 * idx_bits);
                            }
                            f.push((meta, sp.n * idx_bits));
                        }
                    }
                    _ => {
                        for i in 0..r {
                            let row = mt * r + i;
                            f.push((if row < a.rows { a.at(row, k) } else { 0 }, cfg.act_bits));
                        }
                        for j in 0..cc {
                            let col = nt * cc + j;
                            f.push((if col < b.cols { b.at(k, col) } else { 0 }, cfg.weight_bits));
                        }
                    }
                }
                let _ = writeln!(input, "{}{}", u8::from(k + 1 == k_beats), pack_hex(&f));
                ib += 1;
            }
            for i in 0..r {
                let row = mt * r + i;
                let lanes: Vec<(i64, u32)> = (0..cc)
                    .map(|j| {
                        let col = nt * cc + j;
                        let v = if row < m && col < n {
                            c.at(row, col)
                        } else {
                            0
                        };
                        (v, cfg.acc_bits)
                    })
                    .collect();
                let _ = writeln!(expected, "{}{}", u8::from(i + 1 == r), pack_hex(&lanes));
                ob += 1;
            }
        }
    }
    Ok((input, expected, ib, ob))
}

/// The stimulus of a row unit (`lanes` lanes of `in_bits` in, `out_bits` out): rows
/// in lockstep groups of `lanes`, the last group padded with zero rows (whose golden
/// outputs are expected too), `tlast` on each group's last beat.
fn row_stimulus(
    top: std::rc::Rc<accgen_hw::rtl::Module>,
    rows: &[Vec<i64>],
    lanes: u32,
    (in_bits, out_bits): (u32, u32),
    golden: &dyn Fn(&[i64]) -> Result<Vec<i64>>,
) -> Result<Stimulus> {
    let (fi, fo) = (in_bits.div_ceil(8) * 8, out_bits.div_ceil(8) * 8);
    let (wi, wo) = (lanes * fi, lanes * fo);
    let (mut input, mut expected, mut beats) = (String::new(), String::new(), 0);
    for g in rows.chunks(lanes as usize) {
        let len = g[0].len();
        let mut group = g.to_vec();
        group.resize(lanes as usize, vec![0; len]);
        let outs = group
            .iter()
            .map(|r| golden(r))
            .collect::<Result<Vec<_>>>()?;
        for k in 0..len {
            let xs: Vec<i64> = group.iter().map(|r| r[k]).collect();
            let ys: Vec<i64> = outs.iter().map(|o| o[k]).collect();
            let _ = writeln!(input, "{}", line(&xs, fi, wi, k + 1 == len));
            let _ = writeln!(expected, "{}", line(&ys, fo, wo, k + 1 == len));
            beats += 1;
        }
    }
    Ok(Stimulus::new(top, (wi, wo), input, expected, beats))
}

/// `accgen export-tb`.
pub fn export_tb(case: &str, out: &Path, seed: u64, gaps: f64, backpressure: f64) -> Result<()> {
    let (name, beats, top) = write_tb(case, out, seed, gaps, backpressure)?;
    println!(
        "exported case `{name}` ({beats} beats through {top}) to {}: run_icarus.sh, run_verilator.sh, run_xsim.sh",
        out.display()
    );
    Ok(())
}

/// Run one of the exported testbench's scripts: the cycles of its PASS line, or the
/// reason it failed.
pub fn run_script(dir: &Path, script: &str) -> Result<u64> {
    let o = std::process::Command::new("sh")
        .arg(dir.join(script))
        .output()
        .with_context(|| format!("running {script}"))?;
    let out = String::from_utf8_lossy(&o.stdout);
    let pass = out.lines().find_map(|l| l.strip_prefix("PASS: "));
    match (o.status.success(), pass) {
        (true, Some(p)) => p
            .rsplit(" in ")
            .next()
            .and_then(|t| t.strip_suffix(" cycles"))
            .and_then(|t| t.parse().ok())
            .with_context(|| format!("{script}: unreadable PASS line `{p}`")),
        _ => {
            let last = out
                .lines()
                .chain(String::from_utf8_lossy(&o.stderr).lines())
                .filter(|l| {
                    l.starts_with("FAIL") || l.starts_with("MISMATCH") || l.contains("rror")
                })
                .take(3)
                .collect::<Vec<_>>()
                .join("; ");
            bail!("{script} failed: {last}")
        }
    }
}

/// What a testbench streams: the top, the input and expected `$readmemh` lines
/// (`tlast` above `wi` / `wo` data bits), and the parameter stream (width, beats,
/// lines) of a unit that has one.
struct Stimulus {
    top: std::rc::Rc<accgen_hw::rtl::Module>,
    wi: u32,
    wo: u32,
    input: String,
    expected: String,
    beats: usize,
    /// Output beats, when they differ from the input beats (the arrays).
    out_beats: Option<usize>,
    params: Option<(u32, usize, String)>,
}

impl Stimulus {
    /// A stimulus with as many beats out as in and no parameter stream.
    fn new(
        top: std::rc::Rc<accgen_hw::rtl::Module>,
        (wi, wo): (u32, u32),
        input: String,
        expected: String,
        beats: usize,
    ) -> Stimulus {
        Stimulus {
            top,
            wi,
            wo,
            input,
            expected,
            beats,
            out_beats: None,
            params: None,
        }
    }
}

/// Write the testbench of `case` into `out`: (case name, beats, top module).
pub fn write_tb(
    case: &str,
    out: &Path,
    seed: u64,
    gaps: f64,
    backpressure: f64,
) -> Result<(String, usize, String)> {
    let (suite_dir, name) = case.rsplit_once('/').with_context(|| {
        format!("--case {case}: expected SUITE/NAME (the suite directory, then the case name)")
    })?;
    for (what, p) in [("--gaps", gaps), ("--backpressure", backpressure)] {
        if !(0.0..=0.95).contains(&p) {
            bail!("{what} = {p} is outside the allowed range 0..=0.95");
        }
    }
    let suite = super::regress::load_suite(Path::new(suite_dir))?;
    let c = suite
        .case(name)
        .with_context(|| format!("--case {case}: the suite has no case `{name}`"))?;
    let cfg = super::generate::load_config(&suite.path(&c.config))?;
    let mut lib = accgen_hw::rtl::Library::new();
    let read = |k: &str| {
        accgen_sim::npy::read(&suite.path(&c.inputs[k]))
            .with_context(|| format!("case `{name}`: reading its input `{k}`"))
    };
    // Element-wise units: the lane values streamed in, and golden of a padding lane
    // (the unit computes it).
    let elementwise = |top: std::rc::Rc<accgen_hw::rtl::Module>,
                       lanes: u32,
                       in_bits: u32,
                       out_bits: u32,
                       xs: Vec<i64>,
                       pad: Vec<i64>|
     -> Result<Stimulus> {
        let (_, want) = super::regress::golden(&suite, c)?;
        let (fi, fo) = (in_bits.div_ceil(8) * 8, out_bits.div_ceil(8) * 8);
        let (wi, wo) = (lanes * fi, lanes * fo);
        let l = lanes as usize;
        let beats = xs.len().div_ceil(l);
        let mut input = String::new();
        let mut expected = String::new();
        for b in 0..beats {
            let beat: Vec<i64> = (0..l)
                .map(|k| xs.get(b * l + k).copied().unwrap_or(0))
                .collect();
            let ys: Vec<i64> = (0..l)
                .map(|k| want.get(b * l + k).copied().unwrap_or(pad[k]))
                .collect();
            let _ = writeln!(input, "{}", line(&beat, fi, wi, b + 1 == beats));
            let _ = writeln!(expected, "{}", line(&ys, fo, wo, b + 1 == beats));
        }
        Ok(Stimulus::new(top, (wi, wo), input, expected, beats))
    };
    let rows_of = |x: &accgen_sim::npy::NpyArray| -> Vec<Vec<i64>> {
        let len = (*x.shape.last().unwrap_or(&1)).max(1);
        x.data.chunks(len).map(<[i64]>::to_vec).collect()
    };
    let st = match c.unit.as_str() {
        "gelu" => {
            let g = cfg
                .gelu
                .clone()
                .context("the case's config has no [gelu]")?;
            let pad = accgen_golden::gelu::GeluUnit::new(&g).eval(0);
            let top = accgen_hw::gelu::gelu(&mut lib, &g)?;
            elementwise(
                top,
                g.lanes,
                g.in_bits,
                g.out_bits,
                read("x")?.data,
                vec![pad; g.lanes as usize],
            )?
        }
        "requant" => {
            let r = cfg
                .requant
                .clone()
                .context("the case's config has no [requant]")?;
            let pad = (0..r.lanes as usize)
                .map(|l| accgen_golden::requant::requant(&r, l, 0))
                .collect();
            let top = accgen_hw::requant::requant(&mut lib, &r)?;
            elementwise(top, r.lanes, r.in_bits, r.out_bits, read("x")?.data, pad)?
        }
        "residual" => {
            let r = cfg
                .residual
                .clone()
                .context("the case's config has no [residual]")?;
            let (a, b) = (read("a")?, read("b")?);
            let xs = a
                .data
                .iter()
                .zip(&b.data)
                .map(|(&p, &q)| accgen_sim::residual::pack_pair(&r, p, q))
                .collect();
            let pad = accgen_golden::residual::residual(&r, 0, 0);
            let top = accgen_hw::residual::residual(&mut lib, &r)?;
            let in_bits = r.a_bits.div_ceil(8) * 8 + r.b_bits;
            elementwise(
                top,
                r.lanes,
                in_bits,
                r.out_bits,
                xs,
                vec![pad; r.lanes as usize],
            )?
        }
        "softmax" => {
            let sm = cfg
                .softmax
                .clone()
                .context("the case's config has no [softmax]")?;
            let unit = accgen_golden::softmax::SoftmaxUnit::new(&sm);
            let top = accgen_hw::softmax::softmax(&mut lib, &sm)?;
            row_stimulus(
                top,
                &rows_of(&read("x")?),
                sm.lanes,
                (sm.in_bits, sm.out_bits),
                &|r| {
                    unit.row(r)
                        .map_err(|e| anyhow::anyhow!("case `{name}`: {}", e.0))
                },
            )?
        }
        "layernorm" => {
            let ln = cfg
                .layernorm
                .clone()
                .context("the case's config has no [layernorm]")?;
            let (g, b) = (read("gamma")?.data, read("beta")?.data);
            let top = accgen_hw::layernorm::layernorm(&mut lib, &ln)?;
            let mut st = row_stimulus(
                top,
                &rows_of(&read("x")?),
                ln.lanes,
                (ln.in_bits, ln.out_bits),
                &|r| {
                    accgen_golden::layernorm::layernorm_row(&ln, r, &g, &b)
                        .map_err(|e| anyhow::anyhow!("case `{name}`: {}", e.0))
                },
            )?;
            let (gf, bf) = accgen_hw::layernorm::param_fields(&ln);
            let mut params = String::new();
            for (i, (&gv, &bv)) in g.iter().zip(&b).enumerate() {
                // {beta, gamma}: two fields of different widths, packed by hand.
                let word = accgen_sim::axis::pack_lanes(&[gv], gf, gf).to_hex();
                let hi = accgen_sim::axis::pack_lanes(&[bv], bf, bf).to_hex();
                let _ = writeln!(
                    params,
                    "{}{hi:0>bw$}{word:0>gw$}",
                    u8::from(i + 1 == g.len()),
                    bw = (bf / 4) as usize,
                    gw = (gf / 4) as usize
                );
            }
            st.params = Some((gf + bf, g.len(), params));
            st
        }
        "gemm" | "sparse-gemm" => {
            let ac = cfg
                .array
                .clone()
                .context("the case's config has no [array]")?;
            let sp = if c.unit == "sparse-gemm" {
                Some(cfg.sparsity.context("the case's config has no [sparsity]")?)
            } else {
                None
            };
            let (a, b) = (read("a")?, read("b")?);
            if a.shape.len() != 2 || b.shape.len() != 2 || a.shape[1] != b.shape[0] {
                bail!(
                    "case `{name}`: A {:?} and B {:?} are not M x K and K x N",
                    a.shape,
                    b.shape
                );
            }
            let am = accgen_golden::gemm::Matrix::from_vec(a.shape[0], a.shape[1], a.data);
            let bm = accgen_golden::gemm::Matrix::from_vec(b.shape[0], b.shape[1], b.data);
            let (shape, want) = super::regress::golden(&suite, c)?;
            let cm = accgen_golden::gemm::Matrix::from_vec(shape[0], shape[1], want);
            let top = match sp {
                Some(sp) => accgen_hw::sparse_array(&mut lib, &ac, &sp)?,
                None => accgen_hw::systolic::systolic_array(&mut lib, &ac)?,
            };
            let width = |p: &str| {
                top.ports()
                    .iter()
                    .find(|q| q.name == p)
                    .map_or(0, |q| q.width)
            };
            let (wi, wo) = (width("s_axis_tdata"), width("m_axis_tdata"));
            let (input, expected, beats, out_beats) = gemm_beats(&ac, sp, &am, &bm, &cm)?;
            let digits = |t: &str| t.lines().next().map_or(0, |l| l.len() - 1);
            if digits(&input) * 4 != wi as usize || digits(&expected) * 4 != wo as usize {
                bail!("internal error: the packed beats do not match the array's tdata widths");
            }
            Stimulus {
                out_beats: Some(out_beats),
                ..Stimulus::new(top, (wi, wo), input, expected, beats)
            }
        }
        other => bail!(
            "--case {case}: unit `{other}` has no testbench export yet (requant, gelu, residual, softmax, layernorm, gemm, sparse-gemm)"
        ),
    };
    let Stimulus {
        top,
        wi,
        wo,
        input,
        expected,
        beats,
        out_beats,
        params,
    } = st;
    let obeats = out_beats.unwrap_or(beats);
    let mut design = Design::new();
    design.add_top(top.clone());
    let files = design.files()?;
    let mut ports = String::new();
    if top.has_clock() {
        ports.push_str("\n    .clk(clk),");
    }
    if top.has_reset() {
        ports.push_str("\n    .rst(rst),");
    }
    for p in top.ports() {
        let _ = write!(ports, "\n    .{0}({0}),", p.name);
    }
    let ports = ports.trim_end_matches(',').to_string();
    let user = top
        .ports()
        .iter()
        .find(|p| p.name == "m_axis_tuser")
        .map(|p| p.width);
    let (pw, pbeats, params_hex) = params.unwrap_or((8, 0, String::new()));
    let prm_decl = if pbeats > 0 {
        format!(
            "  localparam integer PBEATS = {pbeats};\n  localparam integer PRM_W = {pw};\n  \
             reg [PRM_W-1:0] s_prm_axis_tdata = {{PRM_W{{1'b0}}}};\n  reg s_prm_axis_tvalid = 1'b0;\n  \
             reg s_prm_axis_tlast = 1'b0;\n  wire s_prm_axis_tready;\n  reg [PRM_W:0] prm_mem [0:PBEATS-1];\n  \
             integer psent = 0;\n"
        )
    } else {
        "  localparam integer PBEATS = 0;\n  integer psent = 0;\n".to_string()
    };
    let prm_load = if pbeats > 0 {
        "    $readmemh(\"params.hex\", prm_mem);\n"
    } else {
        ""
    };
    let prm_drive = if pbeats > 0 {
        r#"      // Parameters first: gamma and beta per channel, with the same random gaps.
      if (s_prm_axis_tvalid && s_prm_axis_tready) begin
        psent = psent + 1;
        s_prm_axis_tvalid <= 1'b0;
      end
      if ((!s_prm_axis_tvalid || s_prm_axis_tready) && psent < PBEATS && lfsr[15:0] >= GAP) begin
        s_prm_axis_tdata <= prm_mem[psent][PRM_W-1:0];
        s_prm_axis_tlast <= prm_mem[psent][PRM_W];
        s_prm_axis_tvalid <= 1'b1;
      end
"#
    } else {
        ""
    };
    let tb = format!(
        r#"// Generated by accgen export-tb: a self-checking testbench of case `{name}`
// (suite `{suite}`, unit {unit}, {top_name}). Verilog-2001.
`timescale 1ns/1ps
`default_nettype none
module tb;
  localparam integer BEATS = {beats};      // input beats
  localparam integer OBEATS = {obeats};    // output beats
  localparam integer IN_W = {wi};
  localparam integer OUT_W = {wo};
  localparam integer GAP = {gap};          // idle probability x 65536
  localparam integer STALL = {stall};      // backpressure probability x 65536
  localparam integer LIMIT = {limit};      // cycles before the timeout
  reg clk = 1'b0;
  always #5 clk = ~clk;
  reg rst = 1'b1;
  reg [IN_W-1:0] s_axis_tdata = {{IN_W{{1'b0}}}};
  reg s_axis_tvalid = 1'b0;
  reg s_axis_tlast = 1'b0;
  wire s_axis_tready;
  wire [OUT_W-1:0] m_axis_tdata;
  wire m_axis_tvalid;
  wire m_axis_tlast;
  reg m_axis_tready = 1'b0;
{user_wire}{prm_decl}  // Each line: tlast, then the beat's data bits.
  reg [IN_W:0] in_mem [0:BEATS-1];
  reg [OUT_W:0] exp_mem [0:OBEATS-1];
  integer sent = 0;
  integer got = 0;
  integer errors = 0;
  integer cycle = 0;
  reg [31:0] lfsr = 32'd{seed};
  {top_name} dut ({ports}
  );
  // A 32-bit Galois LFSR (taps 32, 22, 2, 1), stepped every cycle.
  function [31:0] step;
    input [31:0] v;
    begin
      step = {{1'b0, v[31:1]}} ^ (v[0] ? 32'h80200003 : 32'h0);
    end
  endfunction
  initial begin
    $readmemh("input.hex", in_mem);
    $readmemh("expected.hex", exp_mem);
{prm_load}    repeat (4) @(posedge clk);
    @(negedge clk) rst = 1'b0;
  end
  always @(posedge clk) begin
    if (!rst) begin
      cycle <= cycle + 1;
      lfsr <= step(step(lfsr));
{prm_drive}      // Source: a beat moves on tvalid && tready; tdata and tlast hold until it does.
      if (s_axis_tvalid && s_axis_tready) begin
        sent = sent + 1;
        s_axis_tvalid <= 1'b0;
      end
      if ((!s_axis_tvalid || s_axis_tready) && psent == PBEATS && sent < BEATS && lfsr[15:0] >= GAP) begin
        s_axis_tdata <= in_mem[sent][IN_W-1:0];
        s_axis_tlast <= in_mem[sent][IN_W];
        s_axis_tvalid <= 1'b1;
      end
      // Sink: check each beat as it leaves.
      if (m_axis_tvalid && m_axis_tready) begin
        if (got >= OBEATS) begin
          $display("MISMATCH: an extra output beat %0d at cycle %0d: %h", got, cycle, m_axis_tdata);
          errors = errors + 1;
        end else begin
          if (m_axis_tdata !== exp_mem[got][OUT_W-1:0]) begin
            $display("MISMATCH beat %0d at cycle %0d: got %h expected %h", got, cycle, m_axis_tdata, exp_mem[got][OUT_W-1:0]);
            errors = errors + 1;
          end
          if (m_axis_tlast !== exp_mem[got][OUT_W]) begin
            $display("MISMATCH beat %0d at cycle %0d: tlast %b expected %b", got, cycle, m_axis_tlast, exp_mem[got][OUT_W]);
            errors = errors + 1;
          end
        end
        got = got + 1;
      end
      m_axis_tready <= (lfsr[31:16] >= STALL);
      if (got == OBEATS && sent == BEATS) begin
        // A few more cycles to catch an extra beat.
        repeat (16) @(posedge clk);
        if (errors == 0) $display("PASS: %0d beats in %0d cycles", BEATS, cycle);
        else $display("FAIL: %0d mismatches", errors);
        $finish;
      end
      if (cycle > LIMIT) begin
        $display("FAIL: timeout after %0d cycles: %0d of %0d beats in, %0d of %0d out", cycle, sent, BEATS, got, OBEATS);
        $finish;
      end
    end
  end
endmodule
`default_nettype wire
"#,
        suite = suite.name,
        unit = c.unit,
        top_name = top.name(),
        gap = pct(gaps),
        stall = pct(backpressure),
        limit = 2000 + (beats + obeats + pbeats) * 200,
        seed = (seed as u32).max(1),
        user_wire = match user {
            Some(w) => format!("  wire [{}:0] m_axis_tuser;\n", w - 1),
            None => String::new(),
        },
    );
    let list: String = files
        .iter()
        .map(|f| format!("rtl/{}\n", f.file_name))
        .collect();
    let check = "grep -q '^PASS: ' run.log";
    let icarus = format!(
        "#!/bin/sh\n# Icarus Verilog 11+: compile and run the testbench; exit 0 only on PASS.\n\
         cd \"$(dirname \"$0\")\" && iverilog -g2005 -s tb -o tb.vvp -c rtl/filelist.f tb.v && \
         vvp -n tb.vvp | tee run.log && {check}\n"
    );
    let verilator = format!(
        "#!/bin/sh\n# Verilator 5 (--binary, with --timing for the testbench's delays); exit 0 only on PASS.\n\
         cd \"$(dirname \"$0\")\" && verilator --binary -j 0 -Wno-fatal -Wno-lint -Wno-style -Wno-TIMESCALEMOD --top-module tb \
         -f rtl/filelist.f tb.v -o Vtb >/dev/null && ./obj_dir/Vtb | tee run.log && {check}\n"
    );
    let xsim = format!(
        "#!/bin/sh\n# Vivado xsim (not runnable on the machine accgen was tested on, so untested).\n\
         cd \"$(dirname \"$0\")\" && xvlog -f rtl/filelist.f tb.v && xelab tb -s tb_sim && \
         xsim tb_sim -R | tee run.log && {check}\n"
    );
    let mut od = OutputDir::claim(out)?;
    for f in &files {
        od.write(&format!("rtl/{}", f.file_name), f.text.as_bytes())?;
    }
    od.write("rtl/filelist.f", list.as_bytes())?;
    od.write("tb.v", tb.as_bytes())?;
    od.write("input.hex", input.as_bytes())?;
    od.write("expected.hex", expected.as_bytes())?;
    if pbeats > 0 {
        od.write("params.hex", params_hex.as_bytes())?;
    }
    for (f, text) in [
        ("run_icarus.sh", icarus),
        ("run_verilator.sh", verilator),
        ("run_xsim.sh", xsim),
    ] {
        let p = od.write(f, text.as_bytes())?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    }
    od.finish(serde_json::Map::new())?;
    Ok((name.to_string(), beats, top.name().to_string()))
}
