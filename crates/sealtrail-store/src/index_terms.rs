//! Text the store derives from an entry for searching and property filters.
//!
//! Search words are produced here, in Rust, for both the index and the query: lowercased with
//! Unicode rules and split on anything that is not a letter or digit. The FTS5 table uses the
//! `ascii` tokenizer, which keeps every non-ASCII character inside a token and only splits on
//! ASCII punctuation, which these words never contain, so each word here is exactly one FTS
//! token and no user input ever reaches FTS5 query syntax.

use sealtrail_core::entry::Entry;
use sealtrail_core::TenantId;
use serde_json::{Map, Value};

/// The lowercased words of `text`: "alice@example.com" gives alice, example, com.
pub(crate) fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        // Lowercasing can itself produce a non-alphanumeric mark (e.g. "İ"); split again so
        // index and query agree on every input.
        .flat_map(|w| {
            w.split(|c: char| !c.is_alphanumeric())
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
}

/// The per-tenant token prefix; tenant ids are non-negative, so "12x" can never be a prefix of
/// "1x…" or the other way round.
pub(crate) fn tenant_prefix(tenant: TenantId) -> String {
    format!("{}x", tenant.0)
}

/// The document indexed for one entry: every searchable word, tenant-prefixed. Built from the
/// entry as readers see it, so an erased entry is re-indexed from its pseudonymous values.
pub(crate) fn index_document(tenant: TenantId, entry: &Entry) -> String {
    let prefix = tenant_prefix(tenant);
    let fields = [
        Some(entry.description.as_str()),
        Some(entry.action.as_str()),
        entry.actor.email.as_deref(),
        entry.actor.name.as_deref(),
    ];
    let mut doc = String::new();
    for word in fields.into_iter().flatten().flat_map(words) {
        if !doc.is_empty() {
            doc.push(' ');
        }
        doc.push_str(&prefix);
        doc.push_str(&word);
    }
    doc
}

/// The FTS5 MATCH expression for a free-text query: every word must be a prefix of an indexed
/// word of this tenant. `None` when the text holds no words (nothing to narrow by).
pub(crate) fn match_expression(tenant: TenantId, text: &str) -> Option<String> {
    let prefix = tenant_prefix(tenant);
    let terms: Vec<String> = words(text).map(|w| format!("\"{prefix}{w}\"*")).collect();
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

/// A property's scalar value as filter text: strings as themselves, numbers as JSON writes
/// them, booleans as `true`/`false`. Null, arrays and objects have no scalar text.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// The `props` column: each scalar property rendered as text, so a filter compares two
/// strings and never re-parses the whole entry body.
pub(crate) fn props_column(properties: &Map<String, Value>) -> Option<String> {
    let scalars: Map<String, Value> = properties
        .iter()
        .filter_map(|(k, v)| scalar_text(v).map(|t| (k.clone(), Value::String(t))))
        .collect();
    (!scalars.is_empty()).then(|| Value::Object(scalars).to_string())
}

/// The `targets` column of the PostgreSQL backend: every target as `{"type", "id", "name"}`
/// (missing fields as JSON null), so "one target has all the given fields" is one containment
/// test (`targets @> '[{…}]'`). `None` when the entry has no targets.
pub(crate) fn targets_column(entry: &Entry) -> Option<String> {
    let targets: Vec<Value> = entry
        .targets
        .iter()
        .map(|t| serde_json::json!({ "type": t.kind, "id": t.id, "name": t.name }))
        .collect();
    (!targets.is_empty()).then(|| Value::Array(targets).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_and_lowercase_with_unicode_rules() {
        let w: Vec<String> = words("Alice@Example.com assigned ZOË user.created").collect();
        assert_eq!(
            w,
            ["alice", "example", "com", "assigned", "zoë", "user", "created"]
        );
    }

    #[test]
    fn hostile_query_text_never_reaches_fts_syntax() {
        let e = match_expression(TenantId(3), "\"a* OR NEAR( -b) c:d ^e").unwrap_or_default();
        assert_eq!(e, "\"3xa\"* AND \"3xor\"* AND \"3xnear\"* AND \"3xb\"* AND \"3xc\"* AND \"3xd\"* AND \"3xe\"*");
        assert_eq!(match_expression(TenantId(3), "\"*()-"), None);
    }

    #[test]
    fn scalars_render_as_text() {
        assert_eq!(scalar_text(&serde_json::json!(7)), Some("7".into()));
        assert_eq!(scalar_text(&serde_json::json!(true)), Some("true".into()));
        assert_eq!(scalar_text(&serde_json::json!("x")), Some("x".into()));
        assert_eq!(scalar_text(&serde_json::json!(null)), None);
        assert_eq!(scalar_text(&serde_json::json!([1])), None);
    }
}
