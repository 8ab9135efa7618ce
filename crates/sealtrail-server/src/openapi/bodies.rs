//! Answers the document describes that a handler writes as JSON assembled on the spot (with
//! `json!`) rather than from a type of its own. Each is described here by a type with the
//! same members; the fuzzing run of the test suite (`tests/it/openapi.rs`) checks every answer
//! it provokes against these descriptions, so a member added on one side only fails there.
//! The error bodies are real types: every error answer is written from them.

use crate::error::ErrorBody;
use sealtrail_core::entry::Entry;
use sealtrail_core::Timestamp;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Every error of Sealtrail's own API: an RFC 9457 problem document
/// (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    /// Always `about:blank`: the status says what kind of problem it is, `code` which one.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: &'static str,
    /// The status's reason phrase (`Unprocessable Entity`).
    pub title: String,
    /// The HTTP status again.
    pub status: u16,
    /// What went wrong and what is allowed, for the developer reading it.
    pub detail: String,
    /// Stable machine-readable code, e.g. `validation_failed`, `missing_scope`.
    pub code: String,
    /// The field or parameter at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The rule that field broke (`required`, `format`, `max_length`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The request's id (also in `X-Request-Id` and in the server's log lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The same as `code`, `detail` (as `message`), `field` and `rule`, in the shape every
    /// release before RFC 9457 answered with.
    pub error: ErrorBody,
}

/// An error in the shape the Retraced clients read.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetracedErrorBody {
    /// The HTTP status again.
    pub status: u16,
    /// Always `Error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// What went wrong.
    pub error: String,
    /// Sealtrail's machine-readable code.
    pub code: String,
    /// The fields Retraced's rules refused, when the event broke them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub invalid: Option<Value>,
}

/// An error in the shape the WorkOS SDKs read (their exceptions carry `message`, `code` and
/// `errors`, and the `X-Request-ID` header).
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkosErrorBody {
    /// What went wrong.
    pub message: String,
    /// A machine-readable code.
    pub code: String,
    /// One item per refused field, as WorkOS lists them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Value>,
}

/// `GET /v1/events`: one page, newest first.
#[derive(ToSchema)]
pub struct EventPage {
    /// The page's entries, newest first.
    pub entries: Vec<Entry>,
    /// Every entry the filters match (null with `count=false`).
    pub total: Option<u64>,
    /// The page size used.
    pub limit: usize,
    /// Older entries: pass as `cursor` (null on the last page).
    pub next_cursor: Option<String>,
    /// Newer entries: pass as `cursor` (null on the first page).
    pub prev_cursor: Option<String>,
}

/// A signed checkpoint of the tenant's log. `note` is the exact signed text a C2SP
/// signed-note verifier checks with `public_key`.
#[derive(Serialize, ToSchema)]
pub struct Checkpoint {
    /// Entries the tree covers.
    pub size: u64,
    /// The tree's root hash, hex.
    pub root: String,
    /// When it was signed.
    pub signed_at: Timestamp,
    /// The signed note.
    pub note: String,
    /// The log's verifier key (a C2SP note verifier string).
    pub public_key: String,
    /// Whether the witnesses' quorum cosigned it (only when witnesses are configured).
    pub witnessed: Option<bool>,
    /// Cosignatures needed (only when witnesses are configured).
    pub witness_quorum: Option<u64>,
    /// The witnesses that cosigned (only when witnesses are configured).
    pub cosigned_by: Option<Vec<String>>,
    /// What each witness last answered (only when witnesses are configured).
    #[schema(value_type = Option<Vec<Object>>)]
    pub witnesses: Option<Value>,
}

/// `GET /v1/events/{id}`: the entry, and its place in the signed tree.
#[derive(Serialize, ToSchema)]
pub struct EntryDetail {
    /// The entry (its members are at the top level of the answer).
    #[serde(flatten)]
    pub entry: Entry,
    /// `included` with its proof once a checkpoint covers it, else `pending`.
    pub integrity: Integrity,
}

/// An entry's leaf hash and, once a checkpoint covers it, its inclusion proof.
#[derive(Serialize, ToSchema)]
pub struct Integrity {
    /// `included` or `pending`.
    pub status: String,
    /// The entry's leaf hash (hex); null once pruned.
    pub leaf_hash: Option<String>,
    /// The checkpoint's tree size (when included).
    pub tree_size: Option<u64>,
    /// The audit path (hex hashes, when included).
    pub inclusion_proof: Option<Vec<String>>,
    /// The checkpoint proven against (when included).
    pub checkpoint: Option<Checkpoint>,
    /// Why there is no proof yet (when pending).
    pub message: Option<String>,
}

