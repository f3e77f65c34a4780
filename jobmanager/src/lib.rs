//! Strom's JobManager: the dispatcher that accepts jobs (REST, or one job in application mode),
//! the resource manager that keeps TaskManagers and their slots, a JobMaster thread per job
//! that deploys it to worker processes, hosts its checkpoint coordinator and restarts it after
//! failures, and the REST API on `rest.port`.
//!
//! ```no_run
//! # async fn start() -> strom_runtime::Result<()> {
//! let config = strom_runtime::Configuration::default();
//! let jm = strom_jobmanager::JobManager::start(config).await?;
//! println!("REST API on {}", jm.rest_address());
//! # Ok(()) }
//! ```

mod blobs;
mod dispatch;
mod job;
mod resources;
mod rpc;

pub use job::{ExceptionEntry, Job, JobState, JobStatus, Operation};

use crate::job::JobSpec;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use strom_runtime::cluster::config::{self as keys, absolute};
use strom_runtime::cluster::{RestoreSpec, ToTaskManager};
use strom_runtime::{Configuration, Error, JobGraph, Result};

use crate::blobs::BlobStore;
use crate::job::JobEvent;
use crate::resources::Resources;

/// What a submission asks for (Flink's `/jars/:id/run` body).
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// The job's own arguments.
    pub program_args: Vec<String>,
    /// Default parallelism of the job.
    pub parallelism: Option<u32>,
    /// Restore from this savepoint or retained checkpoint.
    pub savepoint_path: Option<String>,
    /// Skip state of operators the job does not have.
    pub allow_non_restored_state: bool,
    /// The job's id (32 hex digits); a new one when `None`.
    pub job_id: Option<String>,
    /// Configuration of this job (Flink's `flinkConfiguration`), over the cluster's.
    pub configuration: Vec<(String, String)>,
}

/// The state shared by the JobManager's parts.
#[derive(Debug)]
pub struct Cluster {
    /// The cluster configuration.
    pub config: Configuration,
    pub(crate) epoch: u64,
    pub(crate) rpc_address: String,
    pub(crate) blobs: BlobStore,
    resources: Mutex<Resources>,
    jobs: Mutex<BTreeMap<String, Arc<Job>>>,
    sessions: AtomicU64,
    pub(crate) slot_request_timeout: Duration,
    pub(crate) worker_start_timeout: Duration,
    heartbeat_timeout: Duration,
    /// How long a submitted binary's `plan` mode may run (`web.timeout`).
    plan_timeout: Duration,
    /// Options every job binary gets (the cluster's job-related keys, with absolute paths).
    job_options: Vec<String>,
    /// When the JobManager started, ms since the epoch.
    pub started_ms: i64,
}

/// Keys of the cluster configuration that jobs inherit.
const JOB_KEY_PREFIXES: &[&str] = &["state.", "execution.", "restart-strategy", "pipeline.", "parallelism.default", "taskmanager.network."];

impl Cluster {
    fn new(config: Configuration, rpc_address: String) -> Result<Self> {
        let ha_dir = config.get(keys::HIGH_AVAILABILITY_STORAGE_DIR).map(|d| PathBuf::from(d.strip_prefix("file://").unwrap_or(d)));
        let data = absolute(Path::new("strom-data"));
        let blob_dir = match &ha_dir {
            Some(dir) => absolute(dir).join("blobs"),
            None => data.join("blobs"),
        };
        let blobs = BlobStore::new(blob_dir);
        let mut job_config = Configuration::default();
        job_config.set(strom_runtime::keys::CHECKPOINTS_DIRECTORY, data.join("checkpoints").display().to_string());
        job_config.set(strom_runtime::keys::SAVEPOINT_DIRECTORY, data.join("savepoints").display().to_string());
        for (k, v) in config.entries().filter(|(k, _)| JOB_KEY_PREFIXES.iter().any(|p| k.starts_with(p))) {
            let v = if k == strom_runtime::keys::CHECKPOINTS_DIRECTORY || k == strom_runtime::keys::SAVEPOINT_DIRECTORY {
                absolute(Path::new(v.strip_prefix("file://").unwrap_or(v))).display().to_string()
            } else {
                v.to_string()
            };
            job_config.set(k, v);
        }
        let job_options = job_config.entries().flat_map(|(k, v)| ["-D".to_string(), format!("{k}={v}")]).collect();
        let duration = |key: &str, default: Duration| config.get_duration(key).map(|d| d.unwrap_or(default));
        Ok(Self {
            epoch: 1,
            rpc_address,
            blobs,
            resources: Mutex::new(Resources::default()),
            jobs: Mutex::new(BTreeMap::new()),
            sessions: AtomicU64::new(0),
            slot_request_timeout: duration(keys::SLOT_REQUEST_TIMEOUT, Duration::from_secs(300))?,
            worker_start_timeout: Duration::from_secs(120),
            heartbeat_timeout: duration(keys::HEARTBEAT_TIMEOUT, Duration::from_secs(50))?,
            plan_timeout: duration(keys::WEB_TIMEOUT, Duration::from_secs(600))?,
            job_options,
            started_ms: resources::now_ms(),
            config,
        })
    }

