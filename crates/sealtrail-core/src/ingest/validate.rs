//! The per-field rules that turn one parsed event into a [`NewEntry`].
//!
//! Each object of the known structure refuses keys it does not know (a typo such as `acter`
//! would otherwise silently drop data), then its fields are checked in a fixed order and the
//! first problem is reported, so the same event always gives the same error. JSON `null` and,
//! for optional text fields, the empty string count as absent.

use super::{FieldError, Limits};
use crate::entry::{Actor, ActorType, Changes, Context, NewEntry, Outcome, RequestInfo, Target};
use crate::redact;
use crate::timestamp::Timestamp;
use serde_json::{Map, Value};
use std::net::IpAddr;

/// Top-level fields, in the order they are checked.
pub const EVENT_FIELDS: &[&str] = &[
    "action",
    "channel",
    "event",
    "category",
    "description",
    "result",
    "actor",
    "targets",
    "context",
    "changes",
    "properties",
    "occurred_at",
    "idempotency_key",
];
/// Fields of `actor`, in the order they are checked.
pub const ACTOR_FIELDS: &[&str] = &["type", "id", "name", "email", "via"];
/// Fields of each `targets[i]`.
pub const TARGET_FIELDS: &[&str] = &["type", "id", "name"];
/// Fields of `context`.
pub const CONTEXT_FIELDS: &[&str] = &["ip", "user_agent", "location", "request"];
/// Fields of `context.request`.
pub const REQUEST_FIELDS: &[&str] = &["method", "path", "body", "response"];
/// Fields of `changes`.
pub const CHANGES_FIELDS: &[&str] = &["before", "after"];

// Length limits, in characters: long enough for any real value, short enough that one
// field cannot dominate an event or a list view.
/// Longest `action`.
const MAX_ACTION: usize = 128;
/// Longest `channel`.
const MAX_CHANNEL: usize = 64;
/// Longest explicit `event`.
const MAX_EVENT: usize = 32;
/// Longest `category`.
const MAX_CATEGORY: usize = 128;
/// Longest `description`.
const MAX_DESCRIPTION: usize = 4096;
/// Actor id/name/via and target type/id/name.
const MAX_NAME: usize = 256;
/// Longest `actor.email` (the SMTP limit).
const MAX_EMAIL: usize = 254;
/// Most `targets` per event.
const MAX_TARGETS: usize = 32;
/// Longest `context.user_agent`.
const MAX_USER_AGENT: usize = 1024;
/// Longest `context.location`.
const MAX_LOCATION: usize = 256;
/// Longest `idempotency_key` (the same as the `Idempotency-Key` header).
const MAX_IDEMPOTENCY_KEY: usize = 200;
/// How far in the future `occurred_at` may be (see the constant's own doc for why).
const MAX_FUTURE_MILLIS: i64 = crate::entry::OCCURRED_AT_MAX_AHEAD_MILLIS;

/// Validates one event and returns it redacted, or the first problem found.
///
/// Checks, in order: the event is an object; its compact JSON is at most
/// [`Limits::max_event_bytes`] (`max_size`); no unknown top-level keys; then `action`,
/// `channel`, `event`, `category`, `description`, `result`, `actor`, `targets`, `context`,
/// `changes`, `properties`, `occurred_at` and `idempotency_key`. Nested objects refuse unknown
/// keys before their own fields are checked. The result has been through
/// [`redact::redact_entry`], so nothing returned here still holds a recognised secret.
pub fn validate_event(
    value: Value,
    limits: &Limits,
    now: Timestamp,
) -> Result<NewEntry, FieldError> {
    let map = match value {
        Value::Object(map) => map,
        other => return Err(type_error("", "a JSON object", &other)),
    };
    let size = serialized_len(&map);
    if size > limits.max_event_bytes {
        return Err(FieldError::new(
            "",
            "max_size",
            format!(
                "the event is {size} bytes as JSON; at most {} bytes are allowed",
                limits.max_event_bytes
            ),
        ));
    }
    let mut f = Fields::new(map, "", EVENT_FIELDS)?;

    let action = action(f.take("action"))?;
    let channel = channel(f.take("channel"))?;
    let event = event(f.take("event"), &action)?;
    let category = opt_text(f.take("category"), MAX_CATEGORY)?;
    let description =
        opt_text(f.take("description"), MAX_DESCRIPTION)?.unwrap_or_else(|| action.clone());
    let result = match opt_string(f.take("result"))? {
        None => Outcome::default(),
        Some(s) => s
            .parse()
            .map_err(|message| FieldError::new("result", "enum", message))?,
    };
    let actor = actor(f.take("actor"))?;
    let targets = targets(f.take("targets"))?;
    let context = context(f.take("context"))?;
    let changes = changes(f.take("changes"))?;
    let properties = object(f.take("properties"))?.unwrap_or_default();
    let occurred_at = occurred_at(f.take("occurred_at"), now)?;
    let idempotency_key = idempotency_key(f.take("idempotency_key"))?;

    let mut entry = NewEntry {
        occurred_at,
        channel,
        action,
        event,
        category,
        description,
        result,
        actor,
        targets,
        context,
        changes,
        properties,
        redacted: Vec::new(),
        idempotency_key,
    };
    redact::redact_entry(&mut entry);
    Ok(entry)
}

