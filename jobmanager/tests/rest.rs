//! End-to-end tests of the REST layer: a real server on 127.0.0.1:0 backed by a fake
//! `Dispatcher`, driven by a small raw HTTP/1.1 client (so malformed requests can be sent too).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use strom_jobmanager::rest::{
    ApiError, ClusterOverview, Config, Dispatcher, ExceptionEntry, ExecutionOutcome, ExecutionState, Hardware, JobDetails, JobResult,
    JobStatus, JobSummary, OperationStatus, PlanInput, PlanNode, RunRequest, TaskCounts, TaskManagerInfo, VertexDetails, VertexMetrics,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------------------------
// The fake JobManager
// ---------------------------------------------------------------------------------------------

const RUNNING: &str = "5a0c6a7e8f1d2b3c4d5e6f708192a3b4";
const FAILED: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
/// A job id the fake panics on, to show a panicking dispatcher does not wedge the server.
const PANICS: &str = "dead0000000000000000000000000000";
const UNKNOWN: &str = "00000000000000000000000000000001";
const SOURCE: &str = "bc764cd8ddf7a0cff126f51c16239658";
const SINK: &str = "20ba6b65f97481d5570070de90e4e791";
const SUBMITTED: &str = "0123456789abcdef0123456789abcdef";
const TRIGGER_IN_PROGRESS: &str = "11111111111111111111111111111111";
const TRIGGER_SAVEPOINT_DONE: &str = "22222222222222222222222222222222";
const TRIGGER_CHECKPOINT_DONE: &str = "33333333333333333333333333333333";
const TRIGGER_FAILED: &str = "44444444444444444444444444444444";
/// A trigger id the fake never handed out.
const NEW_TRIGGER: &str = "abcdefabcdefabcdefabcdefabcdef01";
/// Savepoints into this directory fail.
const FULL_DISK: &str = "file:/full-disk";
const T0: i64 = 1_700_000_000_000;

/// What the fake was asked to do.
#[derive(Debug, Default)]
struct Calls {
    cancelled: Vec<String>,
    checkpoints: Vec<String>,
    savepoints: Vec<(String, Option<String>, bool, bool)>,
    /// The binary's path, its content at submission time, and the request.
    submitted: Vec<(PathBuf, Vec<u8>, RunRequest)>,
}

#[derive(Debug, Default)]
struct FakeDispatcher {
    calls: Mutex<Calls>,
}

impl FakeDispatcher {
    fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().expect("calls lock")
    }

    fn check(id: &str) -> Result<(), ApiError> {
        match id {
            PANICS => panic!("the fake dispatcher panics for {id}"),
            RUNNING => Ok(()),
            FAILED => Err(ApiError::conflict(format!("Job {id} is not running."))),
            _ => Err(ApiError::not_found(format!("Job {id} not found."))),
        }
    }
}

fn summaries() -> Vec<JobSummary> {
    vec![
        JobSummary {
            id: RUNNING.into(),
            name: "word count".into(),
            state: JobStatus::Running,
            start_time: T0,
            end_time: -1,
            duration: 5_000,
            last_modification: T0 + 4_000,
            tasks: TaskCounts { running: 3, ..TaskCounts::default() },
        },
        JobSummary {
            id: FAILED.into(),
            name: "failing job".into(),
            state: JobStatus::Failed,
            start_time: T0 - 60_000,
            end_time: T0 - 30_000,
            duration: 30_000,
            last_modification: T0 - 30_000,
            tasks: TaskCounts { failed: 1, canceled: 1, ..TaskCounts::default() },
        },
    ]
}

fn vertices() -> Vec<VertexDetails> {
    vec![
        VertexDetails {
            id: SOURCE.into(),
            name: "Source: numbers".into(),
            parallelism: 1,
            max_parallelism: 128,
            status: ExecutionState::Running,
            start_time: T0 + 100,
            end_time: -1,
            duration: 4_900,
            tasks: TaskCounts { running: 1, ..TaskCounts::default() },
            metrics: VertexMetrics {
                write_bytes: 2048,
                write_records: 100,
                accumulated_busy_time: 12.5,
                complete: true,
                ..VertexMetrics::default()
            },
            slot_sharing_group_id: None,
        },
        VertexDetails {
            id: SINK.into(),
            name: "Count -> Sink: print".into(),
            parallelism: 2,
            max_parallelism: 128,
            status: ExecutionState::Running,
            start_time: T0 + 200,
            end_time: -1,
            duration: 4_800,
            tasks: TaskCounts { running: 2, ..TaskCounts::default() },
            metrics: VertexMetrics {
                read_bytes: 2048,
                read_records: 100,
                accumulated_idle_time: 300,
                accumulated_backpressured_time: 7,
                complete: false,
                ..VertexMetrics::default()
            },
            slot_sharing_group_id: Some("abababababababababababababababab".into()),
        },
    ]
}

impl Dispatcher for FakeDispatcher {
    fn version(&self) -> String {
        "0.1.0-strom".into()
    }

    fn cluster_overview(&self) -> ClusterOverview {
        ClusterOverview {
            taskmanagers: 2,
            slots_total: 8,
            slots_available: 5,
            jobs_running: 1,
            jobs_finished: 0,
            jobs_cancelled: 0,
            jobs_failed: 1,
        }
    }

    fn jobs(&self) -> Vec<JobSummary> {
        summaries()
    }

    fn job(&self, id: &str) -> Option<JobDetails> {
        if id == PANICS {
            panic!("the fake dispatcher panics for {id}");
        }
        let summary = summaries().into_iter().find(|j| j.id == id)?;
        Some(JobDetails {
            summary,
            state_timestamps: vec![(JobStatus::Initializing, T0), (JobStatus::Created, T0 + 10), (JobStatus::Running, T0 + 50)],
            max_parallelism: -1,
            vertices: vertices(),
            plan: vec![
                PlanNode { id: SOURCE.into(), parallelism: 1, description: "Source: numbers".into(), inputs: vec![] },
                PlanNode {
                    id: SINK.into(),
                    parallelism: 2,
                    description: "Count -&gt; Sink: print".into(),
                    inputs: vec![PlanInput { id: SOURCE.into(), ship_strategy: "HASH".into() }],
                },
            ],
        })
    }

    fn cancel(&self, id: &str) -> Result<(), ApiError> {
        Self::check(id)?;
        self.calls().cancelled.push(id.to_string());
        Ok(())
    }

