//! WorkOS Audit Logs' API at the server root (the WorkOS SDKs cannot use a path prefix), so
//! `@workos-inc/node` and its siblings work by pointing their host at Sealtrail. Keys are
//! Sealtrail API keys sent as WorkOS sends its own (`Authorization: Bearer`); answers and
//! errors have WorkOS's shapes (`{"success": true}`; `{"message", "code", "errors"}`), which
//! the SDKs parse into their exceptions, and every answer carries an `X-Request-ID`.

use crate::auth::{Caller, IngestCaller};
use crate::error::ApiError;
use crate::routes::events::{admit_body, idempotency_header};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::keys::Scope;
use sealtrail_service::workos::{self, CreateEvent};
use sealtrail_service::ServiceError;
use serde_json::{json, Value};

/// A caller authenticated by its `Bearer` key, refused in WorkOS's error shape.
pub struct WorkosCaller(pub Caller);

impl FromRequestParts<AppState> for WorkosCaller {
    type Rejection = WorkosError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(WorkosCaller(
            IngestCaller::from_request_parts(parts, state).await?.0,
        ))
    }
}

/// An error in WorkOS's shape: `{"message", "code", "errors"?}` (every body JSON, since the
/// SDKs parse every error body), `Retry-After` kept on 429 and 503 (the SDKs wait for it
/// before they retry).
#[derive(Debug)]
pub struct WorkosError {
    api: ApiError,
    errors: Option<Value>,
}

impl From<ApiError> for WorkosError {
    fn from(api: ApiError) -> Self {
        WorkosError { api, errors: None }
    }
}

impl From<ServiceError> for WorkosError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Workos(invalid) => WorkosError {
                api: ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_audit_log_event",
                    "Invalid Audit Log event.",
                ),
                errors: Some(json!([invalid])),
            },
            ServiceError::NotFound(message) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message).into()
            }
            other => ApiError::from(other).into(),
        }
    }
}

impl IntoResponse for WorkosError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "message": self.api.body.message,
            "code": self.api.body.code,
        });
        if let Some(errors) = self.errors {
            body["errors"] = errors;
        }
        let mut response = with_request_id((self.api.status, Json(body)).into_response());
        if let Some(seconds) = self.api.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Adds the `X-Request-ID` the SDKs read into their exceptions.
fn with_request_id(mut response: Response) -> Response {
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

/// `POST /audit_logs/events` `{"organization_id", "event"}`: 200 `{"success": true}` once the
/// event is durably stored, and the same for a retry carrying the same `Idempotency-Key`.
pub async fn create_event(
    State(state): State<AppState>,
    WorkosCaller(caller): WorkosCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WorkosError> {
    caller.require(Scope::Ingest)?;
    let idempotency_key = idempotency_header(&headers)?;
    let admitted = admit_body(&state, &headers, body).await?;
    let request = CreateEvent {
        tenant: caller.tenant(),
        body: admitted.bytes,
        idempotency_key,
    };
    workos::create_event(
        state.store.as_ref(),
        &state.usage,
        &state.limits,
        request,
        admitted.queued,
    )
    .await?;
    Ok(with_request_id(
        Json(json!({ "success": true })).into_response(),
    ))
}
