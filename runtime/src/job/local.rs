//! Runs a job graph in this process: one thread per subtask, bounded channels between them.
//!
//! Failure handling: a task that fails raises the job's cancel flag and drops its channels;
//! its neighbours see the disconnection and stop, so every task ends. The job's error is the
//! first failure that is not a cancellation (the root cause).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::graph::{AnyBox, JobGraph, NodeKind, StreamNode};
use crate::error::{Error, Result};
use crate::exchange::{ExchangeConfig, Message, Partitioning};
use crate::operators::TaskInfo;
use crate::task::{run_input_task, run_source_task, AnyLink, InputChannel, TaskCx, TaskMetrics};
use crate::time::Clock;

/// What a finished job reports.
#[derive(Debug, Clone)]
pub struct JobExecutionResult {
    /// Job name.
    pub job_name: String,
    /// Wall-clock run time.
    pub net_runtime: Duration,
    /// Per subtask: name and counters.
    pub tasks: Vec<(String, TaskMetrics)>,
}

/// Settings of a local run.
#[derive(Debug, Clone)]
pub(crate) struct LocalSettings {
    pub(crate) exchange: ExchangeConfig,
    pub(crate) watermark_interval: Duration,
    pub(crate) clock: Arc<dyn Clock>,
}

/// The channels of one subtask: what it reads and, per outgoing job edge, what it writes.
#[derive(Default)]
struct Wiring {
    inputs: Vec<InputChannel>,
    outputs: HashMap<usize, Vec<Sender<Message>>>,
}

/// Creates every channel of the job and hands each subtask its ends.
fn wire(graph: &JobGraph, capacity: usize) -> HashMap<(usize, u32), Wiring> {
    let mut wiring: HashMap<(usize, u32), Wiring> = HashMap::new();
    for (e_idx, e) in graph.edges.iter().enumerate() {
        let (pu, pd) = (graph.vertices[e.from_vertex].parallelism, graph.vertices[e.to_vertex].parallelism);
        for u in 0..pu {
            let targets: Vec<u32> = if e.partitioning() == Partitioning::Forward { vec![u] } else { (0..pd).collect() };
            let mut senders = Vec::with_capacity(targets.len());
            for d in targets {
                let (tx, rx): (Sender<Message>, Receiver<Message>) = crossbeam_channel::bounded(capacity);
                senders.push(tx);
                wiring.entry((e.to_vertex, d)).or_default().inputs.push(InputChannel::new(rx, e.input));
            }
            wiring.entry((e.from_vertex, u)).or_default().outputs.insert(e_idx, senders);
        }
    }
    wiring
}

/// Runs the job to completion.
pub(crate) fn run_local(graph: JobGraph, nodes: Vec<StreamNode>, settings: LocalSettings) -> Result<JobExecutionResult> {
    let started = Instant::now();
    let graph = Arc::new(graph);
    let nodes = Arc::new(nodes);
    let cancel = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<(String, Result<TaskMetrics>)>();
    let mut wiring = wire(&graph, settings.exchange.channel_capacity);
    let mut handles = Vec::new();
    for (v_idx, v) in graph.vertices.iter().enumerate() {
        for s in 0..v.parallelism {
            let info = TaskInfo {
                job_name: graph.job.clone(),
                task_name: format!("{} ({}/{})", v.name, s + 1, v.parallelism),
                subtask: s,
                parallelism: v.parallelism,
                max_parallelism: v.max_parallelism,
            };
            let cx = TaskCx {
                info,
                clock: settings.clock.clone(),
                cancel: cancel.clone(),
                exchange: settings.exchange.clone(),
                watermark_interval: settings.watermark_interval,
                metrics: TaskMetrics::default(),
            };
            let w = wiring.remove(&(v_idx, s)).unwrap_or_default();
            let (graph, nodes, done) = (graph.clone(), nodes.clone(), done_tx.clone());
            let thread_name: String = cx.info.task_name.chars().take(60).collect();
            let handle = std::thread::Builder::new()
                .name(thread_name)
                .spawn(move || {
                    let mut cx = cx;
                    let name = cx.info.task_name.clone();
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| run_task(&graph, &nodes, v_idx, w, &mut cx)))
                        .unwrap_or_else(|panic| Err(Error::TaskFailed { task: name.clone(), message: panic_message(&panic) }));
                    if result.is_err() {
                        cx.canceled();
                    }
                    let _ = done.send((name, result.map(|()| cx.metrics.clone())));
                })
                .map_err(|e| Error::io("spawning a task thread for", v.name.clone(), e))?;
            handles.push(handle);
        }
    }
    drop(done_tx);
    let mut tasks = Vec::new();
    let mut root_cause: Option<Error> = None;
    for (name, result) in done_rx.iter() {
        match result {
            Ok(metrics) => tasks.push((name, metrics)),
            Err(Error::Canceled) => {}
            Err(e) => {
                tracing::error!(task = %name, error = %crate::job::invocation::report_chain(&e), "task failed");
                root_cause.get_or_insert(e);
            }
        }
    }
    for h in handles {
        let _ = h.join();
    }
    match root_cause {
        Some(e) => Err(e),
        None if tasks.len() < graph.vertices.iter().map(|v| v.parallelism as usize).sum() => Err(Error::Canceled),
        None => Ok(JobExecutionResult { job_name: graph.job.clone(), net_runtime: started.elapsed(), tasks }),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .map_or_else(|| "panicked".to_string(), |m| format!("panicked: {m}"))
}

