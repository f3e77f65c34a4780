//! `FileSink`: part files in a directory, committed exactly once.
//!
//! A subtask's part files move through three states, kept explicit in [`PartFiles`]: an
//! [`InProgressPart`] is written under a hidden name; closing it (flush, fsync) makes it a
//! [`PendingPart`]; committing a pending part renames it to its visible name.
//!
//! # Two modes
//!
//! The runtime's calls choose the mode; there is nothing to configure.
//! - Without checkpoints (neither `snapshot_state` nor `restore_state` is ever called) a part
//!   is committed as soon as it is pending: when it rolls over its size limit, and at `finish`.
//! - The first `snapshot_state` (or a `restore_state`) switches the subtask to two-phase
//!   commit, as Flink's `FileSink`: at each barrier the in-progress part is closed, and every
//!   pending part (closed at the barrier or rolled over since the previous one) becomes
//!   pending *for that checkpoint*; the list of `(checkpoint, hidden name, visible name)` is
//!   the sink's union state. `notify_checkpoint_complete(n)` commits the parts of every
//!   checkpoint up to `n` (a notification can be skipped when a checkpoint fails; the next one
//!   covers it). A part is never visible before the checkpoint that covers it completed. A
//!   restore switches the mode too because a restored job runs with checkpoints: committing
//!   a rolled part (or everything at `finish`) before the restored run's first checkpoint
//!   completes would duplicate those records if the run failed again.
//!
//! # Names
//!
//! Subtask `i` writes `part-<run>-<i>-<n>`, hidden as `.part-<run>-<i>-<n>.inprogress` until it
//! is committed. `<run>` is a random id each subtask draws when it opens, so that no two runs,
//! and no two attempts of one run after a failover, ever write the same name. The id is drawn
//! per subtask rather than per job because nothing the subtasks share can make one: the
//! runtime hands them no job id or attempt number, the subtasks of a cluster job are built in
//! different processes, and a failover clones the operators again from the same prototype, so
//! an id drawn when the sink is constructed would be neither shared across processes nor new
//! per attempt. Restore does not need a shared id either (below).
//!
//! # Restore
//!
//! `restore_state` (called before `open`) keeps the restored pending parts; `open`, which
//! knows the subtask index `i` and parallelism `p`, finishes what the failed run left:
//! - It commits the restored entries at positions `j` with `j % p == i` (every subtask sees
//!   the same union list, so each entry is committed by exactly one subtask). Commits are
//!   idempotent: an entry whose hidden file is gone but whose visible file exists was
//!   committed before (by the failed run's notification, or by an earlier restore of the same
//!   checkpoint). When both are gone, output was lost and the restore fails naming the file.
//! - It deletes the hidden part files `.part-<run>-<k>-<n>.inprogress` with `k % p == i`
//!   whose run is not its own and that are not pending in the restored state: they were
//!   written after the restored checkpoint's barrier (or by an attempt that failed before its
//!   first checkpoint), so they must never become visible. Splitting the clean-up by `k`
//!   instead of leaving it all to subtask 0 is what makes a shared run id unnecessary: the
//!   current run's subtask `k` writes files of subtask number `k`, which only subtask `k`
//!   itself cleans up, and it spares its own run, so the clean-up never races with the
//!   current run's writers.
//!
//! The directory therefore belongs to one job: a restore deletes the in-progress files of any
//! other job writing part files into it. Names in the state are relative to the directory, so
//! the output directory can move between runs together with its files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use strom_runtime::checkpoint::{CheckpointId, OperatorRestore, OperatorSnapshot};
use strom_runtime::operators::{OperatorContext, Sink};
use strom_runtime::{Data, Error, Record, Result};

use crate::state::{decode_entries, encode_entry};

/// The size at which a part file rolls over by default: 128 MiB, as Flink's
/// `DefaultRollingPolicy`.
pub const DEFAULT_MAX_PART_SIZE: u64 = 128 * 1024 * 1024;

/// Capacity of the buffered writer of a part file.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// What the sink's union state is called in errors.
const STATE_NAME: &str = "file sink's pending part files";

/// Appends the bytes of a record to a buffer.
type Encoder<T> = Arc<dyn Fn(&T, &mut Vec<u8>) + Send + Sync>;

