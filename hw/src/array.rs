//! The AXI4-Stream top of a systolic array (dense or N:M sparse): an input register
//! slice, the tile rules enforced in hardware, the core ([`crate::systolic`]), and an
//! output row FIFO behind a register slice.
//!
//! Ports (besides `clk`, `rst`):
//! - `s_axis_tdata`, `s_axis_tvalid`, `s_axis_tready`, `s_axis_tlast`: one beat is
//!   {B row k, A column k}: A's R row fields (each PE row lane, padded to whole bytes)
//!   in the low bits, row 0 lowest, then B's C column fields, column 0 lowest (for the
//!   sparse PE: N weights and one packed index byte per column). `tlast` marks a
//!   tile's last k;
//! - `m_axis_tdata` (C lanes of acc_bits, sign-extended to whole bytes),
//!   `m_axis_tvalid`, `m_axis_tready`, `m_axis_tlast` (on row R-1), `m_axis_tuser`
//!   (the row index): rows 0..R-1 of each C tile, in order.
//!
//! Tile rules, enforced through `s_axis_tready` (a register) so no driver needs to
//! know them: a tile's last beat is taken only (1) at least R cycles after the
//! previous tile's last beat (the drain port carries R rows per tile), and (2) when
//! the output FIFO holds room for all R rows of the tile, counting the rows not yet
//! taken by the consumer. Other beats are always taken. The core never stalls, so
//! backpressure costs nothing inside the PE mesh.
//!
//! Latency, throughput: see [`tile_cycles`] and [`stream_cycles`] (smooth traffic).
//!
//! ```text
//!  s_axis ─▶[slice]─▶ tile rules ─▶ core (skew, PEs, drain) ─▶[row FIFO]─▶[slice]─▶ m_axis
//!                         ▲                                               │
//!                         └───────── rows taken by the consumer ──────────┘
//! ```

use std::rc::Rc;

use crate::grid::{row_bits, PeKind};
use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig, Value};
use crate::stream::{self, skid_early, Axis, FifoStorage};
use crate::systolic::{array_core, core_first_row};

/// Output FIFO depth in rows: room for every row that can be reserved while earlier
/// rows drain, so back-to-back tiles never wait for the consumer that keeps up.
pub fn out_depth(pe: &PeKind, rows: u32, cols: u32) -> usize {
    ((2 * rows + core_first_row(pe, rows, cols) + 8) as usize).next_power_of_two()
}

fn out_storage(pe: &PeKind, rows: u32, cols: u32) -> FifoStorage {
    let width = cols * pe.acc_bits.div_ceil(8) * 8;
    if out_depth(pe, rows, cols) as u64 * width as u64 > 8192 {
        FifoStorage::Bram
    } else {
        FifoStorage::Lutram
    }
}

/// Cycles from the handshake of a tile's last beat at `s_axis` to its row 0 at
/// `m_axis` (smooth traffic): input slice, core, FIFO, output slice.
pub fn top_first_row(pe: &PeKind, rows: u32, cols: u32) -> u32 {
    let fifo = match out_storage(pe, rows, cols) {
        FifoStorage::Lutram => 2,
        FifoStorage::Bram => 3,
    };
    1 + core_first_row(pe, rows, cols) + fifo + 1
}

/// Cycles a single tile of `k` beats takes, first input handshake to last output
/// handshake inclusive.
pub fn tile_cycles(pe: &PeKind, rows: u32, cols: u32, k: u32) -> u64 {
    (k + top_first_row(pe, rows, cols) + rows - 1) as u64
}

/// Cycles for `tiles` tiles of `k` beats issued back to back (tile interval
/// max(k, R)), first input handshake to last output handshake inclusive.
pub fn stream_cycles(pe: &PeKind, rows: u32, cols: u32, k: u32, tiles: u32) -> u64 {
    (tiles as u64 - 1) * k.max(rows) as u64 + tile_cycles(pe, rows, cols, k)
}

/// Width of `s_axis_tdata` for `pe` on a `rows` x `cols` array.
pub fn in_tdata_bits(pe: &PeKind, rows: u32, cols: u32) -> u32 {
    let field = |w: u32| w.div_ceil(8) * 8;
    rows * pe.row.iter().map(|l| field(l.width)).sum::<u32>()
        + cols * pe.col.iter().map(|l| field(l.width)).sum::<u32>()
}

