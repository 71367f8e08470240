//! `accgen board` for the five boards, checked without Vivado:
//! - every generated TCL file (and XDC) parses in `tclsh`: each top-level command is
//!   complete (`info complete`) and is a Tcl or Vivado command from a fixed list, so a
//!   typo in a command name fails;
//! - every interface and port of the accelerator the scripts name exists on the HLS
//!   top (read from its Verilog, not from accgen's own port list), and every top
//!   interface is connected;
//! - parts and board parts equal GUIDE §7's table (copied here);
//! - the register map outputs (C header, JSON, Python) equal `golden::regs`;
//! - bad boards, configs without `[accel]`, designs that do not fit and disagreeing
//!   `[board]` sections fail with the field named and write nothing.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;

/// GUIDE §7: board, part, board part.
const GUIDE_BOARDS: [(&str, &str, &str); 5] = [
    (
        "zcu102",
        "xczu9eg-ffvb1156-2-e",
        "xilinx.com:zcu102:part0:3.3",
    ),
    (
        "zcu104",
        "xczu7ev-ffvc1156-2-e",
        "xilinx.com:zcu104:part0:1.1",
    ),
    (
        "ultra96v2",
        "xczu3eg-sbva484-1-i",
        "avnet.com:ultra96v2:part0:1.2",
    ),
    ("pynq-z2", "xc7z020clg400-1", "tul.com.tw:pynq-z2:part0:1.0"),
    (
        "vcu1525",
        "xcvu9p-fsgd2104-2L-e",
        "xilinx.com:vcu1525:part0:1.3",
    ),
];

/// A small accelerator that fits every board.
const SMALL: &str =
    "[array]\nrows = 8\ncols = 8\n[requant]\nlanes = 8\nin_bits = 32\nout_bits = 8\n\
[accel]\nspad_kib = 64\nacc_kib = 16\naxi_data_bits = 64\n";

/// Tcl that walks a file command by command: each must be complete and start with a
/// known command. Prints `OK <count>` or the first offending command.
const CHECKER: &str = r##"
set known {
  set proc if foreach expr puts exit file open close lappend lsearch llength lindex
  glob string split read info return
  create_project set_property get_board_parts add_files update_compile_order
  ipx::package_project ipx::current_core ipx::get_bus_interfaces
  ipx::associate_bus_interfaces ipx::get_bus_parameters ipx::remove_bus_parameter
  ipx::create_xgui_files ipx::update_checksums ipx::check_integrity ipx::save_core
  ipx::unload_core remove_files update_ip_catalog create_bd_design create_bd_cell
  apply_bd_automation connect_bd_intf_net connect_bd_net assign_bd_address
  validate_bd_design save_bd_design make_wrapper launch_runs wait_on_run open_run
  report_timing_summary report_utilization report_clocks package_xo create_clock
  get_files get_property
}
set f [open [lindex $argv 0] r]
set text [read $f]
close $f
set cmd ""
set n 0
foreach line [split $text "\n"] {
  append cmd $line "\n"
  if {![info complete $cmd]} { continue }
  set trimmed [string trim $cmd]
  set cmd ""
  if {$trimmed eq "" || [string index $trimmed 0] eq "#"} { continue }
  regexp {^\S+} $trimmed word
  if {[lsearch -exact $known $word] < 0} {
    puts "BAD unknown command `$word`"
    exit 1
  }
  incr n
}
if {[string trim $cmd] ne ""} {
  puts "BAD incomplete command at the end: $cmd"
  exit 1
}
puts "OK $n"
"##;

fn tcl_check(t: &Tmp, file: &Path) -> usize {
    let checker = t.path("check.tcl");
    std::fs::write(&checker, CHECKER).unwrap();
    let o = std::process::Command::new("tclsh")
        .arg(&checker)
        .arg(file)
        .output()
        .expect("tclsh (scripts/setup.sh installs it)");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.starts_with("OK"),
        "{}: {out}",
        file.display()
    );
    out.trim()[3..].parse().unwrap()
}

/// The port names of the HLS top, read from its Verilog header.
fn verilog_ports(dir: &Path) -> BTreeSet<String> {
    let wrapper = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("_hls.v"))
        .expect("the HLS top");
    let text = std::fs::read_to_string(wrapper).unwrap();
    let header = &text[text.find("module ").unwrap()..text.find(");").unwrap()];
    header
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let decl = l.strip_prefix("input ").or(l.strip_prefix("output "))?;
            Some(
                decl.split_whitespace()
                    .last()?
                    .trim_end_matches(',')
                    .to_string(),
            )
        })
        .collect()
}

fn board(t: &Tmp, cfg: &str, b: &str) -> std::process::Output {
    accgen(&["board", "--config", cfg, "--board", b, "--out", &t.s(b)])
}

