//! Checks of output file paths, run before any expensive work.
//!
//! accgen never overwrites a file it did not create, and it cannot tell whether an
//! existing file at an output path is its own, so an existing output file is refused
//! unless `--force` is given. The parent directory must exist, the path must not be a
//! directory, and two outputs of one command must not share a path.

use std::path::Path;

use anyhow::{bail, Result};

/// Check every `(flag, path)` output of a command (see module docs).
pub fn check_outputs(outputs: &[(&str, Option<&Path>)], force: bool) -> Result<()> {
    let given: Vec<(&str, &Path)> = outputs
        .iter()
        .filter_map(|(f, p)| p.map(|p| (*f, p)))
        .collect();
    for (i, (flag, path)) in given.iter().enumerate() {
        check_output(flag, path, force)?;
        if let Some((other, _)) = given[..i].iter().find(|(_, q)| same_path(q, path)) {
            bail!(
                "{flag} and {other} both name {}; give each output its own file",
                path.display()
            );
        }
    }
    Ok(())
}

fn same_path(a: &Path, b: &Path) -> bool {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    abs(a) == abs(b)
}

/// Check one output file path.
pub fn check_output(flag: &str, path: &Path, force: bool) -> Result<()> {
    if path.as_os_str().is_empty() {
        bail!("{flag}: the path is empty");
    }
    if path.file_name().is_none() {
        bail!("{flag} {}: the path does not name a file", path.display());
    }
    if path.is_dir() {
        bail!(
            "{flag} {}: is a directory; give a file path",
            path.display()
        );
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        bail!(
            "{flag} {}: the directory {} does not exist",
            path.display(),
            parent.display()
        );
    }
    let meta = std::fs::metadata(parent);
    if meta.as_ref().is_ok_and(|m| m.permissions().readonly()) {
        bail!(
            "{flag} {}: the directory {} is read-only",
            path.display(),
            parent.display()
        );
    }
    if path.symlink_metadata().is_ok() && !force {
        bail!(
            "{flag} {}: the file exists; accgen does not overwrite files it did not create \
             (pass --force to replace it)",
            path.display()
        );
    }
    Ok(())
}
