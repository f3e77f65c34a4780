//! Running a job on a cluster: the control plane's messages and wire format, the worker mode of
//! a job binary, the remote data exchange between worker processes, and the JobMaster's side of
//! a job attempt.
//!
//! The JobManager and TaskManager binaries (crates `strom-jobmanager`, `strom-taskmanager`)
//! handle processes and networking; what needs the job's types and the runtime's internals is
//! here, so that a job binary and the JobManager agree on it by construction.

#[cfg(feature = "cluster")]
pub mod config;
mod embedded;
mod master;
pub mod messages;
mod remote;
pub mod wire;
pub(crate) mod worker;

pub use crate::checkpoint::coordinator::SavepointRequest;
pub use embedded::{EmbeddedJob, LocalExecutor};
pub use master::{AttemptResult, AttemptSpec, JobMasterAttempt};
pub use messages::{
    FromTaskManager, Hello, HelloReply, RestoreSpec, StartWorker, ToTaskManager, WorkerHello, PROTOCOL_VERSION, WORKER_ENV,
};
pub(crate) use remote::{decode_batch, encode_batch, CreditReturn, RemoteOutlet};
pub use worker::WorkerSpec;
