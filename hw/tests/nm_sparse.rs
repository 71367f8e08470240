//! Emitted Verilog of a 2x2 2:4 sparse array (insta snapshots, one per module) and its
//! AXI4-Stream interface: M activation bytes per row, N weight bytes and one index
//! byte per column in each beat.

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
    let port = |n: &str| {
        top.ports()
            .iter()
            .find(|p| p.name == n)
            .map(|p| (p.dir, p.width))
    };
    // One beat: 2 rows x 4 activation bytes, then 2 columns x (2 weight bytes + 1
    // index byte).
    assert_eq!(
        port("s_axis_tdata"),
        Some((Dir::Input, 2 * 4 * 8 + 2 * 3 * 8))
    );
    assert_eq!(port("s_axis_tready"), Some((Dir::Output, 1)));
    assert_eq!(port("s_axis_tlast"), Some((Dir::Input, 1)));
    assert_eq!(port("m_axis_tdata"), Some((Dir::Output, 2 * 32)));
    assert_eq!(port("m_axis_tuser"), Some((Dir::Output, 1)));
    assert_eq!(
        accgen_hw::array::in_tdata_bits(
            &accgen_hw::nm_pe::nm_pe(&mut lib, &cfg, &sp).unwrap(),
            2,
            2
        ),
        112
    );
    let mut d = Design::new();
    d.add_top(top);
    let files = d.files().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.module.as_str()).collect();
    assert_eq!(
        names,
        [
            "accgen_array_r2_c2_nm2of4_a8_w8_acc32",
            "accgen_core_r2_c2_nm2of4_a8_w8_acc32",
            "accgen_drainctl_r2",
            "accgen_grid_r2_c2_nm2of4_a8_w8_acc32",
            "accgen_pe_nm2of4_a8_w8_acc32",
            "accgen_pe_nm2of4_a8_w8_acc32_clr1"
        ]
    );
    for f in &files {
        insta::assert_snapshot!(f.module.clone(), f.text);
    }
}
