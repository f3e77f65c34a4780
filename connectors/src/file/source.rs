//! `TextFileSource`: the lines of a file, or of the regular files in a directory.
//!
//! Splits: one file is one split. In bounded mode, subtask `i` of `n` reads the files whose
//! index in name order is `i` modulo `n`, as the brief and Flink's static split assignment
//! do. When the source monitors a directory, every subtask lists it on its own and at its own
//! moments, so an index in "the listing" would differ between subtasks and a new file could be
//! read twice or never; a monitoring source therefore assigns each file by a stable hash of
//! its name, which every subtask computes the same way whenever it sees the file.
//!
//! Checkpoints: a subtask's state is the position of every file it owns (the file's name,
//! the byte offset and line number of the next line, and whether the file is done), taken
//! between polls, so it covers exactly the lines emitted before the barrier. It is union
//! state: on restore every subtask gets the positions of all files, takes its files by the
//! assignment rule above at the current parallelism, and resumes each at its restored
//! position (a file without one, new since the checkpoint, is read from the start). That is
//! what makes a restore at another parallelism exact: a file's position travels with the
//! file, whichever subtask owns it now. Files are named relative to the input path, so the
//! input directory can move between runs; a file that was deleted loses its position.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, ErrorKind, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strom_runtime::checkpoint::{CheckpointId, OperatorRestore, OperatorSnapshot};
use strom_runtime::operators::{Collector, OperatorContext, Source, SourceStatus};
use strom_runtime::state::stable_hash;
use strom_runtime::{Data, Error, Result, Timestamp};

use crate::state::{decode_entries, encode_entry};

/// Records emitted per poll at most (about one network buffer).
const BATCH_RECORDS: usize = 1024;
/// Capacity of the buffered reader of a file.
const READ_BUFFER_BYTES: usize = 64 * 1024;
/// What the source's union state is called in errors.
const STATE_NAME: &str = "text file source's read positions";

/// A line the parser rejected, with the parser's message.
struct ParseFailure {
    line: String,
    message: String,
}

/// Turns a line (without its terminator) into a record.
type LineParser<T> = Arc<dyn Fn(String) -> std::result::Result<T, ParseFailure> + Send + Sync>;

/// Reads the lines of a file, or of every regular file in a directory, as records (Flink's
/// `FileSource.forRecordStreamFormat(new TextLineInputFormat(), path)`).
///
/// - A directory's files are read in name order; hidden files (names starting with `.` or
///   `_`, as Flink's default file filter) and subdirectories are skipped.
/// - One file is one split: subtask `i` of `n` reads the files with index `i` modulo `n`.
/// - Each line is emitted without its terminator (`\n` or `\r\n`); a last line without a
///   terminator is emitted too. Invalid UTF-8 is replaced by U+FFFD, as Java's decoder does.
/// - The source is bounded unless [`monitor_continuously`](Self::monitor_continuously) makes
///   it watch the directory for new files. Files must then appear complete (written
///   elsewhere or hidden, then renamed into the directory, as [`FileSink`](crate::FileSink)
///   does); each file is read once.
/// - A missing input fails the job with an error naming the path.
/// - With checkpoints, the source keeps the read position of each of its files in union
///   state; a restored job, at any parallelism, continues exactly after the last line
///   emitted before the checkpoint's barrier.
///
/// ```
/// use strom_connectors::TextFileSource;
/// use strom_runtime::prelude::*;
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "to be\r\nor not\n")?;
/// std::fs::write(dir.path().join("b.txt"), "to be")?;
/// std::fs::write(dir.path().join(".hidden"), "never read")?;
///
/// let env = StreamEnv::new();
/// let lines = CollectSink::new();
/// env.add_source("Lines", TextFileSource::new(dir.path())).sink(lines.clone());
/// env.execute("read lines")?;
/// assert_eq!(lines.sorted(), vec!["or not", "to be", "to be"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TextFileSource<T = String> {
    path: PathBuf,
    monitor_interval: Option<Duration>,
    parse: LineParser<T>,
    /// This subtask's share of the files (set in `open`).
    share: Share,
    /// Used in error messages (set in `open`).
    task_name: String,
    /// The files this subtask reads, in the order it reads them, with their positions.
    splits: Vec<FileSplit>,
    /// The same files as a set, so that each file is read once.
    assigned: BTreeSet<PathBuf>,
    /// Index in `splits` of the file being read; the files before it are done.
    current: usize,
    /// The open file at the current split's position; reopened and sought to it after a
    /// clone.
    reader: Option<LineReader>,
    /// When a monitoring source lists the directory next (processing time).
    next_scan: Timestamp,
    /// Restored positions, by file name, of the files not yet assigned to this subtask.
    restored: BTreeMap<FileKey, ReadPosition>,
}

