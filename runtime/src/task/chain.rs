//! Operator chains: operators of one task connected by direct calls, a batch at a time.
//!
//! A chain is a tree of [`Link`]s. Each link owns one operator, the collector it writes into,
//! and the links that consume its output: the next chained operator, a fan-out to several, a
//! channel writer to another task, or a discard. Records move along the chain without being
//! serialized; the only type erasure is at task boundaries ([`TaskInput`]).

use std::any::Any;
use std::sync::Arc;

use super::TaskCx;
use crate::checkpoint::{Barrier, CheckpointId, OperatorSnapshot};
use crate::data::{Data, Record, Timestamp};
use crate::error::Result;
use crate::operators::{Collector, Operator, OperatorContext, Sink, TwoInputOperator};

/// A consumer of a typed stream inside a task.
pub(crate) trait Link<T> {
    /// Opens the operators of this link and everything downstream of it.
    fn open(&mut self, cx: &mut TaskCx) -> Result<()>;
    /// Processes a batch, draining it.
    fn push(&mut self, batch: &mut Vec<Record<T>>, cx: &mut TaskCx) -> Result<()>;
    /// The watermark advanced.
    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()>;
    /// The stream became idle (`true`) or active again.
    fn idle(&mut self, idle: bool, cx: &mut TaskCx) -> Result<()>;
    /// Processing time reached `now`.
    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()>;
    /// The earliest processing-time timer downstream.
    fn next_processing_time(&self) -> Option<Timestamp>;
    /// The input ended: finish operators, flush and end outputs.
    fn finish(&mut self, cx: &mut TaskCx) -> Result<()>;
    /// Sends partly filled output buffers.
    fn flush(&mut self, cx: &mut TaskCx) -> Result<()>;
    /// Snapshots the operators from here downstream at `barrier` and forwards the barrier
    /// to other tasks.
    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()>;
    /// Checkpoint `id` completed.
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()>;
}

pub(crate) type BoxLink<T> = Box<dyn Link<T>>;

/// The operator snapshots of one task at one barrier, by operator uid.
pub(crate) type TaskSnapshot = Vec<(Arc<str>, OperatorSnapshot)>;

/// A link of any type, for side outputs whose type only the operator knows.
pub(crate) trait AnyLink {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()>;
    /// `batch` is a `Vec<Record<S>>` of the link's type.
    fn push_any(&mut self, batch: &mut dyn Any, cx: &mut TaskCx) -> Result<()>;
    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()>;
    fn idle(&mut self, idle: bool, cx: &mut TaskCx) -> Result<()>;
    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()>;
    fn next_processing_time(&self) -> Option<Timestamp>;
    fn finish(&mut self, cx: &mut TaskCx) -> Result<()>;
    fn flush(&mut self, cx: &mut TaskCx) -> Result<()>;
    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()>;
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()>;
}

pub(crate) struct Erased<S>(pub(crate) BoxLink<S>);

impl<S: Data> AnyLink for Erased<S> {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.0.open(cx)
    }
    fn push_any(&mut self, batch: &mut dyn Any, cx: &mut TaskCx) -> Result<()> {
        let batch: &mut Vec<Record<S>> = batch.downcast_mut().expect("side output buffer has the tag's type");
        self.0.push(batch, cx)
    }
    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()> {
        self.0.watermark(wm, cx)
    }
    fn idle(&mut self, idle: bool, cx: &mut TaskCx) -> Result<()> {
        self.0.idle(idle, cx)
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
    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()> {
        self.0.snapshot(barrier, out, cx)
    }
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        self.0.notify_complete(id, cx)
    }
}

/// An operator's outputs: the main link and one link per consumed side output.
pub(crate) struct Outputs<T> {
    pub(crate) main: BoxLink<T>,
    pub(crate) sides: Vec<Box<dyn AnyLink>>,
}

impl<T: Data> Outputs<T> {
    /// Sends what the operator collected downstream.
    fn forward(&mut self, out: &mut Collector<T>, cx: &mut TaskCx) -> Result<()> {
        if !out.buf.is_empty() {
            self.main.push(&mut out.buf, cx)?;
        }
        for (side, link) in out.sides.iter_mut().zip(&mut self.sides) {
            if !(side.is_empty)(side.records.as_ref()) {
                link.push_any(side.records.as_mut(), cx)?;
            }
        }
        Ok(())
    }

