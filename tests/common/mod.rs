//! Shared helpers for the CLI end-to-end tests: run the binary, temp dirs, .npy files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use accgen_golden::gemm::Matrix;
use accgen_sim::npy::{self, Dtype, NpyArray};

/// Run the `accgen` binary with `args`.
pub fn accgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accgen"))
        .args(args)
        .output()
        .expect("run accgen")
}

/// Standard error of a run, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A temporary directory removed on drop.
pub struct Tmp(pub PathBuf);

impl Tmp {
    /// Fresh directory named after `tag` and the process.
    pub fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("accgen-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }

    /// Path of `name` inside.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Path of `name` inside, as a string argument.
    pub fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Save a matrix as a 2-D .npy of `dtype`.
pub fn save(path: &Path, dtype: Dtype, m: &Matrix) {
    npy::write(
        path,
        &NpyArray {
            dtype,
            shape: vec![m.rows, m.cols],
            data: m.data.clone(),
        },
    )
    .unwrap();
}

/// Load a 2-D .npy as a matrix.
pub fn load(path: &Path) -> Matrix {
    let a = npy::read(path).unwrap();
    Matrix::from_vec(a.shape[0], a.shape[1], a.data)
}

/// Build `top`, stream `xs` through it with `traffic` (from a randomised initial
/// state when `x_seed` is not 0) and assert that the verdict passed.
#[allow(clippy::too_many_arguments)]
pub fn stream_unit(
    top: &std::rc::Rc<accgen_hw::rtl::Module>,
    lanes: usize,
    input: accgen_sim::stream::LaneFormat,
    output: accgen_sim::stream::LaneFormat,
    xs: &[i64],
    golden: &dyn Fn(usize, i64) -> i64,
    traffic: &accgen_sim::axis::Traffic,
    x_seed: u64,
) -> accgen_sim::stream::StreamRun {
    let model = accgen_sim::Model::build(top, &accgen_sim::SimOptions::new()).unwrap();
    let mut dut = model.instantiate_randomized(x_seed).unwrap();
    let r = accgen_sim::stream::run_lanes(
        &mut dut,
        lanes,
        input,
        output,
        xs,
        golden,
        &|i| format!("element {i}"),
        traffic,
        64,
    )
    .unwrap();
    assert!(r.verdict.passed(), "{}", r.verdict);
    assert_eq!(r.verdict.checked as usize, xs.len().div_ceil(lanes) * lanes);
    r
}

/// The test cases of a JUnit XML file: name -> passed.
pub fn junit_cases(path: &Path) -> std::collections::BTreeMap<String, bool> {
    let r =
        quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    r.test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .map(|c| {
            let passed = matches!(c.status, quick_junit::TestCaseStatus::Success { .. });
            (c.name.as_str().to_string(), passed)
        })
        .collect()
}
