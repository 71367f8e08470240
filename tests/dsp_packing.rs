//! The PE is shaped so that Yosys packs it into one DSP48 with every pipeline
//! register inside: `synth_xilinx -family xc7` gives one DSP48E1 with AREG, BREG,
//! MREG and PREG set, the accumulator in the DSP (Z = P, no fabric adder) and the
//! tile's clear folded into OPMODE. Read from the synthesised netlist's cell
//! parameters, for every PE variant.
//!
//! For `-family xcup` the Yosys releases we use (0.23 from Debian, 0.70 from PyPI)
//! map multiplies to DSP48E2 but never pack registers into it (their DSP48E2 mapping
//! leaves every register parameter 0); the test pins that down, so a Yosys that
//! starts packing them shows up here. Whether Vivado packs this RTL into DSP48E2 was
//! not checked (no Vivado here).

use accgen_golden::gemm::ArrayConfig;
use accgen_hw::rtl::{Design, Library};

fn synth(family: &str, top: &std::rc::Rc<accgen_hw::rtl::Module>) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Design::new();
    d.add_top(top.clone());
    let files = d.write(dir.path()).unwrap();
    let script = format!(
        "synth_xilinx -family {family} -flatten -noiopad -noclkbuf -top {}; write_json out.json",
        top.name()
    );
    let o = std::process::Command::new("yosys")
        .current_dir(dir.path())
        .args(["-q", "-p", &script])
        .args(&files)
        .output()
        .expect("yosys (scripts/setup.sh installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(dir.path().join("out.json")).unwrap()).unwrap()
}

/// (type, parameters, connections) of every cell.
fn cells(net: &serde_json::Value) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    net["modules"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| m["cells"].as_object().unwrap().values())
        .map(|c| {
            (
                c["type"].as_str().unwrap().to_string(),
                c["parameters"].clone(),
                c["connections"].clone(),
            )
        })
        .collect()
}

fn param(p: &serde_json::Value, k: &str) -> u64 {
    u64::from_str_radix(p[k].as_str().unwrap_or_else(|| panic!("no {k}")), 2).unwrap()
}

#[test]
fn pe_packs_into_one_dsp48e1_with_every_register_and_the_accumulator() {
    let cfg = ArrayConfig {
        rows: 4,
        cols: 4,
        ..ArrayConfig::default()
    };
    let mut lib = Library::new();
    for k in 0..accgen_hw::pe::variant_count(&cfg) {
        let pe = accgen_hw::pe::pe_variant(&mut lib, &cfg, k).unwrap();
        let cs = cells(&synth("xc7", &pe));
        let dsps: Vec<_> = cs.iter().filter(|c| c.0.starts_with("DSP48")).collect();
        assert_eq!(
            dsps.len(),
            1,
            "variant {k}: {:?}",
            cs.iter().map(|c| &c.0).collect::<Vec<_>>()
        );
        let (ty, p, conn) = dsps[0];
        assert_eq!(ty, "DSP48E1");
        for r in ["AREG", "BREG", "MREG", "PREG"] {
            assert_eq!(param(p, r), 1, "variant {k}: {r}");
        }
        // No fabric carry chain: the accumulate happens in the DSP's ALU.
        assert!(
            !cs.iter().any(|c| c.0.starts_with("CARRY")),
            "variant {k}: accumulator left in fabric"
        );
        // OPMODE = Z | Y | X, bits LSB first: X = Y = 01 (the multiplier), Z = 01x:
        // P (accumulate) or C = 0 (start a tile), bit 4 driven by the clear flag.
        let op = conn["OPMODE"].as_array().unwrap();
        let bit = |i: usize| op[i].as_str().map(|s| s.to_string());
        assert_eq!(
            (bit(0), bit(1), bit(2), bit(3), bit(5), bit(6)),
            (
                Some("1".into()),
                Some("0".into()),
                Some("1".into()),
                Some("0".into()),
                Some("1".into()),
                Some("0".into())
            ),
            "variant {k}: OPMODE {op:?}"
        );
        assert!(
            op[4].is_number(),
            "variant {k}: OPMODE[4] is the clear flag: {op:?}"
        );
    }
}

#[test]
fn xcup_maps_the_multiply_to_dsp48e2_but_yosys_packs_no_registers() {
    let pe = accgen_hw::pe::pe(&mut Library::new(), &ArrayConfig::default()).unwrap();
    let cs = cells(&synth("xcup", &pe));
    let dsps: Vec<_> = cs.iter().filter(|c| c.0 == "DSP48E2").collect();
    assert_eq!(dsps.len(), 1);
    for r in ["AREG", "BREG", "MREG", "PREG"] {
        assert_eq!(
            param(&dsps[0].1, r),
            0,
            "{r}: Yosys now packs registers into DSP48E2; update the test and the README"
        );
    }
}
