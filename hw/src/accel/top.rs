//! The accelerator top: the control block, the front end, the load, compute and store
//! engines, the banked scratchpad, the accumulator, the dependency tokens and the AXI4
//! master that they share.
//!
//! - **Tokens:** four counters of `queue_depth` (load->compute, compute->load,
//!   compute->store, store->compute); an engine starts an instruction when the tokens
//!   it pops are there and the queues it pushes into have room.
//! - **Scratchpad** ([`crate::accel::spad`]): banks of consecutive rows; reads in
//!   priority order from the compute engine's ports A, B and C and the store engine,
//!   writes from the compute engine and then the load engine (each waits for its
//!   grant).
//! - **Accumulator** (with `[array]`): one memory of `acc_rows` rows, written by the
//!   compute engine and read by it first, then by the store engine (STORE from the
//!   accumulator).
//! - **AXI4 master `m_axi_gmem`:** reads from the fetch DMA (ID 0) and the load engine
//!   (ID 1) share AR through a round-robin register slice and R through a register
//!   slice routed by `rid`; writes come from the store engine (ID 0). Every output is a
//!   register or a constant.
//!
//! Ports: `s_axi_control_*` (see [`crate::accel::control`]), `m_axi_gmem_*` with
//! `arid`/`rid`/`awid`/`bid` of `axi_id_bits`, and `irq` (the HLS top's `interrupt`).

use std::rc::Rc;

use accgen_golden::accel::Geometry;
use accgen_golden::config::Config;

use crate::accel::compute::compute_engine;
use crate::accel::dma_read::GMEM;
use crate::accel::frontend::{frontend, FrontParams};
use crate::accel::load::{load, LoadParams};
use crate::accel::spad::spad;
use crate::accel::store::{store, StoreParams};
use crate::accel::{control, dma_params};
use crate::mem::{self, MemoryConfig};
use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlError, RtlResult, Sig};
use crate::stream::{skid, Axis};

/// Module name of the top for a config.
pub fn top_name(cfg: &Config) -> String {
    format!("accgen_accel_{}", &cfg.hash()[..10])
}

/// A token counter of `depth`.
struct Token {
    nonzero: Sig,
    room: Sig,
}

fn token(m: &mut ModuleBuilder, name: &str, depth: u32, push: Sig, pop: Sig) -> RtlResult<Token> {
    let b = 32 - depth.leading_zeros() + 1;
    let r = m.reg(name, b, false, RegOpts::new().reset_zero(b))?;
    let inc = m.zext(push, b)?;
    let dec = m.zext(pop, b)?;
    let n = m.add(r.q, inc)?;
    let n = m.resize(n, b)?;
    let n = m.sub(n, dec)?;
    let n = m.resize(n, b)?;
    m.connect(r, n)?;
    let z = m.const_u(b, 0)?;
    let d = m.const_u(b, depth as u128)?;
    Ok(Token {
        nonzero: m.cmp(CmpOp::Ne, r.q, z)?,
        room: m.lt(r.q, d)?,
    })
}