/// What one stored event of an ingest request became.
#[derive(Serialize, ToSchema)]
pub struct IngestResult {
    /// `created`, `duplicate` or `rejected`.
    pub status: String,
    /// The event's place in the request (0 for a single event).
    pub index: usize,
    /// The entry's id (stored events).
    pub id: Option<uuid::Uuid>,
    /// The entry's place in the log (stored events).
    pub seq: Option<u64>,
    /// When it was committed (stored events).
    pub recorded_at: Option<Timestamp>,
    /// Why it was refused (rejected events of a batch).
    pub error: Option<ErrorBody>,
    /// With `wait=checkpoint`: the leaf hash.
    pub leaf_hash: Option<String>,
    /// With `wait=checkpoint`: the size of the tree proven against.
    pub tree_size: Option<u64>,
    /// With `wait=checkpoint`: the audit path.
    pub inclusion_proof: Option<Vec<String>>,
    /// With `wait=checkpoint` on a single event: the checkpoint.
    pub checkpoint: Option<Checkpoint>,
}

/// The answer to a batch.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    /// Events stored now.
    pub accepted: u64,
    /// Events that were already stored under their idempotency key.
    pub duplicates: u64,
    /// Events refused.
    pub rejected: u64,
    /// One result per event, in request order.
    pub results: Vec<IngestResult>,
    /// With `wait=checkpoint`: the checkpoint every proof is against.
    pub checkpoint: Option<Checkpoint>,
}

/// `GET /v1/proof/inclusion`.
#[derive(ToSchema)]
pub struct InclusionProof {
    /// The entry proven.
    pub seq: u64,
    /// The tree size proven against.
    pub size: u64,
    /// The entry's leaf hash (hex); null once pruned.
    pub leaf_hash: Option<String>,
    /// The audit path, hex.
    pub proof: Vec<String>,
    /// The checkpoint of that size, when one was signed.
    pub checkpoint: Option<Checkpoint>,
}

/// `GET /v1/proof/consistency`.
#[derive(ToSchema)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub old: u64,
    /// The newer tree size.
    pub new: u64,
    /// The consistency path, hex.
    pub proof: Vec<String>,
    /// The checkpoint of the older size, when one was signed.
    pub old_checkpoint: Option<Checkpoint>,
    /// The checkpoint of the newer size, when one was signed.
    pub new_checkpoint: Option<Checkpoint>,
}

/// `GET /v1/tenant`.
#[derive(ToSchema)]
pub struct TenantView {
    /// The tenant's name.
    pub name: String,
    /// Its other names for the compatible APIs.
    pub aliases: Vec<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Entries in its log.
    pub log_size: u64,
}

/// `POST /v1/tenant/aliases` (body and answer).
#[derive(ToSchema)]
pub struct Alias {
    /// A WorkOS organization id, a Retraced project id, or another name.
    pub alias: String,
}

/// `POST /v1/keys`: the new key, with the only copy of its secret.
#[derive(ToSchema)]
pub struct CreatedKeyView {
    /// The key's record.
    pub key: sealtrail_core::keys::ApiKey,
    /// The secret to send as `Authorization: Bearer …`.
    pub secret: String,
    /// A reminder that the secret is not shown again.
    pub warning: String,
}

/// `GET /v1/facets/actors`.
#[derive(ToSchema)]
pub struct ActorMatches {
    /// The matching actors, most frequent first.
    pub actors: Vec<sealtrail_core::filter::FacetActor>,
}

/// A tenant's settings, as every settings operation answers.
#[derive(ToSchema)]
pub struct SettingsView {
    /// Days entries are kept (a whole number), or the word `forever`.
    pub retention_days: Value,
    /// Whether a legal hold blocks every prune.
    pub legal_hold: bool,
    /// Property keys every export leaves out.
    pub export_excluded_properties: Vec<String>,
    /// Rate limits and quota (`null` members are unlimited).
    #[schema(value_type = Object)]
    pub limits: Value,
    /// Who may read the log's tiles: `off`, `monitor` or `public`.
    pub tile_access: String,
    /// The period the audit page opens on; null for any time.
    pub default_period: Option<String>,
    /// Web origins whose pages may call the API from a browser (CORS); none by default.
    pub cors_origins: Vec<String>,
}

/// `PUT /v1/settings/limits`.
#[derive(ToSchema)]
pub struct LimitsView {
    /// The limits now in force (`null` members are unlimited).
    #[schema(value_type = Object)]
    pub limits: Value,
}

/// `POST /v1/admin/prune`.
#[derive(ToSchema)]
pub struct PruneResult {
    /// Entries removed.
    pub removed: u64,
    /// Entries recorded before this were removed (absent when kept forever).
    pub cutoff: Option<Timestamp>,
    /// The first entry kept (absent when kept forever).
    pub first_kept_seq: Option<u64>,
    /// `forever` when the tenant keeps everything.
    pub retention_days: Option<String>,
}

