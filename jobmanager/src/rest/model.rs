//! What the JobManager tells the REST layer, and the [`Dispatcher`] trait it implements.
//!
//! These are plain Rust values with no JSON concerns: the REST layer turns them into Flink's
//! JSON shapes (see `shapes.rs`). Times are milliseconds since the Unix epoch, durations are
//! milliseconds, and ids are the lowercase hexadecimal strings Flink uses (32 characters for
//! job, vertex and trigger ids).

use std::path::Path;

use super::error::ApiError;

/// The status of a whole job, spelled as Flink's `JobStatus` enum.
///
/// Note Flink's spelling: `CANCELLING` here (two Ls), but `CANCELING` for a task's
/// [`ExecutionState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// `INITIALIZING`: the job was submitted and is being set up.
    Initializing,
    /// `CREATED`: the job exists but no task was scheduled yet.
    Created,
    /// `RUNNING`: some tasks are scheduled or running.
    Running,
    /// `FAILING`: the job failed and waits for its tasks to stop.
    Failing,
    /// `FAILED`: the job failed for good (terminal).
    Failed,
    /// `CANCELLING`: the job is being cancelled.
    Cancelling,
    /// `CANCELED`: the job was cancelled (terminal).
    Canceled,
    /// `FINISHED`: all tasks finished successfully (terminal).
    Finished,
    /// `RESTARTING`: the job is being restarted after a failure.
    Restarting,
    /// `SUSPENDED`: the job was suspended, e.g. on losing leadership.
    Suspended,
    /// `RECONCILING`: the job is being reconciled after a JobManager failover.
    Reconciling,
}

impl JobStatus {
    /// Every status, in the order of Flink's enum.
    pub const ALL: [JobStatus; 11] = [
        JobStatus::Initializing,
        JobStatus::Created,
        JobStatus::Running,
        JobStatus::Failing,
        JobStatus::Failed,
        JobStatus::Cancelling,
        JobStatus::Canceled,
        JobStatus::Finished,
        JobStatus::Restarting,
        JobStatus::Suspended,
        JobStatus::Reconciling,
    ];

    /// Flink's name for this status (`"RUNNING"`, `"CANCELLING"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Initializing => "INITIALIZING",
            JobStatus::Created => "CREATED",
            JobStatus::Running => "RUNNING",
            JobStatus::Failing => "FAILING",
            JobStatus::Failed => "FAILED",
            JobStatus::Cancelling => "CANCELLING",
            JobStatus::Canceled => "CANCELED",
            JobStatus::Finished => "FINISHED",
            JobStatus::Restarting => "RESTARTING",
            JobStatus::Suspended => "SUSPENDED",
            JobStatus::Reconciling => "RECONCILING",
        }
    }

    /// Whether the job can no longer change state (`FINISHED`, `CANCELED`, `FAILED`).
    pub fn is_globally_terminal(self) -> bool {
        matches!(self, JobStatus::Finished | JobStatus::Canceled | JobStatus::Failed)
    }
}

/// The state of one task (subtask) or of a vertex, spelled as Flink's `ExecutionState` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionState {
    /// `CREATED`
    Created,
    /// `SCHEDULED`
    Scheduled,
    /// `DEPLOYING`
    Deploying,
    /// `RUNNING`
    Running,
    /// `FINISHED`
    Finished,
    /// `CANCELING` (one L, unlike [`JobStatus::Cancelling`])
    Canceling,
    /// `CANCELED`
    Canceled,
    /// `FAILED`
    Failed,
    /// `RECONCILING`
    Reconciling,
    /// `INITIALIZING`
    Initializing,
}

impl ExecutionState {
    /// Every state, in the order of Flink's enum.
    pub const ALL: [ExecutionState; 10] = [
        ExecutionState::Created,
        ExecutionState::Scheduled,
        ExecutionState::Deploying,
        ExecutionState::Running,
        ExecutionState::Finished,
        ExecutionState::Canceling,
        ExecutionState::Canceled,
        ExecutionState::Failed,
        ExecutionState::Reconciling,
        ExecutionState::Initializing,
    ];

