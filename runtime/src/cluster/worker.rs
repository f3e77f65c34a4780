//! Worker mode of a job binary: started by a TaskManager, it builds the job's graph, reports to
//! the JobMaster, and runs the subtasks deployed to its TaskManager's slots.
//!
//! Life of a worker: connect to the JobManager and say [`Hello::Worker`] with the address peers
//! use for data and the graph's fingerprint; receive `Deploy` (which slot runs where, the peers'
//! addresses, what to restore); connect to every peer worker; start the local subtasks; then
//! forward the tasks' snapshot acknowledgements and results to the JobMaster and its control
//! messages to the tasks. The process exits when its subtasks ended, when the JobManager's
//! connection closes, or when its TaskManager dies (its stdin closes): a worker never outlives
//! its job attempt.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use serde::{Deserialize, Serialize};

use super::messages::{Hello, HelloReply, TaskError, WorkerCommand, WorkerHello, WorkerReport, PROTOCOL_VERSION};
use super::remote::{start_reader, CreditReturn, PeerLink, RemoteOutlet, Routes};
use super::wire::{read_frame, write_frame};
use crate::error::{Error, Result};
use crate::exchange::{Message, Outlet};
use crate::job::graph::{JobGraph, StreamNode};
use crate::job::local::{
    channel_plan, load_restore, restore_map, spawn_task, spawn_uploader, task_cx, LocalSettings, TaskResult, UploaderEvent, Wiring,
};
use crate::task::{Control, InputChannel, TaskEvent, TaskKey};

/// What the TaskManager tells a worker (in the [`WORKER_ENV`](super::WORKER_ENV) variable, as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// The JobManager's RPC address.
    pub jobmanager: String,
    /// The job.
    pub job_id: String,
    /// The attempt.
    pub attempt: u32,
    /// The worker's index.
    pub worker: u32,
}

/// Where a worker runs, which decides how it ends when its TaskManager or JobManager is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkerHost {
    /// A worker process of a TaskManager: it exits when its stdin closes (the TaskManager
    /// holds the write end) or when the JobManager's connection closes.
    Process,
    /// Threads of the process that built the job (the embedded mini cluster of `local` mode):
    /// when the JobManager's connection closes it cancels its tasks and returns.
    Threads,
}

impl WorkerSpec {
    /// The spec from the environment, if this process is a worker.
    pub(crate) fn from_env() -> Option<Result<Self>> {
        let value = std::env::var(super::WORKER_ENV).ok()?;
        Some(serde_json::from_str(&value).map_err(|e| Error::Usage(format!("{} is not a worker spec: {e}", super::WORKER_ENV))))
    }
}

/// Runs the worker; returns the process's exit code.
pub(crate) fn run_worker(graph: JobGraph, nodes: Vec<StreamNode>, settings: LocalSettings, spec: &WorkerSpec) -> i32 {
    watch_stdin();
    match serve(graph, nodes, settings, spec, WorkerHost::Process) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(job_id = %spec.job_id, attempt = spec.attempt, worker = spec.worker, error = %e.report(), "worker failed");
            eprintln!("error: worker failed: {}", e.report());
            1
        }
    }
}

/// Exits the process when stdin reaches its end: the TaskManager that started us is gone.
fn watch_stdin() {
    let _ = std::thread::Builder::new().name("stdin-watch".into()).spawn(|| {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        eprintln!("worker: the TaskManager is gone; exiting");
        std::process::exit(3);
    });
}