impl TextFileSource<String> {
    /// A bounded source of the lines of the file or directory at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::from_parser(path.into(), Arc::new(Ok))
    }
}

impl<T: Data> TextFileSource<T> {
    /// A bounded source that turns each line into a record with `parse`. A line that `parse`
    /// rejects fails the job with an error that names the file and line number and quotes
    /// the line.
    ///
    /// ```
    /// use strom_connectors::TextFileSource;
    /// use strom_runtime::prelude::*;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let input = dir.path().join("numbers.txt");
    /// std::fs::write(&input, "1\n2\nthree\n")?;
    ///
    /// let env = StreamEnv::new();
    /// env.add_source("Numbers", TextFileSource::with_parser(&input, |line| line.parse::<u64>()))
    ///     .sink(CollectSink::new());
    /// let error = env.execute("parse numbers").unwrap_err().to_string();
    /// assert!(error.contains(r#"numbers.txt:3: cannot parse line "three""#), "{error}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_parser<E: fmt::Display>(
        path: impl Into<PathBuf>,
        parse: impl Fn(&str) -> std::result::Result<T, E> + Send + Sync + 'static,
    ) -> Self {
        let parse = move |line: String| match parse(&line) {
            Ok(value) => Ok(value),
            Err(e) => Err(ParseFailure { line, message: e.to_string() }),
        };
        Self::from_parser(path.into(), Arc::new(parse))
    }

    fn from_parser(path: PathBuf, parse: LineParser<T>) -> Self {
        Self {
            path,
            monitor_interval: None,
            parse,
            share: Share { index: 0, count: 1 },
            task_name: String::new(),
            splits: Vec::new(),
            assigned: BTreeSet::new(),
            current: 0,
            reader: None,
            next_scan: Timestamp::MIN,
            restored: BTreeMap::new(),
        }
    }

    /// Makes the source unbounded: after reading the files it has, it lists the directory
    /// every `interval` and reads the files it has not seen (Flink's `monitorContinuously`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use strom_connectors::TextFileSource;
    /// let source = TextFileSource::new("/var/log/incoming").monitor_continuously(Duration::from_secs(10));
    /// assert!(!source.is_bounded());
    /// ```
    pub fn monitor_continuously(mut self, interval: Duration) -> Self {
        self.monitor_interval = Some(interval);
        self
    }

    /// The file or directory the source reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the source ends after reading the files it finds when it starts.
    pub fn is_bounded(&self) -> bool {
        self.monitor_interval.is_none()
    }

    /// Adds the files of the input that are this subtask's and not yet known, at their
    /// restored positions if they have one; returns how many.
    fn discover(&mut self) -> Result<usize> {
        let found = list_input(&self.path)?;
        let before = self.splits.len();
        for (index, file) in found.into_iter().enumerate() {
            let mine = if self.is_bounded() { self.share.owns_index(index) } else { self.share.owns_name(&file) };
            if mine && self.assigned.insert(file.clone()) {
                let position = self.restored.remove(&FileKey::of(&file)).unwrap_or_default();
                self.splits.push(FileSplit { path: file, position });
            }
        }
        Ok(self.splits.len() - before)
    }

    /// The next record of this subtask's files; `None` when every file has been read.
    fn next_record(&mut self) -> Result<Option<T>> {
        loop {
            let Some(split) = self.splits.get_mut(self.current) else { return Ok(None) };
            if split.position.done {
                self.current += 1;
                continue;
            }
            let reader = match &mut self.reader {
                Some(reader) => reader,
                None => self.reader.insert(LineReader::open(&split.path, split.position.offset)?),
            };
            match reader.next_line(&split.path)? {
                Some((line, bytes)) => {
                    split.position.advance(bytes);
                    return self.parse_line(line).map(Some);
                }
                None => {
                    self.reader = None;
                    split.position.done = true;
                    self.current += 1;
                }
            }
        }
    }

    /// Parses a line of the current split, just read.
    fn parse_line(&self, line: String) -> Result<T> {
        (self.parse)(line).map_err(|failure| {
            let split = &self.splits[self.current];
            let path = split.path.display();
            let message = format!("{path}:{}: cannot parse line {:?}: {}", split.position.line, failure.line, failure.message);
            Error::InvalidData { task: self.task_name.clone(), message }
        })
    }

    /// What to report when every known file has been read: the end of a bounded input, or
    /// a wait until the next listing of a monitored directory.
    fn after_last_file(&mut self, now: Timestamp) -> Result<SourceStatus> {
        let Some(interval) = self.monitor_interval else { return Ok(SourceStatus::Finished) };
        if now < self.next_scan {
            return Ok(SourceStatus::Wait(Duration::from_millis(self.next_scan.abs_diff(now))));
        }
        self.next_scan = now.saturating_add(millis(interval));
        if self.discover()? > 0 {
            Ok(SourceStatus::MoreAvailable)
        } else {
            Ok(SourceStatus::Wait(interval))
        }
    }
}

