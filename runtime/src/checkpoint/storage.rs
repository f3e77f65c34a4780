//! The layout of checkpoints on the shared directory (being written).

use serde::{Deserialize, Serialize};

/// Storage of one job's checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointStorage;

/// A state file of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFileHandle;
