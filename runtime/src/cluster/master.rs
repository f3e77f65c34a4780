//! The JobMaster's side of one attempt of a job on a cluster: deploys the subtasks to the
//! attempt's worker processes, hosts the [checkpoint coordinator](crate::checkpoint), and
//! collects the tasks' results.
//!
//! The JobManager owns the networking: it hands every frame a worker sends to
//! [`JobMasterAttempt::on_report`] and sends what lands in the outbox, `(worker, frame)`, to that
//! worker. The attempt is driven like the local executor's coordinator: `on_tick` at
//! `deadline`, savepoint requests through `request_savepoint`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::messages::{RestoreSpec, WorkerCommand, WorkerReport};
use super::wire::{decode, encode};
use crate::checkpoint::coordinator::{Ack, CheckpointConfig, CheckpointCoordinator, SavepointRequest};
use crate::checkpoint::CheckpointStats;
use crate::config::Configuration;
use crate::error::{Error, Result};
use crate::job::graph::JobGraph;
use crate::job::local::{load_restore, task_entry};
use crate::task::{Control, ControlSender, TaskKey, TaskMetrics};
use crate::time::SystemClock;

/// Where an attempt runs and what it starts from.
#[derive(Debug, Clone)]
pub struct AttemptSpec {
    /// The job.
    pub job_id: String,
    /// The JobManager's epoch.
    pub epoch: u64,
    /// The worker of each slot: subtask `i` of every vertex runs on worker `placement[i]`.
    pub placement: Vec<u32>,
    /// Each worker's data address, by worker index.
    pub peers: Vec<String>,
    /// The checkpoint or savepoint to restore.
    pub restore: Option<RestoreSpec>,
}

/// How an attempt ended well: per task its name and counters, and the checkpoints taken.
#[derive(Debug)]
pub struct AttemptResult {
    /// Per subtask: name and counters.
    pub tasks: Vec<(String, TaskMetrics)>,
    /// Checkpoints of this attempt, oldest first.
    pub checkpoints: Vec<CheckpointStats>,
}

/// One attempt of a job, from the JobMaster's side.
pub struct JobMasterAttempt {
    coordinator: CheckpointCoordinator,
    outbox: Sender<(u32, Vec<u8>)>,
    routed: Receiver<(TaskKey, Control)>,
    placement: Vec<u32>,
    remaining: BTreeMap<u32, usize>,
    total: usize,
    ended: usize,
    canceled: usize,
    tasks: Vec<(String, TaskMetrics)>,
}

impl std::fmt::Debug for JobMasterAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobMasterAttempt").field("tasks", &self.total).field("ended", &self.ended).finish()
    }
}

impl JobMasterAttempt {
    /// Checks the restore point, creates the coordinator and sends each worker its deployment.
    pub fn start(graph: &JobGraph, job_config: &Configuration, spec: AttemptSpec, outbox: Sender<(u32, Vec<u8>)>) -> Result<Self> {
        let config = CheckpointConfig::from_config(job_config)?;
        let restored = spec.restore.as_ref().map(|r| load_restore(graph, r)).transpose()?;
        let first_id = restored.as_ref().map_or(1, |(m, _)| m.checkpoint_id.0 + 1);
        let two_phase = config.interval.is_some() || restored.is_some();
        let (routed_tx, routed) = crossbeam_channel::unbounded();
        let mut entries = BTreeMap::new();
        let mut remaining: BTreeMap<u32, usize> = BTreeMap::new();
        for (v_idx, v) in graph.vertices.iter().enumerate() {
            for s in 0..v.parallelism {
                let task = TaskKey { vertex: v_idx, subtask: s };
                entries.insert(task, task_entry(graph, v_idx, ControlSender::Routed { task, tx: routed_tx.clone() }));
                let worker = *spec.placement.get(s as usize).ok_or_else(|| Error::Internal(format!("no slot for subtask {s}")))?;
                *remaining.entry(worker).or_default() += 1;
            }
        }
        let total = entries.len();
        // A restore path the workers resolve the same way: the checkpoint directory itself.
        let restore = restored.as_ref().map(|(_, dir)| RestoreSpec {
            path: dir.clone(),
            allow_non_restored: spec.restore.as_ref().is_some_and(|r| r.allow_non_restored),
        });
        for worker in 0..spec.peers.len() as u32 {
            let deploy = WorkerCommand::Deploy {
                epoch: spec.epoch,
                placement: spec.placement.clone(),
                peers: spec.peers.clone(),
                restore: restore.clone(),
                two_phase,
            };
            outbox.send((worker, encode(&deploy)?)).map_err(|_| Error::Internal("the JobMaster's outbox is closed".into()))?;
        }
        let coordinator = CheckpointCoordinator::new(config, &spec.job_id, Arc::new(SystemClock), entries, first_id, two_phase);
        Ok(Self { coordinator, outbox, routed, placement: spec.placement, remaining, total, ended: 0, canceled: 0, tasks: Vec::new() })
    }

