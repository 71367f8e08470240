//! An AXI4 slave memory for co-simulating bus masters, with protocol checks.
//!
//! Bound to the master's `<prefix>ar*`/`<prefix>r*` read channels and, when the
//! master has them, its `aw*`/`w*`/`b*` write channels. Call [`AxiMem::step`] once
//! per cycle, before [`Dut::tick`]: it drives the slave's outputs for this cycle,
//! samples the master's, and records the handshakes that happen at the coming edge.
//!
//! - **Timing:** a read burst's first beat is offered `read_latency` cycles after its
//!   address handshake; `arready` and each `rvalid` are withheld with probability
//!   `stall` (seeded); at most `max_outstanding` bursts are accepted at once.
//! - **Responses:** beats whose bytes lie outside the memory answer DECERR, beats
//!   touching an `error_ranges` byte answer SLVERR (data 0); in order, with `rid`
//!   and `bid` echoing the burst's `arid`/`awid` when the master has IDs.
//! - **Writes:** a burst's W beats are taken after its AW (the slave may wait for
//!   the address); bytes are written where `wstrb` is set; the response comes
//!   `write_latency` cycles after the last beat: OKAY, SLVERR (an `error_ranges` byte)
//!   or DECERR (outside the memory, nothing written).
//! - **Checks** (a violation is an error naming the channel and the cycle): INCR bursts
//!   only, full-width beats (`arsize`/`awsize` = log2 of the data bytes), addresses
//!   aligned to the beat, at most 256 beats, no burst crossing a 4 KB boundary,
//!   `arvalid`, `awvalid` and `wvalid` held with a stable payload until their ready,
//!   and `wlast` exactly on each burst's last beat.

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
    /// Cycles from a write burst's last beat to its response.
    pub write_latency: u64,
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
    /// Write bursts accepted.
    pub write_bursts: u64,
    /// Write beats taken.
    pub write_beats: u64,
    /// Most write bursts awaiting their response at once.
    pub max_writes_in_flight: usize,
}

struct WBurst {
    id: u64,
    addr: u64,
    beats: u64,
    got: u64,
    resp: u64,
    respond_at: Option<u64>,
}

struct WPorts {
    /// `awid` and `bid`, when the master has IDs.
    ids: Option<(OutPort, InPort)>,
    awaddr: OutPort,
    awlen: OutPort,
    awsize: OutPort,
    awburst: OutPort,
    awvalid: OutPort,
    awready: InPort,
    wdata: OutPort,
    wstrb: OutPort,
    wlast: OutPort,
    wvalid: OutPort,
    wready: InPort,
    bresp: InPort,
    bvalid: InPort,
    bready: OutPort,
}

struct Burst {
    id: u64,
    addr: u64,
    beats: u64,
    next: u64,
    ready_at: u64,
}

struct Ports {
    /// `arid` and `rid`, when the master has IDs.
    ids: Option<(OutPort, InPort)>,
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
    p: Option<Ports>,
    rng: SplitMix64,
    reads: VecDeque<Burst>,
    /// AR seen valid but not ready last cycle: (addr, len, size, burst).
    ar_waiting: Option<(u64, u64, u64, u64)>,
    /// The beat offered this cycle, if any.
    r_offer: bool,
    w: Option<WPorts>,
    writes: VecDeque<WBurst>,
    aw_waiting: Option<(u64, u64, u64, u64)>,
    w_waiting: Option<(Value, u64, u64)>,
    b_offer: bool,
    /// Counters.
    pub stats: AxiMemStats,
}

fn err(msg: String) -> SimError {
    SimError::Protocol(msg)
}