    fn open(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.main.open(cx)?;
        self.sides.iter_mut().try_for_each(|s| s.open(cx))
    }

    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()> {
        self.main.watermark(wm, cx)?;
        self.sides.iter_mut().try_for_each(|s| s.watermark(wm, cx))
    }

    fn idle(&mut self, idle: bool, cx: &mut TaskCx) -> Result<()> {
        self.main.idle(idle, cx)?;
        self.sides.iter_mut().try_for_each(|s| s.idle(idle, cx))
    }

    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()> {
        self.main.processing_time(now, cx)?;
        self.sides.iter_mut().try_for_each(|s| s.processing_time(now, cx))
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        let sides = self.sides.iter().filter_map(|s| s.next_processing_time());
        self.main.next_processing_time().into_iter().chain(sides).min()
    }

    fn finish(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.main.finish(cx)?;
        self.sides.iter_mut().try_for_each(|s| s.finish(cx))
    }

    fn flush(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.main.flush(cx)?;
        self.sides.iter_mut().try_for_each(|s| s.flush(cx))
    }

    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()> {
        self.main.snapshot(barrier, out, cx)?;
        self.sides.iter_mut().try_for_each(|s| s.snapshot(barrier, out, cx))
    }

    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        self.main.notify_complete(id, cx)?;
        self.sides.iter_mut().try_for_each(|s| s.notify_complete(id, cx))
    }
}

/// A one-input operator and its outputs.
pub(crate) struct OperatorLink<O: Operator> {
    uid: Arc<str>,
    op: O,
    out: Collector<O::Out>,
    outputs: Outputs<O::Out>,
}

impl<O: Operator> OperatorLink<O> {
    pub(crate) fn new(uid: Arc<str>, op: O, outputs: Outputs<O::Out>, collector: Collector<O::Out>) -> Self {
        Self { uid, op, out: collector, outputs }
    }
}

fn op_cx<'a>(cx: &'a TaskCx) -> OperatorContext<'a> {
    OperatorContext { info: &cx.info, clock: &cx.clock }
}

impl<O: Operator> Link<O::In> for OperatorLink<O> {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()> {
        if let Some(state) = cx.restore.remove(&*self.uid) {
            self.op.restore_state(state)?;
        }
        self.op.open(&mut op_cx(cx))?;
        self.outputs.open(cx)
    }

    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()> {
        out.push((self.uid.clone(), self.op.snapshot_state_for(barrier)?));
        self.outputs.snapshot(barrier, out, cx)
    }

    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        self.op.notify_checkpoint_complete(id)?;
        self.outputs.notify_complete(id, cx)
    }

    fn push(&mut self, batch: &mut Vec<Record<O::In>>, cx: &mut TaskCx) -> Result<()> {
        self.op.process_batch(batch, &mut self.out, &mut op_cx(cx))?;
        self.outputs.forward(&mut self.out, cx)
    }

    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()> {
        self.op.on_watermark(wm, &mut self.out, &mut op_cx(cx))?;
        self.outputs.forward(&mut self.out, cx)?;
        self.outputs.watermark(wm, cx)
    }

    fn idle(&mut self, idle: bool, cx: &mut TaskCx) -> Result<()> {
        self.outputs.idle(idle, cx)
    }

    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()> {
        if self.op.next_processing_time().is_some_and(|t| t <= now) {
            self.op.on_processing_time(now, &mut self.out, &mut op_cx(cx))?;
            self.outputs.forward(&mut self.out, cx)?;
        }
        self.outputs.processing_time(now, cx)
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        self.op.next_processing_time().into_iter().chain(self.outputs.next_processing_time()).min()
    }

    fn finish(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.op.finish(&mut self.out, &mut op_cx(cx))?;
        self.outputs.forward(&mut self.out, cx)?;
        self.outputs.finish(cx)
    }

    fn flush(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.outputs.flush(cx)
    }
}

/// Copies a stream to several consumers (the last one gets the original).
pub(crate) struct Fanout<T> {
    pub(crate) targets: Vec<BoxLink<T>>,
}

