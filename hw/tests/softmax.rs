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
    let names: Vec<&str> = files.iter().map(|f| f.module.as_str()).collect();
    assert_eq!(
        files.len(),
        7,
        "top, phase 1, normaliser, phase 2, the exp2 ROM, the element buffer and the descriptor RAM: {names:?}"
    );
    let rom = files.iter().find(|f| f.module.contains("_rom_")).unwrap();
    let rom_inits = rom
        .text
        .lines()
        .filter(|l| l.contains("mem[") && l.contains(" = "))
        .count();
    assert_eq!(rom_inits, exp2_table(&cfg).len());
    for f in &files {
        insta::assert_snapshot!(f.module.clone(), f.text);
    }
}
