//! Hierarchy: submodule instances with type-checked port maps. `clk` and `rst` are
//! connected implicitly and propagate to the parent.

use std::rc::Rc;

use super::error::{RtlError, RtlResult};
use super::module::{is_identifier, Dir, Module, ModuleBuilder, NodeKind, Sig};

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

impl ModuleBuilder {
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
}
