//! `accgen fuzz --unit U --seed S --count N`: random valid configs and random inputs,
//! each co-simulated (`accgen sim U`, hostile traffic from a random initial state)
//! against golden.
//!
//! Per draw `i` (seed `S` and `i` fix everything): a config of unit `U` with every
//! field drawn from its allowed range (small lane counts, so each Verilator build
//! takes seconds) and rejected and drawn again when `validate` refuses it, an input
//! tensor of 1..=6 rows of 1..=9 elements with the format's extremes, 0 and +-1 mixed
//! into random values, and a traffic seed. A failing draw is minimized (the input cut
//! to its first half, then to single rows, while it still fails) and written as a
//! reproducible case, with its config, input and golden output, into the suite
//! directory `--suite` (`suite.toml` created or extended), so `accgen regress run`
//! replays it. Exits 1 if any draw failed.
//!
//! Units: `gelu`, `requant`, `residual`. `--inject-fault` (test only) co-simulates a
//! deliberately broken unit, to check that the fuzzer finds and records a bug.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use accgen_golden::config::Config;
use accgen_golden::rng::SplitMix64;
use accgen_sim::npy::{self, Dtype, NpyArray};
use anyhow::{bail, Context, Result};

/// A drawn case: the config text and the inputs by name.
struct Draw {
    config: String,
    inputs: Vec<(&'static str, NpyArray)>,
    seed: u64,
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

/// Draw a valid config (resampling what `validate` refuses) and its inputs.
fn draw(unit: &str, seed: u64, i: u64) -> Result<Draw> {
    let mut rng = SplitMix64::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i);
    let rounding = ["nearest-even", "half-away", "floor"];
    for _ in 0..1000 {
        let lanes = rng.range_i64(1, 4);
        let (text, in_bits) = match unit {
            "gelu" => {
                let ib = rng.range_i64(8, 12);
                let ob = rng.range_i64(4, 12);
                (
                    format!(
                        "[gelu]\nlanes = {lanes}\nin_bits = {ib}\nin_frac = {}\nout_bits = {ob}\nout_frac = {}\n",
                        rng.range_i64(0, ib - 1),
                        rng.range_i64(0, ob - 1)
                    ),
                    vec![ib as u32],
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
                (
                    format!(
                        "[requant]\nlanes = {lanes}\nin_bits = {ib}\nout_bits = {ob}\nout_signed = {signed}\nrounding = \"{}\"\nshift = {}\nzero_point = {zp}\nrelu = {}\n{bias}",
                        pick(&mut rng, &rounding),
                        rng.range_i64(-16, 47.min(ib + 4)),
                        rng.chance(0.3)
                    ),
                    vec![ib as u32],
                )
            }
            "residual" => {
                let (ab, bb, ob) = (
                    rng.range_i64(2, 16),
                    rng.range_i64(2, 16),
                    rng.range_i64(2, 16),
                );
                (
                    format!(
                        "[residual]\nlanes = {lanes}\na_bits = {ab}\na_frac = {}\nb_bits = {bb}\nb_frac = {}\nout_bits = {ob}\nout_frac = {}\nrounding = \"{}\"\n",
                        rng.range_i64(-4, 12),
                        rng.range_i64(-4, 12),
                        rng.range_i64(-4, 12),
                        pick(&mut rng, &rounding)
                    ),
                    vec![ab as u32, bb as u32],
                )
            }
            other => bail!("--unit {other} is not fuzzed (gelu, requant, residual)"),
        };
        if Config::from_toml_str(&text).is_err() {
            continue;
        }
        let (rows, cols) = (rng.range_i64(1, 6) as usize, rng.range_i64(1, 9) as usize);
        let names: &[&'static str] = if unit == "residual" {
            &["a", "b"]
        } else {
            &["x"]
        };
        let inputs = names
            .iter()
            .zip(&in_bits)
            .map(|(&n, &b)| {
                (
                    n,
                    NpyArray {
                        dtype: dtype_for(b),
                        shape: vec![rows, cols],
                        data: values(&mut rng, rows * cols, b),
                    },
                )
            })
            .collect();
        return Ok(Draw {
            config: text,
            inputs,
            seed: rng.range_i64(1, 1 << 30) as u64,
        });
    }
    bail!("no valid {unit} config in 1000 draws (a fuzzer bug)")
}

/// Co-simulate a draw in `dir`: Ok(()) or the failure's last line.
fn cosim(
    unit: &str,
    d: &Draw,
    dir: &Path,
    fault: Option<&str>,
) -> Result<std::result::Result<(), String>> {
    std::fs::create_dir_all(dir)?;
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, &d.config)?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["sim", unit, "--config"]).arg(&cfg);
    for (n, a) in &d.inputs {
        let p = dir.join(format!("{n}.npy"));
        npy::write(&p, a)?;
        cmd.arg(format!("--{n}")).arg(&p);
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
    let err = String::from_utf8_lossy(&o.stderr);
    Ok(Err(err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("failed")
        .to_string()))
}

/// The draw with every input cut to its first `rows` rows.
fn cut(d: &Draw, rows: usize) -> Draw {
    Draw {
        config: d.config.clone(),
        seed: d.seed,
        inputs: d
            .inputs
            .iter()
            .map(|(n, a)| {
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

/// Shrink a failing draw while it still fails.
fn minimize(unit: &str, d: Draw, dir: &Path, fault: Option<&str>) -> Result<Draw> {
    let mut best = d;
    loop {
        let rows = best.inputs[0].1.shape[0];
        if rows <= 1 {
            return Ok(best);
        }
        let smaller = cut(&best, rows / 2);
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
    let suite_toml = suite_dir.join("suite.toml");
    let mut text = match std::fs::read_to_string(&suite_toml) {
        Ok(t) => t,
        Err(_) => {
            "# Written by accgen fuzz: failing draws, minimized.\n[suite]\nname = \"fuzz\"\n".into()
        }
    };
    text.push_str(&format!(
        "\n[[case]]\nname = \"{name}\"\nconfig = \"{name}/config.toml\"\nunit = \"{unit}\"\ninputs = {{ {} }}\nseed = {}\n{}",
        inputs.join(", "),
        d.seed,
        fault.map(|f| format!("inject_fault = \"{f}\"\n")).unwrap_or_default()
    ));
    accgen_hw::files::write_atomic(&suite_toml, text.as_bytes())
        .with_context(|| format!("writing {}", suite_toml.display()))
}

/// `accgen fuzz`.
pub fn fuzz(
    unit: &str,
    seed: u64,
    count: u64,
    jobs: usize,
    suite: Option<&Path>,
    fault: Option<&str>,
) -> Result<()> {
    if !(1..=100_000).contains(&count) {
        bail!("--count {count} is outside the allowed range 1..=100000");
    }
    if !(1..=64).contains(&jobs) {
        bail!("--jobs {jobs} is outside the allowed range 1..=64");
    }
    draw(unit, seed, 0)?; // the unit is checked here
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
    let tmp = tempfile::tempdir()?;
    let t0 = Instant::now();
    let next = Arc::new(Mutex::new(0u64));
    let failures: Arc<Mutex<Vec<(u64, String, Draw)>>> = Arc::new(Mutex::new(Vec::new()));
    let prog = Arc::new(Mutex::new(crate::progress::Progress::new(
        &format!("fuzz {unit}"),
        "configs",
        count,
    )));
    let done = Arc::new(Mutex::new(0u64));
    let errors: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|sc| {
        for _ in 0..jobs {
            let (next, failures, prog, done, errors) = (
                next.clone(),
                failures.clone(),
                prog.clone(),
                done.clone(),
                errors.clone(),
            );
            let tmp = tmp.path().to_path_buf();
            sc.spawn(move || loop {
                let i = {
                    let mut n = next.lock().expect("next");
                    if *n >= count {
                        break;
                    }
                    *n += 1;
                    *n - 1
                };
                let r = draw(unit, seed, i).and_then(|d| {
                    let dir: PathBuf = tmp.join(format!("d{i}"));
                    let res = cosim(unit, &d, &dir, fault)?;
                    if let Err(why) = res {
                        let d = minimize(unit, d, &dir, fault)?;
                        failures.lock().expect("failures").push((i, why, d));
                    }
                    let _ = std::fs::remove_dir_all(&dir);
                    Ok(())
                });
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
    fails.sort_by_key(|f| f.0);
    for (i, why, d) in &fails {
        let name = format!("fuzz-{unit}-s{seed}-d{i}");
        println!(
            "FAIL draw {i} ({name}): {why}; minimized to {} row(s)",
            d.inputs[0].1.shape[0]
        );
        if let Some(s) = suite {
            write_case(s, unit, &name, d, fault)?;
        }
    }
    println!(
        "fuzz {unit}: {count} random configs co-simulated, {} failed (seed {seed}) in {:.1} s",
        fails.len(),
        t0.elapsed().as_secs_f64()
    );
    if !fails.is_empty() {
        if let Some(s) = suite {
            println!("wrote the failing cases into {}/suite.toml", s.display());
        }
        bail!("{} of {count} fuzzed configs failed", fails.len());
    }
    Ok(())
}
