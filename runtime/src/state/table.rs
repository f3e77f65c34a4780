//! The typed table behind one state, on the heap or in RocksDB. Handles see one interface.

use std::collections::VecDeque;
use std::sync::Arc;

use super::heap::Table;
use super::rocks::{encode_key_into, RocksStore};
use super::snapshot::{decode, encode};
use super::{KeyGroup, Namespace};
use crate::data::{Data, Key};

/// One state's values by key and namespace.
pub(crate) enum StateTable<K, V> {
    Heap(Table<K, V>),
    Rocks(RocksTable<K, V>),
}

impl<K: Key, V: Data> StateTable<K, V> {
    pub(crate) fn get(&mut self, key: &K, ns: Namespace) -> Option<&V> {
        match self {
            StateTable::Heap(t) => t.get(key, ns),
            StateTable::Rocks(t) => t.load(key, ns).value.as_ref(),
        }
    }

    pub(crate) fn get_mut(&mut self, key: &K, ns: Namespace) -> Option<&mut V> {
        match self {
            StateTable::Heap(t) => t.get_mut(key, ns),
            StateTable::Rocks(t) => {
                let cached = t.load(key, ns);
                cached.dirty |= cached.value.is_some();
                cached.value.as_mut()
            }
        }
    }

    pub(crate) fn get_or_insert_with(&mut self, key: &K, ns: Namespace, init: impl FnOnce() -> V) -> &mut V {
        match self {
            StateTable::Heap(t) => t.get_or_insert_with(key, ns, init),
            StateTable::Rocks(t) => {
                let cached = t.load(key, ns);
                cached.dirty = true;
                cached.value.get_or_insert_with(init)
            }
        }
    }

    pub(crate) fn put(&mut self, key: &K, ns: Namespace, value: V) {
        match self {
            StateTable::Heap(t) => t.put(key, ns, value),
            StateTable::Rocks(t) => t.put(key, ns, value),
        }
    }

    pub(crate) fn remove(&mut self, key: &K, ns: Namespace) -> Option<V> {
        match self {
            StateTable::Heap(t) => t.remove(key, ns),
            StateTable::Rocks(t) => {
                let cached = t.load(key, ns);
                cached.dirty |= cached.value.is_some();
                cached.value.take()
            }
        }
    }
}

/// An entry a [`RocksTable`] holds decoded.
struct Cached<V> {
    /// The entry's RocksDB key.
    raw_key: Vec<u8>,
    value: Option<V>,
    /// Whether `value` differs from what RocksDB holds.
    dirty: bool,
    /// Approximate bytes the entry takes: its serialized size when last read or written.
    size: usize,
}

/// Bytes counted per cached entry besides its key and value.
const ENTRY_OVERHEAD: usize = 64;

/// Entries a [`RocksTable`] keeps decoded, at most: enough for the windows in flight of the
/// keys being worked on (a bid in Nexmark q5 touches five windows of one auction; its working
/// set fits in 65,536 entries, 16,384 are no better than one). Unit tests use a small cache so
/// that their operation sequences evict and re-read all the time.
#[cfg(not(test))]
const CACHED_ENTRIES: usize = 65_536;
#[cfg(test)]
const CACHED_ENTRIES: usize = 16;
/// Approximate bytes a [`RocksTable`] keeps decoded, at most (large lists and maps are evicted
/// early instead of filling memory: RocksDB is there to hold state larger than memory).
const CACHED_BYTES: usize = 16 << 20;

/// One state in a RocksDB instance, with the entries touched last kept decoded (a bounded,
/// first-in-first-out write-back cache): in-place updates (`&mut V`) work, repeated accesses
/// to a key do not decode and encode every time, and changes reach RocksDB when an entry is
/// evicted or before any snapshot ([`flush`](Self::flush)).
///
/// RocksDB errors panic: handles return plain values, and the panic fails the task with the
/// message, after which the job restarts from its last checkpoint (Flink throws the same way).
pub(crate) struct RocksTable<K, V> {
    store: Arc<RocksStore>,
    name: Arc<str>,
    id: u16,
    max_parallelism: u32,
    cache: Table<K, Cached<V>>,
    /// Cached entries, oldest first.
    order: VecDeque<(K, Namespace)>,
    /// Sum of the cached entries' sizes.
    bytes: usize,
}

