//! The copies of an entry's committed values that filters, counts and exports read — the
//! filter columns of its row, its target rows and (on PostgreSQL) its search words — checked
//! against the entry opened from its envelope and vault values.
//!
//! Why: a list filtered by actor reads `actor_id`, not the vault. Editing that column hides an
//! entry from `?actor=` lists and from filtered bundles while every hash still matches, so
//! verification must hold every copy a read path trusts to the committed values. What cannot
//! be read back (SQLite's contentless search index, facet counts) is named in
//! `docs/integrity.md`.

use crate::index_terms::{document_words, props_column, scalar_text};
use sealtrail_core::{Entry, TenantId};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashSet;

/// The scalar filter columns, in the order [`IndexCopies::scalars`] holds them. Each backend
/// selects exactly these, rendered as text.
pub(crate) const SCALAR_COLUMNS: [&str; 12] = [
    "tenant",
    "recorded_at",
    "occurred_at",
    "channel",
    "action",
    "event",
    "category",
    "result",
    "actor_type",
    "actor_id",
    "actor_email",
    "ip",
];

/// What a backend stored for one entry beside its envelope and vault values.
#[derive(Debug, Default)]
pub(crate) struct IndexCopies {
    /// The columns of [`SCALAR_COLUMNS`], as text (`None` for NULL).
    pub scalars: ScalarCopies,
    /// The property filter column as stored (JSON text), `None` for NULL.
    pub props: Option<String>,
    /// The target copies in order; `None` while the entry's derived indexes are still queued
    /// (they are written from the committed entry when due).
    pub targets: Option<Vec<TargetCopy>>,
    /// The search words, where the backend can read them back.
    pub words: Option<Words>,
}

/// The scalar columns of one row as text, packed into one string: a verification reads a
/// million rows, and one allocation per column (twelve per row, freed on another thread) was
/// a tenth of the reading thread's time.
#[derive(Debug, Default, Clone)]
pub(crate) struct ScalarCopies {
    /// Every non-NULL column's text, one after the other.
    text: String,
    /// Where each column's text lies in `text`, in [`SCALAR_COLUMNS`] order (`None` for NULL).
    spans: [Option<(u32, u32)>; SCALAR_COLUMNS.len()],
    /// Columns pushed so far.
    len: usize,
}

impl ScalarCopies {
    /// The columns in order, as text (`None` for NULL).
    #[cfg(test)]
    pub(crate) fn from_columns<'a>(columns: impl IntoIterator<Item = Option<&'a str>>) -> Self {
        let mut copies = ScalarCopies::default();
        columns.into_iter().for_each(|column| copies.push(column));
        copies
    }

    /// Appends the next column (`None` for NULL). Columns past the last of
    /// [`SCALAR_COLUMNS`] are not kept.
    pub(crate) fn push(&mut self, column: Option<&str>) {
        match column {
            Some(text) => self.push_with(|out| out.push_str(text)),
            None => self.len += 1,
        }
    }

    /// Appends the next column, written by `write` onto the packed text.
    pub(crate) fn push_with(&mut self, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        if let (Some(span), Ok(start), Ok(end)) = (
            self.spans.get_mut(self.len),
            u32::try_from(start),
            u32::try_from(self.text.len()),
        ) {
            *span = Some((start, end));
        }
        self.len += 1;
    }

    /// Column `i`: `None` when the row had no such column, `Some(None)` for NULL.
    pub(crate) fn get(&self, i: usize) -> Option<Option<&str>> {
        if i >= self.len {
            return None;
        }
        let span = self.spans.get(i).copied().flatten();
        Some(span.and_then(|(start, end)| self.text.get(start as usize..end as usize)))
    }
}

/// One target as a backend copied it: type, id, name (`None` for NULL or a non-string).
pub(crate) type TargetCopy = (Option<String>, Option<String>, Option<String>);

/// A backend's stored search words for one entry, and how that backend makes them.
#[derive(Debug)]
pub(crate) struct Words {
    /// The words stored, as the backend reads them back (PostgreSQL: sorted and distinct).
    pub stored: Vec<String>,
    /// The document the backend's append path indexes for an entry
    /// ([`crate::index_terms::index_document`]), split by [`document_words`].
    pub document_of: fn(TenantId, &Entry) -> String,
    /// A word of that document as the backend stores it (PostgreSQL cuts long ones).
    pub stored_as: fn(&str) -> &str,
}

