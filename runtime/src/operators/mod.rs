//! Operators: the units of work the runtime chains into tasks.
//!
//! An [`Operator`] turns input records into output records through a [`Collector`]; its
//! lifecycle hooks (`open`, `process`, `on_watermark`, `on_processing_time`, `finish`) are
//! called from the task's mailbox loop, one at a time, so operator state needs no locks.
//! A [`TwoInputOperator`] has two inputs of different types (connect, interval join).
//! A [`Source`] produces records when polled; a [`Sink`] consumes them at the end of a chain.
//!
//! The operators behind the DataStream API live in one file each.

mod basic;
mod interval_join;
mod keyed;
mod process;
mod two_input;

#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub(crate) use basic::{Filter, FlatMap, Map};
pub(crate) use interval_join::IntervalJoinOperator;
pub use keyed::KeyedContext;
pub(crate) use keyed::{KeySelector, KeyedCore};
pub use process::{KeyedProcessFunction, TimeDomain};
pub(crate) use process::{KeyedProcessOperator, RollingReduce};
pub use two_input::{CoProcessFunction, KeyedCoProcessFunction};
pub(crate) use two_input::{CoProcessOperator, KeyedCoProcessOperator};

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use crate::checkpoint::{CheckpointId, OperatorRestore, OperatorSnapshot};
use crate::data::{Data, Record, Timestamp, MIN_TIMESTAMP};
use crate::error::Result;
use crate::time::Clock;

/// The error type user functions may return; it fails the task with its message.
pub type UserError = Box<dyn std::error::Error + Send + Sync>;
/// The result of a user function.
pub type FnResult<T = ()> = std::result::Result<T, UserError>;

/// Where an operator sends its output: the main output and named side outputs.
///
/// ```
/// # use strom_runtime::operators::Collector;
/// let mut out = Collector::<u32>::new();
/// out.collect(1);
/// out.collect_at(42, 2);
/// assert_eq!(out.drain_values(), vec![1, 2]);
/// ```
#[derive(Debug)]
pub struct Collector<T> {
    pub(crate) buf: Vec<Record<T>>,
    /// The timestamp given to values collected without one: the input record's or timer's.
    pub(crate) ts: Timestamp,
    pub(crate) sides: Vec<SideBuffer>,
}

/// Buffered side-output records of one tag (`Vec<Record<S>>`, type-erased).
#[derive(Debug)]
pub(crate) struct SideBuffer {
    pub(crate) tag: Arc<str>,
    pub(crate) records: Box<dyn Any>,
    pub(crate) is_empty: fn(&dyn Any) -> bool,
}

impl<T> Default for Collector<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Collector<T> {
    /// An empty collector.
    pub fn new() -> Self {
        Self { buf: Vec::new(), ts: MIN_TIMESTAMP, sides: Vec::new() }
    }

    /// Emits `value` with the timestamp of the element being processed.
    pub fn collect(&mut self, value: T) {
        self.buf.push(Record { ts: self.ts, value });
    }

    /// Emits `value` with timestamp `ts`.
    pub fn collect_at(&mut self, ts: Timestamp, value: T) {
        self.buf.push(Record { ts, value });
    }

    /// The timestamp `collect` gives to values.
    pub fn timestamp(&self) -> Timestamp {
        self.ts
    }

    /// Emits `value` to the side output `tag`. Values for a tag that nobody consumes are
    /// dropped, as in Flink.
    pub fn side<S: Data>(&mut self, tag: &OutputTag<S>, value: S) {
        let ts = self.ts;
        if let Some(side) = self.sides.iter_mut().find(|s| *s.tag == *tag.name) {
            let records: &mut Vec<Record<S>> = side.records.downcast_mut().expect("side output registered with the tag's type");
            records.push(Record { ts, value });
        }
    }

    /// Takes the collected values, dropping timestamps (for tests).
    pub fn drain_values(&mut self) -> Vec<T> {
        self.buf.drain(..).map(|r| r.value).collect()
    }
}

