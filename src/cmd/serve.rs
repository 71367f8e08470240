//! `accgen serve --config CFG --socket PATH`: the simulated board
//! ([`accgen_sim::board::SimBoard`]) behind a Unix socket, for the drivers.
//!
//! **Protocol:** one JSON object per line each way. Requests (`op`):
//! - `{"op": "read32", "addr": A}` -> `{"ok": true, "value": V, "resp": "okay"}`
//!   (`resp` is the AXI4-Lite response: `okay`, `slverr`, `decerr`, `exokay`);
//! - `{"op": "write32", "addr": A, "value": V}` -> `{"ok": true, "resp": "okay"}`;
//! - `{"op": "alloc", "bytes": N, "align": P}` -> `{"ok": true, "addr": A}` (a DRAM
//!   buffer; `align` defaults to 64);
//! - `{"op": "mem_write", "addr": A, "data": "<hex>"}` -> `{"ok": true}`;
//! - `{"op": "mem_read", "addr": A, "bytes": N}` -> `{"ok": true, "data": "<hex>"}`;
//! - `{"op": "wait_irq", "timeout": CYCLES}` -> `{"ok": true, "irq": true, "cycles": C}`
//!   or `{"ok": true, "irq": false}`;
//! - `{"op": "run", "cycles": N}` -> `{"ok": true}`;
//! - `{"op": "info"}` -> `{"ok": true, "axi_data_bits": .., "mem_bytes": .., "cycle": ..}`;
//! - `{"op": "shutdown"}` -> `{"ok": true}`, then the server exits.
//!
//! A malformed request gets `{"ok": false, "error": "..."}` and the connection stays
//! open; a simulation error (a bus protocol violation) is reported the same way and
//! ends the server with exit code 1. Clients are served one at a time. The socket path
//! must not exist (accgen never replaces a file it did not create); the server removes
//! its socket when it exits.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;

use accgen_sim::axilite::Resp;
use accgen_sim::board::SimBoard;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// Removes the socket file on drop.
struct SocketFile<'a>(&'a Path);

impl Drop for SocketFile<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.is_ascii() {
        bail!("`data` holds a character that is not a hex digit");
    }
    if !s.len().is_multiple_of(2) {
        bail!("`data` has an odd number of hex digits");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16)
                .with_context(|| format!("`data` is not hex at character {i}"))
        })
        .collect()
}

fn resp_name(r: Resp) -> &'static str {
    match r {
        Resp::Okay => "okay",
        Resp::ExOkay => "exokay",
        Resp::SlvErr => "slverr",
        Resp::DecErr => "decerr",
    }
}

fn field(req: &Value, k: &str) -> Result<u64> {
    req[k]
        .as_u64()
        .with_context(|| format!("`{k}` must be a non-negative integer"))
}

