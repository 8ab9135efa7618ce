//! `/v1/settings`: a tenant's retention, legal hold, export exclusions, tile access and the
//! audit page's default period over
//! HTTP (admin scope); each change goes through the service, which audits it.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::json_body;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sealtrail_core::keys::Scope;
use sealtrail_service::lifecycle;
use sealtrail_store::{Retention, TenantSettings, TileAccess};
use serde::Deserialize;
use serde_json::{json, Value};

fn settings_json(s: &TenantSettings) -> Value {
    json!({
        "retention_days": lifecycle::retention_json(s.retention),
        "legal_hold": s.legal_hold,
        "export_excluded_properties": s.export_excluded_properties,
        "limits": s.limits,
        "tile_access": s.tile_access.as_str(),
        "default_period": s.default_period,
        "cors_origins": s.cors_origins,
    })
}

/// `GET /v1/settings`: the tenant's retention window, legal hold, export exclusions and usage
/// limits.
#[utoipa::path(
    get, path = "/v1/settings", tag = "settings", security(("api_key" = [])),
    responses((status = 200, description = "The tenant's settings", body = crate::openapi::bodies::SettingsView))
)]
pub async fn show(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(Json(settings_json(
        &state.store.settings(caller.tenant()).await?,
    )))
}

/// Body of `PUT /v1/settings/retention`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RetentionBody {
    days: Option<u32>,
    #[serde(default)]
    forever: bool,
}

/// `PUT /v1/settings/retention` with `{"days": N}` (at least 30) or `{"forever": true}`.
#[utoipa::path(
    put, path = "/v1/settings/retention", tag = "settings", security(("api_key" = [])),
    request_body(content = RetentionBody, content_type = "application/json"),
    responses((status = 200, description = "The settings now", body = crate::openapi::bodies::SettingsView), (status = 422, description = "Below the 30-day floor, or neither or both members", body = crate::openapi::bodies::ErrorResponse))
)]
pub async fn set_retention(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let shape = r#"{"days": 365} or {"forever": true}"#;
    let request: RetentionBody = json_body(&body, shape)?;
    let retention = match (request.days, request.forever) {
        (Some(days), false) => Retention::Days(days),
        (None, true) => Retention::Forever,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                format!("give exactly one of {shape}"),
            )
            .with_field("days", Some("required")))
        }
    };
    let tenant = caller.tenant();
    lifecycle::set_retention(state.store.as_ref(), tenant, retention, &caller.as_actor()).await?;
    Ok(Json(settings_json(&state.store.settings(tenant).await?)))
}

/// Body of `PUT /v1/settings/legal-hold`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    hold: bool,
}

/// `PUT /v1/settings/legal-hold` with `{"hold": true|false}`; a hold blocks every prune.
#[utoipa::path(
    put, path = "/v1/settings/legal-hold", tag = "settings", security(("api_key" = [])),
    request_body(content = HoldBody, content_type = "application/json"),
    responses((status = 200, description = "The settings now", body = crate::openapi::bodies::SettingsView))
)]
pub async fn set_legal_hold(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let request: HoldBody = json_body(&body, r#"{"hold": true}"#)?;
    let tenant = caller.tenant();
    lifecycle::set_legal_hold(
        state.store.as_ref(),
        tenant,
        request.hold,
        &caller.as_actor(),
    )
    .await?;
    Ok(Json(settings_json(&state.store.settings(tenant).await?)))
}

/// Body of `PUT /v1/settings/tiles`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TilesBody {
    access: String,
}

