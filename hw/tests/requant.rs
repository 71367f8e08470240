//! Emitted Verilog of a small re-quantizer (insta snapshots): per-lane constants give
//! per-lane modules, equal constants share one.

use accgen_golden::num::Rounding;
use accgen_golden::requant::{PerChannel, RequantConfig};
use accgen_hw::requant::requant;
use accgen_hw::rtl::{Design, Library};

#[test]
fn requant_3_lanes_snapshot() {
    let cfg = RequantConfig {
        lanes: 3,
        in_bits: 8,
        out_bits: 4,
        out_signed: true,
        rounding: Rounding::NearestEven,
        shift: PerChannel::Channel(vec![2, -1, 2]),
        bias: None,
        zero_point: 1,
        relu: true,
    };
    let mut lib = Library::new();
    let mut d = Design::new();
    d.add_top(requant(&mut lib, &cfg).unwrap());
    let files = d.files().unwrap();
    assert_eq!(
        files.len(),
        3,
        "top + two distinct lanes (lanes 0 and 2 share one)"
    );
    for f in &files {
        insta::assert_snapshot!(f.module.clone(), f.text);
    }
}