    fn exceptions(&self, id: &str) -> Option<Vec<ExceptionEntry>> {
        match id {
            RUNNING => Some(vec![]),
            FAILED => Some(vec![
                ExceptionEntry {
                    exception_name: "strom::TaskFailure".into(),
                    stacktrace: "task failed: division by zero".into(),
                    timestamp: T0 - 30_000,
                    task_name: Some("Count (2/2)".into()),
                    location: Some("10.0.0.7:6121".into()),
                    task_manager_id: Some("tm-2".into()),
                },
                ExceptionEntry {
                    exception_name: "strom::JobFailure".into(),
                    stacktrace: "restart limit reached".into(),
                    timestamp: T0 - 40_000,
                    task_name: None,
                    location: None,
                    task_manager_id: None,
                },
            ]),
            _ => None,
        }
    }

    fn execution_result(&self, id: &str) -> Option<ExecutionOutcome> {
        match id {
            RUNNING => Some(ExecutionOutcome::Running),
            FAILED => Some(ExecutionOutcome::Finished(JobResult {
                name: "failing job".into(),
                state: JobStatus::Failed,
                net_runtime: 30_000,
                start_time: T0 - 60_000,
                end_time: T0 - 30_000,
                failure: Some("task failed: division by zero".into()),
            })),
            _ => None,
        }
    }

    fn checkpoints(&self, id: &str) -> Option<Value> {
        (id == RUNNING).then(|| json!({"counts": {"completed": 3, "failed": 0}, "history": []}))
    }

    fn checkpoint_details(&self, id: &str, checkpoint_id: u64) -> Option<Value> {
        (id == RUNNING && checkpoint_id == 7).then(|| json!({"className": "completed", "id": 7, "status": "COMPLETED"}))
    }

    fn trigger_checkpoint(&self, id: &str) -> Result<String, ApiError> {
        Self::check(id)?;
        self.calls().checkpoints.push(id.to_string());
        Ok(TRIGGER_CHECKPOINT_DONE.into())
    }

    fn trigger_savepoint(&self, id: &str, target_directory: Option<String>, stop: bool, drain: bool) -> Result<String, ApiError> {
        Self::check(id)?;
        let trigger = if target_directory.as_deref() == Some(FULL_DISK) { TRIGGER_FAILED } else { TRIGGER_SAVEPOINT_DONE };
        let call = (id.to_string(), target_directory, stop, drain);
        self.calls().savepoints.push(call);
        Ok(trigger.into())
    }

    fn operation_status(&self, id: &str, trigger_id: &str) -> Result<OperationStatus, ApiError> {
        if id != RUNNING {
            return Err(ApiError::not_found(format!("Job {id} not found.")));
        }
        match trigger_id {
            TRIGGER_IN_PROGRESS => Ok(OperationStatus::InProgress),
            TRIGGER_SAVEPOINT_DONE => {
                Ok(OperationStatus::SavepointCompleted { location: "file:/strom-data/savepoints/savepoint-5a0c6a-1".into() })
            }
            TRIGGER_CHECKPOINT_DONE => Ok(OperationStatus::CheckpointCompleted { checkpoint_id: 42 }),
            TRIGGER_FAILED => Ok(OperationStatus::Failed { cause: "savepoint failed: disk full".into() }),
            other => Err(ApiError::not_found(format!("Unknown trigger id {other}."))),
        }
    }

    fn taskmanagers(&self) -> Vec<TaskManagerInfo> {
        vec![TaskManagerInfo {
            id: "tm-1".into(),
            path: "strom://10.0.0.6:6122/taskmanager".into(),
            data_port: 6121,
            slots_number: 4,
            free_slots: 1,
            last_heartbeat: T0 + 4_500,
            hardware: Hardware { cpu_cores: 8, physical_memory: 16 << 30, free_memory: 4 << 30, managed_memory: 1 << 30 },
        }]
    }

    fn config(&self) -> Vec<(String, String)> {
        vec![("rest.port".into(), "8081".into()), ("taskmanager.numberOfTaskSlots".into(), "4".into())]
    }

    fn submit(&self, binary: &Path, request: RunRequest) -> Result<String, ApiError> {
        let content = std::fs::read(binary).map_err(|e| ApiError::internal(format!("cannot read {}: {e}", binary.display())))?;
        self.calls().submitted.push((binary.to_path_buf(), content, request));
        Ok(SUBMITTED.into())
    }
}

// ---------------------------------------------------------------------------------------------
// Server and client
// ---------------------------------------------------------------------------------------------

/// A scratch directory, removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("strom-rest-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Server {
    addr: SocketAddr,
    fake: Arc<FakeDispatcher>,
    /// The scratch directory; uploads go to its `uploads` subdirectory.
    root: TempDir,
    upload_dir: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_with(configure: impl FnOnce(&mut Config)) -> Server {
    let root = TempDir::new();
    let upload_dir = root.0.join("uploads");
    let mut config = Config::new(&upload_dir);
    config.revision = "abc1234".into();
    config.rest_address = "http://127.0.0.1:8081".into();
    configure(&mut config);
    let fake = Arc::new(FakeDispatcher::default());
    let app = strom_jobmanager::rest::router(fake.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server { addr, fake, root, upload_dir, task }
}

async fn start() -> Server {
    start_with(|_| {}).await
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("status {} body is not JSON ({e}): {:?}", self.status, String::from_utf8_lossy(&self.body)))
    }

    /// Asserts the status and that the body is exactly Flink's error shape; returns the
    /// messages.
    fn assert_error(&self, status: u16) -> Vec<String> {
        assert_eq!(self.status, status, "body: {}", String::from_utf8_lossy(&self.body));
        let body = self.json();
        let obj = body.as_object().expect("error body is an object");
        assert_eq!(obj.len(), 1, "error body has only `errors`: {body}");
        let errors = obj["errors"].as_array().expect("errors is an array");
        assert!(!errors.is_empty());
        errors.iter().map(|e| e.as_str().unwrap().to_string()).collect()
    }
}

/// Sends raw bytes and reads the response until the server closes the connection.
async fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut out))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
    Ok(out)
}

