//! Cursor pages over a seq range, for every backend: which entries make up a newest-first page
//! and whether pages exist on either side of it. A backend only answers "the first `limit`
//! matches in `[lo, hi)` in seq order" and "is there a match in `[lo, hi)`". Matches come back
//! as stored rows and only the page's own are opened: the one extra row read to learn whether
//! a next page exists is never decoded.

use crate::stored_entry::{SealedPage, StoredEntry};
use crate::StoreError;
use sealtrail_core::filter::{Cursor, Direction, Query};

/// A backend's matching entries for one filter.
pub(crate) trait Matches {
    /// Up to `limit` matching entries with `lo <= seq < hi`, by seq, descending when asked,
    /// as stored (not yet opened).
    fn fetch(
        &mut self,
        lo: u64,
        hi: u64,
        descending: bool,
        limit: u64,
    ) -> Result<Vec<StoredEntry>, StoreError>;

    /// True when some matching entry has `lo <= seq < hi`.
    fn exists(&mut self, lo: u64, hi: u64) -> Result<bool, StoreError>;
}

/// A stored row's seq (the column is never negative).
fn seq_of(stored: &StoredEntry) -> u64 {
    stored.seq.max(0) as u64
}

/// One page of `query` over the seqs `[lo, hi)` (the filter's date range already applied),
/// newest first, with cursors for the neighbouring pages; the caller decides where its
/// entries are opened.
pub(crate) fn page(
    matches: &mut impl Matches,
    lo: u64,
    hi: u64,
    query: &Query,
) -> Result<SealedPage, StoreError> {
    let mut page = SealedPage::empty();
    if lo >= hi {
        return Ok(page);
    }
    let limit = match query.limit {
        0 => Query::DEFAULT_LIMIT,
        n => n,
    };
    let fetch_n = (limit as u64).saturating_add(1);
    let older = |seq: u64| Cursor {
        seq,
        direction: Direction::Older,
    };
    let newer = |seq: u64| Cursor {
        seq,
        direction: Direction::Newer,
    };
    match query.cursor {
        None
        | Some(Cursor {
            direction: Direction::Older,
            ..
        }) => {
            let cursor = query.cursor.map(|c| c.seq);
            let top = cursor.map_or(hi, |c| c.min(hi));
            let mut entries = matches.fetch(lo, top, true, fetch_n)?;
            let more_older = entries.len() > limit;
            entries.truncate(limit);
            if more_older {
                page.next_cursor = entries.last().map(|e| older(seq_of(e)));
            }
            if let Some(cursor) = cursor {
                // Newer matches: above the newest entry shown, or at/above the cursor if the
                // page is empty (its previous page starts at the cursor itself).
                let from = entries.first().map_or(cursor, |e| seq_of(e) + 1);
                if matches.exists(from.max(lo), hi)? {
                    page.prev_cursor = match entries.first() {
                        Some(e) => Some(newer(seq_of(e))),
                        None => cursor.checked_sub(1).map(newer),
                    };
                }
            }
            page.entries = SealedPage::sealed(entries);
        }
        Some(Cursor {
            seq,
            direction: Direction::Newer,
        }) => {
            let mut entries = matches.fetch(seq.saturating_add(1).max(lo), hi, false, fetch_n)?;
            let more_newer = entries.len() > limit;
            entries.truncate(limit);
            entries.reverse();
            if more_newer {
                page.prev_cursor = entries.first().map(|e| newer(seq_of(e)));
            }
            let to = entries.last().map_or(seq.saturating_add(1), seq_of);
            if matches.exists(lo, to.min(hi))? {
                page.next_cursor = Some(older(to));
            }
            page.entries = SealedPage::sealed(entries);
        }
    }
    Ok(page)
}
