//! Verilator harness tests: real builds of small designs made with the RTL builder.
//!
//! Every test uses its own design cache under `CARGO_TARGET_TMPDIR` (the Verilator
//! runtime archive is shared in `target/accgen-cache`). Distinct designs are kept few:
//! each new one costs a Verilator run of a few seconds.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::{Arc, Barrier};
use std::time::SystemTime;

use accgen_golden::config::MacConfig;
use accgen_golden::mac::{MacBeat, MacModel};
use accgen_golden::rng::SplitMix64;
use accgen_hw::mac::{mac, MAC_LATENCY};
use accgen_hw::rtl::{Design, Library, Module, ModuleBuilder, RegOpts, Value};
use accgen_sim::{Dut, Model, SimError, SimOptions, TopSpec};
use num_bigint::BigUint;

/// A fresh, empty directory for one test; removed when the test passes, kept when it
/// fails so the build log and waveforms can be inspected.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn scratch(name: &str) -> Scratch {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sim-{name}-{}-{nanos}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    Scratch(d)
}

fn opts(root: &Path) -> SimOptions {
    SimOptions::new().cache_root(root.join("cache"))
}

/// A `width`-bit up-counter with synchronous reset and clock enable `en`; output `q`.
fn counter(name: &str, width: u32) -> Rc<Module> {
    let mut m = ModuleBuilder::new(name);
    let en = m.input("en", 1, false).unwrap();
    let c = m
        .reg(
            "count",
            width,
            false,
            RegOpts::new().reset_zero(width).enable(en),
        )
        .unwrap();
    let one = m.const_u(width, 1).unwrap();
    let next = m.add(c.q, one).unwrap();
    m.connect(c, next).unwrap();
    m.output("q", c.q).unwrap();
    Rc::new(m.finish().unwrap())
}

/// Drive a counter with a random enable for `cycles` cycles, checking every cycle.
fn check_counter(dut: &mut Dut, width: u32, cycles: u64, seed: u64) {
    let en = dut.input("en").unwrap();
    let q = dut.output("q").unwrap();
    let mask = (1u64 << width) - 1;
    assert!(dut.reset(2));
    let mut expect = 0u64;
    let mut rng = SplitMix64::new(seed);
    assert_eq!(dut.peek_u64(q), 0, "count after reset");
    for i in 0..cycles {
        let e = rng.next_u64() & 3 != 0;
        dut.poke_u64(en, e as u64);
        assert_eq!(dut.peek_u64(en), e as u64, "input peek at step {i}");
        assert_eq!(
            dut.peek_u64(q),
            expect,
            "poking en must not change q before the edge (step {i})"
        );
        dut.tick();
        if e {
            expect = (expect + 1) & mask;
        }
        assert_eq!(dut.peek_u64(q), expect, "count after step {i}");
    }
}

fn panic_message(r: Result<(), Box<dyn std::any::Any + Send>>) -> String {
    let e = r.expect_err("expected a panic");
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn counter_cycle_by_cycle() {
    let root = scratch("counter");
    let model = Model::build(&counter("sim_counter4", 4), &opts(&root)).unwrap();
    let mut dut = model.instantiate().unwrap();
    check_counter(&mut dut, 4, 100, 1);
    assert_eq!(dut.cycle(), 102, "2 reset cycles + 100");

    // Reset wins over enable, mid-run.
    let en = dut.input("en").unwrap();
    let q = dut.output("q").unwrap();
    dut.poke_u64(en, 1);
    dut.ticks(3);
    assert_ne!(dut.peek_u64(q), 0);
    dut.reset(1);
    assert_eq!(dut.peek_u64(q), 0, "reset with en=1 clears the counter");

    // A second instance of the same model is independent.
    let mut other = model.instantiate().unwrap();
    check_counter(&mut other, 4, 20, 2);
    assert_eq!(dut.peek_u64(q), 0);

    // Port look-up errors name the port and list the alternatives.
    let e = dut.input("enable").unwrap_err().to_string();
    assert!(
        e.contains("`enable`")
            && e.contains("en (input 1 UInt)")
            && e.contains("q (output 4 UInt)"),
        "{e}"
    );
    let e = dut.input("q").unwrap_err().to_string();
    assert!(e.contains("`q`") && e.contains("output port"), "{e}");
    assert!(matches!(
        dut.output("en"),
        Err(SimError::WrongDirection { .. })
    ));

    // Values that do not fit panic, naming the port.
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| dut.poke_u64(en, 2))));
    assert!(
        msg.contains("`en`") && msg.contains("1 unsigned bits"),
        "{msg}"
    );
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| dut.poke_i64(en, -1))));
    assert!(msg.contains("`en`"), "{msg}");

    // Tracing needs a traced build.
    let e = model.instantiate_traced(&root.join("x.vcd")).unwrap_err();
    assert!(matches!(e, SimError::TraceNotBuilt { .. }), "{e}");
}

