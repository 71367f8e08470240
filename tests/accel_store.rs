//! The store engine in Verilator against the golden model: from a random scratchpad
//! image (served with read latency), random STOREs (odd byte counts and strides, 4 KB
//! crossings, overlapping destinations) under random memory latency, stalls and token
//! waits leave exactly the DRAM image the golden model leaves, for scratchpad rows of
//! 16, 12, 8, 32 and 24 bytes; tokens follow the flags; errors 1 (STORE from the
//! accumulator on a store engine built without one), 2 (scratchpad range) and 3 (SLVERR) carry the index;
//! and an abort in the middle of a STORE leaves the next one exact.

use std::collections::VecDeque;

use accgen_golden::accel::Geometry;
use accgen_golden::config::Config;
use accgen_golden::isa::{Deps, Dma, Instr, Op, Program, StoreSrc};
use accgen_golden::machine::Machine;
use accgen_golden::rng::SplitMix64;
use accgen_hw::accel::dma_read::DmaParams;
use accgen_hw::accel::store::{store, StoreParams};
use accgen_hw::rtl::{Library, Value};
use accgen_sim::axi_mem::{AxiMem, AxiMemConfig};
use accgen_sim::{Model, SimOptions};

const DRAM: usize = 1 << 16;
const LAT: u32 = 2;

struct Hw {
    dram: Vec<u8>,
    pops: u32,
    pushes: u32,
    errors: Vec<(u64, u64)>,
}

/// Run `instrs`; `abort_at` raises abort_all for 20 cycles once that many cycles have
/// passed after the first instruction was taken.
fn run_hw(
    cfg: &Config,
    spad: &[u8],
    instrs: &[Instr],
    dram: &[u8],
    seed: u64,
    err: Vec<std::ops::Range<u64>>,
    abort_at: Option<u64>,
) -> Hw {
    let g = Geometry::of(cfg).unwrap();
    let p = StoreParams {
        dma: DmaParams {
            data_bytes: 16,
            addr_bits: 32,
            max_outstanding: 4,
        },
        row_bytes: g.spad_row_bytes,
        spad_rows: g.spad_rows,
        acc_row_bytes: 0,
        acc_rows: 0,
        read_latency: LAT,
    };
    let mut lib = Library::new();
    let top = store(&mut lib, &p).unwrap();
    let model = Model::build(&top, &SimOptions::new()).unwrap();
    let mut dut = model.instantiate_randomized(seed).unwrap();
    let mut axi = AxiMem::new(
        &mut dut,
        "m_axi_gmem_",
        dram.to_vec(),
        AxiMemConfig {
            data_bytes: 16,
            read_latency: 0,
            stall: 0.2,
            seed,
            max_outstanding: 16,
            error_ranges: err,
            write_latency: seed % 30,
        },
    )
    .unwrap();
    let i = |d: &accgen_sim::Dut, n: &str| d.input(n).unwrap();
    let o = |d: &accgen_sim::Dut, n: &str| d.output(n).unwrap();
    let (iw, ii, iv, base, abort, avail, room, rdata) = (
        i(&dut, "in_word"),
        i(&dut, "in_index"),
        i(&dut, "in_valid"),
        i(&dut, "dram_base"),
        i(&dut, "abort_all"),
        i(&dut, "tok_avail"),
        i(&dut, "tok_room"),
        i(&dut, "spad_rdata"),
    );
    // The read port is shared: the compute engine takes it at random.
    let grant = i(&dut, "spad_rgrant");
    let (iready, pop, push, re, raddr, idle, ev, ec, ei) = (
        o(&dut, "in_ready"),
        o(&dut, "tok_pop"),
        o(&dut, "tok_push"),
        o(&dut, "spad_re"),
        o(&dut, "spad_raddr"),
        o(&dut, "idle"),
        o(&dut, "err_valid"),
        o(&dut, "err_code"),
        o(&dut, "err_index"),
    );
    for (port, v) in [(iv, 0), (base, 0), (abort, 0), (avail, 0), (room, 0)] {
        dut.poke_u64(port, v);
    }
    dut.reset(3);
    let w = g.spad_row_bytes as usize;
    let mut rng = SplitMix64::new(seed ^ 0x31);
    let (mut pops, mut pushes) = (0, 0);
    let mut errors = Vec::new();
    let mut next = 0usize;
    let mut quiet = 0;
    // Scratchpad reads in flight: (cycles left, row).
    let mut reads: VecDeque<(u32, usize)> = VecDeque::new();
    let mut started: Option<u64> = None;
    let start = dut.cycle();
    loop {
        assert!(
            dut.cycle() - start < 3_000_000,
            "the store engine never finished"
        );
        axi.step(&mut dut).unwrap();
        dut.poke_u64(grant, !rng.next_u64().is_multiple_of(4) as u64);
        // The read port: data `LAT` edges after `spad_re`.
        let words: Vec<u64> = match reads.front() {
            Some(&(0, row)) => {
                let bytes = &spad[row * w..row * w + w];
                (0..w.div_ceil(8))
                    .map(|k| {
                        (0..8)
                            .filter(|b| k * 8 + b < w)
                            .fold(0u64, |acc, b| acc | (bytes[k * 8 + b] as u64) << (8 * b))
                    })
                    .collect()
            }
            _ => vec![0; w.div_ceil(8)],
        };
        dut.poke(rdata, &Value::from_words(8 * w as u32, &words).unwrap());
        if next < instrs.len() {
            let word = instrs[next].encode();
            dut.poke(
                iw,
                &Value::from_words(128, &[word as u64, (word >> 64) as u64]).unwrap(),
            );
            dut.poke_u64(ii, next as u64);
            dut.poke_u64(iv, 1);
        } else {
            dut.poke_u64(iv, 0);
        }
        dut.poke_u64(avail, !rng.chance(0.3) as u64);
        dut.poke_u64(room, !rng.chance(0.3) as u64);
        let ab = match (abort_at, started) {
            (Some(t), Some(s)) => (s + t..s + t + 20).contains(&dut.cycle()),
            _ => false,
        };
        dut.poke_u64(abort, ab as u64);
        if next < instrs.len() && dut.peek_u64(iready) == 1 {
            next += 1;
            started.get_or_insert(dut.cycle());
        }
        pops += dut.peek_u64(pop) as u32;
        pushes += dut.peek_u64(push) as u32;
        if dut.peek_u64(ev) == 1 {
            errors.push((dut.peek_u64(ec), dut.peek_u64(ei)));
        }
        let new_read = (dut.peek_u64(re) == 1).then(|| dut.peek_u64(raddr) as usize);
        let done = next == instrs.len() && dut.peek_u64(idle) == 1;
        quiet = if done { quiet + 1 } else { 0 };
        dut.tick();
        // Age the reads: the one at 0 was presented this cycle.
        if matches!(reads.front(), Some(&(0, _))) {
            reads.pop_front();
        }
        for r in reads.iter_mut() {
            r.0 -= 1;
        }
        if let Some(row) = new_read {
            reads.push_back((LAT - 1, row));
        }
        if quiet > 4 {
            break;
        }
    }
    Hw {
        dram: axi.mem.clone(),
        pops,
        pushes,
        errors,
    }
}

