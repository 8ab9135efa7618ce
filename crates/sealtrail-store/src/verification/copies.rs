//! The copies of an entry's committed values that filters, counts and exports read — the
//! filter columns of its row, its target rows and (on PostgreSQL) its search words — checked
//! against the entry's view read from its envelope and vault values.
//!
//! Why: a list filtered by actor reads `actor_id`, not the vault. Editing that column hides an
//! entry from `?actor=` lists and from filtered bundles while every hash still matches, so
//! verification must hold every copy a read path trusts to the committed values. What cannot
//! be read back (SQLite's contentless search index, facet counts) is named in
//! `docs/integrity.md`.

use crate::index_terms::{
    prop_scalars_of_text, props_column, scalar_text, stored_prop_texts, write_props, Tokenized,
};
use sealtrail_core::envelope::{EntryView, TargetView};
use sealtrail_core::TenantId;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The scalar filter columns, in the order [`IndexCopies::scalars`] holds them. Each backend
/// selects exactly these, as stored.
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
    /// The columns of [`SCALAR_COLUMNS`], as stored.
    pub scalars: ScalarCopies,
    /// The property filter column as stored (JSON text), `None` for NULL.
    pub props: Option<String>,
    /// The target copies in order; `None` while the entry's derived indexes are still queued
    /// (they are written from the committed entry when due).
    pub targets: Option<Vec<TargetCopy>>,
    /// The search words, where the backend can read them back.
    pub words: Option<Words>,
}

/// The scalar columns of one row, packed into one buffer: a verification reads a million
/// rows, and one allocation per column (twelve per row, freed on another thread) was a tenth
/// of the reading thread's time. Text stays bytes (it is only ever compared with the entry's
/// text, so checking it is UTF-8 first was wasted), and integers stay integers (formatting
/// three per row was the reader's; the comparison formats one onto the stack instead).
#[derive(Debug, Default, Clone)]
pub(crate) struct ScalarCopies {
    /// Every text column's bytes, one after the other.
    text: Vec<u8>,
    /// Each column in [`SCALAR_COLUMNS`] order.
    columns: [Packed; SCALAR_COLUMNS.len()],
    /// Columns pushed so far.
    len: usize,
}

/// One column of [`ScalarCopies`].
#[derive(Debug, Default, Clone, Copy)]
enum Packed {
    /// NULL.
    #[default]
    Null,
    /// An integer, as either backend sends one.
    Integer(i64),
    /// Text at this range of the packed bytes.
    Text(u32, u32),
}

/// One scalar column as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar<'a> {
    /// NULL.
    Null,
    /// An integer value.
    Integer(i64),
    /// Text (or a blob), as bytes.
    Text(&'a [u8]),
}

impl ScalarCopies {
    /// Room for a typical row's text, so packing it never grows the buffer.
    const TYPICAL_TEXT: usize = 256;

    /// The columns in order, as text (`None` for NULL).
    #[cfg(test)]
    pub(crate) fn from_columns<'a>(columns: impl IntoIterator<Item = Option<&'a str>>) -> Self {
        let mut copies = ScalarCopies::default();
        columns.into_iter().for_each(|column| copies.push(column));
        copies
    }

    /// Appends the next column as text (`None` for NULL). Columns past the last of
    /// [`SCALAR_COLUMNS`] are not kept.
    pub(crate) fn push(&mut self, column: Option<&str>) {
        match column {
            Some(text) => self.push_bytes(text.as_bytes()),
            None => self.push_packed(Packed::Null),
        }
    }

    /// Appends the next column, a text or blob value's bytes.
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        if self.text.capacity() == 0 {
            self.text.reserve(Self::TYPICAL_TEXT);
        }
        let start = self.text.len();
        self.text.extend_from_slice(bytes);
        let packed = match (u32::try_from(start), u32::try_from(self.text.len())) {
            (Ok(start), Ok(end)) => Packed::Text(start, end),
            // Past 4 GiB of one row's text: kept as NULL, which differs from any entry.
            _ => Packed::Null,
        };
        self.push_packed(packed);
    }

    /// Appends the next column, an integer value.
    pub(crate) fn push_integer(&mut self, value: i64) {
        self.push_packed(Packed::Integer(value));
    }

    /// Appends the next column, a NULL.
    pub(crate) fn push_null(&mut self) {
        self.push_packed(Packed::Null);
    }

    fn push_packed(&mut self, packed: Packed) {
        if let Some(column) = self.columns.get_mut(self.len) {
            *column = packed;
        }
        self.len += 1;
    }

    /// Column `i`: `None` when the row had no such column.
    pub(crate) fn get(&self, i: usize) -> Option<Scalar<'_>> {
        if i >= self.len {
            return None;
        }
        Some(match self.columns.get(i).copied().unwrap_or_default() {
            Packed::Null => Scalar::Null,
            Packed::Integer(value) => Scalar::Integer(value),
            Packed::Text(start, end) => Scalar::Text(
                self.text
                    .get(start as usize..end as usize)
                    .unwrap_or_default(),
            ),
        })
    }
}

