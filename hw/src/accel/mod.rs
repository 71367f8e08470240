//! The integrated accelerator (GUIDE §8), one file per block. Built so far: the
//! AXI4-Lite control block ([`control`]). The engines, memories, DMA and the top come
//! next (issue 9).

pub mod control;
pub mod decode;
pub mod dma_read;
pub mod dma_write;
pub mod frontend;
