//! `KeyedStream`: a stream partitioned by key, with keyed state and timers.

use std::sync::{Arc, Mutex};

use super::{DataStream, IntervalJoin, KeyedConnectedStreams, WindowedStream};
use crate::data::{Data, Key};
use crate::operators::{KeyedProcessFunction, KeyedProcessOperator, RollingReduce};
use crate::time::windows::{DefaultTrigger, WindowAssigner};

/// A stream partitioned by key (Flink's `KeyedStream`).
pub struct KeyedStream<T, K> {
    pub(crate) stream: DataStream<T>,
    pub(crate) key_of: Arc<dyn Fn(&T) -> K + Send + Sync>,
}

impl<T, K> Clone for KeyedStream<T, K> {
    fn clone(&self) -> Self {
        Self { stream: self.stream.clone(), key_of: self.key_of.clone() }
    }
}

impl<T, K> std::fmt::Debug for KeyedStream<T, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedStream").field("stream", &self.stream).finish()
    }
}

impl<T: Data, K: Key> KeyedStream<T, K> {
    /// Processes each key's elements with state and timers.
    pub fn process<O: Data, F: KeyedProcessFunction<K, T, O>>(&self, f: F) -> DataStream<O> {
        let (f, key_of) = (Mutex::new(f), self.key_of.clone());
        self.stream.add_operator(
            "KeyedProcess",
            "KeyedProcess",
            vec![],
            Arc::new(move |_| KeyedProcessOperator::new(key_of.clone(), f.lock().expect("function lock").clone())),
        )
    }

    /// Emits each key's running reduction with every element (Flink's `reduce`).
    pub fn reduce<F: FnMut(T, T) -> T + Clone + Send + 'static>(&self, f: F) -> DataStream<T> {
        let (f, key_of) = (Mutex::new(f), self.key_of.clone());
        self.stream.add_operator(
            "Reduce",
            "Reduce",
            vec![],
            Arc::new(move |_| RollingReduce::new(key_of.clone(), f.lock().expect("function lock").clone())),
        )
    }

    /// Groups each key's elements into windows.
    pub fn window(&self, assigner: WindowAssigner) -> WindowedStream<T, K, DefaultTrigger> {
        if let Err(e) = assigner.validate() {
            self.stream.env.record_error(e);
        }
        let trigger = if assigner == WindowAssigner::Global {
            DefaultTrigger::Never
        } else if assigner.is_event_time() {
            DefaultTrigger::EventTime
        } else {
            DefaultTrigger::ProcessingTime
        };
        WindowedStream::new(self.clone(), assigner, trigger)
    }

    /// Connects with another stream keyed by the same key type; both share keyed state.
    pub fn connect<U: Data>(&self, other: &KeyedStream<U, K>) -> KeyedConnectedStreams<T, U, K> {
        KeyedConnectedStreams { first: self.clone(), second: other.clone() }
    }

    /// Joins with `other` on the key where timestamps are within bounds (Flink's `intervalJoin`).
    pub fn interval_join<U: Data>(&self, other: &KeyedStream<U, K>) -> IntervalJoin<T, U, K> {
        IntervalJoin { first: self.clone(), second: other.clone(), lower: 0, upper: 0, lower_exclusive: false, upper_exclusive: false }
    }

    /// The keyed stream as a plain stream (still hash-partitioned for the next operator).
    pub fn as_stream(&self) -> DataStream<T> {
        self.stream.clone()
    }
}
