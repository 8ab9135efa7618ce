//! What a read Retraced event becomes: the canonical string its client hashes (after the id)
//! and the event in Sealtrail's shape for the native validator.

use super::reading::{RetracedFields, StringMap};
use super::{GROUP_PROPERTY, PROPERTY};
use crate::ingest::looks_like_email;
use serde_json::{json, Map, Value};

impl<'a> RetracedFields<'a> {
    /// The canonical string after `<id>:`, exactly as the client builds it (module docs of
    /// the client's `buildHashTarget`): ids, the source IP, the two flags, `fields` sorted by
    /// UTF-16 code units, then the external id and `metadata` when present.
    pub(super) fn canonical_tail(&self) -> String {
        let mut text = encode_separator(self.action);
        text.push(':');
        for object in [self.target, self.actor, self.group] {
            if let Some(id) = object.and_then(|o| o.get("id")).and_then(Value::as_str) {
                text.push_str(&encode_separator(id));
            }
            text.push(':');
        }
        if let Some(ip) = self.source_ip {
            text.push_str(&encode_separator(ip));
        }
        text.push(':');
        text.push_str(if self.is_failure { "1:" } else { "0:" });
        text.push_str(if self.is_anonymous { "1:" } else { "0:" });
        match &self.fields {
            None => text.push(':'),
            Some(pairs) => push_pairs(&mut text, pairs),
        }
        if let Some(id) = self.external_id {
            text.push(':');
            text.push_str(&encode_separator(id));
        }
        if let Some(pairs) = &self.metadata {
            text.push(':');
            push_pairs(&mut text, pairs);
        }
        text
    }

    /// The event in Sealtrail's shape (docs/compat.md, "Retraced field map").
    pub(super) fn native(&self) -> Value {
        let mut event = Map::new();
        event.insert("action".into(), json!(self.action));
        let kind = match self.crud {
            "c" => "created",
            "r" => "read",
            "u" => "updated",
            _ => "deleted",
        };
        event.insert("event".into(), json!(kind));
        if let Some(description) = self.description {
            event.insert("description".into(), json!(description));
        }
        let result = if self.is_failure {
            "failure"
        } else {
            "success"
        };
        event.insert("result".into(), json!(result));
        event.insert("actor".into(), self.native_actor());
        if let Some(target) = self.target {
            let text = |k: &str| {
                target
                    .get(k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            };
            let mut native = Map::new();
            native.insert("type".into(), json!(text("type").unwrap_or("object")));
            native.insert("id".into(), json!(text("id")));
            if let Some(name) = text("name") {
                native.insert("name".into(), json!(name));
            }
            event.insert("targets".into(), json!([native]));
        }
        if let Some(ip) = self.source_ip {
            event.insert("context".into(), json!({ "ip": ip }));
        }
        if let Some(created) = self.created {
            event.insert("occurred_at".into(), json!(created));
        }
        event.insert("properties".into(), Value::Object(self.properties()));
        Value::Object(event)
    }

    /// The actor: Retraced's, typed `user`, its id also the e-mail when it is one (so actor
    /// filters and erasure find it); an anonymous event's stand-in when it has none.
    fn native_actor(&self) -> Value {
        let Some(actor) = self.actor else {
            return json!({ "type": "user", "id": "anonymous", "name": "Anonymous" });
        };
        let text = |k: &str| {
            actor
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let mut native = Map::new();
        native.insert("type".into(), json!("user"));
        if let Some(id) = text("id") {
            native.insert("id".into(), json!(id));
            if looks_like_email(id) {
                native.insert("email".into(), json!(id));
            }
        }
        if let Some(name) = text("name") {
            native.insert("name".into(), json!(name));
        }
        if let Some(component) = self.component {
            native.insert("via".into(), json!(component));
        }
        Value::Object(native)
    }

    /// `fields` at the top level (filterable as `properties.<key>`), the group's id as
    /// [`GROUP_PROPERTY`] (so reads and viewers can be scoped to a group), everything else
    /// Retraced sent under [`PROPERTY`].
    fn properties(&self) -> Map<String, Value> {
        let mut properties: Map<String, Value> = self
            .fields
            .iter()
            .flatten()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let mut retraced = Map::new();
        if let Some(group) = self.group {
            if let Some(id) = group.get("id") {
                properties.insert(GROUP_PROPERTY.into(), id.clone());
            }
            retraced.insert("group".into(), Value::Object(group.clone()));
        }
        for (name, object) in [("actor", self.actor), ("target", self.target)] {
            let extras: Map<String, Value> = object
                .into_iter()
                .flatten()
                .filter(|(k, v)| matches!(k.as_str(), "href" | "fields") && !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !extras.is_empty() {
                retraced.insert(name.into(), Value::Object(extras));
            }
        }
        if let Some(pairs) = &self.metadata {
            let metadata: Map<String, Value> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            retraced.insert("metadata".into(), Value::Object(metadata));
        }
        let texts = [
            ("external_id", self.external_id),
            ("component", self.component),
            ("version", self.version),
            (
                "display_title",
                self.display_title.filter(|s| !s.is_empty()),
            ),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                retraced.insert(name.into(), json!(value));
            }
        }
        if self.is_anonymous {
            retraced.insert("is_anonymous".into(), json!(true));
        }
        if !retraced.is_empty() {
            properties.insert(PROPERTY.into(), Value::Object(retraced));
        }
        properties
    }
}

/// `k=v;` for each pair, keys in JavaScript's default sort order (UTF-16 code units), both
/// sides escaped for the separators of the string and of the pairs.
fn push_pairs(text: &mut String, pairs: &StringMap<'_>) {
    let mut sorted: Vec<&(&str, &str)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    for (key, value) in sorted {
        text.push_str(&encode_pair(&encode_separator(key)));
        text.push('=');
        text.push_str(&encode_pair(&encode_separator(value)));
        text.push(';');
    }
}

/// The client's first escaping pass: `%` then `:`.
pub(super) fn encode_separator(s: &str) -> String {
    s.replace('%', "%25").replace(':', "%3A")
}

/// The client's second escaping pass, for `fields` and `metadata`: `=` then `;`.
fn encode_pair(s: &str) -> String {
    s.replace('=', "%3D").replace(';', "%3B")
}
