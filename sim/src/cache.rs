//! The on-disk build cache: where it lives and how entries are published safely.
//!
//! An entry is a directory `<root>/<name>/` whose file [`MARKER`] is written last.
//! A builder works in a private directory `<root>/.tmp-<name>-<pid>-<n>/`, writes the
//! marker there, then renames the whole directory into place. `rename(2)` of a
//! directory onto an existing non-empty one fails, so when two processes race, the
//! first rename wins and the loser deletes its copy and uses the winner's. Within one
//! process, builders of the same entry also queue on a lock, so the work is done once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use crate::error::{SimError, SimResult};

/// Environment variable that overrides the cache root.
pub const CACHE_DIR_ENV: &str = "ACCGEN_CACHE_DIR";

/// File written last into a finished cache entry.
pub const MARKER: &str = "accgen-complete";

/// Temporary directories older than this are leftovers of killed builds.
const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The default cache root: `$ACCGEN_CACHE_DIR` if set; else `accgen-cache` inside the
/// nearest ancestor directory named `target` of the running executable (so tests and
/// tools in a cargo workspace share `target/accgen-cache`); else `$HOME/.cache/accgen`;
/// else `accgen-cache` in the system temporary directory.
pub fn default_cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(t) = std::env::current_exe()
        .ok()
        .as_deref()
        .and_then(target_ancestor)
    {
        return t.join("accgen-cache");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache/accgen");
    }
    std::env::temp_dir().join("accgen-cache")
}

/// The nearest ancestor of `path` (excluding `path` itself) whose name is `target`.
pub(crate) fn target_ancestor(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .find(|a| a.file_name().is_some_and(|n| n == "target"))
        .map(Path::to_path_buf)
}

fn entry_lock(path: &Path) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let mut map = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(path.to_path_buf()).or_default().clone()
}

fn unique_suffix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// True when `dir` is a finished entry.
pub fn is_complete(dir: &Path) -> bool {
    dir.join(MARKER).is_file()
}

/// Remove `.tmp-*` directories in `root` that are older than a day (killed builds).
fn sweep_stale(root: &Path) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if name.to_string_lossy().starts_with(".tmp-") && stale {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Outcome of [`get_or_build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The finished entry directory.
    pub dir: PathBuf,
    /// True when the entry existed already (nothing was built by this call).
    pub hit: bool,
}

/// The finished entry `<root>/<name>`, building it with `build(tmp_dir)` if missing.
/// `build` fills the directory it is given; `marker` is the text of the marker file.
pub(crate) fn get_or_build(
    root: &Path,
    name: &str,
    marker: &str,
    build: impl FnOnce(&Path) -> SimResult<()>,
) -> SimResult<Entry> {
    let dir = root.join(name);
    if is_complete(&dir) {
        return Ok(Entry { dir, hit: true });
    }
    let lock = entry_lock(&dir);
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    if is_complete(&dir) {
        return Ok(Entry { dir, hit: true });
    }
    std::fs::create_dir_all(root)
        .map_err(|e| SimError::io(format!("creating cache directory {}", root.display()), e))?;
    sweep_stale(root);
    let tmp = root.join(format!(".tmp-{name}-{}", unique_suffix()));
    std::fs::create_dir_all(&tmp)
        .map_err(|e| SimError::io(format!("creating build directory {}", tmp.display()), e))?;
    let result = build(&tmp).and_then(|()| {
        std::fs::write(tmp.join(MARKER), marker)
            .map_err(|e| SimError::io(format!("writing {}", tmp.join(MARKER).display()), e))
    });
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    publish(&tmp, &dir)?;
    Ok(Entry { dir, hit: false })
}

/// Rename the finished `tmp` to `dir`; if another builder got there first, keep theirs.
fn publish(tmp: &Path, dir: &Path) -> SimResult<()> {
    for _ in 0..2 {
        match std::fs::rename(tmp, dir) {
            Ok(()) => return Ok(()),
            Err(_) if is_complete(dir) => {
                // Another process won the race; its entry is equivalent to ours.
                let _ = std::fs::remove_dir_all(tmp);
                return Ok(());
            }
            Err(e) if dir.exists() => {
                // A directory without a marker is not ours to trust (a copy made by hand,
                // a foreign tool): move it aside atomically, then retry once.
                let aside = dir.with_file_name(format!(".tmp-stale-{}", unique_suffix()));
                if std::fs::rename(dir, &aside).is_ok() {
                    let _ = std::fs::remove_dir_all(&aside);
                } else if !is_complete(dir) {
                    let _ = std::fs::remove_dir_all(tmp);
                    return Err(SimError::io(format!("publishing {}", dir.display()), e));
                }
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(tmp);
                return Err(SimError::io(format!("publishing {}", dir.display()), e));
            }
        }
    }
    if is_complete(dir) {
        let _ = std::fs::remove_dir_all(tmp);
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(tmp);
    Err(SimError::io(
        format!("publishing {}", dir.display()),
        std::io::Error::other("the cache entry kept changing during the rename"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("accgen-sim-cache-{name}-{}", unique_suffix()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn target_ancestor_is_nearest_target_dir() {
        let p = Path::new("/w/target/debug/deps/harness-abc");
        assert_eq!(target_ancestor(p), Some(PathBuf::from("/w/target")));
        assert_eq!(target_ancestor(Path::new("/usr/bin/accgen")), None);
        assert_eq!(
            target_ancestor(Path::new("/a/target/x/target/debug/t")),
            Some(PathBuf::from("/a/target/x/target"))
        );
    }

    #[test]
    fn build_once_then_hit_and_failed_builds_leave_nothing() {
        let root = scratch("once");
        let e = get_or_build(&root, "k1", "m", |d| {
            std::fs::write(d.join("f"), "1").map_err(|e| SimError::io("w", e))
        })
        .unwrap();
        assert!(!e.hit && is_complete(&e.dir));
        let e2 = get_or_build(&root, "k1", "m", |_| panic!("must not rebuild")).unwrap();
        assert!(e2.hit);
        assert_eq!(std::fs::read_to_string(e2.dir.join("f")).unwrap(), "1");
        let err = get_or_build(&root, "k2", "m", |_| {
            Err(SimError::NoPorts { top: "x".into() })
        })
        .unwrap_err();
        assert!(matches!(err, SimError::NoPorts { .. }));
        let names: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["k1"], "no temp or partial entries left behind");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn losing_a_race_keeps_the_winner() {
        let root = scratch("race");
        // Simulate another process that published while we were building.
        let e = get_or_build(&root, "k", "m", |_tmp| {
            let other = root.join("k");
            std::fs::create_dir_all(&other).unwrap();
            std::fs::write(other.join("who"), "winner").unwrap();
            std::fs::write(other.join(MARKER), "m").unwrap();
            Ok(())
        })
        .unwrap();
        assert!(!e.hit);
        assert_eq!(
            std::fs::read_to_string(e.dir.join("who")).unwrap(),
            "winner"
        );
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 1);
        let _ = std::fs::remove_dir_all(&root);
    }
}
