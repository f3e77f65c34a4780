//! The seam between a job binary's `local` mode and the embedded mini cluster that runs it.
//!
//! The mini cluster is the JobManager and TaskManager code (crates `strom-jobmanager` and
//! `strom-taskmanager`, which depend on this one), so it cannot live here: the `strom` crate
//! installs it on the [`StreamEnv`](crate::StreamEnv) of every job binary
//! ([`StreamEnv::set_local_executor`](crate::StreamEnv::set_local_executor)). It gets the job
//! built in this process as an [`EmbeddedJob`], whose workers run on threads
//! ([`EmbeddedJob::run_worker`]) and talk to the JobManager over loopback exactly as worker
//! processes do. A `StreamEnv` without one runs the job with the runtime's own in-process
//! driver (the runtime's tests, programs that use the runtime alone).

use std::path::{Path, PathBuf};

use crossbeam_channel::Receiver;

use super::worker::{serve, WorkerHost, WorkerSpec};
use super::RestoreSpec;
use crate::checkpoint::coordinator::SavepointRequest;
use crate::error::Result;
use crate::job::graph::{JobGraph, StreamNode};
use crate::job::local::{JobExecutionResult, LocalSettings};

/// A job built in this process, handed to a [`LocalExecutor`].
pub struct EmbeddedJob {
    graph: JobGraph,
    nodes: Vec<StreamNode>,
    settings: LocalSettings,
    job_id: String,
}

impl std::fmt::Debug for EmbeddedJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedJob").field("job", &self.graph.job).field("job_id", &self.job_id).finish_non_exhaustive()
    }
}

impl EmbeddedJob {
    pub(crate) fn new(graph: JobGraph, nodes: Vec<StreamNode>, settings: LocalSettings, job_id: String) -> Self {
        Self { graph, nodes, settings, job_id }
    }

    /// The job's graph (what `plan` mode prints).
    pub fn graph(&self) -> &JobGraph {
        &self.graph
    }

    /// The job's id, chosen when it was started (it names its checkpoint directory).
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The savepoint or checkpoint the job was asked to restore from (`-s`).
    pub fn restore(&self) -> Option<RestoreSpec> {
        self.settings.restore.clone()
    }

    /// Runs one worker of an attempt on the calling thread until its tasks ended: what a
    /// worker process does, without the process: a closed JobManager connection cancels its
    /// tasks (and this returns) instead of ending the process.
    pub fn run_worker(&self, spec: &WorkerSpec) -> Result<()> {
        serve(self.graph.clone(), self.nodes.clone(), self.settings.clone(), spec, WorkerHost::Threads)
    }
}

/// Runs the jobs of a job binary's `local` mode (see the [module docs](self)).
pub trait LocalExecutor: Send + Sync + std::fmt::Debug {
    /// Runs `job` to its end, serving the savepoints asked for through its
    /// [`JobClient`](crate::JobClient).
    fn run(&self, job: EmbeddedJob, savepoints: Receiver<SavepointRequest>) -> Result<JobExecutionResult>;
}

impl SavepointRequest {
    /// The directory to write the savepoint into, if the caller chose one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Whether the job stops after the savepoint.
    pub fn stop(&self) -> bool {
        self.stop
    }

    /// Answers the caller: the savepoint's directory, or why it failed.
    pub fn answer(self, result: Result<PathBuf>) {
        let _ = self.reply.send(result);
    }
}