/// One target as a backend copied it: type, id, name (`None` for NULL or a non-string).
pub(crate) type TargetCopy = (Option<String>, Option<String>, Option<String>);

/// A backend's stored search words for one entry, and how that backend makes them.
#[derive(Debug)]
pub(crate) struct Words {
    /// The words stored, as PostgreSQL sends a `tsvector` in binary (its lexemes sorted and
    /// distinct; empty for none). Read as one value rather than as an array of words: dozens
    /// of strings per entry (every inner suffix) were most of a verification's allocations.
    pub tsvector: Vec<u8>,
    /// The document the backend's append path indexes for an entry
    /// ([`crate::index_terms::index_document`]), made from its view, with its tokens.
    pub document_of: fn(TenantId, &EntryView<'_>) -> Tokenized,
    /// A word of that document as the backend stores it (PostgreSQL cuts long ones).
    pub stored_as: fn(&str) -> &str,
}

impl Words {
    /// True when the stored words are, as a set, those the append path writes for `entry`.
    /// PostgreSQL writes a `tsvector` out sorted and distinct, so the stored words are
    /// distinct when they are in strictly increasing order, and then equal sizes and every
    /// stored word expected make the sets equal: one hash set of the expected words, sized
    /// up front (an entry has about a hundred, every inner suffix), instead of sorting them
    /// (sorting and comparing them was half of a PostgreSQL verification's CPU).
    fn match_entry(&self, tenant: TenantId, entry: &EntryView<'_>) -> bool {
        let Some(mut stored) = tsvector_lexemes(&self.tsvector) else {
            return false;
        };
        if !stored.windows(2).all(|w| w[0] < w[1]) {
            stored.sort_unstable();
            stored.dedup();
        }
        let document = (self.document_of)(tenant, entry);
        let mut expected: HashSet<&[u8], foldhash::fast::RandomState> =
            HashSet::with_capacity_and_hasher(document.len(), Default::default());
        expected.extend(document.tokens().map(|t| (self.stored_as)(t).as_bytes()));
        stored.len() == expected.len() && stored.iter().all(|w| expected.contains(w))
    }
}

/// The lexemes of a `tsvector` in PostgreSQL's binary form (`tsvectorsend`: a 32-bit count,
/// then each lexeme NUL-terminated with a 16-bit count of positions and the positions),
/// borrowed from it; empty bytes for none. `None` when it holds anything the append path never
/// writes (positions or weights) or is not that form.
fn tsvector_lexemes(binary: &[u8]) -> Option<Vec<&[u8]>> {
    if binary.is_empty() {
        return Some(Vec::new());
    }
    let (count, mut rest) = binary.split_first_chunk::<4>()?;
    let count = usize::try_from(u32::from_be_bytes(*count)).ok()?;
    let mut lexemes = Vec::with_capacity(count.min(4096));
    for _ in 0..count {
        // Found with `memchr`: the stored words of a log are most of what this scans, and a
        // byte-at-a-time search for each terminator was 7% of a PostgreSQL verification.
        let end = memchr::memchr(0, rest)?;
        let (lexeme, after) = rest.split_at(end);
        let (positions, after) = after.get(1..)?.split_first_chunk::<2>()?;
        if *positions != [0, 0] {
            return None;
        }
        lexemes.push(lexeme);
        rest = after;
    }
    rest.is_empty().then_some(lexemes)
}

/// What the append path writes into one scalar column.
enum Expected<'a> {
    /// A text column (`None` for NULL).
    Text(Option<&'a str>),
    /// An integer column, which backends read back as its decimal text.
    Integer(i64),
}

impl Expected<'_> {
    /// Whether a stored column is what the append path writes, compared as text: an
    /// integer column read back as text (PostgreSQL's `::text`) must hold exactly the
    /// digits, and a text column holding a number (only a foreign edit stores one) must
    /// spell exactly the text.
    fn matches(&self, stored: Scalar<'_>) -> bool {
        match (self, stored) {
            (Expected::Text(text), Scalar::Text(bytes)) => text.map(str::as_bytes) == Some(bytes),
            (Expected::Text(text), Scalar::Null) => text.is_none(),
            (Expected::Text(text), Scalar::Integer(value)) => {
                text.is_some_and(|t| same_digits(value, t.as_bytes()))
            }
            (Expected::Integer(value), Scalar::Integer(stored)) => *value == stored,
            (Expected::Integer(value), Scalar::Text(bytes)) => same_digits(*value, bytes),
            (Expected::Integer(_), Scalar::Null) => false,
        }
    }
}

