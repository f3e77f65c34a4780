//! State handles: what user functions declare and use.
//!
//! A handle is a name and a lazily resolved id; it holds no data. Its methods take the
//! context of the element or timer being processed, which knows the current key and namespace.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use super::table::StateTable;
use super::{KeyedStateBackend, Namespace};
use crate::data::{Data, Key};

/// The backend, key and namespace a state access applies to.
#[derive(Debug)]
pub struct StateAccess<'a, K> {
    pub(crate) backend: &'a mut KeyedStateBackend<K>,
    pub(crate) key: &'a K,
    pub(crate) ns: Namespace,
}

impl<'a, K: Key> StateAccess<'a, K> {
    /// Access to `key`'s state in namespace `ns`.
    pub fn new(backend: &'a mut KeyedStateBackend<K>, key: &'a K, ns: Namespace) -> Self {
        Self { backend, key, ns }
    }

    /// The current key.
    pub fn key(&self) -> &K {
        self.key
    }
}

/// Anything that can give access to keyed state: the contexts handed to keyed functions.
pub trait KeyedStateContext<K: Key> {
    /// The state of the current key and namespace.
    fn state(&mut self) -> StateAccess<'_, K>;
}

impl<K: Key> KeyedStateContext<K> for StateAccess<'_, K> {
    fn state(&mut self) -> StateAccess<'_, K> {
        StateAccess { backend: self.backend, key: self.key, ns: self.ns }
    }
}

/// Name and cached id shared by all handle kinds.
#[derive(Debug, Clone)]
struct Slot {
    name: Arc<str>,
    id: Cell<Option<usize>>,
}

impl Slot {
    fn new(name: &str) -> Self {
        Self { name: name.into(), id: Cell::new(None) }
    }

    fn table<'b, K: Key, V: Data>(&self, s: &'b mut StateAccess<'_, K>) -> &'b mut StateTable<K, V> {
        let id = match self.id.get() {
            Some(id) => id,
            None => {
                let id = s.backend.resolve::<V>(&self.name);
                self.id.set(Some(id));
                id
            }
        };
        s.backend.table_mut::<V>(id)
    }
}

macro_rules! with_table {
    ($slot:expr, $ctx:expr, $v:ty, |$t:ident, $key:ident, $ns:ident| $body:expr) => {{
        let mut access = $ctx.state();
        let ($key, $ns) = (access.key, access.ns);
        let $t = $slot.table::<K, $v>(&mut access);
        $body
    }};
}

/// A single value per key (Flink's `ValueState`).
///
/// ```
/// use strom_runtime::state::{KeyedStateBackend, ValueState};
/// let mut backend = KeyedStateBackend::<u32>::new();
/// let seen = ValueState::<bool>::new("seen");
/// assert_eq!(seen.get(&mut backend.access(&7)), None);
/// seen.update(&mut backend.access(&7), true);
/// assert_eq!(seen.get(&mut backend.access(&7)), Some(true));
/// seen.clear(&mut backend.access(&7));
/// assert_eq!(seen.get(&mut backend.access(&7)), None);
/// ```
#[derive(Debug, Clone)]
pub struct ValueState<V> {
    slot: Slot,
    _v: PhantomData<fn() -> V>,
}

impl<V: Data> ValueState<V> {
    /// A handle to the value state called `name`.
    pub fn new(name: &str) -> Self {
        Self { slot: Slot::new(name), _v: PhantomData }
    }

