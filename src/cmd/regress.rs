//! `accgen regress`: recorded golden suites, run on the RTL, sharded, reported as
//! JUnit XML.
//!
//! A suite is a directory with `suite.toml`:
//!
//! ```toml
//! [suite]
//! name = "units"
//!
//! [[case]]
//! name = "gelu-every-input"
//! config = "../configs/nonlinear.toml"   # paths are relative to the suite directory
//! unit = "gelu"        # requant | gelu | softmax | layernorm | residual | gemm | sparse-gemm | model
//! inputs = { x = "inputs/gelu.npy" }      # x; a, b (residual, gemm, sparse-gemm); x, gamma, beta (layernorm)
//! # model = "../models/block_example"     # with unit = "model": the model directory, input x
//! # expected = "expected/gelu-every-input.npy"   # default: expected/<name>.npy
//! # cycles = 1234          # optional, with cycles_tolerance (relative, default 0)
//! # seed = 3               # traffic and initial-state seed (default 1)
//! # inject_fault = "flip:3"  # a deliberately broken model (sim units only)
//! ```
//!
//! - **`regress record SUITE`** writes every case's expected output from the golden
//!   model alone (never the RTL) into `SUITE/expected/` (an accgen output directory:
//!   only files it wrote are ever replaced).
//! - **`regress run SUITE`** runs each case as the CLI would (`accgen sim <unit>`, or
//!   `accgen run --model`, in a child process, hostile traffic by default), then
//!   compares the RTL's output with the recorded one and with golden computed again,
//!   and the cycles with `cycles` when given. The first case of each distinct (config,
//!   unit) runs before the others, so every Verilator model is built once (the build
//!   cache serves the rest). `--shard I/N` takes cases I, I+N, ... (1-based, in file
//!   order); `--jobs J` runs J cases at a time; `--failed-from OUT.json` only the
//!   cases that failed there. Writes JUnit XML (`quick-junit`) and JSON; exits 1 if
//!   any case failed.
//! - **`regress merge PARTS... --junit ALL.xml`** combines shards' JUnit files, test
//!   cases sorted by name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accgen_golden::gemm::{gemm, Matrix};
use accgen_sim::npy::{self, Dtype, NpyArray};
use anyhow::{bail, Context, Result};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Deserialize;
use serde_json::json;

use crate::outdir::OutputDir;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    suite: SuiteHeader,
    #[serde(rename = "case", default)]
    cases: Vec<CaseSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteHeader {
    name: String,
}

/// One case of a suite.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseSpec {
    pub(crate) name: String,
    pub(crate) config: String,
    pub(crate) unit: String,
    #[serde(default)]
    pub(crate) inputs: BTreeMap<String, String>,
    model: Option<String>,
    expected: Option<String>,
    cycles: Option<u64>,
    cycles_tolerance: Option<f64>,
    seed: Option<u64>,
    inject_fault: Option<String>,
}

/// The inputs each unit takes.
fn unit_inputs(unit: &str) -> Option<&'static [&'static str]> {
    Some(match unit {
        "requant" | "gelu" | "softmax" | "model" => &["x"],
        "layernorm" => &["x", "gamma", "beta"],
        "residual" | "gemm" | "sparse-gemm" => &["a", "b"],
        _ => return None,
    })
}

/// A loaded, checked suite.
pub(crate) struct Suite {
    dir: PathBuf,
    pub(crate) name: String,
    cases: Vec<CaseSpec>,
}

