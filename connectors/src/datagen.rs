//! `DataGenSource`: records generated from an index sequence, optionally rate-limited.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use strom_runtime::operators::{Collector, OperatorContext, Source, SourceStatus};
use strom_runtime::{Data, Error, Result, Timestamp};

/// Records emitted per poll at most (about one network buffer).
const BATCH_RECORDS: u64 = 1024;

/// Generates records by calling a function on the indices `0, 1, 2, ...` (Flink's
/// `DataGeneratorSource` with a `GeneratorFunction`).
///
/// Subtask `i` of `n` generates the indices `i, i + n, i + 2n, ...` below `count`, so the
/// subtasks together generate every index once; with `count` `None` the source is
/// unbounded. [`with_rate`](Self::with_rate) limits the rate across all subtasks, each
/// taking an equal share of it, as Flink's `RateLimiterStrategy.perSecond`.
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
    /// The next index of this subtask; `None` when its indices are exhausted.
    next: Option<u64>,
    /// The distance between this subtask's indices: the parallelism.
    stride: u64,
    limiter: Option<RateLimiter>,
}

impl<T: Data> DataGenSource<T> {
    /// A source of `generate(i)` for every index `i` below `count`, or for every index when
    /// `count` is `None`.
    pub fn new(count: Option<u64>, generate: impl Fn(u64) -> T + Send + Sync + 'static) -> Self {
        Self { count, generate: Arc::new(generate), rate: None, next: Some(0), stride: 1, limiter: None }
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

    /// Emits up to `budget` records; returns how many it emitted.
    fn emit(&mut self, budget: u64, out: &mut Collector<T>) -> u64 {
        let mut emitted = 0;
        while emitted < budget {
            let Some(index) = self.next.filter(|i| self.count.is_none_or(|c| *i < c)) else {
                self.next = None;
                break;
            };
            out.collect((self.generate)(index));
            self.next = index.checked_add(self.stride);
            emitted += 1;
        }
        emitted
    }
}

impl<T: Data> Source for DataGenSource<T> {
    type Out = T;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        let parallelism = ctx.info().parallelism.max(1);
        self.next = Some(u64::from(ctx.info().subtask));
        self.stride = u64::from(parallelism);
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
        Ok(if self.next.is_none() { SourceStatus::Finished } else { SourceStatus::MoreAvailable })
    }
}

impl<T> Clone for DataGenSource<T> {
    fn clone(&self) -> Self {
        Self {
            count: self.count,
            generate: self.generate.clone(),
            rate: self.rate,
            next: self.next,
            stride: self.stride,
            limiter: self.limiter.clone(),
        }
    }
}

impl<T> fmt::Debug for DataGenSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataGenSource")
            .field("count", &self.count)
            .field("rate", &self.rate)
            .field("next", &self.next)
            .field("stride", &self.stride)
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
