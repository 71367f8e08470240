//! `accgen sweep SPACE.toml --out DIR [--shard I/N]`: design-space sweeps.
//!
//! ```toml
//! [sweep]
//! name = "array"
//! base = "../configs/default.toml"     # every point starts from this config
//! workload = ["64,64,64", "128,256,128"]   # GEMMs M,K,N
//! target = "array"        # array: the standalone array (`accgen sim gemm`, peak
//!                         # traffic); accel: the integrated accelerator (`accgen run
//!                         # --gemm`, memory latency 100, no stalls)
//! resources = "yosys"     # yosys (synth_xilinx -family xcup of the target top) or
//!                         # estimate (golden::board::estimate, accel only)
//! timing = false          # also `accgen timing` of the target top (post-route Fmax)
//!
//! [params]                # every combination is a point
//! "array.rows" = [4, 8]
//! "array.cols" = [4, 8]
//! ```
//!
//! Each point's config is the base with the parameters set (dotted keys name a
//! section and a field), checked by `validate`; a point the config rejects is
//! reported and skipped. Per point: the workload's simulated cycles (every GEMM
//! bit-exact against golden, or the sweep fails), resources, and optionally Fmax.
//! Writes `DIR/results.csv`, Pareto plots of cycles against DSPs and LUTs (and Fmax)
//! as SVG and PNG (`plotters`; the Pareto front drawn as a line), and prints the
//! points ranked by cycles with the Pareto-optimal ones marked. `--shard I/N` sweeps
//! points I, I+N, ... only (a shard without a valid point writes a header-only CSV).
//! `--merge N` merges `DIR/shard-1` ..= `DIR/shard-N` (their `results.csv`) into DIR.
//! `--slurm N` submits an `sbatch` array whose task k runs `--shard k/N --out
//! DIR/shard-k`, and a merge job after it (`afterany`) that runs `--merge N`; the job
//! scripts and logs are in `DIR/slurm/` (`--wait` waits and prints the table).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use accgen_golden::config::Config;
use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::outdir::OutputDir;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpaceFile {
    sweep: SweepHeader,
    params: BTreeMap<String, Vec<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepHeader {
    name: String,
    base: String,
    workload: Vec<String>,
    #[serde(default = "default_target")]
    target: String,
    #[serde(default = "default_resources")]
    resources: String,
    #[serde(default)]
    timing: bool,
}

fn default_target() -> String {
    "array".into()
}

fn default_resources() -> String {
    "yosys".into()
}

/// What a plot puts on its x axis.
type Cost = Box<dyn Fn(&Point) -> f64>;

/// One swept point's results.
struct Point {
    values: Vec<String>,
    cycles: u64,
    luts: u64,
    dsps: u64,
    bram18: u64,
    fmax: Option<f64>,
}

fn parse_gemm(s: &str) -> Result<[u32; 3]> {
    let v: Vec<u32> = s
        .split(',')
        .map(|t| t.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("workload `{s}` is not M,K,N"))?;
    match v.as_slice() {
        [m, k, n] if *m > 0 && *k > 0 && *n > 0 => Ok([*m, *k, *n]),
        _ => bail!("workload `{s}` is not M,K,N with each at least 1"),
    }
}

/// The base config with `params` set.
fn point_config(base: &toml::Value, params: &[(String, toml::Value)]) -> Result<(String, Config)> {
    let mut v = base.clone();
    for (key, val) in params {
        let (sec, field) = key
            .split_once('.')
            .with_context(|| format!("parameter `{key}` must be SECTION.FIELD"))?;
        let table = v
            .as_table_mut()
            .expect("a config is a table")
            .entry(sec.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        table
            .as_table_mut()
            .with_context(|| format!("`{sec}` is not a section"))?
            .insert(field.to_string(), val.clone());
    }
    let text = toml::to_string(&v)?;
    let cfg = Config::from_toml_str(&text).map_err(anyhow::Error::new)?;
    Ok((text, cfg))
}

/// Run the workload on one point: total cycles.
fn cycles_of(target: &str, cfg_path: &Path, gemms: &[[u32; 3]], dir: &Path) -> Result<u64> {
    let exe = std::env::current_exe()?;
    let mut total = 0;
    for (i, g) in gemms.iter().enumerate() {
        let js = dir.join(format!("g{i}.json"));
        let mut cmd = Command::new(&exe);
        if target == "accel" {
            cmd.args(["run", "--config"])
                .arg(cfg_path)
                .args(["--gemm", &format!("{},{},{}", g[0], g[1], g[2])])
                .args(["--mem-latency", "100", "--stall", "0", "--json"])
                .arg(&js);
        } else {
            // Random operands in range, written for `sim gemm`.
            let mut rng = accgen_golden::rng::SplitMix64::new(i as u64 + 1);
            let cfg = Config::load(cfg_path)?;
            let arr = cfg.array.clone().context("the point has no [array]")?;
            let mk = |rows: u32, cols: u32, bits: u32, rng: &mut accgen_golden::rng::SplitMix64| {
                accgen_sim::npy::NpyArray {
                    dtype: if bits <= 8 {
                        accgen_sim::npy::Dtype::I8
                    } else {
                        accgen_sim::npy::Dtype::I16
                    },
                    shape: vec![rows as usize, cols as usize],
                    data: (0..rows * cols).map(|_| rng.signed(bits)).collect(),
                }
            };
            let (a, b) = (dir.join(format!("a{i}.npy")), dir.join(format!("b{i}.npy")));
            accgen_sim::npy::write(&a, &mk(g[0], g[1], arr.act_bits, &mut rng))?;
            accgen_sim::npy::write(&b, &mk(g[1], g[2], arr.weight_bits, &mut rng))?;
            cmd.args(["sim", "gemm", "--config"])
                .arg(cfg_path)
                .arg("--a")
                .arg(&a)
                .arg("--b")
                .arg(&b)
                .args(["--input-gaps", "0", "--backpressure", "0", "--json"])
                .arg(&js);
        }
        let o = cmd.output()?;
        if !o.status.success() {
            bail!(
                "GEMM {}x{}x{}: {}",
                g[0],
                g[1],
                g[2],
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            );
        }
        let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&js)?)?;
        total += s["cycles"]
            .as_u64()
            .context("no cycles in the statistics")?;
    }
    Ok(total)
}

