//! AXI4-Stream in the RTL builder: the stream type, lane packing, port declaration,
//! and the elastic helpers every unit top uses (register slice, FIFO, credit gate).
//!
//! Conventions (GUIDE §7): ports `s_axis[_<name>]_{tdata,tvalid,tready,tlast,tuser}`
//! in and `m_axis[_<name>]_*` out; a beat moves when `tvalid && tready`; lane i of
//! `tdata` sits above lane i-1 (lane 0 in the LSBs), each lane field padded to whole
//! bytes and sign- or zero-extended, so `tdata` is a multiple of 8 bits.
//!
//! Helpers, all full-throughput (one beat per cycle) with registered outputs:
//! - [`skid`]: a two-entry register slice; `tready` upstream is a register;
//! - [`fifo`]: a first-word-fall-through FIFO on LUT RAM (asynchronous read) or on
//!   block RAM ([`crate::mem`], read latency 2, prefetched), with a registered output;
//! - [`credit_gate`]: `tready` for a free-running fixed-latency pipeline that feeds a
//!   FIFO: a beat is accepted only while the FIFO is sure to have room for it, so the
//!   pipeline never stalls (no clock enable fans out over the datapath).

use crate::mem::{self, MemoryConfig};
use crate::rtl::{
    Interface, Library, MemSpec, MemStyle, ModuleBuilder, RegOpts, RtlResult, Sig, Value,
};

/// One AXI4-Stream channel inside a module (the signals of its source side).
#[derive(Debug, Clone, Copy)]
pub struct Axis {
    /// `tdata`.
    pub data: Sig,
    /// `tvalid`.
    pub valid: Sig,
    /// `tlast`, when the stream has one.
    pub last: Option<Sig>,
    /// `tuser`, when the stream has one.
    pub user: Option<Sig>,
}

/// The layout of lanes in `tdata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lanes {
    /// Number of lanes.
    pub count: u32,
    /// Value bits per lane.
    pub bits: u32,
    /// Two's complement lanes (sign-extended padding) or unsigned (zero padding).
    pub signed: bool,
}

impl Lanes {
    /// `count` lanes of `bits`-bit values.
    pub fn new(count: u32, bits: u32, signed: bool) -> Lanes {
        Lanes {
            count,
            bits,
            signed,
        }
    }

    /// Bits of one padded lane field: `bits` rounded up to whole bytes.
    pub fn field_bits(&self) -> u32 {
        self.bits.div_ceil(8) * 8
    }

    /// Width of `tdata`.
    pub fn tdata_bits(&self) -> u32 {
        self.count * self.field_bits()
    }

    /// Description for interface metadata, e.g. `16 x int8 in 8-bit fields`.
    pub fn describe(&self) -> String {
        format!(
            "{} x {}{} in {}-bit fields, lane 0 in the LSBs",
            self.count,
            if self.signed { "int" } else { "uint" },
            self.bits,
            self.field_bits()
        )
    }
}

/// Pack `values` (lane 0 first) into `tdata`: each lane extended to its field width by
/// its own signedness, lane 0 in the LSBs.
pub fn pack(m: &mut ModuleBuilder, values: &[Sig]) -> RtlResult<Sig> {
    let mut fields: Vec<Sig> = Vec::with_capacity(values.len());
    for v in values.iter().rev() {
        let fb = v.width().div_ceil(8) * 8;
        fields.push(m.resize(*v, fb)?);
    }
    m.concat(&fields)
}

/// The lanes of `tdata` (lane 0 first): the low `bits` of each field, typed.
pub fn unpack(m: &mut ModuleBuilder, tdata: Sig, lanes: Lanes) -> RtlResult<Vec<Sig>> {
    let fb = lanes.field_bits();
    (0..lanes.count)
        .map(|i| {
            let s = m.slice(tdata, i * fb + lanes.bits - 1, i * fb)?;
            Ok(if lanes.signed { s.as_signed() } else { s })
        })
        .collect()
}

