//! `accgen fuzz --unit U --seed S --count N [--inputs K]`: random valid configs, each
//! co-simulated on K random inputs (hostile traffic from a random initial state)
//! against golden.
//!
//! Per config draw `i` (seed `S` and `i` fix everything) every field of unit `U` is
//! drawn from its allowed range (small lane counts and arrays, so each Verilator
//! build takes seconds); a config that `validate` refuses is drawn again. Each of its
//! `K` input draws `k` (seed, `i` and `k` fix it) mixes the format's extremes, 0 and
//! +-1 into random values, with random shapes (rows of 1..=max_len for softmax and
//! LayerNorm, M, K, N of 1..=12 for the arrays, B pruned to N:M for `sparse-gemm`),
//! and its own traffic seed.
//!
//! Each config runs in a child process (`accgen fuzz --worker I`, isolated from the
//! others) that builds its model once (unoptimized C++, which builds faster, since
//! the runs are short) and runs all K inputs on fresh instances of it.
//! A failing input is minimized with `accgen sim` (the streamed input cut to its first
//! half, then further, while it still fails) and written as a reproducible case, with
//! its config and inputs, into the suite directory `--suite` (`suite.toml` created or
//! extended), so `accgen regress run` replays it. Exits 1 if any case failed.
//!
//! Units: `gelu`, `requant`, `residual`, `softmax`, `layernorm`, `gemm`,
//! `sparse-gemm`, and `model`: accelerator programs, each a random model
//! (`golden::model::random_chain`: linear with every activation, add, LayerNorm,
//! reshape, softmax; up to 40 x 64 inputs, batches and tiles not multiples of the
//! array) compiled and run with `accgen run --model` on one of two small accelerators
//! (a 4x4 or 4x8 array), every tensor bit-exact against golden, with random memory
//! stalls. `--inject-fault` (test only) co-simulates a deliberately broken unit, to
//! check that the fuzzer finds and records a bug.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use accgen_golden::config::Config;
use accgen_golden::gemm::Matrix;
use accgen_golden::rng::SplitMix64;
use accgen_sim::npy::{self, Dtype, NpyArray};
use anyhow::{bail, Context, Result};

/// The fuzzed units.
pub const UNITS: &[&str] = &[
    "gelu",
    "requant",
    "residual",
    "softmax",
    "layernorm",
    "gemm",
    "sparse-gemm",
    "model",
];

/// The accelerator configs of `model` draws (array columns 4 or 8): small, so that a
/// build takes about a minute; the formats `random_chain` models need.
fn accel_config(cols: u32) -> String {
    format!(
        "[array]\nrows = 4\ncols = {cols}\n\n[requant]\nin_bits = 32\nout_bits = 8\n\n\
         [gelu]\nin_bits = 8\nin_frac = 4\nout_bits = 8\nout_frac = 4\n\n\
         [softmax]\nmax_len = 64\nin_bits = 8\nin_frac = 4\nout_bits = 8\n\n\
         [layernorm]\nmax_len = 64\n\n[residual]\n\n[accel]\nspad_kib = 16\nacc_kib = 8\n"
    )
}

/// The random model (a program for the accelerator) of `model` draw `i`.
fn draw_model(seed: u64, i: u64) -> accgen_golden::model::Model {
    let mut rng = SplitMix64::new(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ i);
    let rows = rng.range_i64(1, 40) as u32;
    let cols = rng.range_i64(1, 64) as u32;
    let len = rng.range_i64(1, 6) as usize;
    accgen_golden::model::random_chain(&mut rng, rows, cols, len)
}

