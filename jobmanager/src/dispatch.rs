//! The REST layer's view of the cluster: [`rest::Dispatcher`] over [`Cluster`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::job::{Job, JobState, Operation};
use crate::resources::now_ms;
use crate::rest::{self, ApiError, ExecutionOutcome, ExecutionState, JobStatus, OperationStatus, RunRequest, TaskCounts};
use crate::{Cluster, Submission};

/// Serves the REST API from the cluster's state.
#[derive(Debug)]
pub(crate) struct ClusterDispatcher(pub(crate) Arc<Cluster>);

fn status_of(state: JobState) -> JobStatus {
    match state {
        JobState::Created => JobStatus::Created,
        JobState::Running => JobStatus::Running,
        JobState::Restarting => JobStatus::Restarting,
        JobState::Canceling => JobStatus::Cancelling,
        JobState::Finished => JobStatus::Finished,
        JobState::Canceled => JobStatus::Canceled,
        JobState::Failed => JobStatus::Failed,
    }
}

/// The state every task of a job in `state` is in (tasks are not tracked one by one yet).
fn task_state_of(state: JobState) -> ExecutionState {
    match state {
        JobState::Created | JobState::Restarting => ExecutionState::Scheduled,
        JobState::Running => ExecutionState::Running,
        JobState::Canceling => ExecutionState::Canceling,
        JobState::Finished => ExecutionState::Finished,
        JobState::Canceled => ExecutionState::Canceled,
        JobState::Failed => ExecutionState::Failed,
    }
}

fn counts(state: ExecutionState, n: u32) -> TaskCounts {
    let mut c = TaskCounts::default();
    let slot = match state {
        ExecutionState::Created => &mut c.created,
        ExecutionState::Scheduled => &mut c.scheduled,
        ExecutionState::Deploying => &mut c.deploying,
        ExecutionState::Running => &mut c.running,
        ExecutionState::Finished => &mut c.finished,
        ExecutionState::Canceling => &mut c.canceling,
        ExecutionState::Canceled => &mut c.canceled,
        ExecutionState::Failed => &mut c.failed,
        ExecutionState::Reconciling => &mut c.reconciling,
        ExecutionState::Initializing => &mut c.initializing,
    };
    *slot = n;
    c
}

fn summary(job: &Job) -> rest::JobSummary {
    let status = job.status();
    let end = status.end_time;
    let now = now_ms();
    let tasks: u32 = job.graph.vertices.iter().map(|v| v.parallelism).sum();
    rest::JobSummary {
        id: job.id.clone(),
        name: job.name.clone(),
        state: status_of(status.state),
        start_time: job.start_time,
        end_time: end,
        duration: if end >= 0 { end - job.start_time } else { now - job.start_time },
        last_modification: status.timestamps.values().copied().max().unwrap_or(job.start_time),
        tasks: counts(task_state_of(status.state), tasks),
    }
}

impl ClusterDispatcher {
    fn job(&self, id: &str) -> Result<Arc<Job>, ApiError> {
        self.0.job(id).ok_or_else(|| ApiError::not_found(format!("Job {id} not found")))
    }
}

impl rest::Dispatcher for ClusterDispatcher {
    fn version(&self) -> String {
        format!("strom-{}", env!("CARGO_PKG_VERSION"))
    }

    fn cluster_overview(&self) -> rest::ClusterOverview {
        let jobs = self.0.jobs();
        let count = |s: JobState| jobs.iter().filter(|j| j.status().state == s).count() as u32;
        let resources = self.0.resources();
        rest::ClusterOverview {
            taskmanagers: resources.tms.len() as u32,
            slots_total: resources.total_slots(),
            slots_available: resources.free_slots(),
            jobs_running: jobs.iter().filter(|j| !j.status().state.is_terminal()).count() as u32,
            jobs_finished: count(JobState::Finished),
            jobs_cancelled: count(JobState::Canceled),
            jobs_failed: count(JobState::Failed),
        }
    }

    fn jobs(&self) -> Vec<rest::JobSummary> {
        self.0.jobs().iter().map(|j| summary(j)).collect()
    }

