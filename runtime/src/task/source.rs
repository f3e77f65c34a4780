//! The mailbox loop of a task headed by a source.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

use super::control::{Control, FinishedOps};
use super::{BoxLink, TaskCx, TaskSnapshot};
use crate::checkpoint::{Barrier, CheckpointId, SnapshotKind};
use crate::data::{Timestamp, MAX_TIMESTAMP};
use crate::error::Result;
use crate::operators::{Collector, OperatorContext, Source, SourceStatus};

/// A source with its chain, type-erased for the loop.
pub(crate) trait SourceTask {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()>;
    fn poll(&mut self, cx: &mut TaskCx) -> Result<SourceStatus>;
    fn chain(&mut self) -> &mut dyn ChainOps;
    /// Snapshots the source and its chain, and sends the barrier downstream.
    fn snapshot(&mut self, barrier: &Barrier, cx: &mut TaskCx) -> Result<TaskSnapshot>;
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()>;
}

/// The operations of a chain that do not depend on its type.
pub(crate) trait ChainOps {
    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()>;
    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()>;
    fn next_processing_time(&self) -> Option<Timestamp>;
    fn finish(&mut self, cx: &mut TaskCx) -> Result<()>;
    fn flush(&mut self, cx: &mut TaskCx) -> Result<()>;
    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()>;
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()>;
}

impl<T: crate::Data> ChainOps for BoxLink<T> {
    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()> {
        (**self).snapshot(barrier, out, cx)
    }
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        (**self).notify_complete(id, cx)
    }
    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()> {
        (**self).watermark(wm, cx)
    }
    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()> {
        (**self).processing_time(now, cx)
    }
    fn next_processing_time(&self) -> Option<Timestamp> {
        (**self).next_processing_time()
    }
    fn finish(&mut self, cx: &mut TaskCx) -> Result<()> {
        (**self).finish(cx)
    }
    fn flush(&mut self, cx: &mut TaskCx) -> Result<()> {
        (**self).flush(cx)
    }
}

/// A source and the chain it feeds.
pub(crate) struct SourceHead<S: Source> {
    pub(crate) uid: std::sync::Arc<str>,
    pub(crate) source: S,
    pub(crate) out: Collector<S::Out>,
    pub(crate) next: BoxLink<S::Out>,
}

impl<S: Source> SourceTask for SourceHead<S> {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()> {
        if let Some(state) = cx.restore.remove(&*self.uid) {
            self.source.restore_state(state)?;
        }
        self.source.open(&mut OperatorContext { info: &cx.info, clock: &cx.clock })?;
        self.next.open(cx)
    }

    fn snapshot(&mut self, barrier: &Barrier, cx: &mut TaskCx) -> Result<TaskSnapshot> {
        let mut out = vec![(self.uid.clone(), self.source.snapshot_state(barrier.id)?)];
        self.next.snapshot(barrier, &mut out, cx)?;
        Ok(out)
    }

    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        self.source.notify_checkpoint_complete(id)?;
        self.next.notify_complete(id, cx)
    }

    fn poll(&mut self, cx: &mut TaskCx) -> Result<SourceStatus> {
        let status = self.source.poll_next(&mut self.out, &mut OperatorContext { info: &cx.info, clock: &cx.clock })?;
        if !self.out.buf.is_empty() {
            self.next.push(&mut self.out.buf, cx)?;
        }
        Ok(status)
    }

    fn chain(&mut self) -> &mut dyn ChainOps {
        &mut self.next
    }
}

/// Runs a source task until its input ends (then serves the final checkpoint) or the job
/// is canceled. Control messages (checkpoint triggers, completions) are handled between polls.
pub(crate) fn run_source_task(head: &mut dyn SourceTask, control: &Receiver<Control>, cx: &mut TaskCx) -> Result<()> {
    head.open(cx)?;
    let mut last_flush = Instant::now();
    loop {
        if cx.is_canceled() {
            return Err(cx.canceled());
        }
        drain_control(head, control, cx)?;
        if cx.stopping {
            break;
        }
        let status = head.poll(cx)?;
        fire_due_timers(head.chain(), cx)?;
        match status {
            SourceStatus::MoreAvailable => {
                if last_flush.elapsed() >= cx.exchange.buffer_timeout {
                    head.chain().flush(cx)?;
                    last_flush = Instant::now();
                }
            }
            SourceStatus::Wait(pause) => {
                head.chain().flush(cx)?;
                last_flush = Instant::now();
                wait_for(pause, head, control, cx)?;
            }
            SourceStatus::Finished => break,
        }
    }
    // A trigger that arrived before the end still gets its barrier in-band.
    drain_control(head, control, cx)?;
    let chain = head.chain();
    if !cx.stopping {
        chain.watermark(MAX_TIMESTAMP, cx)?;
    }
    chain.finish(cx)?;
    super::control::wait_for_exit(&mut SourceOps(head), control, cx)
}

fn drain_control(head: &mut dyn SourceTask, control: &Receiver<Control>, cx: &mut TaskCx) -> Result<()> {
    loop {
        match control.try_recv() {
            Ok(msg) => handle_control(head, msg, cx)?,
            Err(TryRecvError::Empty) => return Ok(()),
            Err(TryRecvError::Disconnected) => return Err(cx.canceled()),
        }
    }
}

fn handle_control(head: &mut dyn SourceTask, msg: Control, cx: &mut TaskCx) -> Result<()> {
    match msg {
        Control::Trigger(barrier) => {
            let operators = head.snapshot(&barrier, cx)?;
            if matches!(barrier.kind, SnapshotKind::Savepoint { stop: true, .. }) {
                cx.stopping = true;
            }
            cx.report_snapshot(barrier, operators, Duration::ZERO)
        }
        Control::Complete(id) => head.notify_complete(id, cx),
        Control::Exit => Ok(()),
    }
}

/// Lets the finished-task loop drive a source task.
struct SourceOps<'a>(&'a mut dyn SourceTask);

impl FinishedOps for SourceOps<'_> {
    fn snapshot(&mut self, barrier: &Barrier, cx: &mut TaskCx) -> Result<TaskSnapshot> {
        self.0.snapshot(barrier, cx)
    }
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        self.0.notify_complete(id, cx)
    }
}

pub(crate) fn fire_due_timers(chain: &mut dyn ChainOps, cx: &mut TaskCx) -> Result<()> {
    if let Some(t) = chain.next_processing_time() {
        let now = cx.clock.now_ms();
        if t <= now {
            chain.processing_time(now, cx)?;
        }
    }
    Ok(())
}

/// Pauses a source that has nothing to emit until `pause` elapsed, a timer is due or a control
/// message arrives. This paces polling of external systems; it synchronises nothing.
fn wait_for(pause: Duration, head: &mut dyn SourceTask, control: &Receiver<Control>, cx: &mut TaskCx) -> Result<()> {
    let until_timer = head.chain().next_processing_time().map(|t| Duration::from_millis((t - cx.clock.now_ms()).max(0) as u64));
    let pause = until_timer.map_or(pause, |t| t.min(pause)).min(Duration::from_millis(100));
    match control.recv_timeout(pause) {
        Ok(msg) => handle_control(head, msg, cx),
        Err(RecvTimeoutError::Timeout) => Ok(()),
        Err(RecvTimeoutError::Disconnected) => Err(cx.canceled()),
    }
}
