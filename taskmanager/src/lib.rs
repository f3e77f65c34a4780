//! Strom's TaskManager: offers slots to the JobManager, heartbeats, and runs one worker process
//! per job attempt deployed to it.
//!
//! The TaskManager keeps no job state itself: a worker is the job binary started in worker mode
//! (`STROM_WORKER` set), with the TaskManager's local directory as `io.tmp.dirs`. Workers hold
//! their stdin from the TaskManager, so they exit when it dies, even by `kill -9`. A worker's
//! exit is reported to the JobManager, which fails the job attempt if the worker had not
//! finished. When the JobManager's connection breaks, the TaskManager kills its workers and
//! registers again as soon as the JobManager is back.
//!
//! ```no_run
//! # async fn start() -> strom_runtime::Result<()> {
//! let mut config = strom_runtime::Configuration::default();
//! config.set("jobmanager.rpc.address", "localhost");
//! strom_taskmanager::run(strom_taskmanager::Settings::from_config(&config)?).await;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use strom_runtime::cluster::config as keys;
use strom_runtime::cluster::wire::tokio_io::{read_payload, write_payload};
use strom_runtime::cluster::wire::{decode, encode};
use strom_runtime::cluster::{FromTaskManager, Hello, HelloReply, StartWorker, ToTaskManager, WorkerSpec, PROTOCOL_VERSION, WORKER_ENV};
use strom_runtime::{Configuration, Error, Result};
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How the TaskManager runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The JobManager's RPC address.
    pub jobmanager: String,
    /// Slots offered.
    pub slots: u32,
    /// Heartbeat interval.
    pub heartbeat_interval: Duration,
    /// Local working directory: job binaries, worker logs, RocksDB instances.
    pub work_dir: PathBuf,
    /// The TaskManager's resource id.
    pub id: String,
    /// The host reported to the JobManager.
    pub host: Option<String>,
    /// How workers run.
    pub launcher: Launcher,
}

/// How a TaskManager runs the workers of a job.
#[derive(Clone, Default)]
pub enum Launcher {
    /// The job binary in worker mode, as a child process (fetched from the JobManager by its
    /// hash): a crashing job cannot take the TaskManager down.
    #[default]
    Process,
    /// A function of the embedded mini cluster that runs a worker on the calling thread
    /// ([`EmbeddedJob::run_worker`](strom_runtime::cluster::EmbeddedJob::run_worker)); the
    /// TaskManager calls it on a thread of its own.
    InProcess(Arc<dyn Fn(WorkerSpec) -> Result<()> + Send + Sync>),
}

impl std::fmt::Debug for Launcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Launcher::Process => "Process",
            Launcher::InProcess(_) => "InProcess",
        })
    }
}

impl Settings {
    /// Reads the TaskManager's keys; errors name the key.
    pub fn from_config(config: &Configuration) -> Result<Self> {
        let host = config.get(keys::JOBMANAGER_RPC_ADDRESS).unwrap_or("localhost");
        let port = config.get_non_negative(keys::JOBMANAGER_RPC_PORT)?.unwrap_or(6123);
        let slots = config.get_positive(keys::NUMBER_OF_TASK_SLOTS)?.unwrap_or(1);
        let heartbeat_interval = config.get_positive_duration(keys::HEARTBEAT_INTERVAL)?.unwrap_or(Duration::from_secs(10));
        let id = format!("tm-{}-{}", std::process::id(), strom_runtime::random_hex(6));
        let tmp = config
            .get(strom_runtime::keys::TMP_DIRS)
            .and_then(|d| d.split([',', ';', ':']).find(|s| !s.is_empty()).map(PathBuf::from))
            .unwrap_or_else(std::env::temp_dir);
        let work_dir = keys::absolute(&tmp).join(format!("strom-{id}"));
        Ok(Self {
            jobmanager: format!("{host}:{port}"),
            slots,
            heartbeat_interval,
            work_dir,
            id,
            host: config.get(keys::TASKMANAGER_HOST).map(str::to_string),
            launcher: Launcher::Process,
        })
    }
}

