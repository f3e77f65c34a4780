//! The layout of checkpoints and savepoints on the shared directory (Flink's):
//!
//! ```text
//! <state.checkpoints.dir>/<job-id>/
//!     chk-<n>/_metadata                 written last and atomically: it makes chk-<n> complete
//!     chk-<n>/<uid>-<subtask>.state     one file per operator subtask with state
//!     shared/                           files several checkpoints reference (incremental RocksDB)
//!     taskowned/
//! <state.savepoints.dir>/savepoint-<first 6 chars of the job id>-<12 random hex digits>/
//!     _metadata
//!     <uid>-<subtask>.state
//! ```
//!
//! Every file name recorded in `_metadata` is relative to the checkpoint's own directory, so a
//! savepoint (or a retained checkpoint) can be moved or copied and restored from its new place.
//!
//! Both formats are little-endian and checksummed with CRC-32:
//! - `_metadata`: the magic `STROMCHK`, the format version (u32), the payload's length (u64),
//!   the payload ([`CheckpointMetadata`] in bincode), and the CRC-32 of everything before it.
//! - a state file: the magic `STROMSTA` and the format version (u32); then per key group its
//!   block followed by the block's CRC-32; then a tail with the list entries and the union
//!   entries (each a u32 count and u64-length-prefixed entries) followed by the tail's CRC-32.
//!   The [`StateFileHandle`] in `_metadata` records the file's size, its CRC-32 and where each
//!   key group's block lies. A full read checks the whole file's CRC-32; a restore at another
//!   parallelism reads only the blocks it needs and checks each block's own CRC-32.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::warn;

use super::{CheckpointId, CheckpointMetadata, OperatorSnapshot, StateSize};
use crate::error::{Error, Result};
use crate::state::{stable_hash, KeyGroup, KeyGroupRange};

const METADATA_FILE: &str = "_metadata";
const METADATA_IN_PROGRESS: &str = "_metadata.inprogress";
const METADATA_MAGIC: &[u8; 8] = b"STROMCHK";
const METADATA_VERSION: u32 = 2;
/// Magic, version and payload length.
const METADATA_HEADER_LEN: usize = 20;

const STATE_MAGIC: &[u8; 8] = b"STROMSTA";
const STATE_VERSION: u32 = 1;
/// Magic and version.
const STATE_HEADER_LEN: u64 = 12;
/// Two entry counts and the checksum: the smallest tail.
const STATE_MIN_TAIL_LEN: u64 = 12;
const CRC_LEN: u64 = 4;

const SHARED_DIR: &str = "shared";
const TASK_OWNED_DIR: &str = "taskowned";
const CHECKPOINT_PREFIX: &str = "chk-";
/// Longest part of an operator uid kept in a state file's name.
const MAX_UID_IN_FILE_NAME: usize = 64;

/// A state file of a checkpoint, as recorded in `_metadata`.
///
/// Written by [`CheckpointStorage::write_subtask_state`] and read back by
/// [`CheckpointStorage::read_subtask_state`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFileHandle {
    /// The file's name, relative to the checkpoint's (or savepoint's) directory.
    pub file: String,
    /// The file's size in bytes.
    pub size: u64,
    /// The CRC-32 of the whole file.
    pub crc32: u32,
    /// Per key group, ascending: `(key group, offset of its block, length of its block)`.
    pub key_groups: Vec<(u32, u64, u64)>,
    /// How many operator list state entries the file holds.
    pub list_entries: u32,
    /// How many operator union state entries the file holds.
    pub union_entries: u32,
    /// Keyed state as native RocksDB files (checkpoints of the `rocksdb` backend).
    pub native: Option<super::NativeStateHandle>,
}

/// The checkpoints of one job under `state.checkpoints.dir`, and the functions that read and
/// write checkpoint and savepoint directories.
///
/// A checkpoint is complete once its `_metadata` exists: tasks write their state files into
/// the directory first, then the coordinator writes `_metadata` atomically.
///
/// ```
/// use strom_runtime::checkpoint::{CheckpointId, CheckpointMetadata, CheckpointStorage, OperatorSnapshot};
///
/// let root = tempfile::tempdir()?;
/// let storage = CheckpointStorage::new(root.path(), "3f2a9c41d7e0");
/// let dir = storage.create_checkpoint_dir(CheckpointId(1))?;
/// assert_eq!(dir, root.path().join("3f2a9c41d7e0/chk-1"));
///
/// // A task writes its state...
/// let mut snapshot = OperatorSnapshot::default();
/// snapshot.keyed.insert(7, b"state of key group 7".to_vec());
/// let handle = CheckpointStorage::write_subtask_state(&dir, "counter", 0, &snapshot)?.expect("not empty");
///
/// // ...the coordinator completes the checkpoint...
/// let metadata = CheckpointMetadata {
///     job_id: "3f2a9c41d7e0".into(),
///     checkpoint_id: CheckpointId(1),
///     timestamp: 0,
///     savepoint: false,
///     operators: vec![],
/// };
/// CheckpointStorage::write_metadata(&dir, &metadata)?;
///
/// // ...and a restore finds it.
/// let (latest, latest_dir) = storage.latest_valid()?.expect("one complete checkpoint");
/// assert_eq!((latest, latest_dir), (metadata, dir.clone()));
/// assert_eq!(CheckpointStorage::read_subtask_state(&dir, &handle, None)?, snapshot);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CheckpointStorage {
    job_dir: PathBuf,
}

/// A `chk-<n>` directory of a job and whether it is complete (has `_metadata`).
#[derive(Debug)]
struct CheckpointDir {
    id: CheckpointId,
    path: PathBuf,
    complete: bool,
}

impl CheckpointStorage {
    /// The checkpoints of job `job_id` under `checkpoints_dir` (`state.checkpoints.dir`: a path
    /// or a `file://` URI).
    ///
    /// ```
    /// use strom_runtime::checkpoint::CheckpointStorage;
    /// let storage = CheckpointStorage::new("file:///mnt/checkpoints", "3f2a9c41d7e0");
    /// assert_eq!(storage.job_dir(), std::path::Path::new("/mnt/checkpoints/3f2a9c41d7e0"));
    /// ```
    pub fn new(checkpoints_dir: impl Into<PathBuf>, job_id: &str) -> Self {
        Self { job_dir: strip_file_scheme(&checkpoints_dir.into()).join(job_id) }
    }

    /// `<state.checkpoints.dir>/<job-id>`.
    pub fn job_dir(&self) -> &Path {
        &self.job_dir
    }

    /// `<state.checkpoints.dir>/<job-id>/chk-<id>`.
    ///
    /// ```
    /// use strom_runtime::checkpoint::{CheckpointId, CheckpointStorage};
    /// let storage = CheckpointStorage::new("/mnt/checkpoints", "3f2a9c41d7e0");
    /// assert_eq!(storage.checkpoint_dir(CheckpointId(7)), std::path::Path::new("/mnt/checkpoints/3f2a9c41d7e0/chk-7"));
    /// ```
    pub fn checkpoint_dir(&self, id: CheckpointId) -> PathBuf {
        self.job_dir.join(format!("{CHECKPOINT_PREFIX}{id}"))
    }