/// Writes records into part files in a directory (Flink's `FileSink.forRowFormat`, without
/// buckets), exactly once when the job checkpoints.
///
/// Subtask `i` writes `part-<run>-<i>-<n>` for `n = 0, 1, ...`, where `<run>` is a random id
/// the subtask draws when it starts, so that runs into the same directory add files rather
/// than overwrite them. While it is written a part is hidden as
/// `.part-<run>-<i>-<n>.inprogress`. A part is finished (flushed and synced to disk) when it
/// reaches the maximum part size ([`DEFAULT_MAX_PART_SIZE`] unless set with
/// [`with_max_part_size`](Self::with_max_part_size)), at a checkpoint barrier, or at the end
/// of the input. Without checkpoints a finished part becomes visible (is renamed) at once;
/// with checkpoints it becomes visible when the checkpoint that covers it completes, and a
/// job restored from a checkpoint commits the parts that checkpoint covered and deletes the
/// hidden parts written after it (see the module documentation). Readers such as
/// [`TextFileSource`](crate::TextFileSource) skip hidden files, so they only see committed
/// output. A subtask that receives no records writes no file. The directory is created if it
/// is missing.
///
/// Each subtask gets a clone of the sink before it opens; a clone has the same configuration
/// and no part files.
///
/// ```
/// use strom_connectors::FileSink;
/// use strom_runtime::prelude::*;
///
/// let dir = tempfile::tempdir()?;
/// let out = dir.path().join("out");
/// let env = StreamEnv::new();
/// env.from_collection(vec![(1, "one".to_string()), (2, "two".to_string())])
///     .sink(FileSink::new(&out, |(n, name): &(u32, String), buf: &mut Vec<u8>| {
///         buf.extend_from_slice(format!("{n}\t{name}\n").as_bytes())
///     }));
/// env.execute("write pairs")?;
/// let parts: Vec<_> = std::fs::read_dir(&out)?.collect::<Result<_, _>>()?;
/// assert_eq!(parts.len(), 1);
/// let name = parts[0].file_name().into_string().unwrap();
/// assert!(name.starts_with("part-") && name.ends_with("-0-0"), "{name}");
/// assert_eq!(std::fs::read_to_string(parts[0].path())?, "1\tone\n2\ttwo\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FileSink<T> {
    dir: PathBuf,
    encoder: Encoder<T>,
    max_part_size: u64,
    /// This subtask's part files (set in `open`).
    parts: Option<PartFiles>,
    /// The encoded bytes of the record being written.
    scratch: Vec<u8>,
    /// The pending parts of the restored checkpoint, committed in `open`, where the subtask
    /// index is known.
    restored: Option<Vec<PendingPartState>>,
}

impl<T: Data> FileSink<T> {
    /// A sink writing into `dir`, encoding each record with `encoder`, which appends the
    /// record's bytes (including any separator) to the buffer it is given.
    pub fn new(dir: impl Into<PathBuf>, encoder: impl Fn(&T, &mut Vec<u8>) + Send + Sync + 'static) -> Self {
        Self {
            dir: dir.into(),
            encoder: Arc::new(encoder),
            max_part_size: DEFAULT_MAX_PART_SIZE,
            parts: None,
            scratch: Vec::new(),
            restored: None,
        }
    }

    /// Rolls a part file over (finishes it and starts the next) once it holds at least
    /// `bytes` bytes; a record is never split across parts. `0` puts every record in its
    /// own part.
    ///
    /// ```
    /// use strom_connectors::FileSink;
    /// let sink = FileSink::<String>::lines("out").with_max_part_size(64 * 1024 * 1024);
    /// assert_eq!(sink.max_part_size(), 64 * 1024 * 1024);
    /// ```
    pub fn with_max_part_size(mut self, bytes: u64) -> Self {
        self.max_part_size = bytes;
        self
    }

    /// The size at which a part file rolls over.
    pub fn max_part_size(&self) -> u64 {
        self.max_part_size
    }

    /// The directory the part files are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl<T: Data + fmt::Display> FileSink<T> {
    /// A sink writing each record as one line: its `Display` form and `\n`.
    ///
    /// ```
    /// use strom_connectors::FileSink;
    /// use strom_runtime::prelude::*;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let env = StreamEnv::new();
    /// env.from_collection(vec![1, 2, 3]).sink(FileSink::lines(dir.path()));
    /// env.execute("write lines")?;
    /// let part = std::fs::read_dir(dir.path())?.next().expect("one part file")?;
    /// assert_eq!(std::fs::read_to_string(part.path())?, "1\n2\n3\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lines(dir: impl Into<PathBuf>) -> Self {
        Self::new(dir, |value: &T, buf: &mut Vec<u8>| {
            // Writing to a Vec cannot fail; only a Display impl that returns an error can,
            // which `ToString` treats as a bug the same way.
            writeln!(buf, "{value}").expect("a Display implementation returned an error unexpectedly");
        })
    }
}

