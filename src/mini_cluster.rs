//! The embedded mini cluster of a job binary's `local` mode: the JobManager and one
//! TaskManager of the real cluster, in this process, connected over loopback.
//!
//! [`main`](crate::main) installs it on the job's [`StreamEnv`](crate::StreamEnv). A local run
//! is then a session of the cluster's code paths: the JobMaster schedules the job onto the
//! TaskManager's slots, drives the checkpoint coordinator and restarts the job under its
//! restart strategy; the TaskManager runs the attempt's worker on threads of this process (the
//! one difference from a cluster, where the worker is the job binary as a process of its own);
//! the worker talks to the JobMaster with the cluster's messages. There is no REST API: a
//! local run is driven through its [`JobClient`](crate::JobClient).

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;
use strom_jobmanager::{Cluster, Job, JobManager, JobState};
use strom_runtime::cluster::{EmbeddedJob, LocalExecutor, SavepointRequest};
use strom_runtime::{Configuration, Error, JobExecutionResult, Result};
use strom_taskmanager::Launcher;

/// Runs local jobs on an embedded JobManager and TaskManager.
#[derive(Debug, Default)]
pub(crate) struct MiniCluster;

impl LocalExecutor for MiniCluster {
    fn run(&self, job: EmbeddedJob, savepoints: Receiver<SavepointRequest>) -> Result<JobExecutionResult> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mini-cluster")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting", "the mini cluster's runtime", e))?;
        let mut config = Configuration::default();
        config.set("jobmanager.rpc.address", "127.0.0.1");
        config.set("jobmanager.rpc.port", "0");
        let (cluster, rpc) = runtime.block_on(JobManager::start_embedded(config))?;
        let job = Arc::new(job);
        let worker_job = job.clone();
        let settings = strom_taskmanager::Settings {
            jobmanager: rpc.to_string(),
            slots: job.graph().slots_needed(),
            heartbeat_interval: Duration::from_secs(10),
            work_dir: std::env::temp_dir(),
            id: "local".to_string(),
            host: Some("127.0.0.1".to_string()),
            launcher: Launcher::InProcess(Arc::new(move |spec| worker_job.run_worker(&spec))),
        };
        runtime.spawn(strom_taskmanager::run(settings));
        let submitted = cluster.submit_embedded(job.job_id(), job.graph().clone(), job.restore())?;
        let state = wait(&cluster, &submitted, &savepoints);
        let result = outcome(&submitted, state, job.graph().job.clone());
        // Dropping the runtime ends the JobManager's and TaskManager's tasks; the job's
        // threads have ended with its last attempt.
        runtime.shutdown_background();
        result
    }
}

/// Serves savepoint requests until the job has ended; returns its final state. The job's end
/// wakes the wait at once; a savepoint request waits at most one round (20 ms).
fn wait(cluster: &Arc<Cluster>, job: &Arc<Job>, savepoints: &Receiver<SavepointRequest>) -> JobState {
    loop {
        let state = job.wait_for_end(Duration::from_millis(20));
        if state.is_terminal() {
            return state;
        }
        while let Ok(request) = savepoints.try_recv() {
            forward(cluster, job, request);
        }
    }
}

/// Hands a savepoint request to the JobMaster and its answer back to the caller.
fn forward(cluster: &Arc<Cluster>, job: &Arc<Job>, request: SavepointRequest) {
    let answer = cluster.savepoint(job, request.dir().map(ToOwned::to_owned), request.stop());
    let spawned = std::thread::Builder::new().name("savepoint-answer".into()).spawn(move || {
        let result = answer.recv().unwrap_or_else(|_| Err(Error::Usage("the job ended before the savepoint completed".into())));
        request.answer(result);
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not wait for a savepoint");
    }
}

/// The job's result as local mode reports it.
fn outcome(job: &Job, state: JobState, job_name: String) -> Result<JobExecutionResult> {
    match state {
        JobState::Finished => {
            let status = job.status();
            let running = status.timestamps.get("RUNNING").copied().unwrap_or(job.start_time);
            let net_runtime = Duration::from_millis(status.end_time.saturating_sub(running).max(0) as u64);
            Ok(JobExecutionResult {
                job_name,
                job_id: job.id.clone(),
                net_runtime,
                tasks: status.tasks.clone(),
                checkpoints: status.checkpoints.clone(),
            })
        }
        JobState::Canceled => Err(Error::Canceled),
        _ => Err(job.take_error().unwrap_or_else(|| Error::Internal(format!("job {} ended {}", job.id, state.as_str())))),
    }
}