/// Creates the empty buffer of a side output for each subtask.
pub(crate) type SideBufferFactory = Arc<dyn Fn() -> SideBuffer + Send + Sync>;

/// Names a side output of type `S` (Flink's `OutputTag`).
///
/// ```
/// # use strom_runtime::operators::OutputTag;
/// let late = OutputTag::<String>::new("late-data");
/// assert_eq!(late.name(), "late-data");
/// ```
#[derive(Debug)]
pub struct OutputTag<S> {
    pub(crate) name: Arc<str>,
    _s: std::marker::PhantomData<fn() -> S>,
}

impl<S> Clone for OutputTag<S> {
    fn clone(&self) -> Self {
        Self { name: self.name.clone(), _s: std::marker::PhantomData }
    }
}

impl<S: Data> OutputTag<S> {
    /// A tag called `name`.
    pub fn new(name: &str) -> Self {
        Self { name: name.into(), _s: std::marker::PhantomData }
    }

    /// The tag's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A side output port for a node.
    pub(crate) fn port(&self) -> crate::job::graph::SidePort {
        let tag = self.clone();
        crate::job::graph::SidePort {
            tag: self.name.clone(),
            ops: crate::job::graph::TypeOps::of::<S>(),
            buffer: Arc::new(move || tag.buffer()),
            type_id: std::any::TypeId::of::<S>(),
        }
    }

    pub(crate) fn buffer(&self) -> SideBuffer {
        SideBuffer {
            tag: self.name.clone(),
            records: Box::new(Vec::<Record<S>>::new()),
            is_empty: |b| b.downcast_ref::<Vec<Record<S>>>().is_none_or(Vec::is_empty),
        }
    }
}

/// Where a task runs: what the runtime tells operators about their subtask.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    /// The job's name.
    pub job_name: String,
    /// The task's name (its chained operators' names).
    pub task_name: String,
    /// This subtask's index, `0..parallelism`.
    pub subtask: u32,
    /// The task's parallelism.
    pub parallelism: u32,
    /// The max parallelism (number of key groups) of the task's keyed operators.
    pub max_parallelism: u32,
    /// Periodic checkpoints are on (`execution.checkpointing.interval`), or the job was
    /// restored: two-phase-commit sinks hold back their output until a checkpoint completes.
    pub checkpointing: bool,
    /// The keyed state backend and its settings (`state.backend.*`).
    pub state_backend: crate::state::StateBackendConfig,
}

/// What the runtime hands an operator with each call.
#[derive(Debug)]
pub struct OperatorContext<'a> {
    pub(crate) info: &'a TaskInfo,
    pub(crate) clock: &'a Arc<dyn Clock>,
}

impl OperatorContext<'_> {
    /// The subtask this operator instance runs in.
    pub fn info(&self) -> &TaskInfo {
        self.info
    }

    /// The current processing time in milliseconds.
    pub fn processing_time(&self) -> Timestamp {
        self.clock.now_ms()
    }
}

