//! Secret redaction before anything is hashed or stored.
//!
//! An audit log is kept for years and read by many people, so secrets that producers send by
//! mistake must not reach it. Two complementary rules apply to the free-form parts of an entry
//! (`properties`, `changes.before`/`after`, `context.request.body`/`response`, `description`):
//!
//! * **By key name** ([`redact_value`]): a value under a key such as `password`, `api_key` or
//!   `Authorization` is replaced whatever it holds.
//! * **By shape** ([`redact_text`]): JWTs, cloud and chat tokens, private keys, HTTP
//!   credentials and card numbers are replaced wherever they appear in a string.
//!
//! Replaced values become the string [`REDACTED`], and their JSON paths are listed in
//! [`NewEntry::redacted`] so readers know something was removed.

mod text;

#[cfg(test)]
mod proptests;

use crate::entry::NewEntry;
use serde_json::Value;

pub use text::redact_text;

/// What a removed secret is replaced with: visible to readers, and never itself a match.
pub const REDACTED: &str = "[REDACTED]";

/// Key-name fragments that mark a value as secret, matched against the normalised key
/// (lowercase, without `_`, `-`, `.` and spaces) as substrings, so `X-Api-Key`,
/// `db_password_hash` and `sessionId` are all caught.
///
/// Substring matching over-redacts some harmless keys (`secretary`, `cookie_consent`,
/// `tokenizer`); for an audit log a lost harmless value is far cheaper than a stored secret.
/// The one built-in exception: a JSON *number* under a key whose only match is `token` is a
/// count (`max_tokens`, `tokens_used`), not a credential, and is kept.
const SENSITIVE_KEY_PARTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "cookie",
    "apikey",
    "privatekey",
    "accesskey",
    "credential",
    "sessionid",
    "clientsecret",
];

/// Redacts every free-form part of `entry` in place and records the replaced paths in
/// `entry.redacted` (merged with any already there, sorted, without duplicates), so the entry
/// can be stored as is. Running it twice changes nothing more.
pub fn redact_entry(entry: &mut NewEntry) {
    let mut paths = std::mem::take(&mut entry.redacted);

    let mut properties = Value::Object(std::mem::take(&mut entry.properties));
    redact_value(&mut properties, "properties", &mut paths);
    if let Value::Object(map) = properties {
        entry.properties = map;
    }
    if let Some(changes) = &mut entry.changes {
        if let Some(before) = &mut changes.before {
            redact_value(before, "changes.before", &mut paths);
        }
        if let Some(after) = &mut changes.after {
            redact_value(after, "changes.after", &mut paths);
        }
    }
    if let Some(request) = &mut entry.context.request {
        if let Some(body) = &mut request.body {
            redact_value(body, "context.request.body", &mut paths);
        }
        if let Some(response) = &mut request.response {
            redact_value(response, "context.request.response", &mut paths);
        }
    }
    if let Some(description) = redact_text(&entry.description) {
        entry.description = description;
        paths.push("description".to_string());
    }

    paths.sort();
    paths.dedup();
    entry.redacted = paths;
}

