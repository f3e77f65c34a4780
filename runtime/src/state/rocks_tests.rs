//! The RocksDB backend against the heap backend, and its native (incremental) checkpoints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::snapshot::{decode, Blocks};
use super::*;
use crate::checkpoint::{
    CheckpointId, CheckpointMetadata, CheckpointStorage, NativeRestore, OperatorSnapshot, OperatorState, StateFileHandle, SubtaskState,
};

const MAX_PARALLELISM: u32 = 128;
const ALL: KeyGroupRange = KeyGroupRange { start: 0, end: MAX_PARALLELISM - 1 };

fn rocks_config(dir: &Path, incremental: bool) -> StateBackendConfig {
    StateBackendConfig { kind: StateBackendKind::RocksDb, incremental, local_dir: dir.to_path_buf() }
}

fn open(config: &StateBackendConfig, range: KeyGroupRange, restore: Vec<NativeRestore>) -> KeyedStateBackend<u32> {
    let mut backend = KeyedStateBackend::new();
    backend.restore_native(restore);
    backend.open(config, MAX_PARALLELISM, range, "test").unwrap();
    backend
}

/// xorshift64*: deterministic operation sequences.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

struct Handles {
    value: ValueState<u64>,
    list: ListState<u32>,
    map: MapState<u8, u32>,
    max: ReducingState<u64>,
}

impl Handles {
    fn new() -> Self {
        Self {
            value: ValueState::new("value"),
            list: ListState::new("list"),
            map: MapState::new("map"),
            max: ReducingState::new("max", u64::max),
        }
    }

    /// Everything the handles read for `key` in `ns`.
    fn read(&self, backend: &mut KeyedStateBackend<u32>, key: u32, ns: Namespace) -> String {
        let mut s = StateAccess::new(backend, &key, ns);
        let mut map = self.map.entries(&mut s);
        map.sort();
        format!("{:?} {:?} {:?} {:?}", self.value.get(&mut s), self.list.get(&mut s), map, self.max.get(&mut s))
    }

    /// One random operation; returns what a read inside it returned.
    fn apply(&self, backend: &mut KeyedStateBackend<u32>, op: u64, key: u32, ns: Namespace, v: u64) -> String {
        let mut s = StateAccess::new(backend, &key, ns);
        match op {
            0 => self.value.update(&mut s, v),
            1 => return format!("{:?}", self.value.modify(&mut s, || 100, |x| std::mem::replace(x, *x + v))),
            2 => {
                if let Some(x) = self.value.get_mut(&mut s) {
                    *x *= 3;
                }
            }
            3 => return format!("{:?}", self.value.take(&mut s)),
            4 => self.list.add(&mut s, v as u32),
            5 => return format!("{:?}", self.list.take(&mut s)),
            6 => self.map.put(&mut s, (v % 5) as u8, v as u32),
            7 => return format!("{:?}", self.map.remove(&mut s, &((v % 5) as u8))),
            8 => self.max.add(&mut s, v),
            9 => self.max.clear(&mut s),
            _ => self.value.clear(&mut s),
        }
        String::new()
    }
}

/// Canonical blocks with each state's entries sorted (the heap iterates in hash order), and
/// map values re-encoded in key order (a serialized `HashMap` has its own iteration order).
fn canonical(backend: &mut KeyedStateBackend<u32>) -> Blocks {
    let mut blocks = Blocks::new();
    backend.snapshot_into(MAX_PARALLELISM, &mut blocks).unwrap();
    for block in blocks.values_mut() {
        block.states.sort_by(|a, b| a.name.cmp(&b.name));
        for s in &mut block.states {
            s.entries.sort_by(|a, b| (&a.key, a.ns).cmp(&(&b.key, b.ns)));
            if s.name == "map" {
                for e in &mut s.entries {
                    let map: std::collections::HashMap<u8, u32> = decode(&e.value, "map").unwrap();
                    e.value = super::snapshot::encode(&map.into_iter().collect::<BTreeMap<_, _>>()).unwrap();
                }
            }
        }
    }
    blocks
}

fn namespaces() -> [Namespace; 3] {
    [Namespace::VOID, Namespace { start: 0, end: 10 }, Namespace { start: -10, end: 0 }]
}

/// Random operations on both backends, with reads between them, and equal canonical snapshots.
#[test]
fn rocksdb_and_heap_backends_agree_on_every_operation() {
    let dir = tempfile::tempdir().unwrap();
    let mut heap = KeyedStateBackend::<u32>::new();
    heap.open(&StateBackendConfig::default(), MAX_PARALLELISM, ALL, "heap").unwrap();
    let mut rocks = open(&rocks_config(dir.path(), false), ALL, vec![]);
    assert!(rocks.is_rocksdb() && !heap.is_rocksdb());
    // Handles cache the id their backend gave them: one set per backend, as each operator
    // subtask has its own function instance.
    let (heap_handles, rocks_handles) = (Handles::new(), Handles::new());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for step in 0..20_000 {
        let (op, key, ns, v) = (rng.next(11), rng.next(40) as u32, namespaces()[rng.next(3) as usize], rng.next(1000));
        let a = heap_handles.apply(&mut heap, op, key, ns, v);
        let b = rocks_handles.apply(&mut rocks, op, key, ns, v);
        assert_eq!(a, b, "step {step}: op {op} on key {key}");
        if step % 7 == 0 {
            let k = rng.next(40) as u32;
            assert_eq!(heap_handles.read(&mut heap, k, ns), rocks_handles.read(&mut rocks, k, ns), "step {step}: read of key {k}");
        }
    }
    assert_eq!(canonical(&mut heap), canonical(&mut rocks));
    assert_eq!(heap.key_count("value"), rocks.key_count("value"));
}

