//! Retraced's publisher API, so an application already using `@retracedhq/retraced` (or
//! `retraced-go`) sends its events to Sealtrail by changing only the client's `endpoint`.
//!
//! Three things here, all pure:
//!
//! * Retraced's own input rules ([`parse_publish`]): the same required fields, `crud` values,
//!   sub-object ids and string-only `fields`/`metadata` that a Retraced server refuses with
//!   400, so a client sees the same refusals it would see there. A bulk request is checked in
//!   full before anything is stored: the client matches the answer's hashes to its events by
//!   position, so a partial answer would make it throw.
//! * The map onto Sealtrail's event (docs/compat.md lists every field): the translated event
//!   then goes through [`crate::ingest::validate_event`], the one validator and redactor every
//!   stored entry passes, so a Retraced event is held to exactly the rules of a native one.
//! * The hash the client recomputes and compares ([`EventHash::with_id`]): SHA-256 of a
//!   colon-joined canonical string of the event **as received**, before redaction. It is
//!   answered and never stored: it covers secrets that redaction removes.

use crate::entry::NewEntry;
use crate::ingest::{self, FieldError, Limits};
use crate::timestamp::Timestamp;
use reading::RetracedFields;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use shape::encode_separator;

mod reading;
pub mod saved_export;
pub mod search;
mod shape;
pub mod viewer;

/// The key under an entry's `properties` that holds the Retraced values with no Sealtrail
/// field of their own (group, hrefs, nested fields, metadata, external id, component,
/// version, anonymity), so nothing the client sent is dropped and the viewer can give them
/// back.
pub const PROPERTY: &str = "retraced";

/// The top-level property holding the Retraced group's id (also kept whole under
/// [`PROPERTY`]): property filters read top-level scalars, and a group is what reads and
/// embedded viewers are scoped by (`properties.retraced_group=<id>`).
pub const GROUP_PROPERTY: &str = "retraced_group";

/// One broken rule of one event, in Retraced's words and shape (`{message, field, violation,
/// received?}`), so tooling written against Retraced's 400 answers reads ours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// What is wrong, for the developer reading it.
    pub message: String,
    /// The Retraced field at fault (`actor.id`, `fields.site`), empty for the event itself.
    pub field: String,
    /// `missing`, `invalid`, `unknown`, or the Sealtrail rule name (`length`, `format`, ...).
    pub violation: String,
    /// The value received, where Retraced echoes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<Value>,
}

impl Violation {
    fn new(field: impl Into<String>, violation: &str, message: impl Into<String>) -> Self {
        Violation {
            message: message.into(),
            field: field.into(),
            violation: violation.to_string(),
            received: None,
        }
    }

    fn received(mut self, value: &Value) -> Self {
        self.received = Some(value.clone());
        self
    }
}

/// One refused event of a request, as Retraced lists it under `invalid`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidEvent {
    /// Every violation, one per line.
    pub message: String,
    /// The event's place in the request (0 for a single event).
    pub index: usize,
    /// What is wrong with it.
    pub violations: Vec<Violation>,
}

/// Why a publish request stored nothing: Retraced answers these with 400.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The whole answer in one message, worded as Retraced words it.
    pub message: String,
    /// The refused events; empty when the body itself was wrong.
    pub invalid: Vec<InvalidEvent>,
}

impl Refusal {
    fn body(message: impl Into<String>) -> Self {
        Refusal {
            message: message.into(),
            invalid: Vec::new(),
        }
    }
}

/// One accepted Retraced event: the Sealtrail entry to append, and its hash once the entry
/// has an id.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    /// The validated, redacted entry.
    pub entry: NewEntry,
    /// What the client's hash of the event needs besides the id.
    pub hash: EventHash,
}

/// The client's hash of one event as received, waiting for the entry's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHash {
    /// The canonical string after its leading `<id>:`.
    tail: String,
}

impl EventHash {
    /// The hash the client recomputes: lowercase hex SHA-256 of the canonical string of the
    /// event as received, with the entry's id (module docs).
    pub fn with_id(&self, id: &str) -> String {
        hex::encode(Sha256::digest(canonical(id, &self.tail).as_bytes()))
    }
}

/// The canonical string the hash is taken of: the id, then the rest of the event's.
fn canonical(id: &str, tail: &str) -> String {
    let mut text = encode_separator(id);
    text.push(':');
    text.push_str(tail);
    text
}

