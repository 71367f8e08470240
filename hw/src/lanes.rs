//! The lane-parallel top shared by streaming units (`requant`, `gelu`): `lanes`
//! instances of one lane module (ports `x` -> `y`, fixed latency) plus the valid
//! pipeline.
//!
//! Ports: `in_valid`, `x_<c>` in; `out_valid`, `y_<c>` out, with the lane's port types.
//! Latency: the lane's; `out_valid` is `in_valid` delayed by it (reset to 0).

use std::rc::Rc;

use crate::rtl::{Library, Module, ModuleBuilder, RegOpts, RtlError, RtlResult};

/// Build (or fetch) `name`: `lanes[c]` instantiated for every lane c, `latency` cycles.
pub fn lane_array(
    lib: &mut Library,
    name: &str,
    doc: &str,
    lanes: &[Rc<Module>],
    latency: u32,
) -> RtlResult<Rc<Module>> {
    lib.get_or_build(name, |_| {
        let mut m = ModuleBuilder::new(name);
        m.doc(doc);
        let valid = m.input("in_valid", 1, false)?;
        let mut outs = Vec::with_capacity(lanes.len());
        for (c, lane) in lanes.iter().enumerate() {
            let p = lane.port("x").ok_or_else(|| RtlError {
                module: name.to_string(),
                message: format!("lane module `{}` has no input `x`", lane.name()),
            })?;
            let x = m.input(&format!("x_{c}"), p.width, p.signed)?;
            let inst = m.instance(lane, &format!("lane_{c}"), &[("x", x)])?;
            outs.push(inst.out("y")?);
        }
        let mut v = valid;
        for i in 1..=latency {
            v = m.reg_next(&format!("valid_s{i}"), v, RegOpts::new().reset_zero(1))?;
        }
        m.output("out_valid", v)?;
        for (c, y) in outs.into_iter().enumerate() {
            m.output(&format!("y_{c}"), y)?;
        }
        m.finish()
    })
}