    fn job(&self, id: &str) -> Option<rest::JobDetails> {
        let job = self.0.job(id)?;
        let summary = summary(&job);
        let status = job.status();
        let task_state = task_state_of(status.state);
        let vertices = job
            .graph
            .vertices
            .iter()
            .map(|v| {
                let records = |f: fn(&strom_runtime::TaskMetrics) -> u64| -> u64 {
                    status.tasks.iter().filter(|(name, _)| name.starts_with(&format!("{} (", v.name))).map(|(_, m)| f(m)).sum()
                };
                rest::VertexDetails {
                    id: vertex_id(&v.id),
                    name: v.name.clone(),
                    parallelism: v.parallelism,
                    max_parallelism: v.max_parallelism,
                    status: task_state,
                    start_time: job.start_time,
                    end_time: status.end_time,
                    duration: summary.duration,
                    tasks: counts(task_state, v.parallelism),
                    metrics: rest::VertexMetrics {
                        read_records: records(|m| m.records_in),
                        write_records: records(|m| m.records_out),
                        accumulated_backpressured_time: records(|m| m.backpressured_ns / 1_000_000),
                        complete: status.state.is_terminal(),
                        ..Default::default()
                    },
                    slot_sharing_group_id: None,
                }
            })
            .collect();
        let plan = job
            .graph
            .vertices
            .iter()
            .map(|v| rest::PlanNode {
                id: vertex_id(&v.id),
                parallelism: v.parallelism,
                description: v.name.clone(),
                inputs: job
                    .graph
                    .edges
                    .iter()
                    .filter(|e| e.target == v.id)
                    .map(|e| rest::PlanInput { id: vertex_id(&e.source), ship_strategy: e.partitioning.clone() })
                    .collect(),
            })
            .collect();
        let state_timestamps = JobStatus::ALL.iter().filter_map(|s| status.timestamps.get(s.as_str()).map(|t| (*s, *t))).collect();
        Some(rest::JobDetails {
            summary,
            state_timestamps,
            max_parallelism: job.graph.vertices.iter().map(|v| v.max_parallelism as i64).max().unwrap_or(-1),
            vertices,
            plan,
        })
    }

    fn cancel(&self, id: &str) -> Result<(), ApiError> {
        let job = self.job(id)?;
        if job.status().state.is_terminal() {
            return Err(ApiError::conflict(format!("Job {id} has already ended ({})", job.status().state.as_str())));
        }
        self.0.cancel(&job);
        Ok(())
    }

    fn exceptions(&self, id: &str) -> Option<Vec<rest::ExceptionEntry>> {
        let job = self.0.job(id)?;
        let status = job.status();
        Some(
            status
                .exceptions
                .iter()
                .rev()
                .map(|e| rest::ExceptionEntry {
                    exception_name: "org.apache.flink.util.FlinkException".into(),
                    stacktrace: e.message.clone(),
                    timestamp: e.timestamp,
                    task_name: e.task.clone(),
                    location: e.taskmanager.clone(),
                    task_manager_id: e.taskmanager.clone(),
                })
                .collect(),
        )
    }

    fn execution_result(&self, id: &str) -> Option<ExecutionOutcome> {
        let job = self.0.job(id)?;
        let status = job.status();
        if !status.state.is_terminal() {
            return Some(ExecutionOutcome::Running);
        }
        Some(ExecutionOutcome::Finished(rest::JobResult {
            name: job.name.clone(),
            state: status_of(status.state),
            net_runtime: status.end_time - job.start_time,
            start_time: job.start_time,
            end_time: status.end_time,
            failure: status.failure.clone(),
        }))
    }

    fn checkpoints(&self, id: &str) -> Option<serde_json::Value> {
        let job = self.0.job(id)?;
        let history = job.status().checkpoints.clone();
        Some(strom_runtime::checkpoint::checkpoints_json(&history))
    }

    fn checkpoint_details(&self, id: &str, checkpoint_id: u64) -> Option<serde_json::Value> {
        let job = self.0.job(id)?;
        let status = job.status();
        status.checkpoints.iter().rev().find(|c| c.id == checkpoint_id).map(strom_runtime::checkpoint::checkpoint_json)
    }

    fn trigger_checkpoint(&self, id: &str) -> Result<String, ApiError> {
        self.job(id)?;
        Err(ApiError::conflict(
            "checkpoints cannot be triggered by hand yet; they run every execution.checkpointing.interval (take a savepoint instead)",
        ))
    }

    fn trigger_savepoint(&self, id: &str, target_directory: Option<String>, stop: bool, drain: bool) -> Result<String, ApiError> {
        let job = self.job(id)?;
        if drain {
            return Err(ApiError::bad_request("stop with --drain is not supported yet; stop without it (windows do not fire) or cancel"));
        }
        if job.status().state != JobState::Running {
            return Err(ApiError::conflict(format!(
                "Job {id} is {}, not RUNNING; savepoints need a running job",
                job.status().state.as_str()
            )));
        }
        // As in Flink, the target directory is where the savepoint's own directory
        // (`savepoint-<job>-<random>`) goes, so that savepoints into one directory never meet.
        let dir = target_directory.map(|d| {
            let root = PathBuf::from(d.strip_prefix("file://").or_else(|| d.strip_prefix("file:")).unwrap_or(&d));
            strom_runtime::checkpoint::CheckpointStorage::savepoint_dir(&root, &job.id)
        });
        let trigger = strom_runtime::random_hex(32);
        job.status().operations.insert(trigger.clone(), Operation::InProgress);
        let reply = self.0.savepoint(&job, dir, stop);
        let t = trigger.clone();
        std::thread::Builder::new()
            .name("savepoint-wait".into())
            .spawn(move || {
                let op = match reply.recv() {
                    Ok(Ok(path)) => Operation::Completed(path),
                    Ok(Err(e)) => Operation::Failed(e.report()),
                    Err(_) => Operation::Failed("the job ended before the savepoint completed".into()),
                };
                job.status().operations.insert(t, op);
            })
            .map_err(|e| ApiError::internal(format!("spawning a thread: {e}")))?;
        Ok(trigger)
    }