/// Build (or fetch) the AXI4-Stream top of a `rows` x `cols` array of `pe`.
pub fn array_top(lib: &mut Library, rows: u32, cols: u32, pe: &PeKind) -> RtlResult<Rc<Module>> {
    let name = format!("accgen_array_r{rows}_c{cols}_{}", pe.tag);
    lib.get_or_build(&name.clone(), |lib| {
        let core = array_core(lib, rows, cols, pe)?;
        let depth = out_depth(pe, rows, cols);
        let storage = out_storage(pe, rows, cols);
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Output-stationary {rows} x {cols} systolic array of {}, AXI4-Stream in and out.",
            pe.module.name()
        ));
        m.doc(&format!(
            "Last beat taken at cycle t -> row r leaves at t + {} + r (smooth traffic).",
            top_first_row(pe, rows, cols)
        ));
        let (s, s_ready) = stream::slave_ports(
            &mut m,
            "s_axis",
            in_tdata_bits(pe, rows, cols),
            true,
            None,
            vec![(
                "beat".into(),
                format!(
                    "A column k: {rows} rows x ({}); then B row k: {cols} columns x ({}); fields padded to whole bytes, lowest first",
                    lanes_text(&pe.row),
                    lanes_text(&pe.col)
                ),
            )],
        )?;
        // The slice's consumer is the tile-rule gate `can`, known a cycle ahead: the
        // slice's wide load enable then comes straight from a register.
        let can_next = m.wire("can_next", 1, false)?;
        let can = m.reg_next("can", can_next, RegOpts::new().reset_to(Value::from_u128(1, 1).expect("1 fits")))?;
        let (sk, sk_ready, sk_next) = skid_early(&mut m, "in", &s, can, can_next)?;
        m.drive(s_ready, sk_ready)?;
        let last = sk.last.expect("slave has tlast");
        let last_next = sk_next.last.expect("slave has tlast");

        // Tile rule 1: last beats at least R cycles apart.
        let gw = 32 - rows.leading_zeros() + 1;
        let gap = m.reg(
            "gap",
            gw,
            false,
            RegOpts::new().reset_to(Value::from_u128(gw, rows as u128).expect("fits")),
        )?;
        let one = Value::from_u128(1, 1).expect("1 fits");
        let gap_ok = m.reg("gap_ok", 1, false, RegOpts::new().reset_to(one.clone()))?;
        // Tile rule 2: R free rows in the output FIFO.
        let fw = (usize::BITS - depth.leading_zeros()) + 1;
        let free = m.reg(
            "free_rows",
            fw,
            false,
            RegOpts::new().reset_to(Value::from_u128(fw, depth as u128).expect("fits")),
        )?;
        let room_ok = m.reg("room_ok", 1, false, RegOpts::new().reset_to(one))?;
        // can = !last | (gap_ok & room_ok), held in a register (see above).
        let take = m.and(sk.valid, can)?;
        let end = m.and(take, last)?;
        // gap' = end ? 1 : min(gap + 1, R); its flag from comparisons of the register.
        let rc = m.const_u(gw, rows as u128)?;
        let at_r = m.cmp(crate::rtl::CmpOp::Ge, gap.q, rc)?;
        let one_g = m.const_u(gw, 1)?;
        let inc = m.add(gap.q, one_g)?;
        let sat = m.mux(at_r, rc, inc)?;
        let gap_next = m.mux(end, one_g, sat)?;
        m.connect(gap, gap_next)?;
        let r_m1 = crate::arith::lt_const(&mut m, gap.q, rows.saturating_sub(1) as u128)?;
        let ge_rm1 = m.not(r_m1)?;
        let rows_le_1 = m.const_u(1, (rows <= 1) as u128)?;
        let ok_next = m.mux(end, rows_le_1, ge_rm1)?;
        m.connect(gap_ok, ok_next)?;

        // The core.
        let mut conns: Vec<(String, Sig)> = vec![("in_valid".into(), take), ("in_last".into(), last)];
        let mut at = 0;
        let field = |w: u32| w.div_ceil(8) * 8;
        for i in 0..rows {
            for l in &pe.row {
                let f = m.slice(sk.data, at + l.width - 1, at)?;
                let f = if l.signed { f.as_signed() } else { f };
                conns.push((format!("{}_{i}", l.name), f));
                at += field(l.width);
            }
        }
        for j in 0..cols {
            for l in &pe.col {
                let f = m.slice(sk.data, at + l.width - 1, at)?;
                let f = if l.signed { f.as_signed() } else { f };
                conns.push((format!("{}_{j}", l.name), f));
                at += field(l.width);
            }
        }
        let refs: Vec<(&str, Sig)> = conns.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        let c = m.instance(&core, "core", &refs)?;
        let outs: Vec<Sig> = (0..cols)
            .map(|j| c.out(&format!("out_{j}")))
            .collect::<RtlResult<_>>()?;
        let packed = stream::pack(&mut m, &outs)?;
        let row = c.out("out_row")?;
        let to_fifo = Axis {
            data: packed,
            valid: c.out("out_valid")?,
            last: Some(c.out("out_last")?),
            user: Some(m.zext(row, row_bits(rows))?),
        };
        let out_ready = m.wire("out_ready", 1, false)?;
        let out = stream::fifo_slice(&mut m, lib, "rows_q", &to_fifo, out_ready, depth, storage)?;
        let pop = m.and(out.valid, out_ready)?;

        // free' = free - R * end + pop, and its flag (free' >= R) from comparisons of
        // the register with constants.
        // Each candidate is one add of a constant to the register.
        let k = |m: &mut ModuleBuilder, v: i128| -> RtlResult<Sig> {
            Ok(m.constant(Value::from_i128_wrapping(fw, v), false))
        };
        let c_mr = k(&mut m, -(rows as i128))?;
        let c_p1 = k(&mut m, 1)?;
        let c_mr1 = k(&mut m, 1 - rows as i128)?;
        let minus_r = m.add(free.q, c_mr)?;
        let plus_1 = m.add(free.q, c_p1)?;
        let minus_r_plus = m.add(free.q, c_mr1)?;
        let if_end = m.mux(pop, minus_r_plus, minus_r)?;
        let if_not = m.mux(pop, plus_1, free.q)?;
        let free_next = m.mux(end, if_end, if_not)?;
        m.connect(free, free_next)?;
        let ge = |m: &mut ModuleBuilder, k: u32| -> RtlResult<Sig> {
            let lt = crate::arith::lt_const(m, free.q, k as u128)?;
            m.not(lt)
        };
        let e_p = ge(&mut m, (2 * rows).saturating_sub(1))?;
        let e_n = ge(&mut m, 2 * rows)?;
        let n_p = ge(&mut m, rows.saturating_sub(1))?;
        let n_n = ge(&mut m, rows)?;
        let if_end = m.mux(pop, e_p, e_n)?;
        let if_not = m.mux(pop, n_p, n_n)?;
        let room_next = m.mux(end, if_end, if_not)?;
        m.connect(room_ok, room_next)?;
        let end_ok_next = m.and(ok_next, room_next)?;
        let not_last_next = m.not(last_next)?;
        let can_n = m.or(not_last_next, end_ok_next)?;
        m.drive(can_next, can_n)?;

        let out_lanes = stream::Lanes::new(cols, pe.acc_bits, true);
        let r = stream::master_ports(
            &mut m,
            "m_axis",
            &out,
            vec![
                ("lanes".into(), out_lanes.describe()),
                ("tuser".into(), "row index within the tile".into()),
                ("tlast".into(), "on the tile's last row".into()),
            ],
        )?;
        m.drive(out_ready, r)?;
        stream::clock_and_reset(&mut m, &["s_axis", "m_axis"])?;
        m.finish()
    })
}

fn lanes_text(lanes: &[crate::grid::Lane]) -> String {
    lanes
        .iter()
        .map(|l| {
            format!(
                "{} {}{}",
                l.name,
                if l.signed { "int" } else { "uint" },
                l.width
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
