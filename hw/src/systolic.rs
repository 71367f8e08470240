//! Output-stationary systolic core (`[array]`): input skew, PE grid, drain. The same
//! core serves the dense PE and the N:M sparse PE (`nm_pe.rs`); only the operand lanes
//! differ. The AXI4-Stream top around it is [`crate::array`].
//!
//! Core ports (besides `clk`, `rst`):
//! - `in_valid`, `in_last` (1): one beat per cycle; `in_last` marks the last k of a
//!   tile. The first valid beat after reset or after a `last` beat starts a tile;
//! - `a_<i>` (SInt act_bits), i < R: column k of the A tile, `A[i][k]`, unskewed;
//! - `b_<j>` (SInt weight_bits), j < C: row k of the B tile, `B[k][j]`, unskewed;
//!   (in general `<lane>_<i>` for every row lane and `<lane>_<j>` for every column lane
//!   of the PE, see [`PeKind`]);
//! - `out_valid`, `out_last` (1), `out_row` (UInt ceil(log2 R)), `out_<j>` (SInt
//!   acc_bits): the drain port, one row of the C tile per cycle, rows 0..R-1 in order.
//!   Every output is a register.
//!
//! Timing: if a tile's last beat is at the inputs in cycle t, its row r leaves in
//! cycle t + [`core_first_row`] + r: the PE's result latency (A/B, M, accumulator,
//! result register), the hops to the last column, and the pipelined read-out mux.
//! Throughput: tiles stream back to back with no bubbles: the PEs compute tile t+1
//! while tile t drains from their result buffers. Rule: consecutive tiles' last beats
//! must be at least R cycles apart (the drain port carries R rows per tile); the top
//! enforces it.
//!
//! ```text
//!   a_i ─▶[skew i]─▶┐         ┌──────────────┐
//!   flags ▶[skew i]─▶├────────▶│  R x C grid  │──col_j──▶[deskew C-1-j]─▶ out_j
//!   b_j ─▶[skew j]─────────────▶│              │◀─sel_j──[ctl delay j]◀─ drain ctl
//!                               └──────────────┘
//! ```

use std::rc::Rc;

use accgen_golden::gemm::ArrayConfig;

use crate::drain::drain_ctl;
use crate::grid::{grid, lane_inputs, mux_stages, Lane, PeKind};
use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig, Value};

/// The dense PE of `cfg` as a [`PeKind`]: row lane `a`, column lane `b`.
pub fn dense_pe(lib: &mut Library, cfg: &ArrayConfig) -> RtlResult<PeKind> {
    let variants = (0..crate::pe::variant_count(cfg))
        .map(|k| crate::pe::pe_variant(lib, cfg, k))
        .collect::<RtlResult<Vec<_>>>()?;
    Ok(PeKind {
        module: variants[0].clone(),
        variants,
        row: vec![Lane::new("a", cfg.act_bits, true)],
        col: vec![Lane::new("b", cfg.weight_bits, true)],
        acc_bits: cfg.acc_bits,
        tag: format!("a{}_w{}_acc{}", cfg.act_bits, cfg.weight_bits, cfg.acc_bits),
        res_latency: crate::pe::PE_RES_LATENCY,
    })
}

/// Module name of the dense array: every parameter is in it.
pub fn array_name(cfg: &ArrayConfig) -> String {
    format!(
        "accgen_array_r{}_c{}_a{}_w{}_acc{}",
        cfg.rows, cfg.cols, cfg.act_bits, cfg.weight_bits, cfg.acc_bits
    )
}

/// Build (or fetch) the dense array top (AXI4-Stream, see [`crate::array`]) for `cfg`.
pub fn systolic_array(lib: &mut Library, cfg: &ArrayConfig) -> RtlResult<Rc<Module>> {
    let kind = dense_pe(lib, cfg)?;
    crate::array::array_top(lib, cfg.rows, cfg.cols, &kind)
}

/// Cycles from a tile's last beat at the core's inputs to its row 0 at the core's
/// outputs: the PE's result latency, the hops to the last column, the read-out mux.
pub fn core_first_row(pe: &PeKind, rows: u32, cols: u32) -> u32 {
    pe.res_latency + cols - 1 + mux_stages(rows)
}

