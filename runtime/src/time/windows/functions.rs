//! Window functions and how window contents are kept.

use std::marker::PhantomData;
use std::sync::Arc;

use super::{Evictor, TimeWindow};
use crate::data::{Data, Record};
use crate::operators::{Collector, FnResult};

/// Incremental aggregation with an accumulator (Flink's `AggregateFunction`).
///
/// ```
/// use strom_runtime::time::windows::AggregateFunction;
/// #[derive(Clone)]
/// struct Average;
/// impl AggregateFunction<f64> for Average {
///     type Acc = (f64, u64);
///     type Out = f64;
///     fn create_accumulator(&self) -> (f64, u64) { (0.0, 0) }
///     fn add(&self, v: f64, acc: &mut (f64, u64)) { acc.0 += v; acc.1 += 1; }
///     fn get_result(&self, acc: &(f64, u64)) -> f64 { acc.0 / acc.1 as f64 }
///     fn merge(&self, acc: &mut (f64, u64), other: (f64, u64)) { acc.0 += other.0; acc.1 += other.1; }
/// }
/// ```
pub trait AggregateFunction<T>: Clone + Send + 'static {
    /// Accumulator type (kept in state).
    type Acc: Data;
    /// Result type.
    type Out: Data;
    /// A new, empty accumulator.
    fn create_accumulator(&self) -> Self::Acc;
    /// Adds a value.
    fn add(&self, value: T, acc: &mut Self::Acc);
    /// The result of an accumulator.
    fn get_result(&self, acc: &Self::Acc) -> Self::Out;
    /// Merges `other` into `acc` (merging windows).
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
}

/// Counts the elements of a window, whatever their type.
///
/// ```
/// use strom_runtime::time::windows::{AggregateFunction, CountAggregate};
/// let mut acc = AggregateFunction::<&str>::create_accumulator(&CountAggregate);
/// CountAggregate.add("a", &mut acc);
/// CountAggregate.add("b", &mut acc);
/// assert_eq!(AggregateFunction::<&str>::get_result(&CountAggregate, &acc), 2);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CountAggregate;

impl<T> AggregateFunction<T> for CountAggregate {
    type Acc = u64;
    type Out = u64;
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, _: T, acc: &mut u64) {
        *acc += 1;
    }
    fn get_result(&self, acc: &u64) -> u64 {
        *acc
    }
    fn merge(&self, acc: &mut u64, other: u64) {
        *acc += other;
    }
}

/// Turns a window's result into output, knowing the key and the window (Flink's
/// `ProcessWindowFunction`; with `reduce`/`aggregate` it receives the single result, with
/// `process` all elements). Closures `FnMut(&K, TimeWindow, R, &mut Collector<O>)` implement it.
pub trait ProcessWindowFunction<K, R, O>: Clone + Send + 'static {
    /// Emits output for a firing of `window` of `key`.
    fn process(&mut self, key: &K, window: TimeWindow, input: R, out: &mut Collector<O>) -> FnResult;
}

impl<K, R, O, F> ProcessWindowFunction<K, R, O> for F
where
    F: FnMut(&K, TimeWindow, R, &mut Collector<O>) + Clone + Send + 'static,
{
    fn process(&mut self, key: &K, window: TimeWindow, input: R, out: &mut Collector<O>) -> FnResult {
        self(key, window, input, out);
        Ok(())
    }
}

/// Emits the window's result as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThrough;

impl<K, R: Data> ProcessWindowFunction<K, R, R> for PassThrough {
    fn process(&mut self, _: &K, _: TimeWindow, input: R, out: &mut Collector<R>) -> FnResult {
        out.collect(input);
        Ok(())
    }
}

/// How a window keeps its contents and computes its result when it fires.
pub(crate) trait WindowContents<T>: 'static {
    type Acc: Data;
    type Result;
    fn create(&mut self, r: Record<T>) -> Self::Acc;
    fn add(&mut self, acc: &mut Self::Acc, r: Record<T>);
    fn merge(&mut self, acc: &mut Self::Acc, other: Self::Acc);
    /// The result when the window fires (`None`: nothing to emit). May change the stored
    /// contents (eviction).
    fn fire(&mut self, acc: &mut Self::Acc, window: TimeWindow) -> Option<Self::Result>;
}

