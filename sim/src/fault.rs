//! Deliberately broken output streams, to prove that the co-simulation checks catch
//! them (mutation testing of the checkers, and `accgen sim --inject-fault`).
//!
//! [`wrap`] puts a small hand-written Verilog "saboteur" between a unit top's
//! `m_axis` and the outside: the wrapper has exactly the top's ports, so every driver
//! runs it unchanged, and a run through it must fail. The faults:
//!
//! | fault | what the consumer sees |
//! |---|---|
//! | `last-low` | `tlast` stuck at 0 |
//! | `last-high` | `tlast` stuck at 1 |
//! | `drop:K` | output beat K (from 0) never appears (taken from the unit, hidden) |
//! | `dup:K` | output beat K appears twice |
//! | `flip:K` | bit 0 of `tdata` inverted on output beat K |
//! | `stall:K` | no output beat from K on (`tvalid` low, `tready` to the unit low) |

use std::fmt::Write as _;

use std::rc::Rc;

use accgen_hw::rtl::{Design, Dir, Module, VerilogFile};

use crate::build::{Model, SimOptions};
use crate::error::SimResult;
use crate::spec::TopSpec;

/// One deliberate defect of an output stream (see module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `tlast` stuck at 0.
    LastLow,
    /// `tlast` stuck at 1.
    LastHigh,
    /// Output beat K is dropped.
    Drop(u32),
    /// Output beat K is delivered twice.
    Duplicate(u32),
    /// Bit 0 of output beat K is inverted.
    Flip(u32),
    /// No output from beat K on.
    Stall(u32),
}

impl Fault {
    /// Every kind, with beat index `k` where one applies.
    pub fn all(k: u32) -> [Fault; 6] {
        [
            Fault::LastLow,
            Fault::LastHigh,
            Fault::Drop(k),
            Fault::Duplicate(k),
            Fault::Flip(k),
            Fault::Stall(k),
        ]
    }

    /// Name as accepted by [`str::parse`].
    pub fn describe(&self) -> String {
        match self {
            Fault::LastLow => "last-low".into(),
            Fault::LastHigh => "last-high".into(),
            Fault::Drop(k) => format!("drop:{k}"),
            Fault::Duplicate(k) => format!("dup:{k}"),
            Fault::Flip(k) => format!("flip:{k}"),
            Fault::Stall(k) => format!("stall:{k}"),
        }
    }
}

impl std::str::FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Fault, String> {
        let usage =
            "expected last-low, last-high, drop:K, dup:K, flip:K or stall:K with K in 0..=1000000";
        let (kind, k) = match s.split_once(':') {
            Some((a, b)) => {
                let k: u32 = b
                    .parse()
                    .ok()
                    .filter(|k| *k <= 1_000_000)
                    .ok_or_else(|| format!("`{s}`: beat index `{b}` is not in 0..=1000000"))?;
                (a, Some(k))
            }
            None => (s, None),
        };
        match (kind, k) {
            ("last-low", None) => Ok(Fault::LastLow),
            ("last-high", None) => Ok(Fault::LastHigh),
            ("drop", Some(k)) => Ok(Fault::Drop(k)),
            ("dup", Some(k)) => Ok(Fault::Duplicate(k)),
            ("flip", Some(k)) => Ok(Fault::Flip(k)),
            ("stall", Some(k)) => Ok(Fault::Stall(k)),
            _ => Err(format!("`{s}`: {usage}")),
        }
    }
}

fn range(width: u32) -> String {
    if width == 1 {
        String::new()
    } else {
        format!("[{}:0] ", width - 1)
    }
}

