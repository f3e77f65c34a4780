//! A job on the cluster and its JobMaster: a thread that schedules each attempt onto slots,
//! starts the attempt's worker processes through their TaskManagers, drives the checkpoint
//! coordinator, and restarts the job from its latest completed checkpoint after a failure,
//! as the restart strategy allows.
//!
//! Job states follow Flink: CREATED → RUNNING → (RESTARTING → RUNNING)* → FINISHED | CANCELED |
//! FAILED; a job waiting for slots stays CREATED (or RESTARTING) and says so in its log.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use strom_runtime::checkpoint::{CheckpointStats, CheckpointStorage};
use strom_runtime::cluster::{AttemptSpec, JobMasterAttempt, RestoreSpec, StartWorker, ToTaskManager};
use strom_runtime::{Configuration, Error, JobGraph, RestartDecision, RestartStrategy, TaskMetrics};
use tokio::sync::mpsc::UnboundedSender;

use crate::resources::now_ms;
use crate::Cluster;

/// Flink's job states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Submitted, waiting for its first deployment.
    Created,
    /// Deployed and running.
    Running,
    /// Failed; waiting for the restart.
    Restarting,
    /// Being canceled.
    Canceling,
    /// Ended successfully (also after stop-with-savepoint).
    Finished,
    /// Canceled by a user.
    Canceled,
    /// Failed for good.
    Failed,
}

impl JobState {
    /// Flink's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Created => "CREATED",
            JobState::Running => "RUNNING",
            JobState::Restarting => "RESTARTING",
            JobState::Canceling => "CANCELLING",
            JobState::Finished => "FINISHED",
            JobState::Canceled => "CANCELED",
            JobState::Failed => "FAILED",
        }
    }

    /// Whether the job has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Finished | JobState::Canceled | JobState::Failed)
    }
}

/// What the JobMaster hears.
#[derive(Debug)]
pub(crate) enum JobEvent {
    WorkerConnected { attempt: u32, worker: u32, data_address: String, tx: UnboundedSender<Vec<u8>> },
    WorkerFrame { attempt: u32, worker: u32, frame: Vec<u8> },
    WorkerClosed { attempt: u32, worker: u32 },
    WorkerExited { attempt: u32, worker: u32, code: Option<i32>, message: String },
    TaskManagerLost { tm: String },
    ResourcesChanged,
    Savepoint { dir: Option<PathBuf>, stop: bool, reply: Sender<strom_runtime::Result<PathBuf>> },
    Cancel,
}

/// An exception of the job, for `/jobs/:id/exceptions`.
#[derive(Debug, Clone)]
pub struct ExceptionEntry {
    /// When, ms since the epoch.
    pub timestamp: i64,
    /// The failure, with its causes.
    pub message: String,
    /// The task that failed, if one did.
    pub task: Option<String>,
    /// The TaskManager involved, if known.
    pub taskmanager: Option<String>,
}

/// A savepoint or checkpoint someone triggered through the REST API.
#[derive(Debug, Clone)]
pub enum Operation {
    /// Still running.
    InProgress,
    /// Done: the savepoint's directory.
    Completed(PathBuf),
    /// Failed, and why.
    Failed(String),
}

/// What changes while a job runs.
#[derive(Debug)]
pub struct JobStatus {
    /// Current state.
    pub state: JobState,
    /// When each state was entered, ms since the epoch.
    pub timestamps: BTreeMap<&'static str, i64>,
    /// When the job ended (-1 while it runs).
    pub end_time: i64,
    /// Failures, oldest first.
    pub exceptions: Vec<ExceptionEntry>,
    /// Checkpoints of all attempts, oldest first.
    pub checkpoints: Vec<CheckpointStats>,
    /// Operations by trigger id.
    pub operations: HashMap<String, Operation>,
    /// The current attempt (1 for the first).
    pub attempt: u32,
    /// Where each slot runs in the current attempt (TaskManager ids).
    pub placement: Vec<String>,
    /// Why the job failed.
    pub failure: Option<String>,
    /// Per subtask counters of the last attempt, when it finished.
    pub tasks: Vec<(String, TaskMetrics)>,
}