fn port_name(prefix: &str, role: &str) -> String {
    format!("{prefix}_{role}")
}

/// Declare the slave ports `<prefix>_t*` (prefix `s_axis` or `s_axis_<name>`). Returns
/// the incoming stream and the `tready` wire, to be driven with
/// [`ModuleBuilder::drive`].
pub fn slave_ports(
    m: &mut ModuleBuilder,
    prefix: &str,
    data_bits: u32,
    last: bool,
    user_bits: Option<u32>,
    params: Vec<(String, String)>,
) -> RtlResult<(Axis, Sig)> {
    let data = m.input(&port_name(prefix, "tdata"), data_bits, false)?;
    let valid = m.input(&port_name(prefix, "tvalid"), 1, false)?;
    let ready = m.wire(&format!("{prefix}_ready_w"), 1, false)?;
    m.output(&port_name(prefix, "tready"), ready)?;
    let last = if last {
        Some(m.input(&port_name(prefix, "tlast"), 1, false)?)
    } else {
        None
    };
    let user = match user_bits {
        Some(w) => Some(m.input(&port_name(prefix, "tuser"), w, false)?),
        None => None,
    };
    record(
        m,
        prefix,
        "axis_slave",
        last.is_some(),
        user.is_some(),
        params,
    )?;
    Ok((
        Axis {
            data,
            valid,
            last,
            user,
        },
        ready,
    ))
}

/// Declare the master ports `<prefix>_t*` driven by `s`; returns the `tready` input.
pub fn master_ports(
    m: &mut ModuleBuilder,
    prefix: &str,
    s: &Axis,
    params: Vec<(String, String)>,
) -> RtlResult<Sig> {
    m.output(&port_name(prefix, "tdata"), s.data)?;
    m.output(&port_name(prefix, "tvalid"), s.valid)?;
    let ready = m.input(&port_name(prefix, "tready"), 1, false)?;
    if let Some(l) = s.last {
        m.output(&port_name(prefix, "tlast"), l)?;
    }
    if let Some(u) = s.user {
        m.output(&port_name(prefix, "tuser"), u)?;
    }
    record(
        m,
        prefix,
        "axis_master",
        s.last.is_some(),
        s.user.is_some(),
        params,
    )?;
    Ok(ready)
}

fn record(
    m: &mut ModuleBuilder,
    prefix: &str,
    kind: &str,
    last: bool,
    user: bool,
    params: Vec<(String, String)>,
) -> RtlResult<()> {
    let mut ports = vec![
        ("tdata".to_string(), port_name(prefix, "tdata")),
        ("tvalid".to_string(), port_name(prefix, "tvalid")),
        ("tready".to_string(), port_name(prefix, "tready")),
    ];
    if last {
        ports.push(("tlast".into(), port_name(prefix, "tlast")));
    }
    if user {
        ports.push(("tuser".into(), port_name(prefix, "tuser")));
    }
    m.interface(Interface {
        name: prefix.to_string(),
        kind: kind.to_string(),
        ports,
        params,
    })
}

/// Mark `clk` and `rst` as the clock and reset of the given stream interfaces, with
/// the attributes Vivado IP Integrator reads, and record them as interfaces.
pub fn clock_and_reset(m: &mut ModuleBuilder, busses: &[&str]) -> RtlResult<()> {
    m.port_attr(
        "clk",
        "X_INTERFACE_INFO",
        "xilinx.com:signal:clock:1.0 clk CLK",
    )?;
    m.port_attr(
        "clk",
        "X_INTERFACE_PARAMETER",
        &format!(
            "ASSOCIATED_BUSIF {}, ASSOCIATED_RESET rst",
            busses.join(":")
        ),
    )?;
    m.port_attr(
        "rst",
        "X_INTERFACE_INFO",
        "xilinx.com:signal:reset:1.0 rst RST",
    )?;
    m.port_attr("rst", "X_INTERFACE_PARAMETER", "POLARITY ACTIVE_HIGH")?;
    m.interface(Interface {
        name: "clk".into(),
        kind: "clock".into(),
        ports: vec![("clk".into(), "clk".into())],
        params: vec![("associated_busif".into(), busses.join(":"))],
    })?;
    m.interface(Interface {
        name: "rst".into(),
        kind: "reset".into(),
        ports: vec![("rst".into(), "rst".into())],
        params: vec![
            ("polarity".into(), "active_high".into()),
            ("synchronous".into(), "true".into()),
        ],
    })
}

