//! Drain controller of the systolic array: after a tile's last beat it walks the row
//! index 0..R-1, one row per cycle.
//!
//! Ports: `start` (1, pulse) in; `active` (1), `row` (UInt ceil(log2 R)), `last_row`
//! (1) out. A `start` seen at the end of cycle t makes `active` = 1 with `row` = 0 in
//! cycle t+1, then `row` counts up to R-1 and `active` falls. A new `start` restarts
//! the walk, so consecutive starts must be at least R cycles apart (the array's tile
//! interval rule). `active` has a synchronous reset; the counter does not need one.

use std::rc::Rc;

use crate::grid::row_bits;
use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlResult};

/// Build (or fetch) the drain controller for `rows` rows.
pub fn drain_ctl(lib: &mut Library, rows: u32) -> RtlResult<Rc<Module>> {
    let name = format!("accgen_drainctl_r{rows}");
    lib.get_or_build(&name.clone(), |_| {
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!("Walks rows 0..{} after each tile.", rows - 1));
        let start = m.input("start", 1, false)?;
        let w = row_bits(rows);
        let active = m.reg("active_q", 1, false, RegOpts::new().reset_zero(1))?;
        let row = m.reg("row_q", w, false, RegOpts::new())?;
        let last_idx = m.const_u(w, (rows - 1) as u128)?;
        let at_last = m.eq(row.q, last_idx)?;
        let one = m.const_u(w, 1)?;
        let inc = m.add(row.q, one)?;
        let zero = m.const_u(w, 0)?;
        let row_next = m.mux(start, zero, inc)?;
        m.connect(row, row_next)?;
        // active: set by start, cleared after the last row.
        let not_last = m.not(at_last)?;
        let keep = m.and(active.q, not_last)?;
        let act_next = m.or(start, keep)?;
        m.connect(active, act_next)?;
        let last_row = m.and(active.q, at_last)?;
        m.output("active", active.q)?;
        m.output("row", row.q)?;
        m.output("last_row", last_row)?;
        m.finish()
    })
}
