//! The whole application: the API's routes, the page's, the protocol endpoints, and the
//! middleware order around them. Composed here, above both `routes` and `web`, so neither has
//! to know the other.

use crate::openapi;
use crate::routes::{
    directory, events, export_download, export_jobs, integrity, limits, ops, prune_and_erase,
    retraced, schemas, settings, sinks, tiles, witness, workos,
};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Router;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Builds the application. Every `/v1` route authenticates inside its handler via
/// [`crate::auth::Caller`]; the web page's routes ([`crate::web::routes`]) via the session cookie.
///
/// The API's routes are registered from their `#[utoipa::path]` attributes (`routes!`), which
/// also makes the OpenAPI document served at [`openapi::PATH`]; only the protocol endpoints
/// specified elsewhere (C2SP tiles and witness) and the page are plain routes.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let (api, described) = api_routes().split_for_parts();
    // A prune or an erasure runs as long as the log needs — chunk by chunk, then the search
    // index merged step by step before it answers — which on a large log is longer than the
    // request timeout allows. That timeout is for slow clients; cutting these off would leave
    // the work half done with a 408, so they are routed outside it.
    let (maintenance, maintenance_described) = OpenApiRouter::new()
        .routes(routes!(prune_and_erase::prune))
        .routes(routes!(prune_and_erase::erase))
        .split_for_parts();
    let (retraced, retraced_described) = retraced_routes().split_for_parts();
    let untimed: Vec<String> = maintenance_described.paths.paths.keys().cloned().collect();
    let mut document = described;
    document.merge(maintenance_described);
    document.merge(retraced_described);
    let served = openapi::Served::new(&openapi::complete(document, &untimed));
    Router::new()
        .merge(api)
        .merge(retraced.clone())
        .nest("/auditlog", retraced)
        .route(openapi::PATH, get(move || async move { served.respond() }))
        .route("/tlog/{tenant}/checkpoint", get(tiles::checkpoint))
        .route("/tlog/{tenant}/tile/{*path}", get(tiles::tile))
        .route("/witness/add-checkpoint", post(witness::add_checkpoint))
        .merge(crate::web::routes())
        .fallback(ops::not_found)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .merge(maintenance)
        .layer(axum::middleware::from_fn(ops::track))
        .layer(axum::middleware::from_fn(ops::explain_method_not_allowed))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::cors::layer,
        ))
        .layer(axum::middleware::from_fn(crate::web::security_headers))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(axum::middleware::from_fn(crate::request_id::assign))
        .with_state(state)
}

/// The span every log line written while serving a request is in: method, path (never the
/// query, which may hold search terms) and the request's id.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request
        .headers()
        .get(&crate::request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    )
}

/// Sealtrail's own API, WorkOS's, and the operational endpoints, each from its handler's
/// `#[utoipa::path]`.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(events::ingest, events::list))
        .routes(routes!(events::detail))
        .routes(routes!(directory::facets))
        .routes(routes!(directory::find_actors))
        .routes(routes!(events::timeline))
        .routes(routes!(export_download::download))
        .routes(routes!(export_jobs::list, export_jobs::create))
        .routes(routes!(export_jobs::show))
        .routes(routes!(export_jobs::download))
        .routes(routes!(directory::tenant))
        .routes(routes!(directory::add_alias))
        .routes(routes!(directory::remove_alias))
        .routes(routes!(directory::list_keys, directory::create_key))
        .routes(routes!(directory::revoke_key))
        .routes(routes!(integrity::latest, integrity::sign_now))
        .routes(routes!(integrity::inclusion))
        .routes(routes!(integrity::consistency))
        .routes(routes!(schemas::list))
        .routes(routes!(schemas::show, schemas::register))
        .routes(routes!(settings::show))
        .routes(routes!(settings::set_retention))
        .routes(routes!(settings::set_legal_hold))
        .routes(routes!(settings::set_export_exclusions))
        .routes(routes!(limits::set_limits))
        .routes(routes!(settings::set_tile_access))
        .routes(routes!(settings::set_default_period))
        .routes(routes!(settings::set_cors_origins))
        .routes(routes!(workos::create_event))
        .routes(routes!(workos::create_export))
        .routes(routes!(workos::list_actions))
        .routes(routes!(workos::get_retention, workos::put_retention))
        .routes(routes!(workos::list_schemas, workos::create_schema))
        .routes(routes!(workos::get_export))
        .routes(routes!(workos::download_export))
        .routes(routes!(sinks::list, sinks::create))
        .routes(routes!(sinks::show, sinks::delete))
        .routes(routes!(sinks::pause))
        .routes(routes!(sinks::resume))
        .routes(routes!(sinks::replay))
        .routes(routes!(sinks::test))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::metrics))
}

/// Retraced's API, served at the root for an `endpoint` naming only the host and (by
/// [`router`]) again under `/auditlog`, the base path of Retraced's own deployments, so an
/// existing client configuration needs only its host changed; the document describes the
/// root copy. The viewer's routes are called from the application's pages on another origin,
/// so they answer CORS preflights for any origin: they take bearer credentials only (never
/// cookies), which a page can only have been given.
fn retraced_routes() -> OpenApiRouter<AppState> {
    use retraced::{viewer, viewer_exports};
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([
            axum::http::Method::GET,
            axum::http::Method::POST,
            axum::http::Method::PUT,
            axum::http::Method::DELETE,
        ])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
        ])
        .expose_headers([axum::http::header::CONTENT_DISPOSITION]);
    let tokens = "/viewer/v1/project/{project}/eitapi_token";
    let viewer_routes = OpenApiRouter::new()
        .routes(routes!(viewer::viewer_session))
        .routes(routes!(viewer::viewer_search))
        .routes(routes!(viewer_exports::list_exports))
        .routes(routes!(viewer_exports::save_export))
        .routes(routes!(viewer_exports::render_export))
        .route(
            &format!("{tokens}s"),
            get(viewer_exports::enterprise_tokens),
        )
        .route(tokens, post(viewer_exports::enterprise_tokens))
        .route(
            &format!("{tokens}/{{id}}"),
            put(viewer_exports::enterprise_tokens).delete(viewer_exports::enterprise_tokens),
        )
        .layer(cors);
    OpenApiRouter::new()
        .routes(routes!(retraced::publish_event))
        .routes(routes!(retraced::publish_bulk))
        .routes(routes!(viewer::viewer_token))
        .routes(routes!(viewer::publisher_search))
        .merge(viewer_routes)
}
