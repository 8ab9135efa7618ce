//! Removing data on purpose over HTTP (admin scope): the on-demand prune by the tenant's
//! retention window and GDPR erasure (with its dry run). Both run to their end on a task of
//! their own, whatever the client does.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::query_params;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use sealtrail_core::keys::Scope;
use sealtrail_core::Timestamp;
use sealtrail_service::lifecycle::{self, PruneResult};
use sealtrail_store::{ErasureMode, ErasureOutcome};
use serde_json::{json, Value};

/// `POST /v1/admin/prune`: prunes now by the tenant's retention window (409 under legal hold).
#[utoipa::path(
    post, path = "/v1/admin/prune", tag = "lifecycle", security(("api_key" = [])),
    responses((status = 200, description = "What was removed (the prune is itself recorded)", body = crate::openapi::bodies::PruneResult), (status = 409, description = "Under legal hold", body = crate::openapi::bodies::ErrorResponse))
)]
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
#[utoipa::path(
    post, path = "/v1/subjects/{subject}/erase", tag = "lifecycle", security(("api_key" = [])),
    params(
        ("subject" = String, Path, description = "The actor's or target's id or e-mail"),
        ("dry_run" = Option<bool>, Query, description = "Only show what would change"),
    ),
    responses((status = 200, description = "What was (or would be) pseudonymised", body = crate::openapi::bodies::ErasureResult), (status = 422, description = "Not an erasable subject", body = crate::openapi::bodies::ErrorResponse))
)]
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
        "rewrites_pending": outcome.rewrites_pending,
    })
}