fn golden_dram(cfg: &Config, spad: &[u8], instrs: &[Instr], dram: &[u8]) -> Vec<u8> {
    let mut prog = Program {
        instrs: instrs
            .iter()
            .map(|i| Instr {
                deps: Deps::default(),
                op: i.op,
            })
            .collect(),
    };
    prog.instrs.push(Instr::new(Op::Halt));
    let mut image = dram.to_vec();
    let at = image.len();
    image.extend(prog.to_bytes());
    let mut m = Machine::new(cfg, image, 0).unwrap();
    m.spad_mut().copy_from_slice(spad);
    let out = m.run(at as u64, prog.instrs.len() as u64);
    assert_eq!(out.fault, None);
    m.dram[..dram.len()].to_vec()
}

fn st(dram: u64, rows: u32, bytes: u32, stride: u32, row: u32) -> Instr {
    Instr::new(Op::Store(
        Dma {
            dram,
            rows,
            bytes,
            stride,
            row,
        },
        StoreSrc::Spad,
    ))
}

fn random_stores(rng: &mut SplitMix64, g: &Geometry, n: usize) -> Vec<Instr> {
    let w = g.spad_row_bytes as u64;
    (0..n)
        .map(|k| {
            let bytes = match k % 4 {
                0 => rng.range_i64(1, w as i64),
                1 => rng.range_i64(1, 3 * w as i64 + 5),
                2 => w as i64,
                _ => rng.range_i64(100, 700),
            } as u64;
            let rows = rng.range_i64(1, 12) as u64;
            let stride = if rng.chance(0.3) {
                bytes
            } else {
                rng.range_i64(0, 5000) as u64
            };
            let span = (rows - 1) * stride + bytes;
            let dram = rng.range_i64(0, (DRAM as u64 - span) as i64) as u64;
            let pitch = bytes.div_ceil(w);
            let spad = rng.range_i64(0, (g.spad_rows as u64 - rows * pitch) as i64) as u64;
            let mut i = st(dram, rows as u32, bytes as u32, stride as u32, spad as u32);
            i.deps = Deps {
                pop_prev: rng.chance(0.3),
                push_prev: rng.chance(0.3),
                ..Deps::default()
            };
            i
        })
        .collect()
}

