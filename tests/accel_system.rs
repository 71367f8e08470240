//! The accelerator top as a whole, driven like a host
//! driver would: registers through AXI4-Lite, the program and data in the AXI4 memory
//! model (random latency and stalls, IDs), `ap_start`, then the interrupt. 200 random
//! LOAD/STORE programs from `golden::progen`, with token chains both ways through
//! `nop.compute` and fences, must leave the DRAM image the golden model leaves, byte
//! for byte, with
//! `bytes_written` equal to golden's count; an illegal word, a GEMM with more rows
//! than the array, a scratchpad range error and a token nobody sends end with their
//! error codes and indices. (The compute engine's own programs are in
//! `accel_compute.rs`.)

use accgen_golden::asm::assemble;
use accgen_golden::config::Config;
use accgen_golden::isa::Program;
use accgen_golden::machine::Machine;
use accgen_golden::rng::SplitMix64;
use accgen_sim::accel::{run_accel, AccelTiming};
use accgen_sim::Model;

const CFG: &str = "[array]\n[accel]\nspad_kib = 16\nacc_kib = 8\naxi_addr_bits = 32\nqueue_depth = 4\nwatchdog_cycles = 5000\nmax_outstanding = 4\n";
const PROG_AT: u64 = 0x8000;
const DRAM: usize = 0x10000;

struct Run {
    dram: Vec<u8>,
    code: u32,
    index: u32,
    written: u64,
    cycles: u64,
}

fn model(cfg: &Config) -> Model {
    accgen_sim::accel::build_accel(cfg).unwrap()
}

fn run(model: &Model, prog: &Program, dram: &[u8], seed: u64) -> Run {
    run_bytes(model, &prog.to_bytes(), dram, seed)
}

fn run_bytes(model: &Model, bytes: &[u8], dram: &[u8], seed: u64) -> Run {
    let cfg = Config::from_toml_str(CFG).unwrap();
    let mut image = dram.to_vec();
    image[PROG_AT as usize..PROG_AT as usize + bytes.len()].copy_from_slice(bytes);
    let r = run_accel(
        model,
        &cfg,
        image,
        PROG_AT,
        (bytes.len() / 16) as u32,
        &AccelTiming {
            mem_latency: seed % 30,
            stall: 0.15,
            seed,
            timeout: 2_000_000,
        },
    )
    .unwrap();
    Run {
        dram: r.dram,
        code: r.error_code,
        index: r.error_index,
        written: r.bytes_written,
        cycles: r.cycles,
    }
}

fn golden(cfg: &Config, prog: &Program, dram: &[u8]) -> (Vec<u8>, u64) {
    let mut image = dram.to_vec();
    let bytes = prog.to_bytes();
    image[PROG_AT as usize..PROG_AT as usize + bytes.len()].copy_from_slice(&bytes);
    let mut m = Machine::new(cfg, image, 0).unwrap();
    let out = m.run(PROG_AT, prog.instrs.len() as u64);
    assert_eq!(out.fault, None, "golden");
    assert_eq!(
        out.uninit_reads,
        [],
        "progen programs read only rows they wrote"
    );
    (m.dram.clone(), out.stats.dram_bytes_written)
}

/// 200 random race-free programs (`golden::progen`), with memory latency and write
/// latency varying by seed.
#[test]
fn random_load_store_programs_leave_the_golden_dram_image() {
    let cfg = Config::from_toml_str(CFG).unwrap();
    let g = accgen_golden::accel::Geometry::of(&cfg).unwrap();
    let m = model(&cfg);
    let mut rng = SplitMix64::new(44);
    let mut dram: Vec<u8> = (0..DRAM).map(|_| rng.next_u64() as u8).collect();
    for k in 0..200u64 {
        // Fresh data now and then; the programs always differ.
        if k % 20 == 0 {
            dram = (0..DRAM).map(|_| rng.next_u64() as u8).collect();
        }
        let items = rng.range_i64(1, 40) as usize;
        let prog = accgen_golden::progen::load_store_program(&mut rng, &g, 0x4000, items);
        let hw = run(&m, &prog, &dram, k + 1);
        assert_eq!((hw.code, hw.index), (0, 0), "program {k}");
        let (want, written) = golden(&cfg, &prog, &dram);
        if let Some(b) = (0..DRAM).find(|&b| hw.dram[b] != want[b]) {
            panic!(
                "program {k}: DRAM byte {b:#x} is {:#x}, golden {:#x}",
                hw.dram[b], want[b]
            );
        }
        assert_eq!(hw.written, written, "bytes_written of program {k}");
        assert!(hw.cycles > 0);
    }
}

#[test]
fn errors_end_the_run_with_their_code_and_index() {
    let cfg = Config::from_toml_str(CFG).unwrap();
    let m = model(&cfg);
    let dram = vec![0u8; DRAM];
    let cases: [(&str, u32, u32); 3] = [
        ("load dram=0 rows=1 bytes=16 stride=0 spad=0\nfence\ngemm a=0 b=64 acc=0 k=16 m=17\nhalt\n", 1, 2),
        ("load dram=0 rows=4 bytes=64 stride=64 spad=1020\nhalt\n", 2, 0),
        ("store dram=0x4000 rows=1 bytes=4 stride=0 spad=0\nnop.compute pop_prev\nhalt\n", 4, 2),
    ];
    for (i, (text, code, index)) in cases.iter().enumerate() {
        let prog = assemble(text).unwrap();
        let hw = run(&m, &prog, &dram, 10 + i as u64);
        assert_eq!((hw.code, hw.index), (*code, *index), "{text}");
    }
    // An illegal word in the middle of a program.
    let prog = assemble("fence\nfence\nfence\nhalt\n").unwrap();
    let mut image = prog.to_bytes();
    image[32..48].fill(0);
    let hw = run_bytes(&m, &image, &dram, 20);
    assert_eq!((hw.code, hw.index), (1, 2));
}
