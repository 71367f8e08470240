//! The banked scratchpad: `spad_banks` memories of `bank_rows` consecutive rows each
//! (the last one also takes the rows that do not divide evenly), each with one read
//! and one write port, so accesses to different banks proceed in the same cycle.
//!
//! - **Read ports** `r0`, `r1`, ... in priority order: a port's read is taken when no
//!   higher-priority port reads the same bank this cycle (`rgrant_i`, combinational);
//!   its data is at `rdata_i` the memory's read latency later, from the bank it read.
//! - **Write ports** `w0`, `w1`, ... likewise (`wgrant_i`).
//!
//! The accelerator top connects, in priority order, reads: the compute engine's port A
//! (always granted: it has the first priority everywhere), its port B (the GEMM
//! engine's B rows), the store engine; writes: the compute engine, the load engine.
//! A program that keeps a GEMM's A and B blocks in different banks (as
//! `golden::gemm_program` does) streams one beat per cycle.
//!
//! Memories follow the library's vendor (`--vendor`), output register included.

use std::rc::Rc;

use accgen_golden::accel::Geometry;

use crate::accel::div_const;
use crate::accel::gemm::bits_for;
use crate::mem::{self, MemoryConfig};
use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig};

/// Build (or fetch) the banked scratchpad of `geo` with `reads` read ports and
/// `writes` write ports.
pub fn spad(
    lib: &mut Library,
    geo: &Geometry,
    banks: u32,
    reads: u32,
    writes: u32,
    read_latency: u32,
) -> RtlResult<Rc<Module>> {
    let name = format!(
        "accgen_accel_spad_w{}_r{}_b{}_p{}x{}",
        geo.spad_row_bytes, geo.spad_rows, banks, reads, writes
    );
    let geo = *geo;
    lib.get_or_build(&name.clone(), move |lib| {
        let w = geo.spad_row_bytes;
        let rows = geo.spad_rows;
        let br = geo.bank_rows;
        let ab = bits_for(rows as u64);
        let bb = bits_for(banks as u64);
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "Banked scratchpad: {banks} banks of {br} rows x {w} bytes, {reads} read and {writes} write ports."
        ));
        // Bank and row within the bank of an address.
        let locate = |m: &mut ModuleBuilder, a: Sig| -> RtlResult<(Sig, Sig)> {
            let q = div_const(m, a, br)?;
            let last = m.const_u(ab, (banks - 1) as u128)?;
            let over = m.cmp(CmpOp::Gt, q, last)?;
            let q = m.mux(over, last, q)?;
            let brc = m.const_u(ab, br as u128)?;
            let off = m.mul(q, brc)?;
            let off = m.resize(off, ab)?;
            let within = m.sub(a, off)?;
            Ok((m.resize(q, bb)?, within))
        };
        let mut r_in = Vec::new();
        for i in 0..reads {
            let re = m.input(&format!("re{i}"), 1, false)?;
            let ra = m.input(&format!("raddr{i}"), ab, false)?;
            let (bk, off) = locate(&mut m, ra)?;
            r_in.push((re, bk, off));
        }
        let mut w_in = Vec::new();
        for i in 0..writes {
            let we = m.input(&format!("we{i}"), 1, false)?;
            let wa = m.input(&format!("waddr{i}"), ab, false)?;
            let wd = m.input(&format!("wdata{i}"), 8 * w, false)?;
            let (bk, off) = locate(&mut m, wa)?;
            w_in.push((we, bk, off, wd));
        }
        // Grants: no higher-priority port on the same bank.
        let zero1 = m.const_u(1, 0)?;
        let one1 = m.const_u(1, 1)?;
        let mut r_grant = Vec::new();
        for i in 0..reads as usize {
            let mut blocked = zero1;
            for j in 0..i {
                let same = m.eq(r_in[j].1, r_in[i].1)?;
                let b = m.and(r_in[j].0, same)?;
                blocked = m.or(blocked, b)?;
            }
            r_grant.push(m.not(blocked)?);
        }
        let mut w_grant = Vec::new();
        for i in 0..writes as usize {
            let mut blocked = zero1;
            for j in 0..i {
                let same = m.eq(w_in[j].1, w_in[i].1)?;
                let b = m.and(w_in[j].0, same)?;
                blocked = m.or(blocked, b)?;
            }
            w_grant.push(m.not(blocked)?);
        }
        let mut bank_data = Vec::new();
        for b in 0..banks {
            let depth = if b + 1 == banks { rows - b * br } else { br };
            let mab = mem::mem_addr_bits(depth as usize);
            let bc = m.const_u(bb, b as u128)?;
            let mut r_cases = Vec::new();
            let mut r_any = zero1;
            for (re, bk, off) in &r_in {
                let hit = m.eq(*bk, bc)?;
                let hit = m.and(*re, hit)?;
                r_any = m.or(r_any, hit)?;
                r_cases.push((hit, m.resize(*off, mab)?));
            }
            let z = m.const_u(mab, 0)?;
            let raddr = m.priority(&r_cases, z)?;
            let mut w_cases = Vec::new();
            let mut d_cases = Vec::new();
            let mut w_any = zero1;
            for (we, bk, off, wd) in &w_in {
                let hit = m.eq(*bk, bc)?;
                let hit = m.and(*we, hit)?;
                w_any = m.or(w_any, hit)?;
                w_cases.push((hit, m.resize(*off, mab)?));
                d_cases.push((hit, *wd));
            }
            let waddr = m.priority(&w_cases, z)?;
            let zd = m.const_u(8 * w, 0)?;
            let wdata = m.priority(&d_cases, zd)?;
            let d = mem::instantiate(
                &mut m,
                lib,
                &format!("bank{b}"),
                &MemoryConfig {
                    depth: depth as usize,
                    width: 8 * w,
                    init: None,
                    style: Some(crate::rtl::MemStyle::Block),
                },
                Some((w_any, waddr, wdata)),
                r_any,
                raddr,
                one1,
            )?;
            bank_data.push(d);
        }
        for i in 0..reads as usize {
            // The bank this port read, `read_latency` cycles ago.
            let mut bk = r_in[i].1;
            for s in 0..read_latency {
                bk = m.reg_next(&format!("r{i}_bank{s}"), bk, RegOpts::new())?;
            }
            let d = m.select(bk, &bank_data)?;
            m.output(&format!("rdata{i}"), d)?;
            m.output(&format!("rgrant{i}"), r_grant[i])?;
        }
        for (i, g) in w_grant.iter().enumerate() {
            m.output(&format!("wgrant{i}"), *g)?;
        }
        m.finish()
    })
}
