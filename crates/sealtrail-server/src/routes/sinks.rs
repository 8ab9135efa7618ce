//! `/v1/sinks`: a tenant's push-delivery sinks (admin scope): create (the answer is the only
//! time the signing secret is shown), list, show, pause, resume, replay, test and delete;
//! every change recorded in the log by the service.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::json_body;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::keys::Scope;
use sealtrail_core::sinks::{SinkFormat, SinkKind, SinkState};
use sealtrail_core::Timestamp;
use sealtrail_service::sinks::{self, CreateSink, ReplayFrom, StartAt};
use sealtrail_store::SinkRecord;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A sink as the API shows it (never its secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SinkView {
    /// The sink's id.
    id: Uuid,
    /// Its name.
    name: String,
    /// What receives the entries.
    kind: SinkKind,
    /// Where they are sent.
    url: String,
    /// The shape each entry is sent in.
    format: SinkFormat,
    /// Whether it is being delivered.
    state: SinkState,
    /// The next seq to deliver.
    cursor: u64,
    /// Entries appended and not yet delivered.
    lag_entries: u64,
    /// How long the oldest undelivered entry has waited, in seconds (0 when none waits).
    lag_seconds: u64,
    /// Failed attempts in a row.
    failures: u32,
    /// The last failure: the receiver's status and the start of its answer.
    last_error: Option<String>,
    /// When delivery was last attempted.
    last_attempt_at: Option<Timestamp>,
    /// When a batch was last acknowledged.
    delivered_at: Option<Timestamp>,
    /// When the sink was created.
    created_at: Timestamp,
}

fn view(sink: SinkRecord, lag: sinks::Lag) -> SinkView {
    SinkView {
        id: sink.id,
        lag_entries: lag.entries,
        lag_seconds: lag.seconds,
        name: sink.name,
        kind: sink.kind,
        url: sink.url,
        format: sink.format,
        state: sink.state,
        cursor: sink.cursor,
        failures: sink.failures,
        last_error: sink.last_error,
        last_attempt_at: sink.last_attempt_at,
        delivered_at: sink.delivered_at,
        created_at: sink.created_at,
    }
}

async fn shown(state: &AppState, sink: SinkRecord) -> Result<Json<SinkView>, ApiError> {
    let size = state.store.log_size(sink.tenant).await?;
    let lag = sinks::lag(state.store.as_ref(), &sink, size, Timestamp::now()).await?;
    Ok(Json(view(sink, lag)))
}

/// The body of `POST /v1/sinks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// A name unique within the tenant.
    name: String,
    /// Where to POST the batches (`https://…`; `http://` for a receiver on a trusted network).
    url: String,
    /// `webhook` (the default), `splunk_hec` (then `url` is the collector's
    /// `…/services/collector/event` and `token` its HEC token), `syslog` (then `url` is
    /// `syslog+tls://host:port`) or `archive` (then `url` is `s3://bucket/prefix?endpoint=…`
    /// and `token` the object store's `ACCESS_KEY_ID:SECRET_ACCESS_KEY`).
    #[serde(default)]
    kind: Option<String>,
    /// `sealtrail` (the entry as the API gives it, the default) or `ocsf` (OCSF 1.8.0 API
    /// Activity, class 6003).
    #[serde(default)]
    format: Option<String>,
    /// The receiver's own token (Splunk HEC's token, an archive's access key); kept
    /// encrypted, never shown again.
    #[serde(default)]
    token: Option<String>,
    /// `beginning` (the whole log, the default) or `now` (new entries only).
    #[serde(default)]
    start: Option<String>,
}

/// A sink just created, with its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedView {
    /// The sink.
    sink: SinkView,
    /// The signing secret for the receiver (`whsec_…`); shown only now.
    secret: String,
    /// A reminder that it is not shown again.
    warning: &'static str,
}

