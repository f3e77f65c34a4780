//! Keyed process functions (Flink's `KeyedProcessFunction`) and the rolling `reduce`.

use std::marker::PhantomData;
use std::sync::Arc;

use super::keyed::{KeyedContext, KeyedCore};
use super::{keyed_state_hooks, user_error, Collector, FnResult, Operator, OperatorContext, TaskInfo};
use crate::data::{Data, Key, Record, Timestamp};
use crate::error::Result;
use crate::state::{Namespace, StateAccess, ValueState};

/// Which clock a timer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeDomain {
    /// Fired by the watermark.
    EventTime,
    /// Fired by the wall clock.
    ProcessingTime,
}

/// A function over a keyed stream with state and timers (Flink's `KeyedProcessFunction`).
///
/// ```
/// use strom_runtime::prelude::*;
///
/// /// Emits a key's count one second (event time) after its last element.
/// #[derive(Clone)]
/// struct CountWithTimeout { count: ValueState<u64> }
///
/// impl KeyedProcessFunction<String, String, (String, u64)> for CountWithTimeout {
///     fn process_element(&mut self, _v: String, ctx: &mut KeyedContext<'_, String>,
///                        _out: &mut Collector<(String, u64)>) -> FnResult {
///         self.count.modify(ctx, || 0, |c| *c += 1);
///         let at = ctx.timestamp() + 1000;
///         ctx.register_event_time_timer(at);
///         Ok(())
///     }
///     fn on_timer(&mut self, _ts: i64, _domain: TimeDomain, ctx: &mut KeyedContext<'_, String>,
///                 out: &mut Collector<(String, u64)>) -> FnResult {
///         if let Some(c) = self.count.get(ctx) { out.collect((ctx.key().clone(), c)); }
///         Ok(())
///     }
/// }
/// # let _ = CountWithTimeout { count: ValueState::new("count") };
/// ```
pub trait KeyedProcessFunction<K: Key, I: Data, O: Data>: Clone + Send + 'static {
    /// Called once per subtask before the first element.
    fn open(&mut self, _info: &TaskInfo) -> FnResult {
        Ok(())
    }

    /// Processes one element of the current key.
    fn process_element(&mut self, value: I, ctx: &mut KeyedContext<'_, K>, out: &mut Collector<O>) -> FnResult;

    /// A timer of the current key fired at `ts`.
    fn on_timer(&mut self, _ts: Timestamp, _domain: TimeDomain, _ctx: &mut KeyedContext<'_, K>, _out: &mut Collector<O>) -> FnResult {
        Ok(())
    }
}

/// Runs a [`KeyedProcessFunction`].
pub(crate) struct KeyedProcessOperator<K, I, O, F> {
    core: KeyedCore<I, K>,
    f: F,
    _t: PhantomData<fn(I) -> O>,
}

impl<K: Key, I: Data, O: Data, F: KeyedProcessFunction<K, I, O>> KeyedProcessOperator<K, I, O, F> {
    pub(crate) fn new(key_of: Arc<dyn Fn(&I) -> K + Send + Sync>, f: F) -> Self {
        Self { core: KeyedCore::new(key_of), f, _t: PhantomData }
    }

    fn process_at(&mut self, r: Record<I>, now: Timestamp, out: &mut Collector<O>, ctx: &OperatorContext<'_>) -> Result<()> {
        let key = (self.core.key_of)(&r.value);
        out.ts = r.ts;
        let mut kc = self.core.context(&key, r.ts, now);
        self.f.process_element(r.value, &mut kc, out).map_err(|e| user_error(&ctx.info.task_name, e))
    }

    fn fire(
        &mut self,
        domain: TimeDomain,
        time: Timestamp,
        now: Timestamp,
        out: &mut Collector<O>,
        ctx: &OperatorContext<'_>,
    ) -> Result<()> {
        let f = &mut self.f;
        let fired = self.core.fire_timers(domain, time, now, |ts, kc| {
            out.ts = ts;
            f.on_timer(ts, domain, kc, out)
        });
        fired.map_err(|e| user_error(&ctx.info.task_name, e))
    }
}

impl<K: Key, I: Data, O: Data, F: KeyedProcessFunction<K, I, O>> Operator for KeyedProcessOperator<K, I, O, F> {
    type In = I;
    type Out = O;

