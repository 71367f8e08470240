//! Emitted Verilog of a 2x2 2:4 sparse array (insta snapshots, one per module) and its
//! interface: M activation lanes per row, N weight and index lanes per column.

use accgen_golden::gemm::ArrayConfig;
use accgen_golden::nm_sparse::SparsityConfig;
use accgen_hw::rtl::{Design, Dir, Library};

#[test]
fn sparse_array_2x2_2of4_snapshot_and_ports() {
    let cfg = ArrayConfig {
        rows: 2,
        cols: 2,
        ..ArrayConfig::default()
    };
    let sp = SparsityConfig { n: 2, m: 4 };
    let mut lib = Library::new();
    let top = accgen_hw::sparse_array(&mut lib, &cfg, &sp).unwrap();
    let inputs: Vec<(&str, u32)> = top
        .ports()
        .iter()
        .filter(|p| p.dir == Dir::Input)
        .map(|p| (p.name.as_str(), p.width))
        .collect();
    assert_eq!(
        inputs.iter().filter(|(n, _)| n.starts_with('a')).count(),
        8,
        "4 slots x 2 rows"
    );
    assert_eq!(
        inputs.iter().filter(|(n, _)| n.starts_with('w')).count(),
        4,
        "2 slots x 2 cols"
    );
    assert!(
        inputs.contains(&("i1_1", 2)),
        "2-bit index lanes: {inputs:?}"
    );
    let mut d = Design::new();
    d.add_top(top);
    let files = d.files().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.module.as_str()).collect();
    assert_eq!(
        names,
        [
            "accgen_array_r2_c2_nm2of4_a8_w8_acc32",
            "accgen_drainctl_r2",
            "accgen_grid_r2_c2_nm2of4_a8_w8_acc32",
            "accgen_pe_nm2of4_a8_w8_acc32"
        ]
    );
    for f in &files {
        insta::assert_snapshot!(f.module.clone(), f.text);
    }
}
