//! The route table and one handler per Flink endpoint.
//!
//! Handlers validate ids and bodies, call the [`Dispatcher`] on the blocking pool and render
//! Flink's shapes. Every rejection is an [`ApiError`], so clients always get
//! `{"errors": [...]}`; the `json_errors` middleware converts what axum itself answers
//! (405, unknown paths, oversized bodies) to the same shape.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::jars::JarStore;
use super::model::{Dispatcher, RunRequest};
use super::shapes::{self, OperationKind};
use super::Config;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    dispatcher: Arc<dyn Dispatcher>,
    config: Arc<Config>,
    jars: Arc<JarStore>,
}

impl AppState {
    pub(crate) fn new(dispatcher: Arc<dyn Dispatcher>, config: Config) -> Self {
        let jars = JarStore::new(config.upload_dir.clone(), config.max_upload_bytes);
        AppState { dispatcher, config: Arc::new(config), jars: Arc::new(jars) }
    }

    /// Runs a dispatcher method on the blocking pool; a panic in it becomes a 500.
    async fn call<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Dispatcher) -> R + Send + 'static,
    {
        let dispatcher = Arc::clone(&self.dispatcher);
        tokio::task::spawn_blocking(move || f(dispatcher.as_ref()))
            .await
            .map_err(|e| ApiError::internal(format!("The JobManager failed to answer: {e}")))
    }

    /// Runs a blocking file-system operation of the jar store on the blocking pool.
    async fn with_jars<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&JarStore) -> Result<R, ApiError> + Send + 'static,
    {
        let jars = Arc::clone(&self.jars);
        tokio::task::spawn_blocking(move || f(&jars)).await.map_err(|e| ApiError::internal(format!("jar storage failed: {e}")))?
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).field("jars", &self.jars).finish_non_exhaustive()
    }
}

/// The Flink routes, relative to the API root (mounted at `/` and at `/v1`).
pub(crate) fn routes(config: &Config) -> Router<AppState> {
    let router = Router::new()
        .route("/overview", get(overview))
        .route("/config", get(dashboard_config))
        .route("/jobmanager/config", get(jobmanager_config))
        .route("/taskmanagers", get(taskmanagers))
        .route("/jobs", get(jobs))
        .route("/jobs/overview", get(jobs_overview))
        .route("/jobs/{jobid}", get(job_details).patch(cancel_job))
        .route("/jobs/{jobid}/status", get(job_status))
        .route("/jobs/{jobid}/exceptions", get(job_exceptions))
        .route("/jobs/{jobid}/execution-result", get(execution_result))
        .route("/jobs/{jobid}/checkpoints", get(checkpoints).post(trigger_checkpoint))
        .route("/jobs/{jobid}/checkpoints/details/{checkpointid}", get(checkpoint_details))
        .route("/jobs/{jobid}/checkpoints/{triggerid}", get(checkpoint_status))
        .route("/jobs/{jobid}/savepoints", post(trigger_savepoint))
        .route("/jobs/{jobid}/savepoints/{triggerid}", get(savepoint_status))
        .route("/jobs/{jobid}/stop", post(stop_with_savepoint));
    if !config.web_submit_enabled {
        // As in Flink, the jar endpoints do not exist when submission is disabled.
        return router;
    }
    // Multipart overhead (boundaries, part headers) on top of the file itself.
    let body_limit = config.max_upload_bytes.saturating_add(64 * 1024);
    let body_limit = usize::try_from(body_limit).unwrap_or(usize::MAX);
    router
        .route("/jars/upload", post(upload_jar).layer(DefaultBodyLimit::max(body_limit)))
        .route("/jars", get(list_jars))
        .route("/jars/{jarid}/run", post(run_jar))
        .route("/jars/{jarid}", axum::routing::delete(delete_jar))
}

// ---------------------------------------------------------------------------------------------
// Extractors whose rejections are `{"errors": [...]}`
// ---------------------------------------------------------------------------------------------

