//! The REST error: an HTTP status and messages, answered as Flink's `{"errors": [...]}`.

use std::fmt;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answered to a REST client as `{"errors": ["..."]}` with its HTTP status.
///
/// The status says who is at fault: 4xx for the client (unknown id, malformed request,
/// conflicting state), 5xx for the server. Flink's Java client reads any body that is exactly
/// `{"errors": [...]}` as an error, whatever the status, so that shape is kept strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    messages: Vec<String>,
}

impl ApiError {
    /// An error with the given status and one message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, messages: vec![message.into()] }
    }

    /// 400: the request is malformed (bad JSON, wrong field types, unparsable ids).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: the job, trigger, jar or path does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the request conflicts with the job's state (e.g. cancelling a finished job).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 413: the upload is larger than allowed.
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// 500: the server failed; retrying may help.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// Adds another message (Flink's error body is a list).
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.messages.push(message.into());
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The messages, first the main one.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.messages.join("; "))
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "errors": self.messages });
        (self.status, Json(body)).into_response()
    }
}