/// Concatenate a stream's payload (data, then user and last above it) into one word.
fn payload(m: &mut ModuleBuilder, s: &Axis) -> RtlResult<Sig> {
    let mut parts = Vec::new();
    if let Some(l) = s.last {
        parts.push(l);
    }
    if let Some(u) = s.user {
        parts.push(u);
    }
    parts.push(s.data);
    m.concat(&parts)
}

/// Split a payload word back into a stream shaped like `like`.
fn unpayload(m: &mut ModuleBuilder, word: Sig, valid: Sig, like: &Axis) -> RtlResult<Axis> {
    let dw = like.data.width();
    let data = m.slice(word, dw - 1, 0)?;
    let mut at = dw;
    let user = match like.user {
        Some(u) => {
            let s = m.slice(word, at + u.width() - 1, at)?;
            at += u.width();
            Some(s)
        }
        None => None,
    };
    let last = match like.last {
        Some(_) => Some(m.bit(word, at)?),
        None => None,
    };
    Ok(Axis {
        data,
        valid,
        last,
        user,
    })
}

/// A 1-bit register `name` with a reset value (a control flag).
fn flag(m: &mut ModuleBuilder, name: &str, reset: bool) -> RtlResult<crate::rtl::Reg> {
    m.reg(
        name,
        1,
        false,
        RegOpts::new().reset_to(Value::from_u128(1, reset as u128).expect("1 bit")),
    )
}

/// Register slice (skid buffer) between `input` and a consumer whose `tready` is
/// `out_ready`. Returns the registered output stream and the upstream `tready`.
/// Full throughput; every output, `tready` included, comes straight from a register.
pub fn skid(
    m: &mut ModuleBuilder,
    name: &str,
    input: &Axis,
    out_ready: Sig,
) -> RtlResult<(Axis, Sig)> {
    let (out, rdy, _) = skid_impl(m, name, input, out_ready, None)?;
    Ok((out, rdy))
}

/// What a [`skid_early`] slice's output will hold next cycle.
pub struct SkidNext {
    /// The next `tlast` of the output (when the stream has one).
    pub last: Option<Sig>,
    /// The next upstream `tready`.
    pub ready: Sig,
}

/// [`skid`] for a consumer that knows its `tready` one cycle ahead:
/// `out_ready_next` is the value `out_ready` will have in the next cycle (the caller
/// registers it into `out_ready`; both reset to 1). The slice then registers its own
/// load enable as well, so the wide data registers are enabled straight from a
/// flip-flop rather than through logic. Returns the output stream, the upstream
/// `tready` and the output's next-cycle values, from which the consumer computes
/// `out_ready_next`.
pub fn skid_early(
    m: &mut ModuleBuilder,
    name: &str,
    input: &Axis,
    out_ready: Sig,
    out_ready_next: Sig,
) -> RtlResult<(Axis, Sig, SkidNext)> {
    skid_impl(m, name, input, out_ready, Some(out_ready_next))
}