/// The body of `POST /v1/sinks/{id}/replay`: exactly one of its fields.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// Deliver again from this seq (0: the whole log).
    #[serde(default)]
    from_seq: Option<u64>,
    /// Deliver again from the first entry recorded at or after this time (RFC 3339).
    #[serde(default)]
    from_time: Option<String>,
}

/// The answer to `POST /v1/sinks/{id}/test`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    /// Whether the receiver answered 2xx to a signed test batch.
    delivered: bool,
    /// What went wrong, when it did not.
    error: Option<String>,
}

/// A 422 naming the field, and the rule it broke (`enum` for a value not among those offered).
fn invalid(field: &str, rule: Option<&str>, message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        message,
    )
    .with_field(field, rule)
}

/// `POST /v1/sinks`: creates a sink, delivering from the start of the log or from now.
#[utoipa::path(
    post, path = "/v1/sinks", tag = "sinks", security(("api_key" = [])),
    request_body(content = CreateBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The sink, with the only copy of its signing secret", body = CreatedView),
        (status = 409, description = "The tenant has a sink of that name", body = crate::openapi::bodies::ErrorResponse),
        (status = 422, description = "An unusable name, URL, kind or start", body = crate::openapi::bodies::ErrorResponse),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin)?;
    let body: CreateBody = json_body(&body, r#"{"name": "SIEM", "url": "https://…"}"#)?;
    let kind = match body.kind.as_deref() {
        None => SinkKind::Webhook,
        Some(kind) => {
            SinkKind::parse_named(kind).map_err(|message| invalid("kind", Some("enum"), message))?
        }
    };
    let format = match body.format.as_deref() {
        None => SinkFormat::Sealtrail,
        Some(format) => SinkFormat::parse_named(format)
            .map_err(|message| invalid("format", Some("enum"), message))?,
    };
    let start = match body.start.as_deref() {
        None | Some("beginning") => StartAt::Beginning,
        Some("now") => StartAt::Now,
        Some(other) => {
            return Err(invalid(
                "start",
                Some("enum"),
                format!("`start` must be beginning or now, not `{other}`"),
            ))
        }
    };
    let created = sinks::create(
        state.store.as_ref(),
        &state.pseudonym_key,
        caller.tenant(),
        CreateSink {
            name: body.name,
            kind,
            url: body.url,
            format,
            token: body.token,
            start,
        },
        state.deliverer.private_networks(),
        &caller.as_actor(),
    )
    .await?;
    state.deliverer.wake();
    let Json(sink) = shown(&state, created.sink).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedView {
            sink,
            secret: created.secret,
            warning: "store this secret in the receiver now: it is not shown again",
        }),
    )
        .into_response())
}

/// `GET /v1/sinks`: the tenant's sinks, by name.
#[utoipa::path(
    get, path = "/v1/sinks", tag = "sinks", security(("api_key" = [])),
    responses((status = 200, description = "The tenant's sinks", body = Vec<SinkView>))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<SinkView>>, ApiError> {
    caller.require(Scope::Admin)?;
    let size = state.store.log_size(caller.tenant()).await?;
    let now = Timestamp::now();
    let mut views = Vec::new();
    for sink in state.store.sinks(caller.tenant()).await? {
        let lag = sinks::lag(state.store.as_ref(), &sink, size, now).await?;
        views.push(view(sink, lag));
    }
    Ok(Json(views))
}

/// `GET /v1/sinks/{id}`: one sink, with its lag and last failure.
#[utoipa::path(
    get, path = "/v1/sinks/{id}", tag = "sinks", security(("api_key" = [])),
    params(("id" = String, Path, description = "The sink's id")),
    responses((status = 200, description = "The sink", body = SinkView))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SinkView>, ApiError> {
    caller.require(Scope::Admin)?;
    let sink = sinks::find(state.store.as_ref(), caller.tenant(), &id).await?;
    shown(&state, sink).await
}

