//! A harness that drives one operator without threads or channels, for unit tests
//! (Flink's `OneInputStreamOperatorTestHarness`).

use std::sync::Arc;

use super::{Collector, Operator, OperatorContext, OutputTag, TaskInfo};
use crate::checkpoint::{CheckpointId, OperatorRestore, OperatorSnapshot};
use crate::data::{Data, Record, Timestamp};
use crate::state::StateBackendConfig;
use crate::time::{Clock, ManualClock};

thread_local! {
    /// The state backend of harnesses created on this thread (see [`with_state_backend`]).
    static BACKEND: std::cell::RefCell<StateBackendConfig> = std::cell::RefCell::new(StateBackendConfig::default());
}

/// Runs `f` with every harness it creates using `backend`, so that the same test cases run on
/// the heap and on RocksDB.
///
/// ```text
/// let rocks = StateBackendConfig { kind: StateBackendKind::RocksDb, incremental: false, local_dir: dir.path().into() };
/// with_state_backend(rocks, || every_window_case());
/// ```
pub fn with_state_backend<R>(backend: StateBackendConfig, f: impl FnOnce() -> R) -> R {
    let previous = BACKEND.with(|b| b.replace(backend));
    struct Restore(Option<StateBackendConfig>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                BACKEND.with(|b| b.replace(previous));
            }
        }
    }
    let _restore = Restore(Some(previous));
    f()
}

/// Feeds records, watermarks and processing time into an operator and collects its output.
#[allow(missing_debug_implementations)]
pub struct OneInputHarness<O: Operator> {
    op: O,
    out: Collector<O::Out>,
    info: TaskInfo,
    clock: Arc<dyn Clock>,
    manual: ManualClock,
}

impl<O: Operator> OneInputHarness<O> {
    /// A harness around `op`, opened, at processing time 0.
    pub fn new(op: O) -> Self {
        Self::with_state(op, None, 0, 1)
    }

    /// A harness around `op` restored from `state` as subtask `subtask` of `parallelism`
    /// (max parallelism 128), then opened.
    pub fn restored(op: O, state: OperatorRestore, subtask: u32, parallelism: u32) -> Self {
        Self::with_state(op, Some(state), subtask, parallelism)
    }

    fn with_state(mut op: O, state: Option<OperatorRestore>, subtask: u32, parallelism: u32) -> Self {
        if let Some(state) = state {
            op.restore_state(state).expect("operator restores in the harness");
        }
        let manual = ManualClock::new(0);
        let info = TaskInfo {
            job_name: "test".into(),
            task_name: "test-operator".into(),
            subtask,
            parallelism,
            max_parallelism: 128,
            checkpointing: false,
            state_backend: BACKEND.with(|b| b.borrow().clone()),
        };
        let mut h = Self { op, out: Collector::new(), info, clock: Arc::new(manual.clone()), manual };
        let mut ctx = OperatorContext { info: &h.info, clock: &h.clock };
        h.op.open(&mut ctx).expect("operator opens in the harness");
        h
    }

    /// Registers a side output so that its records are kept.
    pub fn with_side_output<S: Data>(mut self, tag: &OutputTag<S>) -> Self {
        self.out.sides.push(tag.buffer());
        self
    }

    /// Processes `(timestamp, value)` records in order.
    pub fn process_all(&mut self, records: impl IntoIterator<Item = (Timestamp, O::In)>) {
        let mut batch: Vec<Record<O::In>> = records.into_iter().map(|(ts, value)| Record { ts, value }).collect();
        let mut ctx = OperatorContext { info: &self.info, clock: &self.clock };
        self.op.process_batch(&mut batch, &mut self.out, &mut ctx).expect("operator processes records");
    }

    /// Advances the watermark.
    pub fn watermark(&mut self, wm: Timestamp) {
        let mut ctx = OperatorContext { info: &self.info, clock: &self.clock };
        self.op.on_watermark(wm, &mut self.out, &mut ctx).expect("operator handles the watermark");
    }

    /// Sets processing time to `now` and fires due processing-time timers.
    pub fn processing_time(&mut self, now: Timestamp) {
        self.manual.set(now);
        let mut ctx = OperatorContext { info: &self.info, clock: &self.clock };
        self.op.on_processing_time(now, &mut self.out, &mut ctx).expect("operator handles processing time");
    }

    /// Ends the input.
    pub fn finish(&mut self) {
        let mut ctx = OperatorContext { info: &self.info, clock: &self.clock };
        self.op.finish(&mut self.out, &mut ctx).expect("operator finishes");
    }

    /// The operator's earliest processing-time timer.
    pub fn next_processing_time(&self) -> Option<Timestamp> {
        self.op.next_processing_time()
    }

    /// Takes the main output so far as `(timestamp, value)` pairs.
    pub fn take_output(&mut self) -> Vec<(Timestamp, O::Out)> {
        self.out.buf.drain(..).map(|r| (r.ts, r.value)).collect()
    }

    /// Takes the records sent to side output `tag`.
    pub fn take_side_output<S: Data>(&mut self, tag: &OutputTag<S>) -> Vec<(Timestamp, S)> {
        let side = self.out.sides.iter_mut().find(|s| *s.tag == *tag.name).expect("side output registered with with_side_output");
        let records: &mut Vec<Record<S>> = side.records.downcast_mut().expect("tag type");
        records.drain(..).map(|r| (r.ts, r.value)).collect()
    }

    /// Snapshots the operator's state.
    pub fn snapshot(&mut self) -> OperatorSnapshot {
        self.op.snapshot_state(CheckpointId(1)).expect("operator snapshots")
    }

    /// Gives the operator back (to restore it into another harness).
    pub fn into_operator_for_restore(self) -> O {
        self.op
    }

    /// The operator, to inspect its state.
    pub fn operator(&self) -> &O {
        &self.op
    }
}
