//! Typed configuration, loaded from TOML.
//!
//! One file may hold several unit sections; every section present becomes its own top
//! module. Unknown keys and sections are rejected when parsing, and [`Config::validate`]
//! rejects out-of-range values with a message naming the field and the allowed range.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

pub use crate::accel::AccelConfig;
pub use crate::board::BoardConfig;
pub use crate::gelu::GeluConfig;
pub use crate::gemm::ArrayConfig;
pub use crate::layernorm::LayernormConfig;
pub use crate::mac::MacConfig;
pub use crate::nm_sparse::SparsityConfig;
pub use crate::requant::RequantConfig;
pub use crate::residual::ResidualConfig;
pub use crate::softmax::SoftmaxConfig;

/// Widest AXI4-Stream `tdata` accgen emits, in bits (Xilinx's AXI4-Stream IP
/// supports up to 512 bytes).
pub const MAX_TDATA_BITS: u32 = 4096;

/// A whole accgen configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[mac]`: the pipelined multiply-accumulate example unit.
    pub mac: Option<MacConfig>,
    /// `[array]`: a dense output-stationary systolic array.
    pub array: Option<ArrayConfig>,
    /// `[sparsity]`: makes the `[array]` an N:M structured-sparse array.
    pub sparsity: Option<SparsityConfig>,
    /// `[requant]`: a power-of-two re-quantizer.
    pub requant: Option<RequantConfig>,
    /// `[gelu]`: a GELU unit.
    pub gelu: Option<GeluConfig>,
    /// `[softmax]`: a single-pass softmax unit.
    pub softmax: Option<SoftmaxConfig>,
    /// `[layernorm]`: a LayerNorm unit.
    pub layernorm: Option<LayernormConfig>,
    /// `[residual]`: a residual-add unit (two tensors with their own PoT scales).
    pub residual: Option<ResidualConfig>,
    /// `[accel]`: the integrated accelerator around the unit sections present.
    pub accel: Option<AccelConfig>,
    /// `[board]`: the board `accgen board` writes the flow for (not part of the
    /// hardware: it does not change [`Config::hash`]).
    pub board: Option<BoardConfig>,
}