/// A JSON request body; an empty body means `T::default()` (Flink's CLI sends `{}` or
/// nothing). Malformed JSON or wrong field types are a 400, never a 422.
pub(crate) struct JsonBody<T>(T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(T::default()));
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            let name = std::any::type_name::<T>().rsplit("::").next().unwrap_or("");
            ApiError::bad_request(format!("Request did not match expected format {name}: {e}"))
        })
    }
}

/// Path parameters; undecodable ones are a 400.
pub(crate) struct Params<T>(T);

impl<S, T> FromRequestParts<S> for Params<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state).await.map(|Path(t)| Params(t)).map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// The query string as ordered key/value pairs (keys may repeat); undecodable is a 400.
pub(crate) struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    /// Every value of `key`, in order.
    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The last value of `key`.
    fn get<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.all(key).last()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| QueryPairs(pairs))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

// ---------------------------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------------------------

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A job id: 32 hex characters (Flink also accepts uppercase); otherwise a 400, as Flink
/// answers for an unparsable `JobID`.
fn job_id(raw: &str) -> Result<String, ApiError> {
    if is_hex32(raw) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ApiError::bad_request(format!("Invalid job id \"{raw}\": expected 32 hexadecimal characters.")))
    }
}

/// A trigger id: 32 hex characters, like a job id.
fn trigger_id(raw: &str) -> Result<String, ApiError> {
    if is_hex32(raw) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ApiError::bad_request(format!("Invalid trigger id \"{raw}\": expected 32 hexadecimal characters.")))
    }
}

/// A trigger id the client chose (Flink's `triggerId` body field): validated, then unused,
/// because the dispatcher assigns its own.
fn check_client_trigger_id(raw: Option<&str>) -> Result<(), ApiError> {
    raw.map_or(Ok(()), |t| trigger_id(t).map(|_| ()))
}

fn job_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Job {id} not found."))
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------------------------

async fn overview(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (o, version) = s.call(|d| (d.cluster_overview(), d.version())).await?;
    Ok(Json(shapes::cluster_overview(&o, &version, &s.config)))
}

async fn dashboard_config(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let version = s.call(|d| d.version()).await?;
    Ok(Json(shapes::dashboard_config(&s.config, &version)))
}

async fn jobmanager_config(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let entries = s.call(|d| d.config()).await?;
    Ok(Json(shapes::configuration(&entries)))
}

async fn taskmanagers(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let tms = s.call(|d| d.taskmanagers()).await?;
    Ok(Json(shapes::taskmanagers(&tms)))
}

// ---------------------------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------------------------

async fn jobs(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let jobs = s.call(|d| d.jobs()).await?;
    Ok(Json(shapes::job_ids(&jobs)))
}

async fn jobs_overview(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let jobs = s.call(|d| d.jobs()).await?;
    Ok(Json(shapes::jobs_overview(&jobs)))
}

async fn job_details(State(s): State<AppState>, Params(raw): Params<String>) -> Result<Json<Value>, ApiError> {
    let id = job_id(&raw)?;
    let lookup = id.clone();
    let details = s.call(move |d| d.job(&lookup)).await?;
    let details = details.ok_or_else(|| job_not_found(&id))?;
    Ok(Json(shapes::job_details(&details, now_ms())))
}

async fn job_status(State(s): State<AppState>, Params(raw): Params<String>) -> Result<Json<Value>, ApiError> {
    let id = job_id(&raw)?;
    let jobs = s.call(|d| d.jobs()).await?;
    let job = jobs.iter().find(|j| j.id == id).ok_or_else(|| job_not_found(&id))?;
    Ok(Json(shapes::job_status(job.state)))
}

/// `PATCH /jobs/:id?mode=cancel`. No mode means cancel; `stop` is refused as in Flink, which
/// removed it in favour of `POST /jobs/:id/stop`.
async fn cancel_job(
    State(s): State<AppState>,
    Params(raw): Params<String>,
    query: QueryPairs,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = job_id(&raw)?;
    match query.get("mode").map(str::to_ascii_lowercase).as_deref() {
        None | Some("cancel") => {}
        Some("stop") => {
            return Err(ApiError::bad_request(
                "The termination mode \"stop\" has been removed. For an ungraceful shutdown, \
                 please use \"cancel\" instead. For a graceful shutdown, please use \
                 \"jobs/:jobId/stop\" instead.",
            ));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!("Invalid termination mode \"{other}\": expected \"cancel\".")));
        }
    }
    s.call(move |d| d.cancel(&id)).await??;
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

