//! The remote exchange: one TCP connection per pair of worker processes, multiplexing the
//! logical channels between their tasks, with credit-based flow control per channel.
//!
//! A producer starts with as many credits per channel as the consumer's queue has buffers
//! (`taskmanager.network.buffers-per-channel`) and spends one per message; the consumer
//! returns one whenever its task takes a message out of the queue. So a message always finds
//! room when it arrives, the reader thread never blocks, and a slow consumer stalls only the
//! producers of its own channels, never the connection.
//!
//! Frames: `u32` length, `u32` channel, `u8` kind, payload. Batches arrive as
//! [`EncodedBatch`](crate::exchange::EncodedBatch) and are decoded by the consumer task.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, SendError, Sender, TrySendError};

use crate::checkpoint::Barrier;
use crate::error::{Error, Result};
use crate::exchange::{EncodedBatch, Message};

const BATCH: u8 = 0;
const WATERMARK: u8 = 1;
const IDLE: u8 = 2;
const BARRIER: u8 = 3;
const END: u8 = 4;
const CREDIT: u8 = 5;

/// A producer's credits on one channel.
#[derive(Debug)]
pub(crate) struct Credits {
    /// Available credits, and whether the connection is gone.
    state: Mutex<(u32, bool)>,
    freed: Condvar,
}

impl Credits {
    pub(crate) fn new(initial: u32) -> Arc<Self> {
        Arc::new(Self { state: Mutex::new((initial, false)), freed: Condvar::new() })
    }

    fn add(&self, n: u32) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 += n;
        self.freed.notify_all();
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.freed.notify_all();
    }

    /// Takes a credit: `Ok(true)` taken, `Ok(false)` none left (only when `wait` is false),
    /// `Err(())` the connection is gone.
    fn take(&self, wait: bool) -> std::result::Result<bool, ()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if state.1 {
                return Err(());
            }
            if state.0 > 0 {
                state.0 -= 1;
                return Ok(true);
            }
            if !wait {
                return Ok(false);
            }
            state = self.freed.wait_timeout(state, Duration::from_millis(200)).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// The sending half of a connection to a peer worker: frames go to its writer thread.
#[derive(Debug)]
pub(crate) struct PeerLink {
    frames: Sender<Vec<u8>>,
    /// Credits of the outgoing channels on this link, closed when the link breaks.
    credits: Mutex<Vec<Arc<Credits>>>,
}

impl PeerLink {
    /// Starts the writer thread of `stream`.
    pub(crate) fn start(stream: TcpStream, peer: u32) -> Result<Arc<Self>> {
        let (frames, rx) = crossbeam_channel::unbounded::<Vec<u8>>();
        let link = Arc::new(Self { frames, credits: Mutex::new(Vec::new()) });
        let weak = Arc::downgrade(&link);
        std::thread::Builder::new()
            .name(format!("data-out-{peer}"))
            .spawn(move || {
                if let Err(e) = write_loop(stream, &rx) {
                    tracing::warn!(peer, error = %e, "data connection to a peer worker broke");
                }
                if let Some(link) = weak.upgrade() {
                    link.close();
                }
            })
            .map_err(|e| Error::io("spawning", "a data connection thread", e))?;
        Ok(link)
    }

    fn close(&self) {
        for c in self.credits.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            c.close();
        }
    }

    fn send_frame(&self, channel: u32, kind: u8, payload: &[u8]) -> std::result::Result<(), ()> {
        let mut frame = Vec::with_capacity(9 + payload.len());
        frame.extend_from_slice(&((5 + payload.len()) as u32).to_be_bytes());
        frame.extend_from_slice(&channel.to_be_bytes());
        frame.push(kind);
        frame.extend_from_slice(payload);
        self.frames.send(frame).map_err(drop)
    }

    fn send_message(&self, channel: u32, msg: &Message) -> std::result::Result<(), ()> {
        match msg {
            Message::Batch(batch) => match batch.downcast_ref::<EncodedBatch>() {
                Some(bytes) => self.send_frame(channel, BATCH, &bytes.0),
                None => {
                    tracing::error!("a batch for another process was not encoded");
                    Err(())
                }
            },
            Message::Watermark(wm) => self.send_frame(channel, WATERMARK, &wm.to_be_bytes()),
            Message::Idle(idle) => self.send_frame(channel, IDLE, &[u8::from(*idle)]),
            Message::Barrier(b) => match super::wire::encode(b) {
                Ok(payload) => self.send_frame(channel, BARRIER, &payload),
                Err(_) => Err(()),
            },
            Message::End(drain) => self.send_frame(channel, END, &[u8::from(*drain)]),
        }
    }
}

