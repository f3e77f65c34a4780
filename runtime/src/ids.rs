//! Random names: job and trigger ids, savepoint directories, temporary files.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// `digits` random lowercase hex digits (a job id has 32, like Flink's `JobID`).
///
/// `RandomState` is seeded from the operating system's randomness (which spares a dependency
/// for the few random names we need); the time, the process id and a per-process counter go
/// into every hash, so that two calls never give the same name.
///
/// ```
/// let id = strom_runtime::random_hex(32);
/// assert_eq!(id.len(), 32);
/// assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
/// assert_ne!(id, strom_runtime::random_hex(32));
/// ```
pub fn random_hex(digits: usize) -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut out = String::with_capacity(digits + 16);
    let mut word = 0u32;
    while out.len() < digits {
        let bits = RandomState::new().hash_one((nanos, std::process::id(), call, word));
        out.push_str(&format!("{bits:016x}"));
        word += 1;
    }
    out.truncate(digits);
    out
}
