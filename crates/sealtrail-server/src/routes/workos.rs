//! WorkOS Audit Logs' API at the server root (the WorkOS SDKs cannot use a path prefix), so
//! `@workos-inc/node` and its siblings work by pointing their host at Sealtrail. Keys are
//! Sealtrail API keys sent as WorkOS sends its own (`Authorization: Bearer`); answers and
//! errors have WorkOS's shapes (`{"success": true}`; `{"message", "code", "errors"}`), which
//! the SDKs parse into their exceptions, and every answer carries an `X-Request-ID`.

use crate::auth::{allowlisted, enforce_allowlist, Caller, IngestCaller};
use crate::client_addr::ClientInfo;
use crate::download::{job_file_response, job_name, parse_filters};
use crate::error::ApiError;
use crate::request::{json_body, json_value_body, param, query_params, read_body};
use crate::routes::events::{admit_body, idempotency_header};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::compat::workos::{export, retention, schema, Invalid};
use sealtrail_core::keys::Scope;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_export::Format;
use sealtrail_service::jobs::{JobError, JobId, JobRecord, JobState, NewJob};
use sealtrail_service::schemas;
use sealtrail_service::workos::{self, CreateEvent};
use sealtrail_service::ServiceError;
use sealtrail_store::StoredSchema;
use serde_json::{json, Map, Value};

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

/// A caller authenticated by its `Bearer` key whose address is on its tenant's IP allowlist:
/// every WorkOS route but event creation, as [`Caller`] is every native route but ingest.
pub struct WorkosReader(pub Caller);

impl FromRequestParts<AppState> for WorkosReader {
    type Rejection = WorkosError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = IngestCaller::from_request_parts(parts, state).await?.0;
        Ok(WorkosReader(allowlisted(parts, state, caller).await?))
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
            // The event's action schema: WorkOS's 422, the field named as the request names it.
            ServiceError::Field(e) => WorkosError {
                api: ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "Validation failed.",
                ),
                errors: Some(json!([{ "code": e.rule, "field": e.field, "message": e.message }])),
            },
            other => ApiError::from(other).into(),
        }
    }
}

impl IntoResponse for WorkosError {
    fn into_response(self) -> Response {
        let body = crate::openapi::bodies::WorkosErrorBody {
            message: self.api.body.message.clone(),
            code: self.api.body.code.clone(),
            errors: self.errors,
        };
        self.api.render_as(body)
    }
}

/// `POST /audit_logs/events` `{"organization_id", "event"}`: 200 `{"success": true}` once the
/// event is durably stored, and the same for a retry carrying the same `Idempotency-Key`.
#[utoipa::path(
    post, path = "/audit_logs/events", tag = "workos", security(("workos_key" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Deduplicates the SDK's retries")),
    request_body(content = crate::openapi::bodies::WorkosEventRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Durably stored (or already stored under its idempotency key)", body = crate::openapi::bodies::WorkosSuccess),
        (status = 400, description = "The event breaks WorkOS's rules; `errors` names the fields", body = crate::openapi::bodies::WorkosErrorBody),
        (status = 422, description = "The event breaks its action's registered schema", body = crate::openapi::bodies::WorkosErrorBody),
    )
)]
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
        &state.schemas,
        request,
        admitted.queued,
    )
    .await?;
    Ok(Json(json!({ "success": true })).into_response())
}

/// The purpose the download links' key is derived for from the deployment's key.
const LINK_KEY_PURPOSE: &str = "sealtrail workos export links v1";

/// Largest export request body.
const MAX_EXPORT_BODY: usize = 64 * 1024;

/// The key download links are signed with: the same on every node.
fn link_key(state: &AppState) -> [u8; 32] {
    state.pseudonym_key.derive(LINK_KEY_PURPOSE)
}

impl From<JobError> for WorkosError {
    fn from(e: JobError) -> Self {
        ApiError::from(e).into()
    }
}

