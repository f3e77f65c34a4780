//! The checkpoint coordinator (Flink's `CheckpointCoordinator`): triggers checkpoints at the
//! sources, collects the tasks' acknowledgements, writes `_metadata` and notifies completion.
//!
//! It is driven by its host (the local executor now, the JobMaster later) through plain
//! method calls — `on_tick`, `on_ack`, `on_finished` — and talks to tasks only through their
//! control channels, so it does not care whether they run in this process or another.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::{
    Barrier, CheckpointId, CheckpointMetadata, CheckpointStorage, OperatorState, SnapshotKind, StateFileHandle, StateSize, SubtaskState,
};
use crate::config::{self as keys, defaults, Configuration};
use crate::error::{Error, Result};
use crate::state::KeyGroupRange;
use crate::task::{Control, ControlSender, TaskKey};
use crate::time::Clock;

/// Flink's switch for unaligned checkpoints (not supported yet).
const UNALIGNED: &str = "execution.checkpointing.unaligned";

/// "No periodic trigger": far enough to never come, near enough not to overflow `Instant`.
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// Checkpointing settings, from Flink's keys.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointConfig {
    /// `execution.checkpointing.interval`; `None`: checkpointing is off.
    pub(crate) interval: Option<Duration>,
    /// `execution.checkpointing.timeout` (10 min).
    pub(crate) timeout: Duration,
    /// `execution.checkpointing.min-pause` (0).
    pub(crate) min_pause: Duration,
    /// `execution.checkpointing.tolerable-failed-checkpoints` (0).
    pub(crate) tolerable_failures: u32,
    /// `state.checkpoints.num-retained` (1).
    pub(crate) num_retained: usize,
    /// `state.checkpoints.dir` (local mode: `./strom-data/checkpoints`).
    pub(crate) checkpoints_dir: PathBuf,
    /// `state.savepoints.dir` (local mode: `./strom-data/savepoints`).
    pub(crate) savepoints_dir: PathBuf,
}

fn dir_value(config: &Configuration, key: &str, default: &str) -> PathBuf {
    let value = config.get(key).unwrap_or(default);
    PathBuf::from(value.strip_prefix("file://").unwrap_or(value))
}

impl CheckpointConfig {
    pub(crate) fn from_config(config: &Configuration) -> Result<Self> {
        if config.get_positive(keys::MAX_CONCURRENT_CHECKPOINTS)?.is_some_and(|n| n > 1) {
            return Err(Error::config(keys::MAX_CONCURRENT_CHECKPOINTS, "Strom runs one checkpoint at a time; set it to 1 (the default)"));
        }
        if config.get_bool(UNALIGNED)? == Some(true) {
            return Err(Error::config(UNALIGNED, "unaligned checkpoints are not supported yet; set it to false (the default)"));
        }
        let interval = config.get_duration(keys::CHECKPOINTING_INTERVAL)?.filter(|d| !d.is_zero());
        Ok(Self {
            interval,
            timeout: config.get_duration(keys::CHECKPOINTING_TIMEOUT)?.unwrap_or(defaults::CHECKPOINTING_TIMEOUT),
            min_pause: config.get_duration(keys::MIN_PAUSE_BETWEEN_CHECKPOINTS)?.unwrap_or(defaults::MIN_PAUSE_BETWEEN_CHECKPOINTS),
            tolerable_failures: config.get_non_negative(keys::TOLERABLE_FAILURE_NUMBER)?.unwrap_or(defaults::TOLERABLE_FAILURE_NUMBER),
            num_retained: config.get_positive(keys::MAX_RETAINED_CHECKPOINTS)?.unwrap_or(defaults::MAX_RETAINED_CHECKPOINTS) as usize,
            checkpoints_dir: dir_value(config, keys::CHECKPOINTS_DIRECTORY, "strom-data/checkpoints"),
            savepoints_dir: dir_value(config, keys::SAVEPOINT_DIRECTORY, "strom-data/savepoints"),
        })
    }
}

/// What the coordinator knows of an operator, to write its state's metadata.
#[derive(Debug, Clone)]
pub(crate) struct OperatorMeta {
    pub(crate) uid: String,
    pub(crate) name: String,
    pub(crate) parallelism: u32,
    pub(crate) max_parallelism: u32,
}

