//! The instruction-level model against a direct composition of the unit models:
//! tiled GEMM programs (with every epilogue, shapes that are not multiples of the
//! array, and K split into several scratchpad blocks) and softmax programs must
//! leave exactly the bytes that `gemm`, per-column `requant`, `GeluUnit` and
//! `SoftmaxUnit` give; and each error ends the run with its error code.

use accgen_golden::asm::assemble;
use accgen_golden::config::Config;
use accgen_golden::gemm::{gemm, Matrix};
use accgen_golden::gemm_program::{gemm_program, GemmEpilogue};
use accgen_golden::isa::Program;
use accgen_golden::machine::{ErrorCode, Machine};
use accgen_golden::num::wrap_signed;
use accgen_golden::requant::{requant, PerChannel, RequantConfig};
use accgen_golden::rng::SplitMix64;

fn put(dram: &mut [u8], at: u64, eb: u64, i: u64, v: i64) {
    for b in 0..eb {
        dram[(at + i * eb + b) as usize] = (v >> (8 * b)) as u8;
    }
}

fn get(dram: &[u8], at: u64, eb: u64, i: u64, bits: u32, signed: bool) -> i64 {
    let mut v: u64 = 0;
    for b in 0..eb {
        v |= (dram[(at + i * eb + b) as usize] as u64) << (8 * b);
    }
    if signed {
        wrap_signed(v as i128, bits) as i64
    } else {
        (v & ((1u64 << bits) - 1)) as i64
    }
}

fn place_program(dram: &mut Vec<u8>, at: u64, p: &Program) {
    let bytes = p.to_bytes();
    dram.resize(dram.len().max(at as usize + bytes.len()), 0);
    dram[at as usize..at as usize + bytes.len()].copy_from_slice(&bytes);
}

struct Params {
    shift: Vec<i64>,
    zp: Vec<i64>,
    bias: Vec<i64>,
}

/// One GEMM case end to end; returns the number of K blocks the program used.
fn gemm_case(cfg: &Config, m: u32, k: u32, n: u32, epi: GemmEpilogue, seed: u64) -> u32 {
    let arr = cfg.array.as_ref().unwrap();
    let (prog, lay) = gemm_program(cfg, m, k, n, epi).unwrap();
    let mut rng = SplitMix64::new(seed);
    let (m64, k64, n64) = (m as u64, k as u64, n as u64);
    let ab = accgen_golden::accel::elem_bytes(arr.act_bits) as u64;
    let wb = accgen_golden::accel::elem_bytes(arr.weight_bits) as u64;
    let a = Matrix::from_vec(
        m as usize,
        k as usize,
        (0..m64 * k64).map(|_| rng.signed(arr.act_bits)).collect(),
    );
    let b = Matrix::from_vec(
        k as usize,
        n as usize,
        (0..k64 * n64)
            .map(|_| rng.signed(arr.weight_bits))
            .collect(),
    );
    let mut dram = vec![0u8; lay.end as usize];
    for (i, v) in a.data.iter().enumerate() {
        put(&mut dram, lay.a, ab, i as u64, *v);
    }
    for (i, v) in b.data.iter().enumerate() {
        let (t, j) = (i as u64 / n64, i as u64 % n64);
        put(&mut dram, lay.b_addr(t, j), wb, 0, *v);
    }
    let rq = cfg.requant.clone();
    let c_cols = arr.cols as u64;
    let col_tiles = n64.div_ceil(c_cols);
    let mut params = Params {
        shift: vec![],
        zp: vec![],
        bias: vec![],
    };
    if let (Some(q), true) = (&rq, epi != GemmEpilogue::None) {
        let bias_b = if q.in_bits > 32 { 8 } else { 4 };
        let (qmin, qmax) = q.qrange();
        for col in 0..col_tiles * c_cols {
            let s = rng.range_i64(0, 20);
            let z = rng.range_i64(qmin as i64, qmax as i64) / 4;
            let bi = rng.range_i64(-5000, 5000);
            params.shift.push(s);
            params.zp.push(z);
            params.bias.push(bi);
            let (j, c) = (col / c_cols, col % c_cols);
            let base = lay.params + j * c_cols * (1 + 2 + bias_b);
            put(&mut dram, base, 1, c, s);
            put(&mut dram, base + c_cols, 2, c, z);
            put(&mut dram, base + 3 * c_cols, bias_b, c, bi);
        }
    }
    place_program(&mut dram, lay.prog, &prog);
    let mut mach = Machine::new(cfg, dram, 0).unwrap();
    let out = mach.run(lay.prog, prog.instrs.len() as u64);
    assert_eq!(out.fault, None, "{m}x{k}x{n} {epi:?}");
    assert_eq!(
        out.uninit_reads,
        [],
        "the generated program reads only rows it wrote"
    );
    // The direct composition.
    let prod = gemm(&a, &b, arr.format());
    let gelu = cfg.gelu.as_ref().map(accgen_golden::gelu::GeluUnit::new);
    for i in 0..m as usize {
        for j in 0..n as usize {
            let x = prod.at(i, j);
            let (want, bits, signed) = match (&rq, epi) {
                (_, GemmEpilogue::None) => (x, arr.acc_bits, true),
                (Some(q), e) => {
                    let cq = RequantConfig {
                        shift: PerChannel::Tensor(params.shift[j]),
                        zero_point: params.zp[j],
                        bias: Some(PerChannel::Tensor(params.bias[j])),
                        relu: e == GemmEpilogue::RequantRelu,
                        ..q.clone()
                    };
                    let y = requant(&cq, 0, x);
                    if e == GemmEpilogue::RequantGelu {
                        let g = cfg.gelu.as_ref().unwrap();
                        (gelu.as_ref().unwrap().eval(y), g.out_bits, true)
                    } else {
                        (y, q.out_bits, q.out_signed)
                    }
                }
                (None, _) => unreachable!(),
            };
            let got = get(
                &mach.dram,
                lay.c,
                lay.c_elem_bytes,
                (i * n as usize + j) as u64,
                bits,
                signed,
            );
            assert_eq!(got, want, "C[{i}][{j}] of {m}x{k}x{n} {epi:?}");
        }
    }
    // Every C byte was written by a STORE, and the MAC count is exact.
    for byte in lay.c..lay.c + m64 * n64 * lay.c_elem_bytes {
        assert!(mach.last_writer[byte as usize].is_some());
    }
    // MACs the array performs on valid A rows, padded columns included.
    assert_eq!(out.stats.macs, m64 * col_tiles * c_cols * k64);
    assert_eq!(out.stats.dram_bytes_written, m64 * n64 * lay.c_elem_bytes);
    k.div_ceil(lay.kt)
}

