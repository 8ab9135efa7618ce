//! Retraced's search and embedded-viewer routes: the application's search with its API key
//! (`POST …/project/{project}/graphql`), viewer tokens it fetches for its users
//! (`GET …/viewertoken`), and the viewer's own calls from their browsers
//! (`POST /viewer/v1/viewersession`, `POST /viewer/v1/graphql`), each viewer search recorded
//! in the log before its results are sent.

use super::search::{schema, SearchScope, ViewerSearch, SERVER_ERROR};
use super::{RetracedError, RetracedReader};
use crate::client_addr::ClientInfo;
use crate::request::{json_body, param, query_params, read_body};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::compat::retraced::viewer::ViewerScope;
use sealtrail_core::keys::Scope;
use sealtrail_core::TenantId;
use sealtrail_service::retraced::{self, ViewerTokenRequest};
use sealtrail_service::ServiceError;
use serde_json::{json, Value};

/// Largest GraphQL request body: a search query and its variables.
const MAX_GRAPHQL_BODY: usize = 64 * 1024;

/// The purpose the viewer credentials' key is derived for from the deployment's key.
const VIEWER_KEY_PURPOSE: &str = "sealtrail retraced viewer credentials v1";

/// The key viewer tokens and sessions are sealed with: the same on every node.
fn viewer_key(state: &AppState) -> [u8; 32] {
    state.pseudonym_key.derive(VIEWER_KEY_PURPOSE)
}

/// `GET …/publisher/v1/project/{project}/viewertoken?group_id=&actor_id=&is_admin=`: 201
/// `{"token"}`. The key must grant `read` (a token lets its holder read the group's log) and
/// the caller must be on the tenant's IP allowlist.
#[utoipa::path(
    get, path = "/publisher/v1/project/{project}/viewertoken", tag = "retraced", security(("retraced_token" = [])),
    params(("project" = String, Path, description = "The Retraced project id: a tenant's name or alias"),
        ("group_id" = Option<String>, Query, description = "The group the viewer may read (required, or `team_id`)"),
        ("team_id" = Option<String>, Query, description = "Retraced's older name of `group_id`"),
        ("actor_id" = String, Query, description = "Who will view"),
        ("is_admin" = Option<bool>, Query, description = "Accepted for compatibility"),
        ("target_id" = Option<String>, Query, description = "Narrows the viewer to one target"),
        ("view_log_action" = Option<String>, Query, description = "The action recorded for each of the viewer's searches"),
    ),
    responses(
        (status = 201, description = "A five-minute viewer token", body = crate::openapi::bodies::RetracedToken),
        (status = 422, description = "No group named", body = crate::openapi::bodies::RetracedErrorBody),
    )
)]
pub async fn viewer_token(
    State(state): State<AppState>,
    Path(project): Path<String>,
    RetracedReader(caller): RetracedReader,
    RawQuery(raw): RawQuery,
) -> Result<Response, RetracedError> {
    caller.require(Scope::Read)?;
    let params = query_params(raw.as_deref());
    let text = |name: &str| param(&params, name).map(str::to_string);
    let request = ViewerTokenRequest {
        group_id: text("group_id")
            .filter(|g| !g.is_empty())
            .or_else(|| text("team_id")),
        actor_id: text("actor_id").unwrap_or_default(),
        is_admin: param(&params, "is_admin") == Some("true"),
        target_id: text("target_id"),
        view_log_action: text("view_log_action"),
    };
    let token = retraced::viewer_token(
        state.store.as_ref(),
        &viewer_key(&state),
        caller.tenant(),
        &project,
        request,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "token": token }))).into_response())
}

