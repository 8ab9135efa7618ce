//! Streaming an export as a download: format, order and filters validated exactly as
//! `GET /v1/events` validates them, then the service's export streamed as the response body.
//! The API's `GET /v1/export`, export jobs and the page's Export buttons all go through here,
//! so they select, record and audit the same entries.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sealtrail_core::entry::Actor;
use sealtrail_core::filter::{parse_query, ParamError, Query};
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_export::Format;
use sealtrail_service::export_stream::{self, ExportRequest};
use sealtrail_service::jobs::{JobFile, JobRecord};
use serde_json::{Map, Value};

/// Validates `format`, `order` and the filters, then starts streaming the download; shared by
/// the API and the page's Export buttons, so both export (and audit) exactly the same way.
pub fn stream_download(
    state: &AppState,
    tenant: TenantId,
    actor: Actor,
    params: &[(String, String)],
) -> Result<Response, ApiError> {
    let format = match params.iter().filter(|(k, _)| k == "format").count() {
        0 => Format::Csv,
        1 => params
            .iter()
            .find(|(k, _)| k == "format")
            .map(|(_, v)| parse_format(v))
            .transpose()?
            .unwrap_or(Format::Csv),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                "query parameter `format` is given more than once",
            )
            .with_field("format", None))
        }
    };
    let now = Timestamp::now();
    let (query, filters) = parse_filters(params, now, &["format", "order"])?;
    let oldest_first = match params
        .iter()
        .filter(|(k, _)| k == "order")
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["newest"] => false,
        ["oldest"] => true,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                "query parameter `order` must be given once, as `newest` or `oldest`",
            )
            .with_field("order", Some("enum")))
        }
    };
    let chunks = export_stream::start(
        state.store.clone(),
        state.checkpointer.clone(),
        ExportRequest {
            tenant,
            query,
            format,
            filters,
            actor,
            progress: None,
            job: None,
            oldest_first,
        },
    );
    let stream = futures::stream::unfold(chunks, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let disposition = format!("attachment; filename=\"{}\"", format.file_name(now));
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Parses an export format name, answering 400 naming `format` and listing the valid names, so
/// the download and the export jobs refuse a format the same way.
pub fn parse_format(name: &str) -> Result<Format, ApiError> {
    name.parse::<Format>().map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", e.to_string())
            .with_field("format", Some("enum"))
    })
}

/// Validates filters exactly as `GET /v1/events` does and returns the query together with the
/// filters as recorded in the file and the audit entry (paging and `extra_allowed` parameters
/// left out), so a download and an export job select and record the same entries.
pub fn parse_filters(
    params: &[(String, String)],
    now: Timestamp,
    extra_allowed: &[&str],
) -> Result<(Query, Value), ParamError> {
    let query = parse_query(params, now, extra_allowed)?;
    let mut filters: Map<String, Value> = Map::new();
    for (k, v) in params
        .iter()
        .filter(|(k, _)| k != "limit" && k != "cursor" && !extra_allowed.contains(&k.as_str()))
    {
        let value = Value::String(v.clone());
        // A repeated parameter (several events or categories) is described as a list.
        match filters.get_mut(k) {
            Some(Value::Array(list)) => list.push(value),
            Some(first) => *first = Value::Array(vec![first.clone(), value]),
            None => {
                filters.insert(k.clone(), value);
            }
        }
    }
    Ok((query, Value::Object(filters)))
}

/// Longest accepted export job name, in characters.
pub const MAX_JOB_NAME: usize = 200;

/// An export job's label, as the API and the page's Exports panel accept it; defaults to the
/// file name so every job has a readable one.
pub fn job_name(name: Option<String>, format: Format, now: Timestamp) -> Result<String, ApiError> {
    let name = name.map(|n| n.trim().to_string()).unwrap_or_default();
    if name.chars().count() > MAX_JOB_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("`name` must be at most {MAX_JOB_NAME} characters without control characters"),
        )
        .with_field("name", Some("format")));
    }
    Ok(if name.is_empty() {
        format.file_name(now)
    } else {
        name
    })
}

/// A ready export job's file as a download (read from the store piece by piece, `no-store`),
/// for the API and the page alike, from whichever node the request reached.
pub fn job_file_response(record: &JobRecord, file: JobFile) -> Response {
    let length = Some(file.len());
    let stream = file.into_stream();
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(record.format.content_type()),
    );
    let disposition = format!("attachment; filename=\"{}\"", record.file_name);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
