//! GELU against the exact erf form (libm's `erf`, independent of the one that builds
//! the ROM), exhaustively over every representable input.

use super::*;
use crate::config::Config;
use crate::stats::ErrorStats;

fn cfg(in_bits: u32, in_frac: u32, out_bits: u32, out_frac: u32) -> GeluConfig {
    GeluConfig {
        lanes: 1,
        in_bits,
        in_frac,
        out_bits,
        out_frac,
    }
}

/// Check every input of `c`; returns the statistics against the clamped reference and
/// the number of inputs whose GELU lies outside the output range.
fn check_all(c: &GeluConfig) -> (ErrorStats, u64) {
    c.validate().unwrap();
    let unit = GeluUnit::new(c);
    let (lo, hi) = qrange(c.out_bits, true);
    let (lo, hi) = (lo as f64, hi as f64);
    let mut stats = ErrorStats::new();
    let mut saturated = 0;
    let half = 1i64 << (c.in_bits - 1);
    for x in -half..half {
        let y = unit.eval(x) as f64;
        // Reference: x * Phi(x) with libm's erf, not the `special` erf the ROM uses.
        let real = x as f64 * (-(c.in_frac as f64)).exp2();
        let exact = real
            * 0.5
            * (1.0 + libm::erf(real / std::f64::consts::SQRT_2))
            * (c.out_frac as f64).exp2();
        let target = exact.clamp(lo, hi);
        let err = y - target;
        assert!(err.abs() < 1.0, "{c:?}: x={x} y={y} GELU={exact}");
        if exact == target {
            assert!((y - exact).abs() <= 1.0);
        } else {
            saturated += 1;
            assert_eq!(y, target, "{c:?}: x={x} must saturate");
        }
        stats.add(err);
    }
    (stats, saturated)
}

#[test]
fn exhaustive_formats() {
    let formats = [
        (8, 4, 8, 4),
        (12, 8, 12, 8),
        (16, 12, 16, 12),
        (16, 8, 8, 4),
        (16, 15, 16, 15),
    ];
    let mut summary = String::new();
    for (ib, ifr, ob, ofr) in formats {
        let c = cfg(ib, ifr, ob, ofr);
        let (stats, saturated) = check_all(&c);
        assert_eq!(stats.count(), 1 << ib);
        // Only the (16,8)->(8,4) format has fewer integer output bits than input bits.
        assert_eq!(saturated > 0, ib - ifr > ob - ofr, "{c:?}");
        let title = format!(
            "GELU ({ib},{ifr})->({ob},{ofr}): every input, error = output - clamp(x*Phi(x)); table entries {}, saturated inputs {saturated}",
            c.params().entries
        );
        insta::assert_snapshot!(
            format!("gelu_error_{ib}_{ifr}_{ob}_{ofr}"),
            stats.render(&title)
        );
        summary += &format!(
            "({ib},{ifr})->({ob},{ofr}) entries {} max {:.3} mean {:.3}\n",
            c.params().entries,
            stats.max_abs(),
            stats.mean_abs()
        );
    }
    eprintln!("{summary}");
}

#[test]
fn every_format_of_two_widths_is_within_one_lsb() {
    // All fraction splits of 8- and 11-bit inputs into 4-, 9- and 16-bit outputs.
    let mut worst = 0.0f64;
    for ib in [8, 11] {
        for ifr in 0..ib {
            for ob in [4, 9, 16] {
                for ofr in 0..ob {
                    worst = worst.max(check_all(&cfg(ib, ifr, ob, ofr)).0.max_abs());
                }
            }
        }
    }
    // The design bound is 0.72 LSB (module docs); the assertion in check_all is < 1.
    assert!(worst < 0.72, "worst {worst}");
}

#[test]
fn table_shape_matches_the_documented_parameters() {
    let c = GeluConfig::default();
    let p = c.params();
    assert_eq!((p.w, p.seg_frac, p.frac_bits), (16, 6, 6));
    assert_eq!(p.r_bits, 20);
    let t = gelu_table(&c);
    assert_eq!(t.len(), p.entries);
    assert_eq!(t.base[0], 0);
    // C < 0.17 < 2^-2, so base fits in w - 2 unsigned bits.
    let (bb, bs) = t.base_width();
    assert!(!bs && bb <= p.w - 2, "base width {bb}");
    // The last segment ends where the correction drops under 1/8 output LSB.
    let end = p.entries as f64 * (-(p.seg_frac as f64)).exp2();
    assert!(correction(end) <= (-(c.out_frac as f64 + 3.0)).exp2());
    assert!(correction(end - 0.25) > (-(c.out_frac as f64 + 3.0)).exp2());
    // A direct table (no interpolation) when the input grid is coarser than a segment.
    let p = cfg(8, 2, 16, 12).params();
    assert_eq!((p.seg_frac, p.frac_bits), (2, 0));
    // Capped by the input range: |x| <= 1 at in_frac 15.
    let p = cfg(16, 15, 16, 15).params();
    assert_eq!(p.entries, (1 << (15 - p.frac_bits)) + 1);
}

#[test]
fn stream_checks_range_and_sign_symmetry_holds() {
    let unit = GeluUnit::new(&cfg(8, 4, 8, 4));
    let e = unit.eval_stream(&[0, -129]).unwrap_err();
    assert_eq!(
        e.0,
        "x[1] = -129 is outside the signed 8-bit range -128..=127 (gelu.in_bits = 8)"
    );
    let ys = unit.eval_stream(&[0, 16, -16, 127]).unwrap();
    // GELU(0)=0, GELU(1)=0.841 -> 13/16, GELU(-1)=-0.159 -> -3/16, GELU(7.94)=7.94 -> 127
    assert_eq!(ys, vec![0, 13, -3, 127]);
}

#[test]
fn config_errors_name_field_and_range() {
    let invalid = |text: &str| match Config::from_toml_str(text) {
        Err(ConfigError::Invalid { field, message }) => format!("{field} {message}"),
        other => panic!("expected Invalid, got {other:?}"),
    };
    assert_eq!(
        invalid("[gelu]\nin_bits = 8\nin_frac = 8\n"),
        "gelu.in_frac = 8 is outside the allowed range 0..=7"
    );
    assert_eq!(
        invalid("[gelu]\nout_bits = 17\n"),
        "gelu.out_bits = 17 is outside the allowed range 4..=16"
    );
    assert_eq!(
        invalid("[gelu]\nout_bits = 8\n"),
        "gelu.out_frac = 12 is outside the allowed range 0..=7"
    );
    assert_eq!(
        invalid("[gelu]\nlanes = 0\n"),
        "gelu.lanes = 0 is outside the allowed range 1..=64"
    );
    let g = Config::from_toml_str("[gelu]\nin_bits = 12\nin_frac = 8\n").unwrap();
    assert_eq!(g.gelu.unwrap().in_frac, 8);
}