/// Build (or fetch) the `rows` x `cols` core of `pe` (see module docs).
pub fn array_core(lib: &mut Library, rows: u32, cols: u32, pe: &PeKind) -> RtlResult<Rc<Module>> {
    let name = format!("accgen_core_r{rows}_c{cols}_{}", pe.tag);
    lib.get_or_build(&name.clone(), |lib| {
        let grid = grid(lib, rows, cols, pe)?;
        let ctl = drain_ctl(lib, rows)?;
        let first_row = core_first_row(pe, rows, cols);
        let stages = mux_stages(rows);
        let (rows, cols) = (rows as usize, cols as usize);
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Output-stationary {rows} x {cols} systolic core of {}.",
            pe.module.name()
        ));
        m.doc(&format!(
            "Last beat at cycle t -> row r on the drain port at t + {first_row} + r."
        ));
        let in_valid = m.input("in_valid", 1, false)?;
        let in_last = m.input("in_last", 1, false)?;
        let row_in: Vec<Vec<Sig>> = (0..rows)
            .map(|i| lane_inputs(&mut m, &pe.row, i))
            .collect::<RtlResult<_>>()?;
        let col_in: Vec<Vec<Sig>> = (0..cols)
            .map(|j| lane_inputs(&mut m, &pe.col, j))
            .collect::<RtlResult<_>>()?;

        // Tile framing: the beat after a `last` (or after reset) is a `first`.
        let one = Value::from_u128(1, 1).expect("1 fits in one bit");
        let expect_first = m.reg(
            "expect_first_q",
            1,
            false,
            RegOpts::new().reset_to(one).enable(in_valid),
        )?;
        m.connect(expect_first, in_last)?;
        let first = m.and(in_valid, expect_first.q)?;
        let last = m.and(in_valid, in_last)?;

        // Input skew: row i and its flags by i cycles, column j by j cycles.
        let mut conns: Vec<(String, Sig)> = Vec::new();
        for (i, lanes) in row_in.iter().enumerate() {
            let d = i as u32;
            for (l, &s) in pe.row.iter().zip(lanes) {
                let n = format!("{}_{i}", l.name);
                conns.push((n.clone(), m.delay(s, d, &format!("{n}_skew"))?));
            }
            for (f, s) in [("valid", in_valid), ("first", first), ("last", last)] {
                conns.push((format!("{f}_{i}"), m.delay(s, d, &format!("{f}{i}_skew"))?));
            }
        }
        for (j, lanes) in col_in.iter().enumerate() {
            for (l, &s) in pe.col.iter().zip(lanes) {
                let n = format!("{}_{j}", l.name);
                conns.push((n.clone(), m.delay(s, j as u32, &format!("{n}_skew"))?));
            }
        }

        // Drain control: row 0 of column 0 is readable res_latency cycles after the
        // last beat (the controller adds one); column j reads the same row j cycles
        // later.
        let start = m.delay_reset(last, pe.res_latency - 1, "drain_start")?;
        let c = m.instance(&ctl, "drain_ctl", &[("start", start)])?;
        let (mut act, mut row, mut lastrow) = (c.out("active")?, c.out("row")?, c.out("last_row")?);
        for j in 0..cols {
            if j > 0 {
                act = m.reg_next(&format!("act_c{j}"), act, RegOpts::new().reset_zero(1))?;
                row = m.reg_next(&format!("row_c{j}"), row, RegOpts::new())?;
                lastrow = m.reg_next(&format!("lastrow_c{j}"), lastrow, RegOpts::new())?;
            }
            conns.push((format!("sel_{j}"), row));
        }
        let conn_refs: Vec<(&str, Sig)> = conns.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        let g = m.instance(&grid, "grid", &conn_refs)?;

        // Deskew: column j waits C-1-j cycles for the last column. Every column output
        // is a register (the read-out mux ends in one).
        for j in 0..cols {
            let col = g.out(&format!("col_{j}"))?;
            let d = m.delay(col, (cols - 1 - j) as u32, &format!("out{j}_deskew"))?;
            m.output(&format!("out_{j}"), d)?;
        }
        let out_last = m.and(lastrow, act)?;
        let act = m.delay_reset(act, stages, "out_valid")?;
        let out_last = m.delay_reset(out_last, stages, "out_last")?;
        let row = m.delay(row, stages, "out_row")?;
        m.output("out_valid", act)?;
        m.output("out_last", out_last)?;
        m.output("out_row", row)?;
        m.finish()
    })
}
