//! The accelerator's AXI4-Lite control block in Verilator, driven by the AXI4-Lite
//! master with random delays and backpressure from a random initial state: every
//! register of `golden::regs` reads its reset value; read/write registers honour byte
//! strobes and their masks (checked against a model kept here); read-only and
//! unmapped addresses answer SLVERR and change nothing; and the HLS semantics of
//! ap_start/ap_done/ap_ready, auto_restart, GIE/IER/ISR and `interrupt`, the error
//! registers and the counters (with the high half latched by reading the low half).

use accgen_golden::regs::{self, ctrl, Access, REGISTERS};
use accgen_golden::rng::SplitMix64;
use accgen_hw::rtl::Library;
use accgen_sim::axilite::{AxiLiteMaster, Resp};
use accgen_sim::{Dut, Model, SimOptions};

struct Bench {
    dut: Dut,
    bus: AxiLiteMaster,
}

impl Bench {
    fn new(seed: u64) -> Bench {
        let mut lib = Library::new();
        let top = accgen_hw::accel::control::control(&mut lib).unwrap();
        let model = Model::build(&top, &SimOptions::new()).unwrap();
        let mut dut = model.instantiate_randomized(seed).unwrap();
        for (p, v) in [
            ("core_ready", 0),
            ("core_done", 0),
            ("core_idle", 1),
            ("core_error", 0),
            ("core_error_index", 0),
            ("busy_load", 0),
            ("busy_compute", 0),
            ("busy_store", 0),
            ("rd_bytes", 0),
            ("wr_bytes", 0),
        ] {
            let port = dut.input(p).unwrap();
            dut.poke_u64(port, v);
        }
        let bus = AxiLiteMaster::new(&mut dut, "s_axi_control_", seed, 0.4).unwrap();
        dut.reset(3);
        Bench { dut, bus }
    }

    fn set(&mut self, port: &str, v: u64) {
        let p = self.dut.input(port).unwrap();
        self.dut.poke_u64(p, v);
    }

    fn get(&mut self, port: &str) -> u64 {
        let p = self.dut.output(port).unwrap();
        self.dut.peek_u64(p)
    }

    /// Hold `port` at `v` for one clock edge, then 0.
    fn pulse(&mut self, port: &str, v: u64) {
        self.set(port, v);
        self.dut.tick();
        self.set(port, 0);
    }

    fn read(&mut self, addr: u32) -> (u32, Resp) {
        self.bus.read(&mut self.dut, addr).unwrap()
    }

    fn read_ok(&mut self, addr: u32) -> u32 {
        let (v, r) = self.read(addr);
        assert_eq!(r, Resp::Okay, "read {addr:#x}");
        v
    }

    fn write(&mut self, addr: u32, v: u32, strb: u8) -> Resp {
        self.bus.write(&mut self.dut, addr, v, strb).unwrap()
    }
}

