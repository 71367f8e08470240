//! Vendor primitives (black-box cells such as Lattice `DP16KD` and `MULT18X18D`),
//! port attributes and interface metadata.
//!
//! A primitive is instantiated by cell name with Verilog parameters and explicit port
//! connections; its outputs become nets of the parent. The builder does not know the
//! cell's behaviour: simulation uses the model files that [`crate::vendor`] supplies, and
//! synthesis uses the tool's own cell library.

use serde::Serialize;

use super::error::RtlResult;
use super::module::{is_identifier, ModuleBuilder, NodeKind, Sig};
use super::value::Value;

/// A Verilog parameter value of a primitive instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// A decimal integer.
    Int(i64),
    /// A string (no quotes or backslashes).
    Str(String),
    /// A sized bit pattern, emitted in hex (for example `320'h...`).
    Bits(Value),
}

#[derive(Debug, Clone)]
pub(crate) struct PrimDef {
    pub cell: String,
    pub name: String,
    pub params: Vec<(String, ParamValue)>,
    /// (port, driving net) for inputs, (port, InstOut net) for outputs, in call order.
    pub conns: Vec<(String, Sig)>,
    /// How many of `conns` (the first ones) are inputs.
    pub inputs: usize,
}

/// How a port or interface is used, for `manifest.json` and IP packaging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interface {
    /// Interface name, for example `s_axis` or `m_axis`.
    pub name: String,
    /// `axis_slave`, `axis_master`, `clock` or `reset`.
    pub kind: String,
    /// Role -> port name, for example `tdata` -> `s_axis_tdata`.
    pub ports: Vec<(String, String)>,
    /// Free-form facts: lane layout, latency, reset polarity.
    pub params: Vec<(String, String)>,
}

impl ModuleBuilder {
    /// The module's clock as a net (for primitive clock pins). Marks the module as
    /// clocked.
    pub fn clock(&mut self) -> Sig {
        self.uses_clock = true;
        self.push(NodeKind::Clock, 1, false)
    }

    /// Instantiate the vendor cell `cell` as `inst_name`. `inputs` connect input pins;
    /// `outputs` name output pins and their widths. Returns the output nets in order.
    pub fn primitive(
        &mut self,
        cell: &str,
        inst_name: &str,
        params: Vec<(&str, ParamValue)>,
        inputs: &[(&str, Sig)],
        outputs: &[(&str, u32)],
    ) -> RtlResult<Vec<Sig>> {
        for n in [cell, inst_name] {
            if !is_identifier(n) {
                return self.err(format!("primitive name `{n}` is not a Verilog identifier"));
            }
        }
        if self.insts.iter().any(|i| i.name == inst_name)
            || self.prims.iter().any(|p| p.name == inst_name)
        {
            return self.err(format!("instance `{inst_name}` is declared twice"));
        }
        let mut checked = Vec::with_capacity(params.len());
        for (k, v) in params {
            if !is_identifier(k) {
                return self.err(format!("parameter name `{k}` is not a Verilog identifier"));
            }
            if let ParamValue::Str(s) = &v {
                if s.contains(['"', '\\', '\n']) {
                    return self.err(format!("parameter {k}: string {s:?} needs escaping"));
                }
            }
            checked.push((k.to_string(), v));
        }
        let mut conns = Vec::new();
        for (p, s) in inputs {
            if !is_identifier(p) {
                return self.err(format!("pin `{p}` is not a Verilog identifier"));
            }
            self.own(*s, &format!("primitive `{inst_name}` pin `{p}`"))?;
            conns.push((p.to_string(), *s));
        }
        let n_inputs = conns.len();
        let mut outs = Vec::new();
        for (p, w) in outputs {
            if !is_identifier(p) {
                return self.err(format!("pin `{p}` is not a Verilog identifier"));
            }
            self.check_width(*w, &format!("primitive `{inst_name}` pin `{p}`"))?;
            let s = self.push(NodeKind::InstOut, *w, false);
            let s = self.name_sig(s, &format!("{inst_name}_{p}"))?;
            conns.push((p.to_string(), s));
            outs.push(s);
        }
        self.prims.push(PrimDef {
            cell: cell.to_string(),
            name: inst_name.to_string(),
            params: checked,
            conns,
            inputs: n_inputs,
        });
        Ok(outs)
    }

    /// Attach a Verilog attribute to port `port` (emitted as `(* key = "value" *)`).
    pub fn port_attr(&mut self, port: &str, key: &str, value: &str) -> RtlResult<()> {
        if !is_identifier(key) || value.contains(['"', '\\', '\n']) {
            return self.err(format!("attribute {key} = {value:?} is not emittable"));
        }
        if port != "clk" && port != "rst" && !self.ports.iter().any(|p| p.name == port) {
            return self.err(format!("attribute {key}: no port `{port}`"));
        }
        self.port_attrs
            .push((port.to_string(), key.to_string(), value.to_string()));
        Ok(())
    }

    /// Record an interface (what `manifest.json` lists for a top).
    pub fn interface(&mut self, i: Interface) -> RtlResult<()> {
        for (_, p) in &i.ports {
            if p != "clk" && p != "rst" && !self.ports.iter().any(|q| &q.name == p) {
                return self.err(format!("interface `{}`: no port `{p}`", i.name));
            }
        }
        self.interfaces.push(i);
        Ok(())
    }
}