impl<T: Data> Source for TextFileSource<T> {
    type Out = T;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.share = Share { index: ctx.info().subtask, count: ctx.info().parallelism.max(1) };
        self.task_name = ctx.info().task_name.clone();
        if let Some(interval) = self.monitor_interval {
            self.next_scan = ctx.processing_time().saturating_add(millis(interval));
        }
        self.discover().map(drop)
    }

    fn poll_next(&mut self, out: &mut Collector<T>, ctx: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        for _ in 0..BATCH_RECORDS {
            match self.next_record()? {
                Some(record) => out.collect(record),
                None => return self.after_last_file(ctx.processing_time()),
            }
        }
        Ok(SourceStatus::MoreAvailable)
    }

    /// The position of every file this subtask owns, as union state.
    fn snapshot_state(&mut self, _: CheckpointId) -> Result<OperatorSnapshot> {
        let union = self.splits.iter().map(|split| encode_entry(&split.state())).collect::<Result<_>>()?;
        Ok(OperatorSnapshot { union, ..OperatorSnapshot::default() })
    }

    /// Keeps the positions of all files; `open` takes those of this subtask's files.
    fn restore_state(&mut self, state: OperatorRestore) -> Result<()> {
        let entries: Vec<SplitState> = decode_entries(&state.union, STATE_NAME)?;
        for entry in entries {
            // Each file has one owner when the snapshot is taken; should a file still appear
            // twice, the further position wins: everything before it was emitted.
            let position = self.restored.entry(FileKey(entry.file)).or_default();
            *position = (*position).max(entry.position);
        }
        Ok(())
    }
}

/// A clone has the same configuration and read position; it reopens its file when polled.
impl<T> Clone for TextFileSource<T> {
    fn clone(&self) -> Self {
        Self {
            path: self.path.clone(),
            monitor_interval: self.monitor_interval,
            parse: self.parse.clone(),
            share: self.share,
            task_name: self.task_name.clone(),
            splits: self.splits.clone(),
            assigned: self.assigned.clone(),
            current: self.current,
            reader: None,
            next_scan: self.next_scan,
            restored: self.restored.clone(),
        }
    }
}

impl<T> fmt::Debug for TextFileSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextFileSource")
            .field("path", &self.path)
            .field("monitor_interval", &self.monitor_interval)
            .field("share", &self.share)
            .field("files", &self.splits.len())
            .field("current", &self.splits.get(self.current))
            .field("restored", &self.restored.len())
            .finish_non_exhaustive()
    }
}