/// `POST /v1/subjects/{subject}/erase`.
#[derive(ToSchema)]
pub struct ErasureResult {
    /// Whether this only showed what an erasure would change.
    pub dry_run: bool,
    /// What the subject's identity is replaced with.
    pub pseudonym: String,
    /// Entries changed.
    pub entries_scrubbed: u64,
    /// How many values were replaced, by field path (`actor.email`, `targets[0]`, …).
    pub fields: std::collections::BTreeMap<String, u64>,
    /// The entries changed, with the fields changed in each (at most a page).
    #[schema(value_type = Vec<Object>)]
    pub entries: Value,
    /// Whether `entries` lists only the first of them.
    pub truncated: bool,
    /// Database relations that may still hold the old values on disk until their rewrite,
    /// which waits for another node's or a busy table's lock and then runs in the background
    /// (PostgreSQL only; empty when the erasure is complete on disk).
    pub rewrites_pending: Vec<String>,
}

/// One registered version of an action's schema.
#[derive(ToSchema)]
pub struct SchemaVersion {
    /// The action it checks.
    pub action: String,
    /// Its version (1, 2, …).
    pub version: u64,
    /// The JSON Schema as registered (an object, or `true`/`false`).
    pub schema: Value,
    /// When it was registered.
    pub created_at: Timestamp,
    /// The WorkOS targets/metadata form it was registered in, for schemas made through WorkOS.
    #[schema(value_type = Option<Object>)]
    pub workos: Option<Value>,
}

/// `GET /v1/schemas`.
#[derive(ToSchema)]
pub struct SchemaList {
    /// Every version of every action's schema.
    pub schemas: Vec<SchemaVersion>,
}

/// `GET /v1/schemas/{action}`.
#[derive(ToSchema)]
pub struct ActionSchemas {
    /// The action.
    pub action: String,
    /// Its versions, oldest first.
    pub versions: Vec<SchemaVersion>,
}

/// `GET /healthz`.
#[derive(ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` with 503.
    pub status: String,
}

/// A Retraced publisher's answer per stored event.
#[derive(ToSchema)]
pub struct RetracedPublished {
    /// The entry's id.
    pub id: String,
    /// The client's canonical SHA-256 of the event as sent (hex); the client checks it.
    pub hash: String,
}

/// A Retraced viewer token (answer of `viewertoken`, body of `viewersession`).
#[derive(ToSchema)]
pub struct RetracedToken {
    /// The sealed token.
    pub token: String,
}

/// A Retraced viewer session.
#[derive(ToSchema)]
pub struct RetracedSession {
    /// The project the session reads.
    pub project_id: String,
    /// The session, sent as the whole `Authorization` header.
    pub token: String,
}

/// The embedded viewer's request to save an export.
#[derive(ToSchema)]
pub struct RetracedExportRequest {
    /// A name for it.
    pub name: String,
    /// `searchQuery`, `showCreate`, `showRead`, `showUpdate`, `showDelete`, `version`,
    /// `startTime`, `endTime`.
    #[serde(rename = "exportBody")]
    #[schema(value_type = Object)]
    pub export_body: Value,
}

/// A saved export as the embedded viewer lists it.
#[derive(ToSchema)]
pub struct RetracedSavedExport {
    /// Its id (the id of the entry that records it).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The export body as saved.
    #[schema(value_type = Object)]
    pub body: Value,
    /// When it was saved.
    pub created: Timestamp,
}

/// A GraphQL request.
#[derive(ToSchema)]
pub struct GraphqlRequest {
    /// The query text.
    pub query: String,
    /// Its variables.
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Value>,
    /// Which operation to run.
    #[serde(rename = "operationName")]
    pub operation_name: Option<String>,
}

/// `POST /audit_logs/events`.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkosEventRequest {
    /// The organization: a tenant's name or alias.
    pub organization_id: String,
    /// The WorkOS event: `action`, `occurred_at`, `actor`, `targets`, `context`, `metadata`, `version`.
    #[schema(value_type = Object)]
    pub event: Value,
}

/// `POST /audit_logs/exports`: a CSV export of a range. The list filters take one value each
/// (Sealtrail's filters match one); `actor_names` and `actors` are refused when not empty.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkosExportRequest {
    /// The organization: a tenant's name or alias.
    pub organization_id: String,
    /// Start of the range (RFC 3339).
    pub range_start: String,
    /// End of the range (RFC 3339, exclusive).
    pub range_end: String,
    /// At most one action.
    #[schema(max_items = 1)]
    pub actions: Option<Vec<String>>,
    /// At most one target type.
    #[schema(max_items = 1)]
    pub targets: Option<Vec<String>>,
    /// At most one actor id.
    #[schema(max_items = 1)]
    pub actor_ids: Option<Vec<String>>,
    /// Refused unless empty: Sealtrail has no filter by actor name.
    #[schema(max_items = 0)]
    pub actor_names: Option<Vec<String>>,
    /// WorkOS's deprecated `actor_names`; refused unless empty.
    #[schema(max_items = 0)]
    pub actors: Option<Vec<String>>,
}

