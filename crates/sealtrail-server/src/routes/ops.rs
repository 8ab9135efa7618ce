//! Operational endpoints (`/healthz`, `/metrics`), the JSON 404, and request metrics.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::sinks::SinkState;
use serde_json::json;
use std::time::Instant;

/// `GET /healthz`: 200 when the store answers, 503 otherwise, for load balancers.
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The store answers", body = crate::openapi::bodies::Health), (status = 503, description = "The store does not answer", body = crate::openapi::bodies::Health))
)]
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.health().await {
        Ok(()) => Json(json!({ "status": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    crate::process_metrics::record();
    // Every state, so a state that emptied reads 0 rather than its last count.
    match state.store.sink_state_counts().await {
        Ok(counts) => {
            for sink_state in [SinkState::Active, SinkState::Paused, SinkState::DeadLetter] {
                let n = counts
                    .iter()
                    .find(|(s, _)| *s == sink_state)
                    .map_or(0, |(_, n)| *n);
                metrics::gauge!("sealtrail_sinks", "state" => sink_state.as_str()).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "counting sinks for /metrics failed"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Unknown paths get the same problem document as everything else.
pub async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

/// A known path with a method it does not take: axum answers 405 with `Allow` and no body;
/// this gives it the problem document every other error has, keeping `Allow`. (A middleware
/// rather than a router fallback, so the routes' own layers — the Retraced viewer's CORS
/// preflights — still see their requests first.)
pub async fn explain_method_not_allowed(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut problem = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this path does not take {method}; the Allow header lists what it takes"),
    )
    .into_response();
    if let Some(allow) = allow {
        problem.headers_mut().insert(header::ALLOW, allow);
    }
    problem
}

/// Counts requests and observes latency per route template (never per raw path, which would
/// let clients create unbounded label values).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("sealtrail_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("sealtrail_http_request_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
