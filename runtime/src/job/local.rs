//! Runs a job graph in this process: one thread per subtask, bounded channels between them.
//!
//! Failure handling: a task that fails raises the job's cancel flag and drops its channels;
//! its neighbours see the disconnection and stop, so every task ends. The job's error is the
//! first failure that is not a cancellation (the root cause).

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::graph::{AnyBox, JobGraph, NodeKind, NodeSetup, StreamNode, SOURCE_KIND};
use crate::checkpoint::coordinator::{
    Ack, CheckpointConfig, CheckpointCoordinator, CheckpointStats, OperatorMeta, SavepointRequest, TaskEntry,
};
use crate::checkpoint::{
    assign_state, unmatched_operators, CheckpointMetadata, CheckpointStorage, OperatorRestore, SnapshotKind, StateFileHandle, StateSize,
};
use crate::error::{Error, Result};
use crate::exchange::{ExchangeConfig, Message, Outlet, Partitioning};
use crate::job::restart::{RestartDecision, RestartStrategy};
use crate::operators::TaskInfo;
use crate::task::{
    run_input_task, run_source_task, AnyLink, CheckpointLink, Control, ControlSender, InputChannel, TaskCx, TaskEvent, TaskKey,
    TaskMetrics, TaskSnapshot,
};
use crate::time::Clock;

/// What a finished job reports.
#[derive(Debug, Clone)]
pub struct JobExecutionResult {
    /// Job name.
    pub job_name: String,
    /// The job's id (names its checkpoint directory).
    pub job_id: String,
    /// Wall-clock run time.
    pub net_runtime: Duration,
    /// Per subtask: name and counters.
    pub tasks: Vec<(String, TaskMetrics)>,
    /// Checkpoints taken, oldest first.
    pub checkpoints: Vec<CheckpointStats>,
}

/// A task's name and how it ended.
pub(crate) type TaskResult = (String, Result<TaskMetrics>);

pub(crate) use crate::cluster::RestoreSpec;

/// Settings of a local run.
#[derive(Debug, Clone)]
pub(crate) struct LocalSettings {
    pub(crate) exchange: ExchangeConfig,
    pub(crate) watermark_interval: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) checkpoints: CheckpointConfig,
    pub(crate) restore: Option<RestoreSpec>,
    pub(crate) state_backend: crate::state::StateBackendConfig,
}

/// The channels of one subtask: what it reads and, per outgoing job edge, what it writes.
#[derive(Default)]
pub(crate) struct Wiring {
    pub(crate) inputs: Vec<InputChannel>,
    pub(crate) outputs: HashMap<usize, Vec<Outlet>>,
}

/// One channel of the job: from subtask `from` of an edge's producer to subtask `to` of its
/// consumer. Every process of a job numbers the channels the same way (`id`), so that a
/// connection between worker processes can multiplex them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelSpec {
    pub(crate) id: u32,
    pub(crate) edge: usize,
    pub(crate) from: TaskKey,
    pub(crate) to: TaskKey,
    pub(crate) input: u8,
}

/// Every channel of the job, per edge and producer subtask in the order of the consumer
/// subtasks (the order a `ChannelWriter` indexes them).
pub(crate) fn channel_plan(graph: &JobGraph) -> Vec<ChannelSpec> {
    let mut channels = Vec::new();
    for (e_idx, e) in graph.edges.iter().enumerate() {
        let (pu, pd) = (graph.vertices[e.from_vertex].parallelism, graph.vertices[e.to_vertex].parallelism);
        for u in 0..pu {
            let targets: Vec<u32> = if e.partitioning() == Partitioning::Forward { vec![u] } else { (0..pd).collect() };
            for d in targets {
                channels.push(ChannelSpec {
                    id: channels.len() as u32,
                    edge: e_idx,
                    from: TaskKey { vertex: e.from_vertex, subtask: u },
                    to: TaskKey { vertex: e.to_vertex, subtask: d },
                    input: e.input,
                });
            }
        }
    }
    channels
}

/// Creates every channel of the job and hands each subtask its ends.
fn wire(graph: &JobGraph, capacity: usize) -> HashMap<(usize, u32), Wiring> {
    let mut wiring: HashMap<(usize, u32), Wiring> = HashMap::new();
    for c in channel_plan(graph) {
        let (tx, rx): (Sender<Message>, Receiver<Message>) = crossbeam_channel::bounded(capacity);
        wiring.entry((c.to.vertex, c.to.subtask)).or_default().inputs.push(InputChannel::new(rx, c.input));
        wiring.entry((c.from.vertex, c.from.subtask)).or_default().outputs.entry(c.edge).or_default().push(Outlet::Local(tx));
    }
    wiring
}

