//! Yosys resources of one PE: dense versus N:M sparse (the index-mux overhead).
//! Run: `cargo bench --bench pe_resources`. Prints a table; asserts nothing.

use accgen_golden::gemm::ArrayConfig;
use accgen_golden::nm_sparse::SparsityConfig;
use accgen_hw::nm_pe::nm_pe;
use accgen_hw::pe::pe;
use accgen_hw::rtl::{Design, Library};
use accgen_sim::lint::{yosys_synth, XilinxFamily};

fn main() {
    let cfg = ArrayConfig::default();
    let dir = std::env::temp_dir().join(format!("accgen-pe-res-{}", std::process::id()));
    let mut lib = Library::new();
    let mut mods = vec![("dense".to_string(), pe(&mut lib, &cfg).unwrap(), 1u32)];
    for (n, m) in [(1u32, 2u32), (2, 4), (1, 4), (2, 8), (4, 8), (4, 16)] {
        let k = nm_pe(&mut lib, &cfg, &SparsityConfig { n, m }).unwrap();
        mods.push((format!("{n}:{m}"), k.module, n));
    }
    for family in [XilinxFamily::Xcup, XilinxFamily::Xc7] {
        println!("== one PE, int8 x int8 -> int32, yosys synth_xilinx -family {family} ==");
        println!(
            "{:<7} {:>5} {:>6} {:>6} {:>6} {:>12} {:>14}",
            "PE", "mults", "LUT", "FF", "DSP", "LUT per mult", "LUT over dense"
        );
        let mut dense_luts = 0;
        for (label, module, mults) in &mods {
            let mut d = Design::new();
            d.add_top(module.clone());
            let files = d.write(&dir).unwrap();
            let (_, r) = yosys_synth(&files, module.name(), family, &dir).unwrap();
            if label == "dense" {
                dense_luts = r.luts;
            }
            println!(
                "{:<7} {:>5} {:>6} {:>6} {:>6} {:>12.1} {:>14}",
                label,
                mults,
                r.luts,
                r.ffs,
                r.dsps,
                r.luts as f64 / *mults as f64,
                r.luts as i64 - dense_luts as i64
            );
            for f in files {
                let _ = std::fs::remove_file(f);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
