//! The accelerator's compute engine in co-simulation: GEMM (shapes that are not
//! multiples of the array, K split over several scratchpad blocks, accumulation),
//! every epilogue (requant, requant+ReLU, requant+GELU, raw accumulators through
//! STORE from the accumulator), SOFTMAX and LAYERNORM (row groups of the unit's
//! lanes, partial chunks, in place and disjoint; LayerNorm's gammas and betas of
//! different element sizes read from a parameter block), ADD (operands and output of
//! different element sizes, in place over either input), 2:4 sparse GEMM on a sparse
//! accelerator, and 200 random programs over the whole ISA (every compute instruction
//! at least 20 times), each with random memory latency and stalls
//! and a random initial state. After `HALT` the RTL's whole DRAM image must equal the
//! golden model's, byte for byte (the golden model is itself checked against the unit
//! models in `golden/tests/machine.rs`). Errors of the compute engine end with golden's
//! codes and indices.

use accgen_golden::asm::assemble;
use accgen_golden::config::Config;
use accgen_golden::gemm_program::{gemm_program, GemmEpilogue};
use accgen_golden::isa::Program;
use accgen_golden::machine::Machine;
use accgen_golden::rng::SplitMix64;
use accgen_sim::accel::{build_accel, run_accel, AccelTiming};
use accgen_sim::Model;

const CFG: &str = "[array]\nrows = 4\ncols = 4\n\
[requant]\nlanes = 4\nin_bits = 32\nout_bits = 8\n\
[gelu]\nlanes = 4\nin_bits = 8\nin_frac = 4\nout_bits = 8\nout_frac = 4\n\
[softmax]\nlanes = 2\nmax_len = 64\nin_bits = 8\nin_frac = 4\nout_bits = 8\n\
[layernorm]\nlanes = 2\nmax_len = 48\nin_bits = 8\nin_frac = 4\ngamma_bits = 8\ngamma_frac = 6\nbeta_bits = 12\nout_bits = 8\nout_frac = 4\n\
[residual]\nlanes = 1\na_bits = 8\na_frac = 5\nb_bits = 12\nb_frac = 9\nout_bits = 8\nout_frac = 4\nrounding = \"half-away\"\n\
[accel]\nspad_kib = 16\nacc_kib = 8\naxi_addr_bits = 32\nqueue_depth = 4\nwatchdog_cycles = 100000\nmax_outstanding = 4\n";

fn cfg() -> Config {
    Config::from_toml_str(CFG).unwrap()
}

fn put(dram: &mut [u8], at: u64, eb: u64, i: u64, v: i64) {
    for b in 0..eb {
        dram[(at + i * eb + b) as usize] = (v >> (8 * b)) as u8;
    }
}

/// Run `prog` at `prog_at` on golden and on the RTL; both must agree on the error
/// code and index and, without an error, on every DRAM byte. Returns the RTL's cycles
/// and error code.
fn both(
    model: &Model,
    cfg: &Config,
    mut dram: Vec<u8>,
    prog: &Program,
    prog_at: u64,
    seed: u64,
) -> (u64, u32) {
    let bytes = prog.to_bytes();
    let end = prog_at as usize + bytes.len();
    if dram.len() < end {
        dram.resize(end, 0);
    }
    dram[prog_at as usize..end].copy_from_slice(&bytes);
    let mut g = Machine::new(cfg, dram.clone(), 0).unwrap();
    let out = g.run(prog_at, prog.instrs.len() as u64);
    let r = run_accel(
        model,
        cfg,
        dram,
        prog_at,
        prog.instrs.len() as u32,
        &AccelTiming {
            mem_latency: 5 + seed % 40,
            stall: 0.2,
            seed,
            timeout: 3_000_000,
        },
    )
    .unwrap();
    let (gc, gi) = out
        .fault
        .as_ref()
        .map_or((0, 0), |f| (f.code as u32, f.index.map_or(0, |i| i as u32)));
    assert_eq!(
        (r.error_code, r.error_index),
        (gc, gi),
        "error code and index; golden: {:?}",
        out.fault
    );
    if gc == 0 {
        assert_eq!(
            out.uninit_reads,
            [],
            "test programs read only rows they wrote"
        );
        if let Some(i) = (0..g.dram.len()).find(|&i| g.dram[i] != r.dram[i]) {
            if std::env::var("ACCGEN_DEBUG").is_ok() {
                for row in 0..6 {
                    let a = i + row * 128;
                    eprintln!(
                        "rtl {:02x?}\ngld {:02x?}",
                        &r.dram[a..a + 16],
                        &g.dram[a..a + 16]
                    );
                }
            }
            panic!(
                "DRAM differs first at 0x{i:x}: RTL {:#04x}, golden {:#04x} (last written by instruction {:?})",
                r.dram[i], g.dram[i], g.last_writer[i]
            );
        }
        assert_eq!(r.bytes_written, out.stats.dram_bytes_written);
    }
    (r.cycles, r.error_code)
}

