//! The interval join (Flink's `IntervalJoinOperator`): joins elements of two keyed streams
//! whose timestamps satisfy `left.ts + lower <= right.ts <= left.ts + upper`.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use super::keyed::{KeySelector, KeyedCore};
use super::{keyed_state_hooks, Collector, OperatorContext, TwoInputOperator};
use crate::data::{Data, Key, Record, Timestamp, MIN_TIMESTAMP};
use crate::error::{Error, Result};
use crate::state::{Namespace, StateAccess, ValueState};

const LEFT: Namespace = Namespace { start: 0, end: 0 };
const RIGHT: Namespace = Namespace { start: 1, end: 1 };

/// Buffers both sides per key and timestamp, joins each arriving element with the other
/// side's buffered elements in range, and drops buffers once the watermark passes them.
pub(crate) struct IntervalJoinOperator<K, A, B, O, F> {
    core: KeyedCore<A, K>,
    key_b: KeySelector<B, K>,
    lower: i64,
    upper: i64,
    left: ValueState<BTreeMap<Timestamp, Vec<A>>>,
    right: ValueState<BTreeMap<Timestamp, Vec<B>>>,
    f: F,
    _o: PhantomData<fn() -> O>,
}

impl<K: Key, A: Data, B: Data, O: Data, F: FnMut(&A, &B, &mut Collector<O>) + 'static> IntervalJoinOperator<K, A, B, O, F> {
    /// `lower`/`upper` are inclusive bounds (exclusive ones are adjusted by the builder).
    pub(crate) fn new(key_a: KeySelector<A, K>, key_b: KeySelector<B, K>, lower: i64, upper: i64, f: F) -> Self {
        Self {
            core: KeyedCore::new(key_a),
            key_b,
            lower,
            upper,
            left: ValueState::new("interval-join-left"),
            right: ValueState::new("interval-join-right"),
            f,
            _o: PhantomData,
        }
    }

    fn check(&self, ts: Timestamp, task: &str) -> Result<bool> {
        if ts == MIN_TIMESTAMP {
            return Err(Error::TaskFailed {
                task: task.to_string(),
                message: "interval joins need elements with timestamps: assign timestamps and watermarks first".into(),
            });
        }
        Ok(ts >= self.core.watermark)
    }
}

impl<K: Key, A: Data, B: Data, O: Data, F: FnMut(&A, &B, &mut Collector<O>) + 'static> TwoInputOperator
    for IntervalJoinOperator<K, A, B, O, F>
{
    type In1 = A;
    type In2 = B;
    type Out = O;

    keyed_state_hooks!();

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.core.open(ctx.info)?;
        Ok(())
    }

    fn process1(&mut self, r: Record<A>, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        if !self.check(r.ts, &ctx.info.task_name)? {
            return Ok(());
        }
        let key = (self.core.key_of)(&r.value);
        let mut access = StateAccess::new(&mut self.core.state, &key, Namespace::VOID);
        if let Some(others) = self.right.get_mut(&mut access) {
            for (&t, bs) in others.range(r.ts + self.lower..=r.ts + self.upper) {
                out.ts = r.ts.max(t);
                bs.iter().for_each(|b| (self.f)(&r.value, b, out));
            }
        }
        let cleanup = if self.upper > 0 { r.ts + self.upper } else { r.ts };
        self.left.modify(&mut access, BTreeMap::new, |m| m.entry(r.ts).or_default().push(r.value));
        self.core.timers.event.register(&key, LEFT, cleanup);
        Ok(())
    }

    fn process2(&mut self, r: Record<B>, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        if !self.check(r.ts, &ctx.info.task_name)? {
            return Ok(());
        }
        let key = (self.key_b)(&r.value);
        let mut access = StateAccess::new(&mut self.core.state, &key, Namespace::VOID);
        if let Some(others) = self.left.get_mut(&mut access) {
            for (&t, as_) in others.range(r.ts - self.upper..=r.ts - self.lower) {
                out.ts = r.ts.max(t);
                as_.iter().for_each(|a| (self.f)(a, &r.value, out));
            }
        }
        let cleanup = if -self.lower > 0 { r.ts - self.lower } else { r.ts };
        self.right.modify(&mut access, BTreeMap::new, |m| m.entry(r.ts).or_default().push(r.value));
        self.core.timers.event.register(&key, RIGHT, cleanup);
        Ok(())
    }

    fn on_watermark(&mut self, wm: Timestamp, _: &mut Collector<O>, _: &mut OperatorContext<'_>) -> Result<()> {
        self.core.watermark = wm;
        while let Some((key, ns, t)) = self.core.timers.event.pop_due(wm) {
            let mut access = StateAccess::new(&mut self.core.state, &key, Namespace::VOID);
            if ns == LEFT {
                let bucket = if self.upper <= 0 { t } else { t - self.upper };
                let empty = self.left.get_mut(&mut access).is_some_and(|m| m.remove(&bucket).is_some() && m.is_empty());
                if empty {
                    self.left.clear(&mut access);
                }
            } else {
                let bucket = if self.lower <= 0 { t + self.lower } else { t };
                let empty = self.right.get_mut(&mut access).is_some_and(|m| m.remove(&bucket).is_some() && m.is_empty());
                if empty {
                    self.right.clear(&mut access);
                }
            }
        }
        Ok(())
    }
}
