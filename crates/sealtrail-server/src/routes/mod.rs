//! The HTTP surface: route table, shared request plumbing and middleware order.

pub mod directory;
pub mod events;
pub mod export;
pub mod exports;
pub mod integrity;
pub mod lifecycle;
pub mod limits;
pub mod ops;
pub mod tiles;
pub mod witness;

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{delete, get, post, put};
use axum::Router;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Builds the application. Every `/v1` route authenticates inside its handler via
/// [`crate::auth::Caller`]; the web page's routes ([`crate::web::routes`]) via the session cookie.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    Router::new()
        .route("/v1/events", post(events::ingest).get(events::list))
        .route("/v1/events/{id}", get(events::detail))
        .route("/v1/facets", get(directory::facets))
        .route("/v1/export", get(export::download))
        .route("/v1/exports", get(exports::list).post(exports::create))
        .route("/v1/exports/{id}", get(exports::show))
        .route("/v1/exports/{id}/download", get(exports::download))
        .route("/v1/tenant", get(directory::tenant))
        .route(
            "/v1/keys",
            get(directory::list_keys).post(directory::create_key),
        )
        .route("/v1/keys/{id}", delete(directory::revoke_key))
        .route(
            "/v1/checkpoint",
            get(integrity::latest).post(integrity::sign_now),
        )
        .route("/v1/proof/inclusion", get(integrity::inclusion))
        .route("/v1/proof/consistency", get(integrity::consistency))
        .route("/v1/settings", get(lifecycle::show))
        .route("/v1/settings/retention", put(lifecycle::set_retention))
        .route("/v1/settings/legal-hold", put(lifecycle::set_legal_hold))
        .route(
            "/v1/settings/export-exclusions",
            put(lifecycle::set_export_exclusions),
        )
        .route("/v1/settings/limits", put(limits::set_limits))
        .route("/v1/settings/tiles", put(lifecycle::set_tile_access))
        .route("/tlog/{tenant}/checkpoint", get(tiles::checkpoint))
        .route("/tlog/{tenant}/tile/{*path}", get(tiles::tile))
        .route("/witness/add-checkpoint", post(witness::add_checkpoint))
        .route("/v1/admin/prune", post(lifecycle::prune))
        .route("/v1/subjects/{subject}/erase", post(lifecycle::erase))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .merge(crate::web::routes())
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn(ops::track))
        .layer(axum::middleware::from_fn(crate::web::security_headers))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

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

/// Decodes a small JSON request body, answering 400 `malformed_json` with the expected shape.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ApiError> {
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
