//! The accelerator front end in Verilator, with the program in the AXI4 memory model
//! (random latency and stalls) and the three engines emulated here (random execution
//! times, their own dependency tokens, `abort`): every engine receives exactly its
//! instructions in program order with their indices; nothing after a `fence` starts
//! before everything before it has finished; `halt` ends the run with error 0 only
//! after every instruction finished; an illegal word, running past `prog_len`, an AXI
//! error while fetching, an engine's error and the watchdog each end the run with
//! their code and index, deliver nothing past the fault, and leave the front end
//! ready for the next run. At 64-, 128- and 256-bit AXI widths.

use accgen_golden::asm::assemble;
use accgen_golden::isa::{Engine, Instr, Op, Program};
use accgen_golden::rng::SplitMix64;
use accgen_hw::accel::dma_read::DmaParams;
use accgen_hw::accel::frontend::{frontend, FrontParams, ENGINES};
use accgen_hw::rtl::Library;
use accgen_sim::axi_mem::{AxiMem, AxiMemConfig};
use accgen_sim::{Dut, InPort, Model, OutPort, SimOptions};

struct EnginePorts {
    word: OutPort,
    index: OutPort,
    valid: OutPort,
    ready: InPort,
    idle: InPort,
    progress: InPort,
}

/// One executed instruction: (index, start cycle, end cycle).
type Exec = (u32, u64, u64);

/// An engine's current instruction: (index, word, start cycle, cycles left, started).
type Current = Option<(u32, u128, u64, u32, bool)>;

struct Outcome {
    code: u64,
    index: u64,
    /// Per engine, what it executed.
    execs: [Vec<Exec>; 3],
    /// Cycles from an engine's error report to `ap_done`.
    err_to_done: Option<u64>,
}

struct Bench {
    dut: Dut,
    axi: AxiMem,
    eng: Vec<EnginePorts>,
    rng: SplitMix64,
}

const PROG_AT: u64 = 0x3010;

impl Bench {
    fn new(
        model: &Model,
        p: &FrontParams,
        seed: u64,
        latency: u64,
        stall: f64,
        err: Vec<std::ops::Range<u64>>,
    ) -> Bench {
        let mut dut = model.instantiate_randomized(seed).unwrap();
        let axi = AxiMem::new(
            &mut dut,
            "m_axi_gmem_",
            vec![0; 1 << 16],
            AxiMemConfig {
                data_bytes: p.dma.data_bytes as usize,
                read_latency: latency,
                stall,
                seed,
                max_outstanding: 16,
                error_ranges: err,
                write_latency: 0,
            },
        )
        .unwrap();
        let eng = ENGINES
            .iter()
            .map(|e| EnginePorts {
                word: dut.output(&format!("{e}_word")).unwrap(),
                index: dut.output(&format!("{e}_index")).unwrap(),
                valid: dut.output(&format!("{e}_valid")).unwrap(),
                ready: dut.input(&format!("{e}_ready")).unwrap(),
                idle: dut.input(&format!("{e}_idle")).unwrap(),
                progress: dut.input(&format!("progress_{e}")).unwrap(),
            })
            .collect();
        for n in [
            "ap_start",
            "eng_error_valid",
            "eng_error_code",
            "eng_error_index",
            "watchdog",
        ] {
            let port = dut.input(n).unwrap();
            dut.poke_u64(port, 0);
        }
        dut.reset(3);
        Bench {
            dut,
            axi,
            eng,
            rng: SplitMix64::new(seed ^ 0x77),
        }
    }

    fn set(&mut self, n: &str, v: u64) {
        let p = self.dut.input(n).unwrap();
        self.dut.poke_u64(p, v);
    }

    fn get(&mut self, n: &str) -> u64 {
        let p = self.dut.output(n).unwrap();
        self.dut.peek_u64(p)
    }

