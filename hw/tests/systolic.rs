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
            "accgen_pe_a8_w8_acc32",
            "accgen_pe_a8_w8_acc32_clr1"
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
    // 15 PEs; row i uses clear-flag variant i % 3 (3 = the anti-diagonal length).
    let variant_of_row = |i: usize| -> String {
        let line = grid
            .text
            .lines()
            .find(|l| l.trim_end().ends_with(&format!(" pe_{i}_0 (")))
            .unwrap_or_else(|| panic!("no pe_{i}_0 in\n{}", grid.text));
        line.split_whitespace().next().unwrap().to_string()
    };
    let count = grid
        .text
        .lines()
        .filter(|l| l.trim_start().starts_with("accgen_pe_a8_w8_acc32"))
        .count();
    assert_eq!(count, 15, "{}", grid.text);
    assert_eq!(variant_of_row(0), "accgen_pe_a8_w8_acc32");
    assert_eq!(variant_of_row(1), "accgen_pe_a8_w8_acc32_clr1");
    assert_eq!(variant_of_row(2), "accgen_pe_a8_w8_acc32_clr2");
    assert_eq!(variant_of_row(3), variant_of_row(0));
    assert_eq!(variant_of_row(4), variant_of_row(1));
}
