//! The wire format of the control plane: length-prefixed frames of bincode.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of payload. Every RPC
//! message goes through [`encode`] and [`decode`] here, so the format can change in one place.

use std::io::{Read, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// The largest frame accepted (job binaries travel in chunks well below it).
pub const MAX_FRAME: usize = 64 << 20;

/// The payload of `msg` (without the length prefix).
///
/// ```
/// use strom_runtime::cluster::wire::{decode, encode};
/// let bytes = encode(&("hello", 7u32)).unwrap();
/// assert_eq!(decode::<(String, u32)>(&bytes).unwrap(), ("hello".to_string(), 7));
/// ```
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>> {
    bincode::serde::encode_to_vec(msg, bincode::config::standard()).map_err(|e| Error::Serialization(e.to_string()))
}

/// Decodes a payload; an error names the message type.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T> {
    bincode::serde::decode_from_slice(payload, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| Error::Serialization(format!("malformed {} frame: {e}", std::any::type_name::<T>())))
}

/// Writes one frame holding `payload`.
pub fn write_payload(w: &mut impl Write, payload: &[u8]) -> std::io::Result<()> {
    w.write_all(&length_prefix(payload)?)?;
    w.write_all(payload)
}

/// The 4-byte prefix of a frame holding `payload`, or an error if it is over [`MAX_FRAME`].
fn length_prefix(payload: &[u8]) -> std::io::Result<[u8; 4]> {
    if payload.len() > MAX_FRAME {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("frame of {} bytes is over the limit", payload.len())));
    }
    Ok((payload.len() as u32).to_be_bytes())
}

/// The payload length a frame's prefix announces, or an error if it is over [`MAX_FRAME`].
fn announced_length(prefix: [u8; 4]) -> std::io::Result<usize> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("frame of {len} bytes is over the limit")));
    }
    Ok(len)
}

/// Writes `msg` as one frame.
pub fn write_frame<T: Serialize>(w: &mut impl Write, msg: &T) -> Result<()> {
    let payload = encode(msg)?;
    write_payload(w, &payload).map_err(|e| Error::Rpc(format!("sending a message: {e}")))
}

/// Reads one frame's payload; `None` when the peer closed the connection between frames.
pub fn read_payload(r: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload = vec![0; announced_length(len)?];
    r.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// Reads one frame and decodes it; `None` when the peer closed the connection.
pub fn read_frame<T: DeserializeOwned>(r: &mut impl Read) -> Result<Option<T>> {
    match read_payload(r).map_err(|e| Error::Rpc(format!("receiving a message: {e}")))? {
        Some(payload) => decode(&payload).map(Some),
        None => Ok(None),
    }
}

/// The same frames over tokio streams (the JobManager's and TaskManager's side).
#[cfg(feature = "cluster")]
pub mod tokio_io {
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::{announced_length, length_prefix};

    /// Reads one frame's payload; `None` when the peer closed the connection between frames.
    pub async fn read_payload(r: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<Vec<u8>>> {
        let mut len = [0u8; 4];
        match r.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut payload = vec![0; announced_length(len)?];
        r.read_exact(&mut payload).await?;
        Ok(Some(payload))
    }

    /// Writes one frame holding `payload`.
    pub async fn write_payload(w: &mut (impl AsyncWrite + Unpin), payload: &[u8]) -> std::io::Result<()> {
        w.write_all(&length_prefix(payload)?).await?;
        w.write_all(payload).await?;
        w.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversized_or_truncated_frames_are_errors() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &vec![1u64, 2, 3]).unwrap();
        write_frame(&mut buf, &"end".to_string()).unwrap();
        let mut r = buf.as_slice();
        assert_eq!(read_frame::<Vec<u64>>(&mut r).unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(read_frame::<String>(&mut r).unwrap(), Some("end".into()));
        assert_eq!(read_frame::<String>(&mut r).unwrap(), None);

        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(read_payload(&mut huge.as_slice()).unwrap_err().to_string().contains("over the limit"));
        let truncated = [0u8, 0, 0, 10, 1, 2];
        assert!(read_payload(&mut truncated.as_slice()).is_err());
        let garbage = [0u8, 0, 0, 1, 0xff];
        assert!(read_frame::<Vec<String>>(&mut garbage.as_slice()).unwrap_err().to_string().contains("malformed"));
    }
}