impl Words {
    /// True when the stored words are, as a set, those the append path writes for `entry`.
    /// Compared through a hash set of slices of one document rather than as ordered sets of
    /// owned strings: on PostgreSQL an entry has dozens of words (every inner suffix), and
    /// building and comparing two ordered sets per entry was half of a verification's CPU.
    fn match_entry(&self, tenant: TenantId, entry: &Entry) -> bool {
        type Set<'a> = HashSet<&'a str, foldhash::fast::RandomState>;
        let document = (self.document_of)(tenant, entry);
        let expected: Set<'_> = document_words(&document).map(self.stored_as).collect();
        // PostgreSQL reads a tsvector's words back sorted and distinct: then equal sizes and
        // every stored word expected make the sets equal.
        if self.stored.windows(2).all(|w| w[0] < w[1]) {
            return self.stored.len() == expected.len()
                && self.stored.iter().all(|w| expected.contains(w.as_str()));
        }
        let stored: Set<'_> = self.stored.iter().map(String::as_str).collect();
        stored == expected
    }
}

/// The scalar columns as the append path writes them for `entry` of `tenant` (text borrowed
/// from the entry where it can be, so checking a row allocates little).
fn expected_scalars(tenant: TenantId, entry: &Entry) -> [Option<Cow<'_, str>>; 12] {
    let owned = |s: String| Some(Cow::Owned(s));
    [
        owned(tenant.0.to_string()),
        owned(entry.recorded_at.millis().to_string()),
        owned(entry.occurred_at.millis().to_string()),
        Some(Cow::Borrowed(entry.channel.as_str())),
        Some(Cow::Borrowed(entry.action.as_str())),
        Some(Cow::Borrowed(entry.event.as_str())),
        entry.category.as_deref().map(Cow::Borrowed),
        Some(Cow::Borrowed(entry.result.as_str())),
        Some(Cow::Borrowed(entry.actor.kind.as_str())),
        entry.actor.id.as_deref().map(Cow::Borrowed),
        entry.actor.email.as_deref().map(Cow::Borrowed),
        entry.context.ip.as_deref().map(Cow::Borrowed),
    ]
}

/// Whether the stored property filter column holds exactly the entry's scalar properties as
/// text (the `props` column rule), compared as JSON so spacing and key order do not count.
/// The column as the append path writes it is tried first: on SQLite it is byte for byte
/// that (for entries appended before its keys were sorted, only the parse below agrees), and
/// parsing every row's column was a tenth of a verification's time.
fn same_props(stored: Option<&str>, entry: &Entry) -> bool {
    let written = props_column(&entry.properties);
    if stored == written.as_deref() {
        return true;
    }
    let mut expected = entry
        .properties
        .iter()
        .filter_map(|(k, v)| scalar_text(v).map(|t| (k, t)))
        .peekable();
    let Some(stored) = stored else {
        return expected.peek().is_none();
    };
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(stored) else {
        return false;
    };
    let mut count = 0;
    for (key, text) in expected {
        count += 1;
        if map.get(key).and_then(Value::as_str) != Some(text.as_ref()) {
            return false;
        }
    }
    count > 0 && map.len() == count
}

/// Whether the target copies are the entry's targets, in order.
fn same_targets(stored: &[TargetCopy], entry: &Entry) -> bool {
    stored.len() == entry.targets.len()
        && stored
            .iter()
            .zip(&entry.targets)
            .all(|((kind, id, name), t)| {
                kind.as_deref() == Some(t.kind.as_str()) && *id == t.id && *name == t.name
            })
}

/// The first copy of `entry` (of `tenant`) that differs from what the append path writes for
/// it, by column name; `None` when every copy agrees.
pub(crate) fn first_difference(
    tenant: TenantId,
    entry: &Entry,
    copies: &IndexCopies,
) -> Option<&'static str> {
    let expected = expected_scalars(tenant, entry);
    for (i, name) in SCALAR_COLUMNS.iter().enumerate() {
        if copies.scalars.get(i) != Some(expected[i].as_deref()) {
            return Some(name);
        }
    }
    if !same_props(copies.props.as_deref(), entry) {
        return Some("props");
    }
    if copies
        .targets
        .as_ref()
        .is_some_and(|targets| !same_targets(targets, entry))
    {
        return Some("targets");
    }
    if let Some(words) = &copies.words {
        if !words.match_entry(tenant, entry) {
            return Some("words");
        }
    }
    None
}

