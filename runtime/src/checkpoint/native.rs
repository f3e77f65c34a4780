//! Native RocksDB checkpoints: the files of a RocksDB checkpoint (hard links taken at the
//! barrier) uploaded into the checkpoint directory, or, when incremental, SST files into the
//! job's `shared/` directory once and referenced by every later checkpoint that still has
//! them (RocksDB never changes an SST file after writing it).
//!
//! Shared files are named `<instance>-<file>`: RocksDB numbers its files uniquely within one
//! instance, and every backend instance has a random prefix. The same file therefore always
//! has the same shared name, so re-uploading it (when the confirmation of the checkpoint that
//! uploaded it had not arrived yet) rewrites identical bytes, atomically. A shared file is
//! deleted once no retained checkpoint's `_metadata` references it
//! ([`CheckpointStorage::collect_shared_garbage`](super::CheckpointStorage::collect_shared_garbage)).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::CheckpointId;
use crate::error::{Error, Result};
use crate::state::rocks::{scan_checkpoint_files, RocksStore};
use crate::state::snapshot::RawEntry;
use crate::state::KeyGroupRange;

/// The directory shared files live in, relative to a checkpoint directory.
pub(crate) const SHARED_FROM_CHECKPOINT: &str = "../shared/";

/// One file of a native RocksDB checkpoint, as recorded in `_metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeFile {
    /// The file's name in the RocksDB directory.
    pub name: String,
    /// Where it is stored, relative to the checkpoint directory: `../shared/<instance>-<name>`
    /// for shared SST files of incremental checkpoints, else inside the checkpoint directory.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// CRC-32 of the whole file, checked when it is restored.
    pub crc32: u32,
}

impl NativeFile {
    /// Whether the file is under `shared/`.
    pub fn is_shared(&self) -> bool {
        self.path.starts_with(SHARED_FROM_CHECKPOINT)
    }
}

/// The native RocksDB state of one operator subtask in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeStateHandle {
    /// State names by id (the second part of every RocksDB key).
    pub states: Vec<String>,
    /// The instance's files: SST files, `MANIFEST`, `CURRENT`, `OPTIONS`.
    pub files: Vec<NativeFile>,
}

/// Which shared files a backend uploaded, per checkpoint, and which of them belong to a
/// confirmed (completed) checkpoint and may therefore be referenced instead of uploaded.
#[derive(Debug, Default)]
pub(crate) struct Uploads {
    pending: BTreeMap<CheckpointId, Vec<NativeFile>>,
    confirmed: HashMap<String, NativeFile>,
}

impl Uploads {
    /// Checkpoint `id` completed.
    pub(crate) fn confirm(&mut self, id: CheckpointId) {
        if let Some(files) = self.pending.remove(&id) {
            self.confirmed = files.into_iter().map(|f| (f.name.clone(), f)).collect();
        }
        self.pending.retain(|pending, _| *pending > id);
    }
}

/// A native RocksDB checkpoint taken at a barrier, waiting to be uploaded.
#[derive(Debug, Clone)]
pub struct NativeSnapshot {
    pub(crate) checkpoint: CheckpointId,
    /// The local RocksDB checkpoint (hard links); deleted after the upload.
    pub(crate) local: PathBuf,
    pub(crate) states: Vec<String>,
    pub(crate) incremental: bool,
    pub(crate) instance: String,
    pub(crate) uploads: Arc<Mutex<Uploads>>,
}

impl PartialEq for NativeSnapshot {
    fn eq(&self, other: &Self) -> bool {
        (self.checkpoint, &self.local) == (other.checkpoint, &other.local)
    }
}

impl Eq for NativeSnapshot {}

/// What an upload wrote.
#[derive(Debug)]
pub(crate) struct Uploaded {
    pub(crate) handle: NativeStateHandle,
    /// Bytes of all referenced files.
    pub(crate) full_size: u64,
    /// Bytes uploaded by this checkpoint.
    pub(crate) checkpointed_size: u64,
}

impl NativeSnapshot {
    /// Uploads the files into the checkpoint directory `dir` (shared SST files into
    /// `dir/../shared/`), then deletes the local checkpoint. `private` names the directory
    /// inside `dir` for the files that are not shared.
    pub(crate) fn upload(&self, dir: &Path, private: &str) -> Result<Uploaded> {
        let result = self.upload_files(dir, private);
        let _ = fs::remove_dir_all(&self.local);
        result
    }

