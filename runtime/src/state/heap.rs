//! The heap (`hashmap`) keyed state backend.

use std::any::{Any, TypeId};
use std::collections::HashMap;

use super::snapshot::{decode, encode, Blocks, RawEntry, StateEntries};
use super::{FastMap, KeyGroup, Namespace};
use crate::data::{Data, Key};
use crate::error::Result;

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
    /// Writes the table into snapshot blocks; instantiated for its types at registration.
    snapshot: fn(&dyn Any, &str, u32, &mut Blocks) -> Result<()>,
}

fn key_count_of<K: Key, V: 'static>(table: &dyn Any) -> usize {
    table.downcast_ref::<Table<K, V>>().map_or(0, |t| t.entries.len())
}

fn snapshot_of<K: Key, V: Data>(table: &dyn Any, name: &str, max_parallelism: u32, blocks: &mut Blocks) -> Result<()> {
    let table = table.downcast_ref::<Table<K, V>>().expect("snapshot function registered with its table's types");
    for (key, slots) in &table.entries {
        let kg = KeyGroup::of(key, max_parallelism).0;
        let key_bytes = encode(key)?;
        let entries = blocks.entry(kg).or_default().state(name);
        for (ns, value) in slots {
            entries.push(RawEntry { key: key_bytes.clone(), ns: *ns, value: encode(value)? });
        }
    }
    Ok(())
}

/// Fills a new table from restored entries.
fn restore_table<K: Key, V: Data>(name: &str, entries: Vec<(u32, RawEntry)>) -> Result<Table<K, V>> {
    let mut table = Table::new();
    for (_, e) in entries {
        let key: K = decode(&e.key, &format!("a key of state '{name}'"))?;
        let value: V = decode(&e.value, &format!("a value of state '{name}'"))?;
        table.put(&key, e.ns, value);
    }
    Ok(table)
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
    /// Restored entries of states no handle has asked for yet (types unknown until then),
    /// with their key groups. They go into the next snapshot unchanged if still unclaimed.
    pending: HashMap<String, Vec<(u32, RawEntry)>>,
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
        Self { states: Vec::new(), pending: HashMap::new(), _key: std::marker::PhantomData }
    }

    /// The id of the state called `name` holding values of type `V`, registering it on first use.
    ///
    /// # Panics
    /// If `name` is already registered with another value type: two handles disagree about
    /// what the state holds, a bug in the job that must not silently corrupt data. Also if
    /// restored entries of `name` cannot be read as `V` (the job changed the state's type):
    /// the task fails with that message rather than running on without its state.
    pub(crate) fn resolve<V: Data>(&mut self, name: &str) -> usize {
        if let Some(i) = self.states.iter().position(|s| s.name == name) {
            assert!(self.states[i].value_type == TypeId::of::<V>(), "state '{name}' is declared twice with different value types");
            return i;
        }
        let table = match self.pending.remove(name) {
            Some(entries) => restore_table::<K, V>(name, entries).unwrap_or_else(|e| panic!("restoring state '{name}': {e}")),
            None => Table::<K, V>::new(),
        };
        self.states.push(Registered {
            name: name.to_string(),
            value_type: TypeId::of::<V>(),
            table: Box::new(table),
            key_count: key_count_of::<K, V>,
            snapshot: snapshot_of::<K, V>,
        });
        self.states.len() - 1
    }

    /// Adds every state's entries, and the unclaimed restored ones, to `blocks`.
    pub(crate) fn snapshot_into(&self, max_parallelism: u32, blocks: &mut Blocks) -> Result<()> {
        for s in &self.states {
            (s.snapshot)(s.table.as_ref(), &s.name, max_parallelism, blocks)?;
        }
        for (name, entries) in &self.pending {
            for (kg, e) in entries {
                blocks.entry(*kg).or_default().state(name).push(e.clone());
            }
        }
        Ok(())
    }

    /// Takes restored entries of key group `kg`; they are read when a handle first asks.
    pub(crate) fn restore(&mut self, kg: u32, states: Vec<StateEntries>) {
        for s in states {
            self.pending.entry(s.name).or_default().extend(s.entries.into_iter().map(|e| (kg, e)));
        }
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
