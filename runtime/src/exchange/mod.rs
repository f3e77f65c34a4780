//! Data exchange between tasks: partitioners and bounded channels of batches.
//!
//! Records cross task boundaries in batches (`Vec<Record<T>>`), flushed when full, when the
//! task runs out of input, or after the buffer timeout. Each channel holds a few batches at
//! most; a full channel blocks the producer, so backpressure reaches the sources and no queue
//! grows without bound. Watermarks, idleness and the end of input travel in-band, after the
//! records they follow.

mod partition;
mod writer;

pub(crate) use partition::{PartitionSpec, Partitioning};
pub(crate) use writer::ChannelWriter;

use std::any::Any;

use crossbeam_channel::{SendError, Sender, TrySendError};

use crate::checkpoint::Barrier;
use crate::data::Timestamp;

/// What travels on a channel between two tasks.
pub(crate) enum Message {
    /// A `Box<Vec<Record<T>>>` of the channel's type.
    Batch(Box<dyn Any + Send>),
    /// The producer's watermark advanced.
    Watermark(Timestamp),
    /// The producer became idle (`true`) or active again.
    Idle(bool),
    /// A checkpoint barrier: everything before it belongs to the checkpoint.
    Barrier(Barrier),
    /// The producer finished; nothing follows. `false` when the job stops with a savepoint:
    /// then the end does not advance the watermark (no windows fire).
    End(bool),
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Batch(_) => f.write_str("Batch"),
            Message::Watermark(w) => write!(f, "Watermark({w})"),
            Message::Idle(i) => write!(f, "Idle({i})"),
            Message::Barrier(b) => write!(f, "Barrier({})", b.id),
            Message::End(drain) => write!(f, "End(drain={drain})"),
        }
    }
}

/// A batch as bytes: what arrives from a producer in another process. The consumer's input
/// head decodes it with the channel's record type (`Vec<Record<T>>` in bincode).
#[derive(Debug)]
pub(crate) struct EncodedBatch(pub(crate) Vec<u8>);

/// Where a producer's channel leads: a bounded queue to a task in this process, or a logical
/// channel of a TCP connection to another worker process (credit-based flow control).
#[derive(Debug, Clone)]
pub(crate) enum Outlet {
    /// A bounded queue to a task of this process.
    Local(Sender<Message>),
    /// A channel to a task in another process.
    Remote(crate::cluster::RemoteOutlet),
}

impl Outlet {
    /// Whether batches must be encoded before `send` (the consumer is in another process).
    pub(crate) fn is_remote(&self) -> bool {
        matches!(self, Outlet::Remote(_))
    }

    pub(crate) fn try_send(&self, msg: Message) -> Result<(), TrySendError<Message>> {
        match self {
            Outlet::Local(tx) => tx.try_send(msg),
            Outlet::Remote(r) => r.try_send(msg),
        }
    }

    pub(crate) fn send(&self, msg: Message) -> Result<(), SendError<Message>> {
        match self {
            Outlet::Local(tx) => tx.send(msg),
            Outlet::Remote(r) => r.send(msg),
        }
    }
}

/// Settings of the exchange.
#[derive(Debug, Clone)]
pub(crate) struct ExchangeConfig {
    /// Records per batch before it is sent.
    pub(crate) batch_records: usize,
    /// Batches a channel holds before the producer blocks.
    pub(crate) channel_capacity: usize,
    /// Longest time a partly filled batch waits.
    pub(crate) buffer_timeout: std::time::Duration,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self { batch_records: 1024, channel_capacity: 4, buffer_timeout: std::time::Duration::from_millis(10) }
    }
}
