//! The keyed state backend of an operator subtask: typed tables on the heap (`hashmap`), or
//! one RocksDB instance (`rocksdb`).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::rocks::RocksStore;
use super::snapshot::{decode, encode, Blocks, RawEntry, StateEntries};
use super::table::{RocksTable, StateTable};
use super::{FastMap, KeyGroup, KeyGroupRange, Namespace, StateBackendConfig, StateBackendKind};
use crate::checkpoint::{CheckpointId, NativeRestore, NativeSnapshot, Uploads};
use crate::data::{Data, Key};
use crate::error::{Error, Result};

/// Values of one state, per key and namespace. Most keys have one or a few namespaces (the
/// windows in flight), so a small vector beats a nested map.
pub(crate) struct Table<K, V> {
    pub(crate) entries: FastMap<K, Vec<(Namespace, V)>>,
}

impl<K: Key, V: 'static> Table<K, V> {
    pub(crate) fn new() -> Self {
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

/// One registered state: its name and its erased [`StateTable`].
struct Registered {
    name: String,
    value_type: TypeId,
    table: Box<dyn Any>,
    /// Number of keys in a heap table; instantiated for its types at registration.
    key_count: fn(&dyn Any) -> usize,
    /// Writes a heap table into snapshot blocks; instantiated for its types at registration.
    snapshot: fn(&dyn Any, &str, u32, &mut Blocks) -> Result<()>,
    /// Writes back a RocksDB table's cached entry.
    flush: fn(&mut dyn Any),
}

fn key_count_of<K: Key, V: Data>(table: &dyn Any) -> usize {
    match table.downcast_ref::<StateTable<K, V>>() {
        Some(StateTable::Heap(t)) => t.entries.len(),
        _ => 0,
    }
}

fn snapshot_of<K: Key, V: Data>(table: &dyn Any, name: &str, max_parallelism: u32, blocks: &mut Blocks) -> Result<()> {
    let Some(StateTable::Heap(table)) = table.downcast_ref::<StateTable<K, V>>() else { return Ok(()) };
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

fn flush_of<K: Key, V: Data>(table: &mut dyn Any) {
    if let Some(StateTable::Rocks(t)) = table.downcast_mut::<StateTable<K, V>>() {
        t.flush();
    }
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

/// Keyed state of one operator subtask: on the heap (`hashmap`, the default) or in a RocksDB
/// instance (`rocksdb`, chosen when the operator opens, see [`open`](Self::open)).
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
    /// Heap only: the RocksDB backend writes restored entries into its instance when it opens.
    pending: HashMap<String, Vec<(u32, RawEntry)>>,
    /// Native RocksDB state to restore when the backend opens.
    native_restores: Vec<NativeRestore>,
    rocks: Option<RocksBackend>,
    /// Number of key groups (set when the operator opens).
    max_parallelism: u32,
    _key: std::marker::PhantomData<K>,
}

/// What the RocksDB backend keeps besides its tables.
struct RocksBackend {
    store: Arc<RocksStore>,
    incremental: bool,
    /// Prefix of this instance's files under `shared/`: RocksDB names its files by number,
    /// unique within one instance only.
    instance: String,
    uploads: Arc<Mutex<Uploads>>,
}

impl<K> std::fmt::Debug for KeyedStateBackend<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.states.iter().map(|s| s.name.as_str()).collect();
        f.debug_struct("KeyedStateBackend").field("states", &names).field("rocksdb", &self.rocks.as_ref().map(|r| r.store.path())).finish()
    }
}

impl<K: Key> Default for KeyedStateBackend<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Key> KeyedStateBackend<K> {
    /// An empty heap backend.
    pub fn new() -> Self {
        Self {
            states: Vec::new(),
            pending: HashMap::new(),
            native_restores: Vec::new(),
            rocks: None,
            max_parallelism: super::UPPER_BOUND_MAX_PARALLELISM,
            _key: std::marker::PhantomData,
        }
    }