/// A GEMM program of `gemm_program` with random A, B and epilogue parameters.
fn gemm_image(
    cfg: &Config,
    m: u32,
    k: u32,
    n: u32,
    epi: GemmEpilogue,
    seed: u64,
) -> (Vec<u8>, Program, u64) {
    let (prog, lay) = gemm_program(cfg, m, k, n, epi).unwrap();
    let mut rng = SplitMix64::new(seed);
    let mut dram = vec![0u8; lay.end as usize];
    for i in 0..(m * k) as u64 {
        put(&mut dram, lay.a, 1, i, rng.signed(8));
    }
    for i in 0..(k * n) as u64 {
        let v = rng.signed(8);
        put(&mut dram, lay.b_addr(i / n as u64, i % n as u64), 1, 0, v);
    }
    if epi != GemmEpilogue::None {
        let q = cfg.requant.as_ref().unwrap();
        let (qmin, qmax) = q.qrange();
        let c = cfg.array.as_ref().unwrap().cols as u64;
        for col in 0..(n as u64).div_ceil(c) * c {
            let (j, cc) = (col / c, col % c);
            let base = lay.params + j * c * (1 + 2 + 4);
            // Shifts over the whole range, left shifts included.
            put(&mut dram, base, 1, cc, rng.range_i64(-16, 47));
            put(
                &mut dram,
                base + c,
                2,
                cc,
                rng.range_i64(qmin as i64, qmax as i64),
            );
            put(&mut dram, base + 3 * c, 4, cc, rng.range_i64(-3000, 3000));
        }
    }
    (dram, prog, lay.prog)
}

#[test]
fn gemm_programs_with_every_epilogue_equal_golden() {
    let cfg = cfg();
    let model = build_accel(&cfg).unwrap();
    let cases = [
        (4, 4, 4, GemmEpilogue::None),
        (5, 7, 6, GemmEpilogue::None),
        (3, 13, 9, GemmEpilogue::None),
        (3, 13, 9, GemmEpilogue::Requant),
        (9, 10, 5, GemmEpilogue::RequantRelu),
        (6, 21, 7, GemmEpilogue::RequantGelu),
        (1, 1, 1, GemmEpilogue::RequantGelu),
    ];
    for (i, &(m, k, n, epi)) in cases.iter().enumerate() {
        eprintln!("case {m}x{k}x{n} {epi:?}");
        let (dram, prog, at) = gemm_image(&cfg, m, k, n, epi, 100 + i as u64);
        let (_, code) = both(&model, &cfg, dram, &prog, at, 7 + i as u64);
        assert_eq!(code, 0, "{m}x{k}x{n} {epi:?}");
    }
}

#[test]
fn gemm_with_k_split_over_scratchpad_blocks_equals_golden() {
    let cfg = cfg();
    let model = build_accel(&cfg).unwrap();
    let (_, lay) = gemm_program(&cfg, 5, 1500, 5, GemmEpilogue::Requant).unwrap();
    assert!(
        lay.kt < 1500,
        "K must need more than one block (kt = {})",
        lay.kt
    );
    let (dram, prog, at) = gemm_image(&cfg, 5, 1500, 5, GemmEpilogue::Requant, 3);
    assert_eq!(both(&model, &cfg, dram, &prog, at, 3).1, 0);
}

#[test]
fn softmax_rows_equal_golden() {
    let cfg = cfg();
    let model = build_accel(&cfg).unwrap();
    let mut rng = SplitMix64::new(5);
    // (rows, len, src, dst): lane groups with a partial last group, partial chunks,
    // disjoint, in place, and an output before its input.
    for (i, &(rows, len, src, dst)) in [
        (5u32, 13u32, 0u32, 100u32),
        (2, 64, 10, 10),
        (3, 1, 40, 20),
        (4, 9, 60, 58),
    ]
    .iter()
    .enumerate()
    {
        let stride = 128u64;
        let mut dram = vec![0u8; 0x4000];
        for r in 0..rows as u64 {
            for t in 0..len as u64 {
                dram[(r * stride + t) as usize] = rng.signed(8) as u8;
            }
        }
        let pitch = len.div_ceil(4);
        let text = format!(
            "load dram=0x0 rows={rows} bytes={len} stride={stride} spad={src} push_next\n\
             softmax src={src} dst={dst} rows={rows} len={len} pop_prev push_next\n\
             store dram=0x2000 rows={rows} bytes={len} stride={stride} spad={dst} pop_prev\n\
             halt\n"
        );
        let _ = pitch;
        let prog = assemble(&text).unwrap();
        let (_, code) = both(&model, &cfg, dram, &prog, 0x3000, 11 + i as u64);
        assert_eq!(code, 0, "{text}");
    }
}

