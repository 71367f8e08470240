//! Shared builders for the sim tests: the operator-conformance module and its
//! independent reference model (arbitrary-precision integers, no accgen code).

#![allow(dead_code)]

use accgen_hw::rtl::{
    CmpOp, Module, ModuleBuilder, ReduceOp, RtlResult, ShiftAmt, ShiftOp, Sig, Value,
};
use num_bigint::{BigInt, BigUint, Sign};

/// Reference evaluation of one operator.
pub type EvalFn = Box<dyn Fn(&Operands) -> BigInt>;

/// A reference operation: output name, output width and the exact result given
/// (a bits, b bits, shift amount, select) as unsigned patterns of width W.
pub struct RefOp {
    pub name: String,
    pub width: u32,
    pub eval: EvalFn,
}

/// The operand patterns of one vector at one width.
pub struct Operands {
    pub w: u32,
    pub a: BigUint,
    pub b: BigUint,
    pub s: u64,
    pub sel: bool,
}

impl Operands {
    pub fn sa(&self) -> BigInt {
        signed_of(&self.a, self.w)
    }
    pub fn sb(&self) -> BigInt {
        signed_of(&self.b, self.w)
    }
    pub fn ua(&self) -> BigInt {
        BigInt::from(self.a.clone())
    }
    pub fn ub(&self) -> BigInt {
        BigInt::from(self.b.clone())
    }
}

pub fn pow2(k: u32) -> BigInt {
    BigInt::from(1) << k
}

pub fn signed_of(x: &BigUint, w: u32) -> BigInt {
    let v = BigInt::from(x.clone());
    if x.bit((w - 1) as u64) {
        v - pow2(w)
    } else {
        v
    }
}

/// `v mod 2^w` as an unsigned pattern.
pub fn bits_of(v: &BigInt, w: u32) -> BigUint {
    let m = pow2(w);
    let r = ((v % &m) + &m) % &m;
    r.to_biguint().expect("non-negative")
}

/// Floor division by 2^k (arithmetic right shift), written without relying on the
/// shift semantics of the bignum library.
pub fn floor_shr(v: &BigInt, k: u64) -> BigInt {
    if v.sign() != Sign::Minus {
        v >> k
    } else {
        let pos: BigInt = -v - 1;
        -(pos >> k) - 1
    }
}

pub fn value_to_big(v: &Value) -> BigUint {
    let mut bytes = Vec::new();
    for w in v.words() {
        bytes.extend_from_slice(&w.to_le_bytes());
    }
    BigUint::from_bytes_le(&bytes)
}

pub fn big_to_value(x: &BigUint, w: u32) -> Value {
    let d = x.to_u64_digits();
    Value::from_words(w, &d).expect("fits")
}

/// Reference ops per width, in output order.
pub type RefTable = Vec<(u32, Vec<RefOp>)>;

/// Widths the issue requires the operator conformance to cover.
pub const CONFORMANCE_WIDTHS: [u32; 7] = [1, 7, 8, 33, 64, 65, 128];

/// Width of the shift-amount input at operand width `w`: wide enough to shift past w.
pub fn shift_bits(w: u32) -> u32 {
    32 - (2 * w).leading_zeros()
}

fn b(v: bool) -> BigInt {
    BigInt::from(v as u8)
}

/// Build the conformance module for `widths`: per width, inputs `a_wN`, `b_wN`
/// (SInt N), `s_wN` (shift amount), `sel_wN`, and one output per operator. Returns the
/// module and, per width, the reference ops in output order.
pub fn conformance_module(
    name: &str,
    widths: &[u32],
    konst_seed: u64,
) -> (Module, Vec<(u32, Vec<RefOp>)>) {
    let mut m = ModuleBuilder::new(name);
    let mut refs = Vec::new();
    for &w in widths {
        let ops = build_width(&mut m, w, konst_seed).expect("conformance module builds");
        refs.push((w, ops));
    }
    (m.finish().expect("finish"), refs)
}