/// Load and check `dir/suite.toml`.
pub(crate) fn load_suite(dir: &Path) -> Result<Suite> {
    let path = dir.join("suite.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the suite file {}", path.display()))?;
    let f: SuiteFile =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut seen = BTreeSet::new();
    for c in &f.cases {
        if !seen.insert(c.name.clone()) {
            bail!("{}: case `{}` is defined twice", path.display(), c.name);
        }
        if c.name.is_empty()
            || !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        {
            bail!(
                "{}: case name `{}` must be non-empty ASCII letters, digits, `-`, `_` or `.`",
                path.display(),
                c.name
            );
        }
        let Some(want) = unit_inputs(&c.unit) else {
            bail!(
                "{}: case `{}`: unit = `{}` is not supported (requant, gelu, softmax, layernorm, residual, gemm, sparse-gemm, model)",
                path.display(),
                c.name,
                c.unit
            );
        };
        let have: BTreeSet<&str> = c.inputs.keys().map(String::as_str).collect();
        if have != want.iter().copied().collect() {
            bail!(
                "{}: case `{}`: unit `{}` takes the inputs {want:?}, the case gives {have:?}",
                path.display(),
                c.name,
                c.unit
            );
        }
        if (c.unit == "model") != c.model.is_some() {
            bail!(
                "{}: case `{}`: `model` is required with unit = \"model\" and allowed only there",
                path.display(),
                c.name
            );
        }
        if let Some(t) = c.cycles_tolerance {
            if !(0.0..=10.0).contains(&t) {
                bail!(
                    "{}: case `{}`: cycles_tolerance = {t} is outside 0..=10",
                    path.display(),
                    c.name
                );
            }
        }
    }
    Ok(Suite {
        dir: dir.to_path_buf(),
        name: f.suite.name,
        cases: f.cases,
    })
}

impl Suite {
    /// A path of the suite (relative to its directory).
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The case called `name`.
    pub(crate) fn case(&self, name: &str) -> Option<&CaseSpec> {
        self.cases.iter().find(|c| c.name == name)
    }

    fn expected(&self, c: &CaseSpec) -> PathBuf {
        match &c.expected {
            Some(e) => self.path(e),
            None => self.dir.join("expected").join(format!("{}.npy", c.name)),
        }
    }
}

/// A config section a case needs.
fn need<T>(v: Option<T>, case: &str, sec: &str) -> Result<T> {
    v.with_context(|| format!("case `{case}`: the config has no [{sec}] section"))
}