/// The target top's module name.
fn target_top(target: &str, cfg: &Config) -> Result<String> {
    if target == "accel" {
        return Ok(accgen_hw::accel::top::top_name(cfg));
    }
    cfg.array.as_ref().context("the point has no [array]")?;
    // generate_for adds the (dense or sparse) array top first.
    let d = accgen_hw::generate_for(cfg, accgen_hw::vendor::Vendor::Xilinx)?;
    Ok(d.tops()[0].name().to_string())
}

/// Yosys `synth_xilinx` of the target top: (LUTs, DSPs, BRAM18).
fn yosys_resources(target: &str, cfg: &Config, dir: &Path) -> Result<(u64, u64, u64)> {
    let design = accgen_hw::generate_for(cfg, accgen_hw::vendor::Vendor::Xilinx)?;
    let top = target_top(target, cfg)?;
    let mut files = Vec::new();
    for f in design.files()? {
        let p = dir.join(&f.file_name);
        std::fs::write(&p, &f.text)?;
        files.push(p);
    }
    let (rep, synth) =
        accgen_sim::lint::yosys_synth(&files, &top, accgen_sim::lint::XilinxFamily::Xcup, dir)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !rep.clean {
        bail!("Yosys reported on {top}: {}", rep.diagnostics.join("; "));
    }
    Ok((synth.luts, synth.dsps, synth.bram18))
}

/// Post-route Fmax of the target top (`accgen timing`).
fn fmax(target: &str, cfg_path: &Path, cfg: &Config, dir: &Path) -> Result<f64> {
    let top = target_top(target, cfg)?;
    let js = dir.join("timing.json");
    let o = Command::new(std::env::current_exe()?)
        .args(["timing", "--config"])
        .arg(cfg_path)
        .args(["--top", &top, "--seeds", "1", "--json"])
        .arg(&js)
        .output()?;
    if !o.status.success() {
        bail!("accgen timing: {}", String::from_utf8_lossy(&o.stderr));
    }
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&js)?)?;
    s.pointer("/results/0/fmax_mhz")
        .and_then(|v| v.as_f64())
        .context("no Fmax in accgen timing's JSON")
}

