//! `accgen sweep`: a 2 x 2 sweep of the array's rows and columns on a GEMM workload
//! writes the CSV (cycles from the co-simulation, resources from Yosys) and the
//! Pareto plots (SVG and PNG), prints the ranked table, and shards.

mod common;

use common::*;

const SPACE: &str = r#"[sweep]
name = "array"
base = "base.toml"
workload = ["16,8,16"]
target = "array"
resources = "yosys"

[params]
"array.rows" = [2, 4]
"array.cols" = [2, 4]
"#;

#[test]
fn a_small_sweep_writes_the_csv_and_the_plots() {
    let t = Tmp::new("sweep");
    std::fs::write(t.path("base.toml"), "[array]\nrows = 2\ncols = 2\n").unwrap();
    std::fs::write(t.path("space.toml"), SPACE).unwrap();
    let o = accgen(&["sweep", &t.s("space.toml"), "--out", &t.s("out")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    let csv = std::fs::read_to_string(t.path("out/results.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "array.cols",
            "array.rows",
            "cycles",
            "luts",
            "dsps",
            "bram18",
            "fmax_mhz"
        ]
    );
    assert_eq!(rows.len(), 5);
    let mut seen = Vec::new();
    for r in &rows[1..] {
        let (c, rr): (u64, u64) = (r[0].parse().unwrap(), r[1].parse().unwrap());
        let (cycles, luts, dsps): (u64, u64, u64) = (
            r[2].parse().unwrap(),
            r[3].parse().unwrap(),
            r[4].parse().unwrap(),
        );
        // One DSP per PE (GUIDE: the PE packs into one DSP48).
        assert_eq!(dsps, rr * c, "{r:?}");
        assert!(luts > 0 && cycles > 0);
        seen.push((rr * c, cycles));
    }
    // More PEs, fewer cycles: 16 PEs beat 4.
    let c4 = seen.iter().find(|s| s.0 == 4).unwrap().1;
    let c16 = seen.iter().find(|s| s.0 == 16).unwrap().1;
    assert!(c16 < c4, "{seen:?}");
    for stem in ["cycles_vs_dsp", "cycles_vs_lut"] {
        let svg = std::fs::read_to_string(t.path(&format!("out/{stem}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("Pareto front"),
            "{stem}"
        );
        let png = std::fs::read(t.path(&format!("out/{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}");
        assert!(png.len() > 5000);
    }
    assert!(
        out.contains("rank") && out.contains("sweep `array`: 4 points"),
        "{out}"
    );
    assert!(
        out.lines().filter(|l| l.trim_end().ends_with('*')).count() >= 2,
        "{out}"
    );
    // Shard 2 of 2: the second and fourth points.
    let o = accgen(&[
        "sweep",
        &t.s("space.toml"),
        "--out",
        &t.s("s2"),
        "--shard",
        "2/2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv2 = std::fs::read_to_string(t.path("s2/results.csv")).unwrap();
    assert_eq!(csv2.lines().count(), 3);
    assert_eq!(csv2.lines().nth(1), csv.lines().nth(2));
    assert_eq!(csv2.lines().nth(2), csv.lines().nth(4));
    // A bad parameter is named.
    std::fs::write(t.path("bad.toml"), SPACE.replace("\"array.rows\"", "rows")).unwrap();
    let o = accgen(&["sweep", &t.s("bad.toml"), "--out", &t.s("b")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("parameter `rows` must be SECTION.FIELD"),
        "{}",
        stderr(&o)
    );
    assert!(!t.path("b").exists());
}
