//! N:M structured-sparse processing element.
//!
//! Each beat carries one K-group: M activations (row lanes `a0..a{M-1}`, SInt act_bits)
//! and N (weight, index) pairs (column lanes `w0..w{N-1}`, SInt weight_bits, and
//! `i0..i{N-1}`, UInt log2 M). Slot t selects activation `a[i_t]` with an M:1 mux and
//! multiplies it by `w_t`; the N products are summed and accumulated.
//!
//! Ports: `<lane>_in`/`<lane>_out` for every lane, `valid`/`first`/`last` in/out, and
//! `res` (SInt acc_bits), with exactly the dense PE's timing (see `pe.rs`): the products
//! of a beat are accumulated at the end of the cycle the beat is at the inputs, and a
//! `last` beat's sum is in `res` one cycle later. Throughput: one group (M values of
//! K) per cycle with N multipliers, so a tile needs ceil(K/M) beats instead of K.
//!
//! Bus widths per PE hop: M * act_bits right, N * (weight_bits + log2 M) down.
//! Multipliers: N (one DSP48 each). The index muxes are the sparse overhead: N M:1
//! muxes of act_bits, about N * act_bits * (M-1)/4 LUT6 before optimisation.
//!
//! ```text
//!   a0..a{M-1} ─┬───────────────[hop regs]──▶ right
//!               ├─ mux(i_0) ─▶ (× w_0) ─┐
//!               └─ mux(i_t) ─▶ (× w_t) ─┴─▶ (Σ) ─▶ (+ first ? 0 : acc) ─▶ [acc], [res]
//! ```

use accgen_golden::gemm::ArrayConfig;
use accgen_golden::nm_sparse::SparsityConfig;

use crate::grid::{Lane, PeKind};
use crate::rtl::{Library, ModuleBuilder, RegOpts, RtlResult, Sig};

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
    col.extend((0..n_).map(|t| Lane::new(format!("i{t}"), idx_width(sp), false)));
    let (row2, col2) = (row.clone(), col.clone());
    let module = lib.get_or_build(&name.clone(), |_| {
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "{}:{} sparse PE: {} multipliers, a {}b x w {}b -> acc {}b.",
            sp.n, sp.m, sp.n, cfg.act_bits, cfg.weight_bits, cfg.acc_bits
        ));
        let mut ins = Vec::new();
        for l in row2.iter().chain(&col2) {
            ins.push(m.input(&format!("{}_in", l.name), l.width, l.signed)?);
        }
        let v = m.input("valid_in", 1, false)?;
        let f = m.input("first_in", 1, false)?;
        let l = m.input("last_in", 1, false)?;
        let (acts, rest) = ins.split_at(m_);
        let (ws, idxs) = rest.split_at(n_);
        let mut sum: Option<Sig> = None;
        for t in 0..n_ {
            let x = m.select(idxs[t], acts)?;
            let x = m.name_sig(x, &format!("act_sel{t}"))?;
            let p = m.mul(x, ws[t])?;
            let p = m.resize(p, cfg.acc_bits)?;
            let p = m.name_sig(p, &format!("prod{t}"))?;
            sum = Some(match sum {
                None => p,
                Some(s) => m.add(s, p)?,
            });
        }
        let group_sum = m.name_sig(sum.expect("n >= 1"), "group_sum")?;
        let acc = m.reg("acc", cfg.acc_bits, true, RegOpts::new().enable(v))?;
        let zero = m.const_s(cfg.acc_bits, 0)?;
        let base = m.mux(f, zero, acc.q)?;
        let next = m.add(base, group_sum)?;
        let next = m.name_sig(next, "sum")?;
        m.connect(acc, next)?;
        let done = m.and(v, l)?;
        let res = m.reg_next("res_q", next, RegOpts::new().enable(done))?;
        for (lane, s) in row2.iter().chain(&col2).zip(&ins) {
            let q = m.reg_next(&format!("{}_q", lane.name), *s, RegOpts::new())?;
            m.output(&format!("{}_out", lane.name), q)?;
        }
        for (name, s) in [("valid", v), ("first", f), ("last", l)] {
            let q = m.reg_next(&format!("{name}_q"), s, RegOpts::new())?;
            m.output(&format!("{name}_out"), q)?;
        }
        m.output("res", res)?;
        m.finish()
    })?;
    Ok(PeKind {
        module,
        row,
        col,
        acc_bits: cfg.acc_bits,
        tag,
    })
}