    /// Creates the directory of checkpoint `id` (and the job's `shared/` and `taskowned/`
    /// directories) and returns it.
    ///
    /// ```
    /// use strom_runtime::checkpoint::{CheckpointId, CheckpointStorage};
    /// let root = tempfile::tempdir()?;
    /// let storage = CheckpointStorage::new(root.path(), "job");
    /// let dir = storage.create_checkpoint_dir(CheckpointId(3))?;
    /// assert!(dir.is_dir() && root.path().join("job/shared").is_dir() && root.path().join("job/taskowned").is_dir());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_checkpoint_dir(&self, id: CheckpointId) -> Result<PathBuf> {
        for sub in [SHARED_DIR, TASK_OWNED_DIR] {
            create_dir(&self.job_dir.join(sub))?;
        }
        let dir = self.checkpoint_dir(id);
        create_dir(&dir)?;
        Ok(dir)
    }

    /// A fresh savepoint directory under `savepoints_root` (`state.savepoints.dir`):
    /// `savepoint-<first 6 chars of the job id>-<12 random hex digits>`. Not created.
    ///
    /// ```
    /// use strom_runtime::checkpoint::CheckpointStorage;
    /// let dir = CheckpointStorage::savepoint_dir("/mnt/savepoints".as_ref(), "3f2a9c41d7e0");
    /// let name = dir.file_name().unwrap().to_str().unwrap();
    /// assert!(name.starts_with("savepoint-3f2a9c-") && name.len() == "savepoint-3f2a9c-".len() + 12);
    /// assert_ne!(dir, CheckpointStorage::savepoint_dir("/mnt/savepoints".as_ref(), "3f2a9c41d7e0"));
    /// ```
    pub fn savepoint_dir(savepoints_root: &Path, job_id: &str) -> PathBuf {
        let prefix: String = job_id.chars().take(6).map(file_name_char).collect();
        strip_file_scheme(savepoints_root).join(format!("savepoint-{prefix}-{}", crate::random_hex(12)))
    }

    /// Writes one operator subtask's state into `dir` as `<uid>-<subtask>.state` (the uid made
    /// a safe file name), synced to disk. Returns `None`, writing nothing, for an empty snapshot.
    ///
    /// ```
    /// use strom_runtime::checkpoint::{CheckpointStorage, OperatorSnapshot};
    /// let dir = tempfile::tempdir()?;
    /// let snapshot = OperatorSnapshot { list: vec![b"offset 42".to_vec()], ..Default::default() };
    /// let handle = CheckpointStorage::write_subtask_state(dir.path(), "file-source", 1, &snapshot)?.unwrap();
    /// assert_eq!((handle.file.as_str(), handle.list_entries), ("file-source-1.state", 1));
    /// assert_eq!(CheckpointStorage::write_subtask_state(dir.path(), "map", 0, &OperatorSnapshot::default())?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_subtask_state(dir: &Path, uid: &str, subtask: u32, snapshot: &OperatorSnapshot) -> Result<Option<StateFileHandle>> {
        Ok(Self::write_subtask_state_sized(dir, uid, subtask, snapshot)?.map(|(handle, _)| handle))
    }

    /// [`write_subtask_state`](Self::write_subtask_state), uploading native RocksDB files too,
    /// with the sizes: all state the handle references, and what this checkpoint wrote.
    pub(crate) fn write_subtask_state_sized(
        dir: &Path,
        uid: &str,
        subtask: u32,
        snapshot: &OperatorSnapshot,
    ) -> Result<Option<(StateFileHandle, StateSize)>> {
        if snapshot.is_empty() {
            return Ok(None);
        }
        let list_entries = entry_count(&snapshot.list, uid)?;
        let union_entries = entry_count(&snapshot.union, uid)?;
        let file = state_file_name(uid, subtask);
        let native = match &snapshot.native {
            Some(native) => Some(native.upload(dir, &file.replace(".state", ".rocksdb"))?),
            None => None,
        };
        let WrittenState { size, crc32, key_groups } = write_synced(&dir.join(&file), |w| write_state(w, snapshot))?;
        let sizes = StateSize {
            full: size + native.as_ref().map_or(0, |n| n.full_size),
            checkpointed: size + native.as_ref().map_or(0, |n| n.checkpointed_size),
        };
        let native = native.map(|n| n.handle);
        Ok(Some((StateFileHandle { file, size, crc32, key_groups, list_entries, union_entries, native }, sizes)))
    }

    /// Reads a state file of the checkpoint in `dir`: the key groups in `key_groups` (all if
    /// `None`) and all list and union entries. Fails, naming the file, when it is missing, has
    /// another size than recorded, or fails its checksum.
    ///
    /// ```
    /// use strom_runtime::checkpoint::{CheckpointStorage, OperatorSnapshot};
    /// use strom_runtime::state::KeyGroupRange;
    /// let dir = tempfile::tempdir()?;
    /// let mut snapshot = OperatorSnapshot::default();
    /// for kg in 0..4 {
    ///     snapshot.keyed.insert(kg, vec![kg as u8; 10]);
    /// }
    /// let handle = CheckpointStorage::write_subtask_state(dir.path(), "sum", 0, &snapshot)?.unwrap();
    /// let half = CheckpointStorage::read_subtask_state(dir.path(), &handle, Some(KeyGroupRange { start: 2, end: 3 }))?;
    /// assert_eq!(half.keyed.keys().copied().collect::<Vec<_>>(), [2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_subtask_state(dir: &Path, handle: &StateFileHandle, key_groups: Option<KeyGroupRange>) -> Result<OperatorSnapshot> {
        let path = state_file_path(dir, &handle.file)?;
        let tail_start = check_layout(&path, handle)?;
        let wanted: Vec<_> = handle.key_groups.iter().filter(|(kg, ..)| key_groups.is_none_or(|r| r.contains(KeyGroup(*kg)))).collect();
        let mut file = if wanted.len() == handle.key_groups.len() {
            StateFileReader::load(path, handle)?
        } else {
            StateFileReader::open(path, handle)?
        };
        file.check_header()?;
        let mut snapshot = OperatorSnapshot::default();
        for &&(kg, offset, len) in &wanted {
            snapshot.keyed.insert(kg, file.read_checked(offset, len, &format!("key group {kg}"))?);
        }
        (snapshot.list, snapshot.union) = file.read_tail(tail_start)?;
        let counts = (snapshot.list.len(), snapshot.union.len());
        if counts != (handle.list_entries as usize, handle.union_entries as usize) {
            return Err(corrupt(
                &file.path,
                format!(
                    "holds {} list and {} union entries but _metadata says {} and {}",
                    counts.0, counts.1, handle.list_entries, handle.union_entries
                ),
            ));
        }
        Ok(snapshot)
    }

    /// Writes `_metadata` into `dir` atomically (a temporary file, synced, renamed, and the
    /// directory synced): from then on the checkpoint is complete.
    pub fn write_metadata(dir: &Path, metadata: &CheckpointMetadata) -> Result<()> {
        let payload = bincode::serde::encode_to_vec(metadata, bincode::config::standard())
            .map_err(|e| Error::Serialization(format!("encoding the metadata of checkpoint {}: {e}", metadata.checkpoint_id)))?;
        let mut bytes = Vec::with_capacity(METADATA_HEADER_LEN + payload.len() + CRC_LEN as usize);
        bytes.extend_from_slice(METADATA_MAGIC);
        bytes.extend_from_slice(&METADATA_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
        let in_progress = dir.join(METADATA_IN_PROGRESS);
        write_synced(&in_progress, |w| w.write_all(&bytes))?;
        let path = dir.join(METADATA_FILE);
        fs::rename(&in_progress, &path).map_err(|e| Error::io("renaming to _metadata", &in_progress, e))?;
        sync_dir(dir)
    }

    /// Reads `_metadata` from the checkpoint or savepoint directory `dir`. The error names the
    /// file and says what is wrong: missing (the checkpoint is incomplete), truncated, not a
    /// metadata file, an unknown format version, a checksum mismatch, or undecodable.
    ///
    /// ```
    /// use strom_runtime::checkpoint::CheckpointStorage;
    /// let dir = tempfile::tempdir()?;
    /// let e = CheckpointStorage::read_metadata(dir.path()).unwrap_err();
    /// assert!(e.to_string().contains("_metadata: missing: the checkpoint is incomplete"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_metadata(dir: &Path) -> Result<CheckpointMetadata> {
        if let Err(e) = fs::metadata(dir) {
            return Err(match e.kind() {
                io::ErrorKind::NotFound => corrupt(dir, "no such checkpoint or savepoint directory"),
                _ => Error::io("opening", dir, e),
            });
        }
        let path = dir.join(METADATA_FILE);
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => corrupt(
                &path,
                "missing: the checkpoint is incomplete (it was abandoned before all tasks acknowledged, or is still being taken)",
            ),
            _ => Error::io("reading", &path, e),
        })?;
        decode_metadata(&path, &bytes)
    }

    /// Reads `_metadata` and checks that every state file it references exists with the
    /// recorded size and checksum. Returns the metadata.
    pub fn validate(dir: &Path) -> Result<CheckpointMetadata> {
        let metadata = Self::read_metadata(dir)?;
        let handles = metadata.operators.iter().flat_map(|op| &op.subtasks).filter_map(|s| s.file.as_ref());
        for handle in handles {
            check_state_file(&state_file_path(dir, &handle.file)?, handle)?;
            for file in handle.native.iter().flat_map(|n| &n.files) {
                check_native_file(dir, file)?;
            }
        }
        Ok(metadata)
    }

    /// Deletes the files under `shared/` that no complete checkpoint of this job references
    /// (run after [`retain`](Self::retain), when no checkpoint is in flight). Deletes nothing
    /// when a checkpoint's `_metadata` cannot be read: better a leftover file than a lost one.
    /// Returns the deleted files.
    pub fn collect_shared_garbage(&self) -> Result<Vec<PathBuf>> {
        let shared = self.job_dir.join(SHARED_DIR);
        let entries = match fs::read_dir(&shared) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("listing", &shared, e)),
        };
        let mut referenced = std::collections::HashSet::new();
        for (id, dir) in self.completed_checkpoints()? {
            match Self::read_metadata(&dir) {
                Ok(metadata) => {
                    let files = metadata.operators.iter().flat_map(|op| &op.subtasks).filter_map(|s| s.file.as_ref());
                    let native = files.flat_map(|f| f.native.iter().flat_map(|n| &n.files));
                    referenced
                        .extend(native.filter_map(|f| f.path.strip_prefix(super::native::SHARED_FROM_CHECKPOINT).map(str::to_string)));
                }
                Err(e) => {
                    warn!(checkpoint = id.0, error = %e.report(), "not deleting unreferenced shared state: a checkpoint's _metadata is unreadable");
                    return Ok(Vec::new());
                }
            }
        }
        let mut deleted = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", &shared, e))?;
            if !referenced.contains(entry.file_name().to_string_lossy().as_ref()) {
                fs::remove_file(entry.path()).map_err(|e| Error::io("deleting", entry.path(), e))?;
                deleted.push(entry.path());
            }
        }
        deleted.sort();
        Ok(deleted)
    }

    /// The complete checkpoints (`chk-<n>` directories with `_metadata`) of this job, oldest
    /// first. None if the job directory does not exist.
    pub fn completed_checkpoints(&self) -> Result<Vec<(CheckpointId, PathBuf)>> {
        Ok(self.checkpoint_dirs()?.into_iter().filter(|d| d.complete).map(|d| (d.id, d.path)).collect())
    }

    /// The newest complete checkpoint that passes [`validate`](Self::validate), with its
    /// directory. A damaged one is skipped with a warning naming it, the problem, and the
    /// checkpoint tried next. `None` when there is no valid one.
    pub fn latest_valid(&self) -> Result<Option<(CheckpointMetadata, PathBuf)>> {
        let completed = self.completed_checkpoints()?;
        for (i, (_, dir)) in completed.iter().enumerate().rev() {
            match Self::validate(dir) {
                Ok(metadata) => return Ok(Some((metadata, dir.clone()))),
                Err(e) => {
                    let fallback =
                        i.checked_sub(1).map_or_else(|| "none".to_string(), |j| format!("{CHECKPOINT_PREFIX}{}", completed[j].0));
                    warn!(checkpoint = %dir.display(), error = %e.report(), fallback, "skipping an invalid checkpoint, falling back to an older one");
                }
            }
        }
        Ok(None)
    }

    /// Deletes the complete checkpoints older than the newest `num_retained`, and the
    /// incomplete `chk-<n>` directories older than the newest complete checkpoint (abandoned,
    /// or subsumed by a newer complete one as in Flink). Returns the deleted directories,
    /// oldest first. The files under `shared/` are not touched.
    ///
    /// ```
    /// use strom_runtime::checkpoint::{CheckpointId, CheckpointMetadata, CheckpointStorage};
    /// let root = tempfile::tempdir()?;
    /// let storage = CheckpointStorage::new(root.path(), "job");
    /// for n in 1..=3 {
    ///     let dir = storage.create_checkpoint_dir(CheckpointId(n))?;
    ///     let metadata = CheckpointMetadata { job_id: "job".into(), checkpoint_id: CheckpointId(n), timestamp: 0, savepoint: false, operators: vec![] };
    ///     CheckpointStorage::write_metadata(&dir, &metadata)?;
    /// }
    /// assert_eq!(storage.retain(2)?, [storage.checkpoint_dir(CheckpointId(1))]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retain(&self, num_retained: usize) -> Result<Vec<PathBuf>> {
        if num_retained == 0 {
            return Err(Error::config("state.checkpoints.num-retained", "must be at least 1, got 0"));
        }
        let dirs = self.checkpoint_dirs()?;
        let completed: Vec<CheckpointId> = dirs.iter().filter(|d| d.complete).map(|d| d.id).collect();
        let Some(&newest) = completed.last() else {
            return Ok(Vec::new());
        };
        let oldest_retained = completed[completed.len().saturating_sub(num_retained)];
        let mut deleted = Vec::new();
        for dir in dirs {
            if (dir.complete && dir.id < oldest_retained) || (!dir.complete && dir.id < newest) {
                delete_checkpoint_dir(&dir)?;
                deleted.push(dir.path);
            }
        }
        Ok(deleted)
    }

    /// The directory to restore from, given a savepoint directory, a `chk-<n>` directory, or
    /// a `_metadata` file, each as a path or a `file://` URI. Does not check that `_metadata`
    /// exists: [`read_metadata`](Self::read_metadata) says what is wrong with it.
    ///
    /// ```
    /// use strom_runtime::checkpoint::CheckpointStorage;
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("_metadata"), b"")?;
    /// let uri = format!("file://{}", dir.path().join("_metadata").display());
    /// assert_eq!(CheckpointStorage::resolve_restore_path(uri.as_ref())?, dir.path());
    /// assert_eq!(CheckpointStorage::resolve_restore_path(dir.path())?, dir.path());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve_restore_path(path: &Path) -> Result<PathBuf> {
        let path = strip_file_scheme(path);
        let meta = fs::metadata(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::Usage(format!("no savepoint or checkpoint at {}: no such file or directory", path.display())),
            _ => Error::io("opening", &path, e),
        })?;
        if meta.is_file() {
            return match (path.file_name(), path.parent()) {
                (Some(name), Some(parent)) if name == METADATA_FILE => Ok(parent.to_path_buf()),
                _ => Err(Error::Usage(format!(
                    "{} is a file but not a _metadata file: pass a savepoint directory, a chk-<n> directory or its _metadata",
                    path.display()
                ))),
            };
        }
        if !path.join(METADATA_FILE).exists() {
            let job = Self { job_dir: path.clone() };
            if let Some((id, _)) = job.completed_checkpoints()?.pop() {
                return Err(Error::Usage(format!(
                    "{} is a job's checkpoint directory: pass one of its chk-<n> directories (the newest complete one is {CHECKPOINT_PREFIX}{id})",
                    path.display()
                )));
            }
        }
        Ok(path)
    }

    /// The `chk-<n>` directories of the job, oldest first.
    fn checkpoint_dirs(&self) -> Result<Vec<CheckpointDir>> {
        let entries = match fs::read_dir(&self.job_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("listing", &self.job_dir, e)),
        };
        let mut dirs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", &self.job_dir, e))?;
            let Some(id) = entry.file_name().to_str().and_then(parse_checkpoint_dir_name) else {
                continue;
            };
            let path = entry.path();
            if path.is_dir() {
                let complete = path.join(METADATA_FILE).is_file();
                dirs.push(CheckpointDir { id, path, complete });
            }
        }
        dirs.sort_by_key(|d| d.id);
        Ok(dirs)
    }
}

