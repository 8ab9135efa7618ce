//! Text the store derives from an entry for searching and property filters.
//!
//! Search words are produced here, in Rust, for both the index and the query: lowercased with
//! Unicode rules and split on anything that is not a letter or digit. The FTS5 table uses the
//! `ascii` tokenizer, which keeps every non-ASCII character inside a token and only splits on
//! ASCII punctuation, which these words never contain, so each word here is exactly one FTS
//! token and no user input ever reaches FTS5 query syntax.
//!
//! Text inside words ("ssigned" in "reassigned", "rail" in "guardrail") is found through a
//! suffix index: besides each word, the document holds the word's suffixes of at least
//! [`MIN_INNER_CHARS`] characters under their own marker, and a query word of that length
//! matches when it starts a word or one of those suffixes — exactly when it occurs inside a
//! word. Both backends index the same tokens (FTS5 on SQLite, a `tsvector` on PostgreSQL), so
//! one rule serves both, with no trigram extension to install.

use sealtrail_core::entry::Entry;
use sealtrail_core::envelope::{EntryView, Text};
use sealtrail_core::TenantId;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::marker::PhantomData;

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

/// The shortest query word matched inside words; shorter ones match the start of a word
/// only (two letters occur inside most words, which would make the search useless).
pub(crate) const MIN_INNER_CHARS: usize = 3;

/// The longest word whose inner text is indexed, in characters. Longer "words" are ids,
/// hashes and tokens, searched by their start (or whole); their suffixes would grow the index
/// by their length squared for text nobody types.
pub(crate) const MAX_INNER_WORD_CHARS: usize = 40;

/// The per-tenant token prefix of whole words; tenant ids are non-negative, so "12x" can
/// never be a prefix of "1x…" or the other way round.
pub(crate) fn tenant_prefix(tenant: TenantId) -> String {
    format!("{}x", tenant.0)
}

/// The per-tenant token prefix of inner suffixes ("12y"), apart from whole words so a short
/// query word never matches inside a word.
fn inner_prefix(tenant: TenantId) -> String {
    format!("{}y", tenant.0)
}

/// The suffixes of `word` that start inside it and have at least [`MIN_INNER_CHARS`]
/// characters: "guardrail" gives "uardrail" … "ail". None for words longer than
/// [`MAX_INNER_WORD_CHARS`].
fn inner_suffixes(word: &str) -> impl Iterator<Item = &str> + '_ {
    let chars = word.chars().count();
    let indexed = chars <= MAX_INNER_WORD_CHARS;
    word.char_indices()
        .skip(1)
        .take(if indexed {
            chars.saturating_sub(MIN_INNER_CHARS)
        } else {
            0
        })
        .map(move |(at, _)| &word[at..])
}

/// The document indexed for one entry: every searchable word and its inner suffixes,
/// tenant-prefixed. Built from the entry as readers see it, so an erased entry is re-indexed
/// from its pseudonymous values.
pub(crate) fn index_document(tenant: TenantId, entry: &Entry) -> String {
    index_text(
        tenant,
        indexed_fields(
            &entry.description,
            &entry.action,
            entry.actor.email.as_deref(),
            entry.actor.name.as_deref(),
        ),
    )
}

/// The fields of an entry its search words come from, in document order: the one list both
/// the append path ([`index_document`]) and verification ([`tokenized_document_of_view`])
/// read, so the words checked are always the words written.
fn indexed_fields<'a>(
    description: &'a str,
    action: &'a str,
    email: Option<&'a str>,
    name: Option<&'a str>,
) -> impl Iterator<Item = &'a str> {
    [Some(description), Some(action), email, name]
        .into_iter()
        .flatten()
}

/// [`index_document`] of an entry's view, the same document from the same fields, with
/// where each token lies in it: verification compares stored words with its tokens without
/// building the entry or splitting the document again.
pub(crate) fn tokenized_document_of_view(tenant: TenantId, entry: &EntryView<'_>) -> Tokenized {
    let fields = indexed_fields(
        &entry.description,
        &entry.action,
        entry.actor.email.as_deref(),
        entry.actor.name.as_deref(),
    );
    let mut document = Tokenized::default();
    write_document(tenant, fields, &mut document);
    document
}