    /// Flink's name for this state (`"RUNNING"`, `"CANCELING"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionState::Created => "CREATED",
            ExecutionState::Scheduled => "SCHEDULED",
            ExecutionState::Deploying => "DEPLOYING",
            ExecutionState::Running => "RUNNING",
            ExecutionState::Finished => "FINISHED",
            ExecutionState::Canceling => "CANCELING",
            ExecutionState::Canceled => "CANCELED",
            ExecutionState::Failed => "FAILED",
            ExecutionState::Reconciling => "RECONCILING",
            ExecutionState::Initializing => "INITIALIZING",
        }
    }
}

/// How many tasks (subtasks) are in each [`ExecutionState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskCounts {
    /// Tasks in `CREATED`.
    pub created: u32,
    /// Tasks in `SCHEDULED`.
    pub scheduled: u32,
    /// Tasks in `DEPLOYING`.
    pub deploying: u32,
    /// Tasks in `RUNNING`.
    pub running: u32,
    /// Tasks in `FINISHED`.
    pub finished: u32,
    /// Tasks in `CANCELING`.
    pub canceling: u32,
    /// Tasks in `CANCELED`.
    pub canceled: u32,
    /// Tasks in `FAILED`.
    pub failed: u32,
    /// Tasks in `RECONCILING`.
    pub reconciling: u32,
    /// Tasks in `INITIALIZING`.
    pub initializing: u32,
}

impl TaskCounts {
    /// The number of tasks in `state`.
    pub fn get(&self, state: ExecutionState) -> u32 {
        match state {
            ExecutionState::Created => self.created,
            ExecutionState::Scheduled => self.scheduled,
            ExecutionState::Deploying => self.deploying,
            ExecutionState::Running => self.running,
            ExecutionState::Finished => self.finished,
            ExecutionState::Canceling => self.canceling,
            ExecutionState::Canceled => self.canceled,
            ExecutionState::Failed => self.failed,
            ExecutionState::Reconciling => self.reconciling,
            ExecutionState::Initializing => self.initializing,
        }
    }

    /// The number of tasks in all states together.
    pub fn total(&self) -> u32 {
        ExecutionState::ALL.iter().map(|s| self.get(*s)).sum()
    }
}

/// The cluster at a glance, for `GET /overview`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterOverview {
    /// Registered TaskManagers.
    pub taskmanagers: u32,
    /// Slots of all TaskManagers.
    pub slots_total: u32,
    /// Free slots.
    pub slots_available: u32,
    /// Jobs that are running or about to run (Flink counts every non-terminal job here).
    pub jobs_running: u32,
    /// Jobs that finished.
    pub jobs_finished: u32,
    /// Jobs that were cancelled.
    pub jobs_cancelled: u32,
    /// Jobs that failed.
    pub jobs_failed: u32,
}

/// One job, as listed by `GET /jobs/overview` and `GET /jobs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSummary {
    /// The job id: 32 lowercase hexadecimal characters.
    pub id: String,
    /// The job's name.
    pub name: String,
    /// The job's status.
    pub state: JobStatus,
    /// When the job was submitted (ms since epoch).
    pub start_time: i64,
    /// When the job reached a terminal state (ms since epoch), or -1 while it has not.
    pub end_time: i64,
    /// How long the job ran: `end_time - start_time`, or `now - start_time` while running.
    pub duration: i64,
    /// When any task of the job last changed state (ms since epoch).
    pub last_modification: i64,
    /// The job's tasks per state.
    pub tasks: TaskCounts,
}

/// I/O metrics of one vertex, summed over its subtasks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VertexMetrics {
    /// Bytes received from upstream vertices.
    pub read_bytes: u64,
    /// Bytes sent to downstream vertices.
    pub write_bytes: u64,
    /// Records received from upstream vertices.
    pub read_records: u64,
    /// Records sent to downstream vertices.
    pub write_records: u64,
    /// Milliseconds the subtasks were back-pressured, summed.
    pub accumulated_backpressured_time: u64,
    /// Milliseconds the subtasks were idle, summed.
    pub accumulated_idle_time: u64,
    /// Milliseconds the subtasks were busy, summed.
    pub accumulated_busy_time: f64,
    /// Whether every subtask reported its metrics (Flink's `*-complete` flags).
    pub complete: bool,
}