/// A drawn case: the config text, the inputs by name and the traffic seed.
struct Draw {
    config: String,
    inputs: Vec<(&'static str, NpyArray)>,
    seed: u64,
    /// The model of a `model` draw.
    model: Option<accgen_golden::model::Model>,
}

fn pick<T: Copy>(rng: &mut SplitMix64, xs: &[T]) -> T {
    xs[rng.range_i64(0, xs.len() as i64 - 1) as usize]
}

/// Values for a signed `bits`-bit input: extremes, 0, +-1 and random ones.
fn values(rng: &mut SplitMix64, n: usize, bits: u32) -> Vec<i64> {
    let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
    (0..n)
        .map(|_| {
            if rng.chance(0.3) {
                pick(rng, &[lo, hi, 0, 1, -1, lo + 1, hi - 1])
            } else {
                rng.range_i64(lo, hi)
            }
        })
        .collect()
}

fn dtype_for(bits: u32) -> Dtype {
    match bits {
        0..=8 => Dtype::I8,
        9..=16 => Dtype::I16,
        17..=32 => Dtype::I32,
        _ => Dtype::I64,
    }
}

fn tensor(shape: Vec<usize>, bits: u32, rng: &mut SplitMix64) -> NpyArray {
    let n = shape.iter().product();
    NpyArray {
        dtype: dtype_for(bits),
        shape,
        data: values(rng, n, bits),
    }
}

/// The inputs whose rows stream through the unit (cut when minimizing).
fn streamed(unit: &str) -> &'static [&'static str] {
    match unit {
        "residual" => &["a", "b"],
        "gemm" | "sparse-gemm" => &["a"],
        // (A model's input has the model's shape: nothing to cut.)
        "model" => &[],
        _ => &["x"],
    }
}

/// Draw config `i`: its text (valid: resampled while `validate` refuses it).
fn draw_config(unit: &str, seed: u64, i: u64) -> Result<String> {
    let mut rng = SplitMix64::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i);
    let rounding = ["nearest-even", "half-away", "floor"];
    for _ in 0..1000 {
        let lanes = rng.range_i64(1, 4);
        let text = match unit {
            "gelu" => {
                let ib = rng.range_i64(8, 12);
                let ob = rng.range_i64(4, 12);
                format!(
                    "[gelu]\nlanes = {lanes}\nin_bits = {ib}\nin_frac = {}\nout_bits = {ob}\nout_frac = {}\n",
                    rng.range_i64(0, ib - 1),
                    rng.range_i64(0, ob - 1)
                )
            }
            "requant" => {
                let ib = rng.range_i64(8, 40);
                let ob = rng.range_i64(2, 16);
                let signed = rng.chance(0.7);
                let zp_max = if signed {
                    (1i64 << (ob - 1)) - 1
                } else {
                    (1 << ob) - 1
                };
                let zp_min = if signed { -(1i64 << (ob - 1)) } else { 0 };
                let zp = if rng.chance(0.5) {
                    0
                } else {
                    rng.range_i64(zp_min, zp_max)
                };
                let bias = if rng.chance(0.5) {
                    format!(
                        "bias = {}\n",
                        rng.range_i64(-(1 << (ib - 2)), 1 << (ib - 2))
                    )
                } else {
                    String::new()
                };
                format!(
                    "[requant]\nlanes = {lanes}\nin_bits = {ib}\nout_bits = {ob}\nout_signed = {signed}\nrounding = \"{}\"\nshift = {}\nzero_point = {zp}\nrelu = {}\n{bias}",
                    pick(&mut rng, &rounding),
                    rng.range_i64(-16, 47.min(ib + 4)),
                    rng.chance(0.3)
                )
            }
            "residual" => format!(
                "[residual]\nlanes = {lanes}\na_bits = {}\na_frac = {}\nb_bits = {}\nb_frac = {}\nout_bits = {}\nout_frac = {}\nrounding = \"{}\"\n",
                rng.range_i64(2, 16),
                rng.range_i64(-4, 12),
                rng.range_i64(2, 16),
                rng.range_i64(-4, 12),
                rng.range_i64(2, 16),
                rng.range_i64(-4, 12),
                pick(&mut rng, &rounding)
            ),
            "softmax" => {
                let ib = rng.range_i64(8, 16);
                format!(
                    "[softmax]\nlanes = {lanes}\nmax_len = {}\nin_bits = {ib}\nin_frac = {}\nout_bits = {}\n",
                    pick(&mut rng, &[2, 3, 8, 16, 17, 33, 64]),
                    rng.range_i64(0, ib - 1),
                    rng.range_i64(4, 16)
                )
            }
            "layernorm" => {
                let (ib, gb, ob) = (
                    rng.range_i64(4, 16),
                    rng.range_i64(2, 16),
                    rng.range_i64(4, 16),
                );
                format!(
                    "[layernorm]\nlanes = {lanes}\nmax_len = {}\nin_bits = {ib}\nin_frac = {}\ngamma_bits = {gb}\ngamma_frac = {}\nbeta_bits = {}\nout_bits = {ob}\nout_frac = {}\neps = {}\n",
                    pick(&mut rng, &[2, 3, 8, 16, 17, 33, 64]),
                    rng.range_i64(0, ib - 1),
                    rng.range_i64(0, gb),
                    rng.range_i64(2, 24),
                    rng.range_i64(0, ob),
                    pick(&mut rng, &[1e-5, 1e-6, 1e-3, 0.0625, 1.0])
                )
            }
            "gemm" | "sparse-gemm" => {
                let mut t = format!(
                    "[array]\nrows = {}\ncols = {}\nact_bits = {}\nweight_bits = {}\nacc_bits = {}\n",
                    rng.range_i64(1, 4),
                    rng.range_i64(1, 4),
                    rng.range_i64(2, 16),
                    rng.range_i64(2, 16),
                    rng.range_i64(8, 48)
                );
                if unit == "sparse-gemm" {
                    let m = pick(&mut rng, &[2, 4, 8, 16]);
                    t += &format!("\n[sparsity]\nn = {}\nm = {m}\n", rng.range_i64(1, m - 1));
                }
                t
            }
            "model" => accel_config(pick(&mut rng, &[4, 8])),
            other => bail!("--unit {other} is not fuzzed ({})", UNITS.join(", ")),
        };
        if Config::from_toml_str(&text).is_ok() {
            return Ok(text);
        }
    }
    bail!("no valid {unit} config in 1000 draws (a fuzzer bug)")
}

