//! Windows with Flink's semantics: assigners, triggers, evictors and window functions.
//!
//! A window `[start, end)` has `max_timestamp() = end - 1`; an event-time window fires when
//! the watermark reaches its max timestamp and is cleaned up when the watermark passes
//! `max_timestamp + allowed_lateness`. Session windows that touch or overlap merge
//! (Flink's `TimeWindow.intersects` is inclusive). The global window spans all time.

mod assigners;
mod evictors;
mod functions;
mod operator;
mod triggers;

pub use assigners::WindowAssigner;
pub use evictors::{CountEvictor, Evictor, NoEvictor, TimeEvictor};
pub(crate) use functions::{AggregateContents, EvictingContents, ListContents, ReduceContents, WindowContents};
pub use functions::{AggregateFunction, CountAggregate, PassThrough, ProcessWindowFunction};
pub(crate) use operator::{WindowOperator, WindowSpec};
pub use triggers::{
    CountTrigger, DefaultTrigger, DeltaTrigger, EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, Trigger, TriggerContext,
    TriggerResult,
};

use crate::data::{Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP};
use crate::state::Namespace;

/// A time window `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct TimeWindow {
    /// First timestamp in the window.
    pub start: Timestamp,
    /// First timestamp after the window.
    pub end: Timestamp,
}

impl TimeWindow {
    /// The window spanning all time (Flink's `GlobalWindow`).
    pub const GLOBAL: TimeWindow = TimeWindow { start: MIN_TIMESTAMP, end: MAX_TIMESTAMP };

    /// A window `[start, end)`.
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        Self { start, end }
    }

    /// The largest timestamp in the window (`Long.MAX_VALUE` for the global window).
    ///
    /// ```
    /// use strom_runtime::time::windows::TimeWindow;
    /// assert_eq!(TimeWindow::new(0, 10).max_timestamp(), 9);
    /// assert_eq!(TimeWindow::GLOBAL.max_timestamp(), i64::MAX);
    /// ```
    pub fn max_timestamp(&self) -> Timestamp {
        if *self == Self::GLOBAL {
            MAX_TIMESTAMP
        } else {
            self.end - 1
        }
    }

    /// Whether the windows overlap or touch (inclusive, as Flink's `TimeWindow.intersects`).
    pub fn intersects(&self, other: &TimeWindow) -> bool {
        self.start <= other.end && self.end >= other.start
    }

    /// The smallest window covering both.
    pub fn cover(&self, other: &TimeWindow) -> TimeWindow {
        TimeWindow::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub(crate) fn namespace(self) -> Namespace {
        Namespace { start: self.start, end: self.end }
    }

    pub(crate) fn from_namespace(ns: Namespace) -> Self {
        TimeWindow::new(ns.start, ns.end)
    }
}

/// Flink's `TimeWindow.getWindowStartWithOffset`.
pub fn window_start(ts: Timestamp, offset: i64, size: i64) -> Timestamp {
    let remainder = (ts - offset) % size;
    if remainder < 0 {
        ts - (remainder + size)
    } else {
        ts - remainder
    }
}
