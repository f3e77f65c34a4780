//! A bit-exact port of `java.util.Random`.
//!
//! Beam's Nexmark generator seeds one `java.util.Random` per event with the event id and
//! draws every field from it, so reproducing Beam's event stream requires reproducing
//! Java's 48-bit linear congruential generator exactly, including the scrambling done by
//! `setSeed`, the power-of-two fast path and the rejection loop of `nextInt(bound)`, and
//! the way `nextLong` and `nextDouble` combine several draws. Flink's example generators
//! (state machine, cars) use it too.
//!
//! ```
//! use strom_connectors::JavaRandom;
//! let mut r = JavaRandom::new(42);
//! assert_eq!(r.next_int(), -1170105035); // new Random(42).nextInt() on the JVM
//! ```

/// The LCG multiplier used by `java.util.Random`.
const MULTIPLIER: i64 = 0x5_DEEC_E66D;
/// The LCG increment used by `java.util.Random`.
const ADDEND: i64 = 0xB;
/// The state of `java.util.Random` has 48 bits.
const MASK: i64 = (1 << 48) - 1;
/// `0x1.0p-53`, the scale `nextDouble` applies to its 53 random bits.
const DOUBLE_UNIT: f64 = 1.0 / (1u64 << 53) as f64;

/// `java.util.Random`: same seed, same sequence of values as on the JVM.
#[derive(Debug, Clone)]
pub struct JavaRandom {
    /// The 48-bit LCG state.
    seed: i64,
}

impl JavaRandom {
    /// `new Random(seed)`.
    pub fn new(seed: i64) -> Self {
        Self { seed: (seed ^ MULTIPLIER) & MASK }
    }

    /// `Random.next(bits)`: advances the LCG and returns its top `bits` bits (1..=32).
    #[inline]
    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        // Java: `(int) (seed >>> (48 - bits))`; the seed is non-negative so `>>` is `>>>`,
        // and the cast keeps the low 32 bits.
        (self.seed >> (48 - bits)) as i32
    }

    /// `Random.nextInt()`: uniformly distributed over all `i32` values.
    #[inline]
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `Random.nextInt(bound)`: uniformly distributed in `[0, bound)`.
    ///
    /// Java throws for a non-positive `bound`; callers in this crate always pass a positive
    /// one, and a non-positive `bound` returns 0 without consuming randomness.
    #[inline]
    pub fn next_int_bounded(&mut self, bound: i32) -> i32 {
        if bound <= 0 {
            return 0;
        }
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            // Power of two: take the high bits, which are the more random ones.
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        // Reject the values of the final incomplete block of `bound` values; Java detects
        // them through `int` overflow of `u - r + m`.
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    /// `Random.nextLong()`: two 32-bit draws combined into one `i64`.
    #[inline]
    pub fn next_long(&mut self) -> i64 {
        let high = i64::from(self.next(32));
        let low = i64::from(self.next(32));
        (high << 32).wrapping_add(low)
    }

    /// `Random.nextDouble()`: uniformly distributed in `[0, 1)` with 53 random bits.
    #[inline]
    /// `Random.nextBoolean()`.
    pub fn next_boolean(&mut self) -> bool {
        self.next(1) != 0
    }

    /// `Random.nextFloat()`: uniform in `[0, 1)` with 24 random bits.
    pub fn next_float(&mut self) -> f32 {
        self.next(24) as f32 / (1 << 24) as f32
    }

    /// `Random.nextDouble()`: uniform in `[0, 1)` with 53 random bits.
    pub fn next_double(&mut self) -> f64 {
        let high = i64::from(self.next(26));
        let low = i64::from(self.next(27));
        ((high << 27) + low) as f64 * DOUBLE_UNIT
    }
}

#[cfg(test)]
mod tests {
    //! Expected values were printed by `java.util.Random` on OpenJDK 17.
    use super::JavaRandom;

