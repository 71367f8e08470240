//! The PE grid: R x C PE instances wired as a mesh, plus the per-column result
//! read-out multiplexers. The grid is generic over the PE ([`PeKind`]): the dense PE
//! and the N:M sparse PE differ only in which operand lanes flow right and down.
//!
//! Ports:
//! - `<lane>_<p>` for each row lane and row p, and `valid_<p>`, `first_<p>`,
//!   `last_<p>`: the row's operands and beat flags, already skewed by p cycles; they
//!   flow right;
//! - `<lane>_<j>` for each column lane and column j, already skewed by j; flows down;
//! - `sel_<j>` (UInt ceil(log2 R), at least 1 bit): which row's `res` column j reads;
//! - `col_<j>` (SInt acc_bits): `res` of PE(sel_j, j), [`mux_stages`] cycles after
//!   `sel_j` (a 4:1 mux level pair per register stage, and a register at the end).
//!
//! A beat entering at row p / column j reaches PE(p, j) after p + j hops; the grid adds
//! no latency of its own beyond the PEs'.
//!
//! ```text
//!   row lanes ─▶ PE00 ─▶ PE01 ─▶ ...     column lanes
//!   row lanes ─▶ PE10 ─▶ PE11 ─▶ ...      ▼   ▼   (flow down)
//!   res of each column ──▶ mux(sel_j), registered every two levels ──▶ col_j
//! ```

use std::rc::Rc;

use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig};

/// Width of a row-select signal for `rows` rows (at least 1).
pub fn row_bits(rows: u32) -> u32 {
    (32 - rows.saturating_sub(1).leading_zeros()).max(1)
}

/// One operand lane of a PE: the PE has ports `<name>_in` and `<name>_out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// Lane name.
    pub name: String,
    /// Width in bits.
    pub width: u32,
    /// Signedness.
    pub signed: bool,
}

impl Lane {
    /// A lane.
    pub fn new(name: impl Into<String>, width: u32, signed: bool) -> Lane {
        Lane {
            name: name.into(),
            width,
            signed,
        }
    }
}

/// A PE module and its interface contract: row lanes flow right with the flags
/// `valid`/`first`/`last`, column lanes flow down, and `res` (SInt `acc_bits`) holds
/// the finished sum of the last tile, visible 1 cycle after its `last` beat.
#[derive(Debug, Clone)]
pub struct PeKind {
    /// The PE module (variant 0).
    pub module: Rc<Module>,
    /// The PE variants; row `i` uses `variants[i % len]` (see
    /// [`crate::pe::clear_flag`]).
    pub variants: Vec<Rc<Module>>,
    /// Lanes flowing right.
    pub row: Vec<Lane>,
    /// Lanes flowing down.
    pub col: Vec<Lane>,
    /// Accumulator width.
    pub acc_bits: u32,
    /// Name fragment with every PE parameter, used in grid and array module names.
    pub tag: String,
    /// Cycles from a `last` beat at the PE's inputs to the finished sum in `res`.
    pub res_latency: u32,
}

/// Mux levels between registers in the read-out multiplexers (4:1 per stage).
pub const MUX_LEVELS_PER_STAGE: u32 = 2;

/// Register stages of a column's read-out multiplexer over `rows` rows (at least one:
/// the column output is always a register).
pub fn mux_stages(rows: u32) -> u32 {
    row_bits(rows).div_ceil(MUX_LEVELS_PER_STAGE).max(1)
}