fn parse_response(bytes: &[u8]) -> Response {
    let split =
        bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: HashMap<String, String> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    let rest = &bytes[split + 4..];
    let body = if headers.get("transfer-encoding").is_some_and(|v| v == "chunked") { dechunk(rest) } else { rest.to_vec() };
    Response { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = String::from_utf8_lossy(&data[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    parse_response(&raw(addr, &bytes).await.expect("request failed"))
}

async fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"").await
}

async fn send_json(addr: SocketAddr, method: &str, path: &str, body: &str) -> Response {
    let headers = [("Content-Type", "application/json")];
    request(addr, method, path, &headers, body.as_bytes()).await
}

const BOUNDARY: &str = "----strom-test-boundary-7MA4YWxkTrZu0gW";

/// A multipart/form-data body with file parts `(field, file name, content)`.
fn multipart(parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, file_name, content) in parts {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; \
                 filename=\"{file_name}\"\r\nContent-Type: application/x-java-archive\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(addr: SocketAddr, prefix: &str, file_name: &str, content: &[u8]) -> Response {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let body = multipart(&[("jarfile", file_name, content)]);
    let path = format!("{prefix}/jars/upload");
    request(addr, "POST", &path, &[("Content-Type", &content_type)], &body).await
}

/// Files in a directory, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A test binary's content: every byte value, repeated, so corruption cannot hide.
fn binary_content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

// ---------------------------------------------------------------------------------------------
// Expected documents
// ---------------------------------------------------------------------------------------------

fn zero_states_upper() -> serde_json::Map<String, Value> {
    ["CREATED", "SCHEDULED", "DEPLOYING", "RUNNING", "FINISHED", "CANCELING", "CANCELED", "FAILED", "RECONCILING", "INITIALIZING"]
        .iter()
        .map(|s| (s.to_string(), json!(0)))
        .collect()
}

fn states_upper(overrides: &[(&str, u64)]) -> Value {
    let mut m = zero_states_upper();
    for (k, v) in overrides {
        m.insert(k.to_string(), json!(v));
    }
    Value::Object(m)
}

fn expected_jobs_overview() -> Value {
    json!({"jobs": [
        {
            "jid": RUNNING, "name": "word count", "state": "RUNNING",
            "start-time": T0, "end-time": -1, "duration": 5000,
            "last-modification": T0 + 4000,
            "tasks": {"total": 3, "created": 0, "scheduled": 0, "deploying": 0, "running": 3,
                      "finished": 0, "canceling": 0, "canceled": 0, "failed": 0,
                      "reconciling": 0, "initializing": 0},
            "pending-operators": 0, "jobType": "STREAMING", "schedulerType": "Default",
        },
        {
            "jid": FAILED, "name": "failing job", "state": "FAILED",
            "start-time": T0 - 60000, "end-time": T0 - 30000, "duration": 30000,
            "last-modification": T0 - 30000,
            "tasks": {"total": 2, "created": 0, "scheduled": 0, "deploying": 0, "running": 0,
                      "finished": 0, "canceling": 0, "canceled": 1, "failed": 1,
                      "reconciling": 0, "initializing": 0},
            "pending-operators": 0, "jobType": "STREAMING", "schedulerType": "Default",
        },
    ]})
}

fn expected_job_details(now: i64) -> Value {
    json!({
        "jid": RUNNING,
        "name": "word count",
        "isStoppable": false,
        "state": "RUNNING",
        "job-type": "STREAMING",
        "start-time": T0,
        "end-time": -1,
        "duration": 5000,
        "maxParallelism": -1,
        "now": now,
        "timestamps": {
            "INITIALIZING": T0, "CREATED": T0 + 10, "RUNNING": T0 + 50, "FAILING": 0,
            "FAILED": 0, "CANCELLING": 0, "CANCELED": 0, "FINISHED": 0, "RESTARTING": 0,
            "SUSPENDED": 0, "RECONCILING": 0,
        },
        "vertices": [
            {
                "id": SOURCE,
                "slotSharingGroupId": "00000000000000000000000000000000",
                "name": "Source: numbers",
                "maxParallelism": 128,
                "parallelism": 1,
                "status": "RUNNING",
                "start-time": T0 + 100,
                "end-time": -1,
                "duration": 4900,
                "tasks": states_upper(&[("RUNNING", 1)]),
                "metrics": {
                    "read-bytes": 0, "read-bytes-complete": true,
                    "write-bytes": 2048, "write-bytes-complete": true,
                    "read-records": 0, "read-records-complete": true,
                    "write-records": 100, "write-records-complete": true,
                    "accumulated-backpressured-time": 0, "accumulated-idle-time": 0,
                    "accumulated-busy-time": 12.5,
                },
            },
            {
                "id": SINK,
                "slotSharingGroupId": "abababababababababababababababab",
                "name": "Count -> Sink: print",
                "maxParallelism": 128,
                "parallelism": 2,
                "status": "RUNNING",
                "start-time": T0 + 200,
                "end-time": -1,
                "duration": 4800,
                "tasks": states_upper(&[("RUNNING", 2)]),
                "metrics": {
                    "read-bytes": 2048, "read-bytes-complete": false,
                    "write-bytes": 0, "write-bytes-complete": false,
                    "read-records": 100, "read-records-complete": false,
                    "write-records": 0, "write-records-complete": false,
                    "accumulated-backpressured-time": 7, "accumulated-idle-time": 300,
                    "accumulated-busy-time": 0.0,
                },
            },
        ],
        "status-counts": states_upper(&[("RUNNING", 2)]),
        "plan": {
            "jid": RUNNING,
            "name": "word count",
            "type": "STREAMING",
            "nodes": [
                {
                    "id": SOURCE, "parallelism": 1, "operator": "", "operator_strategy": "",
                    "description": "Source: numbers", "optimizer_properties": "{}",
                    "inputs": [],
                },
                {
                    "id": SINK, "parallelism": 2, "operator": "", "operator_strategy": "",
                    "description": "Count -&gt; Sink: print", "optimizer_properties": "{}",
                    "inputs": [{"num": 0, "id": SOURCE, "ship_strategy": "HASH",
                                "exchange": "pipelined_bounded"}],
                },
            ],
        },
    })
}

fn expected_exceptions() -> Value {
    json!({
        "root-exception": "task failed: division by zero",
        "timestamp": T0 - 30000,
        "all-exceptions": [{
            "exception": "task failed: division by zero",
            "task": "Count (2/2)",
            "location": "10.0.0.7:6121",
            "endpoint": "10.0.0.7:6121",
            "timestamp": T0 - 30000,
            "taskManagerId": "tm-2",
        }],
        "truncated": false,
        "exceptionHistory": {
            "entries": [
                {
                    "exceptionName": "strom::TaskFailure",
                    "stacktrace": "task failed: division by zero",
                    "timestamp": T0 - 30000,
                    "taskName": "Count (2/2)",
                    "location": "10.0.0.7:6121",
                    "endpoint": "10.0.0.7:6121",
                    "taskManagerId": "tm-2",
                    "failureLabels": {},
                    "concurrentExceptions": [],
                },
                {
                    "exceptionName": "strom::JobFailure",
                    "stacktrace": "restart limit reached",
                    "timestamp": T0 - 40000,
                    "failureLabels": {},
                    "concurrentExceptions": [],
                },
            ],
            "truncated": false,
        },
    })
}

fn expected_taskmanagers() -> Value {
    let gib: u64 = 1 << 30;
    json!({"taskmanagers": [{
        "id": "tm-1",
        "path": "strom://10.0.0.6:6122/taskmanager",
        "dataPort": 6121,
        "jmxPort": -1,
        "timeSinceLastHeartbeat": T0 + 4500,
        "slotsNumber": 4,
        "freeSlots": 1,
        "totalResource": {"cpuCores": 8.0, "taskHeapMemory": 0, "taskOffHeapMemory": 0,
                          "managedMemory": 1024, "networkMemory": 0, "extendedResources": {}},
        "freeResource": {"cpuCores": 2.0, "taskHeapMemory": 0, "taskOffHeapMemory": 0,
                         "managedMemory": 256, "networkMemory": 0, "extendedResources": {}},
        "hardware": {"cpuCores": 8, "physicalMemory": 16 * gib, "freeMemory": 4 * gib,
                     "managedMemory": gib},
        "memoryConfiguration": {
            "frameworkHeap": 0, "taskHeap": 0, "frameworkOffHeap": 0, "taskOffHeap": 0,
            "networkMemory": 0, "managedMemory": gib, "jvmMetaspace": 0, "jvmOverhead": 0,
            "totalFlinkMemory": 16 * gib, "totalProcessMemory": 16 * gib,
        },
    }]})
}

/// Checks a `SerializedThrowable` JSON object and replaces its (long) base64 payload by
/// `"<java>"` so the rest can be compared as a whole.
fn check_throwable(value: &mut Value, class: &str, message: &str) {
    assert_eq!(value["class"], json!(class));
    assert_eq!(value["stack-trace"], json!(format!("{class}: {message}")));
    let payload = value["serialized-throwable"].as_str().expect("base64 string");
    // "rO0ABXNy" is base64 of Java's stream header followed by TC_OBJECT, TC_CLASSDESC.
    assert!(payload.starts_with("rO0ABXNy"), "{payload}");
    assert!(payload.len() > 600, "{payload}");
    value["serialized-throwable"] = json!("<java>");
}

// ---------------------------------------------------------------------------------------------
// Tests: shapes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn read_only_routes_answer_flink_shapes_with_and_without_v1() {
    let server = start().await;
    let addr = server.addr;
    for prefix in ["", "/v1"] {
        let cases: Vec<(String, Value)> = vec![
            (
                "/overview".into(),
                json!({
                    "taskmanagers": 2, "slots-total": 8, "slots-available": 5,
                    "jobs-running": 1, "jobs-finished": 0, "jobs-cancelled": 0, "jobs-failed": 1,
                    "flink-version": "0.1.0-strom", "flink-commit": "abc1234",
                }),
            ),
            (
                "/config".into(),
                json!({
                    "refresh-interval": 3000,
                    "timezone-name": "Coordinated Universal Time",
                    "timezone-offset": 0,
                    "flink-version": "0.1.0-strom",
                    "flink-revision": "abc1234",
                    "features": {"web-submit": true, "web-cancel": true, "web-rescale": false,
                                 "web-history": false},
                }),
            ),
            (
                "/jobmanager/config".into(),
                json!([
                    {"key": "rest.port", "value": "8081"},
                    {"key": "taskmanager.numberOfTaskSlots", "value": "4"},
                ]),
            ),
            (
                "/jobs".into(),
                json!({"jobs": [{"id": RUNNING, "status": "RUNNING"},
                                {"id": FAILED, "status": "FAILED"}]}),
            ),
            ("/jobs/overview".into(), expected_jobs_overview()),
            (format!("/jobs/{RUNNING}/status"), json!({"status": "RUNNING"})),
            (format!("/jobs/{FAILED}/status"), json!({"status": "FAILED"})),
            (format!("/jobs/{FAILED}/exceptions"), expected_exceptions()),
            (
                format!("/jobs/{RUNNING}/exceptions"),
                json!({"root-exception": null, "timestamp": null, "all-exceptions": [],
                       "truncated": false,
                       "exceptionHistory": {"entries": [], "truncated": false}}),
            ),
            (format!("/jobs/{RUNNING}/execution-result"), json!({"status": {"id": "IN_PROGRESS"}, "job-execution-result": null})),
            (format!("/jobs/{RUNNING}/checkpoints"), json!({"counts": {"completed": 3, "failed": 0}, "history": []})),
            (format!("/jobs/{RUNNING}/checkpoints/details/7"), json!({"className": "completed", "id": 7, "status": "COMPLETED"})),
            ("/taskmanagers".into(), expected_taskmanagers()),
        ];
        for (path, expected) in cases {
            let path = format!("{prefix}{path}");
            let res = get(addr, &path).await;
            assert_eq!(res.status, 200, "{path}: {}", String::from_utf8_lossy(&res.body));
            assert!(res.headers["content-type"].starts_with("application/json"), "{path}");
            assert_eq!(res.json(), expected, "{path}");
        }
    }
}