/// Runs until the process is killed: connects (and reconnects) to the JobManager.
pub async fn run(settings: Settings) {
    // Workers on threads keep nothing on disk here.
    if matches!(settings.launcher, Launcher::Process) {
        if let Err(e) = std::fs::create_dir_all(settings.work_dir.join("blobs")) {
            eprintln!("error: creating the working directory {}: {e}", settings.work_dir.display());
            std::process::exit(1);
        }
    }
    let mut waiting_logged = false;
    loop {
        match TcpStream::connect(&settings.jobmanager).await {
            Ok(stream) => {
                waiting_logged = false;
                match session(&settings, stream).await {
                    Ok(()) => tracing::warn!(jobmanager = %settings.jobmanager, "the JobManager closed the connection; registering again"),
                    Err(e) => {
                        tracing::warn!(jobmanager = %settings.jobmanager, error = %e.report(), "lost the JobManager; registering again")
                    }
                }
            }
            Err(e) if !waiting_logged => {
                tracing::info!(jobmanager = %settings.jobmanager, error = %e, "waiting for the JobManager");
                waiting_logged = true;
            }
            Err(_) => {}
        }
        // Retry pace while the JobManager is away.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A running worker process.
struct Running {
    /// Kills the process once it runs.
    kill: Option<tokio::sync::oneshot::Sender<()>>,
    /// Killed before its process started: do not start it.
    killed: bool,
}

/// What the session's loop hears from its helpers.
enum Local {
    /// A worker's binary is here (its path), or cannot be had (why).
    BlobReady {
        start: StartWorker,
        result: std::result::Result<PathBuf, String>,
    },
    /// The download of a job binary ended.
    BlobFetched {
        hash: String,
        result: Result<PathBuf>,
    },
    Exited {
        job_id: String,
        attempt: u32,
        worker: u32,
        code: Option<i32>,
        message: String,
    },
}

async fn session(settings: &Settings, stream: TcpStream) -> Result<()> {
    let rpc = |e: std::io::Error| Error::Rpc(format!("JobManager at {}: {e}", settings.jobmanager));
    stream.set_nodelay(true).map_err(rpc)?;
    let host = match &settings.host {
        Some(h) => h.clone(),
        None => stream.local_addr().map_err(rpc)?.ip().to_string(),
    };
    let (r, w) = stream.into_split();
    let (mut r, mut w) = (BufReader::new(r), BufWriter::new(w));
    let hello =
        Hello::TaskManager { version: PROTOCOL_VERSION, id: settings.id.clone(), slots: settings.slots, host, pid: std::process::id() };
    write_payload(&mut w, &encode(&hello)?).await.map_err(rpc)?;
    let payload = read_payload(&mut r).await.map_err(rpc)?.ok_or_else(|| Error::Rpc("the JobManager closed the connection".into()))?;
    let epoch = match decode::<HelloReply>(&payload)? {
        HelloReply::Accepted { epoch } => epoch,
        HelloReply::Rejected { reason } => {
            eprintln!("error: the JobManager turned this TaskManager away: {reason}");
            std::process::exit(2);
        }
    };
    tracing::info!(jobmanager = %settings.jobmanager, id = %settings.id, slots = settings.slots, epoch, "registered at the JobManager");
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<FromTaskManager>();
    let writer = tokio::spawn(async move {
        while let Some(msg) = out_rx.recv().await {
            let Ok(payload) = encode(&msg) else { continue };
            if write_payload(&mut w, &payload).await.is_err() {
                break;
            }
        }
    });
    let (local_tx, mut local_rx) = mpsc::unbounded_channel::<Local>();
    let mut running: HashMap<(String, u32), Running> = HashMap::new();
    // One download per binary: its chunks' receiver, and the workers waiting for it (two jobs
    // of one binary, or a restart, may ask while it runs).
    let mut blob_waiters: HashMap<String, mpsc::UnboundedSender<ToTaskManager>> = HashMap::new();
    let mut blob_queued: HashMap<String, Vec<StartWorker>> = HashMap::new();
    let mut heartbeat = tokio::time::interval(settings.heartbeat_interval);
    let (frames_tx, mut frames) = mpsc::unbounded_channel::<std::io::Result<Option<Vec<u8>>>>();
    let reader = tokio::spawn(async move {
        loop {
            let frame = read_payload(&mut r).await;
            let end = !matches!(frame, Ok(Some(_)));
            if frames_tx.send(frame).is_err() || end {
                break;
            }
        }
    });
    let result = loop {
        tokio::select! {
            _ = heartbeat.tick() => {
                let _ = out_tx.send(FromTaskManager::Heartbeat);
            }
            frame = frames.recv() => {
                let payload = match frame {
                    Some(Ok(Some(p))) => p,
                    Some(Ok(None)) | None => break Ok(()),
                    Some(Err(e)) => break Err(rpc(e)),
                };
                let msg = match decode::<ToTaskManager>(&payload) {
                    Ok(m) => m,
                    Err(e) => break Err(e),
                };
                match msg {
                    ToTaskManager::StartWorker(start) if start.epoch >= epoch => {
                        let key = (start.job_id.clone(), start.attempt);
                        if running.contains_key(&key) {
                            continue;
                        }
                        running.insert(key, Running { kill: None, killed: false });
                        if let Launcher::InProcess(run) = &settings.launcher {
                            // Nothing to fetch; a cancel reaches the worker as the JobMaster
                            // closing its connection.
                            start_in_process(run.clone(), start, local_tx.clone());
                            continue;
                        }
                        let hash = start.blob.clone();
                        if let Some(queued) = blob_queued.get_mut(&hash) {
                            queued.push(start);
                        } else if blob_path(settings, &hash).is_file() {
                            let _ = local_tx.send(Local::BlobReady { result: Ok(blob_path(settings, &hash)), start });
                        } else {
                            let (chunks_tx, chunks_rx) = mpsc::unbounded_channel();
                            blob_waiters.insert(hash.clone(), chunks_tx);
                            blob_queued.insert(hash.clone(), vec![start]);
                            let _ = out_tx.send(FromTaskManager::FetchBlob { hash: hash.clone() });
                            let local = local_tx.clone();
                            let settings = settings.clone();
                            tokio::spawn(async move {
                                let result = receive_blob(&settings, &hash, chunks_rx).await;
                                let _ = local.send(Local::BlobFetched { hash, result });
                            });
                        }
                    }
                    ToTaskManager::KillWorker { epoch: e, job_id, attempt, worker } if e >= epoch => {
                        match running.get_mut(&(job_id.clone(), attempt)) {
                            Some(r) => match r.kill.take() {
                                Some(kill) => {
                                    let _ = kill.send(());
                                }
                                // Still fetching its binary: it will not start.
                                None => r.killed = true,
                            },
                            // Nothing runs (any more): confirm at once.
                            None => {
                                let _ = out_tx.send(FromTaskManager::WorkerExited { job_id, attempt, worker, code: None, message: "not running".into() });
                            }
                        }
                    }
                    msg @ (ToTaskManager::BlobChunk { .. } | ToTaskManager::BlobMissing { .. }) => {
                        let hash = match &msg {
                            ToTaskManager::BlobChunk { hash, .. } | ToTaskManager::BlobMissing { hash, .. } => hash.clone(),
                            _ => unreachable!("matched above"),
                        };
                        let last = !matches!(msg, ToTaskManager::BlobChunk { last: false, .. });
                        if let Some(waiter) = blob_waiters.get(&hash) {
                            let _ = waiter.send(msg);
                        }
                        if last {
                            blob_waiters.remove(&hash);
                        }
                    }
                    other => tracing::warn!(message = ?std::mem::discriminant(&other), "ignoring a message with a stale epoch"),
                }
            }
            Some(local) = local_rx.recv() => match local {
                Local::BlobFetched { hash, result } => {
                    let result = result.map_err(|e| e.report());
                    for start in blob_queued.remove(&hash).unwrap_or_default() {
                        let _ = local_tx.send(Local::BlobReady { start, result: result.clone() });
                    }
                }
                Local::BlobReady { start, result } => {
                    let key = (start.job_id.clone(), start.attempt);
                    let killed = running.get(&key).is_none_or(|r| r.killed);
                    let spawned = match result {
                        _ if killed => Err(Error::Canceled.report()),
                        Ok(binary) => spawn_worker(settings, &start, &binary).map_err(|e| e.report()),
                        Err(reason) => Err(reason),
                    };
                    match spawned {
                        Ok(child) => {
                            let (kill_tx, kill_rx) = tokio::sync::oneshot::channel();
                            if let Some(r) = running.get_mut(&key) {
                                r.kill = Some(kill_tx);
                            }
                            let local = local_tx.clone();
                            let log = worker_log(settings, &start);
                            tokio::spawn(supervise(child, kill_rx, start, log, local));
                        }
                        Err(message) => {
                            running.remove(&key);
                            tracing::error!(job_id = %start.job_id, error = %message, "could not start a worker");
                            let _ = out_tx.send(FromTaskManager::WorkerExited { job_id: start.job_id, attempt: start.attempt, worker: start.worker, code: None, message });
                        }
                    }
                }
                Local::Exited { job_id, attempt, worker, code, message } => {
                    running.remove(&(job_id.clone(), attempt));
                    let _ = out_tx.send(FromTaskManager::WorkerExited { job_id, attempt, worker, code, message });
                }
            },
        }
    };
    reader.abort();
    writer.abort();
    // Without a JobManager, nobody coordinates the workers: stop them.
    for (_, r) in running.drain() {
        if let Some(kill) = r.kill {
            let _ = kill.send(());
        }
    }
    result
}

fn blob_path(settings: &Settings, hash: &str) -> PathBuf {
    settings.work_dir.join("blobs").join(hash)
}

fn worker_log(settings: &Settings, start: &StartWorker) -> PathBuf {
    settings.work_dir.join("logs").join(format!("{}-{}-{}.log", start.job_id, start.attempt, start.worker))
}

/// Writes the chunks of a job binary to a temporary file, checks its sha256 and makes it an
/// executable under its hash.
async fn receive_blob(settings: &Settings, hash: &str, mut chunks: mpsc::UnboundedReceiver<ToTaskManager>) -> Result<PathBuf> {
    let target = blob_path(settings, hash);
    let tmp = target.with_extension(format!("part-{}", strom_runtime::random_hex(16)));
    let mut file = tokio::fs::File::create(&tmp).await.map_err(|e| Error::io("creating", &tmp, e))?;
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    loop {
        match chunks.recv().await {
            Some(ToTaskManager::BlobChunk { data, last, .. }) => {
                hasher.update(&data);
                received += data.len() as u64;
                file.write_all(&data).await.map_err(|e| Error::io("writing", &tmp, e))?;
                if last {
                    break;
                }
            }
            Some(ToTaskManager::BlobMissing { reason, .. }) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(Error::Rpc(format!("the JobManager cannot send job binary {hash}: {reason}")));
            }
            Some(_) | None => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(Error::Rpc(format!("the download of job binary {hash} broke off")));
            }
        }
    }
    file.sync_all().await.map_err(|e| Error::io("writing", &tmp, e))?;
    drop(file);
    let actual: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if actual != hash {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(Error::Rpc(format!("job binary {hash} arrived with sha256 {actual} ({received} bytes); not running it")));
    }
    set_executable(&tmp)?;
    tokio::fs::rename(&tmp, &target).await.map_err(|e| Error::io("renaming", &tmp, e))?;
    tracing::info!(hash, bytes = received, "job binary fetched");
    Ok(target)
}

fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| Error::io("making executable", path, e))
}

fn worker_spec(start: &StartWorker) -> WorkerSpec {
    WorkerSpec { jobmanager: start.jobmanager.clone(), job_id: start.job_id.clone(), attempt: start.attempt, worker: start.worker }
}

/// The last `bytes` of a worker's log (a long-running worker's log may be large).
async fn log_tail(log: &Path, bytes: u64) -> String {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let Ok(mut file) = tokio::fs::File::open(log).await else { return String::new() };
    let len = file.metadata().await.map_or(0, |m| m.len());
    let mut tail = Vec::new();
    if file.seek(std::io::SeekFrom::Start(len.saturating_sub(bytes))).await.is_ok() {
        let _ = file.take(bytes).read_to_end(&mut tail).await;
    }
    String::from_utf8_lossy(&tail).into_owned()
}

/// Runs a worker on a thread of this process; its end is reported like a process's exit.
fn start_in_process(run: Arc<dyn Fn(WorkerSpec) -> Result<()> + Send + Sync>, start: StartWorker, local: mpsc::UnboundedSender<Local>) {
    let name = format!("worker-{}-{}", start.attempt, start.worker);
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let result = run(worker_spec(&start));
        let (code, message) = match result {
            Ok(()) => (Some(0), "finished".to_string()),
            Err(e) => (Some(1), e.report()),
        };
        let _ = local.send(Local::Exited { job_id: start.job_id, attempt: start.attempt, worker: start.worker, code, message });
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start a worker thread");
    }
}

