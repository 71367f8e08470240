//! Whole-accelerator co-simulation: the accelerator top in Verilator, driven as a
//! host driver would (AXI4-Lite registers, the program and data in the AXI4 memory
//! model, `ap_start`, the interrupt), then its counters read back.

use accgen_golden::config::Config;
use accgen_golden::regs;
use accgen_hw::rtl::Library;

use crate::axi_mem::{AxiMem, AxiMemConfig};
use crate::axilite::{AxiLiteMaster, Resp};
use crate::build::{Model, SimOptions};
use crate::error::{SimError, SimResult};

/// Memory behaviour of a run.
#[derive(Debug, Clone)]
pub struct AccelTiming {
    /// Read latency of the memory, in cycles (writes answer after half of it).
    pub mem_latency: u64,
    /// Probability of a stall on each memory channel and of a delay on the AXI4-Lite
    /// bus, per cycle.
    pub stall: f64,
    /// Seed of the stalls and of the initial state.
    pub seed: u64,
    /// Cycles to wait for the interrupt.
    pub timeout: u64,
}

/// What a run left.
#[derive(Debug, Clone)]
pub struct AccelRun {
    /// The memory image after `ap_done`.
    pub dram: Vec<u8>,
    /// The error register (0: none).
    pub error_code: u32,
    /// The error index register.
    pub error_index: u32,
    /// Cycles from `ap_start` to the interrupt.
    pub cycles: u64,
    /// Busy cycles of the load, compute and store engines.
    pub busy: [u64; 3],
    /// DRAM bytes read (fetch included) and written, from the counters.
    pub bytes_read: u64,
    /// See `bytes_read`.
    pub bytes_written: u64,
}

/// Build (or fetch from the cache) the Verilator model of `cfg`'s accelerator top.
pub fn build_accel(cfg: &Config) -> SimResult<Model> {
    build_accel_with(cfg, &SimOptions::new())
}

/// [`build_accel`] with build options (a VCD trace, cache roots).
pub fn build_accel_with(cfg: &Config, opts: &SimOptions) -> SimResult<Model> {
    let mut lib = Library::new();
    let top = accgen_hw::accel::top::accel_top(&mut lib, cfg)?;
    Model::build(&top, opts)
}

fn ok(r: Resp, what: &str) -> SimResult<()> {
    if r != Resp::Okay {
        return Err(SimError::Protocol(format!(
            "AXI4-Lite {what} answered {r:?}"
        )));
    }
    Ok(())
}

/// Run the program of `prog_len` instructions at `prog_addr` in `dram` (DRAM base 0)
/// on a fresh instance of `model`. Bus protocol violations and a missing interrupt
/// are errors.
pub fn run_accel(
    model: &Model,
    cfg: &Config,
    dram: Vec<u8>,
    prog_addr: u64,
    prog_len: u32,
    t: &AccelTiming,
) -> SimResult<AccelRun> {
    let data_bytes = cfg.accel.as_ref().map_or(16, |a| a.axi_data_bits / 8) as usize;
    let mut dut = model.instantiate_randomized(t.seed.max(1))?;
    let mut axi = AxiMem::new(
        &mut dut,
        "m_axi_gmem_",
        dram,
        AxiMemConfig {
            data_bytes,
            read_latency: t.mem_latency,
            stall: t.stall,
            seed: t.seed,
            max_outstanding: 64,
            error_ranges: vec![],
            write_latency: t.mem_latency / 2,
        },
    )?;
    let mut bus = AxiLiteMaster::new(&mut dut, "s_axi_control_", t.seed, t.stall)?;
    dut.reset(3);
    for (reg, v) in [
        (regs::PROG_ADDR_LO, prog_addr as u32),
        (regs::PROG_ADDR_HI, (prog_addr >> 32) as u32),
        (regs::PROG_LEN, prog_len),
        (regs::DRAM_BASE_LO, 0),
        (regs::DRAM_BASE_HI, 0),
        (regs::GIE, 1),
        (regs::IER, regs::irq::DONE),
        (regs::AP_CTRL, regs::ctrl::AP_START),
    ] {
        let r = bus.write(&mut dut, reg, v, 0xf)?;
        ok(r, "register write")?;
    }
    let irq = dut.output("irq")?;
    let start = dut.cycle();
    while dut.peek_u64(irq) == 0 {
        if dut.cycle() - start > t.timeout {
            return Err(SimError::Protocol(format!(
                "no interrupt within {} cycles of ap_start",
                t.timeout
            )));
        }
        axi.step(&mut dut)?;
        dut.tick();
    }
    let cycles = dut.cycle() - start;
    let mut read = |reg: u32| -> SimResult<u64> {
        let (v, r) = bus.read(&mut dut, reg)?;
        ok(r, "register read")?;
        Ok(v as u64)
    };
    let ctrl = read(regs::AP_CTRL)?;
    if ctrl & regs::ctrl::AP_DONE as u64 == 0 {
        return Err(SimError::Protocol(
            "the interrupt rose without ap_done".into(),
        ));
    }
    let error_code = read(regs::ERROR_CODE)? as u32;
    let error_index = read(regs::ERROR_INDEX)? as u32;
    let mut read64 = |lo: u32| -> SimResult<u64> {
        let l = read(lo)?;
        let h = read(lo + 4)?;
        Ok(h << 32 | l)
    };
    let busy = [
        read64(regs::BUSY_LOAD_LO)?,
        read64(regs::BUSY_COMPUTE_LO)?,
        read64(regs::BUSY_STORE_LO)?,
    ];
    let bytes_read = read64(regs::BYTES_READ_LO)?;
    let bytes_written = read64(regs::BYTES_WRITTEN_LO)?;
    Ok(AccelRun {
        dram: axi.mem.clone(),
        error_code,
        error_index,
        cycles,
        busy,
        bytes_read,
        bytes_written,
    })
}