/// How a JSON value is named in messages ("must be a string, not a number").
pub(super) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An object of the known structure whose fields are taken out one at a time.
struct Fields {
    /// The keys not yet taken.
    map: Map<String, Value>,
    /// JSON path of the object itself.
    path: String,
}

impl Fields {
    /// Refuses the first key (in document order) that is not in `allowed`.
    fn new(map: Map<String, Value>, path: &str, allowed: &[&str]) -> Result<Self, FieldError> {
        if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(FieldError::new(
                join(path, key),
                "unknown_field",
                format!("unknown field; allowed here: {}", allowed.join(", ")),
            ));
        }
        Ok(Fields {
            map,
            path: path.to_string(),
        })
    }

    /// The value of `key` (absent when JSON `null`) and its path.
    fn take(&mut self, key: &str) -> (String, Option<Value>) {
        let value = self.map.remove(key).filter(|v| !v.is_null());
        (join(&self.path, key), value)
    }
}

/// A value taken from [`Fields`]: its path and, when present, the value.
type Taken = (String, Option<Value>);

/// `actor` + `id` → `actor.id`; the empty path is the event itself.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A value of the wrong JSON type, naming what was expected and what was found.
fn type_error(field: &str, expected: &str, got: &Value) -> FieldError {
    FieldError::new(
        field,
        "type",
        format!("must be {expected}, not {}", kind_of(got)),
    )
}

/// A required field that is absent, null or empty.
fn required(field: &str) -> FieldError {
    FieldError::new(field, "required", "is required")
}

/// An optional string; the empty string counts as absent.
fn opt_string((field, value): Taken) -> Result<Option<String>, FieldError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(type_error(&field, "a string", &other)),
    }
}

/// Lengths are counted in characters (Unicode scalar values), as a person would count them.
fn check_length(s: &str, field: &str, max: usize) -> Result<(), FieldError> {
    let n = s.chars().count();
    if n > max {
        return Err(FieldError::new(
            field,
            "length",
            format!("must be at most {max} characters, not {n}"),
        ));
    }
    Ok(())
}

/// An optional string of at most `max` characters.
fn opt_text(taken: Taken, max: usize) -> Result<Option<String>, FieldError> {
    let field = taken.0.clone();
    let s = opt_string(taken)?;
    if let Some(s) = &s {
        check_length(s, &field, max)?;
    }
    Ok(s)
}

/// Like [`opt_text`], but JSON numbers are accepted and kept as their decimal text, because
/// producers commonly send numeric database ids.
fn opt_id((field, value): Taken, max: usize) -> Result<Option<String>, FieldError> {
    match value {
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::String(_)) | None => opt_text((field, value), max),
        Some(other) => Err(type_error(&field, "a string or a number", &other)),
    }
}

/// An optional object.
fn object((field, value): Taken) -> Result<Option<Map<String, Value>>, FieldError> {
    match value {
        None => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(type_error(&field, "an object", &other)),
    }
}

/// Checks an action name by the rule every event's `action` follows, for what names one
/// outside an event (a schema's action, a viewer's recorded action).
pub fn validate_action(action: &str) -> Result<(), FieldError> {
    self::action((
        "action".to_string(),
        Some(Value::String(action.to_string())),
    ))
    .map(|_| ())
}

