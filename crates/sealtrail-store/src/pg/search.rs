//! Free-text search on PostgreSQL: the same words as SQLite's FTS5 index (from
//! [`crate::index_terms`], tenant-prefixed), stored as a `tsvector` built verbatim with
//! `array_to_tsvector` (no PostgreSQL parser or dictionary touches them) and queried with a
//! `tsquery` of prefix terms. Words only ever contain letters and digits, so no user input can
//! reach `tsquery` syntax.

use crate::index_terms::{document_words, index_document, query_words};
use sealtrail_core::{Entry, TenantId};

/// Longest word kept, in bytes: PostgreSQL refuses lexemes over 2 KiB, so longer words are cut
/// (at a character boundary) on both sides, and a search for the long word still matches.
const MAX_WORD_BYTES: usize = 256;

/// A word as PostgreSQL stores it: cut to [`MAX_WORD_BYTES`] at a character boundary.
pub(crate) fn cut(word: &str) -> &str {
    if word.len() <= MAX_WORD_BYTES {
        return word;
    }
    let mut end = MAX_WORD_BYTES;
    while !word.is_char_boundary(end) {
        end -= 1;
    }
    &word[..end]
}

/// The lexemes of an entry (tenant-prefixed words), for `array_to_tsvector`.
pub(crate) fn lexemes(tenant: TenantId, entry: &Entry) -> Vec<String> {
    document_words(&index_document(tenant, entry))
        .map(|w| cut(w).to_string())
        .collect()
}

/// The `tsquery` text for a free-text filter: every word must start a lexeme of this tenant
/// (a word, or for words of three characters or more an inner suffix: see
/// [`crate::index_terms`]). `None` when the text holds no words.
pub(crate) fn tsquery(tenant: TenantId, text: &str) -> Option<String> {
    let terms: Vec<String> = query_words(tenant, text)
        .iter()
        .map(|tokens| {
            let tokens: Vec<String> = tokens.iter().map(|t| format!("'{}':*", cut(t))).collect();
            match tokens.len() {
                1 => tokens.concat(),
                _ => format!("({})", tokens.join(" | ")),
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_becomes_plain_prefix_terms() {
        assert_eq!(
            tsquery(TenantId(3), "a' | !b:* <-> (c)").as_deref(),
            Some("'3xa':* & '3xb':* & '3xc':*")
        );
        assert_eq!(tsquery(TenantId(3), "'|&!()"), None);
    }

    #[test]
    fn long_words_are_cut_alike_on_both_sides() {
        let long = "é".repeat(400);
        let q = tsquery(TenantId(1), &long).unwrap_or_default();
        // Each of the two tokens (word, inner suffix) is cut the same way.
        assert!(q.len() <= 2 * (MAX_WORD_BYTES + 6) + 4, "{}", q.len());
        assert!(q.starts_with("('1xé"), "{q}");
    }
}
