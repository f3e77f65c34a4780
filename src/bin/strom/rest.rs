//! Typed client for the JobManager's REST API (Apache Flink REST v1 paths
//! and JSON shapes).
//!
//! Every call returns [`RestError`] on failure; [`RestError::exit_code`]
//! maps it to the CLI's exit codes and the command layer adds hints.

use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Cursor, Read};
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use ureq::http::Response;
use ureq::{Agent, Body, SendBody};

/// How an HTTP call went wrong.
#[derive(Debug)]
pub(crate) enum RestError {
    /// No HTTP answer: connection refused, DNS failure, timeout, broken
    /// connection.
    Unreachable(String),
    /// The server answered with a non-2xx status.
    Status {
        /// HTTP status code.
        status: u16,
        /// The `errors` of a Flink error body, or the raw body.
        messages: Vec<String>,
    },
    /// The server answered 2xx with a body this client does not understand.
    BadResponse(String),
    /// A local file could not be read (upload).
    LocalIo(String),
}

impl RestError {
    /// Exit code for this error: 1 for HTTP 4xx, 2 for a local file problem,
    /// 3 for everything that points at the server or the network.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Status { status, .. } if (400..500).contains(status) => 1,
            Self::LocalIo(_) => 2,
            _ => 3,
        }
    }
}

/// A Flink `SerializedThrowable` as JSON: `class` and `stack-trace`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct FailureCause {
    /// Exception class name.
    #[serde(default)]
    pub class: Option<String>,
    /// Full stack trace (its first line usually holds the message).
    #[serde(rename = "stack-trace", default)]
    pub stack_trace: Option<String>,
}

impl FailureCause {
    /// The most useful text: the stack trace if present, else the class.
    pub(crate) fn text(&self) -> String {
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        non_empty(&self.stack_trace).or_else(|| non_empty(&self.class)).unwrap_or_else(|| "(no failure cause given)".to_string())
    }
}

/// One entry of `GET /jobs/overview`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct JobOverview {
    /// Job id.
    pub jid: String,
    /// Job name.
    #[serde(default)]
    pub name: String,
    /// Job status (`RUNNING`, `FINISHED`, ...).
    pub state: String,
    /// Start time, epoch milliseconds (-1 if not started).
    #[serde(rename = "start-time", default = "minus_one")]
    pub start_time: i64,
    /// End time, epoch milliseconds (-1 if not ended).
    #[serde(rename = "end-time", default = "minus_one")]
    pub end_time: i64,
    /// Duration in milliseconds.
    #[serde(default)]
    pub duration: i64,
}

fn minus_one() -> i64 {
    -1
}

/// Answer of `GET /jobs/overview`: typed jobs plus the raw `jobs` array.
#[derive(Debug)]
pub(crate) struct JobsOverview {
    /// The jobs, typed.
    pub jobs: Vec<JobOverview>,
    /// The `jobs` array exactly as the server sent it.
    pub raw_jobs: String,
}

/// The `job-execution-result` of `GET /jobs/<id>/execution-result`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct JobExecutionResult {
    /// `SUCCEEDED`, `FAILED`, `CANCELED` or `UNKNOWN`.
    #[serde(rename = "application-status", default)]
    pub application_status: Option<String>,
    /// Net runtime in milliseconds.
    #[serde(rename = "net-runtime", default)]
    pub net_runtime: Option<u64>,
    /// Why the job failed, if it did.
    #[serde(rename = "failure-cause", default)]
    pub failure_cause: Option<FailureCause>,
}

/// State of an asynchronous savepoint / stop-with-savepoint operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SavepointStatus {
    /// Still running.
    InProgress,
    /// Completed successfully at this location.
    Completed(String),
    /// Completed with a failure.
    Failed(FailureCause),
}

/// Body of `POST /jars/<id>/run`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunRequest {
    /// Arguments passed to the job.
    pub program_args_list: Vec<String>,
    /// Default parallelism.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// Savepoint to restore from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savepoint_path: Option<String>,
    /// Allow state that cannot be mapped to an operator.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_non_restored_state: bool,
}

