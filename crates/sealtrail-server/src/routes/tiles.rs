//! `/tlog/{tenant}/checkpoint` and `/tlog/{tenant}/tile/{L}/{N}[.p/{W}]`: each tenant's log as
//! C2SP tlog-tiles, for monitors built on standard tooling (hashes only, never entries).
//!
//! Who may read them is the tenant's `tile_access` setting: off (404, as if there were no such
//! log), API keys of the tenant with the `monitor` scope (404 too without a valid key of the
//! tenant, so names cannot be probed), or anyone. Reads are not audited:
//! they reveal only the log's size and hashes, and a monitor polls every few seconds.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::integrity::latest_or_new;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use sealtrail_core::keys::Scope;
use sealtrail_core::tiles::TileRef;
use sealtrail_core::TenantId;
use sealtrail_store::TileAccess;

/// The tenant whose log `name` is, once the caller may read its tiles.
async fn readable_log(
    state: &AppState,
    name: &str,
    caller: Result<Caller, ApiError>,
) -> Result<(TenantId, TileAccess), ApiError> {
    let hidden = || ApiError::not_found("log");
    let tenant = state.store.tenant_by_name(name).await?.ok_or_else(hidden)?;
    let access = state.store.settings(tenant.id).await?.tile_access;
    match access {
        TileAccess::Off => return Err(hidden()),
        TileAccess::Public => {}
        TileAccess::Monitor => {
            // No key, a bad key or another tenant's key learns nothing, not even that the
            // tenant exists: the same 404 as for a log that is off or unknown.
            let caller = caller.map_err(|_| hidden())?;
            if caller.tenant() != tenant.id {
                return Err(hidden());
            }
            caller.require(Scope::Monitor)?;
        }
    }
    Ok((tenant.id, access))
}

/// Caching: tiles never change, so they may be kept for a year — by shared caches only when
/// the log is public.
fn cache_control(access: TileAccess, immutable: bool) -> HeaderValue {
    HeaderValue::from_static(match (access, immutable) {
        (_, false) => "no-cache",
        (TileAccess::Public, true) => "public, max-age=31536000, immutable",
        (_, true) => "private, max-age=31536000, immutable",
    })
}

/// `GET /tlog/{tenant}/checkpoint`: the latest signed checkpoint (with any cosignatures), as
/// the plain signed note.
pub async fn checkpoint(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Result<Caller, ApiError>,
) -> Result<Response, ApiError> {
    let (tenant, access) = readable_log(&state, &name, caller).await?;
    let checkpoint = latest_or_new(&state, tenant).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, cache_control(access, false)),
        ],
        checkpoint.note,
    )
        .into_response())
}

/// `GET /tlog/{tenant}/tile/{*path}`: one tile of hashes, once the latest checkpoint covers
/// it (partial tiles stay available after their full tile appears).
pub async fn tile(
    State(state): State<AppState>,
    Path((name, path)): Path<(String, String)>,
    caller: Result<Caller, ApiError>,
) -> Result<Response, ApiError> {
    let (tenant, access) = readable_log(&state, &name, caller).await?;
    let tile = TileRef::parse(&path).map_err(|_| ApiError::not_found("tile"))?;
    let covered = latest_or_new(&state, tenant).await?.size;
    let first = tile.first_node().filter(|_| tile.exists_in(covered));
    let Some(first) = first else {
        return Err(ApiError::not_found("tile"));
    };
    let hashes = state
        .store
        .tree_level(tenant, tile.tree_level(), first, tile.width())
        .await?;
    let body: Vec<u8> = hashes.concat();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CACHE_CONTROL, cache_control(access, true)),
        ],
        body,
    )
        .into_response())
}
