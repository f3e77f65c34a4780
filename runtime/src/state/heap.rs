//! The heap (`hashmap`) keyed state backend.

use std::any::{Any, TypeId};

use super::{FastMap, Namespace};
use crate::data::Key;

/// Values of one state, per key and namespace. Most keys have one or a few namespaces (the
/// windows in flight), so a small vector beats a nested map.
pub(crate) struct Table<K, V> {
    pub(crate) entries: FastMap<K, Vec<(Namespace, V)>>,
}

impl<K: Key, V: 'static> Table<K, V> {
    fn new() -> Self {
        Self { entries: FastMap::default() }
    }

    pub(crate) fn get(&self, key: &K, ns: Namespace) -> Option<&V> {
        let slots = self.entries.get(key)?;
        slots.iter().find(|(n, _)| *n == ns).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &K, ns: Namespace) -> Option<&mut V> {
        let slots = self.entries.get_mut(key)?;
        slots.iter_mut().find(|(n, _)| *n == ns).map(|(_, v)| v)
    }

    pub(crate) fn get_or_insert_with(&mut self, key: &K, ns: Namespace, init: impl FnOnce() -> V) -> &mut V {
        if !self.entries.contains_key(key) {
            self.entries.insert(key.clone(), Vec::with_capacity(1));
        }
        let slots = self.entries.get_mut(key).expect("inserted above");
        let pos = match slots.iter().position(|(n, _)| *n == ns) {
            Some(pos) => pos,
            None => {
                slots.push((ns, init()));
                slots.len() - 1
            }
        };
        &mut slots[pos].1
    }

    pub(crate) fn put(&mut self, key: &K, ns: Namespace, value: V) {
        match self.get_mut(key, ns) {
            Some(slot) => *slot = value,
            None => self.entries.entry(key.clone()).or_default().push((ns, value)),
        }
    }

    pub(crate) fn remove(&mut self, key: &K, ns: Namespace) -> Option<V> {
        let slots = self.entries.get_mut(key)?;
        let pos = slots.iter().position(|(n, _)| *n == ns)?;
        let (_, v) = slots.swap_remove(pos);
        if slots.is_empty() {
            self.entries.remove(key);
        }
        Some(v)
    }
}

/// One registered state: its name and its erased table.
struct Registered {
    name: String,
    value_type: TypeId,
    table: Box<dyn Any>,
    /// Number of keys in the table; instantiated for its types at registration.
    key_count: fn(&dyn Any) -> usize,
}

fn key_count_of<K: Key, V: 'static>(table: &dyn Any) -> usize {
    table.downcast_ref::<Table<K, V>>().map_or(0, |t| t.entries.len())
}

/// Keyed state of one operator subtask, on the heap.
///
/// ```
/// use strom_runtime::state::{KeyedStateBackend, ValueState};
/// let mut backend = KeyedStateBackend::<String>::new();
/// let count = ValueState::<u64>::new("count");
/// let key = "alice".to_string();
/// count.update(&mut backend.access(&key), 3);
/// assert_eq!(count.get(&mut backend.access(&key)), Some(3));
/// ```
pub struct KeyedStateBackend<K> {
    states: Vec<Registered>,
    _key: std::marker::PhantomData<K>,
}

impl<K> std::fmt::Debug for KeyedStateBackend<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.states.iter().map(|s| s.name.as_str()).collect();
        f.debug_struct("KeyedStateBackend").field("states", &names).finish()
    }
}

impl<K: Key> Default for KeyedStateBackend<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Key> KeyedStateBackend<K> {
    /// An empty backend.
    pub fn new() -> Self {
        Self { states: Vec::new(), _key: std::marker::PhantomData }
    }

    /// The id of the state called `name` holding values of type `V`, registering it on first use.
    ///
    /// # Panics
    /// If `name` is already registered with another value type: two handles disagree about
    /// what the state holds, a bug in the job that must not silently corrupt data.
    pub(crate) fn resolve<V: 'static>(&mut self, name: &str) -> usize {
        if let Some(i) = self.states.iter().position(|s| s.name == name) {
            assert!(self.states[i].value_type == TypeId::of::<V>(), "state '{name}' is declared twice with different value types");
            return i;
        }
        self.states.push(Registered {
            name: name.to_string(),
            value_type: TypeId::of::<V>(),
            table: Box::new(Table::<K, V>::new()),
            key_count: key_count_of::<K, V>,
        });
        self.states.len() - 1
    }

    pub(crate) fn table_mut<V: 'static>(&mut self, id: usize) -> &mut Table<K, V> {
        self.states[id].table.downcast_mut().expect("state id resolved for this value type")
    }

    /// Access to state for `key` in the void namespace (for tests and simple operators).
    pub fn access<'a>(&'a mut self, key: &'a K) -> super::StateAccess<'a, K> {
        super::StateAccess::new(self, key, Namespace::VOID)
    }

    /// Number of keys with a value in the state called `name` (for tests and metrics).
    pub fn key_count(&self, name: &str) -> usize {
        self.states.iter().find(|s| s.name == name).map_or(0, |s| (s.key_count)(s.table.as_ref()))
    }
}
