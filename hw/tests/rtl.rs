//! RTL builder unit tests: width inference, emitted Verilog of every operator
//! (insta snapshots), and build-time errors with their exact messages.

use accgen_hw::rtl::emit::module_verilog;
use accgen_hw::rtl::{
    CmpOp, Design, Library, MemSpec, ModuleBuilder, ReduceOp, RegOpts, RtlResult, ShiftAmt,
    ShiftOp, Sig, Value,
};

/// Build a module with inputs `a`,`b` (8-bit signed), `u`,`v` (8-bit unsigned) and
/// `s` (3-bit shift amount), whose single output `y` is what `f` returns.
fn op_module(name: &str, f: impl FnOnce(&mut ModuleBuilder, [Sig; 5]) -> RtlResult<Sig>) -> String {
    let mut m = ModuleBuilder::new(name);
    let a = m.input("a", 8, true).unwrap();
    let b = m.input("b", 8, true).unwrap();
    let u = m.input("u", 8, false).unwrap();
    let v = m.input("v", 8, false).unwrap();
    let s = m.input("s", 3, false).unwrap();
    let y = f(&mut m, [a, b, u, v, s]).unwrap();
    m.output("y", y).unwrap();
    module_verilog(&m.finish().unwrap())
}

macro_rules! op_snapshot {
    ($test:ident, $f:expr) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!(op_module(stringify!($test), $f));
        }
    };
}

op_snapshot!(op_add, |m, [a, b, ..]| m.add(a, b));
op_snapshot!(op_sub, |m, [a, b, ..]| m.sub(a, b));
op_snapshot!(op_add_wide_signed, |m, [a, b, ..]| m.add_wide(a, b));
op_snapshot!(op_add_wide_unsigned, |m, [_, _, u, v, _]| m.add_wide(u, v));
op_snapshot!(op_sub_wide_unsigned, |m, [_, _, u, v, _]| m.sub_wide(u, v));
op_snapshot!(op_mul_signed, |m, [a, b, ..]| m.mul(a, b));
op_snapshot!(op_mul_unsigned, |m, [_, _, u, v, _]| m.mul(u, v));
op_snapshot!(op_mul_mixed, |m, [a, _, u, ..]| m.mul(a, u));
op_snapshot!(op_and, |m, [_, _, u, v, _]| m.and(u, v));
op_snapshot!(op_or, |m, [_, _, u, v, _]| m.or(u, v));
op_snapshot!(op_xor, |m, [_, _, u, v, _]| m.xor(u, v));
op_snapshot!(op_not, |m, [_, _, u, ..]| m.not(u));
op_snapshot!(op_neg, |m, [a, ..]| m.neg(a));
op_snapshot!(op_reduce, |m, [_, _, u, v, s]| {
    let x = m.reduce(ReduceOp::And, u)?;
    let y = m.reduce(ReduceOp::Or, v)?;
    let z = m.reduce(ReduceOp::Xor, s)?;
    m.concat(&[x, y, z])
});
op_snapshot!(op_cmp_signed, |m, [a, b, ..]| {
    let ops = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];
    let bits: Vec<Sig> = ops
        .iter()
        .map(|&op| m.cmp(op, a, b))
        .collect::<RtlResult<_>>()?;
    m.concat(&bits)
});
op_snapshot!(op_cmp_unsigned, |m, [_, _, u, v, _]| {
    let lt = m.lt(u, v)?;
    let ge = m.cmp(CmpOp::Ge, u, v)?;
    m.concat(&[lt, ge])
});
op_snapshot!(op_shift_const, |m, [a, ..]| {
    let l = m.shl(a, 3)?;
    let r = m.shr(a, 2)?;
    let s = m.sra(a, 5)?;
    let big = m.sra(a, 20)?;
    let lx = m.xor(l, r)?;
    let sx = m.xor(s, big)?;
    m.xor(lx, sx)
});
op_snapshot!(op_shift_signal, |m, [a, _, _, _, s]| {
    let l = m.shift(ShiftOp::Shl, a, ShiftAmt::Sig(s))?;
    let r = m.shift(ShiftOp::Shr, a, ShiftAmt::Sig(s))?;
    let q = m.shift(ShiftOp::Sra, a, ShiftAmt::Sig(s))?;
    let x = m.xor(l, r)?;
    m.xor(x, q)
});
op_snapshot!(op_mux_priority, |m, [a, b, u, v, _]| {
    let c1 = m.bit(u, 0)?;
    let c2 = m.bit(v, 7)?;
    let k = m.const_s(8, -5)?;
    m.priority(&[(c1, a), (c2, b)], k)
});
op_snapshot!(op_slice_concat, |m, [a, _, u, ..]| {
    let hi = m.slice(a, 7, 4)?;
    let lo = m.slice(u, 3, 0)?;
    m.concat(&[lo, hi])
});
op_snapshot!(op_resize, |m, [a, _, u, ..]| {
    let sx = m.resize(a, 12)?;
    let zx = m.resize(u, 12)?;
    let tr = m.resize(a, 5)?;
    let tr = m.sext(tr, 12)?;
    let x = m.xor(sx.as_unsigned(), zx)?;
    m.xor(x, tr.as_unsigned())
});
op_snapshot!(op_wide_constant, |m, [_, _, u, ..]| {
    let k = m.constant(Value::from_i128_wrapping(100, -3), false);
    let x = m.resize(u, 100)?;
    m.add(x, k)
});

