//! `FileSink`: part files in a directory, visible once they are finished.
//!
//! A subtask's part files move through three states, kept explicit in [`PartFiles`] so that
//! checkpointing can extend them: an [`InProgressPart`] is being written under a hidden
//! name; closing it (flush, fsync) makes it a [`PendingPart`]; committing a pending part
//! renames it to its visible name. Today a part is committed as soon as it is pending; with
//! checkpoints, pending parts will be committed when the checkpoint that covers them
//! completes, and the in-progress part's path and size will be part of the sink's state.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strom_runtime::operators::{OperatorContext, Sink};
use strom_runtime::{Data, Error, Record, Result};

/// The size at which a part file rolls over by default: 128 MiB, as Flink's
/// `DefaultRollingPolicy`.
pub const DEFAULT_MAX_PART_SIZE: u64 = 128 * 1024 * 1024;

/// Capacity of the buffered writer of a part file.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// Appends the bytes of a record to a buffer.
type Encoder<T> = Arc<dyn Fn(&T, &mut Vec<u8>) + Send + Sync>;

/// Writes records into part files in a directory (Flink's `FileSink.forRowFormat`, without
/// buckets).
///
/// Subtask `i` writes `part-<i>-<n>` for `n = 0, 1, ...`, skipping counters whose files
/// already exist, so that a second run into the same directory adds files rather than
/// overwriting them. While it is written a part is hidden as `.part-<i>-<n>.inprogress`; it
/// becomes visible (renamed, after flush and fsync) when it is finished: when it reaches the
/// maximum part size ([`DEFAULT_MAX_PART_SIZE`] unless set with
/// [`with_max_part_size`](Self::with_max_part_size)), or at the end of the input. A subtask
/// that receives no records writes no file. The directory is created if it is missing.
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
/// assert_eq!(std::fs::read_to_string(out.join("part-0-0"))?, "1\tone\n2\ttwo\n");
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
}

impl<T: Data> FileSink<T> {
    /// A sink writing into `dir`, encoding each record with `encoder`, which appends the
    /// record's bytes (including any separator) to the buffer it is given.
    pub fn new(dir: impl Into<PathBuf>, encoder: impl Fn(&T, &mut Vec<u8>) + Send + Sync + 'static) -> Self {
        Self { dir: dir.into(), encoder: Arc::new(encoder), max_part_size: DEFAULT_MAX_PART_SIZE, parts: None, scratch: Vec::new() }
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
    /// assert_eq!(std::fs::read_to_string(dir.path().join("part-0-0"))?, "1\n2\n3\n");
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
        self.parts = Some(PartFiles::new(self.dir.clone(), ctx.info().subtask));
        Ok(())
    }