/// A task as the coordinator sees it.
#[derive(Debug)]
pub(crate) struct TaskEntry {
    pub(crate) control: ControlSender,
    pub(crate) is_source: bool,
    pub(crate) finished: bool,
    pub(crate) operators: Vec<OperatorMeta>,
}

/// What the uploader reports after writing a task's snapshot.
#[derive(Debug)]
pub(crate) struct Ack {
    pub(crate) task: TaskKey,
    pub(crate) checkpoint: CheckpointId,
    /// Per operator uid, its state file (None: no state); or why writing failed.
    pub(crate) files: Result<Vec<(String, Option<StateFileHandle>, StateSize)>>,
    pub(crate) alignment: Duration,
}

/// Statistics of one checkpoint (for the REST API's `/jobs/:id/checkpoints`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckpointStats {
    /// The checkpoint.
    pub id: u64,
    /// COMPLETED or FAILED.
    pub status: String,
    /// Whether it is a savepoint.
    pub is_savepoint: bool,
    /// Trigger time, ms since the epoch.
    pub trigger_timestamp: i64,
    /// From trigger to completion.
    pub duration_ms: u64,
    /// Bytes of state the checkpoint references.
    pub state_size: u64,
    /// Bytes this checkpoint wrote (less than `state_size` when incremental).
    pub checkpointed_size: u64,
    /// Longest barrier alignment of any task.
    pub alignment_ms: u64,
    /// Where it is.
    pub external_path: String,
    /// Why it failed.
    pub failure: Option<String>,
    /// Subtasks that had to acknowledge.
    pub num_subtasks: usize,
    /// Subtasks that did.
    pub num_acknowledged_subtasks: usize,
    /// When the last acknowledgement arrived, ms since the epoch.
    pub latest_ack_timestamp: i64,
    /// Per job vertex (by its id).
    pub tasks: BTreeMap<String, TaskCheckpointStats>,
}

/// One job vertex's part of a checkpoint (Flink's per-task checkpoint statistics).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TaskCheckpointStats {
    /// Subtasks of the vertex.
    pub num_subtasks: usize,
    /// Subtasks that acknowledged.
    pub num_acknowledged_subtasks: usize,
    /// Bytes of state of its subtasks the checkpoint references.
    pub state_size: u64,
    /// Bytes its subtasks wrote.
    pub checkpointed_size: u64,
    /// Longest barrier alignment of its subtasks.
    pub alignment_ms: u64,
    /// When its last subtask acknowledged, ms since the epoch.
    pub latest_ack_timestamp: i64,
}

struct Pending {
    barrier: Barrier,
    dir: PathBuf,
    started: Instant,
    acks: BTreeMap<TaskKey, Vec<(String, Option<StateFileHandle>, StateSize)>>,
    /// Per acknowledged task: alignment and acknowledgement time.
    ack_times: BTreeMap<TaskKey, (Duration, i64)>,
    alignment: Duration,
    /// Triggered with every task finished: completing it ends the job.
    is_final: bool,
}

/// Triggers, tracks and completes checkpoints of one job.
pub(crate) struct CheckpointCoordinator {
    config: CheckpointConfig,
    storage: CheckpointStorage,
    job_id: String,
    clock: std::sync::Arc<dyn Clock>,
    tasks: BTreeMap<TaskKey, TaskEntry>,
    next_id: u64,
    pending: Option<Pending>,
    next_trigger: Instant,
    failures: u32,
    /// Trigger a final checkpoint once the pending one is done.
    final_wanted: bool,
    /// Completed and failed checkpoints, oldest first.
    pub(crate) history: Vec<CheckpointStats>,
    /// Set when the final checkpoint completed and tasks were told to exit.
    pub(crate) done: bool,
    /// Savepoints asked for and not started yet (one checkpoint runs at a time).
    savepoint_requests: std::collections::VecDeque<SavepointRequest>,
    /// Who waits for which savepoint.
    savepoint_waiters: BTreeMap<CheckpointId, Sender<Result<PathBuf>>>,
    /// Some snapshot was taken, so two-phase sinks need a final checkpoint to commit.
    snapshots_taken: bool,
}

/// A savepoint someone asked for.
#[derive(Debug)]
pub struct SavepointRequest {
    /// Target directory; `state.savepoints.dir/savepoint-…` when absent.
    pub(crate) dir: Option<PathBuf>,
    /// Stop the job after it.
    pub(crate) stop: bool,
    /// Where the savepoint's path (or why it failed) goes.
    pub(crate) reply: Sender<Result<PathBuf>>,
}

