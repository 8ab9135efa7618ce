//! Retraced's publisher API (`/publisher/v1/project/{project}/event[/bulk]`, also under the
//! `/auditlog` prefix Retraced's own deployments use), so `@retracedhq/retraced` works by
//! pointing its `endpoint` at Sealtrail; its search and embedded viewer are in [`viewer`]
//! and [`search`]. The key comes in Retraced's `Authorization:
//! token=<key>` (or `Token token=<key>`); answers and errors have Retraced's shapes
//! (`{id, hash}`; `{status, type, error, invalid}`), which its clients parse.

pub mod search;
pub mod viewer;
pub mod viewer_exports;

use crate::auth::{allowlisted, authenticate, Caller};
use crate::error::ApiError;
use crate::routes::events::{admit_body, idempotency_header};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::compat::retraced::InvalidEvent;
use sealtrail_core::keys::Scope;
use sealtrail_service::retraced::{self, PublishRequest, Published};
use sealtrail_service::ServiceError;
use serde_json::{json, Value};

/// A caller authenticated by Retraced's header: everything after `token=`, as Retraced's own
/// server reads it (`/token=(.+)/`), so both `token=K` and `Token token=K` work.
pub struct RetracedCaller(pub Caller);

impl FromRequestParts<AppState> for RetracedCaller {
    type Rejection = RetracedError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once("token=").map(|(_, key)| key.trim()))
            .filter(|key| !key.is_empty())
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "missing `Authorization: token=<API key>` (or `Token token=<API key>`) header",
                )
            })?;
        Ok(RetracedCaller(authenticate(state, presented).await?))
    }
}

/// A caller authenticated by Retraced's header whose address is on its tenant's IP
/// allowlist: the routes that read the trail (search, viewer tokens), as [`Caller`] guards the
/// native ones; publishing, like native ingest, is not held to it.
pub struct RetracedReader(pub Caller);

impl FromRequestParts<AppState> for RetracedReader {
    type Rejection = RetracedError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = RetracedCaller::from_request_parts(parts, state).await?.0;
        Ok(RetracedReader(allowlisted(parts, state, caller).await?))
    }
}

/// An error in Retraced's shape: `{"status", "type": "Error", "error", "invalid"?}`, plus
/// Sealtrail's `code`. Retraced answers a token for another project with 401, and so does
/// this; `Retry-After` is kept on 429 and 503.
#[derive(Debug)]
pub struct RetracedError {
    api: ApiError,
    invalid: Vec<InvalidEvent>,
}

impl From<ApiError> for RetracedError {
    fn from(api: ApiError) -> Self {
        RetracedError {
            api,
            invalid: Vec::new(),
        }
    }
}

impl From<ServiceError> for RetracedError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Retraced(refusal) => RetracedError {
                api: ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "validation_failed",
                    refusal.message,
                ),
                invalid: refusal.invalid,
            },
            ServiceError::Forbidden(message) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "wrong_project", message).into()
            }
            other => ApiError::from(other).into(),
        }
    }
}

impl IntoResponse for RetracedError {
    fn into_response(self) -> Response {
        let body = crate::openapi::bodies::RetracedErrorBody {
            status: self.api.status.as_u16(),
            kind: "Error",
            error: self.api.body.message.clone(),
            code: self.api.body.code.clone(),
            invalid: (!self.invalid.is_empty())
                .then(|| serde_json::to_value(&self.invalid).unwrap_or(Value::Null)),
        };
        self.api.render_as(body)
    }
}

/// `POST …/publisher/v1/project/{project}/event`: 201 `{"id", "hash"}` once durably stored.
#[utoipa::path(
    post, path = "/publisher/v1/project/{project}/event", tag = "retraced", security(("retraced_token" = [])),
    params(("project" = String, Path, description = "The Retraced project id: a tenant's name or alias")),
    request_body(content = Object, description = "A Retraced event (see docs/compat.md for the field mapping)", content_type = "application/json"),
    responses(
        (status = 201, description = "Stored; `hash` is the client's canonical hash of the event as sent", body = crate::openapi::bodies::RetracedPublished),
        (status = 400, description = "The event breaks Retraced's or Sealtrail's rules; `invalid` names the fields", body = crate::openapi::bodies::RetracedErrorBody),
    )
)]
pub async fn publish_event(
    state: State<AppState>,
    project: Path<String>,
    caller: RetracedCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RetracedError> {
    let mut published = publish(state, project, caller, headers, body, false).await?;
    let one = published.pop().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "no result for event",
        )
    })?;
    Ok((StatusCode::CREATED, Json(answer(&one))).into_response())
}

/// `POST …/publisher/v1/project/{project}/event/bulk`: 201 `[{"id", "hash"}, …]` in request
/// order once every event is durably stored; one bad event refuses them all (the client
/// matches hashes to its events by position).
#[utoipa::path(
    post, path = "/publisher/v1/project/{project}/event/bulk", tag = "retraced", security(("retraced_token" = [])),
    params(("project" = String, Path, description = "The Retraced project id: a tenant's name or alias")),
    request_body(content = Vec<Object>, description = "Retraced events; all are stored or none", content_type = "application/json"),
    responses(
        (status = 201, description = "All stored, one answer per event in request order", body = Vec<crate::openapi::bodies::RetracedPublished>),
        (status = 400, description = "An event breaks a rule; none was stored", body = crate::openapi::bodies::RetracedErrorBody),
    )
)]
pub async fn publish_bulk(
    state: State<AppState>,
    project: Path<String>,
    caller: RetracedCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RetracedError> {
    let published = publish(state, project, caller, headers, body, true).await?;
    let answers: Vec<Value> = published.iter().map(answer).collect();
    Ok((StatusCode::CREATED, Json(answers)).into_response())
}

/// Both publish routes: the key must grant `ingest`; the body is admitted and read as for
/// native ingest.
async fn publish(
    State(state): State<AppState>,
    Path(project): Path<String>,
    RetracedCaller(caller): RetracedCaller,
    headers: HeaderMap,
    body: Body,
    bulk: bool,
) -> Result<Vec<Published>, RetracedError> {
    caller.require(Scope::Ingest)?;
    let idempotency_key = idempotency_header(&headers)?;
    let admitted = admit_body(&state, &headers, body).await?;
    let request = PublishRequest {
        tenant: caller.tenant(),
        project,
        bulk,
        body: admitted.bytes,
        idempotency_key,
    };
    Ok(retraced::publish(
        state.store.as_ref(),
        &state.usage,
        &state.limits,
        &state.schemas,
        request,
        admitted.queued,
    )
    .await?)
}

/// `{"id", "hash"}` for one stored event.
fn answer(published: &Published) -> Value {
    json!({ "id": published.id.to_string(), "hash": published.hash })
}