    fn operation_status(&self, id: &str, trigger_id: &str) -> Result<OperationStatus, ApiError> {
        let job = self.job(id)?;
        let status = job.status();
        match status.operations.get(trigger_id) {
            None => Err(ApiError::not_found(format!("There is no savepoint operation with triggerId={trigger_id} for job {id}"))),
            Some(Operation::InProgress) => Ok(OperationStatus::InProgress),
            Some(Operation::Completed(path)) => Ok(OperationStatus::SavepointCompleted { location: format!("file:{}", path.display()) }),
            Some(Operation::Failed(cause)) => Ok(OperationStatus::Failed { cause: cause.clone() }),
        }
    }

    fn taskmanagers(&self) -> Vec<rest::TaskManagerInfo> {
        self.0
            .task_managers()
            .into_iter()
            .map(|t| rest::TaskManagerInfo {
                id: t.id,
                path: format!("strom://{}/pid/{}", t.host, t.pid),
                data_port: 0,
                slots_number: t.slots,
                free_slots: t.free_slots,
                last_heartbeat: t.last_heartbeat_ms,
                hardware: rest::Hardware::default(),
            })
            .collect()
    }

    fn config(&self) -> Vec<(String, String)> {
        self.0.config.entries().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn submit(&self, binary: &Path, request: RunRequest) -> Result<String, ApiError> {
        if let Some(id) = request.job_id.as_deref().filter(|id| self.0.job(id).is_some()) {
            return Err(ApiError::conflict(format!("a job with id {id} exists already; give another jobId or none")));
        }
        let submission = Submission {
            program_args: request.program_args,
            parallelism: request.parallelism,
            savepoint_path: request.savepoint_path,
            allow_non_restored_state: request.allow_non_restored_state,
            job_id: request.job_id,
            configuration: request.configuration,
        };
        match self.0.submit(binary, submission) {
            Ok(job) => Ok(job.id.clone()),
            Err(e) => Err(ApiError::bad_request(e.report())),
        }
    }
}

/// Flink's vertex ids are 32 hex digits; ours are operator uids (16 hex digits or names).
fn vertex_id(uid: &str) -> String {
    if uid.len() == 32 && uid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return uid.to_ascii_lowercase();
    }
    format!("{:032x}", u128::from(strom_runtime::state::stable_hash(&uid)))
}

/// Serves the REST API on `rest.port`; returns the bound address.
pub(crate) async fn serve(cluster: Arc<Cluster>) -> strom_runtime::Result<std::net::SocketAddr> {
    use strom_runtime::cluster::config as keys;
    use strom_runtime::Error;
    let port = cluster.config.get_non_negative(keys::REST_PORT)?.unwrap_or(8081) as u16;
    let host = cluster.config.get(keys::REST_BIND_ADDRESS).unwrap_or("0.0.0.0").to_string();
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| Error::io("binding the REST port", format!("{host}:{port}"), e))?;
    let addr = listener.local_addr().map_err(|e| Error::io("reading the address of", "the REST port", e))?;
    let upload_dir = match cluster.config.get(keys::WEB_UPLOAD_DIR) {
        Some(dir) => keys::absolute(Path::new(dir)),
        None => keys::absolute(Path::new("strom-data/uploads")),
    };
    let mut config = rest::Config::new(upload_dir);
    config.max_upload_bytes = cluster.config.get_positive_u64(keys::REST_MAX_CONTENT_LENGTH)?.unwrap_or(1 << 30);
    config.web_submit_enabled = cluster.config.get_bool(keys::WEB_SUBMIT_ENABLE)?.unwrap_or(true);
    config.revision = env!("CARGO_PKG_VERSION").to_string();
    let advertised = cluster.config.get(keys::REST_ADDRESS).unwrap_or("localhost").to_string();
    config.rest_address = format!("http://{advertised}:{}", addr.port());
    let app = rest::router(Arc::new(ClusterDispatcher(cluster)), config);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the REST server stopped");
        }
    });
    Ok(addr)
}
