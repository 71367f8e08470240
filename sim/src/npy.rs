//! Minimal NumPy `.npy` reader and writer for integer arrays (format versions 1-3).
//!
//! Supported dtypes: little-endian (or byte-order-free) signed and unsigned 8/16/32/64-bit
//! integers, C order. Anything else is rejected with a message naming the file and
//! what was found, never misread.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// Integer element types this module reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// int8
    I8,
    /// int16
    I16,
    /// int32
    I32,
    /// int64
    I64,
    /// uint8
    U8,
    /// uint16
    U16,
    /// uint32
    U32,
    /// uint64 (values above i64::MAX are rejected when read)
    U64,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Dtype::I8 => "|i1",
            Dtype::I16 => "<i2",
            Dtype::I32 => "<i4",
            Dtype::I64 => "<i8",
            Dtype::U8 => "|u1",
            Dtype::U16 => "<u2",
            Dtype::U32 => "<u4",
            Dtype::U64 => "<u8",
        }
    }

    /// NumPy name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::I8 => "int8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::I64 => "int64",
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::U32 => "uint32",
            Dtype::U64 => "uint64",
        }
    }

    fn size(self) -> usize {
        match self {
            Dtype::I8 | Dtype::U8 => 1,
            Dtype::I16 | Dtype::U16 => 2,
            Dtype::I32 | Dtype::U32 => 4,
            Dtype::I64 | Dtype::U64 => 8,
        }
    }

    fn parse(descr: &str) -> Option<Dtype> {
        let (order, kind) = descr.split_at(1.min(descr.len()));
        if !matches!(order, "<" | "|" | "=") {
            return None;
        }
        Some(match kind {
            "i1" => Dtype::I8,
            "i2" => Dtype::I16,
            "i4" => Dtype::I32,
            "i8" => Dtype::I64,
            "u1" => Dtype::U8,
            "u2" => Dtype::U16,
            "u4" => Dtype::U32,
            "u8" => Dtype::U64,
            _ => return None,
        })
    }
}

/// An integer array read from or written to `.npy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyArray {
    /// Element type on disk.
    pub dtype: Dtype,
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: Vec<i64>,
}

fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let k = format!("'{key}':");
    let start = header.find(&k)? + k.len();
    Some(header[start..].trim_start())
}

/// Read an integer `.npy` file.
pub fn read(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&bytes).with_context(|| format!("{} is not a supported .npy file", path.display()))
}

fn parse(bytes: &[u8]) -> Result<NpyArray> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("missing the .npy magic string");
    }
    let major = bytes[6];
    let (hlen, hstart) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                bail!("truncated header");
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => bail!("unsupported .npy format version {v}"),
    };
    let header = std::str::from_utf8(
        bytes
            .get(hstart..hstart + hlen)
            .context("truncated header")?,
    )
    .context("header is not text")?;
    let descr = header_value(header, "descr").context("header has no 'descr'")?;
    let descr = descr.trim_start_matches('\'');
    let descr = &descr[..descr.find('\'').context("malformed 'descr'")?];
    let dtype = Dtype::parse(descr).with_context(|| {
        format!("dtype '{descr}' is not supported; use a little-endian integer array (int8, int16, int32, int64)")
    })?;
    let fortran = header_value(header, "fortran_order").context("header has no 'fortran_order'")?;
    if fortran.starts_with("True") {
        bail!("Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
    }
    let shape_txt = header_value(header, "shape").context("header has no 'shape'")?;
    let shape_txt = &shape_txt[1..shape_txt.find(')').context("malformed 'shape'")?];
    let shape: Vec<usize> = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .with_context(|| format!("bad dimension '{s}'"))
        })
        .collect::<Result<_>>()?;
    let count: usize = shape.iter().product();
    let body = &bytes[hstart + hlen..];
    let need = count * dtype.size();
    if body.len() != need {
        bail!(
            "shape {shape:?} of {} needs {need} data bytes but the file has {}",
            dtype.name(),
            body.len()
        );
    }
    let mut data = Vec::with_capacity(count);
    for (i, ch) in body.chunks_exact(dtype.size()).enumerate() {
        let v = match dtype {
            Dtype::I8 => ch[0] as i8 as i64,
            Dtype::U8 => ch[0] as i64,
            Dtype::I16 => i16::from_le_bytes([ch[0], ch[1]]) as i64,
            Dtype::U16 => u16::from_le_bytes([ch[0], ch[1]]) as i64,
            Dtype::I32 => i32::from_le_bytes(ch.try_into().unwrap()) as i64,
            Dtype::U32 => u32::from_le_bytes(ch.try_into().unwrap()) as i64,
            Dtype::I64 => i64::from_le_bytes(ch.try_into().unwrap()),
            Dtype::U64 => {
                let u = u64::from_le_bytes(ch.try_into().unwrap());
                i64::try_from(u)
                    .with_context(|| format!("element {i} = {u} does not fit in int64"))?
            }
        };
        data.push(v);
    }
    Ok(NpyArray { dtype, shape, data })
}

