//! Files: a source that reads lines and a sink that writes part files.
//!
//! [`TextFileSource`] is Flink's `FileSource` with a line format: the input is a file or the
//! regular files of a directory, one file is one split, and subtask `i` of `n` reads the
//! files whose index (in name order) is `i` modulo `n`. It is bounded unless it monitors the
//! directory for new files.
//!
//! [`FileSink`] is Flink's `FileSink` with a row format, without buckets: subtask `i` writes
//! part files `part-<run>-<i>-<n>` into one directory, where `<run>` is a random id drawn when
//! the subtask starts. A part file moves through three states: *in progress* (hidden as
//! `.part-<run>-<i>-<n>.inprogress` while it is written), *pending* (closed, flushed and
//! synced to disk, still hidden) and *committed* (renamed to its visible name). Without
//! checkpoints a part is committed as soon as it is pending: when it rolls over its size limit
//! or when the input ends. With checkpoints, pending parts wait for the checkpoint that covers
//! them to complete, and a restore commits what the restored checkpoint covered and deletes
//! newer hidden parts, which makes the sink exactly-once; readers such as [`TextFileSource`]
//! skip hidden files, so they never see a part that is not committed.
//!
//! Both keep their progress in union state: the source the read position of every file it
//! owns, the sink its pending parts, so that a job can be restored at another parallelism.

mod sink;
mod source;

pub use sink::{FileSink, DEFAULT_MAX_PART_SIZE};
pub use source::TextFileSource;