impl<K: Key, V: Data> RocksTable<K, V> {
    pub(crate) fn new(store: Arc<RocksStore>, name: &str, id: u16, max_parallelism: u32) -> Self {
        Self { store, name: name.into(), id, max_parallelism, cache: Table::new(), order: VecDeque::new(), bytes: 0 }
    }

    fn raw_key(&self, key: &K, ns: Namespace) -> Vec<u8> {
        let kg = KeyGroup::of(key, self.max_parallelism).0;
        let key_bytes = encode(key).unwrap_or_else(|e| panic!("encoding a key of state '{}': {e}", self.name));
        let mut raw = Vec::with_capacity(key_bytes.len() + 20);
        encode_key_into(&mut raw, kg, self.id, &key_bytes, ns);
        raw
    }

    /// The entry of `key` in `ns`, read from RocksDB unless cached.
    fn load(&mut self, key: &K, ns: Namespace) -> &mut Cached<V> {
        if self.cache.get(key, ns).is_none() {
            let raw_key = self.raw_key(key, ns);
            let (value, value_size) = match self.store.get(&raw_key) {
                Ok(Some(bytes)) => {
                    (Some(decode::<V>(&bytes, &format!("a value of state '{}'", self.name)).unwrap_or_else(|e| panic!("{e}"))), bytes.len())
                }
                Ok(None) => (None, 0),
                Err(e) => panic!("reading state '{}': {e}", self.name),
            };
            let size = raw_key.len() + value_size + ENTRY_OVERHEAD;
            self.insert(key, ns, Cached { raw_key, value, dirty: false, size });
        }
        self.cache.get_mut(key, ns).expect("cached above")
    }

    fn put(&mut self, key: &K, ns: Namespace, value: V) {
        match self.cache.get_mut(key, ns) {
            Some(cached) => {
                cached.value = Some(value);
                cached.dirty = true;
            }
            None => {
                let raw_key = self.raw_key(key, ns);
                let size = raw_key.len() + std::mem::size_of::<V>() + ENTRY_OVERHEAD;
                self.insert(key, ns, Cached { raw_key, value: Some(value), dirty: true, size });
            }
        }
    }

    /// Caches a new entry, writing back the oldest ones when the cache is full.
    fn insert(&mut self, key: &K, ns: Namespace, cached: Cached<V>) {
        while self.order.len() >= CACHED_ENTRIES || (!self.order.is_empty() && self.bytes + cached.size > CACHED_BYTES) {
            let Some((old_key, old_ns)) = self.order.pop_front() else { break };
            if let Some(old) = self.cache.remove(&old_key, old_ns) {
                self.bytes -= old.size;
                self.write_back(&old);
            }
        }
        self.bytes += cached.size;
        self.cache.put(key, ns, cached);
        self.order.push_back((key.clone(), ns));
    }

    fn write_back(&self, cached: &Cached<V>) {
        if !cached.dirty {
            return;
        }
        let result = match &cached.value {
            Some(v) => {
                let bytes = encode(v).unwrap_or_else(|e| panic!("encoding a value of state '{}': {e}", self.name));
                self.store.put(&cached.raw_key, &bytes)
            }
            None => self.store.delete(&cached.raw_key),
        };
        if let Err(e) = result {
            panic!("writing state '{}': {e}", self.name);
        }
    }

    /// Writes every changed entry back (in one batch); the entries stay cached, with their
    /// sizes updated to what they serialize to now.
    pub(crate) fn flush(&mut self) {
        let mut batch = rocksdb::WriteBatch::default();
        for slots in self.cache.entries.values_mut() {
            for (_, cached) in slots.iter_mut().filter(|(_, c)| c.dirty) {
                let value_size = match &cached.value {
                    Some(v) => {
                        let bytes = encode(v).unwrap_or_else(|e| panic!("encoding a value of state '{}': {e}", self.name));
                        let len = bytes.len();
                        batch.put(&cached.raw_key, bytes);
                        len
                    }
                    None => {
                        batch.delete(&cached.raw_key);
                        0
                    }
                };
                let size = cached.raw_key.len() + value_size + ENTRY_OVERHEAD;
                self.bytes = self.bytes - cached.size + size;
                cached.size = size;
                cached.dirty = false;
            }
        }
        if !batch.is_empty() {
            if let Err(e) = self.store.write_batch(batch) {
                panic!("writing state '{}': {e}", self.name);
            }
        }
    }
}
