//! `accgen demo`: generate, lint and co-simulate every unit of a config, then print a
//! summary table. This is what the README's first command runs.

use std::path::Path;
use std::time::Instant;

use accgen_golden::gemm::Matrix;
use accgen_golden::nm_sparse::{compress, prune};
use accgen_golden::rng::SplitMix64;
use accgen_hw::rtl::Library;
use accgen_hw::vendor::Vendor;
use accgen_sim::axis::Traffic;
use accgen_sim::gemm::{scalesim_os_cycles, ArrayDriver, Issue};
use accgen_sim::lint::XilinxFamily;
use accgen_sim::stream::LaneFormat;
use accgen_sim::{Model, SimOptions};
use anyhow::{bail, Result};

use crate::outdir::OutputDir;

/// A streaming unit to co-simulate.
struct StreamCase {
    top: std::rc::Rc<accgen_hw::rtl::Module>,
    lanes: u32,
    input: LaneFormat,
    output: LaneFormat,
    xs: Vec<i64>,
    golden: Box<dyn Fn(usize, i64) -> i64>,
    what: String,
}

/// One co-simulation pass of the demo.
struct Pass {
    /// Shown in the summary table.
    name: &'static str,
    /// Random input gaps, backpressure and initial state.
    hostile: bool,
    /// `--x-init-seed` of the instance (0 = all zeros).
    x_init_seed: u64,
}

impl Pass {
    fn traffic(&self) -> Traffic {
        if self.hostile {
            Traffic::hostile(2026)
        } else {
            Traffic::smooth()
        }
    }
}

/// Every unit runs twice: at peak throughput (the cycles and utilization quoted in the
/// README), then under hostile traffic from a random initial state.
const PASSES: [Pass; 2] = [
    Pass {
        name: "peak",
        hostile: false,
        x_init_seed: 0,
    },
    Pass {
        name: "hostile",
        hostile: true,
        x_init_seed: 7,
    },
];

/// GEMM shape the demo runs on an `[array]` unit.
pub const DEMO_GEMM: (usize, usize, usize) = (256, 512, 256);

fn random_matrix(rng: &mut SplitMix64, rows: usize, cols: usize, bits: u32) -> Matrix {
    Matrix::from_vec(
        rows,
        cols,
        (0..rows * cols).map(|_| rng.signed(bits)).collect(),
    )
}