/// A submitted job.
#[derive(Debug)]
pub struct Job {
    /// 32 hex digits.
    pub id: String,
    /// The job's name.
    pub name: String,
    /// The plan.
    pub graph: JobGraph,
    /// The job's configuration (the plan's).
    pub config: Configuration,
    /// sha256 of the job binary.
    pub blob: String,
    /// The binary's file name.
    pub binary_name: String,
    /// Arguments of the job binary (runtime options and the job's own).
    pub args: Vec<String>,
    /// Restore the first attempt from here.
    pub initial_restore: Option<RestoreSpec>,
    /// Submission time, ms since the epoch.
    pub start_time: i64,
    /// State, exceptions, checkpoints.
    pub status: Mutex<JobStatus>,
    pub(crate) events: Sender<JobEvent>,
    pub(crate) fingerprint: u64,
    /// Signalled when the job reaches a terminal state.
    ended: Condvar,
    /// The error the job failed with, for [`take_error`](Job::take_error).
    error: Mutex<Option<Error>>,
}

/// What a job is started with.
pub(crate) struct JobSpec {
    pub(crate) id: String,
    pub(crate) graph: JobGraph,
    /// sha256 of the job binary (empty for a job built in this process).
    pub(crate) blob: String,
    pub(crate) binary_name: String,
    pub(crate) args: Vec<String>,
    pub(crate) initial_restore: Option<RestoreSpec>,
}

impl Job {
    pub(crate) fn new(spec: JobSpec) -> (Arc<Self>, Receiver<JobEvent>) {
        let JobSpec { id, graph, blob, binary_name, args, initial_restore } = spec;
        let (events, rx) = crossbeam_channel::unbounded();
        let mut config = Configuration::default();
        for (k, v) in &graph.config {
            config.set(k, v);
        }
        let start_time = now_ms();
        let status = JobStatus {
            state: JobState::Created,
            timestamps: BTreeMap::from([("CREATED", start_time)]),
            end_time: -1,
            exceptions: Vec::new(),
            checkpoints: Vec::new(),
            operations: HashMap::new(),
            attempt: 0,
            placement: Vec::new(),
            failure: None,
            tasks: Vec::new(),
        };
        let job = Job {
            id,
            name: graph.job.clone(),
            fingerprint: graph.fingerprint(),
            graph,
            config,
            blob,
            binary_name,
            args,
            initial_restore,
            start_time,
            status: Mutex::new(status),
            events,
            ended: Condvar::new(),
            error: Mutex::new(None),
        };
        (Arc::new(job), rx)
    }

    /// Locks the status (a poisoned lock still holds consistent data: every update is one
    /// assignment).
    pub fn status(&self) -> std::sync::MutexGuard<'_, JobStatus> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_state(&self, state: JobState) {
        self.set_state_if(state, |_| true);
    }

    /// Moves to `state` if the current state passes `allowed` (checked under the same lock).
    fn set_state_if(&self, state: JobState, allowed: impl Fn(JobState) -> bool) {
        let mut status = self.status();
        if status.state != state && allowed(status.state) {
            tracing::info!(job_id = %self.id, from = status.state.as_str(), to = state.as_str(), "job state");
            status.state = state;
            status.timestamps.insert(state.as_str(), now_ms());
            if state.is_terminal() {
                status.end_time = now_ms();
                self.ended.notify_all();
            }
        }
    }

    fn record_exception(&self, error: &Error, taskmanager: Option<String>) {
        let task = match error {
            Error::TaskFailed { task, .. } | Error::InvalidData { task, .. } => Some(task.clone()),
            _ => None,
        };
        self.status().exceptions.push(ExceptionEntry { timestamp: now_ms(), message: error.report(), task, taskmanager });
    }

    /// Waits at most `timeout` for the job to end; returns its state then.
    pub fn wait_for_end(&self, timeout: Duration) -> JobState {
        let status = self.status();
        let (status, _) = self.ended.wait_timeout_while(status, timeout, |s| !s.state.is_terminal()).unwrap_or_else(|e| e.into_inner());
        status.state
    }

    /// The error a failed job failed with (once; later calls get `None`).
    pub fn take_error(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Asks the job to cancel: CANCELLING until its JobMaster has stopped it.
    pub(crate) fn cancel(&self) {
        self.set_state_if(JobState::Canceling, |s| !s.is_terminal());
        let _ = self.events.send(JobEvent::Cancel);
    }
}

/// How an attempt ended badly.
enum AttemptEnd {
    Canceled,
    Failed(Error, Option<String>),
}

