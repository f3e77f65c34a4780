//! `java.util.Random`, bit for bit.
//!
//! Flink's generators draw from `java.util.Random`. Porting the 48-bit linear congruential
//! generator itself (rather than using another PRNG) keeps the examples' logic checkable
//! against the Java originals: with the same seed, `EventsGenerator` and the car source
//! produce exactly the events the Java code produces with `new Random(seed)`.
//!
//! The connectors crate has an equivalent port for Nexmark, but it is crate-private.

/// The LCG multiplier of `java.util.Random`.
const MULTIPLIER: i64 = 0x5_DEEC_E66D;
/// The LCG increment of `java.util.Random`.
const ADDEND: i64 = 0xB;
/// The state has 48 bits.
const MASK: i64 = (1 << 48) - 1;

/// `java.util.Random`: the same seed gives the same values as on the JVM.
#[derive(Debug, Clone)]
pub(crate) struct JavaRandom {
    state: i64,
}

impl JavaRandom {
    /// `new Random(seed)`.
    pub(crate) fn new(seed: i64) -> Self {
        Self { state: (seed ^ MULTIPLIER) & MASK }
    }

    /// `Random.next(bits)`: advances the generator and returns its top `bits` bits.
    fn next(&mut self, bits: u32) -> i32 {
        self.state = self.state.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        // The state is non-negative, so `>>` is Java's `>>>`; the cast keeps the low 32 bits.
        (self.state >> (48 - bits)) as i32
    }

    /// `Random.nextInt(bound)`: uniform in `[0, bound)`; `bound` must be positive.
    pub(crate) fn next_int(&mut self, bound: i32) -> i32 {
        assert!(bound > 0, "bound must be positive, got {bound}");
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            // A power of two: take the high bits, which are the more random ones.
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        // Reject the top partial range so that every value is equally likely; the overflow
        // test is Java's `u - r + m < 0` on 32-bit ints.
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    /// `Random.nextBoolean()`.
    pub(crate) fn next_boolean(&mut self) -> bool {
        self.next(1) != 0
    }

    /// `Random.nextFloat()`: uniform in `[0, 1)` with 24 random bits.
    pub(crate) fn next_float(&mut self) -> f32 {
        self.next(24) as f32 / (1 << 24) as f32
    }

    /// `Random.nextDouble()`: uniform in `[0, 1)` with 53 random bits.
    pub(crate) fn next_double(&mut self) -> f64 {
        let high = i64::from(self.next(26)) << 27;
        let low = i64::from(self.next(27));
        (high + low) as f64 / (1_i64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::JavaRandom;

    /// Values printed by OpenJDK 17 for `new Random(42)`: `nextInt(100)`, `nextInt(1 << 20)`,
    /// `nextInt(Integer.MAX_VALUE)`, `nextBoolean()`, `nextFloat()`, `nextDouble()`.
    #[test]
    fn matches_the_jvm() {
        let mut r = JavaRandom::new(42);
        let ints = [r.next_int(100), r.next_int(1 << 20), r.next_int(i32::MAX)];
        let (b, f, d) = (r.next_boolean(), r.next_float(), r.next_double());
        assert_eq!((ints, b, f.to_bits(), d.to_bits()), JVM_SEED_42);
    }

    const JVM_SEED_42: ([i32; 3], bool, u32, u64) = ([30, 57320, 1_467_211_248], false, 0x3e9e_1078, 0x3fee_2577_6a37_74ec);
}
