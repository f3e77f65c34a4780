//! `WindowedStream`: a keyed stream grouped into windows.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{DataStream, KeyedStream};
use crate::data::{Data, Key};
use crate::operators::OutputTag;
use crate::time::windows::{
    AggregateContents, AggregateFunction, EvictingContents, Evictor, ListContents, PassThrough, ProcessWindowFunction, ReduceContents,
    Trigger, WindowAssigner, WindowContents, WindowOperator, WindowSpec,
};

/// A keyed stream grouped into windows (Flink's `WindowedStream`).
///
/// ```
/// use std::time::Duration;
/// use strom_runtime::prelude::*;
/// let env = StreamEnv::new();
/// let out = CollectSink::new();
/// env.from_collection(vec![(1_i64, 'a'), (2, 'a'), (12, 'a'), (3, 'b')])
///     .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|e: &(i64, char), _| e.0))
///     .key_by(|e| e.1)
///     .window(WindowAssigner::tumbling_event_time(Duration::from_millis(10)))
///     .aggregate_with(Count, |key: &char, w: TimeWindow, n: u64, out: &mut Collector<String>| out.collect(format!("{key}@{}:{n}", w.start)))
///     .sink(out.clone());
/// env.execute("windows").unwrap();
/// assert_eq!(out.sorted(), vec!["a@0:2", "a@10:1", "b@0:1"]);
/// # #[derive(Clone)] struct Count;
/// # impl AggregateFunction<(i64, char)> for Count {
/// #     type Acc = u64; type Out = u64;
/// #     fn create_accumulator(&self) -> u64 { 0 }
/// #     fn add(&self, _: (i64, char), acc: &mut u64) { *acc += 1 }
/// #     fn get_result(&self, acc: &u64) -> u64 { *acc }
/// #     fn merge(&self, acc: &mut u64, other: u64) { *acc += other }
/// # }
/// ```
pub struct WindowedStream<T, K, Tr> {
    keyed: KeyedStream<T, K>,
    assigner: WindowAssigner,
    trigger: Tr,
    evictor: Option<Arc<dyn Evictor<T>>>,
    allowed_lateness: i64,
    late_tag: Option<OutputTag<T>>,
}

impl<T, K, Tr: std::fmt::Debug> std::fmt::Debug for WindowedStream<T, K, Tr> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowedStream").field("assigner", &self.assigner).field("trigger", &self.trigger).finish()
    }
}

impl<T: Data, K: Key, Tr: Trigger<T>> WindowedStream<T, K, Tr> {
    pub(crate) fn new(keyed: KeyedStream<T, K>, assigner: WindowAssigner, trigger: Tr) -> Self {
        Self { keyed, assigner, trigger, evictor: None, allowed_lateness: 0, late_tag: None }
    }

    /// Replaces the assigner's default trigger.
    pub fn trigger<Tr2: Trigger<T>>(self, trigger: Tr2) -> WindowedStream<T, K, Tr2> {
        WindowedStream {
            keyed: self.keyed,
            assigner: self.assigner,
            trigger,
            evictor: self.evictor,
            allowed_lateness: self.allowed_lateness,
            late_tag: self.late_tag,
        }
    }

    /// Removes elements before or after the window function runs.
    pub fn evictor(mut self, evictor: impl Evictor<T>) -> Self {
        self.evictor = Some(Arc::new(evictor));
        self
    }

    /// Keeps windows for `lateness` after the watermark passed them; late elements within it
    /// fire the window again.
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.allowed_lateness = lateness.as_millis() as i64;
        self
    }

    /// Sends elements too late for any window to the side output `tag` instead of dropping them.
    pub fn side_output_late_data(mut self, tag: &OutputTag<T>) -> Self {
        self.late_tag = Some(tag.clone());
        self
    }

    /// Reduces each window's elements; emits the result.
    pub fn reduce<F: FnMut(T, T) -> T + Clone + Send + 'static>(self, f: F) -> DataStream<T> {
        self.reduce_with(f, PassThrough)
    }

    /// Reduces each window's elements, then passes the result to `func` with key and window.
    pub fn reduce_with<O: Data, F, W>(self, f: F, func: W) -> DataStream<O>
    where
        F: FnMut(T, T) -> T + Clone + Send + 'static,
        W: ProcessWindowFunction<K, T, O>,
    {
        let f = Mutex::new(f);
        self.build("Window(Reduce)", move || ReduceContents { f: f.lock().expect("function lock").clone(), _t: PhantomData }, func)
    }

    /// Aggregates each window's elements; emits the result.
    pub fn aggregate<A: AggregateFunction<T>>(self, agg: A) -> DataStream<A::Out> {
        self.aggregate_with(agg, PassThrough)
    }

    /// Aggregates each window's elements, then passes the result to `func` with key and window.
    pub fn aggregate_with<A: AggregateFunction<T>, O: Data, W: ProcessWindowFunction<K, A::Out, O>>(
        self,
        agg: A,
        func: W,
    ) -> DataStream<O> {
        let agg = Mutex::new(agg);
        self.build("Window(Aggregate)", move || AggregateContents(agg.lock().expect("function lock").clone()), func)
    }

    /// Passes all of each window's elements to `func`.
    pub fn process<O: Data, W: ProcessWindowFunction<K, Vec<T>, O>>(self, func: W) -> DataStream<O> {
        self.build("Window(Process)", || ListContents, func)
    }

    fn build<C, W, O>(self, name: &str, contents: impl Fn() -> C + Send + Sync + 'static, func: W) -> DataStream<O>
    where
        C: WindowContents<T>,
        W: ProcessWindowFunction<K, C::Result, O>,
        O: Data,
    {
        let env = self.keyed.stream.env.clone();
        if self.assigner.is_merging() && !self.trigger.can_merge() {
            env.record_error("the window's trigger does not support merging windows (session windows)".to_string());
        }
        let sides = self.late_tag.iter().map(OutputTag::port).collect();
        let (key_of, assigner, trigger, lateness, late_tag) =
            (self.keyed.key_of.clone(), self.assigner, Mutex::new(self.trigger), self.allowed_lateness, self.late_tag);
        let func = Mutex::new(func);
        let spec = move || WindowSpec {
            assigner,
            trigger: trigger.lock().expect("trigger lock").clone(),
            allowed_lateness: lateness,
            late_tag: late_tag.clone(),
        };
        let func = move || func.lock().expect("function lock").clone();
        match self.evictor {
            None => self.keyed.stream.add_operator(
                name,
                "Window",
                sides,
                Arc::new(move |_| WindowOperator::new(key_of.clone(), spec(), contents(), func())),
            ),
            Some(evictor) => self.keyed.stream.add_operator(
                &format!("Evicting{name}"),
                "Window",
                sides,
                Arc::new(move |_| {
                    let contents = EvictingContents { inner: contents(), evictor: evictor.clone() };
                    WindowOperator::new(key_of.clone(), spec(), contents, func())
                }),
            ),
        }
    }
}