/// A one-input operator.
pub trait Operator: 'static {
    /// Input record type.
    type In: Data;
    /// Output record type.
    type Out: Data;

    /// Called once before the first record.
    fn open(&mut self, _ctx: &mut OperatorContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Processes one record.
    fn process(&mut self, record: Record<Self::In>, out: &mut Collector<Self::Out>, ctx: &mut OperatorContext<'_>) -> Result<()>;

    /// Processes a batch, draining it. Operators override this when a batch at a time is
    /// cheaper than a record at a time.
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<Self::In>>,
        out: &mut Collector<Self::Out>,
        ctx: &mut OperatorContext<'_>,
    ) -> Result<()> {
        for record in batch.drain(..) {
            self.process(record, out, ctx)?;
        }
        Ok(())
    }

    /// The watermark advanced to `watermark`; fire event-time timers up to it. The runtime
    /// forwards the watermark downstream after this returns.
    fn on_watermark(&mut self, _watermark: Timestamp, _out: &mut Collector<Self::Out>, _ctx: &mut OperatorContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Processing time reached `now`; fire processing-time timers up to it.
    fn on_processing_time(&mut self, _now: Timestamp, _out: &mut Collector<Self::Out>, _ctx: &mut OperatorContext<'_>) -> Result<()> {
        Ok(())
    }

    /// The earliest processing-time timer, so that the task knows when to wake up.
    fn next_processing_time(&self) -> Option<Timestamp> {
        None
    }

    /// The input has ended (after the final watermark); emit what is left.
    fn finish(&mut self, _out: &mut Collector<Self::Out>, _ctx: &mut OperatorContext<'_>) -> Result<()> {
        Ok(())
    }
    /// Snapshots the operator's state at a checkpoint barrier (the synchronous part: copy or
    /// freeze what must be written; the runtime writes it asynchronously).
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        Ok(OperatorSnapshot::default())
    }

    /// Snapshots the operator's state for `barrier`. The default calls
    /// [`snapshot_state`](Self::snapshot_state); keyed operators override it so that checkpoints
    /// of the RocksDB backend are native (and incremental) while savepoints stay canonical.
    fn snapshot_state_for(&mut self, barrier: &crate::checkpoint::Barrier) -> Result<OperatorSnapshot> {
        self.snapshot_state(barrier.id)
    }

    /// Restores state from a checkpoint or savepoint; called before `open`.
    fn restore_state(&mut self, _state: OperatorRestore) -> Result<()> {
        Ok(())
    }

    /// Checkpoint `checkpoint` is complete: everything up to its barrier is durable.
    fn notify_checkpoint_complete(&mut self, _checkpoint: CheckpointId) -> Result<()> {
        Ok(())
    }
}

/// A two-input operator (the inputs may have different types).
pub trait TwoInputOperator: 'static {
    /// First input's record type.
    type In1: Data;
    /// Second input's record type.
    type In2: Data;
    /// Output record type.
    type Out: Data;

    /// Called once before the first record.
    fn open(&mut self, _ctx: &mut OperatorContext<'_>) -> Result<()> {
        Ok(())
    }
    /// Processes a record of the first input.
    fn process1(&mut self, r: Record<Self::In1>, out: &mut Collector<Self::Out>, ctx: &mut OperatorContext<'_>) -> Result<()>;
    /// Processes a record of the second input.
    fn process2(&mut self, r: Record<Self::In2>, out: &mut Collector<Self::Out>, ctx: &mut OperatorContext<'_>) -> Result<()>;
    /// See [`Operator::on_watermark`]; the watermark is the minimum over both inputs.
    fn on_watermark(&mut self, _wm: Timestamp, _out: &mut Collector<Self::Out>, _ctx: &mut OperatorContext<'_>) -> Result<()> {
        Ok(())
    }
    /// See [`Operator::on_processing_time`].
    fn on_processing_time(&mut self, _now: Timestamp, _out: &mut Collector<Self::Out>, _ctx: &mut OperatorContext<'_>) -> Result<()> {
        Ok(())
    }
    /// See [`Operator::next_processing_time`].
    fn next_processing_time(&self) -> Option<Timestamp> {
        None
    }
    /// See [`Operator::finish`].
    fn finish(&mut self, _out: &mut Collector<Self::Out>, _ctx: &mut OperatorContext<'_>) -> Result<()> {
        Ok(())
    }
    /// See [`Operator::snapshot_state`]. Snapshots the operator's state at a checkpoint barrier (the synchronous part: copy or
    /// freeze what must be written; the runtime writes it asynchronously).
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        Ok(OperatorSnapshot::default())
    }

    /// Snapshots the operator's state for `barrier`. The default calls
    /// [`snapshot_state`](Self::snapshot_state); keyed operators override it so that checkpoints
    /// of the RocksDB backend are native (and incremental) while savepoints stay canonical.
    fn snapshot_state_for(&mut self, barrier: &crate::checkpoint::Barrier) -> Result<OperatorSnapshot> {
        self.snapshot_state(barrier.id)
    }

    /// Restores state from a checkpoint or savepoint; called before `open`.
    fn restore_state(&mut self, _state: OperatorRestore) -> Result<()> {
        Ok(())
    }

    /// Checkpoint `checkpoint` is complete: everything up to its barrier is durable.
    fn notify_checkpoint_complete(&mut self, _checkpoint: CheckpointId) -> Result<()> {
        Ok(())
    }
}