/// `POST /v1/sinks/{id}/pause`: stops delivery; it resumes from the same cursor.
#[utoipa::path(
    post, path = "/v1/sinks/{id}/pause", tag = "sinks", security(("api_key" = [])),
    params(("id" = String, Path, description = "The sink's id")),
    responses((status = 200, description = "The sink, paused", body = SinkView))
)]
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SinkView>, ApiError> {
    caller.require(Scope::Admin)?;
    let sink = sinks::pause(
        state.store.as_ref(),
        caller.tenant(),
        &id,
        &caller.as_actor(),
    )
    .await?;
    shown(&state, sink).await
}

/// `POST /v1/sinks/{id}/resume`: delivers again from the cursor (after a pause or a dead
/// letter).
#[utoipa::path(
    post, path = "/v1/sinks/{id}/resume", tag = "sinks", security(("api_key" = [])),
    params(("id" = String, Path, description = "The sink's id")),
    responses((status = 200, description = "The sink, active", body = SinkView))
)]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SinkView>, ApiError> {
    caller.require(Scope::Admin)?;
    let sink = sinks::resume(
        state.store.as_ref(),
        caller.tenant(),
        &id,
        &caller.as_actor(),
    )
    .await?;
    state.deliverer.reset(sink.id);
    shown(&state, sink).await
}

/// `POST /v1/sinks/{id}/replay` `{"from_seq"}`: delivers again from that seq.
#[utoipa::path(
    post, path = "/v1/sinks/{id}/replay", tag = "sinks", security(("api_key" = [])),
    params(("id" = String, Path, description = "The sink's id")),
    request_body(content = ReplayBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The sink, active from that seq", body = SinkView),
        (status = 422, description = "A seq beyond the log", body = crate::openapi::bodies::ErrorResponse),
    )
)]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<SinkView>, ApiError> {
    caller.require(Scope::Admin)?;
    let body: ReplayBody = json_body(&body, r#"{"from_seq": 0}"#)?;
    let from = match (body.from_seq, body.from_time.as_deref()) {
        (Some(seq), None) => ReplayFrom::Seq(seq),
        (None, Some(time)) => ReplayFrom::Time(Timestamp::parse_rfc3339(time).map_err(|_| {
            invalid(
                "from_time",
                None,
                format!("`from_time` is not an RFC 3339 time: `{time}`"),
            )
        })?),
        _ => {
            return Err(invalid(
                "from_seq",
                None,
                "give exactly one of `from_seq` and `from_time`".into(),
            ))
        }
    };
    let sink = sinks::replay(
        state.store.as_ref(),
        caller.tenant(),
        &id,
        from,
        &caller.as_actor(),
    )
    .await?;
    state.deliverer.reset(sink.id);
    shown(&state, sink).await
}

/// `POST /v1/sinks/{id}/test`: sends a signed test batch (no entries) now and says whether
/// the receiver took it; the cursor is not touched.
#[utoipa::path(
    post, path = "/v1/sinks/{id}/test", tag = "sinks", security(("api_key" = [])),
    params(("id" = String, Path, description = "The sink's id")),
    responses((status = 200, description = "What the receiver answered", body = TestResult))
)]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    caller.require(Scope::Admin)?;
    let sink = sinks::find(state.store.as_ref(), caller.tenant(), &id).await?;
    let tenant = state
        .store
        .tenant_by_id(caller.tenant())
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let outcome = state.deliverer.test(&sink, &tenant).await;
    Ok(Json(TestResult {
        delivered: outcome.is_ok(),
        error: outcome.err(),
    }))
}

/// `DELETE /v1/sinks/{id}`: 204; its receiver gets nothing more.
#[utoipa::path(
    delete, path = "/v1/sinks/{id}", tag = "sinks", security(("api_key" = [])),
    params(("id" = String, Path, description = "The sink's id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Admin)?;
    sinks::delete(
        state.store.as_ref(),
        caller.tenant(),
        &id,
        &caller.as_actor(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