#[test]
fn registers_reset_enable_and_delay() {
    let mut m = ModuleBuilder::new("regs");
    let x = m.input("x", 4, false).unwrap();
    let en = m.input("en", 1, false).unwrap();
    let plain = m.reg_next("plain", x, RegOpts::new()).unwrap();
    let rst = m
        .reg_next(
            "with_rst",
            x,
            RegOpts::new().reset_to(Value::from_u128(4, 9).unwrap()),
        )
        .unwrap();
    let both = m
        .reg_next("with_both", x, RegOpts::new().reset_zero(4).enable(en))
        .unwrap();
    let only_en = m.reg_next("with_en", x, RegOpts::new().enable(en)).unwrap();
    let d = m.delay(x, 2, "x").unwrap();
    let a = m.xor(plain, rst).unwrap();
    let b = m.xor(both, only_en).unwrap();
    let c = m.xor(a, b).unwrap();
    let y = m.xor(c, d).unwrap();
    m.output("y", y).unwrap();
    let module = m.finish().unwrap();
    assert!(module.has_clock() && module.has_reset());
    insta::assert_snapshot!(module_verilog(&module));
}

#[test]
fn no_reset_port_without_reset_registers() {
    let mut m = ModuleBuilder::new("noreset");
    let x = m.input("x", 4, false).unwrap();
    let q = m.delay(x, 1, "x").unwrap();
    m.output("y", q).unwrap();
    let module = m.finish().unwrap();
    assert!(module.has_clock() && !module.has_reset());
    let text = module_verilog(&module);
    assert!(text.contains("input  wire clk"));
    assert!(!text.contains("rst"));
}

#[test]
fn memories_ram_and_rom() {
    let mut m = ModuleBuilder::new("mems");
    let we = m.input("we", 1, false).unwrap();
    let wa = m.input("wa", 3, false).unwrap();
    let wd = m.input("wd", 8, true).unwrap();
    let ra = m.input("ra", 3, false).unwrap();
    let ram = m
        .memory(MemSpec {
            name: "ram".into(),
            depth: 8,
            width: 8,
            signed: true,
            init: None,
            style: None,
        })
        .unwrap();
    m.mem_write(ram, we, wa, wd).unwrap();
    let rd = m.mem_read(ram, ra, None).unwrap();
    let init = (0..5)
        .map(|i| Value::from_u128(6, i * 3).unwrap())
        .collect();
    let rom = m
        .memory(MemSpec {
            name: "rom".into(),
            depth: 5,
            width: 6,
            signed: false,
            init: Some(init),
            style: None,
        })
        .unwrap();
    assert_eq!(rom.addr_bits(), 3);
    let rv = m.mem_read(rom, ra, Some(we)).unwrap();
    m.output("rd", rd).unwrap();
    m.output("rv", rv).unwrap();
    insta::assert_snapshot!(module_verilog(&m.finish().unwrap()));
}

