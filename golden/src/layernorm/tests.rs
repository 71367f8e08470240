//! LayerNorm against the `f64` LayerNorm over random rows of many formats.

use super::*;
use crate::config::Config;
use crate::num::{smax, smin};
use crate::rng::SplitMix64;
use crate::stats::ErrorStats;

#[allow(clippy::too_many_arguments)]
fn cfg(
    max_len: u32,
    in_bits: u32,
    in_frac: u32,
    gamma_bits: u32,
    gamma_frac: u32,
    beta_bits: u32,
    out_bits: u32,
    out_frac: u32,
) -> LayernormConfig {
    LayernormConfig {
        lanes: 1,
        max_len,
        in_bits,
        in_frac,
        gamma_bits,
        gamma_frac,
        beta_bits,
        out_bits,
        out_frac,
        eps: Epsilon(1e-5),
    }
}

/// Row distributions; the index cycles over rows.
const DISTS: [&str; 6] = [
    "uniform over the full input range",
    "narrow: uniform over [-2, 2] LSB",
    "constant (variance 0)",
    "one outlier on a constant background (saturating outputs)",
    "bell: sum of four uniforms over a quarter of the range",
    "two values (min and max variance per element)",
];

fn gen_row(rng: &mut SplitMix64, c: &LayernormConfig, dist: usize, len: usize) -> Vec<i64> {
    let (lo, hi) = (smin(c.in_bits) as i64, smax(c.in_bits) as i64);
    match dist {
        0 => (0..len).map(|_| rng.range_i64(lo, hi)).collect(),
        1 => (0..len).map(|_| rng.range_i64(-2, 2)).collect(),
        2 => vec![rng.range_i64(lo, hi); len],
        3 => {
            let mut v = vec![rng.range_i64(lo / 4, hi / 4); len];
            let k = rng.range_i64(0, len as i64 - 1) as usize;
            v[k] = if rng.chance(0.5) { lo } else { hi };
            v
        }
        4 => (0..len)
            .map(|_| (0..4).map(|_| rng.range_i64(lo / 16, hi / 16)).sum::<i64>())
            .collect(),
        _ => {
            let a = rng.range_i64(lo, hi);
            let b = rng.range_i64(lo, hi);
            (0..len)
                .map(|_| if rng.chance(0.5) { a } else { b })
                .collect()
        }
    }
}

/// One row: every output within 1 LSB of the f64 LayerNorm with the unit's `eps'`
/// (clamped to the output range), and within 1 LSB with the configured `eps` too.
fn check(c: &LayernormConfig, xs: &[i64], g: &[i64], b: &[i64], stats: &mut ErrorStats) -> usize {
    let ys = layernorm_row(c, xs, g, b).unwrap();
    let (lo, hi) = (smin(c.out_bits) as f64, smax(c.out_bits) as f64);
    let mut sat = 0;
    for eps in [c.eps_effective(), c.eps.0] {
        let want = reference_row(c, xs, g, b, eps);
        for (i, (&y, w)) in ys.iter().zip(&want).enumerate() {
            let err = y as f64 - w.clamp(lo, hi);
            assert!(
                err.abs() <= 1.0,
                "{c:?} eps {eps}: element {i}: out {y}, float {w}\nrow {xs:?}\ngamma {g:?}\nbeta {b:?}"
            );
            if eps == c.eps_effective() {
                stats.add(err);
                sat += (*w < lo || *w > hi) as usize;
            }
        }
    }
    sat
}

#[test]
fn random_rows_within_one_lsb() {
    // (max_len, in_bits, in_frac, gamma_bits, gamma_frac, beta_bits, out_bits, out_frac)
    let formats = [
        (64, 8, 4, 8, 6, 8, 8, 4),
        (256, 16, 8, 16, 12, 16, 16, 10),
        (4096, 16, 0, 16, 14, 24, 16, 12),
        (192, 8, 5, 8, 6, 12, 8, 5),
        (2, 4, 0, 4, 0, 2, 4, 0),
        (100, 12, 11, 10, 10, 6, 6, 2),
    ];
    for (fi, f) in formats.into_iter().enumerate() {
        let c = cfg(f.0, f.1, f.2, f.3, f.4, f.5, f.6, f.7);
        c.validate().unwrap();
        let mut rng = SplitMix64::new(0x1a7e + fi as u64);
        let mut stats = ErrorStats::new();
        let mut sat = 0;
        let rows = 2000;
        for r in 0..rows {
            let len = match r % 8 {
                0 => c.max_len as usize,
                1 => rng.range_i64(1, 4.min(c.max_len as i64)) as usize,
                _ => rng.range_i64(1, (c.max_len as i64).min(512)) as usize,
            };
            let xs = gen_row(&mut rng, &c, r % DISTS.len(), len);
            let g: Vec<i64> = (0..len).map(|_| rng.signed(c.gamma_bits)).collect();
            let b: Vec<i64> = (0..len).map(|_| rng.signed(c.beta_bits)).collect();
            sat += check(&c, &xs, &g, &b, &mut stats);
        }
        assert!(sat > 0, "{c:?}: no output saturated");
        let title = format!(
            "layernorm max_len {}, in ({},{}), gamma ({},{}), beta {}, out ({},{}): {rows} rows, distributions cycled:\n  {}\nerror = output - clamp(f64 LayerNorm * 2^out_frac); {sat} outputs saturated",
            f.0, f.1, f.2, f.3, f.4, f.5, f.6, f.7,
            DISTS.join("\n  ")
        );
        insta::assert_snapshot!(
            format!("layernorm_error_{}_{}_{}_{}", f.0, f.1, f.2, f.6),
            stats.render(&title)
        );
    }
}

