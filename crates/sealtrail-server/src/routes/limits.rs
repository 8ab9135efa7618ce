//! `PUT /v1/settings/limits`: a tenant's rate limits and daily quota (admin scope).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::json_body;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sealtrail_core::keys::Scope;
use sealtrail_service::tenants;
use sealtrail_store::TenantLimits;
use serde_json::{json, Value};

/// The fields of the body; every one must be given (`null` for unlimited), so leaving one out
/// can never silently lift a limit.
const FIELDS: [&str; 3] = [
    "requests_per_second_per_key",
    "ingest_events_per_second",
    "daily_event_quota",
];

// The body as the API's description shows it. The handler reads it member by member against
// `FIELDS`, so that an absent member is refused rather than defaulted; a test holds the two
// lists equal.
/// Every member must be given: `null` lifts that limit, and leaving one out is refused.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct LimitsBody {
    /// Requests per second one key may make; null for unlimited.
    #[schema(required = true)]
    requests_per_second_per_key: Option<u64>,
    /// Events per second the tenant may ingest; null for unlimited.
    #[schema(required = true)]
    ingest_events_per_second: Option<u64>,
    /// Events per UTC day; null for unlimited.
    #[schema(required = true)]
    daily_event_quota: Option<u64>,
}

/// `PUT /v1/settings/limits` with
/// `{"requests_per_second_per_key": 500, "ingest_events_per_second": 5000, "daily_event_quota": null}`.
/// Applies on this node at once and on others within a few seconds; audited as
/// `limits.changed`.
#[utoipa::path(
    put, path = "/v1/settings/limits", tag = "settings", security(("api_key" = [])),
    request_body(content = LimitsBody, content_type = "application/json"),
    responses((status = 200, description = "The limits now in force", body = crate::openapi::bodies::LimitsView), (status = 422, description = "A member missing or out of range", body = crate::openapi::bodies::ErrorResponse))
)]
pub async fn set_limits(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let shape = r#"{"requests_per_second_per_key": 500, "ingest_events_per_second": 5000, "daily_event_quota": null}"#;
    let given: serde_json::Map<String, Value> = json_body(&body, shape)?;
    if let Some(missing) = FIELDS.iter().find(|f| !given.contains_key(**f)) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("`{missing}` is missing: give every limit, null for unlimited, as in {shape}"),
        )
        .with_field(*missing, Some("required")));
    }
    let limits: TenantLimits = json_body(&body, shape)?;
    let tenant = caller.tenant();
    let limits =
        tenants::set_limits(state.store.as_ref(), tenant, limits, &caller.as_actor()).await?;
    state.usage.remember_limits(tenant, limits);
    Ok(Json(json!({ "limits": limits })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    use utoipa::PartialSchema;

    #[test]
    fn the_described_body_has_exactly_the_members_read() {
        let RefOr::T(Schema::Object(object)) = LimitsBody::schema() else {
            panic!("an object schema");
        };
        let described: Vec<&str> = object.properties.keys().map(String::as_str).collect();
        assert_eq!(described, FIELDS);
        assert_eq!(object.required, FIELDS.map(String::from).to_vec());
    }
}