const CFG_16: &str = "[array]\n[requant]\nin_bits = 32\nout_bits = 8\n[gelu]\nin_bits = 8\nin_frac = 4\nout_bits = 8\nout_frac = 4\n[accel]\nspad_kib = 16\nacc_kib = 8\n";

#[test]
fn tiled_gemm_programs_equal_the_composed_unit_models() {
    let cfg = Config::from_toml_str(CFG_16).unwrap();
    let mut rng = SplitMix64::new(9);
    let mut multi_block = 0;
    for case in 0..24u64 {
        let m = rng.range_i64(1, 40) as u32;
        let k = if case % 4 == 0 {
            rng.range_i64(300, 700) as u32
        } else {
            rng.range_i64(1, 80) as u32
        };
        let n = rng.range_i64(1, 40) as u32;
        let epi = [
            GemmEpilogue::None,
            GemmEpilogue::Requant,
            GemmEpilogue::RequantRelu,
            GemmEpilogue::RequantGelu,
        ][(case % 4) as usize];
        if gemm_case(&cfg, m, k, n, epi, case) > 1 {
            multi_block += 1;
        }
    }
    assert!(
        multi_block >= 4,
        "K larger than one scratchpad block must be covered"
    );
}

#[test]
fn other_formats_and_shapes() {
    for (text, shapes) in [
        (
            "[array]\nrows = 4\ncols = 8\nact_bits = 6\nweight_bits = 12\nacc_bits = 40\n[requant]\nin_bits = 48\nout_bits = 12\nout_signed = false\nrounding = \"half-away\"\n[accel]\nspad_kib = 16\nacc_kib = 8\nqueue_depth = 2\n",
            vec![(1, 1, 1), (5, 33, 9), (13, 200, 17)],
        ),
        (
            "[array]\nrows = 3\ncols = 5\nact_bits = 16\nweight_bits = 16\nacc_bits = 48\n[requant]\nin_bits = 48\nout_bits = 16\nrounding = \"floor\"\n[accel]\nspad_kib = 16\nacc_kib = 8\n",
            vec![(7, 1500, 11), (3, 5, 5)],
        ),
    ] {
        let cfg = Config::from_toml_str(text).unwrap();
        for (i, &(m, k, n)) in shapes.iter().enumerate() {
            for epi in [GemmEpilogue::None, GemmEpilogue::Requant, GemmEpilogue::RequantRelu] {
                gemm_case(&cfg, m, k, n, epi, i as u64 + 100);
            }
        }
    }
}

