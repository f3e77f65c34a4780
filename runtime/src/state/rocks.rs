//! The RocksDB (`rocksdb`) keyed state backend: one RocksDB instance per operator subtask in a
//! local working directory (`io.tmp.dirs`).
//!
//! Keys are `key group (2 bytes) | state id (2 bytes) | key | namespace (16 bytes)`, big
//! endian, so one key group's state is one contiguous range (Flink puts the key group first for
//! the same reason: rescaling and canonical snapshots read whole key groups). The key and the
//! value are the same bytes the canonical snapshot holds, so a canonical snapshot is a scan
//! that decodes nothing, and restoring one is a sequence of writes.
//!
//! Typed access goes through [`RocksTable`], which keeps the entry last touched decoded: the
//! window operator and the interval join update values in place through `&mut V`, and those
//! changes are written back when another entry is touched, or before any snapshot. The write-
//! ahead log is off, as in Flink: checkpoints, not the log, make state durable.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rocksdb::{checkpoint::Checkpoint, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB};

use super::snapshot::RawEntry;
use super::{KeyGroupRange, Namespace};
use crate::error::{Error, Result};

/// Bytes of the key group and the state id in front of every key.
const PREFIX_LEN: usize = 4;
/// Bytes of the namespace at the end of every key.
const NS_LEN: usize = 16;

/// One RocksDB instance: the state of one keyed operator subtask.
pub(crate) struct RocksStore {
    db: DB,
    path: PathBuf,
    write: WriteOptions,
    /// State names by id; ids are the second part of every key.
    names: Mutex<Vec<String>>,
    /// Whether the directory is this instance's working directory (deleted on drop).
    owned: bool,
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore").field("path", &self.path).finish()
    }
}

impl Drop for RocksStore {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        // The working directory is scratch space: the state that matters is in checkpoints.
        let _ = DB::destroy(&Options::default(), &self.path);
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn rocks_error(what: &str, path: &Path, e: rocksdb::Error) -> Error {
    Error::State(format!("RocksDB {what} at {}: {e}", path.display()))
}

pub(crate) fn db_options() -> Options {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    // Few, larger files: fewer files to upload per incremental checkpoint.
    opts.set_target_file_size_base(64 << 20);
    opts
}

impl RocksStore {
    /// A new, empty instance in a fresh directory under `local_dir`.
    pub(crate) fn create(local_dir: &Path, name: &str) -> Result<Self> {
        let path = local_dir.join(format!("{name}-{}", crate::random_hex(12)));
        std::fs::create_dir_all(local_dir).map_err(|e| Error::io("creating the RocksDB working directory", local_dir, e))?;
        remove_stale_instances(local_dir);
        Self::open(path, Vec::new())
    }

    /// Opens the instance in `path` (created if missing) whose states are `names` by id.
    pub(crate) fn open(path: PathBuf, names: Vec<String>) -> Result<Self> {
        let db = DB::open(&db_options(), &path).map_err(|e| rocks_error("open", &path, e))?;
        let mut write = WriteOptions::default();
        write.disable_wal(true);
        Ok(Self { db, path, write, names: Mutex::new(names), owned: true })
    }

    /// The instance's working directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The id of state `name`, assigned on first use.
    pub(crate) fn state_id(&self, name: &str) -> Result<u16> {
        let mut names = self.names.lock().expect("state names lock");
        if let Some(i) = names.iter().position(|n| n == name) {
            return Ok(i as u16);
        }
        if names.len() >= u16::MAX as usize {
            return Err(Error::State(format!("too many states in one operator (registering '{name}')")));
        }
        names.push(name.to_string());
        Ok((names.len() - 1) as u16)
    }

    /// State names by id.
    pub(crate) fn names(&self) -> Vec<String> {
        self.names.lock().expect("state names lock").clone()
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<rocksdb::DBPinnableSlice<'_>>> {
        self.db.get_pinned(key).map_err(|e| rocks_error("read", &self.path, e))
    }

    pub(crate) fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.put_opt(key, value, &self.write).map_err(|e| rocks_error("write", &self.path, e))
    }

    pub(crate) fn delete(&self, key: &[u8]) -> Result<()> {
        self.db.delete_opt(key, &self.write).map_err(|e| rocks_error("delete", &self.path, e))
    }

    pub(crate) fn write_batch(&self, batch: WriteBatch) -> Result<()> {
        self.db.write_opt(batch, &self.write).map_err(|e| rocks_error("write", &self.path, e))
    }

    /// Writes canonical entries of state `name` in key group `kg`.
    pub(crate) fn put_raw(&self, batch: &mut WriteBatch, kg: u32, name: &str, entries: &[RawEntry]) -> Result<()> {
        let id = self.state_id(name)?;
        let mut key = Vec::new();
        for e in entries {
            encode_key_into(&mut key, kg, id, &e.key, e.ns);
            batch.put(&key, &e.value);
        }
        Ok(())
    }

