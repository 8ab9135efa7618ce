//! `/v1/schemas`: per-action JSON Schemas. Registering one (`admin`) adds a version that
//! every later event with that action is checked against at ingest; listing (`read`) shows
//! every version as registered.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::{json_value_body, read_body};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::keys::Scope;
use sealtrail_core::schemas::MAX_SCHEMA_BYTES;
use sealtrail_service::schemas;
use sealtrail_store::StoredSchema;
use serde_json::{json, Value};

/// One registered version as the API shows it.
pub fn schema_view(schema: &StoredSchema) -> Value {
    let mut view = json!({
        "action": schema.action,
        "version": schema.version,
        "schema": serde_json::from_str::<Value>(&schema.document).unwrap_or(Value::Null),
        "created_at": schema.created_at,
    });
    if let Some(source) = &schema.source {
        view["workos"] = serde_json::from_str(source).unwrap_or(Value::Null);
    }
    view
}

/// `GET /v1/schemas`: every version of every action's schema, by action then version.
#[utoipa::path(
    get, path = "/v1/schemas", tag = "schemas", security(("api_key" = [])),
    responses((status = 200, description = "Every version of every action's schema", body = crate::openapi::bodies::SchemaList))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let stored = schemas::list(state.store.as_ref(), caller.tenant()).await?;
    let views: Vec<Value> = stored.iter().map(schema_view).collect();
    Ok(Json(json!({ "schemas": views })).into_response())
}

/// `GET /v1/schemas/{action}`: the action's versions, oldest first; 404 when it has none.
#[utoipa::path(
    get, path = "/v1/schemas/{action}", tag = "schemas", security(("api_key" = [])),
    params(("action" = String, Path, description = "The action")),
    responses((status = 200, description = "The action's versions, oldest first", body = crate::openapi::bodies::ActionSchemas))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(action): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let stored = schemas::list(state.store.as_ref(), caller.tenant()).await?;
    let views: Vec<Value> = stored
        .iter()
        .filter(|s| s.action == action)
        .map(schema_view)
        .collect();
    if views.is_empty() {
        return Err(ApiError::not_found(&format!("schema for `{action}`")));
    }
    Ok(Json(json!({ "action": action, "versions": views })).into_response())
}

/// `POST /v1/schemas/{action}` with a JSON Schema as the body: 201 with the new version.
#[utoipa::path(
    post, path = "/v1/schemas/{action}", tag = "schemas", security(("api_key" = [])),
    params(("action" = String, Path, description = "The action the schema checks")),
    request_body(content = serde_json::Value, description = "A JSON Schema (draft 2020-12): an object, or `true`/`false`", content_type = "application/json"),
    responses(
        (status = 201, description = "The new version", body = crate::openapi::bodies::SchemaVersion),
        (status = 422, description = "Not a usable JSON Schema, or not a usable action", body = crate::openapi::bodies::ErrorResponse),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin)?;
    let bytes = read_body(body, &headers, MAX_SCHEMA_BYTES).await?;
    let document: Value = json_value_body(&bytes, "a JSON Schema document")?;
    let stored = state
        .schemas
        .register(
            state.store.as_ref(),
            caller.tenant(),
            &action,
            &document,
            None,
            &caller.as_actor(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(schema_view(&stored))).into_response())
}
