//! Power-of-two re-quantizer (`[requant]`): `lanes` independent lanes, one element
//! per lane per cycle, bit-exact with `accgen_golden::requant`.
//!
//! Ports: the AXI4-Stream top of [`crate::lanes`]: `s_axis_tdata` carries `lanes`
//! signed `in_bits` elements (each field rounded up to whole bytes), `m_axis_tdata`
//! the results (`out_bits`, signed when `out_signed`, sign- or zero-extended to whole
//! bytes); `tlast` travels with its beat. Full backpressure.
//!
//! Latency: [`REQUANT_LATENCY`] = 7 cycles per lane (one carry chain per stage, for
//! 300 MHz): input register; bias add; quotient and round-up bit; round; pre-saturate
//! to out_bits + 2 bits (exact, see the golden docs); zero-point add; clamp. The top
//! adds 2 (its output FIFO). Throughput: `lanes` elements per cycle.
//! Limits: lanes 1..=64, in_bits 8..=48, out_bits 2..=16, `lanes * bytes(in_bits)`
//! at most 512 bytes of `tdata`.
//!
//! Each lane's shift and bias are constants fixed at generation, so a lane with a
//! per-channel value is its own small datapath; lanes with equal constants share one
//! module.
//!
//! ```text
//!  x ─▶[x]─▶(+bias)─▶[v]─▶ q, up ─▶[q,up]─▶(q+up)─▶[t]─▶ sat ─▶[ts]─▶(+zp)─▶[w]─▶ clamp ─▶[y]
//! ```

use std::rc::Rc;

use accgen_golden::num::Rounding;
use accgen_golden::requant::RequantConfig;

use crate::arith::{add_round_up, clamp_const, round_shift_parts, saturate_signed};
use crate::lanes::lane_stream_top;
use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult};

/// Cycles from `x` at the inputs to `y` at the outputs.
pub const REQUANT_LATENCY: u32 = 7;

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

/// One lane: `y = requant(x)` with this lane's constants, 7 register stages.
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
        // 1: input register.
        let x_q = m.reg_next("x_q", x, RegOpts::new())?;
        // 2: bias add.
        let b = m.const_s(cfg.in_bits, bias as i128)?;
        let v = m.add_wide(x_q, b)?;
        let v_q = m.reg_next("v_q", v, RegOpts::new())?;
        // 3: quotient (wiring) and round-up bit.
        let (q, up) = round_shift_parts(&mut m, v_q, shift, cfg.rounding)?;
        let q_q = m.reg_next("q_q", q, RegOpts::new())?;
        let up_q = m.reg_next("up_q", up, RegOpts::new())?;
        // 4: round.
        let t = add_round_up(&mut m, q_q, up_q)?;
        let t_q = m.reg_next("t_q", t, RegOpts::new())?;
        // 5: pre-saturate. Exact: |zero_point| < 2^out_bits, so any |t| >= 2^(out_bits+1)
        // saturates the same.
        let ts = saturate_signed(&mut m, t_q, cfg.out_bits + 2)?;
        let ts_q = m.reg_next("ts_q", ts, RegOpts::new())?;
        // 6: zero point.
        let zp = m.const_s(cfg.out_bits + 2, cfg.zero_point as i128)?;
        let w = m.add_wide(ts_q, zp)?;
        let w_q = m.reg_next("w_q", w, RegOpts::new())?;
        // 7: clamp (ReLU clamps at the zero point).
        let (qmin, qmax) = cfg.qrange();
        let lo = if cfg.relu {
            cfg.zero_point as i128
        } else {
            qmin
        };
        let y = clamp_const(&mut m, w_q, lo, qmax)?;
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
    lane_stream_top(lib, &requant_name(cfg), &doc, &lanes, REQUANT_LATENCY)
}