    /// Run the program of `len` instructions at PROG_AT; `fail_at` makes the engine
    /// that executes that index report error 5 instead of finishing it.
    fn run(&mut self, prog_bytes: &[u8], len: u32, fail_at: Option<u32>) -> Outcome {
        self.axi.mem[PROG_AT as usize..PROG_AT as usize + prog_bytes.len()]
            .copy_from_slice(prog_bytes);
        self.set("prog_addr", PROG_AT);
        self.set("prog_len", len as u64);
        self.set("ap_start", 1);
        let mut execs: [Vec<Exec>; 3] = Default::default();
        // Current instruction per engine: (index, word, start, remaining, started).
        let mut cur: [Current; 3] = [None, None, None];
        // Tokens: load->compute, compute->load, compute->store, store->compute.
        let mut tokens = [0u32; 4];
        let links: [[Option<usize>; 4]; 3] = [
            [None, Some(1), None, Some(0)],
            [Some(0), Some(3), Some(1), Some(2)],
            [Some(2), None, Some(3), None],
        ];
        let start = self.dut.cycle();
        let mut ready_seen = false;
        let mut err_cycle: Option<u64> = None;
        loop {
            assert!(
                self.dut.cycle() - start < 2_000_000,
                "the run never finished"
            );
            self.axi.step(&mut self.dut).unwrap();
            let abort = self.get("abort_all") == 1;
            let mut err_pulse: Option<(u64, u64)> = None;
            for e in 0..3 {
                let ep = &self.eng[e];
                let (valid, ready, idle, progress) = (ep.valid, ep.ready, ep.idle, ep.progress);
                if abort {
                    cur[e] = None;
                }
                let mut prog = false;
                if let Some((idx, word, st, rem, started)) = cur[e] {
                    let ins = Instr::decode(word).unwrap();
                    let d = ins.deps;
                    let want = [d.pop_prev, d.pop_next, d.push_prev, d.push_next];
                    if !started {
                        let ok = (0..2).all(|k| !want[k] || tokens[links[e][k].unwrap()] > 0);
                        if ok {
                            for k in 0..2 {
                                if want[k] {
                                    tokens[links[e][k].unwrap()] -= 1;
                                }
                            }
                            cur[e] = Some((idx, word, self.dut.cycle(), rem, true));
                        }
                    } else if rem > 0 {
                        cur[e] = Some((idx, word, st, rem - 1, true));
                        prog = true;
                    } else if fail_at == Some(idx) {
                        err_pulse = Some((5, idx as u64));
                        cur[e] = None;
                    } else {
                        for k in 2..4 {
                            if want[k] {
                                tokens[links[e][k].unwrap()] += 1;
                            }
                        }
                        execs[e].push((idx, st, self.dut.cycle()));
                        cur[e] = None;
                        prog = true;
                    }
                }
                let idle_now = cur[e].is_none();
                self.dut.poke_u64(idle, idle_now as u64);
                self.dut.poke_u64(progress, prog as u64);
                let take =
                    idle_now && !abort && !self.rng.chance(0.3) && self.dut.peek_u64(valid) == 1;
                self.dut.poke_u64(ready, take as u64);
                if take {
                    let w = self.dut.peek(ep.word);
                    let word = w.words()[0] as u128 | (w.words()[1] as u128) << 64;
                    let idx = self.dut.peek_u64(ep.index) as u32;
                    let ins = Instr::decode(word).expect("the front end delivers legal words only");
                    let want_engine = [Engine::Load, Engine::Compute, Engine::Store][e];
                    assert_eq!(
                        ins.op.engine(),
                        Some(want_engine),
                        "instruction {idx} on the {} engine",
                        ENGINES[e]
                    );
                    cur[e] = Some((idx, word, 0, self.rng.range_i64(0, 12) as u32, false));
                }
            }
            match err_pulse {
                Some((c, i)) => {
                    err_cycle.get_or_insert(self.dut.cycle());
                    self.set("eng_error_valid", 1);
                    self.set("eng_error_code", c);
                    self.set("eng_error_index", i);
                }
                None => self.set("eng_error_valid", 0),
            }
            if self.get("ap_ready") == 1 {
                ready_seen = true;
                self.set("ap_start", 0);
            }
            if self.get("ap_done") == 1 {
                assert!(ready_seen);
                let out = Outcome {
                    code: self.get("error_code"),
                    index: self.get("error_index"),
                    execs,
                    err_to_done: err_cycle.map(|c| self.dut.cycle() - c),
                };
                self.dut.tick();
                assert_eq!(self.get("ap_idle"), 1);
                return out;
            }
            self.dut.tick();
        }
    }
}

/// Every engine got exactly its instructions below `upto`, in order; fences held.
fn check_delivery(prog: &Program, out: &Outcome, upto: usize, all: bool) {
    for (e, engine) in [Engine::Load, Engine::Compute, Engine::Store]
        .iter()
        .enumerate()
    {
        let want: Vec<u32> = prog.instrs[..upto]
            .iter()
            .enumerate()
            .filter(|(_, i)| i.op.engine() == Some(*engine))
            .map(|(n, _)| n as u32)
            .collect();
        let got: Vec<u32> = out.execs[e].iter().map(|x| x.0).collect();
        if all {
            assert_eq!(got, want, "{} engine", ENGINES[e]);
        } else {
            assert!(
                want.starts_with(&got),
                "{} engine ran {got:?}, a prefix of {want:?} expected",
                ENGINES[e]
            );
        }
    }
    let execs: Vec<&Exec> = out.execs.iter().flatten().collect();
    for (f, i) in prog.instrs[..upto].iter().enumerate() {
        if i.op == Op::Fence {
            let before = execs
                .iter()
                .filter(|x| (x.0 as usize) < f)
                .map(|x| x.2)
                .max();
            let after = execs
                .iter()
                .filter(|x| (x.0 as usize) > f)
                .map(|x| x.1)
                .min();
            if let (Some(b), Some(a)) = (before, after) {
                assert!(
                    b < a,
                    "fence {f}: an instruction after it started at {a} before one ended at {b}"
                );
            }
        }
    }
}

fn model(db: u32) -> (Model, FrontParams) {
    let p = FrontParams {
        dma: DmaParams {
            data_bytes: db,
            addr_bits: 32,
            max_outstanding: 4,
        },
        queue_depth: 4,
        watchdog_default: 3000,
    };
    let mut lib = Library::new();
    let top = frontend(&mut lib, &p).unwrap();
    (Model::build(&top, &SimOptions::new()).unwrap(), p)
}