#[test]
fn layernorm_rows_equal_golden() {
    let cfg = cfg();
    let model = build_accel(&cfg).unwrap();
    let mut rng = SplitMix64::new(6);
    // (rows, len, src, dst): a partial last lane group with partial chunks, a full
    // row in place, a single element, an output before its input, constant rows.
    for (i, &(rows, len, src, dst)) in [
        (5u32, 13u32, 0u32, 100u32),
        (2, 48, 10, 10),
        (3, 1, 40, 20),
        (4, 9, 60, 58),
        (2, 30, 0, 200),
    ]
    .iter()
    .enumerate()
    {
        let stride = 128u64;
        let mut dram = vec![0u8; 0x4000];
        for r in 0..rows as u64 {
            let base = rng.signed(8);
            for t in 0..len as u64 {
                let v = if i == 4 { base } else { rng.signed(8) };
                dram[(r * stride + t) as usize] = v as u8;
            }
        }
        // gammas (int8) at 0x1000, betas (int12 in 2 bytes) at 0x1100.
        for t in 0..len as u64 {
            dram[(0x1000 + t) as usize] = rng.signed(8) as u8;
            let b = rng.signed(12) as u16;
            dram[(0x1100 + 2 * t) as usize] = b as u8;
            dram[(0x1101 + 2 * t) as usize] = (b >> 8) as u8;
        }
        let params = 300u32;
        let beta_row = params + len.div_ceil(4);
        let text = format!(
            "load dram=0x1000 rows=1 bytes={len} stride=0 spad={params}\n\
             load dram=0x1100 rows=1 bytes={} stride=0 spad={beta_row}\n\
             load dram=0x0 rows={rows} bytes={len} stride={stride} spad={src} push_next\n\
             layernorm src={src} dst={dst} rows={rows} len={len} params={params} pop_prev push_next\n\
             store dram=0x2000 rows={rows} bytes={len} stride={stride} spad={dst} pop_prev\n\
             halt\n",
            2 * len
        );
        let prog = assemble(&text).unwrap();
        prog.check(&cfg).unwrap();
        let (_, code) = both(&model, &cfg, dram, &prog, 0x3000, 31 + i as u64);
        assert_eq!(code, 0, "{text}");
    }
}

#[test]
fn add_rows_equal_golden() {
    let cfg = cfg();
    let model = build_accel(&cfg).unwrap();
    let mut rng = SplitMix64::new(7);
    // (rows, len, a, b, dst): disjoint, in place over a, over b (b's pitch is
    // larger), single elements, long rows over several scratchpad rows.
    for (i, &(rows, len, a, b, dst)) in [
        (3u32, 7u32, 0u32, 100u32, 300u32),
        (4, 16, 0, 100, 0),
        (2, 5, 0, 100, 100),
        (5, 1, 10, 20, 30),
        (2, 33, 0, 200, 400),
    ]
    .iter()
    .enumerate()
    {
        let stride = 128u64;
        let mut dram = vec![0u8; 0x4000];
        for r in 0..rows as u64 {
            for t in 0..len as u64 {
                dram[(r * stride + t) as usize] = rng.signed(8) as u8;
                let v = rng.signed(12) as u16;
                dram[(0x1000 + r * stride + 2 * t) as usize] = v as u8;
                dram[(0x1001 + r * stride + 2 * t) as usize] = (v >> 8) as u8;
            }
        }
        let text = format!(
            "load dram=0x0 rows={rows} bytes={len} stride={stride} spad={a}\n\
             load dram=0x1000 rows={rows} bytes={} stride={stride} spad={b} push_next\n\
             add a={a} b={b} dst={dst} rows={rows} len={len} pop_prev push_next\n\
             store dram=0x2000 rows={rows} bytes={len} stride={stride} spad={dst} pop_prev\n\
             halt\n",
            2 * len
        );
        let prog = assemble(&text).unwrap();
        prog.check(&cfg).unwrap();
        let (_, code) = both(&model, &cfg, dram, &prog, 0x3000, 51 + i as u64);
        assert_eq!(code, 0, "{text}");
    }
}

