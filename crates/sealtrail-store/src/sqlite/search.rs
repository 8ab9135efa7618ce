//! Free text as an FTS5 query that reads only what a page needs.
//!
//! Every query word matches the indexed terms it starts ([`crate::index_terms`]). Asked as a
//! prefix, FTS5 merges the postings of all those terms in memory before it yields the first
//! match: a page of the newest 50 entries holding a word found in 417k of them took 32 ms,
//! all of it in that merge. Spelled as the exact terms it stands for, OR-ed, FTS5 walks each
//! term's postings lazily from the newest and stops after the page (0.04 ms). So each prefix
//! is first expanded through the index's vocabulary, in the query's own snapshot, one seek
//! per term; a prefix standing for more than [`MAX_EXPANSION`] terms stays a prefix.

use super::error::backend;
use crate::index_terms::{fts_expression, query_words, FtsTerm};
use crate::StoreError;
use rusqlite::{Connection, OptionalExtension};
use sealtrail_core::TenantId;

/// The most terms a prefix is spelled out as. A prefix expands to a handful of terms for any
/// word people type; short fragments ("ail") can stand for hundreds, whose OR would cost more
/// than the merge it avoids.
pub(crate) const MAX_EXPANSION: usize = 32;

/// The most vocabulary seeks one query makes. The search text is at most a few hundred
/// bytes, but that is a hundred short words, each a few dozen seeks; past this budget the
/// remaining words stay prefixes, as every word was before expansion.
pub(crate) const MAX_SEEKS: usize = 256;

/// The vocabulary of the search index, one row per term occurrence, created in each read
/// connection's `temp` schema (it stores nothing): seeking it by `term >=` returns the first
/// term at or after a string after reading one posting.
pub(crate) const VOCABULARY: &str =
    "CREATE VIRTUAL TABLE temp.entries_fts_terms USING fts5vocab(main, entries_fts, instance);";

/// The MATCH expression for `text` in `tenant`, each prefix spelled out as its terms where
/// there are few enough; `None` when the text holds no words.
pub(crate) fn match_expression(
    conn: &Connection,
    tenant: TenantId,
    text: &str,
) -> Result<Option<String>, StoreError> {
    let mut words = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut seeks = MAX_SEEKS;
    // A word given twice narrows nothing more: it is expanded once.
    for tokens in query_words(tenant, text)
        .into_iter()
        .filter(|tokens| seen.insert(tokens.clone()))
    {
        let mut alternatives = Vec::new();
        for token in &tokens {
            match expansion(conn, token, &mut seeks)? {
                Some(terms) => alternatives.extend(terms.into_iter().map(FtsTerm::Exact)),
                None => alternatives.push(FtsTerm::Prefix(token.clone())),
            }
        }
        if alternatives.is_empty() {
            // No indexed term starts with the word: it matches nothing, which the word's own
            // token, absent from the index, says cheaply.
            alternatives.extend(tokens.into_iter().take(1).map(FtsTerm::Exact));
        }
        words.push(alternatives);
    }
    Ok(fts_expression(&words))
}

