//! The audit entry: one action by one actor against (usually) one record.
//!
//! [`NewEntry`] is what a client asked to record, after validation and redaction;
//! [`Entry`] is what the log holds once the single writer has given it a place (`seq`),
//! a server time (`recorded_at`) and a stable id.

use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// The action of the entry a retention prune writes before it removes anything: `verify`
/// accepts a pruned range only when such an entry names its new first seq.
pub const PRUNE_ACTION: &str = "retention.pruned";

/// The action of the entry that records a GDPR erasure under the subject's pseudonym.
pub const ERASURE_ACTION: &str = "subject.erased";

/// Actions only Sealtrail itself records. `verify` trusts what these entries say about the
/// log (which entries a prune removed, which values an erasure replaced), so a client may not
/// send them: an application could otherwise write the very entry that excuses a deletion.
pub const RESERVED_ACTIONS: [&str; 2] = [PRUNE_ACTION, ERASURE_ACTION];

/// How far ahead of the server's clock an event's `occurred_at` may be: clock skew between
/// producers, not more. The log relies on it: an entry that happened at or after a time `t`
/// was received at or after `t` minus this, so a period filtered on event time starts its
/// seq range from the receipt-time index. (How far back `occurred_at` may go is not bounded
/// beyond 1970: bulk imports of years of history are a normal use.)
pub const OCCURRED_AT_MAX_AHEAD_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// An entry received more than this after its `occurred_at` is *late* (a producer's retry
/// after an outage, a bulk import). Late entries are the only ones whose receipt time says
/// nothing about their event time, so both backends index them apart (`entries_late`) and a
/// period on event time checks that small index instead of scanning to the head of the log.
pub const LATE_AFTER_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// Outcome of the recorded action, shown as the Result badge.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The action completed as intended; the default when the client sends no `result`.
    #[default]
    Success,
    /// The action was attempted and did not complete (an error, a wrong password).
    Failure,
    /// An authorisation or policy check refused the action, so it never took effect.
    Denied,
    /// Completed only in part or with a caveat a reviewer should notice (an unfinished erasure).
    Warning,
    /// A request that needed sign-off was granted; shown with the same good badge as `Success`.
    Approved,
    /// A permission or policy check let the action through; shown as good, like `Success`.
    Allowed,
}

impl Outcome {
    /// Every accepted value, for error messages and dropdowns.
    pub const ALL: [Outcome; 6] = [
        Outcome::Success,
        Outcome::Failure,
        Outcome::Denied,
        Outcome::Warning,
        Outcome::Approved,
        Outcome::Allowed,
    ];

    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
            Outcome::Warning => "warning",
            Outcome::Approved => "approved",
            Outcome::Allowed => "allowed",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "must be one of {}",
                    Outcome::ALL.map(|o| o.as_str()).join(", ")
                )
            })
    }
}

/// Who acted. `System` renders as a System badge: a scheduled job or the platform itself.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ActorType {
    /// A person, usually signed in to the producing app; the default when `type` is absent.
    #[default]
    User,
    /// Sealtrail or the producing platform itself (a scheduled job, an import); may omit `id`,
    /// which is then derived from its name ([`Actor::system_id`]).
    System,
    /// A caller holding an API key; Sealtrail records actions taken with its own keys this way.
    Api,
    /// A connected third-party service acting for the tenant (a sync job, a partner webhook).
    Integration,
}

impl ActorType {
    /// Every accepted value, for error messages.
    pub const ALL: [ActorType; 4] = [
        ActorType::User,
        ActorType::System,
        ActorType::Api,
        ActorType::Integration,
    ];

    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::System => "system",
            ActorType::Api => "api",
            ActorType::Integration => "integration",
        }
    }
}

impl FromStr for ActorType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActorType::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "must be one of {}",
                    ActorType::ALL.map(|o| o.as_str()).join(", ")
                )
            })
    }
}