/// Draw input `k` of config `i` (whose text is `config`).
fn draw_inputs(unit: &str, config: &str, seed: u64, i: u64, k: u64) -> Result<Draw> {
    let cfg = Config::from_toml_str(config)?;
    let mut rng = SplitMix64::new(
        seed.wrapping_mul(0xD1B5_4A32_D192_ED03)
            ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ k.wrapping_add(1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
    );
    let rows = rng.range_i64(1, 6) as usize;
    let cols = rng.range_i64(1, 9) as usize;
    let inputs: Vec<(&'static str, NpyArray)> = match unit {
        "gelu" => {
            let g = cfg.gelu.as_ref().context("[gelu]")?;
            vec![("x", tensor(vec![rows, cols], g.in_bits, &mut rng))]
        }
        "requant" => {
            let r = cfg.requant.as_ref().context("[requant]")?;
            vec![("x", tensor(vec![rows, cols], r.in_bits, &mut rng))]
        }
        "residual" => {
            let r = cfg.residual.as_ref().context("[residual]")?;
            vec![
                ("a", tensor(vec![rows, cols], r.a_bits, &mut rng)),
                ("b", tensor(vec![rows, cols], r.b_bits, &mut rng)),
            ]
        }
        "softmax" => {
            let s = cfg.softmax.as_ref().context("[softmax]")?;
            let len = rng.range_i64(1, s.max_len as i64) as usize;
            vec![("x", tensor(vec![rows, len], s.in_bits, &mut rng))]
        }
        "layernorm" => {
            let l = cfg.layernorm.as_ref().context("[layernorm]")?;
            let len = rng.range_i64(1, l.max_len as i64) as usize;
            vec![
                ("x", tensor(vec![rows, len], l.in_bits, &mut rng)),
                ("gamma", tensor(vec![len], l.gamma_bits, &mut rng)),
                ("beta", tensor(vec![len], l.beta_bits, &mut rng)),
            ]
        }
        "gemm" | "sparse-gemm" => {
            let a = cfg.array.as_ref().context("[array]")?;
            let (m, kk, n) = (
                rng.range_i64(1, 12) as usize,
                rng.range_i64(1, 12) as usize,
                rng.range_i64(1, 12) as usize,
            );
            let am = tensor(vec![m, kk], a.act_bits, &mut rng);
            let mut bm = tensor(vec![kk, n], a.weight_bits, &mut rng);
            if let Some(sp) = cfg.sparsity {
                let pruned =
                    accgen_golden::nm_sparse::prune(&Matrix::from_vec(kk, n, bm.data.clone()), sp);
                bm.data = pruned.data;
            }
            vec![("a", am), ("b", bm)]
        }
        "model" => {
            let m = draw_model(seed, i);
            let x = &m.tensors[&m.input];
            vec![(
                "x",
                tensor(vec![x.rows as usize, x.cols as usize], 8, &mut rng),
            )]
        }
        other => bail!("--unit {other} is not fuzzed ({})", UNITS.join(", ")),
    };
    Ok(Draw {
        config: config.to_string(),
        inputs,
        seed: rng.range_i64(1, 1 << 30) as u64,
        model: (unit == "model").then(|| draw_model(seed, i)),
    })
}

/// Write the draw's config and inputs into `dir`; the input paths by name.
fn write_draw(d: &Draw, dir: &Path) -> Result<(PathBuf, Vec<(&'static str, PathBuf)>)> {
    std::fs::create_dir_all(dir)?;
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, &d.config)?;
    let mut paths = Vec::new();
    for (n, a) in &d.inputs {
        let p = dir.join(format!("{n}.npy"));
        npy::write(&p, a)?;
        paths.push((*n, p));
    }
    Ok((cfg, paths))
}

/// Run `accgen sim <unit>` (or, for `model`, `accgen run --model` of the model in
/// `model_dir`) in this process.
fn sim_in_process(
    unit: &str,
    args: &super::sim::SimArgs,
    p: &[(&str, PathBuf)],
    model_dir: &Path,
) -> Result<()> {
    let get = |n: &str| -> &Path { &p.iter().find(|(k, _)| *k == n).expect("drawn").1 };
    match unit {
        "model" => {
            let cfg = super::generate::load_config(&args.config)?;
            let run = super::run::RunArgs {
                config: &args.config,
                program: None,
                model: Some(model_dir),
                input: Some(get("x")),
                gemm: None,
                epilogue: accgen_golden::gemm_program::GemmEpilogue::Requant,
                a: None,
                b: None,
                out: None,
                loads: &[],
                dumps: &[],
                prog_addr: None,
                json: None,
                force: false,
                golden_only: false,
                vcd: None,
                mem_latency: 20,
                stall: 0.1,
                seed: args.seed,
            };
            super::model::run_model(&run, &cfg, model_dir)
        }
        "gelu" => super::stream::gelu(args, get("x")),
        "requant" => super::stream::requant(args, get("x")),
        "softmax" => super::stream::softmax(args, get("x")),
        "residual" => super::residual::residual(args, get("a"), get("b")),
        "layernorm" => super::layernorm::layernorm(args, get("x"), get("gamma"), get("beta")),
        "gemm" => super::sim::gemm(args, get("a"), get("b")),
        // (Without the dense reference run: only the sparse array is fuzzed.)
        "sparse-gemm" => super::sim::sparse_gemm(args, get("a"), get("b"), false, false),
        other => bail!("--unit {other} is not fuzzed ({})", UNITS.join(", ")),
    }
}

/// The last non-empty line of a message.
fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("failed")
        .trim()
        .to_string()
}

