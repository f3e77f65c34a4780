//! Two-input operators over connected streams: co-process functions, keyed or not.

use std::marker::PhantomData;
use std::sync::Arc;

use super::keyed::{KeyedContext, KeyedCore};
use super::process::TimeDomain;
use super::{keyed_state_hooks, user_error, Collector, FnResult, OperatorContext, TaskInfo, TwoInputOperator};
use crate::data::{Data, Key, Record, Timestamp};
use crate::error::Result;

/// A function over two connected streams (Flink's `CoProcessFunction`, without timers).
/// The element's timestamp is `out.timestamp()`.
pub trait CoProcessFunction<I1: Data, I2: Data, O: Data>: Clone + Send + 'static {
    /// Called once per subtask before the first element.
    fn open(&mut self, _info: &TaskInfo) -> FnResult {
        Ok(())
    }
    /// Processes an element of the first stream.
    fn process_element1(&mut self, value: I1, out: &mut Collector<O>) -> FnResult;
    /// Processes an element of the second stream.
    fn process_element2(&mut self, value: I2, out: &mut Collector<O>) -> FnResult;
}

/// A function over two connected keyed streams with shared keyed state and timers
/// (Flink's `KeyedCoProcessFunction`).
pub trait KeyedCoProcessFunction<K: Key, I1: Data, I2: Data, O: Data>: Clone + Send + 'static {
    /// Called once per subtask before the first element.
    fn open(&mut self, _info: &TaskInfo) -> FnResult {
        Ok(())
    }
    /// Processes an element of the first stream.
    fn process_element1(&mut self, value: I1, ctx: &mut KeyedContext<'_, K>, out: &mut Collector<O>) -> FnResult;
    /// Processes an element of the second stream.
    fn process_element2(&mut self, value: I2, ctx: &mut KeyedContext<'_, K>, out: &mut Collector<O>) -> FnResult;
    /// A timer of the current key fired.
    fn on_timer(&mut self, _ts: Timestamp, _domain: TimeDomain, _ctx: &mut KeyedContext<'_, K>, _out: &mut Collector<O>) -> FnResult {
        Ok(())
    }
}

/// Runs a [`CoProcessFunction`].
pub(crate) struct CoProcessOperator<I1, I2, O, F> {
    f: F,
    _t: PhantomData<fn(I1, I2) -> O>,
}

impl<I1, I2, O, F> CoProcessOperator<I1, I2, O, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, _t: PhantomData }
    }
}

impl<I1: Data, I2: Data, O: Data, F: CoProcessFunction<I1, I2, O>> TwoInputOperator for CoProcessOperator<I1, I2, O, F> {
    type In1 = I1;
    type In2 = I2;
    type Out = O;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.f.open(ctx.info).map_err(|e| user_error(&ctx.info.task_name, e))
    }

    fn process1(&mut self, r: Record<I1>, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        out.ts = r.ts;
        self.f.process_element1(r.value, out).map_err(|e| user_error(&ctx.info.task_name, e))
    }

    fn process2(&mut self, r: Record<I2>, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        out.ts = r.ts;
        self.f.process_element2(r.value, out).map_err(|e| user_error(&ctx.info.task_name, e))
    }
}

/// Runs a [`KeyedCoProcessFunction`]; both inputs share one keyed state backend.
pub(crate) struct KeyedCoProcessOperator<K, I1, I2, O, F> {
    core: KeyedCore<I1, K>,
    key2: Arc<dyn Fn(&I2) -> K + Send + Sync>,
    f: F,
    _t: PhantomData<fn(I1, I2) -> O>,
}

impl<K: Key, I1: Data, I2: Data, O: Data, F: KeyedCoProcessFunction<K, I1, I2, O>> KeyedCoProcessOperator<K, I1, I2, O, F> {
    pub(crate) fn new(key1: Arc<dyn Fn(&I1) -> K + Send + Sync>, key2: Arc<dyn Fn(&I2) -> K + Send + Sync>, f: F) -> Self {
        Self { core: KeyedCore::new(key1), key2, f, _t: PhantomData }
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

impl<K: Key, I1: Data, I2: Data, O: Data, F: KeyedCoProcessFunction<K, I1, I2, O>> TwoInputOperator
    for KeyedCoProcessOperator<K, I1, I2, O, F>
{
    type In1 = I1;
    type In2 = I2;
    type Out = O;

    keyed_state_hooks!();

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.core.open(ctx.info)?;
        self.f.open(ctx.info).map_err(|e| user_error(&ctx.info.task_name, e))
    }

    fn process1(&mut self, r: Record<I1>, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        let key = (self.core.key_of)(&r.value);
        out.ts = r.ts;
        let mut kc = self.core.context(&key, r.ts, ctx.processing_time());
        self.f.process_element1(r.value, &mut kc, out).map_err(|e| user_error(&ctx.info.task_name, e))
    }

    fn process2(&mut self, r: Record<I2>, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        let key = (self.key2)(&r.value);
        out.ts = r.ts;
        let mut kc = self.core.context(&key, r.ts, ctx.processing_time());
        self.f.process_element2(r.value, &mut kc, out).map_err(|e| user_error(&ctx.info.task_name, e))
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