#[test]
fn mac_matches_golden_with_exact_latency() {
    let root = scratch("mac");
    let cfg = MacConfig {
        a_bits: 8,
        b_bits: 8,
        acc_bits: 16,
    };
    let mut lib = Library::new();
    let top = mac(&mut lib, &cfg).unwrap();
    let mut dut = Dut::build(&top, &opts(&root)).unwrap();
    let (valid, clear, a, b) = (
        dut.input("in_valid").unwrap(),
        dut.input("clear").unwrap(),
        dut.input("a").unwrap(),
        dut.input("b").unwrap(),
    );
    let (acc, out_valid) = (dut.output("acc").unwrap(), dut.output("out_valid").unwrap());
    assert!(dut.reset(3));
    assert_eq!(dut.peek_u64(out_valid), 0, "out_valid after reset");

    // One isolated beat: the sum appears exactly MAC_LATENCY ticks later, not earlier.
    dut.poke_u64(valid, 1);
    dut.poke_u64(clear, 1);
    dut.poke_i64(a, -7);
    dut.poke_i64(b, 9);
    dut.tick();
    dut.poke_u64(valid, 0);
    dut.poke_u64(clear, 0);
    let mut seen = Vec::new();
    for _ in 1..=MAC_LATENCY + 2 {
        seen.push(dut.peek_u64(out_valid));
        if dut.peek_u64(out_valid) == 1 {
            assert_eq!(dut.peek_i64(acc), -63);
        }
        dut.tick();
    }
    let mut want = vec![0u64; MAC_LATENCY as usize + 2];
    want[MAC_LATENCY as usize - 1] = 1;
    assert_eq!(seen, want, "out_valid after ticks 1..={}", MAC_LATENCY + 2);

    // Random beats with gaps, checked every cycle against the golden model.
    let mut rng = SplitMix64::new(0x5eed);
    // The golden model continues from the isolated beat above.
    let mut golden = MacModel::new(&cfg);
    assert_eq!(
        golden.step(MacBeat {
            a: -7,
            b: 9,
            clear: true
        }),
        -63
    );
    let steps = 3000usize;
    // expected[i] = Some(acc) when the beat poked at step i was valid.
    let mut expected: Vec<Option<i64>> = Vec::with_capacity(steps);
    let mut wrapped = false;
    let mut exact = -63i128;
    for i in 0..steps {
        let v = rng.next_u64() & 3 != 0;
        let beat = MacBeat {
            a: rng.signed(cfg.a_bits),
            b: rng.signed(cfg.b_bits),
            clear: rng.next_u64() & 63 == 0,
        };
        dut.poke_u64(valid, v as u64);
        dut.poke_u64(clear, beat.clear as u64);
        dut.poke_i64(a, beat.a);
        dut.poke_i64(b, beat.b);
        expected.push(if v {
            let p = beat.a as i128 * beat.b as i128;
            exact = if beat.clear { p } else { exact + p };
            let r = golden.step(beat);
            wrapped |= r as i128 != exact;
            Some(r)
        } else {
            None
        });
        dut.tick();
        // After this tick, the beat of step i + 1 - MAC_LATENCY is at the output.
        let due = (i + 1)
            .checked_sub(MAC_LATENCY as usize)
            .and_then(|j| expected[j]);
        let ov = dut.peek_u64(out_valid);
        assert_eq!(
            ov,
            due.is_some() as u64,
            "out_valid after step {i} (cycle {})",
            dut.cycle()
        );
        if let Some(want) = due {
            assert_eq!(
                dut.peek_i64(acc),
                want,
                "acc after step {i} (cycle {})",
                dut.cycle()
            );
        }
    }
    assert!(
        wrapped,
        "the stimulus should exercise accumulator wrap-around"
    );
    assert!(expected.iter().filter(|e| e.is_some()).count() > steps / 2);
}

