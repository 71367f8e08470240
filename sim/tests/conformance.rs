//! Simulator conformance, operator by operator: every builder operator at widths 1,
//! 7, 8, 33, 64, 65 and 128, simulated in Verilator on random and corner-value inputs
//! and compared with an independent arbitrary-precision evaluation.

mod common;

use std::rc::Rc;

use accgen_golden::rng::SplitMix64;
use accgen_sim::{Model, SimOptions};
use common::{big_to_value, bits_of, pow2, shift_bits, value_to_big, Operands, CONFORMANCE_WIDTHS};
use num_bigint::{BigInt, BigUint};

const RANDOM_VECTORS: usize = 200;

/// Signed corner patterns at width w: min, -1, 0, max, 1.
fn corners(w: u32) -> Vec<BigUint> {
    let m = pow2(w);
    let pat = |v: BigInt| bits_of(&v, w);
    let mut v = vec![
        pat(-pow2(w - 1)),
        pat(BigInt::from(-1)),
        pat(BigInt::from(0)),
        pat(pow2(w - 1) - 1),
        pat(BigInt::from(1)),
    ];
    v.dedup();
    let _ = m;
    v
}

fn random_pattern(rng: &mut SplitMix64, w: u32) -> BigUint {
    let mut words = vec![0u64; w.div_ceil(64) as usize];
    rng.fill(&mut words);
    let v = BigUint::from_slice(
        &words
            .iter()
            .flat_map(|x| [*x as u32, (*x >> 32) as u32])
            .collect::<Vec<_>>(),
    );
    v % pow2(w).to_biguint().unwrap()
}

#[test]
fn every_operator_matches_reference_at_every_width() {
    let (module, refs) = common::conformance_module("conformance", &CONFORMANCE_WIDTHS, 11);
    let module = Rc::new(module);
    let model = Model::build(&module, &SimOptions::new()).expect("verilator build");
    let mut dut = model.instantiate().unwrap();
    let mut rng = SplitMix64::new(0x5eed);
    let mut checked = 0usize;
    for (w, ops) in &refs {
        let w = *w;
        let pa = dut.input(&format!("a_w{w}")).unwrap();
        let pb = dut.input(&format!("b_w{w}")).unwrap();
        let ps = dut.input(&format!("s_w{w}")).unwrap();
        let psel = dut.input(&format!("sel_w{w}")).unwrap();
        let outs: Vec<_> = ops.iter().map(|o| dut.output(&o.name).unwrap()).collect();
        // All corner pairs first, then random vectors (with random corner mixing).
        let cs = corners(w);
        let mut vectors: Vec<(BigUint, BigUint)> = Vec::new();
        for x in &cs {
            for y in &cs {
                vectors.push((x.clone(), y.clone()));
            }
        }
        for _ in 0..RANDOM_VECTORS {
            let mut pick = || {
                if rng.range_i64(0, 4) == 0 {
                    cs[rng.range_i64(0, cs.len() as i64 - 1) as usize].clone()
                } else {
                    random_pattern(&mut rng, w)
                }
            };
            let (x, y) = (pick(), pick());
            vectors.push((x, y));
        }
        let smax = (1u64 << shift_bits(w)) - 1;
        for (vi, (x, y)) in vectors.into_iter().enumerate() {
            let s = rng.range_i64(0, smax as i64) as u64;
            let sel = rng.range_i64(0, 1) == 1;
            dut.poke(pa, &big_to_value(&x, w));
            dut.poke(pb, &big_to_value(&y, w));
            dut.poke_u64(ps, s);
            dut.poke_u64(psel, sel as u64);
            let o = Operands {
                w,
                a: x.clone(),
                b: y.clone(),
                s,
                sel,
            };
            for (op, port) in ops.iter().zip(&outs) {
                let expected = bits_of(&(op.eval)(&o), op.width);
                let actual = value_to_big(&dut.peek(*port));
                assert_eq!(
                    actual, expected,
                    "{} (width {}) vector {vi}: a={x:#x} b={y:#x} s={s} sel={sel}",
                    op.name, op.width
                );
                checked += 1;
            }
        }
    }
    // 7 widths x ~45 operators x (200 random + corner pairs).
    assert!(
        checked > 7 * 40 * RANDOM_VECTORS,
        "only {checked} comparisons"
    );
}

/// The run-time-shift rounding block against golden `round_shift` (nearest-even), on
/// every 12-bit value and every shift 1..=13, so exact ties are covered directly.
#[test]
fn variable_rounding_shift_matches_golden_exhaustively() {
    use accgen_golden::num::{round_shift, Rounding};
    use accgen_hw::rtl::ModuleBuilder;
    let mut m = ModuleBuilder::new("rshift_var");
    let v = m.input("v", 12, false).unwrap();
    let sh = m.input("sh", 4, false).unwrap();
    let y = accgen_hw::arith::round_shift_ne_var(&mut m, v, sh).unwrap();
    m.output("y", y).unwrap();
    let model = Model::build(&Rc::new(m.finish().unwrap()), &SimOptions::new()).unwrap();
    let mut dut = model.instantiate().unwrap();
    let (pv, ps, py) = (
        dut.input("v").unwrap(),
        dut.input("sh").unwrap(),
        dut.output("y").unwrap(),
    );
    let mut ties = 0;
    for s in 1..=13u64 {
        dut.poke_u64(ps, s);
        for x in 0..4096u64 {
            dut.poke_u64(pv, x);
            let want = round_shift(x as i128, s as i32, Rounding::NearestEven);
            // The block keeps v's 12 bits; golden's result always fits (x < 2^12, s >= 1).
            assert_eq!(dut.peek_u64(py) as i128, want, "v = {x}, sh = {s}");
            if s > 0 && x & ((1 << s) - 1) == 1 << (s - 1) {
                ties += 1;
            }
        }
    }
    assert!(ties > 1000, "exact ties exercised: {ties}");
}
