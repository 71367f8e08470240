//! `[accel]` section: the integrated accelerator (GUIDE §8) and its memory geometry.
//!
//! The accelerator's datapath is the unit sections present in the same config:
//! `[array]` (optionally with `[sparsity]`), `[requant]`, `[gelu]`, `[softmax]`,
//! `[layernorm]` and `[residual]`. A
//! missing unit means its hardware is absent, and the instructions that need it are
//! rejected (see [`crate::isa::Program::check`]).
//!
//! **Scratchpad.** Rows of [`Geometry::spad_row_bytes`] bytes: `dim` elements of the
//! widest array operand, where `dim = max(rows, cols)` of the array (16 without an
//! array). Elements are little-endian and packed from byte 0 of a row. The scratchpad
//! is split into `spad_banks` equal banks of consecutive rows.
//!
//! **Accumulator.** Rows of `cols` accumulators, each 4 bytes (`acc_bits <= 32`) or 8
//! bytes, little-endian; one row per output row of a GEMM tile.

use serde::{Deserialize, Serialize};

use crate::config::{check_range, Config, ConfigError};

/// `[accel]` section. Every field has a default; see the README's configuration table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccelConfig {
    /// Scratchpad size in KiB, 16..=4096 (default 256).
    pub spad_kib: u32,
    /// Accumulator size in KiB, 8..=2048 (default 64).
    pub acc_kib: u32,
    /// Scratchpad banks: a power of two, 2..=64 (default 4), so loads and compute can
    /// use different banks (double buffering).
    pub spad_banks: u32,
    /// AXI4 master data width: 64, 128, 256 or 512 (default 128).
    pub axi_data_bits: u32,
    /// AXI4 master address width, 32..=64 (default 64).
    pub axi_addr_bits: u32,
    /// AXI4 ID width, 1..=16 (default 4).
    pub axi_id_bits: u32,
    /// Read bursts in flight, 1..=64 (default 8).
    pub max_outstanding: u32,
    /// Depth of each instruction queue and each dependency-token queue, 2..=256
    /// (default 16).
    pub queue_depth: u32,
    /// Cycles without progress after which the accelerator stops with the watchdog
    /// error, 1024..=4294967295 (default 1000000).
    pub watchdog_cycles: u64,
}

impl Default for AccelConfig {
    fn default() -> Self {
        AccelConfig {
            spad_kib: 256,
            acc_kib: 64,
            spad_banks: 4,
            axi_data_bits: 128,
            axi_addr_bits: 64,
            axi_id_bits: 4,
            max_outstanding: 8,
            queue_depth: 16,
            watchdog_cycles: 1_000_000,
        }
    }
}

impl AccelConfig {
    /// Check every field's range on its own.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("accel.spad_kib", self.spad_kib, 16, 4096)?;
        check_range("accel.acc_kib", self.acc_kib, 8, 2048)?;
        if !self.spad_banks.is_power_of_two() || !(2..=64).contains(&self.spad_banks) {
            return Err(ConfigError::Invalid {
                field: "accel.spad_banks".into(),
                message: format!(
                    "= {} must be a power of two in 2..=64 (at least 2, for double buffering)",
                    self.spad_banks
                ),
            });
        }
        if ![64, 128, 256, 512].contains(&self.axi_data_bits) {
            return Err(ConfigError::Invalid {
                field: "accel.axi_data_bits".into(),
                message: format!("= {} must be one of 64, 128, 256, 512", self.axi_data_bits),
            });
        }
        check_range("accel.axi_addr_bits", self.axi_addr_bits, 32, 64)?;
        check_range("accel.axi_id_bits", self.axi_id_bits, 1, 16)?;
        check_range("accel.max_outstanding", self.max_outstanding, 1, 64)?;
        check_range("accel.queue_depth", self.queue_depth, 2, 256)?;
        check_range(
            "accel.watchdog_cycles",
            self.watchdog_cycles,
            1024,
            u32::MAX as u64,
        )?;
        Ok(())
    }
}

