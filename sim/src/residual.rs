//! Co-simulation driver of the residual-add unit: pairs `(a[i], b[i])` stream through
//! `s_axis`, pair i on lane i % lanes, each lane field `{b, a}` with both operands
//! sign-extended to whole bytes; every output lane is compared with golden
//! ([`crate::stream::run_lanes`]).

use accgen_golden::residual::{residual, ResidualConfig};

use crate::axis::Traffic;
use crate::dut::Dut;
use crate::error::SimResult;
use crate::stream::{run_lanes, LaneFormat, StreamRun};

/// The pair `(a, b)` as one lane value: `a` in the low `bytes(a_bits)` bytes, `b` above.
pub fn pack_pair(cfg: &ResidualConfig, a: i64, b: i64) -> i64 {
    let ab = cfg.a_bits.div_ceil(8) * 8;
    let mask = if ab >= 64 { -1 } else { (1i64 << ab) - 1 };
    (a & mask) | (b << ab)
}

/// The inverse of [`pack_pair`].
pub fn unpack_pair(cfg: &ResidualConfig, x: i64) -> (i64, i64) {
    let ab = cfg.a_bits.div_ceil(8) * 8;
    let a = (x << (64 - ab)) >> (64 - ab);
    (a, x >> ab)
}

/// Stream the pairs through the unit and compare every output with golden.
/// `name(i)` names pair `i` in messages.
pub fn run_pairs(
    dut: &mut Dut,
    cfg: &ResidualConfig,
    a: &[i64],
    b: &[i64],
    name: &dyn Fn(usize) -> String,
    traffic: &Traffic,
) -> SimResult<StreamRun> {
    assert_eq!(a.len(), b.len(), "a and b must have one length");
    let xs: Vec<i64> = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| pack_pair(cfg, x, y))
        .collect();
    let input = LaneFormat {
        bits: cfg.a_bits.div_ceil(8) * 8 + cfg.b_bits,
        signed: true,
    };
    let output = LaneFormat {
        bits: cfg.out_bits,
        signed: true,
    };
    let golden = |_: usize, x: i64| {
        let (p, q) = unpack_pair(cfg, x);
        residual(cfg, p, q)
    };
    run_lanes(
        dut,
        cfg.lanes as usize,
        input,
        output,
        &xs,
        &golden,
        name,
        traffic,
        256,
    )
}
