//! Triggers: when a window's contents are emitted (Flink's `Trigger`).

use std::sync::Arc;

use super::TimeWindow;
use crate::data::{Data, Key, Timestamp};
use crate::state::{KeyedStateBackend, KeyedStateContext, StateAccess, ValueState};
use crate::time::TimerService;

/// What a trigger decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerResult {
    /// Do nothing.
    Continue,
    /// Emit the window's contents.
    Fire,
    /// Drop the window's contents.
    Purge,
    /// Emit, then drop.
    FireAndPurge,
}

impl TriggerResult {
    /// Whether the window fires.
    pub fn is_fire(self) -> bool {
        matches!(self, Self::Fire | Self::FireAndPurge)
    }
    /// Whether the contents are dropped.
    pub fn is_purge(self) -> bool {
        matches!(self, Self::Purge | Self::FireAndPurge)
    }
}

/// What a trigger can see and do: time, timers and per-window state of the current key.
#[derive(Debug)]
pub struct TriggerContext<'a, K> {
    pub(crate) key: &'a K,
    pub(crate) window: TimeWindow,
    pub(crate) watermark: Timestamp,
    pub(crate) processing_time: Timestamp,
    pub(crate) timers: &'a mut TimerService<K>,
    pub(crate) state: &'a mut KeyedStateBackend<K>,
}

impl<K: Key> TriggerContext<'_, K> {
    /// The current watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.watermark
    }
    /// The current processing time.
    pub fn current_processing_time(&self) -> Timestamp {
        self.processing_time
    }
    /// Registers an event-time timer for the current key and window.
    pub fn register_event_time_timer(&mut self, ts: Timestamp) {
        self.timers.event.register(self.key, self.window.namespace(), ts);
    }
    /// Deletes an event-time timer of the current key and window.
    pub fn delete_event_time_timer(&mut self, ts: Timestamp) {
        self.timers.event.delete(self.key, self.window.namespace(), ts);
    }
    /// Registers a processing-time timer for the current key and window.
    pub fn register_processing_time_timer(&mut self, ts: Timestamp) {
        self.timers.processing.register(self.key, self.window.namespace(), ts);
    }
    /// Deletes a processing-time timer of the current key and window.
    pub fn delete_processing_time_timer(&mut self, ts: Timestamp) {
        self.timers.processing.delete(self.key, self.window.namespace(), ts);
    }
}

/// Trigger state is scoped to the current key and window.
impl<K: Key> KeyedStateContext<K> for TriggerContext<'_, K> {
    fn state(&mut self) -> StateAccess<'_, K> {
        StateAccess::new(self.state, self.key, self.window.namespace())
    }
}