/// `PUT /v1/settings/tiles` with `{"access": "off" | "monitor" | "public"}`: who may read the
/// log's checkpoint and tree tiles at `/tlog/{tenant}/`.
#[utoipa::path(
    put, path = "/v1/settings/tiles", tag = "settings", security(("api_key" = [])),
    request_body(content = TilesBody, content_type = "application/json"),
    responses((status = 200, description = "The settings now", body = crate::openapi::bodies::SettingsView), (status = 422, description = "Not off, monitor or public", body = crate::openapi::bodies::ErrorResponse))
)]
pub async fn set_tile_access(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let request: TilesBody = json_body(&body, r#"{"access": "off" | "monitor" | "public"}"#)?;
    let access = TileAccess::parse(&request.access).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!(
                "unknown tile access `{}` (expected off, monitor or public)",
                request.access
            ),
        )
        .with_field("access", Some("enum"))
    })?;
    let tenant = caller.tenant();
    lifecycle::set_tile_access(state.store.as_ref(), tenant, access, &caller.as_actor()).await?;
    Ok(Json(settings_json(&state.store.settings(tenant).await?)))
}

/// Body of `PUT /v1/settings/default-period`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PeriodBody {
    period: Option<String>,
}

/// `PUT /v1/settings/default-period` with `{"period": "24h" | "7d" | "30d" | "90d" | "3m" |
/// "this_month" | null}`: the period the audit page opens on when its address names none.
#[utoipa::path(
    put, path = "/v1/settings/default-period", tag = "settings", security(("api_key" = [])),
    request_body(content = PeriodBody, content_type = "application/json"),
    responses((status = 200, description = "The settings now", body = crate::openapi::bodies::SettingsView), (status = 422, description = "Not a known period", body = crate::openapi::bodies::ErrorResponse))
)]
pub async fn set_default_period(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let request: PeriodBody = json_body(&body, r#"{"period": "30d"} or {"period": null}"#)?;
    let tenant = caller.tenant();
    lifecycle::set_default_period(
        state.store.as_ref(),
        tenant,
        request.period,
        &caller.as_actor(),
    )
    .await?;
    Ok(Json(settings_json(&state.store.settings(tenant).await?)))
}

/// Body of `PUT /v1/settings/cors`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CorsBody {
    /// Exact origins (`https://app.example.com`, `http://localhost:3000`); `[]` for none.
    origins: Vec<String>,
}

/// `PUT /v1/settings/cors` with `{"origins": ["https://app.example.com"]}`: the web origins
/// whose pages may call this tenant's API from a browser with a key they hold (CORS). None by
/// default; audited as `cors_origins.changed`.
#[utoipa::path(
    put, path = "/v1/settings/cors", tag = "settings", security(("api_key" = [])),
    request_body(content = CorsBody, content_type = "application/json"),
    responses((status = 200, description = "The settings now", body = crate::openapi::bodies::SettingsView), (status = 422, description = "Not an origin (scheme, host and port only), or more than 20", body = crate::openapi::bodies::ErrorResponse))
)]
pub async fn set_cors_origins(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let request: CorsBody = json_body(&body, r#"{"origins": ["https://app.example.com"]}"#)?;
    let tenant = caller.tenant();
    crate::cors::set_origins(
        &state,
        tenant,
        request.origins,
        &sealtrail_service::users::Acting::operator(caller.as_actor()),
    )
    .await?;
    Ok(Json(settings_json(&state.store.settings(tenant).await?)))
}

/// Body of `PUT /v1/settings/export-exclusions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ExclusionsBody {
    properties: Vec<String>,
}

/// `PUT /v1/settings/export-exclusions` with `{"properties": ["dialogue", ...]}`: keys every
/// export of this tenant leaves out of `properties` (the log itself keeps them).
#[utoipa::path(
    put, path = "/v1/settings/export-exclusions", tag = "settings", security(("api_key" = [])),
    request_body(content = ExclusionsBody, content_type = "application/json"),
    responses((status = 200, description = "The settings now", body = crate::openapi::bodies::SettingsView), (status = 422, description = "An unusable property name", body = crate::openapi::bodies::ErrorResponse))
)]
pub async fn set_export_exclusions(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let request: ExclusionsBody = json_body(&body, r#"{"properties": ["dialogue"]}"#)?;
    let tenant = caller.tenant();
    lifecycle::set_export_exclusions(
        state.store.as_ref(),
        tenant,
        request.properties,
        &caller.as_actor(),
    )
    .await?;
    Ok(Json(settings_json(&state.store.settings(tenant).await?)))
}
