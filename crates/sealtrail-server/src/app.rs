//! The whole application: the API's routes, the page's, the protocol endpoints, and the
//! middleware order around them. Composed here, above both `routes` and `web`, so neither has
//! to know the other.

use crate::routes::{
    directory, events, export_download, export_jobs, integrity, limits, ops, prune_and_erase,
    retraced, schemas, settings, tiles, witness, workos,
};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::Router;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Builds the application. Every `/v1` route authenticates inside its handler via
/// [`crate::auth::Caller`]; the web page's routes ([`crate::web::routes`]) via the session cookie.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    // A prune or an erasure runs as long as the log needs — chunk by chunk, then the search
    // index merged step by step before it answers — which on a large log is longer than the
    // request timeout allows. That timeout is for slow clients; cutting these off would leave
    // the work half done with a 408, so they are routed outside it.
    let maintenance = Router::new()
        .route("/v1/admin/prune", post(prune_and_erase::prune))
        .route("/v1/subjects/{subject}/erase", post(prune_and_erase::erase));
    Router::new()
        .route("/v1/events", post(events::ingest).get(events::list))
        .route("/v1/events/{id}", get(events::detail))
        .route("/v1/facets", get(directory::facets))
        .route("/v1/facets/actors", get(directory::find_actors))
        .route("/v1/timeline", get(events::timeline))
        .route("/v1/export", get(export_download::download))
        .route(
            "/v1/exports",
            get(export_jobs::list).post(export_jobs::create),
        )
        .route("/v1/exports/{id}", get(export_jobs::show))
        .route("/v1/exports/{id}/download", get(export_jobs::download))
        .route("/v1/tenant", get(directory::tenant))
        .route("/v1/tenant/aliases", post(directory::add_alias))
        .route(
            "/v1/tenant/aliases/{alias}",
            delete(directory::remove_alias),
        )
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
        .route("/v1/schemas", get(schemas::list))
        .route(
            "/v1/schemas/{action}",
            get(schemas::show).post(schemas::register),
        )
        .route("/v1/settings", get(settings::show))
        .route("/v1/settings/retention", put(settings::set_retention))
        .route("/v1/settings/legal-hold", put(settings::set_legal_hold))
        .route(
            "/v1/settings/export-exclusions",
            put(settings::set_export_exclusions),
        )
        .route("/v1/settings/limits", put(limits::set_limits))
        .route("/v1/settings/tiles", put(settings::set_tile_access))
        .route(
            "/v1/settings/default-period",
            put(settings::set_default_period),
        )
        .merge(retraced_routes(""))
        .merge(retraced_routes("/auditlog"))
        .route("/audit_logs/events", post(workos::create_event))
        .route("/audit_logs/exports", post(workos::create_export))
        .route("/audit_logs/actions", get(workos::list_actions))
        .route(
            "/organizations/{organization}/audit_logs_retention",
            get(workos::get_retention).put(workos::put_retention),
        )
        .route(
            "/audit_logs/actions/{action}/schemas",
            get(workos::list_schemas).post(workos::create_schema),
        )
        .route("/audit_logs/exports/{id}", get(workos::get_export))
        .route(
            "/audit_logs/exports/{id}/download",
            get(workos::download_export),
        )
        .route("/tlog/{tenant}/checkpoint", get(tiles::checkpoint))
        .route("/tlog/{tenant}/tile/{*path}", get(tiles::tile))
        .route("/witness/add-checkpoint", post(witness::add_checkpoint))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .merge(crate::web::routes())
        .fallback(ops::not_found)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .merge(maintenance)
        .layer(axum::middleware::from_fn(ops::track))
        .layer(axum::middleware::from_fn(crate::web::security_headers))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Retraced's API at `prefix`: at the root for an `endpoint` naming only the host, and under
/// `/auditlog`, the base path of Retraced's own deployments, so an existing client
/// configuration needs only its host changed. The viewer's routes are called from the
/// application's pages on another origin, so they answer CORS preflights for any origin: they
/// take bearer credentials only (never cookies), which a page can only have been given.
fn retraced_routes(prefix: &str) -> Router<AppState> {
    use retraced::viewer;
    let project = format!("{prefix}/publisher/v1/project/{{project}}");
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
        ])
        .expose_headers([axum::http::header::CONTENT_DISPOSITION]);
    let viewer_routes = Router::new()
        .route(
            &format!("{prefix}/viewer/v1/viewersession"),
            post(viewer::viewer_session),
        )
        .route(
            &format!("{prefix}/viewer/v1/graphql"),
            post(viewer::viewer_search),
        )
        .layer(cors);
    Router::new()
        .route(&format!("{project}/event"), post(retraced::publish_event))
        .route(
            &format!("{project}/event/bulk"),
            post(retraced::publish_bulk),
        )
        .route(&format!("{project}/viewertoken"), get(viewer::viewer_token))
        .route(
            &format!("{project}/graphql"),
            post(viewer::publisher_search),
        )
        .merge(viewer_routes)
}