#[test]
fn five_boards_generate_and_their_scripts_check_out() {
    let t = Tmp::new("board");
    std::fs::write(t.path("small.toml"), SMALL).unwrap();
    for (name, part, board_part) in GUIDE_BOARDS {
        let cfg = match name {
            "zcu102" | "zcu104" | "vcu1525" => "configs/default.toml".to_string(),
            "pynq-z2" => "configs/pynq_z2.toml".to_string(),
            _ => t.s("small.toml"),
        };
        let o = board(&t, &cfg, name);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let dir = t.path(name);
        let ports = verilog_ports(&dir);
        for p in ["ap_clk", "ap_rst_n", "interrupt"] {
            assert!(ports.contains(p), "{name}: {p}");
        }
        // Each bus interface has its AXI channels on the top.
        for (busif, sigs) in [
            (
                "s_axi_control",
                &[
                    "awaddr", "awvalid", "awready", "wdata", "wstrb", "bresp", "araddr", "rdata",
                    "rresp",
                ][..],
            ),
            (
                "m_axi_gmem",
                &[
                    "awaddr", "awlen", "awvalid", "wdata", "wlast", "bvalid", "araddr", "arlen",
                    "rdata", "rlast",
                ][..],
            ),
        ] {
            for s in sigs {
                assert!(
                    ports.contains(&format!("{busif}_{s}")),
                    "{name}: {busif}_{s}"
                );
            }
        }
        // ports.json agrees with the Verilog.
        let pj: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("ports.json")).unwrap())
                .unwrap();
        let listed: BTreeSet<String> = pj["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed, ports, "{name}: ports.json");
        let top = pj["top"].as_str().unwrap();
        assert!(top.ends_with("_hls"));
        // Every Verilog file in filelist.f exists; the top's module is among them.
        let list = std::fs::read_to_string(dir.join("filelist.f")).unwrap();
        assert!(list.lines().any(|l| l == format!("{top}.v")));
        for f in list.lines() {
            assert!(dir.join(f).exists(), "{name}: {f}");
        }
        let xdc = dir.join(format!("constraints/{name}.xdc"));
        tcl_check(&t, &xdc);
        let interfaces = [
            "s_axi_control",
            "m_axi_gmem",
            "interrupt",
            "ap_clk",
            "ap_rst_n",
        ];
        if name == "vcu1525" {
            let tcl = dir.join("package_xo.tcl");
            assert!(tcl_check(&t, &tcl) > 10);
            let text = std::fs::read_to_string(&tcl).unwrap();
            assert!(text.contains(&format!("-part {part}")), "{name}: part");
            for busif in ["s_axi_control", "m_axi_gmem"] {
                assert!(text.contains(&format!("-busif {busif} -clock ap_clk")));
            }
            let xml = std::fs::read_to_string(dir.join("kernel.xml")).unwrap();
            for busif in ["s_axi_control", "m_axi_gmem"] {
                assert!(xml.contains(&format!("port name=\"{busif}\"")));
            }
            assert!(xml.contains(&format!("name=\"{top}\"")));
            // Argument offsets are the register map's.
            for (arg, reg) in [
                ("prog_addr", "prog_addr_lo"),
                ("prog_len", "prog_len"),
                ("dram_base", "dram_base_lo"),
            ] {
                let off = accgen_golden::regs::named(reg).unwrap().offset;
                assert!(
                    xml.contains(&format!("name=\"{arg}\""))
                        && xml.contains(&format!("offset=\"0x{off:x}\"")),
                    "{arg}"
                );
            }
            let link = std::fs::read_to_string(dir.join("link.cfg")).unwrap();
            assert!(link.contains(&format!("nk={top}:1:accel_0")));
            assert!(link.contains("sp=accel_0.m_axi_gmem:DDR[0]"));
            let mk = std::fs::read_to_string(dir.join("Makefile")).unwrap();
            assert!(mk.contains("xo:") && mk.contains("xclbin:") && mk.contains("v++ -t hw"));
            assert!(!dir.join("build.tcl").exists());
        } else {
            let tcl = dir.join("build.tcl");
            assert!(tcl_check(&t, &tcl) > 50, "{name}: build.tcl commands");
            let text = std::fs::read_to_string(&tcl).unwrap();
            assert!(text.contains(&format!("set part {part}\n")), "{name}: part");
            assert!(
                text.contains(&format!("set board_part {board_part}\n")),
                "{name}: board part"
            );
            // Every accelerator pin the block design names is an interface of the
            // top, and each interface is connected.
            let named: BTreeSet<&str> = text
                .match_indices("$accel/")
                .map(|(i, _)| {
                    let rest = &text[i + 7..];
                    &rest[..rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap()]
                })
                .collect();
            assert_eq!(named, interfaces.into_iter().collect(), "{name}");
            for busif in interfaces {
                assert!(
                    text.lines()
                        .any(|l| l.starts_with("connect_bd_")
                            && l.contains(&format!("$accel/{busif}]"))),
                    "{name}: {busif} connected"
                );
            }
            let zynq7 = name == "pynq-z2";
            let (ps, hp, width) = if zynq7 {
                (
                    "processing_system7",
                    "S_AXI_HP0]",
                    "CONFIG.PCW_S_AXI_HP0_DATA_WIDTH {64}",
                )
            } else {
                (
                    "zynq_ultra_ps_e",
                    "S_AXI_HP0_FPD]",
                    "CONFIG.PSU__SAXIGP2__DATA_WIDTH {128}",
                )
            };
            assert!(
                text.contains(&format!("xilinx.com:ip:{ps}:*")),
                "{name}: PS"
            );
            assert!(text.contains(hp) && text.contains(width), "{name}: HP port");
            assert!(text.contains("apply_board_preset"));
            for step in [
                "ipx::package_project",
                "launch_runs impl_1 -to_step write_bitstream",
                "report_timing_summary",
                "report_utilization",
                ".hwh",
            ] {
                assert!(text.contains(step), "{name}: {step}");
            }
        }
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(readme.contains("Vivado 2023.2") && readme.contains("not run"));
    }
}