#[test]
fn transposed_epilogue_equals_golden() {
    // GEMM tiles whose epilogue writes C^T (column j to scratchpad row o + j), with
    // requant, ReLU and GELU, then a STORE of C rows of m bytes.
    let cfg = cfg();
    let model = build_accel(&cfg).unwrap();
    let mut rng = SplitMix64::new(8);
    for (i, (m, k, act)) in [
        (4u64, 7u64, "none"),
        (3, 1, "relu"),
        (2, 12, "gelu"),
        (4, 20, "none"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut dram = vec![0u8; 0x4000];
        for v in dram[..(m * k) as usize].iter_mut() {
            *v = rng.signed(8) as u8;
        }
        for v in dram[0x400..0x400 + (k * 4) as usize].iter_mut() {
            *v = rng.signed(8) as u8;
        }
        // Shifts 2..9, zero points -3..3 (int16), biases (int32).
        for j in 0..4 {
            dram[0x800 + j] = rng.range_i64(2, 9) as u8;
            let zp = rng.range_i64(-3, 3) as i16;
            dram[0x880 + 2 * j..0x882 + 2 * j].copy_from_slice(&zp.to_le_bytes());
            let b = rng.range_i64(-500, 500) as i32;
            dram[0x900 + 4 * j..0x904 + 4 * j].copy_from_slice(&b.to_le_bytes());
        }
        let text = format!(
            "load dram=0x0 rows={m} bytes={k} stride={k} spad=0\n\
             load dram=0x400 rows={k} bytes=4 stride=4 spad=100\n\
             load dram=0x800 rows=1 bytes=4 stride=0 spad=200\n\
             load dram=0x880 rows=1 bytes=8 stride=0 spad=201\n\
             load dram=0x900 rows=1 bytes=16 stride=0 spad=203 push_next\n\
             gemm a=0 b=100 acc=0 k={k} m={m} pop_prev\n\
             epilogue acc=0 spad=300 rows={m} params=200 act={act} trans push_next\n\
             store dram=0x2000 rows=4 bytes={m} stride={m} spad=300 pop_prev\n\
             halt\n"
        );
        let prog = assemble(&text).unwrap();
        prog.check(&cfg).unwrap();
        let (_, code) = both(&model, &cfg, dram, &prog, 0x3000, 61 + i as u64);
        assert_eq!(code, 0, "{text}");
    }
    // Too many rows for one scratchpad row (W = 4 bytes): illegal, as in golden.
    let prog = assemble("epilogue acc=0 spad=300 rows=5 params=200 trans\nhalt\n").unwrap();
    let (_, code) = both(&model, &cfg, vec![0u8; 0x4000], &prog, 0x3000, 70);
    assert_eq!(code, 1);
}

#[test]
fn compute_errors_end_with_their_codes() {
    let cfg = cfg();
    let model = build_accel(&cfg).unwrap();
    let dram = vec![0u8; 0x2000];
    let cases = [
        // m beyond the array's rows: illegal.
        ("load dram=0 rows=64 bytes=4 stride=4 spad=0 push_next\ngemm a=0 b=0 acc=0 k=4 m=5 pop_prev\nhalt\n", 1),
        // B beyond the scratchpad: range.
        ("load dram=0 rows=64 bytes=4 stride=4 spad=0 push_next\ngemm a=0 b=4090 acc=0 k=16 m=1 pop_prev\nhalt\n", 2),
        // Accumulator rows beyond the accumulator: range.
        ("load dram=0 rows=64 bytes=4 stride=4 spad=0 push_next\ngemm a=0 b=0 acc=510 k=4 m=1 pop_prev\nhalt\n", 2),
        // An epilogue whose shifts are out of range (0x7f = 127): parameter error.
        ("load dram=0x1000 rows=16 bytes=4 stride=4 spad=0 push_next\nepilogue acc=0 spad=100 rows=1 params=0 pop_prev\nhalt\n", 5),
        // A row longer than softmax.max_len: illegal.
        ("load dram=0 rows=64 bytes=4 stride=4 spad=0 push_next\nsoftmax src=0 dst=100 rows=1 len=65 pop_prev\nhalt\n", 1),
        // An output overlapping the input after its start: illegal.
        ("load dram=0 rows=64 bytes=4 stride=4 spad=0 push_next\nsoftmax src=0 dst=1 rows=2 len=8 pop_prev\nhalt\n", 1),
        // A LayerNorm row longer than max_len: illegal; parameters beyond the
        // scratchpad: range.
        ("load dram=0 rows=64 bytes=4 stride=4 spad=0 push_next\nlayernorm src=0 dst=100 rows=1 len=49 params=200 pop_prev\nhalt\n", 1),
        ("load dram=0 rows=64 bytes=4 stride=4 spad=0 push_next\nlayernorm src=0 dst=100 rows=1 len=8 params=4094 pop_prev\nhalt\n", 2),
        // ADD: an output overlapping `a` from behind: illegal; `b` beyond the
        // scratchpad: range.
        ("load dram=0 rows=64 bytes=4 stride=4 spad=0 push_next\nadd a=0 b=10 dst=1 rows=2 len=4 pop_prev\nhalt\n", 1),
        ("load dram=0 rows=64 bytes=4 stride=4 spad=0 push_next\nadd a=0 b=4095 dst=100 rows=1 len=4 pop_prev\nhalt\n", 2),
    ];
    let mut dram2 = dram.clone();
    dram2[0x1000..0x1010].fill(0x7f);
    for (i, (text, code)) in cases.iter().enumerate() {
        let prog = assemble(text).unwrap();
        let (_, got) = both(&model, &cfg, dram2.clone(), &prog, 0x1800, 20 + i as u64);
        assert_eq!(got, *code, "{text}");
    }
}

#[test]
fn random_whole_isa_programs_leave_the_golden_dram_image() {
    let cfg = cfg();
    let model = build_accel(&cfg).unwrap();
    let mut rng = SplitMix64::new(77);
    let mut total = 0u64;
    let mut kinds = std::collections::BTreeMap::new();
    for k in 0..200u64 {
        let mut dram = vec![0u8; 0x10000];
        let items = rng.range_i64(1, 10) as usize;
        let prog = accgen_golden::progen::isa_program(&mut rng, &cfg, &mut dram, 0x6000, items);
        for i in &prog.instrs {
            *kinds.entry(i.op.mnemonic()).or_insert(0u32) += 1;
            if let accgen_golden::isa::Op::Epilogue(e) = i.op {
                if e.trans {
                    *kinds.entry("trans").or_insert(0) += 1;
                }
            }
        }
        let (cycles, code) = both(&model, &cfg, dram, &prog, 0xc000, 1000 + k);
        assert_eq!(code, 0, "program {k}");
        total += cycles;
    }
    assert!(total > 0);
    for op in [
        "gemm",
        "epilogue",
        "softmax",
        "layernorm",
        "add",
        "store",
        "trans",
    ] {
        assert!(kinds.get(op).copied().unwrap_or(0) >= 20, "{op}: {kinds:?}");
    }
}

/// A 4x4 2:4 sparse accelerator: GEMM takes compressed B (per K group two value rows
/// and a metadata row) into the N:M array.
const SPARSE_CFG: &str = "[array]\nrows = 4\ncols = 4\n[sparsity]\nn = 2\nm = 4\n\
[accel]\nspad_kib = 16\nacc_kib = 8\naxi_addr_bits = 32\nqueue_depth = 4\nwatchdog_cycles = 100000\nmax_outstanding = 4\n";

#[test]
fn sparse_gemm_programs_equal_golden() {
    let cfg = Config::from_toml_str(SPARSE_CFG).unwrap();
    let model = build_accel(&cfg).unwrap();
    let mut rng = SplitMix64::new(31);
    // (m, k): K not a multiple of M (the last group is partial), K over several A
    // chunks, m below R.
    for (case, &(m, k)) in [(4u32, 8u32), (3, 13), (4, 37), (1, 3)].iter().enumerate() {
        let groups = k.div_ceil(4);
        let mut dram = vec![0u8; 0x4000];
        for byte in dram.iter_mut().take((m * k) as usize) {
            *byte = rng.signed(8) as u8;
        }
        // Compressed B at 0x1000: per group 2 value rows of 4 weights, then one row of
        // 4 metadata bytes (random indices, duplicates included).
        for g in 0..groups as usize {
            for b in 0..12 {
                dram[0x1000 + g * 12 + b] = rng.next_u64() as u8;
            }
        }
        let b_row = 2048; // the upper half of the banks
        let text = format!(
            "load dram=0x0 rows={m} bytes={k} stride={k} spad=0\n\
             load dram=0x1000 rows=1 bytes={} stride=0 spad={b_row} push_next\n\
             gemm a=0 b={b_row} acc=0 k={k} m={m} pop_prev\n\
             gemm a=0 b={b_row} acc=0 k={k} m={m} accumulate push_next\n\
             store dram=0x2000 rows=4 bytes=16 stride=16 acc=0 pop_prev\n\
             halt\n",
            groups * 12
        );
        let prog = assemble(&text).unwrap();
        let (_, code) = both(&model, &cfg, dram, &prog, 0x3000, 40 + case as u64);
        assert_eq!(code, 0, "{text}");
    }
}