/// One target copy from a backend's JSON of a target (`{"type", "id", "name"}`).
pub(crate) fn target_from_json(target: &Value) -> TargetCopy {
    let field = |k: &str| target.get(k).and_then(Value::as_str).map(String::from);
    (field("type"), field("id"), field("name"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_core::entry::{Actor, ActorType, Context, NewEntry, Outcome, Target};
    use sealtrail_core::Timestamp;
    use uuid::Uuid;

    fn document(tenant: TenantId, entry: &Entry) -> Vec<String> {
        crate::index_terms::index_document(tenant, entry)
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    fn words_of(tenant: TenantId, entry: &Entry) -> Words {
        Words {
            stored: document(tenant, entry),
            document_of: crate::index_terms::index_document,
            stored_as: |w| w,
        }
    }

    fn stored_copies(tenant: TenantId, entry: &Entry) -> IndexCopies {
        IndexCopies {
            scalars: ScalarCopies::from_columns(
                expected_scalars(tenant, entry).iter().map(|s| s.as_deref()),
            ),
            props: crate::index_terms::props_column(&entry.properties),
            targets: Some(
                entry
                    .targets
                    .iter()
                    .map(|t| (Some(t.kind.clone()), t.id.clone(), t.name.clone()))
                    .collect(),
            ),
            words: Some(words_of(tenant, entry)),
        }
    }

    fn entry() -> Entry {
        let mut new = NewEntry {
            occurred_at: None,
            channel: "billing".into(),
            action: "invoice.approved".into(),
            event: "updated".into(),
            category: Some("Finance".into()),
            description: "Invoice 7 approved".into(),
            result: Outcome::Success,
            actor: Actor {
                kind: ActorType::User,
                id: Some("u-1042".into()),
                name: Some("Zoë Martin".into()),
                email: Some("zoe@example.com".into()),
                via: None,
            },
            targets: vec![Target {
                kind: "invoice".into(),
                id: Some("inv-7".into()),
                name: None,
            }],
            context: Context {
                ip: Some("203.0.113.9".into()),
                ..Context::default()
            },
            changes: None,
            properties: serde_json::Map::new(),
            redacted: Vec::new(),
            idempotency_key: None,
        };
        new.properties
            .insert("amount".into(), serde_json::json!(120));
        Entry::from_new(new, Uuid::now_v7(), 4, Timestamp(1_700_000_000_000))
    }

    #[test]
    fn faithful_copies_pass_and_each_edited_copy_is_named() {
        let t = TenantId(3);
        let e = entry();
        assert_eq!(first_difference(t, &e, &stored_copies(t, &e)), None);

        for (i, name) in SCALAR_COLUMNS.iter().enumerate() {
            let mut copies = stored_copies(t, &e);
            let expected = expected_scalars(t, &e);
            copies.scalars =
                ScalarCopies::from_columns(expected.iter().enumerate().map(|(j, s)| {
                    if i == j {
                        Some("mallory")
                    } else {
                        s.as_deref()
                    }
                }));
            assert_eq!(first_difference(t, &e, &copies), Some(*name));
        }
        let mut copies = stored_copies(t, &e);
        copies.props = Some(r#"{"amount":"1"}"#.into());
        assert_eq!(first_difference(t, &e, &copies), Some("props"));
        let mut copies = stored_copies(t, &e);
        copies.targets = Some(Vec::new());
        assert_eq!(first_difference(t, &e, &copies), Some("targets"));
        let mut copies = stored_copies(t, &e);
        if let Some(words) = copies.words.as_mut() {
            words.stored.push("3xmallory".into());
        }
        assert_eq!(first_difference(t, &e, &copies), Some("words"));
        let mut copies = stored_copies(t, &e);
        if let Some(words) = copies.words.as_mut() {
            words.stored.pop();
        }
        assert_eq!(first_difference(t, &e, &copies), Some("words"));
    }

    /// Stored words compare as a set: in any order, repeated or not, the same words match,
    /// and one word more, less or changed does not.
    #[test]
    fn words_compare_as_sets_in_any_order() {
        let t = TenantId(3);
        let e = entry();
        let words = words_of(t, &e);
        assert!(words.match_entry(t, &e));
        let mut sorted = document(t, &e);
        sorted.sort();
        sorted.dedup();
        let mut shuffled = sorted.clone();
        shuffled.reverse();
        shuffled.push(sorted[0].clone());
        for stored in [sorted.clone(), shuffled] {
            assert!(Words {
                stored,
                ..words_of(t, &e)
            }
            .match_entry(t, &e));
        }
        let mut changed = sorted.clone();
        changed[1] = "3xinvoicf".into();
        let mut fewer = sorted.clone();
        fewer.remove(0);
        for stored in [changed, fewer, Vec::new()] {
            assert!(!Words {
                stored,
                ..words_of(t, &e)
            }
            .match_entry(t, &e));
        }
    }

    #[test]
    fn spacing_of_stored_json_and_unreadable_copies_do_not_count() {
        let t = TenantId(3);
        let e = entry();
        let mut copies = stored_copies(t, &e);
        copies.props = Some(r#"{"amount": "120"}"#.into());
        copies.targets = None;
        copies.words = None;
        assert_eq!(first_difference(t, &e, &copies), None);
    }
}
