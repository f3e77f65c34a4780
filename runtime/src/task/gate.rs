//! The mailbox loop of a task with inputs, and its watermark valve.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, TryRecvError};

use super::control::{Control, FinishedOps};
use super::source::{fire_due_timers, ChainOps};
use super::{TaskCx, TaskInput, TaskSnapshot};
use crate::checkpoint::{Barrier, CheckpointId};
use crate::data::{Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP};
use crate::error::Result;
use crate::exchange::Message;

/// One channel from an upstream subtask.
pub(crate) struct InputChannel {
    pub(crate) rx: Receiver<Message>,
    /// Which input of a two-input task it feeds (0 or 1).
    pub(crate) input: u8,
    watermark: Timestamp,
    idle: bool,
    ended: bool,
    /// Delivered the barrier being aligned; not read until alignment completes.
    blocked: bool,
    /// A channel from another process: each message taken frees a buffer, which the producer
    /// gets back as a credit.
    credit: Option<crate::cluster::CreditReturn>,
}

impl InputChannel {
    pub(crate) fn new(rx: Receiver<Message>, input: u8) -> Self {
        Self { rx, input, watermark: MIN_TIMESTAMP, idle: false, ended: false, blocked: false, credit: None }
    }

    /// A channel fed by a connection to another worker process.
    pub(crate) fn remote(rx: Receiver<Message>, input: u8, credit: crate::cluster::CreditReturn) -> Self {
        Self { credit: Some(credit), ..Self::new(rx, input) }
    }
}

/// Combines channel watermarks and idleness into the task's (Flink's `StatusWatermarkValve`).
#[derive(Debug)]
struct Valve {
    output: Timestamp,
    idle: bool,
}

impl Valve {
    /// The new task watermark, if it advanced: the minimum over active channels that have
    /// caught up with the last output (a channel returning from idleness behind the output
    /// does not hold it back until it catches up).
    fn advance(&mut self, channels: &[InputChannel]) -> Option<Timestamp> {
        let min = channels.iter().filter(|c| !c.idle && c.watermark >= self.output).map(|c| c.watermark).min()?;
        (min > self.output).then(|| {
            self.output = min;
            min
        })
    }

    /// The task's idleness, if it changed: idle when every open channel is idle.
    fn idleness(&mut self, channels: &[InputChannel]) -> Option<bool> {
        let open: Vec<&InputChannel> = channels.iter().filter(|c| !c.ended).collect();
        let idle = !open.is_empty() && open.iter().all(|c| c.idle);
        (idle != self.idle).then(|| {
            self.idle = idle;
            idle
        })
    }
}

struct Gate {
    channels: Vec<InputChannel>,
    valve: Valve,
    open: usize,
    /// The barrier being aligned, with when alignment started. Channels that delivered it
    /// are blocked (not read) until every open channel did.
    aligning: Option<(Barrier, Instant)>,
    /// The readable channels changed (blocked, unblocked or ended): the select is stale.
    readable_changed: bool,
}

/// What a ready select operation is.
enum Ready {
    Channel(usize),
    Control,
}

impl Gate {
    /// A select over the readable channels (open and not blocked by alignment) and `control`.
    fn select<'a>(&self, receivers: &'a [Receiver<Message>], control: &'a Receiver<Control>) -> (Select<'a>, Vec<Ready>) {
        let mut select = Select::new();
        let mut ops = Vec::with_capacity(self.channels.len() + 1);
        for (i, _) in self.channels.iter().enumerate().filter(|(_, c)| !c.ended && !c.blocked) {
            select.recv(&receivers[i]);
            ops.push(Ready::Channel(i));
        }
        select.recv(control);
        ops.push(Ready::Control);
        (select, ops)
    }
}

