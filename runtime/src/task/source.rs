//! The mailbox loop of a task headed by a source.

use std::time::{Duration, Instant};

use super::{BoxLink, TaskCx};
use crate::data::{Timestamp, MAX_TIMESTAMP};
use crate::error::Result;
use crate::operators::{Collector, OperatorContext, Source, SourceStatus};

/// A source with its chain, type-erased for the loop.
pub(crate) trait SourceTask {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()>;
    fn poll(&mut self, cx: &mut TaskCx) -> Result<SourceStatus>;
    fn chain(&mut self) -> &mut dyn ChainOps;
}

/// The operations of a chain that do not depend on its type.
pub(crate) trait ChainOps {
    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()>;
    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()>;
    fn next_processing_time(&self) -> Option<Timestamp>;
    fn finish(&mut self, cx: &mut TaskCx) -> Result<()>;
    fn flush(&mut self, cx: &mut TaskCx) -> Result<()>;
}

impl<T: crate::Data> ChainOps for BoxLink<T> {
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
    pub(crate) source: S,
    pub(crate) out: Collector<S::Out>,
    pub(crate) next: BoxLink<S::Out>,
}

impl<S: Source> SourceTask for SourceHead<S> {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.source.open(&mut OperatorContext { info: &cx.info, clock: &cx.clock })?;
        self.next.open(cx)
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

/// Runs a source task until its input ends or the job is canceled.
pub(crate) fn run_source_task(head: &mut dyn SourceTask, cx: &mut TaskCx) -> Result<()> {
    head.open(cx)?;
    let mut last_flush = Instant::now();
    loop {
        if cx.is_canceled() {
            return Err(cx.canceled());
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
                wait_for(pause, head.chain().next_processing_time(), cx);
            }
            SourceStatus::Finished => break,
        }
    }
    let chain = head.chain();
    chain.watermark(MAX_TIMESTAMP, cx)?;
    chain.finish(cx)
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

/// Pauses a source that has nothing to emit until `pause` elapsed or a timer is due.
/// This paces polling of external systems; it is not used to synchronise anything.
fn wait_for(pause: Duration, next_timer: Option<Timestamp>, cx: &TaskCx) {
    let until_timer = next_timer.map(|t| Duration::from_millis((t - cx.clock.now_ms()).max(0) as u64));
    let pause = until_timer.map_or(pause, |t| t.min(pause)).min(Duration::from_millis(100));
    if !pause.is_zero() {
        std::thread::park_timeout(pause);
    }
}
