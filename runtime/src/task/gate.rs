//! The mailbox loop of a task with inputs, and its watermark valve.

use std::time::Instant;

use crossbeam_channel::{Receiver, Select, TryRecvError};

use super::source::{fire_due_timers, ChainOps};
use super::{TaskCx, TaskInput};
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
}

impl InputChannel {
    pub(crate) fn new(rx: Receiver<Message>, input: u8) -> Self {
        Self { rx, input, watermark: MIN_TIMESTAMP, idle: false, ended: false }
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

struct Gate<'a> {
    channels: Vec<InputChannel>,
    select: Select<'a>,
    valve: Valve,
    open: usize,
}

/// Runs a task with inputs until all inputs ended or the job is canceled.
pub(crate) fn run_input_task(head: &mut dyn TaskInput, channels: Vec<InputChannel>, cx: &mut TaskCx) -> Result<()> {
    head.open(cx)?;
    let receivers: Vec<Receiver<Message>> = channels.iter().map(|c| c.rx.clone()).collect();
    let mut select = Select::new();
    for rx in &receivers {
        select.recv(rx);
    }
    let open = channels.len();
    let mut gate = Gate { channels, select, valve: Valve { output: MIN_TIMESTAMP, idle: false }, open };
    let mut last_flush = Instant::now();
    while gate.open > 0 {
        if cx.is_canceled() {
            return Err(cx.canceled());
        }
        let ready = match gate.select.try_ready() {
            Ok(i) => Some(i),
            Err(_) => {
                // Nothing to do right now: send partly filled buffers so records do not wait.
                head.flush(cx)?;
                last_flush = Instant::now();
                wait_ready(&mut gate, head, cx)?
            }
        };
        if let Some(i) = ready {
            receive(&mut gate, i, head, cx)?;
        }
        fire_due_timers(&mut HeadOps(head), cx)?;
        if last_flush.elapsed() >= cx.exchange.buffer_timeout {
            head.flush(cx)?;
            last_flush = Instant::now();
        }
    }
    head.finish(cx)
}

/// Blocks until a channel is ready, a processing-time timer is due, or the cancel check is due.
fn wait_ready(gate: &mut Gate<'_>, head: &dyn TaskInput, cx: &TaskCx) -> Result<Option<usize>> {
    let mut wait = std::time::Duration::from_millis(100);
    if let Some(t) = head.next_processing_time() {
        wait = wait.min(std::time::Duration::from_millis((t - cx.clock.now_ms()).max(0) as u64));
    }
    Ok(gate.select.ready_timeout(wait).ok())
}

fn receive(gate: &mut Gate<'_>, i: usize, head: &mut dyn TaskInput, cx: &mut TaskCx) -> Result<()> {
    let msg = match gate.channels[i].rx.try_recv() {
        Ok(msg) => msg,
        Err(TryRecvError::Empty) => return Ok(()),
        // The upstream task went away without ending its stream: it failed or was canceled.
        Err(TryRecvError::Disconnected) => return Err(cx.canceled()),
    };
    let ch = &mut gate.channels[i];
    match msg {
        Message::Batch(batch) => return head.push(ch.input, batch, cx),
        Message::Watermark(wm) => ch.watermark = ch.watermark.max(wm),
        Message::Idle(idle) => ch.idle = idle,
        Message::End => {
            ch.ended = true;
            ch.idle = false;
            ch.watermark = MAX_TIMESTAMP;
            gate.select.remove(i);
            gate.open -= 1;
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

/// Lets the timer helper shared with source tasks drive a task input.
struct HeadOps<'a>(&'a mut dyn TaskInput);

impl ChainOps for HeadOps<'_> {
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
        InputChannel { rx, input: 0, watermark: wm, idle, ended: false }
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