/// Fills `backend` with values that depend on the key.
fn fill(backend: &mut KeyedStateBackend<u32>, keys: std::ops::Range<u32>, salt: u64) {
    let handles = Handles::new();
    for key in keys {
        let mut s = StateAccess::new(backend, &key, Namespace::VOID);
        handles.value.update(&mut s, u64::from(key) * 1000 + salt);
        handles.list.add(&mut s, key);
    }
}

fn read_all(backend: &mut KeyedStateBackend<u32>, keys: impl Iterator<Item = u32>) -> BTreeMap<u32, String> {
    let handles = Handles::new();
    keys.map(|k| (k, handles.read(backend, k, Namespace::VOID))).collect()
}

#[test]
fn canonical_snapshots_move_between_the_backends_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let mut rocks = open(&rocks_config(dir.path(), false), ALL, vec![]);
    fill(&mut rocks, 0..500, 7);
    let expected = read_all(&mut rocks, 0..500);
    let blocks = canonical(&mut rocks);
    // rocksdb -> hashmap
    let mut heap = KeyedStateBackend::<u32>::new();
    for (kg, block) in blocks.clone() {
        heap.restore(kg, block.states);
    }
    heap.open(&StateBackendConfig::default(), MAX_PARALLELISM, ALL, "heap").unwrap();
    assert_eq!(read_all(&mut heap, 0..500), expected);
    // hashmap -> rocksdb
    let mut back = KeyedStateBackend::<u32>::new();
    for (kg, block) in canonical(&mut heap) {
        back.restore(kg, block.states);
    }
    back.open(&rocks_config(dir.path(), false), MAX_PARALLELISM, ALL, "back").unwrap();
    assert_eq!(read_all(&mut back, 0..500), expected);
    assert_eq!(canonical(&mut back), blocks);
}

/// Takes a native checkpoint of `backend`, uploads it into `<root>/job/chk-<id>` and writes
/// `_metadata`; returns the handle and the sizes.
fn checkpoint(root: &Path, backend: &mut KeyedStateBackend<u32>, id: u64) -> (StateFileHandle, crate::checkpoint::StateSize) {
    let storage = CheckpointStorage::new(root, "job");
    let dir = storage.create_checkpoint_dir(CheckpointId(id)).unwrap();
    let native = backend.native_snapshot(CheckpointId(id)).unwrap().expect("rocksdb takes native snapshots");
    let snapshot = OperatorSnapshot { native: Some(native), ..OperatorSnapshot::default() };
    let (handle, size) = CheckpointStorage::write_subtask_state_sized(&dir, "op", 0, &snapshot).unwrap().unwrap();
    let subtasks = vec![SubtaskState { subtask: 0, key_groups: (ALL.start, ALL.end), file: Some(handle.clone()) }];
    let op = OperatorState { uid: "op".into(), name: "op".into(), parallelism: 1, max_parallelism: MAX_PARALLELISM, subtasks };
    let metadata =
        CheckpointMetadata { job_id: "job".into(), checkpoint_id: CheckpointId(id), timestamp: 0, savepoint: false, operators: vec![op] };
    CheckpointStorage::write_metadata(&dir, &metadata).unwrap();
    backend.notify_checkpoint_complete(CheckpointId(id));
    (handle, size)
}

fn restore_of(root: &Path, id: u64, handle: &StateFileHandle) -> NativeRestore {
    NativeRestore { dir: root.join("job").join(format!("chk-{id}")), handle: handle.native.clone().unwrap(), key_groups: ALL }
}

