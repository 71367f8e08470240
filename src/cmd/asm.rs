//! `accgen asm` and `accgen disasm`: the accelerator's text assembly and binary
//! programs (encoding in `golden::isa`, syntax in `golden::asm`).

use std::path::Path;

use accgen_golden::asm::{assemble, disassemble};
use accgen_golden::isa::Program;
use anyhow::{bail, Context, Result};

/// Largest program file read: 16 MiB of binary (1 Mi instructions) or 256 MiB of text.
const MAX_TEXT_BYTES: u64 = 256 << 20;

fn read_limited(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", path.display());
    }
    if meta.len() > limit {
        bail!(
            "{} is {} bytes; a {what} may be at most {limit} bytes",
            path.display(),
            meta.len()
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Assemble `input` into the binary `output`; with `config`, also check the program
/// against that accelerator (units present, scratchpad and accumulator ranges).
pub fn asm(input: &Path, output: &Path, config: Option<&Path>, force: bool) -> Result<()> {
    super::paths::check_output("-o", output, force)?;
    let cfg = config.map(super::generate::load_config).transpose()?;
    let bytes = read_limited(input, MAX_TEXT_BYTES, "program text")?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not UTF-8 text (byte {})",
            input.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let prog = assemble(&text).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    if let (Some(cfg), Some(path)) = (&cfg, config) {
        prog.check(cfg).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e} (checked against {})",
                input.display(),
                path.display()
            )
        })?;
    }
    accgen_hw::files::write_atomic(output, &prog.to_bytes())?;
    eprintln!(
        "assembled {} instruction(s) into {} ({} bytes)",
        prog.instrs.len(),
        output.display(),
        prog.instrs.len() * accgen_golden::isa::WORD_BYTES
    );
    Ok(())
}

/// Disassemble the binary `input` to `output`, or to stdout.
pub fn disasm(input: &Path, output: Option<&Path>, force: bool) -> Result<()> {
    if let Some(o) = output {
        super::paths::check_output("-o", o, force)?;
    }
    let limit = (accgen_golden::isa::MAX_INSTRUCTIONS * accgen_golden::isa::WORD_BYTES) as u64;
    let bytes = read_limited(input, limit, "program binary")?;
    let prog =
        Program::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    let text = disassemble(&prog);
    match output {
        Some(o) => accgen_hw::files::write_atomic(o, text.as_bytes())?,
        None => print!("{text}"),
    }
    Ok(())
}
