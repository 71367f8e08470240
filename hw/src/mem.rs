//! RAMs and ROMs with a registered output, per vendor.
//!
//! Every accgen memory is a module `accgen_{ram,rom}_<vendor>_d<depth>_w<width>...`:
//! - RAM ports: `we`, `waddr`, `wdata` (one write port) and `re`, `raddr`, `oe`,
//!   `rdata` (one read port); a ROM has only the read port;
//! - read latency 2: `raddr` with `re` at an edge loads the read register, `oe` at the
//!   next edge loads the output register, whose value is `rdata`. The output register
//!   is the one block RAMs have next to the array (Xilinx DOA_REG, ECP5 OUTREG), so
//!   `rdata` leaves the block with a short clock-to-out;
//! - a write is visible to reads issued from the next cycle on; a read of the address
//!   written in the same cycle returns the old word (callers avoid it).
//!
//! Vendors: `generic` and `xilinx` infer the memory (`xilinx` adds `ram_style` /
//! `rom_style`); `ecp5` tiles DP16KD blocks in 1024 x 18 mode, REGMODE = OUTREG, with
//! ROM contents in INITVAL parameters, and selects the bank of a deep memory after the
//! output registers.
//!
//! ```text
//!  raddr ─▶[mem]─(re)─▶[read reg]─(oe)─▶[out reg]─▶ rdata
//! ```

use std::rc::Rc;

use crate::rtl::{
    Library, MemSpec, MemStyle, Module, ModuleBuilder, ParamValue, RegOpts, RtlError, RtlResult,
    Sig, Value,
};
use crate::vendor::Vendor;

/// Read latency of every accgen memory, in cycles.
pub const MEM_READ_LATENCY: u32 = 2;

/// Words per DP16KD in 18-bit mode.
const EBR_DEPTH: usize = 1024;
/// Bits per DP16KD word in 18-bit mode.
const EBR_WIDTH: u32 = 18;

/// What to build.
#[derive(Debug, Clone)]
pub struct MemoryConfig {
    /// Words, 1..=2^20.
    pub depth: usize,
    /// Bits per word, 1..=4096.
    pub width: u32,
    /// ROM contents (exactly `depth` words of `width` bits); `None` makes a RAM.
    pub init: Option<Vec<Value>>,
    /// Placement hint (emitted for the `xilinx` vendor).
    pub style: Option<MemStyle>,
}

fn addr_bits(depth: usize) -> u32 {
    (usize::BITS - (depth.max(2) - 1).leading_zeros()).max(1)
}

/// Module name: kind, vendor, shape, style and (for a ROM) a hash of the contents.
pub fn memory_name(cfg: &MemoryConfig, vendor: Vendor) -> String {
    let style = match cfg.style {
        Some(s) if vendor == Vendor::Xilinx => format!("_{}", &s.as_str()[..1]),
        _ => String::new(),
    };
    match &cfg.init {
        None => format!("accgen_ram_{vendor}_d{}_w{}{style}", cfg.depth, cfg.width),
        Some(words) => {
            let mut h = accgen_golden::hash::ContentHasher::new();
            for w in words {
                h.update(w.to_hex().as_bytes());
            }
            format!(
                "accgen_rom_{vendor}_d{}_w{}{style}_{}",
                cfg.depth,
                cfg.width,
                &h.hex()[..10]
            )
        }
    }
}

/// Build (or fetch) the memory module for `cfg` on `lib`'s vendor.
pub fn memory(lib: &mut Library, cfg: &MemoryConfig) -> RtlResult<Rc<Module>> {
    let vendor = lib.vendor();
    let name = memory_name(cfg, vendor);
    let err = |message: String| RtlError {
        module: name.clone(),
        message,
    };
    if cfg.depth == 0 || cfg.depth > 1 << 20 {
        return Err(err(format!(
            "depth {} is outside the allowed range 1..=1048576",
            cfg.depth
        )));
    }
    if let Some(init) = &cfg.init {
        if init.len() != cfg.depth || init.iter().any(|v| v.width() != cfg.width) {
            return Err(err(format!(
                "ROM contents must be {} words of {} bits",
                cfg.depth, cfg.width
            )));
        }
    }
    lib.get_or_build(&name.clone(), |_| {
        let mut m = ModuleBuilder::new(&name);
        m.doc(&format!(
            "{} of {} x {} bits, read latency {MEM_READ_LATENCY} (read and output registers), vendor {vendor}.",
            if cfg.init.is_some() { "ROM" } else { "RAM" },
            cfg.depth,
            cfg.width
        ));
        let ab = addr_bits(cfg.depth);
        let write = if cfg.init.is_none() {
            Some((
                m.input("we", 1, false)?,
                m.input("waddr", ab, false)?,
                m.input("wdata", cfg.width, false)?,
            ))
        } else {
            None
        };
        let re = m.input("re", 1, false)?;
        let raddr = m.input("raddr", ab, false)?;
        let oe = m.input("oe", 1, false)?;
        let q = match vendor {
            Vendor::Generic | Vendor::Xilinx => {
                let mem = m.memory(MemSpec {
                    name: "mem".into(),
                    depth: cfg.depth,
                    width: cfg.width,
                    signed: false,
                    init: cfg.init.clone(),
                    style: if vendor == Vendor::Xilinx {
                        cfg.style
                    } else {
                        None
                    },
                })?;
                if let Some((we, wa, wd)) = write {
                    let wa = m.resize(wa, mem.addr_bits())?;
                    m.mem_write(mem, we, wa, wd)?;
                }
                let ra = m.resize(raddr, mem.addr_bits())?;
                let rd = m.mem_read(mem, ra, Some(re))?;
                m.reg_next("rdata_q", rd, RegOpts::new().enable(oe))?
            }
            Vendor::Ecp5 => ebr_array(&mut m, cfg, write, re, raddr, oe)?,
        };
        m.output("rdata", q)?;
        m.finish()
    })
}

