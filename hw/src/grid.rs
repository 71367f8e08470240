//! The PE grid: R x C PE instances wired as a mesh, plus the per-column result
//! read-out multiplexers.
//!
//! Ports:
//! - `a_<p>` (SInt act_bits), `valid_<p>`, `first_<p>`, `last_<p>` for each row p: the
//!   row's operand and beat flags, already skewed by p cycles; they flow right;
//! - `b_<j>` (SInt weight_bits) for each column j, already skewed by j; flows down;
//! - `sel_<j>` (UInt ceil(log2 R), at least 1 bit): which row's `res` column j reads;
//! - `col_<j>` (SInt acc_bits): `res` of PE(sel_j, j), combinational.
//!
//! A beat entering at row p / column j reaches PE(p, j) after p + j hops; the grid adds
//! no latency of its own beyond the PEs' (see `pe.rs`).
//!
//! ```text
//!   a_0 ─▶ PE00 ─▶ PE01 ─▶ ...      b_0   b_1
//!   a_1 ─▶ PE10 ─▶ PE11 ─▶ ...       ▼     ▼  (b flows down)
//!   res of each column ──▶ mux(sel_j) ──▶ col_j
//! ```

use std::rc::Rc;

use accgen_golden::gemm::ArrayConfig;

use crate::pe::pe;
use crate::rtl::{Library, Module, ModuleBuilder, RtlResult, Sig};

/// Width of a row-select signal for `rows` rows (at least 1).
pub fn row_bits(rows: u32) -> u32 {
    (32 - rows.saturating_sub(1).leading_zeros()).max(1)
}

/// Module name: every parameter is in it.
pub fn grid_name(cfg: &ArrayConfig) -> String {
    format!(
        "accgen_grid_r{}_c{}_a{}_w{}_acc{}",
        cfg.rows, cfg.cols, cfg.act_bits, cfg.weight_bits, cfg.acc_bits
    )
}

/// Build (or fetch) the grid for `cfg`.
pub fn grid(lib: &mut Library, cfg: &ArrayConfig) -> RtlResult<Rc<Module>> {
    let name = grid_name(cfg);
    lib.get_or_build(&name.clone(), |lib| {
        let pe = pe(lib, cfg)?;
        let (rows, cols) = (cfg.rows as usize, cfg.cols as usize);
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "{rows} x {cols} PE grid with per-column read-out muxes."
        ));
        let mut left: Vec<[Sig; 4]> = Vec::with_capacity(rows);
        for p in 0..rows {
            left.push([
                m.input(&format!("a_{p}"), cfg.act_bits, true)?,
                m.input(&format!("valid_{p}"), 1, false)?,
                m.input(&format!("first_{p}"), 1, false)?,
                m.input(&format!("last_{p}"), 1, false)?,
            ]);
        }
        let mut top: Vec<Sig> = (0..cols)
            .map(|j| m.input(&format!("b_{j}"), cfg.weight_bits, true))
            .collect::<RtlResult<_>>()?;
        let sel: Vec<Sig> = (0..cols)
            .map(|j| m.input(&format!("sel_{j}"), row_bits(cfg.rows), false))
            .collect::<RtlResult<_>>()?;
        let mut res: Vec<Vec<Sig>> = vec![Vec::with_capacity(rows); cols];
        for (p, row_in) in left.iter_mut().enumerate() {
            for j in 0..cols {
                let [a, v, f, l] = *row_in;
                let inst = m.instance(
                    &pe,
                    &format!("pe_{p}_{j}"),
                    &[
                        ("a_in", a),
                        ("b_in", top[j]),
                        ("valid_in", v),
                        ("first_in", f),
                        ("last_in", l),
                    ],
                )?;
                *row_in = [
                    inst.out("a_out")?,
                    inst.out("valid_out")?,
                    inst.out("first_out")?,
                    inst.out("last_out")?,
                ];
                top[j] = inst.out("b_out")?;
                res[j].push(inst.out("res")?);
            }
        }
        for (j, col) in res.iter().enumerate() {
            let y = m.select(sel[j], col)?;
            m.output(&format!("col_{j}"), y)?;
        }
        m.finish()
    })
}
