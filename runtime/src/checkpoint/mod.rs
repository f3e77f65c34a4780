//! Checkpoints: barriers, snapshots of operator state, their storage and restore.
//!
//! Aligned checkpoints as in Flink (asynchronous barrier snapshotting): the coordinator asks
//! every source to inject a barrier; a task aligns the barriers of all its open inputs,
//! snapshots its operators synchronously, forwards the barrier, and hands the snapshot to an
//! uploader that writes it and acknowledges to the coordinator. When every task acknowledged,
//! the coordinator writes `_metadata` atomically; only then is the checkpoint complete and the
//! tasks are told (two-phase-commit sinks commit).
//!
//! State crosses the snapshot boundary in one canonical form ([`OperatorSnapshot`]): keyed
//! state as bytes per key group (so that it can be redistributed when the parallelism
//! changes), operator list state (split evenly on restore) and union state (every subtask gets
//! all of it). Both state backends read and write that form, so savepoints move between them.

mod assign;
pub(crate) mod coordinator;
mod native;
mod stats;
mod storage;

pub use assign::{assign_state, unmatched_operators};
pub use coordinator::{CheckpointStats, TaskCheckpointStats};
pub(crate) use native::Uploads;
pub use native::{NativeFile, NativeRestore, NativeSnapshot, NativeStateHandle};
pub use stats::{checkpoint_json, checkpoints_json};
pub use storage::{CheckpointStorage, StateFileHandle};

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::data::Timestamp;
use crate::state::KeyGroupRange;

/// The id of a checkpoint; increases by one per triggered checkpoint of a job, and continues
/// from a restored checkpoint's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CheckpointId(pub u64);

impl std::fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a barrier asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotKind {
    /// A periodic checkpoint under `state.checkpoints.dir`.
    Checkpoint,
    /// A self-contained savepoint in this directory.
    Savepoint {
        /// The savepoint's directory.
        dir: PathBuf,
        /// Stop-with-savepoint: sources stop right after this barrier, without emitting the
        /// final watermark (Flink's stop without `--drain`), and the job finishes.
        stop: bool,
    },
}

/// Flows with the records from the sources to the sinks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Barrier {
    /// The checkpoint.
    pub id: CheckpointId,
    /// When the coordinator triggered it.
    pub timestamp: Timestamp,
    /// Checkpoint or savepoint.
    pub kind: SnapshotKind,
}

/// One operator subtask's state in canonical form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSnapshot {
    /// Keyed state (values and timers) per non-empty key group, encoded by the state backend.
    pub keyed: BTreeMap<u32, Vec<u8>>,
    /// Operator list state: on restore the entries of all subtasks are split evenly.
    pub list: Vec<Vec<u8>>,
    /// Operator union state: on restore every subtask gets the entries of all subtasks.
    pub union: Vec<Vec<u8>>,
    /// Keyed state as a native RocksDB checkpoint, uploaded asynchronously (checkpoints of
    /// the `rocksdb` backend; savepoints are always canonical). Timers stay in `keyed`.
    #[serde(skip)]
    pub native: Option<NativeSnapshot>,
}

impl OperatorSnapshot {
    /// Whether there is no state at all.
    pub fn is_empty(&self) -> bool {
        self.keyed.is_empty() && self.list.is_empty() && self.union.is_empty() && self.native.is_none()
    }
}

/// Sizes of one operator subtask's state in a checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StateSize {
    /// All the state the checkpoint references.
    pub(crate) full: u64,
    /// What this checkpoint wrote (less than `full` for incremental RocksDB checkpoints).
    pub(crate) checkpointed: u64,
}

/// What an operator subtask gets back on restore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorRestore {
    /// Keyed state of the key groups this subtask owns.
    pub keyed: BTreeMap<u32, Vec<u8>>,
    /// This subtask's share of the operator list state.
    pub list: Vec<Vec<u8>>,
    /// All operator union state.
    pub union: Vec<Vec<u8>>,
    /// Native RocksDB state of the old subtasks whose key groups overlap this subtask's.
    pub native: Vec<NativeRestore>,
}

/// The stored state of one operator subtask: where its file is and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskState {
    /// The subtask index at snapshot time.
    pub subtask: u32,
    /// Key groups the subtask owned.
    pub key_groups: (u32, u32),
    /// The file with the state (absent when the subtask had none).
    pub file: Option<StateFileHandle>,
}

impl SubtaskState {
    /// The key-group range.
    pub fn key_group_range(&self) -> KeyGroupRange {
        KeyGroupRange { start: self.key_groups.0, end: self.key_groups.1 }
    }
}

/// The state of one operator (all its subtasks) in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorState {
    /// The operator's uid.
    pub uid: String,
    /// Its name, for messages.
    pub name: String,
    /// Parallelism at snapshot time.
    pub parallelism: u32,
    /// Max parallelism (number of key groups); keyed state can be restored at any
    /// parallelism up to it.
    pub max_parallelism: u32,
    /// Per subtask.
    pub subtasks: Vec<SubtaskState>,
}

/// The content of `_metadata`: everything needed to restore a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointMetadata {
    /// The job that took it.
    pub job_id: String,
    /// The checkpoint.
    pub checkpoint_id: CheckpointId,
    /// When it was triggered.
    pub timestamp: Timestamp,
    /// Whether it is a savepoint.
    pub savepoint: bool,
    /// Per operator with state.
    pub operators: Vec<OperatorState>,
}
