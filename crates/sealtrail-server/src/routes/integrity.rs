//! Tamper evidence over HTTP: signed checkpoints, inclusion and consistency proofs.
//!
//! Every hash is hex; the checkpoint `note` is the exact signed text an auditor feeds to any
//! C2SP signed-note verifier together with `public_key`.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::proofs::{checkpoint_json, hexes, leaf_hex};
use crate::request::query_params;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use sealtrail_core::keys::Scope;
use sealtrail_core::TenantId;
use sealtrail_store::StoredCheckpoint;
use serde_json::{json, Value};

/// The latest checkpoint, signing one first if the tenant has none yet.
pub async fn latest_or_new(
    state: &AppState,
    tenant: TenantId,
) -> Result<StoredCheckpoint, ApiError> {
    match state.store.latest_checkpoint(tenant).await? {
        Some(cp) => Ok(cp),
        None => Ok(state.checkpointer.checkpoint_now(tenant).await?),
    }
}

/// `GET /v1/checkpoint`: the latest signed checkpoint of the caller's log.
#[utoipa::path(
    get, path = "/v1/checkpoint", tag = "integrity", security(("api_key" = [])),
    responses((status = 200, description = "The latest signed checkpoint", body = crate::openapi::bodies::Checkpoint))
)]
pub async fn latest(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Read)?;
    let cp = latest_or_new(&state, caller.tenant()).await?;
    Ok(Json(checkpoint_json(&state, caller.tenant(), &cp)))
}

/// `POST /v1/checkpoint`: signs now, so the answer covers everything acknowledged before it
/// (waiting a few seconds for witnesses' cosignatures, when witnesses are configured).
#[utoipa::path(
    post, path = "/v1/checkpoint", tag = "integrity", security(("api_key" = [])),
    responses((status = 200, description = "A checkpoint covering everything acknowledged before it", body = crate::openapi::bodies::Checkpoint))
)]
pub async fn sign_now(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Read)?;
    let cp = state
        .checkpointer
        .witnessed_checkpoint_now(caller.tenant())
        .await?;
    Ok(Json(checkpoint_json(&state, caller.tenant(), &cp)))
}

/// Reads the non-negative integer parameters `names` (each optional here, at most once);
/// any other parameter is refused.
fn numbers<const N: usize>(
    params: &[(String, String)],
    names: [&str; N],
) -> Result<[Option<u64>; N], ApiError> {
    if let Some((unknown, _)) = params.iter().find(|(k, _)| !names.contains(&k.as_str())) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!(
                "query parameter `{unknown}` is not known here (expected {})",
                names.join(", ")
            ),
        )
        .with_field(unknown, None));
    }
    let mut values = [None; N];
    for (value, name) in values.iter_mut().zip(names) {
        *value = number(params, name)?;
    }
    Ok(values)
}

/// One integer parameter, refusing repeats and anything but a non-negative integer.
fn number(params: &[(String, String)], name: &str) -> Result<Option<u64>, ApiError> {
    let mut values = params.iter().filter(|(k, _)| k == name);
    let Some((_, raw)) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("query parameter `{name}` is given more than once"),
        )
        .with_field(name, None));
    }
    raw.trim().parse::<u64>().map(Some).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("query parameter `{name}` must be a non-negative integer"),
        )
        .with_field(name, Some("type"))
    })
}

/// A proof the store cannot make from these numbers (a seq or size beyond the log, old above
/// new) is a bad parameter like any other: 400, naming it.
fn parameter_error(e: sealtrail_store::StoreError, field: &str) -> ApiError {
    match e {
        sealtrail_store::StoreError::Invalid(message) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
                .with_field(field, Some("range"))
        }
        other => other.into(),
    }
}

fn required(value: Option<u64>, name: &str) -> Result<u64, ApiError> {
    value.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("query parameter `{name}` is required"),
        )
        .with_field(name, Some("required"))
    })
}

/// `GET /v1/proof/inclusion?seq=&size=`: the audit path of entry `seq` in the tree of `size`
/// entries (default: the latest checkpoint's size, whose signed note is included).
#[utoipa::path(
    get, path = "/v1/proof/inclusion", tag = "integrity", security(("api_key" = [])),
    params(
        ("seq" = u64, Query, description = "The entry's place in the log"),
        ("size" = Option<u64>, Query, description = "The tree size to prove against (default: the latest checkpoint's)"),
    ),
    responses(
        (status = 200, description = "The audit path", body = crate::openapi::bodies::InclusionProof),
        (status = 400, description = "No such entry in a tree of that size, or a malformed parameter", body = crate::openapi::bodies::ErrorResponse),
    )
)]
pub async fn inclusion(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Read)?;
    let params = query_params(raw.as_deref());
    let [seq, size] = numbers(&params, ["seq", "size"])?;
    let seq = required(seq, "seq")?;
    let tenant = caller.tenant();
    let (size, checkpoint) = match size {
        Some(size) => (size, state.store.checkpoint_at(tenant, size).await?),
        None => {
            let cp = latest_or_new(&state, tenant).await?;
            (cp.size, Some(cp))
        }
    };
    let proof = state
        .store
        .inclusion_proof(tenant, seq, size)
        .await
        .map_err(|e| parameter_error(e, "seq"))?;
    let leaf = leaf_hex(state.store.as_ref(), tenant, seq).await?;
    Ok(Json(json!({
        "seq": seq,
        "size": size,
        "leaf_hash": leaf,
        "proof": hexes(&proof),
        "checkpoint": checkpoint.map(|cp| checkpoint_json(&state, tenant, &cp)),
    })))
}

/// `GET /v1/proof/consistency?old=&new=`: proves the tree of `new` entries extends the tree of
/// `old` entries (default `new`: the latest checkpoint's size).
#[utoipa::path(
    get, path = "/v1/proof/consistency", tag = "integrity", security(("api_key" = [])),
    params(
        ("old" = u64, Query, description = "The older tree size"),
        ("new" = Option<u64>, Query, description = "The newer tree size (default: the latest checkpoint's)"),
    ),
    responses(
        (status = 200, description = "The consistency path", body = crate::openapi::bodies::ConsistencyProof),
        (status = 400, description = "The sizes do not make a proof (old above new, or new above the log), or a malformed parameter", body = crate::openapi::bodies::ErrorResponse),
    )
)]
pub async fn consistency(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Read)?;
    let params = query_params(raw.as_deref());
    let [old, new] = numbers(&params, ["old", "new"])?;
    let old = required(old, "old")?;
    let tenant = caller.tenant();
    let new = match new {
        Some(new) => new,
        None => latest_or_new(&state, tenant).await?.size,
    };
    let proof = state
        .store
        .consistency_proof(tenant, old, new)
        .await
        .map_err(|e| parameter_error(e, "old"))?;
    let old_cp = state.store.checkpoint_at(tenant, old).await?;
    let new_cp = state.store.checkpoint_at(tenant, new).await?;
    Ok(Json(json!({
        "old": old,
        "new": new,
        "proof": hexes(&proof),
        "old_checkpoint": old_cp.map(|cp| checkpoint_json(&state, tenant, &cp)),
        "new_checkpoint": new_cp.map(|cp| checkpoint_json(&state, tenant, &cp)),
    })))
}