/// Run the demo on `config`, writing generated files under `out`.
pub fn run(config: &Path, out: &Path, synth: bool) -> Result<()> {
    let cfg = super::generate::load_config(config)?;
    let mut dir = OutputDir::claim(out)?;
    println!("== 1/3 generate ({}) ==", config.display());
    let t = Instant::now();
    let g = super::generate::write_design(&cfg, Vendor::Generic, &mut dir)?;
    println!(
        "{} top module(s), {} file(s) in {} ({:.2} s)",
        g.tops.len(),
        g.files.len(),
        out.display(),
        t.elapsed().as_secs_f64()
    );
    println!("== 2/3 lint: verilator -Wall, iverilog -g2005, yosys synth_xilinx ==");
    let results = super::lint::lint_files(&g, &mut dir, XilinxFamily::Xcup, synth)?;
    dir.finish(super::generate::manifest_fields(&cfg, &g)?)?;
    super::lint::print_table(&results);
    if results.iter().any(|r| !r.problems.is_empty()) {
        for r in &results {
            for p in &r.problems {
                eprintln!("{}: {p}", r.top);
            }
        }
        bail!("lint failed; logs in {}", out.join("yosys").display());
    }
    println!("== 3/3 co-simulation against the golden model ==");
    let mut rows: Vec<[String; 6]> = Vec::new();
    let mut lib = Library::new();
    if let Some(acfg) = &cfg.array {
        let top = match &cfg.sparsity {
            Some(sp) => accgen_hw::sparse_array(&mut lib, acfg, sp)?,
            None => accgen_hw::systolic::systolic_array(&mut lib, acfg)?,
        };
        let t = Instant::now();
        eprintln!("building Verilator model of {} ...", top.name());
        let model = Model::build(&top, &SimOptions::new())?;
        let build_s = t.elapsed().as_secs_f64();
        let build_txt = build_txt(build_s, model.info().cache_hit);
        let (m, k, n) = DEMO_GEMM;
        let mut rng = SplitMix64::new(2026);
        let a = random_matrix(&mut rng, m, k, acfg.act_bits);
        let b = random_matrix(&mut rng, k, n, acfg.weight_bits);
        eprintln!("running {m}x{k}x{n} GEMM ...");
        for pass in PASSES {
            let dut = model.instantiate_randomized(pass.x_init_seed)?;
            let (run, label) = match &cfg.sparsity {
                Some(sp) => {
                    let c = compress(&prune(&b, *sp), *sp).map_err(|v| anyhow::anyhow!("{v}"))?;
                    let mut drv = ArrayDriver::new_sparse(dut, acfg, sp)?;
                    drv.set_traffic(pass.traffic());
                    super::sim::show_progress(&mut drv, "sparse gemm");
                    (
                        drv.run_sparse(&a, &c, Issue::BackToBack)?,
                        format!("{}:{} sparse ", sp.n, sp.m),
                    )
                }
                None => {
                    let mut drv = ArrayDriver::new(dut, acfg)?;
                    drv.set_traffic(pass.traffic());
                    super::sim::show_progress(&mut drv, "gemm");
                    (drv.run(&a, &b, Issue::BackToBack)?, String::new())
                }
            };
            let cycles = match (&cfg.sparsity, pass.hostile) {
                (None, false) => {
                    let ss = scalesim_os_cycles(acfg, m, k, n);
                    format!(
                        "{} (SCALE-Sim OS model {ss}, ratio {:.3})",
                        run.cycles,
                        run.cycles as f64 / ss as f64
                    )
                }
                _ => run.cycles.to_string(),
            };
            rows.push([
                format!("{} ({m}x{k}x{n} {label}GEMM, {})", top.name(), pass.name),
                cycles,
                format!("{:.4}", run.utilization),
                run.bit_exact().to_string(),
                build_txt.clone(),
                format!("{:.2} M", run.sim_cycles_per_s / 1e6),
            ]);
            if !run.verdict.passed() {
                print_summary(&rows);
                bail!("{}", run.verdict);
            }
        }
    }
    // Streaming units: requant on random inputs, GELU on every representable input.
    let mut streams: Vec<StreamCase> = Vec::new();
    if let Some(rq) = &cfg.requant {
        let mut rng = SplitMix64::new(5);
        let xs: Vec<i64> = (0..rq.lanes as usize * 4096)
            .map(|_| rng.signed(rq.in_bits))
            .collect();
        let top = accgen_hw::requant::requant(&mut lib, rq)?;
        let rq2 = rq.clone();
        streams.push(StreamCase {
            top,
            lanes: rq.lanes,
            input: LaneFormat {
                bits: rq.in_bits,
                signed: true,
            },
            output: LaneFormat {
                bits: rq.out_bits,
                signed: rq.out_signed,
            },
            xs,
            golden: Box::new(move |lane, x| accgen_golden::requant::requant(&rq2, lane, x)),
            what: "random elements".into(),
        });
    }
    if let Some(g) = &cfg.gelu {
        let lo = -(1i64 << (g.in_bits - 1));
        let xs: Vec<i64> = (lo..-lo).collect();
        let unit = accgen_golden::gelu::GeluUnit::new(g);
        let top = accgen_hw::gelu::gelu(&mut lib, g)?;
        streams.push(StreamCase {
            top,
            lanes: g.lanes,
            input: LaneFormat {
                bits: g.in_bits,
                signed: true,
            },
            output: LaneFormat {
                bits: g.out_bits,
                signed: true,
            },
            xs,
            golden: Box::new(move |_, x| unit.eval(x)),
            what: "every input".into(),
        });
    }
    for c in streams {
        let t = Instant::now();
        eprintln!("building Verilator model of {} ...", c.top.name());
        let model = Model::build(&c.top, &SimOptions::new())?;
        let build_s = t.elapsed().as_secs_f64();
        for pass in PASSES {
            let mut dut = model.instantiate_randomized(pass.x_init_seed)?;
            let run = accgen_sim::stream::run_lanes(
                &mut dut,
                c.lanes as usize,
                c.input,
                c.output,
                &c.xs,
                &*c.golden,
                &|i| format!("element {i}"),
                &pass.traffic(),
                256,
            )?;
            rows.push([
                format!(
                    "{} ({} {}, {})",
                    c.top.name(),
                    c.xs.len(),
                    c.what,
                    pass.name
                ),
                format!(
                    "{} ({:.2} elements/cycle)",
                    run.timing.cycles, run.elements_per_cycle
                ),
                "-".into(),
                run.verdict.passed().to_string(),
                build_txt(build_s, model.info().cache_hit),
                format!("{:.2} M", run.timing.sim_cycles_per_s / 1e6),
            ]);
            if !run.verdict.passed() {
                print_summary(&rows);
                bail!("{}", run.verdict);
            }
        }
    }
    if let Some(sm) = &cfg.softmax {
        let top = accgen_hw::softmax::softmax(&mut lib, sm)?;
        let t = Instant::now();
        eprintln!("building Verilator model of {} ...", top.name());
        let model = Model::build(&top, &SimOptions::new())?;
        let build_s = t.elapsed().as_secs_f64();
        let mut rng = SplitMix64::new(11);
        let hi = (1i64 << (sm.in_bits - 1)) - 1;
        // Lockstep groups of `lanes` rows share a length.
        let mut len = 1;
        let row_data: Vec<Vec<i64>> = (0..1000)
            .map(|r| {
                if r % sm.lanes as usize == 0 {
                    len = rng.range_i64(1, sm.max_len as i64) as usize;
                }
                (0..len).map(|_| rng.range_i64(-hi - 1, hi)).collect()
            })
            .collect();
        let unit = accgen_golden::softmax::SoftmaxUnit::new(sm);
        for r in &row_data {
            unit.row(r)?;
        }
        for pass in PASSES {
            let mut dut = model.instantiate_randomized(pass.x_init_seed)?;
            let run = accgen_sim::softmax::run_rows(
                &mut dut,
                sm.lanes as usize,
                accgen_sim::softmax::formats(sm).0,
                accgen_sim::softmax::formats(sm).1,
                &row_data,
                &|r| unit.row(r).expect("rows checked above"),
                &pass.traffic(),
            )?;
            rows.push([
                format!(
                    "{} (1000 random rows, {} elements, {})",
                    top.name(),
                    run.elements,
                    pass.name
                ),
                format!(
                    "{} ({:.2} elements/cycle)",
                    run.timing.cycles, run.elements_per_cycle
                ),
                "-".into(),
                run.verdict.passed().to_string(),
                build_txt(build_s, model.info().cache_hit),
                format!("{:.2} M", run.timing.sim_cycles_per_s / 1e6),
            ]);
            if !run.verdict.passed() {
                print_summary(&rows);
                bail!("{}", run.verdict);
            }
        }
    }
    if let Some(mcfg) = &cfg.mac {
        let top = accgen_hw::mac::mac(&mut lib, mcfg)?;
        let t = Instant::now();
        let model = Model::build(&top, &SimOptions::new())?;
        let build_s = t.elapsed().as_secs_f64();
        let mut dut = model.instantiate()?;
        let w = Instant::now();
        let run = accgen_sim::mac::run_mac(&mut dut, mcfg, 100_000, 7)?;
        rows.push([
            format!("{} (100000 random beats)", top.name()),
            run.cycles.to_string(),
            "-".into(),
            (run.mismatches == 0).to_string(),
            build_txt(build_s, model.info().cache_hit),
            format!(
                "{:.2} M",
                run.cycles as f64 / w.elapsed().as_secs_f64() / 1e6
            ),
        ]);
        if let Some(mm) = run.first_mismatch {
            print_summary(&rows);
            bail!(
                "MAC mismatch at beat {}, cycle {}: expected {}, actual {}",
                mm.0,
                mm.1,
                mm.2,
                mm.3
            );
        }
    }
    if cfg.accel.is_some() {
        accel_demo(&cfg, &mut rows)?;
        vit_demo(&mut rows)?;
    }
    print_summary(&rows);
    println!("demo passed: every output bit-exact against the golden model");
    Ok(())
}

