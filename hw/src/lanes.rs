//! The AXI4-Stream top shared by element-wise units (`requant`, `gelu`): `lanes`
//! instances of a fixed-latency lane module (port `x` -> `y`), free-running, behind a
//! credit gate and in front of an output FIFO.
//!
//! Ports (besides `clk`, `rst`):
//! - `s_axis_tdata` (lanes x input field), `s_axis_tvalid`, `s_axis_tlast` in,
//!   `s_axis_tready` out: lane i in field i (lane 0 in the LSBs), each field the
//!   lane's input width rounded up to whole bytes (the padding is ignored);
//! - `m_axis_tdata` (lanes x output field, padding sign- or zero-extended),
//!   `m_axis_tvalid`, `m_axis_tlast` out, `m_axis_tready` in. `tlast` travels with
//!   its beat.
//!
//! Latency: the lane's plus 3 (FIFO write, FIFO output register, output register
//! slice) from a handshake at `s_axis` to the beat at `m_axis`. Throughput: one beat (all lanes) per cycle while
//! `m_axis_tready` is high. Backpressure: the lanes never stall; `s_axis_tready`
//! (a register) admits a beat only while the FIFO is sure to hold it, so no beat is
//! lost or duplicated whatever `m_axis_tready` does.
//!
//! ```text
//!  s_axis ─▶[credit gate]─▶ unpack ─▶ lane_0..lane_{n-1} (L cycles) ─▶ pack ─▶[FIFO]─▶[slice]─▶ m_axis
//!                  ▲                                                             │
//!                  └──────────────── beats leaving m_axis ───────────────────────┘
//! ```

use std::rc::Rc;

use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlError, RtlResult};
use crate::stream::{self, credit_gate, Lanes};

/// FIFO depth for a lane latency `l`: room for every beat in flight plus slack.
pub fn fifo_depth(latency: u32) -> usize {
    ((latency + 6) as usize).next_power_of_two()
}

/// Cycles from an `s_axis` handshake to the beat on `m_axis` for lane latency `l`:
/// the lanes, the FIFO (2) and the output register slice (1).
pub fn top_latency(latency: u32) -> u32 {
    latency + 3
}

/// Build (or fetch) `name`: `lanes[c]` instantiated for every lane c, `latency`
/// cycles each, behind AXI4-Stream ports.
pub fn lane_stream_top(
    lib: &mut Library,
    name: &str,
    doc: &str,
    lanes: &[Rc<Module>],
    latency: u32,
) -> RtlResult<Rc<Module>> {
    lib.get_or_build(name, |lib| {
        let err = |message: String| RtlError {
            module: name.to_string(),
            message,
        };
        let lane_port = |l: &Rc<Module>, p: &str| {
            l.port(p)
                .cloned()
                .ok_or_else(|| err(format!("lane module `{}` has no port `{p}`", l.name())))
        };
        let x0 = lane_port(&lanes[0], "x")?;
        let y0 = lane_port(&lanes[0], "y")?;
        let in_lanes = Lanes::new(lanes.len() as u32, x0.width, x0.signed);
        let out_lanes = Lanes::new(lanes.len() as u32, y0.width, y0.signed);
        let mut m = ModuleBuilder::new(name);
        m.doc(doc);
        m.doc(&format!(
            "AXI4-Stream: s_axis {}; m_axis {}; latency {} cycles.",
            in_lanes.describe(),
            out_lanes.describe(),
            top_latency(latency)
        ));
        let (s, s_ready) = stream::slave_ports(
            &mut m,
            "s_axis",
            in_lanes.tdata_bits(),
            true,
            None,
            vec![("lanes".into(), in_lanes.describe())],
        )?;
        let depth = fifo_depth(latency);
        let out_fire = m.wire("out_fire", 1, false)?;
        let (ready, accept) = credit_gate(&mut m, "in", s.valid, out_fire, depth as u32)?;
        m.drive(s_ready, ready)?;
        let xs = stream::unpack(&mut m, s.data, in_lanes)?;
        let mut ys = Vec::with_capacity(lanes.len());
        for (c, (lane, x)) in lanes.iter().zip(xs).enumerate() {
            let p = lane_port(lane, "x")?;
            let x = if p.signed {
                x.as_signed()
            } else {
                x.as_unsigned()
            };
            let inst = m.instance(lane, &format!("lane_{c}"), &[("x", x)])?;
            ys.push(inst.out("y")?);
        }
        // Beat valid and tlast follow the lanes' latency.
        let mut v = accept;
        let mut l = s.last.expect("slave has tlast");
        for i in 1..=latency {
            v = m.reg_next(&format!("valid_s{i}"), v, RegOpts::new().reset_zero(1))?;
            l = m.reg_next(&format!("last_s{i}"), l, RegOpts::new())?;
        }
        let fire = stream::lanes_to_m_axis(&mut m, lib, &ys, v, l, depth, &out_lanes)?;
        m.drive(out_fire, fire)?;
        m.finish()
    })
}