#[tokio::test]
async fn job_details_match_flink_job_details_info() {
    let server = start().await;
    for prefix in ["", "/v1"] {
        let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let res = get(server.addr, &format!("{prefix}/jobs/{RUNNING}")).await;
        assert_eq!(res.status, 200);
        let body = res.json();
        let now = body["now"].as_i64().expect("now is a number");
        assert!(now >= before && now < before + 60_000, "now {now} before {before}");
        assert_eq!(body, expected_job_details(now));
        // Uppercase ids are accepted, as Flink's JobID parser does.
        let upper = get(server.addr, &format!("{prefix}/jobs/{}", RUNNING.to_uppercase())).await;
        assert_eq!(upper.status, 200);
        assert_eq!(upper.json()["jid"], json!(RUNNING));
    }
}

#[tokio::test]
async fn execution_result_of_a_failed_job_carries_a_java_failure_cause() {
    let server = start().await;
    for prefix in ["", "/v1"] {
        let res = get(server.addr, &format!("{prefix}/jobs/{FAILED}/execution-result")).await;
        assert_eq!(res.status, 200);
        let mut body = res.json();
        check_throwable(
            &mut body["job-execution-result"]["failure-cause"],
            "org.apache.flink.util.FlinkException",
            "task failed: division by zero",
        );
        let expected = json!({
            "status": {"id": "COMPLETED"},
            "job-execution-result": {
                "id": FAILED,
                "name": "failing job",
                "application-status": "FAILED",
                "accumulator-results": {},
                "net-runtime": 30000,
                "failure-cause": {
                    "class": "org.apache.flink.util.FlinkException",
                    "stack-trace":
                        "org.apache.flink.util.FlinkException: task failed: division by zero",
                    "serialized-throwable": "<java>",
                },
                "start-time": T0 - 60000,
                "end-time": T0 - 30000,
            },
        });
        assert_eq!(body, expected);
    }
}