fn build_width(m: &mut ModuleBuilder, w: u32, seed: u64) -> RtlResult<Vec<RefOp>> {
    let a = m.input(&format!("a_w{w}"), w, true)?;
    let bb = m.input(&format!("b_w{w}"), w, true)?;
    let s = m.input(&format!("s_w{w}"), shift_bits(w), false)?;
    let sel = m.input(&format!("sel_w{w}"), 1, false)?;
    let (ua, ub) = (a.as_unsigned(), bb.as_unsigned());
    let mut outs: Vec<(String, Sig, EvalFn)> = Vec::new();
    macro_rules! op {
        ($name:expr, $sig:expr, $f:expr) => {
            outs.push(($name.to_string(), $sig, Box::new($f)));
        };
    }
    op!("add", m.add(a, bb)?, |o| o.sa() + o.sb());
    op!("sub", m.sub(ua, ub)?, |o| o.ua() - o.ub());
    op!("add_wide_s", m.add_wide(a, bb)?, |o| o.sa() + o.sb());
    op!("add_wide_u", m.add_wide(ua, ub)?, |o| o.ua() + o.ub());
    op!("sub_wide_s", m.sub_wide(a, bb)?, |o| o.sa() - o.sb());
    op!("sub_wide_u", m.sub_wide(ua, ub)?, |o| o.ua() - o.ub());
    op!("mul_ss", m.mul(a, bb)?, |o| o.sa() * o.sb());
    op!("mul_uu", m.mul(ua, ub)?, |o| o.ua() * o.ub());
    op!("mul_su", m.mul(a, ub)?, |o| o.sa() * o.ub());
    op!("and", m.and(ua, ub)?, |o| BigInt::from(&o.a & &o.b));
    op!("or", m.or(ua, ub)?, |o| BigInt::from(&o.a | &o.b));
    op!("xor", m.xor(ua, ub)?, |o| BigInt::from(&o.a ^ &o.b));
    op!("not", m.not(ua)?, |o| pow2(o.w) - 1 - o.ua());
    op!("neg", m.neg(a)?, |o| -o.sa());
    op!("red_and", m.reduce(ReduceOp::And, a)?, |o| b(
        o.ua() == pow2(o.w) - 1
    ));
    op!("red_or", m.reduce(ReduceOp::Or, a)?, |o| b(
        o.ua() != BigInt::from(0)
    ));
    op!("red_xor", m.reduce(ReduceOp::Xor, a)?, |o| b(o
        .a
        .count_ones()
        % 2
        == 1));
    type Ord2 = fn(&BigInt, &BigInt) -> bool;
    let cmps: [(CmpOp, &str, Ord2); 6] = [
        (CmpOp::Eq, "eq", |x, y| x == y),
        (CmpOp::Ne, "ne", |x, y| x != y),
        (CmpOp::Lt, "lt", |x, y| x < y),
        (CmpOp::Le, "le", |x, y| x <= y),
        (CmpOp::Gt, "gt", |x, y| x > y),
        (CmpOp::Ge, "ge", |x, y| x >= y),
    ];
    for (op, n, f) in cmps {
        op!(format!("cmp_{n}_s"), m.cmp(op, a, bb)?, move |o| b(f(
            &o.sa(),
            &o.sb()
        )));
        op!(format!("cmp_{n}_u"), m.cmp(op, ua, ub)?, move |o| b(f(
            &o.ua(),
            &o.ub()
        )));
    }
    let k = (w / 3).max(1);
    op!("shl_k", m.shl(a, k)?, move |o| o.ua() << k);
    op!("shr_k", m.shr(a, k)?, move |o| o.ua() >> k);
    op!("sra_k", m.sra(a, k)?, move |o| floor_shr(&o.sa(), k as u64));
    op!("sra_full", m.sra(a, w - 1)?, move |o| floor_shr(
        &o.sa(),
        (w - 1) as u64
    ));
    let amt = ShiftAmt::Sig(s);
    op!("shl_s", m.shift(ShiftOp::Shl, a, amt)?, |o| o.ua() << o.s);
    op!("shr_s", m.shift(ShiftOp::Shr, a, amt)?, |o| o.ua() >> o.s);
    op!("sra_s", m.shift(ShiftOp::Sra, a, amt)?, |o| floor_shr(
        &o.sa(),
        o.s
    ));
    op!("mux", m.mux(sel, a, bb)?, |o| if o.sel {
        o.sa()
    } else {
        o.sb()
    });
    let c1 = m.bit(a, 0)?;
    let c2 = m.bit(bb, w - 1)?;
    let kv = Value::from_i128_wrapping(w, seed as i128 * 0x9e37_79b9);
    let kbig = signed_of(&value_to_big(&kv), w);
    let kc = m.constant(kv, true);
    let kb = kbig.clone();
    op!(
        "priority",
        m.priority(&[(c1, a), (c2, bb)], kc)?,
        move |o| {
            if o.a.bit(0) {
                o.sa()
            } else if o.b.bit((o.w - 1) as u64) {
                o.sb()
            } else {
                kb.clone()
            }
        }
    );
    let (hi, lo) = (w - 1 - (w / 4), w / 5);
    op!("slice", m.slice(a, hi, lo)?, move |o| o.ua() >> lo);
    op!("concat", m.concat(&[a, bb])?, move |o| (o.ua() << o.w)
        + o.ub());
    op!("sext", m.resize(a, w + 5)?, |o| o.sa());
    op!("zext", m.zext(a, w + 3)?, |o| o.ua());
    if w > 1 {
        op!("trunc", m.resize(a, w / 2)?, |o| o.ua());
    }
    let kb = kbig.clone();
    op!("add_const", m.add(a, kc)?, move |o| o.sa() + kb.clone());
    let mut refs = Vec::new();
    for (name, sig, eval) in outs {
        let port = format!("{name}_w{w}");
        m.output(&port, sig)?;
        refs.push(RefOp {
            name: port,
            width: sig.width(),
            eval,
        });
    }
    Ok(refs)
}

