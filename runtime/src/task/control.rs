//! The mailbox's control side: what the checkpoint coordinator tells a task, what a task
//! reports back, and how a finished task waits for the final checkpoint.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::{TaskCx, TaskSnapshot};
use crate::checkpoint::{Barrier, CheckpointId};
use crate::error::Result;

/// Identifies a subtask within a job: vertex index and subtask index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub(crate) struct TaskKey {
    pub(crate) vertex: usize,
    pub(crate) subtask: u32,
}

/// From the coordinator to a task.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) enum Control {
    /// Sources: inject this barrier. Finished tasks: snapshot their final state under it.
    Trigger(Barrier),
    /// A checkpoint completed: commit what it covers.
    Complete(CheckpointId),
    /// The job is done (after its final checkpoint): exit.
    Exit,
}

/// How the coordinator reaches a task: its control queue in this process, or a queue of
/// the JobMaster that routes the message to the task's worker process.
#[derive(Debug, Clone)]
pub(crate) enum ControlSender {
    Local(Sender<Control>),
    Routed { task: TaskKey, tx: Sender<(TaskKey, Control)> },
}

impl ControlSender {
    /// Sends; an error means the task (or its worker) is gone, which fails the job through
    /// its own result.
    pub(crate) fn send(&self, control: Control) -> std::result::Result<(), ()> {
        match self {
            ControlSender::Local(tx) => tx.send(control).map_err(drop),
            ControlSender::Routed { task, tx } => tx.send((*task, control)).map_err(drop),
        }
    }
}

/// From a task to the coordinator (through the uploader, which writes snapshots).
#[derive(Debug)]
pub(crate) enum TaskEvent {
    /// The task's operators snapshotted at `barrier`.
    Snapshot { task: TaskKey, barrier: Barrier, operators: TaskSnapshot, alignment: Duration },
    /// The task's input ended and its operators finished; it waits for `Control` messages.
    Finished { task: TaskKey },
}

/// How a task reaches the coordinator; absent when checkpointing is off.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointLink {
    pub(crate) task: TaskKey,
    pub(crate) events: Sender<TaskEvent>,
}

impl TaskCx {
    /// Hands a snapshot to the uploader.
    pub(crate) fn report_snapshot(&mut self, barrier: Barrier, operators: TaskSnapshot, alignment: Duration) -> Result<()> {
        let Some(link) = &self.checkpoints else { return Ok(()) };
        let event = TaskEvent::Snapshot { task: link.task, barrier, operators, alignment };
        link.events.send(event).map_err(|_| self.canceled())
    }
}

/// The operations a finished task still performs.
pub(crate) trait FinishedOps {
    fn snapshot(&mut self, barrier: &Barrier, cx: &mut TaskCx) -> Result<TaskSnapshot>;
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()>;
}

/// After the input ended: with checkpointing, report `Finished` and serve snapshot requests
/// and completions until the coordinator says `Exit` (Flink's final checkpoint, so that
/// two-phase-commit sinks commit their last data only once it is durable).
pub(crate) fn wait_for_exit(ops: &mut dyn FinishedOps, control: &Receiver<Control>, cx: &mut TaskCx) -> Result<()> {
    let Some(link) = cx.checkpoints.clone() else { return Ok(()) };
    cx.finished = true;
    link.events.send(TaskEvent::Finished { task: link.task }).map_err(|_| cx.canceled())?;
    loop {
        if cx.is_canceled() {
            return Err(cx.canceled());
        }
        match control.recv_timeout(Duration::from_millis(100)) {
            Ok(Control::Trigger(barrier)) => {
                let operators = ops.snapshot(&barrier, cx)?;
                cx.report_snapshot(barrier, operators, Duration::ZERO)?;
            }
            Ok(Control::Complete(id)) => ops.notify_complete(id, cx)?,
            Ok(Control::Exit) => return Ok(()),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Err(cx.canceled()),
        }
    }
}
