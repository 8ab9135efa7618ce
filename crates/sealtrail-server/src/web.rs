//! The web page: sign-in, the audit page (`/audit`), entry details, exports of the current
//! view (downloaded at once, or queued under a name on `/exports`), the tenant's settings and the user's own account — server-rendered HTML (askama
//! templates, escaped by default) with a small script that only enhances it.
//!
//! Pages authenticate with a session cookie ([`session::WebUser`]), never with API keys, and
//! every state-changing form carries the session's CSRF token and is checked for a same-origin
//! `Origin`. A strict Content-Security-Policy forbids inline scripts, so even a rendering bug
//! could not make stored text execute.

pub mod account;
pub mod assets;
pub mod audit_page;
pub mod entry_view;
pub mod error;
pub mod exports;
pub mod form;
pub mod frame;
pub mod session;
pub mod settings;
pub mod signin;
pub mod sink_forms;
pub mod timeline;

use crate::state::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use sealtrail_core::Timestamp;
use sealtrail_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The page routes (merged into the API router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/audit") }))
        .route("/signin", get(signin::form).post(signin::submit))
        .route("/signout", post(signin::sign_out))
        .route("/audit", get(audit_page::page))
        .route("/audit/export", get(audit_page::export))
        .route("/audit/actors", get(audit_page::actor_suggestions))
        .route("/audit/entries/{id}", get(audit_page::entry))
        .route("/exports", get(exports::page).post(exports::queue))
        .route("/exports/{id}/download", get(exports::download))
        .route("/settings", get(settings::page))
        .route("/settings/retention", post(settings::retention))
        .route("/settings/legal-hold", post(settings::legal_hold))
        .route("/settings/limits", post(settings::limits))
        .route("/settings/tiles", post(settings::tiles))
        .route("/settings/period", post(settings::default_period))
        .route("/settings/allowlist", post(settings::allowlist))
        .route("/settings/cors", post(settings::cors))
        .route("/settings/keys", post(settings::create_key))
        .route("/settings/keys/{id}/revoke", post(settings::revoke_key))
        .route("/settings/sinks", post(sink_forms::create))
        .route("/settings/sinks/{id}/{action}", post(sink_forms::change))
        .route("/settings/users", post(settings::create_user))
        .route("/settings/users/{id}/role", post(settings::change_role))
        .route(
            "/settings/users/{id}/deactivate",
            post(settings::deactivate_user),
        )
        .route(
            "/account",
            get(account::page).post(account::change_password),
        )
        .route("/assets/{name}", get(assets::serve))
}

/// The Content-Security-Policy of every response: scripts, styles and forms from this origin
/// only, no framing, no plugins.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers every response carries (set here once, so no handler can forget).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "same-origin");
    response
}

/// Deletes expired sessions every ten minutes until shutdown, so the table holds only live
/// sign-ins.
pub async fn sweep_expired_sessions(store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
        if let Err(e) = store.delete_expired_sessions(Timestamp::now()).await {
            tracing::warn!(error = %e, "could not delete expired sessions");
        }
    }
}
