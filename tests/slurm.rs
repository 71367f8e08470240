//! `accgen regress slurm` on a real one-node Slurm cluster (`scripts/slurm-local.sh`:
//! munged, slurmctld and slurmd from Debian's packages): a 4-shard array job and its
//! dependent merge job, with a fresh shared model cache, give the same JUnit cases as
//! the unsharded run; `accgen sweep --slurm` merges its shards to the unsharded
//! sweep's rows; the daemons are stopped afterwards.

mod common;

use std::path::PathBuf;
use std::process::Command;

use accgen_golden::rng::SplitMix64;
use accgen_sim::npy::{self, Dtype, NpyArray};
use common::*;

/// Stops the cluster when the test ends, pass or fail.
struct Cluster(PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("scripts/slurm-local.sh")
            .arg("stop")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_four_shard_array_job_merges_to_the_unsharded_run() {
    let t = Tmp::new("slurm");
    let state = t.path("cluster");
    let o = Command::new("scripts/slurm-local.sh")
        .arg("start")
        .arg(&state)
        .env("ACCGEN_SLURM_PORT", "16917")
        .output()
        .expect("scripts/slurm-local.sh");
    let _cluster = Cluster(state.clone());
    assert!(
        o.status.success(),
        "the local Slurm cluster did not start (scripts/setup.sh installs slurm-wlm and munge): {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let conf = state.join("slurm.conf");

    // Eight cases over three units.
    let s = t.path("suite");
    std::fs::create_dir_all(s.join("inputs")).unwrap();
    let cfg = std::env::current_dir()
        .unwrap()
        .join("configs/block_example.toml");
    let mut rng = SplitMix64::new(3);
    let mut text = String::from("[suite]\nname = \"slurm\"\n");
    for i in 0..8 {
        let unit = ["gelu", "requant", "residual"][i % 3];
        let names: &[&str] = if unit == "residual" {
            &["a", "b"]
        } else {
            &["x"]
        };
        let mut inputs = Vec::new();
        for n in names {
            let (dtype, lo, hi) = if unit == "requant" {
                (Dtype::I32, -50_000, 50_000)
            } else {
                (Dtype::I8, -128, 127)
            };
            let f = format!("inputs/{n}{i}.npy");
            npy::write(
                &s.join(&f),
                &NpyArray {
                    dtype,
                    shape: vec![3, 16],
                    data: (0..48).map(|_| rng.range_i64(lo, hi)).collect(),
                },
            )
            .unwrap();
            inputs.push(format!("{n} = \"{f}\""));
        }
        text.push_str(&format!(
            "\n[[case]]\nname = \"c{i}\"\nconfig = \"{}\"\nunit = \"{unit}\"\ninputs = {{ {} }}\nseed = {}\n",
            cfg.display(),
            inputs.join(", "),
            i + 1
        ));
    }
    std::fs::write(s.join("suite.toml"), text).unwrap();
    let o = accgen(&["regress", "record", &t.s("suite")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let whole = t.path("whole.xml");
    let o = accgen(&[
        "regress",
        "run",
        &t.s("suite"),
        "--junit",
        whole.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = Command::new(env!("CARGO_BIN_EXE_accgen"))
        .args([
            "regress",
            "slurm",
            &t.s("suite"),
            "--shards",
            "4",
            "--wait",
            "--cache",
        ])
        .arg(t.path("shared-cache"))
        .env("SLURM_CONF", &conf)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let merged = junit_cases(&s.join("slurm/all.xml"));
    assert_eq!(merged.len(), 8);
    assert_eq!(
        merged,
        junit_cases(&whole),
        "the merged shards equal the unsharded run"
    );
    for k in 1..=4 {
        assert_eq!(
            junit_cases(&s.join(format!("slurm/part-{k}.xml"))).len(),
            2,
            "shard {k}"
        );
    }
    // The shared cache holds the models the tasks built.
    assert!(std::fs::read_dir(t.path("shared-cache")).unwrap().count() > 0);

    // A sweep of three points in two shards, merged: the unsharded sweep's rows.
    std::fs::write(t.path("base.toml"), "[array]\nrows = 2\ncols = 2\n").unwrap();
    std::fs::write(
        t.path("space.toml"),
        "[sweep]\nname = \"tiny\"\nbase = \"base.toml\"\nworkload = [\"8,4,8\"]\n\n\
         [params]\n\"array.rows\" = [1, 2, 3]\n",
    )
    .unwrap();
    let o = accgen(&["sweep", &t.s("space.toml"), "--out", &t.s("sweep-whole")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_accgen"))
        .args([
            "sweep",
            &t.s("space.toml"),
            "--out",
            &t.s("sweep-slurm"),
            "--slurm",
            "2",
            "--wait",
            "--cache",
        ])
        .arg(t.path("shared-cache"))
        .env("SLURM_CONF", &conf)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains("merged 3 points from 2 shards"), "{out}");
    let rows = |p: &str| {
        let mut v: Vec<String> = std::fs::read_to_string(t.path(p))
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    assert_eq!(rows("sweep-slurm/results.csv").len(), 4);
    assert_eq!(
        rows("sweep-slurm/results.csv"),
        rows("sweep-whole/results.csv")
    );
    assert_eq!(rows("sweep-slurm/shard-1/results.csv").len(), 3);
    assert!(t.path("sweep-slurm/cycles_vs_lut.png").exists());
}
