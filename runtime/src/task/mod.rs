//! Tasks: one thread per subtask running a mailbox loop.
//!
//! A task is a chain of operators with either a source or an input gate at its head. Its loop
//! handles input batches, watermarks, idleness, end of input, processing-time timers and
//! output flushing in one place, so operators never need locks. The input gate combines the
//! watermarks of its channels as Flink's `StatusWatermarkValve` does: the minimum over active
//! channels, ignoring idle ones and those that have not caught up since becoming active.

mod chain;
mod control;
mod gate;
mod source;

pub(crate) use chain::{
    AnyLink, BoxLink, Discard, Erased, Fanout, InputHead, Link, OperatorLink, Outputs, SinkLink, TaskInput, TaskSnapshot, TwoInputHead,
};
pub(crate) use control::{CheckpointLink, Control, ControlSender, TaskEvent, TaskKey};
pub(crate) use gate::{run_input_task, InputChannel};
pub(crate) use source::{run_source_task, SourceHead, SourceTask};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::Error;
use crate::exchange::ExchangeConfig;
use crate::operators::TaskInfo;
use crate::time::Clock;

/// Counters of one task, reported when it ends.
#[derive(Debug, Clone, Default)]
pub struct TaskMetrics {
    /// Records received from other tasks.
    pub records_in: u64,
    /// Records sent to other tasks.
    pub records_out: u64,
    /// Time spent blocked on full output channels (backpressure).
    pub backpressured_ns: u64,
}

/// What every part of a task's chain can reach.
pub(crate) struct TaskCx {
    pub(crate) info: TaskInfo,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cancel: Arc<AtomicBool>,
    pub(crate) exchange: ExchangeConfig,
    /// Interval of periodic watermark emission.
    pub(crate) watermark_interval: std::time::Duration,
    pub(crate) metrics: TaskMetrics,
    /// The way to the checkpoint coordinator, when checkpointing is on.
    pub(crate) checkpoints: Option<CheckpointLink>,
    /// The task's input ended; its writers no longer send barriers.
    pub(crate) finished: bool,
    /// The job stops with a savepoint: end without the final watermark.
    pub(crate) stopping: bool,
    /// Restored state by operator uid, taken by each operator when it opens.
    pub(crate) restore: std::collections::HashMap<String, crate::checkpoint::OperatorRestore>,
}

impl TaskCx {
    /// The error for "stop: the job is being canceled"; also raises the job's cancel flag so
    /// that every other task stops too.
    pub(crate) fn canceled(&self) -> Error {
        self.cancel.store(true, Ordering::Relaxed);
        Error::Canceled
    }

    pub(crate) fn is_canceled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}
