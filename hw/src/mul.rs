//! Pipelined multipliers, per vendor, with one latency for every vendor.
//!
//! [`pmul`] returns the exact product of `a` and `b` ([`mul_latency`] cycles later,
//! free-running: no enable). Structure:
//! - `generic` / `xilinx`: registered operands (a DSP48's A/B registers), the product
//!   registered (its M register), then the delay registers that match the `ecp5`
//!   adder tree for wide operands. Vivado and Yosys (`-family xc7`) absorb the first
//!   two stages into the DSP;
//! - `ecp5`: the operands are cut into 18-bit chunks (low chunks unsigned, the top
//!   chunk carries the sign); every chunk pair is one MULT18X18D with its input and
//!   output registers enabled; the shifted partial products meet in a registered adder
//!   tree.
//!
//! ```text
//!  a,b ─▶[A/B]─▶ (×) ─▶[M]─▶ (Σ partial products, registered per level) ─▶ product
//! ```

use crate::rtl::{ModuleBuilder, ParamValue, RegOpts, RtlResult, Sig};
use crate::vendor::Vendor;

/// Bits per MULT18X18D operand.
const CHUNK: u32 = 18;

fn chunks(width: u32) -> u32 {
    width.div_ceil(CHUNK).max(1)
}

fn tree_levels(n: u32) -> u32 {
    32 - (n.max(1) - 1).leading_zeros()
}

/// Cycles from operands to product for `wa` x `wb` bits: 2, plus one per adder level
/// when an operand is wider than 18 bits.
pub fn mul_latency(wa: u32, wb: u32) -> u32 {
    2 + tree_levels(chunks(wa) * chunks(wb))
}

/// The product of `a` and `b` (`a.width + b.width` bits, signed when either is),
/// [`mul_latency`] cycles later. `name` prefixes the registers and cells.
pub fn pmul(m: &mut ModuleBuilder, vendor: Vendor, a: Sig, b: Sig, name: &str) -> RtlResult<Sig> {
    let w = a.width() + b.width();
    let signed = a.signed() || b.signed();
    let levels = tree_levels(chunks(a.width()) * chunks(b.width()));
    match vendor {
        Vendor::Generic | Vendor::Xilinx => {
            let ar = m.reg_next(&format!("{name}_a"), a, RegOpts::new())?;
            let br = m.reg_next(&format!("{name}_b"), b, RegOpts::new())?;
            let p = m.mul(ar, br)?;
            let p = m.reg_next(&format!("{name}_m"), p, RegOpts::new())?;
            m.delay(p, levels, &format!("{name}_p"))
        }
        Vendor::Ecp5 => {
            let pa = split(m, a)?;
            let pb = split(m, b)?;
            let mut terms: Vec<Sig> = Vec::new();
            for (i, &(ca, sa, oa)) in pa.iter().enumerate() {
                for (j, &(cb, sb, ob)) in pb.iter().enumerate() {
                    let p = mult18(m, ca, sa, cb, sb, &format!("{name}_dsp{i}{j}"))?;
                    // A 36-bit product of an s/u chunk pair; extend by its sign.
                    let p = if sa || sb { p.as_signed() } else { p };
                    let p = if signed {
                        let p = if p.signed() {
                            p
                        } else {
                            m.zext(p, 37)?.as_signed()
                        };
                        m.sext(p, w)?
                    } else {
                        m.zext(p, w)?
                    };
                    terms.push(m.shl(p, oa + ob)?);
                }
            }
            // Registered adder tree; wrapping adds at the product width are exact.
            let mut level = 0;
            while terms.len() > 1 {
                level += 1;
                let mut next = Vec::with_capacity(terms.len().div_ceil(2));
                for (k, pair) in terms.chunks(2).enumerate() {
                    let s = match pair {
                        [x, y] => m.add(*x, *y)?,
                        [x] => *x,
                        _ => unreachable!(),
                    };
                    next.push(m.reg_next(&format!("{name}_t{level}_{k}"), s, RegOpts::new())?);
                }
                terms = next;
            }
            let p = terms[0];
            let p = m.delay(p, levels - level, &format!("{name}_p"))?;
            Ok(if signed {
                p.as_signed()
            } else {
                p.as_unsigned()
            })
        }
    }
}

/// Cut `x` into MULT18X18D operands: (18-bit chunk, signed?, bit offset).
fn split(m: &mut ModuleBuilder, x: Sig) -> RtlResult<Vec<(Sig, bool, u32)>> {
    let n = chunks(x.width());
    let mut out = Vec::with_capacity(n as usize);
    for k in 0..n {
        let lo = k * CHUNK;
        let hi = (lo + CHUNK).min(x.width()) - 1;
        let top = k + 1 == n;
        let part = m.slice(x, hi, lo)?;
        let signed = top && x.signed();
        let part = if signed {
            m.sext(part.as_signed(), CHUNK)?
        } else {
            m.zext(part, CHUNK)?
        };
        out.push((part, signed, lo));
    }
    Ok(out)
}

/// One MULT18X18D with input and output registers: 36-bit product, 2 cycles.
fn mult18(m: &mut ModuleBuilder, a: Sig, sa: bool, b: Sig, sb: bool, inst: &str) -> RtlResult<Sig> {
    let clk = m.clock();
    let zero = m.const_u(1, 0)?;
    let one = m.const_u(1, 1)?;
    let mut ins: Vec<(String, Sig)> = Vec::new();
    for i in 0..CHUNK {
        ins.push((format!("A{i}"), m.bit(a, i)?));
        ins.push((format!("B{i}"), m.bit(b, i)?));
        ins.push((format!("C{i}"), zero));
    }
    ins.push(("SIGNEDA".into(), if sa { one } else { zero }));
    ins.push(("SIGNEDB".into(), if sb { one } else { zero }));
    ins.push(("SOURCEA".into(), zero));
    ins.push(("SOURCEB".into(), zero));
    ins.push(("CLK0".into(), clk));
    ins.push(("CE0".into(), one));
    ins.push(("RST0".into(), zero));
    let params = vec![
        ("REG_INPUTA_CLK", ParamValue::Str("CLK0".into())),
        ("REG_INPUTB_CLK", ParamValue::Str("CLK0".into())),
        ("REG_OUTPUT_CLK", ParamValue::Str("CLK0".into())),
        ("GSR", ParamValue::Str("DISABLED".into())),
    ];
    let refs: Vec<(&str, Sig)> = ins.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let outs: Vec<(String, u32)> = (0..36).map(|i| (format!("P{i}"), 1)).collect();
    let orefs: Vec<(&str, u32)> = outs.iter().map(|(p, w)| (p.as_str(), *w)).collect();
    let mut bits = m.primitive("MULT18X18D", inst, params, &refs, &orefs)?;
    bits.reverse();
    m.concat(&bits)
}
