//! `accgen cache info` and `accgen cache clean`: the Verilator model cache
//! (`accgen_sim::cache`). Only entries accgen created are ever removed.

use accgen_sim::cache::{self, default_cache_root};
use anyhow::Result;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// Print the cache root, its entries and the cap.
pub fn info() -> Result<()> {
    let root = default_cache_root();
    let entries = cache::entries(&root);
    let total: u64 = entries.iter().map(|e| e.bytes).sum();
    println!("cache: {}", root.display());
    println!(
        "models: {} using {:.1} MiB of a {:.0} MiB cap (${} in MiB)",
        entries.len(),
        mib(total),
        mib(cache::max_bytes()),
        cache::CACHE_MAX_ENV
    );
    Ok(())
}

/// Remove every model (and the runtime with `runtime`).
pub fn clean(runtime: bool) -> Result<()> {
    let root = default_cache_root();
    let (n, freed) = cache::clean(&root, runtime)?;
    println!(
        "removed {n} cache entr{} ({:.1} MiB) from {}",
        if n == 1 { "y" } else { "ies" },
        mib(freed),
        root.display()
    );
    Ok(())
}