fn spawn_worker(settings: &Settings, start: &StartWorker, binary: &Path) -> Result<Child> {
    let spec = worker_spec(start);
    let spec = serde_json::to_string(&spec).map_err(|e| Error::Serialization(e.to_string()))?;
    let log_path = worker_log(settings, start);
    let logs = log_path.parent().expect("log files are in a directory");
    std::fs::create_dir_all(logs).map_err(|e| Error::io("creating", logs, e))?;
    let log = std::fs::File::create(&log_path).map_err(|e| Error::io("creating", &log_path, e))?;
    let log2 = log.try_clone().map_err(|e| Error::io("opening", &log_path, e))?;
    let work = settings.work_dir.join("tmp");
    std::fs::create_dir_all(&work).map_err(|e| Error::io("creating", &work, e))?;
    let child = Command::new(binary)
        .args(&start.args)
        .arg("-D")
        .arg(format!("{}={}", strom_runtime::keys::TMP_DIRS, work.display()))
        .env(WORKER_ENV, spec)
        .current_dir(&settings.work_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::io("starting the job binary", binary, e))?;
    tracing::info!(job_id = %start.job_id, attempt = start.attempt, worker = start.worker, pid = child.id(), log = %log_path.display(), "worker started");
    Ok(child)
}

/// Waits for a worker to exit or to be killed, then reports it with the end of its log.
async fn supervise(
    mut child: Child,
    kill: tokio::sync::oneshot::Receiver<()>,
    start: StartWorker,
    log: PathBuf,
    local: mpsc::UnboundedSender<Local>,
) {
    // The worker exits when its stdin closes; `Child::wait` would close it, so it is held
    // here until the worker has ended.
    let stdin = child.stdin.take();
    let status = tokio::select! {
        status = child.wait() => status,
        _ = kill => {
            let _ = child.start_kill();
            child.wait().await
        }
    };
    drop(stdin);
    let code = status.as_ref().ok().and_then(|s| s.code());
    let tail = log_tail(&log, 2000).await;
    let message = match &status {
        Ok(s) => format!("{s}; log {}: {}", log.display(), tail.trim()),
        Err(e) => format!("waiting for the worker failed: {e}"),
    };
    let _ = local.send(Local::Exited { job_id: start.job_id, attempt: start.attempt, worker: start.worker, code, message });
}