/// The person or process that performed the action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Actor {
    /// Serialised as `type`; `system` actors are what the `system=true` filter selects.
    #[serde(rename = "type", default)]
    pub kind: ActorType,
    /// The producer's stable identifier, required at ingest unless the actor is `system`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name shown in the Actor column; the id stands in for it when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Validated loosely as an address; the `actor` filter matches it as well as the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The source the action came through: "API (App Name)", "CSV Import", "Webhook", "Bulk Invite".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

impl Actor {
    /// The actor Sealtrail itself records its own automated actions under (prunes, key changes from the CLI).
    pub fn system(name: &str) -> Self {
        Actor {
            kind: ActorType::System,
            id: Some(Actor::system_id(Some(name))),
            name: Some(name.into()),
            email: None,
            via: None,
        }
    }

    /// The id of a system actor sent without one: `system:<name>`, or `system` when it has no
    /// name either. Derived from the name exactly (not a slug), so "CSV Import", "Bulk Invite"
    /// and "SCIM sync" stay three actors in facets and filters, each with a stable id.
    pub fn system_id(name: Option<&str>) -> String {
        match name {
            Some(name) if !name.is_empty() => format!("system:{name}"),
            _ => "system".to_string(),
        }
    }
}

/// A record the action touched. The first target is the entry's primary Subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Target {
    /// Serialised as `type`: what kind of record it is (`invoice`, `user`); required at ingest.
    #[serde(rename = "type")]
    pub kind: String,
    /// The record's id in the producer's system; JSON numbers are kept as their decimal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Human-readable label of the record, as the producer named it at the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The HTTP request that caused the action, when the producer records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct RequestInfo {
    /// HTTP method as the producer sent it; not validated against a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request path as sent; secrets in URL parameters are redacted before storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Request body as free JSON, stored after redaction of recognised secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Response the producer returned, as free JSON, stored after redaction of secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}

/// Where the action came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Context {
    /// Client IP in canonical text form (validated as an IPv4 or IPv6 address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The client's User-Agent header, at most 1024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Free text from the producer ("Berlin"); Sealtrail does not derive it from the IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// `None` unless the producer sent at least one of its fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestInfo>,
}

impl Context {
    /// True when nothing was recorded, so the field can be omitted from output.
    pub fn is_empty(&self) -> bool {
        self.ip.is_none()
            && self.user_agent.is_none()
            && self.location.is_none()
            && self.request.is_none()
    }
}

/// Before/after values of an edit, shown side by side in the detail view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Changes {
    /// Value before the edit as free JSON; `None` when not recorded (e.g. for a creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Value after the edit as free JSON; `None` when not recorded (e.g. for a deletion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// A validated, redacted event waiting for the writer to give it a place in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEntry {
    /// The client's claim of when it happened; defaults to the time of ingest.
    pub occurred_at: Option<Timestamp>,
    /// Log area such as `auth` or `billing` (the web page's Subject filter); `default` if unset.
    pub channel: String,
    /// Dotted verb such as `member.role_changed`; clients may not use [`RESERVED_ACTIONS`].
    pub action: String,
    /// Badge kind (`created`, `updated`, ...): as given, or derived from the action's last word.
    pub event: String,
    /// Free grouping label such as "Policy Changes"; `None` when the client sent none.
    pub category: Option<String>,
    /// Human summary, the first thing free-text search matches; defaults to the action.
    pub description: String,
    /// Outcome the producer reported; `Success` when it sent none.
    pub result: Outcome,
    /// Who acted; ingest requires an `id` unless the actor is `system`.
    pub actor: Actor,
    /// Records the action touched (ingest allows 32); the first is the primary Subject.
    pub targets: Vec<Target>,
    /// Request details; all fields `None` when the producer sent no `context`.
    pub context: Context,
    /// `None` unless the producer sent `before` or `after`.
    pub changes: Option<Changes>,
    /// Free producer data, filterable with `properties.<key>=value`; redacted like the rest.
    pub properties: Map<String, Value>,
    /// JSON paths (e.g. `properties.password`) whose values were replaced before storage.
    pub redacted: Vec<String>,
    /// Deduplicates retries: a second event with the same key in the same tenant is not stored
    /// again; the first one's id and seq are returned instead.
    pub idempotency_key: Option<String>,
}