#[derive(Serialize)]
struct SavepointTrigger<'a> {
    #[serde(rename = "target-directory")]
    target_directory: Option<&'a str>,
    #[serde(rename = "cancel-job")]
    cancel_job: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StopTrigger<'a> {
    target_directory: Option<&'a str>,
    drain: bool,
}

#[derive(Deserialize)]
struct UploadResponse {
    filename: String,
}

#[derive(Deserialize)]
struct RunResponse {
    jobid: String,
}

#[derive(Deserialize)]
struct StatusResponse {
    status: String,
}

#[derive(Deserialize)]
struct TriggerResponse {
    #[serde(rename = "request-id")]
    request_id: String,
}

#[derive(Deserialize)]
struct QueueStatus {
    id: String,
}

#[derive(Deserialize)]
struct SavepointOperation {
    #[serde(default)]
    location: Option<String>,
    #[serde(rename = "failure-cause", default)]
    failure_cause: Option<FailureCause>,
}

#[derive(Deserialize)]
struct AsyncOperationResponse<T> {
    status: QueueStatus,
    #[serde(default = "Option::default")]
    operation: Option<T>,
}

#[derive(Deserialize)]
struct ExecutionResultResponse {
    status: QueueStatus,
    #[serde(rename = "job-execution-result", default)]
    result: Option<JobExecutionResult>,
}

#[derive(Deserialize)]
struct RawOverview<'a> {
    #[serde(borrow)]
    jobs: &'a serde_json::value::RawValue,
}

#[derive(Deserialize)]
struct ErrorBody {
    errors: Vec<String>,
}

/// Blocking client for one JobManager.
pub(crate) struct RestClient {
    agent: Agent,
    address: String,
}

impl RestClient {
    /// Creates a client for the JobManager at `address` (`host:port`).
    pub(crate) fn new(address: &str) -> Self {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .timeout_recv_body(Some(Duration::from_secs(60)))
            .user_agent(concat!("strom/", env!("CARGO_PKG_VERSION")))
            .build();
        Self { agent: config.into(), address: address.to_string() }
    }