/// An indexed document and where each of its tokens lies in it.
#[derive(Debug, Default)]
pub(crate) struct Tokenized {
    /// The document, tokens separated by single spaces.
    text: String,
    /// Each token's byte range in `text`.
    spans: Vec<(usize, usize)>,
}

impl Tokenized {
    /// The tokens, in order (repeats included).
    pub(crate) fn tokens(&self) -> impl Iterator<Item = &str> + '_ {
        self.spans
            .iter()
            .filter_map(|&(start, end)| self.text.get(start..end))
    }

    /// How many tokens the document holds.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

/// The indexed document of some texts: each word of each text and the word's inner suffixes,
/// tenant-prefixed, space-separated.
pub(crate) fn index_text<'a>(tenant: TenantId, texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut document = Tokenized::default();
    write_document(tenant, texts, &mut document);
    document.text
}

/// Writes the indexed document of `texts` ([`index_text`]) into `document`. A word in ASCII,
/// nearly every word, is lowercased in a buffer reused across words; the general rule
/// ([`words`]) allocates two strings per word, which was most of the cost of indexing an
/// entry (and of checking its stored words).
fn write_document<'a>(
    tenant: TenantId,
    texts: impl IntoIterator<Item = &'a str>,
    document: &mut Tokenized,
) {
    let prefix = tenant_prefix(tenant);
    let inner = inner_prefix(tenant);
    document.text.reserve(1024);
    document.spans.reserve(128);
    let mut token = |marker: &str, text: &str| {
        if !document.text.is_empty() {
            document.text.push(' ');
        }
        let start = document.text.len();
        document.text.push_str(marker);
        document.text.push_str(text);
        document.spans.push((start, document.text.len()));
    };
    let mut word_of = |word: &str| {
        token(&prefix, word);
        for suffix in inner_suffixes(word) {
            token(&inner, suffix);
        }
    };
    let mut lowered = String::new();
    for text in texts {
        for piece in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            if piece.is_ascii() {
                // Lowercasing ASCII letters and digits keeps them letters and digits: the
                // piece is one word, as `words` would give it.
                lowered.clear();
                lowered.push_str(piece);
                lowered.make_ascii_lowercase();
                word_of(&lowered);
            } else {
                words(piece).for_each(|word| word_of(&word));
            }
        }
    }
}

/// The tokens one query word may start: the word's own token, and for a word of at least
/// [`MIN_INNER_CHARS`] characters the inner-suffix token as well (it occurs inside a word).
pub(crate) fn query_tokens(tenant: TenantId, word: &str) -> Vec<String> {
    let mut tokens = vec![format!("{}{word}", tenant_prefix(tenant))];
    if word.chars().count() >= MIN_INNER_CHARS {
        tokens.push(format!("{}{word}", inner_prefix(tenant)));
    }
    tokens
}

/// The tokens each word of a free-text query may start ([`query_tokens`]), one list per
/// word; empty when the text holds no words. Every word must match for an entry to match.
pub(crate) fn query_words(tenant: TenantId, text: &str) -> Vec<Vec<String>> {
    words(text).map(|w| query_tokens(tenant, &w)).collect()
}

/// One alternative of a query word in an FTS5 MATCH expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FtsTerm {
    /// Every indexed term starting with the token. FTS5 answers a prefix by merging the
    /// postings of all those terms in memory before yielding the first match, so its cost
    /// grows with the number of matches, however few rows the page needs.
    Prefix(String),
    /// One indexed term, whose postings FTS5 reads lazily in seq order.
    Exact(String),
}

