//! The README's control-register table lists exactly `golden::regs::REGISTERS`:
//! offsets, names, access, reset values and descriptions.

use accgen_golden::regs::{Access, REGISTERS};

#[test]
fn readme_register_table_matches_the_map() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let rows: Vec<Vec<String>> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| offset | register | access | reset | meaning |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), REGISTERS.len(), "one row per register");
    for (row, r) in rows.iter().zip(REGISTERS) {
        let access = match r.access {
            Access::Control => "control",
            Access::ReadWrite => "RW",
            Access::ReadOnly => "RO",
            Access::ToggleOnWrite => "toggle on write",
        };
        assert_eq!(
            row,
            &vec![
                format!("{:#04x}", r.offset),
                format!("`{}`", r.name),
                access.to_string(),
                format!("{:#x}", r.reset),
                r.doc.to_string(),
            ],
            "README row for {}",
            r.name
        );
    }
}
