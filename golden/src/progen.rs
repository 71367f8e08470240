//! Random valid programs for co-simulation and fuzzing.
//!
//! [`load_store_program`] draws a race-free LOAD/STORE program: whatever order the
//! hardware's engines run in (within what the dependency tokens and fences allow), the
//! DRAM image at `halt` is the golden model's. The rules that make it so:
//! - loads read DRAM `[0, half)`, stores write `[half, 2 * half)`: no DRAM byte is both;
//! - the scratchpad's first [`INIT_ROWS`] rows are loaded first, then a `fence`; later
//!   standalone stores only read them and nothing writes them again;
//! - each load->compute->store chain (tokens `push_next` / `pop_prev push_next` /
//!   `pop_prev`) has its own scratchpad rows; a store->compute->load chain (tokens
//!   `push_prev` / `pop_next push_prev` / `pop_next`) reuses a chain's rows only after
//!   the store that read them;
//! - standalone loads write a last area no store reads;
//! - `fence` may appear anywhere.

use crate::accel::Geometry;
use crate::asm::assemble;
use crate::isa::Program;
use crate::rng::SplitMix64;

/// Scratchpad rows filled at the start of every program.
pub const INIT_ROWS: u64 = 64;

/// Rows each chain owns.
const CHAIN_ROWS: u64 = 16;

/// A random race-free LOAD/STORE program of about `items` steps for a machine with
/// geometry `g` and a DRAM of `2 * half` bytes (its data area; the program goes
/// elsewhere). Rows are 1..=4 per transfer and 1..=64 bytes each, so every transfer
/// fits a chain's rows whatever the scratchpad row size (at least 16 bytes).
pub fn load_store_program(rng: &mut SplitMix64, g: &Geometry, half: u64, items: usize) -> Program {
    let w = g.spad_row_bytes as u64;
    assert!(
        w >= 16,
        "rows of at least 16 bytes (64-byte transfers fit 4 rows)"
    );
    let chains_max = (g.spad_rows as u64).saturating_sub(2 * INIT_ROWS) / CHAIN_ROWS;
    let free_area = INIT_ROWS + chains_max * CHAIN_ROWS;
    let init_bytes = (INIT_ROWS / 8) * w;
    let mut t =
        format!("load dram=0x0 rows=8 bytes={init_bytes} stride={init_bytes} spad=0\nfence\n");
    let mut chain = 0;
    // Chains whose rows a later store->load chain may reuse: (first row, rows,
    // bytes) of the data they hold, so a store reads only rows that were written.
    let mut reusable: Vec<(u64, i64, i64)> = Vec::new();
    let pick_dram = |rng: &mut SplitMix64, lo: u64, rows: i64, stride: i64, bytes: i64| {
        let span = (rows - 1) * stride + bytes;
        rng.range_i64(lo as i64, (lo + half) as i64 - span) as u64
    };
    for _ in 0..items {
        let rows = rng.range_i64(1, 4);
        let bytes = rng.range_i64(1, 64);
        let st_stride = rng.range_i64(bytes, 512);
        let ld_stride = rng.range_i64(0, 600);
        match rng.range_i64(0, 5) {
            0 | 1 if chain < chains_max => {
                let spad = INIT_ROWS + CHAIN_ROWS * chain;
                chain += 1;
                let ld = pick_dram(rng, 0, rows, ld_stride, bytes);
                let st = pick_dram(rng, half, rows, st_stride, bytes);
                t += &format!(
                    "load dram={ld:#x} rows={rows} bytes={bytes} stride={ld_stride} spad={spad} push_next\n\
                     nop.compute pop_prev push_next\n\
                     store dram={st:#x} rows={rows} bytes={bytes} stride={st_stride} spad={spad} pop_prev\n"
                );
                reusable.push((spad, rows, bytes));
            }
            2 if !reusable.is_empty() => {
                // Store from a chain's rows, then (ordered by tokens) load new data
                // into them and store that too.
                let k = rng.range_i64(0, reusable.len() as i64 - 1) as usize;
                let (spad, rows1, bytes1) = reusable.remove(k);
                let st_stride1 = rng.range_i64(bytes1, 512);
                let st1 = pick_dram(rng, half, rows1, st_stride1, bytes1);
                let ld = pick_dram(rng, 0, rows, ld_stride, bytes);
                let st2 = pick_dram(rng, half, rows, st_stride, bytes);
                reusable.push((spad, rows, bytes));
                t += &format!(
                    "store dram={st1:#x} rows={rows1} bytes={bytes1} stride={st_stride1} spad={spad} push_prev\n\
                     nop.compute pop_next push_prev\n\
                     load dram={ld:#x} rows={rows} bytes={bytes} stride={ld_stride} spad={spad} pop_next push_next\n\
                     nop.compute pop_prev push_next\n\
                     store dram={st2:#x} rows={rows} bytes={bytes} stride={st_stride} spad={spad} pop_prev\n"
                );
            }
            3 => {
                let spad = rng.range_i64(0, (INIT_ROWS - CHAIN_ROWS) as i64);
                let st = pick_dram(rng, half, rows, st_stride, bytes);
                t += &format!(
                    "store dram={st:#x} rows={rows} bytes={bytes} stride={st_stride} spad={spad}\n"
                );
            }
            4 => {
                let spad =
                    rng.range_i64(free_area as i64, (g.spad_rows as u64 - CHAIN_ROWS) as i64);
                let ld = pick_dram(rng, 0, rows, ld_stride, bytes);
                t += &format!(
                    "load dram={ld:#x} rows={rows} bytes={bytes} stride={ld_stride} spad={spad}\n"
                );
            }
            _ => t += "fence\n",
        }
    }
    t += "halt\n";
    assemble(&t).expect("generated programs assemble")
}

