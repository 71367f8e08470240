//! The elastic building blocks under hostile traffic: register slice, LUT-RAM FIFO and
//! block-RAM FIFO (every vendor, deep and wide enough to tile several DP16KDs), plus
//! the memories alone. Every beat must come out once, in order, with its tlast and
//! tuser, from randomised initial state; with smooth traffic the blocks must move one
//! beat per cycle.

use std::rc::Rc;

use accgen_golden::rng::SplitMix64;
use accgen_hw::mem::{self, MemoryConfig};
use accgen_hw::rtl::{Library, Module, ModuleBuilder, RtlResult, Value};
use accgen_hw::stream::{self, fifo, skid, FifoStorage};
use accgen_hw::vendor::Vendor;
use accgen_sim::axis::{self, Beat, MasterPorts, SlavePorts, Traffic};
use accgen_sim::{Model, SimOptions, Verdict};

#[derive(Clone, Copy, Debug)]
enum Block {
    Skid,
    Fifo(usize, FifoStorage),
}

fn top(vendor: Vendor, block: Block, width: u32) -> RtlResult<Rc<Module>> {
    let mut lib = Library::with_vendor(vendor);
    let mut m = ModuleBuilder::new(&format!(
        "elastic_{vendor}_{}_w{width}",
        match block {
            Block::Skid => "skid".to_string(),
            Block::Fifo(d, s) => format!("fifo{d}_{s:?}").to_lowercase(),
        }
    ));
    let (s_in, ready_w) = stream::slave_ports(&mut m, "s_axis", width, true, Some(3), vec![])?;
    let out_ready = m.wire("out_ready_w", 1, false)?;
    let (out, in_ready) = match block {
        Block::Skid => skid(&mut m, "sk", &s_in, out_ready)?,
        Block::Fifo(d, st) => fifo(&mut m, &mut lib, "q", &s_in, out_ready, d, st)?,
    };
    m.drive(ready_w, in_ready)?;
    let r = stream::master_ports(&mut m, "m_axis", &out, vec![])?;
    m.drive(out_ready, r)?;
    Ok(Rc::new(m.finish()?))
}

fn beats(n: usize, width: u32, seed: u64) -> Vec<Beat> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let mut w = vec![0u64; width.div_ceil(64) as usize];
            rng.fill(&mut w);
            Beat {
                data: Value::from_words_truncating(width, &w),
                last: rng.chance(0.2),
                user: rng.next_u64() & 7,
            }
        })
        .collect()
}

fn check(vendor: Vendor, block: Block, width: u32, latency: u64) {
    let t = top(vendor, block, width).unwrap();
    let model = Model::build(&t, &SimOptions::new()).unwrap();
    let input = beats(3000, width, 9);
    for (k, traffic) in [
        Traffic::smooth(),
        Traffic::hostile(11),
        Traffic {
            gap: 0.05,
            stall: 0.7,
            ..Traffic::hostile(12)
        },
        Traffic {
            gap: 0.7,
            stall: 0.05,
            ..Traffic::hostile(13)
        },
    ]
    .iter()
    .enumerate()
    {
        let mut dut = model.instantiate_randomized(100 + k as u64).unwrap();
        let sp = SlavePorts::of(&dut, "s_axis").unwrap();
        let mp = MasterPorts::of(&dut, "m_axis").unwrap();
        axis::reset(&mut dut, &sp, &mp);
        let mut v = Verdict::new(t.name());
        let (got, timing) =
            axis::run(&mut dut, &sp, &mp, &input, input.len(), 32, traffic, &mut v).unwrap();
        assert!(v.passed(), "{vendor} {block:?} {traffic:?}: {v}");
        assert_eq!(got.len(), input.len(), "{vendor} {block:?}");
        for (i, (g, b)) in got.iter().zip(&input).enumerate() {
            assert_eq!(
                (&g.data, g.last, g.user),
                (&b.data, b.last, b.user),
                "{vendor} {block:?} {traffic:?}: beat {i}"
            );
        }
        if traffic.is_smooth() && latency > 0 {
            assert_eq!(
                timing.cycles,
                input.len() as u64 + latency,
                "{vendor} {block:?}: one beat per cycle after {latency} cycles"
            );
            assert_eq!(timing.input_stalls, 0);
        }
    }
}

