//! Stable content hashing (FNV-1a, 128-bit) for config hashes and build-cache keys.
//! Unlike `std`'s hasher its output never changes between Rust releases.

const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
const PRIME: u128 = 0x0000000001000000000000000000013B;

/// Incremental FNV-1a 128 hasher.
#[derive(Debug, Clone)]
pub struct Fnv128(u128);

impl Default for Fnv128 {
    fn default() -> Self {
        Fnv128(OFFSET)
    }
}

impl Fnv128 {
    /// Fresh hasher.
    pub fn new() -> Fnv128 {
        Fnv128::default()
    }

    /// Feed bytes; a length prefix keeps `("ab","c")` and `("a","bc")` apart.
    pub fn update(&mut self, bytes: &[u8]) -> &mut Self {
        for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 ^= *b as u128;
            self.0 = self.0.wrapping_mul(PRIME);
        }
        self
    }

    /// 32 lowercase hex digits.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguishes_splits_and_is_stable() {
        let a = Fnv128::new().update(b"ab").update(b"c").hex();
        let b = Fnv128::new().update(b"a").update(b"bc").hex();
        assert_ne!(a, b);
        assert_eq!(a, Fnv128::new().update(b"ab").update(b"c").hex());
        assert_eq!(a.len(), 32);
    }
}
