//! The hardware instruction decoder against `golden::isa::Instr::decode` on 300,000
//! words: random words biased towards real opcodes and version 1 (so decoding goes
//! deep), every valid instruction with random flags, and single-bit corruptions of
//! valid words. Illegal exactly when golden rejects; opcode and engine as golden
//! says; one cycle of latency.

use accgen_golden::isa::{Engine, Instr};
use accgen_golden::rng::SplitMix64;
use accgen_hw::rtl::{Library, Value};
use accgen_sim::{Model, SimOptions};

fn engine_code(i: &Instr) -> u64 {
    match i.op.engine() {
        Some(Engine::Load) => 0,
        Some(Engine::Compute) => 1,
        Some(Engine::Store) => 2,
        None => 3,
    }
}

fn opcode(i: &Instr) -> u64 {
    (i.encode() & 0xf) as u64
}

#[test]
fn hardware_decoder_agrees_with_golden_on_every_word() {
    let mut lib = Library::new();
    let top = accgen_hw::accel::decode::decode(&mut lib).unwrap();
    let model = Model::build(&top, &SimOptions::new()).unwrap();
    let mut dut = model.instantiate_randomized(3).unwrap();
    let (iw, iv) = (
        dut.input("in_word").unwrap(),
        dut.input("in_valid").unwrap(),
    );
    let (ov, oi, oo, oe) = (
        dut.output("out_valid").unwrap(),
        dut.output("out_illegal").unwrap(),
        dut.output("out_opcode").unwrap(),
        dut.output("out_engine").unwrap(),
    );
    dut.poke_u64(iv, 0);
    dut.reset(2);
    let mut rng = SplitMix64::new(8);
    // Valid instructions to corrupt: one of each kind with fields at their limits.
    let valid_words: Vec<u128> = accgen_golden::asm::assemble(
        "load dram=0xffffffffff rows=4095 bytes=65535 stride=16777215 spad=1048575 push_next\n\
         store dram=0 rows=1 bytes=1 stride=0 acc=7 pop_prev push_prev\n\
         gemm a=1 b=2 acc=65535 k=65535 m=255 accumulate pop_prev pop_next push_prev push_next\n\
         epilogue acc=1 spad=2 rows=3 params=4 act=relu\n\
         softmax src=1 dst=2 rows=3 len=4\n\
         nop.store pop_prev\n\
         fence\n\
         halt\n",
    )
    .unwrap()
    .instrs
    .iter()
    .map(|i| i.encode())
    .collect();
    let (mut legal, mut illegal) = (0u64, 0u64);
    for n in 0..300_000u64 {
        let w: u128 = match n % 3 {
            0 => {
                let r = (rng.next_u64() as u128) << 64 | rng.next_u64() as u128;
                let op = rng.range_i64(0, 15) as u128;
                let ver = if rng.chance(0.9) {
                    1
                } else {
                    rng.range_i64(0, 15) as u128
                };
                // Clear most high bits so that reserved-bit checks pass often.
                let keep = if rng.chance(0.5) {
                    !0u128
                } else {
                    (1u128 << rng.range_i64(12, 127)) - 1
                };
                (r & keep & !0xff) | op | ver << 4
            }
            1 => valid_words[rng.range_i64(0, valid_words.len() as i64 - 1) as usize],
            _ => {
                let v = valid_words[rng.range_i64(0, valid_words.len() as i64 - 1) as usize];
                v ^ 1u128 << rng.range_i64(0, 127)
            }
        };
        let words = [w as u64, (w >> 64) as u64];
        dut.poke(iw, &Value::from_words(128, &words).unwrap());
        dut.poke_u64(iv, 1);
        dut.tick();
        assert_eq!(dut.peek_u64(ov), 1);
        match Instr::decode(w) {
            Ok(i) => {
                legal += 1;
                assert_eq!(dut.peek_u64(oi), 0, "{w:#034x} ({:?}) is legal", i.op);
                assert_eq!(dut.peek_u64(oo), opcode(&i), "{w:#034x}");
                assert_eq!(dut.peek_u64(oe), engine_code(&i), "{w:#034x}");
            }
            Err(e) => {
                illegal += 1;
                assert_eq!(dut.peek_u64(oi), 1, "{w:#034x} must be illegal: {e}");
            }
        }
    }
    assert!(
        legal > 100_000 && illegal > 50_000,
        "{legal} legal, {illegal} illegal"
    );
}
