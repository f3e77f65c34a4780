//! Watermark strategies and the chain link that assigns timestamps and emits watermarks.

use std::sync::Arc;
use std::time::Duration;

use crate::checkpoint::{Barrier, CheckpointId, OperatorSnapshot};
use crate::data::{Data, Record, Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP};
use crate::error::Result;
use crate::task::{BoxLink, Link, TaskCx, TaskSnapshot};

/// When watermarks are emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatermarkEmission {
    /// Every `pipeline.auto-watermark-interval` (200 ms by default), as Flink does.
    Periodic,
    /// After every record that advances the watermark. Results then do not depend on timing:
    /// they equal Flink's with a generator that emits on every event.
    PerEvent,
}

/// Extracts an event timestamp from a record and its previous timestamp.
type TimestampAssigner<T> = Arc<dyn Fn(&T, Timestamp) -> Timestamp + Send + Sync>;

/// How event timestamps are extracted and watermarks generated (Flink's `WatermarkStrategy`).
///
/// ```
/// use std::time::Duration;
/// use strom_runtime::time::WatermarkStrategy;
/// let strategy = WatermarkStrategy::<(i64, String)>::for_bounded_out_of_orderness(Duration::from_millis(500))
///     .with_timestamp_assigner(|event, _| event.0)
///     .with_idleness(Duration::from_secs(10));
/// # let _ = strategy;
/// ```
pub struct WatermarkStrategy<T> {
    pub(crate) timestamp: Option<TimestampAssigner<T>>,
    /// `None`: no watermarks (but the final one at the end of input).
    pub(crate) out_of_orderness: Option<i64>,
    pub(crate) emission: WatermarkEmission,
    pub(crate) idleness: Option<Duration>,
}

impl<T> Clone for WatermarkStrategy<T> {
    fn clone(&self) -> Self {
        Self {
            timestamp: self.timestamp.clone(),
            out_of_orderness: self.out_of_orderness,
            emission: self.emission,
            idleness: self.idleness,
        }
    }
}

impl<T> std::fmt::Debug for WatermarkStrategy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatermarkStrategy")
            .field("out_of_orderness", &self.out_of_orderness)
            .field("emission", &self.emission)
            .field("idleness", &self.idleness)
            .finish()
    }
}

impl<T: Data> WatermarkStrategy<T> {
    /// Watermarks `max_timestamp - bound - 1`.
    pub fn for_bounded_out_of_orderness(bound: Duration) -> Self {
        Self { timestamp: None, out_of_orderness: Some(bound.as_millis() as i64), emission: WatermarkEmission::Periodic, idleness: None }
    }

    /// Watermarks for timestamps that never decrease: `max_timestamp - 1`.
    pub fn for_monotonous_timestamps() -> Self {
        Self::for_bounded_out_of_orderness(Duration::ZERO)
    }

    /// No watermarks.
    pub fn no_watermarks() -> Self {
        Self { timestamp: None, out_of_orderness: None, emission: WatermarkEmission::Periodic, idleness: None }
    }

    /// Extracts the event timestamp from a record (given its previous timestamp).
    pub fn with_timestamp_assigner(mut self, f: impl Fn(&T, Timestamp) -> Timestamp + Send + Sync + 'static) -> Self {
        self.timestamp = Some(Arc::new(f));
        self
    }

    /// Marks the stream idle after `timeout` without records, so it does not hold back the
    /// watermark of downstream operators.
    pub fn with_idleness(mut self, timeout: Duration) -> Self {
        self.idleness = Some(timeout);
        self
    }

    /// Chooses when watermarks are emitted.
    pub fn with_emission(mut self, emission: WatermarkEmission) -> Self {
        self.emission = emission;
        self
    }
}

/// Reads `[max_ts, emitted]` written by `snapshot`.
fn decode_pair(entry: &[u8]) -> [i64; 2] {
    let word = |i: usize| entry.get(i * 8..i * 8 + 8).and_then(|b| b.try_into().ok()).map_or(MIN_TIMESTAMP, i64::from_le_bytes);
    [word(0), word(1)]
}

/// Assigns timestamps and emits watermarks inside a chain (Flink's
/// `TimestampsAndWatermarksOperator`). Upstream watermarks are dropped except the final one.
pub(crate) struct WatermarkAssigner<T> {
    uid: std::sync::Arc<str>,
    strategy: WatermarkStrategy<T>,
    max_ts: Timestamp,
    emitted: Timestamp,
    next_periodic: Option<Timestamp>,
    last_activity: Timestamp,
    idle: bool,
    pending: Vec<Record<T>>,
    next: BoxLink<T>,
}