/// `accgen fuzz --worker I` (internal): config `i` on `inputs` input draws, one model
/// built once, each input on a fresh instance. Prints `FUZZ-FAIL k: why` per failing
/// input, then `FUZZ-DONE`.
pub fn worker(unit: &str, seed: u64, i: u64, inputs: u64, fault: Option<&str>) -> Result<()> {
    super::sim::keep_quick_models();
    let config = draw_config(unit, seed, i)?;
    let fault = fault
        .map(|f| f.parse::<accgen_sim::fault::Fault>())
        .transpose()
        .map_err(|e| anyhow::anyhow!("--inject-fault: {e}"))?;
    let tmp = tempfile::tempdir()?;
    let model_dir = tmp.path().join("model");
    if unit == "model" {
        std::fs::create_dir_all(&model_dir)?;
        super::model::write_model_dir(&draw_model(seed, i), &model_dir)?;
    }
    for k in 0..inputs {
        let d = draw_inputs(unit, &config, seed, i, k)?;
        let dir = tmp.path().join(format!("k{k}"));
        let (cfg, paths) = write_draw(&d, &dir)?;
        let args = super::sim::SimArgs {
            config: cfg,
            out: None,
            vcd: None,
            json: None,
            force: false,
            input_gaps: 0.1,
            backpressure: 0.1,
            seed: d.seed,
            x_init_seed: d.seed,
            inject_fault: fault,
        };
        if let Err(e) = sim_in_process(unit, &args, &paths, &model_dir) {
            println!("FUZZ-FAIL {k}: {}", last_line(&format!("{e:#}")));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("FUZZ-DONE");
    Ok(())
}

/// Run config `i` in a worker process: the failing inputs (index, why).
fn run_worker(
    unit: &str,
    seed: u64,
    i: u64,
    inputs: u64,
    fault: Option<&str>,
) -> Result<Vec<(u64, String)>> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["fuzz", "--unit", unit, "--seed", &seed.to_string()])
        .args(["--worker", &i.to_string(), "--inputs", &inputs.to_string()]);
    if let Some(f) = fault {
        cmd.args(["--inject-fault", f]);
    }
    let o = cmd.output().context("starting an accgen fuzz worker")?;
    let out = String::from_utf8_lossy(&o.stdout);
    let mut fails: Vec<(u64, String)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("FUZZ-FAIL "))
        .filter_map(|l| {
            let (k, why) = l.split_once(": ")?;
            Some((k.parse().ok()?, why.to_string()))
        })
        .collect();
    if !o.status.success() || !out.lines().any(|l| l == "FUZZ-DONE") {
        // A crash (or an error outside the runs) fails the input it stopped at.
        let at = fails.last().map_or(0, |f| f.0 + 1).min(inputs - 1);
        fails.push((
            at,
            format!(
                "the worker stopped ({}): {}",
                o.status,
                last_line(&String::from_utf8_lossy(&o.stderr))
            ),
        ));
    }
    Ok(fails)
}