/// Whether `text` is exactly the decimal digits of `value`, formatted on the stack: this runs
/// for every integer column a backend reads back as text.
fn same_digits(value: i64, text: &[u8]) -> bool {
    use std::io::Write as _;
    let mut digits = [0u8; 24];
    let mut out = std::io::Cursor::new(&mut digits[..]);
    let written = write!(out, "{value}").is_ok();
    let len = usize::try_from(out.position()).unwrap_or(usize::MAX);
    written && digits.get(..len) == Some(text)
}

/// The scalar columns as the append path writes them for `entry` of `tenant`, in
/// [`SCALAR_COLUMNS`] order, borrowed from the entry's view.
fn expected_scalars<'a>(tenant: TenantId, entry: &'a EntryView<'_>) -> [Expected<'a>; 12] {
    use Expected::{Integer, Text};
    [
        Integer(tenant.0),
        Integer(entry.recorded_at.millis()),
        Integer(entry.occurred_at.millis()),
        Text(Some(entry.channel.as_ref())),
        Text(Some(entry.action.as_ref())),
        Text(Some(entry.event.as_ref())),
        Text(entry.category.as_deref()),
        Text(Some(entry.result.as_str())),
        Text(Some(entry.actor.kind.as_str())),
        Text(entry.actor.id.as_deref()),
        Text(entry.actor.email.as_deref()),
        Text(entry.context.ip.as_deref()),
    ]
}