/// The golden output of a case: (shape, values).
pub(crate) fn golden(s: &Suite, c: &CaseSpec) -> Result<(Vec<usize>, Vec<i64>)> {
    let cfg = super::generate::load_config(&s.path(&c.config))?;
    let input = |k: &str| -> Result<NpyArray> {
        let p = s.path(&c.inputs[k]);
        npy::read(&p).with_context(|| format!("case `{}`: input `{k}` ({})", c.name, p.display()))
    };
    let rows_of = |x: &NpyArray| -> usize { *x.shape.last().unwrap_or(&1) };
    let err = |e: String| anyhow::anyhow!("case `{}`: {e}", c.name);
    Ok(match c.unit.as_str() {
        "requant" => {
            let rq = need(cfg.requant.as_ref(), &c.name, "requant")?;
            let x = input("x")?;
            let y = x
                .data
                .iter()
                .enumerate()
                .map(|(i, &v)| accgen_golden::requant::requant(rq, i % rq.lanes as usize, v))
                .collect();
            (x.shape, y)
        }
        "gelu" => {
            let u = accgen_golden::gelu::GeluUnit::new(need(cfg.gelu.as_ref(), &c.name, "gelu")?);
            let x = input("x")?;
            let y = x.data.iter().map(|&v| u.eval(v)).collect();
            (x.shape, y)
        }
        "softmax" => {
            let u = accgen_golden::softmax::SoftmaxUnit::new(need(
                cfg.softmax.as_ref(),
                &c.name,
                "softmax",
            )?);
            let x = input("x")?;
            let mut y = Vec::new();
            for r in x.data.chunks(rows_of(&x)) {
                y.extend(u.row(r).map_err(|e| err(e.0))?);
            }
            (x.shape, y)
        }
        "layernorm" => {
            let ln = need(cfg.layernorm.as_ref(), &c.name, "layernorm")?;
            let (x, g, b) = (input("x")?, input("gamma")?, input("beta")?);
            let mut y = Vec::new();
            for r in x.data.chunks(rows_of(&x)) {
                y.extend(
                    accgen_golden::layernorm::layernorm_row(ln, r, &g.data, &b.data)
                        .map_err(|e| err(e.0))?,
                );
            }
            (x.shape, y)
        }
        "residual" => {
            let rc = need(cfg.residual.as_ref(), &c.name, "residual")?;
            let (a, b) = (input("a")?, input("b")?);
            let y = accgen_golden::residual::residual_add(rc, &a.data, &b.data)
                .map_err(|e| err(e.0))?;
            (a.shape, y)
        }
        "gemm" | "sparse-gemm" => {
            let arr = need(cfg.array.as_ref(), &c.name, "array")?;
            let (a, b) = (input("a")?, input("b")?);
            if a.shape.len() != 2 || b.shape.len() != 2 || a.shape[1] != b.shape[0] {
                bail!(
                    "case `{}`: A {:?} and B {:?} are not M x K and K x N",
                    c.name,
                    a.shape,
                    b.shape
                );
            }
            let am = Matrix::from_vec(a.shape[0], a.shape[1], a.data);
            let bm = Matrix::from_vec(b.shape[0], b.shape[1], b.data);
            accgen_golden::gemm::check_operands(&am, &bm, arr.format()).map_err(|e| err(e.0))?;
            if c.unit == "sparse-gemm" {
                let sp = need(cfg.sparsity, &c.name, "sparsity")?;
                accgen_golden::nm_sparse::check(&bm, sp)
                    .map_err(|v| err(format!("B violates {}:{} sparsity: {v}", sp.n, sp.m)))?;
            }
            let y = gemm(&am, &bm, arr.format());
            (vec![y.rows, y.cols], y.data)
        }
        "model" => {
            let dir = s.path(c.model.as_deref().expect("checked"));
            let m = super::model::load_model(&dir, &cfg)?;
            let x = input("x")?;
            let vals = m.evaluate(&cfg, &x.data).map_err(|e| err(e.to_string()))?;
            let t = m.tensors[&m.output];
            (
                vec![t.rows as usize, t.cols as usize],
                vals[&m.output].clone(),
            )
        }
        _ => unreachable!("checked"),
    })
}

/// `accgen regress record`.
pub fn record(dir: &Path) -> Result<()> {
    let s = load_suite(dir)?;
    let mut outs = Vec::new();
    for c in &s.cases {
        let (shape, data) = golden(&s, c)?;
        if c.expected.is_some() {
            bail!(
                "case `{}`: `record` writes expected/<case>.npy; remove the `expected` field",
                c.name
            );
        }
        outs.push((format!("{}.npy", c.name), shape, data));
    }
    let mut od = OutputDir::claim(&dir.join("expected"))?;
    for (f, shape, data) in outs {
        let dtype = if data.iter().all(|&v| i32::try_from(v).is_ok()) {
            Dtype::I32
        } else {
            Dtype::I64
        };
        od.write(&f, &npy::encode(&NpyArray { dtype, shape, data })?)?;
    }
    od.finish(serde_json::Map::new())?;
    println!(
        "recorded {} cases of suite `{}` from the golden model into {}",
        s.cases.len(),
        s.name,
        dir.join("expected").display()
    );
    Ok(())
}

/// One case's result.
#[derive(Clone)]
struct Outcome {
    name: String,
    passed: bool,
    seconds: f64,
    cycles: Option<u64>,
    message: String,
    output: String,
}