/// A job id: 32 hex digits, like Flink's `JobID`.
pub(crate) fn new_job_id() -> String {
    crate::random_hex(32)
}

/// Reads and checks the checkpoint or savepoint to restore from.
pub(crate) fn load_restore(graph: &JobGraph, restore: &RestoreSpec) -> Result<(CheckpointMetadata, PathBuf)> {
    let dir = CheckpointStorage::resolve_restore_path(&restore.path)?;
    let metadata = CheckpointStorage::validate(&dir)?;
    let uids: Vec<&str> = graph.vertices.iter().flat_map(|v| v.operators.iter().map(|o| o.uid.as_str())).collect();
    let unmatched = unmatched_operators(&metadata, &uids);
    if !unmatched.is_empty() && !restore.allow_non_restored {
        return Err(Error::Usage(format!(
            "cannot restore from {}: it has state for operators that are not in this job: {} (give the operators these uids, or pass --allow-non-restored-state to drop that state)",
            dir.display(),
            unmatched.join(", ")
        )));
    }
    for op in &metadata.operators {
        let Some(vertex) = graph.vertices.iter().find(|v| v.operators.iter().any(|o| o.uid == op.uid)) else { continue };
        let keyed = op.subtasks.iter().any(|s| s.file.as_ref().is_some_and(|f| !f.key_groups.is_empty() || f.native.is_some()));
        if keyed && vertex.max_parallelism != op.max_parallelism {
            return Err(Error::Usage(format!(
                "cannot restore operator '{}' ({}): its state has {} key groups (max parallelism) but the job's operator has {}; set pipeline.max-parallelism or the operator's max parallelism to {}",
                op.name, op.uid, op.max_parallelism, vertex.max_parallelism, op.max_parallelism
            )));
        }
    }
    tracing::info!(checkpoint = %dir.display(), checkpoint_id = metadata.checkpoint_id.0, "restoring job state");
    Ok((metadata, dir))
}

/// The restored state of every operator of subtask `subtask` of `vertex`.
pub(crate) fn restore_map(
    graph: &JobGraph,
    vertex: usize,
    subtask: u32,
    restored: Option<&(CheckpointMetadata, PathBuf)>,
) -> Result<HashMap<String, OperatorRestore>> {
    let Some((metadata, dir)) = restored else { return Ok(HashMap::new()) };
    let v = &graph.vertices[vertex];
    let mut map = HashMap::new();
    for op in &v.operators {
        if let Some(state) = metadata.operators.iter().find(|s| s.uid == op.uid) {
            map.insert(op.uid.clone(), assign_state(state, dir, v.parallelism, subtask)?);
        }
    }
    Ok(map)
}

/// Runs the job, restarting it after failures from its latest completed checkpoint as the
/// restart strategy allows (Flink's failover). Bad arguments, configuration and input data
/// fail at once: running again cannot fix them.
pub(crate) fn run_with_failover(
    graph: JobGraph,
    nodes: Vec<StreamNode>,
    settings: LocalSettings,
    mut strategy: RestartStrategy,
    job_id: &str,
    requests: &Receiver<SavepointRequest>,
) -> Result<JobExecutionResult> {
    let mut attempt = settings.clone();
    loop {
        let error = match run_local(graph.clone(), nodes.clone(), attempt.clone(), job_id, requests) {
            Ok(result) => return Ok(result),
            Err(e @ (Error::Usage(_) | Error::Config { .. } | Error::Graph(_))) => return Err(e),
            Err(e) => e,
        };
        let after = match strategy.on_failure(Instant::now(), error.is_recoverable()) {
            RestartDecision::Restart { after } => after,
            RestartDecision::Fail { reason } => {
                tracing::error!(job_id = %job_id, reason = %reason, "not restarting the job");
                return Err(error);
            }
        };
        let latest = CheckpointStorage::new(&settings.checkpoints.checkpoints_dir, job_id).latest_valid()?;
        attempt.restore = match latest {
            Some((_, dir)) => Some(RestoreSpec { path: dir, allow_non_restored: false }),
            None => settings.restore.clone(),
        };
        let from = attempt.restore.as_ref().map_or_else(|| "the beginning".to_string(), |r| r.path.display().to_string());
        tracing::warn!(job_id = %job_id, error = %error.report(), restart_from = %from, delay_ms = after.as_millis() as u64, strategy = %strategy, "job failed; restarting");
        // The strategy's delay before the restart, not a synchronisation.
        std::thread::sleep(after);
    }
}

