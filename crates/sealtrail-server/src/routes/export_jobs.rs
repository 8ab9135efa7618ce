//! `/v1/exports`: background export jobs for exports too large to wait for — create one, poll
//! it, list them, download the file when it is ready. Scope `export` throughout; a job is
//! visible only to its own tenant.

use crate::auth::Caller;
use crate::download::{job_file_response, job_name, parse_filters, parse_format};
use crate::error::ApiError;
use crate::request::read_body;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::filter::ParamError;
use sealtrail_core::keys::Scope;
use sealtrail_core::Timestamp;
use sealtrail_export::Format;
use sealtrail_service::jobs::{JobError, JobId, JobRecord, JobState, NewJob};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest job request accepted: a name and a handful of filters never come near it.
const MAX_BODY: usize = 64 * 1024;

/// `POST /v1/exports` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    filters: Map<String, Value>,
}

/// A job as the API shows it: the record without its tenant, plus where to download it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct JobView<'a> {
    id: String,
    name: &'a str,
    format: &'static str,
    #[schema(value_type = Object)]
    filters: &'a Value,
    #[schema(value_type = String)]
    state: JobState,
    rows: u64,
    bytes: u64,
    file_name: &'a str,
    created_at: Timestamp,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    download_url: String,
}

/// `GET /v1/exports`: the tenant's jobs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct JobList<'a> {
    jobs: Vec<JobView<'a>>,
}

fn view(record: &JobRecord) -> JobView<'_> {
    JobView {
        id: record.id.to_string(),
        name: &record.name,
        format: record.format.as_str(),
        filters: &record.filters,
        state: record.state,
        rows: record.rows,
        bytes: record.bytes,
        file_name: &record.file_name,
        created_at: record.created_at,
        started_at: record.started_at,
        finished_at: record.finished_at,
        expires_at: record.expires_at,
        error: record.error.as_deref(),
        download_url: format!("/v1/exports/{}/download", record.id),
    }
}

/// Queues an export of exactly what `GET /v1/events` with `filters` lists; answers 202 with
/// the job (and its URL in `Location`) before any entry is read.
#[utoipa::path(
    post, path = "/v1/exports", tag = "exports", security(("api_key" = [])),
    request_body(content = CreateBody, content_type = "application/json"),
    responses(
        (status = 202, description = "Queued", body = JobView),
        (status = 422, description = "An unusable name, or filters that are not a filter object", body = crate::openapi::bodies::ErrorResponse),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(Scope::Export)?;
    let bytes = read_body(body, &headers, MAX_BODY.min(state.max_body_bytes)).await?;
    let body = parse_body(&bytes)?;
    let format = body.format.as_deref().map(parse_format).transpose()?;
    let format = format.unwrap_or(Format::Csv);
    let now = Timestamp::now();
    let name = job_name(body.name, format, now)?;
    let params = filter_params(&body.filters)?;
    let (_, filters) = parse_filters(&params, now, &[]).map_err(filter_error)?;
    let job = NewJob {
        name,
        format,
        filters,
        params,
        actor: caller.as_actor(),
    };
    let record = state.exports.submit(caller.tenant(), job).await?;
    let mut response = (StatusCode::ACCEPTED, Json(view(&record))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/exports/{}", record.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One job, with its progress while it runs.
#[utoipa::path(
    get, path = "/v1/exports/{id}", tag = "exports", security(("api_key" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, description = "The job", body = JobView))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Export)?;
    let id = JobId::parse(&id).ok_or(JobError::NotFound)?;
    let record = state.exports.get(caller.tenant(), id).await?;
    Ok(Json(view(&record)).into_response())
}

/// The caller's tenant's jobs, newest first (finished ones stay listed a week past expiry).
#[utoipa::path(
    get, path = "/v1/exports", tag = "exports", security(("api_key" = [])),
    responses((status = 200, description = "The tenant's jobs, newest first", body = JobList))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Scope::Export)?;
    let records = state.exports.list(caller.tenant()).await?;
    let jobs: Vec<JobView<'_>> = records.iter().map(view).collect();
    Ok(Json(JobList { jobs }).into_response())
}

/// Streams a ready job's file as `audit-log-<UTC>.<ext>`; 409 before it is ready, 410 after
/// it expired.
#[utoipa::path(
    get, path = "/v1/exports/{id}/download", tag = "exports", security(("api_key" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/csv"), (String = "application/json"), (String = "application/x-ndjson"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (Vec<u8> = "application/pdf"),
            (Vec<u8> = "application/x-tar"),
        )),
        (status = 409, description = "Not ready yet", body = crate::openapi::bodies::ErrorResponse),
        (status = 410, description = "Expired", body = crate::openapi::bodies::ErrorResponse),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Export)?;
    let id = JobId::parse(&id).ok_or(JobError::NotFound)?;
    let (record, file) = state.exports.open_download(caller.tenant(), id).await?;
    Ok(job_file_response(&record, file))
}

/// Malformed JSON is 400; well-formed JSON of the wrong shape (unknown field, wrong type) 422.
fn parse_body(bytes: &[u8]) -> Result<CreateBody, ApiError> {
    if !crate::request::is_json_object(bytes) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body must be a JSON object such as {\"format\": \"csv\", \"filters\": {}}",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                e.to_string(),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string())
        }
    })
}

/// Turns the `filters` object into the parameter pairs `GET /v1/events` takes. Strings are
/// taken as they are, numbers and booleans as their JSON text; paging parameters are refused
/// because a job always exports every match.
fn filter_params(filters: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    let mut params = Vec::with_capacity(filters.len());
    for (key, value) in filters {
        let field = format!("filters.{key}");
        if matches!(key.as_str(), "limit" | "cursor" | "format") {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                format!("filter `{key}` is not a filter: a job exports every match, and `format` goes at the top level"),
            )
            .with_field(field, None));
        }
        if let (Value::Array(values), true) = (
            value,
            sealtrail_core::filter::MULTI_VALUED.contains(&key.as_str()),
        ) {
            for v in values {
                let Value::String(s) = v else {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "validation_failed",
                        format!("filter `{key}` must be a string or a list of strings"),
                    )
                    .with_field(field, Some("type")));
                };
                params.push((key.clone(), s.clone()));
            }
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    format!("filter `{key}` must be a string, number or boolean"),
                )
                .with_field(field, Some("type")))
            }
        };
        params.push((key.clone(), text));
    }
    Ok(params)
}

/// A filter the events list would refuse, named as the field of the body it came from.
fn filter_error(e: ParamError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        format!("filter `{}`: {}", e.param, e.message),
    )
    .with_field(format!("filters.{}", e.param), None)
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::NotFound => ApiError::not_found("export job"),
            JobError::NotReady(_) => {
                ApiError::new(StatusCode::CONFLICT, "not_ready", e.to_string())
            }
            JobError::Expired => ApiError::gone(e.to_string()),
            JobError::TooMany => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_jobs",
                e.to_string(),
            ),
            JobError::Store(e) => ApiError::from(e),
            JobError::Corrupt { .. } => {
                tracing::error!(error = %e, "export job storage error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "export job storage error; it has been logged",
                )
            }
        }
    }
}
