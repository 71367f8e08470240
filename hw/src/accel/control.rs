//! The accelerator's AXI4-Lite control block (`s_axi_control`), generated from the
//! register map in `accgen_golden::regs` (the only list of registers).
//!
//! **Bus side** (AXI4-Lite, 32-bit data, [`accgen_golden::regs::ADDR_BITS`]-bit
//! addresses): write address and write data are taken independently, each into a
//! holding register; the write happens once both are held and the previous response
//! has been taken, and `bresp` is OKAY, or SLVERR for an unmapped or read-only
//! register (nothing changes then). A read address is held, the register is read the
//! next cycle, and `rresp` is SLVERR for an unmapped address. One transaction of each
//! kind is in flight at a time; every output is a register.
//!
//! **Semantics** (Vitis HLS, GUIDE §7): `ap_start` is set by writing 1 and cleared when
//! the core takes the start (`core_ready`), or set again at `core_done` with
//! `auto_restart`; `ap_done` and `ap_ready` are set by `core_done` and `core_ready` and
//! cleared by reading `ap_ctrl` (an event in the same cycle as the read survives it);
//! ISR bits are set by enabled events and toggled by writing 1; `interrupt` is GIE and
//! any ISR bit, one cycle later (`irq`). Reading the low half of a 64-bit counter latches its
//! high half, so `lo` then `hi` is one consistent value.
//!
//! **Core side:** outputs `core_start` (the `ap_start` bit), `prog_addr`, `prog_len`,
//! `dram_base`, `watchdog` and `irq` (the top's `interrupt`: Verilator treats
//! `interrupt` as a reserved C++ word, warns under `-Wall` and renames it, so only the
//! exported top uses that name); inputs `core_ready` and `core_done`
//! (one-cycle pulses), `core_idle`, `core_error` (8 bits) and `core_error_index`
//! (32 bits, sampled at `core_done`), `busy_load`, `busy_compute`, `busy_store`, and
//! `rd_bytes` / `wr_bytes` (bytes moved this cycle). The block owns the counters: they
//! restart at `core_ready` and count until `core_done` (cycles) or while each busy
//! input is high.

use std::rc::Rc;

use accgen_golden::regs::{self, Access, Register, REGISTERS};

use crate::rtl::{Library, Module, ModuleBuilder, Reg, RegOpts, RtlResult, Sig, Value};

/// Width of the `rd_bytes` and `wr_bytes` inputs.
pub const BYTES_IN_BITS: u32 = 8;

/// Module name.
pub const CONTROL_NAME: &str = "accgen_accel_control";

/// Prefix of the AXI4-Lite ports.
const P: &str = "s_axi_control_";

fn reset_value(width: u32, v: u64) -> RegOpts {
    RegOpts::new().reset_to(Value::from_u128(width, v as u128).expect("reset fits"))
}