/// Indices of the points no other point beats on both `cycles` and `cost`.
fn pareto(points: &[Point], cost: &dyn Fn(&Point) -> f64) -> Vec<usize> {
    let mut front: Vec<usize> = (0..points.len())
        .filter(|&i| {
            !(0..points.len()).any(|j| {
                let (a, b) = (&points[j], &points[i]);
                j != i
                    && a.cycles <= b.cycles
                    && cost(a) <= cost(b)
                    && (a.cycles < b.cycles || cost(a) < cost(b))
            })
        })
        .collect();
    front.sort_by(|&a, &b| cost(&points[a]).total_cmp(&cost(&points[b])));
    front
}

/// Load a TTF for the PNG plots' text (the SVG plots need none).
fn font() -> Result<()> {
    for p in [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    ] {
        if let Ok(bytes) = std::fs::read(p) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes)
                .map_err(|_| anyhow::anyhow!("{p} is not a usable font"))?;
            return Ok(());
        }
    }
    bail!("no TrueType font for the PNG plots (scripts/setup.sh installs fonts-dejavu-core)")
}

/// The axis range of some values, padded.
fn span(v: &[f64]) -> std::ops::Range<f64> {
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.05).max(1.0);
    (lo - pad).max(0.0)..hi + pad
}

/// Draw one Pareto chart on `root`.
fn draw_chart<DB: plotters::prelude::DrawingBackend>(
    root: plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    xlabel: &str,
    xs: &[f64],
    ys: &[f64],
    front: &[usize],
) -> Result<()> {
    use plotters::prelude::*;
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("plotting: {e:?}");
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(span(xs), span(ys))
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(xlabel)
        .y_desc("cycles")
        .draw()
        .map_err(e)?;
    chart
        .draw_series(
            xs.iter()
                .zip(ys)
                .map(|(&x, &y)| Circle::new((x, y), 4, BLUE.filled())),
        )
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(
            front.iter().map(|&i| (xs[i], ys[i])),
            RED.stroke_width(2),
        ))
        .map_err(e)?
        .label("Pareto front")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}

/// One Pareto plot (cycles against a cost) into `path` (SVG or PNG by extension).
fn plot(
    path: &Path,
    title: &str,
    xlabel: &str,
    points: &[Point],
    cost: &dyn Fn(&Point) -> f64,
) -> Result<()> {
    use plotters::prelude::*;
    let xs: Vec<f64> = points.iter().map(cost).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.cycles as f64).collect();
    let front = pareto(points, cost);
    if path.extension().is_some_and(|e| e == "svg") {
        draw_chart(
            SVGBackend::new(path, (800, 560)).into_drawing_area(),
            title,
            xlabel,
            &xs,
            &ys,
            &front,
        )
    } else {
        draw_chart(
            BitMapBackend::new(path, (800, 560)).into_drawing_area(),
            title,
            xlabel,
            &xs,
            &ys,
            &front,
        )
    }
}

/// A loaded, checked sweep file: the header, the parameter names, every combination
/// of their values (the last parameter varying fastest) and the base config.
struct Space {
    h: SweepHeader,
    keys: Vec<String>,
    combos: Vec<Vec<toml::Value>>,
    gemms: Vec<[u32; 3]>,
    base: toml::Value,
}

/// Load and check SPACE.toml.
fn load_space(space: &Path) -> Result<Space> {
    let text = std::fs::read_to_string(space)
        .with_context(|| format!("reading the sweep file {}", space.display()))?;
    let f: SpaceFile =
        toml::from_str(&text).with_context(|| format!("parsing {}", space.display()))?;
    let h = f.sweep;
    if !["array", "accel"].contains(&h.target.as_str()) {
        bail!(
            "sweep.target = `{}` is not supported (array, accel)",
            h.target
        );
    }
    if !["yosys", "estimate"].contains(&h.resources.as_str()) {
        bail!(
            "sweep.resources = `{}` is not supported (yosys, estimate)",
            h.resources
        );
    }
    if h.resources == "estimate" && h.target != "accel" {
        bail!("sweep.resources = \"estimate\" needs target = \"accel\" (the estimate is of the integrated accelerator)");
    }
    if h.workload.is_empty() {
        bail!("sweep.workload needs at least one GEMM M,K,N");
    }
    let gemms: Vec<[u32; 3]> = h
        .workload
        .iter()
        .map(|s| parse_gemm(s))
        .collect::<Result<_>>()?;
    if f.params.is_empty() || f.params.values().any(Vec::is_empty) {
        bail!("[params] needs at least one parameter, each with at least one value");
    }
    if let Some(k) = f.params.keys().find(|k| !k.contains('.')) {
        bail!("[params]: parameter `{k}` must be SECTION.FIELD, for example \"array.rows\"");
    }
    let base_path = space.parent().unwrap_or(Path::new(".")).join(&h.base);
    let base: toml::Value = toml::from_str(
        &std::fs::read_to_string(&base_path)
            .with_context(|| format!("reading sweep.base {}", base_path.display()))?,
    )
    .with_context(|| format!("parsing {}", base_path.display()))?;
    // Every combination, the last parameter varying fastest.
    let keys: Vec<String> = f.params.keys().cloned().collect();
    let mut combos: Vec<Vec<toml::Value>> = vec![vec![]];
    for k in &keys {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                f.params[k].iter().map(move |v| {
                    let mut c = c.clone();
                    c.push(v.clone());
                    c
                })
            })
            .collect();
    }
    Ok(Space {
        h,
        keys,
        combos,
        gemms,
        base,
    })
}

