//! `DataGenSource`: records generated from an index sequence, optionally rate-limited.
//!
//! A subtask's position is the next index of its share, a `Lane`; checkpoints keep the
//! lanes as union state, so that a restore at any parallelism resumes exactly (see
//! `crate::lanes`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use strom_runtime::checkpoint::{CheckpointId, OperatorRestore, OperatorSnapshot};
use strom_runtime::operators::{Collector, OperatorContext, Source, SourceStatus};
use strom_runtime::{Data, Error, Result, Timestamp};

use crate::lanes::{self, Lane};

/// Records emitted per poll at most (about one network buffer).
const BATCH_RECORDS: u64 = 1024;
/// What the source's state is called in errors.
const STATE_NAME: &str = "data generator's positions";

/// Generates records by calling a function on the indices `0, 1, 2, ...` (Flink's
/// `DataGeneratorSource` with a `GeneratorFunction`).
///
/// Subtask `i` of `n` generates the indices `i, i + n, i + 2n, ...` below `count`, so the
/// subtasks together generate every index once; with `count` `None` the source is
/// unbounded. [`with_rate`](Self::with_rate) limits the rate across all subtasks, each
/// taking an equal share of it, as Flink's `RateLimiterStrategy.perSecond`.
///
/// With checkpoints, each subtask keeps the next index of its share in (union) state; a
/// restored job generates exactly the indices not generated before the checkpoint's barrier,
/// at any parallelism. After a restore at another parallelism a subtask may generate the
/// remaining indices of several former subtasks (merged in index order), or a share of one.
///
/// ```
/// use strom_connectors::DataGenSource;
/// use strom_runtime::prelude::*;
///
/// let env = StreamEnv::new();
/// let out = CollectSink::new();
/// env.add_source("Squares", DataGenSource::new(Some(4), |i| i * i)).parallelism(2).sink(out.clone());
/// env.execute("squares")?;
/// assert_eq!(out.sorted(), vec![0, 1, 4, 9]);
/// # Ok::<(), strom_runtime::Error>(())
/// ```
pub struct DataGenSource<T> {
    count: Option<u64>,
    generate: Arc<dyn Fn(u64) -> T + Send + Sync>,
    /// Records per second across all subtasks.
    rate: Option<f64>,
    /// This subtask's unfinished index sequences (set in `open`): one unless restored at
    /// another parallelism.
    lanes: Vec<Lane>,
    /// Every subtask's lanes from a restored checkpoint; `open` takes this subtask's share.
    restored: Option<Vec<Lane>>,
    limiter: Option<RateLimiter>,
}

impl<T: Data> DataGenSource<T> {
    /// A source of `generate(i)` for every index `i` below `count`, or for every index when
    /// `count` is `None`.
    pub fn new(count: Option<u64>, generate: impl Fn(u64) -> T + Send + Sync + 'static) -> Self {
        Self { count, generate: Arc::new(generate), rate: None, lanes: Vec::new(), restored: None, limiter: None }
    }

    /// Generates at most `records_per_second` records per second across all subtasks. The
    /// rate must be positive (checked when the job starts).
    ///
    /// ```
    /// use strom_connectors::DataGenSource;
    /// let events = DataGenSource::new(None, |i| format!("event-{i}")).with_rate(1000.0);
    /// assert!(!events.is_bounded());
    /// ```
    pub fn with_rate(mut self, records_per_second: f64) -> Self {
        self.rate = Some(records_per_second);
        self
    }

    /// Whether the source ends (it has a count).
    pub fn is_bounded(&self) -> bool {
        self.count.is_some()
    }

    /// Whether `index` is one the source generates (below the count).
    fn in_range(&self, index: u64) -> bool {
        self.count.is_none_or(|c| index < c)
    }

    /// Emits up to `budget` records, the lowest index of any lane first; returns how many it
    /// emitted.
    fn emit(&mut self, budget: u64, out: &mut Collector<T>) -> u64 {
        let mut emitted = 0;
        while emitted < budget {
            let Some(i) = (0..self.lanes.len()).min_by_key(|&i| self.lanes[i].next) else { break };
            let Lane { next: index, stride } = self.lanes[i];
            out.collect((self.generate)(index));
            emitted += 1;
            match index.checked_add(stride).filter(|next| self.in_range(*next)) {
                Some(next) => self.lanes[i].next = next,
                // Past the count, or at the end of the index range.
                None => {
                    self.lanes.swap_remove(i);
                }
            }
        }
        emitted
    }
}