#[test]
fn unit_gamma_gives_the_normalised_row() {
    // gamma = 1.0, beta = 0: outputs are (x - mean)/std at 2^-out_frac. A row of
    // +-a has mean 0 and std a, so the outputs are exactly +-1.0 (for any a when eps
    // is negligible against a^2).
    let c = cfg(16, 16, 0, 8, 6, 8, 8, 4);
    let g = vec![64; 16];
    let b = vec![0; 16];
    for a in [100i64, 1000, 32767] {
        let xs: Vec<i64> = (0..16).map(|i| if i % 2 == 0 { a } else { -a }).collect();
        let ys = layernorm_row(&c, &xs, &g, &b).unwrap();
        let want: Vec<i64> = xs.iter().map(|&x| x.signum() * 16).collect();
        assert_eq!(ys, want, "a = {a}");
    }
    // A constant row gives beta, clamped.
    let ys = layernorm_row(&c, &[5; 4], &[64; 4], &[-128, 127, 3, 0]).unwrap();
    assert_eq!(ys, vec![-128, 127, 3, 0]);
    // A single element is a constant row.
    assert_eq!(layernorm_row(&c, &[9], &[64], &[7]).unwrap(), vec![7]);
}

#[test]
fn reciprocal_square_root_is_exact() {
    let c = cfg(4096, 16, 8, 16, 12, 16, 16, 10);
    let p = c.params();
    let x = 1u128 << (2 * p.n + 2 * p.g);
    let mut rng = SplitMix64::new(3);
    for i in 0..20000u128 {
        // Rm over its whole range, both ends included.
        let lo = 1u128 << (2 * p.n - 2);
        let hi = (1u128 << (2 * p.n)) - 1;
        let rm = match i {
            0 => lo,
            1 => hi,
            _ => lo + (rng.next_u64() as u128) % (hi - lo + 1),
        };
        let q = isqrt(x / rm);
        assert!(
            q * q * rm <= x && (q + 1) * (q + 1) * rm > x,
            "rm {rm}: q {q}"
        );
        assert!(q >= 1 << p.g && q <= 1 << (p.g + 1), "rm {rm}: q {q}");
    }
    for v in 0..100_000u128 {
        let r = isqrt(v);
        assert!(r * r <= v && (r + 1) * (r + 1) > v);
    }
    let big = u128::MAX >> 2;
    let r = isqrt(big);
    assert!(r * r <= big && (r + 1).checked_mul(r + 1).is_none_or(|s| s > big));
}

#[test]
fn output_shift_is_never_clamped_on_a_varying_row() {
    // The module docs prove sh >= G + 1 + gamma_frac - out_frac when the row varies;
    // the smallest R of a varying row (one element off by 1) reaches that bound.
    for (ib, ifr, of) in [(4, 0, 4), (16, 15, 16), (8, 4, 0)] {
        let c = cfg(4096, ib, ifr, 8, 0, 8, 16.max(of), of);
        c.validate().unwrap();
        let p = c.params();
        for len in [2usize, 3, 4096] {
            let mut xs = vec![0i64; len];
            xs[0] = 1;
            let n = row_norm(&c, &xs);
            assert!(
                n.sh as i32 >= (p.g + 1 + c.gamma_frac) as i32 - of as i32,
                "{c:?} len {len}: sh {}",
                n.sh
            );
        }
    }
}

#[test]
fn config_errors_name_the_field_and_range() {
    let err = |t: &str| Config::from_toml_str(t).unwrap_err().to_string();
    let e = err("[layernorm]\nmax_len = 5000\n");
    assert!(
        e.contains("layernorm.max_len") && e.contains("2..=4096"),
        "{e}"
    );
    let e = err("[layernorm]\nin_frac = 8\n");
    assert!(
        e.contains("layernorm.in_frac") && e.contains("0..=7"),
        "{e}"
    );
    let e = err("[layernorm]\nbeta_bits = 25\n");
    assert!(
        e.contains("layernorm.beta_bits") && e.contains("2..=24"),
        "{e}"
    );
    let e = err("[layernorm]\neps = 0.0\n");
    assert!(e.contains("layernorm.eps") && e.contains("..=1"), "{e}");
    let e = err("[layernorm]\neps = 2.0\n");
    assert!(e.contains("layernorm.eps"), "{e}");
    let e = err("[layernorm]\nin_frac = 0\neps = 1e-9\n");
    assert!(
        e.contains("layernorm.eps") && e.contains("in_frac = 0"),
        "{e}"
    );
    let c = Config::from_toml_str("[layernorm]\neps = 1e-6\n").unwrap();
    assert_eq!(c.layernorm.unwrap().eps, Epsilon(1e-6));
}

#[test]
fn bad_rows_are_rejected_with_the_element() {
    let c = cfg(8, 8, 4, 8, 6, 8, 8, 4);
    let e = layernorm_row(&c, &[], &[], &[]).unwrap_err().to_string();
    assert!(e.contains("row length 0") && e.contains("1..=8"), "{e}");
    let e = layernorm_row(&c, &[0; 9], &[0; 9], &[0; 9])
        .unwrap_err()
        .to_string();
    assert!(e.contains("row length 9"), "{e}");
    let e = layernorm_row(&c, &[1, 128], &[0; 2], &[0; 2])
        .unwrap_err()
        .to_string();
    assert!(e.contains("x[1] = 128") && e.contains("-128..=127"), "{e}");
    let e = layernorm_row(&c, &[1, 2], &[0; 1], &[0; 2])
        .unwrap_err()
        .to_string();
    assert!(e.contains("gamma has 1 channels"), "{e}");
    let e = layernorm_row(&c, &[1, 2], &[0; 2], &[0, -129])
        .unwrap_err()
        .to_string();
    assert!(e.contains("beta") && e.contains("x[1] = -129"), "{e}");
}