impl CheckpointCoordinator {
    pub(crate) fn new(
        config: CheckpointConfig,
        job_id: &str,
        clock: std::sync::Arc<dyn Clock>,
        tasks: BTreeMap<TaskKey, TaskEntry>,
        first_id: u64,
        two_phase: bool,
    ) -> Self {
        let storage = CheckpointStorage::new(&config.checkpoints_dir, job_id);
        let first_trigger = Instant::now() + config.interval.unwrap_or(NEVER);
        Self {
            config,
            storage,
            job_id: job_id.to_string(),
            clock,
            tasks,
            next_id: first_id,
            pending: None,
            next_trigger: first_trigger,
            failures: 0,
            final_wanted: false,
            history: Vec::new(),
            done: false,
            savepoint_requests: std::collections::VecDeque::new(),
            savepoint_waiters: BTreeMap::new(),
            snapshots_taken: two_phase,
        }
    }

    /// Queues a savepoint; it starts as soon as no checkpoint is in flight.
    pub(crate) fn request_savepoint(&mut self, request: SavepointRequest) -> Result<()> {
        if !self.tasks.values().any(|t| t.is_source && !t.finished) {
            let _ = request.reply.send(Err(Error::Usage("the job's sources have finished; there is nothing left to save".into())));
            return Ok(());
        }
        self.savepoint_requests.push_back(request);
        self.start_requested_savepoint()
    }

    fn start_requested_savepoint(&mut self) -> Result<()> {
        if self.pending.is_some() {
            return Ok(());
        }
        let Some(request) = self.savepoint_requests.pop_front() else { return Ok(()) };
        let dir = request.dir.unwrap_or_else(|| CheckpointStorage::savepoint_dir(&self.config.savepoints_dir, &self.job_id));
        tracing::info!(job_id = %self.job_id, savepoint = %dir.display(), stop = request.stop, "triggering savepoint");
        self.trigger(SnapshotKind::Savepoint { dir, stop: request.stop }, false)?;
        let id = self.pending.as_ref().expect("trigger sets the pending checkpoint").barrier.id;
        self.savepoint_waiters.insert(id, request.reply);
        Ok(())
    }

    /// When `on_tick` should run next.
    pub(crate) fn deadline(&self) -> Instant {
        match &self.pending {
            Some(p) => p.started + self.config.timeout,
            None => self.next_trigger,
        }
    }

    /// Triggers a periodic checkpoint when due; fails a pending one that timed out.
    pub(crate) fn on_tick(&mut self, now: Instant) -> Result<()> {
        if let Some(p) = &self.pending {
            if now >= p.started + self.config.timeout {
                let reason = format!("checkpoint {} expired after {:?} before all tasks acknowledged", p.barrier.id, self.config.timeout);
                return self.fail_pending(reason);
            }
            return Ok(());
        }
        if !self.savepoint_requests.is_empty() {
            return self.start_requested_savepoint();
        }
        if now >= self.next_trigger && self.tasks.values().any(|t| t.is_source && !t.finished) {
            self.trigger(SnapshotKind::Checkpoint, false)?;
        }
        Ok(())
    }

    fn trigger(&mut self, kind: SnapshotKind, is_final: bool) -> Result<()> {
        let id = CheckpointId(self.next_id);
        self.next_id += 1;
        let dir = match &kind {
            SnapshotKind::Checkpoint => self.storage.create_checkpoint_dir(id)?,
            SnapshotKind::Savepoint { dir, .. } => {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
                dir.clone()
            }
        };
        let barrier = Barrier { id, timestamp: self.clock.now_ms(), kind };
        self.snapshots_taken = true;
        tracing::debug!(job_id = %self.job_id, checkpoint_id = id.0, is_final, "triggering checkpoint");
        for task in self.tasks.values().filter(|t| t.is_source || t.finished) {
            // A task that went away fails the job through its own result; nothing to do here.
            let _ = task.control.send(Control::Trigger(barrier.clone()));
        }
        self.pending = Some(Pending {
            barrier,
            dir,
            started: Instant::now(),
            acks: BTreeMap::new(),
            ack_times: BTreeMap::new(),
            alignment: Duration::ZERO,
            is_final,
        });
        Ok(())
    }

