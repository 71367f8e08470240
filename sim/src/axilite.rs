//! An AXI4-Lite master for co-simulation, with protocol checks on the slave.
//!
//! Each transaction raises the address and data `valid`s after independent random
//! delays (so a slave sees AW before W, W before AW, or both together), holds each
//! until its handshake, and drives `bready`/`rready` low with a configurable
//! probability. The slave's answers are checked: a response must come within
//! `timeout` cycles, and `bvalid`/`rvalid` (with `rresp`, `rdata`, `bresp`) must stay
//! unchanged until taken. A violation is an error naming the channel and the cycle.

use crate::dut::{Dut, InPort, OutPort};
use crate::error::{SimError, SimResult};
use accgen_golden::rng::SplitMix64;

/// An AXI response code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resp {
    /// 0b00.
    Okay,
    /// 0b01 (not used by AXI4-Lite slaves, reported if seen).
    ExOkay,
    /// 0b10.
    SlvErr,
    /// 0b11.
    DecErr,
}

impl Resp {
    fn of(v: u64) -> Resp {
        match v & 3 {
            0 => Resp::Okay,
            1 => Resp::ExOkay,
            2 => Resp::SlvErr,
            _ => Resp::DecErr,
        }
    }
}

struct Ports {
    awaddr: InPort,
    awvalid: InPort,
    awready: OutPort,
    wdata: InPort,
    wstrb: InPort,
    wvalid: InPort,
    wready: OutPort,
    bresp: OutPort,
    bvalid: OutPort,
    bready: InPort,
    araddr: InPort,
    arvalid: InPort,
    arready: OutPort,
    rdata: OutPort,
    rresp: OutPort,
    rvalid: OutPort,
    rready: InPort,
}

/// The master, bound to ports `<prefix>awaddr` and so on.
pub struct AxiLiteMaster {
    p: Ports,
    rng: SplitMix64,
    /// Probability that a `valid` waits one more cycle, and that `bready`/`rready`
    /// is low in a cycle.
    pub hostility: f64,
    /// Cycles to wait for any handshake or response.
    pub timeout: u64,
}

fn violation(msg: String) -> SimError {
    SimError::Protocol(msg)
}

impl AxiLiteMaster {
    /// Bind to `dut`'s ports named `<prefix>awaddr`, ...; drive them idle.
    pub fn new(dut: &mut Dut, prefix: &str, seed: u64, hostility: f64) -> SimResult<AxiLiteMaster> {
        let i = |n: &str| dut.input(&format!("{prefix}{n}"));
        let o = |n: &str| dut.output(&format!("{prefix}{n}"));
        let p = Ports {
            awaddr: i("awaddr")?,
            awvalid: i("awvalid")?,
            awready: o("awready")?,
            wdata: i("wdata")?,
            wstrb: i("wstrb")?,
            wvalid: i("wvalid")?,
            wready: o("wready")?,
            bresp: o("bresp")?,
            bvalid: o("bvalid")?,
            bready: i("bready")?,
            araddr: i("araddr")?,
            arvalid: i("arvalid")?,
            arready: o("arready")?,
            rdata: o("rdata")?,
            rresp: o("rresp")?,
            rvalid: o("rvalid")?,
            rready: i("rready")?,
        };
        for port in [p.awvalid, p.wvalid, p.bready, p.arvalid, p.rready] {
            dut.poke_u64(port, 0);
        }
        Ok(AxiLiteMaster {
            p,
            rng: SplitMix64::new(seed),
            hostility,
            timeout: 1000,
        })
    }

    fn coin(&mut self) -> bool {
        self.rng.chance(self.hostility)
    }

    /// Write `data` with byte strobes `strb` to `addr`; the slave's response.
    pub fn write(&mut self, dut: &mut Dut, addr: u32, data: u32, strb: u8) -> SimResult<Resp> {
        self.write_with(dut, addr, data, strb, &mut |_| Ok(()))
    }