#[tokio::test]
async fn get_with_a_json_body_is_accepted_as_the_flink_cli_sends_it() {
    let server = start().await;
    for path in ["/jobs/overview", "/v1/jobs/overview", "/overview"] {
        let res = send_json(server.addr, "GET", path, "{}").await;
        assert_eq!(res.status, 200, "{path}");
    }
    let res = send_json(server.addr, "GET", "/jobs/overview", "{}").await;
    assert_eq!(res.json(), expected_jobs_overview());
}

// ---------------------------------------------------------------------------------------------
// Tests: job control
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn cancel_answers_202_with_an_empty_object() {
    let server = start().await;
    for path in [format!("/jobs/{RUNNING}?mode=cancel"), format!("/v1/jobs/{RUNNING}"), format!("/jobs/{RUNNING}?mode=CANCEL")] {
        let res = send_json(server.addr, "PATCH", &path, "{}").await;
        assert_eq!(res.status, 202, "{path}");
        assert_eq!(res.json(), json!({}), "{path}");
    }
    assert_eq!(server.fake.calls().cancelled, vec![RUNNING; 3]);

    let stop = send_json(server.addr, "PATCH", &format!("/jobs/{RUNNING}?mode=stop"), "").await;
    assert!(stop.assert_error(400)[0].contains("jobs/:jobId/stop"));
    let odd = send_json(server.addr, "PATCH", &format!("/jobs/{RUNNING}?mode=kill"), "").await;
    odd.assert_error(400);
    // The dispatcher's own statuses pass through: 409 for an ended job, 404 for an unknown one.
    let ended = send_json(server.addr, "PATCH", &format!("/jobs/{FAILED}"), "").await;
    assert_eq!(ended.assert_error(409), vec![format!("Job {FAILED} is not running.")]);
    let unknown = send_json(server.addr, "PATCH", &format!("/jobs/{UNKNOWN}"), "").await;
    unknown.assert_error(404);
    assert_eq!(server.fake.calls().cancelled.len(), 3);
}

#[tokio::test]
async fn savepoint_and_stop_pass_their_options_and_answer_trigger_responses() {
    let server = start().await;
    let addr = server.addr;
    let requests = [
        ("/jobs", "savepoints", r#"{"target-directory": "file:/sp", "cancel-job": false}"#),
        (
            "/v1/jobs",
            "savepoints",
            r#"{"target-directory": null, "cancel-job": true,
            "formatType": "CANONICAL", "triggerId": "0000000000000000000000000000abcd"}"#,
        ),
        ("/jobs", "savepoints", ""),
        (
            "/jobs",
            "stop",
            r#"{"targetDirectory": "file:/sp2", "drain": true,
            "formatType": "NATIVE"}"#,
        ),
        ("/v1/jobs", "stop", "{}"),
        ("/jobs", "savepoints", r#"{"target-directory": "file:/full-disk"}"#),
    ];
    for (prefix, op, body) in requests {
        let path = format!("{prefix}/{RUNNING}/{op}");
        let res = send_json(addr, "POST", &path, body).await;
        assert_eq!(res.status, 202, "{path} {body}");
        let trigger = if body.contains(FULL_DISK) { TRIGGER_FAILED } else { TRIGGER_SAVEPOINT_DONE };
        assert_eq!(res.json(), json!({"request-id": trigger}));
    }
    let expected = vec![
        (RUNNING.to_string(), Some("file:/sp".to_string()), false, false),
        (RUNNING.to_string(), None, true, false),
        (RUNNING.to_string(), None, false, false),
        (RUNNING.to_string(), Some("file:/sp2".to_string()), true, true),
        (RUNNING.to_string(), None, true, false),
        (RUNNING.to_string(), Some(FULL_DISK.to_string()), false, false),
    ];
    assert_eq!(server.fake.calls().savepoints, expected);
    let conflict = send_json(addr, "POST", &format!("/jobs/{FAILED}/savepoints"), "{}").await;
    conflict.assert_error(409);
    let unknown = send_json(addr, "POST", &format!("/jobs/{UNKNOWN}/stop"), "{}").await;
    unknown.assert_error(404);
}

#[tokio::test]
async fn savepoint_status_follows_asynchronous_operation_result() {
    let server = start().await;
    for prefix in ["", "/v1"] {
        let status = |trigger: &str| format!("{prefix}/jobs/{RUNNING}/savepoints/{trigger}");
        let res = get(server.addr, &status(TRIGGER_IN_PROGRESS)).await;
        assert_eq!(res.json(), json!({"status": {"id": "IN_PROGRESS"}, "operation": null}));
        let res = get(server.addr, &status(TRIGGER_SAVEPOINT_DONE)).await;
        assert_eq!(
            res.json(),
            json!({"status": {"id": "COMPLETED"},
                   "operation": {"location": "file:/strom-data/savepoints/savepoint-5a0c6a-1"}})
        );
        let res = get(server.addr, &status(TRIGGER_FAILED)).await;
        assert_eq!(res.status, 200);
        let mut body = res.json();
        check_throwable(&mut body["operation"]["failure-cause"], "org.apache.flink.util.FlinkException", "savepoint failed: disk full");
        assert_eq!(
            body,
            json!({"status": {"id": "COMPLETED"}, "operation": {"failure-cause": {
                "class": "org.apache.flink.util.FlinkException",
                "stack-trace": "org.apache.flink.util.FlinkException: savepoint failed: disk full",
                "serialized-throwable": "<java>",
            }}})
        );
        // A checkpoint's trigger polled as a savepoint's, an unknown trigger, a bad one.
        get(server.addr, &status(TRIGGER_CHECKPOINT_DONE)).await.assert_error(404);
        get(server.addr, &status(NEW_TRIGGER)).await.assert_error(404);
        get(server.addr, &status("not-a-trigger")).await.assert_error(400);
    }
}

