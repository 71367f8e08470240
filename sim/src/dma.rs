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
            write_latency: 0,
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

/// What a write-DMA run left behind.
#[derive(Debug, Clone)]
pub struct WriteRun {
    /// The memory after every command completed.
    pub mem: Vec<u8>,
    /// `error` at each command's `done` (a command is done when issued; an error
    /// response may arrive later, see `error_at_end`).
    pub errors: Vec<bool>,
    /// `error` once `busy` fell after the last command: every response is in.
    pub error_at_end: bool,
    /// Most write bursts awaiting a response at once.
    pub max_in_flight: usize,
    /// Cycles from the first command until `busy` fell after the last `done` (every
    /// write response in).
    pub cycles: u64,
}

/// Run write commands (byte address, bytes) through a fresh instance of `model` (the
/// write DMA built for `p`) on memory `mem`, streaming each command's bytes packed
/// from byte 0 with random input gaps (`t.out_stall` is their probability). Every
/// command must end with one `done` pulse, and `busy` must fall once every response is
/// in; a protocol violation or a timeout is an error.
pub fn run_write_dma(
    model: &Model,
    p: &DmaParams,
    mem: &[u8],
    cmds: &[(u64, Vec<u8>)],
    t: &ReadTiming,
) -> SimResult<WriteRun> {
    let mut dut: Dut = model.instantiate_randomized(t.seed)?;
    let mut axi = AxiMem::new(
        &mut dut,
        "m_axi_gmem_",
        mem.to_vec(),
        AxiMemConfig {
            data_bytes: p.data_bytes as usize,
            read_latency: 0,
            stall: t.stall,
            seed: t.seed ^ 0x55,
            max_outstanding: 64,
            error_ranges: t.error_ranges.clone(),
            write_latency: t.latency,
        },
    )?;
    let (cv, ca, cl, iv, id) = (
        dut.input("cmd_valid")?,
        dut.input("cmd_addr")?,
        dut.input("cmd_len")?,
        dut.input("in_valid")?,
        dut.input("in_data")?,
    );
    let (crdy, irdy, done, err) = (
        dut.output("cmd_ready")?,
        dut.output("in_ready")?,
        dut.output("done")?,
        dut.output("error")?,
    );
    dut.poke_u64(cv, 0);
    dut.poke_u64(iv, 0);
    let ab = dut.input("cancel")?;
    dut.poke_u64(ab, 0);
    dut.reset(3);
    let db = p.data_bytes as usize;
    // Every input beat of every command, in order.
    let mut beats: VecDeque<Vec<u64>> = VecDeque::new();
    for (_, bytes) in cmds {
        for chunk in bytes.chunks(db) {
            let mut words = vec![0u64; db.div_ceil(8)];
            for (k, &x) in chunk.iter().enumerate() {
                words[k / 8] |= (x as u64) << (8 * (k % 8));
            }
            beats.push_back(words);
        }
    }
    let mut rng = SplitMix64::new(t.seed ^ 0xa5);
    let mut pending: VecDeque<(u64, u32)> =
        cmds.iter().map(|(a, d)| (*a, d.len() as u32)).collect();
    let mut errors = Vec::with_capacity(cmds.len());
    let mut offered = false;
    let mut max_in_flight = 0;
    let start = dut.cycle();
    let total: u64 = cmds.iter().map(|c| c.1.len() as u64).sum();
    let budget = 20_000 + total * 4 + t.latency * 64 * cmds.len() as u64;
    while errors.len() < cmds.len() {
        if dut.cycle() - start > budget {
            return Err(bad(format!(
                "write DMA: command {} of {} not done after {budget} cycles",
                errors.len(),
                cmds.len()
            )));
        }
        axi.step(&mut dut)?;
        max_in_flight = max_in_flight.max(axi.writes_in_flight());
        match pending.front() {
            Some(&(a, l)) => {
                dut.poke_u64(cv, 1);
                dut.poke_u64(ca, a);
                dut.poke_u64(cl, l as u64);
            }
            None => dut.poke_u64(cv, 0),
        }
        let taken = !pending.is_empty() && dut.peek_u64(crdy) == 1;
        // A source never drops valid or changes data before the beat moves.
        if !offered && !beats.is_empty() {
            offered = !rng.chance(t.out_stall);
        }
        if offered {
            let w = beats.front().expect("offered a beat");
            let v = accgen_hw::rtl::Value::from_words(8 * db as u32, w).expect("fits");
            dut.poke(id, &v);
        }
        dut.poke_u64(iv, offered as u64);
        let beat_taken = offered && dut.peek_u64(irdy) == 1;
        if dut.peek_u64(done) == 1 {
            errors.push(dut.peek_u64(err) == 1);
        }
        dut.tick();
        if taken {
            pending.pop_front();
        }
        if beat_taken {
            beats.pop_front();
            offered = false;
        }
    }
    if !beats.is_empty() {
        return Err(bad(format!(
            "write DMA: {} input beats were never taken",
            beats.len()
        )));
    }
    // The responses still due.
    let busy = dut.output("busy")?;
    dut.poke_u64(cv, 0);
    dut.poke_u64(iv, 0);
    while dut.peek_u64(busy) == 1 {
        if dut.cycle() - start > budget {
            return Err(bad(format!(
                "write DMA: busy {budget} cycles after the first command"
            )));
        }
        axi.step(&mut dut)?;
        dut.tick();
    }
    let error_at_end = dut.peek_u64(err) == 1;
    Ok(WriteRun {
        mem: axi.mem.clone(),
        errors,
        error_at_end,
        max_in_flight,
        cycles: dut.cycle() - start,
    })
}
