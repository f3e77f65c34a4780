//! A bounded source of given elements and a sink that collects into memory: for tests and
//! small examples.

use std::sync::{Arc, Mutex};

use crate::data::{Data, Record};
use crate::error::Result;
use crate::operators::{Collector, OperatorContext, Sink, Source, SourceStatus};

/// Emits the given elements (subtask `i` of `n` emits elements `i, i+n, ...`), then ends.
#[derive(Debug, Clone)]
pub struct CollectionSource<T> {
    elements: Arc<Vec<T>>,
    next: usize,
    stride: usize,
}

impl<T: Data + Sync> CollectionSource<T> {
    /// A source of `elements`.
    pub fn new(elements: Vec<T>) -> Self {
        Self { elements: Arc::new(elements), next: 0, stride: 1 }
    }
}

impl<T: Data + Sync> Source for CollectionSource<T> {
    type Out = T;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.next = ctx.info().subtask as usize;
        self.stride = ctx.info().parallelism as usize;
        Ok(())
    }

    fn poll_next(&mut self, out: &mut Collector<T>, _: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        for _ in 0..1024 {
            let Some(e) = self.elements.get(self.next) else { return Ok(SourceStatus::Finished) };
            out.collect(e.clone());
            self.next += self.stride;
        }
        Ok(SourceStatus::MoreAvailable)
    }
}

/// Collects every record of every subtask into shared memory.
///
/// ```
/// use strom_runtime::prelude::*;
/// let env = StreamEnv::new();
/// let sink = CollectSink::new();
/// env.from_collection(vec!['b', 'a']).sink(sink.clone());
/// env.execute("collect").unwrap();
/// assert_eq!(sink.sorted(), vec!['a', 'b']);
/// ```
#[derive(Debug, Clone)]
pub struct CollectSink<T> {
    records: Arc<Mutex<Vec<Record<T>>>>,
}

impl<T: Data> Default for CollectSink<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Data> CollectSink<T> {
    /// An empty sink.
    pub fn new() -> Self {
        Self { records: Arc::new(Mutex::new(Vec::new())) }
    }

    /// The values collected so far, in arrival order.
    pub fn values(&self) -> Vec<T> {
        self.records.lock().expect("collect sink lock").iter().map(|r| r.value.clone()).collect()
    }

    /// The records collected so far, with timestamps.
    pub fn records(&self) -> Vec<Record<T>> {
        self.records.lock().expect("collect sink lock").clone()
    }

    /// The values, sorted.
    pub fn sorted(&self) -> Vec<T>
    where
        T: Ord,
    {
        let mut v = self.values();
        v.sort();
        v
    }
}

impl<T: Data> Sink for CollectSink<T> {
    type In = T;

    fn write(&mut self, batch: &mut Vec<Record<T>>, _: &mut OperatorContext<'_>) -> Result<()> {
        self.records.lock().expect("collect sink lock").append(batch);
        Ok(())
    }
}