/// `accgen sweep` (or, with `merge`, the merge of `DIR/shard-1..=N`).
pub fn sweep(space: &Path, out: &Path, shard: Option<&str>, merge: Option<usize>) -> Result<()> {
    let Space {
        h,
        keys,
        combos,
        gemms,
        base,
    } = load_space(space)?;
    if let Some(n) = merge {
        return merge_shards(&h, &keys, out, n);
    }
    let (si, sn) = match shard {
        Some(s) => super::regress::parse_shard(s)?,
        None => (1, 1),
    };
    let mine: Vec<(usize, Vec<toml::Value>)> = combos
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % sn == si - 1)
        .collect();
    let mut od = OutputDir::claim(out)?;
    let tmp = tempfile::tempdir()?;
    let t0 = Instant::now();
    let mut prog =
        crate::progress::Progress::new(&format!("sweep {}", h.name), "points", mine.len() as u64);
    let mut points = Vec::new();
    let mut skipped = Vec::new();
    for (n, (idx, vals)) in mine.iter().enumerate() {
        let params: Vec<(String, toml::Value)> = keys
            .iter()
            .map(|k| k.to_string())
            .zip(vals.iter().cloned())
            .collect();
        let label: Vec<String> = vals.iter().map(|v| v.to_string()).collect();
        let (cfg_text, cfg) = match point_config(&base, &params) {
            Ok(c) => c,
            Err(e) => {
                skipped.push(format!("point {idx} ({}): {e:#}", label.join(", ")));
                prog.set(n as u64 + 1);
                continue;
            }
        };
        let dir: PathBuf = tmp.path().join(format!("p{idx}"));
        std::fs::create_dir_all(&dir)?;
        let cfg_path = dir.join("config.toml");
        std::fs::write(&cfg_path, &cfg_text)?;
        let cycles = cycles_of(&h.target, &cfg_path, &gemms, &dir)
            .with_context(|| format!("point {idx} ({})", label.join(", ")))?;
        let (luts, dsps, bram18) = if h.resources == "yosys" {
            yosys_resources(&h.target, &cfg, &dir)
                .with_context(|| format!("point {idx}: resources"))?
        } else {
            let r = accgen_golden::board::estimate(&cfg);
            (r.luts, r.dsps, r.bram18)
        };
        let fmax = if h.timing {
            Some(
                fmax(&h.target, &cfg_path, &cfg, &dir)
                    .with_context(|| format!("point {idx}: timing"))?,
            )
        } else {
            None
        };
        points.push(Point {
            values: label,
            cycles,
            luts,
            dsps,
            bram18,
            fmax,
        });
        prog.set(n as u64 + 1);
    }
    prog.finish();
    if points.is_empty() && shard.is_none() {
        bail!(
            "no point of the sweep is a valid config: {}",
            skipped.join("; ")
        );
    }
    report(&mut od, &h, &keys, &points, shard.is_some())?;
    od.finish(serde_json::Map::new())?;
    for s in &skipped {
        println!("skipped {s}");
    }
    println!(
        "sweep `{}`: {} points in {:.1} s; wrote {}/results.csv{}",
        h.name,
        points.len(),
        t0.elapsed().as_secs_f64(),
        out.display(),
        if points.is_empty() {
            ""
        } else {
            " and the plots"
        }
    );
    Ok(())
}

