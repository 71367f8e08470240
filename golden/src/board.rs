//! Boards (GUIDE §7) and the `[board]` config section: the part, the board part, the
//! processing system and its ports, the part's resources, and an estimate of the
//! accelerator's resources to check that it fits.
//!
//! **Resource estimate** ([`estimate`]). Calibrated on Yosys 0.23 `synth_xilinx
//! -family xcup` reports of generated accelerator tops (`accgen lint`; the README's
//! Resources paragraph): a dense int8 PE maps to one DSP48 and about 78 LUTs with
//! its registers, an N:M sparse PE to N DSPs; every other block (control, front end,
//! DMAs, engines, units) adds about 33,000 LUTs at a 16-byte scratchpad row, scaled
//! with the row width; memories take 18-Kbit block RAMs at 2 KiB of data each (the
//! scratchpad, the accumulator and the row engines' buffers). Against Yosys:
//! `configs/default.toml` (16x16, 16-byte rows) estimates 54,468 LUT, 260 DSP, 161
//! BRAM18 for 53,057, 260 and 152 synthesised; `configs/pynq_z2.toml` (8x8, 8-byte
//! rows) 21,492, 68 and 40 for 21,987, 64 and 40. It is an estimate for the fit
//! check, not a synthesis result: Vivado's report after `build.tcl` is the real
//! number.

use serde::{Deserialize, Serialize};

use crate::config::{check_range, Config, ConfigError};

/// A board accgen writes a flow for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Board {
    /// The name in `[board].name` and `--board`.
    pub name: &'static str,
    /// What it is.
    pub title: &'static str,
    /// The FPGA part.
    pub part: &'static str,
    /// The Vivado board part.
    pub board_part: &'static str,
    /// How the accelerator is attached.
    pub host: Host,
    /// Width of the PS's high-performance slave port (bits) the AXI master goes to.
    pub hp_bits: u32,
    /// The part's 6-input LUTs.
    pub luts: u64,
    /// The part's DSP slices.
    pub dsps: u64,
    /// The part's 18-Kbit block RAMs (two per 36-Kbit block).
    pub bram18: u64,
    /// The default fabric clock (MHz) when `[board].clock_mhz` is absent.
    pub default_mhz: u32,
}

/// How the accelerator reaches its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Zynq UltraScale+ MPSoC: `zynq_ultra_ps_e`, M_AXI_HPM0_FPD, S_AXI_HP0_FPD,
    /// pl_ps_irq0, pl_clk0.
    ZynqMp,
    /// Zynq-7000: `processing_system7`, M_AXI_GP0, S_AXI_HP0, IRQ_F2P, FCLK_CLK0.
    Zynq7,
    /// An Alveo-class card: a Vitis RTL kernel (`package_xo`, `v++ --link`).
    Vitis,
}

/// Every board, in GUIDE §7's order (part resources from the parts' data sheets).
pub const BOARDS: &[Board] = &[
    Board {
        name: "zcu102",
        title: "ZCU102 (Zynq UltraScale+ ZU9EG)",
        part: "xczu9eg-ffvb1156-2-e",
        board_part: "xilinx.com:zcu102:part0:3.3",
        host: Host::ZynqMp,
        hp_bits: 128,
        luts: 274_080,
        dsps: 2_520,
        bram18: 1_824,
        default_mhz: 200,
    },
    Board {
        name: "zcu104",
        title: "ZCU104 (Zynq UltraScale+ ZU7EV)",
        part: "xczu7ev-ffvc1156-2-e",
        board_part: "xilinx.com:zcu104:part0:1.1",
        host: Host::ZynqMp,
        hp_bits: 128,
        luts: 230_400,
        dsps: 1_728,
        bram18: 624,
        default_mhz: 200,
    },
    Board {
        name: "ultra96v2",
        title: "Ultra96-V2 (Zynq UltraScale+ ZU3EG)",
        part: "xczu3eg-sbva484-1-i",
        board_part: "avnet.com:ultra96v2:part0:1.2",
        host: Host::ZynqMp,
        hp_bits: 128,
        luts: 70_560,
        dsps: 360,
        bram18: 432,
        default_mhz: 150,
    },
    Board {
        name: "pynq-z2",
        title: "PYNQ-Z2 (Zynq-7000 XC7Z020)",
        part: "xc7z020clg400-1",
        board_part: "tul.com.tw:pynq-z2:part0:1.0",
        host: Host::Zynq7,
        hp_bits: 64,
        luts: 53_200,
        dsps: 220,
        bram18: 280,
        default_mhz: 100,
    },
    Board {
        name: "vcu1525",
        title: "VCU1525 (Virtex UltraScale+ VU9P, Alveo-class)",
        part: "xcvu9p-fsgd2104-2L-e",
        board_part: "xilinx.com:vcu1525:part0:1.3",
        host: Host::Vitis,
        hp_bits: 512,
        luts: 1_182_240,
        dsps: 6_840,
        bram18: 4_320,
        default_mhz: 250,
    },
];

