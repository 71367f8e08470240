//! Integer `.npy` and `.npz` I/O for the CLI, on the maintained `ndarray-npy` crate.
//!
//! Reading never trusts the header: the whole file is read (its size bounds every
//! allocation), and the array is a *view* of those bytes, which `ndarray-npy` checks
//! against the shape with overflow-checked arithmetic. A shape whose element count
//! overflows, a payload shorter or longer than the shape needs, a non-integer dtype,
//! big-endian data or an unparsable header is an error naming the file, never a
//! panic or a huge allocation. Fortran-ordered arrays are read in logical (C) order.
//!
//! Supported dtypes: signed and unsigned 8/16/32/64-bit integers, little-endian or
//! byte-order-free. `uint64` values above `i64::MAX` are rejected.

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use ndarray::{ArrayViewD, IxDyn};
use ndarray_npy::{ViewNpyError, ViewNpyExt, WriteNpyExt};

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

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::I8 | Dtype::U8 => 1,
            Dtype::I16 | Dtype::U16 => 2,
            Dtype::I32 | Dtype::U32 => 4,
            Dtype::I64 | Dtype::U64 => 8,
        }
    }

    /// True when `v` is representable.
    pub fn fits(self, v: i64) -> bool {
        match self {
            Dtype::I8 => i8::try_from(v).is_ok(),
            Dtype::I16 => i16::try_from(v).is_ok(),
            Dtype::I32 => i32::try_from(v).is_ok(),
            Dtype::I64 => true,
            Dtype::U8 => u8::try_from(v).is_ok(),
            Dtype::U16 => u16::try_from(v).is_ok(),
            Dtype::U32 => u32::try_from(v).is_ok(),
            Dtype::U64 => v >= 0,
        }
    }
}

/// An integer array read from or written to `.npy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyArray {
    /// Element type on disk.
    pub dtype: Dtype,
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// Values in C (row-major) order.
    pub data: Vec<i64>,
}

/// Largest `.npy` file (or `.npz` member) read: 4 GiB.
pub const MAX_BYTES: u64 = 4 << 30;

/// Read an integer `.npy` file.
pub fn read(path: &Path) -> Result<NpyArray> {
    let bytes = read_bounded(path)?;
    parse(&bytes).with_context(|| format!("{} is not a readable integer .npy file", path.display()))
}

fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?
        .len();
    if len > MAX_BYTES {
        bail!(
            "{} is {len} bytes; accgen reads .npy files of at most {MAX_BYTES} bytes",
            path.display()
        );
    }
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(bytes)
}

/// Copy `bytes` into 8-byte aligned storage so that every element type can be viewed.
fn aligned(bytes: &[u8]) -> Vec<u64> {
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    for (w, ch) in words.iter_mut().zip(bytes.chunks(8)) {
        let mut b = [0u8; 8];
        b[..ch.len()].copy_from_slice(ch);
        *w = u64::from_ne_bytes(b);
    }
    words
}

fn as_bytes(words: &[u64], len: usize) -> &[u8] {
    // SAFETY: `words` owns at least `len` initialised bytes (see `aligned`), and u8
    // has no alignment or validity requirements.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), len) }
}

/// Why a view failed, in words a user can act on.
fn explain(e: ViewNpyError) -> anyhow::Error {
    match e {
        ViewNpyError::LengthOverflow => {
            anyhow!("the shape in the header describes more elements than can exist (overflow)")
        }
        ViewNpyError::MissingBytes(n) => anyhow!(
            "the payload is {n} byte(s) shorter than the shape and dtype in the header require"
        ),
        ViewNpyError::ExtraBytes(n) => anyhow!(
            "the payload is {n} byte(s) longer than the shape and dtype in the header require"
        ),
        ViewNpyError::NonNativeEndian => {
            anyhow!("big-endian data is not supported; save a little-endian array")
        }
        other => anyhow!("{other}"),
    }
}

