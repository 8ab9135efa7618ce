//! Request plumbing the API and the page share: bodies read within a limit (413 before reading
//! when `Content-Length` already says too much), bodies drained after a refusal, JSON bodies
//! with a clear error, and query strings as ordered pairs.

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};

/// Reads a request body up to `limit` bytes, answering 413 (with the limit) beyond it — before
/// reading anything when `Content-Length` already says so.
pub async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        ApiError::too_large(format!(
            "request body is larger than the {limit}-byte limit"
        ))
    };
    let declared = declared_length(headers);
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// Reads and drops the body of a request the server refuses before reading it (503 when the
/// ingest buffer is full). A client is usually still sending a large body when the refusal is
/// ready; closing the connection with its bytes unread makes the kernel reset it, and the
/// client then sees a broken connection instead of the 503 and its `Retry-After`. Nothing is
/// kept, so memory stays bounded; past `limit` bytes (or on a read error) it stops and the
/// connection closes after all.
pub async fn discard_body(body: Body, limit: usize) {
    use futures::StreamExt;
    let mut chunks = body.into_data_stream();
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = chunks.next().await {
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            break;
        }
    }
}

/// The body length the client announced in `Content-Length`, if any.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The first value of query parameter `name`, if present.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Decodes a small JSON object body, answering 400 `malformed_json` with the expected shape.
///
/// Anything but an object is refused before decoding: `serde` would otherwise read a struct
/// from an array of its members in order, so `[365, false]` would quietly set a retention.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ApiError> {
    if !is_json_object(body) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("expected {shape}: the body must be a JSON object"),
        ));
    }
    json_value_body(body, shape)
}

/// Whether `body` holds a JSON object at its top level (by its first significant byte; the
/// decoder then checks the rest).
pub fn is_json_object(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// Decodes a small JSON body of any shape (a JSON Schema may be `true` or `false`).
pub fn json_value_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    shape: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("expected {shape}: {e}"),
        )
    })
}

/// Decodes a raw query string into ordered pairs, keeping repeated keys so the filter parser
/// can refuse them.
pub fn query_params(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}