/// The JobMaster's thread: runs attempts until the job ends.
pub(crate) fn run_job(cluster: Arc<Cluster>, job: Arc<Job>, events: Receiver<JobEvent>) {
    let checkpointing = job.config.get_duration(strom_runtime::keys::CHECKPOINTING_INTERVAL).ok().flatten().is_some_and(|d| !d.is_zero());
    let mut strategy = match RestartStrategy::from_config(&job.config, checkpointing) {
        Ok(s) => s,
        Err(e) => return fail(&job, e),
    };
    let storage = CheckpointStorage::new(checkpoints_dir(&job.config), &job.id);
    let mut restore = job.initial_restore.clone();
    let mut attempt = 0;
    loop {
        attempt += 1;
        job.status().attempt = attempt;
        let end = run_attempt(&cluster, &job, &events, attempt, restore.clone());
        cluster.resources().release(&job.id);
        cluster.resources_changed();
        let (error, tm) = match end {
            Ok(tasks) => {
                job.status().tasks = tasks;
                job.set_state(JobState::Finished);
                break;
            }
            Err(AttemptEnd::Canceled) => {
                job.set_state(JobState::Canceled);
                break;
            }
            Err(AttemptEnd::Failed(e, tm)) => (e, tm),
        };
        tracing::warn!(job_id = %job.id, attempt, error = %error.report(), "job attempt failed");
        job.record_exception(&error, tm);
        let after = match strategy.on_failure(Instant::now(), error.is_recoverable()) {
            RestartDecision::Restart { after } => after,
            RestartDecision::Fail { reason } => {
                tracing::error!(job_id = %job.id, reason = %reason, "not restarting the job");
                return fail(&job, error);
            }
        };
        job.set_state(JobState::Restarting);
        restore = match storage.latest_valid() {
            Ok(Some((_, dir))) => Some(RestoreSpec { path: dir, allow_non_restored: false }),
            Ok(None) => job.initial_restore.clone(),
            Err(e) => return fail(&job, e),
        };
        tracing::info!(job_id = %job.id, delay_ms = after.as_millis() as u64, restore = ?restore.as_ref().map(|r| &r.path), strategy = %strategy, "restarting the job");
        // The strategy's delay, during which a cancel still ends the job.
        let until = Instant::now() + after;
        while let Ok(event) = events.recv_deadline(until) {
            match event {
                JobEvent::Cancel => {
                    job.set_state(JobState::Canceled);
                    return;
                }
                JobEvent::Savepoint { reply, .. } => {
                    let _ = reply.send(Err(Error::Usage("the job is restarting; try again when it runs".into())));
                }
                _ => {}
            }
        }
    }
}

fn fail(job: &Job, error: Error) {
    job.status().failure = Some(error.report());
    *job.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    job.set_state(JobState::Failed);
}

/// `state.checkpoints.dir` of the job (the JobManager sets it for every job).
fn checkpoints_dir(config: &Configuration) -> PathBuf {
    let value = config.get(strom_runtime::keys::CHECKPOINTS_DIRECTORY).unwrap_or("strom-data/checkpoints");
    PathBuf::from(value.strip_prefix("file://").unwrap_or(value))
}

/// A worker of an attempt: its TaskManager and, once it connected, how to reach it.
struct Worker {
    tm: String,
    data_address: Option<String>,
    tx: Option<UnboundedSender<Vec<u8>>>,
    exited: bool,
}

fn run_attempt(
    cluster: &Arc<Cluster>,
    job: &Arc<Job>,
    events: &Receiver<JobEvent>,
    attempt: u32,
    restore: Option<RestoreSpec>,
) -> Result<Vec<(String, TaskMetrics)>, AttemptEnd> {
    let placement = wait_for_slots(cluster, job, events)?;
    let mut tms: Vec<String> = Vec::new();
    for tm in &placement {
        if !tms.contains(tm) {
            tms.push(tm.clone());
        }
    }
    job.status().placement = placement.clone();
    let mut workers: Vec<Worker> = tms.iter().map(|tm| Worker { tm: tm.clone(), data_address: None, tx: None, exited: false }).collect();
    let slot_workers: Vec<u32> =
        placement.iter().map(|tm| tms.iter().position(|t| t == tm).expect("placed on a used TaskManager") as u32).collect();
    let result = run_workers(cluster, job, events, attempt, restore, &mut workers, slot_workers);
    stop_workers(cluster, job, events, attempt, &mut workers);
    result
}