/// `action`: required, 1-128 characters, dot-separated words.
fn action(taken: Taken) -> Result<String, FieldError> {
    let action = opt_string(taken)?.ok_or_else(|| required("action"))?;
    check_length(&action, "action", MAX_ACTION)?;
    let valid = action.split('.').all(|segment| {
        !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    if !valid {
        return Err(FieldError::new(
            "action",
            "format",
            "must be dot-separated words of letters, digits, '_' or '-', such as `user.created`",
        ));
    }
    if crate::entry::RESERVED_ACTIONS.contains(&action.as_str()) {
        return Err(FieldError::new(
            "action",
            "reserved",
            "is recorded only by Sealtrail itself (its prunes and erasures), because `verify` trusts those entries; name the application's own action differently",
        ));
    }
    Ok(action)
}

/// `channel`: optional (default `default`), lowercase slug.
fn channel(taken: Taken) -> Result<String, FieldError> {
    let Some(channel) = opt_string(taken)? else {
        return Ok("default".to_string());
    };
    let valid = channel.len() <= MAX_CHANNEL
        && channel
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'));
    if !valid {
        return Err(FieldError::new(
            "channel",
            "format",
            format!("must be 1-{MAX_CHANNEL} characters of a-z, 0-9, '_', '.' or '-'"),
        ));
    }
    Ok(channel)
}

/// `event`: the given badge kind, or one derived from the action.
fn event(taken: Taken, action: &str) -> Result<String, FieldError> {
    let Some(event) = opt_string(taken)? else {
        return Ok(derive_event(action).to_string());
    };
    let valid = event.len() <= MAX_EVENT
        && event
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
    if !valid {
        return Err(FieldError::new(
            "event",
            "format",
            format!("must be 1-{MAX_EVENT} characters of a-z, 0-9, '_' or '-'"),
        ));
    }
    Ok(event)
}

/// The badge kind implied by the action's verb: its last segment (`user.invited` →
/// `created`), or that segment's last word when it is compound
/// (`control.effectiveness_updated` → `updated`, `member.role-changed` → `updated`).
pub(super) fn derive_event(action: &str) -> &'static str {
    let segment = action
        .rsplit('.')
        .next()
        .unwrap_or(action)
        .to_ascii_lowercase();
    let last_word = segment.rsplit(['_', '-']).next().unwrap_or(&segment);
    match verb_kind(&segment) {
        "other" => verb_kind(last_word),
        kind => kind,
    }
}

/// The badge kind of one verb, in the forms applications write them.
fn verb_kind(verb: &str) -> &'static str {
    match verb {
        "created" | "create" | "added" | "add" | "invited" | "invite" | "registered"
        | "provisioned" | "enrolled" | "imported" | "uploaded" | "issued" | "generated"
        | "submitted" | "granted" | "inserted" => "created",
        "updated" | "update" | "changed" | "edited" | "edit" | "modified" | "renamed"
        | "promoted" | "demoted" | "assigned" | "reassigned" | "unassigned" | "moved"
        | "enabled" | "disabled" | "activated" | "deactivated" | "suspended" | "restored"
        | "reset" | "rotated" | "set" | "toggled" | "configured" | "replaced" => "updated",
        "deleted" | "delete" | "removed" | "remove" | "revoked" | "destroyed" | "purged"
        | "archived" | "erased" | "deprovisioned" | "unenrolled" | "discarded" => "deleted",
        "read" | "viewed" | "view" | "accessed" | "exported" | "downloaded" | "listed"
        | "searched" | "printed" | "queried" => "read",
        _ => "other",
    }
}

/// `actor`: required object; `id` is required unless the type is `system`.
fn actor(taken: Taken) -> Result<Actor, FieldError> {
    let map = object(taken)?.ok_or_else(|| {
        FieldError::new(
            "actor",
            "required",
            "is required: an object with at least `id` (or `\"type\": \"system\"`)",
        )
    })?;
    let mut f = Fields::new(map, "actor", ACTOR_FIELDS)?;
    let kind = match opt_string(f.take("type"))? {
        None => ActorType::default(),
        Some(s) => s
            .parse()
            .map_err(|message| FieldError::new("actor.type", "enum", message))?,
    };
    // Checked in the documented field order (id, then name); a system actor's missing id is
    // derived from its name once both are read.
    let id = opt_text(f.take("id"), MAX_NAME)?;
    let name = opt_text(f.take("name"), MAX_NAME)?;
    let id = match id {
        Some(id) => id,
        None if kind == ActorType::System => Actor::system_id(name.as_deref()),
        None => return Err(required("actor.id")),
    };
    let email = opt_string(f.take("email"))?;
    if let Some(email) = &email {
        if !looks_like_email(email) {
            return Err(FieldError::new(
                "actor.email",
                "format",
                format!("must be an e-mail address such as alice@example.com, at most {MAX_EMAIL} characters"),
            ));
        }
    }
    let via = opt_text(f.take("via"), MAX_NAME)?;
    Ok(Actor {
        kind,
        id: Some(id),
        name,
        email,
        via,
    })
}

