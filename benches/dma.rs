//! Read and write DMA bandwidth: bytes per cycle on long transfers (1 MiB, 4 KB
//! aligned and unaligned) against memory latency and bursts in flight, no stalls,
//! the consumer always ready and the producer never idle. A write counts until its
//! last response. Target (issue 9): at least 0.95 x 16 bytes per cycle with
//! 128-bit data, latency 100 and max_outstanding >= 8.
//! Run: `cargo bench --bench dma`. Prints a table; asserts only that the bytes arrive.

use accgen_golden::rng::SplitMix64;
use accgen_hw::accel::dma_read::{dma_read, DmaParams};
use accgen_hw::accel::dma_write::dma_write;
use accgen_hw::rtl::Library;
use accgen_sim::dma::{run_read_dma, run_write_dma, ReadTiming};
use accgen_sim::{Model, SimOptions};

fn main() {
    let mem: Vec<u8> = {
        let mut r = SplitMix64::new(1);
        (0..(3 << 20)).map(|_| r.next_u64() as u8).collect()
    };
    println!(
        "{:<10} {:>12} {:>8} {:>10} {:>12} {:>10} {:>8} {:>12}",
        "data bits",
        "outstanding",
        "latency",
        "start",
        "read B/cyc",
        "of peak",
        "target",
        "write B/cyc"
    );
    for (db, outs) in [
        (16u32, 1u32),
        (16, 2),
        (16, 4),
        (16, 8),
        (16, 16),
        (8, 8),
        (32, 8),
    ] {
        let p = DmaParams {
            data_bytes: db,
            addr_bits: 32,
            max_outstanding: outs,
        };
        let mut lib = Library::new();
        let top = dma_read(&mut lib, &p).unwrap();
        let model = Model::build(&top, &SimOptions::new()).unwrap();
        let wtop = dma_write(&mut lib, &p).unwrap();
        let wmodel = Model::build(&wtop, &SimOptions::new()).unwrap();
        for lat in [0u64, 100, 200] {
            for start in [0x1000u64, 0x1003] {
                let len = 1u32 << 20;
                let r = run_read_dma(
                    &model,
                    &p,
                    &mem,
                    &[(start, len)],
                    &ReadTiming {
                        latency: lat,
                        stall: 0.0,
                        out_stall: 0.0,
                        seed: 1,
                        error_ranges: vec![],
                    },
                )
                .unwrap();
                assert!(r.got[0] == mem[start as usize..start as usize + len as usize]);
                let bpc = len as f64 / r.cycles as f64;
                let target = if db == 16 && lat == 100 && outs >= 8 {
                    if bpc >= 0.95 * 16.0 {
                        "met"
                    } else {
                        "MISSED"
                    }
                } else {
                    "-"
                };
                let data = mem[..len as usize].to_vec();
                let w = run_write_dma(
                    &wmodel,
                    &p,
                    &mem,
                    &[(start, data.clone())],
                    &ReadTiming {
                        latency: lat,
                        stall: 0.0,
                        out_stall: 0.0,
                        seed: 1,
                        error_ranges: vec![],
                    },
                )
                .unwrap();
                assert!(w.mem[start as usize..start as usize + len as usize] == data[..]);
                let wbpc = len as f64 / w.cycles as f64;
                println!(
                    "{:<10} {:>12} {:>8} {:>10} {:>12.2} {:>10.3} {:>8} {:>12.2}",
                    db * 8,
                    outs,
                    lat,
                    format!("{start:#x}"),
                    bpc,
                    bpc / db as f64,
                    target,
                    wbpc
                );
            }
        }
    }
    // Short transfers back to back (a LOAD of many small rows): commands are taken
    // while earlier ones' data still arrives.
    println!("\nshort reads back to back (2000 commands, 128-bit, 8 bursts in flight)");
    println!(
        "{:<12} {:>8} {:>12} {:>10}",
        "bytes each", "latency", "bytes/cycle", "of peak"
    );
    let p = DmaParams {
        data_bytes: 16,
        addr_bits: 32,
        max_outstanding: 8,
    };
    let mut lib = Library::new();
    let top = dma_read(&mut lib, &p).unwrap();
    let model = Model::build(&top, &SimOptions::new()).unwrap();
    for bytes in [16u32, 64, 256] {
        for lat in [0u64, 100] {
            let cmds: Vec<(u64, u32)> = (0..2000u64).map(|i| (0x1000 + i * 512, bytes)).collect();
            let r = run_read_dma(
                &model,
                &p,
                &mem,
                &cmds,
                &ReadTiming {
                    latency: lat,
                    stall: 0.0,
                    out_stall: 0.0,
                    seed: 1,
                    error_ranges: vec![],
                },
            )
            .unwrap();
            for (i, &(a, l)) in cmds.iter().enumerate() {
                assert!(r.got[i] == mem[a as usize..a as usize + l as usize]);
            }
            let bpc = (2000 * bytes) as f64 / r.cycles as f64;
            println!(
                "{:<12} {:>8} {:>12.2} {:>10.3}",
                bytes,
                lat,
                bpc,
                bpc / 16.0
            );
        }
    }
}