impl<T: Data> Sink for FileSink<T> {
    type In = T;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(|e| Error::io("creating", &self.dir, e))?;
        let (subtask, parallelism) = (ctx.info().subtask, ctx.info().parallelism.max(1));
        let mut parts = PartFiles::new(self.dir.clone(), subtask, new_run_id(subtask));
        // With checkpointing, nothing becomes visible before its checkpoint completed, not even
        // before the first one.
        parts.two_phase = ctx.info().checkpointing;
        if let Some(restored) = self.restored.take() {
            parts.recover(&restored, parallelism)?;
        }
        self.parts = Some(parts);
        Ok(())
    }

    fn write(&mut self, batch: &mut Vec<Record<T>>, _: &mut OperatorContext<'_>) -> Result<()> {
        let parts = opened(&mut self.parts)?;
        for record in batch.drain(..) {
            self.scratch.clear();
            (self.encoder)(&record.value, &mut self.scratch);
            if parts.write(&self.scratch)? >= self.max_part_size {
                parts.finish_part()?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, _: &mut OperatorContext<'_>) -> Result<()> {
        let parts = opened(&mut self.parts)?;
        parts.finish_part()?;
        parts.sync_dir()?;
        tracing::debug!(
            dir = %parts.dir.display(),
            subtask = parts.subtask,
            committed = parts.committed,
            two_phase = parts.two_phase,
            "file sink finished"
        );
        Ok(())
    }

    /// Closes the part in progress and makes every pending part pending for `checkpoint`;
    /// returns all parts still waiting for their checkpoint as union state.
    fn snapshot_state(&mut self, checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        let parts = opened(&mut self.parts)?;
        let union = parts.precommit(checkpoint)?.iter().map(encode_entry).collect::<Result<_>>()?;
        Ok(OperatorSnapshot { union, ..OperatorSnapshot::default() })
    }

    /// Keeps the restored pending parts; `open` commits them and deletes newer hidden parts.
    fn restore_state(&mut self, state: OperatorRestore) -> Result<()> {
        let restored: Vec<PendingPartState> = decode_entries(&state.union, STATE_NAME)?;
        for entry in &restored {
            entry.validate()?;
        }
        self.restored = Some(restored);
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint: CheckpointId) -> Result<()> {
        opened(&mut self.parts)?.commit_up_to(checkpoint)
    }
}

impl<T> Clone for FileSink<T> {
    fn clone(&self) -> Self {
        Self {
            dir: self.dir.clone(),
            encoder: self.encoder.clone(),
            max_part_size: self.max_part_size,
            parts: None,
            scratch: Vec::new(),
            restored: None,
        }
    }
}

impl<T> fmt::Debug for FileSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSink")
            .field("dir", &self.dir)
            .field("max_part_size", &self.max_part_size)
            .field("parts", &self.parts)
            .finish_non_exhaustive()
    }
}

fn opened(parts: &mut Option<PartFiles>) -> Result<&mut PartFiles> {
    parts.as_mut().ok_or_else(|| Error::Internal("FileSink used before open".into()))
}

/// A random id for the part files of one subtask's run: 64 bits from the standard library's
/// randomly keyed hasher over the time, the process and a counter, as 16 hex digits.
fn new_run_id(subtask: u32) -> String {
    static DRAWN: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.write_u32(std::process::id());
    hasher.write_u32(subtask);
    hasher.write_u64(DRAWN.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}", hasher.finish())
}

/// The names of part `counter` of subtask `subtask` in run `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PartName<'a> {
    run: &'a str,
    subtask: u32,
    counter: u64,
}

impl<'a> PartName<'a> {
    fn visible(&self) -> String {
        format!("part-{}-{}-{}", self.run, self.subtask, self.counter)
    }

    fn hidden(&self) -> String {
        format!(".part-{}-{}-{}.inprogress", self.run, self.subtask, self.counter)
    }