fn run_case(s: &Suite, c: &CaseSpec, cross: bool) -> Outcome {
    let t0 = Instant::now();
    let r = run_case_inner(s, c).and_then(|(cy, out)| {
        if cross && super::export_tb::supported(&c.unit) {
            cross_sim(s, c).map_err(|e| (format!("cross-sim: {e:#}"), out.clone()))?;
        }
        Ok((cy, out))
    });
    let seconds = t0.elapsed().as_secs_f64();
    match r {
        Ok((cycles, output)) => Outcome {
            name: c.name.clone(),
            passed: true,
            seconds,
            cycles,
            message: String::new(),
            output,
        },
        Err((msg, output)) => Outcome {
            name: c.name.clone(),
            passed: false,
            seconds,
            cycles: None,
            message: msg,
            output,
        },
    }
}

/// The case's exported testbench under Icarus and under Verilator: both pass, with
/// the same cycle count.
fn cross_sim(s: &Suite, c: &CaseSpec) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("tb");
    let case = format!("{}/{}", s.dir.display(), c.name);
    super::export_tb::write_tb(&case, &dir, c.seed.unwrap_or(1), 0.2, 0.2)?;
    let ic = super::export_tb::run_script(&dir, "run_icarus.sh")?;
    let ve = super::export_tb::run_script(&dir, "run_verilator.sh")?;
    if ic != ve {
        bail!("Icarus took {ic} cycles, Verilator {ve}, on the same testbench");
    }
    Ok(())
}

type CaseResult = std::result::Result<(Option<u64>, String), (String, String)>;

fn run_case_inner(s: &Suite, c: &CaseSpec) -> CaseResult {
    let fail = |m: String| (m, String::new());
    let tmp = tempfile::tempdir().map_err(|e| fail(format!("a temporary directory: {e}")))?;
    let (y, js) = (tmp.path().join("y.npy"), tmp.path().join("stats.json"));
    let exe = std::env::current_exe().map_err(|e| fail(e.to_string()))?;
    let mut cmd = Command::new(exe);
    let cfg = s.path(&c.config);
    match c.unit.as_str() {
        "model" => {
            cmd.args(["run", "--config"])
                .arg(&cfg)
                .arg("--model")
                .arg(s.path(c.model.as_deref().expect("checked")))
                .arg("--input")
                .arg(s.path(&c.inputs["x"]));
        }
        unit => {
            cmd.args(["sim", unit, "--config"]).arg(&cfg);
            for k in unit_inputs(unit).expect("checked") {
                cmd.arg(format!("--{k}")).arg(s.path(&c.inputs[*k]));
            }
            if let Some(f) = &c.inject_fault {
                cmd.args(["--inject-fault", f]);
            }
            // The random initial state from the case's seed too (as `accgen fuzz`).
            cmd.args(["--x-init-seed", &c.seed.unwrap_or(1).to_string()]);
        }
    }
    cmd.arg("--out")
        .arg(&y)
        .arg("--json")
        .arg(&js)
        .args(["--seed", &c.seed.unwrap_or(1).to_string()]);
    let o = cmd
        .output()
        .map_err(|e| fail(format!("cannot start accgen: {e}")))?;
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let fail = |m: String| (m, output.clone());
    if !o.status.success() {
        let last = output
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(fail(format!("the co-simulation failed: {last}")));
    }
    let got = npy::read(&y).map_err(|e| fail(format!("reading the output: {e:#}")))?;
    let want = npy::read(&s.expected(c)).map_err(|e| {
        fail(format!(
            "reading the recorded output (run `accgen regress record`): {e:#}"
        ))
    })?;
    let compare = |what: &str, shape: &[usize], data: &[i64]| -> std::result::Result<(), String> {
        if shape != got.shape.as_slice() {
            return Err(format!(
                "the output has shape {:?}, {what} {:?}",
                got.shape, shape
            ));
        }
        if let Some(i) = (0..data.len()).find(|&i| data[i] != got.data[i]) {
            return Err(format!(
                "output element {i} is {}, {what} {}",
                got.data[i], data[i]
            ));
        }
        Ok(())
    };
    compare("the recorded output", &want.shape, &want.data).map_err(&fail)?;
    let (gs, gd) = golden(s, c).map_err(|e| fail(format!("golden: {e:#}")))?;
    compare("golden", &gs, &gd).map_err(&fail)?;
    let stats: serde_json::Value = std::fs::read_to_string(&js)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(json!({}));
    let cycles = stats["cycles"].as_u64();
    if let (Some(want), Some(got)) = (c.cycles, cycles) {
        let tol = c.cycles_tolerance.unwrap_or(0.0);
        if (got as f64 - want as f64).abs() > tol * want as f64 {
            return Err(fail(format!(
                "{got} cycles, expected {want} within {:.1}%",
                100.0 * tol
            )));
        }
    }
    Ok((cycles, output))
}