    /// Sets the backend up for the subtask: the number of key groups, and with
    /// `state.backend.type: rocksdb` a RocksDB instance under the configured local directory
    /// holding the restored state. `name` names the instance's directory.
    ///
    /// ```
    /// use strom_runtime::state::{KeyGroupRange, KeyedStateBackend, StateBackendConfig, StateBackendKind, ValueState};
    /// let dir = tempfile::tempdir()?;
    /// let config = StateBackendConfig { kind: StateBackendKind::RocksDb, incremental: false, local_dir: dir.path().into() };
    /// let mut backend = KeyedStateBackend::<u64>::new();
    /// backend.open(&config, 128, KeyGroupRange { start: 0, end: 127 }, "counter")?;
    /// let count = ValueState::<u64>::new("count");
    /// count.update(&mut backend.access(&7), 3);
    /// assert_eq!(count.get(&mut backend.access(&7)), Some(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(&mut self, config: &StateBackendConfig, max_parallelism: u32, key_groups: KeyGroupRange, name: &str) -> Result<()> {
        self.max_parallelism = max_parallelism;
        let restores = std::mem::take(&mut self.native_restores);
        if config.kind == StateBackendKind::HashMap {
            for r in restores {
                r.scan(key_groups, |kg, name, entry| {
                    self.pending.entry(name.to_string()).or_default().push((kg, entry));
                    Ok(())
                })?;
            }
            return Ok(());
        }
        if !self.states.is_empty() {
            return Err(Error::Internal("keyed state was used before the RocksDB backend opened".into()));
        }
        let store = match restores.as_slice() {
            [only] if only.key_groups == key_groups => only.open_copy(&config.local_dir, name)?,
            _ => {
                let store = RocksStore::create(&config.local_dir, name)?;
                for r in &restores {
                    let mut batch = rocksdb::WriteBatch::default();
                    r.scan(key_groups, |kg, name, entry| store.put_raw(&mut batch, kg, name, std::slice::from_ref(&entry)))?;
                    store.write_batch(batch)?;
                }
                store
            }
        };
        for (name, entries) in std::mem::take(&mut self.pending) {
            let mut batch = rocksdb::WriteBatch::default();
            for (kg, e) in entries {
                store.put_raw(&mut batch, kg, &name, std::slice::from_ref(&e))?;
            }
            store.write_batch(batch)?;
        }
        self.rocks = Some(RocksBackend {
            store: Arc::new(store),
            incremental: config.incremental,
            instance: crate::random_hex(12),
            uploads: Arc::default(),
        });
        Ok(())
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
        let table = match &self.rocks {
            Some(rocks) => {
                let id = rocks.store.state_id(name).unwrap_or_else(|e| panic!("registering state '{name}': {e}"));
                StateTable::Rocks(RocksTable::<K, V>::new(rocks.store.clone(), name, id, self.max_parallelism))
            }
            None => StateTable::Heap(match self.pending.remove(name) {
                Some(entries) => restore_table::<K, V>(name, entries).unwrap_or_else(|e| panic!("restoring state '{name}': {e}")),
                None => Table::<K, V>::new(),
            }),
        };
        self.states.push(Registered {
            name: name.to_string(),
            value_type: TypeId::of::<V>(),
            table: Box::new(table),
            key_count: key_count_of::<K, V>,
            snapshot: snapshot_of::<K, V>,
            flush: flush_of::<K, V>,
        });
        self.states.len() - 1
    }

    /// Writes back what RocksDB tables hold decoded.
    fn flush(&mut self) {
        for s in &mut self.states {
            (s.flush)(s.table.as_mut());
        }
    }

    /// Adds every state's entries, and the unclaimed restored ones, to `blocks` (the canonical
    /// form of savepoints and of heap checkpoints).
    pub(crate) fn snapshot_into(&mut self, max_parallelism: u32, blocks: &mut Blocks) -> Result<()> {
        self.flush();
        if let Some(rocks) = &self.rocks {
            let names = rocks.store.names();
            return rocks.store.scan(None, |kg, id, key, ns, value| {
                let name = names.get(id as usize).ok_or_else(|| Error::Internal(format!("RocksDB state id {id} has no name")))?;
                blocks.entry(kg).or_default().state(name).push(RawEntry { key: key.to_vec(), ns, value: value.to_vec() });
                Ok(())
            });
        }
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

    /// A native RocksDB checkpoint (hard links), to be uploaded asynchronously; `None` on the heap.
    pub(crate) fn native_snapshot(&mut self, checkpoint: CheckpointId) -> Result<Option<NativeSnapshot>> {
        self.flush();
        let Some(rocks) = &self.rocks else { return Ok(None) };
        let local = rocks.store.path().with_extension(format!("chk-{checkpoint}"));
        if local.exists() {
            // Left by a checkpoint whose upload never ran (the job failed meanwhile).
            std::fs::remove_dir_all(&local).map_err(|e| Error::io("removing", &local, e))?;
        }
        rocks.store.checkpoint(&local)?;
        Ok(Some(NativeSnapshot {
            checkpoint,
            local,
            states: rocks.store.names(),
            incremental: rocks.incremental,
            instance: rocks.instance.clone(),
            uploads: rocks.uploads.clone(),
        }))
    }

    /// Checkpoint `checkpoint` completed: its uploaded files may be referenced by the next
    /// incremental checkpoints.
    pub(crate) fn notify_checkpoint_complete(&mut self, checkpoint: CheckpointId) {
        if let Some(rocks) = &self.rocks {
            rocks.uploads.lock().expect("uploads lock").confirm(checkpoint);
        }
    }

    /// Takes restored entries of key group `kg`; they are read when a handle first asks.
    pub(crate) fn restore(&mut self, kg: u32, states: Vec<StateEntries>) {
        for s in states {
            self.pending.entry(s.name).or_default().extend(s.entries.into_iter().map(|e| (kg, e)));
        }
    }

    /// Takes native RocksDB state to restore when the backend opens.
    pub(crate) fn restore_native(&mut self, restores: Vec<NativeRestore>) {
        self.native_restores.extend(restores);
    }

    pub(crate) fn table_mut<V: 'static>(&mut self, id: usize) -> &mut StateTable<K, V> {
        self.states[id].table.downcast_mut().expect("state id resolved for this value type")
    }

    /// Access to state for `key` in the void namespace (for tests and simple operators).
    pub fn access<'a>(&'a mut self, key: &'a K) -> super::StateAccess<'a, K> {
        super::StateAccess::new(self, key, Namespace::VOID)
    }

    /// Number of keys with a value in the state called `name` (for tests and metrics).
    pub fn key_count(&mut self, name: &str) -> usize {
        self.flush();
        if let Some(rocks) = &self.rocks {
            let Some(id) = rocks.store.names().iter().position(|n| n == name) else { return 0 };
            return rocks.store.key_count(id as u16).unwrap_or_else(|e| panic!("counting keys of state '{name}': {e}"));
        }
        self.states.iter().find(|s| s.name == name).map_or(0, |s| (s.key_count)(s.table.as_ref()))
    }

    /// Compacts the whole RocksDB instance (tests of incremental checkpoints).
    #[cfg(test)]
    pub(crate) fn compact_for_tests(&mut self) {
        self.flush();
        if let Some(rocks) = &self.rocks {
            rocks.store.compact();
        }
    }

    /// Whether the state lives in RocksDB.
    pub fn is_rocksdb(&self) -> bool {
        self.rocks.is_some()
    }
}
