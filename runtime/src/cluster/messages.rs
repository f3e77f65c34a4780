//! The messages of the control plane.
//!
//! Every connection to the JobManager starts with a [`Hello`] from the connecting process and
//! a [`HelloReply`]; a peer of another [`PROTOCOL_VERSION`] is turned away with a message that
//! says which versions met. Messages from the JobManager carry its epoch (the fencing token of
//! leader election; constant until high availability arrives); a TaskManager ignores messages
//! with an epoch older than the one it registered under.
//!
//! The messages between the JobMaster and a job's worker processes are the runtime's own
//! business ([`WorkerCommand`] and [`WorkerReport`]): the JobManager carries them as opaque
//! frames between a worker connection and the job's [`JobMasterAttempt`](super::JobMasterAttempt).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointId, StateFileHandle, StateSize};
use crate::error::Error;
use crate::task::{Control, TaskKey};

/// Version of the protocol; both ends of a connection must speak the same.
pub const PROTOCOL_VERSION: u32 = 2;

/// The environment variable that puts a job binary in worker mode (set by the TaskManager).
pub const WORKER_ENV: &str = "STROM_WORKER";

/// The first frame of a connection to the JobManager.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Hello {
    /// A TaskManager registers its slots.
    TaskManager {
        /// [`PROTOCOL_VERSION`] of the TaskManager.
        version: u32,
        /// Its resource id (stable over reconnects of the same process).
        id: String,
        /// `taskmanager.numberOfTaskSlots`.
        slots: u32,
        /// The host name or address it runs on.
        host: String,
        /// Its process id (for the REST API).
        pid: u32,
    },
    /// A job's worker process, started by a TaskManager, reports for duty.
    Worker(WorkerHello),
}

/// What a worker process tells the JobManager when it connects.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerHello {
    /// [`PROTOCOL_VERSION`] of the job binary's runtime.
    pub version: u32,
    /// The job.
    pub job_id: String,
    /// The job's attempt the worker was started for (a restart starts new workers).
    pub attempt: u32,
    /// The worker's index within the attempt.
    pub worker: u32,
    /// Where peer workers connect for data exchange (`host:port`).
    pub data_address: String,
    /// Hash of the job graph the worker built; must equal the plan's.
    pub graph_hash: u64,
}

/// The JobManager's answer to a [`Hello`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum HelloReply {
    /// Welcome; `epoch` is the JobManager's fencing token.
    Accepted {
        /// Leader epoch.
        epoch: u64,
    },
    /// Turned away, and why.
    Rejected {
        /// What is wrong and what to do.
        reason: String,
    },
}

/// From the JobManager to a TaskManager.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToTaskManager {
    /// Start a worker process of a job.
    StartWorker(StartWorker),
    /// Kill (SIGKILL) the worker of this job attempt, if it runs.
    KillWorker {
        /// Fencing token.
        epoch: u64,
        /// The job.
        job_id: String,
        /// The attempt whose worker to kill.
        attempt: u32,
        /// The worker's index (echoed in the exit report).
        worker: u32,
    },
    /// A piece of a job binary the TaskManager asked for.
    BlobChunk {
        /// The binary's sha256 (hex).
        hash: String,
        /// The bytes.
        data: Vec<u8>,
        /// The last piece.
        last: bool,
    },
    /// The JobManager has no such binary.
    BlobMissing {
        /// The hash asked for.
        hash: String,
        /// Why.
        reason: String,
    },
}

/// What a TaskManager needs to start a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartWorker {
    /// Fencing token.
    pub epoch: u64,
    /// The job.
    pub job_id: String,
    /// The job's attempt.
    pub attempt: u32,
    /// The worker's index within the attempt.
    pub worker: u32,
    /// The job binary's sha256 (hex), to fetch with [`FromTaskManager::FetchBlob`].
    pub blob: String,
    /// The job binary's name, for process listings and logs.
    pub name: String,
    /// Command-line arguments of the job binary (runtime options and the job's own).
    pub args: Vec<String>,
    /// The JobManager's RPC address the worker connects to (`host:port`).
    pub jobmanager: String,
}

/// From a TaskManager to the JobManager.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromTaskManager {
    /// I am alive.
    Heartbeat,
    /// Send me the binary with this sha256.
    FetchBlob {
        /// Hex sha256.
        hash: String,
    },
    /// A worker process ended (or could not be started).
    WorkerExited {
        /// The job.
        job_id: String,
        /// The attempt.
        attempt: u32,
        /// The worker's index.
        worker: u32,
        /// Exit code (`None`: killed by a signal or never started).
        code: Option<i32>,
        /// What happened, with the end of the worker's stderr.
        message: String,
    },
}

/// Where a job (attempt) restores from: in a local run, a JobMaster and its workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreSpec {
    /// A savepoint or retained checkpoint directory (or its `_metadata`).
    pub path: PathBuf,
    /// Skip state of operators the job does not have.
    pub allow_non_restored: bool,
}

/// From the JobMaster to a worker process.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WorkerCommand {
    /// Run your subtasks: the worker of slot `s` is `placement[s]`, whose data address is
    /// `peers[placement[s]]`.
    Deploy { epoch: u64, placement: Vec<u32>, peers: Vec<String>, restore: Option<RestoreSpec>, two_phase: bool },
    /// A control message for one of the worker's tasks.
    Control { task: TaskKey, control: Control },
}

