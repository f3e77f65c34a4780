//! The runtime's error type. Each error knows who is at fault and whether a retry can help,
//! because the restart strategy and the REST status codes depend on it.

use std::path::PathBuf;

/// Who caused an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bad input from the user: arguments, configuration, a job that panics on its data.
    User,
    /// An external system failed: disk, network, a peer process.
    External,
    /// A bug in Strom.
    Internal,
}

/// Errors of the runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is invalid; `key` names the offending key.
    #[error("invalid configuration for '{key}': {message}")]
    Config {
        /// The configuration key.
        key: String,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// Command-line arguments are invalid.
    #[error("{0}")]
    Usage(String),
    /// The job graph is invalid (for example a forward edge between different parallelisms).
    #[error("invalid job graph: {0}")]
    Graph(String),
    /// Reading or writing a file failed.
    #[error("{op} {path}")]
    Io {
        /// What was being done ("reading", "creating", ...).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A user function failed (returned an error or panicked) in a task.
    #[error("task {task} failed: {message}")]
    TaskFailed {
        /// `name (subtask/parallelism)`.
        task: String,
        /// The panic message or the error.
        message: String,
    },
    /// Input data the job cannot process (a malformed record). Retrying reads the same data,
    /// so it cannot help.
    #[error("invalid data in {task}: {message}")]
    InvalidData {
        /// `name (subtask/parallelism)`.
        task: String,
        /// Where the data is and what is wrong with it.
        message: String,
    },
    /// Encoding or decoding a value failed.
    #[error("serialization failed: {0}")]
    Serialization(String),
    /// The task was canceled, or a task it exchanges data with failed.
    #[error("task canceled")]
    Canceled,
    /// A checkpoint or savepoint cannot be used: its `_metadata` is missing (the checkpoint is
    /// incomplete), or a file is missing, truncated or fails its checksum.
    #[error("{path}: {problem}")]
    CorruptCheckpoint {
        /// The file (or directory) that is wrong.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The state backend failed (RocksDB could not open, read or write its files).
    #[error("state backend: {0}")]
    State(String),
    /// An invariant of the runtime was broken: a bug.
    #[error("internal error: {0}")]
    Internal(String),
    /// A cluster process could not be reached or broke the protocol (a lost connection, a
    /// peer of another version, a malformed message).
    #[error("cluster communication: {0}")]
    Rpc(String),
}

/// `Result` with the runtime's error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Config { .. } | Error::Usage(_) | Error::Graph(_) | Error::TaskFailed { .. } | Error::InvalidData { .. } => Fault::User,
            Error::Io { .. } | Error::CorruptCheckpoint { .. } | Error::State(_) | Error::Rpc(_) => Fault::External,
            Error::Serialization(_) | Error::Internal(_) | Error::Canceled => Fault::Internal,
        }
    }

    /// Whether restarting the job can get past this error: bad data, a corrupt checkpoint and
    /// a wrong job or configuration come back on every restart, so the restart strategy does
    /// not apply to them. The one rule of local mode and of the cluster's JobMaster.
    ///
    /// ```
    /// use strom_runtime::Error;
    /// assert!(Error::TaskFailed { task: "Map (1/2)".into(), message: "boom".into() }.is_recoverable());
    /// assert!(!Error::InvalidData { task: "Map (1/2)".into(), message: "in.csv:3".into() }.is_recoverable());
    /// ```
    pub fn is_recoverable(&self) -> bool {
        !matches!(
            self,
            Error::InvalidData { .. } | Error::CorruptCheckpoint { .. } | Error::Usage(_) | Error::Config { .. } | Error::Graph(_)
        )
    }

    /// The error with its causes, for people: "reading in.txt: No such file or directory".
    ///
    /// ```
    /// let e = strom_runtime::Error::io("reading", "in.txt", std::io::ErrorKind::NotFound.into());
    /// assert_eq!(e.report(), "reading in.txt: entity not found");
    /// ```
    pub fn report(&self) -> String {
        crate::job::invocation::report_chain(self)
    }

    /// An I/O error with the file and what was being done.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.into(), source }
    }

    /// A configuration error naming the key.
    pub fn config(key: &str, message: impl Into<String>) -> Self {
        Error::Config { key: key.to_string(), message: message.into() }
    }
}