#[test]
fn registers_reset_strobes_read_only_and_unmapped() {
    let mut b = Bench::new(11);
    for r in REGISTERS {
        let (v, resp) = b.read(r.offset);
        assert_eq!(resp, Resp::Okay, "{}", r.name);
        assert_eq!(v, r.reset, "reset value of {}", r.name);
    }
    // Read/write registers against a model, with random data and strobes.
    let mut rng = SplitMix64::new(5);
    let rw: Vec<_> = REGISTERS
        .iter()
        .filter(|r| r.access == Access::ReadWrite)
        .collect();
    let mut model: Vec<u32> = rw.iter().map(|r| r.reset).collect();
    for _ in 0..300 {
        let i = rng.range_i64(0, rw.len() as i64 - 1) as usize;
        let data = rng.next_u64() as u32;
        let strb = rng.range_i64(0, 15) as u8;
        assert_eq!(b.write(rw[i].offset, data, strb), Resp::Okay);
        let mask: u32 = (0..4)
            .filter(|k| strb >> k & 1 == 1)
            .map(|k| 0xffu32 << (8 * k))
            .sum();
        model[i] = ((model[i] & !mask) | (data & mask)) & rw[i].mask;
        let j = rng.range_i64(0, rw.len() as i64 - 1) as usize;
        assert_eq!(b.read_ok(rw[j].offset), model[j], "{}", rw[j].name);
    }
    // The core sees the program address, length, base and watchdog.
    let at = |name: &str| regs::named(name).unwrap().offset;
    b.write(at("prog_addr_lo"), 0x1234_5678, 0xf);
    b.write(at("prog_addr_hi"), 0x9abc_def0, 0xf);
    b.write(at("dram_base_hi"), 0x0000_0001, 0xf);
    b.write(at("dram_base_lo"), 0x8000_0000, 0xf);
    b.write(at("prog_len"), 77, 0xf);
    b.dut.ticks(2);
    assert_eq!(b.get("prog_addr"), 0x9abc_def0_1234_5678);
    assert_eq!(b.get("dram_base"), 0x1_8000_0000);
    assert_eq!(b.get("prog_len"), 77);
    // Read-only registers: SLVERR, unchanged.
    for r in REGISTERS.iter().filter(|r| r.access == Access::ReadOnly) {
        let before = b.read_ok(r.offset);
        assert_eq!(b.write(r.offset, !before, 0xf), Resp::SlvErr, "{}", r.name);
        assert_eq!(b.read_ok(r.offset), before, "{}", r.name);
    }
    // Unmapped addresses.
    for addr in (0..1u32 << regs::ADDR_BITS).step_by(4) {
        if regs::at(addr).is_none() {
            assert_eq!(b.read(addr).1, Resp::SlvErr, "read {addr:#x}");
            assert_eq!(
                b.write(addr, 0xffff_ffff, 0xf),
                Resp::SlvErr,
                "write {addr:#x}"
            );
        }
    }
    assert_eq!(b.read_ok(regs::ID), 0xACC6_0001);
}

#[test]
fn start_done_ready_interrupts_and_errors_follow_hls() {
    let mut b = Bench::new(12);
    // Start: ap_start reads 1 and drives core_start until the core takes it.
    assert_eq!(b.write(regs::AP_CTRL, ctrl::AP_START, 0x1), Resp::Okay);
    assert_eq!(b.get("core_start"), 1);
    assert_eq!(b.read_ok(regs::AP_CTRL) & ctrl::AP_START, ctrl::AP_START);
    b.set("core_idle", 0);
    b.pulse("core_ready", 1);
    b.dut.tick();
    assert_eq!(b.get("core_start"), 0, "taken");
    let c = b.read_ok(regs::AP_CTRL);
    assert_eq!(
        c & (ctrl::AP_START | ctrl::AP_READY | ctrl::AP_IDLE),
        ctrl::AP_READY
    );
    assert_eq!(
        b.read_ok(regs::AP_CTRL) & ctrl::AP_READY,
        0,
        "ap_ready clears on read"
    );
    // Done with an error: ap_done until read, the error registers hold the fault.
    b.set("core_error", 3);
    b.set("core_error_index", 42);
    b.set("core_idle", 1);
    b.pulse("core_done", 1);
    b.set("core_error", 0);
    b.set("core_error_index", 0);
    b.dut.tick();
    let c = b.read_ok(regs::AP_CTRL);
    assert_eq!(
        c & (ctrl::AP_DONE | ctrl::AP_IDLE),
        ctrl::AP_DONE | ctrl::AP_IDLE
    );
    assert_eq!(
        b.read_ok(regs::AP_CTRL) & ctrl::AP_DONE,
        0,
        "ap_done clears on read"
    );
    assert_eq!(b.read_ok(regs::ERROR_CODE), 3);
    assert_eq!(b.read_ok(regs::ERROR_INDEX), 42);
    // Interrupts: nothing without GIE and IER.
    b.pulse("core_done", 1);
    b.dut.ticks(2);
    assert_eq!(b.read_ok(regs::ISR), 0);
    assert_eq!(b.get("irq"), 0);
    b.write(regs::IER, regs::irq::DONE, 0xf);
    b.pulse("core_done", 1);
    b.dut.ticks(2);
    assert_eq!(b.read_ok(regs::ISR), regs::irq::DONE);
    assert_eq!(b.get("irq"), 0, "GIE is off");
    b.write(regs::GIE, 1, 0xf);
    b.dut.ticks(2);
    assert_eq!(b.get("irq"), 1);
    // ISR toggles on write: writing 1 clears the set bit, and the line drops.
    b.write(regs::ISR, regs::irq::DONE, 0xf);
    b.dut.ticks(2);
    assert_eq!(b.read_ok(regs::ISR), 0);
    assert_eq!(b.get("irq"), 0);
    // A ready event is not enabled: no ISR bit.
    b.pulse("core_ready", 1);
    b.dut.ticks(2);
    assert_eq!(b.read_ok(regs::ISR), 0);
    // auto_restart: ap_start comes back at every done.
    b.write(regs::AP_CTRL, ctrl::AP_START | ctrl::AUTO_RESTART, 0x1);
    assert_eq!(b.get("core_start"), 1);
    b.pulse("core_ready", 1);
    b.dut.tick();
    assert_eq!(b.get("core_start"), 0);
    b.pulse("core_done", 1);
    b.dut.tick();
    assert_eq!(b.get("core_start"), 1, "restarted");
    assert_eq!(
        b.read_ok(regs::AP_CTRL) & ctrl::AUTO_RESTART,
        ctrl::AUTO_RESTART
    );
}

