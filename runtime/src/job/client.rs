//! A handle on a job running in this process: savepoints, stop-with-savepoint, waiting for
//! the result. The REST API and the CLI (cluster issue) drive the same requests.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use super::local::JobExecutionResult;
use crate::checkpoint::coordinator::SavepointRequest;
use crate::error::{Error, Result};

/// A job started with [`StreamEnv::execute_async`](crate::StreamEnv::execute_async).
///
/// ```no_run
/// use strom_runtime::prelude::*;
/// let env = StreamEnv::new();
/// # env.from_collection(vec![1u32]).sink(CollectSink::new());
/// let job = env.execute_async("my job").unwrap();
/// let savepoint = job.stop_with_savepoint(None).unwrap();
/// println!("stopped; savepoint at {}", savepoint.display());
/// job.wait().unwrap();
/// ```
#[derive(Debug)]
pub struct JobClient {
    job_id: String,
    requests: Sender<SavepointRequest>,
    handle: Option<JoinHandle<Result<JobExecutionResult>>>,
}

impl JobClient {
    pub(crate) fn new(job_id: String, requests: Sender<SavepointRequest>, handle: JoinHandle<Result<JobExecutionResult>>) -> Self {
        Self { job_id, requests, handle: Some(handle) }
    }

    /// The job's id.
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// Takes a savepoint into `dir` (default `state.savepoints.dir/savepoint-<id>-<random>`)
    /// and returns its directory once it is complete; the job goes on.
    pub fn trigger_savepoint(&self, dir: Option<&Path>) -> Result<PathBuf> {
        self.savepoint(dir, false)
    }

    /// Takes a savepoint, then stops the job: sources stop right after the savepoint's barrier
    /// without the final watermark (no windows fire), and the job finishes.
    pub fn stop_with_savepoint(&self, dir: Option<&Path>) -> Result<PathBuf> {
        self.savepoint(dir, true)
    }

    fn savepoint(&self, dir: Option<&Path>, stop: bool) -> Result<PathBuf> {
        let (reply, result) = crossbeam_channel::bounded(1);
        let request = SavepointRequest { dir: dir.map(Path::to_path_buf), stop, reply };
        let gone = || Error::Usage(format!("job {} is no longer running", self.job_id));
        self.requests.send(request).map_err(|_| gone())?;
        result.recv().map_err(|_| gone())?
    }

    /// Waits for the job to end.
    pub fn wait(mut self) -> Result<JobExecutionResult> {
        let handle = self.handle.take().expect("wait consumes the client, so the handle is there");
        handle.join().unwrap_or_else(|_| Err(Error::Internal("the job's driver thread panicked".into())))
    }
}