/// Why a configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read.
    Io {
        /// Path as given.
        path: String,
        /// OS error text.
        message: String,
    },
    /// The TOML is malformed, has an unknown key, or a value of the wrong type.
    Parse {
        /// Parser message, with line and column.
        message: String,
    },
    /// A value is outside its allowed range.
    Invalid {
        /// Dotted field path, for example `mac.acc_bits`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, message } => {
                write!(f, "cannot read config `{path}`: {message}")
            }
            ConfigError::Parse { message } => write!(f, "invalid config: {message}"),
            ConfigError::Invalid { field, message } => {
                write!(f, "config field `{field}` {message}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Check `lo <= value <= hi` for the field `field`.
pub fn check_range<T: PartialOrd + fmt::Display>(
    field: &str,
    value: T,
    lo: T,
    hi: T,
) -> Result<(), ConfigError> {
    if value < lo || value > hi {
        return Err(ConfigError::Invalid {
            field: field.to_string(),
            message: format!("= {value} is outside the allowed range {lo}..={hi}"),
        });
    }
    Ok(())
}

impl Config {
    /// Parse and validate TOML text.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            message: e.to_string().trim_end().to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Read, parse and validate a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Config::from_toml_str(&text)
    }

    /// Check every section; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sparsity.is_some() && self.array.is_none() {
            return Err(ConfigError::Invalid {
                field: "sparsity".into(),
                message: "needs an [array] section: it describes that array's weights".into(),
            });
        }
        if self.mac.is_none()
            && self.array.is_none()
            && self.requant.is_none()
            && self.gelu.is_none()
            && self.softmax.is_none()
            && self.layernorm.is_none()
            && self.residual.is_none()
        {
            return Err(ConfigError::Invalid {
                field: "<root>".into(),
                message: "has no unit section; add at least one of: [array], [gelu], [layernorm], [mac], [requant], [residual], [softmax]".into(),
            });
        }
        if let Some(m) = &self.mac {
            m.validate()?;
        }
        if let Some(a) = &self.array {
            a.validate()?;
        }
        if let Some(sp) = &self.sparsity {
            sp.validate()?;
        }
        if let Some(a) = &self.array {
            self.check_array_streams(a)?;
        }
        if let Some(r) = &self.requant {
            r.validate()?;
        }
        if let Some(g) = &self.gelu {
            g.validate()?;
        }
        if let Some(s) = &self.softmax {
            s.validate()?;
        }
        if let Some(l) = &self.layernorm {
            l.validate()?;
        }
        if let Some(r) = &self.residual {
            r.validate()?;
        }
        if let Some(a) = &self.accel {
            a.validate()?;
            crate::accel::Geometry::of(self)?;
        }
        self.validate_board()?;
        Ok(())
    }

    /// The array's AXI4-Stream beats must fit [`MAX_TDATA_BITS`]: one input beat
    /// carries a column of A (R rows x M activations for N:M, x 1 dense) and a row of
    /// B (C columns x N weights plus an index byte for N:M), one output beat a row of
    /// C; every field is padded to whole bytes (GUIDE §7).
    fn check_array_streams(&self, a: &crate::gemm::ArrayConfig) -> Result<(), ConfigError> {
        let byte = |bits: u32| bits.div_ceil(8) * 8;
        let (m, n, idx) = match &self.sparsity {
            Some(sp) => (sp.m, sp.n, byte(sp.n * sp.idx_bits().max(1))),
            None => (1, 1, 0),
        };
        let beat_in = a.rows * m * byte(a.act_bits) + a.cols * (n * byte(a.weight_bits) + idx);
        let beat_out = a.cols * byte(a.acc_bits);
        for (what, bits) in [
            ("s_axis_tdata (A column + B row)", beat_in),
            ("m_axis_tdata (C row)", beat_out),
        ] {
            if bits > MAX_TDATA_BITS {
                return Err(ConfigError::Invalid {
                    field: "array".into(),
                    message: format!(
                        "rows = {}, cols = {}{} make {what} {bits} bits; the allowed range is 8..={MAX_TDATA_BITS} (use fewer rows or columns)",
                        a.rows,
                        a.cols,
                        self.sparsity
                            .map(|sp| format!(" with {}:{} sparsity", sp.n, sp.m))
                            .unwrap_or_default()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Stable hash of the parsed config (comments and key order do not matter).
    pub fn hash(&self) -> String {
        let hw = Config {
            board: None,
            ..self.clone()
        };
        let canonical = toml::to_string(&hw).expect("config serialises");
        crate::hash::ContentHasher::new()
            .update(canonical.as_bytes())
            .hex()
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
    fn defaults_and_hash_ignore_formatting() {
        let a = Config::from_toml_str("[mac]\n").unwrap();
        assert_eq!(a.mac.as_ref().unwrap().acc_bits, 32);
        let b = Config::from_toml_str("# comment\n[mac]\nacc_bits = 32\n").unwrap();
        assert_eq!(a.hash(), b.hash());
        let c = Config::from_toml_str("[mac]\nacc_bits = 33\n").unwrap();
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn range_errors_name_field_and_range() {
        let (f, m) = invalid("[mac]\nacc_bits = 80\n");
        assert_eq!(f, "mac.acc_bits");
        assert_eq!(m, "= 80 is outside the allowed range 8..=64");
        let (f, m) = invalid("[mac]\na_bits = 1\n");
        assert_eq!(f, "mac.a_bits");
        assert_eq!(m, "= 1 is outside the allowed range 2..=32");
        let (f, _) = invalid("");
        assert_eq!(f, "<root>");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = Config::from_toml_str("[mac]\nacc_bitz = 3\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `acc_bitz`"), "{e}");
        let e = Config::from_toml_str("[macc]\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `macc`"), "{e}");
    }
}
