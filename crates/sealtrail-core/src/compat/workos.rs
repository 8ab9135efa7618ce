//! WorkOS Audit Logs' event (`POST /audit_logs/events`), so an application using a WorkOS SDK
//! sends its events to Sealtrail by changing only the SDK's host.
//!
//! [`parse_event`] checks the body with WorkOS's own rules (required `organization_id`,
//! `action`, `occurred_at`, `actor {id, type}`, `targets [{id, type}]`, `context.location`;
//! metadata of at most 50 keys named `[A-Za-z0-9_-]{0,40}` holding a string of at most 500
//! characters, a number or a boolean; no unknown keys), maps the event onto Sealtrail's shape
//! (docs/compat.md lists every field) and passes that through
//! [`crate::ingest::validate_event`], the validator and redactor every stored entry passes.

use crate::entry::NewEntry;
use crate::ingest::{self, FieldError, Limits};
use crate::timestamp::Timestamp;
use serde_json::{json, Map, Value};
use std::net::IpAddr;

pub mod export;
pub mod retention;
pub mod schema;

/// The key under an entry's `properties` holding the WorkOS values with no Sealtrail field
/// (schema version, actor and target metadata, an actor type Sealtrail does not have).
pub const PROPERTY: &str = "workos";

/// Most keys in one metadata object.
const MAX_METADATA_KEYS: usize = 50;
/// Longest metadata key.
const MAX_METADATA_KEY: usize = 40;
/// Longest metadata string value.
const MAX_METADATA_STRING: usize = 500;

/// Why an event was refused: the JSON pointer (from the request body) of the value at fault,
/// as WorkOS's `errors[].instancePath`, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("{instance_path}: {message}")]
pub struct Invalid {
    /// JSON pointer of the value at fault, e.g. `/event/targets/0/type`.
    #[serde(rename = "instancePath")]
    pub instance_path: String,
    /// What was expected.
    pub message: String,
}

/// A refusal at `path` (a JSON pointer into the request body), for every WorkOS request.
fn invalid(path: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        instance_path: path.into(),
        message: message.into(),
    }
}

/// One accepted event: the organization it names, the entry, and the schema version it
/// claims (for per-action schemas).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkosEvent {
    /// `organization_id`: the Sealtrail tenant (or its alias) the event is for.
    pub organization_id: String,
    /// The validated, redacted entry.
    pub entry: NewEntry,
    /// `event.version`, when given.
    pub version: Option<u64>,
}

/// Parses a `POST /audit_logs/events` body (module docs).
pub fn parse_event(bytes: &[u8], limits: &Limits, now: Timestamp) -> Result<WorkosEvent, Invalid> {
    let body = ingest::parse_json(bytes, limits).map_err(|e| invalid("", e.to_string()))?;
    let Value::Object(mut body) = body else {
        return Err(invalid(
            "",
            "the body must be {\"organization_id\", \"event\"}",
        ));
    };
    known_keys(&body, "", &["organization_id", "event"])?;
    let organization_id = match body.remove("organization_id") {
        Some(Value::String(id)) if !id.is_empty() => id,
        _ => return Err(invalid("/organization_id", "is required: a string")),
    };
    let event = match body.remove("event") {
        Some(Value::Object(event)) => event,
        _ => return Err(invalid("/event", "is required: an object")),
    };
    let version = match event.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|v| *v >= 1)
                .ok_or_else(|| invalid("/event/version", "must be a positive integer"))?,
        ),
    };
    let native = native(&event, version)?;
    let entry = ingest::validate_event(native, limits, now).map_err(from_sealtrail)?;
    Ok(WorkosEvent {
        organization_id,
        entry,
        version,
    })
}

/// Refuses the first key of `object` not in `allowed`.
fn known_keys(object: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), Invalid> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(invalid(
            format!("{path}/{key}"),
            format!("unknown property; allowed here: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// A required non-empty string at `path`.
fn required<'a>(object: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str, Invalid> {
    match object.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(invalid(
            format!("{path}/{key}"),
            "is required: a non-empty string",
        )),
    }
}

/// An optional string at `path`.
fn optional<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, Invalid> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{path}/{key}"), "must be a string")),
    }
}

/// An optional object at `path`.
fn object<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, Invalid> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(invalid(format!("{path}/{key}"), "must be an object")),
    }
}

/// WorkOS's metadata rules (module docs); the metadata itself when present.
fn metadata<'a>(
    parent: &'a Map<String, Value>,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, Invalid> {
    let Some(map) = object(parent, "metadata", path)? else {
        return Ok(None);
    };
    let path = format!("{path}/metadata");
    if map.len() > MAX_METADATA_KEYS {
        return Err(invalid(
            path,
            format!("at most {MAX_METADATA_KEYS} keys, not {}", map.len()),
        ));
    }
    for (key, value) in map {
        let good_key = key.chars().count() <= MAX_METADATA_KEY
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !good_key {
            return Err(invalid(
                format!("{path}/{key}"),
                format!("keys are at most {MAX_METADATA_KEY} characters of A-Z, a-z, 0-9, _ and -"),
            ));
        }
        let good_value = match value {
            Value::String(s) => s.chars().count() <= MAX_METADATA_STRING,
            Value::Number(_) | Value::Bool(_) => true,
            _ => false,
        };
        if !good_value {
            return Err(invalid(
                format!("{path}/{key}"),
                format!("must be a string of at most {MAX_METADATA_STRING} characters, a number or a boolean"),
            ));
        }
    }
    Ok(Some(map))
}

