//! The JobManager's REST API: Apache Flink's REST API v1 paths and JSON shapes, so that the
//! `flink` CLI, the Flink Kubernetes Operator and other Flink tooling can drive Strom.
//!
//! [`router`] builds an axum [`Router`] serving every endpoint both at its Flink path
//! (`/jobs/overview`) and under `/v1` (`/v1/jobs/overview`). The JobManager provides the data
//! through the [`Dispatcher`] trait, in plain Rust values ([`JobSummary`], [`JobDetails`],
//! ...); this module turns them into Flink's JSON. Uploaded job binaries (Flink's "jars") are
//! stored in [`Config::upload_dir`].
//!
//! Errors are always Flink's `{"errors": ["..."]}` with a fitting status: 400 for malformed
//! requests (bad JSON, wrong field types, unparsable ids), 404 for unknown jobs, triggers,
//! jars and paths, 405 for a wrong method, 409 for conflicts, 413 for oversized uploads.
//!
//! The module only refers to itself through relative paths (`self::`, `super::`), so it can
//! be moved into the JobManager crate as the `rest` module unchanged.
//!
//! ```no_run
//! # use strom_jobmanager::rest;
//! # async fn serve(dispatcher: std::sync::Arc<dyn rest::Dispatcher>) -> std::io::Result<()> {
//! let config = rest::Config::new("/strom-data/uploads");
//! let app = rest::router(dispatcher, config);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8081").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use axum::{middleware, Router};

mod error;
mod handlers;
mod jars;
mod model;
mod shapes;
mod throwable;

pub use self::error::ApiError;
pub use self::model::{
    ClusterOverview, Dispatcher, ExceptionEntry, ExecutionOutcome, ExecutionState, Hardware, JobDetails, JobResult, JobStatus, JobSummary,
    OperationStatus, PlanInput, PlanNode, RunRequest, TaskCounts, TaskManagerInfo, VertexDetails, VertexMetrics,
};

/// Settings of the REST layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where uploaded job binaries are stored (Flink's `web.upload.dir`); created on the first
    /// upload. Every file in it whose name has the jar id form is listed by `GET /jars`.
    pub upload_dir: PathBuf,
    /// The largest accepted upload in bytes; larger ones are answered with 413 and removed.
    pub max_upload_bytes: u64,
    /// Whether binaries may be uploaded and run (Flink's `web.submit.enable`). When false the
    /// `/jars` endpoints do not exist and answer 404, as in Flink.
    pub web_submit_enabled: bool,
    /// How often the web UI refreshes, in ms (Flink's `web.refresh-interval`).
    pub refresh_interval_ms: u64,
    /// The time zone shown by the web UI.
    pub timezone_name: String,
    /// The time zone's offset from UTC in ms.
    pub timezone_offset_ms: i64,
    /// The build's revision, shown as `flink-revision` and `flink-commit`.
    pub revision: String,
    /// The REST address advertised in `GET /jars` (e.g. `http://jobmanager:8081`).
    pub rest_address: String,
}

impl Config {
    /// Defaults as in Flink: 400 MiB uploads allowed, submission enabled, 3 s refresh, UTC.
    pub fn new(upload_dir: impl Into<PathBuf>) -> Self {
        Config {
            upload_dir: upload_dir.into(),
            max_upload_bytes: 400 * 1024 * 1024,
            web_submit_enabled: true,
            refresh_interval_ms: 3000,
            timezone_name: "Coordinated Universal Time".to_string(),
            timezone_offset_ms: 0,
            revision: "unknown".to_string(),
            rest_address: "http://localhost:8081".to_string(),
        }
    }
}

/// The REST API as an axum [`Router`], ready for `axum::serve`.
pub fn router(dispatcher: Arc<dyn Dispatcher>, config: Config) -> Router {
    let api = handlers::routes(&config);
    let state = handlers::AppState::new(dispatcher, config);
    Router::new()
        .merge(api.clone())
        .nest("/v1", api)
        .fallback(handlers::not_found)
        .layer(middleware::from_fn(handlers::json_errors))
        .with_state(state)
}
