//! Helpers shared by the connector tests.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strom_runtime::checkpoint::{OperatorRestore, OperatorSnapshot};
use strom_runtime::operators::{Collector, OperatorContext, Sink, Source, SourceStatus};
use strom_runtime::prelude::{CollectSink, StreamEnv};
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

/// Runs `script` once in every subtask of a job at parallelism `parallelism`, with the
/// subtask's own [`OperatorContext`] (which only the runtime can make), and returns the
/// results by subtask. The script runs while the subtask opens, so it may drive a connector
/// through its whole life: restore, open, polls or writes, snapshots, notifications. The
/// subtasks run concurrently, as in a job. A panic in the script fails the test.
pub(crate) fn in_subtasks<R: Send + 'static>(
    parallelism: u32,
    script: impl Fn(&mut OperatorContext<'_>) -> R + Send + Sync + 'static,
) -> Vec<R> {
    let probe = ContextProbe { script: Arc::new(script), results: Arc::new(Mutex::new(BTreeMap::new())) };
    let env = StreamEnv::new();
    env.set_parallelism(parallelism);
    env.add_source("Probe", probe.clone()).sink(CollectSink::new());
    if let Err(e) = env.execute("run in subtasks") {
        panic!("the script failed: {}", e.report());
    }
    let results = std::mem::take(&mut *probe.results.lock().expect("probe lock"));
    assert_eq!(results.len(), parallelism as usize, "every subtask ran the script");
    results.into_values().collect()
}

/// A source that runs a script in `open` and emits nothing.
struct ContextProbe<R> {
    script: Arc<dyn Fn(&mut OperatorContext<'_>) -> R + Send + Sync>,
    results: Arc<Mutex<BTreeMap<u32, R>>>,
}

impl<R> Clone for ContextProbe<R> {
    fn clone(&self) -> Self {
        Self { script: self.script.clone(), results: self.results.clone() }
    }
}

impl<R: Send + 'static> Source for ContextProbe<R> {
    type Out = u8;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        let result = (self.script)(ctx);
        self.results.lock().expect("probe lock").insert(ctx.info().subtask, result);
        Ok(())
    }

    fn poll_next(&mut self, _: &mut Collector<u8>, _: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        Ok(SourceStatus::Finished)
    }
}

/// What a subtask restores from `snapshots` (one per subtask of the previous run): every
/// union entry, as the runtime hands union state to every subtask.
pub(crate) fn union_of(snapshots: &[OperatorSnapshot]) -> OperatorRestore {
    OperatorRestore { union: snapshots.iter().flat_map(|s| s.union.iter().cloned()).collect(), ..OperatorRestore::default() }
}

/// Polls `source` `polls` times, or until it reports anything but `MoreAvailable` when
/// `polls` is `None`; returns what it emitted.
pub(crate) fn poll<S: Source>(source: &mut S, ctx: &mut OperatorContext<'_>, polls: Option<usize>) -> Vec<S::Out> {
    let mut out = Collector::new();
    let mut done = 0;
    while polls.is_none_or(|n| done < n) {
        let status = source.poll_next(&mut out, ctx).unwrap_or_else(|e| panic!("polling: {}", e.report()));
        done += 1;
        if polls.is_none() && status != SourceStatus::MoreAvailable {
            break;
        }
    }
    out.drain_values()
}

/// Panics with the error's report: for scripts, where `?` is not available.
pub(crate) fn ok<T>(result: Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{}", e.report()))
}
