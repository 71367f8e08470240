//! A tiny deterministic generator (SplitMix64) for test vectors and demos, so that
//! every run with the same seed replays the same stimulus.

/// SplitMix64 pseudo-random generator.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Generator seeded with `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform integer in `lo..=hi` (inclusive; `lo <= hi`).
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "range_i64: empty range {lo}..={hi}");
        let span = (hi as i128 - lo as i128 + 1) as u128;
        let r = ((self.next_u64() as u128) * span) >> 64;
        (lo as i128 + r as i128) as i64
    }

    /// Uniform random signed `bits`-bit integer (1..=64 bits).
    pub fn signed(&mut self, bits: u32) -> i64 {
        assert!((1..=64).contains(&bits));
        (self.next_u64() as i64) >> (64 - bits)
    }

    /// True with probability `p` (0 never, 1 always).
    pub fn chance(&mut self, p: f64) -> bool {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        p > 0.0 && u < p
    }

    /// Random bits of `words.len() * 64`, little-endian words.
    pub fn fill(&mut self, words: &mut [u64]) {
        for w in words {
            *w = self.next_u64();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_inclusive_and_bounded() {
        let mut r = SplitMix64::new(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = r.range_i64(-2, 2);
            assert!((-2..=2).contains(&v));
            seen[(v + 2) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        for _ in 0..1000 {
            let v = r.signed(8);
            assert!((-128..=127).contains(&v));
        }
    }
}