/// Runs the job once to completion: spawns its tasks, then drives the checkpoint coordinator
/// until every task ended.
fn run_local(
    graph: JobGraph,
    nodes: Vec<StreamNode>,
    settings: LocalSettings,
    job_id: &str,
    requests: &Receiver<SavepointRequest>,
) -> Result<JobExecutionResult> {
    let started = Instant::now();
    let job_id = job_id.to_string();
    let restored = settings.restore.as_ref().map(|r| load_restore(&graph, r)).transpose()?;
    let graph = Arc::new(graph);
    let nodes = Arc::new(nodes);
    let cancel = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<TaskResult>();
    let (events_tx, events_rx) = crossbeam_channel::unbounded::<TaskEvent>();
    // Sinks commit only through checkpoints when the job checkpoints or was restored (then a
    // final checkpoint at the end of input commits their last output).
    let two_phase = settings.checkpoints.interval.is_some() || restored.is_some();
    let mut wiring = wire(&graph, settings.exchange.channel_capacity);
    let mut handles = Vec::new();
    let mut entries = BTreeMap::new();
    for (v_idx, v) in graph.vertices.iter().enumerate() {
        for s in 0..v.parallelism {
            let key = TaskKey { vertex: v_idx, subtask: s };
            let cx = task_cx(&graph, key, &settings, two_phase, &cancel, &events_tx, restore_map(&graph, v_idx, s, restored.as_ref())?);
            let (control_tx, control_rx) = crossbeam_channel::unbounded();
            entries.insert(key, task_entry(&graph, v_idx, ControlSender::Local(control_tx)));
            let w = wiring.remove(&(v_idx, s)).unwrap_or_default();
            handles.push(spawn_task(graph.clone(), nodes.clone(), v_idx, w, control_rx, cx, done_tx.clone())?);
        }
    }
    drop((done_tx, events_tx));
    let first_id = restored.as_ref().map_or(1, |(m, _)| m.checkpoint_id.0 + 1);
    let uploader = spawn_uploader(events_rx, &settings.checkpoints.checkpoints_dir, &job_id)?;
    let coordinator = CheckpointCoordinator::new(settings.checkpoints, &job_id, settings.clock, entries, first_id, two_phase);
    let outcome = drive(coordinator, &done_rx, &uploader.acks, requests, &cancel, handles.len());
    for h in handles {
        let _ = h.join();
    }
    drop(uploader);
    let (tasks, checkpoints) = outcome?;
    Ok(JobExecutionResult { job_name: graph.job.clone(), job_id, net_runtime: started.elapsed(), tasks, checkpoints })
}

/// The context of subtask `key`.
pub(crate) fn task_cx(
    graph: &JobGraph,
    key: TaskKey,
    settings: &LocalSettings,
    two_phase: bool,
    cancel: &Arc<AtomicBool>,
    events: &Sender<TaskEvent>,
    restore: HashMap<String, OperatorRestore>,
) -> TaskCx {
    let v = &graph.vertices[key.vertex];
    let info = TaskInfo {
        job_name: graph.job.clone(),
        task_name: format!("{} ({}/{})", v.name, key.subtask + 1, v.parallelism),
        subtask: key.subtask,
        parallelism: v.parallelism,
        max_parallelism: v.max_parallelism,
        checkpointing: two_phase,
        state_backend: settings.state_backend.clone(),
    };
    TaskCx {
        info,
        clock: settings.clock.clone(),
        cancel: cancel.clone(),
        exchange: settings.exchange.clone(),
        watermark_interval: settings.watermark_interval,
        metrics: TaskMetrics::default(),
        checkpoints: Some(CheckpointLink { task: key, events: events.clone() }),
        finished: false,
        stopping: false,
        restore,
    }
}

/// The coordinator's view of a task of vertex `v_idx`.
pub(crate) fn task_entry(graph: &JobGraph, v_idx: usize, control: ControlSender) -> TaskEntry {
    let v = &graph.vertices[v_idx];
    let operators = v
        .operators
        .iter()
        .map(|o| OperatorMeta { uid: o.uid.clone(), name: o.name.clone(), parallelism: v.parallelism, max_parallelism: v.max_parallelism })
        .collect();
    TaskEntry { control, is_source: v.operators[0].kind == SOURCE_KIND, finished: false, operators }
}

