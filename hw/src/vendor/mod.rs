//! Target vendors (`accgen generate --vendor`) and the simulation models of the vendor
//! cells accgen instantiates.
//!
//! - [`Vendor::Generic`]: memories and multipliers are inferred from plain Verilog;
//! - [`Vendor::Xilinx`]: inferred too, with `ram_style`/`rom_style` attributes; every
//!   RAM keeps its output register next to the array, where Vivado absorbs it into the
//!   block RAM (DOA_REG), and every multiplier has the A/B, M registers a DSP48 absorbs;
//! - [`Vendor::Ecp5`]: Lattice `DP16KD` block RAMs with the output register enabled
//!   (REGMODE = OUTREG) and `MULT18X18D` multipliers with input and output registers.
//!   On the open ECP5 flow an inferred RAM maps to DP16KD *without* its output
//!   register (4.26 ns clock-to-out), and an inferred multiplier to MULT18X18D
//!   without registers, both too slow for 250 MHz.
//!
//! Every vendor gives the same cycle behaviour, so co-simulation is bit- and
//! cycle-exact for all three.

use crate::rtl::VerilogFile;

/// Which technology the generated Verilog targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Vendor {
    /// Portable Verilog; the synthesis tool infers memories and DSPs.
    #[default]
    Generic,
    /// Xilinx (Vivado): inference with placement attributes.
    Xilinx,
    /// Lattice ECP5: DP16KD and MULT18X18D instances.
    Ecp5,
}

impl Vendor {
    /// Every vendor.
    pub const ALL: [Vendor; 3] = [Vendor::Generic, Vendor::Xilinx, Vendor::Ecp5];

    /// The `--vendor` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Generic => "generic",
            Vendor::Xilinx => "xilinx",
            Vendor::Ecp5 => "ecp5",
        }
    }
}

impl std::fmt::Display for Vendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Simulation model of vendor cell `cell`, if accgen ships one.
pub fn sim_model(cell: &str) -> Option<VerilogFile> {
    let text = match cell {
        "DP16KD" => include_str!("DP16KD.v"),
        "MULT18X18D" => include_str!("MULT18X18D.v"),
        _ => return None,
    };
    Some(VerilogFile {
        module: cell.to_string(),
        file_name: format!("{cell}.v"),
        text: text.to_string(),
    })
}