    /// Handles a frame from worker `worker`. An error fails the attempt: a task failed, or
    /// the coordinator could not go on (too many failed checkpoints).
    pub fn on_report(&mut self, worker: u32, frame: &[u8]) -> Result<()> {
        let result = match decode::<WorkerReport>(frame)? {
            WorkerReport::Ack { task, checkpoint, files, alignment_us } => self.coordinator.on_ack(Ack {
                task,
                checkpoint,
                files: files.map_err(|e| Error::State(format!("writing a snapshot: {e}"))),
                alignment: Duration::from_micros(alignment_us),
            }),
            WorkerReport::Finished { task } => self.coordinator.on_finished(task),
            WorkerReport::TaskEnded { task, name, result } => {
                if self.placement.get(task.subtask as usize) != Some(&worker) {
                    return Err(Error::Rpc(format!("worker {worker} reported task {name}, which is not deployed to it")));
                }
                self.ended += 1;
                if let Some(n) = self.remaining.get_mut(&worker) {
                    *n = n.saturating_sub(1);
                }
                match result {
                    Ok((records_in, records_out, backpressured_ns)) => {
                        self.tasks.push((name, TaskMetrics { records_in, records_out, backpressured_ns }));
                        Ok(())
                    }
                    Err(e) => match e.into_error(&name) {
                        None => {
                            self.canceled += 1;
                            Ok(())
                        }
                        Some(e) => Err(e),
                    },
                }
            }
        };
        self.route();
        result
    }

    /// Sends the coordinator's control messages to the tasks' workers.
    fn route(&mut self) {
        while let Ok((task, control)) = self.routed.try_recv() {
            let Some(&worker) = self.placement.get(task.subtask as usize) else { continue };
            if let Ok(frame) = encode(&WorkerCommand::Control { task, control }) {
                let _ = self.outbox.send((worker, frame));
            }
        }
    }

    /// When [`on_tick`](Self::on_tick) should run next.
    pub fn deadline(&self) -> Instant {
        self.coordinator.deadline()
    }

    /// Triggers a periodic checkpoint when due; fails one that timed out.
    pub fn on_tick(&mut self, now: Instant) -> Result<()> {
        let result = self.coordinator.on_tick(now);
        self.route();
        result
    }

    /// Queues a savepoint into `dir` (default `state.savepoints.dir`); with `stop`, the job
    /// stops after it. The directory, or why it failed, goes to `reply`.
    pub fn request_savepoint(&mut self, dir: Option<PathBuf>, stop: bool, reply: Sender<Result<PathBuf>>) -> Result<()> {
        let result = self.coordinator.request_savepoint(SavepointRequest { dir, stop, reply });
        self.route();
        result
    }

    /// Whether every task deployed to `worker` has reported its end.
    pub fn worker_done(&self, worker: u32) -> bool {
        self.remaining.get(&worker).is_none_or(|n| *n == 0)
    }

    /// Checkpoints of this attempt so far, oldest first.
    pub fn checkpoints(&self) -> &[CheckpointStats] {
        &self.coordinator.history
    }

    /// Once every task ended: the result, or `Canceled` if some task was canceled.
    pub fn outcome(&mut self) -> Option<Result<AttemptResult>> {
        if self.ended < self.total {
            return None;
        }
        if self.canceled > 0 {
            return Some(Err(Error::Canceled));
        }
        Some(Ok(AttemptResult { tasks: std::mem::take(&mut self.tasks), checkpoints: self.coordinator.history.clone() }))
    }
}