/// The FTS5 MATCH expression for query words given as alternatives: the alternatives of a
/// word OR-ed, the words AND-ed. `None` when there are no words (nothing to narrow by).
/// Tokens are quoted as FTS5 strings, so no user input ever reaches FTS5 query syntax.
pub(crate) fn fts_expression(words: &[Vec<FtsTerm>]) -> Option<String> {
    let terms: Vec<String> = words
        .iter()
        .map(|alternatives| {
            let quoted: Vec<String> = alternatives
                .iter()
                .map(|term| match term {
                    FtsTerm::Prefix(t) => format!("\"{}\"*", t.replace('"', "\"\"")),
                    FtsTerm::Exact(t) => format!("\"{}\"", t.replace('"', "\"\"")),
                })
                .collect();
            match quoted.len() {
                1 => quoted.concat(),
                _ => format!("({})", quoted.join(" OR ")),
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

/// A property's scalar value as filter text: strings as themselves (borrowed), numbers as
/// JSON writes them, booleans as `true`/`false`. Null, arrays and objects have no scalar text.
pub(crate) fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(true) => Some(Cow::Borrowed("true")),
        Value::Bool(false) => Some(Cow::Borrowed("false")),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// The words of an indexed document ([`index_document`]), in order, as the append path
/// splits it before storing them (PostgreSQL) and verification splits it to compare.
pub(crate) fn document_words(document: &str) -> impl Iterator<Item = &str> + '_ {
    document.split(' ').filter(|w| !w.is_empty())
}

/// The `props` column: each scalar property rendered as text, so a filter compares two
/// strings and never re-parses the whole entry body. The keys are in byte order, as in the
/// committed payload, so the column written at append and the one verification expects from
/// the opened entry are the same bytes (verification compares bytes first and parses only
/// when they differ). Written straight out rather than through a map of copies: it runs for
/// every appended entry and every verified one.
pub(crate) fn props_column(properties: &Map<String, Value>) -> Option<String> {
    let mut scalars: Vec<(&str, Cow<'_, str>)> = properties
        .iter()
        .filter_map(|(key, value)| scalar_text(value).map(|text| (key.as_str(), text)))
        .collect();
    scalars.sort_unstable_by(|a, b| a.0.cmp(b.0));
    write_props(&scalars)
}

/// A `props` column's members: key and text, sorted by key.
pub(crate) type PropTexts<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// The scalar properties of properties kept as their stored JSON text (as an entry's view
/// keeps them), sorted by key, made without building the map: verification computes them for
/// every entry. `None` when the text is not an object of distinct keys, which the caller
/// then parses.
pub(crate) fn prop_scalars_of_text(properties: Option<&RawValue>) -> Option<PropTexts<'_>> {
    let Some(raw) = properties else {
        return Some(Vec::new());
    };
    let PropertyTexts(members) = serde_json::from_str(raw.get()).ok()?;
    let mut scalars = Vec::with_capacity(members.len());
    for (key, value) in members {
        if let Some(text) = raw_scalar_text(value)? {
            scalars.push((key.0, text));
        }
    }
    sorted_distinct(scalars)
}

/// The members of a stored `props` column (an object of texts, as either backend writes it
/// out), sorted by key; `None` for anything else.
pub(crate) fn stored_prop_texts(column: &str) -> Option<PropTexts<'_>> {
    let PropertyTexts(members) = serde_json::from_str(column).ok()?;
    let mut texts = Vec::with_capacity(members.len());
    for (key, value) in members {
        if !value.get().starts_with('"') {
            return None;
        }
        texts.push((key.0, raw_scalar_text(value)??));
    }
    sorted_distinct(texts)
}

/// `members` sorted by key, or `None` when a key repeats (the object a parser would read
/// from such text depends on the parser).
fn sorted_distinct(mut members: PropTexts<'_>) -> Option<PropTexts<'_>> {
    members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if members.windows(2).any(|w| w[0].0 == w[1].0) {
        return None;
    }
    Some(members)
}

/// The `props` column of properties kept as their stored JSON text: exactly what
/// [`props_column`] writes for the parsed properties; `None` when the text is not an object
/// of distinct keys.
#[cfg(test)]
fn props_column_of_text(properties: Option<&RawValue>) -> Option<Option<String>> {
    prop_scalars_of_text(properties).map(|scalars| write_props(&scalars))
}

/// [`scalar_text`] of a value kept as JSON text: `Some(None)` for null, arrays and objects,
/// `None` for a string that does not decode. Numbers are their text as stored: with
/// `arbitrary_precision` a parsed number keeps the digits it was written with, and writes
/// them back unchanged.
fn raw_scalar_text(value: &RawValue) -> Option<Option<Cow<'_, str>>> {
    let text = value.get();
    Some(match text.as_bytes().first() {
        Some(b'"') => Some(match text.get(1..text.len() - 1) {
            Some(inner) if !inner.contains('\\') => Cow::Borrowed(inner),
            _ => Cow::Owned(serde_json::from_str::<String>(text).ok()?),
        }),
        Some(b'n' | b'[' | b'{') | None => None,
        Some(_) => Some(Cow::Borrowed(text)),
    })
}

/// An object's members with their values as JSON text, in the order written.
struct PropertyTexts<'a>(Vec<(Text<'a>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for PropertyTexts<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Members<'a> {
            type Value = PropertyTexts<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(PropertyTexts(members))
            }
        }
        deserializer.deserialize_map(Members(PhantomData))
    }
}

