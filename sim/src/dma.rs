//! Co-simulation driver of the read DMA (`accgen_hw::accel::dma_read`) against the
//! AXI4 memory model: commands in, the byte stream checked out.

use std::collections::VecDeque;
use std::ops::Range;

use accgen_golden::rng::SplitMix64;
use accgen_hw::accel::dma_read::DmaParams;

use crate::axi_mem::{AxiMem, AxiMemConfig};
use crate::build::Model;
use crate::dut::Dut;
use crate::error::{SimError, SimResult};

/// Timing of a read-DMA run.
#[derive(Debug, Clone)]
pub struct ReadTiming {
    /// Memory read latency in cycles.
    pub latency: u64,
    /// Probability of a stall on each memory channel in a cycle.
    pub stall: f64,
    /// Probability that the consumer holds `out_ready` low in a cycle.
    pub out_stall: f64,
    /// Seed of all of it, and of the initial state.
    pub seed: u64,
    /// Byte ranges of the memory that answer SLVERR.
    pub error_ranges: Vec<Range<u64>>,
}

/// What a read-DMA run delivered.
#[derive(Debug, Clone)]
pub struct ReadRun {
    /// Bytes delivered per command, in order.
    pub got: Vec<Vec<u8>>,
    /// `out_error` on each command's last beat.
    pub errors: Vec<bool>,
    /// Most read bursts in flight at once.
    pub max_in_flight: usize,
    /// Cycles from the first command to the last beat.
    pub cycles: u64,
}

fn bad(msg: String) -> SimError {
    SimError::Protocol(msg)
}

/// Run `cmds` (byte address, byte length >= 1) through a fresh instance of `model`
/// (the read DMA built for `p`) on memory `mem`. A wrong `out_keep` or `out_last`, a
/// memory-side protocol violation or a timeout is an error.
pub fn run_read_dma(
    model: &Model,
    p: &DmaParams,
    mem: &[u8],
    cmds: &[(u64, u32)],
    t: &ReadTiming,
) -> SimResult<ReadRun> {
    let mut dut: Dut = model.instantiate_randomized(t.seed)?;
    let mut axi = AxiMem::new(
        &mut dut,
        "m_axi_gmem_",
        mem.to_vec(),
        AxiMemConfig {
            data_bytes: p.data_bytes as usize,
            read_latency: t.latency,
            stall: t.stall,
            seed: t.seed ^ 0x55,
            max_outstanding: 64,
            error_ranges: t.error_ranges.clone(),
        },
    )?;
    let (cv, ca, cl, ordy) = (
        dut.input("cmd_valid")?,
        dut.input("cmd_addr")?,
        dut.input("cmd_len")?,
        dut.input("out_ready")?,
    );
    let (crdy, ov, od, ok, ol, oe) = (
        dut.output("cmd_ready")?,
        dut.output("out_valid")?,
        dut.output("out_data")?,
        dut.output("out_keep")?,
        dut.output("out_last")?,
        dut.output("out_error")?,
    );
    dut.poke_u64(cv, 0);
    dut.poke_u64(ordy, 0);
    dut.reset(3);
    let db = p.data_bytes as usize;
    let mut rng = SplitMix64::new(t.seed);
    let mut pending: VecDeque<(u64, u32)> = cmds.iter().copied().collect();
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); cmds.len()];
    let mut errors = vec![false; cmds.len()];
    let mut cur = 0usize;
    let mut max_in_flight = 0;
    let start = dut.cycle();
    let total: u64 = cmds.iter().map(|c| c.1 as u64).sum();
    let budget = 20_000 + total * 4 + t.latency * 64 * cmds.len() as u64;
    while cur < cmds.len() {
        if dut.cycle() - start > budget {
            return Err(bad(format!(
                "read DMA: command {cur} of {} not finished after {budget} cycles",
                cmds.len()
            )));
        }
        axi.step(&mut dut)?;
        max_in_flight = max_in_flight.max(axi.reads_in_flight());
        match pending.front() {
            Some(&(a, l)) => {
                dut.poke_u64(cv, 1);
                dut.poke_u64(ca, a);
                dut.poke_u64(cl, l as u64);
            }
            None => dut.poke_u64(cv, 0),
        }
        let taken = !pending.is_empty() && dut.peek_u64(crdy) == 1;
        let ready = !rng.chance(t.out_stall);
        dut.poke_u64(ordy, ready as u64);
        if ready && dut.peek_u64(ov) == 1 {
            let data = dut.peek(od);
            let keep = dut.peek_u64(ok);
            let last = dut.peek_u64(ol) == 1;
            let bytes = &mut got[cur];
            let want = cmds[cur].1 as usize;
            let n = (want - bytes.len()).min(db);
            let expect_keep = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
            if keep != expect_keep {
                return Err(bad(format!(
                    "read DMA: out_keep {keep:#x} on command {cur} at byte {}, expected {expect_keep:#x} (cycle {})",
                    bytes.len(),
                    dut.cycle()
                )));
            }
            for i in 0..n {
                bytes.push((data.words()[i / 8] >> (8 * (i % 8))) as u8);
            }
            if last != (bytes.len() == want) {
                return Err(bad(format!(
                    "read DMA: out_last = {last} on command {cur} after {} of {want} bytes (cycle {})",
                    bytes.len(),
                    dut.cycle()
                )));
            }
            if last {
                errors[cur] = dut.peek_u64(oe) == 1;
                cur += 1;
            }
        }
        dut.tick();
        if taken {
            pending.pop_front();
        }
    }
    Ok(ReadRun {
        got,
        errors,
        max_in_flight,
        cycles: dut.cycle() - start,
    })
}
