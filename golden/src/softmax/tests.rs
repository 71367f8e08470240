//! Softmax against the `f64` softmax over random rows of many shapes.

use super::*;
use crate::config::Config;
use crate::num::{smax, smin};
use crate::rng::SplitMix64;
use crate::stats::ErrorStats;

fn cfg(max_len: u32, in_bits: u32, in_frac: u32, out_bits: u32) -> SoftmaxConfig {
    SoftmaxConfig {
        lanes: 1,
        max_len,
        in_bits,
        in_frac,
        out_bits,
    }
}

/// `f64` softmax of a row at scale `2^-in_frac`.
fn reference(xs: &[i64], in_frac: u32) -> Vec<f64> {
    let m = *xs.iter().max().unwrap();
    let scale = (-(in_frac as f64)).exp2();
    let es: Vec<f64> = xs.iter().map(|&x| ((x - m) as f64 * scale).exp()).collect();
    let s: f64 = es.iter().sum();
    es.iter().map(|e| e / s).collect()
}

/// Run one row through the model and assert the 1-LSB bound on every output: against
/// the reference clamped to the top code strictly, and against the unclamped one
/// (where 1.0 becomes the top code, exactly 1 LSB below) inclusively.
fn check_row(unit: &SoftmaxUnit, c: &SoftmaxConfig, xs: &[i64], stats: &mut ErrorStats) {
    let ys = unit.row(xs).unwrap();
    let top = (1u64 << c.out_bits) as f64;
    for (i, (&y, p)) in ys.iter().zip(reference(xs, c.in_frac)).enumerate() {
        let exact = p * top;
        let err = y as f64 - exact.min(top - 1.0);
        assert!(
            err.abs() < 1.0 && (y as f64 - exact).abs() <= 1.0,
            "{c:?}: row len {} element {i}: out {y}, float {exact}\nrow {xs:?}",
            xs.len()
        );
        stats.add(err);
    }
}

/// Row distributions; the index cycles over rows.
const DISTS: [&str; 7] = [
    "uniform over the full input range",
    "uniform over [-4, 4]",
    "peaked: one logit 2..24 above a [-1, 1] background",
    "all equal",
    "wide: extremes of the range, saturating outputs at 0 and the top code",
    "ties: 2..8 equal maxima, the rest 2..8 below",
    "narrow bell: sum of four uniforms on [-0.5, 0.5]",
];

fn gen_row(rng: &mut SplitMix64, c: &SoftmaxConfig, dist: usize, len: usize) -> Vec<i64> {
    let (lo, hi) = (smin(c.in_bits) as i64, smax(c.in_bits) as i64);
    let one = 1i64 << c.in_frac;
    let real = |rng: &mut SplitMix64, a: f64, b: f64| {
        rng.range_i64((a * one as f64) as i64, (b * one as f64) as i64)
            .clamp(lo, hi)
    };
    match dist {
        0 => (0..len).map(|_| rng.range_i64(lo, hi)).collect(),
        1 => (0..len).map(|_| real(rng, -4.0, 4.0)).collect(),
        2 => {
            let mut v: Vec<i64> = (0..len).map(|_| real(rng, -1.0, 1.0)).collect();
            let k = rng.range_i64(0, len as i64 - 1) as usize;
            v[k] = (v[k] + real(rng, 2.0, 24.0)).clamp(lo, hi);
            v
        }
        3 => vec![rng.range_i64(lo, hi); len],
        4 => {
            let mut v: Vec<i64> = (0..len)
                .map(|_| match rng.range_i64(0, 2) {
                    0 => lo,
                    1 => hi,
                    _ => rng.range_i64(lo, hi),
                })
                .collect();
            v[rng.range_i64(0, len as i64 - 1) as usize] = hi;
            v
        }
        5 => {
            let top = real(rng, -2.0, 2.0);
            let mut v: Vec<i64> = (0..len)
                .map(|_| (top - real(rng, 2.0, 8.0)).clamp(lo, hi))
                .collect();
            for _ in 0..rng.range_i64(2, 8) {
                v[rng.range_i64(0, len as i64 - 1) as usize] = top;
            }
            v
        }
        _ => (0..len)
            .map(|_| {
                (0..4)
                    .map(|_| real(rng, -0.5, 0.5))
                    .sum::<i64>()
                    .clamp(lo, hi)
            })
            .collect(),
    }
}