/// Parse `I/N` (1-based).
pub(crate) fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let (i, n) = s
        .split_once('/')
        .with_context(|| format!("--shard {s}: expected I/N, for example 2/4"))?;
    let (i, n): (usize, usize) = (
        i.parse()
            .with_context(|| format!("--shard {s}: I is not a number"))?,
        n.parse()
            .with_context(|| format!("--shard {s}: N is not a number"))?,
    );
    if n == 0 || i == 0 || i > n {
        bail!("--shard {s}: needs 1 <= I <= N");
    }
    Ok((i, n))
}

fn junit_of(suite: &str, outs: &[Outcome]) -> Report {
    let mut ts = TestSuite::new(suite.to_string());
    let mut sorted: Vec<&Outcome> = outs.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for o in sorted {
        let status = if o.passed {
            TestCaseStatus::success()
        } else {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(o.message.clone());
            st.set_description(o.output.clone());
            st
        };
        let mut tc = TestCase::new(o.name.clone(), status);
        tc.set_classname(suite.to_string());
        tc.set_time(Duration::from_secs_f64(o.seconds));
        ts.add_test_case(tc);
    }
    let mut r = Report::new(format!("accgen regress {suite}"));
    r.add_test_suite(ts);
    r
}

fn write_new(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    if path.exists() && !force {
        bail!(
            "{} exists; accgen does not replace a file it did not create (pass --force to replace it)",
            path.display()
        );
    }
    accgen_hw::files::write_atomic(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Options of `regress run`.
pub struct RunOpts<'a> {
    /// `I/N`.
    pub shard: Option<&'a str>,
    /// Cases at a time.
    pub jobs: usize,
    /// JUnit XML output.
    pub junit: Option<&'a Path>,
    /// JSON output.
    pub json: Option<&'a Path>,
    /// Run only the cases that failed in this JSON.
    pub failed_from: Option<&'a Path>,
    /// Replace existing output files.
    pub force: bool,
    /// Also run each exportable case's testbench under Icarus and Verilator
    /// (`--cross-sim icarus`): both must pass with the same cycle count.
    pub cross_sim: bool,
}

/// `accgen regress run`.
pub fn run(dir: &Path, o: &RunOpts) -> Result<()> {
    let s = load_suite(dir)?;
    if !(1..=64).contains(&o.jobs) {
        bail!("--jobs {} is outside the allowed range 1..=64", o.jobs);
    }
    for p in [o.junit, o.json].into_iter().flatten() {
        if p.exists() && !o.force {
            bail!(
                "{} exists; accgen does not replace a file it did not create (pass --force to replace it)",
                p.display()
            );
        }
    }
    let mut cases: Vec<CaseSpec> = s.cases.clone();
    if let Some(sh) = o.shard {
        let (i, n) = parse_shard(sh)?;
        cases = cases
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % n == i - 1)
            .map(|(_, c)| c)
            .collect();
    }
    if let Some(f) = o.failed_from {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
        )
        .with_context(|| format!("{} is not JSON from `regress run --json`", f.display()))?;
        let failed: BTreeSet<String> = v["cases"]
            .as_array()
            .with_context(|| format!("{} has no `cases` list", f.display()))?
            .iter()
            .filter(|c| c["passed"] == false)
            .filter_map(|c| c["name"].as_str().map(String::from))
            .collect();
        cases.retain(|c| failed.contains(&c.name));
    }
    // The first case of each distinct (config, unit) builds its model; the rest reuse it.
    let mut seen = BTreeSet::new();
    let (first, rest): (Vec<CaseSpec>, Vec<CaseSpec>) = cases
        .iter()
        .cloned()
        .partition(|c| seen.insert((c.config.clone(), c.unit.clone(), c.inject_fault.clone())));
    let total = cases.len();
    eprintln!(
        "suite `{}`: {total} cases ({} distinct models), {} at a time",
        s.name,
        first.len(),
        o.jobs
    );
    let t0 = Instant::now();
    let prog = Arc::new(Mutex::new(crate::progress::Progress::new(
        "cases",
        "cases",
        total as u64,
    )));
    let results: Arc<Mutex<Vec<Outcome>>> = Arc::new(Mutex::new(Vec::new()));
    let suite = Arc::new(s);
    for phase in [first, rest] {
        let queue = Arc::new(Mutex::new(phase));
        std::thread::scope(|sc| {
            for _ in 0..o.jobs {
                let (queue, results, prog, suite) =
                    (queue.clone(), results.clone(), prog.clone(), suite.clone());
                sc.spawn(move || loop {
                    let Some(c) = queue.lock().expect("queue").pop() else {
                        break;
                    };
                    let out = run_case(&suite, &c, o.cross_sim);
                    let mut r = results.lock().expect("results");
                    r.push(out);
                    prog.lock().expect("progress").set(r.len() as u64);
                });
            }
        });
    }
    prog.lock().expect("progress").finish();
    let mut outs = results.lock().expect("results").clone();
    outs.sort_by(|a, b| a.name.cmp(&b.name));
    let failed: Vec<&Outcome> = outs.iter().filter(|o| !o.passed).collect();
    for f in &failed {
        println!("FAIL {}: {}", f.name, f.message);
    }
    println!(
        "suite `{}`: {} passed, {} failed of {total} in {:.1} s ({:.2} cases/s)",
        suite.name,
        total - failed.len(),
        failed.len(),
        t0.elapsed().as_secs_f64(),
        total as f64 / t0.elapsed().as_secs_f64().max(1e-9)
    );
    if let Some(p) = o.junit {
        let xml = junit_of(&suite.name, &outs)
            .to_string()
            .context("serializing JUnit XML")?;
        write_new(p, xml.as_bytes(), o.force)?;
    }
    if let Some(p) = o.json {
        let v = json!({
            "suite": suite.name,
            "cases": outs.iter().map(|c| json!({"name": c.name, "passed": c.passed, "seconds": c.seconds, "cycles": c.cycles, "message": c.message})).collect::<Vec<_>>(),
            "passed": total - failed.len(),
            "failed": failed.len(),
            "seconds": t0.elapsed().as_secs_f64(),
        });
        write_new(p, serde_json::to_string_pretty(&v)?.as_bytes(), o.force)?;
    }
    if !failed.is_empty() {
        bail!(
            "{} of {total} cases failed: {}",
            failed.len(),
            failed
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// `accgen regress merge`.
pub fn merge(parts: &[PathBuf], junit: &Path, force: bool) -> Result<()> {
    if parts.is_empty() {
        bail!("regress merge needs at least one JUnit file");
    }
    let mut suites: BTreeMap<String, Vec<TestCase>> = BTreeMap::new();
    let mut name = None;
    for p in parts {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let r = Report::deserialize_from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not JUnit XML: {e}", p.display()))?;
        if name.is_none() {
            name = r.name.as_ref().map(|n| n.as_str().to_string());
        }
        for ts in r.test_suites {
            let v = suites.entry(ts.name.as_str().to_string()).or_default();
            for tc in ts.test_cases {
                if v.iter().any(|t| t.name == tc.name) {
                    bail!(
                        "{}: test case `{}` of suite `{}` is in two parts",
                        p.display(),
                        tc.name.as_str(),
                        ts.name.as_str()
                    );
                }
                v.push(tc);
            }
        }
    }
    let mut r = Report::new(name.unwrap_or_default());
    for (sname, mut cases) in suites {
        cases.sort_by(|a, b| a.name.cmp(&b.name));
        let mut ts = TestSuite::new(sname);
        ts.add_test_cases(cases);
        r.add_test_suite(ts);
    }
    let xml = r.to_string().context("serializing JUnit XML")?;
    write_new(junit, xml.as_bytes(), force)?;
    println!(
        "merged {} part(s): {} test cases, {} failures",
        parts.len(),
        r.tests,
        r.failures
    );
    Ok(())
}

/// Options of `regress slurm`.
pub struct SlurmOpts<'a> {
    /// Array tasks.
    pub shards: usize,
    /// `sbatch --partition`.
    pub partition: Option<&'a str>,
    /// `sbatch --time`.
    pub time: Option<&'a str>,
    /// The shared Verilator model cache (`ACCGEN_CACHE_DIR` of every task).
    pub cache: Option<&'a Path>,
    /// Cases at a time within a task.
    pub jobs: usize,
    /// Wait for the merge job and report.
    pub wait: bool,
}

/// Submit `slurm_dir/array.sbatch` as an array of `n` tasks (logs `shard-%a.log`) and
/// `slurm_dir/merge.sbatch` after it (`afterany`, log `merge.log`), from `slurm_dir`.
/// With `o.wait`, waits for the merge job; returns whether it succeeded.
pub(crate) fn submit(slurm_dir: &Path, n: usize, o: &SlurmOpts, what: &str) -> Result<bool> {
    let sbatch = "sbatch";
    let common = |cmd: &mut Command| {
        cmd.current_dir(slurm_dir).arg("--parsable");
        if let Some(p) = o.partition {
            cmd.args(["--partition", p]);
        }
        if let Some(t) = o.time {
            cmd.args(["--time", t]);
        }
    };
    let mut a = Command::new(sbatch);
    common(&mut a);
    a.arg(format!("--array=1-{n}"))
        .arg(format!("--output={}/shard-%a.log", slurm_dir.display()))
        .arg("array.sbatch");
    let out = a.output().context(
        "cannot run sbatch: run this on a Slurm login node (or start scripts/slurm-local.sh)",
    )?;
    if !out.status.success() {
        bail!(
            "sbatch (the array job) failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let array_id = String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    let mut m = Command::new(sbatch);
    common(&mut m);
    m.arg(format!("--dependency=afterany:{array_id}"))
        .arg(format!("--output={}/merge.log", slurm_dir.display()));
    if o.wait {
        m.arg("--wait");
    }
    m.arg("merge.sbatch");
    println!(
        "submitted array job {array_id} ({what}) and its merge job{}",
        if o.wait { "; waiting ..." } else { "" }
    );
    let out = m.output().context("running sbatch")?;
    if !o.wait {
        if !out.status.success() {
            bail!(
                "sbatch (the merge job) failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        println!("merge job {}", String::from_utf8_lossy(&out.stdout).trim());
    }
    Ok(out.status.success())
}

/// `p` quoted for `sh`.
pub(crate) fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// `accgen regress slurm`: an `sbatch` array of `regress run --shard k/N` tasks and
/// a merge job that depends on it, written into and run from `SUITE/slurm/`.
pub fn slurm(dir: &Path, o: &SlurmOpts) -> Result<()> {
    let s = load_suite(dir)?;
    if !(1..=10_000).contains(&o.shards) {
        bail!(
            "--shards {} is outside the allowed range 1..=10000",
            o.shards
        );
    }
    if !(1..=64).contains(&o.jobs) {
        bail!("--jobs {} is outside the allowed range 1..=64", o.jobs);
    }
    let sbatch = "sbatch";
    if Command::new(sbatch).arg("--version").output().is_err() {
        bail!("sbatch was not found: run this on a Slurm login node (or start scripts/slurm-local.sh)");
    }
    let dir = std::fs::canonicalize(dir)?;
    let exe = std::env::current_exe()?;
    let cache = match o.cache {
        Some(c) => {
            std::fs::create_dir_all(c)
                .with_context(|| format!("creating the cache directory {}", c.display()))?;
            Some(std::fs::canonicalize(c)?)
        }
        None => None,
    };
    let slurm_dir = dir.join("slurm");
    let mut od = OutputDir::claim(&slurm_dir)?;
    let n = o.shards;
    // Every file the jobs write is reserved as accgen's (and last run's copies go).
    let mut outputs: Vec<String> = vec!["all.xml".into(), "merge.log".into()];
    for k in 1..=n {
        outputs.extend([
            format!("part-{k}.xml"),
            format!("part-{k}.json"),
            format!("shard-{k}.log"),
        ]);
    }
    for f in &outputs {
        let p = od.reserve(f)?;
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    let cache_line = cache
        .as_ref()
        .map(|c| format!("export ACCGEN_CACHE_DIR={}\n", sh_quote(c)))
        .unwrap_or_default();
    let array = format!(
        "#!/bin/sh\n# Written by accgen regress slurm: task k of {n} runs shard k of suite `{name}`.\n\
         #SBATCH --job-name=accgen-regress\n{cache_line}\
         exec {exe} regress run {suite} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --jobs {jobs} \\\n  \
         --junit {sd}/part-\"$SLURM_ARRAY_TASK_ID\".xml --json {sd}/part-\"$SLURM_ARRAY_TASK_ID\".json --force\n",
        name = s.name,
        exe = sh_quote(&exe),
        suite = sh_quote(&dir),
        jobs = o.jobs,
        sd = sh_quote(&slurm_dir),
    );
    let parts: Vec<String> = (1..=n)
        .map(|k| sh_quote(&slurm_dir.join(format!("part-{k}.xml"))))
        .collect();
    let merge = format!(
        "#!/bin/sh\n# Written by accgen regress slurm: merge the {n} shards of suite `{name}`.\n\
         #SBATCH --job-name=accgen-merge\n\
         exec {exe} regress merge {parts} --junit {all} --force\n",
        name = s.name,
        exe = sh_quote(&exe),
        parts = parts.join(" "),
        all = sh_quote(&slurm_dir.join("all.xml")),
    );
    od.write("array.sbatch", array.as_bytes())?;
    od.write("merge.sbatch", merge.as_bytes())?;
    od.finish(serde_json::Map::new())?;
    let what = format!("{n} shards of suite `{}`", s.name);
    let merged = submit(&slurm_dir, n, o, &what)?;
    if !o.wait {
        println!(
            "the merge job writes {}",
            slurm_dir.join("all.xml").display()
        );
        return Ok(());
    }
    let all = slurm_dir.join("all.xml");
    let text = std::fs::read_to_string(&all).with_context(|| {
        format!(
            "the merge job did not write {} (see {} and the shard logs)",
            all.display(),
            slurm_dir.join("merge.log").display()
        )
    })?;
    let r = Report::deserialize_from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not JUnit XML: {e}", all.display()))?;
    println!(
        "suite `{}` on Slurm: {} cases, {} failures; {}",
        s.name,
        r.tests,
        r.failures,
        all.display()
    );
    if r.tests != s.cases.len() || r.failures > 0 || !merged {
        bail!(
            "{} of {} cases ran, {} failed",
            r.tests,
            s.cases.len(),
            r.failures
        );
    }
    Ok(())
}