async fn job_exceptions(State(s): State<AppState>, Params(raw): Params<String>) -> Result<Json<Value>, ApiError> {
    let id = job_id(&raw)?;
    let lookup = id.clone();
    let entries = s.call(move |d| d.exceptions(&lookup)).await?;
    let entries = entries.ok_or_else(|| job_not_found(&id))?;
    Ok(Json(shapes::exceptions(&entries)))
}

async fn execution_result(State(s): State<AppState>, Params(raw): Params<String>) -> Result<Json<Value>, ApiError> {
    let id = job_id(&raw)?;
    let lookup = id.clone();
    let outcome = s.call(move |d| d.execution_result(&lookup)).await?;
    let outcome = outcome.ok_or_else(|| job_not_found(&id))?;
    Ok(Json(shapes::execution_result(&id, &outcome)))
}

// ---------------------------------------------------------------------------------------------
// Checkpoints and savepoints
// ---------------------------------------------------------------------------------------------

async fn checkpoints(State(s): State<AppState>, Params(raw): Params<String>) -> Result<Json<Value>, ApiError> {
    let id = job_id(&raw)?;
    let lookup = id.clone();
    let stats = s.call(move |d| d.checkpoints(&lookup)).await?;
    stats.map(Json).ok_or_else(|| job_not_found(&id))
}

async fn checkpoint_details(
    State(s): State<AppState>,
    Params((raw, raw_checkpoint)): Params<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&raw)?;
    let checkpoint: u64 = raw_checkpoint
        .parse()
        .map_err(|_| ApiError::bad_request(format!("Invalid checkpoint id \"{raw_checkpoint}\": expected a non-negative integer.")))?;
    let lookup = id.clone();
    let details = s.call(move |d| d.checkpoint_details(&lookup, checkpoint)).await?;
    details
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("Could not find checkpointing statistics for checkpoint {checkpoint} of job {id}.")))
}

/// Flink's `CheckpointTriggerRequestBody`.
#[derive(Debug, Default, Deserialize)]
struct CheckpointTriggerBody {
    #[serde(rename = "checkpointType")]
    _checkpoint_type: Option<CheckpointType>,
    #[serde(rename = "triggerId")]
    trigger_id: Option<String>,
}

/// Flink's `CheckpointType` of a triggered checkpoint. Strom takes the configured kind
/// whatever is asked; the field is validated so that typos are reported.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum CheckpointType {
    Configured,
    Full,
    Incremental,
}

/// Flink's `SavepointFormatType`; Strom has one savepoint format and accepts both names.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum SavepointFormat {
    Canonical,
    Native,
}

/// Flink's `SavepointTriggerRequestBody`.
#[derive(Debug, Default, Deserialize)]
struct SavepointTriggerBody {
    #[serde(rename = "target-directory")]
    target_directory: Option<String>,
    #[serde(rename = "cancel-job")]
    cancel_job: Option<bool>,
    #[serde(rename = "formatType")]
    _format_type: Option<SavepointFormat>,
    #[serde(rename = "triggerId")]
    trigger_id: Option<String>,
}

/// Flink's `StopWithSavepointRequestBody`.
#[derive(Debug, Default, Deserialize)]
struct StopWithSavepointBody {
    #[serde(rename = "targetDirectory")]
    target_directory: Option<String>,
    drain: Option<bool>,
    #[serde(rename = "formatType")]
    _format_type: Option<SavepointFormat>,
    #[serde(rename = "triggerId")]
    trigger_id: Option<String>,
}

/// Flink's `TriggerResponse` (202), after checking the dispatcher's trigger id is one Flink's
/// Java client can parse.
fn trigger_response(trigger: String) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !is_hex32(&trigger) {
        return Err(ApiError::internal(format!("The JobManager returned a malformed trigger id \"{trigger}\".")));
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "request-id": trigger.to_ascii_lowercase() }))))
}

