//! Emitted Verilog of a small residual-add unit (insta snapshots): equal lanes share one
//! lane module.

use accgen_golden::residual::ResidualConfig;
use accgen_hw::residual::residual;
use accgen_hw::rtl::{Design, Library};

#[test]
fn residual_small_snapshot() {
    let cfg = ResidualConfig {
        lanes: 2,
        a_bits: 6,
        a_frac: 3,
        b_bits: 5,
        b_frac: 1,
        out_bits: 4,
        out_frac: 2,
        ..Default::default()
    };
    let mut lib = Library::new();
    let mut d = Design::new();
    d.add_top(residual(&mut lib, &cfg).unwrap());
    let files = d.files().unwrap();
    let lanes = files
        .iter()
        .filter(|f| f.module.starts_with("accgen_residual_lane_"))
        .count();
    assert_eq!(lanes, 1, "both lanes use one module");
    for f in &files {
        insta::assert_snapshot!(f.module.clone(), f.text);
    }
}
