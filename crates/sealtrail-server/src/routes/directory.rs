//! Facets for dropdowns, the caller's tenant, and API-key management (`admin` scope).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::{json_body, query_params};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use sealtrail_core::filter::{ActorSearchParams, Facets};
use sealtrail_core::keys::{ApiKey, Scope};
use sealtrail_service::tenants;
use serde::Deserialize;
use serde_json::json;

/// `GET /v1/facets`: the distinct values present in the tenant's log, so filter dropdowns only
/// offer values that can match.
#[utoipa::path(
    get, path = "/v1/facets", tag = "events", security(("api_key" = [])),
    responses((status = 200, description = "The values present in the tenant's log", body = sealtrail_core::filter::Facets))
)]
pub async fn facets(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Facets>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(state.store.facets(caller.tenant()).await?))
}

/// `GET /v1/facets/actors?q=&limit=`: the actors whose id, name or e-mail holds `q`, most
/// frequent first — for a tenant with more actors than `/v1/facets` lists.
#[utoipa::path(
    get, path = "/v1/facets/actors", tag = "events", security(("api_key" = [])),
    params(
        ("q" = Option<String>, Query, description = "Text inside an actor's id, name or e-mail (at most 200 characters)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Most actors to return (default 20)"),
    ),
    responses((status = 200, description = "Matching actors, most frequent first", body = crate::openapi::bodies::ActorMatches))
)]
pub async fn find_actors(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Read)?;
    let search = ActorSearchParams::parse(&query_params(raw.as_deref()))?;
    let actors = state
        .store
        .find_actors(caller.tenant(), &search.text, search.limit)
        .await?;
    Ok(Json(json!({ "actors": actors })))
}

/// `GET /v1/tenant`: which tenant this key belongs to and how long its log is.
#[utoipa::path(
    get, path = "/v1/tenant", tag = "tenant", security(("api_key" = [])),
    responses((status = 200, description = "The caller's tenant", body = crate::openapi::bodies::TenantView))
)]
pub async fn tenant(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Read)?;
    let tenant = state
        .store
        .tenant_by_id(caller.tenant())
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let size = state.store.log_size(caller.tenant()).await?;
    let aliases = state.store.tenant_aliases(caller.tenant()).await?;
    Ok(Json(json!({
        "name": tenant.name,
        "aliases": aliases,
        "created_at": tenant.created_at,
        "log_size": size,
    })))
}

/// `POST /v1/tenant/aliases` `{"alias"}`: another name of the tenant for the compatible APIs
/// (a WorkOS organization id, a Retraced project id); 201, audited.
#[utoipa::path(
    post, path = "/v1/tenant/aliases", tag = "tenant", security(("api_key" = [])),
    request_body(content = crate::openapi::bodies::Alias, content_type = "application/json"),
    responses(
        (status = 201, description = "The alias now names the tenant", body = crate::openapi::bodies::Alias),
        (status = 409, description = "Another tenant has this name or alias", body = crate::openapi::bodies::ErrorResponse),
        (status = 422, description = "Not a usable alias", body = crate::openapi::bodies::ErrorResponse),
    )
)]
pub async fn add_alias(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    caller.require(Scope::Admin)?;
    let bytes = crate::request::read_body(body, &headers, 4096).await?;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct AliasBody {
        alias: String,
    }
    let body: AliasBody = json_body(&bytes, "{\"alias\": \"org_...\"}")?;
    tenants::add_alias(
        state.store.as_ref(),
        caller.tenant(),
        &body.alias,
        &caller.as_actor(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "alias": body.alias }))))
}

/// `DELETE /v1/tenant/aliases/{alias}`: 204, audited; 404 when the tenant has no such alias.
#[utoipa::path(
    delete, path = "/v1/tenant/aliases/{alias}", tag = "tenant", security(("api_key" = [])),
    params(("alias" = String, Path, description = "The alias to remove")),
    responses((status = 204, description = "Removed"))
)]
pub async fn remove_alias(
    State(state): State<AppState>,
    caller: Caller,
    Path(alias): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Admin)?;
    tenants::remove_alias(
        state.store.as_ref(),
        caller.tenant(),
        &alias,
        &caller.as_actor(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/keys`: every key of the tenant, revoked ones included; never a secret.
#[utoipa::path(
    get, path = "/v1/keys", tag = "tenant", security(("api_key" = [])),
    responses((status = 200, description = "Every key of the tenant, never a secret", body = Vec<sealtrail_core::keys::ApiKey>))
)]
pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(Json(state.store.list_api_keys(caller.tenant()).await?))
}

/// Body of `POST /v1/keys`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    scopes: Vec<String>,
}

/// `POST /v1/keys`: creates a key; the response is the only time its secret is shown.
#[utoipa::path(
    post, path = "/v1/keys", tag = "tenant", security(("api_key" = [])),
    request_body(content = CreateKey, content_type = "application/json"),
    responses(
        (status = 201, description = "The key, with the only copy of its secret", body = crate::openapi::bodies::CreatedKeyView),
        (status = 422, description = "An unknown scope or an unusable name", body = crate::openapi::bodies::ErrorResponse),
    )
)]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let request: CreateKey = json_body(
        &body,
        r#"{"name": "...", "scopes": ["ingest", "read", ...]}"#,
    )?;
    let scopes = Scope::parse_list(&request.scopes.join(",")).map_err(|m| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", m)
            .with_field("scopes", Some("enum"))
    })?;
    let created = tenants::create_api_key(
        state.store.as_ref(),
        caller.tenant(),
        &request.name,
        &scopes,
        &caller.as_actor(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "key": created.key,
            "secret": created.plaintext,
            "warning": "store this secret now: it is not shown again",
        })),
    ))
}

/// `DELETE /v1/keys/{id}`: revokes a key at once; requests with it then get 401.
#[utoipa::path(
    delete, path = "/v1/keys/{id}", tag = "tenant", security(("api_key" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, description = "The revoked key", body = sealtrail_core::keys::ApiKey))
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ApiKey>, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(Json(
        tenants::revoke_api_key(
            state.store.as_ref(),
            caller.tenant(),
            &id,
            &caller.as_actor(),
        )
        .await?,
    ))
}
