//! Text assembly of the accelerator ISA ([`crate::isa`]).
//!
//! One instruction per line: a mnemonic, then `key=value` fields in any order, then
//! dependency flags. `#` or `;` starts a comment; blank lines are ignored. Numbers
//! are decimal or `0x` hexadecimal, and may use `_` as a separator.
//!
//! ```text
//! load     dram=0x1000 rows=16 bytes=64 stride=512 spad=0 push_next
//! gemm     a=0 b=64 acc=0 k=64 m=16 pop_prev push_prev push_next
//! epilogue acc=0 spad=128 rows=16 params=200 act=gelu
//! store    dram=0x8000 rows=16 bytes=16 stride=256 spad=128 pop_prev
//! softmax  src=0 dst=64 rows=4 len=100
//! layernorm src=0 dst=64 rows=4 len=192 params=300
//! add      a=0 b=64 dst=128 rows=4 len=192
//! nop.compute pop_prev
//! fence
//! halt
//! ```
//!
//! `store` names its source with `spad=ROW` or `acc=ROW`; `gemm` takes the flag
//! `accumulate`; `epilogue` takes `act=none|relu|gelu` (default `none`) and the flag
//! `trans`. Every other field is required. The disassembler prints the canonical form: fields in the
//! order above, `dram` in hexadecimal, flags last, so `disassemble(assemble(text))`
//! is canonical and `assemble(disassemble(program))` is the same program.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::isa::{
    Act, Add, Deps, Dma, Engine, Epilogue, Field, Gemm, Instr, IsaError, Layernorm, Op, Program,
    Softmax, StoreSrc, ADD_FIELDS, DMA_FIELDS, EPILOGUE_FIELDS, GEMM_FIELDS, LAYERNORM_FIELDS,
    SOFTMAX_FIELDS,
};

/// An assembly error: line number (1-based) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsmError {
    /// 1-based line (0 for whole-program problems).
    pub line: usize,
    /// What is wrong, naming the field and the allowed range.
    pub message: String,
}

impl std::fmt::Display for AsmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for AsmError {}

const MNEMONICS: &str =
    "load, store, gemm, epilogue, softmax, layernorm, add, fence, halt, nop.load, nop.compute, nop.store";

fn parse_number(text: &str) -> Option<u64> {
    let t = text.replace('_', "");
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) if !h.is_empty() => u64::from_str_radix(h, 16).ok(),
        Some(_) => None,
        None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok(),
        None => None,
    }
}

/// The parsed operands of one line.
struct Operands<'a> {
    mnemonic: &'a str,
    values: BTreeMap<&'a str, &'a str>,
    flags: Vec<&'a str>,
}

