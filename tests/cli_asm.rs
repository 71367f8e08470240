//! `accgen asm` / `accgen disasm` end to end: the example program round-trips through
//! the binary, the binary has the documented layout, and bad programs, binaries and
//! output paths exit 1 with the line, field or path named and nothing written.

mod common;

use common::*;

#[test]
fn example_program_round_trips_and_matches_the_documented_encoding() {
    let t = Tmp::new("asm-ok");
    let bin = t.s("p.bin");
    let o = accgen(&[
        "asm",
        "programs/gemm_tile.s",
        "-o",
        &bin,
        "--config",
        "configs/default.toml",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&bin).unwrap();
    assert_eq!(bytes.len(), 9 * 16);
    // Instruction 1: load dram=0x400 rows=64 bytes=16 stride=16 spad=64, decoded by
    // hand from the documented bit positions.
    let w = u128::from_le_bytes(bytes[16..32].try_into().unwrap());
    assert_eq!(w & 0xff, 0x11, "opcode 1, version 1");
    assert_eq!((w >> 12) & ((1 << 40) - 1), 0x400);
    assert_eq!((w >> 52) & 0xfff, 64);
    assert_eq!((w >> 64) & 0xffff, 16);
    assert_eq!((w >> 80) & 0xff_ffff, 16);
    assert_eq!((w >> 104) & 0xf_ffff, 64);
    // The last word is HALT: opcode 7, version 1, nothing else.
    assert_eq!(
        u128::from_le_bytes(bytes[128..144].try_into().unwrap()),
        0x17
    );
    // disasm -> asm -> the same bytes.
    let s = t.s("p.s");
    let o = accgen(&["disasm", &bin, "-o", &s]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&s).unwrap();
    assert!(text.contains("epilogue acc=0 spad=136 rows=16 params=128 act=gelu push_next"));
    let bin2 = t.s("p2.bin");
    let o = accgen(&["asm", &s, "-o", &bin2]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&bin2).unwrap(), bytes);
    // To stdout as well.
    let o = accgen(&["disasm", &bin]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), text);
}

#[test]
fn bad_programs_binaries_and_paths_exit_1_and_write_nothing() {
    let t = Tmp::new("asm-bad");
    std::fs::write(t.path("ok.s"), "fence\nhalt\n").unwrap();
    std::fs::write(
        t.path("range.s"),
        "load dram=0 rows=1 bytes=1 stride=0 spad=0\n\nload dram=0 rows=9999 bytes=1 stride=0 spad=0\nhalt\n",
    )
    .unwrap();
    std::fs::write(t.path("nohalt.s"), "fence\n").unwrap();
    std::fs::write(
        t.path("big.s"),
        "load dram=0 rows=4095 bytes=64 stride=64 spad=10\nhalt\n",
    )
    .unwrap();
    std::fs::write(
        t.path("nogelu.s"),
        "softmax src=0 dst=0 rows=1 len=300\nhalt\n",
    )
    .unwrap();
    std::fs::write(t.path("odd.bin"), [0x17u8; 17]).unwrap();
    let mut bad_word = vec![0u8; 32];
    bad_word[16] = 0x17;
    bad_word[0] = 0x1c; // opcode 12
    std::fs::write(t.path("opcode.bin"), &bad_word).unwrap();
    std::fs::write(t.path("binary.s"), [0xffu8, 0xfe, 0x00]).unwrap();
    std::fs::write(t.path("exists.bin"), b"user data").unwrap();
    let out = t.s("out.bin");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["asm".into(), t.s("range.s"), "-o".into(), out.clone()],
            "line 3: field `rows` = 9999 is outside the allowed range 1..=4095",
        ),
        (
            vec!["asm".into(), t.s("nohalt.s"), "-o".into(), out.clone()],
            "line 1: the last instruction is `fence`; a program must end with `halt`",
        ),
        (
            vec![
                "asm".into(),
                t.s("big.s"),
                "-o".into(),
                out.clone(),
                "--config".into(),
                "configs/default.toml".into(),
            ],
            "instruction 0 (byte offset 0): `load` uses scratchpad rows 10..16390, beyond the 16384 rows of 16 bytes",
        ),
        (
            vec![
                "asm".into(),
                t.s("nogelu.s"),
                "-o".into(),
                out.clone(),
                "--config".into(),
                "configs/default.toml".into(),
            ],
            "`len` = 300 is outside the allowed range 1..=256 (softmax.max_len)",
        ),
        (
            vec![
                "asm".into(),
                t.s("ok.s"),
                "-o".into(),
                out.clone(),
                "--config".into(),
                "configs/nonlinear.toml".into(),
            ],
            "needs an [accel] section",
        ),
        (
            vec!["asm".into(), t.s("missing.s"), "-o".into(), out.clone()],
            "missing.s",
        ),
        (
            vec!["asm".into(), t.s("binary.s"), "-o".into(), out.clone()],
            "is not UTF-8 text",
        ),
        (
            vec!["asm".into(), t.s("ok.s"), "-o".into(), t.s("exists.bin")],
            "the file exists; accgen does not overwrite files it did not create",
        ),
        (
            vec!["asm".into(), t.s("ok.s"), "-o".into(), t.s("nodir/out.bin")],
            "does not exist",
        ),
        (
            vec!["disasm".into(), t.s("odd.bin")],
            "17 bytes, not a multiple of the 16-byte instruction word",
        ),
        (
            vec!["disasm".into(), t.s("opcode.bin")],
            "instruction 0 (byte offset 0): opcode 12 is not defined",
        ),
        (
            vec!["disasm".into(), t.s("ok.s"), "-o".into(), t.s("exists.bin")],
            "the file exists",
        ),
    ];
    for (args, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = accgen(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = stderr(&o);
        assert!(
            e.contains(needle),
            "{args:?}: stderr lacks {needle:?}:\n{e}"
        );
        assert!(!t.path("out.bin").exists(), "{args:?} wrote out.bin");
    }
    assert_eq!(std::fs::read(t.path("exists.bin")).unwrap(), b"user data");
}