    /// Every entry in key-group order, decoded into its parts: `f(kg, state id, key, ns, value)`.
    pub(crate) fn scan(
        &self,
        range: Option<KeyGroupRange>,
        mut f: impl FnMut(u32, u16, &[u8], Namespace, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let start = range.map_or(0, |r| r.start as u16).to_be_bytes();
        let iter = self.db.iterator(IteratorMode::From(&start, Direction::Forward));
        for item in iter {
            let (k, v) = item.map_err(|e| rocks_error("scan", &self.path, e))?;
            let Some((kg, id, key, ns)) = decode_key(&k) else {
                return Err(Error::State(format!("RocksDB at {} holds a malformed key of {} bytes", self.path.display(), k.len())));
            };
            if range.is_some_and(|r| kg > r.end) {
                break;
            }
            f(kg, id, key, ns, &v)?;
        }
        Ok(())
    }

    /// A native checkpoint in `dir` (which must not exist): memtables flushed, SST files hard-linked.
    pub(crate) fn checkpoint(&self, dir: &Path) -> Result<()> {
        let cp = Checkpoint::new(&self.db).map_err(|e| rocks_error("checkpoint", &self.path, e))?;
        cp.create_checkpoint(dir).map_err(|e| rocks_error(&format!("checkpoint into {}", dir.display()), &self.path, e))
    }

    /// Compacts everything into the bottom level (tests).
    #[cfg(test)]
    pub(crate) fn compact(&self) {
        self.db.compact_range::<&[u8], &[u8]>(None, None);
    }

    /// Number of distinct keys with a value in state `id` (for tests and metrics).
    pub(crate) fn key_count(&self, id: u16) -> Result<usize> {
        let mut count = 0;
        let mut last: Option<Vec<u8>> = None;
        self.scan(None, |_, sid, key, _, _| {
            if sid == id && last.as_deref() != Some(key) {
                count += 1;
                last = Some(key.to_vec());
            }
            Ok(())
        })?;
        Ok(count)
    }
}

/// Prefix of the working directories of RocksDB instances; the process id follows.
pub(crate) const INSTANCE_PREFIX: &str = "strom-rocksdb-";

/// Deletes working directories (and local checkpoints) that processes which no longer run
/// left under `local_dir`, as a TaskManager cleans its local directories after a crash: a
/// process killed with `kill -9` cannot clean up after itself. Linux only (`/proc`).
pub(crate) fn remove_stale_instances(local_dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(local_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(INSTANCE_PREFIX).and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            tracing::info!(path = %entry.path().display(), pid, "deleting the RocksDB working directory of a process that no longer runs");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Opens a native checkpoint's files read-only and calls `f` for every entry of `range`, with
/// state names instead of ids. Used to rescale and to restore into the heap backend.
pub(crate) fn scan_checkpoint_files(
    dir: &Path,
    names: &[String],
    range: KeyGroupRange,
    mut f: impl FnMut(u32, &str, RawEntry) -> Result<()>,
) -> Result<()> {
    let db = DB::open_for_read_only(&db_options(), dir, false).map_err(|e| rocks_error("open (read-only)", dir, e))?;
    let store = RocksStore { db, path: dir.to_path_buf(), write: WriteOptions::default(), names: Mutex::new(names.to_vec()), owned: false };
    store.scan(Some(range), |kg, id, key, ns, value| {
        let name =
            names.get(id as usize).ok_or_else(|| Error::State(format!("RocksDB state in {} has unknown state id {id}", dir.display())))?;
        f(kg, name, RawEntry { key: key.to_vec(), ns, value: value.to_vec() })
    })
}

/// Appends `kg | id | key | ns` to a cleared `out`.
pub(crate) fn encode_key_into(out: &mut Vec<u8>, kg: u32, id: u16, key: &[u8], ns: Namespace) {
    out.clear();
    out.extend_from_slice(&(kg as u16).to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&order_preserving(ns.start));
    out.extend_from_slice(&order_preserving(ns.end));
}

fn order_preserving(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

fn from_order_preserving(b: &[u8]) -> i64 {
    (u64::from_be_bytes(b.try_into().expect("8 bytes")) ^ (1 << 63)) as i64
}

fn decode_key(k: &[u8]) -> Option<(u32, u16, &[u8], Namespace)> {
    if k.len() < PREFIX_LEN + NS_LEN {
        return None;
    }
    let kg = u16::from_be_bytes([k[0], k[1]]) as u32;
    let id = u16::from_be_bytes([k[2], k[3]]);
    let ns_at = k.len() - NS_LEN;
    let ns = Namespace { start: from_order_preserving(&k[ns_at..ns_at + 8]), end: from_order_preserving(&k[ns_at + 8..]) };
    Some((kg, id, &k[PREFIX_LEN..ns_at], ns))
}