/// Build the accelerator top for `cfg` (which needs `[accel]`).
pub fn accel_top(lib: &mut Library, cfg: &Config) -> RtlResult<Rc<Module>> {
    let acc = cfg.accel.clone().ok_or_else(|| RtlError {
        module: "accgen_accel".into(),
        message: "the config has no [accel] section".into(),
    })?;
    let geo = Geometry::of(cfg).map_err(|e| RtlError {
        module: "accgen_accel".into(),
        message: e.to_string(),
    })?;
    let name = top_name(cfg);
    let dma = dma_params(&acc);
    let depth = acc.queue_depth.next_power_of_two();
    let fp = FrontParams {
        dma,
        queue_depth: depth,
        watchdog_default: acc.watchdog_cycles as u32,
    };
    let lp = LoadParams {
        dma,
        row_bytes: geo.spad_row_bytes,
        spad_rows: geo.spad_rows,
    };
    let has_acc = cfg.array.is_some();
    let sp = StoreParams {
        dma,
        row_bytes: geo.spad_row_bytes,
        spad_rows: geo.spad_rows,
        acc_row_bytes: geo.acc_row_bytes,
        acc_rows: if has_acc { geo.acc_rows } else { 0 },
        read_latency: mem::MEM_READ_LATENCY,
    };
    let cp_m = compute_engine(lib, cfg, mem::MEM_READ_LATENCY)?;
    let spad_m = spad(lib, &geo, acc.spad_banks, 4, 2, mem::MEM_READ_LATENCY)?;
    let ctl_m = control::control(lib)?;
    let fe_m = frontend(lib, &fp)?;
    let ld_m = load(lib, &lp)?;
    let st_m = store(lib, &sp)?;
    lib.get_or_build(&name.clone(), move |lib| {
        let db = dma.data_bytes;
        let dw = 8 * db;
        let aw = dma.addr_bits;
        let idb = acc.axi_id_bits;
        let w = geo.spad_row_bytes;
        let mut m = ModuleBuilder::new(&name);
        m.doc("Integrated accelerator top: control, front end, load, compute and store engines, banked scratchpad, accumulator, tokens, shared AXI4 master.");
        // ---- ports.
        let c = "s_axi_control_";
        let mut ctl_in: Vec<(String, Sig)> = Vec::new();
        for (n, wd) in [
            ("awaddr", accgen_golden::regs::ADDR_BITS),
            ("awvalid", 1),
            ("wdata", 32),
            ("wstrb", 4),
            ("wvalid", 1),
            ("bready", 1),
            ("araddr", accgen_golden::regs::ADDR_BITS),
            ("arvalid", 1),
            ("rready", 1),
        ] {
            let s = m.input(&format!("{c}{n}"), wd, false)?;
            ctl_in.push((format!("{c}{n}"), s));
        }
        let arready = m.input(&format!("{GMEM}arready"), 1, false)?;
        let rid = m.input(&format!("{GMEM}rid"), idb, false)?;
        let rdata = m.input(&format!("{GMEM}rdata"), dw, false)?;
        let rresp = m.input(&format!("{GMEM}rresp"), 2, false)?;
        let rlast = m.input(&format!("{GMEM}rlast"), 1, false)?;
        let rvalid = m.input(&format!("{GMEM}rvalid"), 1, false)?;
        let awready = m.input(&format!("{GMEM}awready"), 1, false)?;
        let wready = m.input(&format!("{GMEM}wready"), 1, false)?;
        // `bid` is an input of the AXI4 interface; every write is the store engine's
        // (ID 0), so its value is not needed.
        m.input(&format!("{GMEM}bid"), idb, false)?;
        let bresp = m.input(&format!("{GMEM}bresp"), 2, false)?;
        let bvalid = m.input(&format!("{GMEM}bvalid"), 1, false)?;

        // Wires between the blocks.
        let wire = |m: &mut ModuleBuilder, n: &str, wd: u32| m.wire(n, wd, false);
        let fe_ready = wire(&mut m, "fe_ready", 1)?;
        let fe_done = wire(&mut m, "fe_done", 1)?;
        let fe_idle = wire(&mut m, "fe_idle", 1)?;
        let fe_err = wire(&mut m, "fe_err", 8)?;
        let fe_err_idx = wire(&mut m, "fe_err_idx", 32)?;
        let busy_l = wire(&mut m, "busy_l", 1)?;
        let busy_c = wire(&mut m, "busy_c", 1)?;
        let busy_s = wire(&mut m, "busy_s", 1)?;
        let rd_bytes = wire(&mut m, "rd_bytes", 8)?;
        let wr_bytes = wire(&mut m, "wr_bytes", 8)?;

        // ---- control block.
        let mut conns: Vec<(&str, Sig)> = ctl_in.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        conns.extend([
            ("core_ready", fe_ready),
            ("core_done", fe_done),
            ("core_idle", fe_idle),
            ("core_error", fe_err),
            ("core_error_index", fe_err_idx),
            ("busy_load", busy_l),
            ("busy_compute", busy_c),
            ("busy_store", busy_s),
            ("rd_bytes", rd_bytes),
            ("wr_bytes", wr_bytes),
        ]);
        let ctl = m.instance(&ctl_m, "control", &conns)?;
        let prog_addr = {
            let p = ctl.out("prog_addr")?;
            m.resize(p, aw)?
        };
        let dram_base = {
            let p = ctl.out("dram_base")?;
            m.resize(p, aw)?
        };

        // ---- AXI read sharing: R enters a slice, routed by ID.
        let r_in = Axis {
            data: m.concat(&[rid, rresp, rdata])?,
            valid: rvalid,
            last: Some(rlast),
            user: None,
        };
        let r_take = wire(&mut m, "r_take", 1)?;
        let (rs, rready) = skid(&mut m, "rslice", &r_in, r_take)?;
        let rs_data = m.slice(rs.data, dw - 1, 0)?;
        let rs_resp = m.slice(rs.data, dw + 1, dw)?;
        let rs_id = m.slice(rs.data, dw + 2 + idb - 1, dw + 2)?;
        let rs_last = rs.last.expect("last");
        let zid = m.const_u(idb, 0)?;
        let to_fetch = m.eq(rs_id, zid)?;
        let to_load = m.not(to_fetch)?;
        let fe_rvalid = m.and(rs.valid, to_fetch)?;
        let ld_rvalid = m.and(rs.valid, to_load)?;

        // ---- front end.
        let fe_rready = wire(&mut m, "fe_rready", 1)?;
        let fe_arready = wire(&mut m, "fe_arready", 1)?;
        let mut e_ready = Vec::new();
        let mut e_idle = Vec::new();
        let mut e_prog = Vec::new();
        for e in ["load", "compute", "store"] {
            e_ready.push(wire(&mut m, &format!("{e}_take"), 1)?);
            e_idle.push(wire(&mut m, &format!("{e}_idle_w"), 1)?);
            e_prog.push(wire(&mut m, &format!("{e}_prog_w"), 1)?);
        }
        let eng_err_v = wire(&mut m, "eng_err_v", 1)?;
        let eng_err_c = wire(&mut m, "eng_err_c", 8)?;
        let eng_err_i = wire(&mut m, "eng_err_i", 32)?;
        let fe = m.instance(
            &fe_m,
            "frontend",
            &[
                ("ap_start", ctl.out("core_start")?),
                ("prog_addr", prog_addr),
                ("prog_len", ctl.out("prog_len")?),
                ("watchdog", ctl.out("watchdog")?),
                (&format!("{GMEM}arready"), fe_arready),
                (&format!("{GMEM}rdata"), rs_data),
                (&format!("{GMEM}rresp"), rs_resp),
                (&format!("{GMEM}rlast"), rs_last),
                (&format!("{GMEM}rvalid"), fe_rvalid),
                ("load_ready", e_ready[0]),
                ("load_idle", e_idle[0]),
                ("progress_load", e_prog[0]),
                ("compute_ready", e_ready[1]),
                ("compute_idle", e_idle[1]),
                ("progress_compute", e_prog[1]),
                ("store_ready", e_ready[2]),
                ("store_idle", e_idle[2]),
                ("progress_store", e_prog[2]),
                ("eng_error_valid", eng_err_v),
                ("eng_error_code", eng_err_c),
                ("eng_error_index", eng_err_i),
            ],
        )?;
        m.drive(fe_ready, fe.out("ap_ready")?)?;
        m.drive(fe_done, fe.out("ap_done")?)?;
        m.drive(fe_idle, fe.out("ap_idle")?)?;
        m.drive(fe_err, fe.out("error_code")?)?;
        m.drive(fe_err_idx, fe.out("error_index")?)?;
        m.drive(fe_rready, fe.out(&format!("{GMEM}rready"))?)?;
        let abort = fe.out("abort_all")?;

        // ---- tokens.
        let (l_pop, l_push) = (wire(&mut m, "l_pop", 1)?, wire(&mut m, "l_push", 1)?);
        let (s_pop, s_push) = (wire(&mut m, "s_pop", 1)?, wire(&mut m, "s_push", 1)?);
        let c_pop_prev = wire(&mut m, "c_pop_prev", 1)?;
        let c_pop_next = wire(&mut m, "c_pop_next", 1)?;
        let c_push_prev = wire(&mut m, "c_push_prev", 1)?;
        let c_push_next = wire(&mut m, "c_push_next", 1)?;
        let l2c = token(&mut m, "tok_l2c", depth, l_push, c_pop_prev)?;
        let c2l = token(&mut m, "tok_c2l", depth, c_push_prev, l_pop)?;
        let c2s = token(&mut m, "tok_c2s", depth, c_push_next, s_pop)?;
        let s2c = token(&mut m, "tok_s2c", depth, s_push, c_pop_next)?;

        // ---- scratchpad.
        // Write port: the compute engine first, then the load engine; read port: the
        // compute engine first, then the store engine.
        let ab = crate::accel::gemm::bits_for(geo.spad_rows as u64);
        let c_sre = wire(&mut m, "c_spad_re", 1)?;
        let c_sra = wire(&mut m, "c_spad_raddr", ab)?;
        let c_sbre = wire(&mut m, "c_spad_b_re", 1)?;
        let c_sbra = wire(&mut m, "c_spad_b_raddr", ab)?;
        let c_scre = wire(&mut m, "c_spad_c_re", 1)?;
        let c_scra = wire(&mut m, "c_spad_c_raddr", ab)?;
        let c_swe = wire(&mut m, "c_spad_we", 1)?;
        let c_swa = wire(&mut m, "c_spad_waddr", ab)?;
        let c_swd = wire(&mut m, "c_spad_wdata", 8 * w)?;
        let c_are = wire(&mut m, "c_acc_re", 1)?;
        let ld_we = wire(&mut m, "ld_spad_we", 1)?;
        let ld_wa = wire(&mut m, "ld_spad_waddr", ab)?;
        let ld_wd = wire(&mut m, "ld_spad_wdata", 8 * w)?;
        let st_re = wire(&mut m, "st_spad_re", 1)?;
        let st_ra = wire(&mut m, "st_spad_raddr", ab)?;
        let one = m.const_u(1, 1)?;
        let sp = m.instance(
            &spad_m,
            "spad",
            &[
                ("re0", c_sre),
                ("raddr0", c_sra),
                ("re1", c_sbre),
                ("raddr1", c_sbra),
                ("re2", c_scre),
                ("raddr2", c_scra),
                ("re3", st_re),
                ("raddr3", st_ra),
                ("we0", c_swe),
                ("waddr0", c_swa),
                ("wdata0", c_swd),
                ("we1", ld_we),
                ("waddr1", ld_wa),
                ("wdata1", ld_wd),
            ],
        )?;
        let spad_rdata = sp.out("rdata3")?;
        let ld_arready = wire(&mut m, "ld_arready", 1)?;
        let ld_wready = sp.out("wgrant1")?;
        let ld = m.instance(
            &ld_m,
            "load",
            &[
                ("in_word", fe.out("load_word")?),
                ("in_index", fe.out("load_index")?),
                ("in_valid", fe.out("load_valid")?),
                ("dram_base", dram_base),
                ("abort_all", abort),
                ("tok_avail", c2l.nonzero),
                ("tok_room", l2c.room),
                ("spad_wready", ld_wready),
                (&format!("{GMEM}arready"), ld_arready),
                (&format!("{GMEM}rdata"), rs_data),
                (&format!("{GMEM}rresp"), rs_resp),
                (&format!("{GMEM}rlast"), rs_last),
                (&format!("{GMEM}rvalid"), ld_rvalid),
            ],
        )?;
        m.drive(e_ready[0], ld.out("in_ready")?)?;
        m.drive(l_pop, ld.out("tok_pop")?)?;
        m.drive(l_push, ld.out("tok_push")?)?;
        m.drive(ld_we, ld.out("spad_we")?)?;
        let la = ld.out("spad_waddr")?;
        let la = m.resize(la, ab)?;
        m.drive(ld_wa, la)?;
        m.drive(ld_wd, ld.out("spad_wdata")?)?;
        let ld_idle = ld.out("idle")?;
        m.drive(e_idle[0], ld_idle)?;
        m.drive(e_prog[0], ld.out("progress")?)?;
        let ld_rready = ld.out(&format!("{GMEM}rready"))?;
        // R: the slice's beat goes to the master its ID names.
        let rr = m.mux(to_fetch, fe_rready, ld_rready)?;
        m.drive(r_take, rr)?;

        // ---- accumulator (one write port, for the compute engine; one read port,
        // compute first, then the store engine).
        let acc_rdata = if has_acc {
            let aw_we = wire(&mut m, "acc_we", 1)?;
            let aw_addr = wire(&mut m, "acc_waddr", 32)?;
            let aw_data = wire(&mut m, "acc_wdata", 8 * geo.acc_row_bytes)?;
            let ar_re = wire(&mut m, "acc_re", 1)?;
            let ar_addr = wire(&mut m, "acc_raddr", 32)?;
            let aab = mem::mem_addr_bits(geo.acc_rows as usize);
            let wa = m.slice(aw_addr, aab - 1, 0)?;
            let ra = m.slice(ar_addr, aab - 1, 0)?;
            let d = mem::instantiate(
                &mut m,
                lib,
                "accmem",
                &MemoryConfig {
                    depth: geo.acc_rows as usize,
                    width: 8 * geo.acc_row_bytes,
                    init: None,
                    style: Some(crate::rtl::MemStyle::Block),
                },
                Some((aw_we, wa, aw_data)),
                ar_re,
                ra,
                one,
            )?;
            Some((d, aw_we, aw_addr, aw_data, ar_re, ar_addr))
        } else {
            None
        };
        let st_sgrant = sp.out("rgrant3")?;
        let st_agrant = m.not(c_are)?;

        // ---- store engine.
        let mut st_in: Vec<(String, Sig)> = Vec::new();
        if let Some((d, ..)) = &acc_rdata {
            st_in.push(("acc_rdata".into(), *d));
            st_in.push(("acc_rgrant".into(), st_agrant));
        }
        let mut st_conns: Vec<(String, Sig)> = vec![
            ("in_word".into(), fe.out("store_word")?),
            ("in_index".into(), fe.out("store_index")?),
            ("in_valid".into(), fe.out("store_valid")?),
            ("dram_base".into(), dram_base),
            ("abort_all".into(), abort),
            ("tok_avail".into(), c2s.nonzero),
            ("tok_room".into(), s2c.room),
            ("spad_rdata".into(), spad_rdata),
            ("spad_rgrant".into(), st_sgrant),
            (format!("{GMEM}awready"), awready),
            (format!("{GMEM}wready"), wready),
            (format!("{GMEM}bresp"), bresp),
            (format!("{GMEM}bvalid"), bvalid),
        ];
        st_conns.extend(st_in);
        let st_refs: Vec<(&str, Sig)> = st_conns.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        let st = m.instance(&st_m, "store", &st_refs)?;
        m.drive(e_ready[2], st.out("in_ready")?)?;
        m.drive(s_pop, st.out("tok_pop")?)?;
        m.drive(s_push, st.out("tok_push")?)?;
        m.drive(st_re, st.out("spad_re")?)?;
        let sa = st.out("spad_raddr")?;
        let sa = m.resize(sa, ab)?;
        m.drive(st_ra, sa)?;
        let st_idle = st.out("idle")?;
        m.drive(e_idle[2], st_idle)?;
        m.drive(e_prog[2], st.out("progress")?)?;

        // ---- compute engine.
        let mut cp_conns: Vec<(&str, Sig)> = vec![
            ("in_word", fe.out("compute_word")?),
            ("in_index", fe.out("compute_index")?),
            ("in_valid", fe.out("compute_valid")?),
            ("abort_all", abort),
            ("tok_prev", l2c.nonzero),
            ("tok_next", s2c.nonzero),
            ("room_prev", c2l.room),
            ("room_next", c2s.room),
            ("spad_rdata", sp.out("rdata0")?),
            ("spad_b_rdata", sp.out("rdata1")?),
            ("spad_b_grant", sp.out("rgrant1")?),
            ("spad_c_rdata", sp.out("rdata2")?),
            ("spad_c_grant", sp.out("rgrant2")?),
        ];
        let zacc = m.const_u(8 * geo.acc_row_bytes, 0)?;
        let acc_d = acc_rdata.as_ref().map_or(zacc, |a| a.0);
        if cp_m.port("acc_rdata").is_some() {
            cp_conns.push(("acc_rdata", acc_d));
        }
        let cp = m.instance(&cp_m, "compute", &cp_conns)?;
        m.drive(e_ready[1], cp.out("in_ready")?)?;
        m.drive(c_pop_prev, cp.out("pop_prev")?)?;
        m.drive(c_pop_next, cp.out("pop_next")?)?;
        m.drive(c_push_prev, cp.out("push_prev")?)?;
        m.drive(c_push_next, cp.out("push_next")?)?;
        let cp_idle = cp.out("idle")?;
        m.drive(e_idle[1], cp_idle)?;
        m.drive(e_prog[1], cp.out("progress")?)?;
        // Scratchpad ports.
        for (wire_s, port) in [
            (c_sre, "spad_re"),
            (c_sbre, "spad_b_re"),
            (c_scre, "spad_c_re"),
            (c_swe, "spad_we"),
            (c_swd, "spad_wdata"),
        ] {
            m.drive(wire_s, cp.out(port)?)?;
        }
        for (wire_s, port) in [
            (c_sra, "spad_raddr"),
            (c_sbra, "spad_b_raddr"),
            (c_scra, "spad_c_raddr"),
            (c_swa, "spad_waddr"),
        ] {
            let a = cp.out(port)?;
            let a = m.resize(a, ab)?;
            m.drive(wire_s, a)?;
        }
        // Accumulator ports.
        if let Some((_, aw_we, aw_addr, aw_data, ar_re, ar_addr)) = acc_rdata {
            let cwe = cp.out("acc_we")?;
            m.drive(aw_we, cwe)?;
            let a = cp.out("acc_waddr")?;
            let a = m.resize(a, 32)?;
            m.drive(aw_addr, a)?;
            m.drive(aw_data, cp.out("acc_wdata")?)?;
            let cre = cp.out("acc_re")?;
            m.drive(c_are, cre)?;
            let sre = st.out("acc_re")?;
            let re = m.or(cre, sre)?;
            m.drive(ar_re, re)?;
            let ca = cp.out("acc_raddr")?;
            let ca = m.resize(ca, 32)?;
            let sa = st.out("acc_raddr")?;
            let sa = m.resize(sa, 32)?;
            let a = m.mux(cre, ca, sa)?;
            m.drive(ar_addr, a)?;
        } else {
            let z = m.const_u(1, 0)?;
            m.drive(c_are, z)?;
        }

        // Engine errors, first one wins (load, store, compute).
        let lv = ld.out("err_valid")?;
        let sv = st.out("err_valid")?;
        let cv = cp.out("err_valid")?;
        let any1 = m.or(lv, sv)?;
        let any = m.or(any1, cv)?;
        m.drive(eng_err_v, any)?;
        let code = m.priority(
            &[(lv, ld.out("err_code")?), (sv, st.out("err_code")?)],
            cp.out("err_code")?,
        )?;
        m.drive(eng_err_c, code)?;
        let idx = m.priority(
            &[(lv, ld.out("err_index")?), (sv, st.out("err_index")?)],
            cp.out("err_index")?,
        )?;
        m.drive(eng_err_i, idx)?;

        // Busy levels for the counters.
        let nl = m.not(ld_idle)?;
        m.drive(busy_l, nl)?;
        let ns = m.not(st_idle)?;
        m.drive(busy_s, ns)?;
        let nc = m.not(cp_idle)?;
        m.drive(busy_c, nc)?;

        // ---- AR: round-robin between the fetch DMA (ID 0) and the load engine (ID 1).
        let fe_arv = fe.out(&format!("{GMEM}arvalid"))?;
        let ld_arv = ld.out(&format!("{GMEM}arvalid"))?;
        let ar_full = m.reg("ar_full", 1, false, RegOpts::new().reset_zero(1))?;
        let last_ld = m.reg("ar_last_load", 1, false, RegOpts::new().reset_zero(1))?;
        let nfull = m.not(ar_full.q)?;
        let out_hs = m.and(ar_full.q, arready)?;
        let free = m.or(nfull, out_hs)?;
        // Prefer the one not served last.
        let nfe = m.not(fe_arv)?;
        let pick_ld = m.mux(last_ld.q, nfe, ld_arv)?;
        let pick_ld = m.and(pick_ld, ld_arv)?;
        let npl = m.not(pick_ld)?;
        let pick_fe = m.and(fe_arv, npl)?;
        let grab_fe = m.and(free, pick_fe)?;
        let grab_ld = m.and(free, pick_ld)?;
        m.drive(fe_arready, grab_fe)?;
        m.drive(ld_arready, grab_ld)?;
        let grab = m.or(grab_fe, grab_ld)?;
        let sel = |m: &mut ModuleBuilder, port: &str| -> RtlResult<Sig> {
            let f = fe.out(&format!("{GMEM}{port}"))?;
            let l = ld.out(&format!("{GMEM}{port}"))?;
            m.mux(grab_ld, l, f)
        };
        let a_addr = sel(&mut m, "araddr")?;
        let a_len = sel(&mut m, "arlen")?;
        let araddr = m.reg_next("araddr_q", a_addr, RegOpts::new().enable(grab))?;
        let arlen = m.reg_next("arlen_q", a_len, RegOpts::new().enable(grab))?;
        let one_id = m.const_u(idb, 1)?;
        let a_id = m.mux(grab_ld, one_id, zid)?;
        let arid = m.reg_next("arid_q", a_id, RegOpts::new().enable(grab))?;
        let nhs = m.not(out_hs)?;
        let keep = m.and(ar_full.q, nhs)?;
        let af = m.or(grab, keep)?;
        m.connect(ar_full, af)?;
        let ll = m.mux(grab, grab_ld, last_ld.q)?;
        m.connect(last_ld, ll)?;

        // ---- counters' byte inputs.
        let r_hs = m.and(rvalid, rready)?;
        let dbc = m.const_u(8, db as u128)?;
        let z8 = m.const_u(8, 0)?;
        let rb = m.mux(r_hs, dbc, z8)?;
        m.drive(rd_bytes, rb)?;
        let w_strb = st.out(&format!("{GMEM}wstrb"))?;
        let w_valid = st.out(&format!("{GMEM}wvalid"))?;
        let w_hs = m.and(w_valid, wready)?;
        let mut cnt = m.const_u(8, 0)?;
        for i in 0..db {
            let bit = m.bit(w_strb, i)?;
            let bz = m.zext(bit, 8)?;
            let s = m.add(cnt, bz)?;
            cnt = m.resize(s, 8)?;
        }
        let wb = m.mux(w_hs, cnt, z8)?;
        m.drive(wr_bytes, wb)?;

        // ---- outputs.
        for n in ["awready", "wready", "bresp", "bvalid", "arready", "rdata", "rresp", "rvalid"] {
            let s = ctl.out(&format!("{c}{n}"))?;
            m.output(&format!("{c}{n}"), s)?;
        }
        m.output(&format!("{GMEM}arid"), arid)?;
        m.output(&format!("{GMEM}araddr"), araddr)?;
        m.output(&format!("{GMEM}arlen"), arlen)?;
        let size = m.const_u(3, db.trailing_zeros() as u128)?;
        m.output(&format!("{GMEM}arsize"), size)?;
        let incr = m.const_u(2, 1)?;
        m.output(&format!("{GMEM}arburst"), incr)?;
        m.output(&format!("{GMEM}arvalid"), ar_full.q)?;
        m.output(&format!("{GMEM}rready"), rready)?;
        m.output(&format!("{GMEM}awid"), zid)?;
        for port in ["awaddr", "awlen", "awsize", "awburst", "awvalid", "wdata", "wstrb", "wlast", "wvalid", "bready"] {
            let s = st.out(&format!("{GMEM}{port}"))?;
            m.output(&format!("{GMEM}{port}"), s)?;
        }
        m.output("irq", ctl.out("irq")?)?;
        m.finish()
    })
}