#[test]
fn softmax_program_equals_the_unit_model() {
    let cfg = Config::from_toml_str(
        "[softmax]\nmax_len = 100\nin_bits = 16\nin_frac = 10\nout_bits = 16\n[accel]\nspad_kib = 16\n",
    )
    .unwrap();
    let sm = cfg.softmax.clone().unwrap();
    let unit = accgen_golden::softmax::SoftmaxUnit::new(&sm);
    let mut rng = SplitMix64::new(4);
    for len in [1u64, 7, 16, 37, 100] {
        let rows = 5u64;
        // Rows of len int16 at 0x0 (stride 256), output at 0x4000 (stride 256).
        let text = format!(
            "load dram=0x0 rows={rows} bytes={} stride=256 spad=0 push_next\n\
             softmax src=0 dst=200 rows={rows} len={len} pop_prev push_next\n\
             store dram=0x4000 rows={rows} bytes={} stride=256 spad=200 pop_prev\n\
             halt\n",
            2 * len,
            2 * len
        );
        let prog = assemble(&text).unwrap();
        prog.check(&cfg).unwrap();
        let mut dram = vec![0u8; 0x8000];
        let mut xs = vec![];
        for r in 0..rows {
            let row: Vec<i64> = (0..len).map(|_| rng.signed(16)).collect();
            for (t, v) in row.iter().enumerate() {
                put(&mut dram, r * 256, 2, t as u64, *v);
            }
            xs.push(row);
        }
        place_program(&mut dram, 0x7000, &prog);
        let mut mach = Machine::new(&cfg, dram, 0).unwrap();
        let out = mach.run(0x7000, prog.instrs.len() as u64);
        assert_eq!(out.fault, None);
        for (r, row) in xs.iter().enumerate() {
            let want = unit.row(row).unwrap();
            for (t, w) in want.iter().enumerate() {
                let got = get(&mach.dram, 0x4000 + r as u64 * 256, 2, t as u64, 16, false);
                assert_eq!(got, *w, "row {r} element {t} (len {len})");
            }
        }
    }
}

#[test]
fn layernorm_program_equals_the_unit_model() {
    // Parameters: gamma int8 at 0x5000, beta int16 at 0x5400; rows of int8 at 0x0
    // (stride 512), output int16 at 0x2000 (stride 512).
    let cfg = Config::from_toml_str(
        "[layernorm]\nmax_len = 200\nin_bits = 8\nin_frac = 4\ngamma_bits = 8\ngamma_frac = 6\nbeta_bits = 12\nout_bits = 12\nout_frac = 6\n[accel]\nspad_kib = 16\n",
    )
    .unwrap();
    let ln = cfg.layernorm.clone().unwrap();
    let mut rng = SplitMix64::new(8);
    for (len, dst) in [(1u64, 300u64), (13, 300), (16, 40), (200, 300)] {
        let rows = 4u64;
        let text = format!(
            "load dram=0x5000 rows=1 bytes={len} stride=0 spad=900 push_next\n\
             load dram=0x5400 rows=1 bytes={} stride=0 spad={} push_next\n\
             load dram=0x0 rows={rows} bytes={len} stride=512 spad=0 push_next\n\
             nop.compute pop_prev\n\
             nop.compute pop_prev\n\
             layernorm src=0 dst={dst} rows={rows} len={len} params=900 pop_prev push_next\n\
             store dram=0x2000 rows={rows} bytes={} stride=512 spad={dst} pop_prev\n\
             halt\n",
            2 * len,
            900 + len.div_ceil(16),
            2 * len
        );
        let prog = assemble(&text).unwrap();
        prog.check(&cfg).unwrap();
        let mut dram = vec![0u8; 0x8000];
        let gamma: Vec<i64> = (0..len).map(|_| rng.signed(8)).collect();
        let beta: Vec<i64> = (0..len).map(|_| rng.signed(12)).collect();
        for t in 0..len {
            put(&mut dram, 0x5000, 1, t, gamma[t as usize]);
            put(&mut dram, 0x5400, 2, t, beta[t as usize]);
        }
        let mut xs = vec![];
        for r in 0..rows {
            let row: Vec<i64> = (0..len).map(|_| rng.signed(8)).collect();
            for (t, v) in row.iter().enumerate() {
                put(&mut dram, r * 512, 1, t as u64, *v);
            }
            xs.push(row);
        }
        place_program(&mut dram, 0x7000, &prog);
        let mut mach = Machine::new(&cfg, dram, 0).unwrap();
        let out = mach.run(0x7000, prog.instrs.len() as u64);
        assert_eq!(out.fault, None, "len {len}");
        for (r, row) in xs.iter().enumerate() {
            let want = accgen_golden::layernorm::layernorm_row(&ln, row, &gamma, &beta).unwrap();
            for (t, w) in want.iter().enumerate() {
                let got = get(&mach.dram, 0x2000 + r as u64 * 512, 2, t as u64, 12, true);
                assert_eq!(got, *w, "row {r} element {t} (len {len})");
            }
        }
    }
}