    /// [`AxiLiteMaster::write`], calling `each` before every clock edge (to step other
    /// bus models, such as the AXI4 memory, while the accelerator runs).
    pub fn write_with(
        &mut self,
        dut: &mut Dut,
        addr: u32,
        data: u32,
        strb: u8,
        each: &mut dyn FnMut(&mut Dut) -> SimResult<()>,
    ) -> SimResult<Resp> {
        dut.poke_u64(self.p.awaddr, addr as u64);
        dut.poke_u64(self.p.wdata, data as u64);
        dut.poke_u64(self.p.wstrb, strb as u64);
        let (mut aw_done, mut w_done) = (false, false);
        let (mut aw_on, mut w_on) = (false, false);
        let start = dut.cycle();
        loop {
            if dut.cycle() - start > self.timeout {
                return Err(violation(format!(
                    "AXI4-Lite write to {addr:#x}: no AW/W handshake within {} cycles (cycle {})",
                    self.timeout,
                    dut.cycle()
                )));
            }
            if !aw_done && !aw_on {
                aw_on = !self.coin();
            }
            if !w_done && !w_on {
                w_on = !self.coin();
            }
            dut.poke_u64(self.p.awvalid, aw_on as u64);
            dut.poke_u64(self.p.wvalid, w_on as u64);
            let aw_hs = aw_on && dut.peek_u64(self.p.awready) == 1;
            let w_hs = w_on && dut.peek_u64(self.p.wready) == 1;
            each(dut)?;
            dut.tick();
            if aw_hs {
                aw_done = true;
                aw_on = false;
            }
            if w_hs {
                w_done = true;
                w_on = false;
            }
            if aw_done && w_done {
                break;
            }
        }
        dut.poke_u64(self.p.awvalid, 0);
        dut.poke_u64(self.p.wvalid, 0);
        // B channel.
        let start = dut.cycle();
        let mut seen: Option<u64> = None;
        loop {
            if dut.cycle() - start > self.timeout {
                return Err(violation(format!(
                    "AXI4-Lite write to {addr:#x}: no B response within {} cycles (cycle {})",
                    self.timeout,
                    dut.cycle()
                )));
            }
            let ready = !self.coin();
            dut.poke_u64(self.p.bready, ready as u64);
            let valid = dut.peek_u64(self.p.bvalid) == 1;
            let resp = dut.peek_u64(self.p.bresp);
            if let Some(prev) = seen {
                if !valid || resp != prev {
                    return Err(violation(format!(
                        "AXI4-Lite B channel: bvalid dropped or bresp changed before bready (cycle {})",
                        dut.cycle()
                    )));
                }
            }
            each(dut)?;
            dut.tick();
            if valid && ready {
                dut.poke_u64(self.p.bready, 0);
                return Ok(Resp::of(resp));
            }
            if valid {
                seen = Some(resp);
            }
        }
    }

    /// Read `addr`: (data, response).
    pub fn read(&mut self, dut: &mut Dut, addr: u32) -> SimResult<(u32, Resp)> {
        self.read_with(dut, addr, &mut |_| Ok(()))
    }

    /// [`AxiLiteMaster::read`], calling `each` before every clock edge.
    pub fn read_with(
        &mut self,
        dut: &mut Dut,
        addr: u32,
        each: &mut dyn FnMut(&mut Dut) -> SimResult<()>,
    ) -> SimResult<(u32, Resp)> {
        dut.poke_u64(self.p.araddr, addr as u64);
        let start = dut.cycle();
        let mut on = false;
        loop {
            if dut.cycle() - start > self.timeout {
                return Err(violation(format!(
                    "AXI4-Lite read of {addr:#x}: no AR handshake within {} cycles (cycle {})",
                    self.timeout,
                    dut.cycle()
                )));
            }
            if !on {
                on = !self.coin();
            }
            dut.poke_u64(self.p.arvalid, on as u64);
            let hs = on && dut.peek_u64(self.p.arready) == 1;
            each(dut)?;
            dut.tick();
            if hs {
                break;
            }
        }
        dut.poke_u64(self.p.arvalid, 0);
        let start = dut.cycle();
        let mut seen: Option<(u64, u64)> = None;
        loop {
            if dut.cycle() - start > self.timeout {
                return Err(violation(format!(
                    "AXI4-Lite read of {addr:#x}: no R response within {} cycles (cycle {})",
                    self.timeout,
                    dut.cycle()
                )));
            }
            let ready = !self.coin();
            dut.poke_u64(self.p.rready, ready as u64);
            let valid = dut.peek_u64(self.p.rvalid) == 1;
            let now = (dut.peek_u64(self.p.rdata), dut.peek_u64(self.p.rresp));
            if let Some(prev) = seen {
                if !valid || now != prev {
                    return Err(violation(format!(
                        "AXI4-Lite R channel: rvalid dropped or rdata/rresp changed before rready (cycle {})",
                        dut.cycle()
                    )));
                }
            }
            each(dut)?;
            dut.tick();
            if valid && ready {
                dut.poke_u64(self.p.rready, 0);
                return Ok((now.0 as u32, Resp::of(now.1)));
            }
            if valid {
                seen = Some(now);
            }
        }
    }
}