fn skid_impl(
    m: &mut ModuleBuilder,
    name: &str,
    input: &Axis,
    out_ready: Sig,
    out_ready_next: Option<Sig>,
) -> RtlResult<(Axis, Sig, SkidNext)> {
    let word = payload(m, input)?;
    let one = Value::from_u128(1, 1).expect("1 fits");
    let ov = flag(m, &format!("{name}_ov"), false)?;
    let sv = flag(m, &format!("{name}_sv"), false)?;
    // tready = skid empty, kept as its own register.
    let rdy = m.reg(
        &format!("{name}_rdy"),
        1,
        false,
        RegOpts::new().reset_to(one.clone()),
    )?;
    let in_fire = m.and(input.valid, rdy.q)?;
    // can_out: the output register loads (it is empty or being taken).
    let early = match out_ready_next {
        Some(_) => Some(flag(m, &format!("{name}_load"), true)?),
        None => None,
    };
    let can_out = match &early {
        Some(r) => r.q,
        None => {
            let not_ov = m.not(ov.q)?;
            m.or(out_ready, not_ov)?
        }
    };
    let stall = m.not(can_out)?;
    // Skid register: follows the input while the skid is empty (`rdy`), so its
    // enable is a register output; `sv` records whether it holds a stalled beat.
    let to_skid = m.and(in_fire, stall)?;
    let sd = m.reg_next(&format!("{name}_sd"), word, RegOpts::new().enable(rdy.q))?;
    // Output register: from the skid when it is full, else from the input.
    let od_in = m.mux(sv.q, sd, word)?;
    let od = m.reg_next(&format!("{name}_od"), od_in, RegOpts::new().enable(can_out))?;
    let ov_in = m.or(sv.q, in_fire)?;
    let ov_next = m.mux(can_out, ov_in, ov.q)?;
    m.connect(ov, ov_next)?;
    let zero = m.const_u(1, 0)?;
    let sv_hold = m.or(sv.q, to_skid)?;
    let sv_next = m.mux(can_out, zero, sv_hold)?;
    m.connect(sv, sv_next)?;
    let rdy_next = m.not(sv_next)?;
    m.connect(rdy, rdy_next)?;
    let out = unpayload(m, od, ov.q, input)?;
    let last = match out.last {
        Some(_) => {
            let at = word.width() - 1;
            let in_last = m.bit(od_in, at)?;
            let held = m.bit(od, at)?;
            Some(m.mux(can_out, in_last, held)?)
        }
        None => None,
    };
    if let (Some(r), Some(next_ready)) = (early, out_ready_next) {
        // load' = out_ready' | !ov'.
        let not_ov_next = m.not(ov_next)?;
        let load_next = m.or(next_ready, not_ov_next)?;
        m.connect(r, load_next)?;
    }
    Ok((
        out,
        rdy.q,
        SkidNext {
            last,
            ready: rdy_next,
        },
    ))
}

/// An up/down counter `q` that moves by at most one per cycle (`inc`, `dec`), with
/// flags about its *next* value computed from comparisons of the current value with
/// constants, in parallel with the add: no carry chain feeds a flag.
pub(crate) struct UpDown {
    pub(crate) q: Sig,
    inc: Sig,
    dec: Sig,
}

impl UpDown {
    /// Every candidate is computed from the register; `dec` selects first and `inc`
    /// last, so `inc` (usually the latest-arriving signal, a handshake) is one mux
    /// level from the register input.
    pub(crate) fn new(
        m: &mut ModuleBuilder,
        name: &str,
        width: u32,
        inc: Sig,
        dec: Sig,
    ) -> RtlResult<UpDown> {
        let r = m.reg(name, width, false, RegOpts::new().reset_zero(width))?;
        let one = m.const_u(width, 1)?;
        let plus = m.add(r.q, one)?;
        let minus = m.sub(r.q, one)?;
        let if_inc = m.mux(dec, r.q, plus)?;
        let if_not = m.mux(dec, minus, r.q)?;
        let next = m.mux(inc, if_inc, if_not)?;
        m.connect(r, next)?;
        Ok(UpDown { q: r.q, inc, dec })
    }

    /// Select among flags of `q`, `q + 1` and `q - 1` by the next-state cases.
    fn select_next(
        &self,
        m: &mut ModuleBuilder,
        at_q: Sig,
        at_plus: Sig,
        at_minus: Sig,
    ) -> RtlResult<Sig> {
        let if_inc = m.mux(self.dec, at_q, at_plus)?;
        let if_not = m.mux(self.dec, at_minus, at_q)?;
        m.mux(self.inc, if_inc, if_not)
    }