/// `chk-<n>` → `n`.
fn parse_checkpoint_dir_name(name: &str) -> Option<CheckpointId> {
    let digits = name.strip_prefix(CHECKPOINT_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(CheckpointId)
}

/// Deletes a checkpoint directory, `_metadata` first: a deletion cut short leaves an
/// incomplete checkpoint, which is never restored from and is deleted next time.
fn delete_checkpoint_dir(dir: &CheckpointDir) -> Result<()> {
    let metadata = dir.path.join(METADATA_FILE);
    if dir.complete {
        fs::remove_file(&metadata).map_err(|e| Error::io("deleting", &metadata, e))?;
    }
    fs::remove_dir_all(&dir.path).map_err(|e| Error::io("deleting", &dir.path, e))
}

/// `file:///a/b` and `file:/a/b` → `/a/b`; anything else unchanged.
fn strip_file_scheme(path: &Path) -> PathBuf {
    match path.to_str() {
        Some(s) if s.starts_with("file://") => PathBuf::from(&s["file://".len()..]),
        Some(s) if s.starts_with("file:/") => PathBuf::from(&s["file:".len()..]),
        _ => path.to_path_buf(),
    }
}

fn file_name_char(c: char) -> char {
    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
        c
    } else {
        '_'
    }
}

/// `<uid>-<subtask>.state`, where a uid that is not a safe file name (or is long) is replaced
/// by a safe prefix and a hash of the whole uid, so different uids keep different files.
fn state_file_name(uid: &str, subtask: u32) -> String {
    let mut name: String = uid.chars().take(MAX_UID_IN_FILE_NAME).map(file_name_char).collect();
    if name != uid || name.is_empty() {
        let base = if name.is_empty() { "operator" } else { &name };
        name = format!("{base}-{:08x}", stable_hash(uid) as u32);
    }
    format!("{name}-{subtask}.state")
}

