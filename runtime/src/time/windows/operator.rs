//! The window operator (Flink's `WindowOperator`, with merging for session windows).

use super::assigners::merge_windows;
use super::{ProcessWindowFunction, TimeWindow, Trigger, TriggerContext, TriggerResult, WindowAssigner, WindowContents};
use crate::data::{Data, Key, Record, Timestamp, MAX_TIMESTAMP};
use crate::error::Result;
use crate::operators::{user_error, Collector, KeySelector, KeyedCore, Operator, OperatorContext, OutputTag};
use crate::state::{Namespace, StateAccess, ValueState};

/// Assigns elements to windows per key, keeps their contents in keyed state under the window
/// namespace, and emits results when the trigger fires.
pub(crate) struct WindowOperator<K, T, C: WindowContents<T>, W, O, Tr> {
    core: KeyedCore<T, K>,
    assigner: WindowAssigner,
    trigger: Tr,
    contents: C,
    func: W,
    allowed_lateness: i64,
    late_tag: Option<OutputTag<T>>,
    contents_state: ValueState<C::Acc>,
    /// Per key, the windows of a merging assigner that are in flight.
    merging_state: ValueState<Vec<TimeWindow>>,
    assigned: Vec<TimeWindow>,
    now: Timestamp,
    /// Late elements dropped (Flink's `numLateRecordsDropped`).
    pub(crate) late_dropped: u64,
    _o: std::marker::PhantomData<fn() -> O>,
}

/// What the builder passes to construct a window operator.
pub(crate) struct WindowSpec<T, Tr> {
    pub(crate) assigner: WindowAssigner,
    pub(crate) trigger: Tr,
    pub(crate) allowed_lateness: i64,
    pub(crate) late_tag: Option<OutputTag<T>>,
}