/// Parse `.npy` bytes.
pub fn parse(bytes: &[u8]) -> Result<NpyArray> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("missing the .npy magic string (\\x93NUMPY)");
    }
    let words = aligned(bytes);
    let b = as_bytes(&words, bytes.len());
    macro_rules! try_type {
        ($t:ty, $dt:expr) => {
            match ArrayViewD::<$t>::view_npy(b) {
                Ok(v) => return collect(v, $dt),
                Err(ViewNpyError::WrongDescriptor(_)) => {}
                Err(e) => return Err(explain(e)),
            }
        };
    }
    try_type!(i8, Dtype::I8);
    try_type!(u8, Dtype::U8);
    try_type!(i16, Dtype::I16);
    try_type!(u16, Dtype::U16);
    try_type!(i32, Dtype::I32);
    try_type!(u32, Dtype::U32);
    try_type!(i64, Dtype::I64);
    // The last candidate's error names the descriptor that was found.
    match ArrayViewD::<u64>::view_npy(b) {
        Ok(v) => {
            let shape = v.shape().to_vec();
            let data = v
                .iter()
                .enumerate()
                .map(|(i, &u)| {
                    i64::try_from(u)
                        .map_err(|_| anyhow!("element {i} = {u} does not fit in int64"))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(NpyArray {
                dtype: Dtype::U64,
                shape,
                data,
            })
        }
        Err(ViewNpyError::WrongDescriptor(d)) => bail!(
            "dtype {d} is not supported; use an integer array (int8, int16, int32, int64, uint8, uint16, uint32 or uint64)"
        ),
        Err(e) => Err(explain(e)),
    }
}

fn collect<T: Copy + Into<i64>>(v: ArrayViewD<'_, T>, dtype: Dtype) -> Result<NpyArray> {
    Ok(NpyArray {
        dtype,
        shape: v.shape().to_vec(),
        // `iter` walks in logical row-major order whatever the memory layout.
        data: v.iter().map(|&x| x.into()).collect(),
    })
}

/// Read every array of an `.npz` archive (`np.savez` or `np.savez_compressed`), in
/// archive order, as (name without `.npy`, array).
pub fn read_npz(path: &Path) -> Result<Vec<(String, NpyArray)>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(f))
        .with_context(|| format!("{} is not a readable .npz (zip) archive", path.display()))?;
    let mut out = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut member = zip
            .by_index(i)
            .with_context(|| format!("{}: cannot open member {i}", path.display()))?;
        let name = member.name().to_string();
        let mut bytes = Vec::new();
        (&mut member)
            .take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("{}: cannot read member {name}", path.display()))?;
        if bytes.len() as u64 > MAX_BYTES {
            bail!(
                "{}: member {name} is larger than {MAX_BYTES} bytes",
                path.display()
            );
        }
        let arr = parse(&bytes)
            .with_context(|| format!("{}: member {name} is not an integer .npy", path.display()))?;
        let short = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        out.push((short, arr));
    }
    Ok(out)
}

/// Encode an array as `.npy` bytes. Values must fit the dtype, and the shape must hold
/// exactly `data.len()` elements.
pub fn encode(a: &NpyArray) -> Result<Vec<u8>> {
    let count = a
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .context("shape overflows")?;
    if count != a.data.len() {
        bail!(
            "shape {:?} holds {count} elements but {} were given",
            a.shape,
            a.data.len()
        );
    }
    if let Some((i, v)) = a.data.iter().enumerate().find(|(_, &v)| !a.dtype.fits(v)) {
        bail!("element {i} = {v} does not fit in {}", a.dtype.name());
    }
    let mut out = Vec::with_capacity(128 + a.data.len() * a.dtype.size());
    let shape = IxDyn(&a.shape);
    macro_rules! write_as {
        ($t:ty) => {{
            let vals: Vec<$t> = a.data.iter().map(|&v| v as $t).collect();
            ndarray::ArrayD::from_shape_vec(shape, vals)
                .context("shape does not match the data")?
                .write_npy(&mut out)
                .map_err(|e| anyhow!("encoding .npy: {e}"))?;
        }};
    }
    match a.dtype {
        Dtype::I8 => write_as!(i8),
        Dtype::I16 => write_as!(i16),
        Dtype::I32 => write_as!(i32),
        Dtype::I64 => write_as!(i64),
        Dtype::U8 => write_as!(u8),
        Dtype::U16 => write_as!(u16),
        Dtype::U32 => write_as!(u32),
        Dtype::U64 => write_as!(u64),
    }
    Ok(out)
}