impl<T: Data> Link<T> for Fanout<T> {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.targets.iter_mut().try_for_each(|t| t.open(cx))
    }
    fn push(&mut self, batch: &mut Vec<Record<T>>, cx: &mut TaskCx) -> Result<()> {
        let Some((last, rest)) = self.targets.split_last_mut() else { return Ok(()) };
        for t in rest {
            t.push(&mut batch.clone(), cx)?;
        }
        last.push(batch, cx)
    }
    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()> {
        self.targets.iter_mut().try_for_each(|t| t.watermark(wm, cx))
    }
    fn idle(&mut self, idle: bool, cx: &mut TaskCx) -> Result<()> {
        self.targets.iter_mut().try_for_each(|t| t.idle(idle, cx))
    }
    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()> {
        self.targets.iter_mut().try_for_each(|t| t.processing_time(now, cx))
    }
    fn next_processing_time(&self) -> Option<Timestamp> {
        self.targets.iter().filter_map(|t| t.next_processing_time()).min()
    }
    fn finish(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.targets.iter_mut().try_for_each(|t| t.finish(cx))
    }
    fn flush(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.targets.iter_mut().try_for_each(|t| t.flush(cx))
    }
    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()> {
        self.targets.iter_mut().try_for_each(|t| t.snapshot(barrier, out, cx))
    }
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        self.targets.iter_mut().try_for_each(|t| t.notify_complete(id, cx))
    }
}

/// Drops records nobody consumes.
pub(crate) struct Discard;

