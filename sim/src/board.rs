//! The simulated board: the accelerator top in Verilator with the AXI4 memory model as
//! its DRAM, driven only through what a host has on a real board: 32-bit register
//! reads and writes on `s_axi_control` (AXI4-Lite), DRAM buffers, and the interrupt.
//! `accgen serve` puts it behind a socket for the drivers.
//!
//! Simulated time advances only inside these calls: every register access takes its
//! AXI4-Lite handshakes, and [`SimBoard::wait_irq`] and [`SimBoard::run`] run the
//! clock. The memory model is stepped on every cycle, also during register accesses,
//! so a driver that polls `ap_ctrl` while the accelerator runs sees what hardware
//! would.

use accgen_golden::config::Config;

use crate::axi_mem::{AxiMem, AxiMemConfig};
use crate::axilite::{AxiLiteMaster, Resp};
use crate::build::Model;
use crate::dut::{Dut, OutPort};
use crate::error::{SimError, SimResult};

/// The first DRAM address [`SimBoard::alloc`] hands out (address 0 stays unused, so a
/// null buffer address faults).
pub const ALLOC_BASE: u64 = 0x1000;

/// A simulated board.
pub struct SimBoard {
    dut: Dut,
    axi: AxiMem,
    bus: AxiLiteMaster,
    irq: OutPort,
    next_free: u64,
}

impl SimBoard {
    /// A board around a fresh (randomised) instance of `model` (built from `cfg`'s
    /// accelerator top) with `mem_bytes` of DRAM answering after `mem_latency`
    /// cycles, stalling with probability `stall` per channel and cycle; reset.
    pub fn new(
        model: &Model,
        cfg: &Config,
        mem_bytes: usize,
        mem_latency: u64,
        stall: f64,
        seed: u64,
    ) -> SimResult<SimBoard> {
        let data_bytes = cfg.accel.as_ref().map_or(16, |a| a.axi_data_bits / 8) as usize;
        let mut dut = model.instantiate_randomized(seed.max(1))?;
        let axi = AxiMem::new(
            &mut dut,
            "m_axi_gmem_",
            vec![0u8; mem_bytes],
            AxiMemConfig {
                data_bytes,
                read_latency: mem_latency,
                stall,
                seed,
                max_outstanding: 64,
                error_ranges: vec![],
                write_latency: mem_latency / 2,
            },
        )?;
        let bus = AxiLiteMaster::new(&mut dut, "s_axi_control_", seed, stall)?;
        let irq = dut.output("irq")?;
        dut.reset(3);
        Ok(SimBoard {
            dut,
            axi,
            bus,
            irq,
            next_free: ALLOC_BASE,
        })
    }

    /// Read a 32-bit register: (value, response).
    pub fn read32(&mut self, addr: u32) -> SimResult<(u32, Resp)> {
        let axi = &mut self.axi;
        self.bus
            .read_with(&mut self.dut, addr, &mut |d: &mut Dut| axi.step(d))
    }

    /// Write a 32-bit register (all bytes): the response.
    pub fn write32(&mut self, addr: u32, value: u32) -> SimResult<Resp> {
        let axi = &mut self.axi;
        self.bus
            .write_with(&mut self.dut, addr, value, 0xf, &mut |d: &mut Dut| {
                axi.step(d)
            })
    }

    /// A DRAM buffer of `bytes` bytes aligned to `align` (a power of two): its
    /// address. Buffers are never freed.
    pub fn alloc(&mut self, bytes: u64, align: u64) -> SimResult<u64> {
        if align == 0 || !align.is_power_of_two() {
            return Err(SimError::Protocol(format!(
                "alignment {align} is not a power of two"
            )));
        }
        let at = self.next_free.div_ceil(align) * align;
        let end = at.checked_add(bytes.max(1));
        match end {
            Some(e) if e <= self.axi.mem.len() as u64 => {
                self.next_free = e;
                Ok(at)
            }
            _ => Err(SimError::Protocol(format!(
                "out of simulated DRAM: {bytes} bytes at {at:#x} do not fit {} bytes",
                self.axi.mem.len()
            ))),
        }
    }

    fn range(&self, addr: u64, len: usize) -> SimResult<std::ops::Range<usize>> {
        let end = addr.checked_add(len as u64);
        match end {
            Some(e) if e <= self.axi.mem.len() as u64 => Ok(addr as usize..e as usize),
            _ => Err(SimError::Protocol(format!(
                "DRAM range {addr:#x}+{len} is outside the {} bytes of simulated DRAM",
                self.axi.mem.len()
            ))),
        }
    }

    /// Copy `data` into DRAM at `addr` (as the host's cache-coherent write would).
    pub fn mem_write(&mut self, addr: u64, data: &[u8]) -> SimResult<()> {
        let r = self.range(addr, data.len())?;
        self.axi.mem[r].copy_from_slice(data);
        Ok(())
    }

    /// `len` bytes of DRAM at `addr`.
    pub fn mem_read(&self, addr: u64, len: usize) -> SimResult<Vec<u8>> {
        let r = self.range(addr, len)?;
        Ok(self.axi.mem[r].to_vec())
    }

    /// Run until the interrupt is high or `timeout` cycles passed: `Some(cycles
    /// waited)` or `None`.
    pub fn wait_irq(&mut self, timeout: u64) -> SimResult<Option<u64>> {
        let start = self.dut.cycle();
        loop {
            if self.dut.peek_u64(self.irq) != 0 {
                return Ok(Some(self.dut.cycle() - start));
            }
            if self.dut.cycle() - start >= timeout {
                return Ok(None);
            }
            self.axi.step(&mut self.dut)?;
            self.dut.tick();
        }
    }

    /// Run `cycles` clock cycles.
    pub fn run(&mut self, cycles: u64) -> SimResult<()> {
        for _ in 0..cycles {
            self.axi.step(&mut self.dut)?;
            self.dut.tick();
        }
        Ok(())
    }

    /// The current cycle.
    pub fn cycle(&self) -> u64 {
        self.dut.cycle()
    }

    /// Bytes of simulated DRAM.
    pub fn mem_bytes(&self) -> usize {
        self.axi.mem.len()
    }
}