    /// The part a hidden (in-progress or pending) file name belongs to, if it is one.
    fn parse_hidden(name: &'a str) -> Option<Self> {
        let inner = name.strip_prefix(".part-")?.strip_suffix(".inprogress")?;
        let mut fields = inner.split('-');
        let (run, subtask, counter) = (fields.next()?, fields.next()?, fields.next()?);
        if fields.next().is_some() || run.is_empty() || !run.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Self { run, subtask: subtask.parse().ok()?, counter: counter.parse().ok()? })
    }
}

/// A pending part in the sink's state: the checkpoint it waits for and its names, relative to
/// the sink's directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingPartState {
    checkpoint: u64,
    hidden: String,
    visible: String,
}

impl PendingPartState {
    /// Checks that both names are plain file names, so that a damaged or foreign state cannot
    /// make the sink rename files outside its directory.
    fn validate(&self) -> Result<()> {
        for name in [&self.hidden, &self.visible] {
            if Path::new(name).file_name().is_none_or(|n| n != std::ffi::OsStr::new(name)) {
                return Err(Error::Serialization(format!("the {STATE_NAME} hold '{name}', which is not a file name")));
            }
        }
        Ok(())
    }

    fn part(&self, dir: &Path) -> PendingPart {
        PendingPart { hidden: dir.join(&self.hidden), visible: dir.join(&self.visible) }
    }
}

/// A subtask's part files: at most one in progress, the pending ones (waiting for a barrier,
/// or for their checkpoint to complete) and a count of the committed ones.
struct PartFiles {
    dir: PathBuf,
    subtask: u32,
    /// This run's id in the part names.
    run: String,
    /// The counter of the next part to try.
    next_counter: u64,
    in_progress: Option<InProgressPart>,
    /// Finished parts that no barrier covers yet.
    pending: Vec<PendingPart>,
    /// Finished parts by the checkpoint whose barrier covered them.
    checkpointed: BTreeMap<CheckpointId, Vec<PendingPart>>,
    /// Whether parts wait for their checkpoint (set by the first snapshot or a restore).
    two_phase: bool,
    /// Parts committed so far.
    committed: u64,
}

impl PartFiles {
    fn new(dir: PathBuf, subtask: u32, run: String) -> Self {
        Self {
            dir,
            subtask,
            run,
            next_counter: 0,
            in_progress: None,
            pending: Vec::new(),
            checkpointed: BTreeMap::new(),
            two_phase: false,
            committed: 0,
        }
    }

    /// Appends `bytes` to the in-progress part, starting one if needed; returns its size.
    fn write(&mut self, bytes: &[u8]) -> Result<u64> {
        if self.in_progress.is_none() {
            let part = self.start_part()?;
            self.in_progress = Some(part);
        }
        let part = self.in_progress.as_mut().expect("a part is in progress: started above");
        part.write(bytes)?;
        Ok(part.size)
    }

    /// Creates the next part whose names are both free.
    fn start_part(&mut self) -> Result<InProgressPart> {
        loop {
            let name = PartName { run: &self.run, subtask: self.subtask, counter: self.next_counter };
            self.next_counter += 1;
            let visible = self.dir.join(name.visible());
            if visible.exists() {
                continue;
            }
            if let Some(part) = InProgressPart::create(self.dir.join(name.hidden()), visible)? {
                return Ok(part);
            }
        }
    }

    /// Finishes the in-progress part, if any: it becomes pending.
    fn roll(&mut self) -> Result<()> {
        if let Some(part) = self.in_progress.take() {
            self.pending.push(part.close()?);
        }
        Ok(())
    }

    /// Finishes the in-progress part; without checkpoints, commits it at once.
    fn finish_part(&mut self) -> Result<()> {
        self.roll()?;
        if !self.two_phase {
            for part in std::mem::take(&mut self.pending) {
                part.commit()?;
                self.committed += 1;
            }
        }
        Ok(())
    }

    /// The barrier of `checkpoint`: finishes the in-progress part, makes the pending parts
    /// wait for `checkpoint`, and returns every part still waiting for its checkpoint.
    fn precommit(&mut self, checkpoint: CheckpointId) -> Result<Vec<PendingPartState>> {
        self.two_phase = true;
        self.roll()?;
        if !self.pending.is_empty() {
            // The hidden files' directory entries must survive a crash as their data does.
            self.sync_dir()?;
            self.checkpointed.entry(checkpoint).or_default().append(&mut self.pending);
        }
        let mut state = Vec::new();
        for (id, parts) in &self.checkpointed {
            state.extend(parts.iter().map(|part| part.state(*id)));
        }
        Ok(state)
    }