/// `POST /audit_logs/exports`: queues a CSV export of the organization's entries in the range
/// (key scope `export`, the tenant's IP allowlist applies) and answers 201 with the export,
/// `state: "pending"`.
#[utoipa::path(
    post, path = "/audit_logs/exports", tag = "workos", security(("workos_key" = [])),
    request_body(content = crate::openapi::bodies::WorkosExportRequest, content_type = "application/json"),
    responses((status = 201, description = "Queued", body = crate::openapi::bodies::WorkosExport), (status = 400, description = "A refused filter or range", body = crate::openapi::bodies::WorkosErrorBody))
)]
pub async fn create_export(
    State(state): State<AppState>,
    WorkosReader(caller): WorkosReader,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WorkosError> {
    caller.require(Scope::Export)?;
    let bytes = read_body(body, &headers, MAX_EXPORT_BODY).await?;
    let body: Map<String, Value> = json_body(
        &bytes,
        "a JSON object with organization_id, range_start and range_end",
    )?;
    let request = export::parse_export(&body).map_err(ServiceError::Workos)?;
    workos::check_organization(
        state.store.as_ref(),
        caller.tenant(),
        &request.organization_id,
    )
    .await?;
    let now = Timestamp::now();
    let (_, filters) = parse_filters(&request.params, now, &[])
        .map_err(|e| ServiceError::Workos(export_invalid(&e.param, e.to_string())))?;
    let job = NewJob {
        name: job_name(None, Format::Csv, now)?,
        format: Format::Csv,
        filters,
        params: request.params,
        actor: caller.as_actor(),
    };
    let record = state.exports.submit(caller.tenant(), job).await?;
    let view = export_view(&state, &headers, &record);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /audit_logs/exports/{id}`: the export, with a fresh ten-minute download `url` once it
/// is ready.
#[utoipa::path(
    get, path = "/audit_logs/exports/{id}", tag = "workos", security(("workos_key" = [])),
    params(("id" = String, Path, description = "The export's id")),
    responses((status = 200, description = "The export, with a ten-minute download `url` once ready", body = crate::openapi::bodies::WorkosExport))
)]
pub async fn get_export(
    State(state): State<AppState>,
    WorkosReader(caller): WorkosReader,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, WorkosError> {
    caller.require(Scope::Export)?;
    let id = JobId::parse(&id).ok_or(JobError::NotFound)?;
    let record = state.exports.get(caller.tenant(), id).await?;
    Ok(Json(export_view(&state, &headers, &record)).into_response())
}

/// `GET /audit_logs/exports/{id}/download?tenant=&expires=&signature=`: the export's CSV for
/// whoever holds an unexpired link (the SDKs fetch `url` without credentials), from an address
/// the tenant's IP allowlist admits; 404 for a link that does not check, whatever is wrong
/// with it.
#[utoipa::path(
    get, path = "/audit_logs/exports/{id}/download", tag = "workos",
    params(("id" = String, Path, description = "The export's id"),
        ("tenant" = String, Query), ("expires" = String, Query), ("signature" = String, Query, description = "The link's HMAC")),
    responses((status = 200, description = "The CSV", content_type = "text/csv", body = String))
)]
pub async fn download_export(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WorkosError> {
    let params = query_params(raw.as_deref());
    let tenant = param(&params, "tenant").and_then(|t| t.parse::<i64>().ok());
    let expires = param(&params, "expires").and_then(|e| e.parse::<i64>().ok());
    let signature = param(&params, "signature").unwrap_or_default();
    let (Some(tenant), Some(expires)) = (tenant, expires) else {
        return Err(JobError::NotFound.into());
    };
    let valid = export::check_link(
        &link_key(&state),
        tenant,
        &id,
        expires,
        signature,
        Timestamp::now(),
    );
    let id = JobId::parse(&id)
        .filter(|_| valid)
        .ok_or(JobError::NotFound)?;
    // The link stands in for the key, not for the address: the tenant's allowlist still holds.
    enforce_allowlist(&state, TenantId(tenant), client.ip).await?;
    let (record, file) = state.exports.open_download(TenantId(tenant), id).await?;
    Ok(job_file_response(&record, file))
}

/// A filter the list would refuse, at the request field it came from.
fn export_invalid(param: &str, message: String) -> Invalid {
    let field = match param {
        "from" => "range_start",
        "to" => "range_end",
        "action" => "actions",
        "target_type" => "targets",
        "actor" => "actor_ids",
        other => other,
    };
    Invalid {
        instance_path: format!("/{field}"),
        message,
    }
}

/// The export as WorkOS shows it.
fn export_view(state: &AppState, headers: &HeaderMap, record: &JobRecord) -> Value {
    let state_name = match record.state {
        JobState::Queued | JobState::Running => "pending",
        JobState::Ready => "ready",
        JobState::Failed => "error",
        JobState::Expired => "expired",
    };
    let url = (record.state == JobState::Ready).then(|| {
        let link = export::sign_link(
            &link_key(state),
            record.tenant.0,
            &record.id.to_string(),
            Timestamp::now(),
        );
        format!(
            "{}/audit_logs/exports/{}/download?{link}",
            origin(headers),
            record.id
        )
    });
    let updated = record
        .finished_at
        .or(record.started_at)
        .unwrap_or(record.created_at);
    json!({
        "object": "audit_log_export",
        "id": record.id.to_string(),
        "state": state_name,
        "url": url,
        "created_at": record.created_at,
        "updated_at": updated,
    })
}

/// The scheme and host the client reached this server by, for the absolute `url` the SDKs
/// fetch: `X-Forwarded-Proto` (a TLS proxy in front) or plain HTTP, and the `Host` header.
/// A client that sends a false `Host` only gets a link to somewhere else.
fn origin(headers: &HeaderMap) -> String {
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// `POST /audit_logs/actions/{action}/schemas` (`createSchema`): registers the next version
/// of the action's schema from WorkOS's form (key scope `admin`); 201 with WorkOS's schema
/// object. Events with the action are checked against it from then on. The tenant's IP
/// allowlist applies, as to every route but ingest.
#[utoipa::path(
    post, path = "/audit_logs/actions/{action}/schemas", tag = "workos", security(("workos_key" = [])),
    params(("action" = String, Path, description = "The action")),
    request_body(content = Object, description = "WorkOS's `targets`, `actor` and `metadata` schema form", content_type = "application/json"),
    responses((status = 201, description = "The new version", body = Object), (status = 400, description = "Not a usable schema", body = crate::openapi::bodies::WorkosErrorBody))
)]
pub async fn create_schema(
    State(state): State<AppState>,
    WorkosReader(caller): WorkosReader,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WorkosError> {
    caller.require(Scope::Admin)?;
    let bytes = read_body(body, &headers, MAX_EXPORT_BODY).await?;
    let body: Value = json_value_body(&bytes, "a JSON object")?;
    let document = schema::to_json_schema(&body).map_err(ServiceError::Workos)?;
    let stored = state
        .schemas
        .register(
            state.store.as_ref(),
            caller.tenant(),
            &action,
            &document,
            Some(&body),
            &caller.as_actor(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(workos_schema(&stored))).into_response())
}

/// `GET /audit_logs/actions/{action}/schemas` (`listSchemas`): the action's versions, newest
/// first, in one page of WorkOS's list shape.
#[utoipa::path(
    get, path = "/audit_logs/actions/{action}/schemas", tag = "workos", security(("workos_key" = [])),
    params(("action" = String, Path, description = "The action")),
    responses((status = 200, description = "The action's versions, newest first", body = Object))
)]
pub async fn list_schemas(
    State(state): State<AppState>,
    WorkosReader(caller): WorkosReader,
    Path(action): Path<String>,
) -> Result<Response, WorkosError> {
    caller.require(Scope::Read)?;
    let stored = schemas::list(state.store.as_ref(), caller.tenant()).await?;
    let data: Vec<Value> = stored
        .iter()
        .rev()
        .filter(|s| s.action == action)
        .map(workos_schema)
        .collect();
    Ok(Json(list_page(data)).into_response())
}

/// `GET /audit_logs/actions` (`list_actions`): each action with a schema, its newest version
/// as `schema`, in one page of WorkOS's list shape.
#[utoipa::path(
    get, path = "/audit_logs/actions", tag = "workos", security(("workos_key" = [])),
    responses((status = 200, description = "Each action with a schema", body = Object))
)]
pub async fn list_actions(
    State(state): State<AppState>,
    WorkosReader(caller): WorkosReader,
) -> Result<Response, WorkosError> {
    caller.require(Scope::Read)?;
    let stored = schemas::list(state.store.as_ref(), caller.tenant()).await?;
    let mut data: Vec<Value> = Vec::new();
    for group in stored.chunk_by(|a, b| a.action == b.action) {
        if let (Some(first), Some(latest)) = (group.first(), group.last()) {
            data.push(json!({
                "object": "audit_log_action",
                "name": latest.action,
                "schema": workos_schema(latest),
                "created_at": first.created_at,
                "updated_at": latest.created_at,
            }));
        }
    }
    Ok(Json(list_page(data)).into_response())
}

/// One registered version as WorkOS's schema object.
fn workos_schema(stored: &StoredSchema) -> Value {
    schema::schema_object(
        stored.version,
        stored.source.as_deref(),
        &stored.document,
        &stored.created_at.to_string(),
    )
}

/// WorkOS's list shape holding everything in one page (`after: null` ends the SDKs'
/// auto-pagination).
fn list_page(data: Vec<Value>) -> Value {
    json!({
        "object": "list",
        "data": data,
        "list_metadata": {"before": null, "after": null},
    })
}

/// `GET /organizations/{id}/audit_logs_retention`: the tenant's retention in days (`null`
/// when it keeps its log forever). Key scope `read`; the IP allowlist applies.
#[utoipa::path(
    get, path = "/organizations/{organization}/audit_logs_retention", tag = "workos", security(("workos_key" = [])),
    params(("organization" = String, Path, description = "The organization: a tenant's name or alias")),
    responses((status = 200, description = "The retention in days (null: forever)", body = crate::openapi::bodies::WorkosRetention))
)]
pub async fn get_retention(
    State(state): State<AppState>,
    WorkosReader(caller): WorkosReader,
    Path(organization): Path<String>,
) -> Result<Response, WorkosError> {
    caller.require(Scope::Read)?;
    workos::check_organization(state.store.as_ref(), caller.tenant(), &organization).await?;
    let settings = state
        .store
        .settings(caller.tenant())
        .await
        .map_err(ApiError::from)?;
    Ok(Json(retention::answer(settings.retention)).into_response())
}

/// `PUT /organizations/{id}/audit_logs_retention`: sets the tenant's retention from WorkOS's
/// period, within Sealtrail's 30-day floor, audited as every retention change. Key scope
/// `admin`; the IP allowlist applies.
#[utoipa::path(
    put, path = "/organizations/{organization}/audit_logs_retention", tag = "workos", security(("workos_key" = [])),
    params(("organization" = String, Path, description = "The organization: a tenant's name or alias")),
    request_body(content = crate::openapi::bodies::WorkosRetentionRequest, content_type = "application/json"),
    responses((status = 200, description = "The retention now", body = crate::openapi::bodies::WorkosRetention), (status = 422, description = "Below the 30-day floor", body = crate::openapi::bodies::WorkosErrorBody))
)]
pub async fn put_retention(
    State(state): State<AppState>,
    WorkosReader(caller): WorkosReader,
    Path(organization): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WorkosError> {
    caller.require(Scope::Admin)?;
    workos::check_organization(state.store.as_ref(), caller.tenant(), &organization).await?;
    let bytes = read_body(body, &headers, MAX_EXPORT_BODY).await?;
    let body: Value = json_value_body(&bytes, "a JSON object")?;
    let wanted = retention::requested(&body).map_err(ServiceError::Workos)?;
    sealtrail_service::lifecycle::set_retention(
        state.store.as_ref(),
        caller.tenant(),
        wanted,
        &caller.as_actor(),
    )
    .await?;
    let settings = state
        .store
        .settings(caller.tenant())
        .await
        .map_err(ApiError::from)?;
    Ok(Json(retention::answer(settings.retention)).into_response())
}
