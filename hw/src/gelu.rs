//! GELU unit (`[gelu]`): `lanes` lanes, one element per lane per cycle, bit-exact with
//! `accgen_golden::gelu` (ReLU minus an interpolated correction ROM, as in Edge-MoE).
//!
//! Ports: the AXI4-Stream top of [`crate::lanes`]: `s_axis_tdata` carries `lanes`
//! signed `in_bits` elements at scale 2^-in_frac (each field rounded up to whole
//! bytes), `m_axis_tdata` the signed `out_bits` results at scale 2^-out_frac,
//! sign-extended to whole bytes; `tlast` travels with its beat. Full backpressure.
//!
//! Latency per lane: [`gelu_latency`] cycles (11 for tables needing an 18 x 18
//! multiply): input register; |x|; the ROM (read and output registers, so it maps to
//! block RAM with its output register or to LUTs); the interpolation multiply
//! `delta * f` (pipelined, see [`crate::mul`]); `base + (delta * f >> frac_bits)`;
//! ReLU term minus correction; quotient and round-up bit; round; clamp. The top adds
//! 2. Throughput: `lanes` elements per cycle. One ROM per lane; its contents come from
//! `accgen_golden::gelu::gelu_table`, so ROM and model read the same numbers.
//! Limits: lanes 1..=64, in_bits 8..=16, out_bits 4..=16.
//!
//! ```text
//!  x ─▶[x]─▶ |x| ─▶[a]─▶ ROM[i] (2) ─▶ base, delta*f (pmul) ─▶ base + step ─▶[c]
//!  relu(x) << (W - in_frac) ─────────────────────────────────────▶ (-) ─▶[r]─▶ round ─▶ clamp ─▶[y]
//! ```

use std::rc::Rc;

use accgen_golden::gelu::{gelu_table, GeluConfig};
use accgen_golden::num::Rounding;

use crate::arith::{add_round_up, clamp_const, round_shift_parts};
use crate::lanes::lane_stream_top;
use crate::mem::{self, mem_addr_bits, MemoryConfig, MEM_READ_LATENCY};
use crate::mul::{mul_latency, pmul};
use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlResult, Value};

/// Cycles from `x` at a lane's input to its `y`.
pub fn gelu_latency(cfg: &GeluConfig) -> u32 {
    let table = gelu_table(cfg);
    let (dw, _) = table.delta_width();
    let fb = cfg.params().frac_bits;
    let mul = if fb > 0 { mul_latency(dw + 1, fb) } else { 0 };
    // x, |x|, ROM (2), multiply, correction, difference, round parts, round, clamp.
    1 + 1 + MEM_READ_LATENCY + mul + 1 + 1 + 1 + 1 + 1
}

fn lane_name(cfg: &GeluConfig) -> String {
    format!(
        "accgen_gelu_lane_i{}f{}_o{}f{}",
        cfg.in_bits, cfg.in_frac, cfg.out_bits, cfg.out_frac
    )
}