    keyed_state_hooks!();

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.core.open(ctx.info)?;
        self.f.open(ctx.info).map_err(|e| user_error(&ctx.info.task_name, e))
    }

    fn process(&mut self, r: Record<I>, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        let now = ctx.processing_time();
        self.process_at(r, now, out, ctx)
    }

    fn process_batch(&mut self, batch: &mut Vec<Record<I>>, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        // One clock read per batch: processing time does not move within one mailbox action.
        let now = ctx.processing_time();
        batch.drain(..).try_for_each(|r| self.process_at(r, now, out, ctx))
    }

    fn on_watermark(&mut self, wm: Timestamp, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.core.watermark = wm;
        self.fire(TimeDomain::EventTime, wm, ctx.processing_time(), out, ctx)
    }

    fn on_processing_time(&mut self, now: Timestamp, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.fire(TimeDomain::ProcessingTime, now, now, out, ctx)
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        self.core.timers.processing.next_timestamp()
    }
}

/// Flink's `KeyedStream.reduce`: emits the running reduction of each key with every element.
pub(crate) struct RollingReduce<K, T, F> {
    core: KeyedCore<T, K>,
    f: F,
    acc: ValueState<T>,
}

impl<K: Key, T: Data, F: FnMut(T, T) -> T + 'static> RollingReduce<K, T, F> {
    pub(crate) fn new(key_of: Arc<dyn Fn(&T) -> K + Send + Sync>, f: F) -> Self {
        Self { core: KeyedCore::new(key_of), f, acc: ValueState::new("reduce") }
    }
}

impl<K: Key, T: Data, F: FnMut(T, T) -> T + 'static> Operator for RollingReduce<K, T, F> {
    type In = T;
    type Out = T;

    keyed_state_hooks!();

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.core.open(ctx.info)?;
        Ok(())
    }

    fn process(&mut self, r: Record<T>, out: &mut Collector<T>, _: &mut OperatorContext<'_>) -> Result<()> {
        let key = (self.core.key_of)(&r.value);
        let mut access = StateAccess::new(&mut self.core.state, &key, Namespace::VOID);
        let current = match self.acc.get_mut(&mut access) {
            Some(acc) => {
                let old = std::mem::replace(acc, r.value.clone());
                *acc = (self.f)(old, r.value);
                acc.clone()
            }
            None => {
                self.acc.update(&mut access, r.value.clone());
                r.value
            }
        };
        out.collect_at(r.ts, current);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::testing::OneInputHarness;

    #[derive(Clone)]
    struct SumThenFlush {
        sum: ValueState<i64>,
    }

    impl KeyedProcessFunction<u8, (u8, i64), (u8, i64, i64)> for SumThenFlush {
        fn process_element(&mut self, v: (u8, i64), ctx: &mut KeyedContext<'_, u8>, _: &mut Collector<(u8, i64, i64)>) -> FnResult {
            self.sum.modify(ctx, || 0, |s| *s += v.1);
            ctx.register_event_time_timer(100);
            ctx.register_processing_time_timer(1_000);
            Ok(())
        }

        fn on_timer(
            &mut self,
            ts: i64,
            domain: TimeDomain,
            ctx: &mut KeyedContext<'_, u8>,
            out: &mut Collector<(u8, i64, i64)>,
        ) -> FnResult {
            let tag = if domain == TimeDomain::EventTime { 0 } else { 1 };
            out.collect((*ctx.key(), self.sum.get(ctx).unwrap_or(0), ts * 10 + tag));
            self.sum.clear(ctx);
            Ok(())
        }
    }

    #[test]
    fn event_and_processing_time_timers_fire_per_key() {
        let f = SumThenFlush { sum: ValueState::new("sum") };
        let mut h = OneInputHarness::new(KeyedProcessOperator::new(Arc::new(|v: &(u8, i64)| v.0), f));
        h.process_all([(1, (1, 5)), (2, (2, 7)), (3, (1, 1))]);
        h.watermark(99);
        assert!(h.take_output().is_empty());
        h.watermark(100);
        let mut fired = h.take_output();
        fired.sort();
        assert_eq!(fired, vec![(100, (1, 6, 1000)), (100, (2, 7, 1000))]);
        h.process_all([(101, (2, 3))]);
        h.processing_time(1_000);
        let mut fired = h.take_output();
        fired.sort();
        // Key 1's state was cleared by its event-time timer; key 2 got 3 since.
        assert_eq!(fired, vec![(1_000, (1, 0, 10_001)), (1_000, (2, 3, 10_001))]);
    }

    #[test]
    fn rolling_reduce_emits_running_value() {
        let mut h =
            OneInputHarness::new(RollingReduce::new(Arc::new(|v: &(char, i32)| v.0), |a: (char, i32), b: (char, i32)| (a.0, a.1 + b.1)));
        h.process_all([(1, ('a', 1)), (2, ('b', 2)), (3, ('a', 3))]);
        assert_eq!(h.take_output(), vec![(1, ('a', 1)), (2, ('b', 2)), (3, ('a', 4))]);
    }
}