/// The event in Sealtrail's shape (docs/compat.md, "WorkOS field map").
fn native(event: &Map<String, Value>, version: Option<u64>) -> Result<Value, Invalid> {
    let path = "/event";
    known_keys(
        event,
        path,
        &[
            "action",
            "version",
            "occurred_at",
            "actor",
            "targets",
            "context",
            "metadata",
        ],
    )?;
    let mut workos = Map::new();
    if let Some(version) = version {
        workos.insert("version".into(), json!(version));
    }
    let action = required(event, "action", path)?;
    let occurred_at = required(event, "occurred_at", path)?;

    let actor_path = "/event/actor";
    let actor = object(event, "actor", path)?
        .ok_or_else(|| invalid(actor_path, "is required: an object with `id` and `type`"))?;
    known_keys(actor, actor_path, &["id", "type", "name", "metadata"])?;
    let actor_type = required(actor, "type", actor_path)?;
    let kind = match actor_type {
        "user" => "user",
        "system" => "system",
        "api" | "api_key" => "api",
        other => {
            workos.insert("actor_type".into(), json!(other));
            "user"
        }
    };
    let mut native_actor = json!({ "type": kind, "id": required(actor, "id", actor_path)? });
    if let Some(name) = optional(actor, "name", actor_path)?.filter(|n| !n.is_empty()) {
        native_actor["name"] = json!(name);
    }
    if let Some(meta) = metadata(actor, actor_path)? {
        workos.insert("actor_metadata".into(), Value::Object(meta.clone()));
    }

    let targets = match event.get("targets") {
        Some(Value::Array(targets)) => targets,
        _ => {
            return Err(invalid(
                "/event/targets",
                "is required: an array of {id, type}",
            ))
        }
    };
    let mut native_targets = Vec::with_capacity(targets.len());
    let mut target_metadata = Vec::with_capacity(targets.len());
    for (i, target) in targets.iter().enumerate() {
        let target_path = format!("/event/targets/{i}");
        let Value::Object(target) = target else {
            return Err(invalid(
                target_path,
                "must be an object with `id` and `type`",
            ));
        };
        known_keys(target, &target_path, &["id", "type", "name", "metadata"])?;
        let mut native_target = json!({
            "type": required(target, "type", &target_path)?,
            "id": required(target, "id", &target_path)?,
        });
        if let Some(name) = optional(target, "name", &target_path)?.filter(|n| !n.is_empty()) {
            native_target["name"] = json!(name);
        }
        native_targets.push(native_target);
        target_metadata.push(match metadata(target, &target_path)? {
            Some(meta) => json!({ "metadata": meta }),
            None => json!({}),
        });
    }
    if target_metadata.iter().any(|m| m.get("metadata").is_some()) {
        workos.insert("targets".into(), Value::Array(target_metadata));
    }

    let context_path = "/event/context";
    let context = object(event, "context", path)?
        .ok_or_else(|| invalid(context_path, "is required: an object with `location`"))?;
    known_keys(context, context_path, &["location", "user_agent"])?;
    let location = required(context, "location", context_path)?;
    let mut native_context = Map::new();
    // WorkOS's location is "an IP address or some other geolocation identifier".
    let key = if location.parse::<IpAddr>().is_ok() {
        "ip"
    } else {
        "location"
    };
    native_context.insert(key.into(), json!(location));
    if let Some(agent) = optional(context, "user_agent", context_path)? {
        native_context.insert("user_agent".into(), json!(agent));
    }

    let mut properties: Map<String, Value> = metadata(event, path)?.cloned().unwrap_or_default();
    if properties.contains_key(PROPERTY) {
        return Err(invalid(
            format!("/event/metadata/{PROPERTY}"),
            format!("is reserved: Sealtrail keeps WorkOS's own values (version, actor and target metadata) under `{PROPERTY}`"),
        ));
    }
    if !workos.is_empty() {
        properties.insert(PROPERTY.into(), Value::Object(workos));
    }
    Ok(json!({
        "action": action,
        "occurred_at": occurred_at,
        "actor": native_actor,
        "targets": native_targets,
        "context": native_context,
        "properties": properties,
    }))
}

/// A rule broken by the mapped event (its action's schema), with the field named as the
/// request names it (`event.metadata.amount`), for WorkOS's 422 `errors[].field`.
pub fn in_request(error: FieldError) -> FieldError {
    let pointer = if error.field == "version" {
        "/event/version".to_string()
    } else {
        workos_path(&error.field)
    };
    let field = pointer.trim_start_matches('/').replace('/', ".");
    FieldError { field, ..error }
}

/// A Sealtrail rule broken by the mapped event, at the WorkOS path it came from.
fn from_sealtrail(error: FieldError) -> Invalid {
    invalid(workos_path(&error.field), error.message)
}

/// The JSON pointer in the request body of a Sealtrail field path.
fn workos_path(field: &str) -> String {
    let retraced = format!("properties.{PROPERTY}.");
    let path = if let Some(rest) = field.strip_prefix(&retraced) {
        rest.replace("actor_metadata", "actor.metadata")
    } else if let Some(rest) = field.strip_prefix("properties.") {
        format!("metadata.{rest}")
    } else {
        match field {
            "context.ip" => "context.location".into(),
            "" => String::new(),
            other => other.to_string(),
        }
    };
    let mut pointer = String::from("/event");
    for part in path.split('.').filter(|p| !p.is_empty()) {
        match part.split_once('[') {
            Some((name, index)) => {
                pointer.push('/');
                pointer.push_str(name);
                pointer.push('/');
                pointer.push_str(index.trim_end_matches(']'));
            }
            None => {
                pointer.push('/');
                pointer.push_str(part);
            }
        }
    }
    pointer
}

#[cfg(test)]
mod tests;
