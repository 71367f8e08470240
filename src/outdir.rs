//! Output directories that accgen owns, recognised by their `manifest.json`.
//!
//! Rule: accgen never deletes or overwrites a file it did not create. An output
//! directory is accepted when it does not exist (accgen creates it), is empty, or holds
//! a `manifest.json` with `"generator": "accgen"` whose `files` list names what an
//! earlier run wrote. Only those files may be replaced or removed; any other file in
//! the way is an error naming it, and a non-empty directory without such a manifest is
//! refused before anything is touched.
//!
//! Crash safety: before a new file name is written, the manifest on disk is rewritten
//! to list it (an intent record), so a killed run leaves a manifest that covers every
//! file it created. [`OutputDir::finish`] writes the final manifest and removes the
//! previous run's files that this run did not rewrite. If a run fails before
//! `finish`, a directory accgen created in this run is removed again, file by file.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

/// The manifest file name.
pub const MANIFEST: &str = "manifest.json";

/// The `generator` value that marks an accgen output directory.
pub const GENERATOR: &str = "accgen";

/// An output directory being written (see module docs).
pub struct OutputDir {
    root: PathBuf,
    /// Directories this run created (root and ancestors first, subdirectories after).
    created_dirs: Vec<PathBuf>,
    /// Files listed by the manifest found at claim time.
    previous: BTreeSet<String>,
    /// Files this run wrote or reserved.
    written: BTreeSet<String>,
    finished: bool,
}

/// A relative path inside the output directory: plain components only.
fn check_rel(rel: &str) -> Result<()> {
    let p = Path::new(rel);
    if rel.is_empty()
        || p.is_absolute()
        || !p.components().all(|c| matches!(c, Component::Normal(_)))
    {
        bail!("internal error: `{rel}` is not a plain relative path inside the output directory");
    }
    Ok(())
}

/// The file list of an accgen manifest, or why the file is not one.
fn read_manifest(path: &Path) -> Result<BTreeSet<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON written by accgen", path.display()))?;
    let gen = v["generator"].as_str().unwrap_or("");
    // Manifests of accgen 0.1 say "accgen <version>".
    if gen != GENERATOR && !gen.starts_with("accgen ") {
        bail!(
            "{} was not written by accgen (its \"generator\" is {}), so this is not an accgen output directory; choose another --out",
            path.display(),
            v["generator"]
        );
    }
    let files = v["files"]
        .as_array()
        .with_context(|| format!("{} has no \"files\" list", path.display()))?;
    let mut out = BTreeSet::new();
    for f in files {
        let name = f
            .as_str()
            .with_context(|| format!("{}: \"files\" holds a non-string", path.display()))?;
        check_rel(name).with_context(|| format!("{}: bad file entry", path.display()))?;
        out.insert(name.to_string());
    }
    Ok(out)
}

