//! The one JSON error body of every endpoint: `{"error": {"code", "message", …}}`, with the
//! HTTP status that goes with each kind of failure. Handlers return [`ApiError`] values;
//! this file alone turns them into responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::durable::DurableError;
use crate::runtime::ResumeError;
use crate::store::{RunId, RunStatus, StoreError};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("no such endpoint")]
    NoRoute,
    #[error("method not allowed here")]
    Method,
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body cannot be read: {reason}")]
    BadBody { reason: String },
    #[error("the request is not valid JSON of the expected shape: {reason}")]
    BadJson { reason: String },
    #[error("this endpoint is a WebSocket: {reason}")]
    NotWebSocket { reason: String },
    #[error("bad query parameters: {reason}")]
    BadQuery { reason: String },
    #[error("`{field}` must be {expected}, not {found}")]
    BadField {
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("the flow source is larger than {limit} bytes")]
    SourceTooLarge { limit: usize },
    #[error("the flow does not compile")]
    Compile { report: Value },
    #[error("there is no graph `{id}`")]
    GraphNotFound { id: String },
    #[error("graph `{id}` has {runs} runs that may still go on; cancel them first")]
    GraphInUse { id: String, runs: u64 },
    #[error("`{id}` is not a run id")]
    BadRunId { id: String },
    #[error("there is no run {run}")]
    RunNotFound { run: RunId },
    #[error("the initial state does not fit the flow's schema")]
    Input { report: Value },
    #[error("this Idempotency-Key was used with another request body")]
    IdempotencyConflict,
    #[error("run {run} is {status}: {reason}")]
    RunConflict {
        run: RunId,
        status: RunStatus,
        reason: &'static str,
    },
    #[error("the run cannot go on: {reason}")]
    NotResumable { reason: String },
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("the run store failed: {0}")]
    Store(#[from] StoreError),
    #[error("the server failed: {reason}")]
    Internal { reason: String },
}

impl ApiError {
    /// The stable code clients match on.
    fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::NoRoute => "not-found",
            Self::Method => "method-not-allowed",
            Self::TooLarge { .. } | Self::SourceTooLarge { .. } => "too-large",
            Self::BadBody { .. } => "bad-body",
            Self::BadJson { .. } => "bad-json",
            Self::BadQuery { .. } => "bad-query",
            Self::NotWebSocket { .. } => "not-websocket",
            Self::BadField { .. } => "bad-field",
            Self::Compile { .. } => "compile-error",
            Self::GraphNotFound { .. } => "graph-not-found",
            Self::GraphInUse { .. } => "graph-in-use",
            Self::BadRunId { .. } | Self::RunNotFound { .. } => "run-not-found",
            Self::Input { .. } => "bad-input",
            Self::IdempotencyConflict => "idempotency-conflict",
            Self::RunConflict { .. } => "run-conflict",
            Self::NotResumable { .. } => "not-resumable",
            Self::ShuttingDown => "shutting-down",
            Self::Store(_) => "store-error",
            Self::Internal { .. } => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NoRoute
            | Self::GraphNotFound { .. }
            | Self::BadRunId { .. }
            | Self::RunNotFound { .. } => StatusCode::NOT_FOUND,
            Self::Method => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge { .. } | Self::SourceTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadBody { .. }
            | Self::BadJson { .. }
            | Self::BadQuery { .. }
            | Self::NotWebSocket { .. }
            | Self::BadField { .. } => StatusCode::BAD_REQUEST,
            Self::Compile { .. } | Self::Input { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::GraphInUse { .. }
            | Self::IdempotencyConflict
            | Self::RunConflict { .. }
            | Self::NotResumable { .. } => StatusCode::CONFLICT,
            Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) | Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The fields beside `code` and `message`.
    fn details(&self) -> Option<(&'static str, Value)> {
        match self {
            Self::Compile { report } | Self::Input { report } => Some(("report", report.clone())),
            Self::RunConflict { status, .. } => Some(("status", json!(status))),
            Self::GraphInUse { runs, .. } => Some(("runs", json!(runs))),
            _ => None,
        }
    }

    /// A durable run's failure to start or go on, as the client's fault where it is.
    pub(crate) fn durable(
        error: DurableError,
        report: impl FnOnce(crate::RuntimeError) -> Value,
    ) -> Self {
        match error {
            DurableError::Input(error) | DurableError::Resume(ResumeError::Input(error)) => {
                Self::Input {
                    report: report(*error),
                }
            }
            DurableError::Store(error) => Self::from_store(error),
            error @ (DurableError::Resume(_) | DurableError::Checkpoint { .. }) => {
                Self::NotResumable {
                    reason: error.to_string(),
                }
            }
        }
    }

    /// A store error, as the client's fault where it is about the run asked for.
    pub(crate) fn from_store(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { run } => Self::RunNotFound { run },
            error @ (StoreError::Finished { .. }
            | StoreError::OwnedByLiveProcess { .. }
            | StoreError::NeedsAttention { .. }
            | StoreError::NoAttentionNeeded { .. }
            | StoreError::NotResumable { .. }
            | StoreError::LeaseLost { .. }) => Self::NotResumable {
                reason: error.to_string(),
            },
            error => Self::Store(error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code(), "message": self.to_string() });
        if let Some((key, value)) = self.details() {
            body[key] = value;
        }
        (self.status(), axum::Json(json!({ "error": body }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_a_json_body_with_its_code() {
        let response = ApiError::RunNotFound { run: 7 }.into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = ApiError::Compile { report: json!({}) }.into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            ApiError::from_store(StoreError::NotFound { run: 3 }).code(),
            "run-not-found"
        );
    }
}