/// One GELU lane (port `x`, signed `in_bits`, to `y`), [`gelu_latency`] cycles; the
/// unit and the accelerator's epilogue instantiate it.
pub fn gelu_lane(lib: &mut Library, cfg: &GeluConfig) -> RtlResult<Rc<Module>> {
    let name = lane_name(cfg);
    lib.get_or_build(&name.clone(), |lib| {
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
        let vendor = lib.vendor();
        // 1: input register.
        let x_q = m.reg_next("x_q", x, RegOpts::new())?;
        // 2: |x| (|-2^(n-1)| = 2^(n-1) fits unsigned).
        let zero = m.const_s(cfg.in_bits, 0)?;
        let neg = m.lt(x_q, zero)?;
        let minus = m.neg(x_q)?;
        let a = m.mux(neg, minus, x_q)?.as_unsigned();
        let a_q = m.reg_next("abs_q", a, RegOpts::new())?;
        let mut xd = m.reg_next("x_d2", x_q, RegOpts::new())?;
        // 3-4: segment index and the ROM read (read and output registers).
        let iw = cfg.in_bits - fb;
        let idx = if fb == 0 { a_q } else { m.slice(a_q, cfg.in_bits - 1, fb)? };
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
        let rom_cfg = MemoryConfig {
            depth: table.len(),
            width: bw + dw,
            init: Some(words),
            style: None,
        };
        let addr_bits = mem_addr_bits(table.len());
        let addr = m.resize(idx, addr_bits)?;
        let one = m.const_u(1, 1)?;
        let word = mem::instantiate(&mut m, lib, "corr_rom", &rom_cfg, None, one, addr, one)?;
        let mut in_range_d = m.delay(in_range, MEM_READ_LATENCY, "in_range")?;
        xd = m.delay(xd, MEM_READ_LATENCY, "x_rom")?;
        let f_d = if fb > 0 {
            let f = m.slice(a_q, fb - 1, 0)?;
            Some(m.delay(f, MEM_READ_LATENCY, "f_rom")?)
        } else {
            None
        };
        // 5: base and the interpolation step delta * f (pipelined multiply).
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
        if let Some(f) = f_d {
            let delta_s = if ds {
                delta
            } else {
                m.zext(delta, dw + 1)?.as_signed()
            };
            let ml = mul_latency(delta_s.width(), f.width());
            let prod = pmul(&mut m, vendor, delta_s, f, "interp")?;
            let c_d = m.delay(c, ml, "base_mul")?;
            in_range_d = m.delay(in_range_d, ml, "in_range_mul")?;
            xd = m.delay(xd, ml, "x_mul")?;
            let step = m.sra(prod, fb)?;
            let step = m.sext(step, cw.max(step.width()))?;
            let c_w = m.sext(c_d, step.width())?;
            c = m.add(c_w, step)?;
        }
        // 6: correction (0 outside the table).
        let zero_c = m.const_s(c.width(), 0)?;
        let c = m.mux(in_range_d, c, zero_c)?;
        let c_q = m.reg_next("corr_q", c, RegOpts::new())?;
        let x6 = m.reg_next("x_corr", xd, RegOpts::new())?;
        // 7: r = relu(x) << (W - in_frac) - c.
        let zero_x = m.const_s(cfg.in_bits, 0)?;
        let pos = m.cmp(CmpOp::Gt, x6, zero_x)?;
        let relu = m.mux(pos, x6, zero_x)?;
        let rw = p.r_bits.max(c_q.width()) + 1;
        let relu = m.sext(relu, rw)?;
        let relu = m.shl(relu, p.w - cfg.in_frac)?;
        let corr = m.sext(c_q, rw)?;
        let r = m.sub(relu, corr)?;
        let r_q = m.reg_next("r_q", r, RegOpts::new())?;
        // 8-9: round to out_frac.
        let (q, up) = round_shift_parts(&mut m, r_q, (p.w - cfg.out_frac) as i32, Rounding::NearestEven)?;
        let q_q = m.reg_next("q_q", q, RegOpts::new())?;
        let up_q = m.reg_next("up_q", up, RegOpts::new())?;
        let t = add_round_up(&mut m, q_q, up_q)?;
        let t_q = m.reg_next("t_q", t, RegOpts::new())?;
        // 10: clamp.
        let lo = -(1i128 << (cfg.out_bits - 1));
        let hi = (1i128 << (cfg.out_bits - 1)) - 1;
        let y = clamp_const(&mut m, t_q, lo, hi)?;
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
    let l = gelu_lane(lib, cfg)?;
    let doc = format!(
        "GELU: {} lanes, Q{}.{} -> Q{}.{}, lane latency {}.",
        cfg.lanes,
        cfg.in_bits - cfg.in_frac,
        cfg.in_frac,
        cfg.out_bits - cfg.out_frac,
        cfg.out_frac,
        gelu_latency(cfg)
    );
    let lanes = vec![l; cfg.lanes as usize];
    lane_stream_top(lib, &gelu_name(cfg), &doc, &lanes, gelu_latency(cfg))
}
