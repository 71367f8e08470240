//! Emitted Verilog of a small systolic array (insta snapshots, one per layer) and
//! generation properties that need no simulator.

use accgen_golden::gemm::ArrayConfig;
use accgen_hw::rtl::{Design, Library};
use accgen_hw::systolic::systolic_array;

fn cfg(rows: u32, cols: u32) -> ArrayConfig {
    ArrayConfig {
        rows,
        cols,
        ..ArrayConfig::default()
    }
}

#[test]
fn array_2x2_snapshot() {
    let mut lib = Library::new();
    let top = systolic_array(&mut lib, &cfg(2, 2)).unwrap();
    let mut d = Design::new();
    d.add_top(top);
    let files = d.files().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.module.as_str()).collect();
    assert_eq!(
        names,
        [
            "accgen_array_r2_c2_a8_w8_acc32",
            "accgen_core_r2_c2_a8_w8_acc32",
            "accgen_drainctl_r2",
            "accgen_grid_r2_c2_a8_w8_acc32",
            "accgen_pe_a8_w8_acc32"
        ],
        "one file per layer, PE emitted once"
    );
    for f in &files {
        insta::assert_snapshot!(f.module.clone(), f.text);
    }
}

#[test]
fn generation_is_deterministic_and_pe_is_shared() {
    let text = |c: &ArrayConfig| {
        let mut lib = Library::new();
        let mut d = Design::new();
        d.add_top(systolic_array(&mut lib, c).unwrap());
        d.files().unwrap()
    };
    let c = cfg(5, 3);
    assert_eq!(text(&c), text(&c));
    let grid = text(&c)
        .into_iter()
        .find(|f| f.module.starts_with("accgen_grid"))
        .unwrap();
    assert_eq!(grid.text.matches("accgen_pe_a8_w8_acc32 pe_").count(), 15);
}
