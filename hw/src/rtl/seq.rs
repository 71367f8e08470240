//! Sequential elements of the builder: registers (optional synchronous reset and
//! clock enable, `delay` pipelines) and synchronous-read memories (RAM and ROM written
//! so that Yosys and Vivado infer block or distributed RAM).

use super::error::RtlResult;
use super::module::{ModuleBuilder, NodeKind, Sig};
use super::value::Value;

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

/// Where synthesis should place a memory. Emitted as Vivado's (and Yosys')
/// `ram_style` attribute for a RAM, `rom_style` for a ROM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemStyle {
    /// Block RAM (RAMB18/RAMB36, DP16KD).
    Block,
    /// LUT RAM (distributed).
    Distributed,
    /// UltraRAM (UltraScale+ only; RAMs only).
    Ultra,
}

impl MemStyle {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            MemStyle::Block => "block",
            MemStyle::Distributed => "distributed",
            MemStyle::Ultra => "ultra",
        }
    }
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
    /// Placement hint for synthesis; `None` lets the tool choose.
    pub style: Option<MemStyle>,
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
    /// (read-data node, address) of asynchronous read ports.
    pub async_reads: Vec<(u32, Sig)>,
}

impl ModuleBuilder {
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

    /// `d` delayed by `n` cycles through registers with a synchronous reset to zero
    /// (for valid bits and other control that must be clean after reset), named
    /// `<name>_d1` .. `<name>_d<n>`.
    pub fn delay_reset(&mut self, d: Sig, n: u32, name: &str) -> RtlResult<Sig> {
        let mut s = d;
        for i in 1..=n {
            let w = s.width();
            s = self.reg_next(&format!("{name}_d{i}"), s, RegOpts::new().reset_zero(w))?;
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
            async_reads: Vec::new(),
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

    /// Add an asynchronous read port: `mem[addr]` in the same cycle. Synthesis maps
    /// such a memory to distributed (LUT) RAM; use it for small FIFOs only.
    pub fn mem_read_async(&mut self, mem: Mem, addr: Sig) -> RtlResult<Sig> {
        self.check_addr(mem, addr)?;
        let port = self.mems[mem.index].async_reads.len();
        let signed = self.mems[mem.index].spec.signed;
        let s = self.push(
            NodeKind::MemReadAsync {
                mem: mem.index,
                port,
            },
            mem.width,
            signed,
        );
        let name = format!("{}_ard{port}", self.mems[mem.index].spec.name);
        let s = self.name_sig(s, &name)?;
        self.mems[mem.index].async_reads.push((s.id, addr));
        Ok(s)
    }
}