/// A random deadlock-free program: token pushes are always matched by later pops on
/// the receiving engine, with fences and nops mixed in, ending in halt.
fn random_program(rng: &mut SplitMix64, n: usize) -> Program {
    let mut text = String::new();
    for _ in 0..n {
        let line = match rng.range_i64(0, 9) {
            0 => "load dram=0x0 rows=1 bytes=16 stride=0 spad=0 push_next\ngemm a=0 b=0 acc=0 k=1 m=1 pop_prev".to_string(),
            1 => "gemm a=0 b=0 acc=0 k=1 m=1 push_next\nstore dram=0 rows=1 bytes=4 stride=0 acc=0 pop_prev push_prev\nnop.compute pop_next".to_string(),
            2 => "fence".to_string(),
            3 => "softmax src=0 dst=0 rows=1 len=1".to_string(),
            4 => "nop.load push_next\nnop.compute pop_prev push_prev\nnop.load pop_next".to_string(),
            5 => "epilogue acc=0 spad=0 rows=1 params=0".to_string(),
            6 => "store dram=0 rows=1 bytes=1 stride=0 spad=0".to_string(),
            _ => "load dram=0x0 rows=2 bytes=3 stride=0 spad=0".to_string(),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str("halt\n");
    assemble(&text).unwrap()
}

#[test]
fn programs_dispatch_in_order_with_fences_and_halt() {
    for db in [16u32, 8, 32] {
        let (m, p) = model(db);
        let mut rng = SplitMix64::new(db as u64);
        for (k, (lat, stall)) in [(0u64, 0.0), (20, 0.3), (3, 0.1)].into_iter().enumerate() {
            let mut b = Bench::new(&m, &p, k as u64 + 1, lat, stall, vec![]);
            // Several runs on one instance: nothing may leak from one into the next.
            for run in 0..4 {
                let prog = random_program(&mut rng, 20 + run * 40);
                let out = b.run(&prog.to_bytes(), prog.instrs.len() as u32, None);
                assert_eq!((out.code, out.index), (0, 0), "{db}-byte beats, run {run}");
                check_delivery(&prog, &out, prog.instrs.len(), true);
            }
        }
    }
}

#[test]
fn every_error_ends_the_run_with_its_code_and_index() {
    let (m, p) = model(16);
    let mut rng = SplitMix64::new(3);
    let prog = random_program(&mut rng, 100);
    let bytes = prog.to_bytes();
    let n = prog.instrs.len();
    let mut b = Bench::new(&m, &p, 7, 5, 0.2, vec![]);
    // An illegal word at 77: everything before it may run, nothing from 77 on.
    let mut bad = bytes.clone();
    bad[77 * 16..78 * 16].fill(0);
    let out = b.run(&bad, n as u32, None);
    assert_eq!((out.code, out.index), (1, 77));
    check_delivery(&prog, &out, 77, false);
    // Running past prog_len.
    let out = b.run(&bytes, 50, None);
    assert_eq!((out.code, out.index), (1, 50));
    check_delivery(&prog, &out, 50, true);
    // prog_len 0.
    let out = b.run(&bytes, 0, None);
    assert_eq!((out.code, out.index), (1, 0));
    // An engine's error.
    let fail = prog
        .instrs
        .iter()
        .position(|i| i.op.engine() == Some(Engine::Compute) && !matches!(i.op, Op::Nop(_)))
        .unwrap() as u32;
    let out = b.run(&bytes, n as u32, Some(fail));
    assert_eq!((out.code, out.index), (5, fail as u64));
    let t = out.err_to_done.unwrap();
    // At once: the engines stop, and at most two fetched chunks drain.
    let bound = 2 * accgen_hw::accel::frontend::CHUNK as u64 + 100;
    assert!(
        t < bound,
        "an engine error aborts at once ({t} cycles to ap_done, bound {bound})"
    );
    // The watchdog: a compute nop waits for a token nobody sends.
    let stuck =
        assemble("load dram=0 rows=1 bytes=1 stride=0 spad=0\nnop.compute pop_prev\nhalt\n")
            .unwrap();
    let out = b.run(&stuck.to_bytes(), 3, None);
    assert_eq!(
        (out.code, out.index),
        (4, 2),
        "the dispatcher waits at the halt"
    );
    // And a clean run afterwards.
    let out = b.run(&bytes, n as u32, None);
    assert_eq!((out.code, out.index), (0, 0));
    check_delivery(&prog, &out, n, true);
    // An AXI error while fetching instruction 40.
    let at = PROG_AT + 40 * 16 + 3;
    let bad_range = std::iter::once(at..at + 1).collect();
    let mut b = Bench::new(&m, &p, 9, 5, 0.2, bad_range);
    let out = b.run(&bytes, n as u32, None);
    assert_eq!((out.code, out.index), (3, 40));
    check_delivery(&prog, &out, 40, false);
}
