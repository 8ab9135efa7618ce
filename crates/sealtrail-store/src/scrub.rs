//! The text side of erasure, with no I/O: the subject's pseudonym, the identifiers that name
//! the subject, and replacing them inside vault JSON.
//!
//! Matching is case-insensitive (per character, Unicode simple lowercase). A JSON string (or
//! object key) equal to any identifier becomes the pseudonym; identifiers of at least
//! [`MIN_CONTAINED`] characters are also replaced wherever they occur inside longer text, so
//! "Laptop assigned to Zoë Martin" reads "Laptop assigned to erased-…". Shorter ones (an actor
//! id like `u1`) are only replaced as whole values: as substrings they would mangle unrelated
//! text.

use sealtrail_core::envelope::canonical_json;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// Identifiers shorter than this (in characters) are only matched as whole values.
pub(crate) const MIN_CONTAINED: usize = 3;

/// The subject's stable stand-in: `erased-` and 12 hex digits of
/// `SHA-256(log_origin || 0x00 || lowercase(subject))`. Stable per log and subject, so repeated
/// erasures and later entries agree, yet not comparable across logs.
pub(crate) fn pseudonym(log_origin: &str, subject: &str) -> String {
    let mut h = Sha256::new();
    h.update(log_origin.as_bytes());
    h.update([0u8]);
    h.update(subject.to_lowercase().as_bytes());
    let digest = hex::encode(h.finalize());
    format!("erased-{}", &digest[..12])
}

/// The actor part shown for the subject's own entries after erasure (canonical JSON).
pub(crate) fn erased_actor(pseudonym: &str) -> Vec<u8> {
    canonical_json(&json!({
        "id": pseudonym,
        "name": "Erased subject",
        "email": null,
        "via": null,
    }))
}

/// The context part shown for the subject's own entries after erasure: nothing.
pub(crate) fn erased_context() -> Vec<u8> {
    canonical_json(&json!({ "ip": null, "user_agent": null, "location": null }))
}

/// One character for comparison: its lowercase form when that is a single character.
fn fold(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

fn folded(s: &str) -> Vec<char> {
    s.chars().map(fold).collect()
}

/// True when `a` and `b` are equal ignoring case.
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    folded(a) == folded(b)
}

/// The words that identify the subject, folded for comparison.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identifiers {
    /// Every identifier: replaced when a whole value equals one.
    exact: Vec<Vec<char>>,
    /// Identifiers long enough to replace inside text, longest first.
    contained: Vec<Vec<char>>,
}

impl Identifiers {
    /// Builds the matcher from raw identifiers (empty ones are ignored).
    pub(crate) fn new<'a>(raw: impl IntoIterator<Item = &'a str>) -> Self {
        let mut exact: Vec<Vec<char>> = raw
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(folded)
            .collect();
        exact.sort();
        exact.dedup();
        let mut contained: Vec<Vec<char>> = exact
            .iter()
            .filter(|id| id.len() >= MIN_CONTAINED)
            .cloned()
            .collect();
        contained.sort_by_key(|id| std::cmp::Reverse(id.len()));
        Identifiers { exact, contained }
    }

    /// `s` with identifiers replaced by `pseudonym`, or `None` when it names none of them.
    pub(crate) fn scrub_str(&self, s: &str, pseudonym: &str) -> Option<String> {
        let chars: Vec<char> = s.chars().collect();
        let fold: Vec<char> = chars.iter().copied().map(fold).collect();
        if self.exact.contains(&fold) {
            return (s != pseudonym).then(|| pseudonym.to_string());
        }
        let mut out = String::with_capacity(s.len());
        let mut changed = false;
        let mut i = 0;
        'scan: while i < chars.len() {
            for id in &self.contained {
                if fold[i..].starts_with(id) {
                    out.push_str(pseudonym);
                    i += id.len();
                    changed = true;
                    continue 'scan;
                }
            }
            out.push(chars[i]);
            i += 1;
        }
        changed.then_some(out)
    }

    /// Replaces identifiers in every string and object key of `value`; true if anything
    /// changed.
    pub(crate) fn scrub_json(&self, value: &mut Value, pseudonym: &str) -> bool {
        match value {
            Value::String(s) => match self.scrub_str(s, pseudonym) {
                Some(new) => {
                    *s = new;
                    true
                }
                None => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, v| self.scrub_json(v, pseudonym) | changed),
            Value::Object(map) => {
                let mut changed = false;
                let old = std::mem::take(map);
                let mut new = Map::with_capacity(old.len());
                for (key, mut v) in old {
                    changed |= self.scrub_json(&mut v, pseudonym);
                    let key = match self.scrub_str(&key, pseudonym) {
                        Some(k) => {
                            changed = true;
                            k
                        }
                        None => key,
                    };
                    new.insert(key, v);
                }
                *map = new;
                changed
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_per_log_and_case_insensitive() {
        let a = pseudonym("sealtrail/0011aabb/acme", "Zoe@Example.com");
        assert_eq!(a, pseudonym("sealtrail/0011aabb/acme", "zoe@example.com"));
        assert_ne!(a, pseudonym("sealtrail/0011aabb/globex", "zoe@example.com"));
        assert!(
            a.starts_with("erased-") && a.len() == "erased-".len() + 12,
            "{a}"
        );
    }

    #[test]
    fn names_are_replaced_inside_text_ignoring_case() {
        let ids = Identifiers::new(["Zoë Martin", "zoe@example.com", "u1"]);
        assert_eq!(
            ids.scrub_str("Laptop assigned to ZOË MARTIN.", "erased-x")
                .as_deref(),
            Some("Laptop assigned to erased-x.")
        );
        assert_eq!(
            ids.scrub_str("mail Zoe@Example.COM now", "erased-x")
                .as_deref(),
            Some("mail erased-x now")
        );
        assert_eq!(ids.scrub_str("U1", "erased-x").as_deref(), Some("erased-x"));
        assert_eq!(
            ids.scrub_str("u10 and u1x", "erased-x"),
            None,
            "short ids only whole"
        );
        assert_eq!(ids.scrub_str("Zoë", "erased-x"), None);
    }

    #[test]
    fn json_strings_and_keys_are_scrubbed() {
        let ids = Identifiers::new(["Zoë Martin"]);
        let mut v = json!({ "to": ["Zoë Martin", 3], "Zoë Martin": { "n": "x" }, "k": true });
        assert!(ids.scrub_json(&mut v, "erased-x"));
        assert_eq!(
            v,
            json!({ "to": ["erased-x", 3], "erased-x": { "n": "x" }, "k": true })
        );
        assert!(!ids.scrub_json(&mut v, "erased-x"), "idempotent");
    }
}
