//! The Verilog-2001 emitter: the only place in accgen that prints Verilog text.
//!
//! Output is deterministic (same module, same bytes). Conventions:
//! - one `always @(posedge clk)` block for all registers; `rst` is synchronous and
//!   active-high and exists only when some register (or a child) uses a reset;
//! - `clk` exists only when the module (or a child) holds state;
//! - every expression is width-exact, so `verilator -Wall` has nothing to widen;
//! - nets are declared unsigned; signed operations use `$signed(...)` explicitly, so the
//!   meaning never depends on declarations. Ports carry `signed` for readability;
//! - only nodes that reach an output, a register, a memory or an instance are printed;
//! - a net with bits nobody reads (a slice of a wider product, an unused input) is
//!   wrapped in a `lint_off UNUSEDSIGNAL` pragma pair, so the waiver is per net and
//!   explicit rather than global.

use std::fmt::Write;

use super::analyse::{analyse, Ctx};
use super::module::{BinOp, CmpOp, Dir, Module, NodeKind, ReduceOp, ShiftAmt, ShiftOp};
use super::prim::ParamValue;
use super::value::Value;

/// Render a constant as a sized Verilog literal.
pub(crate) fn literal(v: &Value) -> String {
    match v.to_u64() {
        Some(x) => format!("{}'d{x}", v.width()),
        None => format!("{}'h{}", v.width(), v.to_hex()),
    }
}

fn range(width: u32) -> String {
    if width == 1 {
        String::new()
    } else {
        format!("[{}:0] ", width - 1)
    }
}

fn expr(c: &Ctx, kind: &NodeKind, width: u32) -> String {
    match kind {
        NodeKind::Not(a) => format!("~{}", c.r(*a)),
        NodeKind::Neg(a) => format!("-{}", c.r(*a)),
        NodeKind::Reduce(op, a) => {
            let o = match op {
                ReduceOp::And => "&",
                ReduceOp::Or => "|",
                ReduceOp::Xor => "^",
            };
            format!("{o}{}", c.r(*a))
        }
        NodeKind::Bin(op, a, b) => {
            let o = match op {
                BinOp::Add => "+",
                BinOp::Sub => "-",
                BinOp::And => "&",
                BinOp::Or => "|",
                BinOp::Xor => "^",
            };
            format!("{} {o} {}", c.r(*a), c.r(*b))
        }
        NodeKind::Mul { a, b, signed } => {
            if *signed {
                format!("{} * {}", c.signed(*a), c.signed(*b))
            } else {
                format!("{} * {}", c.r(*a), c.r(*b))
            }
        }
        NodeKind::Cmp(op, a, b) => {
            let (o, ordered) = match op {
                CmpOp::Eq => ("==", false),
                CmpOp::Ne => ("!=", false),
                CmpOp::Lt => ("<", true),
                CmpOp::Le => ("<=", true),
                CmpOp::Gt => (">", true),
                CmpOp::Ge => (">=", true),
            };
            if ordered && a.signed {
                format!("{} {o} {}", c.signed(*a), c.signed(*b))
            } else if ordered {
                format!("$unsigned({}) {o} $unsigned({})", c.r(*a), c.r(*b))
            } else {
                format!("{} {o} {}", c.r(*a), c.r(*b))
            }
        }
        NodeKind::Shift(op, a, amt) => {
            let k = match amt {
                ShiftAmt::Const(k) => k.to_string(),
                ShiftAmt::Sig(s) => c.r(*s),
            };
            match op {
                ShiftOp::Shl => format!("{} << {k}", c.r(*a)),
                ShiftOp::Shr => format!("{} >> {k}", c.r(*a)),
                ShiftOp::Sra => format!("{} >>> {k}", c.signed(*a)),
            }
        }
        NodeKind::Mux { sel, t, f } => format!("{} ? {} : {}", c.r(*sel), c.r(*t), c.r(*f)),
        NodeKind::Slice { a, hi, lo } if hi == lo => format!("{}[{hi}]", c.r(*a)),
        NodeKind::Slice { a, hi, lo } => format!("{}[{hi}:{lo}]", c.r(*a)),
        NodeKind::Concat(parts) => {
            let p: Vec<String> = parts.iter().map(|s| c.r(*s)).collect();
            format!("{{{}}}", p.join(", "))
        }
        NodeKind::Ext { a, signed } => {
            let extra = width - a.width;
            let fill = if !*signed {
                format!("{extra}'d0")
            } else if a.width == 1 {
                format!("{{{extra}{{{}}}}}", c.r(*a))
            } else {
                format!("{{{extra}{{{}[{}]}}}}", c.r(*a), a.width - 1)
            };
            format!("{{{fill}, {}}}", c.r(*a))
        }
        NodeKind::Alias(a) | NodeKind::Wire(Some(a)) => c.r(*a),
        NodeKind::MemReadAsync { mem, port } => c.async_read(*mem, *port),
        _ => unreachable!("node without an expression"),
    }
}

