//! Secret redaction before anything is hashed or stored.
//!
//! An audit log is kept for years and read by many people, so secrets that producers send by
//! mistake must not reach it. Every string an entry stores goes through the same scan
//! ([`redact_text`]), and JSON adds a rule by key name ([`redact_value`]):
//!
//! * **By shape** ([`shapes`], [`cards`]): private keys, JWTs, cloud, chat and payment-provider
//!   tokens, HTTP credentials, URL passwords and card numbers, wherever they appear.
//! * **By name in the text** ([`pairs`]): `password=…`, `"api_key": "…"`, and URL parameters
//!   such as `?token=…` or `&X-Amz-Signature=…`.
//! * **By key name** ([`keys`]): a JSON value under a key such as `password`, `api_key`,
//!   `Authorization` or `user_pin` is replaced whatever it holds.
//!
//! Only the secret goes where the text around it still means something (`Bearer [REDACTED]`,
//! `postgres://app:[REDACTED]@db/x`). Replaced values read [`REDACTED`], and their paths are
//! listed in [`NewEntry::redacted`] so readers know something was removed.
//!
//! [`redact_entry`] covers every string of an entry, including the strictly formatted `action`,
//! `channel` and `event`: their character sets admit GitHub, Slack and Stripe tokens, AWS key
//! ids, JWTs and card numbers, and they sit in the signed envelope, which erasure cannot
//! touch. Three fields are not scanned because nothing but their own values can reach them:
//! `result` (one of six words), `context.ip` (re-rendered from a parsed address) and
//! `occurred_at` (a parsed time). `idempotency_key` is not scanned either: it only
//! deduplicates, and replacing it would merge distinct events into one.

mod cards;
mod keys;
mod pairs;
mod shapes;
mod text;

#[cfg(test)]
mod entry_tests;
#[cfg(test)]
mod field_proptests;
#[cfg(test)]
mod proptests;

use crate::entry::NewEntry;
use serde_json::{Map, Number, Value};
use std::collections::HashSet;
use std::fmt::Write;

pub use text::redact_text;

/// What a removed secret is replaced with: visible to readers, and never itself a match.
pub const REDACTED: &str = "[REDACTED]";

/// Redacts every string of `entry` in place and records the replaced paths in
/// `entry.redacted` (merged with any already there, sorted, without duplicates), so the entry
/// can be stored as is. Running it twice changes nothing more. See the module documentation
/// for which fields are scanned and why.
pub fn redact_entry(entry: &mut NewEntry) {
    let mut paths = std::mem::take(&mut entry.redacted);
    let p = &mut paths;
    redact_string(&mut entry.action, "action", p);
    redact_string(&mut entry.channel, "channel", p);
    redact_string(&mut entry.event, "event", p);
    redact_optional(&mut entry.category, "category", p);
    redact_string(&mut entry.description, "description", p);

    let actor = &mut entry.actor;
    redact_id(&mut actor.id, "actor.id", p);
    redact_optional(&mut actor.name, "actor.name", p);
    redact_optional(&mut actor.email, "actor.email", p);
    redact_optional(&mut actor.via, "actor.via", p);
    for (i, target) in entry.targets.iter_mut().enumerate() {
        redact_string(&mut target.kind, &format!("targets[{i}].type"), p);
        redact_id(&mut target.id, &format!("targets[{i}].id"), p);
        redact_optional(&mut target.name, &format!("targets[{i}].name"), p);
    }

    let context = &mut entry.context;
    redact_optional(&mut context.user_agent, "context.user_agent", p);
    redact_optional(&mut context.location, "context.location", p);
    if let Some(request) = &mut context.request {
        redact_optional(&mut request.method, "context.request.method", p);
        redact_optional(&mut request.path, "context.request.path", p);
        if let Some(body) = &mut request.body {
            redact_value(body, "context.request.body", p);
        }
        if let Some(response) = &mut request.response {
            redact_value(response, "context.request.response", p);
        }
    }
    if let Some(changes) = &mut entry.changes {
        if let Some(before) = &mut changes.before {
            redact_value(before, "changes.before", p);
        }
        if let Some(after) = &mut changes.after {
            redact_value(after, "changes.after", p);
        }
    }
    let mut properties = Value::Object(std::mem::take(&mut entry.properties));
    redact_value(&mut properties, "properties", p);
    if let Value::Object(map) = properties {
        entry.properties = map;
    }

    paths.sort();
    paths.dedup();
    entry.redacted = paths;
}

/// Redacts `value` (found at JSON path `path`) in place, recursively, appending the path of
/// every replaced value to `redacted`: values under secret-like keys become [`REDACTED`],
/// strings go through [`redact_text`], and keys holding a secret are renamed (see
/// [`rename_secret_keys`]). Object members extend the path with `.key`, array elements with
/// `[i]`.
pub fn redact_value(value: &mut Value, path: &str, redacted: &mut Vec<String>) {
    redact_at(value, &mut path.to_string(), redacted);
}

