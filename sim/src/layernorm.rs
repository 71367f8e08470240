//! Co-simulation driver of the LayerNorm unit: the per-channel gamma and beta go in
//! through `s_prm_axis` (with random gaps when the traffic is hostile), then rows
//! stream through `s_axis` exactly as for the softmax unit ([`crate::softmax::run_rows`]:
//! lockstep groups of `lanes`, padding rows, every output compared with golden).

use accgen_golden::layernorm::{layernorm_row, LayernormConfig};
use accgen_golden::rng::SplitMix64;

use crate::axis::Traffic;
use crate::dut::Dut;
use crate::error::SimResult;
use crate::softmax::RowsRun;
use crate::stream::LaneFormat;
use crate::verdict::{Problem, Verdict};

/// The input and output lane formats of the LayerNorm unit `cfg`: signed in_bits in,
/// signed out_bits out.
pub fn formats(cfg: &LayernormConfig) -> (LaneFormat, LaneFormat) {
    (
        LaneFormat {
            bits: cfg.in_bits,
            signed: true,
        },
        LaneFormat {
            bits: cfg.out_bits,
            signed: true,
        },
    )
}

/// Reset the unit and load `gamma` and `beta` (one beat per channel from channel 0,
/// `tlast` on the last) through `s_prm_axis`. With hostile `traffic` the beats come
/// with random gaps. A low `tready` (the unit always accepts) goes into `verdict`.
pub fn load_params(
    dut: &mut Dut,
    cfg: &LayernormConfig,
    gamma: &[i64],
    beta: &[i64],
    traffic: &Traffic,
    verdict: &mut Verdict,
) -> SimResult<()> {
    let data = dut.input("s_prm_axis_tdata")?;
    let valid = dut.input("s_prm_axis_tvalid")?;
    let last = dut.input("s_prm_axis_tlast")?;
    let ready = dut.output("s_prm_axis_tready")?;
    let in_valid = dut.input("s_axis_tvalid")?;
    dut.poke_u64(valid, 0);
    dut.poke_u64(in_valid, 0);
    dut.reset(4);
    let (gf, bf) = (
        cfg.gamma_bits.div_ceil(8) * 8,
        cfg.beta_bits.div_ceil(8) * 8,
    );
    let mut rng = SplitMix64::new(traffic.seed ^ 0x9a9a);
    let n = gamma.len();
    for (i, (&g, &b)) in gamma.iter().zip(beta).enumerate() {
        if !traffic.is_smooth() {
            while rng.chance(traffic.gap) {
                dut.poke_u64(valid, 0);
                dut.tick();
            }
        }
        let g_bits = (g as u128) & ((1u128 << gf) - 1);
        let b_bits = (b as u128) & ((1u128 << bf) - 1);
        let word = accgen_hw::rtl::Value::from_u128(gf + bf, g_bits | (b_bits << gf))
            .expect("gamma and beta fit their fields");
        dut.poke(data, &word);
        dut.poke_u64(valid, 1);
        dut.poke_u64(last, (i + 1 == n) as u64);
        if dut.peek_u64(ready) != 1 {
            verdict.record(Problem::Protocol, || {
                format!(
                    "s_prm_axis_tready low at cycle {} (channel {i})",
                    dut.cycle()
                )
            });
        }
        dut.tick();
    }
    dut.poke_u64(valid, 0);
    dut.poke_u64(last, 0);
    Ok(())
}

/// Load `gamma` and `beta`, then stream `rows` (see [`crate::softmax::run_rows`]) and
/// compare every output with golden LayerNorm.
pub fn run_rows(
    dut: &mut Dut,
    cfg: &LayernormConfig,
    rows: &[Vec<i64>],
    gamma: &[i64],
    beta: &[i64],
    traffic: &Traffic,
) -> SimResult<RowsRun> {
    let mut v = Verdict::new(&dut.spec().name.clone());
    load_params(dut, cfg, gamma, beta, traffic, &mut v)?;
    let (fi, fo) = formats(cfg);
    let golden = |row: &[i64]| {
        layernorm_row(cfg, row, gamma, beta).expect("rows and parameters were checked")
    };
    let mut r = crate::softmax::run_rows(dut, cfg.lanes as usize, fi, fo, rows, &golden, traffic)?;
    r.verdict.absorb(&v);
    Ok(r)
}
