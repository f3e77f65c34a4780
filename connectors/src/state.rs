//! The connectors' operator state: entries of list or union state, each one value encoded
//! with bincode (the runtime's encoding of state), so that a checkpoint holds the same bytes
//! whichever state backend wrote it.

use serde::de::DeserializeOwned;
use serde::Serialize;
use strom_runtime::{Error, Result};

/// Encodes one state entry.
pub(crate) fn encode_entry<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|e| Error::Serialization(e.to_string()))
}

/// Decodes the entries of a connector's state; `what` names the state in errors.
pub(crate) fn decode_entries<T: DeserializeOwned>(entries: &[Vec<u8>], what: &str) -> Result<Vec<T>> {
    entries.iter().map(|bytes| decode_entry(bytes, what)).collect()
}

fn decode_entry<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|e| Error::Serialization(format!("cannot read the {what} from the checkpoint (is it another operator's state?): {e}")))?;
    if read != bytes.len() {
        return Err(Error::Serialization(format!(
            "cannot read the {what} from the checkpoint: {} bytes left over in an entry (is it another operator's state?)",
            bytes.len() - read
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_foreign_bytes_are_rejected() -> Result<()> {
        let entries = vec![encode_entry(&(1u64, "a".to_string()))?, encode_entry(&(2u64, "b".to_string()))?];
        let decoded: Vec<(u64, String)> = decode_entries(&entries, "test state")?;
        assert_eq!(decoded, vec![(1, "a".to_string()), (2, "b".to_string())]);
        let foreign = vec![encode_entry(&(1u64, 2u64, 3u64))?];
        let error = decode_entries::<u64>(&foreign, "test state").unwrap_err().to_string();
        assert!(error.contains("cannot read the test state"), "{error}");
        Ok(())
    }
}