    /// `count_next < k` as if `inc` were `assume_inc` (which must be 1 whenever
    /// `inc` is): a flag that can only be pessimistic, and that does not wait on
    /// `inc` (typically a handshake with an input port).
    pub(crate) fn next_lt_assuming(
        &self,
        m: &mut ModuleBuilder,
        k: u64,
        assume_inc: Sig,
    ) -> RtlResult<Sig> {
        let worst = UpDown {
            q: self.q,
            inc: assume_inc,
            dec: self.dec,
        };
        worst.next_lt(m, k)
    }

    /// `count_next < k`.
    pub(crate) fn next_lt(&self, m: &mut ModuleBuilder, k: u64) -> RtlResult<Sig> {
        let w = self.q.width();
        let q = self.q;
        let lt = |m: &mut ModuleBuilder, c: i128| -> RtlResult<Sig> {
            if c <= 0 {
                return m.const_u(1, 0);
            }
            if c >= 1i128 << w {
                return m.const_u(1, 1);
            }
            crate::arith::lt_const(m, q, c as u128)
        };
        let k = k as i128;
        // q + 1 < k  <=>  q < k - 1;  q - 1 < k  <=>  q < k + 1.
        let at_q = lt(m, k)?;
        let at_plus = lt(m, k - 1)?;
        let at_minus = lt(m, k + 1)?;
        self.select_next(m, at_q, at_plus, at_minus)
    }

    /// `count_next != 0`.
    fn next_nonzero(&self, m: &mut ModuleBuilder) -> RtlResult<Sig> {
        let w = self.q.width();
        let one = m.const_u(w, 1)?;
        let zero = m.const_u(w, 0)?;
        let at_q = m.cmp(crate::rtl::CmpOp::Ne, self.q, zero)?;
        let at_minus = m.cmp(crate::rtl::CmpOp::Ne, self.q, one)?;
        let at_plus = m.const_u(1, 1)?;
        self.select_next(m, at_q, at_plus, at_minus)
    }
}

/// Storage of a [`fifo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FifoStorage {
    /// Distributed RAM with an asynchronous read (small FIFOs).
    Lutram,
    /// Block RAM through [`crate::mem`] (read latency 2), prefetched.
    Bram,
}

/// A FIFO of `depth` (a power of two, >= 2) stream beats with a registered output.
/// Returns `(output stream, input tready)`; `in_ready` is a register and may be
/// ignored by a caller that guarantees room (see [`credit_gate`]). Latency: a beat
/// written at an edge is at the output 1 (LUT RAM) or 3 (block RAM) edges later.
pub fn fifo(
    m: &mut ModuleBuilder,
    lib: &mut Library,
    name: &str,
    input: &Axis,
    out_ready: Sig,
    depth: usize,
    storage: FifoStorage,
) -> RtlResult<(Axis, Sig)> {
    fifo_impl(m, lib, name, input, out_ready, None, depth, storage, false)
}

/// The output side of a lane unit whose producer reserves room before it sends (a
/// [`credit_gate`]): the lane fields `ys` with `valid` and `last` go into a LUTRAM
/// FIFO of `depth` beats and a register slice ([`fifo_slice`], named `outq`), then
/// out through the `m_axis` ports (lane layout `lanes`); the clock and reset
/// interfaces are declared for `s_axis` and `m_axis`. Returns the output handshake
/// (`tvalid && tready`), which returns a credit.
#[allow(clippy::too_many_arguments)]
pub fn lanes_to_m_axis(
    m: &mut ModuleBuilder,
    lib: &mut Library,
    ys: &[Sig],
    valid: Sig,
    last: Sig,
    depth: usize,
    lanes: &Lanes,
) -> RtlResult<Sig> {
    lanes_to_m_axis_for(m, lib, ys, valid, last, depth, lanes, &["s_axis", "m_axis"])
}