#[test]
fn register_map_outputs_equal_the_golden_map() {
    let t = Tmp::new("board-regs");
    let o = board(&t, "configs/default.toml", "zcu102");
    assert!(o.status.success(), "{}", stderr(&o));
    let d = t.path("zcu102").join("drivers");
    let header = std::fs::read_to_string(d.join("accgen_regs.h")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("regs.json")).unwrap()).unwrap();
    let py = std::fs::read_to_string(d.join("accgen_regs.py")).unwrap();
    let regs = accgen_golden::regs::REGISTERS;
    assert_eq!(json["registers"].as_array().unwrap().len(), regs.len());
    for (r, j) in regs.iter().zip(json["registers"].as_array().unwrap()) {
        assert_eq!(j["name"], r.name);
        assert_eq!(j["offset"], r.offset);
        assert_eq!(j["reset"], r.reset);
        let def = format!("#define ACCGEN_REG_{}", r.name.to_uppercase());
        let line = header.lines().find(|l| l.starts_with(&def)).expect(r.name);
        let val = line
            .split_whitespace()
            .nth(2)
            .unwrap()
            .trim_end_matches('u');
        assert_eq!(
            u32::from_str_radix(&val[2..], 16).unwrap(),
            r.offset,
            "{}",
            r.name
        );
    }
    // The Python constants, read by Python itself.
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import runpy, json; m = runpy.run_path({:?}); print(json.dumps({{k: v[0] for k, v in m['REGISTERS'].items()}})); print(m['ID_VALUE'])",
            d.join("accgen_regs.py").to_str().unwrap()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let mut lines = out.lines();
    let offs: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    for r in regs {
        assert_eq!(offs[r.name], r.offset, "{}", r.name);
    }
    assert_eq!(
        lines.next().unwrap().parse::<u32>().unwrap(),
        accgen_golden::regs::ID_VALUE
    );
    assert!(py.contains("AP_START = 1 << 0"));
}

#[test]
fn bad_boards_and_designs_that_do_not_fit_are_named() {
    let t = Tmp::new("board-bad");
    let o = board(&t, "configs/default.toml", "zcu999");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("zcu102, zcu104, ultra96v2, pynq-z2, vcu1525"));
    assert!(!t.path("zcu999").exists());
    // No [accel].
    let o = board(&t, "configs/nonlinear.toml", "zcu102");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("[accel]"), "{}", stderr(&o));
    assert!(!t.path("zcu102").exists());
    // Too big: the resource is named (DSPs on the PYNQ-Z2, LUTs on the Ultra96-V2).
    for (b, field, what) in [
        ("pynq-z2", "board.max_dsps", "DSP slices"),
        ("ultra96v2", "board.max_luts", "LUTs"),
    ] {
        let o = board(&t, "configs/default.toml", b);
        assert_eq!(o.status.code(), Some(1), "{b}");
        let e = stderr(&o);
        assert!(e.contains(field) && e.contains(what), "{b}: {e}");
        assert!(!t.path(b).exists());
    }
    let big = format!(
        "{}[board]\nname = \"zcu104\"\n",
        SMALL
            .replace("rows = 8\ncols = 8", "rows = 48\ncols = 48")
            .replace("acc_kib = 16", "acc_kib = 64")
    );
    std::fs::write(t.path("big.toml"), big).unwrap();
    let o = board(&t, &t.s("big.toml"), "zcu104");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("board.max_dsps"), "{}", stderr(&o));
    // [board] and --board disagree.
    let o = board(&t, "configs/pynq_z2.toml", "ultra96v2");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("[board].name = \"pynq-z2\""),
        "{}",
        stderr(&o)
    );
    // A clock out of range.
    std::fs::write(
        t.path("clk.toml"),
        format!("{SMALL}[board]\nname = \"zcu102\"\nclock_mhz = 900\n"),
    )
    .unwrap();
    let o = board(&t, &t.s("clk.toml"), "zcu102");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("board.clock_mhz") && stderr(&o).contains("10..=500"));
}
