//! What every keyed operator has: the key selector, the state backend, the timers, and the
//! context handed to keyed user functions.

use std::sync::Arc;

use super::{FnResult, TaskInfo, TimeDomain};
use crate::checkpoint::{Barrier, NativeSnapshot, OperatorRestore, OperatorSnapshot, SnapshotKind};
use crate::data::{Key, Timestamp, MIN_TIMESTAMP};
use crate::error::Result;
use crate::state::snapshot::{decode, encode, Blocks, KeyGroupBlock};
use crate::state::{KeyGroupRange, KeyedStateBackend, KeyedStateContext, Namespace, StateAccess};
use crate::time::TimerService;

/// Extracts the key of a record.
pub(crate) type KeySelector<T, K> = Arc<dyn Fn(&T) -> K + Send + Sync>;

/// State, timers and watermark of a keyed operator subtask.
pub(crate) struct KeyedCore<T, K> {
    pub(crate) key_of: KeySelector<T, K>,
    pub(crate) state: KeyedStateBackend<K>,
    pub(crate) timers: TimerService<K>,
    pub(crate) watermark: Timestamp,
    /// Number of key groups, set when the operator opens.
    pub(crate) max_parallelism: u32,
}

impl<T, K: Key> KeyedCore<T, K> {
    pub(crate) fn new(key_of: KeySelector<T, K>) -> Self {
        Self {
            key_of,
            state: KeyedStateBackend::new(),
            timers: TimerService::default(),
            watermark: MIN_TIMESTAMP,
            max_parallelism: crate::state::UPPER_BOUND_MAX_PARALLELISM,
        }
    }

    /// Called from the operator's `open`: sets up the state backend the job configured.
    pub(crate) fn open(&mut self, info: &TaskInfo) -> Result<()> {
        self.max_parallelism = info.max_parallelism;
        let key_groups = KeyGroupRange::for_subtask(info.max_parallelism, info.parallelism, info.subtask);
        let name = format!("{}{}-{}", crate::state::rocks::INSTANCE_PREFIX, std::process::id(), info.subtask);
        self.state.open(&info.state_backend, info.max_parallelism, key_groups, &name)
    }

    /// Keyed state and timers in canonical form, per key group.
    pub(crate) fn snapshot(&mut self) -> Result<OperatorSnapshot> {
        let mut blocks = Blocks::new();
        self.state.snapshot_into(self.max_parallelism, &mut blocks)?;
        self.finish_snapshot(blocks, None)
    }

    /// The snapshot for `barrier`: with the RocksDB backend a checkpoint is a native RocksDB
    /// checkpoint (timers stay canonical), a savepoint always canonical.
    pub(crate) fn snapshot_for(&mut self, barrier: &Barrier) -> Result<OperatorSnapshot> {
        if !self.state.is_rocksdb() || !matches!(barrier.kind, SnapshotKind::Checkpoint) {
            return self.snapshot();
        }
        let native = self.state.native_snapshot(barrier.id)?;
        self.finish_snapshot(Blocks::new(), native)
    }

    fn finish_snapshot(&mut self, mut blocks: Blocks, native: Option<NativeSnapshot>) -> Result<OperatorSnapshot> {
        self.timers.snapshot_into(self.max_parallelism, &mut blocks)?;
        let keyed = blocks.into_iter().map(|(kg, block)| Ok((kg, encode(&block)?))).collect::<Result<_>>()?;
        // The current watermark too (Flink does not keep it): a restored operator then judges
        // lateness exactly as the failed one would have, so results do not depend on where
        // the job failed.
        Ok(OperatorSnapshot { keyed, union: vec![self.watermark.to_le_bytes().to_vec()], native, ..OperatorSnapshot::default() })
    }

    /// Restores keyed state and timers from canonical form, and native RocksDB state (read
    /// when the backend opens).
    pub(crate) fn restore(&mut self, state: OperatorRestore) -> Result<()> {
        self.state.restore_native(state.native);
        // Every old subtask's watermark; the smallest is safe for all key groups.
        if let Some(wm) = state.union.iter().filter_map(|b| b.as_slice().try_into().ok().map(i64::from_le_bytes)).min() {
            self.watermark = wm;
        }
        for (kg, bytes) in state.keyed {
            let block: KeyGroupBlock = decode(&bytes, &format!("key group {kg}"))?;
            self.state.restore(kg, block.states);
            self.timers.restore(block.timers)?;
        }
        Ok(())
    }

    /// Calls `on_timer` for every timer of `domain` due at `time`, in timestamp order,
    /// including timers that callbacks register for times already due.
    pub(crate) fn fire_timers(
        &mut self,
        domain: TimeDomain,
        time: Timestamp,
        now: Timestamp,
        mut on_timer: impl FnMut(Timestamp, &mut KeyedContext<'_, K>) -> FnResult,
    ) -> FnResult {
        loop {
            let queue = match domain {
                TimeDomain::EventTime => &mut self.timers.event,
                TimeDomain::ProcessingTime => &mut self.timers.processing,
            };
            let Some((key, _, ts)) = queue.pop_due(time) else { return Ok(()) };
            on_timer(ts, &mut self.context(&key, ts, now))?;
        }
    }

    /// The context for an element or timer of `key` at time `ts`.
    pub(crate) fn context<'a>(&'a mut self, key: &'a K, ts: Timestamp, now: Timestamp) -> KeyedContext<'a, K> {
        KeyedContext { key, state: &mut self.state, timers: &mut self.timers, ts, watermark: self.watermark, processing_time: now }
    }
}

/// What a keyed function gets with each element or timer: the current key, its state and
/// timers, the element's timestamp and the current watermark.
#[derive(Debug)]
pub struct KeyedContext<'a, K> {
    key: &'a K,
    state: &'a mut KeyedStateBackend<K>,
    timers: &'a mut TimerService<K>,
    ts: Timestamp,
    watermark: Timestamp,
    processing_time: Timestamp,
}

impl<K: Key> KeyedContext<'_, K> {
    /// The current key.
    pub fn key(&self) -> &K {
        self.key
    }

    /// The timestamp of the element, or of the timer that fired.
    pub fn timestamp(&self) -> Timestamp {
        self.ts
    }

    /// The current event-time watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.watermark
    }

    /// The processing time when the element or timer is handled.
    pub fn current_processing_time(&self) -> Timestamp {
        self.processing_time
    }

    /// Calls `on_timer` for the current key when the watermark reaches `ts`.
    pub fn register_event_time_timer(&mut self, ts: Timestamp) {
        self.timers.event.register(self.key, Namespace::VOID, ts);
    }

    /// Deletes an event-time timer of the current key.
    pub fn delete_event_time_timer(&mut self, ts: Timestamp) {
        self.timers.event.delete(self.key, Namespace::VOID, ts);
    }

    /// Calls `on_timer` for the current key when processing time reaches `ts`.
    pub fn register_processing_time_timer(&mut self, ts: Timestamp) {
        self.timers.processing.register(self.key, Namespace::VOID, ts);
    }

    /// Deletes a processing-time timer of the current key.
    pub fn delete_processing_time_timer(&mut self, ts: Timestamp) {
        self.timers.processing.delete(self.key, Namespace::VOID, ts);
    }
}

impl<K: Key> KeyedStateContext<K> for KeyedContext<'_, K> {
    fn state(&mut self) -> StateAccess<'_, K> {
        StateAccess::new(self.state, self.key, Namespace::VOID)
    }
}
