//! Per-action schemas: a tenant registers a JSON Schema for an action, and every event with
//! that action is checked against it at ingest, refused with the path that does not match.
//! Registering again adds a version; older versions stay, so a producer that names the
//! version it was written for (WorkOS's `version`) keeps being checked against that one.
//!
//! A schema describes the event **as Sealtrail stores it**: the entry object of
//! `GET /v1/events/{id}` without the fields the server assigns (`id`, `seq`,
//! `recorded_at`), i.e. `{action, channel, event, category, description, result, actor,
//! targets, context, changes, properties, occurred_at}` after validation, defaults and
//! redaction. So one schema holds for an event whichever API sent it (native, Retraced,
//! WorkOS). `$ref` is resolved only inside the document: no schema reaches the network or
//! the disk.

use crate::entry::NewEntry;
use crate::ingest::FieldError;
use serde_json::Value;
use std::collections::HashMap;

/// Largest schema document accepted, as JSON text.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// Most bytes one compiled `pattern` may take (the `regex` crate's size limits).
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;

/// Why a document cannot be registered as a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(pub String);

/// Checks that `document` is a JSON Schema Sealtrail can apply: an object (or boolean) of at
/// most [`MAX_SCHEMA_BYTES`] that compiles, without references outside itself.
pub fn check_document(document: &Value) -> Result<(), SchemaError> {
    compile(document).map(|_| ())
}

/// The compiled validator of a document.
fn compile(document: &Value) -> Result<jsonschema::Validator, SchemaError> {
    if !matches!(document, Value::Object(_) | Value::Bool(_)) {
        return Err(SchemaError(
            "a schema must be a JSON Schema object (or `true`/`false`)".into(),
        ));
    }
    let size = document.to_string().len();
    if size > MAX_SCHEMA_BYTES {
        return Err(SchemaError(format!(
            "the schema is {size} bytes; at most {MAX_SCHEMA_BYTES} are allowed"
        )));
    }
    // `pattern` and `patternProperties` run on the `regex` engine (linear time, no
    // backtracking), each compiled program kept small: a schema is untrusted input that the
    // ingest path runs on every event of its action.
    let patterns = jsonschema::PatternOptions::regex()
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT);
    jsonschema::options()
        .with_pattern_options(patterns)
        .build(document)
        .map_err(|e| SchemaError(format!("not a usable JSON Schema: {e}")))
}

/// One tenant's schemas, compiled, for the ingest path.
#[derive(Default)]
pub struct ActionSchemas {
    /// Each action's versions, oldest first; `None` for a stored document that no longer
    /// compiles (it was checked when registered, so only an edited database gets here).
    by_action: HashMap<String, Vec<(u32, Option<jsonschema::Validator>)>>,
}

impl std::fmt::Debug for ActionSchemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.by_action
                    .iter()
                    .map(|(a, v)| (a, v.iter().map(|(n, _)| *n).collect::<Vec<_>>())),
            )
            .finish()
    }
}

impl ActionSchemas {
    /// Compiles stored `(action, version, document)` rows.
    pub fn compile<'a>(rows: impl IntoIterator<Item = (&'a str, u32, &'a str)>) -> Self {
        let mut by_action: HashMap<String, Vec<(u32, Option<jsonschema::Validator>)>> =
            HashMap::new();
        for (action, version, document) in rows {
            let validator = serde_json::from_str(document)
                .ok()
                .and_then(|doc: Value| compile(&doc).ok());
            by_action
                .entry(action.to_string())
                .or_default()
                .push((version, validator));
        }
        for versions in by_action.values_mut() {
            versions.sort_by_key(|(v, _)| *v);
        }
        ActionSchemas { by_action }
    }

    /// True when no action has a schema (ingest then checks nothing).
    pub fn is_empty(&self) -> bool {
        self.by_action.is_empty()
    }

    /// Checks `entry` against its action's schema: version `version` when the producer named
    /// one, else the newest. An action without a schema passes, whatever version is named; an
    /// action with schemas refuses a version it does not have. Refused with the field at
    /// fault (`properties.amount`, `targets[0].type`) and rule `schema`.
    pub fn check(&self, entry: &NewEntry, version: Option<u64>) -> Result<(), FieldError> {
        // An action without a schema is not checked, whatever version the producer names:
        // WorkOS's SDK users send `version: 1` whether or not a schema exists.
        let Some(versions) = self.by_action.get(&entry.action) else {
            return Ok(());
        };
        let chosen = match version {
            None => versions.last(),
            Some(v) => versions.iter().find(|(n, _)| u64::from(*n) == v),
        };
        let Some((number, validator)) = chosen else {
            let known: Vec<String> = versions.iter().map(|(n, _)| n.to_string()).collect();
            return Err(FieldError::new(
                "version",
                "schema_version",
                format!(
                    "`{}` has no schema version {}; registered: {}",
                    entry.action,
                    version.unwrap_or_default(),
                    known.join(", ")
                ),
            ));
        };
        let Some(validator) = validator else {
            return Err(FieldError::new(
                "",
                "schema",
                format!(
                    "version {number} of `{}`'s schema is stored but unusable; register a new version",
                    entry.action
                ),
            ));
        };
        let instance = serde_json::to_value(entry).unwrap_or(Value::Null);
        let first = validator
            .iter_errors(&instance)
            .next()
            .map(|error| (field_of(error.instance_path().as_str()), error.to_string()));
        match first {
            None => Ok(()),
            Some((field, error)) => Err(FieldError::new(
                field,
                "schema",
                format!(
                    "does not match version {number} of `{}`'s schema: {error}",
                    entry.action
                ),
            )),
        }
    }
}

