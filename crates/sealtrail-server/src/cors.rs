//! CORS for the routes a page on another site may call with an API key it holds (a widget
//! showing a customer their own audit trail, or a front end recording events): reading
//! entries, facets, checkpoints and proofs, exporting, and ingest. Which origins may do so is
//! each tenant's setting (`PUT /v1/settings/cors`), empty by default.
//!
//! A preflight carries no key, so it cannot name a tenant: it is answered for an origin some
//! tenant allows, and refused (403) otherwise. The request itself is then checked against the
//! tenant its key belongs to: only an origin that tenant allows gets
//! `Access-Control-Allow-Origin`, without which the browser shows the page nothing. Cookies
//! are never allowed across origins (`Access-Control-Allow-Credentials` is never sent): the
//! signed-in page is same-origin only.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sealtrail_core::TenantId;
use sealtrail_store::{Store, StoreError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the union of every tenant's origins is reused for preflights.
const CACHE_FOR: Duration = Duration::from_secs(5);
/// How long a browser may reuse a preflight's answer.
const MAX_AGE_SECS: &str = "600";
const ALLOWED_METHODS: &str = "GET, POST";
const ALLOWED_HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id";
const EXPOSED_HEADERS: &str = "x-request-id, retry-after, content-disposition";

/// Every tenant's allowed origins together, cached briefly for preflights.
#[derive(Default)]
pub struct CorsOrigins {
    cached: Mutex<Option<(Instant, Arc<Vec<String>>)>>,
}

impl CorsOrigins {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops the cache: a tenant's origins changed on this node.
    pub fn forget(&self) {
        *sealtrail_service::lock(&self.cached) = None;
    }

    async fn all(&self, store: &dyn Store) -> Result<Arc<Vec<String>>, StoreError> {
        if let Some((at, origins)) = sealtrail_service::lock(&self.cached).as_ref() {
            if at.elapsed() < CACHE_FOR {
                return Ok(origins.clone());
            }
        }
        let origins = Arc::new(store.cors_origins_of_all_tenants().await?);
        *sealtrail_service::lock(&self.cached) = Some((Instant::now(), origins.clone()));
        Ok(origins)
    }
}

/// Sets a tenant's origins (checked and audited by the service) and drops this node's cache of
/// them, so its preflights follow at once; what the API and the page both call.
pub async fn set_origins(
    state: &AppState,
    tenant: TenantId,
    origins: Vec<String>,
    by: &sealtrail_service::users::Acting,
) -> Result<Vec<String>, sealtrail_service::ServiceError> {
    let now =
        sealtrail_service::users::set_cors_origins(state.store.as_ref(), tenant, origins, by).await;
    state.cors.forget();
    now
}

/// Where the request's key put its tenant, for the answer's CORS headers.
#[derive(Clone, Default)]
pub struct TenantSlot(pub Arc<OnceLock<TenantId>>);

/// Whether a browser on another origin may call `path` at all (with a key).
pub fn widget_path(path: &str) -> bool {
    path == "/v1/events"
        || path.starts_with("/v1/events/")
        || path.starts_with("/v1/facets")
        || path == "/v1/checkpoint"
        || path.starts_with("/v1/proof/")
        || path == "/v1/export"
}

/// Whether a browser on another origin may call `path` with `method`: reads, and ingest
/// (`POST /v1/events`) — never another POST (signing a checkpoint on demand is not a
/// widget's business).
fn widget_call(method: &str, path: &str) -> bool {
    match method {
        "GET" | "HEAD" => widget_path(path),
        "POST" => path == "/v1/events",
        _ => false,
    }
}

/// Middleware: answers preflights of the widget routes and labels their answers.
pub async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(origin) = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return next.run(request).await;
    };
    if !widget_path(request.uri().path()) {
        return next.run(request).await;
    }
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let path = request.uri().path();
        let method_allowed = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|m| widget_call(m, path));
        return answer_preflight(&state, &origin, method_allowed).await;
    }
    if !widget_call(request.method().as_str(), request.uri().path()) {
        return next.run(request).await;
    }
    let slot = TenantSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("origin"));
    let Some(tenant) = slot.0.get() else {
        return response;
    };
    let allowed = match state.store.settings(*tenant).await {
        Ok(settings) => settings.cors_origins.contains(&origin),
        Err(e) => {
            tracing::warn!(error = %e, "reading a tenant's CORS origins failed");
            false
        }
    };
    if allowed {
        if let Ok(value) = HeaderValue::from_str(&origin) {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
    }
    response
}

async fn answer_preflight(state: &AppState, origin: &str, method_allowed: bool) -> Response {
    let known = match state.cors.all(state.store.as_ref()).await {
        Ok(all) => all.iter().any(|o| o == origin),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !known || !method_allowed {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!(
                "no tenant allows {} requests from this origin; a tenant's admin adds it with PUT /v1/settings/cors",
                if method_allowed { "cross-origin" } else { "these" }
            ),
        )
        .into_response();
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE_SECS),
    );
    headers.insert(header::VARY, HeaderValue::from_static("origin"));
    response
}
