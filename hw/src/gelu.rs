//! GELU unit (`[gelu]`): `lanes` lanes, one element per lane per cycle, bit-exact with
//! `accgen_golden::gelu` (ReLU minus an interpolated correction ROM, as in Edge-MoE).
//!
//! Ports (besides `clk`, `rst`): `in_valid`, `x_<c>` (SInt in_bits, scale 2^-in_frac);
//! `out_valid`, `y_<c>` (SInt out_bits, scale 2^-out_frac).
//!
//! Latency: 4 cycles ([`GELU_LATENCY`]): input register; |x| and the ROM read (a
//! synchronous-read ROM, so it maps to block or distributed RAM); interpolation
//! `base + (delta * f >> frac_bits)`; ReLU term minus correction, rounding shift and
//! clamp. Throughput: `lanes` elements per cycle. One ROM per lane; its contents come
//! from `accgen_golden::gelu::gelu_table`, so ROM and model read the same numbers.
//!
//! ```text
//!  x ─▶[x_q]─▶ |x| ─▶ i, f ─▶ ROM[i] ─▶[base,delta]─▶ base + (delta*f >> fb) ─▶[c_q]
//!                                                                            │
//!  relu(x) << (W - in_frac) ─────────────────────────────────────────────▶ (-) ─▶ round, clamp ─▶[y_q]
//! ```

use std::rc::Rc;

use accgen_golden::gelu::{gelu_table, GeluConfig};
use accgen_golden::num::Rounding;

use crate::arith::{clamp_const, round_shift};
use crate::lanes::lane_array;
use crate::rtl::{CmpOp, Library, MemSpec, Module, ModuleBuilder, RegOpts, RtlResult, Value};

/// Cycles from `x` at the inputs to `y` at the outputs.
pub const GELU_LATENCY: u32 = 4;

fn lane_name(cfg: &GeluConfig) -> String {
    format!(
        "accgen_gelu_lane_i{}f{}_o{}f{}",
        cfg.in_bits, cfg.in_frac, cfg.out_bits, cfg.out_frac
    )
}