/// The board called `name`.
pub fn board(name: &str) -> Option<&'static Board> {
    BOARDS.iter().find(|b| b.name == name)
}

/// The names of every board, for messages.
pub fn board_names() -> String {
    BOARDS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
}

/// `[board]`: the board the accelerator is built for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardConfig {
    /// One of [`BOARDS`].
    pub name: String,
    /// The fabric clock from the PS (or the Vitis kernel clock), 10..=500 MHz
    /// (default: the board's).
    #[serde(default)]
    pub clock_mhz: Option<u32>,
    /// LUTs the accelerator may use (default: 70% of the part's, leaving room for the
    /// interconnect and routing).
    #[serde(default)]
    pub max_luts: Option<u64>,
    /// DSP slices it may use (default: the part's).
    #[serde(default)]
    pub max_dsps: Option<u64>,
    /// 18-Kbit block RAMs it may use (default: 90% of the part's).
    #[serde(default)]
    pub max_bram18: Option<u64>,
}

impl BoardConfig {
    /// The board (checked by `validate`).
    pub fn board(&self) -> &'static Board {
        board(&self.name).expect("validated board name")
    }

    /// The fabric clock in MHz.
    pub fn mhz(&self) -> u32 {
        self.clock_mhz.unwrap_or(self.board().default_mhz)
    }

    /// The limits: (LUTs, DSPs, BRAM18).
    pub fn limits(&self) -> (u64, u64, u64) {
        let b = self.board();
        (
            self.max_luts.unwrap_or(b.luts * 7 / 10),
            self.max_dsps.unwrap_or(b.dsps),
            self.max_bram18.unwrap_or(b.bram18 * 9 / 10),
        )
    }
}

/// An estimate of an accelerator's resources (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    /// 6-input LUTs.
    pub luts: u64,
    /// DSP slices.
    pub dsps: u64,
    /// 18-Kbit block RAMs.
    pub bram18: u64,
}

/// Estimate `cfg`'s accelerator resources (it has `[accel]`).
pub fn estimate(cfg: &Config) -> Resources {
    let pes = cfg.array.as_ref().map_or(0, |a| (a.rows * a.cols) as u64);
    let wide = cfg
        .array
        .as_ref()
        .map_or(1, |a| a.act_bits.max(a.weight_bits).div_ceil(8) as u64);
    // One DSP48 per multiplier up to 27x18 bits, two beyond.
    let per_pe_dsp = cfg.sparsity.map_or(1, |s| s.n as u64) * if wide > 2 { 2 } else { 1 };
    let row_bytes = crate::accel::Geometry::of(cfg).map_or(16, |g| g.spad_row_bytes as u64);
    let mut luts = pes * 78 * per_pe_dsp + 33_000 * row_bytes / 16;
    let dsps = pes * per_pe_dsp + 4;
    let bram = |bytes: u64| bytes.div_ceil(2048);
    let mut bram18 = 0;
    if let Some(a) = &cfg.accel {
        bram18 += bram(a.spad_kib as u64 * 1024) + bram(a.acc_kib as u64 * 1024);
    }
    for (lanes, max_len) in [
        cfg.softmax.as_ref().map(|s| (s.lanes, s.max_len)),
        cfg.layernorm.as_ref().map(|s| (s.lanes, s.max_len)),
    ]
    .into_iter()
    .flatten()
    {
        bram18 += lanes as u64 * bram(2 * max_len as u64);
        luts += lanes as u64 * 1_500;
    }
    Resources { luts, dsps, bram18 }
}

impl Config {
    /// Check `[board]`: a known board, the clock range, and (with `[accel]`) that the
    /// estimated accelerator fits the limits; the error names the resource.
    pub fn validate_board(&self) -> Result<(), ConfigError> {
        let Some(bc) = &self.board else {
            return Ok(());
        };
        let Some(b) = board(&bc.name) else {
            return Err(ConfigError::Invalid {
                field: "board.name".into(),
                message: format!(
                    "= \"{}\" is not a known board; the allowed boards are {}",
                    bc.name,
                    board_names()
                ),
            });
        };
        if let Some(f) = bc.clock_mhz {
            check_range("board.clock_mhz", f, 10, 500)?;
        }
        if self.accel.is_none() {
            return Err(ConfigError::Invalid {
                field: "board".into(),
                message: "needs an [accel] section: a board hosts the integrated accelerator"
                    .into(),
            });
        }
        let r = estimate(self);
        let (luts, dsps, bram18) = bc.limits();
        for (what, field, need, have) in [
            ("DSP slices", "board.max_dsps", r.dsps, dsps),
            ("18-Kbit block RAMs", "board.max_bram18", r.bram18, bram18),
            ("LUTs", "board.max_luts", r.luts, luts),
        ] {
            if need > have {
                return Err(ConfigError::Invalid {
                    field: field.into(),
                    message: format!(
                        "= {have}: the accelerator needs about {need} {what} (estimate), more than {} ({}) allows; use a smaller [array] or [accel] memories, or another board",
                        b.name, b.part
                    ),
                });
            }
        }
        Ok(())
    }
}