/// One vertex (a chain of operators run as one task) of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct VertexDetails {
    /// The vertex id: 32 lowercase hexadecimal characters.
    pub id: String,
    /// The vertex's name, e.g. `"Source: numbers -> Map"`.
    pub name: String,
    /// How many subtasks run the vertex.
    pub parallelism: u32,
    /// The highest parallelism the vertex can be rescaled to (its number of key groups).
    pub max_parallelism: u32,
    /// The vertex's aggregated state.
    pub status: ExecutionState,
    /// When the first subtask started (ms since epoch), or -1.
    pub start_time: i64,
    /// When the last subtask ended (ms since epoch), or -1.
    pub end_time: i64,
    /// How long the vertex ran (ms), or -1.
    pub duration: i64,
    /// The vertex's subtasks per state.
    pub tasks: TaskCounts,
    /// The vertex's I/O metrics.
    pub metrics: VertexMetrics,
    /// The slot sharing group (32 hex characters); `None` means the default group.
    pub slot_sharing_group_id: Option<String>,
}

/// One input edge of a plan node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanInput {
    /// The upstream vertex id.
    pub id: String,
    /// How records are distributed, in Flink's words: `FORWARD`, `HASH`, `REBALANCE`,
    /// `RESCALE`, `BROADCAST`, `GLOBAL`.
    pub ship_strategy: String,
}

/// One node (vertex) of the job plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanNode {
    /// The vertex id.
    pub id: String,
    /// The vertex's parallelism.
    pub parallelism: u32,
    /// What the node does, e.g. `"Source: numbers -> Map"`.
    pub description: String,
    /// The node's inputs, in input order; empty for sources.
    pub inputs: Vec<PlanInput>,
}

/// Everything `GET /jobs/:id` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDetails {
    /// The job as listed in the overview.
    pub summary: JobSummary,
    /// When the job entered each status it went through (ms since epoch); statuses not
    /// listed are shown as 0, as Flink does.
    pub state_timestamps: Vec<(JobStatus, i64)>,
    /// The job-wide max parallelism, or -1 when not set (Flink's default).
    pub max_parallelism: i64,
    /// The job's vertices, in topological order.
    pub vertices: Vec<VertexDetails>,
    /// The job's plan (served as Flink's `plan` field).
    pub plan: Vec<PlanNode>,
}

/// One failure in the job's exception history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionEntry {
    /// The error's kind, shown as Flink's `exceptionName` (e.g. a Java class name in Flink).
    pub exception_name: String,
    /// The error with its cause chain, shown as Flink's `stacktrace`.
    pub stacktrace: String,
    /// When it happened (ms since epoch).
    pub timestamp: i64,
    /// The failing task's name, e.g. `"Map (2/4)"`; `None` for a job-level failure.
    pub task_name: Option<String>,
    /// Where the failing task ran (`host:port`).
    pub location: Option<String>,
    /// The TaskManager the failing task ran on.
    pub task_manager_id: Option<String>,
}

/// A finished job's outcome, for `GET /jobs/:id/execution-result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResult {
    /// The job's name.
    pub name: String,
    /// The terminal status: `FINISHED`, `FAILED` or `CANCELED`.
    pub state: JobStatus,
    /// How long the job ran (ms).
    pub net_runtime: i64,
    /// When the job was submitted (ms since epoch).
    pub start_time: i64,
    /// When the job ended (ms since epoch).
    pub end_time: i64,
    /// Why the job failed (with its cause chain), when it failed.
    pub failure: Option<String>,
}

/// Whether a job has ended, for `GET /jobs/:id/execution-result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionOutcome {
    /// The job has not reached a terminal state yet.
    Running,
    /// The job reached a terminal state.
    Finished(JobResult),
}

/// The state of an asynchronous operation (checkpoint or savepoint) started through REST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationStatus {
    /// Still running.
    InProgress,
    /// A savepoint completed at `location` (e.g. `file:/strom-data/savepoints/savepoint-1a2b`).
    SavepointCompleted {
        /// Where the savepoint is.
        location: String,
    },
    /// A checkpoint completed.
    CheckpointCompleted {
        /// The completed checkpoint's id.
        checkpoint_id: u64,
    },
    /// The operation failed.
    Failed {
        /// Why, with its cause chain.
        cause: String,
    },
}

/// The machine a TaskManager runs on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hardware {
    /// CPU cores available to the TaskManager.
    pub cpu_cores: u32,
    /// Physical memory of the machine (bytes).
    pub physical_memory: u64,
    /// Memory the TaskManager process may still use (bytes).
    pub free_memory: u64,
    /// Managed memory (state backend memory) of the TaskManager (bytes).
    pub managed_memory: u64,
}

