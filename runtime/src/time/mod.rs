//! Time: clocks, watermarks, timers and windows, with Flink's semantics.

mod timers;
mod watermark;
pub mod windows;

pub use timers::TimerService;
pub(crate) use watermark::WatermarkAssigner;
pub use watermark::{WatermarkEmission, WatermarkStrategy};

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::data::Timestamp;

/// The source of processing time; injected so that tests can control it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the epoch.
    fn now_ms(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Timestamp {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as Timestamp)
    }
}

/// A clock that moves only when told to (for tests).
///
/// ```
/// use strom_runtime::time::{Clock, ManualClock};
/// let clock = ManualClock::new(5);
/// clock.advance(10);
/// assert_eq!(clock.now_ms(), 15);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(now)))
    }
    /// Sets the time.
    pub fn set(&self, now: Timestamp) {
        self.0.store(now, Ordering::SeqCst);
    }
    /// Moves the time forward.
    pub fn advance(&self, by: Timestamp) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Timestamp {
        self.0.load(Ordering::SeqCst)
    }
}
