//! Key groups: the unit in which keyed state is partitioned and redistributed.
//!
//! As in Flink, every key belongs to one of `max_parallelism` key groups and every subtask of a
//! keyed operator owns a contiguous range of key groups. When the parallelism changes, whole key
//! groups move between subtasks, so state never has to be split below that granularity.
//!
//! The key group of a key is `murmur3_fmix(stable_hash(key)) % max_parallelism`, where
//! `stable_hash` feeds the key's `Hash` implementation into FNV-1a (stable across processes and
//! runs, unlike std's randomly seeded hasher) and the murmur3 finaliser spreads it, as Flink
//! applies `MathUtils.murmurHash` to `hashCode()`.

use std::hash::{Hash, Hasher};

/// Index of a key group, in `0..max_parallelism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyGroup(pub u32);

/// Flink's bounds on max parallelism.
pub const UPPER_BOUND_MAX_PARALLELISM: u32 = 1 << 15;
const DEFAULT_LOWER_BOUND_MAX_PARALLELISM: u32 = 1 << 7;

/// A contiguous, inclusive range of key groups owned by one subtask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGroupRange {
    /// First key group of the range.
    pub start: u32,
    /// Last key group of the range (inclusive); `end < start` means empty.
    pub end: u32,
}

impl KeyGroupRange {
    /// The range Flink assigns to `subtask` of `parallelism`
    /// (`KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex`).
    ///
    /// ```
    /// use strom_runtime::state::KeyGroupRange;
    /// let r = KeyGroupRange::for_subtask(128, 4, 1);
    /// assert_eq!((r.start, r.end), (32, 63));
    /// ```
    pub fn for_subtask(max_parallelism: u32, parallelism: u32, subtask: u32) -> Self {
        let (m, p, i) = (max_parallelism as u64, parallelism as u64, subtask as u64);
        let start = (i * m).div_ceil(p);
        let end = ((i + 1) * m - 1) / p;
        Self { start: start as u32, end: end as u32 }
    }

    /// Whether `kg` lies in the range.
    pub fn contains(&self, kg: KeyGroup) -> bool {
        self.start <= kg.0 && kg.0 <= self.end
    }
}

/// FNV-1a, fed by `Hash`: a hash that is the same in every process and run.
#[derive(Debug)]
struct StableHasher(u64);

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A hash of `key` that is stable across processes and runs.
pub fn stable_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut h = StableHasher(0xcbf2_9ce4_8422_2325);
    key.hash(&mut h);
    h.finish()
}

fn murmur3_fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl KeyGroup {
    /// The key group of `key` for the given max parallelism.
    pub fn of<K: Hash + ?Sized>(key: &K, max_parallelism: u32) -> Self {
        Self::from_hash(stable_hash(key), max_parallelism)
    }

    /// The key group of a key whose [`stable_hash`] is `hash`.
    pub fn from_hash(hash: u64, max_parallelism: u32) -> Self {
        KeyGroup((murmur3_fmix(hash) % u64::from(max_parallelism)) as u32)
    }

    /// The subtask owning this key group (`KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup`).
    pub fn subtask(self, max_parallelism: u32, parallelism: u32) -> u32 {
        (u64::from(self.0) * u64::from(parallelism) / u64::from(max_parallelism)) as u32
    }
}

/// Flink's default max parallelism for an operator of the given parallelism:
/// `roundUpToPowerOfTwo(p + p / 2)` clamped to `[128, 32768]`.
pub fn default_max_parallelism(parallelism: u32) -> u32 {
    (parallelism + parallelism / 2).next_power_of_two().clamp(DEFAULT_LOWER_BOUND_MAX_PARALLELISM, UPPER_BOUND_MAX_PARALLELISM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_partition_all_key_groups_contiguously() {
        for (m, p) in [(128, 1), (128, 3), (128, 4), (10, 7), (32768, 5), (7, 7)] {
            let mut next = 0;
            for i in 0..p {
                let r = KeyGroupRange::for_subtask(m, p, i);
                assert_eq!(r.start, next, "m={m} p={p} i={i}");
                for kg in r.start..=r.end {
                    assert_eq!(KeyGroup(kg).subtask(m, p), i, "m={m} p={p} kg={kg}");
                }
                next = r.end + 1;
            }
            assert_eq!(next, m);
        }
    }

    #[test]
    fn key_group_is_stable_and_spread() {
        assert_eq!(KeyGroup::of("alice", 128), KeyGroup::of(&"alice".to_string(), 128));
        let mut counts = [0u32; 128];
        for i in 0..12_800u64 {
            counts[KeyGroup::of(&i, 128).0 as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (50..=150).contains(&c)), "{counts:?}");
    }

    #[test]
    fn default_max_parallelism_matches_flink() {
        assert_eq!(default_max_parallelism(1), 128);
        assert_eq!(default_max_parallelism(100), 256);
        assert_eq!(default_max_parallelism(30_000), 32768);
    }
}