#[test]
fn add_program_equals_the_unit_model() {
    // a int8 at 0x0, b int16 at 0x1000, y int8 at 0x3000, rows 512 bytes apart;
    // the output overwrites a in place.
    let cfg = Config::from_toml_str(
        "[residual]\na_bits = 8\na_frac = 5\nb_bits = 16\nb_frac = 9\nout_bits = 8\nout_frac = 4\nrounding = \"floor\"\n[accel]\nspad_kib = 16\n",
    )
    .unwrap();
    let rc = cfg.residual.clone().unwrap();
    let mut rng = SplitMix64::new(9);
    for len in [1u64, 15, 16, 100] {
        let rows = 3u64;
        let text = format!(
            "load dram=0x0 rows={rows} bytes={len} stride=512 spad=0 push_next\n\
             load dram=0x1000 rows={rows} bytes={} stride=512 spad=400 push_next\n\
             nop.compute pop_prev\n\
             add a=0 b=400 dst=0 rows={rows} len={len} pop_prev push_next\n\
             store dram=0x3000 rows={rows} bytes={len} stride=512 spad=0 pop_prev\n\
             halt\n",
            2 * len
        );
        let prog = assemble(&text).unwrap();
        prog.check(&cfg).unwrap();
        let mut dram = vec![0u8; 0x8000];
        let (mut av, mut bv) = (vec![], vec![]);
        for r in 0..rows {
            let a: Vec<i64> = (0..len).map(|_| rng.signed(8)).collect();
            let b: Vec<i64> = (0..len).map(|_| rng.signed(16)).collect();
            for t in 0..len as usize {
                put(&mut dram, r * 512, 1, t as u64, a[t]);
                put(&mut dram, 0x1000 + r * 512, 2, t as u64, b[t]);
            }
            av.push(a);
            bv.push(b);
        }
        place_program(&mut dram, 0x7000, &prog);
        let mut mach = Machine::new(&cfg, dram, 0).unwrap();
        let out = mach.run(0x7000, prog.instrs.len() as u64);
        assert_eq!(out.fault, None, "len {len}");
        for r in 0..rows as usize {
            let want = accgen_golden::residual::residual_add(&rc, &av[r], &bv[r]).unwrap();
            for (t, w) in want.iter().enumerate() {
                let got = get(&mach.dram, 0x3000 + r as u64 * 512, 1, t as u64, 8, true);
                assert_eq!(got, *w, "row {r} element {t} (len {len})");
            }
        }
    }
    // An output that overlaps b from behind is illegal.
    let (c, i, m) = fault_of(
        "[residual]\n[accel]\nspad_kib = 16\n",
        "add a=0 b=100 dst=101 rows=2 len=16\nhalt\n",
        4096,
    );
    assert_eq!((c, i), (ErrorCode::IllegalInstruction, Some(0)));
    assert!(m.contains("overlap its `b` rows 100..102"), "{m}");
    let (c, _, m) = fault_of(
        "[array]\n[requant]\n[accel]\nspad_kib = 16\nacc_kib = 8\n",
        "layernorm src=0 dst=0 rows=1 len=4 params=10\nhalt\n",
        4096,
    );
    assert_eq!(c, ErrorCode::IllegalInstruction);
    assert!(m.contains("[layernorm]"), "{m}");
}