/// Print lines; each run of consecutive waived lines is wrapped in one
/// `lint_off UNUSEDSIGNAL` / `lint_on` pair.
fn print_waived(out: &mut String, lines: &[(bool, String)]) {
    let mut open = false;
    for (waive, line) in lines {
        if *waive && !open {
            out.push_str("  /* verilator lint_off UNUSEDSIGNAL */\n");
        } else if !*waive && open {
            out.push_str("  /* verilator lint_on UNUSEDSIGNAL */\n");
        }
        open = *waive;
        out.push_str(line);
    }
    if open {
        out.push_str("  /* verilator lint_on UNUSEDSIGNAL */\n");
    }
}

/// Verilog text of one module (no submodules), ending in a newline.
pub fn module_verilog(m: &Module) -> String {
    let c = analyse(m);
    let mut o = String::new();
    o.push_str("// Generated by accgen. Do not edit: change the config and regenerate.\n");
    for d in &m.doc {
        let _ = writeln!(o, "// {d}");
    }
    o.push_str("`default_nettype none\n\n");
    let _ = writeln!(o, "module {} (", m.name);
    let mut port_lines: Vec<(bool, String)> = Vec::new();
    let attrs = |name: &str| -> String {
        m.port_attrs
            .iter()
            .filter(|(p, _, _)| p == name)
            .map(|(_, k, v)| format!("(* {k} = \"{v}\" *) "))
            .collect()
    };
    if m.has_clock {
        port_lines.push((false, format!("{}input  wire clk", attrs("clk"))));
    }
    if m.has_reset {
        port_lines.push((false, format!("{}input  wire rst", attrs("rst"))));
    }
    for (p, s) in m.ports.iter().zip(&m.port_nodes) {
        let dir = if p.dir == Dir::Input {
            "input "
        } else {
            "output"
        };
        let sg = if p.signed { "signed " } else { "" };
        let unused =
            p.dir == Dir::Input && (!c.live[s.id as usize] || c.partly_unused[s.id as usize]);
        port_lines.push((
            unused,
            format!(
                "{}{dir} wire {sg}{}{}",
                attrs(&p.name),
                range(p.width),
                p.name
            ),
        ));
    }
    let last = port_lines.len();
    let port_lines: Vec<(bool, String)> = port_lines
        .into_iter()
        .enumerate()
        .map(|(i, (unused, line))| {
            let sep = if i + 1 == last { "" } else { "," };
            (unused, format!("  {line}{sep}\n"))
        })
        .collect();
    print_waived(&mut o, &port_lines);
    o.push_str(");\n");

    // Declarations.
    let mut decl_lines = Vec::new();
    for (id, node) in m.nodes.iter().enumerate() {
        if !c.live[id]
            || matches!(
                node.kind,
                NodeKind::Input | NodeKind::Const(_) | NodeKind::Clock
            )
        {
            continue;
        }
        let kw = match node.kind {
            NodeKind::RegQ(_) | NodeKind::MemRead { .. } => "reg ",
            _ => "wire",
        };
        let line = format!("  {kw} {}{};\n", range(node.width), c.names[id]);
        decl_lines.push((c.partly_unused[id], line));
    }
    let mut decls = String::new();
    print_waived(&mut decls, &decl_lines);
    for (i, md) in m.mems.iter().enumerate() {
        if mem_live(&c, md) {
            if let Some(style) = md.spec.style {
                let kind = if md.writes.is_empty() {
                    "rom_style"
                } else {
                    "ram_style"
                };
                let _ = writeln!(decls, "  (* {kind} = \"{}\" *)", style.as_str());
            }
            let _ = writeln!(
                decls,
                "  reg  {}{} [0:{}];",
                range(md.spec.width),
                c.mem_names[i],
                md.spec.depth - 1
            );
        }
    }
    if !decls.is_empty() {
        o.push('\n');
        o.push_str(&decls);
    }

    // Combinational assigns, in creation order (which is topological).
    let mut assigns = String::new();
    for (id, node) in m.nodes.iter().enumerate() {
        if !c.live[id] {
            continue;
        }
        match node.kind {
            NodeKind::Input
            | NodeKind::Const(_)
            | NodeKind::RegQ(_)
            | NodeKind::MemRead { .. }
            | NodeKind::InstOut
            | NodeKind::Clock => {}
            ref k => {
                let _ = writeln!(
                    assigns,
                    "  assign {} = {};",
                    c.names[id],
                    expr(&c, k, node.width)
                );
            }
        }
    }
    for (p, s) in m.ports.iter().zip(&m.port_nodes) {
        if p.dir == Dir::Output {
            let _ = writeln!(assigns, "  assign {} = {};", p.name, c.r(*s));
        }
    }
    if !assigns.is_empty() {
        o.push('\n');
        o.push_str(&assigns);
    }

    // Registers.
    let mut seq = String::new();
    for r in &m.regs {
        if !c.live[r.q as usize] {
            continue;
        }
        let q = &c.names[r.q as usize];
        let d = c.r(r.d.expect("finished module has connected registers"));
        let upd = match r.opts.enable {
            Some(en) => format!("if ({}) {q} <= {d};", c.r(en)),
            None => format!("{q} <= {d};"),
        };
        match &r.opts.reset {
            Some(v) => {
                let _ = writeln!(seq, "    if (rst) {q} <= {};", literal(v));
                let _ = writeln!(seq, "    else {upd}");
            }
            None => {
                let _ = writeln!(seq, "    {upd}");
            }
        }
    }
    if !seq.is_empty() {
        o.push_str("\n  always @(posedge clk) begin\n");
        o.push_str(&seq);
        o.push_str("  end\n");
    }

    // Memories.
    for (i, md) in m.mems.iter().enumerate() {
        if !mem_live(&c, md) {
            continue;
        }
        let name = &c.mem_names[i];
        if let Some(init) = &md.spec.init {
            let _ = writeln!(o, "\n  initial begin");
            for (k, v) in init.iter().enumerate() {
                let _ = writeln!(o, "    {name}[{k}] = {};", literal(v));
            }
            o.push_str("  end\n");
        }
        o.push_str("\n  always @(posedge clk) begin\n");
        for (we, wa, wd) in &md.writes {
            let _ = writeln!(
                o,
                "    if ({}) {name}[{}] <= {};",
                c.r(*we),
                c.r(*wa),
                c.r(*wd)
            );
        }
        for (id, addr, en) in &md.reads {
            if !c.live[*id as usize] {
                continue;
            }
            let rd = &c.names[*id as usize];
            match en {
                Some(e) => {
                    let _ = writeln!(o, "    if ({}) {rd} <= {name}[{}];", c.r(*e), c.r(*addr));
                }
                None => {
                    let _ = writeln!(o, "    {rd} <= {name}[{}];", c.r(*addr));
                }
            }
        }
        o.push_str("  end\n");
    }

    // Instances.
    for inst in &m.insts {
        let _ = writeln!(o, "\n  {} {} (", inst.module.name, inst.name);
        let mut conns = Vec::new();
        if inst.module.has_clock {
            conns.push(".clk(clk)".to_string());
        }
        if inst.module.has_reset {
            conns.push(".rst(rst)".to_string());
        }
        for (p, s) in inst.module.ports.iter().zip(&inst.conns) {
            conns.push(format!(".{}({})", p.name, c.r(*s)));
        }
        let _ = writeln!(o, "    {}", conns.join(",\n    "));
        o.push_str("  );\n");
    }
    // Vendor primitives.
    for p in &m.prims {
        let _ = write!(o, "\n  {}", p.cell);
        if !p.params.is_empty() {
            let params: Vec<String> = p
                .params
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        ParamValue::Int(i) => i.to_string(),
                        ParamValue::Str(s) => format!("\"{s}\""),
                        ParamValue::Bits(b) => format!("{}'h{}", b.width(), b.to_hex()),
                    };
                    format!(".{k}({v})")
                })
                .collect();
            let _ = write!(o, " #(\n    {}\n  )", params.join(",\n    "));
        }
        let _ = writeln!(o, " {} (", p.name);
        let conns: Vec<String> = p
            .conns
            .iter()
            .map(|(pin, s)| format!(".{pin}({})", c.r(*s)))
            .collect();
        let _ = writeln!(o, "    {}", conns.join(",\n    "));
        o.push_str("  );\n");
    }
    o.push_str("\nendmodule\n\n`default_nettype wire\n");
    o
}

/// True when some read port of the memory is printed.
fn mem_live(c: &Ctx, md: &super::seq::MemDef) -> bool {
    md.reads.iter().any(|(id, _, _)| c.live[*id as usize])
        || md.async_reads.iter().any(|(id, _)| c.live[*id as usize])
}