/// Write `a` to `path` atomically (a temporary file in the same directory, renamed).
pub fn write(path: &Path, a: &NpyArray) -> Result<()> {
    let bytes = encode(a).with_context(|| format!("cannot encode {}", path.display()))?;
    accgen_hw::files::write_atomic(path, &bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> NpyArray {
        NpyArray {
            dtype: Dtype::I16,
            shape: vec![2, 3],
            data: vec![-32768, 5, 32767, 0, -1, 7],
        }
    }

    #[test]
    fn round_trip_every_dtype() {
        for (dtype, vals) in [
            (Dtype::I8, vec![-128, 0, 127]),
            (Dtype::I16, vec![-32768, 5, 32767]),
            (Dtype::I32, vec![i32::MIN as i64, 1, i32::MAX as i64]),
            (Dtype::I64, vec![i64::MIN, -1, i64::MAX]),
            (Dtype::U8, vec![0, 255, 7]),
            (Dtype::U16, vec![0, 65535, 9]),
            (Dtype::U32, vec![0, u32::MAX as i64, 9]),
            (Dtype::U64, vec![0, i64::MAX, 9]),
        ] {
            let a = NpyArray {
                dtype,
                shape: vec![1, 3],
                data: vals,
            };
            let bytes = encode(&a).unwrap();
            assert_eq!(parse(&bytes).unwrap(), a);
        }
    }

    /// A version-1.0 file with a hand-written header (numpy's layout: magic, version,
    /// little-endian u16 header length, dict text padded with spaces, newline).
    fn handmade(header: &str, payload: &[u8]) -> Vec<u8> {
        let mut h = header.to_string();
        let total = 10 + h.len() + 1;
        h.push_str(&" ".repeat((64 - total % 64) % 64));
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn crafted_headers_are_errors_not_panics() {
        let cases: &[(&str, &[u8], &str)] = &[
            (
                "{'descr': '|i1', 'fortran_order': False, 'shape': ), }",
                b"",
                "parsing header",
            ),
            (
                "{'descr': '|i1', 'fortran_order': False, 'shape': (\u{e9},), }",
                b"",
                "parsing header",
            ),
            (
                "{'descr': '<i2', 'fortran_order': False, 'shape': (9223372036854775808, 2), }",
                b"",
                "",
            ),
            (
                "{'descr': '<i2', 'fortran_order': False, 'shape': (3, 6148914691236517206), }",
                b"\x01\x02\x03\x04",
                "overflow",
            ),
            (
                "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }",
                b"\x01\x02\x03\x04",
                "shorter",
            ),
            (
                "{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }",
                b"\x01\x02\x03\x04",
                "longer",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                b"\x01\x02\x03\x04",
                "not supported",
            ),
            (
                "{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }",
                b"\x01\x02\x03\x04",
                "",
            ),
        ];
        for (h, payload, want) in cases {
            let err = format!("{:#}", parse(&handmade(h, payload)).unwrap_err());
            assert!(err.contains(want), "header {h}: {err}");
        }
    }

    #[test]
    fn fortran_order_is_read_in_logical_order() {
        // [[1, 2, 3], [4, 5, 6]] stored column-major.
        let bytes = handmade(
            "{'descr': '|i1', 'fortran_order': True, 'shape': (2, 3), }",
            &[1, 4, 2, 5, 3, 6],
        );
        let a = parse(&bytes).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn encode_checks_values_and_shape() {
        let bad = NpyArray {
            dtype: Dtype::I8,
            shape: vec![1],
            data: vec![300],
        };
        assert!(format!("{:#}", encode(&bad).unwrap_err()).contains("does not fit in int8"));
        let short = NpyArray {
            shape: vec![4],
            ..sample()
        };
        assert!(format!("{:#}", encode(&short).unwrap_err()).contains("holds 4 elements"));
    }

    #[test]
    fn npz_archives_are_read_member_by_member() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.npz");
        let f = std::fs::File::create(&path).unwrap();
        let mut z = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("b.npy", opts).unwrap();
        std::io::Write::write_all(&mut z, &encode(&sample()).unwrap()).unwrap();
        z.start_file("bad.npy", opts).unwrap();
        std::io::Write::write_all(&mut z, b"\x93NUMPY\x01\x00junk").unwrap();
        z.finish().unwrap();
        let err = format!("{:#}", read_npz(&path).unwrap_err());
        assert!(err.contains("member bad.npy"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Random bytes after a valid magic string never panic.
        #[test]
        fn random_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut b = b"\x93NUMPY\x01\x00".to_vec();
            b.extend_from_slice(&tail);
            let _ = parse(&b);
        }

        /// A valid file with random bytes overwritten (header and payload) never panics,
        /// and whatever parses has exactly as many elements as its shape says.
        #[test]
        fn corrupted_files_never_panic(
            edits in proptest::collection::vec((0usize..200, any::<u8>()), 1..8),
            cut in 0usize..200,
        ) {
            let mut b = encode(&sample()).unwrap();
            for (pos, v) in edits {
                let n = b.len();
                b[pos % n] = v;
            }
            b.truncate(b.len().saturating_sub(cut % 4));
            if let Ok(a) = parse(&b) {
                let n: usize = a.shape.iter().product();
                prop_assert_eq!(n, a.data.len());
            }
        }

        /// Random shapes in an otherwise well-formed header never panic.
        #[test]
        fn random_shapes_never_panic(
            dims in proptest::collection::vec(any::<u64>(), 0..4),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let shape = dims.iter().map(|d| format!("{d}, ")).collect::<String>();
            let h = format!("{{'descr': '<i2', 'fortran_order': False, 'shape': ({shape}), }}");
            if let Ok(a) = parse(&handmade(&h, &payload)) {
                prop_assert_eq!(a.data.len() * 2, payload.len());
            }
        }
    }
}