#[test]
fn hierarchy_dedups_by_name_and_connects_clock() {
    let mut lib = Library::new();
    let leaf = |lib: &mut Library| {
        lib.get_or_build("leaf_w4", |_| {
            let mut m = ModuleBuilder::new("leaf_w4");
            let x = m.input("x", 4, false)?;
            let q = m.reg_next("q", x, RegOpts::new().reset_zero(4))?;
            m.output("y", q)?;
            m.finish()
        })
    };
    let l1 = leaf(&mut lib).unwrap();
    let l2 = leaf(&mut lib).unwrap();
    assert!(
        std::rc::Rc::ptr_eq(&l1, &l2),
        "second request must reuse the module"
    );
    let mut m = ModuleBuilder::new("parent");
    let x = m.input("x", 4, false).unwrap();
    let i1 = m.instance(&l1, "u0", &[("x", x)]).unwrap();
    let y0 = i1.out("y").unwrap();
    let i2 = m.instance(&l2, "u1", &[("x", y0)]).unwrap();
    m.output("y", i2.out("y").unwrap()).unwrap();
    let parent = std::rc::Rc::new(m.finish().unwrap());
    assert!(
        parent.has_clock() && parent.has_reset(),
        "clk/rst propagate from children"
    );
    let mut d = Design::new();
    d.add_top(parent);
    let files = d.files().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
    assert_eq!(names, ["leaf_w4.v", "parent.v"], "leaf emitted once");
    insta::assert_snapshot!(files[1].text.clone());
}

#[test]
fn width_inference() {
    let mut m = ModuleBuilder::new("w");
    let a = m.input("a", 7, true).unwrap();
    let b = m.input("b", 33, true).unwrap();
    let u = m.input("u", 65, false).unwrap();
    assert_eq!(m.mul(a, b).unwrap().width(), 40);
    assert!(m.mul(a, u).unwrap().signed(), "mixed product is signed");
    assert_eq!(m.mul(a, u).unwrap().width(), 72);
    assert_eq!(m.add_wide(a, b).unwrap().width(), 34);
    let d = m.sub_wide(u, u).unwrap();
    assert_eq!((d.width(), d.signed()), (66, true));
    let c = m.concat(&[a, b, u]).unwrap();
    assert_eq!((c.width(), c.signed()), (105, false));
    assert_eq!(m.slice(u, 64, 60).unwrap().width(), 5);
    assert_eq!(m.lt(a, a).unwrap().width(), 1);
    let r = m.resize(a, 100).unwrap();
    assert_eq!((r.width(), r.signed()), (100, true));
    assert_eq!(m.shl(b, 40).unwrap().width(), 33);
    let k = m.const_s(1024, -1).unwrap();
    assert_eq!(k.width(), 1024);
}