/// The path of a state file named in `_metadata`; a name that leaves the directory is refused.
fn state_file_path(dir: &Path, file: &str) -> Result<PathBuf> {
    let plain = !file.is_empty() && file != "." && file != ".." && !file.contains(['/', '\\']);
    if !plain {
        return Err(corrupt(
            &dir.join(METADATA_FILE),
            format!("state file name {file:?} is not a plain file name inside the checkpoint directory"),
        ));
    }
    Ok(dir.join(file))
}

fn corrupt(path: &Path, problem: impl Into<String>) -> Error {
    Error::CorruptCheckpoint { path: path.to_path_buf(), problem: problem.into() }
}

fn missing_state_file(path: &Path) -> Error {
    corrupt(path, "missing (the checkpoint's _metadata references it)")
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))
}

/// Creates `path`, lets `write` fill it through a buffer, and syncs it to disk.
fn write_synced<T>(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> io::Result<T>) -> Result<T> {
    let file = File::create(path).map_err(|e| Error::io("creating", path, e))?;
    let mut writer = BufWriter::new(file);
    let value = write(&mut writer).map_err(|e| Error::io("writing", path, e))?;
    let file = writer.into_inner().map_err(|e| Error::io("writing", path, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io("syncing", path, e))?;
    Ok(value)
}

/// Syncs a directory, so that a rename in it survives a crash.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io("syncing", dir, e))
}

fn entry_count(entries: &[Vec<u8>], uid: &str) -> Result<u32> {
    u32::try_from(entries.len()).map_err(|_| Error::Internal(format!("operator {uid} has more than {} state entries", u32::MAX)))
}

fn decode_metadata(path: &Path, bytes: &[u8]) -> Result<CheckpointMetadata> {
    if bytes.len() < METADATA_MAGIC.len() || &bytes[..METADATA_MAGIC.len()] != METADATA_MAGIC {
        return Err(if METADATA_MAGIC.starts_with(bytes) {
            corrupt(path, format!("truncated: {} bytes, shorter than the header", bytes.len()))
        } else {
            corrupt(path, "not a Strom checkpoint metadata file (bad magic)")
        });
    }
    let mut header = ByteReader::new(&bytes[METADATA_MAGIC.len()..]);
    let (Some(version), Some(payload_len)) = (header.u32(), header.u64()) else {
        return Err(corrupt(path, format!("truncated: {} bytes, shorter than the header", bytes.len())));
    };
    if version != METADATA_VERSION {
        return Err(corrupt(path, format!("unknown metadata format version {version} (this build reads version {METADATA_VERSION})")));
    }
    let expected = (METADATA_HEADER_LEN as u64).saturating_add(payload_len).saturating_add(CRC_LEN);
    if bytes.len() as u64 != expected {
        let what = if (bytes.len() as u64) < expected { "truncated" } else { "trailing bytes" };
        return Err(corrupt(path, format!("{what}: {} bytes but the header announces {expected}", bytes.len())));
    }
    let (content, trailer) = bytes.split_at(bytes.len() - CRC_LEN as usize);
    let (actual, recorded) = (crc32fast::hash(content), u32::from_le_bytes(trailer.try_into().expect("4 bytes")));
    if actual != recorded {
        return Err(corrupt(
            path,
            format!("checksum mismatch: crc32 is {actual:#010x} but {recorded:#010x} was recorded; the file is corrupt"),
        ));
    }
    let payload = &content[METADATA_HEADER_LEN..];
    match bincode::serde::decode_from_slice::<CheckpointMetadata, _>(payload, bincode::config::standard()) {
        Ok((metadata, used)) if used == payload.len() => Ok(metadata),
        Ok((_, used)) => Err(corrupt(path, format!("cannot decode the metadata: {} bytes left over", payload.len() - used))),
        Err(e) => Err(corrupt(path, format!("cannot decode the metadata: {e}"))),
    }
}