/// Combinational module with ports of every Verilator storage class.
fn widths_module() -> Rc<Module> {
    let mut m = ModuleBuilder::new("sim_widths");
    let a = m.input("a", 100, false).unwrap();
    let b = m.input("b", 100, false).unwrap();
    let c = m.input("c", 128, true).unwrap();
    let d = m.input("d", 200, false).unwrap();
    let e = m.input("e", 200, false).unwrap();
    let s = m.input("s", 16, true).unwrap();
    let q = m.input("q", 40, false).unwrap();
    let n = m.input("n", 1, false).unwrap();
    let x = m.xor(a, b).unwrap();
    m.output("x", x).unwrap();
    m.output("c_o", c).unwrap();
    let sum = m.add(d, e).unwrap();
    m.output("sum", sum).unwrap();
    let sn = m.neg(s).unwrap();
    m.output("s_neg", sn).unwrap();
    let one = m.const_u(40, 1).unwrap();
    let q1 = m.add(q, one).unwrap();
    m.output("q1", q1).unwrap();
    let nn = m.not(n).unwrap();
    m.output("n_not", nn).unwrap();
    Rc::new(m.finish().unwrap())
}

fn random_value(rng: &mut SplitMix64, width: u32) -> Value {
    let mut w = vec![0u64; width.div_ceil(64) as usize];
    rng.fill(&mut w);
    Value::from_words_truncating(width, &w)
}

fn big(v: &Value) -> BigUint {
    BigUint::from_slice(
        &v.words()
            .iter()
            .flat_map(|w| [*w as u32, (*w >> 32) as u32])
            .collect::<Vec<_>>(),
    )
}

#[test]
fn wide_ports_round_trip() {
    let root = scratch("widths");
    let top = widths_module();
    assert!(!top.has_clock());
    let mut dut = Dut::build(&top, &opts(&root)).unwrap();
    let [a, b, c, d, e, s, q, n] =
        ["a", "b", "c", "d", "e", "s", "q", "n"].map(|p| dut.input(p).unwrap());
    let [x, c_o, sum, s_neg, q1, n_not] =
        ["x", "c_o", "sum", "s_neg", "q1", "n_not"].map(|p| dut.output(p).unwrap());
    let mut rng = SplitMix64::new(42);
    let m200 = (BigUint::from(1u8) << 200u32) - 1u8;
    for i in 0..200 {
        let (va, vb, vc) = (
            random_value(&mut rng, 100),
            random_value(&mut rng, 100),
            random_value(&mut rng, 128),
        );
        let (vd, ve) = (random_value(&mut rng, 200), random_value(&mut rng, 200));
        let vs = rng.signed(16);
        let vq = rng.next_u64() >> 24;
        dut.poke(a, &va);
        dut.poke(b, &vb);
        dut.poke(c, &vc);
        dut.poke(d, &vd);
        dut.poke(e, &ve);
        dut.poke_i64(s, vs);
        dut.poke_u64(q, vq);
        dut.poke_u64(n, (i % 2) as u64);
        // No tick: peeks re-evaluate after pokes.
        let want_x = va.to_u128().unwrap() ^ vb.to_u128().unwrap();
        assert_eq!(dut.peek(x).to_u128(), Some(want_x), "x at {i}");
        assert_eq!(dut.peek(c_o), vc, "c_o at {i}");
        assert_eq!(
            big(&dut.peek(sum)),
            (big(&vd) + big(&ve)) & &m200,
            "sum at {i}"
        );
        assert_eq!(
            dut.peek_i64(s_neg),
            ((-(vs as i32)) as i16) as i64,
            "s_neg at {i}"
        );
        assert_eq!(dut.peek_u64(q1), (vq + 1) & ((1 << 40) - 1), "q1 at {i}");
        assert_eq!(dut.peek_u64(n_not), 1 - (i % 2) as u64, "n_not at {i}");
        assert_eq!(dut.peek(a), va, "input a reads back at {i}");
    }
    // Signed wide values sign-extend across all words.
    dut.poke_i64(c, -5);
    assert_eq!(dut.peek_i64(c_o), -5);
    assert_eq!(dut.peek(c_o).to_i128(), Some(-5));
    assert_eq!(dut.peek(c_o).words(), &[u64::MAX - 4, u64::MAX]);
    dut.poke_i64(s, -32768);
    assert_eq!(dut.peek_i64(s_neg), -32768, "negating the minimum wraps");
    // All-ones 100-bit values are masked to the port width.
    dut.poke(a, &Value::from_i128_wrapping(100, -1));
    dut.poke_u64(b, 0);
    assert_eq!(dut.peek(x).to_u128(), Some((1u128 << 100) - 1));
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| {
        dut.poke(a, &Value::zero(99))
    })));
    assert!(msg.contains("`a`") && msg.contains("99 bits"), "{msg}");
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| dut.poke_i64(q, -1))));
    assert!(
        msg.contains("`q`") && msg.contains("40 unsigned bits"),
        "{msg}"
    );
    // A combinational module still counts ticks and has no reset.
    dut.ticks(5);
    assert_eq!(dut.cycle(), 5);
    assert!(!dut.reset(2));
    assert_eq!(dut.cycle(), 5);
}

