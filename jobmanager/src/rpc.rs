//! The JobManager's RPC endpoint: TaskManagers register and heartbeat over it, and job workers
//! report to their JobMaster. Frames and messages are the runtime's (`strom_runtime::cluster`).

use std::sync::Arc;
use std::time::Instant;

use strom_runtime::cluster::wire::tokio_io::{read_payload, write_payload};
use strom_runtime::cluster::wire::{decode, encode};
use strom_runtime::cluster::{FromTaskManager, Hello, HelloReply, ToTaskManager, WorkerHello, PROTOCOL_VERSION};
use tokio::io::{AsyncRead, AsyncWrite, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::job::JobEvent;
use crate::resources::{now_ms, TaskManager};
use crate::Cluster;

/// Size of the pieces a job binary is sent in.
const BLOB_CHUNK: usize = 4 << 20;

/// Accepts connections until the process ends.
pub(crate) async fn serve(cluster: Arc<Cluster>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let cluster = cluster.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(cluster, stream).await {
                        tracing::debug!(%peer, error = %e, "RPC connection ended");
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "accepting an RPC connection failed"),
        }
    }
}

async fn connection(cluster: Arc<Cluster>, stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (r, w) = stream.into_split();
    let (mut r, mut w) = (BufReader::new(r), BufWriter::new(w));
    let Some(payload) = read_payload(&mut r).await? else { return Ok(()) };
    let hello = match decode::<Hello>(&payload) {
        Ok(h) => h,
        Err(e) => {
            reply(&mut w, &HelloReply::Rejected { reason: format!("not a Strom peer: {e}") }).await?;
            return Ok(());
        }
    };
    match hello {
        Hello::TaskManager { version, id, slots, host, pid } => {
            if version != PROTOCOL_VERSION {
                let reason =
                    format!("TaskManager speaks protocol {version}, this JobManager {PROTOCOL_VERSION}; run the same Strom version");
                return reply(&mut w, &HelloReply::Rejected { reason }).await;
            }
            reply(&mut w, &HelloReply::Accepted { epoch: cluster.epoch }).await?;
            task_manager(cluster, r, w, id, slots, host, pid).await
        }
        Hello::Worker(hello) => worker(cluster, r, w, hello).await,
    }
}

async fn reply(w: &mut (impl AsyncWrite + Unpin), msg: &HelloReply) -> std::io::Result<()> {
    write_payload(w, &encode(msg).map_err(std::io::Error::other)?).await
}

#[allow(clippy::too_many_arguments)]
async fn task_manager(
    cluster: Arc<Cluster>,
    mut r: impl AsyncRead + Unpin,
    mut w: impl AsyncWrite + Unpin + Send + 'static,
    id: String,
    slots: u32,
    host: String,
    pid: u32,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<ToTaskManager>();
    let session = cluster.next_session();
    {
        let mut resources = cluster.resources();
        let tm = TaskManager {
            id: id.clone(),
            host,
            pid,
            slots,
            used: Default::default(),
            last_heartbeat: Instant::now(),
            last_heartbeat_ms: now_ms(),
            registered_ms: now_ms(),
            session,
            tx: tx.clone(),
        };
        if let Some(old) = resources.tms.insert(id.clone(), tm) {
            tracing::warn!(taskmanager = %id, "TaskManager registered again; its old session is lost");
            drop(resources);
            cluster.task_manager_lost(&old.id, old.session, false);
        }
    }
    tracing::info!(taskmanager = %id, slots, "TaskManager registered");
    cluster.resources_changed();
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let payload = match encode(&msg) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "encoding a message to a TaskManager");
                    continue;
                }
            };
            if write_payload(&mut w, &payload).await.is_err() {
                break;
            }
        }
    });
    let result = async {
        while let Some(payload) = read_payload(&mut r).await? {
            let msg = decode::<FromTaskManager>(&payload).map_err(std::io::Error::other)?;
            match msg {
                FromTaskManager::Heartbeat => {
                    let mut resources = cluster.resources();
                    let Some(tm) = resources.tms.get_mut(&id).filter(|t| t.session == session) else {
                        // Declared lost after missing its heartbeats (a pause, not a crash):
                        // closing the connection makes it stop its workers and register anew.
                        tracing::warn!(taskmanager = %id, "heartbeat from a TaskManager that was declared lost; closing its connection");
                        break;
                    };
                    tm.last_heartbeat = Instant::now();
                    tm.last_heartbeat_ms = now_ms();
                }
                FromTaskManager::FetchBlob { hash } => send_blob(&cluster, &tx, hash).await,
                FromTaskManager::WorkerExited { job_id, attempt, worker, code, message } => {
                    tracing::info!(taskmanager = %id, job_id = %job_id, attempt, worker, ?code, "worker exited");
                    cluster.job_event(&job_id, JobEvent::WorkerExited { attempt, worker, code, message });
                }
            }
        }
        Ok::<(), std::io::Error>(())
    }
    .await;
    writer.abort();
    tracing::warn!(taskmanager = %id, "connection to the TaskManager closed");
    cluster.task_manager_lost(&id, session, true);
    result
}

