//! Residual-add unit (`[residual]`): `lanes` independent lanes computing
//! `y = requant(a * 2^(F - a_frac) + b * 2^(F - b_frac))`, bit-exact with
//! `accgen_golden::residual`.
//!
//! Ports: the AXI4-Stream top of [`crate::lanes`]. Lane i's `s_axis_tdata` field holds
//! the pair `{b, a}`: `a` (SInt a_bits) sign-extended to whole bytes in the low part,
//! `b` (SInt b_bits) sign-extended to whole bytes above it. `m_axis_tdata` carries the
//! outputs (SInt out_bits, sign-extended to whole bytes); `tlast` travels with its
//! beat. Full backpressure.
//!
//! Latency: [`RESIDUAL_LATENCY`] = 5 cycles per lane (one carry chain per stage):
//! input register; aligned add; quotient and round-up bit; round; saturate (a
//! reduction) into the output register. The top adds 3 (FIFO and register slice).
//! Throughput: `lanes` pairs per cycle.
//!
//! ```text
//!  {b,a} ─▶[a,b]─▶ (a<<sa)+(b<<sb) ─▶[v]─▶ q, up ─▶[q,up]─▶ q+up ─▶[t]─▶ saturate ─▶[y]
//! ```

use std::rc::Rc;

use accgen_golden::num::Rounding;
use accgen_golden::residual::ResidualConfig;

use crate::arith::{add_round_up, round_shift_parts, saturate_signed};
use crate::lanes::lane_stream_top;
use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult};

/// Cycles from `x` at the inputs to `y` at the outputs.
pub const RESIDUAL_LATENCY: u32 = 5;

fn byte(bits: u32) -> u32 {
    bits.div_ceil(8) * 8
}

fn frac_tag(f: i32) -> String {
    if f < 0 {
        format!("m{}", f.unsigned_abs())
    } else {
        f.to_string()
    }
}

/// Module name: every parameter is in it.
pub fn residual_name(cfg: &ResidualConfig) -> String {
    format!("accgen_residual_l{}_{}", cfg.lanes, lane_tag(cfg))
}

fn lane_tag(cfg: &ResidualConfig) -> String {
    format!(
        "a{}f{}_b{}f{}_o{}f{}_{}",
        cfg.a_bits,
        frac_tag(cfg.a_frac),
        cfg.b_bits,
        frac_tag(cfg.b_frac),
        cfg.out_bits,
        frac_tag(cfg.out_frac),
        match cfg.rounding {
            Rounding::NearestEven => "ne",
            Rounding::HalfAway => "ha",
            Rounding::Floor => "fl",
        }
    )
}

/// One lane: port `x` (`{b, a}` as in the stream's lane field) to `y`,
/// [`RESIDUAL_LATENCY`] cycles, free-running. The accelerator's ADD engine uses it too.
pub fn residual_lane(lib: &mut Library, cfg: &ResidualConfig) -> RtlResult<Rc<Module>> {
    let name = format!("accgen_residual_lane_{}", lane_tag(cfg));
    lib.get_or_build(&name.clone(), |_| {
        let mut m = ModuleBuilder::new(&name);
        let (sa, sb) = cfg.align_shifts();
        m.doc(&format!(
            "Residual-add lane: (a << {sa}) + (b << {sb}), shift {}, {:?}, saturate to int{}.",
            cfg.out_shift(),
            cfg.rounding,
            cfg.out_bits
        ));
        let ab = byte(cfg.a_bits);
        let x = m.input("x", ab + cfg.b_bits, true)?;
        // 1: input register.
        let a = m.slice(x, cfg.a_bits - 1, 0)?.as_signed();
        let b = m.slice(x, ab + cfg.b_bits - 1, ab)?.as_signed();
        let a = m.reg_next("a_q", a, RegOpts::new())?;
        let b = m.reg_next("b_q", b, RegOpts::new())?;
        // 2: the exact aligned sum.
        let vw = cfg.sum_bits();
        let aw = m.sext(a, vw)?;
        let bw = m.sext(b, vw)?;
        let aw = m.shl(aw, sa)?;
        let bw = m.shl(bw, sb)?;
        let v = m.add(aw, bw)?;
        let v = m.reg_next("v_q", v, RegOpts::new())?;
        // 3, 4: round (a left shift past the output saturates in stage 5 whatever it
        // is, so it is limited to out_bits + 1 places, as in golden).
        let s = cfg.out_shift().max(-(cfg.out_bits as i32 + 1));
        let (q, up) = round_shift_parts(&mut m, v, s, cfg.rounding)?;
        let q = m.reg_next("q_q", q, RegOpts::new())?;
        let up = m.reg_next("up_q", up, RegOpts::new())?;
        let t = add_round_up(&mut m, q, up)?;
        let t = m.reg_next("t_q", t, RegOpts::new())?;
        // 5: saturate (a reduction) into the output register.
        let y = saturate_signed(&mut m, t, cfg.out_bits)?;
        let y = m.reg_next("y_q", y, RegOpts::new())?;
        m.output("y", y)?;
        m.finish()
    })
}

/// Build (or fetch) the residual-add unit for `cfg`.
pub fn residual(lib: &mut Library, cfg: &ResidualConfig) -> RtlResult<Rc<Module>> {
    let l = residual_lane(lib, cfg)?;
    let lanes = vec![l; cfg.lanes as usize];
    let doc = format!(
        "Residual add: {} lanes, int{} (2^-{}) + int{} (2^-{}) -> int{} (2^-{}), latency {RESIDUAL_LATENCY}.",
        cfg.lanes, cfg.a_bits, cfg.a_frac, cfg.b_bits, cfg.b_frac, cfg.out_bits, cfg.out_frac
    );
    lane_stream_top(lib, &residual_name(cfg), &doc, &lanes, RESIDUAL_LATENCY)
}