fn lane(lib: &mut Library, cfg: &GeluConfig) -> RtlResult<Rc<Module>> {
    let name = lane_name(cfg);
    lib.get_or_build(&name.clone(), |_| {
        let p = cfg.params();
        let table = gelu_table(cfg);
        let (bw, bs) = table.base_width();
        let (dw, ds) = table.delta_width();
        let fb = p.frac_bits;
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "GELU lane: {} ROM entries of base {bw}b + delta {dw}b, {fb} interpolated bits, W = {}.",
            table.len(),
            p.w
        ));
        let x = m.input("x", cfg.in_bits, true)?;
        // Stage 1: input register.
        let x_q = m.reg_next("x_q", x, RegOpts::new())?;
        // Stage 2: |x|, segment index, ROM read (registered inside the ROM).
        let zero = m.const_s(cfg.in_bits, 0)?;
        let neg = m.lt(x_q, zero)?;
        let minus = m.neg(x_q)?;
        let a = m.mux(neg, minus, x_q)?.as_unsigned(); // |-2^(n-1)| = 2^(n-1) fits unsigned
        let a = m.name_sig(a, "abs_x")?;
        let iw = cfg.in_bits - fb;
        let idx = if fb == 0 { a } else { m.slice(a, cfg.in_bits - 1, fb)? };
        let idx_w = m.zext(idx, iw + 1)?;
        let limit = m.const_u(iw + 1, table.len() as u128)?;
        let in_range = m.lt(idx_w, limit)?;
        let words: Vec<Value> = table
            .base
            .iter()
            .zip(&table.delta)
            .map(|(&b, &d)| {
                let base = Value::from_i128_wrapping(bw, b as i128);
                let delta = Value::from_i128_wrapping(dw, d as i128);
                let v = (base.to_u128().unwrap() << dw) | delta.to_u128().unwrap();
                Value::from_u128(bw + dw, v).expect("word fits")
            })
            .collect();
        let rom = m.memory(MemSpec {
            name: "corr_rom".into(),
            depth: table.len(),
            width: bw + dw,
            signed: false,
            init: Some(words),
            style: None,
        })?;
        let addr = m.resize(idx, rom.addr_bits())?;
        let word = m.mem_read(rom, addr, None)?;
        let f_q = if fb > 0 {
            let f = m.slice(a, fb - 1, 0)?;
            Some(m.reg_next("f_q", f, RegOpts::new())?)
        } else {
            None
        };
        let in_range_q = m.reg_next("in_range_q", in_range, RegOpts::new())?;
        let x_q2 = m.reg_next("x_q2", x_q, RegOpts::new())?;
        // Stage 3: interpolate.
        let base = m.slice(word, bw + dw - 1, dw)?;
        let base = if bs { base.as_signed() } else { base };
        let delta = m.slice(word, dw - 1, 0)?;
        let delta = if ds { delta.as_signed() } else { delta };
        let cw = bw.max(dw) + 3;
        let base_s = if bs {
            m.sext(base, bw + 1)?
        } else {
            m.zext(base, bw + 1)?.as_signed()
        };
        let mut c = m.sext(base_s, cw)?;
        if let Some(f) = f_q {
            let delta_s = if ds { delta } else { m.zext(delta, dw + 1)?.as_signed() };
            let prod = m.mul(delta_s, f)?;
            let step = m.sra(prod, fb)?;
            let step = m.sext(step, cw.max(step.width()))?;
            let c_w = m.sext(c, step.width())?;
            c = m.add(c_w, step)?;
        }
        let zero_c = m.const_s(c.width(), 0)?;
        let c = m.mux(in_range_q, c, zero_c)?;
        let c_q = m.reg_next("corr_q", c, RegOpts::new())?;
        let x_q3 = m.reg_next("x_q3", x_q2, RegOpts::new())?;
        // Stage 4: r = relu - c, round to out_frac, clamp.
        let zero_x = m.const_s(cfg.in_bits, 0)?;
        let pos = m.cmp(CmpOp::Gt, x_q3, zero_x)?;
        let relu = m.mux(pos, x_q3, zero_x)?;
        let rw = p.r_bits.max(c_q.width()) + 1;
        let relu = m.sext(relu, rw)?;
        let relu = m.shl(relu, p.w - cfg.in_frac)?;
        let corr = m.sext(c_q, rw)?;
        let r = m.sub(relu, corr)?;
        let y = round_shift(&mut m, r, (p.w - cfg.out_frac) as i32, Rounding::NearestEven)?;
        let lo = -(1i128 << (cfg.out_bits - 1));
        let hi = (1i128 << (cfg.out_bits - 1)) - 1;
        let y = clamp_const(&mut m, y, lo, hi)?;
        let y = m.resize(y, cfg.out_bits)?;
        let y_q = m.reg_next("y_q", y, RegOpts::new())?;
        m.output("y", y_q)?;
        m.finish()
    })
}

/// Module name: every parameter is in it.
pub fn gelu_name(cfg: &GeluConfig) -> String {
    format!(
        "accgen_gelu_l{}_i{}f{}_o{}f{}",
        cfg.lanes, cfg.in_bits, cfg.in_frac, cfg.out_bits, cfg.out_frac
    )
}

/// Build (or fetch) the GELU unit for `cfg`.
pub fn gelu(lib: &mut Library, cfg: &GeluConfig) -> RtlResult<Rc<Module>> {
    let l = lane(lib, cfg)?;
    let doc = format!(
        "GELU: {} lanes, Q{}.{} -> Q{}.{}, latency {GELU_LATENCY}.",
        cfg.lanes,
        cfg.in_bits - cfg.in_frac,
        cfg.in_frac,
        cfg.out_bits - cfg.out_frac,
        cfg.out_frac
    );
    let lanes = vec![l; cfg.lanes as usize];
    lane_array(lib, &gelu_name(cfg), &doc, &lanes, GELU_LATENCY)
}