/// The DP16KD tiling of `cfg` (see module docs).
fn ebr_array(
    m: &mut ModuleBuilder,
    cfg: &MemoryConfig,
    write: Option<(Sig, Sig, Sig)>,
    re: Sig,
    raddr: Sig,
    oe: Sig,
) -> RtlResult<Sig> {
    let cols = cfg.width.div_ceil(EBR_WIDTH);
    let banks = cfg.depth.div_ceil(EBR_DEPTH);
    let clk = m.clock();
    let zero = m.const_u(1, 0)?;
    let one = m.const_u(1, 1)?;
    // Word address inside a bank (10 bits) and bank index.
    let ra_low = word_in_bank(m, raddr)?;
    let wparts = match write {
        Some((we, wa, wd)) => {
            let wl = word_in_bank(m, wa)?;
            let wb = bank_index(m, wa, banks)?;
            let wd = m.zext(wd, cols * EBR_WIDTH)?;
            Some((we, wl, wb, wd))
        }
        None => None,
    };
    let rbank = bank_index(m, raddr, banks)?;
    let mut bank_outs: Vec<Sig> = Vec::with_capacity(banks);
    for b in 0..banks {
        let mut parts: Vec<Sig> = Vec::with_capacity(cols as usize);
        for c in 0..cols {
            let mut ins: Vec<(String, Sig)> = Vec::new();
            // Port A: write (or idle for a ROM).
            let (wea, adra, dia) = match &wparts {
                Some((we, wl, wb, wd)) => {
                    let sel = match wb {
                        Some(bk) => {
                            let k = m.const_u(bk.width(), b as u128)?;
                            let hit = m.eq(*bk, k)?;
                            m.and(*we, hit)?
                        }
                        None => *we,
                    };
                    let d = m.slice(*wd, (c + 1) * EBR_WIDTH - 1, c * EBR_WIDTH)?;
                    (sel, Some(*wl), Some(d))
                }
                None => (zero, None, None),
            };
            ins.push(("CLKA".into(), clk));
            ins.push(("CEA".into(), wea));
            ins.push(("WEA".into(), wea));
            ins.push(("OCEA".into(), zero));
            ins.push(("RSTA".into(), zero));
            ins.push(("CLKB".into(), clk));
            ins.push(("CEB".into(), re));
            ins.push(("WEB".into(), zero));
            ins.push(("OCEB".into(), oe));
            ins.push(("RSTB".into(), zero));
            for p in ["CSA0", "CSA1", "CSA2", "CSB0", "CSB1", "CSB2"] {
                ins.push((p.into(), zero));
            }
            // x18 mode: AD[1:0] are byte write enables, AD[3:2] unused, AD[13:4] word.
            for i in 0..14u32 {
                let a = match (i, adra) {
                    (0 | 1, Some(_)) => one,
                    (4.., Some(w)) => m.bit(w, i - 4)?,
                    _ => zero,
                };
                ins.push((format!("ADA{i}"), a));
                let bsig = if i >= 4 { m.bit(ra_low, i - 4)? } else { zero };
                ins.push((format!("ADB{i}"), bsig));
            }
            for i in 0..EBR_WIDTH {
                let d = match dia {
                    Some(d) => m.bit(d, i)?,
                    None => zero,
                };
                ins.push((format!("DIA{i}"), d));
                ins.push((format!("DIB{i}"), zero));
            }
            let mut params = vec![
                ("DATA_WIDTH_A", ParamValue::Int(18)),
                ("DATA_WIDTH_B", ParamValue::Int(18)),
                ("REGMODE_A", ParamValue::Str("NOREG".into())),
                ("REGMODE_B", ParamValue::Str("OUTREG".into())),
                ("RESETMODE", ParamValue::Str("SYNC".into())),
                ("CSDECODE_A", ParamValue::Str("0b000".into())),
                ("CSDECODE_B", ParamValue::Str("0b000".into())),
                ("WRITEMODE_A", ParamValue::Str("NORMAL".into())),
                ("WRITEMODE_B", ParamValue::Str("NORMAL".into())),
                ("GSR", ParamValue::Str("DISABLED".into())),
            ];
            let initvals: Vec<(String, ParamValue)> = match &cfg.init {
                Some(words) => initval(words, b, c),
                None => Vec::new(),
            };
            for (k, v) in &initvals {
                params.push((k.as_str(), v.clone()));
            }
            let refs: Vec<(&str, Sig)> = ins.iter().map(|(p, s)| (p.as_str(), *s)).collect();
            // Port A's read data is unused but connected (every model pin is).
            let outs: Vec<(String, u32)> = (0..EBR_WIDTH)
                .map(|i| (format!("DOB{i}"), 1))
                .chain((0..EBR_WIDTH).map(|i| (format!("DOA{i}"), 1)))
                .collect();
            let orefs: Vec<(&str, u32)> = outs.iter().map(|(p, w)| (p.as_str(), *w)).collect();
            let bits = m.primitive("DP16KD", &format!("ebr_b{b}_c{c}"), params, &refs, &orefs)?;
            let mut msb_first = bits[..EBR_WIDTH as usize].to_vec();
            msb_first.reverse();
            parts.push(m.concat(&msb_first)?);
        }
        parts.reverse();
        let word = m.concat(&parts)?;
        bank_outs.push(m.resize(word, cfg.width)?);
    }
    match rbank {
        None => Ok(bank_outs[0]),
        Some(bk) => {
            // The bank index follows the data through the read and output registers.
            let b1 = m.reg_next("rbank_1", bk, RegOpts::new().enable(re))?;
            let b2 = m.reg_next("rbank_2", b1, RegOpts::new().enable(oe))?;
            m.select(b2, &bank_outs)
        }
    }
}

