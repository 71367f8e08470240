//! An AXI4 slave memory for co-simulating bus masters, with protocol checks.
//!
//! Bound to the master's `<prefix>ar*`/`<prefix>r*` ports (read channels; the write
//! channels come with the write DMA). Call [`AxiMem::step`] once per cycle, before
//! [`Dut::tick`]: it drives the slave's outputs for this cycle, samples the master's,
//! and records the handshakes that happen at the coming edge.
//!
//! - **Timing:** a read burst's first beat is offered `read_latency` cycles after its
//!   address handshake; `arready` and each `rvalid` are withheld with probability
//!   `stall` (seeded); at most `max_outstanding` bursts are accepted at once.
//! - **Responses:** beats whose bytes lie outside the memory answer DECERR, beats
//!   touching an `error_ranges` byte answer SLVERR (data 0); in order, one ID.
//! - **Checks** (a violation is an error naming the channel and the cycle): INCR bursts
//!   only, full-width beats (`arsize` = log2 of the data bytes), addresses aligned to
//!   the beat, at most 256 beats, no burst crossing a 4 KB boundary, and `arvalid`
//!   held with a stable payload until `arready`.

use std::collections::VecDeque;
use std::ops::Range;

use accgen_golden::rng::SplitMix64;
use accgen_hw::rtl::Value;

use crate::dut::{Dut, InPort, OutPort};
use crate::error::{SimError, SimResult};

/// Behaviour of the memory.
#[derive(Debug, Clone)]
pub struct AxiMemConfig {
    /// Bytes per data beat (8, 16, 32 or 64).
    pub data_bytes: usize,
    /// Cycles from an address handshake to the first data beat.
    pub read_latency: u64,
    /// Probability that `arready` or a beat's `rvalid` is withheld in a cycle.
    pub stall: f64,
    /// Seed of the stalls.
    pub seed: u64,
    /// Read bursts accepted at once.
    pub max_outstanding: usize,
    /// Byte ranges that answer SLVERR.
    pub error_ranges: Vec<Range<u64>>,
}

/// What the memory saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AxiMemStats {
    /// Read bursts accepted.
    pub read_bursts: u64,
    /// Read beats delivered.
    pub read_beats: u64,
    /// Most read bursts in flight at once.
    pub max_reads_in_flight: usize,
    /// Longest burst, in beats.
    pub max_burst_beats: u64,
}

struct Burst {
    addr: u64,
    beats: u64,
    next: u64,
    ready_at: u64,
}

struct Ports {
    araddr: OutPort,
    arlen: OutPort,
    arsize: OutPort,
    arburst: OutPort,
    arvalid: OutPort,
    arready: InPort,
    rdata: InPort,
    rresp: InPort,
    rlast: InPort,
    rvalid: InPort,
    rready: OutPort,
}

/// The memory and its channel state.
pub struct AxiMem {
    cfg: AxiMemConfig,
    /// Contents, from address 0.
    pub mem: Vec<u8>,
    p: Ports,
    rng: SplitMix64,
    reads: VecDeque<Burst>,
    /// AR seen valid but not ready last cycle: (addr, len, size, burst).
    ar_waiting: Option<(u64, u64, u64, u64)>,
    /// The beat offered this cycle, if any.
    r_offer: bool,
    /// Counters.
    pub stats: AxiMemStats,
}

fn err(msg: String) -> SimError {
    SimError::Protocol(msg)
}

impl AxiMem {
    /// Bind to `dut`'s ports named `<prefix>araddr` and so on.
    pub fn new(dut: &mut Dut, prefix: &str, mem: Vec<u8>, cfg: AxiMemConfig) -> SimResult<AxiMem> {
        let i = |n: &str| dut.input(&format!("{prefix}{n}"));
        let o = |n: &str| dut.output(&format!("{prefix}{n}"));
        let p = Ports {
            araddr: o("araddr")?,
            arlen: o("arlen")?,
            arsize: o("arsize")?,
            arburst: o("arburst")?,
            arvalid: o("arvalid")?,
            arready: i("arready")?,
            rdata: i("rdata")?,
            rresp: i("rresp")?,
            rlast: i("rlast")?,
            rvalid: i("rvalid")?,
            rready: o("rready")?,
        };
        dut.poke_u64(p.arready, 0);
        dut.poke_u64(p.rvalid, 0);
        Ok(AxiMem {
            rng: SplitMix64::new(cfg.seed),
            cfg,
            mem,
            p,
            reads: VecDeque::new(),
            ar_waiting: None,
            r_offer: false,
            stats: AxiMemStats::default(),
        })
    }