/// Runs a task with inputs until all inputs ended (then serves the final checkpoint) or the
/// job is canceled.
pub(crate) fn run_input_task(
    head: &mut dyn TaskInput,
    channels: Vec<InputChannel>,
    control: &Receiver<Control>,
    cx: &mut TaskCx,
) -> Result<()> {
    head.open(cx)?;
    let receivers: Vec<Receiver<Message>> = channels.iter().map(|c| c.rx.clone()).collect();
    let open = channels.len();
    let mut gate = Gate { channels, valve: Valve { output: MIN_TIMESTAMP, idle: false }, open, aligning: None, readable_changed: false };
    let mut last_flush = Instant::now();
    // Rebuilt only when the readable channels change, not per message.
    let (mut select, mut ops) = gate.select(&receivers, control);
    while gate.open > 0 {
        if cx.is_canceled() {
            return Err(cx.canceled());
        }
        if std::mem::take(&mut gate.readable_changed) {
            (select, ops) = gate.select(&receivers, control);
        }
        let ready = match select.try_ready() {
            Ok(i) => Some(i),
            Err(_) => {
                // Nothing to do right now: send partly filled buffers so records do not wait.
                head.flush(cx)?;
                last_flush = Instant::now();
                select.ready_timeout(wait_time(head, cx)).ok()
            }
        };
        match ready.map(|i| &ops[i]) {
            Some(Ready::Channel(i)) => receive(&mut gate, *i, head, cx)?,
            Some(Ready::Control) => handle_control(control, head, cx)?,
            None => {}
        }
        fire_due_timers(&mut HeadOps(head), cx)?;
        if last_flush.elapsed() >= cx.exchange.buffer_timeout {
            head.flush(cx)?;
            last_flush = Instant::now();
        }
    }
    head.finish(cx)?;
    super::control::wait_for_exit(&mut HeadOps(head), control, cx)
}

/// How long to block: until a processing-time timer is due, at most 100 ms (cancel checks).
fn wait_time(head: &dyn TaskInput, cx: &TaskCx) -> Duration {
    let wait = Duration::from_millis(100);
    match head.next_processing_time() {
        Some(t) => wait.min(Duration::from_millis((t - cx.clock.now_ms()).max(0) as u64)),
        None => wait,
    }
}

fn handle_control(control: &Receiver<Control>, head: &mut dyn TaskInput, cx: &mut TaskCx) -> Result<()> {
    match control.try_recv() {
        Ok(Control::Complete(id)) => head.notify_complete(id, cx),
        // Only sources get triggers while running; `Exit` comes after the input ended.
        Ok(Control::Trigger(_) | Control::Exit) | Err(TryRecvError::Empty) => Ok(()),
        Err(TryRecvError::Disconnected) => Err(cx.canceled()),
    }
}

fn receive(gate: &mut Gate, i: usize, head: &mut dyn TaskInput, cx: &mut TaskCx) -> Result<()> {
    let msg = match gate.channels[i].rx.try_recv() {
        Ok(msg) => {
            if let Some(credit) = &gate.channels[i].credit {
                credit.grant();
            }
            msg
        }
        Err(TryRecvError::Empty) => return Ok(()),
        // The upstream task went away without ending its stream: it failed or was canceled.
        Err(TryRecvError::Disconnected) => return Err(cx.canceled()),
    };
    let ch = &mut gate.channels[i];
    match msg {
        Message::Batch(batch) => {
            return head.push(ch.input, batch, cx);
        }
        Message::Watermark(wm) => ch.watermark = ch.watermark.max(wm),
        Message::Idle(idle) => ch.idle = idle,
        Message::Barrier(barrier) => return on_barrier(gate, i, barrier, head, cx),
        Message::End(drain) => {
            ch.ended = true;
            ch.idle = false;
            if drain {
                ch.watermark = MAX_TIMESTAMP;
            } else {
                // Stop with savepoint: the end carries no final watermark downstream.
                cx.stopping = true;
            }
            gate.open -= 1;
            gate.readable_changed = true;
            // An ended channel no longer holds up an alignment.
            complete_alignment(gate, head, cx)?;
        }
    }
    if let Some(idle) = gate.valve.idleness(&gate.channels) {
        head.idle(idle, cx)?;
    }
    if let Some(wm) = gate.valve.advance(&gate.channels) {
        head.watermark(wm, cx)?;
    }
    Ok(())
}

