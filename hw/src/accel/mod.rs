//! The integrated accelerator (GUIDE §8), one file per block. Built so far: the
//! AXI4-Lite control block ([`control`]), the instruction decoder ([`decode`]), the
//! read and write DMAs ([`dma_read`], [`dma_write`]), the front end ([`frontend`]:
//! fetch, dispatch, errors, watchdog), the load and store engines ([`load`],
//! [`store`]) and a top ([`top`]) that joins them with the scratchpad, the tokens and
//! a shared AXI4 master. The compute engine (with the accumulator and scratchpad
//! banking) and the HLS-shaped wrapper come next (issue 9).

pub mod bursts;
pub mod control;
pub mod decode;
pub mod dma_read;
pub mod dma_write;
pub mod frontend;
pub mod hls;
pub mod load;
pub mod store;
pub mod top;

use std::rc::Rc;

use accgen_golden::config::AccelConfig;

use crate::rtl::{Library, Module, RtlResult};

/// The AXI master parameters of `[accel]`.
pub fn dma_params(a: &AccelConfig) -> dma_read::DmaParams {
    dma_read::DmaParams {
        data_bytes: a.axi_data_bits / 8,
        addr_bits: a.axi_addr_bits,
        max_outstanding: a.max_outstanding,
    }
}

/// The accelerator for `cfg` as generated today: its top ([`top::accel_top`]:
/// control, front end, load and store engines, scratchpad; no compute engine yet).
pub fn blocks(
    lib: &mut Library,
    cfg: &accgen_golden::config::Config,
) -> RtlResult<Vec<Rc<Module>>> {
    Ok(vec![top::accel_top(lib, cfg)?])
}