/// Co-simulate a draw with `accgen sim` in `dir`: Ok(()) or the failure's last line.
fn cosim(
    unit: &str,
    d: &Draw,
    dir: &Path,
    fault: Option<&str>,
) -> Result<std::result::Result<(), String>> {
    let (cfg, paths) = write_draw(d, dir)?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["sim", unit, "--config"]).arg(&cfg);
    for (n, p) in &paths {
        cmd.arg(format!("--{n}")).arg(p);
    }
    cmd.args([
        "--seed",
        &d.seed.to_string(),
        "--x-init-seed",
        &d.seed.to_string(),
    ]);
    if let Some(f) = fault {
        cmd.args(["--inject-fault", f]);
    }
    let o = cmd.output().context("starting accgen sim")?;
    if o.status.success() {
        return Ok(Ok(()));
    }
    Ok(Err(last_line(&String::from_utf8_lossy(&o.stderr))))
}

/// The draw with every streamed input cut to its first `rows` rows.
fn cut(unit: &str, d: &Draw, rows: usize) -> Draw {
    Draw {
        config: d.config.clone(),
        seed: d.seed,
        model: d.model.clone(),
        inputs: d
            .inputs
            .iter()
            .map(|(n, a)| {
                if !streamed(unit).contains(n) {
                    return (*n, a.clone());
                }
                let cols = a.shape[1];
                (
                    *n,
                    NpyArray {
                        dtype: a.dtype,
                        shape: vec![rows, cols],
                        data: a.data[..rows * cols].to_vec(),
                    },
                )
            })
            .collect(),
    }
}

/// Rows of the draw's streamed input.
fn rows_of(unit: &str, d: &Draw) -> usize {
    let Some(first) = streamed(unit).first() else {
        return 0;
    };
    d.inputs
        .iter()
        .find(|(n, _)| n == first)
        .map_or(0, |(_, a)| a.shape[0])
}

