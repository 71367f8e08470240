//! Power-of-two re-quantizer (`[requant]`): `lanes` independent lanes, one element
//! per lane per cycle, bit-exact with `accgen_golden::requant`.
//!
//! Ports (besides `clk`, `rst`): `in_valid`, `x_<c>` (SInt in_bits) for c < lanes;
//! `out_valid`, `y_<c>` (out_bits, signed when `out_signed`).
//!
//! Latency: 3 cycles ([`REQUANT_LATENCY`]): input register; bias add and rounding
//! shift, pre-saturated to out_bits + 2 bits (exact, see the golden docs); zero-point
//! add and clamp. Throughput: `lanes` elements per cycle.
//!
//! Each lane's shift and bias are constants fixed at generation, so a lane with a
//! per-channel value is its own small datapath; lanes with equal constants share one
//! module.
//!
//! ```text
//!  x_c ─▶[x_q]─▶ (+bias_c) ─▶ round_shift(shift_c) ─▶ sat(out_bits+2) ─▶[t_q]─▶ (+zp) ─▶ clamp ─▶[y_q]─▶ y_c
//! ```

use std::rc::Rc;

use accgen_golden::num::Rounding;
use accgen_golden::requant::RequantConfig;

use crate::arith::{clamp_const, round_shift, saturate_signed};
use crate::lanes::lane_array;
use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult};

/// Cycles from `x` at the inputs to `y` at the outputs.
pub const REQUANT_LATENCY: u32 = 3;

fn mode_tag(r: Rounding) -> &'static str {
    match r {
        Rounding::NearestEven => "ne",
        Rounding::HalfAway => "ha",
        Rounding::Floor => "fl",
    }
}

fn num_tag(v: i64) -> String {
    if v < 0 {
        format!("m{}", v.unsigned_abs())
    } else {
        v.to_string()
    }
}

/// One lane: `y = requant(x)` with this lane's constants, 3 register stages.
fn lane(lib: &mut Library, cfg: &RequantConfig, c: usize) -> RtlResult<Rc<Module>> {
    let (shift, bias) = (cfg.shift_of(c), cfg.bias_of(c));
    let name = format!(
        "accgen_requant_lane_i{}_o{}{}_{}_sh{}_b{}_zp{}{}",
        cfg.in_bits,
        cfg.out_bits,
        if cfg.out_signed { "s" } else { "u" },
        mode_tag(cfg.rounding),
        num_tag(shift as i64),
        num_tag(bias),
        num_tag(cfg.zero_point),
        if cfg.relu { "_relu" } else { "" }
    );
    lib.get_or_build(&name.clone(), |_| {
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Re-quantizer lane: shift {shift}, bias {bias}, zero point {}, {:?}{}.",
            cfg.zero_point,
            cfg.rounding,
            if cfg.relu { ", ReLU" } else { "" }
        ));
        let x = m.input("x", cfg.in_bits, true)?;
        let x_q = m.reg_next("x_q", x, RegOpts::new())?;
        let b = m.const_s(cfg.in_bits, bias as i128)?;
        let v = m.add_wide(x_q, b)?;
        let t = round_shift(&mut m, v, shift, cfg.rounding)?;
        // Exact: |zero_point| < 2^out_bits, so any |t| >= 2^(out_bits+1) saturates the same.
        let t = saturate_signed(&mut m, t, cfg.out_bits + 2)?;
        let t_q = m.reg_next("t_q", t, RegOpts::new())?;
        let zp = m.const_s(cfg.out_bits + 2, cfg.zero_point as i128)?;
        let w = m.add_wide(t_q, zp)?;
        let (qmin, qmax) = cfg.qrange();
        let lo = if cfg.relu {
            cfg.zero_point as i128
        } else {
            qmin
        };
        let y = clamp_const(&mut m, w, lo, qmax)?;
        let y = m.resize(y, cfg.out_bits)?;
        let y = if cfg.out_signed {
            y.as_signed()
        } else {
            y.as_unsigned()
        };
        let y_q = m.reg_next("y_q", y, RegOpts::new())?;
        m.output("y", y_q)?;
        m.finish()
    })
}

/// Module name of the unit: shape in clear, the per-lane constants by hash.
pub fn requant_name(cfg: &RequantConfig) -> String {
    let canon = toml::to_string(cfg).unwrap_or_default();
    let h = accgen_golden::hash::ContentHasher::new()
        .update(canon.as_bytes())
        .hex();
    format!(
        "accgen_requant_l{}_i{}_o{}{}_{}",
        cfg.lanes,
        cfg.in_bits,
        cfg.out_bits,
        if cfg.out_signed { "s" } else { "u" },
        &h[..10]
    )
}

/// Build (or fetch) the re-quantizer for `cfg`.
pub fn requant(lib: &mut Library, cfg: &RequantConfig) -> RtlResult<Rc<Module>> {
    let lanes = (0..cfg.lanes as usize)
        .map(|c| lane(lib, cfg, c))
        .collect::<RtlResult<Vec<_>>>()?;
    let doc = format!(
        "PoT re-quantizer: {} lanes, int{} -> {}{}, latency {REQUANT_LATENCY}.",
        cfg.lanes,
        cfg.in_bits,
        if cfg.out_signed { "int" } else { "uint" },
        cfg.out_bits
    );
    lane_array(lib, &requant_name(cfg), &doc, &lanes, REQUANT_LATENCY)
}