/// Whether the stored property filter column holds exactly the entry's scalar properties as
/// text (the `props` column rule), compared as JSON so spacing and key order do not count.
/// Both sides are read borrowed from their text: the column as the append path writes it is
/// tried first (on SQLite it is byte for byte that), then the column's members (PostgreSQL
/// writes `jsonb` out with its own spacing and key order). Parsing both into JSON trees for
/// every row was a tenth of a verification's time; that is left for properties whose text
/// is not an object of distinct keys.
fn same_props(stored: Option<&str>, entry: &EntryView<'_>) -> bool {
    let properties = entry.properties.as_deref();
    if let Some(expected) = prop_scalars_of_text(properties) {
        return match stored {
            None => expected.is_empty(),
            Some(_) if expected.is_empty() => false,
            Some(stored) => {
                write_props(&expected).as_deref() == Some(stored)
                    || stored_prop_texts(stored).is_some_and(|texts| texts == expected)
            }
        };
    }
    let properties: Map<String, Value> = match properties {
        Some(raw) => match serde_json::from_str(raw.get()) {
            Ok(map) => map,
            Err(_) => return false,
        },
        None => Map::new(),
    };
    if stored == props_column(&properties).as_deref() {
        return true;
    }
    let mut expected = properties
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
fn same_targets(stored: &[TargetCopy], targets: &[TargetView<'_>]) -> bool {
    stored.len() == targets.len()
        && stored.iter().zip(targets).all(|((kind, id, name), t)| {
            kind.as_deref() == Some(&*t.kind)
                && id.as_deref() == t.id.as_deref()
                && name.as_deref() == t.name.as_deref()
        })
}

/// The first copy of `entry` (of `tenant`) that differs from what the append path writes for
/// it, by column name; `None` when every copy agrees.
pub(crate) fn first_difference(
    tenant: TenantId,
    entry: &EntryView<'_>,
    copies: &IndexCopies,
) -> Option<&'static str> {
    let expected = expected_scalars(tenant, entry);
    for (i, (name, expected)) in SCALAR_COLUMNS.iter().zip(&expected).enumerate() {
        if !copies
            .scalars
            .get(i)
            .is_some_and(|stored| expected.matches(stored))
        {
            return Some(name);
        }
    }
    if !same_props(copies.props.as_deref(), entry) {
        return Some("props");
    }
    if copies
        .targets
        .as_ref()
        .is_some_and(|targets| !same_targets(targets, &entry.targets))
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
    use sealtrail_core::{Entry, Timestamp};
    use uuid::Uuid;

    fn view(entry: &Entry) -> EntryView<'_> {
        EntryView::of(entry).expect("a view of an opened entry")
    }

    /// The scalar columns as a backend reads them back: text, integers as their digits.
    fn scalar_texts(tenant: TenantId, entry: &Entry) -> Vec<Option<String>> {
        expected_scalars(tenant, &view(entry))
            .iter()
            .map(|e| match e {
                Expected::Text(t) => t.map(String::from),
                Expected::Integer(i) => Some(i.to_string()),
            })
            .collect()
    }

    fn document(tenant: TenantId, entry: &Entry) -> Vec<String> {
        crate::index_terms::index_document(tenant, entry)
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    /// Words as PostgreSQL sends a `tsvector` in binary, in the order given.
    fn tsvector(words: &[String]) -> Vec<u8> {
        let mut binary = u32::try_from(words.len()).unwrap().to_be_bytes().to_vec();
        for word in words {
            binary.extend_from_slice(word.as_bytes());
            binary.extend_from_slice(&[0, 0, 0]);
        }
        binary
    }

    fn words_of(tenant: TenantId, entry: &Entry) -> Words {
        Words {
            tsvector: tsvector(&document(tenant, entry)),
            document_of: crate::index_terms::tokenized_document_of_view,
            stored_as: |w| w,
        }
    }

    fn stored_copies(tenant: TenantId, entry: &Entry) -> IndexCopies {
        IndexCopies {
            scalars: ScalarCopies::from_columns(
                scalar_texts(tenant, entry).iter().map(|s| s.as_deref()),
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
        assert_eq!(first_difference(t, &view(&e), &stored_copies(t, &e)), None);

        for (i, name) in SCALAR_COLUMNS.iter().enumerate() {
            let mut copies = stored_copies(t, &e);
            let expected = scalar_texts(t, &e);
            copies.scalars =
                ScalarCopies::from_columns(expected.iter().enumerate().map(|(j, s)| {
                    if i == j {
                        Some("mallory")
                    } else {
                        s.as_deref()
                    }
                }));
            assert_eq!(first_difference(t, &view(&e), &copies), Some(*name));
        }
        let mut copies = stored_copies(t, &e);
        copies.props = Some(r#"{"amount":"1"}"#.into());
        assert_eq!(first_difference(t, &view(&e), &copies), Some("props"));
        let mut copies = stored_copies(t, &e);
        copies.targets = Some(Vec::new());
        assert_eq!(first_difference(t, &view(&e), &copies), Some("targets"));
        let mut more = document(t, &e);
        more.push("3xmallory".into());
        let mut fewer = document(t, &e);
        fewer.pop();
        for stored in [more, fewer] {
            let mut copies = stored_copies(t, &e);
            if let Some(words) = copies.words.as_mut() {
                words.tsvector = tsvector(&stored);
            }
            assert_eq!(first_difference(t, &view(&e), &copies), Some("words"));
        }
    }

    /// Stored words compare as a set: in any order, repeated or not, the same words match,
    /// and one word more, less or changed does not.
    #[test]
    fn words_compare_as_sets_in_any_order() {
        let t = TenantId(3);
        let e = entry();
        let words = words_of(t, &e);
        assert!(words.match_entry(t, &view(&e)));
        let mut sorted = document(t, &e);
        sorted.sort();
        sorted.dedup();
        let mut shuffled = sorted.clone();
        shuffled.reverse();
        shuffled.push(sorted[0].clone());
        for stored in [sorted.clone(), shuffled] {
            assert!(Words {
                tsvector: tsvector(&stored),
                ..words_of(t, &e)
            }
            .match_entry(t, &view(&e)));
        }
        let mut changed = sorted.clone();
        changed[1] = "3xinvoicf".into();
        let mut fewer = sorted.clone();
        fewer.remove(0);
        for stored in [changed, fewer, Vec::new()] {
            assert!(!Words {
                tsvector: tsvector(&stored),
                ..words_of(t, &e)
            }
            .match_entry(t, &view(&e)));
        }
        // A word hidden inside another lexeme, a word with positions, a count that does not
        // match the lexemes, or bytes that are not a tsvector's are not what the store writes.
        let all = tsvector(&sorted);
        let joined = tsvector(
            &[
                vec![format!("{} {}", sorted[0], sorted[1])],
                sorted[2..].to_vec(),
            ]
            .concat(),
        );
        let mut positioned = all.clone();
        let first_end = 4 + sorted[0].len();
        positioned[first_end + 2] = 1;
        positioned.extend_from_slice(&[0, 1]);
        let mut miscounted = all.clone();
        miscounted[3] += 1;
        let mut trailing = all.clone();
        trailing.push(b'x');
        for binary in [joined, positioned, miscounted, trailing, vec![1, 2]] {
            assert!(
                !Words {
                    tsvector: binary.clone(),
                    ..words_of(t, &e)
                }
                .match_entry(t, &view(&e)),
                "{binary:?}"
            );
        }
    }

    proptest::proptest! {
        /// Whatever the entry's texts hold (words repeated, suffixes shared between words,
        /// non-ASCII letters, words too long for their inner text or for PostgreSQL's lexeme
        /// limit), exactly the lexemes the append path writes match: one fewer, or one more
        /// that could be a suffix or a word, does not.
        #[test]
        fn the_words_check_agrees_with_the_lexemes_the_append_path_writes(
            description in proptest::collection::vec(
                "[a-z]{1,12}|[A-Za-zé0-9]{1,50}|é{100,140}|[a-z]{250,300}",
                0..8,
            ),
            name in proptest::option::of("[A-Za-zÉø ]{1,20}"),
            drop in proptest::prelude::any::<proptest::sample::Index>(),
            extra in "[a-z]{3,8}",
        ) {
            let t = TenantId(12);
            let mut e = entry();
            e.description = description.join(" ");
            e.actor.name = name;
            let mut stored = crate::pg::search::lexemes(t, &e);
            stored.sort();
            stored.dedup();
            let matches = |words: &[String]| {
                Words {
                    tsvector: tsvector(words),
                    stored_as: crate::pg::search::cut,
                    ..words_of(t, &e)
                }
                .match_entry(t, &view(&e))
            };
            proptest::prop_assert!(matches(&stored));

            let mut fewer = stored.clone();
            fewer.remove(drop.index(fewer.len()));
            proptest::prop_assert!(!matches(&fewer));
            for more in [format!("12y{extra}"), format!("12x{extra}"), format!("1x{extra}")] {
                if stored.contains(&more) {
                    continue;
                }
                let mut more_words = stored.clone();
                more_words.push(more);
                more_words.sort();
                proptest::prop_assert!(!matches(&more_words));
            }
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
        assert_eq!(first_difference(t, &view(&e), &copies), None);
    }
}