async fn trigger_checkpoint(
    State(s): State<AppState>,
    Params(raw): Params<String>,
    JsonBody(body): JsonBody<CheckpointTriggerBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = job_id(&raw)?;
    check_client_trigger_id(body.trigger_id.as_deref())?;
    let trigger = s.call(move |d| d.trigger_checkpoint(&id)).await??;
    trigger_response(trigger)
}

async fn trigger_savepoint(
    State(s): State<AppState>,
    Params(raw): Params<String>,
    JsonBody(body): JsonBody<SavepointTriggerBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = job_id(&raw)?;
    check_client_trigger_id(body.trigger_id.as_deref())?;
    let target = body.target_directory;
    // `cancel-job` stops the job after the savepoint, without draining.
    let stop = body.cancel_job.unwrap_or(false);
    let trigger = s.call(move |d| d.trigger_savepoint(&id, target, stop, false)).await??;
    trigger_response(trigger)
}

async fn stop_with_savepoint(
    State(s): State<AppState>,
    Params(raw): Params<String>,
    JsonBody(body): JsonBody<StopWithSavepointBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = job_id(&raw)?;
    check_client_trigger_id(body.trigger_id.as_deref())?;
    let target = body.target_directory;
    let drain = body.drain.unwrap_or(false);
    let trigger = s.call(move |d| d.trigger_savepoint(&id, target, true, drain)).await??;
    trigger_response(trigger)
}

async fn checkpoint_status(state: State<AppState>, params: Params<(String, String)>) -> Result<Json<Value>, ApiError> {
    operation_status(state, params, OperationKind::Checkpoint).await
}

async fn savepoint_status(state: State<AppState>, params: Params<(String, String)>) -> Result<Json<Value>, ApiError> {
    operation_status(state, params, OperationKind::Savepoint).await
}

async fn operation_status(
    State(s): State<AppState>,
    Params((raw_job, raw_trigger)): Params<(String, String)>,
    kind: OperationKind,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&raw_job)?;
    let trigger = trigger_id(&raw_trigger)?;
    let (job, trig) = (id.clone(), trigger.clone());
    let status = s.call(move |d| d.operation_status(&job, &trig)).await??;
    shapes::operation_result(kind, &status).map(Json).ok_or_else(|| {
        let what = match kind {
            OperationKind::Checkpoint => "checkpoint",
            OperationKind::Savepoint => "savepoint",
        };
        ApiError::not_found(format!("There is no {what} operation with trigger id {trigger} for job {id}."))
    })
}

// ---------------------------------------------------------------------------------------------
// Jars (job binaries)
// ---------------------------------------------------------------------------------------------

async fn upload_jar(State(s): State<AppState>, multipart: Result<Multipart, MultipartRejection>) -> Result<Json<Value>, ApiError> {
    let multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!("Expected a multipart/form-data upload with the file in the field \"jarfile\": {}", e.body_text()))
    })?;
    let path = s.jars.store(multipart).await?;
    Ok(Json(json!({
        "filename": path.to_string_lossy(),
        "status": "success",
    })))
}

async fn list_jars(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let jars = s.with_jars(|jars| jars.list().map_err(|e| ApiError::internal(format!("could not list jars: {e}")))).await?;
    let files: Vec<Value> = jars.iter().map(|j| json!({ "id": j.id, "name": j.name, "uploaded": j.uploaded, "entry": [] })).collect();
    Ok(Json(json!({ "address": s.config.rest_address, "files": files })))
}

async fn delete_jar(State(s): State<AppState>, Params(id): Params<String>) -> Result<Json<Value>, ApiError> {
    s.with_jars(move |jars| jars.delete(&id)).await?;
    Ok(Json(json!({})))
}

/// Flink's `JarRunRequestBody`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JarRunBody {
    entry_class: Option<String>,
    program_args: Option<String>,
    program_args_list: Option<Vec<String>>,
    parallelism: Option<i64>,
    job_id: Option<String>,
    allow_non_restored_state: Option<bool>,
    savepoint_path: Option<String>,
    #[serde(rename = "restoreMode")]
    _restore_mode: Option<RestoreMode>,
    flink_configuration: Option<BTreeMap<String, Value>>,
}

