//! `/v1/events`: ingest (one event or a batch), the filtered newest-first list, and the detail view.

use crate::auth::{Caller, IngestCaller};
use crate::error::ApiError;
use crate::proofs::{self, ProofSet};
use crate::request::{declared_length, discard_body, query_params, read_body};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::entry::Appended;
use sealtrail_core::filter::{parse_query, Cursor};
use sealtrail_core::ingest::FieldError;
use sealtrail_core::keys::Scope;
use sealtrail_core::timeline::Timeline;
use sealtrail_core::Timestamp;
use sealtrail_service::ingest::{self, IngestRequest, Ingested};
use sealtrail_service::usage::admission::Admitted;
use sealtrail_store::{Lookup, SealedEntry, StoreError};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

/// Longest `Idempotency-Key` header accepted.
pub(crate) const MAX_IDEMPOTENCY_HEADER: usize = 200;

/// What happened to one event of a request.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum ItemResult {
    Created {
        index: usize,
        id: Uuid,
        seq: u64,
        recorded_at: Timestamp,
    },
    Duplicate {
        index: usize,
        id: Uuid,
        seq: u64,
        recorded_at: Timestamp,
    },
    Rejected {
        index: usize,
        error: crate::error::ErrorBody,
    },
}

impl ItemResult {
    fn stored(index: usize, a: Appended) -> Self {
        if a.duplicate {
            ItemResult::Duplicate {
                index,
                id: a.id,
                seq: a.seq,
                recorded_at: a.recorded_at,
            }
        } else {
            ItemResult::Created {
                index,
                id: a.id,
                seq: a.seq,
                recorded_at: a.recorded_at,
            }
        }
    }

    fn rejected(index: usize, e: FieldError) -> Self {
        ItemResult::Rejected {
            index,
            error: ApiError::from(e).body,
        }
    }

    /// The event's place in the request.
    fn index(&self) -> usize {
        match self {
            ItemResult::Created { index, .. }
            | ItemResult::Duplicate { index, .. }
            | ItemResult::Rejected { index, .. } => *index,
        }
    }
}

/// The `Idempotency-Key` header, if present and well-formed.
pub(crate) fn idempotency_header(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= MAX_IDEMPOTENCY_HEADER)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_header",
                format!(
                    "Idempotency-Key must be 1-{MAX_IDEMPOTENCY_HEADER} visible ASCII characters"
                ),
            )
            .with_field("Idempotency-Key", Some("format"))
        })?;
    Ok(Some(text.to_string()))
}

/// `POST /v1/events`: acknowledges only after the events are durably committed.
///
/// One event answers 201 (200 for a duplicate) or 422 naming the field; a batch answers 200
/// when every event was stored or was a duplicate, 207 when some were rejected, with a result
/// per event in request order.
#[utoipa::path(
    post, path = "/v1/events", tag = "events", security(("api_key" = [])),
    params(
        ("wait" = Option<String>, Query, description = "`checkpoint`: answer with a signed checkpoint and each stored event's inclusion proof"),
        ("Idempotency-Key" = Option<String>, Header, description = "Deduplicates a retried single event (1-200 visible ASCII characters)"),
    ),
    request_body(content = crate::openapi::bodies::IngestBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The event is durably stored", body = crate::openapi::bodies::IngestResult),
        (status = 200, description = "A single event already stored under its key, or a batch all stored or duplicates", body = crate::openapi::bodies::IngestAnswer),
        (status = 207, description = "A batch of which some events were refused", body = crate::openapi::bodies::BatchResult),
        (status = 422, description = "The event breaks a rule, or a schema registered for its action; the field is named", body = crate::openapi::bodies::ErrorResponse),
    )
)]
pub async fn ingest(
    State(state): State<AppState>,
    IngestCaller(caller): IngestCaller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(Scope::Ingest)?;
    let wait_for_checkpoint = wait_parameter(raw.as_deref())?;
    let idempotency_key = idempotency_header(&headers)?;
    let admitted = admit_body(&state, &headers, body).await?;
    let request = IngestRequest {
        tenant: caller.tenant(),
        body: admitted.bytes,
        idempotency_key,
    };
    let ingested = ingest::ingest(
        state.store.as_ref(),
        &state.usage,
        &state.limits,
        &state.schemas,
        request,
        admitted.queued,
    )
    .await?;
    let proofs = if wait_for_checkpoint && !ingested.stored.is_empty() {
        let seqs: Vec<u64> = ingested.stored.iter().map(|(_, a)| a.seq).collect();
        Some(proofs::proofs_for(&state, caller.tenant(), &seqs).await?)
    } else {
        None
    };
    answer(ingested, proofs.as_ref())
}