/// Barrier alignment (Flink's aligned checkpoints): block the channel that delivered the
/// barrier; once every open channel did, snapshot and unblock them all.
fn on_barrier(gate: &mut Gate, i: usize, barrier: Barrier, head: &mut dyn TaskInput, cx: &mut TaskCx) -> Result<()> {
    match &gate.aligning {
        Some((current, _)) if barrier.id < current.id => return Ok(()),
        Some((current, _)) if barrier.id == current.id => {}
        Some(_) | None => {
            // A newer barrier abandons an older alignment (that checkpoint was given up).
            gate.channels.iter_mut().for_each(|c| c.blocked = false);
            gate.aligning = Some((barrier, Instant::now()));
        }
    }
    gate.channels[i].blocked = true;
    gate.readable_changed = true;
    complete_alignment(gate, head, cx)
}

fn complete_alignment(gate: &mut Gate, head: &mut dyn TaskInput, cx: &mut TaskCx) -> Result<()> {
    let aligned = gate.channels.iter().all(|c| c.ended || c.blocked);
    let Some((barrier, started)) = gate.aligning.take_if(|_| aligned) else { return Ok(()) };
    let mut operators = Vec::new();
    head.snapshot(&barrier, &mut operators, cx)?;
    gate.channels.iter_mut().for_each(|c| c.blocked = false);
    gate.readable_changed = true;
    cx.report_snapshot(barrier, operators, started.elapsed())
}

/// Lets the helpers shared with source tasks drive a task input.
struct HeadOps<'a>(&'a mut dyn TaskInput);

impl FinishedOps for HeadOps<'_> {
    fn snapshot(&mut self, barrier: &Barrier, cx: &mut TaskCx) -> Result<TaskSnapshot> {
        let mut out = Vec::new();
        self.0.snapshot(barrier, &mut out, cx)?;
        Ok(out)
    }
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        self.0.notify_complete(id, cx)
    }
}

impl ChainOps for HeadOps<'_> {
    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()> {
        self.0.snapshot(barrier, out, cx)
    }
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        self.0.notify_complete(id, cx)
    }
    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()> {
        self.0.watermark(wm, cx)
    }
    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()> {
        self.0.processing_time(now, cx)
    }
    fn next_processing_time(&self) -> Option<Timestamp> {
        self.0.next_processing_time()
    }
    fn finish(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.0.finish(cx)
    }
    fn flush(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.0.flush(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(wm: Timestamp, idle: bool) -> InputChannel {
        let (_tx, rx) = crossbeam_channel::bounded(1);
        InputChannel { rx, input: 0, watermark: wm, idle, ended: false, blocked: false, credit: None }
    }

    #[test]
    fn watermark_is_min_over_active_channels() {
        let mut v = Valve { output: MIN_TIMESTAMP, idle: false };
        let mut chans = vec![channel(10, false), channel(5, false)];
        assert_eq!(v.advance(&chans), Some(5));
        assert_eq!(v.advance(&chans), None);
        chans[1].idle = true;
        assert_eq!(v.idleness(&chans), None);
        assert_eq!(v.advance(&chans), Some(10));
        chans[0].idle = true;
        assert_eq!(v.idleness(&chans), Some(true));
        // Back from idleness behind the output: ignored until it catches up.
        chans[1].idle = false;
        chans[1].watermark = 7;
        assert_eq!(v.idleness(&chans), Some(false));
        assert_eq!(v.advance(&chans), None);
        chans[1].watermark = 12;
        assert_eq!(v.advance(&chans), Some(12));
    }
}