#[test]
fn counters_run_from_ready_to_done_and_latch_the_high_half() {
    let mut b = Bench::new(13);
    b.pulse("core_ready", 1);
    // 17M cycles at 255 bytes per cycle: the byte counter passes 2^32.
    let n: u64 = 17_000_000;
    b.set("busy_load", 1);
    b.set("rd_bytes", 255);
    b.set("wr_bytes", 2);
    b.dut.ticks(n / 2);
    b.set("busy_compute", 1);
    b.dut.ticks(n - n / 2);
    b.set("core_done", 1);
    b.dut.tick();
    b.set("core_done", 0);
    for p in ["busy_load", "busy_compute", "rd_bytes", "wr_bytes"] {
        b.set(p, 0);
    }
    // Counting started at the edge after core_ready and ended at core_done's edge.
    let read64 = |b: &mut Bench, lo: u32| -> u64 {
        let l = b.read_ok(lo) as u64;
        let h = b.read_ok(lo + 4) as u64;
        h << 32 | l
    };
    assert_eq!(read64(&mut b, regs::CYCLES_LO), n + 1);
    assert_eq!(read64(&mut b, regs::BUSY_LOAD_LO), n + 1);
    assert_eq!(read64(&mut b, regs::BUSY_COMPUTE_LO), n - n / 2 + 1);
    assert_eq!(read64(&mut b, regs::BUSY_STORE_LO), 0);
    let bytes = read64(&mut b, regs::BYTES_READ_LO);
    assert_eq!(bytes, 255 * (n + 1));
    assert!(bytes > 1 << 32, "the high half is exercised");
    assert_eq!(read64(&mut b, regs::BYTES_WRITTEN_LO), 2 * (n + 1));
    // The high half is the one latched by the low read, even if the counter moves.
    let a = 255 * (n + 1);
    b.set("rd_bytes", 255);
    let t0 = b.dut.cycle();
    let lo = b.read_ok(regs::BYTES_READ_LO) as u64;
    let t1 = b.dut.cycle();
    b.dut.ticks(20_000_000);
    let hi = b.read_ok(regs::BYTES_READ_HI) as u64;
    b.set("rd_bytes", 0);
    let v = hi << 32 | lo;
    assert!(
        (a..=a + 255 * (t1 - t0 + 1)).contains(&v),
        "lo/hi read as {v}, expected the value at the low read, {a}..{}",
        a + 255 * (t1 - t0 + 1)
    );
    let now = read64(&mut b, regs::BYTES_READ_LO);
    assert!(now >> 32 > hi, "the counter moved on: {now} vs {v}");
}