#[test]
fn random_rows() {
    // (max_len, in_bits, in_frac, out_bits)
    let formats = [
        (64, 8, 4, 8),
        (256, 16, 10, 16),
        (4096, 16, 12, 16),
        (1024, 12, 6, 12),
        (2, 8, 0, 4),
        (4096, 16, 0, 8),
        (100, 10, 9, 6),
    ];
    let mut summary = String::new();
    for (fi, (max_len, ib, ifr, ob)) in formats.into_iter().enumerate() {
        let c = cfg(max_len, ib, ifr, ob);
        c.validate().unwrap();
        let unit = SoftmaxUnit::new(&c);
        let mut rng = SplitMix64::new(0x50f7 + fi as u64);
        let mut stats = ErrorStats::new();
        let mut top_codes = 0;
        let rows = 2100;
        for r in 0..rows {
            let len = match r % 8 {
                0 | 1 => max_len as usize,
                2 => rng.range_i64(1, 8.min(max_len as i64)) as usize,
                _ => rng.range_i64(1, max_len as i64) as usize,
            };
            let xs = gen_row(&mut rng, &c, r % DISTS.len(), len);
            check_row(&unit, &c, &xs, &mut stats);
            top_codes += unit
                .row(&xs)
                .unwrap()
                .iter()
                .filter(|&&y| y == (1 << ob) - 1)
                .count();
        }
        assert!(top_codes > 0, "no row saturated to the top code");
        let title = format!(
            "softmax max_len {max_len}, in ({ib},{ifr}), out {ob}: {rows} rows, distributions cycled:\n  {}\nerror = output - min(float softmax * 2^{ob}, 2^{ob} - 1); {top_codes} outputs at the top code",
            DISTS.join("\n  ")
        );
        insta::assert_snapshot!(
            format!("softmax_error_{max_len}_{ib}_{ifr}_{ob}"),
            stats.render(&title)
        );
        summary += &format!(
            "max_len {max_len} in ({ib},{ifr}) out {ob}: max {:.3} mean {:.3}\n",
            stats.max_abs(),
            stats.mean_abs()
        );
    }
    eprintln!("{summary}");
}

#[test]
fn exact_fractions_and_saturation() {
    for ob in [4, 8, 16] {
        let c = cfg(64, 16, 8, ob);
        let unit = SoftmaxUnit::new(&c);
        // A single element has probability 1.0: the top code.
        assert_eq!(unit.row(&[1234]).unwrap(), vec![(1 << ob) - 1]);
        // Equal elements, L a power of two: exactly 1/L, a code of the output grid.
        for len in [2usize, 4, 16, 64] {
            let ys = unit.row(&vec![-777; len]).unwrap();
            assert!(
                ys.iter().all(|&y| y == (1 << ob) / len as i64),
                "{len}: {ys:?}"
            );
        }
        // One dominant element (64 nats above the rest): top code, others 0.
        let mut xs = vec![smin(16) as i64; 10];
        xs[3] = smax(16) as i64;
        let ys = unit.row(&xs).unwrap();
        assert_eq!(ys[3], (1 << ob) - 1);
        assert!(ys.iter().enumerate().all(|(i, &y)| i == 3 || y == 0));
    }
}