fn run_workers(
    cluster: &Arc<Cluster>,
    job: &Arc<Job>,
    events: &Receiver<JobEvent>,
    attempt: u32,
    restore: Option<RestoreSpec>,
    workers: &mut [Worker],
    placement: Vec<u32>,
) -> Result<Vec<(String, TaskMetrics)>, AttemptEnd> {
    for (w, worker) in workers.iter().enumerate() {
        let start = StartWorker {
            epoch: cluster.epoch,
            job_id: job.id.clone(),
            attempt,
            worker: w as u32,
            blob: job.blob.clone(),
            name: job.binary_name.clone(),
            args: job.args.clone(),
            jobmanager: cluster.rpc_address.clone(),
        };
        if !cluster.send_to_tm(&worker.tm, ToTaskManager::StartWorker(start)) {
            return Err(AttemptEnd::Failed(Error::Rpc(format!("TaskManager {} is gone", worker.tm)), Some(worker.tm.clone())));
        }
    }
    // Every worker reports with its data address.
    let deadline = Instant::now() + cluster.worker_start_timeout;
    while workers.iter().any(|w| w.tx.is_none()) {
        let event = events.recv_deadline(deadline).map_err(|_| {
            AttemptEnd::Failed(Error::Rpc(format!("the job's workers did not report within {:?}", cluster.worker_start_timeout)), None)
        })?;
        match event {
            JobEvent::WorkerConnected { attempt: a, worker, data_address, tx } if a == attempt => {
                if let Some(w) = workers.get_mut(worker as usize) {
                    w.data_address = Some(data_address);
                    w.tx = Some(tx);
                }
            }
            other => handle_common(other, attempt, workers, None)?,
        }
    }
    let spec = AttemptSpec {
        job_id: job.id.clone(),
        epoch: cluster.epoch,
        placement,
        peers: workers.iter().map(|w| w.data_address.clone().unwrap_or_default()).collect(),
        restore,
    };
    let (outbox_tx, outbox) = crossbeam_channel::unbounded::<(u32, Vec<u8>)>();
    let mut master = JobMasterAttempt::start(&job.graph, &job.config, spec, outbox_tx).map_err(|e| AttemptEnd::Failed(e, None))?;
    flush_outbox(&outbox, workers);
    job.set_state(JobState::Running);
    let mut seen_checkpoints = 0;
    loop {
        let event = match events.recv_deadline(master.deadline()) {
            Ok(event) => Some(event),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Err(AttemptEnd::Canceled),
        };
        let result = match event {
            None => master.on_tick(Instant::now()).map_err(|e| AttemptEnd::Failed(e, None)),
            Some(JobEvent::WorkerFrame { attempt: a, worker, frame }) if a == attempt => {
                master.on_report(worker, &frame).map_err(|e| AttemptEnd::Failed(e, workers.get(worker as usize).map(|w| w.tm.clone())))
            }
            Some(JobEvent::Savepoint { dir, stop, reply }) => {
                master.request_savepoint(dir, stop, reply).map_err(|e| AttemptEnd::Failed(e, None))
            }
            Some(other) => handle_common(other, attempt, workers, Some(&master)),
        };
        flush_outbox(&outbox, workers);
        let history = master.checkpoints();
        if history.len() > seen_checkpoints {
            job.status().checkpoints.extend_from_slice(&history[seen_checkpoints..]);
            seen_checkpoints = history.len();
        }
        result?;
        if let Some(outcome) = master.outcome() {
            return match outcome {
                Ok(result) => Ok(result.tasks),
                Err(Error::Canceled) => Err(AttemptEnd::Failed(Error::Rpc("tasks were canceled without a failure".into()), None)),
                Err(e) => Err(AttemptEnd::Failed(e, None)),
            };
        }
    }
}