    fn upload_files(&self, dir: &Path, private: &str) -> Result<Uploaded> {
        let confirmed = self.uploads.lock().expect("uploads lock").confirmed.clone();
        let mut names: Vec<(String, u64)> = Vec::new();
        for entry in fs::read_dir(&self.local).map_err(|e| Error::io("listing", &self.local, e))? {
            let entry = entry.map_err(|e| Error::io("listing", &self.local, e))?;
            let size = entry.metadata().map_err(|e| Error::io("reading", entry.path(), e))?.len();
            names.push((entry.file_name().to_string_lossy().into_owned(), size));
        }
        names.sort();
        let private_dir = dir.join(private);
        fs::create_dir_all(&private_dir).map_err(|e| Error::io("creating", &private_dir, e))?;
        if self.incremental {
            let shared = dir.join(SHARED_FROM_CHECKPOINT);
            fs::create_dir_all(&shared).map_err(|e| Error::io("creating", &shared, e))?;
        }
        let (mut files, mut shared_files) = (Vec::new(), Vec::new());
        let (mut full_size, mut checkpointed_size) = (0, 0);
        for (name, size) in names {
            full_size += size;
            let shared = self.incremental && name.ends_with(".sst");
            if shared {
                if let Some(file) = confirmed.get(&name).filter(|f| f.size == size) {
                    files.push(file.clone());
                    shared_files.push(file.clone());
                    continue;
                }
            }
            let path = if shared { format!("{SHARED_FROM_CHECKPOINT}{}-{name}", self.instance) } else { format!("{private}/{name}") };
            let crc32 = copy_with_crc(&self.local.join(&name), &dir.join(&path), None)?;
            checkpointed_size += size;
            let file = NativeFile { name, path, size, crc32 };
            if shared {
                shared_files.push(file.clone());
            }
            files.push(file);
        }
        self.uploads.lock().expect("uploads lock").pending.insert(self.checkpoint, shared_files);
        Ok(Uploaded { handle: NativeStateHandle { states: self.states.clone(), files }, full_size, checkpointed_size })
    }
}

/// Native state of one old subtask that a new subtask restores from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeRestore {
    /// The checkpoint directory the handle's paths are relative to.
    pub(crate) dir: PathBuf,
    pub(crate) handle: NativeStateHandle,
    /// The key groups the old subtask owned.
    pub(crate) key_groups: KeyGroupRange,
}

impl NativeRestore {
    /// Copies the files into a new directory under `local_dir` (checking sizes and checksums)
    /// and opens it as the subtask's instance.
    pub(crate) fn open_copy(&self, local_dir: &Path, name: &str) -> Result<RocksStore> {
        let target = local_dir.join(format!("{name}-{}", crate::random_hex(12)));
        crate::state::rocks::remove_stale_instances(local_dir);
        let opened = self.copy_files(&target).and_then(|()| RocksStore::open(target.clone(), self.handle.states.clone()));
        if opened.is_err() {
            let _ = fs::remove_dir_all(&target);
        }
        opened
    }

    /// Calls `f` for every entry of the key groups in `range` (those the old subtask had).
    pub(crate) fn scan(&self, range: KeyGroupRange, f: impl FnMut(u32, &str, RawEntry) -> Result<()>) -> Result<()> {
        let (start, end) = (range.start.max(self.key_groups.start), range.end.min(self.key_groups.end));
        if start > end {
            return Ok(());
        }
        let target = std::env::temp_dir().join(format!("strom-restore-{}", crate::random_hex(12)));
        let result =
            self.copy_files(&target).and_then(|()| scan_checkpoint_files(&target, &self.handle.states, KeyGroupRange { start, end }, f));
        let _ = fs::remove_dir_all(&target);
        result
    }

    fn copy_files(&self, target: &Path) -> Result<()> {
        fs::create_dir_all(target).map_err(|e| Error::io("creating", target, e))?;
        for file in &self.handle.files {
            let from = self.dir.join(&file.path);
            let meta = fs::metadata(&from).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => Error::CorruptCheckpoint { path: from.clone(), problem: "missing RocksDB file".into() },
                _ => Error::io("reading", &from, e),
            })?;
            if meta.len() != file.size {
                return Err(Error::CorruptCheckpoint {
                    path: from,
                    problem: format!("RocksDB file has {} bytes but _metadata says {}", meta.len(), file.size),
                });
            }
            copy_with_crc(&from, &target.join(&file.name), Some(file.crc32))?;
        }
        Ok(())
    }
}

/// Copies `from` to `to` through a temporary file renamed into place, returning the CRC-32.
/// With `expect`, a checksum mismatch is a corrupt-checkpoint error naming `from`.
fn copy_with_crc(from: &Path, to: &Path, expect: Option<u32>) -> Result<u32> {
    let mut input = File::open(from).map_err(|e| Error::io("opening", from, e))?;
    let tmp = to.with_extension(format!("inprogress-{}", crate::random_hex(12)));
    let result = (|| {
        let mut out = File::create(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        let mut hasher = crc32fast::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = input.read(&mut buf).map_err(|e| Error::io("reading", from, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| Error::io("writing", &tmp, e))?;
        }
        let crc = hasher.finalize();
        if let Some(expected) = expect.filter(|e| *e != crc) {
            return Err(Error::CorruptCheckpoint {
                path: from.to_path_buf(),
                problem: format!("RocksDB file fails its checksum (CRC-32 {crc:08x}, _metadata says {expected:08x})"),
            });
        }
        out.sync_all().map_err(|e| Error::io("syncing", &tmp, e))?;
        fs::rename(&tmp, to).map_err(|e| Error::io("renaming into place", to, e))?;
        Ok(crc)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
