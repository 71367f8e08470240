//! Output-stationary processing element (PE) for the dense systolic array.
//!
//! Ports:
//! - `a_in` (SInt act_bits), `b_in` (SInt weight_bits): operands from the left / top;
//! - `valid_in`, `first_in`, `last_in` (1 each): beat flags riding with `a_in`;
//! - `a_out`, `b_out`, `valid_out`, `first_out`, `last_out`: the same, one cycle later,
//!   for the right / lower neighbour (the systolic hop registers);
//! - `res` (SInt acc_bits): the finished sum of the last tile (the drain buffer).
//!
//! Latency: the product of a beat is accumulated at the end of the cycle in which the
//! beat is at the PE's inputs (the inputs are the neighbour's hop registers, or the
//! array's skew registers); on a `last` beat the finished sum is copied into `res` at
//! the same edge, so it is visible 1 cycle after the beat. Throughput: one MAC per
//! cycle, tiles back to back: `acc` computes tile t+1 while `res` holds tile t for the
//! drain (double buffering, as in Gemmini's PE).
//!
//! No register has a reset: a stray flag after power-up only disturbs `acc`, which the
//! first beat of every tile overwrites, and `res`, which is only read when the array's
//! drain control says it holds a finished tile. Without resets the multiplier, its
//! input registers and the accumulator pack into one DSP48.
//!
//! ```text
//!            b_in
//!             │
//!   a_in ──┬─────────[a_q]──▶ a_out
//!   flags ─┼─────────[f_q]──▶ flags out
//!          │   b_in ─┬─[b_q]─▶ b_out
//!          ▼         │
//!         (×)◀───────┘
//!          │
//!        (+)◀─┴─ first ? 0 : acc ──▶ [acc] ──(last)──▶ [res] ─▶ res
//! ```

use std::rc::Rc;

use accgen_golden::gemm::ArrayConfig;

use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult};

/// Cycles from a beat at the PE's inputs to its contribution being in `acc`, and from
/// a `last` beat to the finished sum in `res`.
pub const PE_RES_LATENCY: u32 = 1;

/// Module name: every parameter is in it.
pub fn pe_name(cfg: &ArrayConfig) -> String {
    format!(
        "accgen_pe_a{}_w{}_acc{}",
        cfg.act_bits, cfg.weight_bits, cfg.acc_bits
    )
}

/// Build (or fetch) the PE for `cfg`'s number format.
pub fn pe(lib: &mut Library, cfg: &ArrayConfig) -> RtlResult<Rc<Module>> {
    let name = pe_name(cfg);
    lib.get_or_build(&name.clone(), |_| {
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Output-stationary PE: a {}b x b {}b -> acc {}b, double-buffered result.",
            cfg.act_bits, cfg.weight_bits, cfg.acc_bits
        ));
        let a = m.input("a_in", cfg.act_bits, true)?;
        let b = m.input("b_in", cfg.weight_bits, true)?;
        let v = m.input("valid_in", 1, false)?;
        let f = m.input("first_in", 1, false)?;
        let l = m.input("last_in", 1, false)?;
        let a_q = m.reg_next("a_q", a, RegOpts::new())?;
        let b_q = m.reg_next("b_q", b, RegOpts::new())?;
        let v_q = m.reg_next("valid_q", v, RegOpts::new())?;
        let f_q = m.reg_next("first_q", f, RegOpts::new())?;
        let l_q = m.reg_next("last_q", l, RegOpts::new())?;

        let prod = m.mul(a, b)?;
        let prod = m.resize(prod, cfg.acc_bits)?;
        let prod = m.name_sig(prod, "prod")?;
        let acc = m.reg("acc", cfg.acc_bits, true, RegOpts::new().enable(v))?;
        let zero = m.const_s(cfg.acc_bits, 0)?;
        let base = m.mux(f, zero, acc.q)?;
        let sum = m.add(base, prod)?;
        let sum = m.name_sig(sum, "sum")?;
        m.connect(acc, sum)?;
        let done = m.and(v, l)?;
        let res = m.reg_next("res_q", sum, RegOpts::new().enable(done))?;

        m.output("a_out", a_q)?;
        m.output("b_out", b_q)?;
        m.output("valid_out", v_q)?;
        m.output("first_out", f_q)?;
        m.output("last_out", l_q)?;
        m.output("res", res)?;
        m.finish()
    })
}