    /// Commits the parts of every checkpoint up to `checkpoint`, which completed.
    fn commit_up_to(&mut self, checkpoint: CheckpointId) -> Result<()> {
        let later = self.checkpointed.split_off(&CheckpointId(checkpoint.0.saturating_add(1)));
        let done = std::mem::replace(&mut self.checkpointed, later);
        if done.is_empty() {
            return Ok(());
        }
        for part in done.into_values().flatten() {
            part.commit()?;
            self.committed += 1;
        }
        self.sync_dir()?;
        tracing::debug!(dir = %self.dir.display(), subtask = self.subtask, checkpoint_id = checkpoint.0, "file sink committed");
        Ok(())
    }

    /// Finishes what a failed run left, after a restore at parallelism `parallelism`: commits
    /// this subtask's share of the restored pending parts and deletes the hidden parts of its
    /// share that the restored checkpoint does not cover (see the module documentation).
    fn recover(&mut self, restored: &[PendingPartState], parallelism: u32) -> Result<()> {
        self.two_phase = true;
        let mut committed = 0;
        for entry in restored.iter().skip(self.subtask as usize).step_by(parallelism as usize) {
            committed += u64::from(entry.part(&self.dir).commit()?);
        }
        let keep: BTreeSet<&str> = restored.iter().map(|entry| entry.hidden.as_str()).collect();
        let deleted = self.delete_uncovered(&keep, parallelism)?;
        self.sync_dir()?;
        tracing::info!(
            dir = %self.dir.display(),
            subtask = self.subtask,
            restored = restored.len(),
            committed,
            deleted,
            "file sink restored"
        );
        Ok(())
    }

    /// Deletes the hidden part files of other runs whose subtask number `k` has
    /// `k % parallelism == self.subtask` and whose names are not in `keep`; returns how many.
    fn delete_uncovered(&self, keep: &BTreeSet<&str>, parallelism: u32) -> Result<usize> {
        let mut deleted = 0;
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::io("listing", &self.dir, e))? {
            let entry = entry.map_err(|e| Error::io("listing", &self.dir, e))?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            let Some(part) = PartName::parse_hidden(&name) else { continue };
            if part.subtask % parallelism != self.subtask || part.run == self.run || keep.contains(name.as_str()) {
                continue;
            }
            match fs::remove_file(entry.path()) {
                Ok(()) => deleted += 1,
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("deleting", entry.path(), e)),
            }
        }
        Ok(deleted)
    }

    /// Makes the creations and renames in the directory durable.
    fn sync_dir(&self) -> Result<()> {
        if cfg!(unix) {
            File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|e| Error::io("syncing", &self.dir, e))?;
        }
        Ok(())
    }
}

impl fmt::Debug for PartFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartFiles")
            .field("subtask", &self.subtask)
            .field("run", &self.run)
            .field("in_progress", &self.in_progress.as_ref().map(|p| &p.hidden))
            .field("pending", &self.pending)
            .field("checkpointed", &self.checkpointed)
            .field("two_phase", &self.two_phase)
            .field("committed", &self.committed)
            .finish()
    }
}

/// A part file being written under its hidden name.
struct InProgressPart {
    hidden: PathBuf,
    visible: PathBuf,
    writer: BufWriter<File>,
    /// Bytes written so far.
    size: u64,
}

impl InProgressPart {
    /// Creates the hidden file; `None` if it exists already.
    fn create(hidden: PathBuf, visible: PathBuf) -> Result<Option<Self>> {
        let file = match OpenOptions::new().write(true).create_new(true).open(&hidden) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(Error::io("creating", hidden, e)),
        };
        let writer = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
        Ok(Some(Self { hidden, visible, writer, size: 0 }))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.write_all(bytes).map_err(|e| Error::io("writing", &self.hidden, e))?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Flushes and syncs the file: it becomes pending.
    fn close(mut self) -> Result<PendingPart> {
        self.writer.flush().map_err(|e| Error::io("writing", &self.hidden, e))?;
        self.writer.get_ref().sync_all().map_err(|e| Error::io("syncing", &self.hidden, e))?;
        Ok(PendingPart { hidden: self.hidden, visible: self.visible })
    }
}

/// A finished part file, durable but still hidden.
#[derive(Debug)]
struct PendingPart {
    hidden: PathBuf,
    visible: PathBuf,
}