/// [`lanes_to_m_axis`] for a module whose clock serves the stream interfaces
/// `busses` (for example a second slave stream besides `s_axis`).
#[allow(clippy::too_many_arguments)]
pub fn lanes_to_m_axis_for(
    m: &mut ModuleBuilder,
    lib: &mut Library,
    ys: &[Sig],
    valid: Sig,
    last: Sig,
    depth: usize,
    lanes: &Lanes,
    busses: &[&str],
) -> RtlResult<Sig> {
    let to_fifo = Axis {
        data: pack(m, ys)?,
        valid,
        last: Some(last),
        user: None,
    };
    // FIFO, then a register slice: the FIFO's control never sees m_axis_tready.
    let out_ready = m.wire("out_ready", 1, false)?;
    let out = fifo_slice(
        m,
        lib,
        "outq",
        &to_fifo,
        out_ready,
        depth,
        FifoStorage::Lutram,
    )?;
    let fire = m.and(out.valid, out_ready)?;
    let r = master_ports(m, "m_axis", &out, vec![("lanes".into(), lanes.describe())])?;
    m.drive(out_ready, r)?;
    clock_and_reset(m, busses)?;
    Ok(fire)
}

/// A [`fifo`] followed by a register slice ([`skid`]) named `<name>_s`, whose
/// upstream `tready` the FIFO knows a cycle ahead: the FIFO then registers its own
/// output-advance condition, so its wide output register and its counters are
/// enabled from flip-flops.
///
/// For producers that reserve room before they send (a credit gate, the arrays'
/// tile rule): every valid input beat is written, with no `tready` in the write
/// path; a producer that overruns the FIFO loses data, which the co-simulation
/// checks catch. Returns the sliced stream.
pub fn fifo_slice(
    m: &mut ModuleBuilder,
    lib: &mut Library,
    name: &str,
    input: &Axis,
    out_ready: Sig,
    depth: usize,
    storage: FifoStorage,
) -> RtlResult<Axis> {
    let q_ready = m.wire(&format!("{name}_q_ready"), 1, false)?;
    let q_ready_next = m.wire(&format!("{name}_q_ready_next"), 1, false)?;
    let q = fifo_impl(
        m,
        lib,
        name,
        input,
        q_ready,
        Some(q_ready_next),
        depth,
        storage,
        true,
    )?
    .0;
    let (out, rdy, next) = skid_impl(m, &format!("{name}_s"), &q, out_ready, None)?;
    m.drive(q_ready, rdy)?;
    m.drive(q_ready_next, next.ready)?;
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn fifo_impl(
    m: &mut ModuleBuilder,
    lib: &mut Library,
    name: &str,
    input: &Axis,
    out_ready: Sig,
    out_ready_next: Option<Sig>,
    depth: usize,
    storage: FifoStorage,
    reserved: bool,
) -> RtlResult<(Axis, Sig)> {
    assert!(
        depth.is_power_of_two() && depth >= 2,
        "FIFO depth must be a power of two >= 2"
    );
    let word = payload(m, input)?;
    let w = word.width();
    let ab = depth.trailing_zeros().max(1);
    let cw = ab + 2;
    let in_ready = flag(m, &format!("{name}_rdy"), true)?;
    let push = if reserved {
        input.valid
    } else {
        m.and(input.valid, in_ready.q)?
    };
    let wp = m.reg(
        &format!("{name}_wp"),
        ab,
        false,
        RegOpts::new().reset_zero(ab).enable(push),
    )?;
    let one_a = m.const_u(ab, 1)?;
    let wp_next = m.add(wp.q, one_a)?;
    m.connect(wp, wp_next)?;
    let rp = m.reg(
        &format!("{name}_rp"),
        ab,
        false,
        RegOpts::new().reset_zero(ab),
    )?;
    // `has`: storage holds a word not yet read out (a register, see below).
    let has = flag(m, &format!("{name}_has"), false)?;
    let ov = flag(m, &format!("{name}_ov"), false)?;
    // adv_out: the output register loads (it is empty or being taken); a register
    // of its own when the consumer's next tready is known.
    let load = match out_ready_next {
        Some(_) => Some(flag(m, &format!("{name}_load"), true)?),
        None => None,
    };
    let adv_out = match &load {
        Some(r) => r.q,
        None => {
            let not_ov = m.not(ov.q)?;
            m.or(not_ov, out_ready)?
        }
    };
    let pop_out = m.and(ov.q, out_ready)?;
    let (take, data_q, ov_next) = match storage {
        FifoStorage::Lutram => {
            let mem = m.memory(MemSpec {
                name: format!("{name}_mem"),
                depth,
                width: w,
                signed: false,
                init: None,
                style: (lib.vendor() == crate::vendor::Vendor::Xilinx)
                    .then_some(MemStyle::Distributed),
            })?;
            m.mem_write(mem, push, wp.q, word)?;
            let head = m.mem_read_async(mem, rp.q)?;
            let take = m.and(adv_out, has.q)?;
            let od = m.reg_next(&format!("{name}_od"), head, RegOpts::new().enable(take))?;
            let ov_next = m.mux(adv_out, has.q, ov.q)?;
            m.connect(ov, ov_next)?;
            (take, od, ov_next)
        }
        FifoStorage::Bram => {
            // Stage 1 = the memory's read register (valid v1), stage 2 = its output
            // register (valid ov): each advances when the next one can take it.
            let v1 = flag(m, &format!("{name}_v1"), false)?;
            let not_v1 = m.not(v1.q)?;
            let adv1 = m.or(not_v1, adv_out)?;
            let take = m.and(adv1, has.q)?;
            let cfg = MemoryConfig {
                depth,
                width: w,
                init: None,
                style: Some(MemStyle::Block),
            };
            let rd = mem::instantiate(
                m,
                lib,
                &format!("{name}_ram"),
                &cfg,
                Some((push, wp.q, word)),
                adv1,
                rp.q,
                adv_out,
            )?;
            let v1_next = m.mux(adv1, has.q, v1.q)?;
            m.connect(v1, v1_next)?;
            let ov_next = m.mux(adv_out, v1.q, ov.q)?;
            m.connect(ov, ov_next)?;
            (take, rd, ov_next)
        }
    };
    if let (Some(r), Some(next_ready)) = (load, out_ready_next) {
        // load' = !ov' | out_ready'.
        let not_ov_next = m.not(ov_next)?;
        let load_next = m.or(not_ov_next, next_ready)?;
        m.connect(r, load_next)?;
    }
    let rp_next = m.add(rp.q, one_a)?;
    let rp_next = m.mux(take, rp_next, rp.q)?;
    m.connect(rp, rp_next)?;
    // Words in storage, and all words held (storage plus read stages).
    let stored = UpDown::new(m, &format!("{name}_n"), cw, push, take)?;
    let has_next = stored.next_nonzero(m)?;
    m.connect(has, has_next)?;
    let total = UpDown::new(m, &format!("{name}_occ"), cw, push, pop_out)?;
    let room = total.next_lt(m, depth as u64)?;
    m.connect(in_ready, room)?;
    let out = unpayload(m, data_q, ov.q, input)?;
    Ok((out, in_ready.q))
}

/// `tready` for a free-running pipeline feeding a FIFO that holds `capacity` beats
/// (storage plus output stages): a register that is 1 while fewer than `capacity`
/// beats are accepted and not yet consumed downstream (`out_fire`). Returns
/// `(tready, accept)` with `accept = in_valid && tready`.
pub fn credit_gate(
    m: &mut ModuleBuilder,
    name: &str,
    in_valid: Sig,
    out_fire: Sig,
    capacity: u32,
) -> RtlResult<(Sig, Sig)> {
    let cw = 32 - capacity.leading_zeros() + 1;
    let ready = flag(m, &format!("{name}_rdy"), true)?;
    let accept = m.and(in_valid, ready.q)?;
    let occ = UpDown::new(m, &format!("{name}_occ"), cw, accept, out_fire)?;
    let room = occ.next_lt(m, capacity as u64)?;
    m.connect(ready, room)?;
    Ok((ready.q, accept))
}
