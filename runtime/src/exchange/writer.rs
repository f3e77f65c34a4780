//! The end of a chain that writes to other tasks' channels.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::TrySendError;

use super::{EncodedBatch, ExchangeConfig, Message, Outlet, Partitioning};
use crate::checkpoint::{Barrier, CheckpointId};
use crate::data::{Data, Record, Timestamp};
use crate::error::{Error, Result};
use crate::state::KeyGroup;
use crate::task::{Link, TaskCx, TaskSnapshot};

enum Router<T> {
    Forward,
    Rebalance { next: usize },
    Broadcast,
    Hash { hash: Arc<dyn Fn(&T) -> u64 + Send + Sync>, max_parallelism: u32 },
}

/// Partitions records over the channels to the subtasks of one consumer.
pub(crate) struct ChannelWriter<T> {
    channels: Vec<Outlet>,
    buffers: Vec<Vec<Record<T>>>,
    router: Router<T>,
    batch_records: usize,
}

impl<T: Data> ChannelWriter<T> {
    /// `hash` is the erased key hash for `Partitioning::Hash`.
    pub(crate) fn new(
        partitioning: Partitioning,
        hash: Option<&Arc<dyn Any + Send + Sync>>,
        max_parallelism: u32,
        channels: Vec<Outlet>,
        config: &ExchangeConfig,
    ) -> Result<Self> {
        let router = match partitioning {
            Partitioning::Forward => Router::Forward,
            Partitioning::Rebalance => Router::Rebalance { next: 0 },
            Partitioning::Broadcast => Router::Broadcast,
            Partitioning::Hash => {
                let hash = hash
                    .and_then(|h| h.downcast_ref::<Arc<dyn Fn(&T) -> u64 + Send + Sync>>())
                    .ok_or_else(|| Error::Internal("hash edge without a key function of its type".into()))?;
                Router::Hash { hash: hash.clone(), max_parallelism }
            }
        };
        let buffers = channels.iter().map(|_| Vec::with_capacity(config.batch_records)).collect();
        Ok(Self { channels, buffers, router, batch_records: config.batch_records })
    }

    fn send(&mut self, channel: usize, msg: Message, cx: &mut TaskCx) -> Result<()> {
        let msg = match self.channels[channel].try_send(msg) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(_)) => return Err(cx.canceled()),
            Err(TrySendError::Full(msg)) => msg,
        };
        let blocked = Instant::now();
        let sent = self.channels[channel].send(msg);
        cx.metrics.backpressured_ns += blocked.elapsed().as_nanos() as u64;
        sent.map_err(|_| cx.canceled())
    }

    fn send_buffer(&mut self, channel: usize, cx: &mut TaskCx) -> Result<()> {
        let full = std::mem::replace(&mut self.buffers[channel], Vec::with_capacity(self.batch_records));
        cx.metrics.records_out += full.len() as u64;
        let batch: Box<dyn Any + Send> = if self.channels[channel].is_remote() {
            // Serialized here, on the producer's thread, as Flink's record writer does.
            Box::new(EncodedBatch(crate::cluster::encode_batch(&full)?))
        } else {
            Box::new(full)
        };
        self.send(channel, Message::Batch(batch), cx)
    }

    fn send_if_full(&mut self, channel: usize, cx: &mut TaskCx) -> Result<()> {
        if self.buffers[channel].len() >= self.batch_records {
            self.send_buffer(channel, cx)?;
        }
        Ok(())
    }

    fn broadcast(&mut self, msg: impl Fn() -> Message, cx: &mut TaskCx) -> Result<()> {
        self.flush(cx)?;
        (0..self.channels.len()).try_for_each(|c| self.send(c, msg(), cx))
    }
}

impl<T: Data> Link<T> for ChannelWriter<T> {
    fn open(&mut self, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }

    fn push(&mut self, batch: &mut Vec<Record<T>>, cx: &mut TaskCx) -> Result<()> {
        let n = self.channels.len();
        match &mut self.router {
            Router::Forward => {
                if self.buffers[0].is_empty() && batch.len() >= self.batch_records {
                    std::mem::swap(&mut self.buffers[0], batch);
                } else {
                    self.buffers[0].append(batch);
                }
                return self.send_if_full(0, cx);
            }
            Router::Rebalance { next } => {
                let mut c = *next;
                for r in batch.drain(..) {
                    self.buffers[c].push(r);
                    c = if c + 1 == n { 0 } else { c + 1 };
                }
                *next = c;
            }
            Router::Broadcast => {
                for (i, buf) in self.buffers.iter_mut().enumerate() {
                    if i + 1 == n {
                        buf.append(batch);
                    } else {
                        buf.extend(batch.iter().cloned());
                    }
                }
            }
            Router::Hash { hash, max_parallelism } => {
                for r in batch.drain(..) {
                    let c = KeyGroup::from_hash(hash(&r.value), *max_parallelism).subtask(*max_parallelism, n as u32);
                    self.buffers[c as usize].push(r);
                }
            }
        }
        (0..n).try_for_each(|c| self.send_if_full(c, cx))
    }

    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()> {
        self.broadcast(|| Message::Watermark(wm), cx)
    }

    fn idle(&mut self, idle: bool, cx: &mut TaskCx) -> Result<()> {
        self.broadcast(|| Message::Idle(idle), cx)
    }

    fn processing_time(&mut self, _: Timestamp, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        None
    }

    fn finish(&mut self, cx: &mut TaskCx) -> Result<()> {
        let drain = !cx.stopping;
        self.broadcast(|| Message::End(drain), cx)
    }

    fn snapshot(&mut self, barrier: &Barrier, _: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()> {
        if cx.finished {
            // The stream has ended; a finished task's snapshot has nothing to align.
            return Ok(());
        }
        self.broadcast(|| Message::Barrier(barrier.clone()), cx)
    }

    fn notify_complete(&mut self, _: CheckpointId, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }

    fn flush(&mut self, cx: &mut TaskCx) -> Result<()> {
        for c in 0..self.channels.len() {
            if !self.buffers[c].is_empty() {
                self.send_buffer(c, cx)?;
            }
        }
        Ok(())
    }
}
