//! Building a design into a cached, loadable Verilator model ([`Model`]).
//!
//! Pipeline, for one top module:
//! 1. hash the Verilog texts, the top name, the generated wrapper, the flags and the
//!    tool versions; a finished `<cache root>/<hash>/` is reused as is;
//! 2. otherwise, in a private directory: write the Verilog files and `wrapper.cpp`,
//!    run `verilator --cc ... -O3` (the model's C++ in `obj/`), check `obj/V<top>.h`
//!    against the module's ports, and compile every generated `.cpp` file listed in
//!    `obj/V<top>_classes.mk` and the wrapper as one translation unit (`model.cpp`:
//!    Verilator's headers parsed once, not once per file), linked with the runtime
//!    archive into `libaccgen_model.so` (the slow files, which construct and reset
//!    the model once, at `O0` through `#pragma GCC optimize`);
//! 3. publish the directory atomically (see [`crate::cache`]) and `dlopen` it.
//!
//! Measured on a 2-core machine: about 1.0 s per new small design (a 2-lane GELU:
//! Verilator 0.3 s, the one compile and link the rest; 2.9 s when Verilator's makefile
//! built the model and the wrapper was compiled separately), 54 s for the
//! `block_example` accelerator, 0.2 s for the first cache hit of a
//! process (probing the tool versions) and 0.1 ms after that, plus about 17 s once per
//! machine for the Verilator runtime. [`SimOptions::quick`] (`-O0`) halves a
//! LayerNorm's build again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use accgen_golden::hash::ContentHasher;
use accgen_hw::rtl::{Design, Module, VerilogFile};

use crate::cache::{default_cache_root, get_or_build, is_complete};
use crate::dut::Dut;
use crate::error::{SimError, SimResult};
use crate::ffi::Api;
use crate::runtime::{common_cxx_flags, ensure_runtime};
use crate::spec::{check_header, TopSpec};
use crate::toolchain::{run_logged, Toolchain};
use crate::wrapper::{wrapper_cpp, ABI_VERSION};

/// File name of the model library inside a cache entry.
pub const LIBRARY: &str = "libaccgen_model.so";

/// How to build and run a simulation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimOptions {
    /// Write a VCD waveform to this path. The model is then compiled with `--trace`
    /// (a separate cache entry; tracing costs speed).
    pub trace: Option<PathBuf>,
    /// Root of the design cache; default [`default_cache_root`].
    pub cache_root: Option<PathBuf>,
    /// Root under which the Verilator runtime archive is cached; default
    /// [`default_cache_root`] even when `cache_root` is set, so that tests with a
    /// private design cache still share one runtime per machine.
    pub runtime_root: Option<PathBuf>,
    /// Compile the model's C++ without optimization (`-O0`): about a third faster to
    /// build and several times slower to run, for many short runs of many designs
    /// (fuzzing). A separate cache entry.
    pub quick: bool,
}

impl SimOptions {
    /// Defaults: no trace, default cache roots.
    pub fn new() -> SimOptions {
        SimOptions::default()
    }

    /// Trace into the VCD file `path`.
    pub fn trace(mut self, path: impl Into<PathBuf>) -> SimOptions {
        self.trace = Some(path.into());
        self
    }

    /// Build for a short run: see [`SimOptions::quick`].
    pub fn quick(mut self) -> SimOptions {
        self.quick = true;
        self
    }

    /// Use `root` as the design cache.
    pub fn cache_root(mut self, root: impl Into<PathBuf>) -> SimOptions {
        self.cache_root = Some(root.into());
        self
    }
}

/// What a build did and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// Top module name.
    pub top: String,
    /// Cache key (32 hex digits).
    pub hash: String,
    /// True when the library came from the cache and nothing was compiled.
    pub cache_hit: bool,
    /// Wall time of the whole call: hashing, any compilation, loading.
    pub build_time: Duration,
    /// Time spent in Verilator (`None` on a cache hit).
    pub verilate_time: Option<Duration>,
    /// Time spent compiling and linking the wrapper (`None` on a cache hit).
    pub link_time: Option<Duration>,
    /// Time spent compiling the Verilator runtime, when this build had to.
    pub runtime_build_time: Option<Duration>,
    /// True when the model was compiled with `--trace`.
    pub traced: bool,
    /// The loaded shared library.
    pub library: PathBuf,
}