/// Memory geometry of an accelerator config, derived from `[accel]` and the units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes per scratchpad row.
    pub spad_row_bytes: u32,
    /// Scratchpad rows.
    pub spad_rows: u32,
    /// Rows per scratchpad bank.
    pub bank_rows: u32,
    /// Bytes per accumulator element: 4 or 8.
    pub acc_elem_bytes: u32,
    /// Bytes per accumulator row (`cols` elements).
    pub acc_row_bytes: u32,
    /// Accumulator rows.
    pub acc_rows: u32,
}

/// Bytes of one element of `bits` bits in memory: 1, 2, 4 or 8.
pub fn elem_bytes(bits: u32) -> u32 {
    bits.div_ceil(8).next_power_of_two()
}

impl Geometry {
    /// The geometry of `cfg`'s accelerator, or an error when `cfg` has no `[accel]`
    /// or its sizes cannot hold two tiles.
    pub fn of(cfg: &Config) -> Result<Geometry, ConfigError> {
        let acc = cfg.accel.as_ref().ok_or_else(|| ConfigError::Invalid {
            field: "accel".into(),
            message: "is missing; the accelerator needs an [accel] section".into(),
        })?;
        let (dim, eb, cols, acc_eb) = match &cfg.array {
            Some(a) => (
                a.rows.max(a.cols),
                elem_bytes(a.act_bits.max(a.weight_bits)),
                a.cols,
                if a.acc_bits <= 32 { 4 } else { 8 },
            ),
            None => (16, 1, 16, 4),
        };
        let spad_row_bytes = dim * eb;
        let spad_rows = acc.spad_kib * 1024 / spad_row_bytes;
        let acc_row_bytes = cols * acc_eb;
        let acc_rows = acc.acc_kib * 1024 / acc_row_bytes;
        let g = Geometry {
            spad_row_bytes,
            spad_rows,
            bank_rows: spad_rows / acc.spad_banks,
            acc_elem_bytes: acc_eb,
            acc_row_bytes,
            acc_rows,
        };
        if let (Some(a), Some(rq)) = (&cfg.array, &cfg.requant) {
            if rq.in_bits < a.acc_bits {
                return Err(ConfigError::Invalid {
                    field: "requant.in_bits".into(),
                    message: format!(
                        "= {} is narrower than array.acc_bits = {}; the accelerator's epilogue feeds accumulators into the re-quantizer, so in_bits must be at least acc_bits",
                        rq.in_bits, a.acc_bits
                    ),
                });
            }
        }
        if let Some(a) = &cfg.array {
            // Two tiles with K = dim: an A block (rows x dim) and a B block (dim x cols)
            // each, one spad row per A row and per B row.
            let tile = a.rows + dim;
            if spad_rows < 2 * tile {
                return Err(ConfigError::Invalid {
                    field: "accel.spad_kib".into(),
                    message: format!(
                        "= {} holds {spad_rows} rows of {spad_row_bytes} bytes, fewer than two {}x{} tiles need ({} rows); use at least {} KiB",
                        acc.spad_kib,
                        a.rows,
                        a.cols,
                        2 * tile,
                        (2 * tile * spad_row_bytes).div_ceil(1024)
                    ),
                });
            }
            if g.bank_rows < a.rows.max(dim) {
                return Err(ConfigError::Invalid {
                    field: "accel.spad_banks".into(),
                    message: format!(
                        "= {} makes banks of {} rows, smaller than one {}-row block; use fewer banks or a larger scratchpad",
                        acc.spad_banks,
                        g.bank_rows,
                        a.rows.max(dim)
                    ),
                });
            }
            if acc_rows < 2 * a.rows {
                return Err(ConfigError::Invalid {
                    field: "accel.acc_kib".into(),
                    message: format!(
                        "= {} holds {acc_rows} accumulator rows of {acc_row_bytes} bytes, fewer than two {}-row output tiles; use at least {} KiB",
                        acc.acc_kib,
                        a.rows,
                        (2 * a.rows * acc_row_bytes).div_ceil(1024)
                    ),
                });
            }
        }
        Ok(g)
    }