impl PendingPart {
    /// Renames the part to its visible name. Returns whether it renamed: `false` when the
    /// part was committed before (its hidden file is gone and its visible file exists).
    fn commit(&self) -> Result<bool> {
        match fs::rename(&self.hidden, &self.visible) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound && self.visible.exists() => Ok(false),
            Err(e) => Err(Error::io("committing", &self.hidden, e)),
        }
    }

    /// The part's entry in the sink's state, waiting for `checkpoint`.
    fn state(&self, checkpoint: CheckpointId) -> PendingPartState {
        let name = |path: &Path| path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        PendingPartState { checkpoint: checkpoint.0, hidden: name(&self.hidden), visible: name(&self.visible) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> Result<tempfile::TempDir> {
        tempfile::tempdir().map_err(|e| Error::io("creating", "a temporary directory", e))
    }

    fn names(dir: &Path) -> Result<Vec<String>> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map_err(|e| Error::io("listing", dir, e))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io("listing", dir, e))?;
        names.sort();
        Ok(names)
    }

    fn parts(dir: &Path, subtask: u32, run: &str) -> PartFiles {
        PartFiles::new(dir.to_path_buf(), subtask, run.to_string())
    }

    #[test]
    fn a_part_moves_from_in_progress_to_pending_to_committed() -> Result<()> {
        let dir = temp_dir()?;
        let mut parts = parts(dir.path(), 3, "ab");
        assert_eq!(parts.write(b"ab\n")?, 3);
        assert_eq!(parts.write(b"c\n")?, 5);
        assert_eq!(names(dir.path())?, vec![".part-ab-3-0.inprogress"]);
        parts.roll()?;
        assert_eq!(parts.pending.len(), 1);
        assert_eq!(names(dir.path())?, vec![".part-ab-3-0.inprogress"]);
        parts.finish_part()?;
        assert_eq!(names(dir.path())?, vec!["part-ab-3-0"]);
        assert_eq!(parts.committed, 1);
        let text = fs::read_to_string(dir.path().join("part-ab-3-0")).map_err(|e| Error::io("reading", "part-ab-3-0", e))?;
        assert_eq!(text, "ab\nc\n");
        Ok(())
    }

    #[test]
    fn existing_parts_are_not_overwritten() -> Result<()> {
        let dir = temp_dir()?;
        for name in ["part-ab-0-0", ".part-ab-0-1.inprogress"] {
            fs::write(dir.path().join(name), "old\n").map_err(|e| Error::io("writing", name, e))?;
        }
        let mut parts = parts(dir.path(), 0, "ab");
        parts.write(b"new\n")?;
        parts.finish_part()?;
        assert_eq!(names(dir.path())?, vec![".part-ab-0-1.inprogress", "part-ab-0-0", "part-ab-0-2"]);
        Ok(())
    }

    #[test]
    fn rolling_without_a_part_in_progress_does_nothing() -> Result<()> {
        let dir = temp_dir()?;
        let mut parts = parts(dir.path(), 0, "ab");
        parts.finish_part()?;
        assert!(parts.precommit(CheckpointId(1))?.is_empty());
        parts.commit_up_to(CheckpointId(1))?;
        assert!(names(dir.path())?.is_empty());
        Ok(())
    }

    #[test]
    fn parts_wait_for_the_checkpoint_that_covers_them() -> Result<()> {
        let dir = temp_dir()?;
        let mut parts = parts(dir.path(), 0, "ab");
        parts.write(b"1\n")?;
        let state = |id: u64, n: u64| PendingPartState {
            checkpoint: id,
            hidden: format!(".part-ab-0-{n}.inprogress"),
            visible: format!("part-ab-0-{n}"),
        };
        assert_eq!(parts.precommit(CheckpointId(1))?, vec![state(1, 0)]);
        parts.write(b"2\n")?;
        parts.finish_part()?; // rolled over: pending until the next barrier, not committed
        parts.write(b"3\n")?;
        assert_eq!(parts.precommit(CheckpointId(2))?, vec![state(1, 0), state(2, 1), state(2, 2)]);
        parts.write(b"4\n")?;
        assert!(names(dir.path())?.iter().all(|n| n.starts_with('.')));
        // Checkpoint 1's notification was lost; 2's covers it.
        parts.commit_up_to(CheckpointId(2))?;
        assert_eq!(names(dir.path())?, vec![".part-ab-0-3.inprogress", "part-ab-0-0", "part-ab-0-1", "part-ab-0-2"]);
        assert_eq!(parts.precommit(CheckpointId(3))?, vec![state(3, 3)]);
        parts.commit_up_to(CheckpointId(2))?;
        assert_eq!(names(dir.path())?.len(), 4);
        assert_eq!(parts.committed, 3);
        Ok(())
    }

    #[test]
    fn recovery_commits_its_share_once_and_deletes_uncovered_hidden_parts() -> Result<()> {
        let dir = temp_dir()?;
        let write = |name: &str| fs::write(dir.path().join(name), "x\n").map_err(|e| Error::io("writing", name, e));
        // Five pending parts of old subtasks 0 and 1, the first already committed before.
        let restored: Vec<PendingPartState> = (0..5)
            .map(|n| PendingPartState {
                checkpoint: 7,
                hidden: format!(".part-0a-{}-{n}.inprogress", n % 2),
                visible: format!("part-0a-{}-{n}", n % 2),
            })
            .collect();
        write("part-0a-0-0")?;
        for entry in &restored[1..] {
            write(&entry.hidden)?;
        }
        // Newer hidden parts of the old run and of a failed attempt, another run's visible part,
        // a file that is not a part, and the current run's part in progress.
        for name in [
            ".part-0a-1-5.inprogress",
            ".part-0b-2-0.inprogress",
            ".part-0b-3-0.inprogress",
            "part-0c-1-0",
            ".other",
            ".part-cc-1-0.inprogress",
        ] {
            write(name)?;
        }
        // Subtask 1 of 2 commits entries 1 and 3 and cleans up subtask numbers 1 and 3.
        parts(dir.path(), 1, "cc").recover(&restored, 2)?;
        let expected = [
            ".other",
            ".part-0a-0-2.inprogress",
            ".part-0a-0-4.inprogress",
            ".part-0b-2-0.inprogress",
            ".part-cc-1-0.inprogress",
            "part-0a-0-0",
            "part-0a-1-1",
            "part-0a-1-3",
            "part-0c-1-0",
        ];
        assert_eq!(names(dir.path())?, expected);
        // Subtask 0 of 2 commits entries 0 (committed before), 2 and 4, and cleans up 0 and 2.
        parts(dir.path(), 0, "dd").recover(&restored, 2)?;
        let expected =
            [".other", ".part-cc-1-0.inprogress", "part-0a-0-0", "part-0a-0-2", "part-0a-0-4", "part-0a-1-1", "part-0a-1-3", "part-0c-1-0"];
        assert_eq!(names(dir.path())?, expected);
        Ok(())
    }

    #[test]
    fn a_pending_part_that_vanished_fails_the_restore() -> Result<()> {
        let dir = temp_dir()?;
        let restored = vec![PendingPartState { checkpoint: 1, hidden: ".part-0a-0-0.inprogress".into(), visible: "part-0a-0-0".into() }];
        let error = parts(dir.path(), 0, "cc").recover(&restored, 1).unwrap_err();
        assert_eq!(error.to_string(), format!("committing {}", dir.path().join(".part-0a-0-0.inprogress").display()));
        Ok(())
    }

    #[test]
    fn hidden_part_names_parse() {
        let name = PartName { run: "0f", subtask: 2, counter: 17 };
        assert_eq!(name.visible(), "part-0f-2-17");
        assert_eq!(PartName::parse_hidden(&name.hidden()), Some(name));
        for other in
            ["part-0f-2-17", ".part-2-17.inprogress", ".part-xy-2-17.inprogress", ".part-0f-2-17-1.inprogress", ".part--2-1.inprogress"]
        {
            assert_eq!(PartName::parse_hidden(other), None, "{other}");
        }
    }

    #[test]
    fn state_names_must_be_file_names() {
        let entry = |hidden: &str| PendingPartState { checkpoint: 1, hidden: hidden.into(), visible: "part-0a-0-0".into() };
        assert!(entry(".part-0a-0-0.inprogress").validate().is_ok());
        for bad in ["../x", "/etc/passwd", "a/b", "..", ""] {
            assert!(entry(bad).validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn run_ids_are_hex_and_differ() {
        let ids: BTreeSet<String> = (0..100).map(|i| new_run_id(i % 2)).collect();
        assert_eq!(ids.len(), 100);
        assert!(ids.iter().all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }
}
