//! Free-text search on PostgreSQL: the same words as SQLite's FTS5 index (from
//! [`crate::index_terms`], tenant-prefixed), stored as a `tsvector` built verbatim with
//! `array_to_tsvector` (no PostgreSQL parser or dictionary touches them) and queried with a
//! `tsquery` of prefix terms. Words only ever contain letters and digits, so no user input can
//! reach `tsquery` syntax.

use crate::index_terms::{index_document, tenant_prefix, words};
use sealtrail_core::{Entry, TenantId};

/// Longest word kept, in bytes: PostgreSQL refuses lexemes over 2 KiB, so longer words are cut
/// (at a character boundary) on both sides, and a search for the long word still matches.
const MAX_WORD_BYTES: usize = 256;

fn cut(word: &str) -> &str {
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
    index_document(tenant, entry)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| cut(w).to_string())
        .collect()
}

/// The `tsquery` text for a free-text filter: every word must prefix a lexeme of this tenant.
/// `None` when the text holds no words.
pub(crate) fn tsquery(tenant: TenantId, text: &str) -> Option<String> {
    let prefix = tenant_prefix(tenant);
    let terms: Vec<String> = words(text)
        .map(|w| format!("'{}':*", cut(&format!("{prefix}{w}"))))
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
        assert!(q.len() <= MAX_WORD_BYTES + 6, "{}", q.len());
        assert!(q.starts_with("'1xé"));
    }
}
