//! The integrated accelerator (GUIDE §8), one file per block. Built so far: the
//! AXI4-Lite control block ([`control`]), the instruction decoder ([`decode`]), the
//! read and write DMAs ([`dma_read`], [`dma_write`]), the front end ([`frontend`]:
//! fetch, dispatch, errors, watchdog) and the load and store engines ([`load`],
//! [`store`]). The compute engine, the memories and the top come next (issue 9).

pub mod control;
pub mod decode;
pub mod dma_read;
pub mod dma_write;
pub mod frontend;
pub mod load;
pub mod store;

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

/// The finished blocks of the accelerator for `[accel]`, each as its own top (until
/// the accelerator top exists): the control block, the front end (with its fetch
/// DMA) and the write DMA.
pub fn blocks(lib: &mut Library, a: &AccelConfig) -> RtlResult<Vec<Rc<Module>>> {
    let dma = dma_params(a);
    let fp = frontend::FrontParams {
        dma,
        queue_depth: a.queue_depth.next_power_of_two(),
        watchdog_default: a.watchdog_cycles as u32,
    };
    Ok(vec![
        control::control(lib)?,
        frontend::frontend(lib, &fp)?,
        dma_write::dma_write(lib, &dma)?,
    ])
}
