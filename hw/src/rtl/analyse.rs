//! Netlist analysis for the emitter: which nodes are live (reach an output, a
//! register, a memory or an instance), which nets have bits nobody reads (they get a
//! per-net lint waiver), and the deterministic, unique name of every net.

use std::collections::{BTreeSet, HashSet};

use super::emit::literal;
use super::module::{Dir, Module, NodeKind, ShiftAmt, Sig};

/// Verilog-2001 keywords, a few SystemVerilog ones, and the implicit ports.
const KEYWORDS: &str = "always and assign automatic begin buf case casex casez cell cmos config \
    deassign default defparam design disable edge else end endcase endconfig \
    endfunction endgenerate endmodule endprimitive endspecify endtable endtask \
    event for force forever fork function generate genvar highz0 highz1 if ifnone \
    incdir include initial inout input instance integer join large liblist library \
    localparam macromodule medium module nand negedge nmos nor not notif0 notif1 or \
    output parameter pmos posedge primitive pull0 pull1 pulldown pullup rcmos real \
    realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1 scalared signed \
    small specify specparam strong0 strong1 supply0 supply1 table task time tran \
    tranif0 tranif1 tri tri0 tri1 triand trior trireg unsigned use vectored wait \
    wand weak0 weak1 while wire wor xnor xor bit byte int logic shortint longint \
    string type clk rst";

/// The analysis result the emitter prints from.
pub(crate) struct Ctx<'m> {
    m: &'m Module,
    /// Node is printed.
    pub live: Vec<bool>,
    /// Net name per node (empty for constants and dead nodes).
    pub names: Vec<String>,
    /// Node has bits no reader uses.
    pub partly_unused: Vec<bool>,
    /// Unique name per memory.
    pub mem_names: Vec<String>,
}

impl Ctx<'_> {
    /// How a reader refers to `s`: its net name, or the literal of a constant.
    pub fn r(&self, s: Sig) -> String {
        match &self.m.nodes[s.id as usize].kind {
            NodeKind::Const(v) => literal(v),
            _ => self.names[s.id as usize].clone(),
        }
    }

    /// `mem[addr]` of an asynchronous read port.
    pub fn async_read(&self, mem: usize, port: usize) -> String {
        let addr = self.m.mems[mem].async_reads[port].1;
        format!("{}[{}]", self.mem_names[mem], self.r(addr))
    }

    /// `$signed(<s>)`.
    pub fn signed(&self, s: Sig) -> String {
        format!("$signed({})", self.r(s))
    }
}

/// Combinational inputs of a node (what it reads in the same cycle).
fn comb_deps(kind: &NodeKind) -> Vec<Sig> {
    match kind {
        NodeKind::Input
        | NodeKind::Const(_)
        | NodeKind::RegQ(_)
        | NodeKind::MemRead { .. }
        | NodeKind::MemReadAsync { .. }
        | NodeKind::InstOut
        | NodeKind::Clock
        | NodeKind::Wire(None) => vec![],
        NodeKind::Not(a) | NodeKind::Neg(a) | NodeKind::Reduce(_, a) => vec![*a],
        NodeKind::Alias(a) | NodeKind::Wire(Some(a)) | NodeKind::Ext { a, .. } => vec![*a],
        NodeKind::Slice { a, .. } => vec![*a],
        NodeKind::Bin(_, a, b) | NodeKind::Cmp(_, a, b) | NodeKind::Mul { a, b, .. } => {
            vec![*a, *b]
        }
        NodeKind::Shift(_, a, ShiftAmt::Sig(s)) => vec![*a, *s],
        NodeKind::Shift(_, a, ShiftAmt::Const(_)) => vec![*a],
        NodeKind::Mux { sel, t, f } => vec![*sel, *t, *f],
        NodeKind::Concat(parts) => parts.clone(),
    }
}