#[test]
fn vcd_written_when_tracing() {
    let root = scratch("trace");
    let vcd = root.join("waves/counter.vcd");
    let mut dut = Dut::build(&counter("sim_counter4", 4), &opts(&root).trace(&vcd)).unwrap();
    let en = dut.input("en").unwrap();
    let q = dut.output("q").unwrap();
    dut.reset(1);
    dut.poke_u64(en, 1);
    dut.ticks(9);
    assert_eq!(dut.peek_u64(q), 9, "tracing does not change behaviour");
    drop(dut);
    let text = std::fs::read_to_string(&vcd).expect("VCD file exists");
    assert!(text.contains("$enddefinitions"), "{text}");
    for name in ["clk", "rst", "en", "q"] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("$var")
                    && l.split_whitespace().any(|w| w == name)),
            "VCD declares `{name}`:\n{text}"
        );
    }
    // Time line: 10 units per cycle, edges at +5 and +10, all 10 cycles present.
    for t in ["#0", "#5", "#10", "#95", "#100"] {
        assert!(text.lines().any(|l| l == t), "VCD has timestamp {t}");
    }
}

#[test]
fn second_build_is_a_cache_hit() {
    let root = scratch("cachehit");
    let top = counter("sim_counter4", 4);
    let first = Model::build(&top, &opts(&root)).unwrap();
    let info1 = first.info().clone();
    assert!(!info1.cache_hit, "first build in an empty cache compiles");
    assert!(info1.verilate_time.is_some() && info1.link_time.is_some());
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let lib_mtime = mtime(&info1.library);

    let second = Model::build(&top, &opts(&root)).unwrap();
    let info2 = second.info().clone();
    assert!(info2.cache_hit, "second build reuses the cache");
    assert_eq!(info2.hash, info1.hash);
    assert_eq!(info2.library, info1.library);
    assert_eq!(mtime(&info2.library), lib_mtime, "library not rewritten");
    assert!(info2.verilate_time.is_none() && info2.link_time.is_none());
    assert!(
        info2.build_time * 10 < info1.build_time,
        "hit {:?} should be far faster than build {:?}",
        info2.build_time,
        info1.build_time
    );
    let mut dut = second.instantiate().unwrap();
    check_counter(&mut dut, 4, 20, 3);

    // A different design, or the same one traced, is a different entry.
    let other = Model::build(&counter("sim_counter4", 4), &opts(&root)).unwrap();
    assert!(
        other.info().cache_hit,
        "an identical module rebuilt by the builder hits too"
    );
    let entries = std::fs::read_dir(root.join("cache")).unwrap().count();
    assert_eq!(entries, 1, "one cache entry, no temporary directories left");
}

