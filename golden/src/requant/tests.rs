//! Tests of the re-quantizer against an independent `f64` reference.

use super::*;
use crate::config::Config;
use crate::rng::SplitMix64;

const MODES: [Rounding; 3] = [Rounding::NearestEven, Rounding::HalfAway, Rounding::Floor];

/// Independent reference in `f64`. `(x + bias) * 2^-s` is exact: `|x + bias| <= 2^49`
/// fits the 53-bit significand and scaling by a power of two only moves the exponent.
/// Rounding uses the float library's own modes.
fn reference(cfg: &RequantConfig, lane: usize, x: i64) -> i64 {
    let s = cfg.shift_of(lane);
    let q = (x + cfg.bias_of(lane)) as f64 * (-s as f64).exp2();
    let r = match cfg.rounding {
        Rounding::Floor => q.floor(),
        Rounding::HalfAway => q.round(),
        Rounding::NearestEven => q.round_ties_even(),
    };
    let (lo, hi) = if cfg.out_signed {
        (
            -(2f64.powi(cfg.out_bits as i32 - 1)),
            2f64.powi(cfg.out_bits as i32 - 1) - 1.0,
        )
    } else {
        (0.0, 2f64.powi(cfg.out_bits as i32) - 1.0)
    };
    let zp = cfg.zero_point as f64;
    let mut y = (r + zp).max(lo).min(hi);
    if cfg.relu {
        y = y.max(zp);
    }
    y as i64
}

fn cfg(in_bits: u32, out_bits: u32, out_signed: bool, shift: i64) -> RequantConfig {
    RequantConfig {
        lanes: 1,
        in_bits,
        out_bits,
        out_signed,
        shift: PerChannel::Tensor(shift),
        ..RequantConfig::default()
    }
}

#[test]
fn exhaustive_16_bit_inputs_all_modes_and_shifts() {
    let shifts = [-16, -9, -1, 0, 1, 2, 3, 5, 8, 11, 15, 16, 17, 30, 47];
    // (out_bits, signed, zero_point, bias, relu)
    let variants = [
        (8, true, 0, None, false),
        (8, false, 128, Some(-1000), false),
        (4, true, -3, Some(32767), true),
        (16, true, 0, Some(-32768), false),
    ];
    for (out_bits, signed, zp, bias, relu) in variants {
        for mode in MODES {
            for s in shifts {
                let c = RequantConfig {
                    rounding: mode,
                    zero_point: zp,
                    bias: bias.map(PerChannel::Tensor),
                    relu,
                    ..cfg(16, out_bits, signed, s)
                };
                c.validate().unwrap();
                let (qmin, qmax) = c.qrange();
                let (mut lo_hit, mut hi_hit) = (false, false);
                for x in -32768..=32767i64 {
                    let y = requant(&c, 0, x);
                    assert_eq!(y, reference(&c, 0, x), "x={x} {c:?}");
                    lo_hit |= y as i128 == qmin;
                    hi_hit |= y as i128 == qmax;
                }
                // Small shifts drive a 16-bit input past any narrower output at both ends.
                if s <= 0 && out_bits < 16 && !relu {
                    assert!(lo_hit && hi_hit, "saturation not reached: {c:?}");
                }
            }
        }
    }
}

/// Values around the tie points of a shift `s`, plus the range corners.
fn corner_values(rng: &mut SplitMix64, bits: u32, s: i32) -> Vec<i64> {
    let (lo, hi) = (smin(bits) as i64, smax(bits) as i64);
    let mut v = vec![lo, lo + 1, hi, hi - 1, 0, 1, -1];
    for _ in 0..40 {
        let r = rng.signed(bits);
        if s > 0 {
            let step = 1i64 << s.min(bits as i32 - 2);
            let base = (r / step) * step;
            for d in [-1, 0, 1] {
                v.push((base + step / 2 + d).clamp(lo, hi));
                v.push((base - step / 2 + d).clamp(lo, hi));
            }
        }
        v.push(r);
    }
    v
}

