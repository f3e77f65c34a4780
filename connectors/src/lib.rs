//! Strom's connectors: files, datagen, Nexmark, print and blackhole.
//!
//! Sources implement the runtime's [`Source`](strom_runtime::operators::Source) trait and are
//! added with `StreamEnv::add_source`; every subtask gets a clone and reads its share of the
//! input: [`TextFileSource`] reads the lines of a file or a directory (one file is one split),
//! [`DataGenSource`] generates records from an index sequence, and [`nexmark`] generates the
//! Nexmark benchmark's auction events. Sinks implement
//! [`Sink`](strom_runtime::operators::Sink) and end a stream through `DataStream::sink`:
//! [`FileSink`] writes part files into a directory and makes them visible when they are
//! finished or, when the job checkpoints, when the checkpoint that covers them completes
//! (exactly once), [`PrintSink`] writes one line per record to stdout or stderr, and
//! [`BlackholeSink`] counts and discards. [`DataStreamExt`] adds Flink's shortcuts
//! `print()` and `write_as_text(dir)` to `DataStream`.
//!
//! The sources keep their read positions and the file sink its pending part files in operator
//! state (`snapshot_state`, `restore_state`), so that a job restored from a checkpoint or a
//! savepoint, at the same or another parallelism, neither loses nor repeats a record.
//!
//! ```
//! use strom_connectors::{DataGenSource, DataStreamExt};
//! use strom_runtime::prelude::*;
//!
//! let env = StreamEnv::new();
//! env.add_source("Numbers", DataGenSource::new(Some(3), |i| i * 10)).print();
//! env.execute("print numbers").unwrap(); // prints 0, 10 and 20
//! ```

mod blackhole;
mod datagen;
mod file;
mod java_random;
mod lanes;
pub mod nexmark;
mod print;
mod state;

pub use blackhole::BlackholeSink;
pub use datagen::DataGenSource;
pub use file::{FileSink, TextFileSource, DEFAULT_MAX_PART_SIZE};
pub use java_random::JavaRandom;
pub use print::{DataStreamExt, PrintSink, PrintTarget};