pub(super) fn serve(graph: JobGraph, nodes: Vec<StreamNode>, settings: LocalSettings, spec: &WorkerSpec, host: WorkerHost) -> Result<()> {
    let rpc_err = |what: &str, e: std::io::Error| Error::Rpc(format!("{what} the JobManager at {}: {e}", spec.jobmanager));
    let mut jm = TcpStream::connect(&spec.jobmanager).map_err(|e| rpc_err("connecting to", e))?;
    jm.set_nodelay(true).map_err(|e| rpc_err("configuring the connection to", e))?;
    let local_ip = jm.local_addr().map_err(|e| rpc_err("connecting to", e))?.ip();
    let listener = TcpListener::bind((local_ip, 0)).map_err(|e| Error::io("binding a data port on", local_ip.to_string(), e))?;
    let data_address = listener.local_addr().map_err(|e| Error::io("reading the address of", "the data port", e))?.to_string();
    let hello = WorkerHello {
        version: PROTOCOL_VERSION,
        job_id: spec.job_id.clone(),
        attempt: spec.attempt,
        worker: spec.worker,
        data_address,
        graph_hash: graph.fingerprint(),
    };
    write_frame(&mut jm, &Hello::Worker(hello))?;
    let mut reader = BufReader::new(jm.try_clone().map_err(|e| rpc_err("connecting to", e))?);
    match read_frame::<HelloReply>(&mut reader)? {
        Some(HelloReply::Accepted { .. }) => {}
        Some(HelloReply::Rejected { reason }) => return Err(Error::Rpc(format!("the JobManager turned this worker away: {reason}"))),
        None => return Err(Error::Rpc("the JobManager closed the connection".into())),
    }
    let Some(WorkerCommand::Deploy { placement, peers, restore, two_phase, .. }) = read_frame::<WorkerCommand>(&mut reader)? else {
        return Err(Error::Rpc("expected the deployment from the JobMaster".into()));
    };
    let me = spec.worker;
    let links = connect_peers(me, &peers, &listener, spec)?;
    let restored = restore.as_ref().map(|r| load_restore(&graph, r)).transpose()?;

    // Channels: local queues, outlets to peers, and queues fed by peers.
    let capacity = settings.exchange.channel_capacity;
    let worker_of = |t: TaskKey| placement[t.subtask as usize];
    let mut wiring: HashMap<(usize, u32), Wiring> = HashMap::new();
    let mut routes: HashMap<u32, Routes> = HashMap::new();
    for c in channel_plan(&graph) {
        let (producer, consumer) = (worker_of(c.from), worker_of(c.to));
        if producer == me && consumer == me {
            let (tx, rx) = crossbeam_channel::bounded::<Message>(capacity);
            wiring.entry((c.to.vertex, c.to.subtask)).or_default().inputs.push(InputChannel::new(rx, c.input));
            wiring.entry((c.from.vertex, c.from.subtask)).or_default().outputs.entry(c.edge).or_default().push(Outlet::Local(tx));
        } else if producer == me {
            let link = &links[&consumer].0;
            let outlet = RemoteOutlet::new(c.id, capacity as u32, link);
            routes.entry(consumer).or_default().add_outlet(&outlet);
            wiring.entry((c.from.vertex, c.from.subtask)).or_default().outputs.entry(c.edge).or_default().push(Outlet::Remote(outlet));
        } else if consumer == me {
            let (tx, rx) = crossbeam_channel::bounded::<Message>(capacity);
            routes.entry(producer).or_default().inbound.insert(c.id, tx);
            let input = InputChannel::remote(rx, c.input, CreditReturn::new(c.id, &links[&producer].0));
            wiring.entry((c.to.vertex, c.to.subtask)).or_default().inputs.push(input);
        }
    }
    for (peer, (link, stream)) in links {
        start_reader(stream, peer, routes.remove(&peer).unwrap_or_default(), link)?;
    }

    // Tasks.
    let graph = Arc::new(graph);
    let nodes = Arc::new(nodes);
    let cancel = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<(TaskKey, TaskResult)>();
    let (events_tx, events_rx) = crossbeam_channel::unbounded::<TaskEvent>();
    let mut controls: BTreeMap<TaskKey, Sender<Control>> = BTreeMap::new();
    let mut handles = Vec::new();
    for (v_idx, v) in graph.vertices.iter().enumerate() {
        for s in (0..v.parallelism).filter(|s| placement[*s as usize] == me) {
            let key = TaskKey { vertex: v_idx, subtask: s };
            let cx = task_cx(&graph, key, &settings, two_phase, &cancel, &events_tx, restore_map(&graph, v_idx, s, restored.as_ref())?);
            let (control_tx, control_rx) = crossbeam_channel::unbounded();
            controls.insert(key, control_tx);
            let w = wiring.remove(&(v_idx, s)).unwrap_or_default();
            let (tx, done) = crossbeam_channel::bounded(1);
            handles.push(spawn_task(graph.clone(), nodes.clone(), v_idx, w, control_rx, cx, tx)?);
            forward_result(key, done, done_tx.clone());
        }
    }
    drop((done_tx, events_tx));
    let task_count = controls.len();
    let finishing = Arc::new(AtomicBool::new(false));
    let on_close = match host {
        WorkerHost::Threads => ConnectionClosed::CancelTasks(cancel.clone()),
        WorkerHost::Process => ConnectionClosed::ExitProcess,
    };
    start_control_reader(reader, controls, finishing.clone(), on_close);
    let uploader = spawn_uploader(events_rx, &settings.checkpoints.checkpoints_dir, &spec.job_id)?;
    let mut out = std::io::BufWriter::new(jm);
    let mut ended = 0;
    let never = crossbeam_channel::never();
    let mut acks = &uploader.acks;
    let mut failure = None;
    while ended < task_count {
        let report = crossbeam_channel::select! {
            recv(done_rx) -> msg => {
                let Ok((task, (name, result))) = msg else { break };
                ended += 1;
                let result = result.map(|m| (m.records_in, m.records_out, m.backpressured_ns)).map_err(TaskError::from);
                WorkerReport::TaskEnded { task, name, result }
            }
            recv(acks) -> msg => match msg {
                Ok(UploaderEvent::Ack(ack)) => WorkerReport::Ack {
                    task: ack.task,
                    checkpoint: ack.checkpoint,
                    files: ack.files.map_err(|e| e.report()),
                    alignment_us: ack.alignment.as_micros() as u64,
                },
                Ok(UploaderEvent::Finished(task)) => WorkerReport::Finished { task },
                Err(_) => {
                    acks = &never;
                    continue;
                }
            },
        };
        if ended == task_count {
            // The JobMaster may close the connection once it has this last report.
            finishing.store(true, Ordering::SeqCst);
        }
        if let Err(e) = write_frame(&mut out, &report).and_then(|()| out.flush().map_err(|e| rpc_err("writing to", e))) {
            // Nobody coordinates the tasks any more.
            cancel.store(true, Ordering::SeqCst);
            failure = Some(e);
            break;
        }
    }
    for h in handles {
        let _ = h.join();
    }
    drop(uploader);
    failure.map_or(Ok(()), Err)
}

