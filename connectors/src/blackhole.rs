//! `BlackholeSink`: discards records and counts them.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use strom_runtime::operators::{OperatorContext, Sink};
use strom_runtime::{Data, Record, Result};

/// Discards every record (Flink's `DiscardingSink`), counting them in a counter that all
/// clones share, so the count can be read after the job.
///
/// ```
/// use strom_connectors::BlackholeSink;
/// use strom_runtime::prelude::*;
///
/// let env = StreamEnv::new();
/// let sink = BlackholeSink::new();
/// env.from_collection((0..100).collect::<Vec<u32>>()).sink(sink.clone()).parallelism(2);
/// env.execute("discard")?;
/// assert_eq!(sink.count(), 100);
/// # Ok::<(), strom_runtime::Error>(())
/// ```
pub struct BlackholeSink<T> {
    count: Arc<AtomicU64>,
    _t: PhantomData<fn(T)>,
}

impl<T: Data> BlackholeSink<T> {
    /// A sink with a count of 0.
    pub fn new() -> Self {
        Self { count: Arc::new(AtomicU64::new(0)), _t: PhantomData }
    }

    /// The number of records discarded so far by this sink and its clones.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl<T: Data> Default for BlackholeSink<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Data> Sink for BlackholeSink<T> {
    type In = T;

    fn write(&mut self, batch: &mut Vec<Record<T>>, _: &mut OperatorContext<'_>) -> Result<()> {
        self.count.fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
        Ok(())
    }
}

impl<T> Clone for BlackholeSink<T> {
    fn clone(&self) -> Self {
        Self { count: self.count.clone(), _t: PhantomData }
    }
}

impl<T> fmt::Debug for BlackholeSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlackholeSink").field("count", &self.count.load(Ordering::Relaxed)).finish()
    }
}
