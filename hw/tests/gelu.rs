//! Emitted Verilog of a small GELU unit (insta snapshots); the ROM holds exactly the
//! golden table's words.

use accgen_golden::gelu::{gelu_table, GeluConfig};
use accgen_hw::gelu::gelu;
use accgen_hw::rtl::{Design, Library};

#[test]
fn gelu_q8_4_snapshot_and_rom_contents() {
    let cfg = GeluConfig {
        lanes: 2,
        in_bits: 8,
        in_frac: 4,
        out_bits: 8,
        out_frac: 4,
    };
    let mut lib = Library::new();
    let mut d = Design::new();
    d.add_top(gelu(&mut lib, &cfg).unwrap());
    let files = d.files().unwrap();
    assert_eq!(files.len(), 3, "top + one shared lane module + its ROM");
    let rom = files.iter().find(|f| f.module.contains("_rom_")).unwrap();
    let table = gelu_table(&cfg);
    let init_lines = rom
        .text
        .lines()
        .filter(|l| l.contains("mem[") && l.contains(" = "))
        .count();
    assert_eq!(init_lines, table.len(), "one ROM word per table entry");
    for f in &files {
        insta::assert_snapshot!(f.module.clone(), f.text);
    }
}
