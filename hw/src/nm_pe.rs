//! N:M structured-sparse processing element.
//!
//! Each beat carries one K-group: M activations (row lanes `a0..a{M-1}`, SInt act_bits)
//! and N (weight, index) pairs (column lanes `w0..w{N-1}`, SInt weight_bits, and one
//! `meta` lane holding the N indices of log2 M bits, slot t at bit t * log2 M). Slot t selects activation `a[i_t]` with an M:1 mux and
//! multiplies it by `w_t`; the N products are summed and accumulated.
//!
//! Ports: `<lane>_in`/`<lane>_out` for every lane, `valid`/`first`/`last` in/out, and
//! `res` (SInt acc_bits). Pipeline: the index multiplexers (registered), the N
//! multipliers (A/B and M registers each, see [`crate::mul`]), a registered adder tree
//! over the N products, the accumulator, and `res`: a `last` beat's sum is in `res`
//! [`nm_res_latency`] cycles later. Throughput: one group (M values of K) per cycle
//! with N multipliers, so a tile needs ceil(K/M) beats instead of K.
//!
//! Bus widths per PE hop: M * act_bits right, N * (weight_bits + log2 M) down.
//! Multipliers: N (one DSP each). The index muxes are the sparse overhead: N M:1
//! muxes of act_bits, about N * act_bits * (M-1)/4 LUT6 before optimisation.
//!
//! ```text
//!   a0..a{M-1} ─┬───────────────[hop regs]──▶ right
//!               ├─ mux(i_0) ─▶[sel]─▶ (× w_0) ─┐
//!               └─ mux(i_t) ─▶[sel]─▶ (× w_t) ─┴─▶ (Σ, registered) ─▶ (+ first ? 0 : acc) ─▶ [acc] ─▶ [res]
//! ```

use std::rc::Rc;

use accgen_golden::gemm::ArrayConfig;
use accgen_golden::nm_sparse::SparsityConfig;

use crate::arith::{accumulate, ACC_RES_LATENCY};
use crate::grid::{Lane, PeKind};
use crate::mul::{mul_latency, pmul};
use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult};

fn tree_levels(n: u32) -> u32 {
    32 - (n.max(1) - 1).leading_zeros()
}

/// Cycles from a `last` beat at the PE's inputs to its sum in `res`: the index mux
/// register, the multiplier, the adder tree, the accumulator and `res`.
pub fn nm_res_latency(cfg: &ArrayConfig, sp: &SparsityConfig) -> u32 {
    1 + mul_latency(cfg.act_bits, cfg.weight_bits) + tree_levels(sp.n) + ACC_RES_LATENCY
}

/// Name fragment with every parameter of the sparse PE.
pub fn nm_tag(cfg: &ArrayConfig, sp: &SparsityConfig) -> String {
    format!(
        "nm{}of{}_a{}_w{}_acc{}",
        sp.n, sp.m, cfg.act_bits, cfg.weight_bits, cfg.acc_bits
    )
}

/// Width of an index lane: log2 M, at least 1.
pub fn idx_width(sp: &SparsityConfig) -> u32 {
    sp.idx_bits().max(1)
}

/// Build (or fetch) the sparse PE and describe its lanes.
pub fn nm_pe(lib: &mut Library, cfg: &ArrayConfig, sp: &SparsityConfig) -> RtlResult<PeKind> {
    let tag = nm_tag(cfg, sp);
    let name = format!("accgen_pe_{tag}");
    let (m_, n_) = (sp.m as usize, sp.n as usize);
    let row: Vec<Lane> = (0..m_)
        .map(|s| Lane::new(format!("a{s}"), cfg.act_bits, true))
        .collect();
    let mut col: Vec<Lane> = (0..n_)
        .map(|t| Lane::new(format!("w{t}"), cfg.weight_bits, true))
        .collect();
    // The N indices travel packed in one lane, slot t in bits [t*ib +: ib] (for 2:4,
    // NVIDIA's metadata nibble idx0 | idx1 << 2).
    col.push(Lane::new("meta", n_ as u32 * idx_width(sp), false));
    let mut variants = Vec::new();
    for k in 0..crate::pe::variant_count(cfg) {
        variants.push(nm_pe_variant(lib, cfg, sp, &name, &row, &col, k)?);
    }
    Ok(PeKind {
        module: variants[0].clone(),
        variants,
        row,
        col,
        acc_bits: cfg.acc_bits,
        tag,
        res_latency: nm_res_latency(cfg, sp),
    })
}

