//! What a prune or an erasure leaves behind it in the files, removed before it answers.
//!
//! `secure_delete` zeroes a row's bytes in the page that held it, but two copies outlive the
//! delete: FTS5 keeps a deleted document's tokens in its segments until they are merged, and
//! the WAL keeps every page image written since its last reset — including the ones from
//! before the delete. [`traces`] merges the search index and truncates the WAL.

use super::WriteError;
use rusqlite::Connection;
use std::time::Duration;

/// Rewrites the search index without the deleted documents' tokens, then copies the WAL into
/// the database and truncates it, so no page image with removed data survives in either file.
/// A reader holding an old snapshot can delay the truncation; it is retried briefly, and
/// otherwise happens at the next checkpoint.
pub(crate) fn traces(conn: &mut Connection) -> Result<(), WriteError> {
    conn.execute(
        "INSERT INTO entries_fts (entries_fts) VALUES ('optimize')",
        [],
    )?;
    for attempt in 0..20 {
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy == 0 {
            return Ok(());
        }
        if attempt < 19 {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    tracing::warn!("WAL checkpoint after a prune or erasure was blocked by readers; old pages remain in the WAL until the next checkpoint");
    Ok(())
}