/// A WorkOS export object.
#[derive(ToSchema)]
pub struct WorkosExport {
    /// Always `audit_log_export`.
    pub object: String,
    /// The export's id.
    pub id: String,
    /// `pending`, `ready` or `error`.
    pub state: String,
    /// A ten-minute download link, once ready.
    pub url: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// WorkOS's acknowledgement.
#[derive(ToSchema)]
pub struct WorkosSuccess {
    /// Always true.
    pub success: bool,
}

/// A GraphQL response: `data`, and `errors` when the query failed in part or whole.
#[derive(ToSchema)]
pub struct GraphqlResponse {
    /// The result, shaped as the query asked.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// What failed, each with a `message`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Value>,
}

/// The body of `PUT …/audit_logs_retention`: one of the two members, as the SDKs send it.
#[derive(ToSchema)]
pub struct WorkosRetentionRequest {
    /// Days to keep entries (the Python SDK); at least 30.
    pub retention_period_in_days: Option<u64>,
    /// A period such as `30_DAYS` or `1_YEAR` (the Node SDK).
    pub retention_period: Option<String>,
}

/// An organization's retention as WorkOS describes it.
#[derive(ToSchema)]
pub struct WorkosRetention {
    /// Days entries are kept; null for forever.
    #[schema(required = true)]
    pub retention_period_in_days: Option<u64>,
}

/// One event as `POST /v1/events` takes it. Only `action` is required; every other member has a
/// default (`channel` `default`, `result` `success`, `occurred_at` the time of receipt, …).
/// Members not listed are refused by name.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// A dotted verb such as `member.role_changed` (at most 128 characters).
    pub action: String,
    /// The log area, such as `auth` (letters, digits, `_`, `-`, `.`; at most 64).
    pub channel: Option<String>,
    /// The badge kind; derived from the action's last word when absent.
    pub event: Option<String>,
    /// A free grouping label.
    pub category: Option<String>,
    /// A human summary; the action when absent.
    pub description: Option<String>,
    /// The outcome.
    pub result: Option<sealtrail_core::entry::Outcome>,
    /// Who acted: `type` (`user`, `system`, …), `id`, `name`, `email`, `via`.
    #[schema(value_type = Option<Object>)]
    pub actor: Option<Value>,
    /// The records touched, each with `type` and optional `id` and `name` (at most 32).
    #[schema(value_type = Option<Vec<Object>>)]
    pub targets: Option<Value>,
    /// Where it came from: `ip`, `user_agent`, `location`, `request`.
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// `before` and `after` values of an edit.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<Value>,
    /// Free producer data; secrets in it are redacted before storage.
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
    /// When it happened (RFC 3339; at most 24 hours ahead of the server).
    pub occurred_at: Option<Timestamp>,
    /// Deduplicates retries within the tenant (at most 200 characters).
    pub idempotency_key: Option<String>,
}

/// A batch: `{"events": [...]}`, answered per event.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// The events: at least one, at most the server's batch limit (`--max-batch`, 1,000 by
    /// default).
    #[schema(min_items = 1)]
    pub events: Vec<EventInput>,
}

/// The body of `POST /v1/events`: one event, or a batch.
#[derive(serde::Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum IngestBody {
    /// One event, answered 201 (200 for a duplicate).
    Event(Box<EventInput>),
    /// Several, answered 200 or 207 with one result per event.
    Batch(EventBatch),
}

/// The answer to `POST /v1/events`: one event's result, or a batch's.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum IngestAnswer {
    /// A single event.
    Event(Box<IngestResult>),
    /// A batch.
    Batch(Box<BatchResult>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    use utoipa::PartialSchema;

    /// The described input members are exactly those the validator reads, so neither a new
    /// member nor a removed one goes undocumented.
    #[test]
    fn the_event_input_lists_exactly_the_members_ingest_accepts() {
        let RefOr::T(Schema::Object(object)) = EventInput::schema() else {
            panic!("EventInput is an object schema");
        };
        let described: Vec<&str> = object.properties.keys().map(String::as_str).collect();
        assert_eq!(described, sealtrail_core::ingest::EVENT_FIELDS);
        assert_eq!(object.required, vec!["action".to_string()]);
    }
}