    pub(crate) fn resources(&self) -> MutexGuard<'_, Resources> {
        self.resources.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn jobs_lock(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every job, oldest first.
    pub fn jobs(&self) -> Vec<Arc<Job>> {
        let mut jobs: Vec<Arc<Job>> = self.jobs_lock().values().cloned().collect();
        jobs.sort_by_key(|j| j.start_time);
        jobs
    }

    /// A job by id.
    pub fn job(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs_lock().get(id).cloned()
    }

    pub(crate) fn next_session(&self) -> u64 {
        self.sessions.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn job_event(&self, job_id: &str, event: JobEvent) {
        if let Some(job) = self.job(job_id) {
            let _ = job.events.send(event);
        }
    }

    pub(crate) fn send_to_tm(&self, tm: &str, msg: ToTaskManager) -> bool {
        self.resources().tms.get(tm).is_some_and(|t| t.tx.send(msg).is_ok())
    }

    /// Wakes jobs waiting for slots.
    pub(crate) fn resources_changed(&self) {
        for job in self.jobs_lock().values() {
            let _ = job.events.send(JobEvent::ResourcesChanged);
        }
    }

    /// Removes a TaskManager (if `session` is still its session) and tells the jobs.
    pub(crate) fn task_manager_lost(&self, id: &str, session: u64, remove: bool) {
        if remove {
            let mut resources = self.resources();
            if resources.tms.get(id).is_some_and(|t| t.session == session) {
                resources.tms.remove(id);
            } else {
                return;
            }
        }
        tracing::warn!(taskmanager = %id, "TaskManager lost");
        for job in self.jobs_lock().values() {
            let _ = job.events.send(JobEvent::TaskManagerLost { tm: id.to_string() });
        }
    }

    /// TaskManagers (id, host, pid, slots, free slots, last heartbeat ms, registered ms).
    pub fn task_managers(&self) -> Vec<TaskManagerInfo> {
        self.resources()
            .tms
            .values()
            .map(|t| TaskManagerInfo {
                id: t.id.clone(),
                host: t.host.clone(),
                pid: t.pid,
                slots: t.slots,
                free_slots: t.free(),
                last_heartbeat_ms: t.last_heartbeat_ms,
                registered_ms: t.registered_ms,
            })
            .collect()
    }

    /// Registers a job binary and starts the job: runs the binary's `plan` mode to learn its
    /// graph, then starts its JobMaster. Returns the job.
    pub fn submit(self: &Arc<Self>, binary: &Path, submission: Submission) -> Result<Arc<Job>> {
        let initial_restore = submission.savepoint_path.as_ref().map(|p| RestoreSpec {
            path: PathBuf::from(p.strip_prefix("file://").or_else(|| p.strip_prefix("file:")).unwrap_or(p)),
            allow_non_restored: submission.allow_non_restored_state,
        });
        // Checked before the binary runs or is stored: a wrong path is the common mistake.
        check_restore(initial_restore.as_ref())?;
        let mut args = self.job_options.clone();
        args.extend(submission.configuration.iter().flat_map(|(k, v)| ["-D".to_string(), format!("{k}={v}")]));
        if let Some(p) = submission.parallelism {
            if p == 0 {
                return Err(Error::Usage("parallelism must be positive".into()));
            }
            args.extend(["-p".to_string(), p.to_string()]);
        }
        args.extend(submission.program_args.iter().cloned());
        let graph = plan(binary, &args, self.plan_timeout)?;
        if graph.slots_needed() == 0 {
            return Err(Error::Usage("the job has no operators".into()));
        }
        let blob = self.blobs.put(binary).map_err(|e| Error::io("storing the job binary", binary, e))?;
        let name = binary.file_name().map_or_else(|| "job".to_string(), |n| n.to_string_lossy().into_owned());
        let id = submission.job_id.unwrap_or_else(new_job_id);
        self.start_job(JobSpec { id, graph, blob, binary_name: name, args, initial_restore })
    }

    /// Starts a job whose graph was built in this process (the embedded mini cluster of a job
    /// binary's `local` mode): its workers are started by a TaskManager of this process, which
    /// runs them on threads, so there is no binary to store.
    pub fn submit_embedded(self: &Arc<Self>, id: &str, graph: JobGraph, restore: Option<RestoreSpec>) -> Result<Arc<Job>> {
        check_restore(restore.as_ref())?;
        let name = graph.job.clone();
        self.start_job(JobSpec {
            id: id.to_string(),
            graph,
            blob: String::new(),
            binary_name: name,
            args: Vec::new(),
            initial_restore: restore,
        })
    }

    /// Registers a job and starts its JobMaster thread. A job id already taken is refused.
    fn start_job(self: &Arc<Self>, spec: JobSpec) -> Result<Arc<Job>> {
        let id = spec.id.clone();
        let (job, events) = Job::new(spec);
        match self.jobs_lock().entry(id.clone()) {
            std::collections::btree_map::Entry::Occupied(_) => {
                return Err(Error::Usage(format!("a job with id {id} exists already; give another jobId or none")))
            }
            std::collections::btree_map::Entry::Vacant(slot) => slot.insert(job.clone()),
        };
        tracing::info!(job_id = %id, job = %job.name, slots = job.graph.slots_needed(), "job submitted");
        let cluster = self.clone();
        let master = job.clone();
        std::thread::Builder::new()
            .name(format!("jobmaster-{}", &id[..8]))
            .spawn(move || job::run_job(cluster, master, events))
            .map_err(|e| Error::io("spawning", "a JobMaster thread", e))?;
        Ok(job)
    }

    /// Triggers a savepoint of a running job; the result arrives on the returned channel.
    pub fn savepoint(&self, job: &Job, dir: Option<PathBuf>, stop: bool) -> crossbeam_channel::Receiver<Result<PathBuf>> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        if let Err(crossbeam_channel::SendError(JobEvent::Savepoint { reply, .. })) =
            job.events.send(JobEvent::Savepoint { dir, stop, reply })
        {
            let _ = reply.send(Err(Error::Usage("the job is not running".into())));
        }
        rx
    }

    /// Asks a job to cancel.
    pub fn cancel(&self, job: &Job) {
        job.cancel();
    }

    /// Checks heartbeats: a TaskManager silent for `heartbeat.timeout` is lost.
    fn check_heartbeats(&self) {
        let now = Instant::now();
        let lost: Vec<(String, u64)> = self
            .resources()
            .tms
            .values()
            .filter(|t| now.duration_since(t.last_heartbeat) > self.heartbeat_timeout)
            .map(|t| (t.id.clone(), t.session))
            .collect();
        for (id, session) in lost {
            tracing::warn!(taskmanager = %id, timeout = ?self.heartbeat_timeout, "TaskManager missed its heartbeats");
            self.task_manager_lost(&id, session, true);
        }
    }
}

/// A TaskManager as the REST API shows it.
#[derive(Debug, Clone)]
pub struct TaskManagerInfo {
    /// Resource id.
    pub id: String,
    /// Host.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Slots.
    pub slots: u32,
    /// Free slots.
    pub free_slots: u32,
    /// Last heartbeat, ms since the epoch.
    pub last_heartbeat_ms: i64,
    /// Registration time, ms since the epoch.
    pub registered_ms: i64,
}

/// Fails if the savepoint or checkpoint to restore from cannot be used.
fn check_restore(restore: Option<&RestoreSpec>) -> Result<()> {
    match restore {
        Some(r) => strom_runtime::checkpoint::CheckpointStorage::resolve_restore_path(&r.path).map(drop),
        None => Ok(()),
    }
}

/// The most a job binary may print in `plan` mode (a plan is a few kilobytes).
const MAX_PLAN_OUTPUT: u64 = 16 << 20;

/// Runs `binary plan args` and parses the job graph it prints. A binary that has not exited
/// within `limit` is killed: an uploaded file that is not a Strom job (or hangs) must not hold
/// a submission, nor a thread of the JobManager, forever.
fn plan(binary: &Path, args: &[String], limit: Duration) -> Result<JobGraph> {
    use std::io::Read;
    let mut child = std::process::Command::new(binary)
        .arg("plan")
        .args(args)
        .env_remove(strom_runtime::cluster::WORKER_ENV)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("running the job binary", binary, e))?;
    // Both pipes are drained on their own threads (a full stderr pipe would stall the child);
    // each ends when the child closes its end, that is when it exits.
    let (tx, rx) = std::sync::mpsc::channel();
    let pipes: [Option<Box<dyn Read + Send>>; 2] =
        [child.stdout.take().map(|p| Box::new(p) as _), child.stderr.take().map(|p| Box::new(p) as _)];
    for (i, pipe) in pipes.into_iter().enumerate() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(MAX_PLAN_OUTPUT).read_to_end(&mut bytes);
            }
            let _ = tx.send((i, bytes));
        });
    }
    drop(tx);
    let deadline = Instant::now() + limit;
    let mut outputs = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((i, bytes)) => outputs[i] = bytes,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Usage(format!(
                    "the job binary {} did not print its plan within {} ({limit:?}) and was killed; is it a Strom job?",
                    binary.display(),
                    keys::WEB_TIMEOUT
                )));
            }
        }
    }
    let status = child.wait().map_err(|e| Error::io("running the job binary", binary, e))?;
    let [stdout, stderr] = outputs;
    if !status.success() {
        let stderr = String::from_utf8_lossy(&stderr);
        return Err(Error::Usage(format!("the job binary's plan failed ({status}): {}", stderr.trim())));
    }
    let stdout = String::from_utf8_lossy(&stdout);
    let json = stdout.find('{').map(|i| &stdout[i..]).unwrap_or_default();
    serde_json::from_str(json)
        .map_err(|e| Error::Usage(format!("the job binary did not print a job graph in plan mode ({e}); is it a Strom job?")))
}