/// Operator list or union state entries.
type Entries = Vec<Vec<u8>>;

/// What writing a state file produced, for its handle.
#[derive(Debug)]
struct WrittenState {
    size: u64,
    crc32: u32,
    key_groups: Vec<(u32, u64, u64)>,
}

/// Counts the bytes written and their CRC-32.
struct ChecksumWriter<'a, W> {
    inner: &'a mut W,
    crc: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> ChecksumWriter<'_, W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.crc.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// Writes a state file.
fn write_state<W: Write>(inner: &mut W, snapshot: &OperatorSnapshot) -> io::Result<WrittenState> {
    let mut out = ChecksumWriter { inner, crc: crc32fast::Hasher::new(), written: 0 };
    out.put(STATE_MAGIC)?;
    out.put(&STATE_VERSION.to_le_bytes())?;
    let mut key_groups = Vec::with_capacity(snapshot.keyed.len());
    for (&kg, block) in &snapshot.keyed {
        key_groups.push((kg, out.written, block.len() as u64));
        out.put(block)?;
        out.put(&crc32fast::hash(block).to_le_bytes())?;
    }
    let mut tail = Vec::new();
    for entries in [&snapshot.list, &snapshot.union] {
        tail.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for entry in entries {
            tail.extend_from_slice(&(entry.len() as u64).to_le_bytes());
            tail.extend_from_slice(entry);
        }
    }
    out.put(&tail)?;
    out.put(&crc32fast::hash(&tail).to_le_bytes())?;
    Ok(WrittenState { size: out.written, crc32: out.crc.finalize(), key_groups })
}

/// Checks that the handle describes a possible file: blocks in order, after the header and
/// inside the file, room for the tail. Returns where the tail starts.
fn check_layout(path: &Path, handle: &StateFileHandle) -> Result<u64> {
    let mut end = STATE_HEADER_LEN;
    let mut previous: Option<u32> = None;
    for &(kg, offset, len) in &handle.key_groups {
        let block_end = offset.checked_add(len).and_then(|e| e.checked_add(CRC_LEN));
        let ordered = previous.is_none_or(|p| p < kg) && offset >= end;
        match block_end {
            Some(block_end) if ordered && block_end <= handle.size => end = block_end,
            _ => {
                return Err(corrupt(
                    path,
                    format!("_metadata places key group {kg} at {offset}+{len}, which is not a valid place in the file"),
                ))
            }
        }
        previous = Some(kg);
    }
    if handle.size < end + STATE_MIN_TAIL_LEN {
        return Err(corrupt(path, format!("_metadata says the file has {} bytes, too few for what it lists", handle.size)));
    }
    Ok(end)
}

/// Checks that a native RocksDB file exists with its recorded size (its checksum is checked
/// when it is restored: reading every SST file of a large state here would slow failover).
fn check_native_file(dir: &Path, file: &super::NativeFile) -> Result<()> {
    let path = dir.join(&file.path);
    let plain = !file.path.contains('\\')
        && file.path.split('/').enumerate().all(|(i, part)| part != "." && (part != ".." || (i == 0 && file.is_shared())));
    if !plain {
        return Err(corrupt(&dir.join(METADATA_FILE), format!("RocksDB file path {:?} leaves the job's directory", file.path)));
    }
    match fs::metadata(&path) {
        Ok(meta) if meta.len() == file.size => Ok(()),
        Ok(meta) => Err(corrupt(&path, format!("RocksDB file has {} bytes but _metadata says {}", meta.len(), file.size))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(missing_state_file(&path)),
        Err(e) => Err(Error::io("reading", &path, e)),
    }
}

/// Streams a state file through CRC-32 and checks it and the size against the handle.
fn check_state_file(path: &Path, handle: &StateFileHandle) -> Result<()> {
    let mut file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => missing_state_file(path),
        _ => Error::io("opening", path, e),
    })?;
    let size = file.metadata().map_err(|e| Error::io("reading", path, e))?.len();
    check_size(path, size, handle)?;
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io("reading", path, e))?;
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
    }
    check_crc(path, crc.finalize(), handle)
}

fn check_size(path: &Path, size: u64, handle: &StateFileHandle) -> Result<()> {
    if size != handle.size {
        return Err(corrupt(path, format!("size {size} but _metadata says {}", handle.size)));
    }
    Ok(())
}

fn check_crc(path: &Path, crc: u32, handle: &StateFileHandle) -> Result<()> {
    if crc != handle.crc32 {
        return Err(corrupt(
            path,
            format!("crc mismatch: the file's crc32 is {crc:#010x} but _metadata says {:#010x}; the file is corrupt", handle.crc32),
        ));
    }
    Ok(())
}

/// A state file being read: loaded whole (and checked against the whole-file checksum) or
/// open for reading single blocks.
#[derive(Debug)]
enum StateFileAccess {
    Loaded(Vec<u8>),
    Opened(File),
}

#[derive(Debug)]
struct StateFileReader {
    path: PathBuf,
    size: u64,
    access: StateFileAccess,
}

impl StateFileReader {
    fn load(path: PathBuf, handle: &StateFileHandle) -> Result<Self> {
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => missing_state_file(&path),
            _ => Error::io("reading", &path, e),
        })?;
        check_size(&path, bytes.len() as u64, handle)?;
        check_crc(&path, crc32fast::hash(&bytes), handle)?;
        Ok(Self { path, size: handle.size, access: StateFileAccess::Loaded(bytes) })
    }

    fn open(path: PathBuf, handle: &StateFileHandle) -> Result<Self> {
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => missing_state_file(&path),
            _ => Error::io("opening", &path, e),
        })?;
        let size = file.metadata().map_err(|e| Error::io("reading", &path, e))?.len();
        check_size(&path, size, handle)?;
        Ok(Self { path, size, access: StateFileAccess::Opened(file) })
    }

    /// `len` bytes at `offset`, which the caller checked lie inside the file.
    fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>> {
        match &mut self.access {
            StateFileAccess::Loaded(bytes) => Ok(bytes[offset as usize..(offset + len) as usize].to_vec()),
            StateFileAccess::Opened(file) => {
                let mut buf = vec![0; len as usize];
                file.seek(SeekFrom::Start(offset))
                    .and_then(|_| file.read_exact(&mut buf))
                    .map_err(|e| Error::io("reading", &self.path, e))?;
                Ok(buf)
            }
        }
    }

    /// `len` bytes at `offset` and the CRC-32 after them, which must match.
    fn read_checked(&mut self, offset: u64, len: u64, what: &str) -> Result<Vec<u8>> {
        let mut bytes = self.read(offset, len + CRC_LEN)?;
        let recorded = u32::from_le_bytes(bytes[len as usize..].try_into().expect("4 bytes"));
        bytes.truncate(len as usize);
        if crc32fast::hash(&bytes) != recorded {
            return Err(corrupt(&self.path, format!("crc mismatch in {what}: the file is corrupt")));
        }
        Ok(bytes)
    }

    fn check_header(&mut self) -> Result<()> {
        let header = self.read(0, STATE_HEADER_LEN)?;
        if &header[..STATE_MAGIC.len()] != STATE_MAGIC {
            return Err(corrupt(&self.path, "not a Strom state file (bad magic)"));
        }
        let version = u32::from_le_bytes(header[STATE_MAGIC.len()..].try_into().expect("4 bytes"));
        if version != STATE_VERSION {
            return Err(corrupt(
                &self.path,
                format!("unknown state file format version {version} (this build reads version {STATE_VERSION})"),
            ));
        }
        Ok(())
    }

    /// The list and union entries from the tail starting at `start`.
    fn read_tail(&mut self, start: u64) -> Result<(Entries, Entries)> {
        let tail = self.read_checked(start, self.size - start - CRC_LEN, "the list and union state")?;
        let mut reader = ByteReader::new(&tail);
        let (Some(list), Some(union)) = (reader.entries(), reader.entries()) else {
            return Err(corrupt(&self.path, "the list and union state is malformed"));
        };
        if !reader.bytes.is_empty() {
            return Err(corrupt(&self.path, format!("{} unexpected bytes after the union state", reader.bytes.len())));
        }
        Ok((list, union))
    }
}

