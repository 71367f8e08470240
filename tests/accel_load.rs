//! The load engine in Verilator against the golden model: random LOAD instructions
//! (odd byte counts and strides, rows across 4 KB boundaries, rows longer and shorter
//! than a scratchpad row) under random memory latency, stalls, scratchpad write
//! backpressure and token waits leave exactly the scratchpad the golden model leaves,
//! for scratchpad rows of 16, 12, 8, 32 and 24 bytes on 128-bit AXI; tokens are
//! popped and pushed exactly as the flags say; a row beyond the scratchpad and an
//! AXI error report errors 2 and 3 with the instruction's index.

use accgen_golden::accel::Geometry;
use accgen_golden::config::Config;
use accgen_golden::isa::{Deps, Dma, Instr, Op, Program};
use accgen_golden::machine::Machine;
use accgen_golden::rng::SplitMix64;
use accgen_hw::accel::dma_read::DmaParams;
use accgen_hw::accel::load::{load, LoadParams};
use accgen_hw::rtl::{Library, Value};
use accgen_sim::axi_mem::{AxiMem, AxiMemConfig};
use accgen_sim::{Model, SimOptions};

const DRAM: usize = 1 << 16;

struct Result {
    spad: Vec<u8>,
    pops: u32,
    pushes: u32,
    /// (code, index) of each reported error.
    errors: Vec<(u64, u64)>,
}

fn run_hw(
    cfg: &Config,
    instrs: &[Instr],
    dram: &[u8],
    seed: u64,
    err: Vec<std::ops::Range<u64>>,
) -> Result {
    let g = Geometry::of(cfg).unwrap();
    let p = LoadParams {
        dma: DmaParams {
            data_bytes: 16,
            addr_bits: 32,
            max_outstanding: 4,
        },
        row_bytes: g.spad_row_bytes,
        spad_rows: g.spad_rows,
    };
    let mut lib = Library::new();
    let top = load(&mut lib, &p).unwrap();
    let model = Model::build(&top, &SimOptions::new()).unwrap();
    let mut dut = model.instantiate_randomized(seed).unwrap();
    let mut axi = AxiMem::new(
        &mut dut,
        "m_axi_gmem_",
        dram.to_vec(),
        AxiMemConfig {
            data_bytes: 16,
            read_latency: seed % 40,
            stall: 0.2,
            seed,
            max_outstanding: 16,
            error_ranges: err,
            write_latency: 0,
        },
    )
    .unwrap();
    let i = |d: &accgen_sim::Dut, n: &str| d.input(n).unwrap();
    let o = |d: &accgen_sim::Dut, n: &str| d.output(n).unwrap();
    let (iw, ii, iv, base, abort, avail, room, wready) = (
        i(&dut, "in_word"),
        i(&dut, "in_index"),
        i(&dut, "in_valid"),
        i(&dut, "dram_base"),
        i(&dut, "abort_all"),
        i(&dut, "tok_avail"),
        i(&dut, "tok_room"),
        i(&dut, "spad_wready"),
    );
    let (iready, pop, push, we, waddr, wdata, idle, ev, ec, ei) = (
        o(&dut, "in_ready"),
        o(&dut, "tok_pop"),
        o(&dut, "tok_push"),
        o(&dut, "spad_we"),
        o(&dut, "spad_waddr"),
        o(&dut, "spad_wdata"),
        o(&dut, "idle"),
        o(&dut, "err_valid"),
        o(&dut, "err_code"),
        o(&dut, "err_index"),
    );
    for (port, v) in [
        (iv, 0),
        (base, 0),
        (abort, 0),
        (avail, 0),
        (room, 0),
        (wready, 0),
    ] {
        dut.poke_u64(port, v);
    }
    dut.reset(3);
    let w = g.spad_row_bytes as usize;
    let mut spad = vec![0u8; g.spad_rows as usize * w];
    let mut rng = SplitMix64::new(seed ^ 0x99);
    let (mut pops, mut pushes) = (0, 0);
    let mut errors = Vec::new();
    let mut next = 0usize;
    let mut quiet = 0;
    let start = dut.cycle();
    loop {
        assert!(
            dut.cycle() - start < 3_000_000,
            "the load engine never finished"
        );
        axi.step(&mut dut).unwrap();
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
        let wr = !rng.chance(0.25);
        dut.poke_u64(wready, wr as u64);
        if next < instrs.len() && dut.peek_u64(iready) == 1 {
            next += 1;
        }
        pops += dut.peek_u64(pop) as u32;
        pushes += dut.peek_u64(push) as u32;
        if dut.peek_u64(we) == 1 && wr {
            let row = dut.peek_u64(waddr) as usize;
            let data = dut.peek(wdata);
            for k in 0..w {
                spad[row * w + k] = (data.words()[k / 8] >> (8 * (k % 8))) as u8;
            }
        }
        if dut.peek_u64(ev) == 1 {
            errors.push((dut.peek_u64(ec), dut.peek_u64(ei)));
        }
        let done = next == instrs.len() && dut.peek_u64(idle) == 1;
        quiet = if done { quiet + 1 } else { 0 };
        dut.tick();
        if quiet > 4 {
            break;
        }
    }
    Result {
        spad,
        pops,
        pushes,
        errors,
    }
}

