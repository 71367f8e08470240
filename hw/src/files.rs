//! Atomic file output: nothing half-written is ever left at the destination path.

use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` through a temporary file in the same directory (the
/// `tempfile` crate), then rename it into place. On any error the temporary file is
/// removed and `path` is untouched. Errors name `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let named = |e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("writing {}: {e}", path.display()))
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if path.file_name().is_none() {
        return Err(named(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path has no file name",
        )));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".accgen-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(named)?;
    tmp.write_all(bytes).map_err(named)?;
    tmp.as_file().sync_all().map_err(named)?;
    tmp.persist(path).map_err(|e| named(e.error))?;
    Ok(())
}
