//! Property tests through the real ingest entry point ([`crate::ingest::parse_body`]): a secret
//! of every kind, with random text around it, placed into any string field of an event, never
//! reaches the entry that would be stored, and the field's path is in `redacted`.

use super::proptests::{arb_card, arb_planted, Planted};
use crate::entry::NewEntry;
use crate::ingest::{parse_body, FieldError, Limits};
use crate::timestamp::Timestamp;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

const NOW: Timestamp = Timestamp(1_795_000_000_000);

/// Every free-text place of an event: its JSON pointer in the request and the path redaction
/// records. `properties/<key>` plants the secret in a key rather than a value.
const FREE_FIELDS: &[(&str, &str)] = &[
    ("/category", "category"),
    ("/description", "description"),
    ("/actor/id", "actor.id"),
    ("/actor/name", "actor.name"),
    ("/actor/via", "actor.via"),
    ("/targets/0/type", "targets[0].type"),
    ("/targets/0/id", "targets[0].id"),
    ("/targets/0/name", "targets[0].name"),
    ("/context/user_agent", "context.user_agent"),
    ("/context/location", "context.location"),
    ("/context/request/method", "context.request.method"),
    ("/context/request/path", "context.request.path"),
    ("/context/request/body/note", "context.request.body.note"),
    ("/context/request/response", "context.request.response"),
    ("/changes/before/note", "changes.before.note"),
    ("/changes/after/0", "changes.after[0]"),
    ("/properties/note", "properties.note"),
    ("/properties/nested/list/1", "properties.nested.list[1]"),
    ("properties/<key>", "properties."),
];

/// A valid event whose every free-text place holds harmless `filler`.
fn base_event(filler: &str) -> Value {
    json!({
        "action": "user.updated",
        "channel": "accounts",
        "category": filler,
        "description": filler,
        "actor": {"type": "user", "id": filler, "name": filler, "email": "ada@example.com", "via": filler},
        "targets": [{"type": filler, "id": filler, "name": filler}],
        "context": {
            "ip": "203.0.113.7", "user_agent": filler, "location": filler,
            "request": {"method": filler, "path": filler, "body": {"note": filler}, "response": filler},
        },
        "changes": {"before": {"note": filler}, "after": [filler]},
        "properties": {"note": filler, "nested": {"list": [1, filler]}},
    })
}

/// Parses `event` as a request body, as the server would.
fn ingest(event: &Value) -> Result<NewEntry, FieldError> {
    let body = serde_json::to_vec(event).map_err(|e| FieldError::new("", "test", e.to_string()))?;
    let parsed = parse_body(&body, &Limits::default(), NOW)
        .map_err(|e| FieldError::new("", "request", e.to_string()))?;
    parsed
        .items
        .into_iter()
        .next()
        .unwrap_or_else(|| Err(FieldError::new("", "test", "no item")))
}

/// Every string an entry stores, object keys included.
fn stored_strings(entry: &NewEntry) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => map.iter().for_each(|(k, v)| {
                out.push(k.clone());
                walk(v, out);
            }),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut out = Vec::new();
    walk(
        &serde_json::to_value(entry).unwrap_or(Value::Null),
        &mut out,
    );
    out
}

/// Asserts that `secret` is stored nowhere in `entry` and that a recorded path starts with
/// `path` (a whole path, or `properties.` for a renamed key).
fn assert_redacted(entry: &NewEntry, secret: &str, path: &str) -> Result<(), TestCaseError> {
    for stored in stored_strings(entry) {
        prop_assert!(
            !stored.contains(secret),
            "{:?} stored in {:?}",
            secret,
            stored
        );
    }
    let recorded = entry
        .redacted
        .iter()
        .any(|p| p == path || (path.ends_with('.') && p.starts_with(path)));
    prop_assert!(recorded, "{} not in {:?}", path, entry.redacted);
    Ok(())
}

/// Secrets made only of characters `action`, `channel` and `event` allow (lowercase letters,
/// digits, `_`, `-`), at most 32 long: lowercase GitHub, Slack and Stripe tokens and cards.
fn arb_slug_secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "gh[pousr]_[a-z0-9]{20,26}",
        "xox[baprs]-[0-9]{10}-[a-z0-9]{4,10}",
        "(sk|rk)_(live|test)_[a-z0-9]{16,22}",
        arb_card().prop_map(|card| card.replace(' ', "-")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn secrets_in_any_text_field_never_reach_the_entry(
        planted in arb_planted(),
        prefix in "[^\\x00]{0,12}",
        suffix in "[^\\x00]{0,12}",
        filler in "[A-Za-z][a-z ]{0,11}",
        field in select(FREE_FIELDS),
    ) {
        let Planted { text, secret } = planted;
        let (pointer, path) = field;
        let placed = format!("{prefix} {text} {suffix}");
        let mut event = base_event(&filler);
        if pointer == "properties/<key>" {
            event["properties"][placed.as_str()] = json!(filler);
        } else if let Some(slot) = event.pointer_mut(pointer) {
            *slot = json!(placed);
        }
        match ingest(&event) {
            Ok(entry) => assert_redacted(&entry, &secret, path)?,
            // Only a length limit may refuse a free-text field, and then nothing is stored.
            Err(e) => prop_assert!(e.rule == "length" && e.field == path, "{}", e),
        }
    }

    #[test]
    fn secrets_in_the_email_never_reach_the_entry(planted in arb_planted()) {
        let mut event = base_event("x");
        event["actor"]["email"] = json!(format!("{}@example.com", planted.text));
        match ingest(&event) {
            Ok(entry) => assert_redacted(&entry, &planted.secret, "actor.email")?,
            Err(e) => prop_assert_eq!(e.field, "actor.email"),
        }
    }

    #[test]
    fn secrets_in_strictly_formatted_fields_never_reach_the_entry(
        secret in arb_slug_secret(),
        field in select(&["action", "channel", "event"][..]),
    ) {
        let mut event = base_event("x");
        event[field] = json!(match field {
            "action" => format!("user.{secret}.created"),
            "channel" => format!("ch-{secret}"),
            _ => secret.clone(),
        });
        let entry = ingest(&event).map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_redacted(&entry, &secret, field)?;
    }

    #[test]
    fn entries_with_secrets_are_redacted_once_and_for_all(
        planted in arb_planted(),
        field in select(FREE_FIELDS),
    ) {
        let mut event = base_event("x");
        if let Some(slot) = event.pointer_mut(field.0) {
            *slot = json!(planted.text);
        }
        if let Ok(entry) = ingest(&event) {
            let mut again = entry.clone();
            super::redact_entry(&mut again);
            prop_assert_eq!(again, entry);
        }
    }
}