/// Events that end an attempt the same way whether it is starting or running.
fn handle_common(event: JobEvent, attempt: u32, workers: &mut [Worker], master: Option<&JobMasterAttempt>) -> Result<(), AttemptEnd> {
    let done = |w: u32| master.is_some_and(|m| m.worker_done(w));
    match event {
        JobEvent::Cancel => Err(AttemptEnd::Canceled),
        JobEvent::Savepoint { reply, .. } => {
            let _ = reply.send(Err(Error::Usage("the job is not running yet; try again when it runs".into())));
            Ok(())
        }
        JobEvent::WorkerClosed { attempt: a, worker } if a == attempt && !done(worker) => {
            let tm = workers.get(worker as usize).map(|w| w.tm.clone());
            Err(AttemptEnd::Failed(
                Error::Rpc(format!("lost the connection to worker {worker} on TaskManager {}", tm.clone().unwrap_or_default())),
                tm,
            ))
        }
        JobEvent::WorkerExited { attempt: a, worker, code, message } if a == attempt => {
            if let Some(w) = workers.get_mut(worker as usize) {
                w.exited = true;
            }
            // A worker that exited cleanly may have reports still on their way through its
            // connection (its exit travels through the TaskManager's): its connection's close,
            // which comes after them, decides whether it ended too early.
            let connected = workers.get(worker as usize).is_some_and(|w| w.tx.is_some());
            if done(worker) || (code == Some(0) && connected) {
                return Ok(());
            }
            let tm = workers.get(worker as usize).map(|w| w.tm.clone());
            let how = code.map_or_else(|| "was killed".to_string(), |c| format!("exited with code {c}"));
            Err(AttemptEnd::Failed(
                Error::TaskFailed {
                    task: format!("worker {worker} on TaskManager {}", tm.clone().unwrap_or_default()),
                    message: format!("the worker process {how}: {message}"),
                },
                tm,
            ))
        }
        JobEvent::TaskManagerLost { tm } => match workers.iter().position(|w| w.tm == tm) {
            Some(w) if !done(w as u32) => Err(AttemptEnd::Failed(Error::Rpc(format!("TaskManager {tm} was lost")), Some(tm))),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

fn flush_outbox(outbox: &Receiver<(u32, Vec<u8>)>, workers: &[Worker]) {
    while let Ok((worker, frame)) = outbox.try_recv() {
        if let Some(tx) = workers.get(worker as usize).and_then(|w| w.tx.as_ref()) {
            let _ = tx.send(frame);
        }
    }
}

/// Kills the attempt's workers and waits until their TaskManagers saw them exit (or are
/// gone), so that the next attempt never runs next to an old one.
fn stop_workers(cluster: &Arc<Cluster>, job: &Job, events: &Receiver<JobEvent>, attempt: u32, workers: &mut [Worker]) {
    for (i, w) in workers.iter_mut().enumerate() {
        w.tx = None; // closes the connection to the worker
        let kill = ToTaskManager::KillWorker { epoch: cluster.epoch, job_id: job.id.clone(), attempt, worker: i as u32 };
        if !cluster.send_to_tm(&w.tm, kill) {
            w.exited = true;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while workers.iter().any(|w| !w.exited) {
        match events.recv_deadline(deadline) {
            Ok(JobEvent::WorkerExited { attempt: a, worker, .. }) if a == attempt => {
                if let Some(w) = workers.get_mut(worker as usize) {
                    w.exited = true;
                }
            }
            Ok(JobEvent::TaskManagerLost { tm }) => workers.iter_mut().filter(|w| w.tm == tm).for_each(|w| w.exited = true),
            Ok(JobEvent::Savepoint { reply, .. }) => {
                let _ = reply.send(Err(Error::Usage("the job is not running".into())));
            }
            Ok(JobEvent::Cancel) => {
                // Re-delivered after the attempt: the job is canceled once the workers are gone.
                let _ = job.events.send(JobEvent::Cancel);
                break;
            }
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(job_id = %job.id, attempt, "workers did not confirm their exit in time");
                break;
            }
        }
    }
}

/// Takes the job's slots, waiting for TaskManagers to register until `slot.request.timeout`.
fn wait_for_slots(cluster: &Arc<Cluster>, job: &Job, events: &Receiver<JobEvent>) -> Result<Vec<String>, AttemptEnd> {
    let needed = job.graph.slots_needed();
    let deadline = Instant::now() + cluster.slot_request_timeout;
    let mut announced = false;
    loop {
        if let Some(placement) = cluster.resources().allocate(&job.id, needed) {
            return Ok(placement);
        }
        let (have, total) = {
            let r = cluster.resources();
            (r.free_slots(), r.total_slots())
        };
        if !announced {
            tracing::info!(job_id = %job.id, needed, free = have, total, "waiting for slots");
            announced = true;
        }
        match events.recv_deadline(deadline) {
            Ok(JobEvent::Cancel) => return Err(AttemptEnd::Canceled),
            Ok(JobEvent::Savepoint { reply, .. }) => {
                let _ = reply.send(Err(Error::Usage("the job is waiting for slots; try again when it runs".into())));
            }
            Ok(_) => {}
            Err(_) => {
                return Err(AttemptEnd::Failed(
                    Error::Usage(format!(
                        "could not get {needed} slots within slot.request.timeout ({:?}): {have} of {total} slots are free; start more TaskManagers or lower the parallelism",
                        cluster.slot_request_timeout
                    )),
                    None,
                ))
            }
        }
    }
}
