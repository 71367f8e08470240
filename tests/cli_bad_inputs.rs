//! Table-driven bad input across every command: each case must exit with code 1
//! (never 101, never 2), print a message that names the field, element or path and
//! the allowed range, and leave the working directory exactly as it was (no file
//! created, none changed). The last cases inject a fault into each co-simulation
//! (`--inject-fault`): the run must fail and write none of its outputs.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use accgen_sim::npy::{self, Dtype, NpyArray};
use common::Tmp;

/// A fixture file: name and bytes.
type Fixture = (&'static str, Vec<u8>);

fn npy_bytes(dtype: Dtype, shape: Vec<usize>, data: Vec<i64>) -> Vec<u8> {
    npy::encode(&NpyArray { dtype, shape, data }).unwrap()
}

/// A .npy file with a hand-written header dictionary and payload.
fn raw_npy(dict: &str, payload: &[u8]) -> Vec<u8> {
    let mut h = dict.as_bytes().to_vec();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&(h.len() as u16).to_le_bytes());
    v.extend_from_slice(&h);
    v.extend_from_slice(payload);
    v
}

fn fixtures() -> Vec<Fixture> {
    let cfg = |s: &str| s.as_bytes().to_vec();
    vec![
        ("array.toml", cfg("[array]\nrows = 2\ncols = 2\n")),
        (
            "sparse.toml",
            cfg("[array]\nrows = 2\ncols = 2\n[sparsity]\nn = 2\nm = 4\n"),
        ),
        (
            "requant.toml",
            cfg("[requant]\nlanes = 2\nin_bits = 8\nout_bits = 4\nshift = 2\n"),
        ),
        (
            "gelu.toml",
            cfg("[gelu]\nlanes = 1\nin_bits = 8\nin_frac = 4\nout_bits = 8\nout_frac = 4\n"),
        ),
        (
            "softmax.toml",
            cfg("[softmax]\nlanes = 1\nmax_len = 8\nin_bits = 8\nin_frac = 4\nout_bits = 4\n"),
        ),
        ("a.npy", npy_bytes(Dtype::I8, vec![3, 8], vec![1; 24])),
        ("b.npy", npy_bytes(Dtype::I8, vec![8, 2], vec![1; 16])),
        ("b_k5.npy", npy_bytes(Dtype::I8, vec![5, 2], vec![1; 10])),
        ("a_empty.npy", npy_bytes(Dtype::I8, vec![0, 8], vec![])),
        ("a_3d.npy", npy_bytes(Dtype::I8, vec![1, 3, 8], vec![1; 24])),
        ("a_u8.npy", npy_bytes(Dtype::U8, vec![3, 8], vec![1; 24])),
        (
            "a_big.npy",
            npy_bytes(
                Dtype::I16,
                vec![3, 8],
                (0..24).map(|i| if i == 13 { 300 } else { 1 }).collect(),
            ),
        ),
        ("b_dense.npy", npy_bytes(Dtype::I8, vec![8, 2], vec![3; 16])),
        ("x.npy", npy_bytes(Dtype::I8, vec![2, 4], vec![5; 8])),
        (
            "x_wide.npy",
            npy_bytes(Dtype::I16, vec![2, 4], vec![5, 5, 5, 200, 5, 5, 5, 5]),
        ),
        ("x_long.npy", npy_bytes(Dtype::I8, vec![1, 9], vec![1; 9])),
        (
            "x_f32.npy",
            raw_npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                &[0; 8],
            ),
        ),
        (
            "bad_magic.npy",
            b"NOTNUMPY\x01\x00\x10\x00{'descr': '<i1'}".to_vec(),
        ),
        (
            "shape_paren.npy",
            raw_npy(
                "{'descr': '|i1', 'fortran_order': False, 'shape': ), }",
                &[1; 4],
            ),
        ),
        (
            "shape_utf8.npy",
            raw_npy(
                "{'descr': '|i1', 'fortran_order': False, 'shape': (2\u{00e9},), }",
                &[1; 4],
            ),
        ),
        (
            "shape_huge.npy",
            raw_npy(
                "{'descr': '|i1', 'fortran_order': False, 'shape': (9223372036854775808, 2), }",
                &[],
            ),
        ),
        (
            "shape_overflow.npy",
            raw_npy(
                "{'descr': '<i2', 'fortran_order': False, 'shape': (3, 6148914691236517206), }",
                &[1; 4],
            ),
        ),
        (
            "truncated.npy",
            raw_npy(
                "{'descr': '|i1', 'fortran_order': False, 'shape': (4, 4), }",
                &[1; 5],
            ),
        ),
        ("empty_file.npy", vec![]),
        ("existing.npy", b"user data".to_vec()),
        ("foreign/notes.txt", b"user data".to_vec()),
        (
            "foreign/manifest.json",
            b"{\"generator\": \"someone else\"}".to_vec(),
        ),
        ("afile", b"not a directory".to_vec()),
    ]
}