impl<'a> Operands<'a> {
    fn parse(tokens: &[&'a str]) -> Result<Operands<'a>, String> {
        let mut values = BTreeMap::new();
        let mut flags = Vec::new();
        for t in &tokens[1..] {
            match t.split_once('=') {
                Some((k, v)) => {
                    if k.is_empty() || v.is_empty() {
                        return Err(format!("`{t}` is not a `key=value` field"));
                    }
                    if values.insert(k, v).is_some() {
                        return Err(format!("field `{k}` is given twice"));
                    }
                }
                None => {
                    if flags.contains(t) {
                        return Err(format!("flag `{t}` is given twice"));
                    }
                    flags.push(*t);
                }
            }
        }
        Ok(Operands {
            mnemonic: tokens[0],
            values,
            flags,
        })
    }

    /// Take a numeric field, checking its range.
    fn num(&mut self, f: &Field) -> Result<u64, String> {
        self.num_named(f, f.name)
    }

    fn num_named(&mut self, f: &Field, name: &str) -> Result<u64, String> {
        let text = self.values.remove(name).ok_or_else(|| {
            format!(
                "`{}` needs the field `{name}` ({}..={})",
                self.mnemonic,
                f.min,
                f.max()
            )
        })?;
        let v = parse_number(text).ok_or_else(|| {
            format!(
                "field `{name}` = `{text}` is not a number; expected {}..={} (decimal or 0x hex)",
                f.min,
                f.max()
            )
        })?;
        let renamed = Field { name: "", ..*f };
        renamed.check(v).map_err(|_| {
            format!(
                "field `{name}` = {v} is outside the allowed range {}..={}",
                f.min,
                f.max()
            )
        })?;
        Ok(v)
    }

    fn flag(&mut self, name: &str) -> bool {
        match self.flags.iter().position(|f| *f == name) {
            Some(i) => {
                self.flags.remove(i);
                true
            }
            None => false,
        }
    }

    fn deps(&mut self) -> Deps {
        Deps {
            pop_prev: self.flag("pop_prev"),
            pop_next: self.flag("pop_next"),
            push_prev: self.flag("push_prev"),
            push_next: self.flag("push_next"),
        }
    }

    /// Fail on anything not consumed.
    fn finish(&self, allowed: &str) -> Result<(), String> {
        if let Some(k) = self.values.keys().next() {
            return Err(format!(
                "`{}` has no field `{k}` (its fields: {allowed})",
                self.mnemonic
            ));
        }
        if let Some(f) = self.flags.first() {
            return Err(format!(
                "`{}` has no flag `{f}` (flags: pop_prev, pop_next, push_prev, push_next{})",
                self.mnemonic,
                match self.mnemonic {
                    "gemm" => ", accumulate",
                    "epilogue" => ", trans",
                    _ => "",
                }
            ));
        }
        Ok(())
    }
}

fn field_list(fields: &[Field]) -> String {
    fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

fn parse_dma(o: &mut Operands, row_name: &str) -> Result<Dma, String> {
    Ok(Dma {
        dram: o.num(&DMA_FIELDS[0])?,
        rows: o.num(&DMA_FIELDS[1])? as u32,
        bytes: o.num(&DMA_FIELDS[2])? as u32,
        stride: o.num(&DMA_FIELDS[3])? as u32,
        row: o.num_named(&DMA_FIELDS[4], row_name)? as u32,
    })
}

fn parse_line(tokens: &[&str]) -> Result<Instr, String> {
    let mut o = Operands::parse(tokens)?;
    let deps = o.deps();
    let (op, allowed) = match o.mnemonic {
        "load" => (
            Op::Load(parse_dma(&mut o, "spad")?),
            field_list(&DMA_FIELDS),
        ),
        "store" => {
            let src = match (o.values.contains_key("spad"), o.values.contains_key("acc")) {
                (true, false) => StoreSrc::Spad,
                (false, true) => StoreSrc::Acc,
                (true, true) => {
                    return Err(
                        "`store` takes one source, `spad=ROW` or `acc=ROW`, not both".into(),
                    )
                }
                (false, false) => {
                    return Err("`store` needs its source: `spad=ROW` or `acc=ROW`".into())
                }
            };
            let name = if src == StoreSrc::Acc { "acc" } else { "spad" };
            (
                Op::Store(parse_dma(&mut o, name)?, src),
                "dram, rows, bytes, stride, spad or acc".to_string(),
            )
        }
        "gemm" => {
            let v: Vec<u32> = GEMM_FIELDS
                .iter()
                .map(|f| o.num(f).map(|v| v as u32))
                .collect::<Result<_, _>>()?;
            let accumulate = o.flag("accumulate");
            (
                Op::Gemm(Gemm {
                    a: v[0],
                    b: v[1],
                    acc: v[2],
                    k: v[3],
                    m: v[4],
                    accumulate,
                }),
                field_list(&GEMM_FIELDS),
            )
        }
        "epilogue" => {
            let v: Vec<u32> = EPILOGUE_FIELDS
                .iter()
                .map(|f| o.num(f).map(|v| v as u32))
                .collect::<Result<_, _>>()?;
            let act = match o.values.remove("act").unwrap_or("none") {
                "none" => Act::None,
                "relu" => Act::Relu,
                "gelu" => Act::Gelu,
                other => {
                    return Err(format!(
                        "field `act` = `{other}` is not allowed; expected none, relu or gelu"
                    ))
                }
            };
            let trans = o.flag("trans");
            (
                Op::Epilogue(Epilogue {
                    acc: v[0],
                    spad: v[1],
                    rows: v[2],
                    params: v[3],
                    act,
                    trans,
                }),
                format!("{}, act", field_list(&EPILOGUE_FIELDS)),
            )
        }
        "softmax" => {
            let v: Vec<u32> = SOFTMAX_FIELDS
                .iter()
                .map(|f| o.num(f).map(|v| v as u32))
                .collect::<Result<_, _>>()?;
            (
                Op::Softmax(Softmax {
                    src: v[0],
                    dst: v[1],
                    rows: v[2],
                    len: v[3],
                }),
                field_list(&SOFTMAX_FIELDS),
            )
        }
        "layernorm" => {
            let v: Vec<u32> = LAYERNORM_FIELDS
                .iter()
                .map(|f| o.num(f).map(|v| v as u32))
                .collect::<Result<_, _>>()?;
            (
                Op::Layernorm(Layernorm {
                    src: v[0],
                    dst: v[1],
                    rows: v[2],
                    len: v[3],
                    params: v[4],
                }),
                field_list(&LAYERNORM_FIELDS),
            )
        }
        "add" => {
            let v: Vec<u32> = ADD_FIELDS
                .iter()
                .map(|f| o.num(f).map(|v| v as u32))
                .collect::<Result<_, _>>()?;
            (
                Op::Add(Add {
                    a: v[0],
                    b: v[1],
                    dst: v[2],
                    rows: v[3],
                    len: v[4],
                }),
                field_list(&ADD_FIELDS),
            )
        }
        "fence" => (Op::Fence, "none".into()),
        "halt" => (Op::Halt, "none".into()),
        "nop.load" => (Op::Nop(Engine::Load), "none".into()),
        "nop.compute" => (Op::Nop(Engine::Compute), "none".into()),
        "nop.store" => (Op::Nop(Engine::Store), "none".into()),
        other => {
            return Err(format!(
                "unknown instruction `{other}`; expected one of {MNEMONICS}"
            ))
        }
    };
    o.finish(&allowed)?;
    let i = Instr { deps, op };
    i.validate()?;
    Ok(i)
}

/// Assemble program text. Errors name the line and the field.
pub fn assemble(text: &str) -> Result<Program, AsmError> {
    let mut instrs = Vec::new();
    let mut lines = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let code = raw.split(['#', ';']).next().unwrap_or("");
        let tokens: Vec<&str> = code.split_whitespace().collect();
        if tokens.is_empty() {
            continue;
        }
        let i = parse_line(&tokens).map_err(|message| AsmError {
            line: n + 1,
            message,
        })?;
        instrs.push(i);
        lines.push(n + 1);
    }
    let p = Program { instrs };
    p.validate().map_err(|e: IsaError| AsmError {
        line: e.index.map_or(0, |i| lines[i]),
        message: e.message,
    })?;
    Ok(p)
}

/// One instruction in canonical text form.
pub fn format_instr(i: &Instr) -> String {
    let mut s = i.op.mnemonic().to_string();
    let mut kv = |k: &str, v: String| {
        let _ = write!(s, " {k}={v}");
    };
    match &i.op {
        Op::Load(d) | Op::Store(d, _) => {
            kv("dram", format!("{:#x}", d.dram));
            kv("rows", d.rows.to_string());
            kv("bytes", d.bytes.to_string());
            kv("stride", d.stride.to_string());
            let name = match i.op {
                Op::Store(_, StoreSrc::Acc) => "acc",
                _ => "spad",
            };
            kv(name, d.row.to_string());
        }
        Op::Gemm(g) => {
            for (f, v) in GEMM_FIELDS.iter().zip([g.a, g.b, g.acc, g.k, g.m]) {
                kv(f.name, v.to_string());
            }
        }
        Op::Epilogue(e) => {
            for (f, v) in EPILOGUE_FIELDS
                .iter()
                .zip([e.acc, e.spad, e.rows, e.params])
            {
                kv(f.name, v.to_string());
            }
            kv("act", e.act.name().to_string());
        }
        Op::Softmax(x) => {
            for (f, v) in SOFTMAX_FIELDS.iter().zip([x.src, x.dst, x.rows, x.len]) {
                kv(f.name, v.to_string());
            }
        }
        Op::Layernorm(l) => {
            for (f, v) in LAYERNORM_FIELDS
                .iter()
                .zip([l.src, l.dst, l.rows, l.len, l.params])
            {
                kv(f.name, v.to_string());
            }
        }
        Op::Add(a) => {
            for (f, v) in ADD_FIELDS.iter().zip([a.a, a.b, a.dst, a.rows, a.len]) {
                kv(f.name, v.to_string());
            }
        }
        Op::Fence | Op::Halt | Op::Nop(_) => {}
    }
    if let Op::Gemm(g) = &i.op {
        if g.accumulate {
            s.push_str(" accumulate");
        }
    }
    if let Op::Epilogue(e) = &i.op {
        if e.trans {
            s.push_str(" trans");
        }
    }
    for (name, on) in i.deps.named() {
        if on {
            s.push(' ');
            s.push_str(name);
        }
    }
    s
}

/// The whole program in canonical text, one instruction per line, each followed by
/// a comment with its index and byte offset.
pub fn disassemble(p: &Program) -> String {
    let mut out = String::new();
    for (n, i) in p.instrs.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:<72} # {n} @ {:#x}",
            format_instr(i),
            n * crate::isa::WORD_BYTES
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
# a GEMM tile with its epilogue
load dram=0x1000 rows=16 bytes=64 stride=512 spad=0 push_next
load dram=0x9000 rows=64 bytes=16 stride=16 spad=64 push_next   ; B
gemm a=0 b=64 acc=0 k=64 m=16 pop_prev push_prev
gemm a=0 b=64 acc=0 k=64 m=16 accumulate pop_prev push_next
epilogue acc=0 spad=128 rows=16 params=200 act=gelu
store dram=0x8000 rows=16 bytes=16 stride=256 spad=128 pop_prev
store dram=0x1_0000 rows=2 bytes=64 stride=64 acc=0
softmax src=0 dst=64 rows=4 len=100
nop.compute pop_next
fence
halt
";

    #[test]
    fn example_round_trips_through_text_and_binary() {
        let p = assemble(EXAMPLE).unwrap();
        assert_eq!(p.instrs.len(), 11);
        let bin = p.to_bytes();
        assert_eq!(bin.len(), 11 * 16);
        let q = Program::from_bytes(&bin).unwrap();
        assert_eq!(p, q);
        let text = disassemble(&q);
        assert_eq!(assemble(&text).unwrap(), p);
        assert!(text.starts_with("load dram=0x1000 rows=16 bytes=64 stride=512 spad=0 push_next"));
        assert!(text.contains("store dram=0x10000 rows=2 bytes=64 stride=64 acc=0"));
        assert!(text.contains("gemm a=0 b=64 acc=0 k=64 m=16 accumulate pop_prev push_next"));
    }

    #[test]
    fn errors_name_line_and_field() {
        for (text, frag) in [
            ("frob\nhalt\n", "line 1: unknown instruction `frob`"),
            (
                "\n\nload rows=1 bytes=1 stride=0 spad=0\nhalt",
                "line 3: `load` needs the field `dram`",
            ),
            (
                "load dram=0 rows=0 bytes=1 stride=0 spad=0\nhalt",
                "line 1: field `rows` = 0 is outside the allowed range 1..=4095",
            ),
            (
                "load dram=0 rows=4096 bytes=1 stride=0 spad=0\nhalt",
                "`rows` = 4096 is outside the allowed range 1..=4095",
            ),
            (
                "load dram=0x10000000000 rows=1 bytes=1 stride=0 spad=0\nhalt",
                "`dram` = 1099511627776 is outside the allowed range 0..=1099511627775",
            ),
            (
                "load dram=zz rows=1 bytes=1 stride=0 spad=0\nhalt",
                "field `dram` = `zz` is not a number",
            ),
            (
                "load dram=0 dram=1 rows=1 bytes=1 stride=0 spad=0\nhalt",
                "field `dram` is given twice",
            ),
            (
                "load dram=0 rows=1 bytes=1 stride=0 spad=0 colour=3\nhalt",
                "`load` has no field `colour`",
            ),
            (
                "load dram=0 rows=1 bytes=1 stride=0 spad=0 pop_prev\nhalt",
                "no previous engine",
            ),
            (
                "store dram=0 rows=1 bytes=1 stride=0 spad=0 push_next\nhalt",
                "no next engine",
            ),
            (
                "store dram=0 rows=1 bytes=1 stride=0\nhalt",
                "`store` needs its source",
            ),
            (
                "store dram=0 rows=1 bytes=1 stride=0 spad=0 acc=0\nhalt",
                "not both",
            ),
            (
                "gemm a=0 b=0 acc=0 k=1 m=256\nhalt",
                "field `m` = 256 is outside the allowed range 1..=255",
            ),
            (
                "gemm a=0 b=0 acc=0 k=1 m=1 sometimes\nhalt",
                "`gemm` has no flag `sometimes`",
            ),
            (
                "epilogue acc=0 spad=0 rows=1 params=0 act=tanh\nhalt",
                "`act` = `tanh` is not allowed; expected none, relu or gelu",
            ),
            ("halt pop_prev", "`halt` takes no dependency flags"),
            (
                "fence\n",
                "line 1: the last instruction is `fence`; a program must end with `halt`",
            ),
            ("# nothing\n", "the program is empty"),
            ("load x= rows=1\nhalt", "`x=` is not a `key=value` field"),
        ] {
            let e = assemble(text).unwrap_err().to_string();
            assert!(e.contains(frag), "{text:?}: {e}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x1F"), Some(31));
        assert_eq!(parse_number("1_000"), Some(1000));
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_number("+1"), None);
        assert_eq!(parse_number("99999999999999999999"), None);
    }
}
