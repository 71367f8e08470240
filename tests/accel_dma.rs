//! The read DMA in Verilator against the AXI4 memory model: random byte ranges (any
//! alignment, lengths from 1 byte to tens of KB, transfers across 4 KB boundaries)
//! under random memory latency, random stalls on every channel, random output
//! backpressure and a random initial state come out byte for byte, with `out_keep`
//! and `out_last` right; the memory model checks every burst (INCR, full width,
//! aligned, <= 256 beats, no 4 KB crossing, stable `arvalid`); reads in flight never
//! exceed `max_outstanding` and reach it under latency; SLVERR sets `out_error` on the
//! command's last beat.

use accgen_golden::rng::SplitMix64;
use accgen_hw::accel::dma_read::{dma_read, DmaParams};
use accgen_hw::rtl::Library;
use accgen_sim::dma::{run_read_dma, run_write_dma, ReadRun, ReadTiming};
use accgen_sim::{Model, SimOptions};

fn model(p: &DmaParams) -> Model {
    let mut lib = Library::new();
    let top = dma_read(&mut lib, p).unwrap();
    Model::build(&top, &SimOptions::new()).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn run(
    model: &Model,
    p: &DmaParams,
    mem: &[u8],
    cmds: &[(u64, u32)],
    latency: u64,
    stall: f64,
    out_stall: f64,
    seed: u64,
    error_ranges: Vec<std::ops::Range<u64>>,
) -> ReadRun {
    run_read_dma(
        model,
        p,
        mem,
        cmds,
        &ReadTiming {
            latency,
            stall,
            out_stall,
            seed,
            error_ranges,
        },
    )
    .unwrap()
}

/// One byte that answers SLVERR.
#[allow(clippy::single_range_in_vec_init)]
fn bad_byte() -> Vec<std::ops::Range<u64>> {
    vec![0x1010..0x1011]
}

fn random_mem(n: usize, seed: u64) -> Vec<u8> {
    let mut r = SplitMix64::new(seed);
    (0..n).map(|_| r.next_u64() as u8).collect()
}

#[test]
fn random_ranges_arrive_byte_for_byte_under_hostile_timing() {
    for (db, outstanding) in [(16u32, 4u32), (8, 2), (32, 8)] {
        let p = DmaParams {
            data_bytes: db,
            addr_bits: 32,
            max_outstanding: outstanding,
        };
        let m = model(&p);
        let mem = random_mem(1 << 17, db as u64);
        let mut rng = SplitMix64::new(77 + db as u64);
        let mut cmds = Vec::new();
        for i in 0..60 {
            let len = match i % 4 {
                0 => rng.range_i64(1, 2 * db as i64) as u32,
                1 => rng.range_i64(1, 300) as u32,
                2 => rng.range_i64(4000, 20000) as u32,
                _ => rng.range_i64(1, 5000) as u32,
            };
            let addr = rng.range_i64(0, (mem.len() - len as usize) as i64) as u64;
            cmds.push((addr, len));
        }
        // A transfer ending exactly on a 4 KB boundary, one starting on it, one byte.
        cmds.push((4096 - 64, 64));
        cmds.push((8192, 4096 * 2 + 3));
        cmds.push((mem.len() as u64 - 1, 1));
        // Long enough for max_outstanding bursts of 4 KB at once.
        cmds.push((0x3005, 40000));
        for (lat, stall, out_stall, seed) in
            [(0u64, 0.0, 0.0, 1u64), (7, 0.3, 0.3, 2), (100, 0.1, 0.5, 3)]
        {
            let r = run(&m, &p, &mem, &cmds, lat, stall, out_stall, seed, vec![]);
            for (i, &(a, l)) in cmds.iter().enumerate() {
                assert!(
                    r.got[i] == mem[a as usize..a as usize + l as usize],
                    "{db}-byte beats, latency {lat}: command {i} ({a:#x}, {l} bytes) differs"
                );
            }
            assert!(r.errors.iter().all(|e| !e));
            assert!(
                r.max_in_flight <= outstanding as usize,
                "{} reads in flight > max_outstanding {outstanding}",
                r.max_in_flight
            );
            if lat == 100 {
                assert_eq!(
                    r.max_in_flight, outstanding as usize,
                    "latency is hidden by {outstanding} reads in flight"
                );
            }
        }
    }
}

#[test]
fn slverr_sets_out_error_and_the_data_still_flows() {
    let p = DmaParams {
        data_bytes: 16,
        addr_bits: 32,
        max_outstanding: 4,
    };
    let m = model(&p);
    let mem = random_mem(1 << 14, 9);
    let cmds = [(0x100u64, 64u32), (0x1000, 100), (0x2000, 16)];
    let r = run(&m, &p, &mem, &cmds[..1], 3, 0.2, 0.2, 4, bad_byte());
    assert_eq!(r.errors, [false], "no error outside the range");
    let r = run(&m, &p, &mem, &cmds, 3, 0.2, 0.2, 4, bad_byte());
    assert_eq!(
        r.errors,
        [false, true, false],
        "SLVERR inside command 1 only"
    );
    assert_eq!(r.got[2], mem[0x2000..0x2010]);
    assert!(r.cycles > 0);
}

fn write_model(p: &DmaParams) -> Model {
    let mut lib = Library::new();
    let top = accgen_hw::accel::dma_write::dma_write(&mut lib, p).unwrap();
    Model::build(&top, &SimOptions::new()).unwrap()
}

/// The write DMA: random byte ranges written over a random memory under hostile
/// timing leave exactly the expected image (bytes outside every range untouched, so
/// WSTRB is exact), every burst legal, and wlast in place (checked by the memory).
#[test]
fn write_dma_leaves_exactly_the_written_bytes() {
    for (db, outstanding) in [(16u32, 4u32), (8, 1), (32, 8)] {
        let p = DmaParams {
            data_bytes: db,
            addr_bits: 32,
            max_outstanding: outstanding,
        };
        let m = write_model(&p);
        let mem = random_mem(1 << 17, 3 + db as u64);
        let mut rng = SplitMix64::new(31 + db as u64);
        let mut cmds: Vec<(u64, Vec<u8>)> = Vec::new();
        for i in 0..50 {
            let len = match i % 4 {
                0 => rng.range_i64(1, 2 * db as i64),
                1 => rng.range_i64(1, 300),
                2 => rng.range_i64(4000, 20000),
                _ => rng.range_i64(1, 5000),
            } as usize;
            let addr = rng.range_i64(0, (mem.len() - len) as i64) as u64;
            cmds.push((addr, (0..len).map(|_| rng.next_u64() as u8).collect()));
        }
        cmds.push((4096 - 64, vec![0xab; 64]));
        cmds.push((0x3007, (0..40000).map(|i| i as u8).collect()));
        let mut want = mem.clone();
        for (a, d) in &cmds {
            want[*a as usize..*a as usize + d.len()].copy_from_slice(d);
        }
        for (lat, stall, gaps, seed) in
            [(0u64, 0.0, 0.0, 1u64), (5, 0.3, 0.3, 2), (100, 0.1, 0.5, 3)]
        {
            let r = run_write_dma(
                &m,
                &p,
                &mem,
                &cmds,
                &ReadTiming {
                    latency: lat,
                    stall,
                    out_stall: gaps,
                    seed,
                    error_ranges: vec![],
                },
            )
            .unwrap();
            if let Some(i) = (0..want.len()).find(|&i| r.mem[i] != want[i]) {
                panic!(
                    "{db}-byte beats, latency {lat}: byte {i:#x} is {:#x}, expected {:#x}",
                    r.mem[i], want[i]
                );
            }
            assert!(r.errors.iter().all(|e| !e) && !r.error_at_end);
            assert!(
                r.max_in_flight <= outstanding as usize,
                "{} > {outstanding}",
                r.max_in_flight
            );
            if lat == 100 {
                assert_eq!(r.max_in_flight, outstanding as usize);
            }
        }
    }
}

#[test]
fn write_dma_reports_slverr_by_the_end() {
    let p = DmaParams {
        data_bytes: 16,
        addr_bits: 32,
        max_outstanding: 4,
    };
    let m = write_model(&p);
    let mem = random_mem(1 << 14, 5);
    let cmds = vec![
        (0x100u64, vec![1u8; 64]),
        (0x1000, vec![2; 100]),
        (0x2000, vec![3; 16]),
    ];
    let r = run_write_dma(
        &m,
        &p,
        &mem,
        &cmds,
        &ReadTiming {
            latency: 3,
            stall: 0.2,
            out_stall: 0.2,
            seed: 4,
            error_ranges: bad_byte(),
        },
    )
    .unwrap();
    // Commands follow each other without waiting for responses, so the error of the
    // second arrives by the time every response is in (the store engine waits for
    // that before it ends an instruction), and the first command saw none.
    assert!(!r.errors[0]);
    assert!(r.error_at_end);
    assert_eq!(&r.mem[0x2000..0x2010], &[3; 16]);
}