impl<T: Data> Link<T> for Discard {
    fn snapshot(&mut self, _: &Barrier, _: &mut TaskSnapshot, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
    fn notify_complete(&mut self, _: CheckpointId, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
    fn open(&mut self, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
    fn push(&mut self, batch: &mut Vec<Record<T>>, _: &mut TaskCx) -> Result<()> {
        batch.clear();
        Ok(())
    }
    fn watermark(&mut self, _: Timestamp, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
    fn idle(&mut self, _: bool, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
    fn processing_time(&mut self, _: Timestamp, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
    fn next_processing_time(&self) -> Option<Timestamp> {
        None
    }
    fn finish(&mut self, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
    fn flush(&mut self, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
}

/// A sink at the end of a chain.
pub(crate) struct SinkLink<S: Sink> {
    pub(crate) uid: Arc<str>,
    pub(crate) sink: S,
}

impl<S: Sink> Link<S::In> for SinkLink<S> {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()> {
        if let Some(state) = cx.restore.remove(&*self.uid) {
            self.sink.restore_state(state)?;
        }
        self.sink.open(&mut op_cx(cx))
    }
    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, _: &mut TaskCx) -> Result<()> {
        out.push((self.uid.clone(), self.sink.snapshot_state(barrier.id)?));
        Ok(())
    }
    fn notify_complete(&mut self, id: CheckpointId, _: &mut TaskCx) -> Result<()> {
        self.sink.notify_checkpoint_complete(id)
    }
    fn push(&mut self, batch: &mut Vec<Record<S::In>>, cx: &mut TaskCx) -> Result<()> {
        self.sink.write(batch, &mut op_cx(cx))
    }
    fn watermark(&mut self, _: Timestamp, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
    fn idle(&mut self, _: bool, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
    fn processing_time(&mut self, _: Timestamp, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
    fn next_processing_time(&self) -> Option<Timestamp> {
        None
    }
    fn finish(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.sink.finish(&mut op_cx(cx))
    }
    fn flush(&mut self, _: &mut TaskCx) -> Result<()> {
        Ok(())
    }
}

/// The type-erased head of a task that has inputs: what the mailbox loop calls.
pub(crate) trait TaskInput {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()>;
    /// `batch` is a `Box<Vec<Record<T>>>` of input `input`'s type.
    fn push(&mut self, input: u8, batch: Box<dyn Any + Send>, cx: &mut TaskCx) -> Result<()>;
    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()>;
    fn idle(&mut self, idle: bool, cx: &mut TaskCx) -> Result<()>;
    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()>;
    fn next_processing_time(&self) -> Option<Timestamp>;
    fn finish(&mut self, cx: &mut TaskCx) -> Result<()>;
    fn flush(&mut self, cx: &mut TaskCx) -> Result<()>;
    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()>;
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()>;
}

/// A batch from a task of this process, or the bytes of one from another process.
fn downcast_batch<T: Data>(batch: Box<dyn Any + Send>) -> Result<Vec<Record<T>>> {
    match batch.downcast::<Vec<Record<T>>>() {
        Ok(b) => Ok(*b),
        Err(other) => match other.downcast::<crate::exchange::EncodedBatch>() {
            Ok(bytes) => crate::cluster::decode_batch(&bytes.0),
            Err(_) => Err(crate::Error::Internal(format!("batch of unexpected type on a channel of {}", std::any::type_name::<T>()))),
        },
    }
}

/// The head of a one-input task.
pub(crate) struct InputHead<T>(pub(crate) BoxLink<T>);

impl<T: Data> TaskInput for InputHead<T> {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.0.open(cx)
    }
    fn push(&mut self, _input: u8, batch: Box<dyn Any + Send>, cx: &mut TaskCx) -> Result<()> {
        let mut batch = downcast_batch::<T>(batch)?;
        self.0.push(&mut batch, cx)
    }
    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()> {
        self.0.watermark(wm, cx)
    }
    fn idle(&mut self, idle: bool, cx: &mut TaskCx) -> Result<()> {
        self.0.idle(idle, cx)
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
    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()> {
        self.0.snapshot(barrier, out, cx)
    }
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        self.0.notify_complete(id, cx)
    }
}

/// The head of a two-input task.
pub(crate) struct TwoInputHead<O: TwoInputOperator> {
    uid: Arc<str>,
    op: O,
    out: Collector<O::Out>,
    outputs: Outputs<O::Out>,
}

impl<O: TwoInputOperator> TwoInputHead<O> {
    pub(crate) fn new(uid: Arc<str>, op: O, outputs: Outputs<O::Out>, out: Collector<O::Out>) -> Self {
        Self { uid, op, out, outputs }
    }
}

impl<O: TwoInputOperator> TaskInput for TwoInputHead<O> {
    fn open(&mut self, cx: &mut TaskCx) -> Result<()> {
        if let Some(state) = cx.restore.remove(&*self.uid) {
            self.op.restore_state(state)?;
        }
        self.op.open(&mut op_cx(cx))?;
        self.outputs.open(cx)
    }
    fn snapshot(&mut self, barrier: &Barrier, out: &mut TaskSnapshot, cx: &mut TaskCx) -> Result<()> {
        out.push((self.uid.clone(), self.op.snapshot_state_for(barrier)?));
        self.outputs.snapshot(barrier, out, cx)
    }
    fn notify_complete(&mut self, id: CheckpointId, cx: &mut TaskCx) -> Result<()> {
        self.op.notify_checkpoint_complete(id)?;
        self.outputs.notify_complete(id, cx)
    }
    fn push(&mut self, input: u8, batch: Box<dyn Any + Send>, cx: &mut TaskCx) -> Result<()> {
        let mut ctx = op_cx(cx);
        if input == 0 {
            for r in downcast_batch::<O::In1>(batch)?.drain(..) {
                self.op.process1(r, &mut self.out, &mut ctx)?;
            }
        } else {
            for r in downcast_batch::<O::In2>(batch)?.drain(..) {
                self.op.process2(r, &mut self.out, &mut ctx)?;
            }
        }
        self.outputs.forward(&mut self.out, cx)
    }
    fn watermark(&mut self, wm: Timestamp, cx: &mut TaskCx) -> Result<()> {
        self.op.on_watermark(wm, &mut self.out, &mut op_cx(cx))?;
        self.outputs.forward(&mut self.out, cx)?;
        self.outputs.watermark(wm, cx)
    }
    fn idle(&mut self, idle: bool, cx: &mut TaskCx) -> Result<()> {
        self.outputs.idle(idle, cx)
    }
    fn processing_time(&mut self, now: Timestamp, cx: &mut TaskCx) -> Result<()> {
        if self.op.next_processing_time().is_some_and(|t| t <= now) {
            self.op.on_processing_time(now, &mut self.out, &mut op_cx(cx))?;
            self.outputs.forward(&mut self.out, cx)?;
        }
        self.outputs.processing_time(now, cx)
    }
    fn next_processing_time(&self) -> Option<Timestamp> {
        self.op.next_processing_time().into_iter().chain(self.outputs.next_processing_time()).min()
    }
    fn finish(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.op.finish(&mut self.out, &mut op_cx(cx))?;
        self.outputs.forward(&mut self.out, cx)?;
        self.outputs.finish(cx)
    }
    fn flush(&mut self, cx: &mut TaskCx) -> Result<()> {
        self.outputs.flush(cx)
    }
}