#[test]
fn exp2_table_accuracy_for_every_width() {
    for ob in 4..=16 {
        let c = cfg(256, 16, 10, ob);
        let unit = SoftmaxUnit::new(&c);
        let p = unit.params();
        assert_eq!(unit.table().len(), 1 << p.exp_index_bits);
        let bound = (-(ob as f64 + 4.0)).exp2();
        for fr in 0..1i64 << p.f {
            let (i, e) = unit.split_exp2(fr);
            assert_eq!(i, 0);
            let got = e as f64 * (-(p.et as f64)).exp2();
            let want = (fr as f64 * (-(p.f as f64)).exp2()).exp2();
            assert!(
                (got - want).abs() <= bound,
                "ob {ob} fr {fr}: {got} vs {want}"
            );
            assert!(e >= 1 << p.et && e < 2 << p.et);
        }
    }
}

#[test]
fn online_sum_tracks_the_exact_sum() {
    // Rescaling by shifts while the max rises must keep the sum within 2^-(ob+3) of
    // sum_j 2^(u_j - 2^F * m) (relative), whatever the arrival order.
    let c = cfg(4096, 16, 8, 12);
    let unit = SoftmaxUnit::new(&c);
    let p = *unit.params();
    let mut rng = SplitMix64::new(9);
    for trial in 0..300 {
        let len = rng.range_i64(1, 4096) as usize;
        let mut xs: Vec<i64> = (0..len).map(|_| rng.range_i64(-3000, 3000)).collect();
        if trial % 2 == 0 {
            xs.sort_unstable(); // ascending: the max rises at almost every element
        }
        let us: Vec<i64> = xs.iter().map(|&x| unit.to_log2(x)).collect();
        let mut acc = RowAcc::default();
        us.iter().for_each(|&u| unit.accumulate(&mut acc, u));
        let m = acc.max.unwrap();
        assert_eq!(m, us.iter().max().unwrap() >> p.f);
        let exact: f64 = us
            .iter()
            .map(|&u| ((u - (m << p.f)) as f64 * (-(p.f as f64)).exp2()).exp2())
            .sum();
        let got = acc.sum as f64 * (-(p.p as f64)).exp2();
        assert!(
            ((got - exact) / exact).abs() <= (-15f64).exp2(),
            "len {len}: {got} vs {exact}"
        );
        assert_eq!(acc.len, len);
    }
}

#[test]
fn parameters_and_row_errors() {
    let c = SoftmaxConfig::default();
    let p = c.params();
    assert_eq!((p.f, p.et, p.t, p.exp_index_bits), (21, 22, 22, 9));
    assert_eq!((p.p, p.s_bits, p.max_bits, p.u_bits), (30, 39, 7, 28));
    assert_eq!(p.k, (LOG2_E * 2f64.powi(24)).round() as u64);
    let unit = SoftmaxUnit::new(&c);
    let long = vec![0; 257];
    assert_eq!(
        unit.row(&long).unwrap_err().0,
        "row has 257 elements; softmax rows need 1..=256 (softmax.max_len = 256)"
    );
    assert!(unit.row(&[]).is_err());
    assert_eq!(
        unit.row(&[0, 40000]).unwrap_err().0,
        "x[1] = 40000 is outside the signed 16-bit range -32768..=32767 (softmax.in_bits = 16)"
    );
}

#[test]
fn config_errors_name_field_and_range() {
    let invalid = |text: &str| match Config::from_toml_str(text) {
        Err(ConfigError::Invalid { field, message }) => format!("{field} {message}"),
        other => panic!("expected Invalid, got {other:?}"),
    };
    assert_eq!(
        invalid("[softmax]\nmax_len = 4097\n"),
        "softmax.max_len = 4097 is outside the allowed range 2..=4096"
    );
    assert_eq!(
        invalid("[softmax]\nmax_len = 1\n"),
        "softmax.max_len = 1 is outside the allowed range 2..=4096"
    );
    assert_eq!(
        invalid("[softmax]\nin_bits = 8\n"),
        "softmax.in_frac = 10 is outside the allowed range 0..=7"
    );
    assert_eq!(
        invalid("[softmax]\nout_bits = 3\n"),
        "softmax.out_bits = 3 is outside the allowed range 4..=16"
    );
    let e = Config::from_toml_str("[softmax]\nlength = 3\n").unwrap_err();
    assert!(e.to_string().contains("unknown field `length`"), "{e}");
}
