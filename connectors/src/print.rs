//! `PrintSink`: one line per record on stdout or stderr, and [`DataStreamExt`], which adds
//! Flink's `print()`, `printToErr()` and `writeAsText(dir)` shortcuts to `DataStream`.

use std::fmt::{self, Display};
use std::io::{self, BufWriter, Write};
use std::marker::PhantomData;
use std::path::PathBuf;

use strom_runtime::api::{DataStream, DataStreamSink};
use strom_runtime::operators::{OperatorContext, Sink};
use strom_runtime::{Data, Error, Record, Result};

use crate::FileSink;

/// Where a [`PrintSink`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintTarget {
    /// Standard output (Flink's `print()`).
    Stdout,
    /// Standard error (Flink's `printToErr()`).
    Stderr,
}

/// Writes each record's `Display` form as one line to stdout or stderr (Flink's
/// `PrintSinkFunction`).
///
/// A line is `{value}` when the sink runs at parallelism 1 and `{subtask + 1}> {value}` when
/// it runs at a higher parallelism; with an identifier, `{identifier}> {value}` and
/// `{identifier}:{subtask + 1}> {value}`. A batch of records is written under one lock of
/// the stream, so lines of different subtasks do not interleave within a line.
///
/// ```
/// use strom_connectors::PrintSink;
/// use strom_runtime::prelude::*;
///
/// let env = StreamEnv::new();
/// env.from_collection(vec!["hello".to_string(), "world".to_string()]).sink(PrintSink::stdout()).parallelism(2);
/// env.execute("print")?; // prints each word after the number of its sink subtask, such as "1> hello"
/// # Ok::<(), strom_runtime::Error>(())
/// ```
pub struct PrintSink<T> {
    target: PrintTarget,
    identifier: String,
    /// What precedes each value on its line (set in `open`).
    prefix: String,
    /// The reader went away (`job | head`): further output is discarded, the job goes on.
    closed: bool,
    _t: PhantomData<fn(T)>,
}

impl<T: Data + Display> PrintSink<T> {
    /// A sink printing to standard output.
    pub fn stdout() -> Self {
        Self::new(PrintTarget::Stdout)
    }

    /// A sink printing to standard error.
    pub fn stderr() -> Self {
        Self::new(PrintTarget::Stderr)
    }

    /// A sink printing to `target`.
    pub fn new(target: PrintTarget) -> Self {
        Self { target, identifier: String::new(), prefix: String::new(), closed: false, _t: PhantomData }
    }

    /// Starts every line with `identifier` (Flink's `print(sinkIdentifier)`).
    ///
    /// ```
    /// use strom_connectors::PrintSink;
    /// let sink = PrintSink::<u64>::stdout().with_identifier("counts");
    /// # let _ = sink;
    /// ```
    pub fn with_identifier(mut self, identifier: &str) -> Self {
        self.identifier = identifier.to_string();
        self
    }
}

impl<T: Data + Display> Sink for PrintSink<T> {
    type In = T;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.prefix = line_prefix(&self.identifier, ctx.info().subtask, ctx.info().parallelism);
        Ok(())
    }

    fn write(&mut self, batch: &mut Vec<Record<T>>, _: &mut OperatorContext<'_>) -> Result<()> {
        if self.closed {
            batch.clear();
            return Ok(());
        }
        let result = match self.target {
            PrintTarget::Stdout => write_lines(io::stdout().lock(), &self.prefix, batch),
            PrintTarget::Stderr => write_lines(io::stderr().lock(), &self.prefix, batch),
        };
        batch.clear();
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                tracing::info!(target_stream = self.target.name(), "output closed by its reader; discarding further output");
                self.closed = true;
                Ok(())
            }
            other => other.map_err(|e| Error::io("writing", self.target.name(), e)),
        }
    }
}

impl<T> Clone for PrintSink<T> {
    fn clone(&self) -> Self {
        Self { target: self.target, identifier: self.identifier.clone(), prefix: self.prefix.clone(), closed: false, _t: PhantomData }
    }
}

impl<T> fmt::Debug for PrintSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrintSink").field("target", &self.target).field("identifier", &self.identifier).finish_non_exhaustive()
    }
}

impl PrintTarget {
    fn name(self) -> &'static str {
        match self {
            PrintTarget::Stdout => "<stdout>",
            PrintTarget::Stderr => "<stderr>",
        }
    }
}

/// What precedes each value, as Flink's `PrintSinkOutputWriter` builds it.
fn line_prefix(identifier: &str, subtask: u32, parallelism: u32) -> String {
    let mut prefix = identifier.to_string();
    if parallelism > 1 {
        if !prefix.is_empty() {
            prefix.push(':');
        }
        prefix.push_str(&(subtask + 1).to_string());
    }
    if !prefix.is_empty() {
        prefix.push_str("> ");
    }
    prefix
}

/// Writes the batch as lines through one buffer, so that a locked stream sees one write per
/// buffer-full rather than one per line; drains the batch.
fn write_lines<W: Write, T: Display>(stream: W, prefix: &str, batch: &mut Vec<Record<T>>) -> io::Result<()> {
    let mut out = BufWriter::new(stream);
    for record in batch.drain(..) {
        writeln!(out, "{prefix}{}", record.value)?;
    }
    out.flush()
}

/// Flink's sink shortcuts on `DataStream`: `print()`, `printToErr()` and `writeAsText()`.
///
/// ```
/// use strom_connectors::DataStreamExt;
/// use strom_runtime::prelude::*;
///
/// let dir = tempfile::tempdir()?;
/// let env = StreamEnv::new();
/// let words = env.from_collection(vec!["to".to_string(), "be".to_string()]);
/// words.print();
/// words.write_as_text(dir.path().join("words"));
/// env.execute("shortcuts")?;
/// let part = std::fs::read_dir(dir.path().join("words"))?.next().expect("one part file")?;
/// assert_eq!(std::fs::read_to_string(part.path())?, "to\nbe\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait DataStreamExt {
    /// Prints each record to stdout with a [`PrintSink`] (Flink's `print()`).
    fn print(&self) -> DataStreamSink;

    /// Prints each record to stderr with a [`PrintSink`] (Flink's `printToErr()`).
    fn print_to_err(&self) -> DataStreamSink;

    /// Writes each record as a line into part files in `dir` with [`FileSink::lines`].
    fn write_as_text(&self, dir: impl Into<PathBuf>) -> DataStreamSink;
}

impl<T: Data + Display> DataStreamExt for DataStream<T> {
    fn print(&self) -> DataStreamSink {
        self.sink(PrintSink::stdout()).name("Print to Std. Out")
    }

    fn print_to_err(&self) -> DataStreamSink {
        self.sink(PrintSink::stderr()).name("Print to Std. Err")
    }

    fn write_as_text(&self, dir: impl Into<PathBuf>) -> DataStreamSink {
        self.sink(FileSink::lines(dir)).name("FileSink")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_flink() {
        assert_eq!(line_prefix("", 0, 1), "");
        assert_eq!(line_prefix("", 2, 4), "3> ");
        assert_eq!(line_prefix("out", 0, 1), "out> ");
        assert_eq!(line_prefix("out", 1, 2), "out:2> ");
    }

    #[test]
    fn a_batch_is_written_as_lines_and_drained() {
        let mut batch = vec![Record::new(1, "a b"), Record::new(2, "c")];
        let mut written = Vec::new();
        write_lines(&mut written, "2> ", &mut batch).expect("writing to a Vec cannot fail");
        assert_eq!(String::from_utf8_lossy(&written), "2> a b\n2> c\n");
        assert!(batch.is_empty());
    }
}