    /// The current key's value, cloned.
    pub fn get<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>) -> Option<V> {
        with_table!(self.slot, ctx, V, |t, key, ns| t.get(key, ns).cloned())
    }

    /// Sets the current key's value.
    pub fn update<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>, value: V) {
        with_table!(self.slot, ctx, V, |t, key, ns| t.put(key, ns, value))
    }

    /// Changes the current key's value in place, starting from `init()` when it has none.
    pub fn modify<K: Key, R>(&self, ctx: &mut impl KeyedStateContext<K>, init: impl FnOnce() -> V, f: impl FnOnce(&mut V) -> R) -> R {
        with_table!(self.slot, ctx, V, |t, key, ns| f(t.get_or_insert_with(key, ns, init)))
    }

    /// Removes the current key's value.
    pub fn clear<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>) {
        with_table!(self.slot, ctx, V, |t, key, ns| drop(t.remove(key, ns)))
    }

    /// The value in place, for operators that update it without cloning.
    pub(crate) fn get_mut<'b, K: Key>(&self, s: &'b mut StateAccess<'_, K>) -> Option<&'b mut V> {
        let (key, ns) = (s.key, s.ns);
        self.slot.table::<K, V>(s).get_mut(key, ns)
    }

    /// Removes and returns the value.
    pub(crate) fn take<K: Key>(&self, s: &mut StateAccess<'_, K>) -> Option<V> {
        let (key, ns) = (s.key, s.ns);
        self.slot.table::<K, V>(s).remove(key, ns)
    }
}

/// A list of values per key (Flink's `ListState`).
///
/// ```
/// use strom_runtime::state::{KeyedStateBackend, ListState};
/// let mut backend = KeyedStateBackend::<char>::new();
/// let items = ListState::<u8>::new("items");
/// items.add(&mut backend.access(&'k'), 1);
/// items.add(&mut backend.access(&'k'), 2);
/// assert_eq!(items.get(&mut backend.access(&'k')), vec![1, 2]);
/// ```
#[derive(Debug, Clone)]
pub struct ListState<T> {
    slot: Slot,
    _t: PhantomData<fn() -> T>,
}

impl<T: Data> ListState<T> {
    /// A handle to the list state called `name`.
    pub fn new(name: &str) -> Self {
        Self { slot: Slot::new(name), _t: PhantomData }
    }

    /// Appends a value to the current key's list.
    pub fn add<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>, value: T) {
        with_table!(self.slot, ctx, Vec<T>, |t, key, ns| t.get_or_insert_with(key, ns, Vec::new).push(value))
    }

    /// The current key's list, cloned (empty when there is none).
    pub fn get<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>) -> Vec<T> {
        with_table!(self.slot, ctx, Vec<T>, |t, key, ns| t.get(key, ns).cloned().unwrap_or_default())
    }

    /// Removes and returns the current key's list.
    pub fn take<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>) -> Vec<T> {
        with_table!(self.slot, ctx, Vec<T>, |t, key, ns| t.remove(key, ns).unwrap_or_default())
    }

    /// Replaces the current key's list (an empty list clears it).
    pub fn update<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>, values: Vec<T>) {
        with_table!(self.slot, ctx, Vec<T>, |t, key, ns| if values.is_empty() { drop(t.remove(key, ns)) } else { t.put(key, ns, values) })
    }

    /// Removes the current key's list.
    pub fn clear<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>) {
        with_table!(self.slot, ctx, Vec<T>, |t, key, ns| drop(t.remove(key, ns)))
    }
}

/// A map per key (Flink's `MapState`).
///
/// ```
/// use strom_runtime::state::{KeyedStateBackend, MapState};
/// let mut backend = KeyedStateBackend::<u8>::new();
/// let m = MapState::<String, u32>::new("m");
/// m.put(&mut backend.access(&1), "a".into(), 5);
/// assert_eq!(m.get(&mut backend.access(&1), &"a".to_string()), Some(5));
/// assert!(m.contains(&mut backend.access(&1), &"a".to_string()));
/// m.remove(&mut backend.access(&1), &"a".to_string());
/// assert!(m.is_empty(&mut backend.access(&1)));
/// ```
#[derive(Debug, Clone)]
pub struct MapState<UK, UV> {
    slot: Slot,
    _kv: PhantomData<fn() -> (UK, UV)>,
}

impl<UK: Data + Hash + Eq, UV: Data> MapState<UK, UV> {
    /// A handle to the map state called `name`.
    pub fn new(name: &str) -> Self {
        Self { slot: Slot::new(name), _kv: PhantomData }
    }

