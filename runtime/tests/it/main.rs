//! Dataflow tests of the runtime: real task threads and channels, every test at parallelism 1
//! and at 4, outputs compared whole with independently computed expectations.

mod backpressure;
mod checkpoints;
mod dataflow;
mod failure;
mod idleness;
mod joins;
mod plan;
mod windows;

/// The parallelisms every dataflow test runs at.
const PARALLELISMS: [u32; 2] = [1, 4];

/// A deterministic pseudo-random sequence (xorshift), independent of the code under test.
fn pseudo_random(seed: u64, n: usize) -> Vec<u64> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect()
}