/// What a source reports after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceStatus {
    /// More records are available now; poll again.
    MoreAvailable,
    /// Nothing is available; poll again after at most this long.
    Wait(Duration),
    /// The (bounded) input has ended.
    Finished,
}

/// A parallel source: every subtask gets its own instance and picks its share of the input
/// from its [`TaskInfo`] in `open`.
pub trait Source: 'static {
    /// Record type.
    type Out: Data;

    /// Called once before the first poll.
    fn open(&mut self, _ctx: &mut OperatorContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Emits up to about one batch of records into `out`.
    fn poll_next(&mut self, out: &mut Collector<Self::Out>, ctx: &mut OperatorContext<'_>) -> Result<SourceStatus>;
    /// Snapshots the read position (operator list or union state) at a checkpoint. Called
    /// between polls, so the position covers exactly the records emitted so far.
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        Ok(OperatorSnapshot::default())
    }

    /// Restores the read position; called before `open`.
    fn restore_state(&mut self, _state: OperatorRestore) -> Result<()> {
        Ok(())
    }

    /// Checkpoint `checkpoint` is complete (e.g. commit offsets to an external system).
    fn notify_checkpoint_complete(&mut self, _checkpoint: CheckpointId) -> Result<()> {
        Ok(())
    }
}

/// A sink: the end of a stream.
pub trait Sink: 'static {
    /// Record type.
    type In: Data;

    /// Called once before the first record.
    fn open(&mut self, _ctx: &mut OperatorContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Writes a batch, draining it.
    fn write(&mut self, batch: &mut Vec<Record<Self::In>>, ctx: &mut OperatorContext<'_>) -> Result<()>;

    /// The input has ended: flush what is buffered. With checkpointing, a final checkpoint
    /// follows (`snapshot_state`, then `notify_checkpoint_complete`); without, make everything
    /// written durable and visible here.
    fn finish(&mut self, _ctx: &mut OperatorContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Pre-commits at a checkpoint barrier: what was written since the last barrier becomes
    /// pending, recorded in the returned (list or union) state.
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        Ok(OperatorSnapshot::default())
    }

    /// Restores from a checkpoint: commit what was pending in it, discard anything newer.
    /// Called before `open`.
    fn restore_state(&mut self, _state: OperatorRestore) -> Result<()> {
        Ok(())
    }

    /// Commits what was pending at checkpoint `checkpoint`, which is now complete.
    fn notify_checkpoint_complete(&mut self, _checkpoint: CheckpointId) -> Result<()> {
        Ok(())
    }
}

/// The checkpoint hooks of an operator whose state is all in `self.core` (a `KeyedCore`),
/// and an `open` that tells the core its task.
macro_rules! keyed_state_hooks {
    () => {
        fn snapshot_state(&mut self, _: crate::checkpoint::CheckpointId) -> crate::Result<crate::checkpoint::OperatorSnapshot> {
            self.core.snapshot()
        }

        fn snapshot_state_for(&mut self, barrier: &crate::checkpoint::Barrier) -> crate::Result<crate::checkpoint::OperatorSnapshot> {
            self.core.snapshot_for(barrier)
        }

        fn restore_state(&mut self, state: crate::checkpoint::OperatorRestore) -> crate::Result<()> {
            self.core.restore(state)
        }

        fn notify_checkpoint_complete(&mut self, checkpoint: crate::checkpoint::CheckpointId) -> crate::Result<()> {
            self.core.state.notify_checkpoint_complete(checkpoint);
            Ok(())
        }
    };
}
pub(crate) use keyed_state_hooks;

/// Turns a user function's error or panic payload into a task failure message.
pub(crate) fn user_error(context: &str, err: UserError) -> crate::Error {
    crate::Error::TaskFailed { task: context.to_string(), message: format!("{err:#}") }
}