/// Which files a subtask reads: subtask `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Share {
    index: u32,
    count: u32,
}

impl Share {
    /// Whether the file at `index` of a name-ordered listing is this subtask's.
    fn owns_index(self, index: usize) -> bool {
        index % self.count as usize == self.index as usize
    }

    /// Whether `file` is this subtask's, by a hash of its name that every process agrees on.
    fn owns_name(self, file: &Path) -> bool {
        let name = file.file_name().unwrap_or(file.as_os_str());
        stable_hash(name.as_encoded_bytes()) % u64::from(self.count) == u64::from(self.index)
    }
}

/// One file of a subtask and how far it has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileSplit {
    path: PathBuf,
    position: ReadPosition,
}

impl FileSplit {
    /// The split's entry in the source's state.
    fn state(&self) -> SplitState {
        SplitState { file: FileKey::of(&self.path).0, position: self.position }
    }
}

/// Where a subtask is in one file. Positions are ordered by progress: a done file is
/// further than any offset in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct ReadPosition {
    /// Whether every line of the file was emitted.
    done: bool,
    /// Byte offset of the next line in the file.
    offset: u64,
    /// Lines read from the file so far (for error messages).
    line: u64,
}

impl ReadPosition {
    fn advance(&mut self, bytes: u64) {
        self.offset += bytes;
        self.line += 1;
    }
}

/// A file's entry in the source's union state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SplitState {
    /// The file's name (its path relative to the input), as bytes.
    file: Vec<u8>,
    position: ReadPosition,
}

/// A file's name, as the state records it: its raw bytes on Unix, where names need not be
/// UTF-8, and its UTF-8 form (lossy) elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct FileKey(Vec<u8>);

impl FileKey {
    fn of(path: &Path) -> Self {
        let name = path.file_name().unwrap_or(path.as_os_str());
        Self(name_bytes(name))
    }
}

#[cfg(unix)]
fn name_bytes(name: &OsStr) -> Vec<u8> {
    std::os::unix::ffi::OsStrExt::as_bytes(name).to_vec()
}

#[cfg(not(unix))]
fn name_bytes(name: &OsStr) -> Vec<u8> {
    name.to_string_lossy().into_owned().into_bytes()
}

/// An open input file, read line by line.
struct LineReader {
    reader: BufReader<File>,
    buf: Vec<u8>,
}

impl LineReader {
    /// Opens `path` at byte `offset`.
    fn open(path: &Path, offset: u64) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io("reading", path, e))?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset)).map_err(|e| Error::io("seeking in", path, e))?;
        }
        Ok(Self { reader: BufReader::with_capacity(READ_BUFFER_BYTES, file), buf: Vec::new() })
    }

    /// The next line without its terminator and the number of bytes it took in the file;
    /// `None` at the end of the file.
    fn next_line(&mut self, path: &Path) -> Result<Option<(String, u64)>> {
        self.buf.clear();
        let bytes = self.reader.read_until(b'\n', &mut self.buf).map_err(|e| Error::io("reading", path, e))?;
        if bytes == 0 {
            return Ok(None);
        }
        Ok(Some((String::from_utf8_lossy(strip_terminator(&self.buf)).into_owned(), bytes as u64)))
    }
}

/// `line` without a trailing `\n` or `\r\n`.
fn strip_terminator(line: &[u8]) -> &[u8] {
    match line.strip_suffix(b"\n") {
        Some(line) => line.strip_suffix(b"\r").unwrap_or(line),
        None => line,
    }
}