    /// The `host:port` this client talks to.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// `POST /jars/upload`: streams `binary` as multipart/form-data field
    /// `jarfile` and returns the jar id (last path component of the
    /// returned `filename`). `progress` is called with the number of file
    /// bytes read so far and the file size.
    pub(crate) fn upload(&self, binary: &Path, progress: impl FnMut(u64, u64) + 'static) -> Result<String, RestError> {
        let file = File::open(binary).map_err(|e| RestError::LocalIo(format!("cannot open {}: {e}", binary.display())))?;
        let size = file.metadata().map_err(|e| RestError::LocalIo(format!("cannot read {}: {e}", binary.display())))?.len();
        let file_name = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "job".to_string());
        let body = MultipartBody::new("jarfile", &file_name, file, size, progress);
        let response = self
            .agent
            .post(self.url("/jars/upload"))
            .header("Accept", "application/json")
            .header("Content-Type", format!("multipart/form-data; boundary={}", body.boundary))
            .header("Content-Length", body.len.to_string())
            .send(SendBody::from_owned_reader(body.reader));
        let answer: UploadResponse = parse_ok(response)?;
        let jar_id = answer.filename.rsplit('/').next().unwrap_or_default().to_string();
        if jar_id.is_empty() {
            return Err(RestError::BadResponse(format!("upload answer has no usable filename: '{}'", answer.filename)));
        }
        Ok(jar_id)
    }

    /// `POST /jars/<jar-id>/run`: returns the job id.
    pub(crate) fn run_jar(&self, jar_id: &str, request: &RunRequest) -> Result<String, RestError> {
        let path = format!("/jars/{}/run", encode_segment(jar_id));
        let answer: RunResponse = self.post_json(&path, request)?;
        Ok(answer.jobid)
    }

    /// `GET /jobs/<id>/status`: returns the job status, e.g. `RUNNING`.
    pub(crate) fn job_status(&self, job_id: &str) -> Result<String, RestError> {
        let path = format!("/jobs/{}/status", encode_segment(job_id));
        let answer: StatusResponse = self.get(&path)?;
        Ok(answer.status)
    }

    /// `GET /jobs/<id>/execution-result`: `None` while the result is not
    /// yet available.
    pub(crate) fn execution_result(&self, job_id: &str) -> Result<Option<JobExecutionResult>, RestError> {
        let path = format!("/jobs/{}/execution-result", encode_segment(job_id));
        let answer: ExecutionResultResponse = self.get(&path)?;
        if answer.status.id == "COMPLETED" {
            Ok(Some(answer.result.unwrap_or_default()))
        } else {
            Ok(None)
        }
    }

    /// `GET /jobs/overview`.
    pub(crate) fn jobs_overview(&self) -> Result<JobsOverview, RestError> {
        let text = self.get_text("/jobs/overview")?;
        #[derive(Deserialize)]
        struct Typed {
            jobs: Vec<JobOverview>,
        }
        let typed: Typed = from_json(&text)?;
        let raw: RawOverview<'_> = from_json(&text)?;
        Ok(JobsOverview { jobs: typed.jobs, raw_jobs: raw.jobs.get().to_string() })
    }

    /// `PATCH /jobs/<id>?mode=cancel` (the JobManager answers 202).
    pub(crate) fn cancel(&self, job_id: &str) -> Result<(), RestError> {
        let url = self.url(&format!("/jobs/{}?mode=cancel", encode_segment(job_id)));
        let response = self.agent.patch(url).header("Accept", "application/json").send_empty();
        read_success(response).map(|_| ())
    }

    /// `POST /jobs/<id>/savepoints`: returns the trigger (request) id.
    pub(crate) fn trigger_savepoint(&self, job_id: &str, target_directory: Option<&str>) -> Result<String, RestError> {
        let path = format!("/jobs/{}/savepoints", encode_segment(job_id));
        let body = SavepointTrigger { target_directory, cancel_job: false };
        let answer: TriggerResponse = self.post_json(&path, &body)?;
        Ok(answer.request_id)
    }

    /// `POST /jobs/<id>/stop`: stop-with-savepoint; returns the trigger id.
    pub(crate) fn stop_with_savepoint(&self, job_id: &str, target_directory: Option<&str>) -> Result<String, RestError> {
        let path = format!("/jobs/{}/stop", encode_segment(job_id));
        let body = StopTrigger { target_directory, drain: false };
        let answer: TriggerResponse = self.post_json(&path, &body)?;
        Ok(answer.request_id)
    }

    /// `GET /jobs/<id>/savepoints/<trigger>`: state of a savepoint (also of
    /// a stop-with-savepoint, which Flink reports under the same path).
    pub(crate) fn savepoint_status(&self, job_id: &str, trigger_id: &str) -> Result<SavepointStatus, RestError> {
        let path = format!("/jobs/{}/savepoints/{}", encode_segment(job_id), encode_segment(trigger_id));
        let answer: AsyncOperationResponse<SavepointOperation> = self.get(&path)?;
        if answer.status.id != "COMPLETED" {
            return Ok(SavepointStatus::InProgress);
        }
        match answer.operation {
            Some(SavepointOperation { failure_cause: Some(cause), .. }) => Ok(SavepointStatus::Failed(cause)),
            Some(SavepointOperation { location: Some(location), .. }) => Ok(SavepointStatus::Completed(location)),
            _ => Err(RestError::BadResponse("savepoint COMPLETED without location or failure cause".to_string())),
        }
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RestError> {
        from_json(&self.get_text(path)?)
    }

    fn get_text(&self, path: &str) -> Result<String, RestError> {
        let response = self.agent.get(self.url(path)).header("Accept", "application/json").call();
        read_success(response)
    }

    fn post_json<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, RestError> {
        let bytes = serde_json::to_vec(body).expect("request bodies always serialize");
        let response =
            self.agent.post(self.url(path)).header("Accept", "application/json").header("Content-Type", "application/json").send(bytes);
        parse_ok(response)
    }
}

fn parse_ok<T: DeserializeOwned>(response: Result<Response<Body>, ureq::Error>) -> Result<T, RestError> {
    from_json(&read_success(response)?)
}