/// One registered TaskManager, for `GET /taskmanagers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskManagerInfo {
    /// The TaskManager's resource id.
    pub id: String,
    /// Its RPC address (Flink's `path`).
    pub path: String,
    /// The port of its data (shuffle) server.
    pub data_port: u16,
    /// How many slots it offers.
    pub slots_number: u32,
    /// How many of them are free.
    pub free_slots: u32,
    /// When its last heartbeat arrived (ms since epoch; Flink's `timeSinceLastHeartbeat`
    /// is, despite its name, this timestamp).
    pub last_heartbeat: i64,
    /// Its machine.
    pub hardware: Hardware,
}

/// A request to run an uploaded binary (`POST /jars/:id/run`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunRequest {
    /// Arguments passed to the binary.
    pub program_args: Vec<String>,
    /// The job's default parallelism; `None` means the cluster default.
    pub parallelism: Option<u32>,
    /// A savepoint to restore from.
    pub savepoint_path: Option<String>,
    /// Whether state in the savepoint that maps to no operator may be skipped.
    pub allow_non_restored_state: bool,
    /// Flink's entry class; kept for compatibility, a Strom binary has one entry point.
    pub entry_class: Option<String>,
    /// A job id chosen by the client (32 lowercase hex characters), as Flink allows.
    pub job_id: Option<String>,
    /// Configuration for this job only (Flink's `flinkConfiguration`), in request order.
    pub configuration: Vec<(String, String)>,
}

/// What the REST layer needs from the JobManager.
///
/// Methods are synchronous and may block briefly (a lock, a short RPC); the REST layer calls
/// them from `tokio::task::spawn_blocking`. `Option::None` means "no such job" and is answered
/// with 404. Errors carry their HTTP status (see [`ApiError`]).
pub trait Dispatcher: Send + Sync + 'static {
    /// The Strom version, shown as Flink's `flink-version`.
    fn version(&self) -> String;
    /// Cluster-wide counts for `GET /overview`.
    fn cluster_overview(&self) -> ClusterOverview;
    /// All jobs the JobManager knows, running and ended.
    fn jobs(&self) -> Vec<JobSummary>;
    /// One job's details.
    fn job(&self, id: &str) -> Option<JobDetails>;
    /// Cancels a job. A job already in a terminal state is a 409 conflict.
    fn cancel(&self, id: &str) -> Result<(), ApiError>;
    /// The job's failures, most recent first.
    fn exceptions(&self, id: &str) -> Option<Vec<ExceptionEntry>>;
    /// Whether the job ended, and how.
    fn execution_result(&self, id: &str) -> Option<ExecutionOutcome>;
    /// Flink-shaped checkpoint statistics (`CheckpointingStatistics`), served as they are.
    fn checkpoints(&self, id: &str) -> Option<serde_json::Value>;
    /// Flink-shaped details of one checkpoint (`CheckpointStatistics`), served as they are.
    fn checkpoint_details(&self, id: &str, checkpoint_id: u64) -> Option<serde_json::Value>;
    /// Starts a checkpoint; returns its trigger id (32 lowercase hex characters).
    fn trigger_checkpoint(&self, id: &str) -> Result<String, ApiError>;
    /// Starts a savepoint, stopping the job after it when `stop` is set (and draining the
    /// sources first, emitting a final watermark, when `drain` is set); returns its trigger id
    /// (32 lowercase hex characters). `None` means the configured default directory.
    fn trigger_savepoint(&self, id: &str, target_directory: Option<String>, stop: bool, drain: bool) -> Result<String, ApiError>;
    /// The state of an operation started by `trigger_checkpoint` or `trigger_savepoint`;
    /// an unknown job or trigger id is a 404.
    fn operation_status(&self, id: &str, trigger_id: &str) -> Result<OperationStatus, ApiError>;
    /// The registered TaskManagers.
    fn taskmanagers(&self) -> Vec<TaskManagerInfo>;
    /// The cluster configuration, as key/value pairs.
    fn config(&self) -> Vec<(String, String)>;
    /// Starts the uploaded binary at `binary` as a new job; returns the job id.
    fn submit(&self, binary: &Path, request: RunRequest) -> Result<String, ApiError>;
}
