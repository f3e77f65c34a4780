//! Records and timestamps: what flows between operators.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Event time or processing time in milliseconds since the epoch.
pub type Timestamp = i64;

/// The smallest timestamp: "no watermark yet".
pub const MIN_TIMESTAMP: Timestamp = i64::MIN;
/// The largest timestamp: the watermark emitted at the end of bounded input.
pub const MAX_TIMESTAMP: Timestamp = i64::MAX;

/// Everything that can flow through a stream: ordinary Rust values.
///
/// Inside an operator chain records are moved, never serialized; `Serialize` is needed when
/// they cross process boundaries (the cluster) or are kept in state.
///
/// ```
/// fn takes_data<T: strom_runtime::Data>(_: T) {}
/// takes_data(("word".to_string(), 1u64));
/// ```
pub trait Data: Clone + Send + Serialize + DeserializeOwned + 'static {}
impl<T: Clone + Send + Serialize + DeserializeOwned + 'static> Data for T {}

/// Keys of a keyed stream: data that can be hashed into key groups and compared.
pub trait Key: Data + std::hash::Hash + Eq {}
impl<T: Data + std::hash::Hash + Eq> Key for T {}

/// A record with its event timestamp (`MIN_TIMESTAMP` when it has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record<T> {
    /// Event timestamp in milliseconds.
    pub ts: Timestamp,
    /// The value.
    pub value: T,
}

impl<T> Record<T> {
    /// A record with a timestamp.
    pub fn new(ts: Timestamp, value: T) -> Self {
        Self { ts, value }
    }
}