fn from_json<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, RestError> {
    serde_json::from_str(text).map_err(|e| RestError::BadResponse(format!("unexpected answer ({e}): {}", excerpt(text))))
}

/// Reads the body of a 2xx answer, or turns the answer into a [`RestError`].
fn read_success(response: Result<Response<Body>, ureq::Error>) -> Result<String, RestError> {
    let mut response = response.map_err(unreachable)?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().map_err(unreachable)?;
    if (200..300).contains(&status) {
        return Ok(text);
    }
    let messages = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) if !body.errors.is_empty() => body.errors,
        _ if text.trim().is_empty() => {
            vec![format!("HTTP {status} {}", response.status().canonical_reason().unwrap_or("")).trim_end().to_string()]
        }
        _ => vec![excerpt(&text)],
    };
    Err(RestError::Status { status, messages })
}

fn unreachable(e: ureq::Error) -> RestError {
    let detail = match e {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        other => other.to_string(),
    };
    RestError::Unreachable(detail)
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Percent-encodes one URL path segment (everything but RFC 3986
/// unreserved characters).
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `multipart/form-data` body with one file field, streamed from disk.
struct MultipartBody {
    boundary: String,
    len: u64,
    reader: Box<dyn Read>,
}

impl MultipartBody {
    fn new(field: &str, file_name: &str, file: File, size: u64, progress: impl FnMut(u64, u64) + 'static) -> Self {
        let boundary = random_boundary();
        // Quotes and line breaks in a file name are percent-encoded, as
        // browsers do (WHATWG multipart/form-data encoding).
        let quoted = file_name.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A");
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{quoted}\"\r\nContent-Type: application/x-executable\r\n\r\n"
        )
        .into_bytes();
        let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
        let len = head.len() as u64 + size + tail.len() as u64;
        let file = ProgressReader { inner: file.take(size), done: 0, total: size, progress: Box::new(progress) };
        let reader = Cursor::new(head).chain(file).chain(Cursor::new(tail));
        Self { boundary, len, reader: Box::new(reader) }
    }
}

struct ProgressReader {
    inner: io::Take<File>,
    done: u64,
    total: u64,
    progress: Box<dyn FnMut(u64, u64)>,
}

impl Read for ProgressReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.done < self.total {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the binary got shorter while it was being uploaded"));
        }
        self.done += n as u64;
        (self.progress)(self.done, self.total);
        Ok(n)
    }
}

/// A boundary that will not occur in the file: 128 random bits from the
/// standard library's randomly keyed hasher.
fn random_boundary() -> String {
    let state = std::collections::hash_map::RandomState::new();
    let mut a = state.build_hasher();
    a.write_u32(std::process::id());
    let mut b = state.build_hasher();
    b.write_u64(a.finish());
    format!("StromBoundary{:016x}{:016x}", a.finish(), b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("a1_b-c.d~"), "a1_b-c.d~");
        assert_eq!(encode_segment("my job/1?x"), "my%20job%2F1%3Fx");
    }

    #[test]
    fn run_request_omits_unset_fields() {
        let req = RunRequest { program_args_list: vec!["a".into()], ..Default::default() };
        assert_eq!(serde_json::to_string(&req).unwrap(), r#"{"programArgsList":["a"]}"#);
        let req = RunRequest {
            program_args_list: vec![],
            parallelism: Some(3),
            savepoint_path: Some("/sp".into()),
            allow_non_restored_state: true,
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"programArgsList":[],"parallelism":3,"savepointPath":"/sp","allowNonRestoredState":true}"#
        );
    }

    #[test]
    fn failure_cause_prefers_stack_trace() {
        let c = FailureCause { class: Some("java.lang.RuntimeException".into()), stack_trace: Some("boom\n\tat x".into()) };
        assert_eq!(c.text(), "boom\n\tat x");
        let c = FailureCause { class: Some("C".into()), stack_trace: Some("  ".into()) };
        assert_eq!(c.text(), "C");
        assert_eq!(FailureCause::default().text(), "(no failure cause given)");
    }

    #[test]
    fn boundaries_differ() {
        assert_ne!(random_boundary(), random_boundary());
    }
}
