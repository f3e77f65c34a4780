//! The canonical encoding of keyed state in checkpoints: one block per key group holding
//! every state's entries and the timers, with keys and values serialized. Both state
//! backends read and write it, which is what makes savepoints portable between them.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Namespace;
use crate::data::Timestamp;
use crate::error::{Error, Result};

/// One state's entries in one key group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StateEntries {
    pub(crate) name: String,
    pub(crate) entries: Vec<RawEntry>,
}

/// A serialized `(key, namespace) -> value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RawEntry {
    pub(crate) key: Vec<u8>,
    pub(crate) ns: Namespace,
    pub(crate) value: Vec<u8>,
}

/// A serialized timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TimerEntry {
    pub(crate) key: Vec<u8>,
    pub(crate) ns: Namespace,
    pub(crate) ts: Timestamp,
    pub(crate) event_time: bool,
}

/// Everything of one key group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyGroupBlock {
    pub(crate) states: Vec<StateEntries>,
    pub(crate) timers: Vec<TimerEntry>,
}

impl KeyGroupBlock {
    /// The entries of state `name`, created empty on first use.
    pub(crate) fn state(&mut self, name: &str) -> &mut Vec<RawEntry> {
        let pos = match self.states.iter().position(|s| s.name == name) {
            Some(pos) => pos,
            None => {
                self.states.push(StateEntries { name: name.to_string(), entries: Vec::new() });
                self.states.len() - 1
            }
        };
        &mut self.states[pos].entries
    }
}

/// Blocks being built for a snapshot, by key group.
pub(crate) type Blocks = BTreeMap<u32, KeyGroupBlock>;

/// Serializes a key, value or block.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|e| Error::Serialization(e.to_string()))
}

/// Deserializes a key, value or block; `what` names it in the error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| Error::Serialization(format!("cannot read {what} from the checkpoint (was its type changed?): {e}")))
}
