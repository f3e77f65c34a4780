//! How records are distributed over the subtasks of the next task.

use std::any::Any;
use std::sync::Arc;

/// Partitioning chosen in the API. `Hash` carries the key's stable hash function
/// (`Arc<dyn Fn(&T) -> u64 + Send + Sync>`, type-erased).
#[derive(Clone)]
pub(crate) enum PartitionSpec {
    /// Forward when parallelisms match, rebalance otherwise (Flink's default).
    Default,
    Forward,
    Rebalance,
    Broadcast,
    Hash(Arc<dyn Any + Send + Sync>),
}

impl std::fmt::Debug for PartitionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PartitionSpec::Default => "DEFAULT",
            PartitionSpec::Forward => "FORWARD",
            PartitionSpec::Rebalance => "REBALANCE",
            PartitionSpec::Broadcast => "BROADCAST",
            PartitionSpec::Hash(_) => "HASH",
        })
    }
}

/// Partitioning resolved for an edge of the job graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Partitioning {
    Forward,
    Rebalance,
    Broadcast,
    Hash,
}