#[tokio::test]
async fn checkpoint_trigger_and_status() {
    let server = start().await;
    let addr = server.addr;
    for (path, body) in
        [(format!("/jobs/{RUNNING}/checkpoints"), ""), (format!("/v1/jobs/{RUNNING}/checkpoints"), r#"{"checkpointType": "FULL"}"#)]
    {
        let res = send_json(addr, "POST", &path, body).await;
        assert_eq!(res.status, 202);
        assert_eq!(res.json(), json!({"request-id": TRIGGER_CHECKPOINT_DONE}));
    }
    assert_eq!(server.fake.calls().checkpoints, vec![RUNNING; 2]);
    let bad_type = r#"{"checkpointType": "SOMETIMES"}"#;
    send_json(addr, "POST", &format!("/jobs/{RUNNING}/checkpoints"), bad_type).await.assert_error(400);

    let status = |trigger: &str| format!("/jobs/{RUNNING}/checkpoints/{trigger}");
    let res = get(addr, &status(TRIGGER_CHECKPOINT_DONE)).await;
    assert_eq!(res.json(), json!({"status": {"id": "COMPLETED"}, "operation": {"checkpointId": 42}}));
    let res = get(addr, &status(TRIGGER_IN_PROGRESS)).await;
    assert_eq!(res.json(), json!({"status": {"id": "IN_PROGRESS"}, "operation": null}));
    let mut failed = get(addr, &status(TRIGGER_FAILED)).await.json();
    let class = "org.apache.flink.util.FlinkException";
    check_throwable(&mut failed["operation"]["failureCause"], class, "savepoint failed: disk full");
    assert_eq!(failed["status"], json!({"id": "COMPLETED"}));
    get(addr, &status(TRIGGER_SAVEPOINT_DONE)).await.assert_error(404);
    get(addr, &format!("/jobs/{RUNNING}/checkpoints/details/8")).await.assert_error(404);
    get(addr, &format!("/jobs/{RUNNING}/checkpoints/details/x")).await.assert_error(400);
}

// ---------------------------------------------------------------------------------------------
// Tests: errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_and_malformed_ids() {
    let server = start().await;
    let addr = server.addr;
    for path in [
        format!("/jobs/{UNKNOWN}"),
        format!("/v1/jobs/{UNKNOWN}"),
        format!("/jobs/{UNKNOWN}/status"),
        format!("/jobs/{UNKNOWN}/exceptions"),
        format!("/jobs/{UNKNOWN}/execution-result"),
        format!("/jobs/{UNKNOWN}/checkpoints"),
        format!("/jobs/{UNKNOWN}/checkpoints/details/7"),
        format!("/jobs/{UNKNOWN}/savepoints/{TRIGGER_SAVEPOINT_DONE}"),
    ] {
        let errors = get(addr, &path).await.assert_error(404);
        assert!(errors[0].contains(UNKNOWN), "{path}: {errors:?}");
    }
    // Flink answers 400 for a job id it cannot parse.
    for path in ["/jobs/xyz", "/jobs/5a0c6a7e8f1d2b3c4d5e6f708192a3b", "/v1/jobs/zz/exceptions"] {
        get(addr, path).await.assert_error(400);
    }
}

#[tokio::test]
async fn malformed_bodies_are_400_never_422() {
    let server = start().await;
    let addr = server.addr;
    let savepoints = format!("/jobs/{RUNNING}/savepoints");
    for (path, body) in [
        (savepoints.as_str(), "{not json"),
        (savepoints.as_str(), r#"{"cancel-job": "yes"}"#),
        (savepoints.as_str(), r#"{"target-directory": 5}"#),
        (savepoints.as_str(), r#"{"formatType": "ZIP"}"#),
        (savepoints.as_str(), r#"{"triggerId": "short"}"#),
        (savepoints.as_str(), "[1, 2]"),
        (&format!("/jobs/{RUNNING}/stop"), r#"{"drain": 1}"#),
    ] {
        let errors = send_json(addr, "POST", path, body).await.assert_error(400);
        assert!(!errors[0].is_empty(), "{path} {body}");
    }
    assert!(server.fake.calls().savepoints.is_empty());
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_json() {
    let server = start().await;
    let addr = server.addr;
    for path in ["/x", "/v1/x", "/jobs/overview/extra", "/v2/overview"] {
        assert_eq!(get(addr, path).await.assert_error(404), vec![format!("Not found: {path}")]);
    }
    for (method, path) in [("DELETE", "/overview"), ("POST", "/jobs/overview"), ("GET", "/jars/upload")] {
        let res = request(addr, method, path, &[], b"").await;
        let errors = res.assert_error(405);
        assert_eq!(errors, vec![format!("Method {method} is not allowed for {path}.")]);
    }
}

#[tokio::test]
async fn a_panicking_dispatcher_is_a_500_and_the_server_keeps_answering() {
    let server = start().await;
    get(server.addr, &format!("/jobs/{PANICS}")).await.assert_error(500);
    send_json(server.addr, "PATCH", &format!("/jobs/{PANICS}"), "").await.assert_error(500);
    assert_eq!(get(server.addr, "/jobs/overview").await.json(), expected_jobs_overview());
}

#[tokio::test]
async fn a_burst_of_malformed_requests_does_not_wedge_the_server() {
    let server = start().await;
    let addr = server.addr;
    let bad_requests: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02garbage\r\n\r\n".to_vec(),
        b"GET / HTTP/9.9\r\n\r\n".to_vec(),
        b"GET /jobs/overview HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n{}".to_vec(),
        b"POST /jobs/5a0c6a7e8f1d2b3c4d5e6f708192a3b4/savepoints HTTP/1.1\r\nHost: x\r\n\
          Connection: close\r\nContent-Length: 5\r\n\r\n{{{{{"
            .to_vec(),
        b"POST /jars/upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
          Content-Type: multipart/form-data; boundary=zzz\r\nContent-Length: 20\r\n\r\n\
          --zzz\r\nbroken\r\n\r\n"
            .to_vec(),
        b"GET /jobs/%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        format!("GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(20_000)).into_bytes(),
    ];
    // Bounded: 20 rounds of each, every connection closed by the client or the server.
    let mut tasks = Vec::new();
    for round in 0..20 {
        for bad in &bad_requests {
            let bad = bad.clone();
            tasks.push(tokio::spawn(async move {
                let Ok(mut stream) = TcpStream::connect(addr).await else {
                    return;
                };
                let _ = stream.write_all(&bad).await;
                if round % 2 == 0 {
                    // Half of them hang up without reading the answer.
                    return;
                }
                let mut sink = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut sink)).await;
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    // The truncated savepoint body got a JSON 400; the server still answers everything.
    let res = send_json(addr, "POST", &format!("/jobs/{RUNNING}/savepoints"), "{{{{{").await;
    res.assert_error(400);
    assert_eq!(get(addr, "/jobs/overview").await.json(), expected_jobs_overview());
    assert_eq!(get(addr, "/v1/overview").await.status, 200);
    assert!(files_in(&server.upload_dir).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Tests: uploads
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn upload_list_run_delete_round_trip() {
    let server = start().await;
    let addr = server.addr;
    let content = binary_content(3 * 1024 * 1024 + 17);
    let res = upload(addr, "", "word-count", &content).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let body = res.json();
    assert_eq!(body["status"], json!("success"));
    let stored = PathBuf::from(body["filename"].as_str().unwrap());
    assert_eq!(stored.parent().unwrap(), server.upload_dir);
    let id = stored.file_name().unwrap().to_str().unwrap().to_string();
    assert_eq!(id.len(), 33 + "word-count".len());
    assert!(id.ends_with("_word-count"));
    assert!(id[..32].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(std::fs::read(&stored).unwrap(), content, "stored bytes differ");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&stored).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
    assert_eq!(files_in(&server.upload_dir), vec![id.clone()]);

    // Listed with its original name and upload time.
    let list = get(addr, "/v1/jars").await.json();
    let uploaded = list["files"][0]["uploaded"].as_i64().unwrap();
    assert!(uploaded > T0, "{uploaded}");
    assert_eq!(
        list,
        json!({"address": "http://127.0.0.1:8081", "files": [
            {"id": id, "name": "word-count", "uploaded": uploaded, "entry": []},
        ]})
    );

    // Run: body options pass through exactly; program args as a list.
    let run_body = json!({
        "programArgsList": ["--input", "file:/data/in put", "--n=3"],
        "parallelism": 4,
        "savepointPath": "file:/strom-data/savepoints/savepoint-1",
        "allowNonRestoredState": true,
        "entryClass": "ignored.Main",
        "jobId": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "restoreMode": "NO_CLAIM",
        "flinkConfiguration": {"state.backend.type": "rocksdb", "parallelism.default": 2},
    });
    let res = send_json(addr, "POST", &format!("/jars/{id}/run"), &run_body.to_string()).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json(), json!({"jobid": SUBMITTED}));
    // Run with a program argument string and query parameters, as Flink also allows.
    let path = format!(
        "/v1/jars/{id}/run?parallelism=2&savepointPath=file:/sp&allowNonRestoredState=false\
         &entry-class=Main"
    );
    let body = r#"{"programArgs": "--name \"my job\" --flag 'a b'"}"#;
    let res = send_json(addr, "POST", &path, body).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    // No body at all, arguments from the query.
    let path = format!("/jars/{id}/run?programArg=--a,1&programArg=--b");
    let res = request(addr, "POST", &path, &[], b"").await;
    assert_eq!(res.json(), json!({"jobid": SUBMITTED}));

    let submitted = std::mem::take(&mut server.fake.calls().submitted);
    let expected_requests = vec![
        RunRequest {
            program_args: vec!["--input".into(), "file:/data/in put".into(), "--n=3".into()],
            parallelism: Some(4),
            savepoint_path: Some("file:/strom-data/savepoints/savepoint-1".into()),
            allow_non_restored_state: true,
            entry_class: Some("ignored.Main".into()),
            job_id: Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into()),
            configuration: vec![("parallelism.default".into(), "2".into()), ("state.backend.type".into(), "rocksdb".into())],
        },
        RunRequest {
            program_args: vec!["--name".into(), "my job".into(), "--flag".into(), "a b".into()],
            parallelism: Some(2),
            savepoint_path: Some("file:/sp".into()),
            allow_non_restored_state: false,
            entry_class: Some("Main".into()),
            job_id: None,
            configuration: vec![],
        },
        RunRequest { program_args: vec!["--a".into(), "1".into(), "--b".into()], ..RunRequest::default() },
    ];
    assert_eq!(submitted.len(), expected_requests.len());
    for ((path, bytes, request), expected) in submitted.into_iter().zip(expected_requests) {
        assert_eq!(path, stored);
        assert_eq!(bytes, content);
        assert_eq!(request, expected);
    }

    // Delete: gone from disk and from the list; later runs and deletes are 404.
    let res = request(addr, "DELETE", &format!("/jars/{id}"), &[], b"").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({}));
    assert!(files_in(&server.upload_dir).is_empty());
    assert_eq!(get(addr, "/jars").await.json()["files"], json!([]));
    send_json(addr, "POST", &format!("/jars/{id}/run"), "{}").await.assert_error(404);
    request(addr, "DELETE", &format!("/v1/jars/{id}"), &[], b"").await.assert_error(404);
    assert!(server.fake.calls().submitted.is_empty());
}

#[tokio::test]
async fn run_rejects_malformed_requests_with_400() {
    let server = start().await;
    let addr = server.addr;
    let res = upload(addr, "/v1", "job", b"#!/bin/sh\n").await;
    let filename = res.json()["filename"].as_str().unwrap().to_string();
    let id = Path::new(&filename).file_name().unwrap().to_str().unwrap().to_string();
    let run = format!("/jars/{id}/run");
    for body in [
        "{\"parallelism\": \"x\"}",
        "{oops",
        "{\"programArgsList\": \"not a list\"}",
        "{\"programArgs\": \"a\", \"programArgsList\": [\"b\"]}",
        "{\"parallelism\": 0}",
        "{\"allowNonRestoredState\": \"maybe\"}",
        "{\"jobId\": \"not-hex\"}",
        "{\"restoreMode\": \"STEAL\"}",
        "{\"flinkConfiguration\": {\"a\": {\"nested\": 1}}}",
    ] {
        send_json(addr, "POST", &run, body).await.assert_error(400);
    }
    for query in ["parallelism=x", "allowNonRestoredState=maybe", "parallelism=-5"] {
        send_json(addr, "POST", &format!("{run}?{query}"), "{}").await.assert_error(400);
    }
    assert!(server.fake.calls().submitted.is_empty());
}

#[tokio::test]
async fn uploads_over_the_limit_are_413_and_leave_nothing_behind() {
    let server = start_with(|c| c.max_upload_bytes = 100_000).await;
    let addr = server.addr;
    // Exactly at the limit is fine.
    let res = upload(addr, "", "exact", &binary_content(100_000)).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let kept = files_in(&server.upload_dir);
    assert_eq!(kept.len(), 1);
    // One byte over, and far over (past the body limit too), are refused.
    for size in [100_001, 1_000_000] {
        let res = upload(addr, "", "big", &binary_content(size)).await;
        let errors = res.assert_error(413);
        assert!(errors[0].contains("larger than"), "{errors:?}");
        assert_eq!(files_in(&server.upload_dir), kept, "after {size} bytes");
    }
    assert_eq!(get(addr, "/jars").await.json()["files"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn uploaded_file_names_cannot_escape_the_upload_directory() {
    let server = start().await;
    let addr = server.addr;
    let cases = [
        ("../../etc/passwd", "passwd"),
        ("a/../../x", "x"),
        ("/abs/path/strom-job", "strom-job"),
        ("..\\..\\evil.exe", "evil.exe"),
        ("....", "job"),
        ("..", "job"),
        (".hidden", "hidden"),
        ("", "job"),
    ];
    for (raw_name, expected_name) in cases {
        let res = upload(addr, "", raw_name, b"payload").await;
        assert_eq!(res.status, 200, "{raw_name}: {}", String::from_utf8_lossy(&res.body));
        let stored = PathBuf::from(res.json()["filename"].as_str().unwrap());
        assert_eq!(stored.parent().unwrap(), server.upload_dir, "{raw_name}");
        let id = stored.file_name().unwrap().to_str().unwrap();
        assert_eq!(&id[32..], format!("_{expected_name}"), "{raw_name}");
        assert_eq!(std::fs::read(&stored).unwrap(), b"payload");
    }
    assert_eq!(files_in(&server.upload_dir).len(), cases.len());
    // Nothing was written next to or above the upload directory.
    assert_eq!(files_in(&server.root.0), vec!["uploads".to_string()]);
}

#[tokio::test]
async fn jar_ids_cannot_traverse_out_of_the_upload_directory() {
    let server = start().await;
    let addr = server.addr;
    // A file next to the upload directory that a traversal would reach.
    let secret = server.root.0.join("secret");
    std::fs::write(&secret, b"do not run or delete").unwrap();
    upload(addr, "", "job", b"x").await;
    let hex = "0123456789abcdef0123456789abcdef";
    for id in [
        "..%2Fsecret".to_string(),
        "..%2F..%2Fsecret".to_string(),
        format!("{hex}_..%2Fsecret"),
        "%2Fetc%2Fpasswd".to_string(),
        "..".to_string(),
        format!("{hex}_missing"),
    ] {
        let run = send_json(addr, "POST", &format!("/jars/{id}/run"), "{}").await;
        run.assert_error(404);
        let delete = request(addr, "DELETE", &format!("/jars/{id}"), &[], b"").await;
        delete.assert_error(404);
    }
    assert_eq!(std::fs::read(&secret).unwrap(), b"do not run or delete");
    assert_eq!(files_in(&server.upload_dir).len(), 1);
    assert!(server.fake.calls().submitted.is_empty());
}

#[cfg(unix)]
#[tokio::test]
async fn links_and_directories_planted_in_the_upload_directory_are_not_jars() {
    let server = start().await;
    let addr = server.addr;
    let secret = server.root.0.join("secret");
    std::fs::write(&secret, b"outside").unwrap();
    upload(addr, "", "real", b"x").await;
    let link = "0123456789abcdef0123456789abcdef_link";
    let dir = "0123456789abcdef0123456789abcdef_dir";
    std::os::unix::fs::symlink(&secret, server.upload_dir.join(link)).unwrap();
    std::fs::create_dir(server.upload_dir.join(dir)).unwrap();
    for id in [link, dir] {
        send_json(addr, "POST", &format!("/jars/{id}/run"), "{}").await.assert_error(404);
        request(addr, "DELETE", &format!("/jars/{id}"), &[], b"").await.assert_error(404);
    }
    let listed = get(addr, "/jars").await.json();
    let names: Vec<&str> = listed["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["real"]);
    assert_eq!(std::fs::read(&secret).unwrap(), b"outside");
    assert_eq!(files_in(&server.upload_dir).len(), 3);
    assert!(server.fake.calls().submitted.is_empty());
}

#[tokio::test]
async fn malformed_uploads_are_400_and_leave_nothing_behind() {
    let server = start().await;
    let addr = server.addr;
    // Not multipart at all.
    send_json(addr, "POST", "/jars/upload", "{}").await.assert_error(400);
    // No `jarfile` field.
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let headers = [("Content-Type", content_type.as_str())];
    let body = multipart(&[("other", "f", b"x")]);
    request(addr, "POST", "/jars/upload", &headers, &body).await.assert_error(400);
    // Two files.
    let body = multipart(&[("jarfile", "a", b"x"), ("jarfile", "b", b"y")]);
    request(addr, "POST", "/jars/upload", &headers, &body).await.assert_error(400);
    // A body cut short in the middle of the file.
    let mut body = multipart(&[("jarfile", "a", &binary_content(10_000))]);
    body.truncate(5_000);
    request(addr, "POST", "/jars/upload", &headers, &body).await.assert_error(400);
    assert!(files_in(&server.upload_dir).is_empty());
}

#[tokio::test]
async fn disabled_submission_hides_the_jar_endpoints() {
    let server = start_with(|c| c.web_submit_enabled = false).await;
    let addr = server.addr;
    let res = upload(addr, "", "job", b"x").await;
    assert!(res.assert_error(404)[0].starts_with("Not found: /jars/upload"));
    get(addr, "/v1/jars").await.assert_error(404);
    send_json(addr, "POST", "/jars/abc/run", "{}").await.assert_error(404);
    assert!(files_in(&server.upload_dir).is_empty());
    assert_eq!(get(addr, "/config").await.json()["features"]["web-submit"], json!(false));
}

/// Not a test: serves the fake for three minutes on `$STROM_REST_ADDR` (default an ephemeral
/// loopback port, printed), for manual runs of the real `flink` CLI:
/// `STROM_REST_ADDR=127.0.0.1:28081 cargo test --test rest serve_for_manual_cli_runs --
/// --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn serve_for_manual_cli_runs() {
    let fake = Arc::new(FakeDispatcher::default());
    let root = TempDir::new();
    let app = strom_jobmanager::rest::router(fake, Config::new(root.0.join("uploads")));
    let addr = std::env::var("STROM_REST_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    println!("serving on {}", listener.local_addr().unwrap());
    let serve = axum::serve(listener, app);
    let _ = tokio::time::timeout(Duration::from_secs(180), serve).await;
}
