//! Emitted Verilog of a small softmax unit (insta snapshots); the exp2 ROM holds
//! exactly the golden table's words.

use accgen_golden::softmax::{exp2_table, SoftmaxConfig};
use accgen_hw::rtl::{Design, Library};
use accgen_hw::softmax::softmax;

#[test]
fn softmax_small_snapshot_and_rom_contents() {
    let cfg = SoftmaxConfig {
        lanes: 1,
        max_len: 8,
        in_bits: 8,
        in_frac: 4,
        out_bits: 4,
    };
    let mut lib = Library::new();
    let mut d = Design::new();
    d.add_top(softmax(&mut lib, &cfg).unwrap());
    let files = d.files().unwrap();
    assert_eq!(files.len(), 2, "top + lane");
    let lane = files.iter().find(|f| f.module.contains("lane")).unwrap();
    let rom_inits = lane
        .text
        .lines()
        .filter(|l| l.contains("exp2_rom[") && l.contains(" = "))
        .count();
    assert_eq!(rom_inits, exp2_table(&cfg).len());
    for f in &files {
        insta::assert_snapshot!(f.module.clone(), f.text);
    }
}