#[test]
fn skid_buffer_passes_everything_once_in_order() {
    check(Vendor::Generic, Block::Skid, 20, 1);
}

#[test]
fn lutram_fifos_pass_everything_once_in_order() {
    // Depth 2 cannot sustain one beat per cycle behind a registered tready (0 = no
    // throughput check); depth 4 and up can.
    check(Vendor::Generic, Block::Fifo(2, FifoStorage::Lutram), 37, 0);
    for d in [4, 16] {
        check(Vendor::Generic, Block::Fifo(d, FifoStorage::Lutram), 37, 2);
    }
}

#[test]
fn bram_fifos_pass_everything_once_in_order_on_every_vendor() {
    for v in Vendor::ALL {
        check(v, Block::Fifo(16, FifoStorage::Bram), 24, 3);
    }
    // 2048 x 40 bits: two DP16KD banks by three columns on ECP5.
    check(Vendor::Ecp5, Block::Fifo(2048, FifoStorage::Bram), 36, 3);
}

/// A memory module of each vendor against a plain Rust array: random writes, reads
/// with random enables, every read checked at the output register.
#[test]
fn memories_match_a_reference_on_every_vendor() {
    for (depth, width, rom) in [(1000usize, 30u32, false), (2500, 18, false), (700, 9, true)] {
        let mut rng = SplitMix64::new(depth as u64);
        let init: Option<Vec<Value>> = rom.then(|| {
            (0..depth)
                .map(|_| {
                    Value::from_u128(width, (rng.next_u64() as u128) & ((1 << width) - 1)).unwrap()
                })
                .collect()
        });
        for vendor in Vendor::ALL {
            let mut lib = Library::with_vendor(vendor);
            let cfg = MemoryConfig {
                depth,
                width,
                init: init.clone(),
                style: None,
            };
            let m = mem::memory(&mut lib, &cfg).unwrap();
            let model = Model::build(&m, &SimOptions::new()).unwrap();
            let mut dut = model.instantiate_randomized(5).unwrap();
            let p = |n: &str| dut.input(n).unwrap();
            let (re, raddr, oe) = (p("re"), p("raddr"), p("oe"));
            let w = (!rom).then(|| (p("we"), p("waddr"), p("wdata")));
            let rdata = dut.output("rdata").unwrap();
            let mut reference: Vec<u128> = match &init {
                Some(v) => v.iter().map(|x| x.to_u128().unwrap()).collect(),
                None => vec![0; depth],
            };
            let mut written = vec![rom; depth];
            // (valid, addr) in the read register, then the expected output.
            let mut read_reg: Option<Option<u128>> = None;
            let mut out: Option<Option<u128>> = None;
            let mut rng = SplitMix64::new(77);
            for cyc in 0..6000 {
                let ra = rng.range_i64(0, depth as i64 - 1) as usize;
                let re_v = rng.chance(0.7);
                let oe_v = rng.chance(0.7);
                dut.poke_u64(re, re_v as u64);
                dut.poke_u64(raddr, ra as u64);
                dut.poke_u64(oe, oe_v as u64);
                let mut wr = None;
                if let Some((we, wa, wd)) = w {
                    let a = rng.range_i64(0, depth as i64 - 1) as usize;
                    let v = (rng.next_u64() as u128) & ((1u128 << width) - 1);
                    // Never read the address being written in the same cycle.
                    let we_v = rng.chance(0.5) && a != ra;
                    dut.poke_u64(we, we_v as u64);
                    dut.poke_u64(wa, a as u64);
                    dut.poke(wd, &Value::from_u128(width, v).unwrap());
                    if we_v {
                        wr = Some((a, v));
                    }
                }
                if let Some(Some(e)) = out {
                    let got = dut.peek(rdata).to_u128().unwrap();
                    assert_eq!(got, e, "{vendor} {depth}x{width} cycle {cyc}");
                }
                // Clock edge: output register from the read register, read register
                // from the array, then the write.
                if oe_v {
                    out = read_reg;
                }
                if re_v {
                    read_reg = Some(written[ra].then_some(reference[ra]));
                }
                if let Some((a, v)) = wr {
                    reference[a] = v;
                    written[a] = true;
                }
                dut.tick();
            }
        }
    }
}