#[test]
fn random_wide_inputs_with_corner_values() {
    let mut rng = SplitMix64::new(0x5eed);
    for in_bits in [32u32, 48] {
        for trial in 0..400 {
            let lanes = 1 + (trial % 8) as u32;
            let shifts: Vec<i64> = (0..lanes).map(|_| rng.range_i64(-16, 47)).collect();
            let b = smax(in_bits) as i64;
            let biases: Vec<i64> = (0..lanes)
                .map(|_| match rng.range_i64(0, 3) {
                    0 => 0,
                    1 => b,
                    2 => -b - 1,
                    _ => rng.signed(in_bits),
                })
                .collect();
            let out_bits = rng.range_i64(2, 16) as u32;
            let out_signed = rng.range_i64(0, 1) == 1;
            let (qmin, qmax) = qrange(out_bits, out_signed);
            let c = RequantConfig {
                lanes,
                in_bits,
                out_bits,
                out_signed,
                rounding: MODES[trial % 3],
                shift: PerChannel::Channel(shifts.clone()),
                bias: Some(PerChannel::Channel(biases)),
                zero_point: rng.range_i64(qmin as i64, qmax as i64),
                relu: trial % 5 == 0,
            };
            c.validate().unwrap();
            for (lane, &s) in shifts.iter().enumerate() {
                for x in corner_values(&mut rng, in_bits, s as i32) {
                    assert_eq!(
                        requant(&c, lane, x),
                        reference(&c, lane, x),
                        "x={x} lane={lane} {c:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn saturation_at_both_ends() {
    // 16-bit input, signed 8-bit output, no shift: plain saturation.
    let c = cfg(16, 8, true, 0);
    assert_eq!(requant(&c, 0, 32767), 127);
    assert_eq!(requant(&c, 0, -32768), -128);
    assert_eq!(requant(&c, 0, 127), 127);
    assert_eq!(requant(&c, 0, -128), -128);
    // Saturating left shift: 1 << 16 = 65536 saturates, -1 << 16 too.
    let c = cfg(16, 8, true, -16);
    assert_eq!(requant(&c, 0, 1), 127);
    assert_eq!(requant(&c, 0, -1), -128);
    assert_eq!(requant(&c, 0, 0), 0);
    // 48-bit extremes shifted left by 16 (64-bit intermediate) still saturate, not wrap.
    let c = cfg(48, 16, false, -16);
    assert_eq!(requant(&c, 0, smax(48) as i64), 65535);
    assert_eq!(requant(&c, 0, smin(48) as i64), 0);
    // Unsigned output with a zero point: -3 + 10 = 7 stays, -30 + 10 clamps to 0.
    let c = RequantConfig {
        zero_point: 10,
        ..cfg(16, 4, false, 0)
    };
    assert_eq!(requant(&c, 0, -3), 7);
    assert_eq!(requant(&c, 0, -30), 0);
    assert_eq!(requant(&c, 0, 30), 15);
    // ReLU clamps the real value: output never below the zero point.
    let c = RequantConfig {
        zero_point: 10,
        relu: true,
        ..c
    };
    assert_eq!(requant(&c, 0, -3), 10);
    assert_eq!(requant(&c, 0, 2), 12);
}

#[test]
fn presaturation_is_exact() {
    // The hardware may saturate t to a signed out_bits + 2 range before adding the zero
    // point; that must never change the result.
    let mut rng = SplitMix64::new(3);
    for _ in 0..200_000 {
        let out_bits = rng.range_i64(2, 16) as u32;
        let signed = rng.range_i64(0, 1) == 1;
        let (qmin, qmax) = qrange(out_bits, signed);
        let zp = rng.range_i64(qmin as i64, qmax as i64) as i128;
        let width = 1 + rng.range_i64(0, 63) as u32;
        let t = rng.signed(width) as i128;
        let w = out_bits + 2;
        let pre = clamp(t, smin(w), smax(w));
        assert_eq!(
            clamp(pre + zp, qmin, qmax),
            clamp(t + zp, qmin, qmax),
            "t={t}"
        );
    }
}

#[test]
fn stream_maps_element_to_lane_and_checks_range() {
    let c = RequantConfig {
        lanes: 3,
        in_bits: 8,
        shift: PerChannel::Channel(vec![0, 1, 2]),
        bias: Some(PerChannel::Channel(vec![0, 0, 1])),
        ..RequantConfig::default()
    };
    c.validate().unwrap();
    // lane 0: x; lane 1: x/2 (ties to even); lane 2: (x+1)/4 (ties to even)
    let ys = requant_stream(&c, &[8, 8, 8, 5, 5, 5]).unwrap();
    assert_eq!(ys, vec![8, 4, 2, 5, 2, 2]);
    let e = requant_stream(&c, &[1, 300]).unwrap_err();
    assert_eq!(
        e.0,
        "x[1] = 300 is outside the signed 8-bit range -128..=127 (requant.in_bits = 8)"
    );
}

fn invalid(text: &str) -> (String, String) {
    match Config::from_toml_str(text) {
        Err(ConfigError::Invalid { field, message }) => (field, message),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn config_parses_scalars_and_arrays() {
    let c = Config::from_toml_str(
        "[requant]\nlanes = 2\nrounding = \"half-away\"\nshift = [3, -2]\nbias = 7\nzero_point = -5\nrelu = true\n",
    )
    .unwrap();
    let r = c.requant.as_ref().unwrap();
    assert_eq!(r.rounding, Rounding::HalfAway);
    assert_eq!((r.shift_of(0), r.shift_of(1)), (3, -2));
    assert_eq!((r.bias_of(0), r.bias_of(1)), (7, 7));
    // The canonical form round-trips (it feeds the config hash).
    let back = Config::from_toml_str(&toml::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    let d = Config::from_toml_str("[requant]\n").unwrap();
    let d = d.requant.unwrap();
    assert_eq!(
        (d.rounding, d.shift_of(5), d.bias_of(5)),
        (Rounding::NearestEven, 0, 0)
    );
    let f = Config::from_toml_str("[requant]\nrounding = \"floor\"\n").unwrap();
    assert_eq!(f.requant.unwrap().rounding, Rounding::Floor);
}

#[test]
fn config_errors_name_field_and_range() {
    let (f, m) = invalid("[requant]\nlanes = 65\n");
    assert_eq!(
        (f.as_str(), m.as_str()),
        ("requant.lanes", "= 65 is outside the allowed range 1..=64")
    );
    let (f, m) = invalid("[requant]\nin_bits = 49\n");
    assert_eq!(
        (f.as_str(), m.as_str()),
        (
            "requant.in_bits",
            "= 49 is outside the allowed range 8..=48"
        )
    );
    let (f, _) = invalid("[requant]\nout_bits = 1\n");
    assert_eq!(f, "requant.out_bits");
    let (f, m) = invalid("[requant]\nshift = -17\n");
    assert_eq!(
        (f.as_str(), m.as_str()),
        (
            "requant.shift",
            "= -17 is outside the allowed range -16..=47"
        )
    );
    let (f, m) = invalid("[requant]\nlanes = 3\nshift = [1, 48, 0]\n");
    assert_eq!(
        (f.as_str(), m.as_str()),
        (
            "requant.shift[1]",
            "= 48 is outside the allowed range -16..=47"
        )
    );
    let (f, m) = invalid("[requant]\nlanes = 4\nshift = [1, 2]\n");
    assert_eq!(f, "requant.shift");
    assert_eq!(
        m,
        "has 2 entries but lanes = 4; a per-channel array needs exactly one entry per lane"
    );
    let (f, m) = invalid("[requant]\nin_bits = 8\nlanes = 1\nbias = [128]\n");
    assert_eq!(
        (f.as_str(), m.as_str()),
        (
            "requant.bias[0]",
            "= 128 is outside the allowed range -128..=127"
        )
    );
    let (f, m) = invalid("[requant]\nout_signed = false\nzero_point = -1\n");
    assert_eq!(
        (f.as_str(), m.as_str()),
        (
            "requant.zero_point",
            "= -1 is outside the allowed range 0..=255"
        )
    );
    let e = Config::from_toml_str("[requant]\nrounding = \"up\"\n").unwrap_err();
    assert!(e.to_string().contains("nearest-even"), "{e}");
    let e = Config::from_toml_str("[requant]\nshift = \"x\"\n").unwrap_err();
    assert!(
        e.to_string().contains("an integer or an array of integers"),
        "{e}"
    );
    let e = Config::from_toml_str("[requant]\nshiftt = 1\n").unwrap_err();
    assert!(e.to_string().contains("unknown field `shiftt`"), "{e}");
}