#[test]
fn stores_leave_the_golden_dram_image() {
    let mut rng = SplitMix64::new(21);
    let dram: Vec<u8> = (0..DRAM).map(|_| rng.next_u64() as u8).collect();
    for (k, arr) in [
        "rows = 16\ncols = 16",
        "rows = 12\ncols = 12",
        "rows = 8\ncols = 8",
        "rows = 16\ncols = 16\nact_bits = 16",
        "rows = 12\ncols = 4\nweight_bits = 12",
    ]
    .iter()
    .enumerate()
    {
        let cfg =
            Config::from_toml_str(&format!("[array]\n{arr}\n[accel]\nspad_kib = 16\n")).unwrap();
        let g = Geometry::of(&cfg).unwrap();
        let spad: Vec<u8> = (0..g.spad_rows as usize * g.spad_row_bytes as usize)
            .map(|_| rng.next_u64() as u8)
            .collect();
        let instrs = random_stores(&mut rng, &g, 40);
        let hw = run_hw(&cfg, &spad, &instrs, &dram, k as u64 + 1, vec![], None);
        assert!(hw.errors.is_empty(), "{:?}", hw.errors);
        let want = golden_dram(&cfg, &spad, &instrs, &dram);
        if let Some(b) = (0..want.len()).find(|&b| hw.dram[b] != want[b]) {
            panic!(
                "W = {}: DRAM byte {b:#x} is {:#x}, golden {:#x}",
                g.spad_row_bytes, hw.dram[b], want[b]
            );
        }
        let pops = instrs.iter().filter(|i| i.deps.pop_prev).count() as u32;
        let pushes = instrs.iter().filter(|i| i.deps.push_prev).count() as u32;
        assert_eq!((hw.pops, hw.pushes), (pops, pushes), "tokens");
    }
}

#[test]
fn errors_carry_their_code_and_index_and_an_abort_leaves_the_next_store_exact() {
    let mut rng = SplitMix64::new(8);
    let dram: Vec<u8> = (0..DRAM).map(|_| rng.next_u64() as u8).collect();
    let cfg = Config::from_toml_str("[array]\n[accel]\nspad_kib = 16\n").unwrap();
    let g = Geometry::of(&cfg).unwrap();
    let spad: Vec<u8> = (0..g.spad_rows as usize * 16)
        .map(|_| rng.next_u64() as u8)
        .collect();
    // Range: instruction 1 reads past the last scratchpad row.
    let instrs = [
        st(0, 2, 40, 64, 0),
        st(0x400, 4, 40, 64, g.spad_rows - 7),
        st(0x800, 1, 8, 0, 0),
    ];
    let hw = run_hw(&cfg, &spad, &instrs, &dram, 3, vec![], None);
    assert_eq!(hw.errors, [(2, 1)]);
    // SLVERR on instruction 2.
    let instrs = [
        st(0, 2, 40, 64, 0),
        st(0x800, 2, 40, 64, 8),
        st(0x2000, 3, 40, 64, 16),
    ];
    let bad = std::iter::once(0x2045..0x2046).collect();
    let hw = run_hw(&cfg, &spad, &instrs, &dram, 4, bad, None);
    assert_eq!(hw.errors, [(3, 2)]);
    // STORE from the accumulator, on an engine built without one.
    let acc = Instr::new(Op::Store(
        Dma {
            dram: 0,
            rows: 1,
            bytes: 4,
            stride: 0,
            row: 0,
        },
        StoreSrc::Acc,
    ));
    let hw = run_hw(
        &cfg,
        &spad,
        &[st(0, 1, 4, 0, 0), acc],
        &dram,
        5,
        vec![],
        None,
    );
    assert_eq!(hw.errors, [(1, 1)]);
    // Abort a long store midway; the next store must still be exact.
    let long = st(0x100, 20, 500, 512, 0);
    let short = st(0xf000, 3, 37, 100, 700);
    let hw = run_hw(&cfg, &spad, &[long, short], &dram, 6, vec![], Some(200));
    assert!(hw.errors.is_empty(), "{:?}", hw.errors);
    let want = golden_dram(&cfg, &spad, &[short], &dram);
    for r in 0..3 {
        let at = 0xf000 + r * 100;
        assert_eq!(
            &hw.dram[at..at + 37],
            &want[at..at + 37],
            "row {r} of the store after the abort"
        );
    }
}