/// Everything a node depends on, including the state-update inputs of registers and
/// memories (which make the register or memory worth keeping).
fn all_deps(m: &Module, kind: &NodeKind) -> Vec<Sig> {
    match kind {
        NodeKind::RegQ(i) => {
            let r = &m.regs[*i];
            r.d.iter().chain(r.opts.enable.iter()).copied().collect()
        }
        NodeKind::MemRead { mem, port } => {
            let md = &m.mems[*mem];
            let (_, addr, en) = md.reads[*port];
            let mut v: Vec<Sig> = vec![addr];
            v.extend(en);
            for (we, wa, wd) in &md.writes {
                v.extend([*we, *wa, *wd]);
            }
            v
        }
        NodeKind::MemReadAsync { mem, port } => {
            let md = &m.mems[*mem];
            let mut v: Vec<Sig> = vec![md.async_reads[*port].1];
            for (we, wa, wd) in &md.writes {
                v.extend([*we, *wa, *wd]);
            }
            v
        }
        k => comb_deps(k),
    }
}

/// Analyse `m` (see module docs).
pub(crate) fn analyse(m: &Module) -> Ctx<'_> {
    let n = m.nodes.len();
    let mut live = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    for (p, s) in m.ports.iter().zip(&m.port_nodes) {
        if p.dir == Dir::Output || matches!(m.nodes[s.id as usize].kind, NodeKind::Input) {
            stack.push(s.id);
        }
    }
    for inst in &m.insts {
        stack.extend(inst.conns.iter().map(|s| s.id));
    }
    for p in &m.prims {
        stack.extend(p.conns.iter().map(|(_, s)| s.id));
    }
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut live[id as usize], true) {
            continue;
        }
        stack.extend(all_deps(m, &m.nodes[id as usize].kind).iter().map(|s| s.id));
    }

    // Bit usage: full readers versus slices.
    let mut full = vec![false; n];
    let mut sliced: Vec<BTreeSet<(u32, u32)>> = vec![BTreeSet::new(); n];
    for (p, s) in m.ports.iter().zip(&m.port_nodes) {
        if p.dir == Dir::Output {
            full[s.id as usize] = true;
        }
    }
    for inst in &m.insts {
        for (s, p) in inst.conns.iter().zip(&inst.module.ports) {
            if p.dir == Dir::Input {
                full[s.id as usize] = true;
            }
        }
    }
    for p in &m.prims {
        for (_, s) in &p.conns[..p.inputs] {
            full[s.id as usize] = true;
        }
    }
    for (id, node) in m.nodes.iter().enumerate() {
        if !live[id] {
            continue;
        }
        if let NodeKind::Slice { a, hi, lo } = &node.kind {
            sliced[a.id as usize].insert((*lo, *hi));
        } else {
            for d in all_deps(m, &node.kind) {
                full[d.id as usize] = true;
            }
        }
    }
    let partly_unused = (0..n)
        .map(|id| {
            if full[id] {
                return false;
            }
            let mut next = 0u32;
            for &(lo, hi) in &sliced[id] {
                if lo > next {
                    return true;
                }
                next = next.max(hi + 1);
            }
            next < m.nodes[id].width
        })
        .collect();

    // Names: ports verbatim; hints made unique; `_t<k>` for anonymous nets.
    let mut taken: HashSet<String> = KEYWORDS.split_whitespace().map(str::to_string).collect();
    taken.extend(m.ports.iter().map(|p| p.name.clone()));
    taken.extend(m.insts.iter().map(|i| i.name.clone()));
    taken.extend(m.prims.iter().map(|p| p.name.clone()));
    let unique = |hint: &str, taken: &mut HashSet<String>| {
        let mut name = hint.to_string();
        let mut k = 1;
        while taken.contains(&name) {
            name = format!("{hint}_{k}");
            k += 1;
        }
        taken.insert(name.clone());
        name
    };
    let mem_names = m
        .mems
        .iter()
        .map(|md| unique(&md.spec.name, &mut taken))
        .collect();
    let mut names = vec![String::new(); n];
    let mut anon = 0;
    for (id, node) in m.nodes.iter().enumerate() {
        if !live[id] || matches!(node.kind, NodeKind::Const(_)) {
            continue;
        }
        names[id] = match (&node.kind, &node.name) {
            (NodeKind::Clock, _) => "clk".to_string(),
            (NodeKind::Input, Some(p)) => p.clone(),
            (_, Some(hint)) => unique(hint, &mut taken),
            (_, None) => loop {
                let cand = format!("_t{anon}");
                anon += 1;
                if !taken.contains(&cand) {
                    taken.insert(cand.clone());
                    break cand;
                }
            },
        };
    }
    Ctx {
        m,
        live,
        names,
        partly_unused,
        mem_names,
    }
}
