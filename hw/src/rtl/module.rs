//! The module builder: ports, nets, registers, wires, memories and instances.
//!
//! A [`ModuleBuilder`] collects a netlist as an arena of nodes. Every node has a fixed
//! width and signedness, checked when it is created. Operators live in `ops.rs`; this
//! file holds the state, the sequential elements and [`ModuleBuilder::finish`], which
//! checks that everything declared is driven and freezes the builder into a [`Module`].

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::error::{RtlError, RtlResult};
use super::hier::InstDef;
use super::prim::{Interface, PrimDef};
use super::seq::{MemDef, RegDef};
pub(crate) use super::sig::{BinOp, CmpOp, Dir, PortInfo, ReduceOp, ShiftAmt, ShiftOp, Sig};
use super::value::{Value, MAX_WIDTH};

static NEXT_BUILDER_ID: AtomicU32 = AtomicU32::new(1);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum NodeKind {
    Input,
    Const(Value),
    Not(Sig),
    Neg(Sig),
    Reduce(ReduceOp, Sig),
    Bin(BinOp, Sig, Sig),
    /// Operands are already extended to the result width.
    Mul {
        a: Sig,
        b: Sig,
        signed: bool,
    },
    Cmp(CmpOp, Sig, Sig),
    Shift(ShiftOp, Sig, ShiftAmt),
    Mux {
        sel: Sig,
        t: Sig,
        f: Sig,
    },
    Slice {
        a: Sig,
        hi: u32,
        lo: u32,
    },
    Concat(Vec<Sig>),
    /// Zero or sign extension of `a` to the node width.
    Ext {
        a: Sig,
        signed: bool,
    },
    Alias(Sig),
    Wire(Option<Sig>),
    RegQ(usize),
    MemRead {
        mem: usize,
        port: usize,
    },
    /// Asynchronous (combinational) read: distributed RAM.
    MemReadAsync {
        mem: usize,
        port: usize,
    },
    InstOut,
    /// The module clock, for primitive clock pins.
    Clock,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub width: u32,
    pub signed: bool,
    pub name: Option<String>,
}

/// A finished, immutable module: what the emitter prints and instances reference.
#[derive(Debug)]
pub struct Module {
    pub(crate) name: String,
    pub(crate) doc: Vec<String>,
    pub(crate) ports: Vec<PortInfo>,
    /// Node id of each port: the Input node, or the driver of an output.
    pub(crate) port_nodes: Vec<Sig>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) regs: Vec<RegDef>,
    pub(crate) mems: Vec<MemDef>,
    pub(crate) insts: Vec<InstDef>,
    pub(crate) prims: Vec<PrimDef>,
    pub(crate) port_attrs: Vec<(String, String, String)>,
    pub(crate) interfaces: Vec<Interface>,
    pub(crate) has_clock: bool,
    pub(crate) has_reset: bool,
}

impl Module {
    /// Module name as emitted.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Ports in declaration order, without `clk` and `rst`.
    pub fn ports(&self) -> &[PortInfo] {
        &self.ports
    }

    /// Port metadata by name.
    pub fn port(&self, name: &str) -> Option<&PortInfo> {
        self.ports.iter().find(|p| p.name == name)
    }

    /// True when the module has a `clk` input (it holds registers or memories).
    pub fn has_clock(&self) -> bool {
        self.has_clock
    }

    /// True when the module has an active-high synchronous `rst` input.
    pub fn has_reset(&self) -> bool {
        self.has_reset
    }

    /// Direct submodules (one entry per instance).
    pub fn children(&self) -> impl Iterator<Item = &Rc<Module>> {
        self.insts.iter().map(|i| &i.module)
    }

    /// Number of registers (bits are not counted) declared directly in this module.
    pub fn register_count(&self) -> usize {
        self.regs.len()
    }

    /// Interfaces recorded with [`ModuleBuilder::interface`].
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// Vendor cell types instantiated directly in this module.
    pub fn primitive_cells(&self) -> impl Iterator<Item = &str> {
        self.prims.iter().map(|p| p.cell.as_str())
    }
}

/// Builds one module. See the crate docs for an example.
pub struct ModuleBuilder {
    pub(crate) id: u32,
    pub(crate) name: String,
    pub(crate) doc: Vec<String>,
    pub(crate) ports: Vec<PortInfo>,
    pub(crate) port_nodes: Vec<Sig>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) regs: Vec<RegDef>,
    pub(crate) mems: Vec<MemDef>,
    pub(crate) insts: Vec<InstDef>,
    pub(crate) prims: Vec<PrimDef>,
    pub(crate) port_attrs: Vec<(String, String, String)>,
    pub(crate) interfaces: Vec<Interface>,
    pub(crate) uses_clock: bool,
    pub(crate) child_clock: bool,
    pub(crate) child_reset: bool,
    /// Structural hashing of pure combinational nodes: building the same expression
    /// twice yields one net.
    pub(crate) cse: HashMap<(NodeKind, u32, bool), u32>,
}