static NEXT_MODEL_ID: AtomicU64 = AtomicU64::new(1);

/// A built and loaded model of one top module; [`Model::instantiate`] makes
/// independent simulation instances ([`Dut`]s) of it. A clone shares the loaded
/// library (cheap), so one process can keep a model and instantiate it again later.
#[derive(Clone)]
pub struct Model {
    pub(crate) api: Arc<Api>,
    pub(crate) spec: Arc<TopSpec>,
    pub(crate) id: u64,
    info: BuildInfo,
    trace: Option<PathBuf>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("info", &self.info).finish()
    }
}

impl Model {
    /// Build `top` (and everything it instantiates).
    pub fn build(top: &Rc<Module>, opts: &SimOptions) -> SimResult<Model> {
        let mut d = Design::new();
        d.add_top(top.clone());
        Model::build_from_files(&d.sim_files()?, &TopSpec::of(top), opts)
    }

    /// Build the top module called `top` of `design`.
    pub fn build_design(design: &Design, top: &str, opts: &SimOptions) -> SimResult<Model> {
        let Some(m) = design.tops().iter().find(|m| m.name() == top) else {
            return Err(SimError::TopNotFound {
                top: top.to_string(),
                available: design
                    .tops()
                    .iter()
                    .map(|m| m.name().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        Model::build_from_files(&design.sim_files()?, &TopSpec::of(m), opts)
    }

    /// Build from Verilog files directly. `spec` must describe the module `spec.name`
    /// in `files`; the generated model is checked against it.
    pub fn build_from_files(
        files: &[VerilogFile],
        spec: &TopSpec,
        opts: &SimOptions,
    ) -> SimResult<Model> {
        let t0 = Instant::now();
        let mut info = build_library(files, spec, opts)?;
        let api = Api::load(&info.library, spec)?;
        info.build_time = t0.elapsed();
        Ok(Model {
            api: Arc::new(api),
            spec: Arc::new(spec.clone()),
            id: NEXT_MODEL_ID.fetch_add(1, Ordering::Relaxed),
            info,
            trace: opts.trace.clone(),
        })
    }

    /// What the build did.
    pub fn info(&self) -> &BuildInfo {
        &self.info
    }

    /// The module interface.
    pub fn spec(&self) -> &TopSpec {
        &self.spec
    }

    /// A fresh instance, tracing into the options' VCD path if one was given (every
    /// such instance writes that same file; give each its own with
    /// [`Model::instantiate_traced`]).
    pub fn instantiate(&self) -> SimResult<Dut> {
        Dut::create(self, self.trace.as_deref(), 0)
    }

    /// A fresh instance whose registers and memories start at random values drawn
    /// from `seed` (Verilator's `--x-initial unique` with a seeded random reset), as
    /// real hardware does after configuration. `seed` 0 means all zeros.
    pub fn instantiate_randomized(&self, seed: u64) -> SimResult<Dut> {
        Dut::create(self, self.trace.as_deref(), seed)
    }

    /// A fresh instance tracing into `vcd` (the model must have been built traced).
    pub fn instantiate_traced(&self, vcd: &Path) -> SimResult<Dut> {
        Dut::create(self, Some(vcd), 0)
    }
}

/// Verilator's flags (it only writes the C++; `compile_design` compiles it, with the
/// wrapper, as one translation unit).
fn verilator_flags(traced: bool) -> Vec<String> {
    let mut f: Vec<String> = ["-O3", "--x-assign", "unique", "--x-initial", "unique"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if traced {
        f.push("--trace".into());
    }
    f
}

fn link_flags() -> Vec<String> {
    ["-shared", "-Wl,--exclude-libs,ALL", "-pthread", "-latomic"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The cache key of a design build.
fn design_key(
    tc: &Toolchain,
    files: &[VerilogFile],
    spec: &TopSpec,
    wrapper: &str,
    traced: bool,
    quick: bool,
) -> String {
    let mut h = ContentHasher::new();
    h.update(b"accgen-sim-design")
        .update(&ABI_VERSION.to_le_bytes())
        .update(tc.verilator_version.as_bytes())
        .update(tc.verilator_root.to_string_lossy().as_bytes())
        .update(tc.cxx.as_bytes())
        .update(tc.cxx_version.as_bytes())
        .update(spec.name.as_bytes())
        .update(wrapper.as_bytes());
    for f in verilator_flags(traced)
        .iter()
        .chain(&common_cxx_flags(tc))
        .chain(&link_flags())
    {
        h.update(f.as_bytes());
    }
    if quick {
        // The wrapper is compiled at -O0 too.
        h.update(b"-O0");
    }
    // One translation unit, the slow files at O0.
    h.update(b"single-tu-slow-O0");
    let mut sorted: Vec<&VerilogFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    for f in sorted {
        h.update(f.file_name.as_bytes()).update(f.text.as_bytes());
    }
    h.hex()
}

/// Produce (or find) the library; `build_time` is filled in by the caller.
fn build_library(files: &[VerilogFile], spec: &TopSpec, opts: &SimOptions) -> SimResult<BuildInfo> {
    if spec.ports.is_empty() {
        return Err(SimError::NoPorts {
            top: spec.name.clone(),
        });
    }
    if !files.iter().any(|f| f.module == spec.name) {
        return Err(SimError::TopNotFound {
            top: spec.name.clone(),
            available: files
                .iter()
                .map(|f| f.module.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let tc = Toolchain::get()?;
    let traced = opts.trace.is_some();
    let wrapper = wrapper_cpp(spec);
    let hash = design_key(tc, files, spec, &wrapper, traced, opts.quick);
    let root = opts.cache_root.clone().unwrap_or_else(default_cache_root);
    let mut info = BuildInfo {
        top: spec.name.clone(),
        hash: hash.clone(),
        cache_hit: true,
        build_time: Duration::ZERO,
        verilate_time: None,
        link_time: None,
        runtime_build_time: None,
        traced,
        library: root.join(&hash).join(LIBRARY),
    };
    if is_complete(&root.join(&hash)) {
        return Ok(info);
    }
    let rt_root = opts.runtime_root.clone().unwrap_or_else(default_cache_root);
    let runtime = ensure_runtime(tc, &rt_root)?;
    info.runtime_build_time = runtime.built_in;
    let marker = format!("{} {}\n", spec.name, tc.verilator_version);
    let entry = get_or_build(&root, &hash, &marker, |dir| {
        eprintln!(
            "accgen-sim: building {} with Verilator (hash {}, cache {})",
            spec.name,
            &hash[..12],
            root.display()
        );
        let (v, l) = compile_design(
            tc,
            dir,
            files,
            spec,
            &wrapper,
            (traced, opts.quick),
            &runtime.archive,
        )?;
        info.verilate_time = Some(v);
        info.link_time = Some(l);
        Ok(())
    })?;
    info.cache_hit = entry.hit;
    info.library = entry.dir.join(LIBRARY);
    Ok(info)
}

/// The generated C++ files (without `.cpp`) a `V<top>_classes.mk` lists, (fast,
/// slow): the model's classes and support files (not the runtime's `VM_GLOBAL_*`).
fn model_sources(classes_mk: &str) -> (Vec<String>, Vec<String>) {
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    // Which list the current line continues: Some(true) fast, Some(false) slow.
    let mut inside: Option<bool> = None;
    for line in classes_mk.lines() {
        if let Some((var, _)) = line.split_once("+=") {
            inside = match var.trim() {
                "VM_CLASSES_FAST" | "VM_SUPPORT_FAST" => Some(true),
                "VM_CLASSES_SLOW" | "VM_SUPPORT_SLOW" => Some(false),
                _ => None,
            };
            continue;
        }
        if !line.starts_with([' ', '\t']) || line.trim().is_empty() {
            inside = None;
            continue;
        }
        let name = line.trim().trim_end_matches('\\').trim().to_string();
        match inside {
            Some(true) if !name.is_empty() => fast.push(name),
            Some(false) if !name.is_empty() => slow.push(name),
            _ => {}
        }
    }
    (fast, slow)
}

/// `VM_*` defines the generated makefiles give the model's C++ (tracing, coverage, ...).
fn model_defines(obj: &Path, top: &str) -> Vec<String> {
    let mut text = String::new();
    for f in [format!("V{top}.mk"), format!("V{top}_classes.mk")] {
        text.push_str(&std::fs::read_to_string(obj.join(f)).unwrap_or_default());
        text.push('\n');
    }
    [
        "VM_COVERAGE",
        "VM_SC",
        "VM_TRACE",
        "VM_TRACE_FST",
        "VM_TRACE_VCD",
    ]
    .iter()
    .map(|name| {
        let value = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == *name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
            .unwrap_or_else(|| "0".into());
        format!("-D{name}={value}")
    })
    .collect()
}

/// Verilate and link in `dir`; returns (Verilator time, link time).
fn compile_design(
    tc: &Toolchain,
    dir: &Path,
    files: &[VerilogFile],
    spec: &TopSpec,
    wrapper: &str,
    (traced, quick): (bool, bool),
    runtime: &Path,
) -> SimResult<(Duration, Duration)> {
    let io = |what: &str, p: &Path, e| SimError::io(format!("{what} {}", p.display()), e);
    let src = dir.join("src");
    std::fs::create_dir_all(&src).map_err(|e| io("creating", &src, e))?;
    let mut rel = Vec::new();
    for f in files {
        let p = src.join(&f.file_name);
        std::fs::write(&p, &f.text).map_err(|e| io("writing", &p, e))?;
        rel.push(format!("src/{}", f.file_name));
    }
    let wrapper_path = dir.join("wrapper.cpp");
    std::fs::write(&wrapper_path, wrapper).map_err(|e| io("writing", &wrapper_path, e))?;
    let log = dir.join("build.log");

    let t0 = Instant::now();
    let mut cmd = Command::new(&tc.verilator);
    cmd.arg("--cc")
        .args(&rel)
        .args(["--top-module", &spec.name])
        .args(verilator_flags(traced))
        .args(["--Mdir", "obj"]);
    let ran = run_logged(&mut cmd, dir, &log).map_err(|e| SimError::VerilatorMissing {
        detail: format!("cannot run `{}`: {e}", tc.verilator),
    })?;
    if let Err(f) = ran {
        return Err(SimError::VerilogCompile {
            top: spec.name.clone(),
            status: f.status,
            log_tail: f.log_tail,
        });
    }
    let verilate_time = t0.elapsed();

    let obj = dir.join("obj");
    let header_path = obj.join(format!("V{}.h", spec.name));
    let header =
        std::fs::read_to_string(&header_path).map_err(|e| io("reading", &header_path, e))?;
    check_header(spec, &header)?;

    // One translation unit: every generated C++ file, then the wrapper (the Verilator
    // headers are parsed once per model, not once per file).
    let classes =
        std::fs::read_to_string(obj.join(format!("V{}_classes.mk", spec.name))).map_err(|e| {
            io(
                "reading",
                &obj.join(format!("V{}_classes.mk", spec.name)),
                e,
            )
        })?;
    // The slow files (construction, reset, initial blocks: large with randomised
    // state, run once) unoptimized, as Verilator's own makefile builds them.
    let (fast, slow) = model_sources(&classes);
    let mut unit = String::from("// Written by accgen-sim: the model and its wrapper.\n");
    for name in fast {
        unit.push_str(&format!("#include \"obj/{name}.cpp\"\n"));
    }
    unit.push_str("#pragma GCC push_options\n#pragma GCC optimize (\"O0\")\n");
    for name in slow {
        unit.push_str(&format!("#include \"obj/{name}.cpp\"\n"));
    }
    unit.push_str("#pragma GCC pop_options\n#include \"wrapper.cpp\"\n");
    let unit_path = dir.join("model.cpp");
    std::fs::write(&unit_path, unit).map_err(|e| io("writing", &unit_path, e))?;

    let t1 = Instant::now();
    let mut cmd = Command::new(&tc.cxx);
    cmd.args(common_cxx_flags(tc))
        .args(quick.then_some("-O0"))
        .args(model_defines(&obj, &spec.name))
        .arg("-Iobj")
        .arg("model.cpp")
        .arg(runtime)
        .arg("-o")
        .arg(LIBRARY)
        .args(link_flags());
    let ran = run_logged(&mut cmd, dir, &log).map_err(|e| SimError::CompilerMissing {
        compiler: tc.cxx.clone(),
        detail: e.to_string(),
    })?;
    if let Err(f) = ran {
        return Err(SimError::CxxCompile {
            what: format!("the simulation library of `{}`", spec.name),
            status: f.status,
            log_tail: f.log_tail,
        });
    }
    // The objects are large and the library is self-contained; keep only the header.
    let _ = std::fs::copy(&header_path, dir.join(format!("V{}.h", spec.name)));
    let _ = std::fs::remove_dir_all(&obj);
    Ok((verilate_time, t1.elapsed()))
}