/// Reads little-endian numbers and length-prefixed entries; `None` when the bytes run out.
#[derive(Debug)]
struct ByteReader<'a> {
    bytes: &'a [u8],
}

impl<'a> ByteReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok().filter(|&n| n <= self.bytes.len())?;
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// A count, then that many length-prefixed entries.
    fn entries(&mut self) -> Option<Entries> {
        let count = self.u32()?;
        (0..count).map(|_| self.u64().and_then(|len| self.take(len)).map(<[u8]>::to_vec)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::checkpoint::{OperatorState, SubtaskState};

    fn snapshot() -> OperatorSnapshot {
        OperatorSnapshot {
            keyed: [(3, b"three".to_vec()), (4, Vec::new()), (9, vec![9; 1000])].into_iter().collect(),
            list: vec![b"offset 17".to_vec(), Vec::new()],
            union: vec![b"watermark 5".to_vec()],
            native: None,
        }
    }

    fn metadata(id: u64, operators: Vec<OperatorState>) -> CheckpointMetadata {
        CheckpointMetadata {
            job_id: "0123456789abcdef".into(),
            checkpoint_id: CheckpointId(id),
            timestamp: 1_700_000_000_000,
            savepoint: false,
            operators,
        }
    }

    /// Writes `snapshots` (one per subtask) of operator `uid` into `dir` and returns the operator.
    fn write_operator(dir: &Path, uid: &str, max_parallelism: u32, snapshots: &[OperatorSnapshot]) -> OperatorState {
        let parallelism = snapshots.len() as u32;
        let subtasks = (0..parallelism)
            .map(|i| {
                let range = KeyGroupRange::for_subtask(max_parallelism, parallelism, i);
                let file = CheckpointStorage::write_subtask_state(dir, uid, i, &snapshots[i as usize]).unwrap();
                SubtaskState { subtask: i, key_groups: (range.start, range.end), file }
            })
            .collect();
        OperatorState { uid: uid.into(), name: uid.into(), parallelism, max_parallelism, subtasks }
    }

    /// A complete checkpoint `id` with one operator of two subtasks.
    fn complete_checkpoint(storage: &CheckpointStorage, id: u64) -> (PathBuf, CheckpointMetadata) {
        let dir = storage.create_checkpoint_dir(CheckpointId(id)).unwrap();
        let op = write_operator(&dir, "count", 16, &[snapshot(), OperatorSnapshot { list: vec![vec![1]], ..Default::default() }]);
        let metadata = metadata(id, vec![op]);
        CheckpointStorage::write_metadata(&dir, &metadata).unwrap();
        (dir, metadata)
    }

    fn error_of<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.unwrap_err().report()
    }

    fn flip_byte(path: &Path, at: usize) {
        let mut bytes = fs::read(path).unwrap();
        bytes[at] ^= 0x40;
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn subtask_state_round_trips_and_the_handle_describes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let handle = CheckpointStorage::write_subtask_state(dir.path(), "count", 2, &snapshot()).unwrap().unwrap();
        let bytes = fs::read(dir.path().join("count-2.state")).unwrap();
        // Header 12 bytes, then each block followed by its 4-byte checksum.
        let expected = StateFileHandle {
            file: "count-2.state".into(),
            size: bytes.len() as u64,
            crc32: crc32fast::hash(&bytes),
            key_groups: vec![(3, 12, 5), (4, 21, 0), (9, 25, 1000)],
            list_entries: 2,
            union_entries: 1,
            native: None,
        };
        assert_eq!(handle, expected);
        assert_eq!(&bytes[..8], b"STROMSTA");
        assert_eq!(&bytes[25..1025], &[9; 1000][..]);
        assert_eq!(CheckpointStorage::read_subtask_state(dir.path(), &handle, None).unwrap(), snapshot());
    }

    #[test]
    fn an_empty_snapshot_writes_no_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(CheckpointStorage::write_subtask_state(dir.path(), "map", 0, &OperatorSnapshot::default()).unwrap(), None);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn reading_a_key_group_range_returns_those_key_groups_and_all_operator_state() {
        let dir = tempfile::tempdir().unwrap();
        let handle = CheckpointStorage::write_subtask_state(dir.path(), "count", 0, &snapshot()).unwrap().unwrap();
        let read = |start, end| CheckpointStorage::read_subtask_state(dir.path(), &handle, Some(KeyGroupRange { start, end })).unwrap();
        let expected = |keyed: &[u32]| OperatorSnapshot {
            keyed: snapshot().keyed.into_iter().filter(|(kg, _)| keyed.contains(kg)).collect(),
            ..snapshot()
        };
        assert_eq!(read(4, 15), expected(&[4, 9]));
        assert_eq!(read(0, 3), expected(&[3]));
        assert_eq!(read(10, 15), expected(&[]));
        assert_eq!(read(0, 15), snapshot());
    }

    #[test]
    fn uids_become_distinct_safe_file_names() {
        assert_eq!(state_file_name("count-words_2", 0), "count-words_2-0.state");
        let odd = state_file_name("Window (count)/1", 3);
        let similar = state_file_name("Window__count__1", 3);
        assert!(odd.starts_with("Window__count__1-") && odd.ends_with("-3.state") && odd.len() == "Window__count__1-".len() + 8 + 8);
        assert_ne!(odd, similar);
        assert_eq!(state_file_name("../x", 0).find('/'), None);
        assert_eq!(state_file_name("", 0), format!("operator-{:08x}-0.state", stable_hash("") as u32));
        let long = "u".repeat(300);
        assert!(state_file_name(&long, 0).len() < 100);
        assert_ne!(state_file_name(&long, 0), state_file_name(&"u".repeat(301), 0));
    }

    #[test]
    fn metadata_round_trips_atomically() {
        let root = tempfile::tempdir().unwrap();
        let storage = CheckpointStorage::new(root.path(), "job");
        let (dir, metadata) = complete_checkpoint(&storage, 5);
        assert_eq!(CheckpointStorage::read_metadata(&dir).unwrap(), metadata);
        assert_eq!(CheckpointStorage::validate(&dir).unwrap(), metadata);
        assert!(!dir.join(METADATA_IN_PROGRESS).exists());
        let mut names: Vec<String> =
            fs::read_dir(root.path().join("job")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["chk-5", "shared", "taskowned"]);
    }

    #[test]
    fn a_flipped_byte_in_a_state_file_is_a_crc_mismatch_naming_the_file() {
        let root = tempfile::tempdir().unwrap();
        let storage = CheckpointStorage::new(root.path(), "job");
        let (dir, metadata) = complete_checkpoint(&storage, 7);
        let path = dir.join("count-0.state");
        let handle = metadata.operators[0].subtasks[0].file.clone().unwrap();
        flip_byte(&path, 30); // inside key group 9's block
        let prefix = format!("{}: crc mismatch", path.display());
        assert!(error_of(CheckpointStorage::validate(&dir)).starts_with(&prefix));
        assert!(error_of(CheckpointStorage::read_subtask_state(&dir, &handle, None)).starts_with(&prefix));
        // A partial read checks the blocks it reads, and still reads intact ones.
        let e = error_of(CheckpointStorage::read_subtask_state(&dir, &handle, Some(KeyGroupRange { start: 8, end: 15 })));
        assert_eq!(e, format!("{}: crc mismatch in key group 9: the file is corrupt", path.display()));
        let intact = CheckpointStorage::read_subtask_state(&dir, &handle, Some(KeyGroupRange { start: 0, end: 3 })).unwrap();
        assert_eq!(intact.keyed, [(3, b"three".to_vec())].into_iter().collect());
    }

    #[test]
    fn a_state_file_of_another_size_or_with_a_bad_magic_is_reported() {
        let root = tempfile::tempdir().unwrap();
        let storage = CheckpointStorage::new(root.path(), "job");
        let (dir, metadata) = complete_checkpoint(&storage, 7);
        let path = dir.join("count-0.state");
        let handle = metadata.operators[0].subtasks[0].file.clone().unwrap();

        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..10]).unwrap();
        let size_problem = format!("{}: size 10 but _metadata says {}", path.display(), handle.size);
        assert_eq!(error_of(CheckpointStorage::validate(&dir)), size_problem);
        assert_eq!(error_of(CheckpointStorage::read_subtask_state(&dir, &handle, Some(KeyGroupRange { start: 0, end: 3 }))), size_problem);

        let mut bad_magic = bytes;
        bad_magic[0] = b'X';
        fs::write(&path, &bad_magic).unwrap();
        let partial = CheckpointStorage::read_subtask_state(&dir, &handle, Some(KeyGroupRange { start: 0, end: 3 }));
        assert_eq!(error_of(partial), format!("{}: not a Strom state file (bad magic)", path.display()));
    }

    #[test]
    fn a_missing_state_file_is_reported() {
        let root = tempfile::tempdir().unwrap();
        let storage = CheckpointStorage::new(root.path(), "job");
        let (dir, metadata) = complete_checkpoint(&storage, 7);
        let path = dir.join("count-1.state");
        fs::remove_file(&path).unwrap();
        let expected = format!("{}: missing (the checkpoint's _metadata references it)", path.display());
        assert_eq!(error_of(CheckpointStorage::validate(&dir)), expected);
        let handle = metadata.operators[0].subtasks[1].file.clone().unwrap();
        assert_eq!(error_of(CheckpointStorage::read_subtask_state(&dir, &handle, None)), expected);
        assert_eq!(error_of(CheckpointStorage::read_subtask_state(&dir, &handle, Some(KeyGroupRange { start: 0, end: 0 }))), expected);
    }

    #[test]
    fn a_state_file_name_that_leaves_the_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let handle = StateFileHandle {
            file: "../escape.state".into(),
            size: 24,
            crc32: 0,
            key_groups: vec![],
            list_entries: 0,
            union_entries: 0,
            native: None,
        };
        let e = error_of(CheckpointStorage::read_subtask_state(dir.path(), &handle, None));
        assert_eq!(
            e,
            format!(
                "{}: state file name \"../escape.state\" is not a plain file name inside the checkpoint directory",
                dir.path().join("_metadata").display()
            )
        );
    }

    #[test]
    fn damaged_metadata_is_reported_with_what_is_wrong() {
        let root = tempfile::tempdir().unwrap();
        let storage = CheckpointStorage::new(root.path(), "job");
        let (dir, _) = complete_checkpoint(&storage, 3);
        let path = dir.join(METADATA_FILE);
        let good = fs::read(&path).unwrap();
        let problem = |bytes: &[u8]| {
            fs::write(&path, bytes).unwrap();
            let e = error_of(CheckpointStorage::read_metadata(&dir));
            let prefix = format!("{}: ", path.display());
            assert!(e.starts_with(&prefix), "{e}");
            e[prefix.len()..].to_string()
        };
        let n = good.len();
        assert_eq!(problem(&good[..n - 9]), format!("truncated: {} bytes but the header announces {n}", n - 9));
        assert_eq!(problem(&good[..15]), "truncated: 15 bytes, shorter than the header");
        assert_eq!(problem(&good[..3]), "truncated: 3 bytes, shorter than the header");
        assert_eq!(problem(b""), "truncated: 0 bytes, shorter than the header");
        assert_eq!(problem(b"{\"job_id\": \"x\"} and more bytes"), "not a Strom checkpoint metadata file (bad magic)");
        let mut version = good.clone();
        version[8] = 9;
        assert_eq!(problem(&version), "unknown metadata format version 9 (this build reads version 2)");
        let mut flipped = good.clone();
        flipped[METADATA_HEADER_LEN + 2] ^= 1;
        assert!(problem(&flipped).starts_with("checksum mismatch: crc32 is 0x"));
        // A well-formed file whose payload is not metadata.
        let mut garbage = good[..METADATA_HEADER_LEN].to_vec();
        garbage[12..20].copy_from_slice(&3u64.to_le_bytes());
        garbage.extend_from_slice(&[0xff, 0xff, 0xff]);
        garbage.extend_from_slice(&crc32fast::hash(&garbage).to_le_bytes());
        assert!(problem(&garbage).starts_with("cannot decode the metadata: "));

        fs::remove_file(&path).unwrap();
        assert_eq!(
            error_of(CheckpointStorage::read_metadata(&dir)),
            format!(
                "{}: missing: the checkpoint is incomplete (it was abandoned before all tasks acknowledged, or is still being taken)",
                path.display()
            )
        );
        let nowhere = root.path().join("nowhere");
        assert_eq!(
            error_of(CheckpointStorage::read_metadata(&nowhere)),
            format!("{}: no such checkpoint or savepoint directory", nowhere.display())
        );
    }

    #[test]
    fn completed_checkpoints_are_listed_in_numeric_order() {
        let root = tempfile::tempdir().unwrap();
        let storage = CheckpointStorage::new(root.path(), "job");
        assert_eq!(storage.completed_checkpoints().unwrap(), []);
        for id in [10, 9, 2] {
            complete_checkpoint(&storage, id);
        }
        storage.create_checkpoint_dir(CheckpointId(11)).unwrap();
        for other in ["chk-x", "chk-", "chk-+3", "savepoint-1"] {
            fs::create_dir(storage.job_dir().join(other)).unwrap();
        }
        fs::write(storage.job_dir().join("chk-12"), b"a file").unwrap();
        let ids: Vec<_> = storage.completed_checkpoints().unwrap();
        let expected: Vec<_> = [2, 9, 10].into_iter().map(|n| (CheckpointId(n), storage.checkpoint_dir(CheckpointId(n)))).collect();
        assert_eq!(ids, expected);
    }

    /// Collects what `tracing` logs while `f` runs.
    fn logs_of<T>(f: impl FnOnce() -> T) -> (T, String) {
        #[derive(Clone)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl Write for Buffer {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().expect("not poisoned").extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer(Arc::default());
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let value = tracing::subscriber::with_default(subscriber, f);
        let logs = String::from_utf8(buffer.0.lock().expect("not poisoned").clone()).expect("utf-8");
        (value, logs)
    }

    #[test]
    fn latest_valid_falls_back_past_damaged_checkpoints() {
        let root = tempfile::tempdir().unwrap();
        let storage = CheckpointStorage::new(root.path(), "job");
        let (_, first) = complete_checkpoint(&storage, 5);
        let (six, sixth) = complete_checkpoint(&storage, 6);
        let (seven, _) = complete_checkpoint(&storage, 7);
        let (eight, _) = complete_checkpoint(&storage, 8);
        storage.create_checkpoint_dir(CheckpointId(9)).unwrap(); // in progress: no _metadata
        flip_byte(&seven.join("count-0.state"), 20);
        fs::remove_file(eight.join("count-1.state")).unwrap();

        let (latest, logs) = logs_of(|| storage.latest_valid().unwrap());
        assert_eq!(latest, Some((sixth, six.clone())));
        let lines: Vec<&str> = logs.lines().collect();
        assert_eq!(lines.len(), 2, "{logs}");
        assert!(
            lines[0].contains("skipping an invalid checkpoint, falling back to an older one") && lines[0].contains("fallback=\"chk-7\""),
            "{logs}"
        );
        assert!(lines[0].contains(&format!("{}: missing", eight.join("count-1.state").display())), "{logs}");
        assert!(lines[1].contains("fallback=\"chk-6\"") && lines[1].contains("crc mismatch"), "{logs}");

        fs::remove_file(six.join(METADATA_FILE)).unwrap();
        assert_eq!(storage.latest_valid().unwrap().map(|(m, _)| m), Some(first));
        let empty = CheckpointStorage::new(root.path(), "other-job");
        assert_eq!(empty.latest_valid().unwrap(), None);
    }

    #[test]
    fn retain_keeps_the_newest_and_deletes_older_and_abandoned_checkpoints() {
        let root = tempfile::tempdir().unwrap();
        let storage = CheckpointStorage::new(root.path(), "job");
        for id in [1, 2, 4, 5] {
            complete_checkpoint(&storage, id);
        }
        for id in [3, 6] {
            storage.create_checkpoint_dir(CheckpointId(id)).unwrap();
        }
        fs::write(storage.job_dir().join("shared/abc.sst"), b"sst").unwrap();
        let deleted = storage.retain(2).unwrap();
        let dir = |n| storage.checkpoint_dir(CheckpointId(n));
        assert_eq!(deleted, [dir(1), dir(2), dir(3)]);
        let mut left: Vec<String> =
            fs::read_dir(storage.job_dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, ["chk-4", "chk-5", "chk-6", "shared", "taskowned"]);
        assert!(storage.job_dir().join("shared/abc.sst").exists());
        assert_eq!(storage.retain(2).unwrap(), Vec::<PathBuf>::new());
        assert_eq!(storage.retain(1).unwrap(), [dir(4)]);
        assert!(error_of(storage.retain(0)).contains("state.checkpoints.num-retained"));
    }

    #[test]
    fn retain_without_a_complete_checkpoint_deletes_nothing() {
        let root = tempfile::tempdir().unwrap();
        let storage = CheckpointStorage::new(root.path(), "job");
        assert_eq!(storage.retain(1).unwrap(), Vec::<PathBuf>::new());
        storage.create_checkpoint_dir(CheckpointId(1)).unwrap();
        assert_eq!(storage.retain(1).unwrap(), Vec::<PathBuf>::new());
        assert!(storage.checkpoint_dir(CheckpointId(1)).is_dir());
    }

    fn copy_dir(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }

    #[test]
    fn a_savepoint_moved_elsewhere_still_restores() {
        let root = tempfile::tempdir().unwrap();
        let savepoint = CheckpointStorage::savepoint_dir(&root.path().join("savepoints"), "0123456789abcdef");
        let name = savepoint.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with("savepoint-012345-") && name.len() == 29 && name[17..].bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
        fs::create_dir_all(&savepoint).unwrap();
        let snapshots = [snapshot(), OperatorSnapshot { union: vec![b"u".to_vec()], ..Default::default() }];
        let op = write_operator(&savepoint, "count", 16, &snapshots);
        let metadata = CheckpointMetadata { savepoint: true, ..metadata(4, vec![op]) };
        CheckpointStorage::write_metadata(&savepoint, &metadata).unwrap();

        let moved = root.path().join("elsewhere/renamed");
        copy_dir(&savepoint, &moved);
        fs::remove_dir_all(&savepoint).unwrap();
        assert_eq!(CheckpointStorage::validate(&moved).unwrap(), metadata);
        for (i, subtask) in metadata.operators[0].subtasks.iter().enumerate() {
            let read = CheckpointStorage::read_subtask_state(&moved, subtask.file.as_ref().unwrap(), None).unwrap();
            assert_eq!(read, snapshots[i]);
        }
    }

    #[test]
    fn restore_paths_resolve_to_the_directory() {
        let root = tempfile::tempdir().unwrap();
        let storage = CheckpointStorage::new(root.path(), "job");
        let (dir, _) = complete_checkpoint(&storage, 3);
        let resolve = |p: &str| CheckpointStorage::resolve_restore_path(Path::new(p));
        let d = dir.display();
        for given in [format!("{d}"), format!("{d}/_metadata"), format!("file://{d}"), format!("file://{d}/_metadata"), format!("file:{d}")]
        {
            assert_eq!(resolve(&given).unwrap(), dir, "{given}");
        }
        let job = storage.job_dir().display().to_string();
        assert_eq!(
            error_of(resolve(&job)),
            format!("{job} is a job's checkpoint directory: pass one of its chk-<n> directories (the newest complete one is chk-3)")
        );
        let missing = format!("{d}/nothing");
        assert_eq!(error_of(resolve(&missing)), format!("no savepoint or checkpoint at {missing}: no such file or directory"));
        assert!(error_of(resolve(&format!("{d}/count-0.state"))).contains("is a file but not a _metadata file"));
        // A directory without _metadata resolves; reading it says the checkpoint is incomplete.
        let incomplete = storage.create_checkpoint_dir(CheckpointId(4)).unwrap();
        assert_eq!(resolve(&incomplete.display().to_string()).unwrap(), incomplete);
    }

    #[test]
    fn checkpoint_errors_are_external_and_not_retryable() {
        let e = corrupt(Path::new("chk-7/_metadata"), "missing");
        assert_eq!((e.fault(), e.is_recoverable()), (crate::Fault::External, false));
        assert_eq!(e.to_string(), "chk-7/_metadata: missing");
    }
}