fn fault_of(cfg: &str, prog: &str, dram_len: usize) -> (ErrorCode, Option<usize>, String) {
    let cfg = Config::from_toml_str(cfg).unwrap();
    let p = assemble(prog).unwrap();
    let mut dram = vec![0u8; dram_len];
    place_program(&mut dram, 0, &p);
    let mut mach = Machine::new(&cfg, dram, 0).unwrap();
    let f = mach
        .run(0, p.instrs.len() as u64)
        .fault
        .expect("the run must fail");
    (f.code, f.index, f.message)
}

#[test]
fn every_error_ends_the_run_with_its_code() {
    let cfg = "[array]\n[requant]\n[accel]\nspad_kib = 16\nacc_kib = 8\n";
    // A token nobody sends: the watchdog.
    let (c, i, m) = fault_of(cfg, "gemm a=0 b=0 acc=0 k=1 m=1 pop_prev\nhalt\n", 4096);
    assert_eq!((c, i), (ErrorCode::Watchdog, Some(0)));
    assert!(
        m.contains("compute engine at instruction 0 (`gemm`)"),
        "{m}"
    );
    // A DRAM read past the memory: an AXI error.
    let (c, i, _) = fault_of(
        cfg,
        "fence\nload dram=0x10000 rows=1 bytes=16 stride=0 spad=0\nhalt\n",
        4096,
    );
    assert_eq!((c, i), (ErrorCode::Axi, Some(1)));
    // Scratchpad rows beyond the memory (16 KiB of 16-byte rows = 1024 rows).
    let (c, _, m) = fault_of(
        cfg,
        "load dram=0 rows=2 bytes=16 stride=0 spad=1023\nhalt\n",
        4096,
    );
    assert_eq!(c, ErrorCode::AddressRange);
    assert!(m.contains("rows 1023..1025"), "{m}");
    // A unit the accelerator does not have.
    let (c, _, m) = fault_of(cfg, "softmax src=0 dst=0 rows=1 len=4\nhalt\n", 4096);
    assert_eq!(c, ErrorCode::IllegalInstruction);
    assert!(m.contains("[softmax]"), "{m}");
    // An epilogue shift outside -16..=47 (the parameter block is all 0x7f bytes).
    let cfgq = Config::from_toml_str(cfg).unwrap();
    let p = assemble(
        "load dram=0x800 rows=7 bytes=16 stride=16 spad=100\nepilogue acc=0 spad=0 rows=1 params=100\nhalt\n",
    )
    .unwrap();
    let mut dram = vec![0x7fu8; 4096];
    place_program(&mut dram, 0, &p);
    let mut mach = Machine::new(&cfgq, dram, 0).unwrap();
    let f = mach.run(0, 3).fault.unwrap();
    assert_eq!((f.code, f.index), (ErrorCode::Parameter, Some(1)));
    assert!(
        f.message.contains("column 0") && f.message.contains("requant.shift"),
        "{}",
        f.message
    );
    // An illegal word after valid ones: what was dispatched still runs, then error 1.
    let cfgs = Config::from_toml_str(cfg).unwrap();
    let p = assemble("store dram=0x900 rows=1 bytes=4 stride=0 acc=0\nhalt\n").unwrap();
    let mut dram = vec![0x55u8; 4096];
    place_program(&mut dram, 0, &p);
    dram[16..32].fill(0); // replace halt with an all-zero (illegal) word
    let mut mach = Machine::new(&cfgs, dram, 0).unwrap();
    let f = mach.run(0, 2).fault.unwrap();
    assert_eq!((f.code, f.index), (ErrorCode::IllegalInstruction, Some(1)));
    assert_eq!(
        &mach.dram[0x900..0x904],
        &[0, 0, 0, 0],
        "the store before it ran"
    );
    assert_eq!(mach.last_writer[0x900], Some(0));
    // Running past the program's length.
    let cfgr = Config::from_toml_str(cfg).unwrap();
    let p = assemble("fence\nhalt\n").unwrap();
    let mut dram = vec![0u8; 4096];
    place_program(&mut dram, 0, &p);
    let f = Machine::new(&cfgr, dram, 0)
        .unwrap()
        .run(0, 1)
        .fault
        .unwrap();
    assert_eq!(f.code, ErrorCode::IllegalInstruction);
    assert!(
        f.message.contains("ran past its 1 instructions"),
        "{}",
        f.message
    );
}