/// A wrapper of `top` with `fault` on its `m_axis` output (see module docs): the
/// wrapper's Verilog and its interface (the top's ports, a new name).
pub fn wrap(top: &Module, fault: Fault) -> (VerilogFile, TopSpec) {
    let inner = TopSpec::of(top);
    let name = format!("accgen_fault_{}", top.name());
    let has = |p: &str| inner.ports.iter().any(|q| q.name == p);
    let mut v = String::new();
    let _ = writeln!(
        v,
        "// accgen fault wrapper: {} on the m_axis of {} (deliberately broken).",
        fault.describe(),
        top.name()
    );
    let mut names: Vec<String> = Vec::new();
    if inner.has_clock {
        names.push("clk".into());
    }
    if inner.has_reset {
        names.push("rst".into());
    }
    names.extend(inner.ports.iter().map(|p| p.name.clone()));
    let _ = writeln!(v, "module {name} ({});", names.join(", "));
    if inner.has_clock {
        v.push_str("  input clk;\n");
    }
    if inner.has_reset {
        v.push_str("  input rst;\n");
    }
    for p in &inner.ports {
        let dir = if p.dir == Dir::Input {
            "input"
        } else {
            "output"
        };
        let _ = writeln!(v, "  {dir} {}{};", range(p.width), p.name);
    }
    // The unit's own m_axis, renamed.
    for p in inner.ports.iter().filter(|p| p.name.starts_with("m_axis_")) {
        let _ = writeln!(v, "  wire {}u_{};", range(p.width), p.name);
    }
    let mut conns: Vec<String> = Vec::new();
    if inner.has_clock {
        conns.push(".clk(clk)".into());
    }
    if inner.has_reset {
        conns.push(".rst(rst)".into());
    }
    for p in &inner.ports {
        let net = if p.name.starts_with("m_axis_") {
            format!("u_{}", p.name)
        } else {
            p.name.clone()
        };
        conns.push(format!(".{}({net})", p.name));
    }
    let _ = writeln!(v, "  {} u ({});", top.name(), conns.join(", "));
    // Beat counter: downstream handshakes (inner ones for drop).
    let k = match fault {
        Fault::Drop(k) | Fault::Duplicate(k) | Fault::Flip(k) | Fault::Stall(k) => k,
        Fault::LastLow | Fault::LastHigh => 0,
    };
    v.push_str("  reg [31:0] n;\n  reg done;\n");
    let _ = writeln!(v, "  wire hit = n == 32'd{k};");
    let (valid, ready, data, last, count) = match fault {
        Fault::LastLow | Fault::LastHigh => (
            "u_m_axis_tvalid".to_string(),
            "m_axis_tready".to_string(),
            "u_m_axis_tdata".to_string(),
            (if fault == Fault::LastLow {
                "1'b0"
            } else {
                "1'b1"
            })
            .to_string(),
            "m_axis_tvalid && m_axis_tready".to_string(),
        ),
        Fault::Drop(_) => (
            "u_m_axis_tvalid && !hit".into(),
            "m_axis_tready || hit".into(),
            "u_m_axis_tdata".into(),
            "u_m_axis_tlast".into(),
            "u_m_axis_tvalid && u_m_axis_tready".into(),
        ),
        Fault::Duplicate(_) => (
            "u_m_axis_tvalid".into(),
            "m_axis_tready && !(hit && !done)".into(),
            "u_m_axis_tdata".into(),
            "u_m_axis_tlast".into(),
            "m_axis_tvalid && m_axis_tready".into(),
        ),
        Fault::Flip(_) => (
            "u_m_axis_tvalid".into(),
            "m_axis_tready".into(),
            "u_m_axis_tdata ^ {ZERO, hit}".into(),
            "u_m_axis_tlast".into(),
            "m_axis_tvalid && m_axis_tready".into(),
        ),
        // n stops at K, so `hit` stays true.
        Fault::Stall(_) => (
            "u_m_axis_tvalid && !hit".into(),
            "m_axis_tready && !hit".into(),
            "u_m_axis_tdata".into(),
            "u_m_axis_tlast".into(),
            "m_axis_tvalid && m_axis_tready".into(),
        ),
    };
    let dw = inner
        .ports
        .iter()
        .find(|p| p.name == "m_axis_tdata")
        .map_or(1, |p| p.width);
    let data = if dw == 1 {
        data.replace("{ZERO, hit}", "hit")
    } else {
        data.replace("ZERO", &format!("{}'d0", dw - 1))
    };
    let _ = writeln!(v, "  assign m_axis_tvalid = {valid};");
    let _ = writeln!(v, "  assign u_m_axis_tready = {ready};");
    let _ = writeln!(v, "  assign m_axis_tdata = {data};");
    if has("m_axis_tlast") {
        let _ = writeln!(v, "  assign m_axis_tlast = {last};");
    }
    if has("m_axis_tuser") {
        v.push_str("  assign m_axis_tuser = u_m_axis_tuser;\n");
    }
    // done: the first copy of a duplicated beat went out.
    let done_set = match fault {
        Fault::Duplicate(_) => "hit && m_axis_tvalid && m_axis_tready",
        _ => "1'b0",
    };
    let rst = if inner.has_reset { "rst" } else { "1'b0" };
    let _ = writeln!(
        v,
        "  always @(posedge clk) begin\n    if ({rst}) begin\n      n <= 32'd0;\n      done <= 1'b0;\n    end else begin\n      if ({count}) n <= n + 32'd1;\n      if ({done_set}) done <= 1'b1;\n    end\n  end"
    );
    v.push_str("endmodule\n");
    let spec = TopSpec {
        name: name.clone(),
        ..inner
    };
    (
        VerilogFile {
            module: name.clone(),
            file_name: format!("{name}.v"),
            text: v,
        },
        spec,
    )
}

/// Build the Verilator model of `top` behind a `fault` wrapper (see [`wrap`]).
pub fn build(top: &Rc<Module>, fault: Fault, opts: &SimOptions) -> SimResult<Model> {
    let mut d = Design::new();
    d.add_top(top.clone());
    let mut files = d.sim_files()?;
    let (file, spec) = wrap(top, fault);
    files.push(file);
    Model::build_from_files(&files, &spec, opts)
}
