//! `/exports`: the page's panel for queued, named exports (seed 004 queues an export of the
//! current view under a name and downloads it later). The audit page's "Queue this view"
//! form posts here; the list shows each job's status and progress, refreshing itself while
//! one is still running, and offers the file once it is ready.
//!
//! The jobs are the API's own (`/v1/exports`): the same runner, the same limits, the same
//! `audit_log.exported` entry when the file is written. Only signed-in users whose role may
//! read the log reach these pages.

use crate::download::{job_file_response, job_name, parse_filters, parse_format};
use crate::request::query_params;
use crate::state::AppState;
use crate::web::error::{render, PageError};
use crate::web::frame::PageFrame;
use crate::web::session::{check_same_origin, WebUser};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use sealtrail_core::Timestamp;
use sealtrail_export::Format;
use sealtrail_service::jobs::{JobError, JobId, JobRecord, JobState, NewJob};
use serde::Deserialize;

/// One job as the panel lists it.
#[derive(Debug)]
pub struct JobRow {
    /// Job id (the download path's last segment but one).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The format's label.
    pub format: &'static str,
    /// queued, running, ready, failed or expired.
    pub state: &'static str,
    /// Rows written so far (all of them once ready).
    pub rows: u64,
    /// What it selects, as `key: value` pairs.
    pub filters: String,
    /// When it was queued (UTC).
    pub created: String,
    /// Why it failed, if it did.
    pub error: String,
    /// The file can be downloaded.
    pub ready: bool,
}

impl JobRow {
    fn new(record: &JobRecord) -> Self {
        let filters = record
            .filters
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}: {}",
                            v.as_str().map_or_else(|| v.to_string(), str::to_string)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .unwrap_or_default();
        JobRow {
            id: record.id.to_string(),
            name: record.name.clone(),
            format: record.format.as_str(),
            state: record.state.as_str(),
            rows: record.rows,
            filters: if filters.is_empty() {
                "everything".into()
            } else {
                filters
            },
            created: record
                .created_at
                .to_rfc3339()
                .replacen('T', " ", 1)
                .replace('Z', " UTC"),
            error: record.error.clone().unwrap_or_default(),
            ready: record.state == JobState::Ready,
        }
    }
}

#[derive(Template)]
#[template(path = "exports.html")]
struct ExportsPage {
    frame: PageFrame,
    jobs: Vec<JobRow>,
    /// Some job is still queued or running: the page reloads itself every few seconds.
    pending: bool,
    notice: String,
}

/// `?queued=<id>` after a job was accepted.
#[derive(Debug, Deserialize)]
pub struct Queued {
    queued: Option<String>,
}

/// `GET /exports`: the tenant's export jobs, newest first.
pub async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(queued): Query<Queued>,
) -> Result<Response, PageError> {
    user.require_log_access()?;
    let records = state
        .exports
        .list(user.tenant.id)
        .await
        .map_err(job_error)?;
    let jobs: Vec<JobRow> = records.iter().map(JobRow::new).collect();
    let notice = match queued.queued {
        Some(_) => {
            "Export queued. It appears below with its progress; download it when it is ready."
                .into()
        }
        None => String::new(),
    };
    let page = ExportsPage {
        frame: user.frame("Exports", "exports"),
        pending: records.iter().any(|r| r.state.is_pending()),
        jobs,
        notice,
    };
    Ok(render(&page))
}

/// `POST /exports`: queues the view described by `query` (the audit page's own query string)
/// under `name`, in `format`.
pub async fn queue(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    user.require_log_access()?;
    check_same_origin(&headers)?;
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    user.check_csrf(field("csrf"))?;
    let now = Timestamp::now();
    let format = match field("format") {
        "" => Format::Csv,
        f => parse_format(f).map_err(|e| PageError::BadRequest(e.body.message))?,
    };
    let name = job_name(Some(field("name").to_string()), format, now)
        .map_err(|e| PageError::BadRequest(e.body.message))?;
    let params: Vec<(String, String)> = query_params(Some(field("query")))
        .into_iter()
        .filter(|(k, v)| {
            !v.trim().is_empty() && !matches!(k.as_str(), "cursor" | "limit" | "format")
        })
        .map(|(k, v)| match (k.as_str(), v.as_str()) {
            ("system", "on") => (k, "true".to_string()),
            _ => (k, v),
        })
        .collect();
    let (_, filters) =
        parse_filters(&params, now, &[]).map_err(|e| PageError::BadRequest(e.to_string()))?;
    let job = NewJob {
        name,
        format,
        filters,
        params,
        actor: user.actor(),
    };
    let record = state
        .exports
        .submit(user.tenant.id, job)
        .await
        .map_err(job_error)?;
    Ok(Redirect::to(&format!("/exports?queued={}", record.id)).into_response())
}

/// `GET /exports/{id}/download`: the finished file.
pub async fn download(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    user.require_log_access()?;
    let id = JobId::parse(&id).ok_or_else(|| PageError::NotFound("export job".into()))?;
    let (record, file) = state
        .exports
        .open_download(user.tenant.id, id)
        .await
        .map_err(job_error)?;
    Ok(job_file_response(&record, file))
}

/// A job refusal as the page shows it; another tenant's job is simply not found.
fn job_error(e: JobError) -> PageError {
    match e {
        JobError::NotFound => PageError::NotFound("export job".into()),
        JobError::Expired => PageError::Gone(
            "This export's file was deleted after it expired; queue it again.".into(),
        ),
        JobError::NotReady(state) => PageError::Conflict(format!(
            "This export is {}; download it once it is ready.",
            state.as_str()
        )),
        JobError::TooMany => PageError::Conflict(e.to_string()),
        other => PageError::Internal(other.to_string()),
    }
}