#[test]
fn sparse_gemm_reads_compressed_groups_with_their_index_rows() {
    use accgen_golden::nm_sparse::{compress, prune, SparsityConfig};
    for (n_, m_, k) in [(2u32, 4u32, 24usize), (1, 4, 13), (2, 8, 40), (1, 2, 7)] {
        let text = format!(
            "[array]\nrows = 4\ncols = 4\n[sparsity]\nn = {n_}\nm = {m_}\n[accel]\nspad_kib = 16\nacc_kib = 8\n"
        );
        let cfg = Config::from_toml_str(&text).unwrap();
        let sp = SparsityConfig { n: n_, m: m_ };
        let mut rng = SplitMix64::new(k as u64);
        let a = Matrix::from_vec(4, k, (0..4 * k).map(|_| rng.signed(8)).collect());
        let b = prune(
            &Matrix::from_vec(k, 4, (0..4 * k).map(|_| rng.signed(8)).collect()),
            sp,
        );
        let comp = compress(&b, sp).unwrap();
        // W = 4 bytes: one spad row per slot (4 weights), one index row (4 bytes).
        let groups = comp.groups();
        let group_rows = n_ as usize + 1;
        let mut dram = vec![0u8; 0x2000];
        for i in 0..4 {
            for t in 0..k {
                put(&mut dram, 0x100 + (i * k) as u64, 1, t as u64, a.at(i, t));
            }
        }
        for g in 0..groups {
            let g0 = 0x800 + (g * group_rows * 4) as u64;
            for col in 0..4 {
                for s in 0..n_ as usize {
                    let (v, _) = comp.slot(g, col, s);
                    put(&mut dram, g0 + (s * 4) as u64, 1, col as u64, v);
                }
                put(
                    &mut dram,
                    g0 + (n_ as usize * 4) as u64,
                    1,
                    col as u64,
                    comp.meta(g, col) as i64,
                );
            }
        }
        let prog = assemble(&format!(
            "load dram=0x100 rows=4 bytes={k} stride={k} spad=0\n\
             load dram=0x800 rows={} bytes=4 stride=4 spad=100 push_next\n\
             gemm a=0 b=100 acc=0 k={k} m=4 pop_prev push_next\n\
             store dram=0x1000 rows=4 bytes=16 stride=16 acc=0 pop_prev\n\
             halt\n",
            groups * group_rows
        ))
        .unwrap();
        prog.check(&cfg).unwrap();
        place_program(&mut dram, 0x1800, &prog);
        let mut mach = Machine::new(&cfg, dram, 0).unwrap();
        let out = mach.run(0x1800, prog.instrs.len() as u64);
        assert_eq!(out.fault, None);
        let want = gemm(&a, &b, cfg.array.as_ref().unwrap().format());
        for i in 0..4 {
            for j in 0..4 {
                let got = get(&mach.dram, 0x1000, 4, (i * 4 + j) as u64, 32, true);
                assert_eq!(got, want.at(i, j), "{n_}:{m_} k={k} C[{i}][{j}]");
            }
        }
        assert_eq!(out.stats.macs, (4 * 4 * groups * n_ as usize) as u64);
    }
}

#[test]
fn reads_of_never_written_rows_are_reported() {
    let cfg =
        Config::from_toml_str("[array]\n[requant]\n[accel]\nspad_kib = 16\nacc_kib = 8\n").unwrap();
    let prog = assemble(
        "load dram=0 rows=2 bytes=16 stride=16 spad=10\n\
         store dram=0x100 rows=3 bytes=16 stride=16 spad=10\n\
         store dram=0x200 rows=1 bytes=4 stride=0 acc=20\n\
         gemm a=10 b=10 acc=0 k=1 m=1 accumulate\n\
         store dram=0x300 rows=2 bytes=16 stride=16 spad=10\n\
         halt\n",
    )
    .unwrap();
    let mut dram = vec![0u8; 0x1000];
    place_program(&mut dram, 0x800, &prog);
    let mut m = Machine::new(&cfg, dram, 0).unwrap();
    let out = m.run(0x800, prog.instrs.len() as u64);
    assert_eq!(out.fault, None);
    // Reported in execution order (engines interleave); compare by instruction.
    let mut got: Vec<(usize, &str, u64)> = out
        .uninit_reads
        .iter()
        .map(|u| (u.index, u.memory, u.row))
        .collect();
    got.sort();
    // Row 12 was never loaded; acc row 20 never computed; the accumulating GEMM reads
    // acc rows it never wrote (row 0) and B row 10 is fine; instruction 4 is clean.
    assert_eq!(
        got,
        [
            (1, "scratchpad", 12),
            (2, "accumulator", 20),
            (3, "accumulator", 0)
        ]
    );
}

