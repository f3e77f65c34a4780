//! Keyed timers: per key and namespace, deduplicated, fired in timestamp order.

use std::collections::BTreeMap;

use crate::data::{Key, Timestamp};
use crate::error::Result;
use crate::state::snapshot::{decode, encode, Blocks, TimerEntry};
use crate::state::{FastMap, KeyGroup, Namespace};

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

impl<K: Key> TimerQueue<K> {
    /// Adds every registered timer to the snapshot blocks of its key's group.
    fn snapshot_into(&self, event_time: bool, max_parallelism: u32, blocks: &mut Blocks) -> Result<()> {
        for (key, timers) in &self.registered {
            let kg = KeyGroup::of(key, max_parallelism).0;
            let key_bytes = encode(key)?;
            let block = blocks.entry(kg).or_default();
            block.timers.extend(timers.iter().map(|&(ns, ts)| TimerEntry { key: key_bytes.clone(), ns, ts, event_time }));
        }
        Ok(())
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

impl<K: Key> TimerService<K> {
    /// Adds all timers to the snapshot blocks.
    pub(crate) fn snapshot_into(&self, max_parallelism: u32, blocks: &mut Blocks) -> Result<()> {
        self.event.snapshot_into(true, max_parallelism, blocks)?;
        self.processing.snapshot_into(false, max_parallelism, blocks)
    }

    /// Registers restored timers.
    pub(crate) fn restore(&mut self, timers: Vec<TimerEntry>) -> Result<()> {
        for t in timers {
            let key: K = decode(&t.key, "a timer's key")?;
            let queue = if t.event_time { &mut self.event } else { &mut self.processing };
            queue.register(&key, t.ns, t.ts);
        }
        Ok(())
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
