//! The typed table behind one state, on the heap or in RocksDB. Handles see one interface.

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

/// The entry a [`RocksTable`] touched last, decoded.
struct Cached<K, V> {
    key: K,
    ns: Namespace,
    /// The entry's RocksDB key.
    raw_key: Vec<u8>,
    value: Option<V>,
    /// Whether `value` differs from what RocksDB holds.
    dirty: bool,
}

/// One state in a RocksDB instance, with the last touched entry kept decoded so that in-place
/// updates (`&mut V`) work: they are written back when another entry is touched, and before
/// snapshots ([`flush`](Self::flush)).
///
/// RocksDB errors panic: handles return plain values, and the panic fails the task with the
/// message, after which the job restarts from its last checkpoint (Flink throws the same way).
pub(crate) struct RocksTable<K, V> {
    store: Arc<RocksStore>,
    name: Arc<str>,
    id: u16,
    max_parallelism: u32,
    cached: Option<Cached<K, V>>,
}

impl<K: Key, V: Data> RocksTable<K, V> {
    pub(crate) fn new(store: Arc<RocksStore>, name: &str, id: u16, max_parallelism: u32) -> Self {
        Self { store, name: name.into(), id, max_parallelism, cached: None }
    }

    fn raw_key(&self, key: &K, ns: Namespace) -> Vec<u8> {
        let kg = KeyGroup::of(key, self.max_parallelism).0;
        let key_bytes = encode(key).unwrap_or_else(|e| panic!("encoding a key of state '{}': {e}", self.name));
        let mut raw = Vec::with_capacity(key_bytes.len() + 20);
        encode_key_into(&mut raw, kg, self.id, &key_bytes, ns);
        raw
    }

    fn load(&mut self, key: &K, ns: Namespace) -> &mut Cached<K, V> {
        let hit = self.cached.as_ref().is_some_and(|c| c.ns == ns && c.key == *key);
        if !hit {
            self.flush();
            let raw_key = self.raw_key(key, ns);
            let value = match self.store.get(&raw_key) {
                Ok(Some(bytes)) => {
                    Some(decode::<V>(&bytes, &format!("a value of state '{}'", self.name)).unwrap_or_else(|e| panic!("{e}")))
                }
                Ok(None) => None,
                Err(e) => panic!("reading state '{}': {e}", self.name),
            };
            self.cached = Some(Cached { key: key.clone(), ns, raw_key, value, dirty: false });
        }
        self.cached.as_mut().expect("loaded above")
    }

    fn put(&mut self, key: &K, ns: Namespace, value: V) {
        let hit = self.cached.as_ref().is_some_and(|c| c.ns == ns && c.key == *key);
        if hit {
            let cached = self.cached.as_mut().expect("hit");
            cached.value = Some(value);
            cached.dirty = true;
        } else {
            self.flush();
            let raw_key = self.raw_key(key, ns);
            self.cached = Some(Cached { key: key.clone(), ns, raw_key, value: Some(value), dirty: true });
        }
    }

    /// Writes the cached entry back if it changed.
    pub(crate) fn flush(&mut self) {
        let Some(cached) = self.cached.as_mut().filter(|c| c.dirty) else { return };
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
        cached.dirty = false;
    }
}