/// The input files at `path`: the file itself, or the directory's visible regular files in
/// name order.
fn list_input(path: &Path) -> Result<Vec<PathBuf>> {
    let metadata = fs::metadata(path).map_err(|e| Error::io("reading", path, e))?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(path).map_err(|e| Error::io("listing", path, e))? {
        let entry = entry.map_err(|e| Error::io("listing", path, e))?;
        let file = entry.path();
        if !is_hidden(&entry.file_name()) && is_regular_file(&file)? {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

/// Hidden files as Flink's default file filter sees them.
fn is_hidden(name: &OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.starts_with(b".") || name.starts_with(b"_")
}

/// Whether `path` is a regular file, following symbolic links. A file that disappeared
/// since the directory was listed (or a dangling link) is not.
fn is_regular_file(path: &Path) -> Result<bool> {
    match fs::metadata(path) {
        Ok(metadata) => Ok(metadata.is_file()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("reading", path, e)),
    }
}

fn millis(d: Duration) -> Timestamp {
    Timestamp::try_from(d.as_millis()).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminators_are_stripped() {
        assert_eq!(strip_terminator(b"a\n"), b"a");
        assert_eq!(strip_terminator(b"a\r\n"), b"a");
        assert_eq!(strip_terminator(b"a"), b"a");
        assert_eq!(strip_terminator(b"a\r"), b"a\r");
        assert_eq!(strip_terminator(b"\r\n"), b"");
        assert_eq!(strip_terminator(b"a\rb\n"), b"a\rb");
    }

    #[test]
    fn shares_partition_indices_and_names() {
        let shares: Vec<Share> = (0..3).map(|index| Share { index, count: 3 }).collect();
        for i in 0..10 {
            assert_eq!(shares.iter().filter(|s| s.owns_index(i)).count(), 1);
            assert!(shares[i % 3].owns_index(i));
            let file = PathBuf::from(format!("/in/file-{i}"));
            assert_eq!(shares.iter().filter(|s| s.owns_name(&file)).count(), 1);
        }
    }

    #[test]
    fn listing_skips_hidden_files_and_directories() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("creating", "a temporary directory", e))?;
        for name in ["b", "a", ".hidden", "_SUCCESS"] {
            fs::write(dir.path().join(name), "x").map_err(|e| Error::io("writing", name, e))?;
        }
        fs::create_dir(dir.path().join("sub")).map_err(|e| Error::io("creating", "sub", e))?;
        assert_eq!(list_input(dir.path())?, vec![dir.path().join("a"), dir.path().join("b")]);
        assert_eq!(list_input(&dir.path().join("b"))?, vec![dir.path().join("b")]);
        Ok(())
    }

    #[test]
    fn missing_input_names_the_path() {
        let error = list_input(Path::new("/nonexistent/input")).unwrap_err();
        assert_eq!(error.to_string(), "reading /nonexistent/input");
        let cause = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
        assert!(cause.contains("No such file"), "{cause}");
    }

    #[test]
    fn a_clone_continues_at_the_read_position() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("creating", "a temporary directory", e))?;
        let file = dir.path().join("in.txt");
        fs::write(&file, "one\ntwo\r\nthree").map_err(|e| Error::io("writing", &file, e))?;
        let mut source = TextFileSource::new(&file);
        source.discover()?;
        assert_eq!(source.next_record()?, Some("one".to_string()));
        assert_eq!(source.splits[0].position, ReadPosition { done: false, offset: 4, line: 1 });
        let mut clone = source.clone();
        assert_eq!(clone.next_record()?, Some("two".to_string()));
        assert_eq!(clone.next_record()?, Some("three".to_string()));
        assert_eq!(clone.next_record()?, None);
        assert_eq!(clone.splits[0].position, ReadPosition { done: true, offset: 14, line: 3 });
        assert_eq!(clone.current, 1);
        Ok(())
    }

    #[test]
    fn monitoring_reads_new_files_once() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("creating", "a temporary directory", e))?;
        let write = |name: &str, text: &str| fs::write(dir.path().join(name), text).map_err(|e| Error::io("writing", name, e));
        write("a", "a1\na2\n")?;
        let mut source = TextFileSource::new(dir.path()).monitor_continuously(Duration::from_millis(10));
        source.discover()?;
        assert_eq!(drain(&mut source)?, vec!["a1", "a2"]);
        assert_eq!(source.after_last_file(0)?, SourceStatus::Wait(Duration::from_millis(10)));
        write("b", "b1\n")?;
        write(".b.inprogress", "hidden\n")?;
        assert_eq!(source.after_last_file(5)?, SourceStatus::Wait(Duration::from_millis(5)));
        assert_eq!(source.after_last_file(10)?, SourceStatus::MoreAvailable);
        assert_eq!(drain(&mut source)?, vec!["b1"]);
        assert_eq!(source.after_last_file(20)?, SourceStatus::Wait(Duration::from_millis(10)));
        assert_eq!(drain(&mut source)?, Vec::<String>::new());
        Ok(())
    }

    /// A fresh source restored from `snapshot` as subtask `index` of `count`, with its files.
    fn restored<T: Data>(mut source: TextFileSource<T>, snapshot: &OperatorSnapshot, index: u32, count: u32) -> Result<TextFileSource<T>> {
        source.restore_state(OperatorRestore { union: snapshot.union.clone(), ..OperatorRestore::default() })?;
        source.share = Share { index, count };
        source.discover()?;
        Ok(source)
    }

    #[test]
    fn a_restored_source_continues_after_the_last_line_before_the_snapshot() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("creating", "a temporary directory", e))?;
        for (name, text) in [("a", "a1\na2\na3\n"), ("b", "b1\r\nb2"), ("c", "c1\n")] {
            fs::write(dir.path().join(name), text).map_err(|e| Error::io("writing", name, e))?;
        }
        let mut source = TextFileSource::new(dir.path());
        source.discover()?;
        let head: Vec<String> = (0..4).map(|_| source.next_record()).collect::<Result<Option<_>>>()?.unwrap_or_default();
        assert_eq!(head, vec!["a1", "a2", "a3", "b1"]);
        let snapshot = source.snapshot_state(CheckpointId(1))?;
        assert_eq!(snapshot.union.len(), 3);
        // Lines emitted after the snapshot are not in it.
        assert_eq!(source.next_record()?, Some("b2".to_string()));
        let mut same = restored(TextFileSource::new(dir.path()), &snapshot, 0, 1)?;
        assert_eq!(drain(&mut same)?, vec!["b2", "c1"]);
        // At parallelism 2, subtask 0 owns a and c, subtask 1 owns b.
        let mut first = restored(TextFileSource::new(dir.path()), &snapshot, 0, 2)?;
        let mut second = restored(TextFileSource::new(dir.path()), &snapshot, 1, 2)?;
        assert_eq!(drain(&mut first)?, vec!["c1"]);
        assert_eq!(drain(&mut second)?, vec!["b2"]);
        // A file without a position (new since the snapshot) is read from its start.
        fs::write(dir.path().join("0"), "new\n").map_err(|e| Error::io("writing", "0", e))?;
        let mut grown = restored(TextFileSource::new(dir.path()), &snapshot, 0, 1)?;
        assert_eq!(drain(&mut grown)?, vec!["new", "b2", "c1"]);
        Ok(())
    }

    #[test]
    fn line_numbers_continue_after_a_restore() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("creating", "a temporary directory", e))?;
        let file = dir.path().join("numbers");
        fs::write(&file, "1\n2\nx\n").map_err(|e| Error::io("writing", &file, e))?;
        let mut source = TextFileSource::with_parser(&file, |line| line.parse::<u32>());
        source.discover()?;
        assert_eq!((source.next_record()?, source.next_record()?), (Some(1), Some(2)));
        let snapshot = source.snapshot_state(CheckpointId(1))?;
        let mut resumed = restored(TextFileSource::with_parser(&file, |line| line.parse::<u32>()), &snapshot, 0, 1)?;
        let error = resumed.next_record().unwrap_err().to_string();
        assert!(error.contains(&format!("{}:3: cannot parse line \"x\"", file.display())), "{error}");
        Ok(())
    }

    #[test]
    fn a_foreign_state_is_rejected() {
        let foreign = OperatorRestore { union: vec![vec![0xff; 3]], ..OperatorRestore::default() };
        let error = TextFileSource::new("in").restore_state(foreign).unwrap_err().to_string();
        assert!(error.contains(STATE_NAME), "{error}");
    }

    fn drain<T: Data>(source: &mut TextFileSource<T>) -> Result<Vec<T>> {
        std::iter::from_fn(|| source.next_record().transpose()).collect()
    }
}
