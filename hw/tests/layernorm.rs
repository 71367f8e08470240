//! Emitted Verilog of a small LayerNorm unit (insta snapshots): the top, the row
//! normaliser, the output lane and its memories (element buffer, descriptor RAM,
//! gamma/beta RAM).

use accgen_golden::layernorm::LayernormConfig;
use accgen_hw::layernorm::layernorm;
use accgen_hw::rtl::{Design, Library};

#[test]
fn layernorm_small_snapshot() {
    let cfg = LayernormConfig {
        max_len: 8,
        in_bits: 4,
        in_frac: 0,
        gamma_bits: 4,
        gamma_frac: 2,
        beta_bits: 4,
        out_bits: 4,
        out_frac: 1,
        ..Default::default()
    };
    let mut lib = Library::new();
    let mut d = Design::new();
    d.add_top(layernorm(&mut lib, &cfg).unwrap());
    let files = d.files().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.module.as_str()).collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("accgen_layernorm_rsqrt_")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("accgen_layernorm_apply_")),
        "{names:?}"
    );
    // Three RAMs: element buffer, descriptors, gamma/beta; no ROM.
    assert_eq!(
        names.iter().filter(|n| n.contains("_ram_")).count(),
        3,
        "{names:?}"
    );
    for f in &files {
        insta::assert_snapshot!(f.module.clone(), f.text);
    }
}
