//! Collections of modules: the generator [`Library`] (dedup by name + parameters) and
//! the emitted [`Design`] (one file per module, written atomically).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::emit::module_verilog;
use super::error::{RtlError, RtlResult};
use super::module::Module;
use crate::files::write_atomic;
use crate::vendor::Vendor;

/// Memoises module generators. A generator names its module from its generator name
/// and parameters (for example `accgen_mac_a8_b8_acc32`), so a module requested twice
/// with the same parameters is built once and emitted once.
#[derive(Default)]
pub struct Library {
    built: HashMap<String, Rc<Module>>,
    vendor: Vendor,
}

impl Library {
    /// An empty library for [`Vendor::Generic`].
    pub fn new() -> Library {
        Library::default()
    }

    /// An empty library whose generators target `vendor`.
    pub fn with_vendor(vendor: Vendor) -> Library {
        Library {
            built: HashMap::new(),
            vendor,
        }
    }

    /// The target vendor of every module built here.
    pub fn vendor(&self) -> Vendor {
        self.vendor
    }

    /// The module called `name`, building it with `build` on first request. `build`
    /// must produce a module with exactly that name.
    pub fn get_or_build(
        &mut self,
        name: &str,
        build: impl FnOnce(&mut Library) -> RtlResult<Module>,
    ) -> RtlResult<Rc<Module>> {
        if let Some(m) = self.built.get(name) {
            return Ok(m.clone());
        }
        let m = build(self)?;
        if m.name() != name {
            return Err(RtlError {
                module: m.name().to_string(),
                message: format!(
                    "generator registered as `{name}` built a module with another name"
                ),
            });
        }
        let m = Rc::new(m);
        self.built.insert(name.to_string(), m.clone());
        Ok(m)
    }
}

/// One emitted Verilog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerilogFile {
    /// Module name.
    pub module: String,
    /// File name, `<module>.v` (Verilator's DECLFILENAME rule).
    pub file_name: String,
    /// File contents.
    pub text: String,
}

/// A set of top modules and, transitively, everything they instantiate.
#[derive(Default, Clone)]
pub struct Design {
    tops: Vec<Rc<Module>>,
}

impl Design {
    /// An empty design.
    pub fn new() -> Design {
        Design::default()
    }

    /// Add a top module.
    pub fn add_top(&mut self, m: Rc<Module>) {
        self.tops.push(m);
    }

    /// The top modules in the order they were added.
    pub fn tops(&self) -> &[Rc<Module>] {
        &self.tops
    }

    /// Every module once, sorted by name. Two different modules with one name are an error.
    pub fn modules(&self) -> RtlResult<Vec<Rc<Module>>> {
        let mut seen: BTreeMap<String, Rc<Module>> = BTreeMap::new();
        let mut stack: Vec<Rc<Module>> = self.tops.clone();
        while let Some(m) = stack.pop() {
            if let Some(prev) = seen.get(m.name()) {
                if !Rc::ptr_eq(prev, &m) && module_verilog(prev) != module_verilog(&m) {
                    return Err(RtlError {
                        module: m.name().to_string(),
                        message: "two different modules share this name; generators must put every parameter in the module name".into(),
                    });
                }
                continue;
            }
            stack.extend(m.children().cloned());
            seen.insert(m.name().to_string(), m);
        }
        Ok(seen.into_values().collect())
    }

    /// The Verilog files, one per module, sorted by module name.
    pub fn files(&self) -> RtlResult<Vec<VerilogFile>> {
        Ok(self
            .modules()?
            .iter()
            .map(|m| VerilogFile {
                module: m.name().to_string(),
                file_name: format!("{}.v", m.name()),
                text: module_verilog(m),
            })
            .collect())
    }

    /// Vendor cell types instantiated anywhere in the design, sorted and unique.
    pub fn primitive_cells(&self) -> RtlResult<Vec<String>> {
        let mut cells: Vec<String> = self
            .modules()?
            .iter()
            .flat_map(|m| m.primitive_cells().map(str::to_string).collect::<Vec<_>>())
            .collect();
        cells.sort();
        cells.dedup();
        Ok(cells)
    }

    /// [`Design::files`] plus the simulation models of the vendor cells the design
    /// instantiates: what Verilator and Icarus read. Synthesis reads `files` only.
    pub fn sim_files(&self) -> RtlResult<Vec<VerilogFile>> {
        let mut files = self.files()?;
        for cell in self.primitive_cells()? {
            let model = crate::vendor::sim_model(&cell).ok_or_else(|| RtlError {
                module: cell.clone(),
                message: "no simulation model for this vendor cell".into(),
            })?;
            files.push(model);
        }
        Ok(files)
    }

    /// Write every file into `dir` (created if missing), each atomically. Returns the paths.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let files = self
            .files()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        std::fs::create_dir_all(dir)?;
        let mut out = Vec::new();
        for f in files {
            let p = dir.join(&f.file_name);
            write_atomic(&p, f.text.as_bytes())?;
            out.push(p);
        }
        Ok(out)
    }
}
