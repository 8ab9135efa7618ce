//! `GET /v1/export`: the current filter set, streamed in any format, as a download.

use crate::auth::Caller;
use crate::download::stream_download;
use crate::error::ApiError;
use crate::request::query_params;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use sealtrail_core::keys::Scope;

/// Streams exactly what `GET /v1/events` with the same filters would list (all pages),
/// newest first. `format` is `csv` (default), `json`, `ndjson` or `bundle`.
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(Scope::Export)?;
    let params = query_params(raw.as_deref());
    stream_download(&state, caller.tenant(), caller.as_actor(), &params)
}
