//! The on-disk build cache: where it lives and how entries are published safely.
//!
//! An entry is a directory `<root>/<name>/` whose file [`MARKER`] is written last.
//! A builder works in a private directory `<root>/.tmp-<name>-<host>-<pid>-<n>-<ns>/`
//! (unique across machines that share the cache), writes the
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

/// Environment variable that sets the cache size cap in MiB (design entries only).
pub const CACHE_MAX_ENV: &str = "ACCGEN_CACHE_MAX_MB";

/// Default size cap of the design entries: 2 GiB (a small model is 0.2-1 MiB, a
/// 16x16 array about 3 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;

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

/// A name part no other builder uses, also across machines sharing the cache (for
/// example Slurm nodes on one network file system): host, process, counter, time.
fn unique_suffix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    static HOST: OnceLock<String> = OnceLock::new();
    let host = HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| {
                h.trim()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect()
            })
            .filter(|h: &String| !h.is_empty())
            .unwrap_or_else(|| "host".into())
    });
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{host}-{}-{}-{nanos}",
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

/// The size cap: `$ACCGEN_CACHE_MAX_MB` MiB when set to a valid value (see
/// [`max_bytes_from_env`]), else [`DEFAULT_MAX_BYTES`].
pub fn max_bytes() -> u64 {
    max_bytes_from_env().unwrap_or(DEFAULT_MAX_BYTES)
}

/// The size cap from `$ACCGEN_CACHE_MAX_MB` (a whole number of MiB, at least 1), or
/// [`DEFAULT_MAX_BYTES`] when it is unset; an error naming the variable and the
/// allowed range when it is set to anything else. The CLI checks this before it
/// does any work.
pub fn max_bytes_from_env() -> Result<u64, String> {
    match std::env::var(CACHE_MAX_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_MAX_BYTES),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!(
            "{CACHE_MAX_ENV} is not valid UTF-8; expected a whole number of MiB, 1 or more"
        )),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(mb) if mb >= 1 => Ok(mb.saturating_mul(1 << 20)),
            _ => Err(format!(
                "{CACHE_MAX_ENV}=`{v}` is not allowed; expected a whole number of MiB, 1 or more"
            )),
        },
    }
}

/// One finished design entry of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// Directory name (the content hash).
    pub name: String,
    /// Bytes on disk.
    pub bytes: u64,
    /// Last use (the marker's modification time, refreshed on every hit).
    pub last_used: SystemTime,
}

/// True for the names of design entries (32 hex digits); the Verilator runtime
/// entries (`vlrt-*`) are never evicted.
fn is_design_entry(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// The finished design entries under `root`, least recently used first.
pub fn entries(root: &Path) -> Vec<EntryInfo> {
    let Ok(rd) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<EntryInfo> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let dir = e.path();
            if !is_design_entry(&name) || !is_complete(&dir) {
                return None;
            }
            let last_used = std::fs::metadata(dir.join(MARKER))
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            Some(EntryInfo {
                bytes: dir_bytes(&dir),
                name,
                last_used,
            })
        })
        .collect();
    out.sort_by(|a, b| a.last_used.cmp(&b.last_used).then(a.name.cmp(&b.name)));
    out
}

/// Mark the entry `dir` as used now (its marker's modification time).
fn touch(dir: &Path) {
    if let Ok(f) = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(MARKER))
    {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Remove least recently used design entries until they total at most `max` bytes,
/// never the entry named `keep`. Returns (entries removed, bytes freed). Only
/// finished entries accgen wrote (hash-named, with the marker) are touched.
pub fn evict(root: &Path, max: u64, keep: &str) -> (usize, u64) {
    let all = entries(root);
    let mut total: u64 = all.iter().map(|e| e.bytes).sum();
    let (mut n, mut freed) = (0, 0);
    for e in &all {
        if total <= max {
            break;
        }
        if e.name == keep {
            continue;
        }
        // Move aside first so no reader sees a half-deleted entry.
        let dir = root.join(&e.name);
        let aside = root.join(format!(".tmp-evict-{}-{}", e.name, unique_suffix()));
        if std::fs::rename(&dir, &aside).is_ok() {
            let _ = std::fs::remove_dir_all(&aside);
            total -= e.bytes;
            freed += e.bytes;
            n += 1;
        }
    }
    (n, freed)
}

/// Remove every design entry and every leftover temporary directory under `root`
/// (the Verilator runtime too when `runtime` is true). Returns (entries removed,
/// bytes freed). Files accgen did not put there are left alone.
pub fn clean(root: &Path, runtime: bool) -> SimResult<(usize, u64)> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(SimError::io(format!("reading cache {}", root.display()), e)),
    };
    let (mut n, mut freed) = (0, 0);
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let ours = (is_design_entry(&name) && is_complete(&path))
            || (runtime && name.starts_with("vlrt-") && is_complete(&path))
            || (name.starts_with(".tmp-") && path.is_dir());
        if !ours {
            continue;
        }
        let bytes = dir_bytes(&path);
        std::fs::remove_dir_all(&path)
            .map_err(|err| SimError::io(format!("removing {}", path.display()), err))?;
        n += 1;
        freed += bytes;
    }
    Ok((n, freed))
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
        touch(&dir);
        return Ok(Entry { dir, hit: true });
    }
    let lock = entry_lock(&dir);
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    if is_complete(&dir) {
        touch(&dir);
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
    if is_design_entry(name) {
        evict(root, max_bytes(), name);
    }
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
    fn eviction_removes_least_recently_used_entries_and_clean_keeps_foreign_files() {
        let root = scratch("evict");
        let mk = |name: &str, bytes: usize, age_s: u64| {
            let d = root.join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("lib.so"), vec![0u8; bytes]).unwrap();
            std::fs::write(d.join(MARKER), "x").unwrap();
            let f = std::fs::OpenOptions::new()
                .append(true)
                .open(d.join(MARKER))
                .unwrap();
            f.set_modified(SystemTime::now() - Duration::from_secs(age_s))
                .unwrap();
        };
        let h = |c: char| std::iter::repeat_n(c, 32).collect::<String>();
        mk(&h('a'), 1000, 300);
        mk(&h('b'), 1000, 200);
        mk(&h('c'), 1000, 100);
        mk("vlrt-runtime", 5000, 999);
        std::fs::write(root.join("notes.txt"), "user").unwrap();
        // A hit refreshes the oldest entry, so the next oldest goes first.
        let e = get_or_build(&root, &h('a'), "x", |_| panic!("must be a hit")).unwrap();
        assert!(e.hit);
        assert_eq!(entries(&root).last().unwrap().name, h('a'));
        let (n, freed) = evict(&root, 2100, &h('c'));
        assert_eq!(n, 1);
        assert!(freed >= 1000);
        assert!(!root.join(h('b')).exists());
        assert!(root.join(h('a')).exists() && root.join(h('c')).exists());
        // The kept entry survives even when the cap says otherwise.
        evict(&root, 0, &h('c'));
        assert!(root.join(h('c')).exists() && !root.join(h('a')).exists());
        assert!(root.join("vlrt-runtime").exists(), "runtime never evicted");
        let (n, _) = clean(&root, false).unwrap();
        assert_eq!(n, 1);
        assert!(root.join("vlrt-runtime").exists());
        assert!(root.join("notes.txt").exists(), "foreign files stay");
        clean(&root, true).unwrap();
        assert!(!root.join("vlrt-runtime").exists());
        assert!(root.join("notes.txt").exists());
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
