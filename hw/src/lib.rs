//! accgen-hw: the RTL builder ([`rtl`]) and one hardware generator per unit.
//!
//! Generators read typed configs from `accgen-golden` and return finished modules;
//! [`generate`] turns a whole [`Config`] into a [`Design`] with one top module per
//! unit section present (and, for `[accel]`, the integrated accelerator as built so
//! far: see [`accel::blocks`]).

#![warn(missing_docs)]

pub mod accel;
pub mod arith;
pub mod array;
pub mod drain;
pub mod files;
pub mod gelu;
pub mod grid;
pub mod lanes;
pub mod layernorm;
pub mod mac;
pub mod mem;
pub mod mul;
pub mod nm_pe;
pub mod pe;
pub mod requant;
pub mod residual;
pub mod rtl;
pub mod softmax;
pub mod stream;
pub mod systolic;
pub mod vendor;

use accgen_golden::config::Config;
use rtl::{Design, Library, RtlResult};

/// The N:M sparse array for `[array]` + `[sparsity]`.
pub fn sparse_array(
    lib: &mut Library,
    cfg: &accgen_golden::gemm::ArrayConfig,
    sp: &accgen_golden::nm_sparse::SparsityConfig,
) -> RtlResult<std::rc::Rc<rtl::Module>> {
    let kind = nm_pe::nm_pe(lib, cfg, sp)?;
    array::array_top(lib, cfg.rows, cfg.cols, &kind)
}

/// The building blocks of the top module `top` among `modules` (the names of a
/// design's modules): the PE of an array, the lane of an element-wise unit, the
/// phase-1, reciprocal and phase-2 blocks of softmax (PE variants other than 0 are
/// left out: they differ in one flag gate). Timing falls back to these when
/// a whole top does not fit the device (`accgen timing`).
pub fn building_blocks(top: &str, modules: &[String]) -> Vec<String> {
    let prefixes: &[&str] = if top.starts_with("accgen_array_") {
        &["accgen_pe_"]
    } else if top.starts_with("accgen_requant_") {
        &["accgen_requant_lane_"]
    } else if top.starts_with("accgen_gelu_") {
        &["accgen_gelu_lane_"]
    } else if top.starts_with("accgen_residual_") {
        &["accgen_residual_lane_"]
    } else if top.starts_with("accgen_layernorm_") {
        &["accgen_layernorm_rsqrt_", "accgen_layernorm_apply_"]
    } else if top.starts_with("accgen_softmax_") {
        &[
            "accgen_softmax_p1_",
            "accgen_softmax_norm_",
            "accgen_softmax_p2_",
        ]
    } else {
        &[]
    };
    prefixes
        .iter()
        .flat_map(|p| {
            modules
                .iter()
                .filter(move |m| m.starts_with(p) && m.as_str() != top && !m.contains("_clr"))
        })
        .cloned()
        .collect()
}

/// Build every unit section of `cfg` as its own top module, for the generic vendor.
pub fn generate(cfg: &Config) -> RtlResult<Design> {
    generate_for(cfg, vendor::Vendor::Generic)
}

/// Build every unit section of `cfg` as its own top module, for `vendor`.
pub fn generate_for(cfg: &Config, vendor: vendor::Vendor) -> RtlResult<Design> {
    let mut lib = Library::with_vendor(vendor);
    let mut design = Design::new();
    if let Some(a) = &cfg.array {
        let top = match &cfg.sparsity {
            Some(sp) => sparse_array(&mut lib, a, sp)?,
            None => systolic::systolic_array(&mut lib, a)?,
        };
        design.add_top(top);
    }
    if let Some(sm) = &cfg.softmax {
        design.add_top(softmax::softmax(&mut lib, sm)?);
    }
    if let Some(g) = &cfg.gelu {
        design.add_top(gelu::gelu(&mut lib, g)?);
    }
    if let Some(l) = &cfg.layernorm {
        design.add_top(layernorm::layernorm(&mut lib, l)?);
    }
    if let Some(r) = &cfg.residual {
        design.add_top(residual::residual(&mut lib, r)?);
    }
    if let Some(r) = &cfg.requant {
        design.add_top(requant::requant(&mut lib, r)?);
    }
    if let Some(m) = &cfg.mac {
        design.add_top(mac::mac(&mut lib, m)?);
    }
    if cfg.accel.is_some() {
        for block in accel::blocks(&mut lib, cfg)? {
            design.add_top(block);
        }
    }
    Ok(design)
}
