//! One error type for every HTTP handler, rendered as an RFC 9457 problem document
//! (`application/problem+json`) with a status that tells the client whether to fix the
//! request (4xx) or retry later (5xx). Beside the standard members (`type`, `title`,
//! `status`, `detail`) it carries `code` (stable, machine-readable), `field` and `rule` when a
//! field is at fault, the `request_id` of the server's log lines, and, unchanged, the
//! `error` object every earlier release answered with, so existing clients keep working.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::filter::ParamError;
use sealtrail_core::ingest::{FieldError, RequestError};
use sealtrail_service::checkpointer::CheckpointError;
use sealtrail_service::ServiceError;
use sealtrail_store::StoreError;
use serde::Serialize;

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `validation_failed`, `missing_scope`.
    pub code: String,
    /// What went wrong and what is allowed, for the developer reading it.
    pub message: String,
    /// The field or parameter at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The rule that field broke (`required`, `format`, `max_length`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// An error a handler returns; converts into a JSON response.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status to answer with.
    pub status: StatusCode,
    /// The body's `error` object.
    pub body: ErrorBody,
    /// Seconds after which a retry may succeed, sent as `Retry-After` (429 and 503 answers).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message and no field.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                code: code.to_string(),
                message: message.into(),
                field: None,
                rule: None,
            },
            retry_after: None,
        }
    }

    /// Tells the client when to try again (`Retry-After`, whole seconds, at least 1).
    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        self
    }

    /// 429: the caller is over a rate limit or quota; `wait` is when it frees up.
    pub fn too_many_requests(
        code: &str,
        message: impl Into<String>,
        wait: std::time::Duration,
    ) -> Self {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message).retry_after(wait)
    }

    /// 503: the server is at a capacity limit; nothing from the request was done.
    pub fn overloaded(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", message)
            .retry_after(std::time::Duration::from_secs(1))
    }

    /// Attaches the offending field or parameter.
    pub fn with_field(mut self, field: impl Into<String>, rule: Option<&str>) -> Self {
        self.body.field = Some(field.into());
        self.body.rule = rule.map(str::to_string);
        self
    }

    /// 401: no usable credentials. Deliberately does not say whether a key exists.
    pub fn unauthenticated(message: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 404 for anything outside the caller's tenant as well as things that do not exist, so
    /// ids cannot be probed across tenants.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 410 for something that existed but was deliberately removed (a pruned entry), so a
    /// client can tell it apart from an id that never existed.
    pub fn gone(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::GONE, "gone", message)
    }

    /// 413 with the limit stated.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        let field = e.field.clone();
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            e.to_string(),
        )
        .with_field(field, Some(e.rule))
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        let status = match e {
            RequestError::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        let field = match &e {
            RequestError::DuplicateKey { path }
            | RequestError::NulCharacter { path }
            | RequestError::ReservedKey { path }
            | RequestError::TooDeep { path, .. } => Some(path.clone()),
            _ => None,
        };
        let err = ApiError::new(status, e.code(), e.to_string());
        match field {
            Some(f) => err.with_field(f, None),
            None => err,
        }
    }
}

/// One status per kind of service failure, for every route.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", m)
            }
            ServiceError::Refused(m) => ApiError::new(StatusCode::CONFLICT, "refused", m),
            ServiceError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            ServiceError::Unauthenticated(m) => ApiError::unauthenticated(&m),
            ServiceError::NotFound(what) => ApiError::not_found(&what),
            e @ ServiceError::NoSuchSubject(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "subject_not_found", e.to_string())
            }
            ServiceError::Limited {
                code,
                message,
                retry_after,
            } => ApiError::too_many_requests(code, message, retry_after),
            ServiceError::Overloaded(m) => ApiError::overloaded(m),
            ServiceError::Body(e) => e.into(),
            ServiceError::Field(e) => e.into(),
            ServiceError::Retraced(e) => {
                ApiError::new(StatusCode::BAD_REQUEST, "validation_failed", e.message)
            }
            ServiceError::Workos(e) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_audit_log_event",
                e.to_string(),
            )
            .with_field(e.instance_path, None),
            ServiceError::Job(e) => e.into(),
            ServiceError::Checkpoint(e) => e.into(),
            ServiceError::Store(s) => s.into(),
        }
    }
}

impl From<CheckpointError> for ApiError {
    fn from(e: CheckpointError) -> Self {
        match e {
            CheckpointError::Store(s) => s.into(),
            CheckpointError::Note(_) | CheckpointError::Memory(_) => {
                tracing::error!(error = %e, "checkpoint signing failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "signing the checkpoint failed; it has been logged",
                )
            }
            CheckpointError::Rollback(why) => {
                tracing::error!(error = %why, "checkpoint refused: the log went back");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "log_rolled_back",
                    "the log no longer extends a checkpoint this server signed; it refuses to sign until an operator restores the database (see the server log)",
                )
            }
        }
    }
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        let param = e.param.clone();
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", e.to_string())
            .with_field(param, None)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(&what),
            StoreError::Conflict(what) => ApiError::new(StatusCode::CONFLICT, "conflict", what),
            StoreError::Invalid(what) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", what)
            }
            StoreError::WriterFailed(_) => {
                tracing::error!(error = %e, "write refused: writer stopped");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the log cannot accept writes right now; nothing from this request was stored — retry later",
                )
            }
            StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the database is unreachable right now; a write may or may not have been stored — retry with the same idempotency key",
                )
            }
            StoreError::Backend(_) | StoreError::Corrupt(_) => {
                tracing::error!(error = %e, "storage error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal storage error; it has been logged",
                )
            }
        }
    }
}

impl ApiError {
    /// The error answered with `body` in place of Sealtrail's `{"error": …}`, for the
    /// compatible APIs whose clients parse their own shapes; the status and `Retry-After` stay.
    pub fn render_as(&self, body: impl Serialize) -> Response {
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The media type of every error of Sealtrail's own API (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = crate::openapi::bodies::ErrorResponse {
            kind: "about:blank",
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.body.message.clone(),
            code: self.body.code.clone(),
            field: self.body.field.clone(),
            rule: self.body.rule.clone(),
            request_id: crate::request_id::current(),
            error: self.body.clone(),
        };
        let mut response = self.render_as(problem);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sealtrail\""),
            );
        }
        response
    }
}
