//! swvr's own PRNG: SplitMix64 for seeding, xoshiro256** for streams.
//! Written here (no `rand` dependency) so that the bytes of a generated
//! bundle (swvr-synth) and of bootstrap replicate weights (swvr-weight)
//! never change with a dependency upgrade.
//!
//! References: Steele, Lea & Flood (2014), "Fast splittable pseudorandom
//! number generators" (SplitMix64); Blackman & Vigna (2018), "Scrambled
//! linear pseudorandom number generators" (xoshiro256**), reference C code
//! at <https://prng.di.unimi.it/>.

/// One step of SplitMix64: advances `state` and returns the next output.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes a sequence of words into one seed (SplitMix64 chain).
pub fn mix(words: &[u64]) -> u64 {
    let mut s = 0x5357_5652_2021_0000_u64; // "SWVR" 2021
    let mut out = splitmix64(&mut s);
    for &w in words {
        s ^= w;
        out ^= splitmix64(&mut s);
        s = out;
    }
    out
}

/// xoshiro256** generator.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose state is filled from SplitMix64 seeded with `seed`
    /// (the seeding the xoshiro authors recommend).
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Self { s }
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    #[inline]
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// An index drawn from cumulative probabilities `cum` (last entry 1).
    #[inline]
    pub fn pick(&mut self, cum: &[f64]) -> usize {
        let u = self.uniform();
        cum.iter().position(|&c| u < c).unwrap_or(cum.len().saturating_sub(1))
    }

    /// Uniform integer in `lo..=hi`.
    #[inline]
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi - lo) + 1;
        // Lemire's multiply-shift; the tiny bias (< span / 2^64) is irrelevant here.
        lo + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_reference_first_outputs() {
        // State 1,2,3,4: the first outputs of the reference C implementation.
        let mut r = Rng { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(got, vec![11520, 0, 1509978240]);
    }

    #[test]
    fn splitmix_reference() {
        let mut s = 1234567u64;
        assert_eq!(splitmix64(&mut s), 6457827717110365317);
        assert_eq!(splitmix64(&mut s), 3203168211198807973);
    }

    #[test]
    fn uniform_and_range_bounds() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            let k = r.range(3, 5);
            assert!((3..=5).contains(&k));
        }
        assert_eq!(r.pick(&[0.0, 0.0, 1.0]), 2);
    }
}
