//! The embedded viewer's export and token buttons (`/viewer/v1/project/{project}/…`, session
//! credentials, CORS as the viewer's other routes): saving an export, listing the group's
//! saved exports, and downloading one as CSV, which runs its search again within the
//! session's group and target and is recorded as every export is. Enterprise API tokens are
//! refused: see [`enterprise_tokens`].

use super::viewer::session_scope;
use super::RetracedError;
use crate::client_addr::ClientInfo;
use crate::download::stream_download;
use crate::error::ApiError;
use crate::request::{json_value_body, param, query_params, read_body};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::compat::retraced::viewer::ViewerScope;
use sealtrail_core::entry::{Actor, ActorType};
use sealtrail_service::retraced::saved_exports;
use sealtrail_service::ServiceError;
use serde_json::Value;

/// Largest saved-export request: a name and a search.
const MAX_EXPORT_BODY: usize = 16 * 1024;

/// The session's scope, checked against the project in the path (the viewer sends its
/// session's own `project_id` there; another project is another tenant's).
fn scope_for(
    state: &AppState,
    headers: &HeaderMap,
    project: &str,
) -> Result<ViewerScope, ServiceError> {
    let scope = session_scope(state, headers)?;
    if scope.project != project {
        // Answered 401 `wrong_project`, as a key sent to another project is.
        return Err(ServiceError::Forbidden(
            "this viewer session is for another project".into(),
        ));
    }
    Ok(scope)
}

/// `GET /viewer/v1/project/{project}/exports?limit=`: the group's saved exports, newest first.
#[utoipa::path(
    get, path = "/viewer/v1/project/{project}/exports", tag = "retraced", security(("retraced_viewer" = [])),
    params(
        ("project" = String, Path, description = "The session's project"),
        ("limit" = Option<String>, Query, description = "Most exports to list (1-100; empty or absent: 100)"),
    ),
    responses((status = 200, description = "The group's saved exports, newest first", body = Vec<crate::openapi::bodies::RetracedSavedExport>))
)]
pub async fn list_exports(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, RetracedError> {
    let scope = scope_for(&state, &headers, &project)?;
    let params = query_params(raw.as_deref());
    let limit = match param(&params, "limit").map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<usize>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                "query parameter `limit` must be a whole number",
            )
            .with_field("limit", Some("type"))
        })?),
    };
    let listed = saved_exports::list(state.store.as_ref(), &scope, limit).await?;
    Ok(Json(listed).into_response())
}

/// `POST /viewer/v1/project/{project}/export` `{"name", "exportBody"}`: saves the export
/// (an entry of the log, so it is kept durably and recorded); 201 with the saved export.
#[utoipa::path(
    post, path = "/viewer/v1/project/{project}/export", tag = "retraced", security(("retraced_viewer" = [])),
    params(("project" = String, Path, description = "The session's project")),
    request_body(content = crate::openapi::bodies::RetracedExportRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Saved", body = crate::openapi::bodies::RetracedSavedExport),
        (status = 422, description = "An unusable name or search; the member is named", body = crate::openapi::bodies::RetracedErrorBody),
    )
)]
pub async fn save_export(
    State(state): State<AppState>,
    Path(project): Path<String>,
    client: ClientInfo,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RetracedError> {
    let scope = scope_for(&state, &headers, &project)?;
    let bytes = read_body(body, &headers, MAX_EXPORT_BODY).await?;
    let request: Value = json_value_body(&bytes, "{\"name\", \"exportBody\"}")?;
    let ip = client.ip.to_string();
    let saved = saved_exports::save(
        state.store.as_ref(),
        &state.usage,
        &scope,
        &request,
        Some(&ip),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

/// `GET /viewer/v1/project/{project}/export/{id}/rendered`: the saved export's entries as
/// CSV, searched again now within the session's group and target; recorded as an export by
/// the viewing actor.
#[utoipa::path(
    get, path = "/viewer/v1/project/{project}/export/{id}/rendered", tag = "retraced", security(("retraced_viewer" = [])),
    params(
        ("project" = String, Path, description = "The session's project"),
        ("id" = String, Path, description = "The saved export's id"),
    ),
    responses((status = 200, description = "The CSV, streamed", content_type = "text/csv", body = String))
)]
pub async fn render_export(
    State(state): State<AppState>,
    Path((project, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, RetracedError> {
    let scope = scope_for(&state, &headers, &project)?;
    let (_, mut params) = saved_exports::render_params(state.store.as_ref(), &scope, &id).await?;
    params.push(("format".to_string(), "csv".to_string()));
    let actor = Actor {
        kind: ActorType::User,
        id: Some(scope.actor_id.clone()),
        via: Some("Retraced viewer".to_string()),
        ..Actor::default()
    };
    Ok(stream_download(
        &state,
        sealtrail_core::TenantId(scope.tenant),
        actor,
        &params,
    )?)
}

/// The viewer's Enterprise API token buttons (`…/eitapi_tokens`, `…/eitapi_token[/{id}]`):
/// refused with 403. Retraced's tokens read one group through its Enterprise API; Sealtrail's
/// API keys read a whole tenant, so issuing one from a viewer scoped to a group would widen
/// what its holder reads. Create a `read` key with `POST /v1/keys` for a consumer trusted with
/// the tenant's whole log.
pub async fn enterprise_tokens() -> RetracedError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_supported",
        "Enterprise API tokens are not issued from the embedded viewer: a Sealtrail API key \
         reads the whole tenant, not one group; an administrator creates keys with POST /v1/keys",
    )
    .into()
}
