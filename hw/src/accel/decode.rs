//! The instruction decoder: classifies a 128-bit instruction word the way
//! `accgen_golden::isa::Instr::decode` does, generated from the same field tables
//! (`accgen_golden::isa::fields_of`), so the two cannot drift.
//!
//! A word is legal when its opcode is 1..=`isa::MAX_OPCODE`, its version is
//! [`accgen_golden::isa::VERSION`], no reserved bit is set, every count field is at
//! least its minimum, `act` and the NOP engine are not 3, and its dependency flags
//! suit its engine (none for `fence` and `halt`; no `*_prev` on the load engine, no
//! `*_next` on the store engine).
//!
//! Ports: `in_word` (128), `in_valid`; one cycle later, all registered: `out_word`,
//! `out_valid`, `out_illegal`, `out_opcode` (4), `out_engine` (2: 0 load, 1 compute,
//! 2 store, 3 the dispatcher's own `fence`/`halt`). No backpressure: the fetch unit
//! sends a word only when the stage after the decoder has room.

use std::rc::Rc;

use accgen_golden::isa::{self, Field};

use crate::rtl::{CmpOp, Library, Module, ModuleBuilder, RegOpts, RtlResult, Sig};

/// Module name.
pub const DECODE_NAME: &str = "accgen_accel_decode";

fn field(m: &mut ModuleBuilder, w: Sig, f: &Field) -> RtlResult<Sig> {
    m.slice(w, f.lo + f.bits - 1, f.lo)
}

/// The decoder's logic on word `w` (combinational): whether it is illegal, its
/// opcode, and its engine (0 load, 1 compute, 2 store, 3 dispatcher).
pub struct Decoded {
    /// 1 when golden would reject the word.
    pub illegal: Sig,
    /// Bits 3:0.
    pub opcode: Sig,
    /// 2 bits.
    pub engine: Sig,
}

/// Build the decoder's combinational logic for `w` (128 bits) in `m`.
pub fn decode_logic(m: &mut ModuleBuilder, w: Sig) -> RtlResult<Decoded> {
    let opcode = field(m, w, &isa::OPCODE)?;
    let version = field(m, w, &isa::VERSION_FIELD)?;
    let ver = m.const_u(4, isa::VERSION as u128)?;
    let ver_ok = m.eq(version, ver)?;
    let dep: Vec<Sig> = isa::DEP_BITS
        .iter()
        .map(|&b| m.bit(w, b))
        .collect::<RtlResult<_>>()?;
    let (pop_prev, pop_next, push_prev, push_next) = (dep[0], dep[1], dep[2], dep[3]);
    let any_prev = m.or(pop_prev, push_prev)?;
    let any_next = m.or(pop_next, push_next)?;
    let any_dep = m.or(any_prev, any_next)?;
    let zero128 = m.const_u(128, 0)?;
    let mut legal_terms = Vec::new();
    let mut engine_terms: Vec<(Sig, Sig)> = Vec::new();
    for op in 1..=isa::MAX_OPCODE {
        let k = m.const_u(4, op as u128)?;
        let is_op = m.eq(opcode, k)?;
        let used = isa::used_mask(op).expect("defined opcode");
        let reserved = m.const_u(128, !used)?;
        let rbits = m.and(w, reserved)?;
        let mut ok = m.eq(rbits, zero128)?;
        for f in isa::fields_of(op).expect("defined opcode") {
            if f.min > 0 {
                let v = field(m, w, &f)?;
                let min = m.const_u(f.bits, f.min as u128)?;
                let ge = m.cmp(CmpOp::Ge, v, min)?;
                ok = m.and(ok, ge)?;
            }
        }
        // Engine, and the encodings that are not defined.
        let engine = match op {
            1 => m.const_u(2, 0)?,
            2 => m.const_u(2, 2)?,
            3..=5 | 9 | 10 => m.const_u(2, 1)?,
            6 | 7 => m.const_u(2, 3)?,
            _ => field(m, w, &isa::NOP_ENGINE)?,
        };
        if op == 4 || op == 8 {
            let f = if op == 4 { isa::ACT } else { isa::NOP_ENGINE };
            let v = field(m, w, &f)?;
            let three = m.const_u(2, 3)?;
            let ne = m.cmp(CmpOp::Ne, v, three)?;
            ok = m.and(ok, ne)?;
        }
        let t = m.and(is_op, ok)?;
        legal_terms.push(t);
        engine_terms.push((is_op, engine));
    }
    let mut op_legal = legal_terms[0];
    for t in &legal_terms[1..] {
        op_legal = m.or(op_legal, *t)?;
    }
    let three = m.const_u(2, 3)?;
    let engine = m.priority(&engine_terms, three)?;
    // Dependency flags against the engine.
    let e_load = {
        let z = m.const_u(2, 0)?;
        m.eq(engine, z)?
    };
    let e_store = {
        let z = m.const_u(2, 2)?;
        m.eq(engine, z)?
    };
    let e_disp = m.eq(engine, three)?;
    let bad1 = m.and(e_load, any_prev)?;
    let bad2 = m.and(e_store, any_next)?;
    let bad3 = m.and(e_disp, any_dep)?;
    let b12 = m.or(bad1, bad2)?;
    let bad = m.or(b12, bad3)?;
    let nbad = m.not(bad)?;
    let l1 = m.and(op_legal, ver_ok)?;
    let legal = m.and(l1, nbad)?;
    let illegal = m.not(legal)?;

    Ok(Decoded {
        illegal,
        opcode,
        engine,
    })
}

/// Build (or fetch) the decoder.
pub fn decode(lib: &mut Library) -> RtlResult<Rc<Module>> {
    lib.get_or_build(DECODE_NAME, |_| {
        let mut m = ModuleBuilder::new(DECODE_NAME);
        m.doc("Instruction decoder: legality, opcode and engine of a 128-bit word.");
        let w = m.input("in_word", 128, false)?;
        let valid = m.input("in_valid", 1, false)?;
        let d = decode_logic(&mut m, w)?;
        let (illegal, opcode, engine) = (d.illegal, d.opcode, d.engine);
        let out_valid = m.reg_next("valid_q", valid, RegOpts::new().reset_zero(1))?;
        let out_word = m.reg_next("word_q", w, RegOpts::new())?;
        let out_illegal = m.reg_next("illegal_q", illegal, RegOpts::new())?;
        let out_opcode = m.reg_next("opcode_q", opcode, RegOpts::new())?;
        let out_engine = m.reg_next("engine_q", engine, RegOpts::new())?;
        m.output("out_word", out_word)?;
        m.output("out_valid", out_valid)?;
        m.output("out_illegal", out_illegal)?;
        m.output("out_opcode", out_opcode)?;
        m.output("out_engine", out_engine)?;
        m.finish()
    })
}
