//! Retention settings, legal hold, on-demand prune and GDPR erasure (with its dry run) over
//! HTTP (admin scope).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::{json_body, query_params};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use sealtrail_core::keys::Scope;
use sealtrail_core::Timestamp;
use sealtrail_service::lifecycle::{self, PruneResult};
use sealtrail_store::{ErasureMode, ErasureOutcome, Retention, TenantSettings, TileAccess};
use serde::Deserialize;
use serde_json::{json, Value};

fn settings_json(s: &TenantSettings) -> Value {
    json!({
        "retention_days": lifecycle::retention_json(s.retention),
        "legal_hold": s.legal_hold,
        "export_excluded_properties": s.export_excluded_properties,
        "limits": s.limits,
        "tile_access": s.tile_access.as_str(),
    })
}

/// `GET /v1/settings`: the tenant's retention window, legal hold, export exclusions and usage
/// limits.
pub async fn show(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(Json(settings_json(
        &state.store.settings(caller.tenant()).await?,
    )))
}

/// Body of `PUT /v1/settings/retention`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionBody {
    days: Option<u32>,
    #[serde(default)]
    forever: bool,
}

/// `PUT /v1/settings/retention` with `{"days": N}` (at least 30) or `{"forever": true}`.
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    hold: bool,
}

/// `PUT /v1/settings/legal-hold` with `{"hold": true|false}`; a hold blocks every prune.
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TilesBody {
    access: String,
}

/// `PUT /v1/settings/tiles` with `{"access": "off" | "monitor" | "public"}`: who may read the
/// log's checkpoint and tree tiles at `/tlog/{tenant}/`.
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

/// `POST /v1/admin/prune`: prunes now by the tenant's retention window (409 under legal hold).
pub async fn prune(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let (store, tenant, actor) = (state.store.clone(), caller.tenant(), caller.as_actor());
    let result = to_completion(async move {
        lifecycle::prune_tenant(store.as_ref(), tenant, &actor, Timestamp::now()).await
    })
    .await?;
    Ok(Json(match result {
        PruneResult::Pruned(o) => json!({
            "removed": o.removed,
            "cutoff": o.cutoff,
            "first_kept_seq": o.first_kept_seq,
        }),
        PruneResult::KeepForever => json!({ "removed": 0, "retention_days": "forever" }),
    }))
}

/// `POST /v1/subjects/{subject}/erase[?dry_run=true]`: GDPR erasure of the actor or target
/// identified by an id or e-mail address. Entries keep their place and proofs; personal data
/// is replaced by a stable pseudonym. A dry run answers the same summary and changes nothing;
/// a subject no actor or target is answers 404 `subject_not_found`.
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(subject): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let mode = dry_run_parameter(&query_params(raw.as_deref()))?;
    let (store, tenant, actor) = (state.store.clone(), caller.tenant(), caller.as_actor());
    let key = state.pseudonym_key.clone();
    let outcome = to_completion(async move {
        lifecycle::erase_subject(store.as_ref(), tenant, &subject, mode, &actor, &key).await
    })
    .await?;
    Ok(Json(erasure_json(&outcome, mode)))
}

/// Runs a prune or an erasure on a task of its own and waits for it. Run inside the handler,
/// a client hanging up (or the request timeout) would drop it between two chunks: the
/// erasure's entry and purge, or the rest of the prune, would then wait for the next start or
/// the nightly job. On its own task it always runs to its end.
async fn to_completion<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, sealtrail_service::ServiceError>> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::spawn(work).await {
        Ok(result) => Ok(result?),
        Err(e) => {
            tracing::error!(error = %e, "a prune or erasure task failed");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the operation failed; it has been logged",
            ))
        }
    }
}

/// The erase endpoint's only parameter, `dry_run` (`true`/`1` or `false`/`0`, default false);
/// anything else is refused, so a misspelt `dry-run` never erases for real.
fn dry_run_parameter(params: &[(String, String)]) -> Result<ErasureMode, ApiError> {
    let mut mode = None;
    for (key, value) in params {
        let problem = match (key.as_str(), value.as_str(), mode) {
            ("dry_run", _, Some(_)) => "is given more than once",
            ("dry_run", "true" | "1", None) => {
                mode = Some(ErasureMode::DryRun);
                continue;
            }
            ("dry_run", "false" | "0", None) => {
                mode = Some(ErasureMode::Erase);
                continue;
            }
            ("dry_run", _, None) => "must be true or false",
            _ => "is not known here (only `dry_run`)",
        };
        let name: String = key.chars().take(64).collect();
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("query parameter `{name}` {problem}"),
        )
        .with_field(name, None));
    }
    Ok(mode.unwrap_or(ErasureMode::Erase))
}

/// What an erasure changed (or would change), as the API answers it.
fn erasure_json(outcome: &ErasureOutcome, mode: ErasureMode) -> Value {
    let entries: Vec<Value> = outcome
        .entries
        .iter()
        .map(|e| json!({ "id": e.id, "seq": e.seq, "fields": e.fields }))
        .collect();
    json!({
        "dry_run": mode == ErasureMode::DryRun,
        "pseudonym": outcome.pseudonym,
        "entries_scrubbed": outcome.entries_scrubbed,
        "fields": outcome.fields,
        "entries": entries,
        "truncated": outcome.truncated,
    })
}

/// Body of `PUT /v1/settings/export-exclusions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExclusionsBody {
    properties: Vec<String>,
}

/// `PUT /v1/settings/export-exclusions` with `{"properties": ["dialogue", ...]}`: keys every
/// export of this tenant leaves out of `properties` (the log itself keeps them).
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