/// Keeps the reduction of the elements.
pub(crate) struct ReduceContents<T, F> {
    pub(crate) f: F,
    pub(crate) _t: PhantomData<fn(T)>,
}

impl<T: Data, F: FnMut(T, T) -> T + 'static> WindowContents<T> for ReduceContents<T, F> {
    type Acc = T;
    type Result = T;
    fn create(&mut self, r: Record<T>) -> T {
        r.value
    }
    fn add(&mut self, acc: &mut T, r: Record<T>) {
        let old = std::mem::replace(acc, r.value.clone());
        *acc = (self.f)(old, r.value);
    }
    fn merge(&mut self, acc: &mut T, other: T) {
        let old = std::mem::replace(acc, other.clone());
        *acc = (self.f)(old, other);
    }
    fn fire(&mut self, acc: &mut T, _: TimeWindow) -> Option<T> {
        Some(acc.clone())
    }
}

/// Keeps an aggregate's accumulator.
pub(crate) struct AggregateContents<A>(pub(crate) A);

impl<T, A: AggregateFunction<T>> WindowContents<T> for AggregateContents<A> {
    type Acc = A::Acc;
    type Result = A::Out;
    fn create(&mut self, r: Record<T>) -> A::Acc {
        let mut acc = self.0.create_accumulator();
        self.0.add(r.value, &mut acc);
        acc
    }
    fn add(&mut self, acc: &mut A::Acc, r: Record<T>) {
        self.0.add(r.value, acc);
    }
    fn merge(&mut self, acc: &mut A::Acc, other: A::Acc) {
        self.0.merge(acc, other);
    }
    fn fire(&mut self, acc: &mut A::Acc, _: TimeWindow) -> Option<A::Out> {
        Some(self.0.get_result(acc))
    }
}

/// Keeps all elements.
pub(crate) struct ListContents;

impl<T: Data> WindowContents<T> for ListContents {
    type Acc = Vec<T>;
    type Result = Vec<T>;
    fn create(&mut self, r: Record<T>) -> Vec<T> {
        vec![r.value]
    }
    fn add(&mut self, acc: &mut Vec<T>, r: Record<T>) {
        acc.push(r.value);
    }
    fn merge(&mut self, acc: &mut Vec<T>, mut other: Vec<T>) {
        acc.append(&mut other);
    }
    fn fire(&mut self, acc: &mut Vec<T>, _: TimeWindow) -> Option<Vec<T>> {
        Some(acc.clone())
    }
}

/// Keeps all elements with their timestamps, evicts, then folds them with another contents
/// type when the window fires (Flink's `EvictingWindowOperator`).
pub(crate) struct EvictingContents<T, C> {
    pub(crate) inner: C,
    pub(crate) evictor: Arc<dyn Evictor<T>>,
}

impl<T: Data, C: WindowContents<T>> WindowContents<T> for EvictingContents<T, C> {
    type Acc = Vec<(i64, T)>;
    type Result = C::Result;
    fn create(&mut self, r: Record<T>) -> Self::Acc {
        vec![(r.ts, r.value)]
    }
    fn add(&mut self, acc: &mut Self::Acc, r: Record<T>) {
        acc.push((r.ts, r.value));
    }
    fn merge(&mut self, acc: &mut Self::Acc, mut other: Self::Acc) {
        acc.append(&mut other);
    }
    fn fire(&mut self, acc: &mut Self::Acc, window: TimeWindow) -> Option<C::Result> {
        let mut records: Vec<Record<T>> = acc.drain(..).map(|(ts, value)| Record { ts, value }).collect();
        self.evictor.evict_before(&mut records, window);
        let result = records.split_first().map(|(first, rest)| {
            let mut folded = self.inner.create(first.clone());
            rest.iter().for_each(|r| self.inner.add(&mut folded, r.clone()));
            self.inner.fire(&mut folded, window)
        });
        self.evictor.evict_after(&mut records, window);
        acc.extend(records.into_iter().map(|r| (r.ts, r.value)));
        result.flatten()
    }
}
