//! The integrated accelerator end to end (issue 9's targets), 16x16 int8 from
//! `configs/default.toml`: 128-bit AXI, memory latency 100 cycles, 8 reads in flight, no
//! stalls.
//! - **Utilization:** `gemm_program` (GEMM + requant) on 256x512x256 and the ViT-Tiny
//!   shapes, array utilization = MACs / (PEs x cycles from `ap_start` to the
//!   interrupt), next to the standalone array's on the same GEMM (its AXI4-Stream top
//!   driven back to back at peak). Target: at least 0.9 x the standalone figure.
//! - **DMA:** one long LOAD (64 KiB), bytes per cycle. Target: 0.95 x 16.
//! - **Simulation speed:** accelerator cycles per second in Verilator. Target 0.3 M.
//!
//! Every run is also checked against the golden model (DRAM image byte for byte).
//! Run: `cargo bench --bench accel`. Prints a table.

use std::time::Instant;

use accgen_golden::config::Config;
use accgen_golden::gemm::Matrix;
use accgen_golden::gemm_program::{gemm_program, GemmEpilogue};
use accgen_golden::machine::Machine;
use accgen_golden::rng::SplitMix64;
use accgen_hw::systolic::systolic_array;
use accgen_sim::accel::{build_accel, run_accel, AccelTiming};
use accgen_sim::gemm::{ArrayDriver, Issue};
use accgen_sim::{Model, SimOptions};

fn main() {
    let cfg = Config::load(std::path::Path::new("configs/default.toml")).unwrap();
    let arr = cfg.array.clone().unwrap();
    let pes = (arr.rows * arr.cols) as f64;
    let t = Instant::now();
    let model = build_accel(&cfg).unwrap();
    eprintln!("accelerator model: {:.1} s", t.elapsed().as_secs_f64());
    let mut lib = accgen_hw::rtl::Library::new();
    let arr_top = systolic_array(&mut lib, &arr).unwrap();
    let arr_model = Model::build(&arr_top, &SimOptions::new()).unwrap();
    let timing = AccelTiming {
        mem_latency: 100,
        stall: 0.0,
        seed: 0,
        timeout: 100_000_000,
    };
    println!(
        "{:<14} {:>10} {:>12} {:>12} {:>8} {:>8} {:>10} {:>9}",
        "GEMM", "cycles", "accel util", "array util", "ratio", "target", "bit-exact", "M cyc/s"
    );
    for (m, k, n) in [
        (256u32, 512u32, 256u32),
        (197, 192, 576),
        (197, 192, 768),
        (197, 768, 192),
    ] {
        let mut rng = SplitMix64::new(7);
        let a = Matrix::from_vec(
            m as usize,
            k as usize,
            (0..m * k).map(|_| rng.signed(8)).collect(),
        );
        let b = Matrix::from_vec(
            k as usize,
            n as usize,
            (0..k * n).map(|_| rng.signed(8)).collect(),
        );
        let (prog, lay) = gemm_program(&cfg, m, k, n, GemmEpilogue::Requant).unwrap();
        let dram = lay.image(&cfg, &prog, &a, &b, GemmEpilogue::Requant);
        let mut g = Machine::new(&cfg, dram.clone(), 0).unwrap();
        let out = g.run(lay.prog, prog.instrs.len() as u64);
        assert_eq!(out.fault, None);
        let t = Instant::now();
        let r = run_accel(
            &model,
            &cfg,
            dram,
            lay.prog,
            prog.instrs.len() as u32,
            &timing,
        )
        .unwrap();
        let speed = r.cycles as f64 / t.elapsed().as_secs_f64() / 1e6;
        let exact = r.error_code == 0 && r.dram == g.dram;
        let macs = m as f64 * n as f64 * k as f64;
        let accel_util = macs / (pes * r.cycles as f64);
        // The standalone array on the same GEMM, back to back at peak.
        let mut drv = ArrayDriver::new(arr_model.instantiate().unwrap(), &arr).unwrap();
        let s = drv.run(&a, &b, Issue::BackToBack).unwrap();
        assert!(s.bit_exact());
        let arr_util = macs / (pes * s.cycles as f64);
        let ratio = accel_util / arr_util;
        println!(
            "{:<14} {:>10} {:>12.3} {:>12.3} {:>8.3} {:>8} {:>10} {:>9.2}",
            format!("{m}x{k}x{n}"),
            r.cycles,
            accel_util,
            arr_util,
            ratio,
            if ratio >= 0.9 { "met" } else { "missed" },
            exact,
            speed
        );
    }
    // DMA: one long LOAD.
    let text = "load dram=0x0 rows=1 bytes=65520 stride=0 spad=0\nhalt\n";
    let prog = accgen_golden::asm::assemble(text).unwrap();
    let mut dram = vec![0u8; 0x20000];
    let pb = prog.to_bytes();
    dram[0x10000..0x10000 + pb.len()].copy_from_slice(&pb);
    let r = run_accel(
        &model,
        &cfg,
        dram,
        0x10000,
        prog.instrs.len() as u32,
        &timing,
    )
    .unwrap();
    assert_eq!(r.error_code, 0);
    let bw = 65520.0 / r.busy[0].max(1) as f64;
    println!(
        "\nLOAD of 65520 bytes: {} cycles busy, {bw:.2} bytes/cycle ({:.3} of 16; target 0.95: {})",
        r.busy[0],
        bw / 16.0,
        if bw / 16.0 >= 0.95 { "met" } else { "missed" }
    );
}