    /// A task's snapshot was written (or failed to be).
    pub(crate) fn on_ack(&mut self, ack: Ack) -> Result<()> {
        let Some(p) = self.pending.as_mut().filter(|p| p.barrier.id == ack.checkpoint) else { return Ok(()) };
        match ack.files {
            Ok(files) => {
                p.acks.insert(ack.task, files);
                p.ack_times.insert(ack.task, (ack.alignment, self.clock.now_ms()));
                p.alignment = p.alignment.max(ack.alignment);
            }
            Err(e) => return self.fail_pending(format!("writing the state of task {ack_task:?}: {}", e.report(), ack_task = ack.task)),
        }
        if p.acks.len() == self.tasks.len() {
            self.complete()?;
        }
        Ok(())
    }

    /// A task's input ended; it now serves snapshot requests with its final state.
    pub(crate) fn on_finished(&mut self, task: TaskKey) -> Result<()> {
        let Some(entry) = self.tasks.get_mut(&task) else { return Ok(()) };
        entry.finished = true;
        if let Some(p) = &self.pending {
            if !p.acks.contains_key(&task) {
                // It finished before the barrier reached it: it snapshots its final state.
                let _ = entry.control.send(Control::Trigger(p.barrier.clone()));
            }
        }
        if self.tasks.values().all(|t| t.finished) {
            if !self.snapshots_taken {
                // No snapshot was ever taken: sinks committed in `finish`, nothing to make durable.
                return self.exit_all();
            }
            self.final_wanted = true;
            if self.pending.is_none() {
                self.final_wanted = false;
                self.trigger(SnapshotKind::Checkpoint, true)?;
            }
        }
        Ok(())
    }

    fn complete(&mut self) -> Result<()> {
        let p = self.pending.take().expect("complete is called with a pending checkpoint");
        let metadata = self.metadata(&p);
        if let Err(e) = CheckpointStorage::write_metadata(&p.dir, &metadata) {
            self.pending = Some(p);
            return self.fail_pending(format!("writing _metadata: {}", e.report()));
        }
        let size = p
            .acks
            .values()
            .flatten()
            .fold(StateSize::default(), |a, (_, _, s)| StateSize { full: a.full + s.full, checkpointed: a.checkpointed + s.checkpointed });
        tracing::info!(
            job_id = %self.job_id,
            checkpoint_id = p.barrier.id.0,
            duration_ms = p.started.elapsed().as_millis() as u64,
            state_size = size.full,
            checkpointed_size = size.checkpointed,
            "checkpoint completed"
        );
        self.record(&p, "COMPLETED", size, None);
        self.failures = 0;
        if matches!(p.barrier.kind, SnapshotKind::Checkpoint) {
            if let Err(e) = self.storage.retain(self.config.num_retained) {
                tracing::warn!(error = %e.report(), "could not delete old checkpoints");
            }
            match self.storage.collect_shared_garbage() {
                Ok(deleted) if !deleted.is_empty() => {
                    tracing::debug!(files = deleted.len(), "deleted shared state no retained checkpoint references")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e.report(), "could not delete unreferenced shared state"),
            }
        }
        for task in self.tasks.values() {
            let _ = task.control.send(Control::Complete(p.barrier.id));
        }
        if let Some(waiter) = self.savepoint_waiters.remove(&p.barrier.id) {
            let _ = waiter.send(Ok(p.dir.clone()));
        }
        let interval = self.config.interval.unwrap_or(NEVER);
        self.next_trigger = (p.started + interval).max(Instant::now() + self.config.min_pause);
        if p.is_final {
            return self.exit_all();
        }
        if self.final_wanted {
            self.final_wanted = false;
            return self.trigger(SnapshotKind::Checkpoint, true);
        }
        self.start_requested_savepoint()
    }

    fn exit_all(&mut self) -> Result<()> {
        for task in self.tasks.values() {
            let _ = task.control.send(Control::Exit);
        }
        self.done = true;
        Ok(())
    }