impl<T: Data> Source for DataGenSource<T> {
    type Out = T;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        let (subtask, parallelism) = (ctx.info().subtask, ctx.info().parallelism.max(1));
        let mut lanes = match self.restored.take() {
            Some(restored) => lanes::assign(restored, subtask, parallelism)?,
            None => vec![Lane::fresh(subtask, parallelism)],
        };
        lanes.retain(|lane| self.in_range(lane.next));
        self.lanes = lanes;
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(Error::Usage(format!(
                    "the rate of a DataGenSource must be a positive number of records per second, got {rate}"
                )));
            }
            self.limiter = Some(RateLimiter::new(rate / f64::from(parallelism)));
        }
        Ok(())
    }

    fn poll_next(&mut self, out: &mut Collector<T>, ctx: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        let mut budget = BATCH_RECORDS;
        if let Some(limiter) = &mut self.limiter {
            let now = ctx.processing_time();
            match limiter.permits(now) {
                0 => return Ok(SourceStatus::Wait(limiter.until_next_permit(now))),
                permits => budget = budget.min(permits),
            }
        }
        let emitted = self.emit(budget, out);
        if let Some(limiter) = &mut self.limiter {
            limiter.take(emitted);
        }
        Ok(if self.lanes.is_empty() { SourceStatus::Finished } else { SourceStatus::MoreAvailable })
    }

    /// This subtask's unfinished lanes, as one union entry.
    fn snapshot_state(&mut self, _: CheckpointId) -> Result<OperatorSnapshot> {
        lanes::snapshot(self.lanes.iter().copied(), STATE_NAME)
    }

    /// Keeps every subtask's lanes; `open` takes this subtask's share.
    fn restore_state(&mut self, state: OperatorRestore) -> Result<()> {
        self.restored = lanes::restore(&state, STATE_NAME)?;
        Ok(())
    }
}

impl<T> Clone for DataGenSource<T> {
    fn clone(&self) -> Self {
        Self {
            count: self.count,
            generate: self.generate.clone(),
            rate: self.rate,
            lanes: self.lanes.clone(),
            restored: self.restored.clone(),
            limiter: self.limiter.clone(),
        }
    }
}

impl<T> fmt::Debug for DataGenSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataGenSource")
            .field("count", &self.count)
            .field("rate", &self.rate)
            .field("lanes", &self.lanes)
            .finish_non_exhaustive()
    }
}

/// Paces one subtask at a number of records per millisecond, on the task's clock. A subtask
/// that falls behind (back pressure) catches up by at most one second's worth of records.
#[derive(Debug, Clone)]
struct RateLimiter {
    per_ms: f64,
    /// When the first permit was granted.
    started: Option<Timestamp>,
    /// Permits used or forfeited since then.
    granted: u64,
}

impl RateLimiter {
    fn new(per_second: f64) -> Self {
        Self { per_ms: per_second / 1000.0, started: None, granted: 0 }
    }

    /// How many records may be emitted at `now`.
    fn permits(&mut self, now: Timestamp) -> u64 {
        let started = *self.started.get_or_insert(now);
        let elapsed = now.saturating_sub(started).max(0) as f64;
        let allowed = (elapsed * self.per_ms).floor() as u64 + 1;
        let burst = (self.per_ms * 1000.0).ceil().max(1.0) as u64;
        self.granted = self.granted.max(allowed.saturating_sub(burst));
        allowed.saturating_sub(self.granted)
    }

    /// Uses `n` permits.
    fn take(&mut self, n: u64) {
        self.granted += n;
    }

    /// How long until the next permit, at least 1 ms.
    fn until_next_permit(&self, now: Timestamp) -> Duration {
        let started = self.started.unwrap_or(now);
        let due = started as f64 + self.granted as f64 / self.per_ms;
        Duration::from_millis((due - now as f64).ceil().max(1.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_grants_the_rate_over_time() {
        let mut limiter = RateLimiter::new(100.0);
        assert_eq!(limiter.permits(1_000), 1);
        limiter.take(1);
        assert_eq!(limiter.permits(1_000), 0);
        assert_eq!(limiter.until_next_permit(1_000), Duration::from_millis(10));
        assert_eq!(limiter.permits(1_005), 0);
        assert_eq!(limiter.until_next_permit(1_005), Duration::from_millis(5));
        assert_eq!(limiter.permits(1_010), 1);
        assert_eq!(limiter.permits(1_500), 50);
        limiter.take(50);
        assert_eq!(limiter.permits(1_500), 0);
    }

    #[test]
    fn a_subtask_behind_catches_up_at_most_one_second() {
        let mut limiter = RateLimiter::new(100.0);
        assert_eq!(limiter.permits(0), 1);
        limiter.take(1);
        assert_eq!(limiter.permits(60_000), 100);
    }
}