/// A deliberately loose check that catches mistakes (a name or id in the e-mail field)
/// without refusing unusual but valid addresses: one `@`, something before it, a dotted
/// domain after it, no whitespace.
pub(crate) fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.chars().count() <= MAX_EMAIL
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// `targets`: optional array of at most 32 objects.
fn targets((field, value): Taken) -> Result<Vec<Target>, FieldError> {
    let items = match value {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(type_error(&field, "an array of objects", &other)),
    };
    if items.len() > MAX_TARGETS {
        return Err(FieldError::new(
            field,
            "max_items",
            format!(
                "at most {MAX_TARGETS} targets are allowed, not {}",
                items.len()
            ),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| target(item, &format!("targets[{i}]")))
        .collect()
}

/// One `targets[i]` object.
fn target(value: Value, path: &str) -> Result<Target, FieldError> {
    let Value::Object(map) = value else {
        return Err(type_error(path, "an object", &value));
    };
    let mut f = Fields::new(map, path, TARGET_FIELDS)?;
    let type_path = join(path, "type");
    let kind = opt_text(f.take("type"), MAX_NAME)?.ok_or_else(|| required(&type_path))?;
    let id = opt_id(f.take("id"), MAX_NAME)?;
    let name = opt_id(f.take("name"), MAX_NAME)?;
    Ok(Target { kind, id, name })
}

/// `context`: optional object; the IP is validated and canonicalised.
fn context(taken: Taken) -> Result<Context, FieldError> {
    let Some(map) = object(taken)? else {
        return Ok(Context::default());
    };
    let mut f = Fields::new(map, "context", CONTEXT_FIELDS)?;
    let ip = match opt_string(f.take("ip"))? {
        None => None,
        Some(text) => Some(
            text.parse::<IpAddr>()
                .map(|ip| ip.to_string())
                .map_err(|_| {
                    FieldError::new(
                        "context.ip",
                        "format",
                        "must be an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::1",
                    )
                })?,
        ),
    };
    let user_agent = opt_text(f.take("user_agent"), MAX_USER_AGENT)?;
    let location = opt_text(f.take("location"), MAX_LOCATION)?;
    let request = match object(f.take("request"))? {
        None => None,
        Some(map) => {
            let mut r = Fields::new(map, "context.request", REQUEST_FIELDS)?;
            let info = RequestInfo {
                method: opt_string(r.take("method"))?,
                path: opt_string(r.take("path"))?,
                body: r.take("body").1,
                response: r.take("response").1,
            };
            (info != RequestInfo::default()).then_some(info)
        }
    };
    Ok(Context {
        ip,
        user_agent,
        location,
        request,
    })
}

/// `changes`: optional before/after pair of free JSON values.
fn changes(taken: Taken) -> Result<Option<Changes>, FieldError> {
    let Some(map) = object(taken)? else {
        return Ok(None);
    };
    let mut f = Fields::new(map, "changes", CHANGES_FIELDS)?;
    let changes = Changes {
        before: f.take("before").1,
        after: f.take("after").1,
    };
    Ok((changes != Changes::default()).then_some(changes))
}

/// `occurred_at`: optional RFC 3339 time, at most 24 hours ahead of the server.
fn occurred_at(taken: Taken, now: Timestamp) -> Result<Option<Timestamp>, FieldError> {
    let Some(text) = opt_string(taken)? else {
        return Ok(None);
    };
    let at = Timestamp::parse_rfc3339(&text).map_err(|_| {
        FieldError::new(
            "occurred_at",
            "format",
            "must be an RFC 3339 timestamp such as 2026-11-23T09:30:00Z",
        )
    })?;
    if at.millis() > now.millis().saturating_add(MAX_FUTURE_MILLIS) {
        return Err(FieldError::new(
            "occurred_at",
            "range",
            format!("{at} is more than 24 hours after the server time {now}"),
        ));
    }
    Ok(Some(at))
}

/// Unlike other optional strings, an empty key is refused rather than ignored: a client that
/// sends one meant to deduplicate and would otherwise silently get duplicates.
fn idempotency_key((field, value): Taken) -> Result<Option<String>, FieldError> {
    match value {
        None => Ok(None),
        Some(Value::String(key)) => {
            let n = key.chars().count();
            if n == 0 || n > MAX_IDEMPOTENCY_KEY {
                return Err(FieldError::new(
                    field,
                    "length",
                    format!("must be 1-{MAX_IDEMPOTENCY_KEY} characters, not {n}"),
                ));
            }
            Ok(Some(key))
        }
        Some(other) => Err(type_error(&field, "a string", &other)),
    }
}

/// Bytes of the compact JSON serialisation, counted without building it.
fn serialized_len(value: &Map<String, Value>) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        // Serialising a `Value` into a writer that never fails cannot fail; refuse if it does.
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