    /// Read bursts accepted and not finished.
    pub fn reads_in_flight(&self) -> usize {
        self.reads.len()
    }

    fn beat(&self, addr: u64) -> (Value, u64) {
        let b = self.cfg.data_bytes as u64;
        let in_mem = addr
            .checked_add(b)
            .is_some_and(|e| e <= self.mem.len() as u64);
        if !in_mem {
            return (Value::zero(8 * b as u32), 3);
        }
        if self
            .cfg
            .error_ranges
            .iter()
            .any(|r| r.start < addr + b && addr < r.end)
        {
            return (Value::zero(8 * b as u32), 2);
        }
        let bytes = &self.mem[addr as usize..(addr + b) as usize];
        let words: Vec<u64> = bytes
            .chunks(8)
            .map(|c| c.iter().rev().fold(0u64, |w, &x| w << 8 | x as u64))
            .collect();
        (Value::from_words(8 * b as u32, &words).expect("fits"), 0)
    }

    /// One cycle: drive this cycle's outputs, check and record the master's.
    pub fn step(&mut self, dut: &mut Dut) -> SimResult<()> {
        let cyc = dut.cycle();
        let b = self.cfg.data_bytes as u64;
        // AR channel.
        let ready = self.reads.len() < self.cfg.max_outstanding && !self.rng.chance(self.cfg.stall);
        dut.poke_u64(self.p.arready, ready as u64);
        let valid = dut.peek_u64(self.p.arvalid) == 1;
        let payload = (
            dut.peek_u64(self.p.araddr),
            dut.peek_u64(self.p.arlen),
            dut.peek_u64(self.p.arsize),
            dut.peek_u64(self.p.arburst),
        );
        if let Some(w) = self.ar_waiting {
            if !valid || payload != w {
                return Err(err(format!(
                    "AXI4 AR: arvalid dropped or the address changed before arready (cycle {cyc})"
                )));
            }
        }
        self.ar_waiting = None;
        if valid && ready {
            let (addr, len, size, burst) = payload;
            let beats = len + 1;
            if burst != 1 {
                return Err(err(format!(
                    "AXI4 AR: arburst = {burst} at cycle {cyc}; only INCR (1) is allowed"
                )));
            }
            if 1u64 << size != b {
                return Err(err(format!(
                    "AXI4 AR: arsize = {size} ({} bytes) at cycle {cyc}; beats must be the full {b} bytes",
                    1u64 << size
                )));
            }
            if addr % b != 0 {
                return Err(err(format!(
                    "AXI4 AR: address {addr:#x} at cycle {cyc} is not aligned to {b} bytes"
                )));
            }
            if addr / 4096 != (addr + beats * b - 1) / 4096 {
                return Err(err(format!(
                    "AXI4 AR: burst at {addr:#x} of {beats} beats crosses a 4 KB boundary (cycle {cyc})"
                )));
            }
            self.reads.push_back(Burst {
                addr,
                beats,
                next: 0,
                ready_at: cyc + 1 + self.cfg.read_latency,
            });
            self.stats.read_bursts += 1;
            self.stats.max_burst_beats = self.stats.max_burst_beats.max(beats);
            self.stats.max_reads_in_flight = self.stats.max_reads_in_flight.max(self.reads.len());
        } else if valid {
            self.ar_waiting = Some(payload);
        }
        // R channel: keep offering a beat until it is taken.
        if !self.r_offer {
            if let Some(f) = self.reads.front() {
                if cyc >= f.ready_at && !self.rng.chance(self.cfg.stall) {
                    let (data, resp) = self.beat(f.addr + f.next * b);
                    dut.poke(self.p.rdata, &data);
                    dut.poke_u64(self.p.rresp, resp);
                    dut.poke_u64(self.p.rlast, (f.next + 1 == f.beats) as u64);
                    self.r_offer = true;
                }
            }
        }
        dut.poke_u64(self.p.rvalid, self.r_offer as u64);
        if self.r_offer && dut.peek_u64(self.p.rready) == 1 {
            self.r_offer = false;
            self.stats.read_beats += 1;
            let f = self.reads.front_mut().expect("offered a beat");
            f.next += 1;
            if f.next == f.beats {
                self.reads.pop_front();
            }
        }
        Ok(())
    }
}