/// Shrink a failing draw while it still fails (with `accgen sim`, as a replay would).
fn minimize(unit: &str, d: Draw, dir: &Path, fault: Option<&str>) -> Result<Draw> {
    let mut best = d;
    loop {
        let rows = rows_of(unit, &best);
        if rows <= 1 {
            return Ok(best);
        }
        let smaller = cut(unit, &best, rows / 2);
        if cosim(unit, &smaller, dir, fault)?.is_err() {
            best = smaller;
        } else {
            return Ok(best);
        }
    }
}

/// Write a failing draw as a case of the suite in `suite_dir`.
fn write_case(
    suite_dir: &Path,
    unit: &str,
    name: &str,
    d: &Draw,
    fault: Option<&str>,
) -> Result<()> {
    let case_dir = suite_dir.join(name);
    if case_dir.exists() && !suite_dir.join("suite.toml").exists() {
        bail!(
            "{} exists in a suite directory accgen fuzz did not write; choose another --suite",
            case_dir.display()
        );
    }
    std::fs::create_dir_all(&case_dir)
        .with_context(|| format!("creating {}", case_dir.display()))?;
    std::fs::write(case_dir.join("config.toml"), &d.config)?;
    let mut inputs = Vec::new();
    for (n, a) in &d.inputs {
        npy::write(&case_dir.join(format!("{n}.npy")), a)?;
        inputs.push(format!("{n} = \"{name}/{n}.npy\""));
    }
    let model_line = match &d.model {
        Some(m) => {
            std::fs::create_dir_all(case_dir.join("model"))?;
            super::model::write_model_dir(m, &case_dir.join("model"))?;
            format!("model = \"{name}/model\"\n")
        }
        None => String::new(),
    };
    let suite_toml = suite_dir.join("suite.toml");
    let mut text = match std::fs::read_to_string(&suite_toml) {
        Ok(t) => t,
        Err(_) => {
            "# Written by accgen fuzz: failing draws, minimized.\n[suite]\nname = \"fuzz\"\n".into()
        }
    };
    text.push_str(&format!(
        "\n[[case]]\nname = \"{name}\"\nconfig = \"{name}/config.toml\"\nunit = \"{unit}\"\n{model_line}inputs = {{ {} }}\nseed = {}\n{}",
        inputs.join(", "),
        d.seed,
        fault.map(|f| format!("inject_fault = \"{f}\"\n")).unwrap_or_default()
    ));
    accgen_hw::files::write_atomic(&suite_toml, text.as_bytes())
        .with_context(|| format!("writing {}", suite_toml.display()))
}

/// A failing config: its index, the failing inputs, the first one minimized.
struct Failure {
    i: u64,
    k: u64,
    why: String,
    failed_inputs: usize,
    draw: Draw,
}

/// What `accgen fuzz` runs: draws `0..count` (those of `shard` I/N: I-1, I-1+N, ...),
/// `inputs` each, `jobs` at a time.
pub struct FuzzPlan<'a> {
    /// The unit.
    pub unit: &'a str,
    /// Seed of every draw.
    pub seed: u64,
    /// Config draws.
    pub count: u64,
    /// Input draws per config.
    pub inputs: u64,
    /// Configs at a time.
    pub jobs: usize,
    /// This run's shard (I, N), 1-based.
    pub shard: (usize, usize),
}

