//! `POST /witness/add-checkpoint`: this process as a C2SP tlog-witness for other logs
//! ([`sealtrail_service::witness`]). Unauthenticated, as the protocol intends: the checkpoint's signature
//! by a configured log key is the authentication.

use crate::error::ApiError;
use crate::request::read_body;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sealtrail_core::witness::SIZE_CONTENT_TYPE;
use sealtrail_service::witness::Refusal;

/// Largest request: 63 proof lines and a checkpoint with a few signatures fit in 16 KiB.
const MAX_BODY: usize = 16 * 1024;

/// Handles one `add-checkpoint`; 404 when this process is not a witness.
pub async fn add_checkpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(witness) = state.witness.clone() else {
        return Err(ApiError::not_found("route"));
    };
    let body = read_body(body, &headers, MAX_BODY).await?;
    let text = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "the request body is not UTF-8",
        )
    })?;
    let now = sealtrail_core::Timestamp::now().millis().max(0) as u64 / 1000;
    let Some(slot) = witness.slot() else {
        return Err(ApiError::overloaded(
            "the witness is busy with other checkpoints; retry shortly",
        ));
    };
    let answer = tokio::task::spawn_blocking(move || {
        let _held = slot;
        witness.add_checkpoint(&text, now)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the witness task failed: {e}"),
        )
    })?;
    let plain = |status: StatusCode, content_type: &'static str, text: String| {
        (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            text,
        )
            .into_response()
    };
    Ok(match answer {
        Ok(line) => plain(StatusCode::OK, "text/plain; charset=utf-8", line),
        Err(Refusal::Conflict(size)) => {
            plain(StatusCode::CONFLICT, SIZE_CONTENT_TYPE, format!("{size}\n"))
        }
        Err(refusal) => {
            let status = match &refusal {
                Refusal::Malformed(_) => StatusCode::BAD_REQUEST,
                Refusal::UnknownLog(_) => StatusCode::NOT_FOUND,
                Refusal::Unsigned(_) => StatusCode::FORBIDDEN,
                Refusal::BadProof => StatusCode::UNPROCESSABLE_ENTITY,
                Refusal::Conflict(_) | Refusal::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            plain(status, "text/plain; charset=utf-8", format!("{refusal}\n"))
        }
    })
}
