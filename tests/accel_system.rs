//! The accelerator top (without its compute engine) as a whole, driven like a host
//! driver would: registers through AXI4-Lite, the program and data in the AXI4 memory
//! model (random latency and stalls, IDs), `ap_start`, then the interrupt. 200 random
//! LOAD/STORE programs from `golden::progen`, with token chains both ways through
//! `nop.compute` and fences, must leave the DRAM image the golden model leaves, byte
//! for byte, with
//! `bytes_written` equal to golden's count; an illegal word, a GEMM (no compute
//! engine yet), a scratchpad range error and a token nobody sends end with their
//! error codes and indices.

use accgen_golden::asm::assemble;
use accgen_golden::config::Config;
use accgen_golden::isa::Program;
use accgen_golden::machine::Machine;
use accgen_golden::regs;
use accgen_golden::rng::SplitMix64;
use accgen_hw::accel::top::accel_top;
use accgen_hw::rtl::Library;
use accgen_sim::axi_mem::{AxiMem, AxiMemConfig};
use accgen_sim::axilite::{AxiLiteMaster, Resp};
use accgen_sim::{Dut, Model, SimOptions};

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
    let mut lib = Library::new();
    let top = accel_top(&mut lib, cfg).unwrap();
    Model::build(&top, &SimOptions::new()).unwrap()
}

fn run(model: &Model, prog: &Program, dram: &[u8], seed: u64) -> Run {
    run_bytes(model, &prog.to_bytes(), dram, seed)
}

fn run_bytes(model: &Model, bytes: &[u8], dram: &[u8], seed: u64) -> Run {
    let mut dut: Dut = model.instantiate_randomized(seed).unwrap();
    let mut image = dram.to_vec();
    image[PROG_AT as usize..PROG_AT as usize + bytes.len()].copy_from_slice(bytes);
    let mut axi = AxiMem::new(
        &mut dut,
        "m_axi_gmem_",
        image,
        AxiMemConfig {
            data_bytes: 16,
            read_latency: seed % 30,
            stall: 0.15,
            seed,
            max_outstanding: 8,
            error_ranges: vec![],
            write_latency: seed % 20,
        },
    )
    .unwrap();
    let mut bus = AxiLiteMaster::new(&mut dut, "s_axi_control_", seed, 0.3).unwrap();
    dut.reset(3);
    let w = |bus: &mut AxiLiteMaster, dut: &mut Dut, a: u32, v: u32| {
        assert_eq!(bus.write(dut, a, v, 0xf).unwrap(), Resp::Okay);
    };
    w(&mut bus, &mut dut, regs::PROG_ADDR_LO, PROG_AT as u32);
    w(&mut bus, &mut dut, regs::PROG_ADDR_HI, 0);
    w(
        &mut bus,
        &mut dut,
        regs::PROG_LEN,
        (bytes.len() / 16) as u32,
    );
    w(&mut bus, &mut dut, regs::DRAM_BASE_LO, 0);
    w(&mut bus, &mut dut, regs::GIE, 1);
    w(&mut bus, &mut dut, regs::IER, regs::irq::DONE);
    w(&mut bus, &mut dut, regs::AP_CTRL, regs::ctrl::AP_START);
    let irq = dut.output("irq").unwrap();
    let start = dut.cycle();
    while dut.peek_u64(irq) == 0 {
        assert!(dut.cycle() - start < 2_000_000, "no interrupt");
        axi.step(&mut dut).unwrap();
        dut.tick();
    }
    let cycles = dut.cycle() - start;
    let mut r = |a: u32| {
        let (v, resp) = bus.read(&mut dut, a).unwrap();
        assert_eq!(resp, Resp::Okay);
        v
    };
    let ctrl = r(regs::AP_CTRL);
    assert_eq!(
        ctrl & regs::ctrl::AP_DONE,
        regs::ctrl::AP_DONE,
        "ap_done with the interrupt"
    );
    let code = r(regs::ERROR_CODE);
    let index = r(regs::ERROR_INDEX);
    let lo = r(regs::BYTES_WRITTEN_LO) as u64;
    let hi = r(regs::BYTES_WRITTEN_HI) as u64;
    Run {
        dram: axi.mem.clone(),
        code,
        index,
        written: hi << 32 | lo,
        cycles,
    }
}

fn golden(cfg: &Config, prog: &Program, dram: &[u8]) -> (Vec<u8>, u64) {
    let mut image = dram.to_vec();
    let bytes = prog.to_bytes();
    image[PROG_AT as usize..PROG_AT as usize + bytes.len()].copy_from_slice(&bytes);
    let mut m = Machine::new(cfg, image, 0).unwrap();
    let out = m.run(PROG_AT, prog.instrs.len() as u64);
    assert_eq!(out.fault, None, "golden");
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
        ("load dram=0 rows=1 bytes=16 stride=0 spad=0\nfence\ngemm a=0 b=64 acc=0 k=16 m=16\nhalt\n", 1, 2),
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
