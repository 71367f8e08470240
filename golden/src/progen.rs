//! Random valid programs for co-simulation and fuzzing.
//!
//! [`load_store_program`] draws a race-free LOAD/STORE program: whatever order the
//! hardware's engines run in (within what the dependency tokens and fences allow), the
//! DRAM image at `halt` is the golden model's. The rules that make it so:
//! - loads read DRAM `[0, half)`, stores write `[half, 2 * half)`: no DRAM byte is both;
//! - the scratchpad's first [`INIT_ROWS`] rows are loaded first, then a `fence`; later
//!   standalone stores only read them and nothing writes them again;
//! - each load->compute->store chain (tokens `push_next` / `pop_prev push_next` /
//!   `pop_prev`) has its own scratchpad rows; a store->compute->load chain (tokens
//!   `push_prev` / `pop_next push_prev` / `pop_next`) reuses a chain's rows only after
//!   the store that read them;
//! - standalone loads write a last area no store reads;
//! - `fence` may appear anywhere.

use crate::accel::Geometry;
use crate::asm::assemble;
use crate::isa::Program;
use crate::rng::SplitMix64;

/// Scratchpad rows filled at the start of every program.
pub const INIT_ROWS: u64 = 64;

/// Rows each chain owns.
const CHAIN_ROWS: u64 = 16;

/// A random race-free LOAD/STORE program of about `items` steps for a machine with
/// geometry `g` and a DRAM of `2 * half` bytes (its data area; the program goes
/// elsewhere). Rows are 1..=4 per transfer and 1..=64 bytes each, so every transfer
/// fits a chain's rows whatever the scratchpad row size (at least 16 bytes).
pub fn load_store_program(rng: &mut SplitMix64, g: &Geometry, half: u64, items: usize) -> Program {
    let w = g.spad_row_bytes as u64;
    assert!(
        w >= 16,
        "rows of at least 16 bytes (64-byte transfers fit 4 rows)"
    );
    let chains_max = (g.spad_rows as u64).saturating_sub(2 * INIT_ROWS) / CHAIN_ROWS;
    let free_area = INIT_ROWS + chains_max * CHAIN_ROWS;
    let init_bytes = (INIT_ROWS / 8) * w;
    let mut t =
        format!("load dram=0x0 rows=8 bytes={init_bytes} stride={init_bytes} spad=0\nfence\n");
    let mut chain = 0;
    // Chains whose rows a later store->load chain may reuse: (first row, rows,
    // bytes) of the data they hold, so a store reads only rows that were written.
    let mut reusable: Vec<(u64, i64, i64)> = Vec::new();
    let pick_dram = |rng: &mut SplitMix64, lo: u64, rows: i64, stride: i64, bytes: i64| {
        let span = (rows - 1) * stride + bytes;
        rng.range_i64(lo as i64, (lo + half) as i64 - span) as u64
    };
    for _ in 0..items {
        let rows = rng.range_i64(1, 4);
        let bytes = rng.range_i64(1, 64);
        let st_stride = rng.range_i64(bytes, 512);
        let ld_stride = rng.range_i64(0, 600);
        match rng.range_i64(0, 5) {
            0 | 1 if chain < chains_max => {
                let spad = INIT_ROWS + CHAIN_ROWS * chain;
                chain += 1;
                let ld = pick_dram(rng, 0, rows, ld_stride, bytes);
                let st = pick_dram(rng, half, rows, st_stride, bytes);
                t += &format!(
                    "load dram={ld:#x} rows={rows} bytes={bytes} stride={ld_stride} spad={spad} push_next\n\
                     nop.compute pop_prev push_next\n\
                     store dram={st:#x} rows={rows} bytes={bytes} stride={st_stride} spad={spad} pop_prev\n"
                );
                reusable.push((spad, rows, bytes));
            }
            2 if !reusable.is_empty() => {
                // Store from a chain's rows, then (ordered by tokens) load new data
                // into them and store that too.
                let k = rng.range_i64(0, reusable.len() as i64 - 1) as usize;
                let (spad, rows1, bytes1) = reusable.remove(k);
                let st_stride1 = rng.range_i64(bytes1, 512);
                let st1 = pick_dram(rng, half, rows1, st_stride1, bytes1);
                let ld = pick_dram(rng, 0, rows, ld_stride, bytes);
                let st2 = pick_dram(rng, half, rows, st_stride, bytes);
                reusable.push((spad, rows, bytes));
                t += &format!(
                    "store dram={st1:#x} rows={rows1} bytes={bytes1} stride={st_stride1} spad={spad} push_prev\n\
                     nop.compute pop_next push_prev\n\
                     load dram={ld:#x} rows={rows} bytes={bytes} stride={ld_stride} spad={spad} pop_next push_next\n\
                     nop.compute pop_prev push_next\n\
                     store dram={st2:#x} rows={rows} bytes={bytes} stride={st_stride} spad={spad} pop_prev\n"
                );
            }
            3 => {
                let spad = rng.range_i64(0, (INIT_ROWS - CHAIN_ROWS) as i64);
                let st = pick_dram(rng, half, rows, st_stride, bytes);
                t += &format!(
                    "store dram={st:#x} rows={rows} bytes={bytes} stride={st_stride} spad={spad}\n"
                );
            }
            4 => {
                let spad =
                    rng.range_i64(free_area as i64, (g.spad_rows as u64 - CHAIN_ROWS) as i64);
                let ld = pick_dram(rng, 0, rows, ld_stride, bytes);
                t += &format!(
                    "load dram={ld:#x} rows={rows} bytes={bytes} stride={ld_stride} spad={spad}\n"
                );
            }
            _ => t += "fence\n",
        }
    }
    t += "halt\n";
    assemble(&t).expect("generated programs assemble")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::machine::Machine;

    #[test]
    fn generated_programs_are_valid_and_run_on_golden() {
        let cfg = Config::from_toml_str("[array]\n[accel]\nspad_kib = 16\n").unwrap();
        let g = Geometry::of(&cfg).unwrap();
        let mut rng = SplitMix64::new(1);
        for n in [0, 5, 40] {
            let p = load_store_program(&mut rng, &g, 0x4000, n);
            p.check(&cfg).unwrap();
            let mut dram = vec![0u8; 0x10000];
            let at = 0x8000;
            dram[at..at + p.to_bytes().len()].copy_from_slice(&p.to_bytes());
            let mut m = Machine::new(&cfg, dram, 0).unwrap();
            let out = m.run(at as u64, p.instrs.len() as u64);
            assert_eq!(out.fault, None, "{n} items");
            assert_eq!(out.uninit_reads, [], "progen reads only rows it wrote");
        }
    }
}