/// `values[idx]` as a mux tree with a register after every [`MUX_LEVELS_PER_STAGE`]
/// levels and after the last; the remaining select bits travel with the data.
/// Returns the output, [`mux_stages`] cycles after `idx`.
fn select_pipelined(m: &mut ModuleBuilder, name: &str, idx: Sig, values: &[Sig]) -> RtlResult<Sig> {
    let mut level: Vec<Sig> = values.to_vec();
    let mut sel = idx;
    let mut bit = 0;
    let mut stage = 0;
    let levels = row_bits(values.len() as u32);
    while bit < levels {
        let b = m.bit(sel, bit)?;
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            next.push(match pair {
                [lo, hi] => m.mux(b, *hi, *lo)?,
                [only] => *only,
                _ => unreachable!(),
            });
        }
        level = next;
        bit += 1;
        if bit % MUX_LEVELS_PER_STAGE == 0 || bit == levels {
            stage += 1;
            level = level
                .iter()
                .enumerate()
                .map(|(k, v)| m.reg_next(&format!("{name}_s{stage}_{k}"), *v, RegOpts::new()))
                .collect::<RtlResult<_>>()?;
            if bit < levels {
                sel = m.reg_next(&format!("{name}_sel{stage}"), sel, RegOpts::new())?;
            }
        }
    }
    if stage == 0 {
        level[0] = m.reg_next(&format!("{name}_s1_0"), level[0], RegOpts::new())?;
    }
    Ok(level[0])
}

/// Declare input ports `<lane>_<index>` for every lane.
pub(crate) fn lane_inputs(
    m: &mut ModuleBuilder,
    lanes: &[Lane],
    index: usize,
) -> RtlResult<Vec<Sig>> {
    lanes
        .iter()
        .map(|l| m.input(&format!("{}_{index}", l.name), l.width, l.signed))
        .collect()
}

/// Build (or fetch) the `rows` x `cols` grid of `pe`.
pub fn grid(lib: &mut Library, rows: u32, cols: u32, pe: &PeKind) -> RtlResult<Rc<Module>> {
    let name = format!("accgen_grid_r{rows}_c{cols}_{}", pe.tag);
    lib.get_or_build(&name.clone(), |_| {
        let (rows, cols) = (rows as usize, cols as usize);
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "{rows} x {cols} PE grid with per-column read-out muxes."
        ));
        // Per row: the lanes, then valid/first/last.
        let mut left: Vec<Vec<Sig>> = Vec::with_capacity(rows);
        for p in 0..rows {
            let mut v = lane_inputs(&mut m, &pe.row, p)?;
            for f in ["valid", "first", "last"] {
                v.push(m.input(&format!("{f}_{p}"), 1, false)?);
            }
            left.push(v);
        }
        let mut top: Vec<Vec<Sig>> = Vec::with_capacity(cols);
        for j in 0..cols {
            top.push(lane_inputs(&mut m, &pe.col, j)?);
        }
        let sel: Vec<Sig> = (0..cols)
            .map(|j| m.input(&format!("sel_{j}"), row_bits(rows as u32), false))
            .collect::<RtlResult<_>>()?;
        let row_names: Vec<String> = pe
            .row
            .iter()
            .map(|l| l.name.clone())
            .chain(["valid", "first", "last"].map(String::from))
            .collect();
        let col_names: Vec<String> = pe.col.iter().map(|l| l.name.clone()).collect();
        let mut res: Vec<Vec<Sig>> = vec![Vec::with_capacity(rows); cols];
        for (p, row_in) in left.iter_mut().enumerate() {
            for j in 0..cols {
                let ins: Vec<(String, Sig)> = row_names
                    .iter()
                    .zip(row_in.iter())
                    .chain(col_names.iter().zip(top[j].iter()))
                    .map(|(n, s)| (format!("{n}_in"), *s))
                    .collect();
                let refs: Vec<(&str, Sig)> = ins.iter().map(|(n, s)| (n.as_str(), *s)).collect();
                let module = &pe.variants[p % pe.variants.len()];
                let inst = m.instance(module, &format!("pe_{p}_{j}"), &refs)?;
                for (k, n) in row_names.iter().enumerate() {
                    row_in[k] = inst.out(&format!("{n}_out"))?;
                }
                for (k, n) in col_names.iter().enumerate() {
                    top[j][k] = inst.out(&format!("{n}_out"))?;
                }
                res[j].push(inst.out("res")?);
            }
        }
        for (j, col) in res.iter().enumerate() {
            let y = select_pipelined(&mut m, &format!("rd{j}"), sel[j], col)?;
            m.output(&format!("col_{j}"), y)?;
        }
        m.finish()
    })
}
