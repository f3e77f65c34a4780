//! Keyed state: key groups, the heap backend and the handles user functions hold.
//!
//! A keyed operator owns one [`KeyedStateBackend`] per subtask. User functions declare state
//! handles ([`ValueState`], [`ListState`], [`MapState`], [`ReducingState`]) as ordinary fields
//! and access them through the context the runtime passes with each element or timer, which
//! carries the current key. Every value lives under a *namespace*: [`Namespace::VOID`] for
//! plain keyed state, or the window it belongs to.
//!
//! The heap backend keeps one typed table per state; the table is type-erased once, so an
//! access costs one type check, not one per entry. The RocksDB backend keeps the same handles
//! and stores `key group | state | key | namespace -> value` in one RocksDB instance per
//! operator subtask (see `rocks.rs`).

mod handles;
mod heap;
mod key_group;
pub(crate) mod rocks;
#[cfg(test)]
mod rocks_tests;
pub(crate) mod snapshot;
mod table;

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

/// The keyed state backend (`state.backend.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateBackendKind {
    /// `hashmap`: objects on the heap; snapshots are canonical.
    #[default]
    HashMap,
    /// `rocksdb`: serialized in a local RocksDB instance; checkpoints are native RocksDB files
    /// (incremental with `state.backend.incremental`), savepoints canonical.
    RocksDb,
}

/// The state backend settings of a job.
///
/// ```
/// use strom_runtime::Configuration;
/// use strom_runtime::state::{StateBackendConfig, StateBackendKind};
/// let mut conf = Configuration::default();
/// conf.set("state.backend.type", "rocksdb");
/// conf.set("state.backend.incremental", "true");
/// conf.set("io.tmp.dirs", "/mnt/fast,/mnt/slow");
/// let config = StateBackendConfig::from_config(&conf)?;
/// assert_eq!((config.kind, config.incremental), (StateBackendKind::RocksDb, true));
/// assert_eq!(config.local_dir, std::path::Path::new("/mnt/fast"));
/// # Ok::<(), strom_runtime::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateBackendConfig {
    /// `state.backend.type`.
    pub kind: StateBackendKind,
    /// `state.backend.incremental` (RocksDB only).
    pub incremental: bool,
    /// Where RocksDB instances live: `state.backend.rocksdb.localdir`, else the first of
    /// `io.tmp.dirs`, else the system's temporary directory.
    pub local_dir: std::path::PathBuf,
}

impl Default for StateBackendConfig {
    fn default() -> Self {
        Self { kind: StateBackendKind::HashMap, incremental: false, local_dir: std::env::temp_dir() }
    }
}

impl StateBackendConfig {
    /// Reads `state.backend.type`, `state.backend.incremental`, `state.backend.rocksdb.localdir`
    /// and `io.tmp.dirs`; errors name the key.
    pub fn from_config(config: &crate::config::Configuration) -> crate::Result<Self> {
        use crate::config::{self as keys, defaults};
        let kind = match config.get_enum(keys::STATE_BACKEND, keys::STATE_BACKENDS)? {
            Some("rocksdb") => StateBackendKind::RocksDb,
            _ => StateBackendKind::HashMap,
        };
        let incremental = config.get_bool(keys::INCREMENTAL_CHECKPOINTS)?.unwrap_or(defaults::INCREMENTAL_CHECKPOINTS);
        let local_dir = match (config.get(keys::ROCKSDB_LOCAL_DIR), config.get(keys::TMP_DIRS)) {
            (Some(dir), _) => std::path::PathBuf::from(dir),
            (None, Some(dirs)) => dirs
                .split([',', ':'])
                .find(|d| !d.trim().is_empty())
                .map(|d| std::path::PathBuf::from(d.trim()))
                .ok_or_else(|| crate::Error::config(keys::TMP_DIRS, "lists no directory"))?,
            (None, None) => std::env::temp_dir(),
        };
        Ok(Self { kind, incremental, local_dir })
    }
}