    /// Scratchpad rows taken by `bytes` bytes starting at a row boundary.
    pub fn spad_pitch(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.spad_row_bytes as u64).max(1)
    }

    /// Accumulator rows taken by `bytes` bytes starting at a row boundary.
    pub fn acc_pitch(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.acc_row_bytes as u64).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(text: &str) -> (String, String) {
        match Config::from_toml_str(text) {
            Err(ConfigError::Invalid { field, message }) => (field, message),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn default_geometry_of_a_16x16_int8_array() {
        let cfg = Config::from_toml_str("[array]\n[accel]\n").unwrap();
        let g = Geometry::of(&cfg).unwrap();
        assert_eq!(g.spad_row_bytes, 16);
        assert_eq!(g.spad_rows, 256 * 1024 / 16);
        assert_eq!(g.bank_rows, g.spad_rows / 4);
        assert_eq!((g.acc_elem_bytes, g.acc_row_bytes), (4, 64));
        assert_eq!(g.acc_rows, 64 * 1024 / 64);
        assert_eq!(g.spad_pitch(17), 2);
        assert_eq!(g.spad_pitch(0), 1);
    }

    #[test]
    fn wide_formats_widen_rows() {
        let cfg = Config::from_toml_str(
            "[array]\nrows = 8\ncols = 32\nact_bits = 12\nacc_bits = 40\n[accel]\n",
        )
        .unwrap();
        let g = Geometry::of(&cfg).unwrap();
        assert_eq!(g.spad_row_bytes, 32 * 2);
        assert_eq!(g.acc_row_bytes, 32 * 8);
    }

    #[test]
    fn ranges_and_combinations_are_named() {
        for (text, field, frag) in [
            (
                "[array]\n[accel]\nspad_kib = 8\n",
                "accel.spad_kib",
                "16..=4096",
            ),
            (
                "[array]\n[accel]\nacc_kib = 4096\n",
                "accel.acc_kib",
                "8..=2048",
            ),
            (
                "[array]\n[accel]\nspad_banks = 3\n",
                "accel.spad_banks",
                "power of two",
            ),
            (
                "[array]\n[accel]\nspad_banks = 1\n",
                "accel.spad_banks",
                "at least 2",
            ),
            (
                "[array]\n[accel]\naxi_data_bits = 96\n",
                "accel.axi_data_bits",
                "64, 128, 256, 512",
            ),
            (
                "[array]\n[accel]\naxi_addr_bits = 16\n",
                "accel.axi_addr_bits",
                "32..=64",
            ),
            (
                "[array]\n[accel]\naxi_id_bits = 0\n",
                "accel.axi_id_bits",
                "1..=16",
            ),
            (
                "[array]\n[accel]\nmax_outstanding = 65\n",
                "accel.max_outstanding",
                "1..=64",
            ),
            (
                "[array]\n[accel]\nqueue_depth = 1\n",
                "accel.queue_depth",
                "2..=256",
            ),
            (
                "[array]\n[accel]\nwatchdog_cycles = 10\n",
                "accel.watchdog_cycles",
                "1024..=",
            ),
            (
                "[array]\nrows = 128\ncols = 128\nact_bits = 16\n[accel]\nspad_kib = 16\n",
                "accel.spad_kib",
                "two 128x128 tiles",
            ),
            (
                "[array]\nrows = 128\ncols = 128\n[accel]\nspad_kib = 128\nspad_banks = 64\n",
                "accel.spad_banks",
                "smaller than one 128-row block",
            ),
            (
                "[array]\nacc_bits = 40\n[requant]\nin_bits = 32\n[accel]\n",
                "requant.in_bits",
                "at least acc_bits",
            ),
            (
                "[array]\nrows = 128\ncols = 64\nacc_bits = 48\n[accel]\nacc_kib = 8\n",
                "accel.acc_kib",
                "two 128-row output tiles",
            ),
        ] {
            let (f, m) = invalid(text);
            assert_eq!(f, field, "{text}");
            assert!(m.contains(frag), "{text}: {m}");
        }
    }

    #[test]
    fn elem_bytes_are_powers_of_two() {
        assert_eq!(
            [2, 8, 9, 16, 17, 24, 32, 33, 48].map(elem_bytes),
            [1, 1, 2, 2, 4, 4, 4, 8, 8]
        );
    }
}