/// Encode an array as `.npy` (version 1.0) bytes. Values must fit the dtype.
pub fn encode(a: &NpyArray) -> Result<Vec<u8>> {
    let shape = match a.shape.len() {
        1 => format!("({},)", a.shape[0]),
        _ => format!(
            "({})",
            a.shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        a.dtype.descr()
    );
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + a.data.len() * a.dtype.size());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for (i, &v) in a.data.iter().enumerate() {
        let fits = match a.dtype {
            Dtype::I8 => i8::try_from(v).is_ok(),
            Dtype::I16 => i16::try_from(v).is_ok(),
            Dtype::I32 => i32::try_from(v).is_ok(),
            Dtype::I64 => true,
            Dtype::U8 => u8::try_from(v).is_ok(),
            Dtype::U16 => u16::try_from(v).is_ok(),
            Dtype::U32 => u32::try_from(v).is_ok(),
            Dtype::U64 => v >= 0,
        };
        if !fits {
            bail!("element {i} = {v} does not fit in {}", a.dtype.name());
        }
        out.extend_from_slice(&v.to_le_bytes()[..a.dtype.size()]);
    }
    Ok(out)
}

/// Write `a` to `path` atomically.
pub fn write(path: &Path, a: &NpyArray) -> Result<()> {
    let bytes = encode(a)?;
    accgen_hw::files::write_atomic(path, &bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_dtype() {
        for (dtype, vals) in [
            (Dtype::I8, vec![-128, 0, 127]),
            (Dtype::I16, vec![-32768, 5, 32767]),
            (Dtype::I32, vec![i32::MIN as i64, 1, i32::MAX as i64]),
            (Dtype::I64, vec![i64::MIN, -1, i64::MAX]),
            (Dtype::U8, vec![0, 255, 7]),
            (Dtype::U16, vec![0, 65535, 9]),
        ] {
            let a = NpyArray {
                dtype,
                shape: vec![1, 3],
                data: vals,
            };
            let bytes = encode(&a).unwrap();
            assert_eq!(
                (10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64,
                0
            );
            assert_eq!(parse(&bytes).unwrap(), a);
        }
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        let a = NpyArray {
            dtype: Dtype::I8,
            shape: vec![2],
            data: vec![1, 2],
        };
        let mut bytes = encode(&a).unwrap();
        let pos = bytes.windows(3).position(|w| w == b"|i1").unwrap();
        let mut float = bytes.clone();
        float[pos..pos + 3].copy_from_slice(b"<f4");
        let err = format!("{:#}", parse(&float).unwrap_err());
        assert!(err.contains("dtype '<f4' is not supported"), "{err}");
        bytes.pop();
        assert!(parse(&bytes)
            .unwrap_err()
            .to_string()
            .contains("needs 2 data bytes"));
        assert!(encode(&NpyArray {
            dtype: Dtype::I8,
            shape: vec![1],
            data: vec![300]
        })
        .is_err());
    }
}