/// A JSON pointer into the entry as a field path (`/targets/0/type` → `targets[0].type`),
/// the way every other ingest error names its field.
fn field_of(pointer: &str) -> String {
    let mut field = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if !field.is_empty() && part.parse::<usize>().is_ok() {
            field.push_str(&format!("[{part}]"));
        } else {
            if !field.is_empty() {
                field.push('.');
            }
            field.push_str(&part);
        }
    }
    field
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{validate_event, Limits};
    use crate::timestamp::Timestamp;
    use serde_json::json;

    fn entry(event: Value) -> NewEntry {
        validate_event(event, &Limits::default(), Timestamp(1_795_000_000_000)).unwrap()
    }

    fn schemas(rows: &[(&str, u32, Value)]) -> ActionSchemas {
        let texts: Vec<(String, u32, String)> = rows
            .iter()
            .map(|(a, v, d)| (a.to_string(), *v, d.to_string()))
            .collect();
        ActionSchemas::compile(texts.iter().map(|(a, v, d)| (a.as_str(), *v, d.as_str())))
    }

    fn paid(amount: Value) -> NewEntry {
        entry(json!({"action": "invoice.paid", "actor": {"id": "u1"},
            "targets": [{"type": "invoice", "id": "i1"}],
            "properties": {"amount": amount}}))
    }

    #[test]
    fn the_newest_version_applies_unless_one_is_named() {
        let set = schemas(&[
            (
                "invoice.paid",
                1,
                json!({"properties": {"properties": {"required": ["amount"]}}}),
            ),
            (
                "invoice.paid",
                2,
                json!({"properties": {"properties": {"properties": {"amount": {"type": "integer"}}}}}),
            ),
        ]);
        assert_eq!(set.check(&paid(json!(5)), None), Ok(()));
        let refused = set.check(&paid(json!("five")), None).unwrap_err();
        assert_eq!(
            (refused.field.as_str(), refused.rule),
            ("properties.amount", "schema")
        );
        assert!(refused.message.contains("version 2"), "{}", refused.message);
        assert_eq!(set.check(&paid(json!("five")), Some(1)), Ok(()));
        assert_eq!(
            set.check(&paid(json!(5)), Some(3)).unwrap_err().rule,
            "schema_version"
        );
        let other = entry(json!({"action": "user.login", "actor": {"id": "u"}}));
        assert_eq!(set.check(&other, None), Ok(()));
        assert_eq!(
            set.check(&other, Some(1)),
            Ok(()),
            "no schema, nothing to hold it to"
        );
    }

    #[test]
    fn the_failing_path_is_named_as_ingest_names_fields() {
        let set = schemas(&[(
            "invoice.paid",
            1,
            json!({"properties": {"targets": {"items": {"properties": {"type": {"const": "bill"}}}}}}),
        )]);
        assert_eq!(
            set.check(&paid(json!(1)), None).unwrap_err().field,
            "targets[0].type"
        );
        assert_eq!(field_of(""), "");
        assert_eq!(field_of("/properties/a~1b"), "properties.a/b");
    }

    #[test]
    fn only_usable_self_contained_schemas_are_accepted() {
        assert!(check_document(&json!({"type": "object"})).is_ok());
        assert!(check_document(&json!(true)).is_ok());
        for bad in [
            json!("object"),
            json!([1]),
            json!({"type": 5}),
            json!({"$ref": "https://example.com/schema.json"}),
            json!({"$ref": "file:///etc/passwd"}),
        ] {
            assert!(check_document(&bad).is_err(), "{bad}");
        }
        // References that point back at themselves compile, and checking an event against
        // them ends (they once overflowed the stack and aborted the process).
        for looping in [
            json!({"$ref": ""}),
            json!({"$ref": "#"}),
            json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}),
        ] {
            if check_document(&looping).is_ok() {
                let text = looping.to_string();
                let set = ActionSchemas::compile([("invoice.paid", 1, text.as_str())]);
                let _ = set.check(&paid(json!(1)), None);
            }
        }
        // A pattern that backtracking engines take exponential time on is linear here.
        let evil = json!({"properties": {"description": {"pattern": "^(a+)+$"}}});
        check_document(&evil).unwrap();
        let set = ActionSchemas::compile([("invoice.paid", 1, evil.to_string().as_str())]);
        let long = entry(json!({"action": "invoice.paid", "actor": {"id": "u"},
            "description": format!("{}!", "a".repeat(4000))}));
        assert_eq!(set.check(&long, None).unwrap_err().rule, "schema");
        let huge = json!({"description": "x".repeat(MAX_SCHEMA_BYTES)});
        assert!(check_document(&huge).is_err());
        // A stored document that no longer compiles refuses its action's events, clearly.
        let broken = ActionSchemas::compile([("invoice.paid", 1, "not json")]);
        assert!(broken
            .check(&paid(json!(1)), None)
            .unwrap_err()
            .message
            .contains("unusable"));
    }
}