/// Parses a publish request (`bulk`: `{"events": [...]}`, else one event) into entries, or
/// refuses the whole request naming every violation. The body goes through the same strict
/// JSON parser as native ingest; a bulk request holds at most [`Limits::max_batch`] events.
pub fn parse_publish(
    bytes: &[u8],
    limits: &Limits,
    now: Timestamp,
    bulk: bool,
) -> Result<Vec<Publication>, Refusal> {
    let value = ingest::parse_json(bytes, limits).map_err(|e| Refusal::body(e.to_string()))?;
    let events = if bulk {
        bulk_events(value, limits)?
    } else {
        vec![value]
    };
    let mut publications = Vec::with_capacity(events.len());
    let mut invalid = Vec::new();
    for (index, event) in events.into_iter().enumerate() {
        match publication(event, limits, now) {
            Ok(p) => publications.push(p),
            Err(violations) => invalid.push(invalid_event(index, violations)),
        }
    }
    if invalid.is_empty() {
        Ok(publications)
    } else {
        Err(refusal(invalid, bulk))
    }
}

/// The refusal of a request whose events passed Retraced's and Sealtrail's rules but not
/// their actions' schemas (`(index, why)`), worded as every other refusal.
pub fn schema_refusal(misfits: Vec<(usize, FieldError)>, bulk: bool) -> Refusal {
    let invalid = misfits
        .into_iter()
        .map(|(index, e)| invalid_event(index, vec![from_sealtrail(e)]))
        .collect();
    refusal(invalid, bulk)
}

/// One refused event, its violations listed as Retraced lists them.
fn invalid_event(index: usize, violations: Vec<Violation>) -> InvalidEvent {
    InvalidEvent {
        message: format!(
            "Invalid event input at index {index}:\n-- {}",
            messages(&violations, "\n-- ")
        ),
        index,
        violations,
    }
}

/// The whole request refused: one event's violations, or every refused event of a bulk.
fn refusal(invalid: Vec<InvalidEvent>, bulk: bool) -> Refusal {
    let message = match invalid.first() {
        Some(only) if !bulk => messages(&only.violations, "\n--"),
        _ => format!(
            "One or more invalid inputs, no events were logged:\n- {}",
            invalid
                .iter()
                .map(|i| i.message.as_str())
                .collect::<Vec<_>>()
                .join("\n- ")
        ),
    };
    Refusal { message, invalid }
}

/// The violations' messages joined by `separator`.
fn messages(violations: &[Violation], separator: &str) -> String {
    violations
        .iter()
        .map(|v| v.message.as_str())
        .collect::<Vec<_>>()
        .join(separator)
}

/// The events of a bulk body: `{"events": [...]}`, 1 to `max_batch` of them.
fn bulk_events(value: Value, limits: &Limits) -> Result<Vec<Value>, Refusal> {
    let events = match value {
        Value::Object(mut object) if object.len() == 1 => object.remove("events"),
        _ => None,
    };
    let Some(Value::Array(events)) = events else {
        return Err(Refusal::body("the body must be {\"events\": [event, ...]}"));
    };
    if events.is_empty() {
        return Err(Refusal::body("`events` is empty: send at least one event"));
    }
    if events.len() > limits.max_batch {
        return Err(Refusal::body(format!(
            "A maximum of {} events may be created at once, received {}",
            limits.max_batch,
            events.len()
        )));
    }
    Ok(events)
}

/// One event: Retraced's rules, then the hash input, then the Sealtrail entry.
fn publication(
    value: Value,
    limits: &Limits,
    now: Timestamp,
) -> Result<Publication, Vec<Violation>> {
    let Value::Object(event) = value else {
        return Err(vec![Violation::new(
            "",
            "invalid",
            "an event must be a JSON object",
        )]);
    };
    let fields = RetracedFields::read(&event)?;
    let canonical_tail = fields.canonical_tail();
    let native = fields.native();
    let entry = ingest::validate_event(native, limits, now).map_err(|e| vec![from_sealtrail(e)])?;
    Ok(Publication {
        entry,
        hash: EventHash {
            tail: canonical_tail,
        },
    })
}

/// A Sealtrail rule broken by the translated event, named by the Retraced field it came from.
fn from_sealtrail(error: FieldError) -> Violation {
    let field = retraced_path(&error.field);
    let message = if field.is_empty() {
        error.message.clone()
    } else {
        format!("Invalid value for '{field}': {}", error.message)
    };
    Violation::new(field, error.rule, message)
}

/// The Retraced field a Sealtrail path was translated from.
fn retraced_path(path: &str) -> String {
    let retraced = format!("properties.{PROPERTY}.");
    if let Some(rest) = path.strip_prefix(&retraced) {
        return rest.to_string();
    }
    if path == format!("properties.{GROUP_PROPERTY}") {
        return "group.id".into();
    }
    if let Some(rest) = path.strip_prefix("properties.") {
        return format!("fields.{rest}");
    }
    match path {
        "event" => "crud",
        "actor.email" | "actor.id" => "actor.id",
        "actor.via" => "component",
        "context.ip" => "source_ip",
        "occurred_at" => "created",
        other => return other.replace("targets[0]", "target"),
    }
    .to_string()
}

#[cfg(test)]
mod tests;