impl OutputDir {
    /// Claim `root` for writing (see module docs). Cheap: call it before any long work.
    pub fn claim(root: &Path) -> Result<OutputDir> {
        if root.as_os_str().is_empty() {
            bail!("the output directory path is empty");
        }
        let mut created_dirs = Vec::new();
        let mut previous = BTreeSet::new();
        if root.exists() {
            if !root.is_dir() {
                bail!(
                    "output path {} exists and is not a directory",
                    root.display()
                );
            }
            let mut entries: Vec<String> = std::fs::read_dir(root)
                .with_context(|| format!("cannot read output directory {}", root.display()))?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<std::io::Result<_>>()
                .with_context(|| format!("cannot read output directory {}", root.display()))?;
            entries.sort();
            if !entries.is_empty() {
                let manifest = root.join(MANIFEST);
                if !manifest.is_file() {
                    let shown: Vec<&str> = entries.iter().take(5).map(String::as_str).collect();
                    bail!(
                        "output directory {} is not empty ({}{}) and has no accgen {MANIFEST}; \
                         refusing to write into it: choose a new or empty directory",
                        root.display(),
                        shown.join(", "),
                        if entries.len() > 5 { ", ..." } else { "" }
                    );
                }
                previous = read_manifest(&manifest).with_context(|| {
                    format!("refusing to write into output directory {}", root.display())
                })?;
            }
        } else {
            let mut missing: Vec<PathBuf> = root
                .ancestors()
                .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
                .map(Path::to_path_buf)
                .collect();
            missing.reverse();
            for d in &missing {
                if let Err(e) = std::fs::create_dir(d) {
                    for c in created_dirs.iter().rev() {
                        let _ = std::fs::remove_dir(c);
                    }
                    return Err(e).with_context(|| {
                        format!("cannot create output directory {}", d.display())
                    });
                }
                created_dirs.push(d.clone());
            }
        }
        Ok(OutputDir {
            root: root.to_path_buf(),
            created_dirs,
            previous,
            written: BTreeSet::new(),
            finished: false,
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reserve `rel` for a file this run will write (possibly through an external tool):
    /// check that nothing foreign is in the way, create its parent directories and
    /// record it in the on-disk manifest. Returns the full path.
    pub fn reserve(&mut self, rel: &str) -> Result<PathBuf> {
        check_rel(rel)?;
        let path = self.root.join(rel);
        if !self.written.contains(rel) {
            if rel == MANIFEST {
                bail!("internal error: {MANIFEST} is written by finish()");
            }
            if path.symlink_metadata().is_ok() && !self.previous.contains(rel) {
                bail!(
                    "{} exists and was not written by accgen; refusing to overwrite it",
                    path.display()
                );
            }
            if let Some(parent) = Path::new(rel).parent() {
                let mut cur = self.root.clone();
                for c in parent.components() {
                    cur.push(c);
                    if !cur.exists() {
                        std::fs::create_dir(&cur)
                            .with_context(|| format!("cannot create {}", cur.display()))?;
                        self.created_dirs.push(cur.clone());
                    } else if !cur.is_dir() {
                        bail!("{} exists and is not a directory", cur.display());
                    }
                }
            }
            self.written.insert(rel.to_string());
            let all: BTreeSet<&String> = self.previous.iter().chain(&self.written).collect();
            self.write_manifest(
                json!({ "generator": GENERATOR, "complete": false, "files": all }),
            )?;
        }
        Ok(path)
    }

    /// Write `bytes` to `rel` atomically.
    pub fn write(&mut self, rel: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.reserve(rel)?;
        accgen_hw::files::write_atomic(&path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    fn write_manifest(&self, v: Value) -> Result<()> {
        let path = self.root.join(MANIFEST);
        accgen_hw::files::write_atomic(&path, (serde_json::to_string_pretty(&v)? + "\n").as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Write the final manifest (`generator`, `files`, plus `extra` fields) and remove
    /// the previous run's files that this run did not write.
    pub fn finish(mut self, extra: Map<String, Value>) -> Result<()> {
        let mut m = Map::new();
        m.insert("generator".into(), json!(GENERATOR));
        m.insert("generator_version".into(), json!(env!("CARGO_PKG_VERSION")));
        m.insert("files".into(), json!(self.written));
        for (k, v) in extra {
            m.insert(k, v);
        }
        self.write_manifest(Value::Object(m))?;
        for stale in self.previous.difference(&self.written) {
            let p = self.root.join(stale);
            if p.symlink_metadata().is_ok_and(|m| m.is_file()) {
                std::fs::remove_file(&p)
                    .with_context(|| format!("cannot remove stale {}", p.display()))?;
            }
            // Remove directories the stale file leaves empty, up to the root.
            let mut d = p.parent().map(Path::to_path_buf);
            while let Some(dir) = d {
                if dir == self.root || std::fs::remove_dir(&dir).is_err() {
                    break;
                }
                d = dir.parent().map(Path::to_path_buf);
            }
        }
        self.finished = true;
        Ok(())
    }
}

impl Drop for OutputDir {
    /// On failure (no `finish`), remove the files this run added, the manifest when
    /// there was none before, and the directories this run created.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        for f in self.written.difference(&self.previous) {
            let _ = std::fs::remove_file(self.root.join(f));
        }
        if self.previous.is_empty() {
            let _ = std::fs::remove_file(self.root.join(MANIFEST));
        }
        for d in self.created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_foreign_directories_and_files() {
        let t = tempfile::tempdir().unwrap();
        let user = t.path().join("user");
        std::fs::create_dir_all(user.join("src")).unwrap();
        std::fs::write(user.join("README"), "mine").unwrap();
        std::fs::write(
            user.join(MANIFEST),
            r#"{"generator": "other", "files": []}"#,
        )
        .unwrap();
        let err = format!("{:#}", OutputDir::claim(&user).err().unwrap());
        assert!(err.contains("was not written by accgen"), "{err}");
        std::fs::remove_file(user.join(MANIFEST)).unwrap();
        let err = format!("{:#}", OutputDir::claim(&user).err().unwrap());
        assert!(err.contains("is not empty (README, src)"), "{err}");
        assert_eq!(
            std::fs::read_to_string(user.join("README")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn replaces_only_listed_files_and_removes_stale_ones() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("out");
        let mut o = OutputDir::claim(&d).unwrap();
        o.write("a.v", b"1").unwrap();
        o.write("logs/b.log", b"2").unwrap();
        o.finish(Map::new()).unwrap();
        // A file the user drops in is neither overwritten nor removed.
        std::fs::write(d.join("notes.txt"), "user").unwrap();
        let mut o = OutputDir::claim(&d).unwrap();
        o.write("a.v", b"3").unwrap();
        let err = format!("{:#}", o.write("notes.txt", b"x").unwrap_err());
        assert!(err.contains("was not written by accgen"), "{err}");
        o.finish(Map::new()).unwrap();
        assert_eq!(std::fs::read_to_string(d.join("a.v")).unwrap(), "3");
        assert!(
            !d.join("logs").exists(),
            "stale file and its directory removed"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("notes.txt")).unwrap(),
            "user"
        );
        let m: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(MANIFEST)).unwrap()).unwrap();
        assert_eq!(m["files"], json!(["a.v"]));
        assert_eq!(m["generator"], json!("accgen"));
    }

    #[test]
    fn a_failed_run_removes_the_directory_it_created() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("new/deeper");
        {
            let mut o = OutputDir::claim(&d).unwrap();
            o.write("x.v", b"1").unwrap();
            // dropped without finish()
        }
        assert!(!t.path().join("new").exists());
    }
}