/// The GEMM the integrated accelerator runs (M, K, N) with requant+GELU.
const ACCEL_GEMM: (u32, u32, u32) = (128, 256, 128);
/// The softmax program: rows of this length (ViT-Tiny's 197 tokens), this many.
const ACCEL_SOFTMAX: (u32, u32) = (197, 48);

/// The integrated accelerator: a GEMM+requant+GELU program from `gemm_program` and a
/// softmax program, each at peak (no stalls, memory latency 100) and hostile (30%
/// stalls on every channel and the AXI4-Lite bus, random latency, random initial
/// state); after `HALT` the RTL's DRAM image must equal the golden model's.
fn accel_demo(cfg: &accgen_golden::config::Config, rows: &mut Vec<[String; 6]>) -> Result<()> {
    use accgen_golden::gemm_program::{gemm_program, GemmEpilogue};
    use accgen_golden::machine::Machine;
    use accgen_sim::accel::AccelTiming;
    let t = Instant::now();
    let name = accgen_hw::accel::top::top_name(cfg);
    eprintln!("building Verilator model of {name} (the integrated accelerator) ...");
    let model = accgen_sim::accel::build_accel(cfg)?;
    let build = build_txt(t.elapsed().as_secs_f64(), model.info().cache_hit);
    let mut programs: Vec<(String, Vec<u8>, u64, u32)> = Vec::new();
    if let (Some(acfg), Some(_), None) = (&cfg.array, &cfg.requant, &cfg.sparsity) {
        let (m, k, n) = ACCEL_GEMM;
        let epi = if cfg.gelu.is_some() {
            GemmEpilogue::RequantGelu
        } else {
            GemmEpilogue::Requant
        };
        let (prog, lay) = gemm_program(cfg, m, k, n, epi).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut rng = SplitMix64::new(2027);
        let a = random_matrix(&mut rng, m as usize, k as usize, acfg.act_bits);
        let b = random_matrix(&mut rng, k as usize, n as usize, acfg.weight_bits);
        let dram = lay.image(cfg, &prog, &a, &b, epi);
        let what = if epi == GemmEpilogue::RequantGelu {
            "requant+GELU"
        } else {
            "requant"
        };
        programs.push((
            format!("{m}x{k}x{n} GEMM+{what}"),
            dram,
            lay.prog,
            prog.instrs.len() as u32,
        ));
    }
    if let Some(sm) = &cfg.softmax {
        let (len, n_rows) = ACCEL_SOFTMAX;
        let len = len.min(sm.max_len);
        let ib = accgen_golden::accel::elem_bytes(sm.in_bits);
        let ob = accgen_golden::accel::elem_bytes(sm.out_bits);
        let text = format!(
            "load dram=0x0 rows={n_rows} bytes={} stride={} spad=0 push_next\n\
             softmax src=0 dst=0 rows={n_rows} len={len} pop_prev push_next\n\
             store dram={:#x} rows={n_rows} bytes={} stride={} spad=0 pop_prev\nhalt\n",
            len * ib,
            len * ib,
            0x10_0000,
            len * ob,
            len * ob
        );
        let prog = accgen_golden::asm::assemble(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut dram = vec![0u8; 0x20_0000];
        let mut rng = SplitMix64::new(2028);
        for byte in dram.iter_mut().take((n_rows * len * ib) as usize) {
            *byte = rng.next_u64() as u8;
        }
        let at = 0x18_0000u64;
        let pb = prog.to_bytes();
        dram[at as usize..at as usize + pb.len()].copy_from_slice(&pb);
        programs.push((
            format!("softmax {n_rows} rows x {len}"),
            dram,
            at,
            prog.instrs.len() as u32,
        ));
    }
    for (what, dram, at, len) in programs {
        let mut g = Machine::new(cfg, dram.clone(), 0)?;
        let out = g.run(at, len as u64);
        if let Some(f) = &out.fault {
            bail!("{what}: the golden model stopped with {f}");
        }
        for (pass, timing) in [
            (
                "peak",
                AccelTiming {
                    mem_latency: 100,
                    stall: 0.0,
                    seed: 0,
                    timeout: 50_000_000,
                },
            ),
            (
                "hostile",
                AccelTiming {
                    mem_latency: 37,
                    stall: 0.3,
                    seed: 2026,
                    timeout: 50_000_000,
                },
            ),
        ] {
            eprintln!("running {what} on the accelerator ({pass}) ...");
            let (mismatch, stats) = super::run::compare_on_rtl(
                &timing,
                Some(&model),
                None,
                cfg,
                dram.clone(),
                at,
                len,
                &out,
                &g,
            )?;
            let f = |k: &str| stats[k].as_f64().unwrap_or(0.0);
            rows.push([
                format!("{name} ({what}, {pass})"),
                format!("{}", stats["cycles"].as_u64().unwrap_or(0)),
                stats["array_utilization"]
                    .as_f64()
                    .map_or("-".into(), |u| format!("{u:.4}")),
                mismatch.is_none().to_string(),
                build.clone(),
                format!("{:.2} M", f("sim_cycles_per_s") / 1e6),
            ]);
            if let Some(mm) = mismatch {
                print_summary(rows);
                bail!("{what} ({pass}): {mm}");
            }
        }
    }
    Ok(())
}

/// The trained ViT of `models/vit_digits`, imported from its ONNX file and run over
/// its whole held-out split on the accelerator of `configs/vit_digits.toml` under
/// hostile memory timing: every image bit-exact against golden, and the top-1
/// accuracy within 1 percentage point of onnxruntime's.
fn vit_demo(rows: &mut Vec<[String; 6]>) -> Result<()> {
    use super::model::{compile_timed, read_batch, run_samples, Inputs};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg_path = root.join("configs/vit_digits.toml");
    println!(
        "== ViT-digits end to end: models/vit_digits/model.onnx on configs/vit_digits.toml =="
    );
    let cfg = super::generate::load_config(&cfg_path)?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("vit_digits");
    super::import::import_cmd(&root.join("models/vit_digits/model.onnx"), &dir, false)?;
    let (model, c, secs) = compile_timed(&cfg, &dir)?;
    let xi = model.tensors[&model.input];
    let Inputs::Batch(b) = read_batch(
        &root.join("models/vit_digits/test.npz"),
        xi.rows as usize,
        xi.cols as usize,
        &model.input,
    )?
    else {
        bail!("models/vit_digits/test.npz holds one sample, not the split");
    };
    let timing = accgen_sim::accel::AccelTiming {
        mem_latency: 37,
        stall: 0.3,
        seed: 2026,
        timeout: 50_000_000,
    };
    let w = Instant::now();
    let (st, _) = run_samples(&cfg, &model, &c, secs, &b, Some(timing))?;
    let f = |k: &str| st[k].as_f64().unwrap_or(f64::NAN);
    let mean = st["cycles_per_sample"]["mean"].as_f64().unwrap_or(f64::NAN);
    rows.push([
        format!(
            "vit_digits ({} images, hostile; accuracy {:.2}%, onnxruntime {:.2}%)",
            b.xs.len(),
            100.0 * f("accuracy"),
            100.0 * f("reference_accuracy")
        ),
        format!("{mean:.0}/image"),
        format!("{:.4}", f("array_utilization")),
        "true".into(),
        "-".into(),
        format!(
            "{:.2} M",
            mean * b.xs.len() as f64 / w.elapsed().as_secs_f64() / 1e6
        ),
    ]);
    if (f("accuracy") - f("reference_accuracy")).abs() > 0.01 {
        print_summary(rows);
        bail!(
            "vit_digits: the accelerator's accuracy {:.2}% is not within 1 percentage point of onnxruntime's {:.2}%",
            100.0 * f("accuracy"),
            100.0 * f("reference_accuracy")
        );
    }
    Ok(())
}

/// "12.3 s", or "12.3 s (cached)" when the model came from the build cache.
fn build_txt(secs: f64, cache_hit: bool) -> String {
    format!("{secs:.1} s{}", if cache_hit { " (cached)" } else { "" })
}

fn print_summary(rows: &[[String; 6]]) {
    let head = [
        "unit",
        "cycles",
        "utilization",
        "bit-exact",
        "verilator build",
        "sim cycles/s",
    ];
    let mut w = head.map(str::len);
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    println!("{}", line(&head.map(String::from)));
    println!(
        "{}",
        w.iter()
            .map(|n| "-".repeat(*n))
            .collect::<Vec<_>>()
            .join("-|-")
    );
    for r in rows {
        println!("{}", line(r));
    }
}