#[test]
fn a_native_checkpoint_restores_whole_rescaled_and_into_the_heap() {
    let (root, local) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = rocks_config(local.path(), false);
    let mut backend = open(&config, ALL, vec![]);
    fill(&mut backend, 0..2_000, 1);
    let expected = read_all(&mut backend, 0..2_000);
    let (handle, _) = checkpoint(root.path(), &mut backend, 1);
    assert!(handle.native.as_ref().unwrap().files.iter().all(|f| !f.is_shared()), "a full checkpoint shares nothing");
    // Changes after the checkpoint are not in it.
    fill(&mut backend, 0..2_000, 2);
    drop(backend);

    let mut whole = open(&config, ALL, vec![restore_of(root.path(), 1, &handle)]);
    assert_eq!(read_all(&mut whole, 0..2_000), expected);

    let halves = [KeyGroupRange { start: 0, end: 63 }, KeyGroupRange { start: 64, end: 127 }];
    let mut rocks_half = open(&config, halves[0], vec![restore_of(root.path(), 1, &handle)]);
    let mut heap_half = KeyedStateBackend::<u32>::new();
    heap_half.restore_native(vec![restore_of(root.path(), 1, &handle)]);
    heap_half.open(&StateBackendConfig::default(), MAX_PARALLELISM, halves[1], "heap").unwrap();
    let owned = |range: KeyGroupRange| (0..2_000u32).filter(move |k| range.contains(KeyGroup::of(k, MAX_PARALLELISM)));
    let in_range =
        |range| expected.iter().filter(|(k, _)| owned(range).any(|o| o == **k)).map(|(k, v)| (*k, v.clone())).collect::<BTreeMap<_, _>>();
    assert_eq!(read_all(&mut rocks_half, owned(halves[0])), in_range(halves[0]));
    assert_eq!(read_all(&mut heap_half, owned(halves[1])), in_range(halves[1]));
    // Key groups of the other half are not restored.
    assert_eq!(rocks_half.key_count("value") + heap_half.key_count("value"), 2_000);
}

fn shared_files(handle: &StateFileHandle) -> BTreeSet<String> {
    handle.native.as_ref().unwrap().files.iter().filter(|f| f.is_shared()).map(|f| f.path.clone()).collect()
}

#[test]
fn incremental_checkpoints_upload_only_new_files_and_cleanup_keeps_referenced_ones() {
    let (root, local) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let storage = CheckpointStorage::new(root.path(), "job");
    let config = rocks_config(local.path(), true);
    let mut backend = open(&config, ALL, vec![]);
    fill(&mut backend, 0..50_000, 1);
    let (first, size1) = checkpoint(root.path(), &mut backend, 1);
    assert!(!shared_files(&first).is_empty());
    assert_eq!(size1.checkpointed, size1.full, "the first checkpoint uploads everything");

    // A small change: the second checkpoint references the first one's SST files and uploads
    // only the SST file the flush of the change wrote (plus the small metadata files).
    fill(&mut backend, 0..100, 2);
    let (second, size2) = checkpoint(root.path(), &mut backend, 2);
    let (old, new) = (shared_files(&first), shared_files(&second));
    assert!(old.is_subset(&new), "{old:?} vs {new:?}");
    let added: Vec<_> = new.difference(&old).collect();
    assert_eq!(added.len(), 1, "one new SST file: {added:?}");
    let private: u64 = second.native.as_ref().unwrap().files.iter().filter(|f| !f.is_shared()).map(|f| f.size).sum();
    let added_size: u64 = second.native.as_ref().unwrap().files.iter().filter(|f| added.contains(&&f.path)).map(|f| f.size).sum();
    assert_eq!(size2.checkpointed, second.size + private + added_size);
    assert!(size2.checkpointed * 5 < size2.full, "{size2:?}");

    // Retaining only the second deletes the first, but no file the second references.
    storage.retain(1).unwrap();
    assert!(storage.collect_shared_garbage().unwrap().is_empty());
    CheckpointStorage::validate(&root.path().join("job/chk-2")).unwrap();

    // After a full compaction the old files are gone from the instance; once the checkpoint
    // that still references them is no longer retained, they are deleted.
    backend.compact_for_tests();
    let (third, _) = checkpoint(root.path(), &mut backend, 3);
    storage.retain(1).unwrap();
    let deleted: BTreeSet<String> = storage
        .collect_shared_garbage()
        .unwrap()
        .iter()
        .map(|p| format!("../shared/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    assert_eq!(deleted, new.difference(&shared_files(&third)).cloned().collect());
    CheckpointStorage::validate(&root.path().join("job/chk-3")).unwrap();
    let expected = read_all(&mut backend, 0..50_000);
    drop(backend);
    let mut restored = open(&config, ALL, vec![restore_of(root.path(), 3, &third)]);
    assert_eq!(read_all(&mut restored, 0..50_000), expected);
}

#[test]
fn a_corrupt_or_missing_rocksdb_file_is_reported_not_used() {
    let (root, local) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = rocks_config(local.path(), true);
    let mut backend = open(&config, ALL, vec![]);
    fill(&mut backend, 0..1_000, 1);
    let (handle, _) = checkpoint(root.path(), &mut backend, 1);
    let chk = root.path().join("job/chk-1");
    let sst = handle.native.as_ref().unwrap().files.iter().find(|f| f.is_shared()).unwrap().clone();
    let path = chk.join(&sst.path);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let mut broken = KeyedStateBackend::<u32>::new();
    broken.restore_native(vec![restore_of(root.path(), 1, &handle)]);
    let e = broken.open(&config, MAX_PARALLELISM, ALL, "broken").unwrap_err().to_string();
    assert!(e.contains(&sst.name) && e.contains("checksum"), "{e}");

    std::fs::remove_file(&path).unwrap();
    let e = CheckpointStorage::validate(&chk).unwrap_err().to_string();
    assert!(e.contains(&sst.name) && e.contains("missing"), "{e}");
}