async fn send_blob(cluster: &Arc<Cluster>, tx: &mpsc::UnboundedSender<ToTaskManager>, hash: String) {
    let Some(path) = cluster.blobs.path(&hash) else {
        let _ = tx.send(ToTaskManager::BlobMissing { hash, reason: "no such job binary on the JobManager".into() });
        return;
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.send(ToTaskManager::BlobMissing { hash, reason: format!("reading {}: {e}", path.display()) });
            return;
        }
    };
    let len = match file.metadata().await {
        Ok(m) => m.len(),
        Err(e) => {
            let _ = tx.send(ToTaskManager::BlobMissing { hash, reason: format!("reading {}: {e}", path.display()) });
            return;
        }
    };
    let mut file = tokio::io::BufReader::new(file);
    let mut sent = 0u64;
    loop {
        let mut data = vec![0; BLOB_CHUNK];
        let n = match tokio::io::AsyncReadExt::read(&mut file, &mut data).await {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(ToTaskManager::BlobMissing { hash, reason: format!("reading {}: {e}", path.display()) });
                return;
            }
        };
        data.truncate(n);
        sent += n as u64;
        let last = n == 0 || sent >= len;
        if tx.send(ToTaskManager::BlobChunk { hash: hash.clone(), data, last }).is_err() || last {
            return;
        }
    }
}

async fn worker(
    cluster: Arc<Cluster>,
    mut r: impl AsyncRead + Unpin,
    mut w: impl AsyncWrite + Unpin + Send + 'static,
    hello: WorkerHello,
) -> std::io::Result<()> {
    let job = cluster.job(&hello.job_id);
    let problem = match &job {
        _ if hello.version != PROTOCOL_VERSION => {
            Some(format!("the job binary speaks protocol {}, this JobManager {PROTOCOL_VERSION}; rebuild the job against this Strom version", hello.version))
        }
        None => Some(format!("no job {} on this JobManager", hello.job_id)),
        Some(job) if job.fingerprint != hello.graph_hash => Some(format!(
            "the worker built a different job graph than the plan of job {} (graph construction must be deterministic: same arguments, no randomness or environment in the job's structure)",
            job.id
        )),
        Some(_) => None,
    };
    if let Some(reason) = problem {
        tracing::warn!(job_id = %hello.job_id, worker = hello.worker, reason = %reason, "worker turned away");
        return reply(&mut w, &HelloReply::Rejected { reason }).await;
    }
    let job = job.expect("checked above");
    reply(&mut w, &HelloReply::Accepted { epoch: cluster.epoch }).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (attempt, index) = (hello.attempt, hello.worker);
    let _ = job.events.send(JobEvent::WorkerConnected { attempt, worker: index, data_address: hello.data_address, tx });
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if write_payload(&mut w, &frame).await.is_err() {
                break;
            }
        }
        // The JobMaster dropped its sender: the attempt is over for this worker.
    });
    let result = async {
        while let Some(frame) = read_payload(&mut r).await? {
            let _ = job.events.send(JobEvent::WorkerFrame { attempt, worker: index, frame });
        }
        Ok::<(), std::io::Error>(())
    };
    let result = tokio::select! {
        r = result => r,
        _ = writer => Ok(()),
    };
    let _ = job.events.send(JobEvent::WorkerClosed { attempt, worker: index });
    result
}