/// An ingest body, read once room for it and for its events was reserved.
pub(crate) struct AdmittedBody {
    /// The body as received.
    pub bytes: axum::body::Bytes,
    /// The events' place in the writer's queue, cut to the events actually sent on append.
    pub queued: Admitted,
    /// Held while the body is in memory: the node's budget for bodies being read.
    _reading: Admitted,
}

/// Reserves room to read an ingest body and queue its events before reading it, so a refused
/// request costs no parsing; a refused body is still drained so the client sees the 503.
/// Every ingest route (native or compatible) reads its body through here.
pub(crate) async fn admit_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<AdmittedBody, ApiError> {
    let declared = declared_length(headers);
    let admitted = state
        .usage
        .admit_body(declared, state.max_body_bytes)
        .and_then(|reading| {
            let queued = state
                .usage
                .reserve_queue(declared, state.limits.max_batch)?;
            Ok((reading, queued))
        });
    let (reading, queued) = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => {
            discard_body(body, state.max_body_bytes).await;
            return Err(refusal.into());
        }
    };
    Ok(AdmittedBody {
        bytes: read_body(body, headers, state.max_body_bytes).await?,
        queued,
        _reading: reading,
    })
}

/// The answer to an ingest request: one event answers 201 (200 for a duplicate) with its
/// result; a batch answers 200 when every event was stored or was a duplicate, 207 when some
/// were rejected, with counts and a result per event in request order. Proofs, when asked
/// for, go beside each stored result.
fn answer(ingested: Ingested, proofs: Option<&ProofSet>) -> Result<Response, ApiError> {
    let (duplicates, accepted) = (ingested.duplicates(), ingested.accepted());
    let mut results: Vec<ItemResult> = ingested
        .stored
        .into_iter()
        .map(|(i, a)| ItemResult::stored(i, a))
        .collect();
    if !ingested.is_batch {
        let status = if duplicates == 1 {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        let Some(result) = results.pop() else {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "no result for event",
            ));
        };
        let mut body = serde_json::to_value(&result).unwrap_or(Value::Null);
        if let Some(proofs) = proofs {
            proofs.attach(&mut body);
        }
        return Ok((status, Json(body)).into_response());
    }
    let rejected = ingested.rejected.len();
    results.extend(
        ingested
            .rejected
            .into_iter()
            .map(|(i, e)| ItemResult::rejected(i, e)),
    );
    results.sort_by_key(ItemResult::index);
    let status = if rejected == 0 {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let mut results: Vec<Value> = results
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .collect();
    let mut body = json!({
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": rejected,
    });
    if let Some(proofs) = proofs {
        for result in &mut results {
            proofs.attach_proof(result);
        }
        body["checkpoint"] = proofs.checkpoint.clone();
    }
    body["results"] = Value::Array(results);
    Ok((status, Json(body)).into_response())
}

/// `GET /v1/events`: one newest-first page matching the filters, with the total match count
/// (skip it with `count=false` when only paging) and cursors both ways.
#[utoipa::path(
    get, path = "/v1/events", tag = "events", security(("api_key" = [])),
    params(crate::openapi::FilterParameters, ("count" = Option<bool>, Query, description = "`false` skips counting every match when only paging")),
    responses((status = 200, description = "One page, newest first", body = crate::openapi::bodies::EventPage))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let params = query_params(raw.as_deref());
    let with_total = match params
        .iter()
        .find(|(k, _)| k == "count")
        .map(|(_, v)| v.as_str())
    {
        None | Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                "query parameter `count`: must be true or false",
            )
            .with_field("count", None))
        }
    };
    let query = parse_query(&params, Timestamp::now(), &["count"])?;
    let tenant = caller.tenant();
    let (page, total) = if with_total {
        let (page, total) = tokio::join!(
            state.store.query_sealed(tenant, &query),
            state.store.count(tenant, &query.filter)
        );
        (page?, Some(total?))
    } else {
        (state.store.query_sealed(tenant, &query).await?, None)
    };
    let body = ListBody {
        entries: Views(&page.entries),
        total,
        limit: query.limit,
        next_cursor: page.next_cursor.as_ref().map(Cursor::encode),
        prev_cursor: page.prev_cursor.as_ref().map(Cursor::encode),
    };
    // Written here, not by `Json`, so a stored entry that does not read back is this API's
    // error (500, logged), never a half-written body.
    let bytes = serde_json::to_vec(&body)
        .map_err(|e| ApiError::from(StoreError::Corrupt(format!("listing entries: {e}"))))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response())
}

