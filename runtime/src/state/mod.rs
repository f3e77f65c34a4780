//! Keyed state: key groups, the heap backend and the handles user functions hold.
//!
//! A keyed operator owns one [`KeyedStateBackend`] per subtask. User functions declare state
//! handles ([`ValueState`], [`ListState`], [`MapState`], [`ReducingState`]) as ordinary fields
//! and access them through the context the runtime passes with each element or timer, which
//! carries the current key. Every value lives under a *namespace*: [`Namespace::VOID`] for
//! plain keyed state, or the window it belongs to.
//!
//! The heap backend keeps one typed table per state; the table is type-erased once, so an
//! access costs one type check, not one per entry. The RocksDB backend (a later issue) keeps
//! the same handles and encodes `key group | key | namespace` as its keys.

mod handles;
mod heap;
mod key_group;
pub(crate) mod snapshot;

pub use handles::{KeyedStateContext, ListState, MapState, ReducingState, StateAccess, ValueState};
pub use heap::KeyedStateBackend;
pub use key_group::{default_max_parallelism, stable_hash, KeyGroup, KeyGroupRange, UPPER_BOUND_MAX_PARALLELISM};

use crate::data::Timestamp;

/// The hash map behind keyed state and timers: foldhash is several times faster than std's
/// SipHash on small keys and still seeded per process, so keys cannot be chosen to collide.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The namespace of a state value: a window `[start, end)`, or [`Namespace::VOID`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Namespace {
    /// Window start (inclusive).
    pub start: Timestamp,
    /// Window end (exclusive).
    pub end: Timestamp,
}

impl Namespace {
    /// The namespace of state that belongs to no window.
    pub const VOID: Namespace = Namespace { start: i64::MIN, end: i64::MIN };
}