/// A design exercising registers (reset, enable), a RAM, a ROM and two instances of
/// one child, for lint and synthesis checks. Top: `memhier`.
pub fn mem_hier_design() -> accgen_hw::rtl::Design {
    use accgen_hw::rtl::{Design, Library, MemSpec, RegOpts};
    let mut lib = Library::new();
    let child = lib
        .get_or_build("acc_child_w8", |_| {
            let mut m = ModuleBuilder::new("acc_child_w8");
            let x = m.input("x", 8, true)?;
            let en = m.input("en", 1, false)?;
            let acc = m.reg("acc", 8, true, RegOpts::new().reset_zero(8).enable(en))?;
            let s = m.add(acc.q, x)?;
            m.connect(acc, s)?;
            m.output("y", acc.q)?;
            m.finish()
        })
        .unwrap();
    let mut m = ModuleBuilder::new("memhier");
    let we = m.input("we", 1, false).unwrap();
    let addr = m.input("addr", 4, false).unwrap();
    let wd = m.input("wd", 8, true).unwrap();
    let ram = m
        .memory(MemSpec {
            name: "ram".into(),
            depth: 16,
            width: 8,
            signed: true,
            init: None,
            style: None,
        })
        .unwrap();
    m.mem_write(ram, we, addr, wd).unwrap();
    let rd = m.mem_read(ram, addr, None).unwrap();
    let init = (0..16)
        .map(|i| Value::from_i128(8, i * 7 - 50).unwrap())
        .collect();
    let rom = m
        .memory(MemSpec {
            name: "rom".into(),
            depth: 16,
            width: 8,
            signed: true,
            init: Some(init),
            style: None,
        })
        .unwrap();
    let rv = m.mem_read(rom, addr, None).unwrap();
    let u0 = m.instance(&child, "u0", &[("x", rd), ("en", we)]).unwrap();
    let u1 = m.instance(&child, "u1", &[("x", rv), ("en", we)]).unwrap();
    let y0 = u0.out("y").unwrap();
    let y1 = u1.out("y").unwrap();
    let y = m.add_wide(y0, y1).unwrap();
    m.output("y", y).unwrap();
    let mut d = Design::new();
    d.add_top(std::rc::Rc::new(m.finish().unwrap()));
    d
}