/// `accgen fuzz`.
pub fn fuzz(plan: &FuzzPlan, suite: Option<&Path>, fault: Option<&str>) -> Result<()> {
    let FuzzPlan {
        unit,
        seed,
        count,
        inputs,
        jobs,
        shard: (si, sn),
    } = *plan;
    if !(1..=100_000).contains(&count) {
        bail!("--count {count} is outside the allowed range 1..=100000");
    }
    if !(1..=10_000).contains(&inputs) {
        bail!("--inputs {inputs} is outside the allowed range 1..=10000");
    }
    if !(1..=64).contains(&jobs) {
        bail!("--jobs {jobs} is outside the allowed range 1..=64");
    }
    draw_config(unit, seed, 0)?; // the unit is checked here
    if let Some(s) = suite {
        if s.join("suite.toml").exists() {
            let t = std::fs::read_to_string(s.join("suite.toml"))?;
            if !t.starts_with("# Written by accgen fuzz") {
                bail!(
                    "--suite {}: its suite.toml was not written by accgen fuzz; choose another directory",
                    s.display()
                );
            }
        }
    }
    let mine: Vec<u64> = (0..count)
        .filter(|i| (*i % sn as u64) as usize == si - 1)
        .collect();
    let mine = Arc::new(mine);
    let tmp = tempfile::tempdir()?;
    let t0 = Instant::now();
    let next = Arc::new(Mutex::new(0usize));
    let failures: Arc<Mutex<Vec<Failure>>> = Arc::new(Mutex::new(Vec::new()));
    let prog = Arc::new(Mutex::new(crate::progress::Progress::new(
        &format!("fuzz {unit}"),
        "configs",
        mine.len() as u64,
    )));
    let done = Arc::new(Mutex::new(0u64));
    let errors: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|sc| {
        for _ in 0..jobs {
            let (next, failures, prog, done, errors, mine) = (
                next.clone(),
                failures.clone(),
                prog.clone(),
                done.clone(),
                errors.clone(),
                mine.clone(),
            );
            let tmp = tmp.path().to_path_buf();
            sc.spawn(move || loop {
                let i = {
                    let mut n = next.lock().expect("next");
                    if *n >= mine.len() {
                        break;
                    }
                    *n += 1;
                    mine[*n - 1]
                };
                let r = (|| -> Result<()> {
                    let fails = run_worker(unit, seed, i, inputs, fault)?;
                    if let Some((k, why)) = fails.first() {
                        let config = draw_config(unit, seed, i)?;
                        let d = draw_inputs(unit, &config, seed, i, *k)?;
                        let dir: PathBuf = tmp.join(format!("d{i}"));
                        let draw = minimize(unit, d, &dir, fault)?;
                        let _ = std::fs::remove_dir_all(&dir);
                        failures.lock().expect("failures").push(Failure {
                            i,
                            k: *k,
                            why: why.clone(),
                            failed_inputs: fails.len(),
                            draw,
                        });
                    }
                    Ok(())
                })();
                if let Err(e) = r {
                    errors
                        .lock()
                        .expect("errors")
                        .push(format!("draw {i}: {e:#}"));
                }
                let mut n = done.lock().expect("done");
                *n += 1;
                prog.lock().expect("progress").set(*n);
            });
        }
    });
    prog.lock().expect("progress").finish();
    if let Some(e) = errors.lock().expect("errors").first() {
        bail!("the fuzzer could not run: {e}");
    }
    let mut fails = std::mem::take(&mut *failures.lock().expect("failures"));
    fails.sort_by_key(|f| f.i);
    for f in &fails {
        let name = if f.k == 0 {
            format!("fuzz-{unit}-s{seed}-d{}", f.i)
        } else {
            format!("fuzz-{unit}-s{seed}-d{}-k{}", f.i, f.k)
        };
        let size = match rows_of(unit, &f.draw) {
            0 => "the model's input (not minimized)".to_string(),
            r => format!("minimized to {r} row(s)"),
        };
        println!(
            "FAIL draw {} input {} ({name}): {}; {size}; {} of {inputs} inputs of this config failed",
            f.i, f.k, f.why, f.failed_inputs
        );
        if let Some(s) = suite {
            write_case(s, unit, &name, &f.draw, fault)?;
        }
    }
    let failed_cases: usize = fails.iter().map(|f| f.failed_inputs).sum();
    let configs = mine.len() as u64;
    let cases = configs * inputs;
    let of_shard = if sn > 1 {
        format!(", shard {si}/{sn} of {count} draws")
    } else {
        String::new()
    };
    println!(
        "fuzz {unit}: {configs} random configs x {inputs} inputs = {cases} cases co-simulated, {failed_cases} failed, in {} configs (seed {seed}{of_shard}) in {:.1} s",
        fails.len(),
        t0.elapsed().as_secs_f64()
    );
    if !fails.is_empty() {
        if let Some(s) = suite {
            println!("wrote the failing cases into {}/suite.toml", s.display());
        }
        bail!(
            "{failed_cases} of {cases} fuzzed cases failed, in {} of {configs} configs",
            fails.len()
        );
    }
    Ok(())
}