pub(crate) fn spawn_task(
    graph: Arc<JobGraph>,
    nodes: Arc<Vec<StreamNode>>,
    v_idx: usize,
    w: Wiring,
    control: Receiver<Control>,
    cx: TaskCx,
    done: Sender<TaskResult>,
) -> Result<std::thread::JoinHandle<()>> {
    let thread_name: String = cx.info.task_name.chars().take(60).collect();
    let vertex_name = graph.vertices[v_idx].name.clone();
    std::thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            let mut cx = cx;
            let name = cx.info.task_name.clone();
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| run_task(&graph, &nodes, v_idx, w, &control, &mut cx)))
                .unwrap_or_else(|panic| Err(Error::TaskFailed { task: name.clone(), message: panic_message(&panic) }));
            if result.is_err() {
                cx.canceled();
            }
            let _ = done.send((name, result.map(|()| cx.metrics.clone())));
        })
        .map_err(|e| Error::io("spawning a task thread for", vertex_name, e))
}

/// What the driver loop hears from the uploader.
pub(crate) enum UploaderEvent {
    Ack(Ack),
    Finished(TaskKey),
}

/// Writes task snapshots while the tasks go on processing, then acknowledges to the
/// coordinator (the asynchronous part of a checkpoint).
pub(crate) struct Uploader {
    pub(crate) acks: Receiver<UploaderEvent>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Uploader {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub(crate) fn spawn_uploader(events: Receiver<TaskEvent>, checkpoints_dir: &std::path::Path, job_id: &str) -> Result<Uploader> {
    let (tx, acks) = crossbeam_channel::unbounded();
    let storage = CheckpointStorage::new(checkpoints_dir, job_id);
    let handle = std::thread::Builder::new()
        .name("checkpoint-uploader".into())
        .spawn(move || {
            for event in events {
                let out = match event {
                    TaskEvent::Snapshot { task, barrier, operators, alignment } => {
                        let dir = match &barrier.kind {
                            SnapshotKind::Checkpoint => storage.checkpoint_dir(barrier.id),
                            SnapshotKind::Savepoint { dir, .. } => dir.clone(),
                        };
                        let files = write_snapshots(&dir, task.subtask, operators);
                        UploaderEvent::Ack(Ack { task, checkpoint: barrier.id, files, alignment })
                    }
                    TaskEvent::Finished { task } => UploaderEvent::Finished(task),
                };
                if tx.send(out).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| Error::io("spawning", "the checkpoint uploader thread", e))?;
    Ok(Uploader { acks, handle: Some(handle) })
}

fn write_snapshots(
    dir: &std::path::Path,
    subtask: u32,
    operators: TaskSnapshot,
) -> Result<Vec<(String, Option<StateFileHandle>, StateSize)>> {
    operators
        .into_iter()
        .map(|(uid, snapshot)| {
            let written = CheckpointStorage::write_subtask_state_sized(dir, &uid, subtask, &snapshot)?;
            let (file, size) = written.map_or((None, StateSize::default()), |(file, size)| (Some(file), size));
            Ok((uid.to_string(), file, size))
        })
        .collect()
}

/// Per task its counters, and the checkpoint history.
type JobOutcome = (Vec<(String, TaskMetrics)>, Vec<CheckpointStats>);

/// The job's main loop: task results, checkpoint acknowledgements and trigger deadlines.
fn drive(
    mut coordinator: CheckpointCoordinator,
    done: &Receiver<TaskResult>,
    acks: &Receiver<UploaderEvent>,
    requests: &Receiver<SavepointRequest>,
    cancel: &AtomicBool,
    task_count: usize,
) -> Result<JobOutcome> {
    let never = crossbeam_channel::never();
    let mut requests = requests;
    let mut tasks = Vec::new();
    let mut root_cause: Option<Error> = None;
    let mut ended = 0;
    let fail = |e: Error, root: &mut Option<Error>| {
        tracing::error!(error = %e.report(), "job failed");
        cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        root.get_or_insert(e);
    };
    while ended < task_count {
        let timeout = coordinator.deadline().saturating_duration_since(Instant::now());
        crossbeam_channel::select! {
            recv(done) -> msg => {
                let Ok((name, result)) = msg else { break };
                ended += 1;
                match result {
                    Ok(metrics) => tasks.push((name, metrics)),
                    Err(Error::Canceled) => {}
                    Err(e) => {
                        tracing::error!(task = %name, error = %e.report(), "task failed");
                        fail(e, &mut root_cause);
                    }
                }
            }
            recv(acks) -> msg => {
                let result = match msg {
                    Ok(UploaderEvent::Ack(ack)) => coordinator.on_ack(ack),
                    Ok(UploaderEvent::Finished(task)) => coordinator.on_finished(task),
                    Err(_) => Ok(()),
                };
                if let Err(e) = result {
                    fail(e, &mut root_cause);
                }
            }
            recv(requests) -> msg => match msg {
                Ok(request) => {
                    if let Err(e) = coordinator.request_savepoint(request) {
                        fail(e, &mut root_cause);
                    }
                }
                // The client went away: no more requests can come.
                Err(_) => requests = &never,
            },
            default(timeout) => {
                if let Err(e) = coordinator.on_tick(Instant::now()) {
                    fail(e, &mut root_cause);
                }
            }
        }
    }
    match root_cause {
        Some(e) => Err(e),
        None if tasks.len() < task_count => Err(Error::Canceled),
        None => Ok((tasks, coordinator.history)),
    }
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .map_or_else(|| "panicked".to_string(), |m| format!("panicked: {m}"))
}

/// Builds the subtask's chain on this thread and runs its loop.
pub(crate) fn run_task(
    graph: &JobGraph,
    nodes: &[StreamNode],
    v_idx: usize,
    mut w: Wiring,
    control: &Receiver<Control>,
    cx: &mut TaskCx,
) -> Result<()> {
    let head = graph.vertices[v_idx].operators[0].node;
    let mut builder = ChainBuilder { graph, nodes, v_idx, outputs: &mut w.outputs, cx };
    match &nodes[head].kind {
        NodeKind::Source(factory) => {
            let next = builder.output(head, None)?;
            let setup = NodeSetup { info: &cx.info, uid: graph.uid_of_node[head].as_str().into(), side_ports: &nodes[head].side_outputs };
            let mut task = factory(&setup, next);
            run_source_task(task.as_mut(), control, cx)
        }
        NodeKind::TwoInput(factory) => {
            let (main, sides) = builder.outputs_of(head)?;
            let setup = NodeSetup { info: &cx.info, uid: graph.uid_of_node[head].as_str().into(), side_ports: &nodes[head].side_outputs };
            let mut task = factory(&setup, main, sides);
            run_input_task(task.as_mut(), w.inputs, control, cx)
        }
        NodeKind::OneInput(_) | NodeKind::Sink(_) => {
            let link = builder.node(head)?;
            let edge = &nodes[head].inputs[0];
            let in_ops = port_ops(&nodes[edge.from], edge.port.as_deref());
            let mut task = (in_ops.input_head)(link);
            run_input_task(task.as_mut(), w.inputs, control, cx)
        }
    }
}

fn port_ops(node: &StreamNode, port: Option<&str>) -> super::graph::TypeOps {
    match port {
        None => node.out,
        Some(tag) => node.side_outputs.iter().find(|p| &*p.tag == tag).map(|p| p.ops).expect("side output port exists on its node"),
    }
}

struct ChainBuilder<'a> {
    graph: &'a JobGraph,
    nodes: &'a [StreamNode],
    v_idx: usize,
    outputs: &'a mut HashMap<usize, Vec<Outlet>>,
    cx: &'a TaskCx,
}

impl ChainBuilder<'_> {
    /// The input link of a chained one-input node or sink.
    fn node(&mut self, id: usize) -> Result<AnyBox> {
        match &self.nodes[id].kind {
            NodeKind::OneInput(factory) => {
                let factory = factory.clone();
                let (main, sides) = self.outputs_of(id)?;
                Ok(factory(&self.setup(id), main, sides))
            }
            NodeKind::Sink(factory) => Ok(factory(&self.setup(id))),
            NodeKind::Source(_) | NodeKind::TwoInput(_) => Err(Error::Internal(format!("'{}' cannot be chained", self.nodes[id].name))),
        }
    }

    fn setup(&self, id: usize) -> NodeSetup<'_> {
        NodeSetup { info: &self.cx.info, uid: self.graph.uid_of_node[id].as_str().into(), side_ports: &self.nodes[id].side_outputs }
    }

    fn outputs_of(&mut self, id: usize) -> Result<(AnyBox, Vec<Box<dyn AnyLink>>)> {
        let main = self.output(id, None)?;
        let mut sides = Vec::new();
        for port in self.nodes[id].side_outputs.clone() {
            let (tag, ops) = (port.tag, port.ops);
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