/// A random race-free program over the whole ISA for `cfg` (which has `[array]`,
/// `[requant]`, `[softmax]` and `[accel]`; `[gelu]` optional), about `items` chains
/// long. It writes the data it needs (epilogue parameters in range, softmax inputs)
/// into `dram[0..half)`, where loads read; stores write `[half, 2 * half)`, each to
/// its own bytes. Every chain has its own scratchpad and accumulator rows, and its
/// engines are ordered by tokens: loads, then compute (`pop_prev`), then the store
/// (`pop_prev`). Chains:
/// - **GEMM:** A (m x k) and B (k x C) loaded, one or two GEMMs (the second
///   accumulating), then either STORE from the accumulator or an EPILOGUE (none, ReLU
///   or GELU; sometimes transposed) and STORE from the scratchpad;
/// - **SOFTMAX:** rows of length `len` loaded, softmax in place or to other rows,
///   stored;
/// - **LAYERNORM** (with `[layernorm]`): gammas, betas and rows loaded, LayerNorm in
///   place or to other rows, stored;
/// - **ADD** (with `[residual]`): two row blocks loaded, added in place over either
///   input (when the pitches allow) or into other rows, stored;
/// - **LOAD/STORE** through `nop.compute`, and `fence`.
///
/// Stops adding chains when the scratchpad or accumulator runs out.
pub fn isa_program(
    rng: &mut SplitMix64,
    cfg: &crate::config::Config,
    dram: &mut [u8],
    half: u64,
    items: usize,
) -> Program {
    use crate::accel::elem_bytes;
    let g = Geometry::of(cfg).expect("config has [accel]");
    let arr = cfg.array.as_ref().expect("config has [array]");
    let rq = cfg.requant.as_ref().expect("config has [requant]");
    let sm = cfg.softmax.as_ref().expect("config has [softmax]");
    let (r, c) = (arr.rows as u64, arr.cols as u64);
    let w = g.spad_row_bytes as u64;
    let ab = elem_bytes(arr.act_bits) as u64;
    let wb = elem_bytes(arr.weight_bits) as u64;
    let pitch = |b: u64| g.spad_pitch(b);
    let mut spad_next = 0u64;
    let mut acc_next = 0u64;
    let mut st_next = half;
    let mut t = String::new();
    let mut alloc_spad = |n: u64| -> Option<u64> {
        let at = spad_next;
        (at + n <= g.spad_rows as u64).then(|| {
            spad_next += n;
            at
        })
    };
    let mut store_at = |n: u64| -> Option<u64> {
        let at = st_next;
        (at + n <= 2 * half).then(|| {
            st_next = (st_next + n).div_ceil(16) * 16;
            at
        })
    };
    let mut ld_next = 0x100u64; // DRAM bytes below are left for patterns
    let mut dram_block =
        |rng: &mut SplitMix64, n: u64, fill_it: bool, dram: &mut [u8]| -> Option<u64> {
            let at = ld_next;
            if at + n > half {
                return None;
            }
            ld_next = (ld_next + n).div_ceil(16) * 16;
            if fill_it {
                for i in at..at + n {
                    dram[i as usize] = rng.next_u64() as u8;
                }
            }
            Some(at)
        };
    for _ in 0..items {
        match rng.range_i64(0, 7) {
            0..=2 => {
                // GEMM chain.
                let m = rng.range_i64(1, r as i64) as u64;
                let k = rng.range_i64(1, 40) as u64;
                let ap = pitch(k * ab);
                let epi = rng.range_i64(0, 3); // 0: raw store, 1..3: none/relu/gelu
                let act = match epi {
                    3 if cfg.gelu.is_some() && rq.out_signed => "gelu",
                    2 => "relu",
                    _ => "none",
                };
                let bias_b = if rq.in_bits > 32 { 8 } else { 4 };
                let p_rows = pitch(c) + pitch(2 * c) + pitch(bias_b * c);
                let out_bits = if act == "gelu" {
                    cfg.gelu.as_ref().expect("gelu").out_bits
                } else {
                    rq.out_bits
                };
                let ob = elem_bytes(out_bits) as u64;
                // Sometimes the epilogue writes the tile transposed (C rows of R).
                let trans = epi > 0 && r * ob <= w && rng.range_i64(0, 3) == 0;
                let o_rows = if trans { c } else { r * pitch(c * ob) };
                let need = r * ap + k + if epi > 0 { p_rows + o_rows } else { 0 };
                let Some(a_row) = alloc_spad(need) else { break };
                if acc_next + r > g.acc_rows as u64 {
                    break;
                }
                let acc = acc_next;
                acc_next += r;
                let b_row = a_row + r * ap;
                let Some(a_dram) = dram_block(rng, m * k * ab, true, dram) else {
                    break;
                };
                let Some(b_dram) = dram_block(rng, k * c * wb, true, dram) else {
                    break;
                };
                t += &format!(
                    "load dram={a_dram:#x} rows={m} bytes={} stride={} spad={a_row}\n",
                    k * ab,
                    k * ab
                );
                let two = rng.range_i64(0, 1) == 1;
                if epi == 0 {
                    t += &format!(
                        "load dram={b_dram:#x} rows={k} bytes={} stride={} spad={b_row} push_next\n",
                        c * wb,
                        c * wb
                    );
                    t += &format!(
                        "gemm a={a_row} b={b_row} acc={acc} k={k} m={m} pop_prev{}\n",
                        if two { "" } else { " push_next" }
                    );
                    if two {
                        t += &format!(
                            "gemm a={a_row} b={b_row} acc={acc} k={k} m={m} accumulate push_next\n"
                        );
                    }
                    let eb = g.acc_elem_bytes as u64;
                    let Some(st) = store_at(m * c * eb) else {
                        break;
                    };
                    t += &format!(
                        "store dram={st:#x} rows={m} bytes={} stride={} acc={acc} pop_prev\n",
                        c * eb,
                        c * eb
                    );
                } else {
                    let p_row = b_row + k;
                    let o_row = p_row + p_rows;
                    let Some(p_dram) = dram_block(rng, c * (1 + 2 + bias_b), false, dram) else {
                        break;
                    };
                    let (qmin, qmax) = rq.qrange();
                    let put = |dram: &mut [u8], at: u64, eb: u64, v: i64| {
                        for b in 0..eb {
                            dram[(at + b) as usize] = (v >> (8 * b)) as u8;
                        }
                    };
                    let bmax = (1i64 << (rq.in_bits.min(40) - 1)) - 1;
                    for j in 0..c {
                        put(dram, p_dram + j, 1, rng.range_i64(-16, 47));
                        put(
                            dram,
                            p_dram + c + 2 * j,
                            2,
                            rng.range_i64(qmin as i64, qmax as i64),
                        );
                        put(
                            dram,
                            p_dram + 3 * c + bias_b * j,
                            bias_b,
                            rng.range_i64(-bmax.min(100_000), bmax.min(100_000)),
                        );
                    }
                    t += &format!(
                        "load dram={b_dram:#x} rows={k} bytes={} stride={} spad={b_row}\n",
                        c * wb,
                        c * wb
                    );
                    t += &format!("load dram={p_dram:#x} rows=1 bytes={c} stride=0 spad={p_row}\n");
                    t += &format!(
                        "load dram={:#x} rows=1 bytes={} stride=0 spad={}\n",
                        p_dram + c,
                        2 * c,
                        p_row + pitch(c)
                    );
                    t += &format!(
                        "load dram={:#x} rows=1 bytes={} stride=0 spad={} push_next\n",
                        p_dram + 3 * c,
                        bias_b * c,
                        p_row + pitch(c) + pitch(2 * c)
                    );
                    t += &format!("gemm a={a_row} b={b_row} acc={acc} k={k} m={m} pop_prev\n");
                    if two {
                        t +=
                            &format!("gemm a={a_row} b={b_row} acc={acc} k={k} m={m} accumulate\n");
                    }
                    t += &format!(
                        "epilogue acc={acc} spad={o_row} rows={r} params={p_row} act={act}{} push_next\n",
                        if trans { " trans" } else { "" }
                    );
                    let Some(st) = store_at(m * c * ob) else {
                        break;
                    };
                    let (st_rows, st_bytes) = if trans { (c, m * ob) } else { (m, c * ob) };
                    t += &format!(
                        "store dram={st:#x} rows={st_rows} bytes={st_bytes} stride={st_bytes} spad={o_row} pop_prev\n"
                    );
                }
            }
            3 => {
                // SOFTMAX chain.
                let rows = rng.range_i64(1, 5) as u64;
                let len = rng.range_i64(1, sm.max_len.min(70) as i64) as u64;
                let ib = elem_bytes(sm.in_bits) as u64;
                let ob = elem_bytes(sm.out_bits) as u64;
                let (ip, op) = (pitch(len * ib), pitch(len * ob));
                let in_place = rng.range_i64(0, 1) == 1 && op <= ip;
                let need = rows * ip + if in_place { 0 } else { rows * op };
                let Some(src) = alloc_spad(need) else { break };
                let dst = if in_place { src } else { src + rows * ip };
                let Some(x) = dram_block(rng, rows * len * ib, true, dram) else {
                    break;
                };
                let Some(st) = store_at(rows * len * ob) else {
                    break;
                };
                t += &format!(
                    "load dram={x:#x} rows={rows} bytes={} stride={} spad={src} push_next\n                     softmax src={src} dst={dst} rows={rows} len={len} pop_prev push_next\n                     store dram={st:#x} rows={rows} bytes={} stride={} spad={dst} pop_prev\n",
                    len * ib,
                    len * ib,
                    len * ob,
                    len * ob
                );
            }
            4 => {
                let rows = rng.range_i64(1, 4) as u64;
                let bytes = rng.range_i64(1, 3 * w as i64) as u64;
                let Some(spad) = alloc_spad(rows * pitch(bytes)) else {
                    break;
                };
                let stride = rng.range_i64(bytes as i64, bytes as i64 + 40) as u64;
                let Some(ld) = dram_block(rng, rows * stride, true, dram) else {
                    break;
                };
                let Some(st) = store_at(rows * stride) else {
                    break;
                };
                t += &format!(
                    "load dram={ld:#x} rows={rows} bytes={bytes} stride={stride} spad={spad} push_next\n                     nop.compute pop_prev push_next\n                     store dram={st:#x} rows={rows} bytes={bytes} stride={stride} spad={spad} pop_prev\n"
                );
            }
            5 if cfg.layernorm.is_some() => {
                let ln = cfg.layernorm.as_ref().expect("checked");
                let rows = rng.range_i64(1, 4) as u64;
                let len = rng.range_i64(1, ln.max_len.min(70) as i64) as u64;
                let (ib, ob) = (
                    elem_bytes(ln.in_bits) as u64,
                    elem_bytes(ln.out_bits) as u64,
                );
                let (gb, bb) = (
                    elem_bytes(ln.gamma_bits) as u64,
                    elem_bytes(ln.beta_bits) as u64,
                );
                let (ip, op) = (pitch(len * ib), pitch(len * ob));
                let (gp, bp) = (pitch(len * gb), pitch(len * bb));
                let in_place = rng.range_i64(0, 1) == 1 && op <= ip;
                let need = gp + bp + rows * ip + if in_place { 0 } else { rows * op };
                let Some(prm) = alloc_spad(need) else { break };
                let src = prm + gp + bp;
                let dst = if in_place { src } else { src + rows * ip };
                let Some(g_dram) = dram_block(rng, len * gb, true, dram) else {
                    break;
                };
                let Some(b_dram) = dram_block(rng, len * bb, true, dram) else {
                    break;
                };
                let Some(x) = dram_block(rng, rows * len * ib, true, dram) else {
                    break;
                };
                let Some(st) = store_at(rows * len * ob) else {
                    break;
                };
                t += &format!(
                    "load dram={g_dram:#x} rows=1 bytes={} stride=0 spad={prm}\n\
                     load dram={b_dram:#x} rows=1 bytes={} stride=0 spad={}\n\
                     load dram={x:#x} rows={rows} bytes={} stride={} spad={src} push_next\n\
                     layernorm src={src} dst={dst} rows={rows} len={len} params={prm} pop_prev push_next\n\
                     store dram={st:#x} rows={rows} bytes={} stride={} spad={dst} pop_prev\n",
                    len * gb,
                    len * bb,
                    prm + gp,
                    len * ib,
                    len * ib,
                    len * ob,
                    len * ob
                );
            }
            6 if cfg.residual.is_some() => {
                let rc = cfg.residual.as_ref().expect("checked");
                let rows = rng.range_i64(1, 4) as u64;
                let len = rng.range_i64(1, 70) as u64;
                let (ab, bb, ob) = (
                    elem_bytes(rc.a_bits) as u64,
                    elem_bytes(rc.b_bits) as u64,
                    elem_bytes(rc.out_bits) as u64,
                );
                let (ap, bp, op) = (pitch(len * ab), pitch(len * bb), pitch(len * ob));
                let over = rng.range_i64(0, 2);
                let over = match over {
                    0 if op <= ap => 0,
                    1 if op <= bp => 1,
                    _ => 2,
                };
                let need = rows * (ap + bp) + if over == 2 { rows * op } else { 0 };
                let Some(a_row) = alloc_spad(need) else { break };
                let b_row = a_row + rows * ap;
                let dst = [a_row, b_row, b_row + rows * bp][over];
                let Some(a_dram) = dram_block(rng, rows * len * ab, true, dram) else {
                    break;
                };
                let Some(b_dram) = dram_block(rng, rows * len * bb, true, dram) else {
                    break;
                };
                let Some(st) = store_at(rows * len * ob) else {
                    break;
                };
                t += &format!(
                    "load dram={a_dram:#x} rows={rows} bytes={} stride={} spad={a_row}\n\
                     load dram={b_dram:#x} rows={rows} bytes={} stride={} spad={b_row} push_next\n\
                     add a={a_row} b={b_row} dst={dst} rows={rows} len={len} pop_prev push_next\n\
                     store dram={st:#x} rows={rows} bytes={} stride={} spad={dst} pop_prev\n",
                    len * ab,
                    len * ab,
                    len * bb,
                    len * bb,
                    len * ob,
                    len * ob
                );
            }
            _ => t += "fence\n",
        }
    }
    t += "halt\n";
    assemble(&t).expect("generated programs assemble")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::machine::Machine;

    #[test]
    fn generated_programs_are_valid_and_run_on_golden() {
        let cfg = Config::from_toml_str("[array]\n[accel]\nspad_kib = 16\n").unwrap();
        let g = Geometry::of(&cfg).unwrap();
        let mut rng = SplitMix64::new(1);
        for n in [0, 5, 40] {
            let p = load_store_program(&mut rng, &g, 0x4000, n);
            p.check(&cfg).unwrap();
            let mut dram = vec![0u8; 0x10000];
            let at = 0x8000;
            dram[at..at + p.to_bytes().len()].copy_from_slice(&p.to_bytes());
            let mut m = Machine::new(&cfg, dram, 0).unwrap();
            let out = m.run(at as u64, p.instrs.len() as u64);
            assert_eq!(out.fault, None, "{n} items");
            assert_eq!(out.uninit_reads, [], "progen reads only rows it wrote");
        }
    }

    #[test]
    fn whole_isa_programs_are_valid_and_run_on_golden() {
        let cfg = Config::from_toml_str(
            "[array]\nrows = 4\ncols = 4\n[requant]\nin_bits = 32\nout_bits = 8\n[gelu]\nin_bits = 8\nin_frac = 4\nout_bits = 8\nout_frac = 4\n[softmax]\nmax_len = 64\nin_bits = 8\nin_frac = 4\nout_bits = 8\n[layernorm]\nmax_len = 64\nbeta_bits = 12\n[residual]\nb_bits = 16\n[accel]\nspad_kib = 16\nacc_kib = 8\n",
        )
        .unwrap();
        let mut rng = SplitMix64::new(2);
        let mut kinds = [0usize; 6];
        for n in 0..60 {
            let mut dram = vec![0u8; 0x10000];
            let p = isa_program(&mut rng, &cfg, &mut dram, 0x4000, n % 15);
            p.check(&cfg).unwrap();
            for i in &p.instrs {
                match i.op {
                    crate::isa::Op::Gemm(_) => kinds[0] += 1,
                    crate::isa::Op::Epilogue(_) => kinds[1] += 1,
                    crate::isa::Op::Softmax(_) => kinds[2] += 1,
                    crate::isa::Op::Store(_, crate::isa::StoreSrc::Acc) => kinds[3] += 1,
                    crate::isa::Op::Layernorm(_) => kinds[4] += 1,
                    crate::isa::Op::Add(_) => kinds[5] += 1,
                    _ => {}
                }
            }
            let at = 0x8000;
            dram[at..at + p.to_bytes().len()].copy_from_slice(&p.to_bytes());
            let mut m = Machine::new(&cfg, dram, 0).unwrap();
            let out = m.run(at as u64, p.instrs.len() as u64);
            assert_eq!(out.fault, None, "program {n}");
            assert_eq!(out.uninit_reads, [], "program {n} reads only rows it wrote");
        }
        assert!(
            kinds.iter().all(|&k| k > 5),
            "every kind appears: {kinds:?}"
        );
    }
}
