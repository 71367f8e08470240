//! Stable content hashing (BLAKE3, via the `blake3` crate) for config hashes, module
//! names and build-cache keys. Unlike `std`'s hasher its output never changes between
//! Rust releases.

/// Incremental content hasher; every `update` is length-prefixed so that
/// `("ab", "c")` and `("a", "bc")` hash differently.
#[derive(Debug, Clone, Default)]
pub struct ContentHasher(blake3::Hasher);

impl ContentHasher {
    /// Fresh hasher.
    pub fn new() -> ContentHasher {
        ContentHasher::default()
    }

    /// Feed one length-prefixed field.
    pub fn update(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// The first 128 bits of the digest as 32 lowercase hex digits.
    pub fn hex(&self) -> String {
        self.0.finalize().to_hex()[..32].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguishes_splits_and_is_stable() {
        let a = ContentHasher::new().update(b"ab").update(b"c").hex();
        let b = ContentHasher::new().update(b"a").update(b"bc").hex();
        assert_ne!(a, b);
        assert_eq!(a, ContentHasher::new().update(b"ab").update(b"c").hex());
        assert_eq!(a.len(), 32);
        // BLAKE3 of (len=0 as u64 LE): independent of this code, fixed forever.
        let empty = ContentHasher::new().update(b"").hex();
        assert_eq!(
            empty,
            blake3::hash(&0u64.to_le_bytes()).to_hex()[..32].to_string()
        );
    }
}