fn write_loop(stream: TcpStream, rx: &Receiver<Vec<u8>>) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(256 << 10, stream);
    while let Ok(frame) = rx.recv() {
        out.write_all(&frame)?;
        // Write what is queued, then flush once the queue is empty.
        while let Ok(frame) = rx.try_recv() {
            out.write_all(&frame)?;
        }
        out.flush()?;
    }
    Ok(())
}

/// A producer's end of a channel to a task in another worker process.
#[derive(Debug, Clone)]
pub(crate) struct RemoteOutlet {
    channel: u32,
    credits: Arc<Credits>,
    link: Arc<PeerLink>,
}

impl RemoteOutlet {
    pub(crate) fn new(channel: u32, initial_credits: u32, link: &Arc<PeerLink>) -> Self {
        let credits = Credits::new(initial_credits);
        link.credits.lock().unwrap_or_else(|e| e.into_inner()).push(credits.clone());
        Self { channel, credits, link: link.clone() }
    }

    pub(crate) fn try_send(&self, msg: Message) -> std::result::Result<(), TrySendError<Message>> {
        match self.credits.take(false) {
            Ok(true) => self.link.send_message(self.channel, &msg).map_err(|()| TrySendError::Disconnected(msg)),
            Ok(false) => Err(TrySendError::Full(msg)),
            Err(()) => Err(TrySendError::Disconnected(msg)),
        }
    }

    pub(crate) fn send(&self, msg: Message) -> std::result::Result<(), SendError<Message>> {
        match self.credits.take(true) {
            Ok(_) => self.link.send_message(self.channel, &msg).map_err(|()| SendError(msg)),
            Err(()) => Err(SendError(msg)),
        }
    }
}

/// Gives a consumed buffer's credit back to the producer of a channel.
#[derive(Debug, Clone)]
pub(crate) struct CreditReturn {
    channel: u32,
    link: Arc<PeerLink>,
}

impl CreditReturn {
    pub(crate) fn new(channel: u32, link: &Arc<PeerLink>) -> Self {
        Self { channel, link: link.clone() }
    }

    pub(crate) fn grant(&self) {
        // A broken link fails the tasks through their channels; nothing to do here.
        let _ = self.link.send_frame(self.channel, CREDIT, &1u32.to_be_bytes());
    }
}

/// Where the reader of one connection delivers: incoming channels' queues, and the credits of
/// outgoing channels.
#[derive(Default)]
pub(crate) struct Routes {
    pub(crate) inbound: HashMap<u32, Sender<Message>>,
    pub(crate) credits: HashMap<u32, Arc<Credits>>,
}

impl Routes {
    pub(crate) fn add_outlet(&mut self, outlet: &RemoteOutlet) {
        self.credits.insert(outlet.channel, outlet.credits.clone());
    }
}

/// Starts the reader thread of a connection. When the connection ends, the incoming
/// channels' queues are dropped (their consumers see the producer gone unless the stream
/// had ended) and the outgoing channels' credits are closed.
pub(crate) fn start_reader(stream: TcpStream, peer: u32, routes: Routes, link: Arc<PeerLink>) -> Result<()> {
    std::thread::Builder::new()
        .name(format!("data-in-{peer}"))
        .spawn(move || {
            let result = read_loop(stream, &routes);
            link.close();
            match result {
                Ok(()) => tracing::debug!(peer, "data connection closed"),
                Err(e) => tracing::warn!(peer, error = %e, "data connection from a peer worker broke"),
            }
        })
        .map_err(|e| Error::io("spawning", "a data connection thread", e))?;
    Ok(())
}

