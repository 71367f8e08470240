//! The LayerNorm engine of the compute queue: runs `LAYERNORM` instructions, the
//! parameter block's gammas and betas into the LayerNorm unit
//! ([`crate::layernorm::layernorm`]), then scratchpad rows through it into scratchpad
//! rows, with the row engine of [`crate::accel::rows`].
//!
//! Ports: `start`, `src`, `dst`, `rows`, `len`, `params` in, `ready` out; `spad_re`,
//! `spad_raddr`, `spad_rdata`; `spad_we`, `spad_waddr`, `spad_wdata`; `idle`,
//! `err_valid`, `err_code`.

use std::rc::Rc;

use accgen_golden::accel::Geometry;
use accgen_golden::config::Config;

use crate::accel::rows::{row_engine, RowUnit};
use crate::layernorm::layernorm;
use crate::rtl::{Library, Module, RtlError, RtlResult};

/// Build (or fetch) the LayerNorm engine of `cfg` (which has `[layernorm]` and
/// `[accel]`).
pub fn layernorm_engine(
    lib: &mut Library,
    cfg: &Config,
    read_latency: u32,
) -> RtlResult<Rc<Module>> {
    let err = |message: String| RtlError {
        module: "accgen_accel_layernorm".into(),
        message,
    };
    let geo = Geometry::of(cfg).map_err(|e| err(e.to_string()))?;
    let ln = cfg
        .layernorm
        .clone()
        .ok_or_else(|| err("no [layernorm]".into()))?;
    let unit = layernorm(lib, &ln)?;
    let spec = RowUnit {
        name: format!("accgen_accel_layernorm_{}", &cfg.hash()[..10]),
        doc: "LayerNorm engine: parameters, then scratchpad rows through the LayerNorm unit into scratchpad rows.".into(),
        unit,
        lanes: ln.lanes,
        max_len: ln.max_len,
        in_bits: ln.in_bits,
        out_bits: ln.out_bits,
        out_signed: true,
        params: Some((ln.gamma_bits, ln.beta_bits)),
    };
    row_engine(lib, geo, spec, read_latency)
}
