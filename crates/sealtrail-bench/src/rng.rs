//! A small, fully specified random source and a Zipf sampler.
//!
//! The workload must be the same for a given seed on every machine and every future build, so
//! it does not depend on a general-purpose generator whose algorithm may change between crate
//! versions: SplitMix64 is ten lines and fixed forever.

/// SplitMix64 (Steele, Lea and Flood), the seeding generator of the xoshiro family.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose whole output is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform number in `[0, n)` (0 when `n` is 0); the modulo bias is below 2^-40 for the
    /// sizes used here, far under anything a benchmark could notice.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// Zipf's law over ranks `0..n`: rank k is drawn with probability proportional to
/// `1 / (k + 1)^s`. Sampling is a binary search of the cumulative table.
#[derive(Debug, Clone)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// The distribution over `n` ranks (at least one) with exponent `s`.
    pub fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let mut cumulative = Vec::with_capacity(n.max(1));
        for k in 0..n.max(1) {
            total += 1.0 / ((k + 1) as f64).powf(s);
            cumulative.push(total);
        }
        for c in &mut cumulative {
            *c /= total;
        }
        Zipf { cumulative }
    }

    /// The probability of rank `k`.
    pub fn probability(&self, k: usize) -> f64 {
        let below = if k == 0 { 0.0 } else { self.cumulative[k - 1] };
        self.cumulative.get(k).map_or(0.0, |c| c - below)
    }

    /// One rank.
    pub fn sample(&self, rng: &mut SplitMix64) -> usize {
        let x = rng.unit();
        let rank = self.cumulative.partition_point(|&c| c <= x);
        rank.min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splitmix_matches_the_reference_output() {
        // First outputs for seed 1234567 from the reference C implementation.
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn zipf_one_over_ten_ranks_has_the_harmonic_shares() {
        let zipf = Zipf::new(10, 1.0);
        let harmonic: f64 = (1..=10).map(|k| 1.0 / k as f64).sum();
        assert!((zipf.probability(0) - 1.0 / harmonic).abs() < 1e-12);
        assert!((zipf.probability(9) - 0.1 / harmonic).abs() < 1e-12);
        let mut rng = SplitMix64::new(9);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[zipf.sample(&mut rng)] += 1;
        }
        let share = f64::from(counts[0]) / 100_000.0;
        assert!(
            (share - 1.0 / harmonic).abs() < 0.01,
            "rank 0 share {share}"
        );
    }

    proptest! {
        #[test]
        fn samples_stay_in_range(n in 1usize..500, s in 0.5f64..2.0, seed: u64) {
            let zipf = Zipf::new(n, s);
            let mut rng = SplitMix64::new(seed);
            for _ in 0..50 {
                prop_assert!(zipf.sample(&mut rng) < n);
            }
            let total: f64 = (0..n).map(|k| zipf.probability(k)).sum();
            prop_assert!((total - 1.0).abs() < 1e-9);
        }

        #[test]
        fn below_stays_below(n in 1u64.., seed: u64) {
            let mut rng = SplitMix64::new(seed);
            prop_assert!(rng.below(n) < n);
            let u = rng.unit();
            prop_assert!((0.0..1.0).contains(&u));
        }
    }
}
