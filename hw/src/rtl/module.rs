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
use super::value::{Value, MAX_WIDTH};

static NEXT_BUILDER_ID: AtomicU32 = AtomicU32::new(1);

/// Direction of a module port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// Driven from outside the module.
    Input,
    /// Driven by the module.
    Output,
}

/// Queryable port metadata: what the simulation harness and testbench exporter read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PortInfo {
    /// Port name as emitted in Verilog.
    pub name: String,
    /// Input or output.
    pub dir: Dir,
    /// Width in bits, 1..=1024.
    pub width: u32,
    /// True when the port carries a two's-complement number.
    pub signed: bool,
}

/// A handle to a net of a module under construction. Cheap to copy; it records the
/// width and signedness so they can be read without the builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sig {
    pub(crate) builder: u32,
    pub(crate) id: u32,
    pub(crate) width: u32,
    pub(crate) signed: bool,
}

impl Sig {
    /// Width in bits.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// True for SInt, false for UInt.
    pub fn signed(&self) -> bool {
        self.signed
    }

    /// The same bits read as two's complement (no hardware).
    pub fn as_signed(self) -> Sig {
        Sig {
            signed: true,
            ..self
        }
    }

    /// The same bits read as unsigned (no hardware).
    pub fn as_unsigned(self) -> Sig {
        Sig {
            signed: false,
            ..self
        }
    }
}

/// Exact-width two-operand operators (both operands and the result share one width).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// Wrapping addition.
    Add,
    /// Wrapping subtraction.
    Sub,
    /// Bitwise and.
    And,
    /// Bitwise or.
    Or,
    /// Bitwise exclusive or.
    Xor,
}

/// Comparisons; the result is one unsigned bit. Ordering respects signedness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
}

/// Shift kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShiftOp {
    /// Left shift, zeros in.
    Shl,
    /// Logical right shift, zeros in.
    Shr,
    /// Arithmetic right shift, copies of the top bit in.
    Sra,
}

/// Reduction operators over all bits of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// 1 when every bit is 1.
    And,
    /// 1 when any bit is 1.
    Or,
    /// Parity.
    Xor,
}

/// Shift amount: a constant or an unsigned signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShiftAmt {
    /// Fixed amount.
    Const(u32),
    /// Amount taken from an unsigned signal at run time.
    Sig(Sig),
}

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
    InstOut,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub width: u32,
    pub signed: bool,
    pub name: Option<String>,
}

/// Options of a register: synchronous reset value and clock enable. Default: neither,
/// which lets Xilinx tools pack the register into a DSP48 or an SRL.
#[derive(Debug, Clone, Default)]
pub struct RegOpts {
    /// Value loaded when the active-high synchronous `rst` is 1.
    pub reset: Option<Value>,
    /// One-bit clock enable; the register holds when it is 0.
    pub enable: Option<Sig>,
}

impl RegOpts {
    /// No reset, no enable.
    pub fn new() -> RegOpts {
        RegOpts::default()
    }

    /// Reset to the all-zero value of the register's width.
    pub fn reset_zero(mut self, width: u32) -> RegOpts {
        self.reset = Some(Value::zero(width));
        self
    }

    /// Reset to `v`.
    pub fn reset_to(mut self, v: Value) -> RegOpts {
        self.reset = Some(v);
        self
    }

    /// Clock enable.
    pub fn enable(mut self, en: Sig) -> RegOpts {
        self.enable = Some(en);
        self
    }
}

/// A register declared with [`ModuleBuilder::reg`]; drive it once with
/// [`ModuleBuilder::connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reg {
    pub(crate) index: usize,
    /// The register output.
    pub q: Sig,
}

#[derive(Debug, Clone)]
pub(crate) struct RegDef {
    pub q: u32,
    pub d: Option<Sig>,
    pub opts: RegOpts,
}

/// Shape and contents of a memory declared with [`ModuleBuilder::memory`].
#[derive(Debug, Clone)]
pub struct MemSpec {
    /// Name hint for the storage array.
    pub name: String,
    /// Number of words, 1..=2^24.
    pub depth: usize,
    /// Bits per word.
    pub width: u32,
    /// Signedness of the read data.
    pub signed: bool,
    /// Initial contents (ROM tables); `None` leaves the RAM uninitialised.
    pub init: Option<Vec<Value>>,
}

/// A memory handle; see [`ModuleBuilder::mem_write`] and [`ModuleBuilder::mem_read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mem {
    pub(crate) index: usize,
    addr_bits: u32,
    width: u32,
}

impl Mem {
    /// Address width in bits: ceil(log2(depth)), at least 1.
    pub fn addr_bits(&self) -> u32 {
        self.addr_bits
    }
}

#[derive(Debug, Clone)]
pub(crate) struct MemDef {
    pub spec: MemSpec,
    pub writes: Vec<(Sig, Sig, Sig)>,
    /// (read-data node, address, enable)
    pub reads: Vec<(u32, Sig, Option<Sig>)>,
}