/// Builds the subtask's chain on this thread and runs its loop.
fn run_task(graph: &JobGraph, nodes: &[StreamNode], v_idx: usize, mut w: Wiring, cx: &mut TaskCx) -> Result<()> {
    let head = graph.vertices[v_idx].operators[0].node;
    let mut builder = ChainBuilder { graph, nodes, v_idx, outputs: &mut w.outputs, cx };
    match &nodes[head].kind {
        NodeKind::Source(factory) => {
            let next = builder.output(head, None)?;
            let mut task = factory(&cx.info, next);
            run_source_task(task.as_mut(), cx)
        }
        NodeKind::TwoInput(factory) => {
            let (main, sides) = builder.outputs_of(head)?;
            let mut task = factory(&cx.info, main, sides);
            run_input_task(task.as_mut(), w.inputs, cx)
        }
        NodeKind::OneInput(_) | NodeKind::Sink(_) => {
            let link = builder.node(head)?;
            let edge = &nodes[head].inputs[0];
            let in_ops = port_ops(&nodes[edge.from], edge.port.as_deref());
            let mut task = (in_ops.input_head)(link);
            run_input_task(task.as_mut(), w.inputs, cx)
        }
    }
}

fn port_ops(node: &StreamNode, port: Option<&str>) -> super::graph::TypeOps {
    match port {
        None => node.out,
        Some(tag) => node.side_outputs.iter().find(|(t, _)| &**t == tag).map(|(_, ops)| *ops).expect("side output port exists on its node"),
    }
}

struct ChainBuilder<'a> {
    graph: &'a JobGraph,
    nodes: &'a [StreamNode],
    v_idx: usize,
    outputs: &'a mut HashMap<usize, Vec<Sender<Message>>>,
    cx: &'a TaskCx,
}

impl ChainBuilder<'_> {
    /// The input link of a chained one-input node or sink.
    fn node(&mut self, id: usize) -> Result<AnyBox> {
        match &self.nodes[id].kind {
            NodeKind::OneInput(factory) => {
                let factory = factory.clone();
                let (main, sides) = self.outputs_of(id)?;
                Ok(factory(&self.cx.info, main, sides))
            }
            NodeKind::Sink(factory) => Ok(factory(&self.cx.info)),
            NodeKind::Source(_) | NodeKind::TwoInput(_) => Err(Error::Internal(format!("'{}' cannot be chained", self.nodes[id].name))),
        }
    }

    fn outputs_of(&mut self, id: usize) -> Result<(AnyBox, Vec<Box<dyn AnyLink>>)> {
        let main = self.output(id, None)?;
        let mut sides = Vec::new();
        for (tag, ops) in self.nodes[id].side_outputs.clone() {
            let link = self.output(id, Some(&tag))?;
            sides.push((ops.erase)(link));
        }
        Ok((main, sides))
    }

    /// The link consuming output `port` of node `id`: chained nodes, writers to other tasks.
    fn output(&mut self, id: usize, port: Option<&str>) -> Result<AnyBox> {
        let ops = port_ops(&self.nodes[id], port);
        let mut links = Vec::new();
        for (consumer, node) in self.nodes.iter().enumerate() {
            for e in node.inputs.iter().filter(|e| e.from == id && e.port.as_deref() == port) {
                if self.graph.vertex_of_node[consumer] == self.v_idx && node.inputs.len() == 1 {
                    links.push(self.node(consumer)?);
                } else {
                    links.push(self.writer(id, consumer, e.input, ops)?);
                }
            }
        }
        Ok(match links.len() {
            0 => (ops.discard)(),
            1 => links.pop().expect("one link"),
            _ => (ops.fanout)(links),
        })
    }

    fn writer(&mut self, from: usize, to: usize, input: u8, ops: super::graph::TypeOps) -> Result<AnyBox> {
        let (e_idx, edge) = self
            .graph
            .edges
            .iter()
            .enumerate()
            .find(|(_, e)| e.from_node == from && e.to_node == to && e.input == input)
            .ok_or_else(|| Error::Internal("no job edge for a stream edge".into()))?;
        let senders = self.outputs.remove(&e_idx).ok_or_else(|| Error::Internal("channels of an edge taken twice".into()))?;
        let hash = self.nodes[to].inputs.iter().find(|i| i.from == from && i.input == input).and_then(|i| match &i.partition {
            crate::exchange::PartitionSpec::Hash(h) => Some(h.clone()),
            _ => None,
        });
        let max_p = self.graph.vertices[edge.to_vertex].max_parallelism;
        (ops.writer)(edge.partitioning(), hash.as_ref(), max_p, senders, &self.cx.exchange)
    }
}