/// Serve one request. `Ok(Err(..))` is a bad request (reported, the server goes
/// on); `Err(..)` a simulation failure (the server stops).
fn handle(board: &mut SimBoard, req: &Value, stop: &mut bool) -> Result<Result<Value>> {
    let bad = |m: anyhow::Error| Ok(Err(m));
    let op = match req["op"].as_str() {
        Some(op) => op,
        None => return bad(anyhow::anyhow!("the request has no `op`")),
    };
    let reg = |k: &str| -> Result<u32> {
        let v = field(req, k)?;
        u32::try_from(v).with_context(|| format!("`{k}` = {v} does not fit 32 bits"))
    };
    Ok(Ok(match op {
        "read32" => {
            let addr = match reg("addr") {
                Ok(a) => a,
                Err(e) => return bad(e),
            };
            let (v, r) = board.read32(addr)?;
            json!({"ok": true, "value": v, "resp": resp_name(r)})
        }
        "write32" => {
            let (addr, value) = match (reg("addr"), reg("value")) {
                (Ok(a), Ok(v)) => (a, v),
                (Err(e), _) | (_, Err(e)) => return bad(e),
            };
            let r = board.write32(addr, value)?;
            json!({"ok": true, "resp": resp_name(r)})
        }
        "alloc" => {
            let bytes = match field(req, "bytes") {
                Ok(b) => b,
                Err(e) => return bad(e),
            };
            let align = req["align"].as_u64().unwrap_or(64);
            match board.alloc(bytes, align) {
                Ok(a) => json!({"ok": true, "addr": a}),
                Err(e) => return bad(e.into()),
            }
        }
        "mem_write" => {
            let addr = match field(req, "addr") {
                Ok(a) => a,
                Err(e) => return bad(e),
            };
            let data = match req["data"].as_str().context("`data` must be a hex string") {
                Ok(d) => match unhex(d) {
                    Ok(d) => d,
                    Err(e) => return bad(e),
                },
                Err(e) => return bad(e),
            };
            if let Err(e) = board.mem_write(addr, &data) {
                return bad(e.into());
            }
            json!({"ok": true})
        }
        "mem_read" => {
            let (addr, n) = match (field(req, "addr"), field(req, "bytes")) {
                (Ok(a), Ok(n)) => (a, n),
                (Err(e), _) | (_, Err(e)) => return bad(e),
            };
            match board.mem_read(addr, n as usize) {
                Ok(d) => json!({"ok": true, "data": hex(&d)}),
                Err(e) => return bad(e.into()),
            }
        }
        "wait_irq" => {
            let t = req["timeout"].as_u64().unwrap_or(100_000_000);
            match board.wait_irq(t)? {
                Some(c) => json!({"ok": true, "irq": true, "cycles": c}),
                None => json!({"ok": true, "irq": false}),
            }
        }
        "run" => {
            let n = match field(req, "cycles") {
                Ok(n) => n,
                Err(e) => return bad(e),
            };
            board.run(n)?;
            json!({"ok": true})
        }
        "info" => json!({
            "ok": true, "mem_bytes": board.mem_bytes(), "cycle": board.cycle(),
            "alloc_base": accgen_sim::board::ALLOC_BASE,
        }),
        "shutdown" => {
            *stop = true;
            json!({"ok": true})
        }
        other => return bad(anyhow::anyhow!(
            "unknown op `{other}` (read32, write32, alloc, mem_write, mem_read, wait_irq, run, info, shutdown)"
        )),
    }))
}

/// `accgen serve`.
pub fn serve(
    config: &Path,
    socket: &Path,
    mem_mib: u64,
    mem_latency: u64,
    stall: f64,
    seed: u64,
) -> Result<()> {
    let cfg = super::generate::load_config(config)?;
    if cfg.accel.is_none() {
        bail!(
            "config {}: `accgen serve` needs an [accel] section",
            config.display()
        );
    }
    if !(1..=4096).contains(&mem_mib) {
        bail!("--mem-mib = {mem_mib} is outside the allowed range 1..=4096");
    }
    if !(0.0..1.0).contains(&stall) {
        bail!("--stall = {stall} is outside the allowed range 0 <= p < 1");
    }
    if socket.exists() {
        bail!(
            "--socket {} exists; accgen does not replace a file it did not create (remove it or choose another path)",
            socket.display()
        );
    }
    eprintln!("building the accelerator's Verilator model ...");
    let model = accgen_sim::accel::build_accel(&cfg)?;
    let mut board = SimBoard::new(
        &model,
        &cfg,
        (mem_mib * 1024 * 1024) as usize,
        mem_latency,
        stall,
        seed,
    )?;
    let listener = UnixListener::bind(socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    let _guard = SocketFile(socket);
    eprintln!(
        "accgen serve: the simulated accelerator ({} MiB DRAM, memory latency {mem_latency}, stalls {stall}) is listening on {}",
        mem_mib,
        socket.display()
    );
    let mut stop = false;
    for conn in listener.incoming() {
        let conn = conn.context("accepting a connection")?;
        let mut out = conn.try_clone().context("cloning the connection")?;
        for line in BufReader::new(conn).lines() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() {
                continue;
            }
            let reply = match serde_json::from_str::<Value>(&line) {
                Err(e) => json!({"ok": false, "error": format!("not JSON: {e}")}),
                Ok(req) => match handle(&mut board, &req, &mut stop) {
                    Ok(Ok(v)) => v,
                    Ok(Err(e)) => json!({"ok": false, "error": format!("{e:#}")}),
                    Err(e) => {
                        let msg = format!("{e:#}");
                        let _ =
                            writeln!(out, "{}", json!({"ok": false, "error": msg, "fatal": true}));
                        bail!("the simulation failed: {msg}");
                    }
                },
            };
            if writeln!(out, "{reply}").is_err() {
                break;
            }
            if stop {
                eprintln!("accgen serve: shut down after {} cycles", board.cycle());
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_bad_hex_is_an_error() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])).unwrap(),
            [0, 1, 0xab, 0xff]
        );
        for bad in ["abc", "zz", "\u{e9}1", "0\u{e9}"] {
            assert!(unhex(bad).is_err(), "{bad}");
        }
    }
}