#[derive(Debug, Clone)]
pub(crate) struct InstDef {
    pub name: String,
    pub module: Rc<Module>,
    /// One entry per child port, in the child's port order: the driving signal for
    /// inputs, the InstOut node for outputs.
    pub conns: Vec<Sig>,
}

/// The outputs of a submodule instance, by child port name.
#[derive(Debug, Clone)]
pub struct Instance {
    name: String,
    module: String,
    outputs: Vec<(String, Sig)>,
}

impl Instance {
    /// The parent-side net of child output `port`.
    pub fn out(&self, port: &str) -> RtlResult<Sig> {
        self.outputs
            .iter()
            .find(|(n, _)| n == port)
            .map(|(_, s)| *s)
            .ok_or_else(|| RtlError {
                module: self.module.clone(),
                message: format!(
                    "instance `{}` has no output port `{port}` (outputs: {})",
                    self.name,
                    self.outputs
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }
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
}

/// Builds one module. See the crate docs for an example.
pub struct ModuleBuilder {
    pub(crate) id: u32,
    pub(crate) name: String,
    doc: Vec<String>,
    ports: Vec<PortInfo>,
    port_nodes: Vec<Sig>,
    pub(crate) nodes: Vec<Node>,
    regs: Vec<RegDef>,
    mems: Vec<MemDef>,
    insts: Vec<InstDef>,
    child_clock: bool,
    child_reset: bool,
    /// Structural hashing of pure combinational nodes: building the same expression
    /// twice yields one net.
    cse: HashMap<(NodeKind, u32, bool), u32>,
}

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

    fn check_port_name(&self, name: &str) -> RtlResult<()> {
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

    /// Declare a register of `width` bits; its output is `Reg::q`.
    pub fn reg(&mut self, name: &str, width: u32, signed: bool, opts: RegOpts) -> RtlResult<Reg> {
        self.check_width(width, &format!("register `{name}`"))?;
        if let Some(r) = &opts.reset {
            if r.width() != width {
                return self.err(format!(
                    "register `{name}`: reset value is {} bits but the register is {width}",
                    r.width()
                ));
            }
        }
        if let Some(en) = opts.enable {
            self.own(en, &format!("register `{name}` enable"))?;
            if en.width != 1 {
                return self.err(format!(
                    "register `{name}`: enable {} must be 1 bit",
                    self.describe(en)
                ));
            }
        }
        let index = self.regs.len();
        let q = self.push(NodeKind::RegQ(index), width, signed);
        let q = self.name_sig(q, name)?;
        self.regs.push(RegDef {
            q: q.id,
            d: None,
            opts,
        });
        Ok(Reg { index, q })
    }

    /// Set the next-state input of a register (exactly once).
    pub fn connect(&mut self, reg: Reg, d: Sig) -> RtlResult<()> {
        self.own(reg.q, "register")?;
        self.own(d, "register input")?;
        self.same_type("register input", reg.q, d)?;
        if self.regs[reg.index].d.is_some() {
            let desc = self.describe(reg.q);
            return self.err(format!("register {desc} is connected twice"));
        }
        self.regs[reg.index].d = Some(d);
        Ok(())
    }

    /// A register whose next state is `d`, named `name`.
    pub fn reg_next(&mut self, name: &str, d: Sig, opts: RegOpts) -> RtlResult<Sig> {
        let r = self.reg(name, d.width, d.signed, opts)?;
        self.connect(r, d)?;
        Ok(r.q)
    }

    /// `d` delayed by `n` clock cycles through plain registers (no reset, no enable),
    /// named `<name>_d1` .. `<name>_d<n>`. `n = 0` returns `d` itself.
    pub fn delay(&mut self, d: Sig, n: u32, name: &str) -> RtlResult<Sig> {
        let mut s = d;
        for i in 1..=n {
            s = self.reg_next(&format!("{name}_d{i}"), s, RegOpts::new())?;
        }
        Ok(s)
    }

    /// Declare a synchronous-read memory (RAM, or ROM when it has `init` and no writes).
    pub fn memory(&mut self, spec: MemSpec) -> RtlResult<Mem> {
        self.check_width(spec.width, &format!("memory `{}`", spec.name))?;
        if spec.depth == 0 || spec.depth > 1 << 24 {
            return self.err(format!(
                "memory `{}`: depth {} is outside the allowed range 1..=16777216",
                spec.name, spec.depth
            ));
        }
        if let Some(init) = &spec.init {
            if init.len() != spec.depth {
                return self.err(format!(
                    "memory `{}`: {} initial values for depth {}",
                    spec.name,
                    init.len(),
                    spec.depth
                ));
            }
            if let Some((i, v)) = init
                .iter()
                .enumerate()
                .find(|(_, v)| v.width() != spec.width)
            {
                return self.err(format!(
                    "memory `{}`: initial value {i} is {} bits, words are {}",
                    spec.name,
                    v.width(),
                    spec.width
                ));
            }
        }
        let addr_bits = (usize::BITS - (spec.depth - 1).leading_zeros()).max(1);
        let index = self.mems.len();
        let width = spec.width;
        self.mems.push(MemDef {
            spec,
            writes: Vec::new(),
            reads: Vec::new(),
        });
        Ok(Mem {
            index,
            addr_bits,
            width,
        })
    }

    fn check_addr(&self, mem: Mem, addr: Sig) -> RtlResult<()> {
        self.own(addr, "memory address")?;
        if addr.width != mem.addr_bits || addr.signed {
            return self.err(format!(
                "memory `{}`: address {} must be {} bits UInt",
                self.mems[mem.index].spec.name,
                self.describe(addr),
                mem.addr_bits
            ));
        }
        Ok(())
    }

    fn check_bit(&self, s: Sig, what: &str) -> RtlResult<()> {
        self.own(s, what)?;
        if s.width != 1 {
            return self.err(format!("{what} {} must be 1 bit", self.describe(s)));
        }
        Ok(())
    }

    /// Add a synchronous write port: `mem[addr] <= data` on clock edges where `en` is 1.
    pub fn mem_write(&mut self, mem: Mem, en: Sig, addr: Sig, data: Sig) -> RtlResult<()> {
        self.check_bit(en, "memory write enable")?;
        self.check_addr(mem, addr)?;
        self.own(data, "memory write data")?;
        if data.width != mem.width {
            return self.err(format!(
                "memory `{}`: write data {} must be {} bits",
                self.mems[mem.index].spec.name,
                self.describe(data),
                mem.width
            ));
        }
        self.mems[mem.index].writes.push((en, addr, data));
        Ok(())
    }

    /// Add a synchronous read port: the data of `addr` appears one cycle later. With
    /// `en`, the read register holds while `en` is 0.
    pub fn mem_read(&mut self, mem: Mem, addr: Sig, en: Option<Sig>) -> RtlResult<Sig> {
        self.check_addr(mem, addr)?;
        if let Some(e) = en {
            self.check_bit(e, "memory read enable")?;
        }
        let port = self.mems[mem.index].reads.len();
        let signed = self.mems[mem.index].spec.signed;
        let s = self.push(
            NodeKind::MemRead {
                mem: mem.index,
                port,
            },
            mem.width,
            signed,
        );
        let name = format!("{}_rd{port}", self.mems[mem.index].spec.name);
        let s = self.name_sig(s, &name)?;
        self.mems[mem.index].reads.push((s.id, addr, en));
        Ok(s)
    }

    /// Instantiate a finished module. Every child input must appear in `inputs` with
    /// the child's exact width and signedness; `clk` and `rst` are connected implicitly.
    pub fn instance(
        &mut self,
        child: &Rc<Module>,
        inst_name: &str,
        inputs: &[(&str, Sig)],
    ) -> RtlResult<Instance> {
        if !is_identifier(inst_name) {
            return self.err(format!(
                "instance name `{inst_name}` is not a Verilog identifier"
            ));
        }
        if self.insts.iter().any(|i| i.name == inst_name) {
            return self.err(format!("instance `{inst_name}` is declared twice"));
        }
        for (n, _) in inputs {
            match child.port(n) {
                Some(p) if p.dir == Dir::Input => {}
                _ => {
                    return self.err(format!(
                        "instance `{inst_name}` of `{}`: no input port `{n}`",
                        child.name
                    ))
                }
            }
            if inputs.iter().filter(|(m, _)| m == n).count() > 1 {
                return self.err(format!(
                    "instance `{inst_name}` of `{}`: input `{n}` connected twice",
                    child.name
                ));
            }
        }
        let mut conns = Vec::new();
        let mut outputs = Vec::new();
        for p in &child.ports {
            match p.dir {
                Dir::Input => {
                    let Some((_, s)) = inputs.iter().find(|(n, _)| *n == p.name) else {
                        return self.err(format!(
                            "instance `{inst_name}` of `{}`: input `{}` is not connected",
                            child.name, p.name
                        ));
                    };
                    self.own(*s, &format!("instance `{inst_name}` input `{}`", p.name))?;
                    if s.width != p.width || s.signed != p.signed {
                        return self.err(format!(
                            "instance `{inst_name}` of `{}`: input `{}` is {} bits {} but {} is connected",
                            child.name,
                            p.name,
                            p.width,
                            if p.signed { "SInt" } else { "UInt" },
                            self.describe(*s)
                        ));
                    }
                    conns.push(*s);
                }
                Dir::Output => {
                    let s = self.push(NodeKind::InstOut, p.width, p.signed);
                    let s = self.name_sig(s, &format!("{inst_name}_{}", p.name))?;
                    conns.push(s);
                    outputs.push((p.name.clone(), s));
                }
            }
        }
        self.child_clock |= child.has_clock;
        self.child_reset |= child.has_reset;
        self.insts.push(InstDef {
            name: inst_name.to_string(),
            module: child.clone(),
            conns,
        });
        Ok(Instance {
            name: inst_name.to_string(),
            module: self.name.clone(),
            outputs,
        })
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
        let has_clock = self.child_clock || !self.regs.is_empty() || !self.mems.is_empty();
        Ok(Module {
            name: self.name,
            doc: self.doc,
            ports: self.ports,
            port_nodes: self.port_nodes,
            nodes: self.nodes,
            regs: self.regs,
            mems: self.mems,
            insts: self.insts,
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