fn golden_spad(cfg: &Config, instrs: &[Instr], dram: &[u8]) -> Vec<u8> {
    // Tokens come from the test bench here, not from other engines: golden runs the
    // same loads without them (the scratchpad does not depend on them).
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
    let out = m.run(at as u64, prog.instrs.len() as u64);
    assert_eq!(out.fault, None);
    m.spad().to_vec()
}

fn random_loads(rng: &mut SplitMix64, g: &Geometry, n: usize) -> Vec<Instr> {
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
            Instr {
                deps: Deps {
                    pop_next: rng.chance(0.3),
                    push_next: rng.chance(0.3),
                    ..Deps::default()
                },
                op: Op::Load(Dma {
                    dram,
                    rows: rows as u32,
                    bytes: bytes as u32,
                    stride: stride as u32,
                    row: spad as u32,
                }),
            }
        })
        .collect()
}

#[test]
fn loads_leave_the_golden_scratchpad() {
    let mut rng = SplitMix64::new(12);
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
        let instrs = random_loads(&mut rng, &g, 40);
        let hw = run_hw(&cfg, &instrs, &dram, k as u64 + 1, vec![]);
        assert!(hw.errors.is_empty(), "{:?}", hw.errors);
        let want = golden_spad(&cfg, &instrs, &dram);
        if let Some(b) = (0..want.len()).find(|&b| hw.spad[b] != want[b]) {
            panic!(
                "W = {}: scratchpad byte {b} (row {}) is {:#x}, golden {:#x}",
                g.spad_row_bytes,
                b / g.spad_row_bytes as usize,
                hw.spad[b],
                want[b]
            );
        }
        let pops = instrs.iter().filter(|i| i.deps.pop_next).count() as u32;
        let pushes = instrs.iter().filter(|i| i.deps.push_next).count() as u32;
        assert_eq!((hw.pops, hw.pushes), (pops, pushes), "tokens");
    }
}

#[test]
fn range_and_axi_errors_are_reported_with_the_index() {
    let mut rng = SplitMix64::new(5);
    let dram: Vec<u8> = (0..DRAM).map(|_| rng.next_u64() as u8).collect();
    let cfg = Config::from_toml_str("[array]\n[accel]\nspad_kib = 16\n").unwrap();
    let g = Geometry::of(&cfg).unwrap();
    let ld = |dram_at: u64, rows: u32, spad: u32| {
        Instr::new(Op::Load(Dma {
            dram: dram_at,
            rows,
            bytes: 40,
            stride: 64,
            row: spad,
        }))
    };
    // Instruction 1 runs past the scratchpad's last row.
    let instrs = [ld(0, 2, 0), ld(0, 4, g.spad_rows - 7), ld(0, 1, 0)];
    let hw = run_hw(&cfg, &instrs, &dram, 3, vec![]);
    assert_eq!(hw.errors, [(2, 1)]);
    // Instruction 2 reads a byte that answers SLVERR.
    let instrs = [ld(0, 2, 0), ld(0x800, 2, 8), ld(0x2000, 3, 16)];
    let bad = std::iter::once(0x2045..0x2046).collect();
    let hw = run_hw(&cfg, &instrs, &dram, 4, bad);
    assert_eq!(hw.errors, [(3, 2)]);
}