fn nm_pe_variant(
    lib: &mut Library,
    cfg: &ArrayConfig,
    sp: &SparsityConfig,
    base: &str,
    row2: &[Lane],
    col2: &[Lane],
    k: u32,
) -> RtlResult<Rc<Module>> {
    let (m_, n_) = (sp.m as usize, sp.n as usize);
    let name = format!("{base}{}", crate::pe::variant_suffix(k));
    lib.get_or_build(&name.clone(), |lib| {
        let vendor = lib.vendor();
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "{}:{} sparse PE: {} multipliers, a {}b x w {}b -> acc {}b.",
            sp.n, sp.m, sp.n, cfg.act_bits, cfg.weight_bits, cfg.acc_bits
        ));
        let mut ins = Vec::new();
        for l in row2.iter().chain(col2) {
            ins.push(m.input(&format!("{}_in", l.name), l.width, l.signed)?);
        }
        let v = m.input("valid_in", 1, false)?;
        let f = m.input("first_in", 1, false)?;
        let l = m.input("last_in", 1, false)?;
        let (acts, rest) = ins.split_at(m_);
        let (ws, meta) = rest.split_at(n_);
        let ib = idx_width(sp);
        let idxs: Vec<crate::rtl::Sig> = (0..n_ as u32)
            .map(|t| m.slice(meta[0], t * ib + ib - 1, t * ib))
            .collect::<RtlResult<_>>()?;
        let ml = mul_latency(cfg.act_bits, cfg.weight_bits);
        let tree = tree_levels(sp.n);
        let mut prods = Vec::with_capacity(n_);
        for t in 0..n_ {
            let x = m.select(idxs[t], acts)?;
            let x = m.reg_next(&format!("act_sel{t}"), x, RegOpts::new())?;
            let w = m.reg_next(&format!("w_sel{t}"), ws[t], RegOpts::new())?;
            let p = pmul(&mut m, vendor, x, w, &format!("mul{t}"))?;
            prods.push(m.resize(p, cfg.acc_bits)?);
        }
        // Registered adder tree over the N products.
        let mut level = 0;
        while prods.len() > 1 {
            level += 1;
            let mut next = Vec::with_capacity(prods.len().div_ceil(2));
            for (k, pair) in prods.chunks(2).enumerate() {
                let s2 = match pair {
                    [a, b] => m.add(*a, *b)?,
                    [a] => *a,
                    _ => unreachable!(),
                };
                next.push(m.reg_next(&format!("sum{level}_{k}"), s2, RegOpts::new())?);
            }
            prods = next;
        }
        debug_assert_eq!(level, tree);
        let group_sum = prods[0];
        let lat = 1 + ml + tree;
        let v2 = m.delay(v, lat, "valid_m")?;
        let clr = crate::pe::clear_flag(&mut m, f, v, l, k)?;
        let f2 = m.delay(clr, lat, "first_m")?;
        let l2 = m.delay(l, lat, "last_m")?;
        let res = accumulate(&mut m, vendor, group_sum, v2, f2, l2)?;
        for (lane, s) in row2.iter().chain(col2).zip(&ins) {
            let q = m.reg_next(&format!("{}_q", lane.name), *s, RegOpts::new())?;
            m.output(&format!("{}_out", lane.name), q)?;
        }
        for (name, s) in [("valid", v), ("first", f), ("last", l)] {
            let q = m.reg_next(&format!("{name}_q"), s, RegOpts::new())?;
            m.output(&format!("{name}_out"), q)?;
        }
        m.output("res", res)?;
        m.finish()
    })
}
