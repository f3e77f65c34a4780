//! Helpers shared by the connector tests.

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strom_runtime::operators::{OperatorContext, Sink};
use strom_runtime::{Data, Error, Record, Result};

/// The parallelisms every dataflow test runs at.
pub(crate) const PARALLELISMS: [u32; 2] = [1, 3];

/// Collects each record with the index of the sink subtask that received it.
#[derive(Debug, Clone)]
pub(crate) struct SubtaskSink<T> {
    records: Arc<Mutex<Vec<(u32, T)>>>,
    subtask: u32,
}

impl<T: Data> SubtaskSink<T> {
    pub(crate) fn new() -> Self {
        Self { records: Arc::new(Mutex::new(Vec::new())), subtask: 0 }
    }

    /// The records, sorted.
    pub(crate) fn sorted(&self) -> Vec<(u32, T)>
    where
        T: Ord,
    {
        let mut records = self.records.lock().expect("test sink lock").clone();
        records.sort();
        records
    }

    /// The values without subtasks, sorted.
    pub(crate) fn sorted_values(&self) -> Vec<T>
    where
        T: Ord,
    {
        sorted(self.sorted().into_iter().map(|(_, v)| v).collect())
    }

    pub(crate) fn len(&self) -> usize {
        self.records.lock().expect("test sink lock").len()
    }
}

impl<T: Data> Sink for SubtaskSink<T> {
    type In = T;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.subtask = ctx.info().subtask;
        Ok(())
    }

    fn write(&mut self, batch: &mut Vec<Record<T>>, _: &mut OperatorContext<'_>) -> Result<()> {
        let mut records = self.records.lock().expect("test sink lock");
        records.extend(batch.drain(..).map(|r| (self.subtask, r.value)));
        Ok(())
    }
}

/// Ends an unbounded job (the runtime has no cancel yet): fails the job with
/// [`StopSink::STOP`] once `expected` records arrived, keeping them.
#[derive(Debug, Clone)]
pub(crate) struct StopSink<T> {
    pub(crate) inner: SubtaskSink<T>,
    expected: usize,
}

impl<T: Data> StopSink<T> {
    pub(crate) const STOP: &'static str = "test complete: stopping the job";

    pub(crate) fn new(expected: usize) -> Self {
        Self { inner: SubtaskSink::new(), expected }
    }
}

impl<T: Data> Sink for StopSink<T> {
    type In = T;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.inner.open(ctx)
    }

    fn write(&mut self, batch: &mut Vec<Record<T>>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.inner.write(batch, ctx)?;
        if self.inner.len() >= self.expected {
            return Err(Error::Internal(Self::STOP.to_string()));
        }
        Ok(())
    }
}

/// Sorts a vector (for comparing multisets).
pub(crate) fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// The names in `dir`, sorted.
pub(crate) fn file_names(dir: &Path) -> Vec<String> {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
    sorted(entries.map(|e| e.expect("directory entry").file_name().to_string_lossy().into_owned()).collect())
}

/// Waits until `condition` holds, failing the test after `timeout`.
pub(crate) fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