/// An entry as the log holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entry {
    /// Stable, time-ordered id (UUIDv7), quotable in correspondence.
    pub id: Uuid,
    /// Position in the tenant's log, starting at 0, gapless.
    pub seq: u64,
    /// Server time the entry was committed; never decreases along `seq` within a tenant.
    pub recorded_at: Timestamp,
    /// The event's own time: the client's claim of when it happened, else `recorded_at`. What
    /// the page's When column, periods and exports use; not ordered by `seq`, at most
    /// [`OCCURRED_AT_MAX_AHEAD_MILLIS`] after `recorded_at`.
    pub occurred_at: Timestamp,
    /// Log area such as `auth` or `billing`; `default` when the client sent none.
    pub channel: String,
    /// Dotted verb such as `member.role_changed`, as the `action` filter matches it.
    pub action: String,
    /// Badge kind (`created`, `updated`, `deleted`, `read`, `other` or a client's own slug).
    pub event: String,
    /// Free grouping label such as "Policy Changes"; omitted from JSON when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Human summary shown in the list; an erasure may replace the subject's words in it.
    pub description: String,
    /// Outcome the producer reported, shown as the Result badge.
    pub result: Outcome,
    /// Who acted; an erasure replaces an erased subject's identity with its pseudonym.
    pub actor: Actor,
    /// Records the action touched; the first is the primary Subject. May be empty.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// Where the action came from; omitted from JSON when nothing was recorded.
    #[serde(default, skip_serializing_if = "Context::is_empty")]
    pub context: Context,
    /// Before/after values of an edit; `None` when the producer sent neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
    /// Free producer data; a tenant may exclude some keys from its exports.
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// JSON paths (e.g. `properties.password`) whose values were replaced before storage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
    /// The key this entry was stored under, so later retries with it answer with this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// How far receipt may lag (or lead) the event time before the page and the PDF report show
/// both: producers batch and retry within seconds; more than a minute is a late event or an
/// import worth seeing.
pub const RECEIVED_APART_MILLIS: i64 = 60_000;

impl Entry {
    /// True when Sealtrail received the entry more than [`RECEIVED_APART_MILLIS`] before or
    /// after it happened, so readers are shown the receipt time beside the event time.
    pub fn received_apart(&self) -> bool {
        (self.recorded_at.millis() - self.occurred_at.millis()).abs() > RECEIVED_APART_MILLIS
    }

    /// Builds the stored form of `new` once the writer has assigned its place and time.
    pub fn from_new(new: NewEntry, id: Uuid, seq: u64, recorded_at: Timestamp) -> Self {
        Entry {
            id,
            seq,
            recorded_at,
            occurred_at: new.occurred_at.unwrap_or(recorded_at),
            channel: new.channel,
            action: new.action,
            event: new.event,
            category: new.category,
            description: new.description,
            result: new.result,
            actor: new.actor,
            targets: new.targets,
            context: new.context,
            changes: new.changes,
            properties: new.properties,
            redacted: new.redacted,
            idempotency_key: new.idempotency_key,
        }
    }

    /// The primary Subject (first target), if the action had one.
    pub fn primary_target(&self) -> Option<&Target> {
        self.targets.first()
    }
}

/// What the log answered for one appended event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appended {
    /// The entry's id; on a duplicate, the id of the entry stored the first time.
    pub id: Uuid,
    /// The entry's position in the tenant's log; on a duplicate, the original entry's.
    pub seq: u64,
    /// Server commit time in UTC; on a duplicate, the original entry's, not this request's.
    pub recorded_at: Timestamp,
    /// True when the idempotency key matched an entry already in the log: nothing new was stored.
    pub duplicate: bool,
}
