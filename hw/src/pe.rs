//! Output-stationary processing element (PE) for the dense systolic array.
//!
//! Ports:
//! - `a_in` (SInt act_bits), `b_in` (SInt weight_bits): operands from the left / top;
//! - `valid_in`, `first_in`, `last_in` (1 each): beat flags riding with `a_in`;
//! - `a_out`, `b_out`, `valid_out`, `first_out`, `last_out`: the same, one cycle later,
//!   for the right / lower neighbour (the systolic hop registers);
//! - `res` (SInt acc_bits): the finished sum of the last tile (the drain buffer).
//!
//! Structure, laid out as a DSP48 wants it: operand registers (A/B), the product
//! register (M), the accumulator (P: `P <= (first ? 0 : P) + M` while valid), then a
//! pipeline register and the drain register `res`, loaded after a `last` beat. With
//! `synth_xilinx -family xc7` Yosys packs A/B, M and P with the accumulate into one
//! DSP48E1 (a test reads the cell's parameters); Vivado does the same for DSP48E2.
//! With `--vendor ecp5` the multiplier is a MULT18X18D with its input and output
//! registers and the accumulator, in fabric, is split in two halves with a registered
//! carry (same latency).
//!
//! Latency: [`PE_RES_LATENCY`] cycles from a `last` beat at the PE's inputs to the
//! finished sum in `res`. Throughput: one MAC per cycle, tiles back to back: `acc`
//! computes tile t+1 while `res` holds tile t for the drain (double buffering, as in
//! Gemmini's PE).
//!
//! Nothing has a reset: a stray flag after power-up only disturbs `acc`, which the
//! first beat of every tile overwrites, and `res`, which is only read when the array's
//! drain control says it holds a finished tile.
//!
//! ```text
//!   a_in ──┬──────────────[a_q]──▶ a_out        b_in ─┬─[b_q]─▶ b_out
//!          └─[A]─┐                                     └─[B]─┐
//!                └──────────── (×) ◀───────────────────────────┘
//!                               │
//!                              [M] ─▶ (+ first ? 0 : P) ─▶ [P] ──(last)──▶ [res] ─▶ res
//! ```

use std::rc::Rc;

use accgen_golden::gemm::ArrayConfig;

use crate::arith::{accumulate, ACC_RES_LATENCY};
use crate::mul::{mul_latency, pmul};
use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig};

/// Cycles from a `last` beat at the PE's inputs to the finished sum in `res`: the
/// multiplier's A/B and M registers, then the accumulator (see
/// [`crate::arith::accumulate`]).
pub const PE_RES_LATENCY: u32 = 5;

/// Module name: every parameter is in it.
pub fn pe_name(cfg: &ArrayConfig) -> String {
    format!(
        "accgen_pe_a{}_w{}_acc{}",
        cfg.act_bits, cfg.weight_bits, cfg.acc_bits
    )
}

/// How many variants of a PE an array uses (see [`clear_flag`]): one per row of an
/// anti-diagonal, at most [`PE_VARIANTS`].
pub fn variant_count(cfg: &ArrayConfig) -> u32 {
    cfg.rows.min(cfg.cols).clamp(1, PE_VARIANTS)
}

/// Distinct ways of forming the accumulator's clear flag.
pub const PE_VARIANTS: u32 = 4;

/// Module-name suffix of PE variant `k` (none for variant 0).
pub fn variant_suffix(k: u32) -> String {
    if k == 0 {
        String::new()
    } else {
        format!("_clr{k}")
    }
}

/// The accumulator's clear flag in PE variant `k`: a function of `first` and `valid`
/// that equals `first` whenever `valid` is 1 (the only time the accumulator loads):
/// `first & valid`, `first | !valid`, `first ^ !valid`, `valid ? first : last`.
///
/// Why variants: in an output-stationary array every PE on an anti-diagonal sees the
/// same flags in the same cycle (and the same as the hop registers of PEs further
/// along), so after flattening Yosys merges their flag registers into one flip-flop
/// that drives the accumulator muxes of up to min(R, C) PEs far apart. Rows use
/// variant `row % variant_count`, none of which is the bare `first`, so the registers
/// stay distinct (one PE each, or one per four rows) and each stays next to its
/// accumulator.
pub(crate) fn clear_flag(
    m: &mut ModuleBuilder,
    first: Sig,
    valid: Sig,
    last: Sig,
    k: u32,
) -> RtlResult<Sig> {
    match k % PE_VARIANTS {
        0 => m.and(first, valid),
        1 => {
            let nv = m.not(valid)?;
            m.or(first, nv)
        }
        2 => {
            let nv = m.not(valid)?;
            m.xor(first, nv)
        }
        _ => m.mux(valid, first, last),
    }
}

/// Build (or fetch) the PE for `cfg`'s number format (variant 0).
pub fn pe(lib: &mut Library, cfg: &ArrayConfig) -> RtlResult<Rc<Module>> {
    pe_variant(lib, cfg, 0)
}

/// Build (or fetch) variant `k` of the PE (see [`clear_flag`]).
pub fn pe_variant(lib: &mut Library, cfg: &ArrayConfig, k: u32) -> RtlResult<Rc<Module>> {
    let name = format!("{}{}", pe_name(cfg), variant_suffix(k));
    lib.get_or_build(&name.clone(), |lib| {
        let vendor = lib.vendor();
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Output-stationary PE: a {}b x b {}b -> acc {}b, DSP48-shaped (A/B, M, P), double-buffered result.",
            cfg.act_bits, cfg.weight_bits, cfg.acc_bits
        ));
        let a = m.input("a_in", cfg.act_bits, true)?;
        let b = m.input("b_in", cfg.weight_bits, true)?;
        let v = m.input("valid_in", 1, false)?;
        let f = m.input("first_in", 1, false)?;
        let l = m.input("last_in", 1, false)?;
        // Hop registers for the neighbours.
        let a_q = m.reg_next("a_q", a, RegOpts::new())?;
        let b_q = m.reg_next("b_q", b, RegOpts::new())?;
        let v_q = m.reg_next("valid_q", v, RegOpts::new())?;
        let f_q = m.reg_next("first_q", f, RegOpts::new())?;
        let l_q = m.reg_next("last_q", l, RegOpts::new())?;
        // A/B and M registers (inside pmul), flags alongside.
        let ml = mul_latency(cfg.act_bits, cfg.weight_bits);
        let prod = pmul(&mut m, vendor, a, b, "mac")?;
        let prod = m.resize(prod, cfg.acc_bits)?;
        let v2 = m.delay(v, ml, "valid_m")?;
        let clr = clear_flag(&mut m, f, v, l, k)?;
        let f2 = m.delay(clr, ml, "first_m")?;
        let l2 = m.delay(l, ml, "last_m")?;
        // P: the accumulator, and the double-buffered result.
        let res = accumulate(&mut m, vendor, prod, v2, f2, l2)?;
        debug_assert_eq!(ml + ACC_RES_LATENCY, PE_RES_LATENCY);
        m.output("a_out", a_q)?;
        m.output("b_out", b_q)?;
        m.output("valid_out", v_q)?;
        m.output("first_out", f_q)?;
        m.output("last_out", l_q)?;
        m.output("res", res)?;
        m.finish()
    })
}
