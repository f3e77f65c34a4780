//! Strom: a stream-processing runtime with Flink's semantics.
pub use strom_runtime::*;