/// `POST …/publisher/v1/project/{project}/graphql`: the application's own search, over its
/// whole tenant (the key must grant `read`; the allowlist applies), not recorded as a view,
/// as `GET /v1/events` is not.
#[utoipa::path(
    post, path = "/publisher/v1/project/{project}/graphql", tag = "retraced", security(("retraced_token" = [])),
    params(("project" = String, Path, description = "The Retraced project id: a tenant's name or alias")),
    request_body(content = crate::openapi::bodies::GraphqlRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A GraphQL response", body = crate::openapi::bodies::GraphqlResponse),
        (status = 400, description = "A query that does not parse or validate, as a GraphQL response", body = crate::openapi::bodies::GraphqlResponse),
        (status = 503, description = "The search failed on the server, as a GraphQL response", body = crate::openapi::bodies::GraphqlResponse),
    )
)]
pub async fn publisher_search(
    State(state): State<AppState>,
    Path(project): Path<String>,
    RetracedReader(caller): RetracedReader,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RetracedError> {
    caller.require(Scope::Read)?;
    retraced::check_project(state.store.as_ref(), caller.tenant(), &project).await?;
    let request = graphql_request(&headers, body).await?;
    let scope = SearchScope {
        store: state.store.clone(),
        tenant: caller.tenant(),
        viewer: None,
    };
    Ok(execute(request, scope).await)
}

/// `POST /viewer/v1/viewersession` `{"token"}`: 200 `{"project_id", "token"}` with a session
/// for the token's scope.
#[utoipa::path(
    post, path = "/viewer/v1/viewersession", tag = "retraced",
    request_body(content = crate::openapi::bodies::RetracedToken, content_type = "application/json"),
    responses((status = 200, description = "A one-hour session for the viewer", body = crate::openapi::bodies::RetracedSession))
)]
pub async fn viewer_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RetracedError> {
    let body = read_body(body, &headers, MAX_GRAPHQL_BODY).await?;
    /// `{"token"}`; other members (the viewer sends none) are ignored, as Retraced does.
    #[derive(serde::Deserialize)]
    struct SessionRequest {
        token: String,
    }
    let request: SessionRequest = json_body(&body, "{\"token\": \"<viewer token>\"}")?;
    let (session, scope) = retraced::viewer_session(&viewer_key(&state), &request.token)?;
    Ok(Json(json!({ "project_id": scope.project, "token": session })).into_response())
}

/// `POST /viewer/v1/graphql` with `Authorization: <session>`: a search within the session's
/// group and target, recorded in the log (its action, the viewing actor, the search text as
/// the resolver ran it) before the results are sent.
#[utoipa::path(
    post, path = "/viewer/v1/graphql", tag = "retraced", security(("retraced_viewer" = [])),
    request_body(content = crate::openapi::bodies::GraphqlRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A GraphQL response within the session's group", body = crate::openapi::bodies::GraphqlResponse),
        (status = 400, description = "A query that does not parse or validate, as a GraphQL response", body = crate::openapi::bodies::GraphqlResponse),
        (status = 503, description = "The search failed on the server, as a GraphQL response", body = crate::openapi::bodies::GraphqlResponse),
    )
)]
pub async fn viewer_search(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RetracedError> {
    let scope = session_scope(&state, &headers)?;
    let request = graphql_request(&headers, body).await?;
    let search_scope = SearchScope {
        store: state.store.clone(),
        tenant: TenantId(scope.tenant),
        viewer: Some(ViewerSearch {
            scope,
            usage: state.usage.clone(),
            ip: client.ip.to_string(),
        }),
    };
    Ok(execute(request, search_scope).await)
}

/// The scope of the viewer session the request carries as its whole `Authorization` header
/// (as the logs-viewer sends it; a `Bearer ` prefix is tolerated).
pub(super) fn session_scope(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<ViewerScope, ServiceError> {
    let session = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim())
        .unwrap_or_default();
    retraced::open_session(&viewer_key(state), session)
}

/// A GraphQL request body (`{"query", "variables", "operationName"}`), at most
/// [`MAX_GRAPHQL_BODY`] bytes.
async fn graphql_request(
    headers: &HeaderMap,
    body: Body,
) -> Result<async_graphql::Request, RetracedError> {
    let body = read_body(body, headers, MAX_GRAPHQL_BODY).await?;
    Ok(json_body(
        &body,
        "a GraphQL request {\"query\", \"variables\"}",
    )?)
}

/// Runs a request in `scope`: 200 `{"data"}`, or 400 `{"data", "errors"}` as Retraced answers
/// a query that fails (503 when the failure is the server's: retry later).
async fn execute(request: async_graphql::Request, scope: SearchScope) -> Response {
    let response = schema().execute(request.data(scope)).await;
    let server_side = response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .is_some_and(|code| *code == async_graphql::Value::from(SERVER_ERROR))
    });
    let status = if response.errors.is_empty() {
        StatusCode::OK
    } else if server_side {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        Json(serde_json::to_value(&response).unwrap_or(Value::Null)),
    )
        .into_response()
}