/// From a worker process to the JobMaster.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WorkerReport {
    /// A task's snapshot is written: its files, or why writing failed.
    Ack {
        task: TaskKey,
        checkpoint: CheckpointId,
        files: Result<Vec<(String, Option<StateFileHandle>, StateSize)>, String>,
        alignment_us: u64,
    },
    /// A task's input ended; it waits for the final checkpoint.
    Finished { task: TaskKey },
    /// A task ended: its counters, or its error.
    TaskEnded { task: TaskKey, name: String, result: Result<(u64, u64, u64), TaskError> },
}

/// A task's failure as it travels to the JobMaster: the runtime's [`Error`], variant by variant,
/// so that the JobMaster reports it, and its restart strategy judges it, as if the task had run
/// in the JobMaster's process. The exception is an I/O error, whose cause cannot travel: it
/// arrives as a (recoverable) failure of its task with the I/O error's report.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum TaskError {
    /// Canceled because something else failed.
    Canceled,
    /// [`Error::TaskFailed`].
    TaskFailed { task: String, message: String },
    /// [`Error::InvalidData`].
    InvalidData { task: String, message: String },
    /// [`Error::CorruptCheckpoint`].
    CorruptCheckpoint { path: PathBuf, problem: String },
    /// [`Error::Usage`].
    Usage(String),
    /// [`Error::Config`].
    Config { key: String, message: String },
    /// [`Error::Graph`].
    Graph(String),
    /// [`Error::Serialization`].
    Serialization(String),
    /// [`Error::State`].
    State(String),
    /// [`Error::Internal`].
    Internal(String),
    /// [`Error::Rpc`].
    Rpc(String),
    /// [`Error::Io`], by its report ("reading in.txt: No such file or directory").
    Io(String),
}

impl From<Error> for TaskError {
    fn from(e: Error) -> Self {
        match e {
            Error::Canceled => TaskError::Canceled,
            Error::TaskFailed { task, message } => TaskError::TaskFailed { task, message },
            Error::InvalidData { task, message } => TaskError::InvalidData { task, message },
            Error::CorruptCheckpoint { path, problem } => TaskError::CorruptCheckpoint { path, problem },
            Error::Usage(m) => TaskError::Usage(m),
            Error::Config { key, message } => TaskError::Config { key, message },
            Error::Graph(m) => TaskError::Graph(m),
            Error::Serialization(m) => TaskError::Serialization(m),
            Error::State(m) => TaskError::State(m),
            Error::Internal(m) => TaskError::Internal(m),
            Error::Rpc(m) => TaskError::Rpc(m),
            e @ Error::Io { .. } => TaskError::Io(e.report()),
        }
    }
}

impl TaskError {
    /// The error on the JobMaster's side, or `None` for a task canceled because something else
    /// failed. An I/O error becomes a (retryable) failure of `task`, the task that reported it.
    pub(crate) fn into_error(self, task: &str) -> Option<Error> {
        Some(match self {
            TaskError::Canceled => return None,
            TaskError::TaskFailed { task, message } => Error::TaskFailed { task, message },
            TaskError::InvalidData { task, message } => Error::InvalidData { task, message },
            TaskError::CorruptCheckpoint { path, problem } => Error::CorruptCheckpoint { path, problem },
            TaskError::Usage(m) => Error::Usage(m),
            TaskError::Config { key, message } => Error::Config { key, message },
            TaskError::Graph(m) => Error::Graph(m),
            TaskError::Serialization(m) => Error::Serialization(m),
            TaskError::State(m) => Error::State(m),
            TaskError::Internal(m) => Error::Internal(m),
            TaskError::Rpc(m) => Error::Rpc(m),
            TaskError::Io(report) => Error::TaskFailed { task: task.to_string(), message: report },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::wire::{decode, encode};

    fn across_the_wire(e: Error) -> Option<Error> {
        let wire: TaskError = decode(&encode(&TaskError::from(e)).unwrap()).unwrap();
        wire.into_error("Map (1/2)")
    }

    #[test]
    fn task_errors_cross_the_wire_with_their_variant_report_and_recoverability() {
        let errors = [
            Error::TaskFailed { task: "Map (1/2)".into(), message: "panicked at 'boom'".into() },
            Error::InvalidData { task: "Map (1/2)".into(), message: "in.csv:3: cannot parse line \"x\"".into() },
            Error::CorruptCheckpoint { path: "/cp/chk-3/_metadata".into(), problem: "checksum mismatch".into() },
            Error::Usage("missing required argument --input".into()),
            Error::config("state.backend.type", "expected one of hashmap, rocksdb"),
            Error::Graph("a forward edge between parallelisms 2 and 3".into()),
            Error::Serialization("unexpected end of input".into()),
            Error::State("RocksDB: IO error".into()),
            Error::Internal("no such channel".into()),
            Error::Rpc("connection reset".into()),
        ];
        for e in errors {
            let (report, recoverable, fault) = (e.report(), e.is_recoverable(), e.fault());
            let back = across_the_wire(e).expect("an error");
            assert_eq!((back.report(), back.is_recoverable(), back.fault()), (report, recoverable, fault));
        }
        let io = Error::io("reading", "in.txt", std::io::ErrorKind::NotFound.into());
        let back = across_the_wire(io).expect("an error");
        assert_eq!(back.report(), "task Map (1/2) failed: reading in.txt: entity not found");
        assert!(back.is_recoverable(), "I/O errors stay recoverable");
        assert!(across_the_wire(Error::Canceled).is_none());
    }
}
