//! The softmax engine of the compute queue: runs `SOFTMAX` instructions, scratchpad
//! rows through the softmax unit ([`crate::softmax::softmax`]) into scratchpad rows,
//! with the row engine of [`crate::accel::rows`] (see there for the set-up checks,
//! the chunk transposer and the write-back).
//!
//! Ports: `start`, `src`, `dst`, `rows`, `len` in, `ready` out; `spad_re`,
//! `spad_raddr`, `spad_rdata`; `spad_we`, `spad_waddr`, `spad_wdata`; `idle`,
//! `err_valid`, `err_code`.

use std::rc::Rc;

use accgen_golden::accel::Geometry;
use accgen_golden::config::Config;

use crate::accel::rows::{row_engine, RowUnit};
use crate::rtl::{Library, Module, RtlError, RtlResult};
use crate::softmax::softmax;

/// Build (or fetch) the softmax engine of `cfg` (which has `[softmax]` and `[accel]`).
pub fn softmax_engine(lib: &mut Library, cfg: &Config, read_latency: u32) -> RtlResult<Rc<Module>> {
    let err = |message: String| RtlError {
        module: "accgen_accel_softmax".into(),
        message,
    };
    let geo = Geometry::of(cfg).map_err(|e| err(e.to_string()))?;
    let sm = cfg
        .softmax
        .clone()
        .ok_or_else(|| err("no [softmax]".into()))?;
    let unit = softmax(lib, &sm)?;
    let spec = RowUnit {
        name: format!("accgen_accel_softmax_{}", &cfg.hash()[..10]),
        doc: "Softmax engine: scratchpad rows through the softmax unit into scratchpad rows."
            .into(),
        unit,
        lanes: sm.lanes,
        max_len: sm.max_len,
        in_bits: sm.in_bits,
        out_bits: sm.out_bits,
        out_signed: false,
        params: None,
    };
    row_engine(lib, geo, spec, read_latency)
}
