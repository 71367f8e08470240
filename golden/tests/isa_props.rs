//! Property tests of the ISA: every valid instruction survives encode/decode and
//! disassemble/assemble unchanged; every 128-bit word either decodes to an
//! instruction that re-encodes to exactly that word, or is rejected with a message
//! (never a panic); every single-bit corruption of a valid word is either rejected or
//! decodes to a different instruction.

use accgen_golden::asm::{assemble, disassemble, format_instr};
use accgen_golden::isa::{
    Act, Add, Deps, Dma, Engine, Epilogue, Gemm, Instr, Layernorm, Op, Program, Softmax, StoreSrc,
};
use proptest::prelude::*;

fn engine() -> impl Strategy<Value = Engine> {
    prop_oneof![
        Just(Engine::Load),
        Just(Engine::Compute),
        Just(Engine::Store)
    ]
}

fn dma() -> impl Strategy<Value = Dma> {
    (
        0u64..(1 << 40),
        1u32..4096,
        1u32..65536,
        0u32..(1 << 24),
        0u32..(1 << 20),
    )
        .prop_map(|(dram, rows, bytes, stride, row)| Dma {
            dram,
            rows,
            bytes,
            stride,
            row,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        dma().prop_map(Op::Load),
        (dma(), any::<bool>())
            .prop_map(|(d, acc)| Op::Store(d, if acc { StoreSrc::Acc } else { StoreSrc::Spad })),
        (
            0u32..(1 << 20),
            0u32..(1 << 20),
            0u32..(1 << 16),
            1u32..65536,
            1u32..256,
            any::<bool>()
        )
            .prop_map(|(a, b, acc, k, m, accumulate)| Op::Gemm(Gemm {
                a,
                b,
                acc,
                k,
                m,
                accumulate
            })),
        (
            0u32..(1 << 16),
            0u32..(1 << 20),
            1u32..65536,
            0u32..(1 << 20),
            0u8..3,
            any::<bool>()
        )
            .prop_map(
                |(acc, spad, rows, params, a, trans)| Op::Epilogue(Epilogue {
                    acc,
                    spad,
                    rows,
                    params,
                    act: [Act::None, Act::Relu, Act::Gelu][a as usize],
                    trans,
                })
            ),
        (0u32..(1 << 20), 0u32..(1 << 20), 1u32..65536, 1u32..65536).prop_map(
            |(src, dst, rows, len)| Op::Softmax(Softmax {
                src,
                dst,
                rows,
                len
            })
        ),
        (
            0u32..(1 << 20),
            0u32..(1 << 20),
            1u32..65536,
            1u32..65536,
            0u32..(1 << 20)
        )
            .prop_map(|(src, dst, rows, len, params)| Op::Layernorm(Layernorm {
                src,
                dst,
                rows,
                len,
                params
            })),
        (
            0u32..(1 << 20),
            0u32..(1 << 20),
            0u32..(1 << 20),
            1u32..65536,
            1u32..65536
        )
            .prop_map(|(a, b, dst, rows, len)| Op::Add(Add {
                a,
                b,
                dst,
                rows,
                len
            })),
        Just(Op::Fence),
        Just(Op::Halt),
        engine().prop_map(Op::Nop),
    ]
}

/// A valid instruction: dependency flags restricted to what its engine allows.
fn instr() -> impl Strategy<Value = Instr> {
    (op(), any::<[bool; 4]>()).prop_map(|(op, f)| {
        let (prev, next) = match op.engine() {
            None => (false, false),
            Some(e) => (e.has_prev(), e.has_next()),
        };
        Instr {
            deps: Deps {
                pop_prev: f[0] && prev,
                pop_next: f[1] && next,
                push_prev: f[2] && prev,
                push_next: f[3] && next,
            },
            op,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn encode_decode_round_trip(i in instr()) {
        prop_assert!(i.validate().is_ok());
        let w = i.encode();
        prop_assert_eq!(Instr::decode(w), Ok(i));
    }

    #[test]
    fn text_round_trip(is in prop::collection::vec(instr(), 0..40)) {
        let mut instrs: Vec<Instr> = is.into_iter().filter(|i| i.op != Op::Halt).collect();
        instrs.push(Instr::new(Op::Halt));
        let p = Program { instrs };
        let text = disassemble(&p);
        let q = assemble(&text).unwrap();
        prop_assert_eq!(&q, &p);
        prop_assert_eq!(disassemble(&q), text);
        prop_assert_eq!(Program::from_bytes(&p.to_bytes()).unwrap(), p);
    }

    #[test]
    fn any_word_decodes_exactly_or_is_rejected(w in any::<u128>(), op in 0u128..16, v in 0u128..3) {
        // Bias towards real opcodes and version 1 so that decoding goes deep.
        let w = (w & !0xff) | op | ((v & 1) << 4);
        match Instr::decode(w) {
            Ok(i) => {
                prop_assert_eq!(i.encode(), w);
                prop_assert!(!format_instr(&i).is_empty());
            }
            Err(m) => prop_assert!(!m.is_empty()),
        }
    }

    #[test]
    fn single_bit_flips_never_alias(i in instr(), bit in 0u32..128) {
        let w = i.encode() ^ (1u128 << bit);
        if let Ok(j) = Instr::decode(w) {
            prop_assert_ne!(j, i);
        }
    }

    #[test]
    fn random_text_never_panics(s in "[a-z_.=0-9x #;\\n]{0,200}") {
        let _ = assemble(&s);
    }
}