fn read_loop(stream: TcpStream, routes: &Routes) -> Result<()> {
    let mut input = BufReader::with_capacity(256 << 10, stream);
    let broken = |what: String| Error::Rpc(format!("data connection: {what}"));
    loop {
        let mut header = [0u8; 9];
        match input.read_exact(&mut header[..4]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(broken(e.to_string())),
        }
        input.read_exact(&mut header[4..]).map_err(|e| broken(e.to_string()))?;
        let len = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let channel = u32::from_be_bytes(header[4..8].try_into().expect("4 bytes"));
        let kind = header[8];
        if !(5..=super::wire::MAX_FRAME).contains(&len) {
            return Err(broken(format!("frame length {len}")));
        }
        let mut payload = vec![0; len - 5];
        input.read_exact(&mut payload).map_err(|e| broken(e.to_string()))?;
        if kind == CREDIT {
            let n = u32::from_be_bytes(payload.as_slice().try_into().map_err(|_| broken("credit frame".into()))?);
            routes.credits.get(&channel).ok_or_else(|| broken(format!("credit for unknown channel {channel}")))?.add(n);
            continue;
        }
        let msg = match kind {
            BATCH => Message::Batch(Box::new(EncodedBatch(payload))),
            WATERMARK => Message::Watermark(i64::from_be_bytes(payload.as_slice().try_into().map_err(|_| broken("watermark".into()))?)),
            IDLE => Message::Idle(payload.first() == Some(&1)),
            BARRIER => Message::Barrier(super::wire::decode::<Barrier>(&payload)?),
            END => Message::End(payload.first() == Some(&1)),
            other => return Err(broken(format!("unknown frame kind {other}"))),
        };
        let queue = routes.inbound.get(&channel).ok_or_else(|| broken(format!("data for unknown channel {channel}")))?;
        match queue.try_send(msg) {
            Ok(()) => {}
            // The consumer task ended (after the stream's end, or because the job stops).
            Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => return Err(broken(format!("the producer of channel {channel} sent without credit"))),
        }
    }
}

/// Serializes a batch for a consumer in another process.
pub(crate) fn encode_batch<T: crate::Data>(batch: &Vec<crate::Record<T>>) -> Result<Vec<u8>> {
    super::wire::encode(batch)
}

/// Decodes a batch from another process.
pub(crate) fn decode_batch<T: crate::Data>(bytes: &[u8]) -> Result<Vec<crate::Record<T>>> {
    super::wire::decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        (a, b)
    }

    /// A producer with 2 credits sends 5 messages to a consumer that takes them one by one:
    /// it never has more than 2 in flight, gets every message in order, and blocks (not
    /// fails) while the consumer holds back.
    #[test]
    fn credits_bound_what_is_in_flight_and_messages_arrive_in_order() {
        let (a, b) = pair();
        let producer_link = PeerLink::start(a.try_clone().unwrap(), 1).unwrap();
        let consumer_link = PeerLink::start(b.try_clone().unwrap(), 0).unwrap();
        let outlet = RemoteOutlet::new(7, 2, &producer_link);
        let mut producer_routes = Routes::default();
        producer_routes.add_outlet(&outlet);
        start_reader(a, 1, producer_routes, producer_link).unwrap();
        let (tx, rx) = crossbeam_channel::bounded(2);
        let mut consumer_routes = Routes::default();
        consumer_routes.inbound.insert(7, tx);
        start_reader(b, 0, consumer_routes, consumer_link.clone()).unwrap();
        let credit = CreditReturn::new(7, &consumer_link);

        let batch = encode_batch(&vec![crate::Record::new(5, "a".to_string())]).unwrap();
        outlet.try_send(Message::Batch(Box::new(EncodedBatch(batch)))).unwrap();
        outlet.try_send(Message::Watermark(42)).unwrap();
        assert!(matches!(outlet.try_send(Message::Idle(true)), Err(TrySendError::Full(_))), "third message without credit");
        let sender = std::thread::spawn(move || {
            outlet.send(Message::Idle(true)).unwrap();
            outlet
                .send(Message::Barrier(Barrier {
                    id: crate::checkpoint::CheckpointId(3),
                    timestamp: 9,
                    kind: crate::checkpoint::SnapshotKind::Checkpoint,
                }))
                .unwrap();
            outlet.send(Message::End(true)).unwrap();
        });
        let mut got = Vec::new();
        for _ in 0..5 {
            let msg = rx.recv().unwrap();
            credit.grant();
            got.push(match msg {
                Message::Batch(b) => {
                    let bytes = b.downcast::<EncodedBatch>().unwrap();
                    format!("{:?}", decode_batch::<String>(&bytes.0).unwrap())
                }
                other => format!("{other:?}"),
            });
        }
        sender.join().unwrap();
        assert_eq!(got, vec![r#"[Record { ts: 5, value: "a" }]"#, "Watermark(42)", "Idle(true)", "Barrier(3)", "End(drain=true)"]);
    }

    #[test]
    fn a_broken_connection_fails_blocked_producers() {
        let (a, b) = pair();
        let link = PeerLink::start(a.try_clone().unwrap(), 1).unwrap();
        let outlet = RemoteOutlet::new(0, 0, &link);
        let mut routes = Routes::default();
        routes.add_outlet(&outlet);
        start_reader(a, 1, routes, link).unwrap();
        let blocked = std::thread::spawn(move || outlet.send(Message::Watermark(1)).is_err());
        drop(b);
        assert!(blocked.join().unwrap(), "send fails once the peer is gone");
    }
}
