//! Every emitted test module passes `verilator --lint-only -Wall` with zero warnings
//! and `iverilog -g2005`, and Yosys `synth_xilinx` infers no latches.

mod common;

use std::path::PathBuf;
use std::rc::Rc;

use accgen_golden::config::MacConfig;
use accgen_hw::rtl::{Design, Library};
use accgen_sim::lint::{iverilog_parse, verilator_lint, yosys_synth, XilinxFamily};

fn write(d: &Design, tag: &str) -> (tempdir::Dir, Vec<PathBuf>) {
    let dir = tempdir::Dir::new(tag);
    let files = d.write(&dir.0).expect("write verilog");
    (dir, files)
}

/// Minimal self-cleaning temp dir (no extra crate).
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let p = std::env::temp_dir().join(format!("accgen-test-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A design holding just `top`, and its name.
fn design_of(top: Rc<accgen_hw::rtl::Module>) -> (Design, String) {
    let name = top.name().to_string();
    let mut d = Design::new();
    d.add_top(top);
    (d, name)
}

fn assert_lint_clean(d: &Design, top: &str, synth: bool) {
    let (dir, files) = write(d, top);
    let v = verilator_lint(&files, top).expect("verilator runs");
    assert!(
        v.clean,
        "verilator -Wall on {top}:\n{}",
        v.diagnostics.join("\n")
    );
    let i = iverilog_parse(&files, top).expect("iverilog runs");
    assert!(
        i.clean,
        "iverilog -g2005 on {top}:\n{}",
        i.diagnostics.join("\n")
    );
    if synth {
        let (rep, counts) =
            yosys_synth(&files, top, XilinxFamily::Xcup, &dir.0.join("yosys")).expect("yosys runs");
        assert!(rep.clean, "yosys on {top}:\n{}", rep.diagnostics.join("\n"));
        assert_eq!(counts.latches, 0, "latches in {top}");
        assert!(
            !counts.cells.is_empty(),
            "yosys produced no cells for {top}"
        );
    }
}

#[test]
fn conformance_module_is_lint_clean_at_all_widths() {
    let (m, _) = common::conformance_module("conf_all", &common::CONFORMANCE_WIDTHS, 3);
    let mut d = Design::new();
    d.add_top(Rc::new(m));
    assert_lint_clean(&d, "conf_all", false);
}

#[test]
fn conformance_module_synthesises_without_latches() {
    // Narrow widths keep Yosys fast; the operators are the same as above.
    let (m, _) = common::conformance_module("conf_small", &[1, 7, 8], 3);
    let mut d = Design::new();
    d.add_top(Rc::new(m));
    assert_lint_clean(&d, "conf_small", true);
}

#[test]
fn mac_memories_and_hierarchy_are_lint_clean_and_synthesise() {
    let mut lib = Library::new();
    let mac = accgen_hw::mac::mac(&mut lib, &MacConfig::default()).unwrap();
    let top = mac.name().to_string();
    let mut d = Design::new();
    d.add_top(mac);
    assert_lint_clean(&d, &top, true);
    assert_lint_clean(&common::mem_hier_design(), "memhier", true);
}

#[test]
fn memories_are_inferred_as_ram_not_registers() {
    let d = common::mem_hier_design();
    let (dir, files) = write(&d, "meminfer");
    let (rep, counts) =
        yosys_synth(&files, "memhier", XilinxFamily::Xcup, &dir.0.join("y")).unwrap();
    assert!(rep.clean, "{:?}", rep.diagnostics);
    // Two 16 x 8 memories: distributed RAM (LUTRAM) or block RAM, never 256 flip-flops.
    assert!(
        counts.lutram + counts.bram18 > 0,
        "no RAM inferred: {:?}",
        counts.cells
    );
    assert!(
        counts.ffs < 128,
        "memories became registers: {:?}",
        counts.cells
    );
}

#[test]
fn mac_maps_to_one_dsp() {
    let mut lib = Library::new();
    let mac = accgen_hw::mac::mac(&mut lib, &MacConfig::default()).unwrap();
    let top = mac.name().to_string();
    let mut d = Design::new();
    d.add_top(mac);
    let (dir, files) = write(&d, "macdsp");
    let (_, counts) = yosys_synth(&files, &top, XilinxFamily::Xcup, &dir.0.join("y")).unwrap();
    assert_eq!(counts.dsps, 1, "cells: {:?}", counts.cells);
}

#[test]
fn lint_reports_a_real_warning() {
    // The checker itself must be able to fail: feed it Verilog with an unused signal
    // that carries no waiver (the emitted text with its pragmas stripped).
    let mut m = accgen_hw::rtl::ModuleBuilder::new("conf_warn");
    let x = m.input("x", 8, false).unwrap();
    let n = m.not(x).unwrap();
    let y = m.slice(n, 3, 0).unwrap();
    m.output("y", y).unwrap();
    let mut d = Design::new();
    d.add_top(Rc::new(m.finish().unwrap()));
    let dir = tempdir::Dir::new("warn");
    let f = &d.files().unwrap()[0];
    let text: String = f
        .text
        .lines()
        .filter(|l| !l.contains("lint_o"))
        .map(|l| format!("{l}\n"))
        .collect();
    let p = dir.0.join(&f.file_name);
    std::fs::write(&p, text).unwrap();
    let rep = verilator_lint(&[p], "conf_warn").unwrap();
    assert!(!rep.clean);
    assert!(
        rep.diagnostics.iter().any(|d| d.contains("UNUSED")),
        "{:?}",
        rep.diagnostics
    );
}

fn array_design(n: u32) -> (Design, String) {
    let cfg = accgen_golden::gemm::ArrayConfig {
        rows: n,
        cols: n,
        ..Default::default()
    };
    let mut lib = Library::new();
    let top = accgen_hw::systolic::systolic_array(&mut lib, &cfg).unwrap();
    let (d, name) = design_of(top);
    (d, name)
}

#[test]
fn array_4x4_maps_one_dsp_per_pe_without_latches() {
    let (d, top) = array_design(4);
    assert_lint_clean(&d, &top, false);
    let (dir, files) = write(&d, "arr4");
    let (rep, counts) = yosys_synth(&files, &top, XilinxFamily::Xcup, &dir.0.join("y")).unwrap();
    assert!(rep.clean, "{:?}", rep.diagnostics);
    assert_eq!(counts.dsps, 16, "cells: {:?}", counts.cells);
    assert_eq!(counts.latches, 0);
}

#[test]
fn arrays_16x16_and_32x32_are_lint_clean() {
    for n in [16, 32] {
        let (d, top) = array_design(n);
        assert_lint_clean(&d, &top, false);
    }
}

#[test]
fn sparse_4x4_2of4_maps_n_dsps_per_pe_and_is_lint_clean() {
    let cfg = accgen_golden::gemm::ArrayConfig {
        rows: 4,
        cols: 4,
        ..Default::default()
    };
    let sp = accgen_golden::nm_sparse::SparsityConfig { n: 2, m: 4 };
    let mut lib = Library::new();
    let top = accgen_hw::sparse_array(&mut lib, &cfg, &sp).unwrap();
    let (d, name) = design_of(top);
    assert_lint_clean(&d, &name, false);
    let (dir, files) = write(&d, "sparse4");
    let (rep, counts) = yosys_synth(&files, &name, XilinxFamily::Xcup, &dir.0.join("y")).unwrap();
    assert!(rep.clean, "{:?}", rep.diagnostics);
    assert_eq!(
        counts.dsps,
        16 * 2,
        "N = 2 DSPs per PE; cells: {:?}",
        counts.cells
    );
}

#[test]
fn sparse_8x8_2of8_is_lint_clean() {
    let cfg = accgen_golden::gemm::ArrayConfig {
        rows: 8,
        cols: 8,
        ..Default::default()
    };
    let sp = accgen_golden::nm_sparse::SparsityConfig { n: 2, m: 8 };
    let mut lib = Library::new();
    let top = accgen_hw::sparse_array(&mut lib, &cfg, &sp).unwrap();
    let (d, name) = design_of(top);
    assert_lint_clean(&d, &name, false);
}

#[test]
fn requant_is_lint_clean_and_synthesises() {
    use accgen_golden::requant::{PerChannel, RequantConfig};
    let cfg = RequantConfig {
        lanes: 4,
        shift: PerChannel::Channel(vec![-3, 0, 5, 40]),
        bias: Some(PerChannel::Tensor(-77)),
        relu: true,
        ..RequantConfig::default()
    };
    let mut lib = Library::new();
    let top = accgen_hw::requant::requant(&mut lib, &cfg).unwrap();
    let (d, name) = design_of(top);
    assert_lint_clean(&d, &name, true);
}

#[test]
fn gelu_is_lint_clean_and_its_rom_is_not_registers() {
    let cfg = accgen_golden::gelu::GeluConfig {
        lanes: 2,
        ..Default::default()
    };
    let mut lib = Library::new();
    let top = accgen_hw::gelu::gelu(&mut lib, &cfg).unwrap();
    let (d, name) = design_of(top);
    assert_lint_clean(&d, &name, false);
    let (dir, files) = write(&d, "gelurom");
    let (rep, counts) = yosys_synth(&files, &name, XilinxFamily::Xcup, &dir.0.join("y")).unwrap();
    assert!(rep.clean, "{:?}", rep.diagnostics);
    // 278 x 24-bit words per lane: Yosys maps a ROM this small to LUTs (a distributed
    // ROM); it must never become 2 x 6672 flip-flops.
    assert!(
        counts.ffs < 1000,
        "ROM became registers: {:?}",
        counts.cells
    );
}

#[test]
fn large_gelu_rom_maps_to_block_ram() {
    // out_frac 15 over a +-8 input range needs about 1150 entries: a BRAM36 per lane.
    let cfg = accgen_golden::gelu::GeluConfig {
        lanes: 1,
        in_bits: 16,
        in_frac: 12,
        out_bits: 16,
        out_frac: 15,
    };
    let mut lib = Library::new();
    let top = accgen_hw::gelu::gelu(&mut lib, &cfg).unwrap();
    let (d, name) = design_of(top);
    let (dir, files) = write(&d, "gelubram");
    let (rep, counts) = yosys_synth(&files, &name, XilinxFamily::Xcup, &dir.0.join("y")).unwrap();
    assert!(rep.clean, "{:?}", rep.diagnostics);
    assert!(counts.bram18 > 0, "no block RAM: {:?}", counts.cells);
}

#[test]
fn softmax_is_lint_clean_and_synthesises_without_latches() {
    let cfg = accgen_golden::softmax::SoftmaxConfig {
        lanes: 1,
        max_len: 64,
        in_bits: 8,
        in_frac: 4,
        out_bits: 8,
    };
    let mut lib = Library::new();
    let top = accgen_hw::softmax::softmax(&mut lib, &cfg).unwrap();
    let (d, name) = design_of(top);
    assert_lint_clean(&d, &name, true);
}

#[test]
fn layernorm_is_lint_clean_and_synthesises_without_latches() {
    // Two lanes, unequal gamma/beta field widths, and a 16-bit format.
    for cfg in [
        accgen_golden::layernorm::LayernormConfig {
            lanes: 2,
            max_len: 48,
            ..Default::default()
        },
        accgen_golden::layernorm::LayernormConfig {
            max_len: 256,
            in_bits: 16,
            in_frac: 8,
            gamma_bits: 16,
            gamma_frac: 12,
            beta_bits: 20,
            out_bits: 16,
            out_frac: 10,
            ..Default::default()
        },
    ] {
        let mut lib = Library::new();
        let top = accgen_hw::layernorm::layernorm(&mut lib, &cfg).unwrap();
        let (d, name) = design_of(top);
        assert_lint_clean(&d, &name, cfg.lanes == 2);
    }
}

#[test]
fn residual_is_lint_clean_and_synthesises_without_latches() {
    for cfg in [
        accgen_golden::residual::ResidualConfig::default(),
        accgen_golden::residual::ResidualConfig {
            lanes: 2,
            a_bits: 32,
            a_frac: 20,
            b_bits: 12,
            b_frac: -3,
            out_bits: 16,
            out_frac: 24,
            rounding: accgen_golden::num::Rounding::HalfAway,
        },
    ] {
        let mut lib = Library::new();
        let (d, name) = design_of(accgen_hw::residual::residual(&mut lib, &cfg).unwrap());
        assert_lint_clean(&d, &name, true);
    }
}

#[test]
fn accel_control_block_is_lint_clean_and_synthesises_without_latches() {
    let mut lib = Library::new();
    let (d, name) = design_of(accgen_hw::accel::control::control(&mut lib).unwrap());
    assert_lint_clean(&d, &name, true);
}

#[test]
fn read_dma_is_lint_clean_and_synthesises_without_latches() {
    for (db, o) in [(16u32, 8u32), (8, 1), (64, 64)] {
        let mut lib = Library::new();
        let p = accgen_hw::accel::dma_read::DmaParams {
            data_bytes: db,
            addr_bits: 64,
            max_outstanding: o,
        };
        let (d, name) = design_of(accgen_hw::accel::dma_read::dma_read(&mut lib, &p).unwrap());
        assert_lint_clean(&d, &name, db == 16);
    }
}

#[test]
fn write_dma_is_lint_clean_and_synthesises_without_latches() {
    for (db, o) in [(16u32, 8u32), (8, 1), (64, 64)] {
        let mut lib = Library::new();
        let p = accgen_hw::accel::dma_read::DmaParams {
            data_bytes: db,
            addr_bits: 64,
            max_outstanding: o,
        };
        let (d, name) = design_of(accgen_hw::accel::dma_write::dma_write(&mut lib, &p).unwrap());
        assert_lint_clean(&d, &name, db == 16);
    }
}

#[test]
fn instruction_decoder_is_lint_clean_and_synthesises_without_latches() {
    let mut lib = Library::new();
    let (d, name) = design_of(accgen_hw::accel::decode::decode(&mut lib).unwrap());
    assert_lint_clean(&d, &name, true);
}

#[test]
fn accel_frontend_is_lint_clean_and_synthesises_without_latches() {
    for db in [16u32, 8, 64] {
        let mut lib = Library::new();
        let p = accgen_hw::accel::frontend::FrontParams {
            dma: accgen_hw::accel::dma_read::DmaParams {
                data_bytes: db,
                addr_bits: 64,
                max_outstanding: 8,
            },
            queue_depth: 16,
            watchdog_default: 1_000_000,
        };
        let (d, name) = design_of(accgen_hw::accel::frontend::frontend(&mut lib, &p).unwrap());
        assert_lint_clean(&d, &name, db == 16);
    }
}

#[test]
fn load_engine_is_lint_clean_and_synthesises_without_latches() {
    for (w, rows) in [(16u32, 16384u32), (12, 1365), (32, 8192)] {
        let mut lib = Library::new();
        let p = accgen_hw::accel::load::LoadParams {
            dma: accgen_hw::accel::dma_read::DmaParams {
                data_bytes: 16,
                addr_bits: 64,
                max_outstanding: 8,
            },
            row_bytes: w,
            spad_rows: rows,
        };
        let (d, name) = design_of(accgen_hw::accel::load::load(&mut lib, &p).unwrap());
        assert_lint_clean(&d, &name, w == 16);
    }
}

#[test]
fn store_engine_is_lint_clean_and_synthesises_without_latches() {
    for (w, rows, acc_rows) in [(16u32, 16384u32, 1024u32), (12, 1365, 0), (32, 8192, 0)] {
        let mut lib = Library::new();
        let p = accgen_hw::accel::store::StoreParams {
            dma: accgen_hw::accel::dma_read::DmaParams {
                data_bytes: 16,
                addr_bits: 64,
                max_outstanding: 8,
            },
            row_bytes: w,
            spad_rows: rows,
            acc_row_bytes: 64,
            acc_rows,
            read_latency: 2,
        };
        let (d, name) = design_of(accgen_hw::accel::store::store(&mut lib, &p).unwrap());
        assert_lint_clean(&d, &name, w == 16);
    }
}

/// A small accelerator with every compute sub-engine (4x4 array, requant, GELU, a
/// two-lane softmax, LayerNorm, residual add), so lint and synthesis cover the whole top in little
/// time.
const SMALL_ACCEL: &str = "[array]\nrows = 4\ncols = 4\n[requant]\nlanes = 4\nin_bits = 32\nout_bits = 8\n[gelu]\nlanes = 4\nin_bits = 8\nin_frac = 4\nout_bits = 8\nout_frac = 4\n[softmax]\nlanes = 2\nmax_len = 64\nin_bits = 8\nin_frac = 4\nout_bits = 8\n[layernorm]\nmax_len = 64\nbeta_bits = 12\n[residual]\nlanes = 1\nb_bits = 16\n[accel]\nspad_kib = 16\nacc_kib = 8\n";

#[test]
fn accelerator_top_is_lint_clean_and_synthesises_without_latches() {
    let cfg = accgen_golden::config::Config::from_toml_str(SMALL_ACCEL).unwrap();
    let mut lib = Library::new();
    let (d, name) = design_of(accgen_hw::accel::top::accel_top(&mut lib, &cfg).unwrap());
    assert_lint_clean(&d, &name, true);
}

#[test]
fn hls_wrapper_is_lint_clean_parses_and_synthesises() {
    let cfg = accgen_golden::config::Config::from_toml_str(SMALL_ACCEL).unwrap();
    let mut lib = Library::new();
    let core = accgen_hw::accel::top::accel_top(&mut lib, &cfg).unwrap();
    let wrapper = accgen_hw::accel::hls::hls_wrapper(&core);
    let (d, _) = design_of(core);
    let (dir, mut files) = write(&d, "hls");
    let path = dir.0.join(&wrapper.file_name);
    std::fs::write(&path, &wrapper.text).unwrap();
    files.push(path);
    let top = &wrapper.module;
    let v = verilator_lint(&files, top).expect("verilator runs");
    assert!(v.clean, "{}", v.diagnostics.join("\n"));
    let i = iverilog_parse(&files, top).expect("iverilog runs");
    assert!(i.clean, "{}", i.diagnostics.join("\n"));
    for port in [
        "input  wire ap_clk",
        "input  wire ap_rst_n",
        "output wire interrupt",
        "m_axi_gmem_arid",
        "s_axi_control_awaddr",
    ] {
        assert!(wrapper.text.contains(port), "{port}");
    }
    assert!(!wrapper.text.contains(" irq"), "the core's irq is internal");
}