/// Write `results.csv` and (for a non-empty sweep) the Pareto plots into `od`, and
/// print the ranked table.
fn report(
    od: &mut OutputDir,
    h: &SweepHeader,
    keys: &[String],
    points: &[Point],
    allow_empty: bool,
) -> Result<()> {
    if points.is_empty() && !allow_empty {
        bail!("the sweep has no points");
    }
    // results.csv
    let mut csv = String::new();
    csv.push_str(
        &keys
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    csv.push_str(",cycles,luts,dsps,bram18,fmax_mhz\n");
    for p in points {
        csv.push_str(&format!(
            "{},{},{},{},{},{}\n",
            p.values.join(","),
            p.cycles,
            p.luts,
            p.dsps,
            p.bram18,
            p.fmax.map(|f| format!("{f:.1}")).unwrap_or_default()
        ));
    }
    od.write("results.csv", csv.as_bytes())?;
    if points.is_empty() {
        return Ok(());
    }
    font()?;
    let mut plots: Vec<(&str, &str, Cost)> = vec![
        (
            "cycles_vs_dsp",
            "DSP slices",
            Box::new(|p: &Point| p.dsps as f64),
        ),
        ("cycles_vs_lut", "LUTs", Box::new(|p: &Point| p.luts as f64)),
    ];
    if h.timing {
        // Lower is better on both axes: plot the clock period.
        plots.push((
            "cycles_vs_period",
            "clock period (ns) = 1000 / Fmax",
            Box::new(|p: &Point| 1000.0 / p.fmax.unwrap_or(1.0)),
        ));
    }
    for (stem, xlabel, cost) in &plots {
        for ext in ["svg", "png"] {
            let p = od.reserve(&format!("{stem}.{ext}"))?;
            plot(
                &p,
                &format!("{}: cycles vs {xlabel}", h.name),
                xlabel,
                points,
                cost.as_ref(),
            )?;
        }
    }
    // The ranked table.
    let front: std::collections::BTreeSet<usize> = plots
        .iter()
        .flat_map(|(_, _, c)| pareto(points, c.as_ref()))
        .collect();
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by_key(|&i| points[i].cycles);
    println!(
        "{:>4}  {:<32} {:>10} {:>8} {:>6} {:>7} {:>8}  pareto",
        "rank",
        keys.iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        "cycles",
        "LUT",
        "DSP",
        "BRAM18",
        "Fmax"
    );
    for (r, &i) in order.iter().enumerate() {
        let p = &points[i];
        println!(
            "{:>4}  {:<32} {:>10} {:>8} {:>6} {:>7} {:>8}  {}",
            r + 1,
            p.values.join(" "),
            p.cycles,
            p.luts,
            p.dsps,
            p.bram18,
            p.fmax
                .map(|f| format!("{f:.1}"))
                .unwrap_or_else(|| "-".into()),
            if front.contains(&i) { "*" } else { "" }
        );
    }
    Ok(())
}

/// The Slurm files of a sweep with `n` shards, relative to its output directory.
fn slurm_files(n: usize) -> Vec<String> {
    let mut v: Vec<String> = ["array.sbatch", "merge.sbatch", "merge.log"]
        .iter()
        .map(|f| format!("slurm/{f}"))
        .collect();
    v.extend((1..=n).map(|k| format!("slurm/shard-{k}.log")));
    v
}

/// Merge `out/shard-1..=n/results.csv` into `out` (results, plots, table).
fn merge_shards(h: &SweepHeader, keys: &[String], out: &Path, n: usize) -> Result<()> {
    if !(1..=10_000).contains(&n) {
        bail!("--merge {n} is outside the allowed range 1..=10000");
    }
    let header = format!("{},cycles,luts,dsps,bram18,fmax_mhz", keys.join(","));
    let mut points = Vec::new();
    for k in 1..=n {
        let p = out.join(format!("shard-{k}")).join("results.csv");
        let text = std::fs::read_to_string(&p)
            .with_context(|| format!("reading shard {k}'s {} (did it run?)", p.display()))?;
        let mut lines = text.lines();
        if lines.next() != Some(header.as_str()) {
            bail!(
                "{}: its header is not `{header}` (a shard of another sweep?)",
                p.display()
            );
        }
        for (i, l) in lines.enumerate() {
            let bad = || format!("{} line {}: `{l}` is not a result row", p.display(), i + 2);
            let f: Vec<&str> = l.rsplitn(6, ',').collect();
            if f.len() != 6 {
                bail!("{}", bad());
            }
            let num = |s: &str| s.parse::<u64>().with_context(bad);
            let values: Vec<String> = f[5].split(',').map(String::from).collect();
            if values.len() != keys.len() {
                bail!("{}", bad());
            }
            points.push(Point {
                values,
                cycles: num(f[4])?,
                luts: num(f[3])?,
                dsps: num(f[2])?,
                bram18: num(f[1])?,
                fmax: if f[0].is_empty() {
                    None
                } else {
                    Some(f[0].parse::<f64>().with_context(bad)?)
                },
            });
        }
    }
    let mut od = OutputDir::claim(out)?;
    for f in slurm_files(n) {
        od.reserve(&f)?;
    }
    report(&mut od, h, keys, &points, false)?;
    od.finish(serde_json::Map::new())?;
    println!(
        "sweep `{}`: merged {} points from {n} shards into {}/results.csv and the plots",
        h.name,
        points.len(),
        out.display()
    );
    Ok(())
}

/// `accgen sweep SPACE --out DIR --slurm N`: an `sbatch` array whose task k sweeps
/// shard k/N into `DIR/shard-k`, and a merge job after it that writes `DIR/results.csv`,
/// the plots and the table (`DIR/slurm/merge.log`).
pub fn slurm(space: &Path, out: &Path, o: &super::regress::SlurmOpts) -> Result<()> {
    use super::regress::sh_quote;
    let sp = load_space(space)?;
    let n = o.shards;
    if !(1..=10_000).contains(&n) {
        bail!("--slurm {n} is outside the allowed range 1..=10000");
    }
    if Command::new("sbatch").arg("--version").output().is_err() {
        bail!("sbatch was not found: run this on a Slurm login node (or start scripts/slurm-local.sh)");
    }
    let space = std::fs::canonicalize(space)?;
    let exe = std::env::current_exe()?;
    let mut od = OutputDir::claim(out)?;
    let out = std::fs::canonicalize(out)?;
    for f in slurm_files(n) {
        let p = od.reserve(&f)?;
        if f.ends_with(".log") && p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    let cache_line = o
        .cache
        .map(|c| -> Result<String> {
            std::fs::create_dir_all(c)
                .with_context(|| format!("creating the cache directory {}", c.display()))?;
            Ok(format!(
                "export ACCGEN_CACHE_DIR={}\n",
                sh_quote(&std::fs::canonicalize(c)?)
            ))
        })
        .transpose()?
        .unwrap_or_default();
    let array = format!(
        "#!/bin/sh\n# Written by accgen sweep --slurm: task k of {n} sweeps shard k of `{name}`.\n\
         #SBATCH --job-name=accgen-sweep\n{cache_line}\
         exec {exe} sweep {space} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --out {out}/shard-\"$SLURM_ARRAY_TASK_ID\"\n",
        name = sp.h.name,
        exe = sh_quote(&exe),
        space = sh_quote(&space),
        out = sh_quote(&out),
    );
    let merge = format!(
        "#!/bin/sh\n# Written by accgen sweep --slurm: merge the {n} shards of `{name}`.\n\
         #SBATCH --job-name=accgen-sweep-merge\n\
         exec {exe} sweep {space} --out {out} --merge {n}\n",
        name = sp.h.name,
        exe = sh_quote(&exe),
        space = sh_quote(&space),
        out = sh_quote(&out),
    );
    od.write("slurm/array.sbatch", array.as_bytes())?;
    od.write("slurm/merge.sbatch", merge.as_bytes())?;
    od.finish(serde_json::Map::new())?;
    let what = format!("{n} shards of sweep `{}`", sp.h.name);
    let merged = super::regress::submit(&out.join("slurm"), n, o, &what)?;
    if o.wait {
        let log = std::fs::read_to_string(out.join("slurm/merge.log")).unwrap_or_default();
        print!("{log}");
        if !merged || !out.join("results.csv").exists() {
            bail!(
                "the sweep's merge job failed (see {} and the shard logs)",
                out.join("slurm/merge.log").display()
            );
        }
    }
    Ok(())
}