/// The word address inside a 1024-word bank (10 bits).
fn word_in_bank(m: &mut ModuleBuilder, a: Sig) -> RtlResult<Sig> {
    let l = if a.width() > 10 { m.slice(a, 9, 0)? } else { a };
    m.zext(l, 10)
}

/// The bank index of an address, when there is more than one bank.
fn bank_index(m: &mut ModuleBuilder, a: Sig, banks: usize) -> RtlResult<Option<Sig>> {
    Ok(if banks > 1 {
        Some(m.slice(a, a.width() - 1, 10)?)
    } else {
        None
    })
}

/// INITVAL parameters of bank `b`, column `c`: word `16k + i` of the block in bits
/// `[20i +: 18]` of INITVAL_k (only non-zero parameters are emitted).
fn initval(words: &[Value], b: usize, c: u32) -> Vec<(String, ParamValue)> {
    let mut out = Vec::new();
    for k in 0..64usize {
        let mut bits = vec![0u64; 5];
        let mut any = false;
        for i in 0..16usize {
            let w = b * EBR_DEPTH + k * 16 + i;
            let Some(v) = words.get(w) else { continue };
            for j in 0..EBR_WIDTH {
                let src = c * EBR_WIDTH + j;
                if src < v.width() && v.bit(src) {
                    let dst = (20 * i) as u32 + j;
                    bits[(dst / 64) as usize] |= 1 << (dst % 64);
                    any = true;
                }
            }
        }
        if any {
            out.push((
                format!("INITVAL_{k:02X}"),
                ParamValue::Bits(Value::from_words_truncating(320, &bits)),
            ));
        }
    }
    out
}

/// Instantiate the memory of `cfg` in `m` as `inst` and return `rdata` (UInt). `write`
/// is `(we, waddr, wdata)` for a RAM and `None` for a ROM.
#[allow(clippy::too_many_arguments)]
pub fn instantiate(
    m: &mut ModuleBuilder,
    lib: &mut Library,
    inst: &str,
    cfg: &MemoryConfig,
    write: Option<(Sig, Sig, Sig)>,
    re: Sig,
    raddr: Sig,
    oe: Sig,
) -> RtlResult<Sig> {
    let module = memory(lib, cfg)?;
    let ab = addr_bits(cfg.depth);
    let raddr = m.zext(raddr, ab)?;
    let mut conns: Vec<(&str, Sig)> = vec![("re", re), ("raddr", raddr), ("oe", oe)];
    if let Some((we, wa, wd)) = write {
        let wa = m.zext(wa, ab)?;
        conns.extend([("we", we), ("waddr", wa), ("wdata", wd.as_unsigned())]);
    }
    m.instance(&module, inst, &conns)?.out("rdata")
}

/// Address width of a memory of `depth` words (at least 1).
pub fn mem_addr_bits(depth: usize) -> u32 {
    addr_bits(depth)
}