/// What a worker does when the JobManager closes its connection before the worker is done:
/// the attempt is over for it.
enum ConnectionClosed {
    /// A worker process ends (its tasks with it).
    ExitProcess,
    /// A worker on threads of the job's own process cancels its tasks.
    CancelTasks(Arc<AtomicBool>),
}

/// Tags a task's result with its key.
fn forward_result(key: TaskKey, done: Receiver<TaskResult>, to: Sender<(TaskKey, TaskResult)>) {
    let _ = std::thread::Builder::new().name("task-result".into()).spawn(move || {
        if let Ok(result) = done.recv() {
            let _ = to.send((key, result));
        }
    });
}

/// Delivers the JobMaster's control messages to the tasks; exits the process when the
/// JobManager's connection closes (the attempt is over for us).
fn start_control_reader(
    mut reader: BufReader<TcpStream>,
    controls: BTreeMap<TaskKey, Sender<Control>>,
    finishing: Arc<AtomicBool>,
    on_close: ConnectionClosed,
) {
    let _ = std::thread::Builder::new().name("jobmaster-in".into()).spawn(move || loop {
        match read_frame::<WorkerCommand>(&mut reader) {
            Ok(Some(WorkerCommand::Control { task, control })) => {
                if let Some(tx) = controls.get(&task) {
                    let _ = tx.send(control);
                }
            }
            Ok(Some(WorkerCommand::Deploy { .. })) => tracing::warn!("ignoring a second deployment"),
            Ok(None) | Err(_) if finishing.load(Ordering::SeqCst) => return,
            Ok(None) | Err(_) => match &on_close {
                ConnectionClosed::CancelTasks(cancel) => {
                    cancel.store(true, Ordering::SeqCst);
                    return;
                }
                ConnectionClosed::ExitProcess => {
                    eprintln!("worker: the JobManager closed the connection; exiting");
                    std::process::exit(3);
                }
            },
        }
    });
}

/// One connection per peer worker: this worker connects to those with a lower index and
/// accepts those with a higher one. The connecting side introduces itself with its job,
/// attempt and index.
fn connect_peers(me: u32, peers: &[String], listener: &TcpListener, spec: &WorkerSpec) -> Result<HashMap<u32, (Arc<PeerLink>, TcpStream)>> {
    let mut links = HashMap::new();
    let intro = (spec.job_id.clone(), spec.attempt, me);
    for (peer, address) in peers.iter().enumerate().take(me as usize) {
        let mut stream = TcpStream::connect(address).map_err(|e| Error::Rpc(format!("connecting to worker {peer} at {address}: {e}")))?;
        write_frame(&mut stream, &intro)?;
        links.insert(peer as u32, stream);
    }
    let expected = peers.len().saturating_sub(me as usize + 1);
    for _ in 0..expected {
        let (mut stream, from) = listener.accept().map_err(|e| Error::io("accepting", "a data connection", e))?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| Error::io("configuring", from.to_string(), e))?;
        let Some((job, attempt, peer)) = read_frame::<(String, u32, u32)>(&mut stream)? else {
            return Err(Error::Rpc(format!("{from} closed the data connection before introducing itself")));
        };
        if job != spec.job_id || attempt != spec.attempt || peer <= me || peer as usize >= peers.len() {
            return Err(Error::Rpc(format!("unexpected data connection from {from}: job {job} attempt {attempt} worker {peer}")));
        }
        stream.set_read_timeout(None).map_err(|e| Error::io("configuring", from.to_string(), e))?;
        links.insert(peer, stream);
    }
    links
        .into_iter()
        .map(|(peer, stream)| {
            stream.set_nodelay(true).map_err(|e| Error::io("configuring", "a data connection", e))?;
            let writer = stream.try_clone().map_err(|e| Error::io("cloning", "a data connection", e))?;
            Ok((peer, (PeerLink::start(writer, peer)?, stream)))
        })
        .collect()
}