/// The `props` column of scalar texts sorted by key: `{"key":"text",…}`, `None` for none.
/// Written straight out rather than through a map of copies: it runs for every appended
/// entry and every verified one.
pub(crate) fn write_props<K: AsRef<str>>(scalars: &[(K, Cow<'_, str>)]) -> Option<String> {
    if scalars.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for (key, text) in scalars {
        let key = key.as_ref();
        out.push(if out.is_empty() { b'{' } else { b',' });
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, key);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, text.as_ref());
    }
    out.push(b'}');
    // Only JSON strings and punctuation went in: valid UTF-8.
    String::from_utf8(out).ok()
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
    use proptest::prelude::*;

    fn property() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
            any::<String>().prop_map(|s| serde_json::json!([s])),
            any::<String>().prop_map(|s| serde_json::json!({ "k": s })),
        ]
    }

    proptest! {
        /// The column is the JSON object of the scalar properties' texts with its keys in
        /// byte order, exactly as serde_json writes that object: stored columns and
        /// verification depend on the bytes.
        #[test]
        fn props_column_is_the_object_of_scalar_texts(
            properties in proptest::collection::vec((any::<String>(), property()), 0..6)
        ) {
            let properties: Map<String, Value> = properties.into_iter().collect();
            let mut scalars: Vec<(String, Value)> = properties
                .iter()
                .filter_map(|(k, v)| scalar_text(v).map(|t| (k.clone(), Value::String(t.into_owned()))))
                .collect();
            scalars.sort_by(|a, b| a.0.cmp(&b.0));
            let scalars: Map<String, Value> = scalars.into_iter().collect();
            let expected = (!scalars.is_empty()).then(|| Value::Object(scalars).to_string());
            prop_assert_eq!(props_column(&properties), expected);
        }
    }

    proptest! {
        /// The column made from the properties' stored text is byte for byte the column
        /// made from the parsed map, for any properties as the envelope stores them.
        #[test]
        fn props_column_of_stored_text_is_the_parsed_maps(
            properties in proptest::collection::vec((any::<String>(), property()), 0..6)
        ) {
            let properties: Map<String, Value> = properties.into_iter().collect();
            let stored = sealtrail_core::envelope::canonical_json(&Value::Object(properties.clone()));
            let raw = String::from_utf8(stored).ok().and_then(|s| RawValue::from_string(s).ok());
            prop_assert!(raw.is_some());
            prop_assert_eq!(
                props_column_of_text(raw.as_deref()),
                Some(props_column(&properties))
            );
        }
    }

    proptest! {
        /// The indexed document is each word of the texts by the general rule ([`words`])
        /// with its inner suffixes, whatever the texts hold (ASCII or not), and the tokens'
        /// spans are its space-separated parts.
        #[test]
        fn documents_follow_the_general_word_rule(
            texts in proptest::collection::vec("[a-zA-Z0-9 .@_-]{0,24}|\\PC{0,12}", 0..4)
        ) {
            let tenant = TenantId(7);
            let mut expected: Vec<String> = Vec::new();
            for word in texts.iter().flat_map(|t| words(t)) {
                expected.push(format!("7x{word}"));
                expected.extend(inner_suffixes(&word).map(|s| format!("7y{s}")));
            }
            let mut document = Tokenized::default();
            write_document(tenant, texts.iter().map(String::as_str), &mut document);
            prop_assert_eq!(&document.text, &expected.join(" "));
            prop_assert_eq!(document.tokens().collect::<Vec<_>>(), expected.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }

    /// Text that is not an object of distinct keys is left to the caller to parse.
    #[test]
    fn props_text_that_is_not_a_plain_object_is_left_to_the_caller() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).ok();
        assert_eq!(props_column_of_text(None), Some(None));
        assert_eq!(props_column_of_text(raw("{}").as_deref()), Some(None));
        assert_eq!(
            props_column_of_text(raw(r#"{"a":1,"a":2}"#).as_deref()),
            None
        );
        assert_eq!(props_column_of_text(raw("[1]").as_deref()), None);
        assert_eq!(
            props_column_of_text(
                raw(r#"{"b":"x\"y","a":[1],"c":-1.5e3,"d":true,"e":null}"#).as_deref()
            ),
            Some(Some(r#"{"b":"x\"y","c":"-1.5e3","d":"true"}"#.to_string()))
        );
    }

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
        let prefixes = |text: &str| -> Vec<Vec<FtsTerm>> {
            query_words(TenantId(3), text)
                .into_iter()
                .map(|tokens| tokens.into_iter().map(FtsTerm::Prefix).collect())
                .collect()
        };
        let e = fts_expression(&prefixes("\"a* OR NEAR( -b) c:d ^e")).unwrap_or_default();
        assert_eq!(
            e,
            "\"3xa\"* AND \"3xor\"* AND (\"3xnear\"* OR \"3ynear\"*) AND \"3xb\"* AND \"3xc\"* AND \"3xd\"* AND \"3xe\"*"
        );
        assert_eq!(fts_expression(&prefixes("\"*()-")), None);
        let exact = [vec![
            FtsTerm::Exact("3xa\"b".into()),
            FtsTerm::Prefix("3yab".into()),
        ]];
        assert_eq!(
            fts_expression(&exact).as_deref(),
            Some("(\"3xa\"\"b\" OR \"3yab\"*)")
        );
    }

    #[test]
    fn inner_suffixes_start_inside_the_word_and_keep_three_characters() {
        let s: Vec<&str> = inner_suffixes("guardrail").collect();
        assert_eq!(s, ["uardrail", "ardrail", "rdrail", "drail", "rail", "ail"]);
        assert_eq!(inner_suffixes("zoë").count(), 0);
        let s: Vec<&str> = inner_suffixes("zoëy").collect();
        assert_eq!(s, ["oëy"]);
        assert_eq!(
            inner_suffixes(&"a".repeat(MAX_INNER_WORD_CHARS + 1)).count(),
            0
        );
        assert_eq!(
            inner_suffixes(&"a".repeat(MAX_INNER_WORD_CHARS)).count(),
            MAX_INNER_WORD_CHARS - MIN_INNER_CHARS
        );
    }

    proptest::proptest! {
        /// A query word of three or more characters finds a word exactly when it occurs
        /// inside it; a shorter one exactly when it starts it (the index's only promise).
        #[test]
        fn a_query_word_matches_exactly_the_words_holding_it(
            word in "[a-zé0-9]{1,12}",
            query in "[a-zé0-9]{1,5}",
        ) {
            let tenant = TenantId(7);
            let mut entry_words = vec![format!("{}{word}", tenant_prefix(tenant))];
            entry_words.extend(inner_suffixes(&word).map(|s| format!("{}{s}", inner_prefix(tenant))));
            let found = query_tokens(tenant, &query)
                .iter()
                .any(|t| entry_words.iter().any(|w| w.starts_with(t.as_str())));
            let expected = if query.chars().count() >= MIN_INNER_CHARS {
                word.contains(query.as_str())
            } else {
                word.starts_with(query.as_str())
            };
            proptest::prop_assert_eq!(found, expected);
        }
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