/// A job id: 32 hex digits, like Flink's `JobID`.
fn new_job_id() -> String {
    strom_runtime::random_hex(32)
}

/// A running JobManager.
#[derive(Debug)]
pub struct JobManager {
    /// The shared state.
    pub cluster: Arc<Cluster>,
    rpc: SocketAddr,
    rest: SocketAddr,
}

impl JobManager {
    /// Binds the RPC port (`jobmanager.rpc.port`, 6123) and the REST port (`rest.port`, 8081)
    /// and serves both on the current tokio runtime.
    pub async fn start(config: Configuration) -> Result<Self> {
        let (cluster, rpc) = Self::start_embedded(config).await?;
        let rest = dispatch::serve(cluster.clone()).await?;
        tracing::info!(rpc = %rpc, rest = %rest, "JobManager started");
        Ok(Self { cluster, rpc, rest })
    }

    /// A JobManager without the REST API, for the embedded mini cluster of a job binary's
    /// `local` mode: binds the RPC port (`jobmanager.rpc.address`, `jobmanager.rpc.port`),
    /// serves it and watches heartbeats on the current tokio runtime. Returns the shared state
    /// and the RPC address.
    pub async fn start_embedded(config: Configuration) -> Result<(Arc<Cluster>, SocketAddr)> {
        let rpc_host = config.get(keys::JOBMANAGER_RPC_ADDRESS).unwrap_or("localhost").to_string();
        let rpc_port = config.get_non_negative(keys::JOBMANAGER_RPC_PORT)?.unwrap_or(6123) as u16;
        let bind_host = if rpc_host == "localhost" { "127.0.0.1".to_string() } else { "0.0.0.0".to_string() };
        let listener = tokio::net::TcpListener::bind((bind_host.as_str(), rpc_port))
            .await
            .map_err(|e| Error::io("binding the RPC port", format!("{bind_host}:{rpc_port}"), e))?;
        let rpc = listener.local_addr().map_err(|e| Error::io("reading the address of", "the RPC port", e))?;
        let rpc_address = format!("{rpc_host}:{}", rpc.port());
        let cluster = Arc::new(Cluster::new(config, rpc_address)?);
        tokio::spawn(rpc::serve(cluster.clone(), listener));
        let monitor = cluster.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                monitor.check_heartbeats();
            }
        });
        Ok((cluster, rpc))
    }

    /// Where TaskManagers connect.
    pub fn rpc_address(&self) -> SocketAddr {
        self.rpc
    }

    /// Where the REST API listens.
    pub fn rest_address(&self) -> SocketAddr {
        self.rest
    }
}

pub mod rest;