/// Port names Verilator mangles or rejects: Verilog keywords, C++ keywords, and the
/// C++ and SystemC words Verilator 5.006 flags as SYMRSVDWORD (found by linting a
/// port of each name: `abort`, `interrupt`, `list`, `map`, ...).
const RESERVED_PORT_NAMES: &str = "always and assign begin buf case default else end endcase \
    endmodule for function if initial inout input integer module nand nor not or output \
    parameter posedge negedge reg repeat signed task wire while xor xnor logic bit byte int \
    alignas alignof asm auto bool break catch char class const constexpr continue decltype \
    delete do double enum explicit export extern false float friend goto inline long mutable \
    namespace new noexcept nullptr operator private protected public register return short \
    sizeof static struct switch template this throw true try typedef typeid typename union \
    unsigned using virtual void volatile \
    abort interrupt atomic_cancel atomic_commit atomic_noexcept bit_vector bitand bitor \
    cdecl char16_t char32_t compl complex concept const_cast const_iterator deque \
    dynamic_cast huge near not_eq pascal requires static_assert static_cast synchronized \
    thread_local transaction_safe_dynamic type_info wchar_t xor_eq and_eq or_eq list map \
    set vector queue stack far override sc_clock sc_in sc_out sc_inout sc_signal sensitive \
    sensitive_neg sensitive_pos iterator reference";

pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl ModuleBuilder {
    /// Start a module called `name` (a Verilog identifier).
    pub fn new(name: &str) -> ModuleBuilder {
        ModuleBuilder {
            id: NEXT_BUILDER_ID.fetch_add(1, Ordering::Relaxed),
            name: name.to_string(),
            doc: Vec::new(),
            ports: Vec::new(),
            port_nodes: Vec::new(),
            nodes: Vec::new(),
            regs: Vec::new(),
            mems: Vec::new(),
            insts: Vec::new(),
            prims: Vec::new(),
            port_attrs: Vec::new(),
            interfaces: Vec::new(),
            uses_clock: false,
            child_clock: false,
            child_reset: false,
            cse: HashMap::new(),
        }
    }

    /// Module name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Add a line to the comment block emitted above the module.
    pub fn doc(&mut self, line: &str) {
        self.doc.push(line.to_string());
    }

    pub(crate) fn err<T>(&self, message: impl Into<String>) -> RtlResult<T> {
        Err(RtlError {
            module: self.name.clone(),
            message: message.into(),
        })
    }

    /// A readable description of a signal for error messages.
    pub(crate) fn describe(&self, s: Sig) -> String {
        let ty = format!(
            "{} bits {}",
            s.width,
            if s.signed { "SInt" } else { "UInt" }
        );
        match self
            .nodes
            .get(s.id as usize)
            .and_then(|n| n.name.as_deref())
        {
            Some(n) if s.builder == self.id => format!("`{n}` ({ty})"),
            _ => format!("unnamed signal #{} ({ty})", s.id),
        }
    }

    /// Check that `s` belongs to this builder.
    pub(crate) fn own(&self, s: Sig, role: &str) -> RtlResult<()> {
        if s.builder != self.id || s.id as usize >= self.nodes.len() {
            return self.err(format!(
                "{role}: signal #{} belongs to a different module builder",
                s.id
            ));
        }
        Ok(())
    }

    pub(crate) fn check_width(&self, width: u32, what: &str) -> RtlResult<()> {
        if width == 0 || width > MAX_WIDTH {
            return self.err(format!(
                "{what}: width {width} is outside the allowed range 1..={MAX_WIDTH}"
            ));
        }
        Ok(())
    }

    pub(crate) fn push(&mut self, kind: NodeKind, width: u32, signed: bool) -> Sig {
        let pure = !matches!(
            kind,
            NodeKind::Input
                | NodeKind::Alias(_)
                | NodeKind::Wire(_)
                | NodeKind::RegQ(_)
                | NodeKind::MemRead { .. }
                | NodeKind::MemReadAsync { .. }
                | NodeKind::InstOut
        );
        let key = (kind.clone(), width, signed);
        if pure {
            if let Some(&id) = self.cse.get(&key) {
                return Sig {
                    builder: self.id,
                    id,
                    width,
                    signed,
                };
            }
        }
        let id = self.nodes.len() as u32;
        if pure {
            self.cse.insert(key, id);
        }
        self.nodes.push(Node {
            kind,
            width,
            signed,
            name: None,
        });
        Sig {
            builder: self.id,
            id,
            width,
            signed,
        }
    }

    pub(crate) fn check_port_name(&self, name: &str) -> RtlResult<()> {
        if !is_identifier(name) {
            return self.err(format!("port name `{name}` is not a Verilog identifier"));
        }
        if name == "clk" || name == "rst" {
            return self.err(format!(
                "port name `{name}` is reserved for the implicit clock and reset"
            ));
        }
        if self.ports.iter().any(|p| p.name == name) {
            return self.err(format!("port `{name}` is declared twice"));
        }
        if name.contains("__") || RESERVED_PORT_NAMES.split_whitespace().any(|k| k == name) {
            return self.err(format!(
                "port name `{name}` is a Verilog or C++ keyword, a word Verilator reserves, or contains `__`; Verilator cannot simulate it"
            ));
        }
        Ok(())
    }

    /// Declare an input port and return its net.
    pub fn input(&mut self, name: &str, width: u32, signed: bool) -> RtlResult<Sig> {
        self.check_port_name(name)?;
        self.check_width(width, &format!("input `{name}`"))?;
        let s = self.push(NodeKind::Input, width, signed);
        self.nodes[s.id as usize].name = Some(name.to_string());
        self.ports.push(PortInfo {
            name: name.to_string(),
            dir: Dir::Input,
            width,
            signed,
        });
        self.port_nodes.push(s);
        Ok(s)
    }

    /// Declare an output port driven by `s`; its width and signedness are those of `s`.
    pub fn output(&mut self, name: &str, s: Sig) -> RtlResult<()> {
        self.check_port_name(name)?;
        self.own(s, &format!("output `{name}`"))?;
        self.ports.push(PortInfo {
            name: name.to_string(),
            dir: Dir::Output,
            width: s.width,
            signed: s.signed,
        });
        self.port_nodes.push(s);
        Ok(())
    }

    /// Give `s` a readable name in the emitted Verilog. If it already has one, an alias
    /// net with the new name is created. Names are made unique at emission.
    pub fn name_sig(&mut self, s: Sig, name: &str) -> RtlResult<Sig> {
        self.own(s, &format!("name `{name}`"))?;
        if !is_identifier(name) {
            return self.err(format!("name `{name}` is not a Verilog identifier"));
        }
        let node = &self.nodes[s.id as usize];
        let s = if node.name.is_some() || matches!(node.kind, NodeKind::Const(_)) {
            self.push(NodeKind::Alias(s), s.width, s.signed)
        } else {
            s
        };
        self.nodes[s.id as usize].name = Some(name.to_string());
        Ok(s)
    }

    /// Declare a net to be driven later with [`ModuleBuilder::drive`] (for feedback and
    /// forward references).
    pub fn wire(&mut self, name: &str, width: u32, signed: bool) -> RtlResult<Sig> {
        self.check_width(width, &format!("wire `{name}`"))?;
        let s = self.push(NodeKind::Wire(None), width, signed);
        self.name_sig(s, name)
    }

    /// Drive a net declared with [`ModuleBuilder::wire`].
    pub fn drive(&mut self, wire: Sig, src: Sig) -> RtlResult<()> {
        self.own(wire, "drive target")?;
        self.own(src, "drive source")?;
        self.same_type("drive", wire, src)?;
        let desc = self.describe(wire);
        match &mut self.nodes[wire.id as usize].kind {
            NodeKind::Wire(d @ None) => {
                *d = Some(src);
                Ok(())
            }
            NodeKind::Wire(Some(_)) => self.err(format!("wire {desc} is driven twice")),
            _ => self.err(format!("{desc} is not a wire declared with wire()")),
        }
    }

    /// Check that every register, wire and output is driven, and freeze the module.
    pub fn finish(self) -> RtlResult<Module> {
        if !is_identifier(&self.name) {
            return self.err("module name is not a Verilog identifier");
        }
        for r in &self.regs {
            if r.d.is_none() {
                let q = Sig {
                    builder: self.id,
                    id: r.q,
                    width: 0,
                    signed: false,
                };
                return self.err(format!(
                    "register {} is never connected",
                    self.describe(Sig {
                        width: self.nodes[r.q as usize].width,
                        ..q
                    })
                ));
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if matches!(n.kind, NodeKind::Wire(None)) {
                let s = Sig {
                    builder: self.id,
                    id: i as u32,
                    width: n.width,
                    signed: n.signed,
                };
                return self.err(format!("wire {} is never driven", self.describe(s)));
            }
        }
        for m in &self.mems {
            if m.writes.is_empty() && m.spec.init.is_none() {
                return self.err(format!(
                    "memory `{}` has no write port and no initial contents",
                    m.spec.name
                ));
            }
        }
        let has_reset = self.child_reset || self.regs.iter().any(|r| r.opts.reset.is_some());
        let has_clock =
            self.uses_clock || self.child_clock || !self.regs.is_empty() || !self.mems.is_empty();
        Ok(Module {
            name: self.name,
            doc: self.doc,
            ports: self.ports,
            port_nodes: self.port_nodes,
            nodes: self.nodes,
            regs: self.regs,
            mems: self.mems,
            insts: self.insts,
            prims: self.prims,
            port_attrs: self.port_attrs,
            interfaces: self.interfaces,
            has_clock,
            has_reset,
        })
    }

    pub(crate) fn same_type(&self, what: &str, a: Sig, b: Sig) -> RtlResult<()> {
        if a.width != b.width || a.signed != b.signed {
            return self.err(format!(
                "{what}: width or signedness mismatch: {} vs {}",
                self.describe(a),
                self.describe(b)
            ));
        }
        Ok(())
    }
}