/// Build (or fetch) the control block.
pub fn control(lib: &mut Library) -> RtlResult<Rc<Module>> {
    lib.get_or_build(CONTROL_NAME, |_| {
        let mut m = ModuleBuilder::new(CONTROL_NAME);
        m.doc("AXI4-Lite control registers (HLS layout) and performance counters.");
        let ab = regs::ADDR_BITS;
        let awaddr = m.input(&format!("{P}awaddr"), ab, false)?;
        let awvalid = m.input(&format!("{P}awvalid"), 1, false)?;
        let wdata = m.input(&format!("{P}wdata"), 32, false)?;
        let wstrb = m.input(&format!("{P}wstrb"), 4, false)?;
        let wvalid = m.input(&format!("{P}wvalid"), 1, false)?;
        let bready = m.input(&format!("{P}bready"), 1, false)?;
        let araddr = m.input(&format!("{P}araddr"), ab, false)?;
        let arvalid = m.input(&format!("{P}arvalid"), 1, false)?;
        let rready = m.input(&format!("{P}rready"), 1, false)?;
        let core_ready = m.input("core_ready", 1, false)?;
        let core_done = m.input("core_done", 1, false)?;
        let core_idle = m.input("core_idle", 1, false)?;
        let core_error = m.input("core_error", 8, false)?;
        let core_error_index = m.input("core_error_index", 32, false)?;
        let busy = [
            m.input("busy_load", 1, false)?,
            m.input("busy_compute", 1, false)?,
            m.input("busy_store", 1, false)?,
        ];
        let rd_bytes = m.input("rd_bytes", BYTES_IN_BITS, false)?;
        let wr_bytes = m.input("wr_bytes", BYTES_IN_BITS, false)?;

        let one = m.const_u(1, 1)?;
        let zero1 = m.const_u(1, 0)?;

        // ---- write channel: hold AW and W, write when both are here and B is free.
        let aw_full = m.reg("aw_full", 1, false, RegOpts::new().reset_zero(1))?;
        let w_full = m.reg("w_full", 1, false, RegOpts::new().reset_zero(1))?;
        let awready = m.reg("awready_q", 1, false, reset_value(1, 1))?;
        let wready = m.reg("wready_q", 1, false, reset_value(1, 1))?;
        let bvalid = m.reg("bvalid_q", 1, false, RegOpts::new().reset_zero(1))?;
        let aw_take = m.and(awvalid, awready.q)?;
        let w_take = m.and(wvalid, wready.q)?;
        let aw_hold = m.reg_next("aw_addr", awaddr, RegOpts::new().enable(aw_take))?;
        let w_hold = m.reg_next("w_data", wdata, RegOpts::new().enable(w_take))?;
        let s_hold = m.reg_next("w_strb", wstrb, RegOpts::new().enable(w_take))?;
        let both = m.and(aw_full.q, w_full.q)?;
        let nb = m.not(bvalid.q)?;
        let do_write = m.and(both, nb)?;
        let ndw = m.not(do_write)?;
        let awf = m.or(aw_full.q, aw_take)?;
        let awf_n = m.and(awf, ndw)?;
        m.connect(aw_full, awf_n)?;
        let wf = m.or(w_full.q, w_take)?;
        let wf_n = m.and(wf, ndw)?;
        m.connect(w_full, wf_n)?;
        let nawf = m.not(awf_n)?;
        m.connect(awready, nawf)?;
        let nwf = m.not(wf_n)?;
        m.connect(wready, nwf)?;
        let b_keep = {
            let nbr = m.not(bready)?;
            m.and(bvalid.q, nbr)?
        };
        let bv_n = m.or(do_write, b_keep)?;
        m.connect(bvalid, bv_n)?;

        // Byte-enable mask of the held write.
        let strb_bits: Vec<Sig> = (0..4)
            .rev()
            .map(|i| m.bit(s_hold, i))
            .collect::<RtlResult<_>>()?;
        let mut bytes = Vec::new();
        for b in strb_bits {
            bytes.push(m.concat(&[b; 8])?);
        }
        let byte_mask = m.concat(&bytes)?;

        // Write decode: one strobe per register.
        let word_w = ab - 2;
        let aw_word = m.slice(aw_hold, ab - 1, 2)?;
        let write_to = |m: &mut ModuleBuilder, r: &Register| -> RtlResult<Sig> {
            let k = m.const_u(word_w, (r.offset / 4) as u128)?;
            let hit = m.eq(aw_word, k)?;
            m.and(hit, do_write)
        };

        // ---- read channel: hold AR, answer the next cycle.
        let ar_full = m.reg("ar_full", 1, false, RegOpts::new().reset_zero(1))?;
        let arready = m.reg("arready_q", 1, false, reset_value(1, 1))?;
        let rvalid = m.reg("rvalid_q", 1, false, RegOpts::new().reset_zero(1))?;
        let ar_take = m.and(arvalid, arready.q)?;
        let ar_hold = m.reg_next("ar_addr", araddr, RegOpts::new().enable(ar_take))?;
        let nrv = m.not(rvalid.q)?;
        let do_read = m.and(ar_full.q, nrv)?;
        let ndr = m.not(do_read)?;
        let arf = m.or(ar_full.q, ar_take)?;
        let arf_n = m.and(arf, ndr)?;
        m.connect(ar_full, arf_n)?;
        let narf = m.not(arf_n)?;
        m.connect(arready, narf)?;
        let r_keep = {
            let nrr = m.not(rready)?;
            m.and(rvalid.q, nrr)?
        };
        let rv_n = m.or(do_read, r_keep)?;
        m.connect(rvalid, rv_n)?;
        let ar_word = m.slice(ar_hold, ab - 1, 2)?;
        let read_of = |m: &mut ModuleBuilder, r: &Register| -> RtlResult<Sig> {
            let k = m.const_u(word_w, (r.offset / 4) as u128)?;
            let hit = m.eq(ar_word, k)?;
            m.and(hit, do_read)
        };

        // ---- registers.
        let reg_of = |name: &str| regs::named(name).expect("register in the map");
        // A read/write register with byte enables.
        let rw = |m: &mut ModuleBuilder, name: &str| -> RtlResult<Reg> {
            let r = reg_of(name);
            let q = m.reg(name, 32, false, reset_value(32, r.reset as u64))?;
            let we = write_to(m, r)?;
            let keep_mask = m.not(byte_mask)?;
            let kept = m.and(q.q, keep_mask)?;
            let new = m.and(w_hold, byte_mask)?;
            let merged = m.or(kept, new)?;
            let mask = m.const_u(32, r.mask as u128)?;
            let merged = m.and(merged, mask)?;
            let d = m.mux(we, merged, q.q)?;
            m.connect(q, d)?;
            Ok(q)
        };
        let gie = rw(&mut m, "gie")?;
        let ier = rw(&mut m, "ier")?;
        let prog_lo = rw(&mut m, "prog_addr_lo")?;
        let prog_hi = rw(&mut m, "prog_addr_hi")?;
        let prog_len = rw(&mut m, "prog_len")?;
        let base_lo = rw(&mut m, "dram_base_lo")?;
        let base_hi = rw(&mut m, "dram_base_hi")?;
        let watchdog = rw(&mut m, "watchdog")?;

        // ap_ctrl.
        let ctrl_r = reg_of("ap_ctrl");
        let ctrl_we = write_to(&mut m, ctrl_r)?;
        let ctrl_re = read_of(&mut m, ctrl_r)?;
        let b0 = m.bit(s_hold, 0)?;
        let ctrl_we0 = m.and(ctrl_we, b0)?;
        let wd0 = m.bit(w_hold, 0)?;
        let wd7 = m.bit(w_hold, 7)?;
        let auto = m.reg("auto_restart", 1, false, RegOpts::new().reset_zero(1))?;
        let auto_d = m.mux(ctrl_we0, wd7, auto.q)?;
        m.connect(auto, auto_d)?;
        let start = m.reg("ap_start", 1, false, RegOpts::new().reset_zero(1))?;
        let set_start = m.and(ctrl_we0, wd0)?;
        let nready = m.not(core_ready)?;
        let start_keep = m.and(start.q, nready)?;
        let restart = m.and(auto.q, core_done)?;
        let s1 = m.or(set_start, start_keep)?;
        let start_d = m.or(s1, restart)?;
        m.connect(start, start_d)?;
        let nre = m.not(ctrl_re)?;
        let done = m.reg("ap_done", 1, false, RegOpts::new().reset_zero(1))?;
        let done_keep = m.and(done.q, nre)?;
        let done_d = m.or(core_done, done_keep)?;
        m.connect(done, done_d)?;
        let ready = m.reg("ap_ready", 1, false, RegOpts::new().reset_zero(1))?;
        let ready_keep = m.and(ready.q, nre)?;
        let ready_d = m.or(core_ready, ready_keep)?;
        m.connect(ready, ready_d)?;
        let idle = m.reg_next("ap_idle", core_idle, reset_value(1, 1))?;

        // ISR: set by enabled events, toggled by writes of 1.
        let isr_r = reg_of("isr");
        let isr = m.reg("isr", 2, false, RegOpts::new().reset_zero(2))?;
        let isr_we = write_to(&mut m, isr_r)?;
        let strb0 = m.bit(s_hold, 0)?;
        let isr_we = m.and(isr_we, strb0)?;
        let wlow = m.slice(w_hold, 1, 0)?;
        let z2 = m.const_u(2, 0)?;
        let toggle = m.mux(isr_we, wlow, z2)?;
        let events = m.concat(&[core_ready, core_done])?;
        let ier2 = m.slice(ier.q, 1, 0)?;
        let set = m.and(events, ier2)?;
        let tog = m.xor(isr.q, toggle)?;
        let isr_d = m.or(tog, set)?;
        m.connect(isr, isr_d)?;
        let any = m.reduce(crate::rtl::ReduceOp::Or, isr.q)?;
        let gie0 = m.bit(gie.q, 0)?;
        let irq = m.and(gie0, any)?;
        let irq_q = m.reg_next("interrupt_q", irq, RegOpts::new().reset_zero(1))?;

        // Error registers, sampled at core_done.
        let err = m.reg_next(
            "error_code",
            core_error,
            RegOpts::new().reset_zero(8).enable(core_done),
        )?;
        let err_idx = m.reg_next(
            "error_index",
            core_error_index,
            RegOpts::new().reset_zero(32).enable(core_done),
        )?;

        // Counters: restart at core_ready.
        let running = m.reg("running", 1, false, RegOpts::new().reset_zero(1))?;
        let nd = m.not(core_done)?;
        let run_keep = m.and(running.q, nd)?;
        let run_d = m.or(core_ready, run_keep)?;
        m.connect(running, run_d)?;
        let counter = |m: &mut ModuleBuilder, name: &str, inc: Sig| -> RtlResult<Sig> {
            let c = m.reg(name, 64, false, RegOpts::new().reset_zero(64))?;
            let inc = m.zext(inc, 64)?;
            let sum = m.add(c.q, inc)?;
            let sum = m.resize(sum, 64)?;
            let z = m.const_u(64, 0)?;
            let d = m.mux(core_ready, z, sum)?;
            m.connect(c, d)?;
            Ok(c.q)
        };
        let cyc = counter(&mut m, "cnt_cycles", running.q)?;
        let mut busy_cnt = Vec::new();
        for (b, name) in busy
            .iter()
            .zip(["cnt_busy_load", "cnt_busy_compute", "cnt_busy_store"])
        {
            let inc = m.and(*b, running.q)?;
            busy_cnt.push(counter(&mut m, name, inc)?);
        }
        let rd_cnt = counter(&mut m, "cnt_bytes_read", rd_bytes)?;
        let wr_cnt = counter(&mut m, "cnt_bytes_written", wr_bytes)?;
        let counters: Vec<(&str, Sig)> = vec![
            ("cycles", cyc),
            ("busy_load", busy_cnt[0]),
            ("busy_compute", busy_cnt[1]),
            ("busy_store", busy_cnt[2]),
            ("bytes_read", rd_cnt),
            ("bytes_written", wr_cnt),
        ];
        // Reading a low half latches the high half.
        let mut halves: Vec<(String, Sig)> = Vec::new();
        for (name, c) in &counters {
            let lo_r = reg_of(&format!("{name}_lo"));
            let lo = m.slice(*c, 31, 0)?;
            let hi = m.slice(*c, 63, 32)?;
            let re = read_of(&mut m, lo_r)?;
            let shadow = m.reg_next(
                &format!("{name}_hi_shadow"),
                hi,
                RegOpts::new().reset_zero(32).enable(re),
            )?;
            halves.push((format!("{name}_lo"), lo));
            halves.push((format!("{name}_hi"), shadow));
        }

        // ---- read data and responses.
        let ctrl_val = {
            let z3 = m.const_u(3, 0)?;
            m.concat(&[auto.q, z3, ready.q, idle, done.q, start.q])?
        };
        let z = m.const_u(32, 0)?;
        let words = 1usize << word_w;
        let mut values = vec![z; words];
        let mut mapped = vec![zero1; words];
        let mut writable = vec![zero1; words];
        for r in REGISTERS {
            let v = match r.name {
                "ap_ctrl" => m.zext(ctrl_val, 32)?,
                "gie" => gie.q,
                "ier" => ier.q,
                "isr" => m.zext(isr.q, 32)?,
                "prog_addr_lo" => prog_lo.q,
                "prog_addr_hi" => prog_hi.q,
                "prog_len" => prog_len.q,
                "dram_base_lo" => base_lo.q,
                "dram_base_hi" => base_hi.q,
                "watchdog" => watchdog.q,
                "error_code" => m.zext(err, 32)?,
                "error_index" => err_idx,
                "id" => m.const_u(32, regs::ID_VALUE as u128)?,
                other => halves
                    .iter()
                    .find(|(n, _)| n == other)
                    .map(|(_, s)| *s)
                    .expect("every register has a value"),
            };
            let i = (r.offset / 4) as usize;
            values[i] = v;
            mapped[i] = one;
            if r.access != Access::ReadOnly {
                writable[i] = one;
            }
        }
        let rdata_d = m.select(ar_word, &values)?;
        let rmapped = m.select(ar_word, &mapped)?;
        let rdata = m.reg_next("rdata_q", rdata_d, RegOpts::new().enable(do_read))?;
        let slverr = m.const_u(2, 2)?;
        let okay = m.const_u(2, 0)?;
        let rresp_d = m.mux(rmapped, okay, slverr)?;
        let rresp = m.reg_next(
            "rresp_q",
            rresp_d,
            RegOpts::new().reset_zero(2).enable(do_read),
        )?;
        let wok = m.select(aw_word, &writable)?;
        let bresp_d = m.mux(wok, okay, slverr)?;
        let bresp = m.reg_next(
            "bresp_q",
            bresp_d,
            RegOpts::new().reset_zero(2).enable(do_write),
        )?;

        m.output(&format!("{P}awready"), awready.q)?;
        m.output(&format!("{P}wready"), wready.q)?;
        m.output(&format!("{P}bresp"), bresp)?;
        m.output(&format!("{P}bvalid"), bvalid.q)?;
        m.output(&format!("{P}arready"), arready.q)?;
        m.output(&format!("{P}rdata"), rdata)?;
        m.output(&format!("{P}rresp"), rresp)?;
        m.output(&format!("{P}rvalid"), rvalid.q)?;
        m.output("core_start", start.q)?;
        let prog_addr = m.concat(&[prog_hi.q, prog_lo.q])?;
        let prog_addr = m.reg_next("prog_addr_q", prog_addr, RegOpts::new())?;
        m.output("prog_addr", prog_addr)?;
        m.output("prog_len", prog_len.q)?;
        let base = m.concat(&[base_hi.q, base_lo.q])?;
        let base = m.reg_next("dram_base_q", base, RegOpts::new())?;
        m.output("dram_base", base)?;
        m.output("watchdog", watchdog.q)?;
        m.output("irq", irq_q)?;
        m.finish()
    })
}