/// Redacts `value` (found at JSON path `path`) in place, recursively, appending the path of
/// every replaced value to `redacted`: values under sensitive keys become [`REDACTED`], and
/// strings elsewhere go through [`redact_text`]. Object members extend the path with
/// `.key`, array elements with `[i]`.
pub fn redact_value(value: &mut Value, path: &str, redacted: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if let Some(clean) = redact_text(s) {
                *s = clean;
                redacted.push(path.to_string());
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                redact_value(item, &format!("{path}[{i}]"), redacted);
            }
        }
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if holds_secret(key, child) {
                    *child = Value::String(REDACTED.to_string());
                    redacted.push(child_path);
                } else {
                    redact_value(child, &child_path, redacted);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Whether the value under `key` must be replaced as a whole. Nulls, booleans, empty strings
/// and already-redacted values carry no secret (and `password_changed: true` is exactly
/// what an audit log should show), so they are kept.
fn holds_secret(key: &str, value: &Value) -> bool {
    let normalised: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    let mut matches = SENSITIVE_KEY_PARTS
        .iter()
        .filter(|part| normalised.contains(*part));
    let Some(first) = matches.next() else {
        return false;
    };
    let only_token = *first == "token" && matches.next().is_none();
    match value {
        Value::Null | Value::Bool(_) => false,
        Value::String(s) => !s.is_empty() && s != REDACTED,
        Value::Number(_) => !only_token,
        Value::Array(_) | Value::Object(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Actor, Changes, Context, Outcome, RequestInfo};
    use serde_json::{json, Map};

    fn redact(mut value: Value) -> (Value, Vec<String>) {
        let mut paths = Vec::new();
        redact_value(&mut value, "properties", &mut paths);
        (value, paths)
    }

    fn entry(properties: Value) -> NewEntry {
        let properties: Map<String, Value> = serde_json::from_value(properties).unwrap();
        NewEntry {
            occurred_at: None,
            channel: "default".into(),
            action: "a.b".into(),
            event: "other".into(),
            category: None,
            description: "a.b".into(),
            result: Outcome::Success,
            actor: Actor::system("test"),
            targets: Vec::new(),
            context: Context::default(),
            changes: None,
            properties,
            redacted: Vec::new(),
            idempotency_key: None,
        }
    }

    #[test]
    fn sensitive_keys_are_redacted_whatever_their_spelling() {
        let (v, paths) = redact(json!({
            "password": "hunter2", "X-Api-Key": "k", "clientSecret": "s", "Session ID": "x",
            "db.passwd": "p", "AUTHORIZATION": "Basic x", "set_cookie": ["a", "b"],
            "aws_access_key": {"id": "AKIA"}, "private-key": "pk", "credentials": {"u": 1},
            "passphrase": 1234, "refresh_token": "r", "name": "alice",
        }));
        for key in [
            "password",
            "X-Api-Key",
            "clientSecret",
            "Session ID",
            "db.passwd",
            "AUTHORIZATION",
            "set_cookie",
            "aws_access_key",
            "private-key",
            "credentials",
            "passphrase",
            "refresh_token",
        ] {
            assert_eq!(v[key], json!(REDACTED), "{key}");
        }
        assert_eq!(v["name"], "alice");
        assert_eq!(paths.len(), 12);
        assert!(paths.contains(&"properties.X-Api-Key".to_string()));
    }

    #[test]
    fn harmless_values_under_sensitive_keys_are_kept() {
        let input = json!({"password_changed": true, "secret": null, "token": "", "max_tokens": 4096,
                           "tokens_used": 17, "api_key": "[REDACTED]"});
        let (v, paths) = redact(input.clone());
        assert_eq!(v, input);
        assert!(paths.is_empty());
        let (v, _) = redact(json!({"password_length": 12, "token_secret": 5}));
        assert_eq!(
            v,
            json!({"password_length": REDACTED, "token_secret": REDACTED})
        );
    }

    #[test]
    fn nested_paths_use_dots_and_indices() {
        let (v, paths) = redact(json!({
            "list": ["4111 1111 1111 1111", "ok", {"token": "t"}],
            "a": {"b": {"note": "Bearer abc123def456"}},
        }));
        assert_eq!(v["list"][0], REDACTED);
        assert_eq!(v["list"][1], "ok");
        assert_eq!(v["a"]["b"]["note"], "Bearer [REDACTED]");
        assert_eq!(
            paths,
            [
                "properties.list[0]",
                "properties.list[2].token",
                "properties.a.b.note"
            ]
        );
        let mut paths = Vec::new();
        let mut top = json!({"password": "x"});
        redact_value(&mut top, "", &mut paths);
        assert_eq!(paths, ["password"]);
    }

    #[test]
    fn entry_parts_are_redacted_and_paths_merged_sorted_deduplicated() {
        let mut e = entry(json!({"password": "hunter2", "note": "card 4111 1111 1111 1111"}));
        e.description = "used key AKIAIOSFODNN7EXAMPLE".into();
        e.changes = Some(Changes {
            before: Some(json!({"password": "old"})),
            after: Some(json!("ghp_1234567890abcdefghijABCDEFGHIJ123456")),
        });
        e.context.request = Some(RequestInfo {
            method: Some("POST".into()),
            path: Some("/login".into()),
            body: Some(json!({"token": "t"})),
            response: Some(json!({"ok": true, "session_id": "s"})),
        });
        e.redacted = vec!["zzz.earlier".into(), "properties.password".into()];
        redact_entry(&mut e);
        assert_eq!(e.description, "used key [REDACTED]");
        assert_eq!(e.properties["note"], "card [REDACTED]");
        assert_eq!(
            e.redacted,
            [
                "changes.after",
                "changes.before.password",
                "context.request.body.token",
                "context.request.response.session_id",
                "description",
                "properties.note",
                "properties.password",
                "zzz.earlier",
            ]
        );
        let text = serde_json::to_string(&e).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("AKIAIOSFODNN7EXAMPLE"),
            "{text}"
        );
        let once = e.clone();
        redact_entry(&mut e);
        assert_eq!(e, once, "idempotent");
    }

    #[test]
    fn clean_entry_is_untouched() {
        let mut e = entry(json!({"n": 1, "s": "hello", "nested": {"list": [1, "x"]}}));
        let before = e.clone();
        redact_entry(&mut e);
        assert_eq!(e, before);
    }
}