fn err(f: impl FnOnce(&mut ModuleBuilder) -> RtlResult<Sig>) -> String {
    let mut m = ModuleBuilder::new("bad");
    match f(&mut m) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn build_errors_name_module_and_signals() {
    assert_eq!(
        err(|m| {
            let a = m.input("a", 8, true)?;
            let b = m.input("b", 7, true)?;
            m.add(a, b)
        }),
        "module `bad`: add: width or signedness mismatch: `a` (8 bits SInt) vs `b` (7 bits SInt)"
    );
    assert_eq!(
        err(|m| {
            let a = m.input("a", 8, true)?;
            let b = m.input("b", 8, false)?;
            m.add_wide(a, b)
        }),
        "module `bad`: add_wide: signedness mismatch: `a` (8 bits SInt) vs `b` (8 bits UInt) (convert one operand explicitly)"
    );
    assert_eq!(
        err(|m| {
            let a = m.input("a", 8, true)?;
            let s = m.input("s", 3, true)?;
            m.shift(ShiftOp::Shl, a, ShiftAmt::Sig(s))
        }),
        "module `bad`: shift Shl: shift amount `s` (3 bits SInt) must be UInt"
    );
    assert_eq!(
        err(|m| {
            let a = m.input("a", 8, true)?;
            m.slice(a, 8, 0)
        }),
        "module `bad`: slice [8:0] of `a` (8 bits SInt) is outside 0..=7 or reversed"
    );
    assert_eq!(
        err(|m| {
            let a = m.input("a", 8, true)?;
            let b = m.input("b", 8, true)?;
            m.mux(a, a, b)
        }),
        "module `bad`: mux: select `a` (8 bits SInt) must be 1 bit"
    );
    assert_eq!(
        err(|m| m.const_u(4, 16)),
        "module `bad`: constant: 16 does not fit in 4 unsigned bits (allowed 0..=15)"
    );
    assert_eq!(
        err(|m| m.input("new", 8, false)),
        "module `bad`: port name `new` is a Verilog or C++ keyword, a word Verilator reserves, or contains `__`; Verilator cannot simulate it"
    );
    // Words Verilator 5.006 flags as SYMRSVDWORD and renames.
    for word in ["interrupt", "abort", "list", "map", "vector"] {
        assert!(
            err(|m| m.input(word, 1, false)).contains("a word Verilator reserves"),
            "{word}"
        );
    }
    assert_eq!(
        err(|m| m.input("wide", 8193, false)),
        "module `bad`: input `wide`: width 8193 is outside the allowed range 1..=8192"
    );
    assert_eq!(
        err(|m| {
            let a = m.input("a", 4100, false)?;
            m.mul(a, a)
        }),
        "module `bad`: mul result: width 8200 is outside the allowed range 1..=8192"
    );
    assert_eq!(
        err(|m| {
            let mut other = ModuleBuilder::new("other");
            let x = other.input("x", 8, false)?;
            m.not(x)
        }),
        format!("module `bad`: not: signal #0 belongs to a different module builder")
    );
    let mut m = ModuleBuilder::new("bad");
    let x = m.input("x", 8, false).unwrap();
    let r = m.reg("state", 8, false, RegOpts::new()).unwrap();
    m.output("y", r.q).unwrap();
    let _ = x;
    assert_eq!(
        m.finish().unwrap_err().to_string(),
        "module `bad`: register `state` (8 bits UInt) is never connected"
    );
}

#[test]
fn instance_port_map_is_type_checked() {
    let mut c = ModuleBuilder::new("child");
    let x = c.input("x", 4, true).unwrap();
    c.output("y", x).unwrap();
    let child = std::rc::Rc::new(c.finish().unwrap());
    let mut m = ModuleBuilder::new("top");
    let z = m.input("z", 4, false).unwrap();
    assert_eq!(
        m.instance(&child, "u0", &[("x", z)]).unwrap_err().to_string(),
        "module `top`: instance `u0` of `child`: input `x` is 4 bits SInt but `z` (4 bits UInt) is connected"
    );
    assert_eq!(
        m.instance(&child, "u0", &[]).unwrap_err().to_string(),
        "module `top`: instance `u0` of `child`: input `x` is not connected"
    );
    assert_eq!(
        m.instance(&child, "u0", &[("x", z.as_signed()), ("q", z)])
            .unwrap_err()
            .to_string(),
        "module `top`: instance `u0` of `child`: no input port `q`"
    );
}

#[test]
fn emission_is_deterministic_and_names_are_unique() {
    let build = || {
        let mut m = ModuleBuilder::new("names");
        let a = m.input("a", 8, false).unwrap();
        let x = m.not(a).unwrap();
        let x = m.name_sig(x, "t").unwrap();
        let y = m.not(x).unwrap();
        let y = m.name_sig(y, "t").unwrap();
        let z = m.not(y).unwrap();
        let z = m.name_sig(z, "wire").unwrap();
        m.output("y", z).unwrap();
        module_verilog(&m.finish().unwrap())
    };
    let a = build();
    assert_eq!(a, build());
    assert!(a.contains("assign t = ~a;"), "{a}");
    assert!(a.contains("assign t_1 = ~t;"), "{a}");
    assert!(a.contains("assign wire_1 = ~t_1;"), "keyword avoided: {a}");
}

#[test]
fn unused_bits_get_a_per_net_waiver() {
    let mut m = ModuleBuilder::new("waiver");
    let a = m.input("a", 8, true).unwrap();
    let unused = m.input("unused", 3, false).unwrap();
    let _ = unused;
    let p = m.mul(a, a).unwrap();
    let hi = m.slice(p, 15, 8).unwrap();
    m.output("y", hi).unwrap();
    let text = module_verilog(&m.finish().unwrap());
    assert!(
        text.contains("  /* verilator lint_off UNUSEDSIGNAL */\n  input  wire [2:0] unused,\n"),
        "{text}"
    );
    let waivers = text.matches("lint_off").count();
    assert_eq!(
        waivers, 2,
        "input `unused` and the partly used product only:\n{text}"
    );
}