/// Decides when windows fire (Flink's `Trigger`).
pub trait Trigger<T>: Clone + Send + 'static {
    /// An element was added to `window`.
    fn on_element<K: Key>(&mut self, element: &T, ts: Timestamp, window: TimeWindow, ctx: &mut TriggerContext<'_, K>) -> TriggerResult;
    /// An event-time timer of `window` fired.
    fn on_event_time<K: Key>(&mut self, time: Timestamp, window: TimeWindow, ctx: &mut TriggerContext<'_, K>) -> TriggerResult;
    /// A processing-time timer of `window` fired.
    fn on_processing_time<K: Key>(&mut self, time: Timestamp, window: TimeWindow, ctx: &mut TriggerContext<'_, K>) -> TriggerResult;
    /// Whether the trigger supports merging windows.
    fn can_merge(&self) -> bool {
        false
    }
    /// Windows were merged into `window`.
    fn on_merge<K: Key>(&mut self, _window: TimeWindow, _ctx: &mut TriggerContext<'_, K>) {}
    /// The window is gone: delete its timers and state.
    fn clear<K: Key>(&mut self, _window: TimeWindow, _ctx: &mut TriggerContext<'_, K>) {}
}

/// Fires when the watermark passes the window's end (Flink's `EventTimeTrigger`).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventTimeTrigger;

impl<T> Trigger<T> for EventTimeTrigger {
    fn on_element<K: Key>(&mut self, _: &T, _: Timestamp, window: TimeWindow, ctx: &mut TriggerContext<'_, K>) -> TriggerResult {
        if window.max_timestamp() <= ctx.current_watermark() {
            // The watermark is already past the window: a late element within allowed lateness.
            TriggerResult::Fire
        } else {
            ctx.register_event_time_timer(window.max_timestamp());
            TriggerResult::Continue
        }
    }
    fn on_event_time<K: Key>(&mut self, time: Timestamp, window: TimeWindow, _: &mut TriggerContext<'_, K>) -> TriggerResult {
        if time == window.max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }
    fn on_processing_time<K: Key>(&mut self, _: Timestamp, _: TimeWindow, _: &mut TriggerContext<'_, K>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn can_merge(&self) -> bool {
        true
    }
    fn on_merge<K: Key>(&mut self, window: TimeWindow, ctx: &mut TriggerContext<'_, K>) {
        if window.max_timestamp() > ctx.current_watermark() {
            ctx.register_event_time_timer(window.max_timestamp());
        }
    }
    fn clear<K: Key>(&mut self, window: TimeWindow, ctx: &mut TriggerContext<'_, K>) {
        ctx.delete_event_time_timer(window.max_timestamp());
    }
}

/// Fires when processing time passes the window's end (Flink's `ProcessingTimeTrigger`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessingTimeTrigger;

impl<T> Trigger<T> for ProcessingTimeTrigger {
    fn on_element<K: Key>(&mut self, _: &T, _: Timestamp, window: TimeWindow, ctx: &mut TriggerContext<'_, K>) -> TriggerResult {
        ctx.register_processing_time_timer(window.max_timestamp());
        TriggerResult::Continue
    }
    fn on_event_time<K: Key>(&mut self, _: Timestamp, _: TimeWindow, _: &mut TriggerContext<'_, K>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time<K: Key>(&mut self, _: Timestamp, _: TimeWindow, _: &mut TriggerContext<'_, K>) -> TriggerResult {
        TriggerResult::Fire
    }
    fn can_merge(&self) -> bool {
        true
    }
    fn on_merge<K: Key>(&mut self, window: TimeWindow, ctx: &mut TriggerContext<'_, K>) {
        if window.max_timestamp() > ctx.current_processing_time() {
            ctx.register_processing_time_timer(window.max_timestamp());
        }
    }
    fn clear<K: Key>(&mut self, window: TimeWindow, ctx: &mut TriggerContext<'_, K>) {
        ctx.delete_processing_time_timer(window.max_timestamp());
    }
}

/// Never fires (the default of global windows).
#[derive(Debug, Clone, Copy, Default)]
pub struct NeverTrigger;

impl<T> Trigger<T> for NeverTrigger {
    fn on_element<K: Key>(&mut self, _: &T, _: Timestamp, _: TimeWindow, _: &mut TriggerContext<'_, K>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_event_time<K: Key>(&mut self, _: Timestamp, _: TimeWindow, _: &mut TriggerContext<'_, K>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time<K: Key>(&mut self, _: Timestamp, _: TimeWindow, _: &mut TriggerContext<'_, K>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn can_merge(&self) -> bool {
        true
    }
}

/// Fires every `max_count` elements (Flink's `CountTrigger`; not for merging windows).
#[derive(Debug, Clone)]
pub struct CountTrigger {
    max_count: u64,
    count: ValueState<u64>,
}

impl CountTrigger {
    /// Fires once a window holds `max_count` elements since the last firing.
    pub fn of(max_count: u64) -> Self {
        Self { max_count, count: ValueState::new("count-trigger") }
    }
}

impl<T> Trigger<T> for CountTrigger {
    fn on_element<K: Key>(&mut self, _: &T, _: Timestamp, _: TimeWindow, ctx: &mut TriggerContext<'_, K>) -> TriggerResult {
        let count = self.count.modify(
            ctx,
            || 0,
            |c| {
                *c += 1;
                *c
            },
        );
        if count >= self.max_count {
            self.count.clear(ctx);
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }
    fn on_event_time<K: Key>(&mut self, _: Timestamp, _: TimeWindow, _: &mut TriggerContext<'_, K>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time<K: Key>(&mut self, _: Timestamp, _: TimeWindow, _: &mut TriggerContext<'_, K>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn clear<K: Key>(&mut self, _: TimeWindow, ctx: &mut TriggerContext<'_, K>) {
        self.count.clear(ctx);
    }
}

/// The distance between two elements (Flink's `DeltaFunction`).
type DeltaFunction<T> = Arc<dyn Fn(&T, &T) -> f64 + Send + Sync>;

/// Fires when `delta(last_fired_element, element)` exceeds a threshold (Flink's `DeltaTrigger`).
#[derive(Clone)]
pub struct DeltaTrigger<T> {
    threshold: f64,
    delta: DeltaFunction<T>,
    last: ValueState<T>,
}

impl<T> std::fmt::Debug for DeltaTrigger<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaTrigger").field("threshold", &self.threshold).finish()
    }
}

impl<T: Data> DeltaTrigger<T> {
    /// Fires when `delta(old, new) > threshold`.
    pub fn of(threshold: f64, delta: impl Fn(&T, &T) -> f64 + Send + Sync + 'static) -> Self {
        Self { threshold, delta: Arc::new(delta), last: ValueState::new("delta-trigger-last") }
    }
}

impl<T: Data> Trigger<T> for DeltaTrigger<T> {
    fn on_element<K: Key>(&mut self, element: &T, _: Timestamp, _: TimeWindow, ctx: &mut TriggerContext<'_, K>) -> TriggerResult {
        match self.last.get(ctx) {
            None => {
                self.last.update(ctx, element.clone());
                TriggerResult::Continue
            }
            Some(last) if (self.delta)(&last, element) > self.threshold => {
                self.last.update(ctx, element.clone());
                TriggerResult::Fire
            }
            Some(_) => TriggerResult::Continue,
        }
    }
    fn on_event_time<K: Key>(&mut self, _: Timestamp, _: TimeWindow, _: &mut TriggerContext<'_, K>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time<K: Key>(&mut self, _: Timestamp, _: TimeWindow, _: &mut TriggerContext<'_, K>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn clear<K: Key>(&mut self, _: TimeWindow, ctx: &mut TriggerContext<'_, K>) {
        self.last.clear(ctx);
    }
}

/// The default trigger of an assigner: event time, processing time, or never (global windows).
#[derive(Debug, Clone, Copy)]
pub enum DefaultTrigger {
    /// [`EventTimeTrigger`].
    EventTime,
    /// [`ProcessingTimeTrigger`].
    ProcessingTime,
    /// [`NeverTrigger`].
    Never,
}

macro_rules! delegate {
    ($self:ident, $t:ident => $call:expr) => {
        match $self {
            DefaultTrigger::EventTime => {
                let mut $t = EventTimeTrigger;
                $call
            }
            DefaultTrigger::ProcessingTime => {
                let mut $t = ProcessingTimeTrigger;
                $call
            }
            DefaultTrigger::Never => {
                let mut $t = NeverTrigger;
                $call
            }
        }
    };
}

impl<T> Trigger<T> for DefaultTrigger {
    fn on_element<K: Key>(&mut self, e: &T, ts: Timestamp, w: TimeWindow, ctx: &mut TriggerContext<'_, K>) -> TriggerResult {
        delegate!(self, t => Trigger::<T>::on_element(&mut t, e, ts, w, ctx))
    }
    fn on_event_time<K: Key>(&mut self, time: Timestamp, w: TimeWindow, ctx: &mut TriggerContext<'_, K>) -> TriggerResult {
        delegate!(self, t => Trigger::<T>::on_event_time(&mut t, time, w, ctx))
    }
    fn on_processing_time<K: Key>(&mut self, time: Timestamp, w: TimeWindow, ctx: &mut TriggerContext<'_, K>) -> TriggerResult {
        delegate!(self, t => Trigger::<T>::on_processing_time(&mut t, time, w, ctx))
    }
    fn can_merge(&self) -> bool {
        true
    }
    fn on_merge<K: Key>(&mut self, w: TimeWindow, ctx: &mut TriggerContext<'_, K>) {
        delegate!(self, t => Trigger::<T>::on_merge(&mut t, w, ctx))
    }
    fn clear<K: Key>(&mut self, w: TimeWindow, ctx: &mut TriggerContext<'_, K>) {
        delegate!(self, t => Trigger::<T>::clear(&mut t, w, ctx))
    }
}