/// Flink's `RestoreMode`; accepted for compatibility, Strom always copies restored state.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum RestoreMode {
    Claim,
    NoClaim,
    Legacy,
}

async fn run_jar(
    State(s): State<AppState>,
    Params(jar): Params<String>,
    query: QueryPairs,
    JsonBody(body): JsonBody<JarRunBody>,
) -> Result<Json<Value>, ApiError> {
    let request = run_request(body, &query)?;
    let binary = s.with_jars(move |jars| jars.resolve(&jar)).await?;
    let job = s.call(move |d| d.submit(&binary, request)).await??;
    Ok(Json(json!({ "jobid": job })))
}

/// Merges the run body with Flink's query parameters; the body wins where both are set.
fn run_request(body: JarRunBody, query: &QueryPairs) -> Result<RunRequest, ApiError> {
    let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let query_value = |key: &str| non_empty(query.get(key).map(str::to_owned));
    let parallelism = match body.parallelism {
        Some(p) => Some(p),
        None => query_value("parallelism")
            .map(|p| p.parse::<i64>().map_err(|_| ApiError::bad_request(format!("Invalid parallelism \"{p}\": expected an integer."))))
            .transpose()?,
    };
    let allow_non_restored_state = match body.allow_non_restored_state {
        Some(b) => b,
        None => query_value("allowNonRestoredState").map(|v| parse_bool("allowNonRestoredState", &v)).transpose()?.unwrap_or(false),
    };
    let job_id = non_empty(body.job_id).map(|j| job_id(&j)).transpose()?;
    Ok(RunRequest {
        program_args: program_args(body.program_args, body.program_args_list, query)?,
        parallelism: parallelism.map(check_parallelism).transpose()?.flatten(),
        savepoint_path: non_empty(body.savepoint_path).or_else(|| query_value("savepointPath")),
        allow_non_restored_state,
        entry_class: non_empty(body.entry_class).or_else(|| query_value("entry-class")),
        job_id,
        configuration: configuration(body.flink_configuration)?,
    })
}

/// Flink's rules: `programArgsList` (body, else the comma-separated `programArg` query
/// parameter) wins; otherwise `programArgs` (body, else the `program-args` query parameter)
/// is split on whitespace honouring quotes. Both lists given is a 400, as in Flink.
fn program_args(args: Option<String>, list: Option<Vec<String>>, query: &QueryPairs) -> Result<Vec<String>, ApiError> {
    let args = args.filter(|a| !a.is_empty()).or_else(|| query.get("program-args").map(str::to_owned)).filter(|a| !a.is_empty());
    let list = list.filter(|l| !l.is_empty()).or_else(|| {
        let from_query: Vec<String> =
            query.all("programArg").flat_map(|v| v.split(',')).filter(|a| !a.is_empty()).map(str::to_owned).collect();
        (!from_query.is_empty()).then_some(from_query)
    });
    match (list, args) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "Confusing request: programArgs and programArgsList are specified, please, use \
             only programArgsList",
        )),
        (Some(list), None) => Ok(list),
        (None, args) => Ok(tokenize_arguments(args.as_deref().unwrap_or(""))),
    }
}

/// Splits a program argument string as Flink does: on whitespace, with `"..."` and `'...'`
/// keeping spaces, quote characters removed. Escaped quotes are not supported (nor in Flink).
pub(crate) fn tokenize_arguments(args: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = args.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut token = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            let quoted: String = chars.by_ref().take_while(|&ch| ch != c).collect();
            token.push_str(&quoted);
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                token.push(ch);
                chars.next();
            }
        }
        token.retain(|ch| ch != '"' && ch != '\'');
        if !token.is_empty() {
            tokens.push(token);
        }
    }
    tokens
}

/// A positive parallelism, or `None` for Flink's "use the default" value -1.
fn check_parallelism(p: i64) -> Result<Option<u32>, ApiError> {
    if p == -1 {
        return Ok(None);
    }
    match u32::try_from(p) {
        Ok(p) if p > 0 => Ok(Some(p)),
        _ => Err(ApiError::bad_request(format!("Invalid parallelism {p}: expected a positive integer."))),
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ApiError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::bad_request(format!("Invalid value \"{value}\" for {key}: expected true or false."))),
    }
}