impl<T: Data> WatermarkAssigner<T> {
    pub(crate) fn new(uid: std::sync::Arc<str>, strategy: WatermarkStrategy<T>, next: BoxLink<T>) -> Self {
        Self {
            uid,
            strategy,
            max_ts: MIN_TIMESTAMP,
            emitted: MIN_TIMESTAMP,
            next_periodic: None,
            last_activity: MIN_TIMESTAMP,
            idle: false,
            pending: Vec::new(),
            next,
        }
    }

    fn current_watermark(&self) -> Option<Timestamp> {
        let bound = self.strategy.out_of_orderness?;
        (self.max_ts != MIN_TIMESTAMP).then(|| self.max_ts.saturating_sub(bound).saturating_sub(1))
    }

    fn emit(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()> {
        if wm <= self.emitted {
            return Ok(());
        }
        if !self.pending.is_empty() {
            self.next.push(&mut self.pending, cx)?;
        }
        self.emitted = wm;
        self.next.watermark(wm, cx)
    }
}

impl<T: Data> Link<T> for WatermarkAssigner<T> {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()> {
        if let Some(state) = cx.restore.remove(&*self.uid) {
            // Resume from the largest timestamp seen and the watermark already emitted, so that
            // lateness downstream does not depend on where the job was restored.
            for entry in &state.union {
                let [max_ts, emitted] = decode_pair(entry);
                self.max_ts = self.max_ts.max(max_ts);
                self.emitted = self.emitted.max(emitted);
            }
        }
        let now = cx.clock.now_ms();
        self.last_activity = now;
        if self.strategy.emission == WatermarkEmission::Periodic {
            self.next_periodic = Some(now + cx.watermark_interval.as_millis() as i64);
        }
        self.next.open(cx)
    }

    fn push(&mut self, batch: &mut Vec<Record<T>>, cx: &mut TaskCx) -> Result<()> {
        if self.idle {
            self.idle = false;
            self.next.idle(false, cx)?;
        }
        if self.strategy.idleness.is_some() {
            self.last_activity = cx.clock.now_ms();
        }
        if self.strategy.emission == WatermarkEmission::Periodic {
            for r in batch.iter_mut() {
                if let Some(f) = &self.strategy.timestamp {
                    r.ts = f(&r.value, r.ts);
                }
                self.max_ts = self.max_ts.max(r.ts);
            }
            return self.next.push(batch, cx);
        }
        // Per event: records before each advancing watermark go out before it.
        for mut r in batch.drain(..) {
            if let Some(f) = &self.strategy.timestamp {
                r.ts = f(&r.value, r.ts);
            }
            self.max_ts = self.max_ts.max(r.ts);
            self.pending.push(r);
            if let Some(wm) = self.current_watermark() {
                self.emit(wm, cx)?;
            }
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        self.next.push(&mut self.pending, cx)
    }

    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()> {
        if wm == MAX_TIMESTAMP {
            self.emit(MAX_TIMESTAMP, cx)?;
        }
        Ok(())
    }

    fn idle(&mut self, _: bool, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }

    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()> {
        if self.next_periodic.is_some_and(|t| t <= now) {
            self.next_periodic = Some(now + cx.watermark_interval.as_millis() as i64);
            if let Some(wm) = self.current_watermark() {
                self.emit(wm, cx)?;
            }
        }
        if let Some(timeout) = self.strategy.idleness {
            if !self.idle && now - self.last_activity >= timeout.as_millis() as i64 {
                self.idle = true;
                self.next.idle(true, cx)?;
            }
        }
        self.next.processing_time(now, cx)
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        let idle_at = self.strategy.idleness.filter(|_| !self.idle).map(|t| self.last_activity + t.as_millis() as i64);
        [self.next_periodic, idle_at, self.next.next_processing_time()].into_iter().flatten().min()
    }

    fn finish(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.next.finish(cx)
    }

    fn flush(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.next.flush(cx)
    }

    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()> {
        let entry = [self.max_ts.to_le_bytes(), self.emitted.to_le_bytes()].concat();
        out.push((self.uid.clone(), OperatorSnapshot { union: vec![entry], ..OperatorSnapshot::default() }));
        self.next.snapshot(barrier, out, cx)
    }

    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        self.next.notify_complete(id, cx)
    }
}