/// The indexed terms starting with `prefix`, or `None` when there are more than
/// [`MAX_EXPANSION`] or `seeks` (the query's remaining budget) runs out first. Terms are our
/// own tokens (letters and digits after the tenant's marker), so the least string after a
/// term `t` that could be a term is `t` + U+0001.
fn expansion(
    conn: &Connection,
    prefix: &str,
    seeks: &mut usize,
) -> Result<Option<Vec<String>>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT term FROM temp.entries_fts_terms WHERE term >= ?1 LIMIT 1")
        .map_err(backend("reading the search vocabulary"))?;
    let mut terms = Vec::new();
    let mut from = prefix.to_string();
    loop {
        let Some(left) = seeks.checked_sub(1) else {
            return Ok(None);
        };
        *seeks = left;
        let next: Option<String> = stmt
            .query_row([&from], |r| r.get(0))
            .optional()
            .map_err(backend("reading the search vocabulary"))?;
        let Some(term) = next.filter(|t| t.starts_with(prefix)) else {
            return Ok(Some(terms));
        };
        if terms.len() == MAX_EXPANSION {
            return Ok(None);
        }
        from = format!("{term}\u{1}");
        terms.push(term);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index_terms::index_text;
    use crate::sqlite::schema::{create_at_version, latest_version, open_reader};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// A database holding `docs` in its search index (rowid = position), and a read
    /// connection to it as the read pool opens them.
    fn indexed(docs: &[String]) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("search.db");
        create_at_version(&path, latest_version()).unwrap_or_else(|e| panic!("create: {e}"));
        let writer = Connection::open(&path).unwrap_or_else(|e| panic!("open: {e}"));
        for (rowid, doc) in docs.iter().enumerate() {
            let words = index_text(TenantId(1), [doc.as_str()]);
            writer
                .execute(
                    "INSERT INTO entries_fts (rowid, words) VALUES (?1, ?2)",
                    (rowid as i64, words),
                )
                .unwrap_or_else(|e| panic!("index: {e}"));
        }
        let reader = open_reader(&path).unwrap_or_else(|e| panic!("reader: {e}"));
        (dir, reader)
    }

    fn matches(conn: &Connection, expression: &str) -> BTreeSet<i64> {
        let mut stmt = conn
            .prepare("SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?1")
            .unwrap_or_else(|e| panic!("prepare: {e}"));
        let rows = stmt
            .query_map([expression], |r| r.get(0))
            .unwrap_or_else(|e| panic!("query: {e}"));
        rows.map(|r| r.unwrap_or_else(|e| panic!("row: {e}")))
            .collect()
    }

    /// The expression as it was before expansion: every token a prefix.
    fn prefixes_only(text: &str) -> Option<String> {
        let words: Vec<Vec<FtsTerm>> = query_words(TenantId(1), text)
            .into_iter()
            .map(|tokens| tokens.into_iter().map(FtsTerm::Prefix).collect())
            .collect();
        fts_expression(&words)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Spelling prefixes out as terms never changes what a search finds, whether a
        /// prefix expands, stays a prefix (too many terms) or starts no term at all.
        #[test]
        fn expansion_finds_exactly_what_the_prefixes_find(
            docs in proptest::collection::vec("[abc]{1,6}( [abc]{1,6}){0,3}", 1..60),
            queries in proptest::collection::vec("[abcd]{1,4}( [abc]{1,3})?", 1..8),
        ) {
            let (_dir, conn) = indexed(&docs);
            for query in &queries {
                let expanded = match_expression(&conn, TenantId(1), query)
                    .unwrap_or_else(|e| panic!("expand: {e}"));
                let (Some(expanded), Some(prefixes)) = (expanded, prefixes_only(query)) else {
                    panic!("no expression for {query:?}");
                };
                prop_assert_eq!(matches(&conn, &expanded), matches(&conn, &prefixes), "{}", query);
            }
        }
    }

    #[test]
    fn a_prefix_expands_to_its_terms_up_to_the_limit() {
        let many: Vec<String> = (0..=MAX_EXPANSION).map(|i| format!("word{i:03}")).collect();
        let (_dir, conn) = indexed(&[many.join(" "), "wordy other".into()]);
        let ok = |r: Result<Option<Vec<String>>, StoreError>| {
            r.unwrap_or_else(|e| panic!("expansion: {e}"))
        };
        assert_eq!(
            ok(expansion(&conn, "1xword01", &mut MAX_SEEKS.clone())),
            Some((10..20).map(|i| format!("1xword0{i}")).collect())
        );
        assert_eq!(
            ok(expansion(&conn, "1xwordy", &mut MAX_SEEKS.clone())),
            Some(vec!["1xwordy".into()])
        );
        assert_eq!(
            ok(expansion(&conn, "1xnothing", &mut MAX_SEEKS.clone())),
            Some(Vec::new())
        );
        // 33 "wordNNN" terms and "wordy": too many to spell out.
        assert_eq!(ok(expansion(&conn, "1xword", &mut MAX_SEEKS.clone())), None);
        let e = match_expression(&conn, TenantId(1), "wordy zzz")
            .unwrap_or_else(|e| panic!("expression: {e}"));
        assert_eq!(e.as_deref(), Some("\"1xwordy\" AND \"1xzzz\""));
        let twice = match_expression(&conn, TenantId(1), "wordy zzz wordy")
            .unwrap_or_else(|e| panic!("expression: {e}"));
        assert_eq!(twice, e, "a repeated word is expanded once");
    }

    #[test]
    fn seeks_are_budgeted_per_query() {
        let many: Vec<String> = (0..20).map(|i| format!("word{i:03}")).collect();
        let (_dir, conn) = indexed(&[many.join(" ")]);
        // "word01x" has ten terms: ten seeks find them and an eleventh finds the end.
        let ok = |r: Result<Option<Vec<String>>, StoreError>| {
            r.unwrap_or_else(|e| panic!("expansion: {e}"))
        };
        assert_eq!(ok(expansion(&conn, "1xword01", &mut 10)), None);
        let mut budget = 11;
        assert_eq!(
            ok(expansion(&conn, "1xword01", &mut budget)).map(|t| t.len()),
            Some(10)
        );
        assert_eq!(budget, 0);
        // Past the budget, words stay prefixes and still find what they find.
        let text: Vec<String> = (0..MAX_SEEKS).map(|i| format!("w{i}")).collect();
        let e = match_expression(&conn, TenantId(1), &text.join(" "))
            .unwrap_or_else(|e| panic!("expression: {e}"))
            .unwrap_or_default();
        let last = MAX_SEEKS - 1;
        assert!(
            e.ends_with(&format!("(\"1xw{last}\"* OR \"1yw{last}\"*)")),
            "{e}"
        );
    }
}
