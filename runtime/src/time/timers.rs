//! Keyed timers: per key and namespace, deduplicated, fired in timestamp order.

use std::collections::BTreeMap;

use crate::data::{Key, Timestamp};
use crate::state::{FastMap, Namespace};

/// Timers of one time domain (event or processing time).
///
/// Registration is deduplicated per `(key, namespace, timestamp)` as in Flink, so a window
/// trigger may register its timer for every element at no cost beyond a lookup.
#[derive(Debug)]
pub(crate) struct TimerQueue<K> {
    /// What is registered, by key: the truth for deletion and deduplication.
    registered: FastMap<K, Vec<(Namespace, Timestamp)>>,
    /// Firing order. May hold entries deleted since; they are skipped when popped.
    queue: BTreeMap<Timestamp, Vec<(K, Namespace)>>,
}

impl<K: Key> Default for TimerQueue<K> {
    fn default() -> Self {
        Self { registered: FastMap::default(), queue: BTreeMap::new() }
    }
}

impl<K: Key> TimerQueue<K> {
    /// Registers a timer; returns false if it was already registered.
    pub(crate) fn register(&mut self, key: &K, ns: Namespace, ts: Timestamp) -> bool {
        if let Some(slots) = self.registered.get_mut(key) {
            if slots.contains(&(ns, ts)) {
                return false;
            }
            slots.push((ns, ts));
        } else {
            self.registered.insert(key.clone(), vec![(ns, ts)]);
        }
        self.queue.entry(ts).or_default().push((key.clone(), ns));
        true
    }

    /// Deletes a timer if registered.
    pub(crate) fn delete(&mut self, key: &K, ns: Namespace, ts: Timestamp) {
        if let Some(slots) = self.registered.get_mut(key) {
            slots.retain(|e| *e != (ns, ts));
            if slots.is_empty() {
                self.registered.remove(key);
            }
        }
    }

    /// The earliest registered timestamp, if any (may be a deleted timer's; harmless).
    pub(crate) fn next_timestamp(&self) -> Option<Timestamp> {
        self.queue.keys().next().copied()
    }

    /// Removes and returns the earliest timer at or before `time`.
    pub(crate) fn pop_due(&mut self, time: Timestamp) -> Option<(K, Namespace, Timestamp)> {
        loop {
            let mut entry = self.queue.first_entry()?;
            let ts = *entry.key();
            if ts > time {
                return None;
            }
            let Some((key, ns)) = entry.get_mut().pop() else {
                entry.remove();
                continue;
            };
            if entry.get().is_empty() {
                entry.remove();
            }
            if self.take_registration(&key, ns, ts) {
                return Some((key, ns, ts));
            }
        }
    }

    fn take_registration(&mut self, key: &K, ns: Namespace, ts: Timestamp) -> bool {
        let Some(slots) = self.registered.get_mut(key) else { return false };
        let Some(pos) = slots.iter().position(|e| *e == (ns, ts)) else { return false };
        slots.swap_remove(pos);
        if slots.is_empty() {
            self.registered.remove(key);
        }
        true
    }

    /// Number of registered timers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.registered.values().map(Vec::len).sum()
    }
}

/// Event-time and processing-time timers of one keyed operator subtask.
#[derive(Debug)]
pub struct TimerService<K> {
    pub(crate) event: TimerQueue<K>,
    pub(crate) processing: TimerQueue<K>,
}

impl<K: Key> Default for TimerService<K> {
    fn default() -> Self {
        Self { event: TimerQueue::default(), processing: TimerQueue::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: Namespace = Namespace::VOID;

    #[test]
    fn fires_in_order_deduplicated_and_skips_deleted() {
        let mut q = TimerQueue::<char>::default();
        assert!(q.register(&'a', NS, 10));
        assert!(!q.register(&'a', NS, 10));
        q.register(&'b', NS, 5);
        q.register(&'c', NS, 7);
        q.register(&'d', NS, 20);
        q.delete(&'c', NS, 7);
        assert_eq!(q.len(), 3);
        let mut fired = Vec::new();
        while let Some((k, _, ts)) = q.pop_due(10) {
            fired.push((k, ts));
        }
        assert_eq!(fired, vec![('b', 5), ('a', 10)]);
        assert_eq!(q.next_timestamp(), Some(20));
    }

    #[test]
    fn delete_then_register_again_fires_once() {
        let mut q = TimerQueue::<u8>::default();
        q.register(&1, NS, 3);
        q.delete(&1, NS, 3);
        q.register(&1, NS, 3);
        assert_eq!(q.pop_due(3), Some((1, NS, 3)));
        assert_eq!(q.pop_due(3), None);
    }
}
