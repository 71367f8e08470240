//! The Verilator runtime (`verilated.cpp`, `verilated_threads.cpp`,
//! `verilated_vcd_c.cpp`) compiled once per machine into a position-independent
//! archive, cached under `<runtime root>/vlrt-<hash>/` (hash of Verilator version and
//! root, compiler version and flags). Compiling `verilated.cpp` alone takes about 9 s,
//! so every design links this archive instead of recompiling the runtime.
//!
//! The runtime does not depend on whether a design is traced (`VM_TRACE` only sets a
//! compatibility macro in `verilated.h`), so one archive serves traced and untraced
//! models. It is built with hidden visibility, and each design's shared library also
//! links with `--exclude-libs,ALL`, so several models loaded in one process never share
//! or interpose runtime symbols.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use accgen_golden::hash::ContentHasher;

use crate::cache::get_or_build;
use crate::error::{SimError, SimResult};
use crate::toolchain::{tail, Toolchain};

/// Runtime sources under `$VERILATOR_ROOT/include`.
const SOURCES: [&str; 3] = ["verilated", "verilated_threads", "verilated_vcd_c"];

/// File name of the archive inside its cache entry.
pub const ARCHIVE: &str = "libaccgen_vlrt.a";

/// Preprocessor defines shared by the runtime and every wrapper (tracing support is
/// compiled into the runtime unconditionally; see the module docs).
pub(crate) fn common_cxx_flags(tc: &Toolchain) -> Vec<String> {
    let mut f: Vec<String> = [
        "-O2",
        "-fPIC",
        "-fvisibility=hidden",
        "-fvisibility-inlines-hidden",
        "-faligned-new",
        "-Wno-bool-operation",
        "-Wno-sign-compare",
        "-Wno-uninitialized",
        "-Wno-unused-but-set-variable",
        "-Wno-unused-parameter",
        "-Wno-unused-variable",
        "-Wno-shadow",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    f.extend(tc.include_flags());
    f
}

fn runtime_defines() -> Vec<String> {
    [
        "-DVM_COVERAGE=0",
        "-DVM_SC=0",
        "-DVM_TRACE=1",
        "-DVM_TRACE_FST=0",
        "-DVM_TRACE_VCD=1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The compiled runtime archive.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Path of `libaccgen_vlrt.a`.
    pub archive: PathBuf,
    /// How long compiling took, when this call compiled it (`None` on a cache hit).
    pub built_in: Option<Duration>,
}

/// Cache key of the runtime for this toolchain.
pub(crate) fn runtime_key(tc: &Toolchain) -> String {
    let mut h = ContentHasher::new();
    h.update(b"accgen-vlrt-1")
        .update(tc.verilator_version.as_bytes())
        .update(tc.verilator_root.to_string_lossy().as_bytes())
        .update(tc.cxx.as_bytes())
        .update(tc.cxx_version.as_bytes());
    for f in common_cxx_flags(tc).iter().chain(&runtime_defines()) {
        h.update(f.as_bytes());
    }
    for s in SOURCES {
        h.update(s.as_bytes());
    }
    h.hex()
}

/// The runtime archive under `root`, compiling it first if this machine has none yet.
pub fn ensure_runtime(tc: &Toolchain, root: &Path) -> SimResult<Runtime> {
    let key = runtime_key(tc);
    let mut built_in = None;
    let entry = get_or_build(root, &format!("vlrt-{key}"), &tc.verilator_version, |dir| {
        eprintln!(
            "accgen-sim: compiling the Verilator runtime once for this machine \
             (about 15-20 s) into {}",
            root.display()
        );
        let t0 = Instant::now();
        compile(tc, dir)?;
        built_in = Some(t0.elapsed());
        Ok(())
    })?;
    Ok(Runtime {
        archive: entry.dir.join(ARCHIVE),
        built_in,
    })
}

fn compile(tc: &Toolchain, dir: &Path) -> SimResult<()> {
    let inc = tc.verilator_root.join("include");
    let mut children = Vec::new();
    // The three sources compile in parallel: verilated.cpp dominates either way.
    for src in SOURCES {
        let log = dir.join(format!("{src}.log"));
        let log_file = std::fs::File::create(&log)
            .map_err(|e| SimError::io(format!("creating {}", log.display()), e))?;
        let err_file = log_file
            .try_clone()
            .map_err(|e| SimError::io(format!("opening {}", log.display()), e))?;
        let child = Command::new(&tc.cxx)
            .args(common_cxx_flags(tc))
            .args(runtime_defines())
            .arg("-c")
            .arg(inc.join(format!("{src}.cpp")))
            .arg("-o")
            .arg(dir.join(format!("{src}.o")))
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .spawn()
            .map_err(|e| SimError::CompilerMissing {
                compiler: tc.cxx.clone(),
                detail: e.to_string(),
            })?;
        children.push((src, log, child));
    }
    let mut failure = None;
    for (src, log, mut child) in children {
        let status = child
            .wait()
            .map_err(|e| SimError::io(format!("waiting for {} {src}.cpp", tc.cxx), e))?;
        if !status.success() && failure.is_none() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            failure = Some(SimError::CxxCompile {
                what: format!("the Verilator runtime ({src}.cpp)"),
                status: status.to_string(),
                log_tail: tail(&text, 40),
            });
        }
    }
    if let Some(f) = failure {
        return Err(f);
    }
    let out = Command::new("ar")
        .arg("rcs")
        .arg(dir.join(ARCHIVE))
        .args(SOURCES.iter().map(|s| dir.join(format!("{s}.o"))))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SimError::io("running `ar` (install binutils)", e))?;
    if !out.status.success() {
        return Err(SimError::CxxCompile {
            what: "the Verilator runtime archive (ar)".into(),
            status: out.status.to_string(),
            log_tail: tail(&String::from_utf8_lossy(&out.stderr), 40),
        });
    }
    for s in SOURCES {
        let _ = std::fs::remove_file(dir.join(format!("{s}.o")));
    }
    Ok(())
}
