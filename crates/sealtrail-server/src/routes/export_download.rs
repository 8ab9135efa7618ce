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
#[utoipa::path(
    get, path = "/v1/export", tag = "exports", security(("api_key" = [])),
    params(crate::openapi::FilterParameters,
        ("format" = Option<String>, Query, description = "`csv` (default), `json`, `ndjson`, `xlsx`, `pdf`, or `bundle` (a signed evidence bundle, verified offline with `sealtrail verify --bundle`)"),
        ("order" = Option<String>, Query, description = "`newest` (default) or `oldest` first"),
    ),
    responses(
        (status = 200, description = "The file, streamed; the export itself is recorded in the log", content(
            (String = "text/csv"), (String = "application/json"), (String = "application/x-ndjson"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (Vec<u8> = "application/pdf"),
            (Vec<u8> = "application/x-tar"),
        )),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(Scope::Export)?;
    let params = query_params(raw.as_deref());
    stream_download(&state, caller.tenant(), caller.as_actor(), &params)
}