    /// The value under `uk` in the current key's map.
    pub fn get<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>, uk: &UK) -> Option<UV> {
        with_table!(self.slot, ctx, HashMap<UK, UV>, |t, key, ns| t
            .get(key, ns)
            .and_then(|m| m.get(uk).cloned()))
    }

    /// Puts `uk -> uv` into the current key's map.
    pub fn put<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>, uk: UK, uv: UV) {
        with_table!(self.slot, ctx, HashMap<UK, UV>, |t, key, ns| {
            t.get_or_insert_with(key, ns, HashMap::new).insert(uk, uv);
        })
    }

    /// Removes `uk` from the current key's map.
    pub fn remove<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>, uk: &UK) -> Option<UV> {
        with_table!(self.slot, ctx, HashMap<UK, UV>, |t, key, ns| {
            let map = t.get_mut(key, ns)?;
            let old = map.remove(uk);
            if map.is_empty() {
                t.remove(key, ns);
            }
            old
        })
    }

    /// Whether the current key's map contains `uk`.
    pub fn contains<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>, uk: &UK) -> bool {
        with_table!(self.slot, ctx, HashMap<UK, UV>, |t, key, ns| t
            .get(key, ns)
            .is_some_and(|m| m.contains_key(uk)))
    }

    /// All entries of the current key's map, cloned.
    pub fn entries<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>) -> Vec<(UK, UV)> {
        with_table!(self.slot, ctx, HashMap<UK, UV>, |t, key, ns| t.get(key, ns).map_or_else(
            Vec::new,
            |m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        ))
    }

    /// Whether the current key's map is empty.
    pub fn is_empty<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>) -> bool {
        with_table!(self.slot, ctx, HashMap<UK, UV>, |t, key, ns| t.get(key, ns).is_none())
    }

    /// Removes the current key's map.
    pub fn clear<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>) {
        with_table!(self.slot, ctx, HashMap<UK, UV>, |t, key, ns| drop(t.remove(key, ns)))
    }
}

/// A value per key that folds every added value with a reduce function (Flink's `ReducingState`).
///
/// ```
/// use strom_runtime::state::{KeyedStateBackend, ReducingState};
/// let mut backend = KeyedStateBackend::<u8>::new();
/// let max = ReducingState::new("max", |a: u32, b: u32| a.max(b));
/// for v in [3, 9, 4] { max.add(&mut backend.access(&0), v); }
/// assert_eq!(max.get(&mut backend.access(&0)), Some(9));
/// ```
#[derive(Clone)]
pub struct ReducingState<T> {
    slot: Slot,
    reduce: Arc<dyn Fn(T, T) -> T + Send + Sync>,
}

impl<T> std::fmt::Debug for ReducingState<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReducingState").field("name", &self.slot.name).finish()
    }
}

impl<T: Data> ReducingState<T> {
    /// A handle to the reducing state called `name`, folding with `reduce`.
    pub fn new(name: &str, reduce: impl Fn(T, T) -> T + Send + Sync + 'static) -> Self {
        Self { slot: Slot::new(name), reduce: Arc::new(reduce) }
    }

    /// Folds `value` into the current key's value.
    pub fn add<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>, value: T) {
        with_table!(self.slot, ctx, T, |t, key, ns| match t.get_mut(key, ns) {
            Some(acc) => {
                let old = std::mem::replace(acc, value.clone());
                *acc = (self.reduce)(old, value);
            }
            None => t.put(key, ns, value),
        })
    }

    /// The current key's folded value.
    pub fn get<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>) -> Option<T> {
        with_table!(self.slot, ctx, T, |t, key, ns| t.get(key, ns).cloned())
    }

    /// Removes the current key's value.
    pub fn clear<K: Key>(&self, ctx: &mut impl KeyedStateContext<K>) {
        with_table!(self.slot, ctx, T, |t, key, ns| drop(t.remove(key, ns)))
    }
}
