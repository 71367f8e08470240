//! The integrated accelerator (GUIDE §8), one file per block: the AXI4-Lite control
//! block ([`control`]), the instruction decoder ([`decode`]), the read and write DMAs
//! ([`dma_read`], [`dma_write`], [`bursts`]), the front end ([`frontend`]: fetch,
//! dispatch, errors, watchdog), the load and store engines ([`load`], [`store`]), the
//! compute engine ([`compute`]) with its GEMM, epilogue and softmax engines ([`gemm`],
//! [`epilogue`] with [`requant_rt`], [`smx`], [`lnx`], both on [`rows`]), the banked scratchpad ([`spad`]), the
//! top ([`top`]) and its HLS-shaped wrapper ([`hls`]).

pub mod addx;
pub mod bursts;
pub mod compute;
pub mod control;
pub mod decode;
pub mod dma_read;
pub mod dma_write;
pub mod epilogue;
pub mod frontend;
pub mod gemm;
pub mod hls;
pub mod lnx;
pub mod load;
pub mod requant_rt;
pub mod rows;
pub mod smx;
pub mod spad;
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

/// The accelerator for `cfg`: its top ([`top::accel_top`]).
pub fn blocks(
    lib: &mut Library,
    cfg: &accgen_golden::config::Config,
) -> RtlResult<Vec<Rc<Module>>> {
    Ok(vec![top::accel_top(lib, cfg)?])
}

/// `floor(x / d)` for an unsigned `x` and a constant `d >= 1`: a shift when `d` is a
/// power of two, else a multiplication by `ceil(2^s / d)` and a shift by `s`, with
/// `s = width(x) + ceil(log2 d)`, which is exact for every `x` of that width
/// (Granlund and Montgomery, 1994). The result has `x`'s width.
pub fn div_const(
    m: &mut crate::rtl::ModuleBuilder,
    x: crate::rtl::Sig,
    d: u32,
) -> crate::rtl::RtlResult<crate::rtl::Sig> {
    let (magic, s) = div_magic(x.width(), d);
    if d.is_power_of_two() {
        return m.shr(x.as_unsigned(), d.trailing_zeros());
    }
    let mw = 128 - magic.leading_zeros();
    let c = m.const_u(mw, magic)?;
    let p = m.mul(x.as_unsigned(), c)?;
    let q = m.shr(p, s)?;
    m.resize(q, x.width())
}

/// `(magic, shift)` of [`div_const`] for `bits`-bit dividends.
pub fn div_magic(bits: u32, d: u32) -> (u128, u32) {
    let l = 32 - (d - 1).leading_zeros(); // ceil(log2 d)
    let s = bits + l;
    ((1u128 << s).div_ceil(d as u128), s)
}

#[cfg(test)]
mod tests {
    use super::div_magic;

    #[test]
    fn constant_division_is_exact() {
        for d in [1u32, 3, 5, 6, 7, 10, 12, 24, 48, 96, 100] {
            let (magic, s) = div_magic(18, d);
            for x in 0u128..(1 << 18) {
                assert_eq!((x * magic) >> s, x / d as u128, "x = {x}, d = {d}");
            }
        }
    }
}