    /// Values printed by OpenJDK 17 for `new Random(42)`: `nextInt(100)`, `nextInt(1 << 20)`,
    /// `nextInt(Integer.MAX_VALUE)`, `nextBoolean()`, `nextFloat()`, `nextDouble()`.
    #[test]
    fn boolean_and_float_match_the_jvm() {
        let mut r = JavaRandom::new(42);
        let ints = [r.next_int_bounded(100), r.next_int_bounded(1 << 20), r.next_int_bounded(i32::MAX)];
        let (b, f, d) = (r.next_boolean(), r.next_float(), r.next_double());
        assert_eq!((ints, b, f.to_bits(), d.to_bits()), ([30, 57320, 1_467_211_248], false, 0x3e9e_1078, 0x3fee_2577_6a37_74ec));
    }

    #[test]
    fn next_int_matches_java() {
        let mut r = JavaRandom::new(42);
        let got: Vec<i32> = (0..5).map(|_| r.next_int()).collect();
        assert_eq!(got, [-1_170_105_035, 234_785_527, -1_360_544_799, 205_897_768, 1_325_939_940]);
    }

    #[test]
    fn next_int_bounded_matches_java() {
        let mut r = JavaRandom::new(42);
        let got: Vec<i32> = (0..10).map(|_| r.next_int_bounded(10)).collect();
        assert_eq!(got, [0, 3, 8, 4, 0, 5, 5, 8, 9, 3]);
    }

    #[test]
    fn next_int_power_of_two_matches_java() {
        let mut r = JavaRandom::new(-7);
        let got: Vec<i32> = (0..8).map(|_| r.next_int_bounded(16)).collect();
        assert_eq!(got, [4, 14, 10, 15, 8, 2, 13, 5]);
    }

    #[test]
    fn next_int_rejection_path_matches_java() {
        // With a bound just above 2^30 about half of all draws are rejected, so the six
        // values below consume more than six draws; the `next_int` that follows checks
        // that exactly as many draws were consumed as on the JVM.
        let bound = (1 << 30) + 1;
        let mut r = JavaRandom::new(123_456_789);
        let got: Vec<i32> = (0..6).map(|_| r.next_int_bounded(bound)).collect();
        assert_eq!(got, [981_296_483, 547_328_344, 838_606_290, 465_137_554, 913_732_807, 925_572_887]);
        assert_eq!(r.next_int(), 1_543_966_882);
    }

    #[test]
    fn mixed_draws_match_java() {
        let mut r = JavaRandom::new(99);
        assert_eq!(r.next_int_bounded(13), 1);
        assert_eq!(r.next_int_bounded(26), 14);
        assert_eq!(r.next_int_bounded(10_000), 2429);
        assert_eq!(r.next_int_bounded(1), 0);
        assert_eq!(r.next_long(), -3_400_242_696_512_574_491);
        assert_eq!(r.next_int_bounded(i32::MAX), 1_861_955_674);
    }

    #[test]
    fn next_long_matches_java() {
        let mut r = JavaRandom::new(0);
        let got: Vec<i64> = (0..3).map(|_| r.next_long()).collect();
        assert_eq!(got, [-4_962_768_465_676_381_896, 4_437_113_781_045_784_766, -6_688_467_811_848_818_630]);
    }

    #[test]
    fn next_double_matches_java() {
        let mut r = JavaRandom::new(1);
        let got: Vec<u64> = (0..3).map(|_| r.next_double().to_bits()).collect();
        assert_eq!(got, [0x3fe7_635a_a8cd_c4e6, 0x3fda_3ec3_9684_df98, 0x3fca_9666_6128_d71c]);
    }

    #[test]
    fn extreme_seeds_match_java() {
        let mut r = JavaRandom::new(i64::MIN);
        assert_eq!(r.next_int(), -1_155_484_576);
        let mut r = JavaRandom::new(-1);
        assert_eq!(r.next_int_bounded(1000), 913);
    }

    #[test]
    fn non_positive_bound_returns_zero() {
        let mut r = JavaRandom::new(5);
        assert_eq!(r.next_int_bounded(0), 0);
        assert_eq!(r.next_int_bounded(-3), 0);
    }
}