/// The body of `GET /v1/events`. A struct rather than `json!`, so the entries are written
/// straight to the response instead of first being copied into a `Value` tree (which took a
/// fifth of a page's CPU time).
#[derive(Serialize)]
struct ListBody<'a> {
    entries: Views<'a>,
    total: Option<u64>,
    limit: usize,
    next_cursor: Option<String>,
    prev_cursor: Option<String>,
}

/// A page's entries written from their stored bytes (`SealedEntry::view`), exactly as the
/// opened entries serialise, without opening them: opening was a third of a page's time.
struct Views<'a>(&'a [SealedEntry]);

impl Serialize for Views<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for entry in self.0 {
            seq.serialize_element(&entry.view().map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

/// `GET /v1/events/{id}`: one entry with its before/after changes. Another tenant's id is
/// indistinguishable from a missing one (404); an entry removed by retention pruning answers
/// 410 Gone, so a quoted id is never mistaken for one that never existed.
#[utoipa::path(
    get, path = "/v1/events/{id}", tag = "events", security(("api_key" = [])),
    params(("id" = String, Path, description = "The entry's id (a UUID)")),
    responses(
        (status = 200, description = "The entry with its before/after changes and integrity", body = crate::openapi::bodies::EntryDetail),
        (status = 410, description = "Removed by retention pruning", body = crate::openapi::bodies::ErrorResponse),
    )
)]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Read)?;
    // A string that is not a UUID names no entry: 404, like an id that is not in the log.
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("entry"))?;
    match state.store.get(caller.tenant(), id).await? {
        Lookup::Found(entry) => {
            let integrity = proofs::entry_integrity(&state, caller.tenant(), entry.seq).await?;
            let mut body = serde_json::to_value(&*entry).unwrap_or(Value::Null);
            body["integrity"] = integrity;
            Ok(Json(body))
        }
        Lookup::Pruned { seq } => Err(ApiError::gone(format!(
            "entry {id} (seq {seq}) was removed by retention pruning; its leaf hash remains in the log's tree"
        ))),
        Lookup::Missing => Err(ApiError::not_found("entry")),
    }
}

/// `?wait=checkpoint` asks for a signed checkpoint and inclusion proofs in the answer; no
/// other parameter is accepted on ingest.
fn wait_parameter(raw: Option<&str>) -> Result<bool, ApiError> {
    let mut wait = false;
    for (key, value) in query_params(raw) {
        match (key.as_str(), value.as_str()) {
            ("wait", "checkpoint") => wait = true,
            ("wait", other) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_parameter",
                    format!(
                        "query parameter `wait` must be `checkpoint`, not `{}`",
                        truncate(other)
                    ),
                )
                .with_field("wait", Some("enum")))
            }
            (other, _) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_parameter",
                    format!(
                        "query parameter `{}` is not known here (only `wait=checkpoint`)",
                        truncate(other)
                    ),
                )
                .with_field(truncate(other), None))
            }
        }
    }
    Ok(wait)
}

/// Echoing attacker-controlled text back is fine in JSON, but not at any length.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// `GET /v1/timeline`: the entries the filters select over time, as bars (per hour, day,
/// week, month or year as the period suggests) with counts by outcome: what the page draws
/// above its table.
#[utoipa::path(
    get, path = "/v1/timeline", tag = "events", security(("api_key" = [])),
    params(crate::openapi::FilterParameters),
    responses((status = 200, description = "Counts over time by outcome", body = sealtrail_core::timeline::Timeline))
)]
pub async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Timeline>, ApiError> {
    caller.require(Scope::Read)?;
    let params = query_params(raw.as_deref());
    let now = Timestamp::now();
    let query = parse_query(&params, now, &[])?;
    let timeline = sealtrail_service::timeline::timeline(
        state.store.as_ref(),
        caller.tenant(),
        &query.filter,
        now,
    )
    .await?;
    Ok(Json(timeline))
}