    fn write(&mut self, batch: &mut Vec<Record<T>>, _: &mut OperatorContext<'_>) -> Result<()> {
        let parts = opened(&mut self.parts)?;
        for record in batch.drain(..) {
            self.scratch.clear();
            (self.encoder)(&record.value, &mut self.scratch);
            if parts.write(&self.scratch)? >= self.max_part_size {
                parts.roll()?;
                parts.commit_pending()?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, _: &mut OperatorContext<'_>) -> Result<()> {
        let parts = opened(&mut self.parts)?;
        parts.roll()?;
        parts.commit_pending()?;
        parts.sync_dir()?;
        tracing::debug!(dir = %parts.dir.display(), subtask = parts.subtask, committed = parts.committed.len(), "file sink finished");
        Ok(())
    }
}

impl<T> Clone for FileSink<T> {
    fn clone(&self) -> Self {
        Self { dir: self.dir.clone(), encoder: self.encoder.clone(), max_part_size: self.max_part_size, parts: None, scratch: Vec::new() }
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

/// The names of part `counter` of subtask `subtask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PartName {
    subtask: u32,
    counter: u64,
}

impl PartName {
    fn visible(self, dir: &Path) -> PathBuf {
        dir.join(format!("part-{}-{}", self.subtask, self.counter))
    }

    fn in_progress(self, dir: &Path) -> PathBuf {
        dir.join(format!(".part-{}-{}.inprogress", self.subtask, self.counter))
    }
}

/// A subtask's part files: at most one in progress, the pending ones, the committed ones.
struct PartFiles {
    dir: PathBuf,
    subtask: u32,
    /// The counter of the next part to try.
    next_counter: u64,
    in_progress: Option<InProgressPart>,
    pending: Vec<PendingPart>,
    committed: Vec<PathBuf>,
}

impl PartFiles {
    fn new(dir: PathBuf, subtask: u32) -> Self {
        Self { dir, subtask, next_counter: 0, in_progress: None, pending: Vec::new(), committed: Vec::new() }
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
            let name = PartName { subtask: self.subtask, counter: self.next_counter };
            self.next_counter += 1;
            if name.visible(&self.dir).exists() {
                continue;
            }
            if let Some(part) = InProgressPart::create(&self.dir, name)? {
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

    /// Makes every pending part visible.
    fn commit_pending(&mut self) -> Result<()> {
        for part in self.pending.drain(..) {
            self.committed.push(part.commit()?);
        }
        Ok(())
    }

    /// Makes the renames durable.
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
            .field("in_progress", &self.in_progress.as_ref().map(|p| &p.hidden))
            .field("pending", &self.pending)
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
    /// Creates the hidden file of `name`; `None` if it exists already.
    fn create(dir: &Path, name: PartName) -> Result<Option<Self>> {
        let hidden = name.in_progress(dir);
        let file = match OpenOptions::new().write(true).create_new(true).open(&hidden) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(Error::io("creating", hidden, e)),
        };
        let writer = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
        Ok(Some(Self { visible: name.visible(dir), hidden, writer, size: 0 }))
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
    /// Renames the part to its visible name; returns that name.
    fn commit(self) -> Result<PathBuf> {
        fs::rename(&self.hidden, &self.visible).map_err(|e| Error::io("committing", &self.hidden, e))?;
        Ok(self.visible)
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

    #[test]
    fn a_part_moves_from_in_progress_to_pending_to_committed() -> Result<()> {
        let dir = temp_dir()?;
        let mut parts = PartFiles::new(dir.path().to_path_buf(), 3);
        assert_eq!(parts.write(b"ab\n")?, 3);
        assert_eq!(parts.write(b"c\n")?, 5);
        assert_eq!(names(dir.path())?, vec![".part-3-0.inprogress"]);
        parts.roll()?;
        assert_eq!(parts.pending.len(), 1);
        assert_eq!(names(dir.path())?, vec![".part-3-0.inprogress"]);
        parts.commit_pending()?;
        assert_eq!(names(dir.path())?, vec!["part-3-0"]);
        assert_eq!(parts.committed, vec![dir.path().join("part-3-0")]);
        let text = fs::read_to_string(dir.path().join("part-3-0")).map_err(|e| Error::io("reading", "part-3-0", e))?;
        assert_eq!(text, "ab\nc\n");
        Ok(())
    }

    #[test]
    fn existing_parts_are_not_overwritten() -> Result<()> {
        let dir = temp_dir()?;
        for name in ["part-0-0", ".part-0-1.inprogress"] {
            fs::write(dir.path().join(name), "old\n").map_err(|e| Error::io("writing", name, e))?;
        }
        let mut parts = PartFiles::new(dir.path().to_path_buf(), 0);
        parts.write(b"new\n")?;
        parts.roll()?;
        parts.commit_pending()?;
        assert_eq!(names(dir.path())?, vec![".part-0-1.inprogress", "part-0-0", "part-0-2"]);
        Ok(())
    }

    #[test]
    fn rolling_without_a_part_in_progress_does_nothing() -> Result<()> {
        let dir = temp_dir()?;
        let mut parts = PartFiles::new(dir.path().to_path_buf(), 0);
        parts.roll()?;
        parts.commit_pending()?;
        assert!(names(dir.path())?.is_empty());
        Ok(())
    }
}