impl<K, T, C, W, O, Tr> WindowOperator<K, T, C, W, O, Tr>
where
    K: Key,
    T: Data,
    C: WindowContents<T>,
    W: ProcessWindowFunction<K, C::Result, O>,
    O: Data,
    Tr: Trigger<T>,
{
    pub(crate) fn new(key_of: KeySelector<T, K>, spec: WindowSpec<T, Tr>, contents: C, func: W) -> Self {
        Self {
            core: KeyedCore::new(key_of),
            assigner: spec.assigner,
            trigger: spec.trigger,
            contents,
            func,
            allowed_lateness: spec.allowed_lateness,
            late_tag: spec.late_tag,
            contents_state: ValueState::new("window-contents"),
            merging_state: ValueState::new("merging-window-set"),
            assigned: Vec::new(),
            now: 0,
            late_dropped: 0,
            _o: std::marker::PhantomData,
        }
    }

    fn cleanup_time(&self, w: TimeWindow) -> Timestamp {
        if self.assigner.is_event_time() {
            w.max_timestamp().checked_add(self.allowed_lateness).unwrap_or(MAX_TIMESTAMP)
        } else {
            w.max_timestamp()
        }
    }

    fn is_window_late(&self, w: TimeWindow) -> bool {
        self.assigner.is_event_time() && self.cleanup_time(w) <= self.core.watermark
    }

    fn is_element_late(&self, ts: Timestamp) -> bool {
        self.assigner.is_event_time() && ts.saturating_add(self.allowed_lateness) <= self.core.watermark
    }

    fn trigger_cx<'a>(core: &'a mut KeyedCore<T, K>, key: &'a K, w: TimeWindow, now: Timestamp) -> TriggerContext<'a, K> {
        TriggerContext { key, window: w, watermark: core.watermark, processing_time: now, timers: &mut core.timers, state: &mut core.state }
    }

    fn cleanup_timer(&mut self, key: &K, w: TimeWindow, register: bool) {
        let t = self.cleanup_time(w);
        if t == MAX_TIMESTAMP {
            return;
        }
        let queue = if self.assigner.is_event_time() { &mut self.core.timers.event } else { &mut self.core.timers.processing };
        if register {
            queue.register(key, w.namespace(), t);
        } else {
            queue.delete(key, w.namespace(), t);
        }
    }

    fn process_element(&mut self, r: Record<T>, out: &mut Collector<O>, task: &str) -> Result<()> {
        let key = (self.core.key_of)(&r.value);
        let mut windows = std::mem::take(&mut self.assigned);
        self.assigner.assign(r.ts, self.now, &mut windows);
        let mut skipped = true;
        let last = windows.len().saturating_sub(1);
        let mut record = Some(r);
        for (i, &assigned) in windows.iter().enumerate() {
            let Some(w) = self.actual_window(&key, assigned) else { continue };
            skipped = false;
            let r = if i == last { record.take() } else { record.clone() };
            let r = r.expect("the record is moved only into the last window");
            let result = self.trigger.on_element(&r.value, r.ts, w, &mut Self::trigger_cx(&mut self.core, &key, w, self.now));
            self.add_to_window(&key, w, r);
            self.act(&key, w, result, out, task)?;
            self.cleanup_timer(&key, w, true);
        }
        self.assigned = windows;
        match record {
            Some(r) if skipped && self.is_element_late(r.ts) => match &self.late_tag {
                Some(tag) => {
                    out.ts = r.ts;
                    out.side(tag, r.value);
                }
                None => self.late_dropped += 1,
            },
            _ => {}
        }
        Ok(())
    }

    /// The window an element assigned to `w` goes into, after merging; `None` if it is late.
    fn actual_window(&mut self, key: &K, w: TimeWindow) -> Option<TimeWindow> {
        if !self.assigner.is_merging() {
            return (!self.is_window_late(w)).then_some(w);
        }
        let actual = self.merge_into_set(key, w);
        if self.is_window_late(actual) {
            self.retire_window(key, actual);
            return None;
        }
        Some(actual)
    }

    /// Flink's `MergingWindowSet.addWindow` with the operator's merge callback.
    fn merge_into_set(&mut self, key: &K, new: TimeWindow) -> TimeWindow {
        let mut access = StateAccess::new(&mut self.core.state, key, Namespace::VOID);
        let mut set = self.merging_state.take(&mut access).unwrap_or_default();
        set.push(new);
        let merges = merge_windows(&set);
        set.pop();
        let (mut result, mut merged_new) = (new, false);
        for (cover, mut members) in merges {
            if let Some(pos) = members.iter().position(|m| *m == new) {
                members.remove(pos);
                merged_new = true;
                result = cover;
            }
            set.retain(|w| !members.contains(w));
            set.push(cover);
            if !(members.len() == 1 && members[0] == cover) {
                self.on_merge(key, cover, &members);
            }
        }
        if result == new && !merged_new {
            set.push(new);
        }
        set.sort();
        set.dedup();
        let mut access = StateAccess::new(&mut self.core.state, key, Namespace::VOID);
        self.merging_state.update(&mut access, set);
        result
    }

    fn on_merge(&mut self, key: &K, cover: TimeWindow, merged: &[TimeWindow]) {
        self.trigger.on_merge(cover, &mut Self::trigger_cx(&mut self.core, key, cover, self.now));
        let mut acc: Option<C::Acc> = None;
        for &m in merged {
            self.trigger.clear(m, &mut Self::trigger_cx(&mut self.core, key, m, self.now));
            self.cleanup_timer(key, m, false);
            let mut access = StateAccess::new(&mut self.core.state, key, m.namespace());
            if let Some(contents) = self.contents_state.take(&mut access) {
                match &mut acc {
                    Some(a) => self.contents.merge(a, contents),
                    None => acc = Some(contents),
                }
            }
        }
        if let Some(acc) = acc {
            let mut access = StateAccess::new(&mut self.core.state, key, cover.namespace());
            match self.contents_state.get_mut(&mut access) {
                Some(existing) => self.contents.merge(existing, acc),
                None => self.contents_state.update(&mut access, acc),
            }
        }
    }

    fn retire_window(&mut self, key: &K, w: TimeWindow) {
        let mut access = StateAccess::new(&mut self.core.state, key, Namespace::VOID);
        let mut set = self.merging_state.take(&mut access).unwrap_or_default();
        set.retain(|x| *x != w);
        if !set.is_empty() {
            self.merging_state.update(&mut access, set);
        }
    }

    fn in_merging_set(&mut self, key: &K, w: TimeWindow) -> bool {
        let mut access = StateAccess::new(&mut self.core.state, key, Namespace::VOID);
        self.merging_state.get_mut(&mut access).is_some_and(|set| set.contains(&w))
    }

    fn add_to_window(&mut self, key: &K, w: TimeWindow, r: Record<T>) {
        let mut access = StateAccess::new(&mut self.core.state, key, w.namespace());
        match self.contents_state.get_mut(&mut access) {
            Some(acc) => self.contents.add(acc, r),
            None => {
                let acc = self.contents.create(r);
                self.contents_state.update(&mut access, acc);
            }
        }
    }

    /// Fires and/or purges `w` as the trigger decided.
    fn act(&mut self, key: &K, w: TimeWindow, result: TriggerResult, out: &mut Collector<O>, task: &str) -> Result<()> {
        let mut access = StateAccess::new(&mut self.core.state, key, w.namespace());
        if result.is_fire() {
            let fired = self.contents_state.get_mut(&mut access).and_then(|acc| self.contents.fire(acc, w));
            if let Some(input) = fired {
                out.ts = w.max_timestamp();
                self.func.process(key, w, input, out).map_err(|e| user_error(task, e))?;
            }
        }
        if result.is_purge() {
            let mut access = StateAccess::new(&mut self.core.state, key, w.namespace());
            self.contents_state.take(&mut access);
        }
        Ok(())
    }

    fn on_timer(&mut self, key: K, w: TimeWindow, time: Timestamp, event_time: bool, out: &mut Collector<O>, task: &str) -> Result<()> {
        if self.assigner.is_merging() && !self.in_merging_set(&key, w) {
            return Ok(()); // The window was merged into another since the timer was set.
        }
        let mut tcx = Self::trigger_cx(&mut self.core, &key, w, self.now);
        let result =
            if event_time { self.trigger.on_event_time(time, w, &mut tcx) } else { self.trigger.on_processing_time(time, w, &mut tcx) };
        self.act(&key, w, result, out, task)?;
        if self.assigner.is_event_time() == event_time && time == self.cleanup_time(w) {
            self.clear_all(&key, w);
        }
        Ok(())
    }

    fn clear_all(&mut self, key: &K, w: TimeWindow) {
        let mut access = StateAccess::new(&mut self.core.state, key, w.namespace());
        self.contents_state.take(&mut access);
        self.trigger.clear(w, &mut Self::trigger_cx(&mut self.core, key, w, self.now));
        if self.assigner.is_merging() {
            self.retire_window(key, w);
        }
    }

    fn fire_timers(&mut self, event_time: bool, time: Timestamp, out: &mut Collector<O>, task: &str) -> Result<()> {
        loop {
            let queue = if event_time { &mut self.core.timers.event } else { &mut self.core.timers.processing };
            let Some((key, ns, ts)) = queue.pop_due(time) else { return Ok(()) };
            self.on_timer(key, TimeWindow::from_namespace(ns), ts, event_time, out, task)?;
        }
    }
}

impl<K, T, C, W, O, Tr> Operator for WindowOperator<K, T, C, W, O, Tr>
where
    K: Key,
    T: Data,
    C: WindowContents<T>,
    W: ProcessWindowFunction<K, C::Result, O>,
    O: Data,
    Tr: Trigger<T>,
{
    type In = T;
    type Out = O;

    crate::operators::keyed_state_hooks!();

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.core.open(ctx.info)?;
        Ok(())
    }

    fn process(&mut self, r: Record<T>, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.now = ctx.processing_time();
        self.process_element(r, out, &ctx.info.task_name)
    }

    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.now = ctx.processing_time();
        for r in batch.drain(..) {
            self.process_element(r, out, &ctx.info.task_name)?;
        }
        Ok(())
    }

    fn on_watermark(&mut self, wm: Timestamp, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.core.watermark = wm;
        self.now = ctx.processing_time();
        self.fire_timers(true, wm, out, &ctx.info.task_name)
    }

    fn on_processing_time(&mut self, now: Timestamp, out: &mut Collector<O>, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.now = now;
        self.fire_timers(false, now, out, &ctx.info.task_name)
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        self.core.timers.processing.next_timestamp()
    }
}

#[cfg(test)]
mod tests;