/// (args, fragments the message must contain). `@name` is a fixture path.
fn cases() -> Vec<(Vec<&'static str>, Vec<&'static str>)> {
    let v = |a: &[&'static str], n: &[&'static str]| (a.to_vec(), n.to_vec());
    vec![
        // Command line.
        v(&[], &["Usage"]),
        v(&["frobnicate"], &["frobnicate"]),
        v(&["generate", "--out", "o"], &["--config"]),
        v(
            &[
                "generate",
                "--config",
                "@array.toml",
                "--out",
                "o",
                "--vendor",
                "altera",
            ],
            &["altera", "generic", "xilinx", "ecp5"],
        ),
        v(
            &[
                "lint",
                "--config",
                "@array.toml",
                "--family",
                "xc7; tee -o pwned log x",
            ],
            &["xc7; tee", "xcup", "xc7"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b.npy",
                "--input-gaps",
                "1.5",
            ],
            &["1.5", "0..=0.95"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b.npy",
                "--backpressure",
                "lots",
            ],
            &["lots", "0..=0.95"],
        ),
        v(
            &[
                "sim",
                "requant",
                "--config",
                "@requant.toml",
                "--x",
                "@x.npy",
                "--seed",
                "-4",
            ],
            &["-4"],
        ),
        v(
            &[
                "sim",
                "requant",
                "--config",
                "@requant.toml",
                "--x",
                "@x.npy",
                "--inject-fault",
                "melt:3",
            ],
            &["melt:3", "drop:K"],
        ),
        v(
            &["timing", "--config", "@array.toml", "--seeds", "abc"],
            &["abc", "--seeds"],
        ),
        // Config files.
        v(
            &["generate", "--config", "missing.toml", "--out", "o"],
            &["missing.toml"],
        ),
        v(
            &["generate", "--config", "foreign", "--out", "o"],
            &["foreign"],
        ),
        v(
            &["generate", "--config", "@bad/rows0.toml", "--out", "o"],
            &["array.rows", "1..=128"],
        ),
        v(
            &["generate", "--config", "@bad/rows_big.toml", "--out", "o"],
            &["array.rows", "1..=128"],
        ),
        v(
            &["generate", "--config", "@bad/act.toml", "--out", "o"],
            &["array.act_bits", "2..=16"],
        ),
        v(
            &["generate", "--config", "@bad/acc.toml", "--out", "o"],
            &["array.acc_bits", "8..=48"],
        ),
        v(
            &["generate", "--config", "@bad/unknown.toml", "--out", "o"],
            &["rowz", "rows"],
        ),
        v(
            &["generate", "--config", "@bad/malformed.toml", "--out", "o"],
            &["malformed.toml", "line"],
        ),
        v(
            &["generate", "--config", "@bad/type.toml", "--out", "o"],
            &["type.toml", "rows", "expected u32"],
        ),
        v(
            &["generate", "--config", "@bad/empty.toml", "--out", "o"],
            &["[array]", "[softmax]"],
        ),
        v(
            &["generate", "--config", "@bad/nm.toml", "--out", "o"],
            &["sparsity.n", "1..=3"],
        ),
        v(
            &["generate", "--config", "@bad/m.toml", "--out", "o"],
            &["sparsity.m"],
        ),
        v(
            &[
                "generate",
                "--config",
                "@bad/sparse_alone.toml",
                "--out",
                "o",
            ],
            &["sparsity", "[array]"],
        ),
        v(
            &["generate", "--config", "@bad/wide.toml", "--out", "o"],
            &["s_axis_tdata", "8..=4096"],
        ),
        v(
            &["generate", "--config", "@bad/rq_lanes.toml", "--out", "o"],
            &["requant.lanes", "1..=64"],
        ),
        v(
            &["generate", "--config", "@bad/rq_shift.toml", "--out", "o"],
            &["requant.shift", "3 entries", "lanes = 2"],
        ),
        v(
            &["generate", "--config", "@bad/rq_out.toml", "--out", "o"],
            &["requant.out_bits"],
        ),
        v(
            &["generate", "--config", "@bad/gelu_frac.toml", "--out", "o"],
            &["gelu.in_frac", "0..=7"],
        ),
        v(
            &["generate", "--config", "@bad/gelu_in.toml", "--out", "o"],
            &["gelu.in_bits", "8..=16"],
        ),
        v(
            &["generate", "--config", "@bad/sm_len.toml", "--out", "o"],
            &["softmax.max_len", "2..=4096"],
        ),
        v(
            &["generate", "--config", "@bad/sm_out.toml", "--out", "o"],
            &["softmax.out_bits"],
        ),
        // Output directories.
        v(
            &["generate", "--config", "@array.toml", "--out", "foreign"],
            &["foreign", "not an accgen output"],
        ),
        v(
            &["generate", "--config", "@array.toml", "--out", "afile"],
            &["afile"],
        ),
        v(
            &["generate", "--config", "@array.toml", "--out", "afile/sub"],
            &["afile"],
        ),
        v(
            &[
                "lint",
                "--config",
                "@array.toml",
                "--out",
                "foreign",
                "--no-synth",
            ],
            &["foreign", "not an accgen output"],
        ),
        v(
            &[
                "demo",
                "--config",
                "@array.toml",
                "--out",
                "foreign",
                "--no-synth",
            ],
            &["foreign", "not an accgen output"],
        ),
        v(
            &["demo", "--config", "missing.toml", "--out", "o"],
            &["missing.toml"],
        ),
        // prune.
        v(
            &[
                "prune",
                "--config",
                "@array.toml",
                "--b",
                "@b.npy",
                "--out",
                "p.npy",
            ],
            &["[sparsity]"],
        ),
        v(
            &[
                "prune",
                "--config",
                "@sparse.toml",
                "--b",
                "nope.npy",
                "--out",
                "p.npy",
            ],
            &["nope.npy"],
        ),
        v(
            &[
                "prune",
                "--config",
                "@sparse.toml",
                "--b",
                "@bad_magic.npy",
                "--out",
                "p.npy",
            ],
            &["bad_magic.npy"],
        ),
        v(
            &[
                "prune",
                "--config",
                "@sparse.toml",
                "--b",
                "@a_3d.npy",
                "--out",
                "p.npy",
            ],
            &["a_3d.npy", "2-D"],
        ),
        v(
            &[
                "prune",
                "--config",
                "@sparse.toml",
                "--b",
                "@b.npy",
                "--out",
                "@existing.npy",
            ],
            &["existing.npy", "--force"],
        ),
        v(
            &[
                "prune",
                "--config",
                "@sparse.toml",
                "--b",
                "@b.npy",
                "--out",
                "nodir/p.npy",
            ],
            &["nodir", "does not exist"],
        ),
        v(
            &[
                "prune",
                "--config",
                "@sparse.toml",
                "--b",
                "@b.npy",
                "--out",
                "p.npy",
                "--meta",
                "p.npy",
            ],
            &["--meta", "--out", "p.npy"],
        ),
        v(
            &[
                "prune",
                "--config",
                "@sparse.toml",
                "--b",
                "@a_big.npy",
                "--out",
                "p.npy",
            ],
            &["[1, 5] = 300", "-128..=127"],
        ),
        // sim gemm.
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "nope.npy",
                "--b",
                "@b.npy",
            ],
            &["nope.npy"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b_k5.npy",
            ],
            &["[3, 8]", "5 rows"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@a_empty.npy",
                "--b",
                "@b.npy",
            ],
            &["a_empty.npy", "empty"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@a_u8.npy",
                "--b",
                "@b.npy",
            ],
            &["uint8", "int8 or int16"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@a_big.npy",
                "--b",
                "@b.npy",
            ],
            &["A[1, 5] = 300", "-128..=127"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@truncated.npy",
                "--b",
                "@b.npy",
            ],
            &["truncated.npy"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@shape_huge.npy",
                "--b",
                "@b.npy",
            ],
            &["shape_huge.npy"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@empty_file.npy",
                "--b",
                "@b.npy",
            ],
            &["empty_file.npy"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b.npy",
                "--out",
                "@existing.npy",
            ],
            &["existing.npy", "--force"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b.npy",
                "--json",
                "nodir/s.json",
            ],
            &["--json", "nodir"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b.npy",
                "--out",
                "foreign",
            ],
            &["--out", "foreign", "directory"],
        ),
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@requant.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b.npy",
            ],
            &["[array]"],
        ),
        // sim sparse-gemm.
        v(
            &[
                "sim",
                "sparse-gemm",
                "--config",
                "@sparse.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b_dense.npy",
            ],
            &["2:4", "--prune"],
        ),
        v(
            &[
                "sim",
                "sparse-gemm",
                "--config",
                "@array.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b.npy",
            ],
            &["[sparsity]"],
        ),
        v(
            &[
                "sim",
                "sparse-gemm",
                "--config",
                "@sparse.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b_k5.npy",
                "--prune",
            ],
            &["[3, 8]", "5 rows"],
        ),
        // sim requant / gelu / softmax.
        v(
            &[
                "sim",
                "requant",
                "--config",
                "@requant.toml",
                "--x",
                "@x_wide.npy",
            ],
            &["[0, 3] = 200", "-128..=127", "in_bits"],
        ),
        v(
            &[
                "sim",
                "requant",
                "--config",
                "@requant.toml",
                "--x",
                "@x_f32.npy",
            ],
            &["x_f32.npy", "<f4"],
        ),
        v(
            &["sim", "requant", "--config", "@gelu.toml", "--x", "@x.npy"],
            &["[requant]"],
        ),
        v(
            &[
                "sim",
                "requant",
                "--config",
                "@requant.toml",
                "--x",
                "@shape_paren.npy",
            ],
            &["shape_paren.npy"],
        ),
        v(
            &[
                "sim",
                "gelu",
                "--config",
                "@gelu.toml",
                "--x",
                "@shape_utf8.npy",
            ],
            &["shape_utf8.npy"],
        ),
        v(
            &[
                "sim",
                "gelu",
                "--config",
                "@gelu.toml",
                "--x",
                "@shape_overflow.npy",
                "--out",
                "y.npy",
            ],
            &["shape_overflow.npy"],
        ),
        v(
            &[
                "sim",
                "gelu",
                "--config",
                "@gelu.toml",
                "--x",
                "@x_wide.npy",
            ],
            &["200", "-128..=127"],
        ),
        v(
            &[
                "sim",
                "softmax",
                "--config",
                "@softmax.toml",
                "--x",
                "@x_long.npy",
            ],
            &["9", "max_len = 8"],
        ),
        v(
            &[
                "sim",
                "softmax",
                "--config",
                "@softmax.toml",
                "--x",
                "@x.npy",
                "--vcd",
                "nodir/w.vcd",
            ],
            &["--vcd", "nodir"],
        ),
        // timing (all refused before any tool runs).
        v(
            &["timing", "--config", "@array.toml", "--seeds", "0"],
            &["--seeds 0", "1..=9"],
        ),
        v(
            &["timing", "--config", "@array.toml", "--seeds", "12"],
            &["--seeds 12", "1..=9"],
        ),
        v(
            &["timing", "--config", "@array.toml", "--top", "accgen_nope"],
            &["accgen_nope", "accgen_array_r2_c2"],
        ),
        v(
            &["timing", "--config", "@array.toml", "--min-mhz", "-5"],
            &["--min-mhz", "(0, 2000]"],
        ),
        v(
            &[
                "timing",
                "--config",
                "@array.toml",
                "--json",
                "nodir/t.json",
            ],
            &["--json", "nodir"],
        ),
        v(
            &["timing", "--config", "@array.toml", "--out", "foreign"],
            &["foreign", "not an accgen output"],
        ),
        // Faults injected into each co-simulation: the checker must fail the run.
        v(
            &[
                "sim",
                "gemm",
                "--config",
                "@array.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b.npy",
                "--out",
                "c.npy",
                "--inject-fault",
                "drop:1",
            ],
            &["missing beat"],
        ),
        v(
            &[
                "sim",
                "sparse-gemm",
                "--config",
                "@sparse.toml",
                "--a",
                "@a.npy",
                "--b",
                "@b.npy",
                "--prune",
                "--out",
                "c.npy",
                "--inject-fault",
                "last-low",
            ],
            &["last"],
        ),
        v(
            &[
                "sim",
                "requant",
                "--config",
                "@requant.toml",
                "--x",
                "@x.npy",
                "--out",
                "y.npy",
                "--inject-fault",
                "flip:2",
            ],
            &["mismatch"],
        ),
        v(
            &[
                "sim",
                "gelu",
                "--config",
                "@gelu.toml",
                "--x",
                "@x.npy",
                "--out",
                "y.npy",
                "--inject-fault",
                "dup:0",
            ],
            &["extra beat"],
        ),
        v(
            &[
                "sim",
                "softmax",
                "--config",
                "@softmax.toml",
                "--x",
                "@x.npy",
                "--out",
                "y.npy",
                "--inject-fault",
                "stall:3",
            ],
            &["timeout"],
        ),
    ]
}