#[test]
fn concurrent_threads_build_the_same_design() {
    let root = scratch("threads");
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let (root, barrier) = (root.to_path_buf(), barrier.clone());
            std::thread::spawn(move || {
                // Rc modules are per thread; both threads emit identical Verilog.
                let top = counter("sim_counter6", 6);
                barrier.wait();
                let model = Model::build(&top, &opts(&root)).unwrap();
                let mut dut = model.instantiate().unwrap();
                check_counter(&mut dut, 6, 150, 10 + t);
                model.info().cache_hit
            })
        })
        .collect();
    let hits: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        hits.iter().filter(|h| !**h).count(),
        1,
        "exactly one thread compiles, the other reuses its result: {hits:?}"
    );
    let names: Vec<String> = std::fs::read_dir(root.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

const RACE_ENV: &str = "ACCGEN_SIM_TEST_RACE_ROOT";

/// Run one test of this binary in a child process with extra environment.
fn run_child(test: &str, env: &[(&str, &std::ffi::OsStr)]) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        test,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Child half of `concurrent_processes_share_one_entry` (does nothing when run alone).
#[test]
#[ignore = "run by concurrent_processes_share_one_entry"]
fn child_race_build() {
    let Some(root) = std::env::var_os(RACE_ENV) else {
        return;
    };
    let model = Model::build(&counter("sim_counter5", 5), &opts(Path::new(&root))).unwrap();
    let mut dut = model.instantiate().unwrap();
    check_counter(&mut dut, 5, 100, 7);
    println!("CHILD-RESULT cache_hit={}", model.info().cache_hit);
}

#[test]
fn concurrent_processes_share_one_entry() {
    let root = scratch("processes");
    let children: Vec<_> = (0..2)
        .map(|_| run_child("child_race_build", &[(RACE_ENV, root.as_os_str())]).output_async())
        .collect();
    let mut misses = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("CHILD-RESULT"),
            "the child really built: {stdout}"
        );
        misses += stdout.contains("cache_hit=false") as u32;
    }
    assert!(misses >= 1, "someone built the entry");
    let names: Vec<String> = std::fs::read_dir(root.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        1,
        "one entry, no temporary directories: {names:?}"
    );
    assert_eq!(names[0].len(), 32);
}

trait OutputAsync {
    fn output_async(&mut self) -> std::process::Child;
}

impl OutputAsync for Command {
    fn output_async(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

#[test]
fn module_without_ports_is_rejected_before_building() {
    let root = scratch("noports");
    let mut m = ModuleBuilder::new("sim_noports");
    let r = m.reg("r", 4, false, RegOpts::new()).unwrap();
    let q = r.q;
    m.connect(r, q).unwrap();
    let top = Rc::new(m.finish().unwrap());
    let err = Model::build(&top, &opts(&root)).unwrap_err();
    assert!(matches!(err, SimError::NoPorts { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("`sim_noports`") && msg.contains("no ports"),
        "{msg}"
    );
    assert!(!root.exists(), "nothing was written before the error");
}

#[test]
fn broken_verilog_reports_verilator_log() {
    let root = scratch("broken");
    let top = counter("sim_counter_broken", 3);
    let mut d = Design::new();
    d.add_top(top.clone());
    let mut files = d.files().unwrap();
    assert!(files[0].text.contains("endmodule"));
    files[0].text = files[0].text.replace("endmodule", "");
    let err = Model::build_from_files(&files, &TopSpec::of(&top), &opts(&root)).unwrap_err();
    assert!(matches!(err, SimError::VerilogCompile { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("sim_counter_broken")
            && msg.contains("%Error")
            && msg.contains("src/sim_counter_broken.v"),
        "{msg}"
    );
    let left: Vec<_> = std::fs::read_dir(root.join("cache")).unwrap().collect();
    assert!(
        left.is_empty(),
        "a failed build leaves no cache entry: {left:?}"
    );

    // A top that is not in the files is a clear error too.
    let err = Model::build_from_files(&files[..0], &TopSpec::of(&top), &opts(&root)).unwrap_err();
    assert!(matches!(err, SimError::TopNotFound { .. }), "{err}");
}

/// Child half of `missing_verilator_names_the_install_command`.
#[test]
#[ignore = "run by missing_verilator_names_the_install_command"]
fn child_without_verilator() {
    if std::env::var_os("ACCGEN_SIM_TEST_NO_VERILATOR").is_none() {
        return;
    }
    let root = scratch("noverilator");
    let err = Model::build(&counter("sim_counter4", 4), &opts(&root)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SimError::VerilatorMissing { .. }), "{msg}");
    assert!(
        msg.contains("sudo apt-get install -y verilator") && msg.contains("scripts/setup.sh"),
        "{msg}"
    );
    println!("CHILD-RESULT ok");
}

#[test]
fn missing_verilator_names_the_install_command() {
    let empty = scratch("emptypath");
    std::fs::create_dir_all(&*empty).unwrap();
    let out = run_child(
        "child_without_verilator",
        &[
            ("ACCGEN_SIM_TEST_NO_VERILATOR", std::ffi::OsStr::new("1")),
            ("PATH", empty.as_os_str()),
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("CHILD-RESULT ok"),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