    fn metadata(&self, p: &Pending) -> CheckpointMetadata {
        let mut operators: BTreeMap<String, OperatorState> = BTreeMap::new();
        for (task, files) in &p.acks {
            let metas = &self.tasks[task].operators;
            for (uid, file, _) in files {
                let Some(meta) = metas.iter().find(|m| &m.uid == uid) else { continue };
                let range = KeyGroupRange::for_subtask(meta.max_parallelism, meta.parallelism, task.subtask);
                let op = operators.entry(uid.clone()).or_insert_with(|| OperatorState {
                    uid: uid.clone(),
                    name: meta.name.clone(),
                    parallelism: meta.parallelism,
                    max_parallelism: meta.max_parallelism,
                    subtasks: Vec::new(),
                });
                op.subtasks.push(SubtaskState { subtask: task.subtask, key_groups: (range.start, range.end), file: file.clone() });
            }
        }
        CheckpointMetadata {
            job_id: self.job_id.clone(),
            checkpoint_id: p.barrier.id,
            timestamp: p.barrier.timestamp,
            savepoint: matches!(p.barrier.kind, SnapshotKind::Savepoint { .. }),
            operators: operators.into_values().collect(),
        }
    }

    fn record(&mut self, p: &Pending, status: &str, size: StateSize, failure: Option<String>) {
        let tasks = self.task_stats(p);
        self.history.push(CheckpointStats {
            num_subtasks: self.tasks.len(),
            num_acknowledged_subtasks: p.acks.len(),
            latest_ack_timestamp: p.ack_times.values().map(|(_, t)| *t).max().unwrap_or(p.barrier.timestamp),
            tasks,
            id: p.barrier.id.0,
            status: status.to_string(),
            is_savepoint: matches!(p.barrier.kind, SnapshotKind::Savepoint { .. }),
            trigger_timestamp: p.barrier.timestamp,
            duration_ms: p.started.elapsed().as_millis() as u64,
            state_size: size.full,
            checkpointed_size: size.checkpointed,
            alignment_ms: p.alignment.as_millis() as u64,
            external_path: p.dir.display().to_string(),
            failure,
        });
    }

    /// Per job vertex: subtasks, acknowledgements, state size, alignment.
    fn task_stats(&self, p: &Pending) -> BTreeMap<String, TaskCheckpointStats> {
        let mut tasks: BTreeMap<String, TaskCheckpointStats> = BTreeMap::new();
        for (key, entry) in &self.tasks {
            let Some(head) = entry.operators.first() else { continue };
            let stats = tasks.entry(head.uid.clone()).or_default();
            stats.num_subtasks += 1;
            if let Some((alignment, at)) = p.ack_times.get(key) {
                stats.num_acknowledged_subtasks += 1;
                stats.alignment_ms = stats.alignment_ms.max(alignment.as_millis() as u64);
                stats.latest_ack_timestamp = stats.latest_ack_timestamp.max(*at);
                for (_, _, size) in p.acks.get(key).into_iter().flatten() {
                    stats.state_size += size.full;
                    stats.checkpointed_size += size.checkpointed;
                }
            }
        }
        tasks
    }

    /// Gives up the pending checkpoint; fails the job once more than the tolerable number of
    /// checkpoints in a row failed.
    fn fail_pending(&mut self, reason: String) -> Result<()> {
        let Some(p) = self.pending.take() else { return Ok(()) };
        tracing::warn!(job_id = %self.job_id, checkpoint_id = p.barrier.id.0, reason = %reason, "checkpoint failed");
        self.record(&p, "FAILED", StateSize::default(), Some(reason.clone()));
        if let Some(waiter) = self.savepoint_waiters.remove(&p.barrier.id) {
            let _ = waiter.send(Err(Error::Internal(format!("savepoint {} failed: {reason}", p.barrier.id))));
        }
        if matches!(p.barrier.kind, SnapshotKind::Checkpoint) {
            let _ = std::fs::remove_dir_all(&p.dir);
        }
        self.failures += 1;
        self.next_trigger = Instant::now() + self.config.min_pause;
        if p.is_final || self.final_wanted {
            self.final_wanted = false;
            self.trigger(SnapshotKind::Checkpoint, true)?;
        }
        if self.failures > self.config.tolerable_failures {
            return Err(Error::Internal(format!(
                "{} checkpoint(s) in a row failed, more than execution.checkpointing.tolerable-failed-checkpoints={}: {reason}",
                self.failures, self.config.tolerable_failures
            )));
        }
        self.start_requested_savepoint()
    }
}
