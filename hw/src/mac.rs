//! Pipelined multiply-accumulate example unit (`[mac]`).
//!
//! Ports (besides `clk`, `rst`):
//! - `in_valid` (1), `clear` (1): a beat is taken when `in_valid` is 1; `clear` starts
//!   a new sum with this beat's product;
//! - `a` (SInt `a_bits`), `b` (SInt `b_bits`);
//! - `acc` (SInt `acc_bits`), `out_valid` (1): the running sum after each beat.
//!
//! Latency: 3 cycles (operand registers, product register, accumulator), the A/B, M
//! and P registers of a DSP48. Throughput: one beat per cycle. Only the valid bits have
//! a reset; the datapath has none, so it packs into the DSP.
//!
//! ```text
//!  a,b ─▶[A/B]─▶ (×) ─▶[M]─▶ (+) ─▶[P: acc]─▶ acc
//!                              ▲       │
//!                              └─clear?0
//! ```

use std::rc::Rc;

use accgen_golden::config::MacConfig;

use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult};

/// Cycles from a beat at the inputs to its sum at `acc`.
pub const MAC_LATENCY: u32 = 3;

/// Module name for `cfg`: every parameter is in the name.
pub fn mac_name(cfg: &MacConfig) -> String {
    format!(
        "accgen_mac_a{}_b{}_acc{}",
        cfg.a_bits, cfg.b_bits, cfg.acc_bits
    )
}

/// Build (or fetch) the MAC module for `cfg`.
pub fn mac(lib: &mut Library, cfg: &MacConfig) -> RtlResult<Rc<Module>> {
    let name = mac_name(cfg);
    lib.get_or_build(&name.clone(), |_| {
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Pipelined MAC: a {}b x b {}b, acc {}b, latency {MAC_LATENCY}.",
            cfg.a_bits, cfg.b_bits, cfg.acc_bits
        ));
        let valid = m.input("in_valid", 1, false)?;
        let clear = m.input("clear", 1, false)?;
        let a = m.input("a", cfg.a_bits, true)?;
        let b = m.input("b", cfg.b_bits, true)?;

        let v1 = m.reg_next("valid_s1", valid, RegOpts::new().reset_zero(1))?;
        let c1 = m.reg_next("clear_s1", clear, RegOpts::new())?;
        let a1 = m.reg_next("a_s1", a, RegOpts::new())?;
        let b1 = m.reg_next("b_s1", b, RegOpts::new())?;

        let p = m.mul(a1, b1)?;
        let p = m.resize(p, cfg.acc_bits)?;
        let v2 = m.reg_next("valid_s2", v1, RegOpts::new().reset_zero(1))?;
        let c2 = m.reg_next("clear_s2", c1, RegOpts::new())?;
        let p2 = m.reg_next("prod_s2", p, RegOpts::new())?;

        let acc = m.reg("acc_q", cfg.acc_bits, true, RegOpts::new().enable(v2))?;
        let zero = m.const_s(cfg.acc_bits, 0)?;
        let base = m.mux(c2, zero, acc.q)?;
        let sum = m.add(base, p2)?;
        m.connect(acc, sum)?;
        let v3 = m.reg_next("valid_s3", v2, RegOpts::new().reset_zero(1))?;

        m.output("acc", acc.q)?;
        m.output("out_valid", v3)?;
        m.finish()
    })
}