impl AxiMem {
    /// Bind to `dut`'s ports named `<prefix>araddr` and so on.
    pub fn new(dut: &mut Dut, prefix: &str, mem: Vec<u8>, cfg: AxiMemConfig) -> SimResult<AxiMem> {
        let i = |d: &Dut, n: &str| d.input(&format!("{prefix}{n}"));
        let o = |d: &Dut, n: &str| d.output(&format!("{prefix}{n}"));
        let has = |d: &Dut, n: &str| {
            d.spec()
                .ports
                .iter()
                .any(|q| q.name == format!("{prefix}{n}"))
        };
        if !has(dut, "araddr") && !has(dut, "awaddr") {
            return Err(err(format!(
                "the design has neither `{prefix}araddr` nor `{prefix}awaddr`: no AXI4 master to serve"
            )));
        }
        let p = if has(dut, "araddr") {
            Some(Ports {
                araddr: o(dut, "araddr")?,
                arlen: o(dut, "arlen")?,
                arsize: o(dut, "arsize")?,
                arburst: o(dut, "arburst")?,
                arvalid: o(dut, "arvalid")?,
                arready: i(dut, "arready")?,
                rdata: i(dut, "rdata")?,
                rresp: i(dut, "rresp")?,
                rlast: i(dut, "rlast")?,
                rvalid: i(dut, "rvalid")?,
                rready: o(dut, "rready")?,
                ids: if has(dut, "arid") {
                    Some((o(dut, "arid")?, i(dut, "rid")?))
                } else {
                    None
                },
            })
        } else {
            None
        };
        if let Some(p) = &p {
            dut.poke_u64(p.arready, 0);
            dut.poke_u64(p.rvalid, 0);
        }
        let w = if dut
            .spec()
            .ports
            .iter()
            .any(|q| q.name == format!("{prefix}awaddr"))
        {
            let w = WPorts {
                awaddr: o(dut, "awaddr")?,
                awlen: o(dut, "awlen")?,
                awsize: o(dut, "awsize")?,
                awburst: o(dut, "awburst")?,
                awvalid: o(dut, "awvalid")?,
                awready: i(dut, "awready")?,
                wdata: o(dut, "wdata")?,
                wstrb: o(dut, "wstrb")?,
                wlast: o(dut, "wlast")?,
                wvalid: o(dut, "wvalid")?,
                wready: i(dut, "wready")?,
                bresp: i(dut, "bresp")?,
                bvalid: i(dut, "bvalid")?,
                bready: o(dut, "bready")?,
                ids: if has(dut, "awid") {
                    Some((o(dut, "awid")?, i(dut, "bid")?))
                } else {
                    None
                },
            };
            dut.poke_u64(w.awready, 0);
            dut.poke_u64(w.wready, 0);
            dut.poke_u64(w.bvalid, 0);
            Some(w)
        } else {
            None
        };
        Ok(AxiMem {
            w,
            writes: VecDeque::new(),
            aw_waiting: None,
            w_waiting: None,
            b_offer: false,
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
        self.step_reads(dut)?;
        self.step_writes(dut)
    }

    fn step_reads(&mut self, dut: &mut Dut) -> SimResult<()> {
        let Some(rp) = &self.p else {
            return Ok(());
        };
        let (arready, arvalid, araddr, arlen, arsize, arburst) = (
            rp.arready, rp.arvalid, rp.araddr, rp.arlen, rp.arsize, rp.arburst,
        );
        let (rdata, rresp, rlast, rvalid, rready) =
            (rp.rdata, rp.rresp, rp.rlast, rp.rvalid, rp.rready);
        let r_ids = rp.ids;
        let cyc = dut.cycle();
        let b = self.cfg.data_bytes as u64;
        // AR channel.
        let ready = self.reads.len() < self.cfg.max_outstanding && !self.rng.chance(self.cfg.stall);
        dut.poke_u64(arready, ready as u64);
        let valid = dut.peek_u64(arvalid) == 1;
        let payload = (
            dut.peek_u64(araddr),
            dut.peek_u64(arlen),
            dut.peek_u64(arsize),
            dut.peek_u64(arburst),
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
            check_burst("AR", addr, beats, size, burst, b, cyc)?;
            let id = r_ids.map_or(0, |(a, _)| dut.peek_u64(a));
            self.reads.push_back(Burst {
                id,
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
                    if let Some((_, rid)) = r_ids {
                        dut.poke_u64(rid, f.id);
                    }
                    dut.poke(rdata, &data);
                    dut.poke_u64(rresp, resp);
                    dut.poke_u64(rlast, (f.next + 1 == f.beats) as u64);
                    self.r_offer = true;
                }
            }
        }
        dut.poke_u64(rvalid, self.r_offer as u64);
        if self.r_offer && dut.peek_u64(rready) == 1 {
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

    /// Write bursts accepted and not yet answered.
    pub fn writes_in_flight(&self) -> usize {
        self.writes.len()
    }

    fn step_writes(&mut self, dut: &mut Dut) -> SimResult<()> {
        let Some(w) = &self.w else {
            return Ok(());
        };
        let (awready, awvalid, awaddr, awlen, awsize, awburst) =
            (w.awready, w.awvalid, w.awaddr, w.awlen, w.awsize, w.awburst);
        let (wready, wvalid, wdata, wstrb, wlast) = (w.wready, w.wvalid, w.wdata, w.wstrb, w.wlast);
        let (bvalid, bresp, bready) = (w.bvalid, w.bresp, w.bready);
        let w_ids = w.ids;
        let cyc = dut.cycle();
        let b = self.cfg.data_bytes as u64;
        // AW.
        let ready =
            self.writes.len() < self.cfg.max_outstanding && !self.rng.chance(self.cfg.stall);
        dut.poke_u64(awready, ready as u64);
        let valid = dut.peek_u64(awvalid) == 1;
        let payload = (
            dut.peek_u64(awaddr),
            dut.peek_u64(awlen),
            dut.peek_u64(awsize),
            dut.peek_u64(awburst),
        );
        if let Some(prev) = self.aw_waiting {
            if !valid || payload != prev {
                return Err(err(format!(
                    "AXI4 AW: awvalid dropped or the address changed before awready (cycle {cyc})"
                )));
            }
        }
        self.aw_waiting = None;
        if valid && ready {
            let (addr, len, size, burst) = payload;
            check_burst("AW", addr, len + 1, size, burst, b, cyc)?;
            let id = w_ids.map_or(0, |(a, _)| dut.peek_u64(a));
            self.writes.push_back(WBurst {
                id,
                addr,
                beats: len + 1,
                got: 0,
                resp: 0,
                respond_at: None,
            });
            self.stats.write_bursts += 1;
            self.stats.max_burst_beats = self.stats.max_burst_beats.max(len + 1);
            self.stats.max_writes_in_flight =
                self.stats.max_writes_in_flight.max(self.writes.len());
        } else if valid {
            self.aw_waiting = Some(payload);
        }
        // W: into the oldest burst still taking data.
        let open = self.writes.iter().position(|x| x.got < x.beats);
        let ready = open.is_some() && !self.rng.chance(self.cfg.stall);
        dut.poke_u64(wready, ready as u64);
        let valid = dut.peek_u64(wvalid) == 1;
        let beat = (dut.peek(wdata), dut.peek_u64(wstrb), dut.peek_u64(wlast));
        if let Some(prev) = &self.w_waiting {
            if !valid || &beat != prev {
                return Err(err(format!(
                    "AXI4 W: wvalid dropped or the beat changed before wready (cycle {cyc})"
                )));
            }
        }
        self.w_waiting = None;
        if valid && ready {
            let i = open.expect("ready only with an open burst");
            let in_err = {
                let wb = &self.writes[i];
                let addr = wb.addr + wb.got * b;
                self.cfg
                    .error_ranges
                    .iter()
                    .any(|r| r.start < addr + b && addr < r.end)
            };
            let mem_len = self.mem.len() as u64;
            let wb = &mut self.writes[i];
            let last = wb.got + 1 == wb.beats;
            if (beat.2 == 1) != last {
                return Err(err(format!(
                    "AXI4 W: wlast = {} on beat {} of a {}-beat burst at {:#x} (cycle {cyc})",
                    beat.2,
                    wb.got + 1,
                    wb.beats,
                    wb.addr
                )));
            }
            let addr = wb.addr + wb.got * b;
            wb.got += 1;
            if last {
                wb.respond_at = Some(cyc + 1 + self.cfg.write_latency);
            }
            if addr + b > mem_len {
                wb.resp = wb.resp.max(3);
            } else if in_err {
                wb.resp = wb.resp.max(2);
            } else {
                for k in 0..b {
                    if beat.1 >> k & 1 == 1 {
                        self.mem[(addr + k) as usize] =
                            (beat.0.words()[(k / 8) as usize] >> (8 * (k % 8))) as u8;
                    }
                }
            }
            self.stats.write_beats += 1;
        } else if valid {
            self.w_waiting = Some(beat);
        }
        // B: in order.
        if !self.b_offer {
            if let Some(f) = self.writes.front() {
                if f.respond_at.is_some_and(|t| cyc >= t) && !self.rng.chance(self.cfg.stall) {
                    dut.poke_u64(bresp, f.resp);
                    if let Some((_, bid)) = w_ids {
                        dut.poke_u64(bid, f.id);
                    }
                    self.b_offer = true;
                }
            }
        }
        dut.poke_u64(bvalid, self.b_offer as u64);
        if self.b_offer && dut.peek_u64(bready) == 1 {
            self.b_offer = false;
            self.writes.pop_front();
        }
        Ok(())
    }
}

/// Check one burst's address phase.
fn check_burst(
    ch: &str,
    addr: u64,
    beats: u64,
    size: u64,
    burst: u64,
    b: u64,
    cyc: u64,
) -> SimResult<()> {
    if burst != 1 {
        return Err(err(format!(
            "AXI4 {ch}: burst type {burst} at cycle {cyc}; only INCR (1) is allowed"
        )));
    }
    if size >= 8 || 1u64 << size != b {
        return Err(err(format!(
            "AXI4 {ch}: size {size} at cycle {cyc}; beats must be the full {b} bytes"
        )));
    }
    if !addr.is_multiple_of(b) {
        return Err(err(format!(
            "AXI4 {ch}: address {addr:#x} at cycle {cyc} is not aligned to {b} bytes"
        )));
    }
    if addr / 4096 != (addr + beats * b - 1) / 4096 {
        return Err(err(format!(
            "AXI4 {ch}: burst at {addr:#x} of {beats} beats crosses a 4 KB boundary (cycle {cyc})"
        )));
    }
    Ok(())
}