/// A GEMM tile whose epilogue writes it transposed (`trans`): column j of C goes to
/// scratchpad row o + j, so a STORE of C rows of m bytes writes C^T to DRAM.
#[test]
fn transposed_epilogue_writes_the_tile_transposed() {
    let cfg = Config::from_toml_str(
        "[array]\nrows = 4\ncols = 4\n[requant]\nin_bits = 32\nout_bits = 8\n[accel]\nspad_kib = 16\nacc_kib = 8\n",
    )
    .unwrap();
    let rq = cfg.requant.clone().unwrap();
    let arr = cfg.array.clone().unwrap();
    let mut rng = SplitMix64::new(21);
    for (m, k) in [(4u64, 7u64), (3, 1), (1, 12)] {
        let mut dram = vec![0u8; 0x4000];
        let a: Vec<i64> = (0..m * k).map(|_| rng.signed(8)).collect();
        let b: Vec<i64> = (0..k * 4).map(|_| rng.signed(8)).collect();
        for (i, v) in a.iter().enumerate() {
            put(&mut dram, 0x0, 1, i as u64, *v);
        }
        for (i, v) in b.iter().enumerate() {
            put(&mut dram, 0x400, 1, i as u64, *v);
        }
        // Parameters: shifts 3..6, zero points 0, biases -5..-2.
        for j in 0..4u64 {
            put(&mut dram, 0x800, 1, j, 3 + j as i64);
            put(&mut dram, 0x900, 4, j, j as i64 - 5);
        }
        let text = format!(
            "load dram=0x0 rows={m} bytes={k} stride={k} spad=0\n\
             load dram=0x400 rows={k} bytes=4 stride=4 spad=100\n\
             load dram=0x800 rows=1 bytes=4 stride=0 spad=200\n\
             load dram=0x880 rows=1 bytes=8 stride=0 spad=201\n\
             load dram=0x900 rows=1 bytes=16 stride=0 spad=203 push_next\n\
             gemm a=0 b=100 acc=0 k={k} m={m} pop_prev\n\
             epilogue acc=0 spad=300 rows={m} params=200 trans push_next\n\
             store dram=0x2000 rows=4 bytes={m} stride={m} spad=300 pop_prev\n\
             halt\n"
        );
        let prog = assemble(&text).unwrap();
        prog.check(&cfg).unwrap();
        place_program(&mut dram, 0x3000, &prog);
        let mut mach = Machine::new(&cfg, dram, 0).unwrap();
        let out = mach.run(0x3000, prog.instrs.len() as u64);
        assert_eq!(out.fault, None);
        let c = gemm(
            &Matrix::from_vec(m as usize, k as usize, a.clone()),
            &Matrix::from_vec(k as usize, 4, b.clone()),
            arr.format(),
        );
        for j in 0..4u64 {
            let q = RequantConfig {
                shift: PerChannel::Tensor(3 + j as i64),
                zero_point: 0,
                bias: Some(PerChannel::Tensor(j as i64 - 5)),
                ..rq.clone()
            };
            for i in 0..m {
                let want = requant(&q, 0, c.at(i as usize, j as usize));
                let got = get(&mach.dram, 0x2000 + j * m, 1, i, 8, true);
                assert_eq!(got, want, "C^T[{j}][{i}] (m {m}, k {k})");
            }
        }
    }
    // More rows than one scratchpad row holds: illegal.
    let (c, i, msg) = fault_of(
        "[array]\nrows = 8\ncols = 4\n[requant]\n[accel]\nspad_kib = 16\nacc_kib = 8\n",
        "epilogue acc=0 spad=0 rows=9 params=100 trans\nhalt\n",
        4096,
    );
    assert_eq!((c, i), (ErrorCode::IllegalInstruction, Some(0)));
    assert!(msg.contains("`rows` must be at most 8"), "{msg}");
}