/// `flinkConfiguration` as key/value strings (sorted by key); scalars are converted to text
/// as Jackson does, nested values are a 400.
fn configuration(raw: Option<BTreeMap<String, Value>>) -> Result<Vec<(String, String)>, ApiError> {
    raw.unwrap_or_default()
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null | Value::Array(_) | Value::Object(_) => {
                    return Err(ApiError::bad_request(format!("Invalid flinkConfiguration value for \"{key}\": expected a string.")));
                }
            };
            Ok((key, text))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Fallbacks
// ---------------------------------------------------------------------------------------------

/// Unknown paths: Flink's `{"errors": ["Not found: /x"]}`.
pub(crate) async fn not_found(State(s): State<AppState>, uri: Uri) -> ApiError {
    let path = uri.path();
    let api_path = path.strip_prefix("/v1").unwrap_or(path);
    if !s.config.web_submit_enabled && api_path.starts_with("/jars") {
        return ApiError::not_found(format!("Not found: {path} (job submission is disabled: web.submit.enable is false)"));
    }
    ApiError::not_found(format!("Not found: {path}"))
}

/// Rewrites error responses that are not JSON (axum's own 405, 413, ... answers) to
/// `{"errors": [...]}`, keeping their status.
pub(crate) async fn json_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024).await.map(|b| String::from_utf8_lossy(&b).trim().to_owned()).unwrap_or_default();
    let message = if status == StatusCode::METHOD_NOT_ALLOWED {
        format!("Method {method} is not allowed for {path}.")
    } else if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        text
    };
    let mut rewritten = ApiError::new(status, message).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        rewritten.headers_mut().insert(header::ALLOW, allow.clone());
    }
    rewritten
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> QueryPairs {
        QueryPairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn tokenize_follows_flink() {
        let cases: [(&str, &[&str]); 7] = [
            ("--foo bar", &["--foo", "bar"]),
            ("--foo \"bar baz\"", &["--foo", "bar baz"]),
            ("--foo 'bar baz'", &["--foo", "bar baz"]),
            ("  a \t b  ", &["a", "b"]),
            ("", &[]),
            ("--x=\"1 2\"", &["--x=1", "2"]),
            ("'unterminated quote", &["unterminated quote"]),
        ];
        for (input, expected) in cases {
            assert_eq!(tokenize_arguments(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn body_wins_over_query_and_lists_conflict() {
        let body = JarRunBody { parallelism: Some(3), savepoint_path: Some("file:/sp".into()), ..JarRunBody::default() };
        let q = query(&[
            ("parallelism", "7"),
            ("savepointPath", "file:/other"),
            ("programArg", "a,b"),
            ("programArg", "c"),
            ("allowNonRestoredState", "TRUE"),
            ("entry-class", "Main"),
        ]);
        let r = run_request(body, &q).unwrap();
        assert_eq!(
            r,
            RunRequest {
                program_args: vec!["a".into(), "b".into(), "c".into()],
                parallelism: Some(3),
                savepoint_path: Some("file:/sp".into()),
                allow_non_restored_state: true,
                entry_class: Some("Main".into()),
                job_id: None,
                configuration: vec![],
            }
        );
        let both = JarRunBody { program_args: Some("x".into()), program_args_list: Some(vec!["y".into()]), ..JarRunBody::default() };
        assert_eq!(run_request(both, &query(&[])).unwrap_err().status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn parallelism_must_be_positive_or_minus_one() {
        assert_eq!(check_parallelism(-1).unwrap(), None);
        assert_eq!(check_parallelism(4).unwrap(), Some(4));
        for bad in [0, -2, i64::from(u32::MAX) + 1] {
            assert!(check_parallelism(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_32_hex_chars() {
        assert_eq!(job_id("ABCDEF0123456789abcdef0123456789").unwrap(), "abcdef0123456789abcdef0123456789");
        for bad in ["", "xyz", "abcdef0123456789abcdef012345678", "g".repeat(32).as_str()] {
            assert_eq!(job_id(bad).unwrap_err().status(), StatusCode::BAD_REQUEST);
        }
    }
}