/// Bad config files, written under `bad/`.
fn bad_configs() -> Vec<(&'static str, &'static str)> {
    vec![
        ("rows0.toml", "[array]\nrows = 0\ncols = 4\n"),
        ("rows_big.toml", "[array]\nrows = 129\ncols = 4\n"),
        ("act.toml", "[array]\nrows = 2\ncols = 2\nact_bits = 1\n"),
        ("acc.toml", "[array]\nrows = 2\ncols = 2\nacc_bits = 64\n"),
        ("unknown.toml", "[array]\nrowz = 4\n"),
        ("malformed.toml", "[array\nrows = 1\n"),
        ("type.toml", "[array]\nrows = \"four\"\n"),
        ("empty.toml", "# nothing\n"),
        (
            "nm.toml",
            "[array]\nrows = 2\ncols = 2\n[sparsity]\nn = 5\nm = 4\n",
        ),
        (
            "m.toml",
            "[array]\nrows = 2\ncols = 2\n[sparsity]\nn = 1\nm = 3\n",
        ),
        ("sparse_alone.toml", "[sparsity]\nn = 2\nm = 4\n"),
        (
            "wide.toml",
            "[array]\nrows = 64\ncols = 64\n[sparsity]\nn = 8\nm = 16\n",
        ),
        (
            "rq_lanes.toml",
            "[requant]\nlanes = 0\nin_bits = 8\nout_bits = 4\nshift = 1\n",
        ),
        (
            "rq_shift.toml",
            "[requant]\nlanes = 2\nin_bits = 8\nout_bits = 4\nshift = [1, 2, 3]\n",
        ),
        (
            "rq_out.toml",
            "[requant]\nlanes = 2\nin_bits = 8\nout_bits = 40\nshift = 1\n",
        ),
        ("gelu_frac.toml", "[gelu]\nin_bits = 8\nin_frac = 8\n"),
        ("gelu_in.toml", "[gelu]\nin_bits = 20\n"),
        ("sm_len.toml", "[softmax]\nmax_len = 100000\n"),
        ("sm_out.toml", "[softmax]\nout_bits = 1\n"),
    ]
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if p.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn every_bad_input_exits_1_with_a_clear_message_and_leaves_nothing() {
    let t = Tmp::new("bad-inputs");
    for (name, bytes) in fixtures() {
        let p = t.path(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    std::fs::create_dir_all(t.path("bad")).unwrap();
    for (name, text) in bad_configs() {
        std::fs::write(t.path(&format!("bad/{name}")), text).unwrap();
    }
    let before = snapshot(&t.0);
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (args, needles) in &cases {
        let args: Vec<String> = args
            .iter()
            .map(|a| match a.strip_prefix('@') {
                Some(f) => t.s(f),
                None => a.to_string(),
            })
            .collect();
        let o = Command::new(env!("CARGO_BIN_EXE_accgen"))
            .args(&args)
            .current_dir(&t.0)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let mut why = Vec::new();
        if o.status.code() != Some(1) {
            why.push(format!("exit code {:?}", o.status.code()));
        }
        if err.contains("panicked") {
            why.push("panicked".into());
        }
        for n in needles {
            if !err.contains(n) {
                why.push(format!("message lacks {n:?}"));
            }
        }
        let after = snapshot(&t.0);
        if after != before {
            let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
            let changed: Vec<&String> = before
                .iter()
                .filter(|(k, v)| after.get(*k) != Some(v))
                .map(|(k, _)| k)
                .collect();
            why.push(format!(
                "files added {added:?}, changed or removed {changed:?}"
            ));
            // Restore the directory for the next case.
            for k in added {
                let p = t.path(k.trim_end_matches('/'));
                let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
            }
            for k in changed {
                if !k.ends_with('/') {
                    std::fs::write(t.path(k), &before[k]).unwrap();
                }
            }
        }
        if !why.is_empty() {
            failures.push(format!(
                "accgen {}: {}\n  stderr: {}",
                args.join(" "),
                why.join("; "),
                err.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