/// [`redact_value`] with the path in one buffer that each level extends and truncates again:
/// a path is only copied out when something under it is replaced, which is rare, instead of
/// being formatted for every member of every object.
fn redact_at(value: &mut Value, path: &mut String, redacted: &mut Vec<String>) {
    match value {
        Value::String(s) => redact_string(s, path, redacted),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let parent = path.len();
                // Writing into a String cannot fail.
                let _ = write!(path, "[{i}]");
                redact_at(item, path, redacted);
                path.truncate(parent);
            }
        }
        Value::Object(map) => {
            rename_secret_keys(map, path, redacted);
            for (key, child) in map.iter_mut() {
                let parent = path.len();
                if parent > 0 {
                    path.push('.');
                }
                path.push_str(key);
                match keys::secret_key(key) {
                    Some(kind) if kind.covers(child) => {
                        *child = Value::String(REDACTED.to_string());
                        redacted.push(path.clone());
                    }
                    _ => redact_at(child, path, redacted),
                }
                path.truncate(parent);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Keys are names, but producers also key maps by what they hold (sessions by token, clients
/// by API key), and a key is stored, indexed and shown like any string. So a key with a secret
/// in it is renamed: the secret replaced as in any text, with ` (2)`, ` (3)`, … appended when
/// that name is already taken. The member keeps its place and value; its new path is recorded.
fn rename_secret_keys(map: &mut Map<String, Value>, path: &str, redacted: &mut Vec<String>) {
    let renamed: Vec<Option<String>> = map.keys().map(|key| redact_text(key)).collect();
    if renamed.iter().all(Option::is_none) {
        return;
    }
    let mut taken: HashSet<String> = map
        .keys()
        .zip(&renamed)
        .filter(|(_, clean)| clean.is_none())
        .map(|(key, _)| key.clone())
        .collect();
    for ((key, value), clean) in std::mem::take(map).into_iter().zip(renamed) {
        let key = match clean {
            None => key,
            Some(clean) => {
                let unique = unique_name(clean, &taken);
                taken.insert(unique.clone());
                redacted.push(join(path, &unique));
                unique
            }
        };
        map.insert(key, value);
    }
}

/// `base`, or `base (n)` with the smallest `n` from 2 that is not `taken`.
fn unique_name(base: String, taken: &HashSet<String>) -> String {
    if !taken.contains(&base) {
        return base;
    }
    let numbered = (2u64..)
        .map(|n| format!("{base} ({n})"))
        .find(|name| !taken.contains(name));
    numbered.unwrap_or(base)
}

/// `path` + `key` → `path.key`; the empty path is the root.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Replaces the secrets in one text field and records its path if any were found.
fn redact_string(text: &mut String, path: &str, redacted: &mut Vec<String>) {
    if let Some(clean) = redact_text(text) {
        *text = clean;
        redacted.push(path.to_string());
    }
}

/// [`redact_string`] for an optional field.
fn redact_optional(text: &mut Option<String>, path: &str, redacted: &mut Vec<String>) {
    if let Some(text) = text {
        redact_string(text, path, redacted);
    }
}

/// An id spelled as a JSON number (`4111111111111111`, `-42`, `1.5e3`) is a number the
/// producer's database gave out: a JSON number sent as an id is stored as its text, and JSON
/// numbers are never scanned. Only the card check could match such text, and a 16-digit id
/// must stay findable by filter and by erasure, so it is kept. Any other id is scanned.
fn redact_id(id: &mut Option<String>, path: &str, redacted: &mut Vec<String>) {
    if id.as_deref().is_some_and(|id| id.parse::<Number>().is_ok()) {
        return;
    }
    redact_optional(id, path, redacted);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redact(mut value: Value) -> (Value, Vec<String>) {
        let mut paths = Vec::new();
        redact_value(&mut value, "properties", &mut paths);
        (value, paths)
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
    fn short_secret_words_in_keys() {
        let (v, paths) = redact(json!({
            "user_pin": "1234", "pinCode": 1234, "PIN": "0000", "db_pass": "p", "pwd": "x",
            "shipping": "DHL", "mapping": "m", "spinner": "s", "passenger": "p",
            "compass": "c", "passport_country": "DE",
        }));
        for key in ["user_pin", "pinCode", "PIN", "db_pass", "pwd"] {
            assert_eq!(v[key], json!(REDACTED), "{key}");
        }
        for key in [
            "shipping",
            "mapping",
            "spinner",
            "passenger",
            "compass",
            "passport_country",
        ] {
            assert_ne!(v[key], json!(REDACTED), "{key}");
        }
        assert_eq!(paths.len(), 5);
    }

    #[test]
    fn keys_holding_secrets_are_renamed_in_place() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        let (v, paths) = redact(json!({
            "first": 1,
            jwt: {"user": "alice"},
            "[REDACTED]": "taken",
            "ghp_1234567890abcdefghijABCDEFGHIJ123456": true,
            "password=hunter2": "x",
            "last": 2,
        }));
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "first",
                "[REDACTED] (2)",
                "[REDACTED]",
                "[REDACTED] (3)",
                "password=[REDACTED]",
                "last"
            ]
        );
        assert_eq!(v["[REDACTED] (2)"], json!({"user": "alice"}));
        assert_eq!(v["[REDACTED] (3)"], json!(true));
        assert_eq!(
            v["password=[REDACTED]"],
            json!(REDACTED),
            "the new name is secret-like too"
        );
        assert_eq!(
            paths,
            [
                "properties.[REDACTED] (2)",
                "properties.[REDACTED] (3)",
                "properties.password=[REDACTED]",
                "properties.password=[REDACTED]",
            ]
        );
        let (again, more) = redact(v.clone());
        assert_eq!((again, more), (v, Vec::new()));
    }
}
