//! What a prune or an erasure leaves behind it in the files, removed before it answers.
//!
//! `secure_delete` zeroes a row's bytes in the page that held it, but two copies outlive the
//! delete: FTS5 keeps a deleted document's tokens in its segments until they are merged, and
//! the WAL keeps every page image written since its last reset — including the ones from
//! before the delete. The search index is merged into one segment (which drops deleted
//! documents), then the WAL is copied into the database and truncated.
//!
//! The merge is done in steps of [`MERGE_PAGES`] pages, each its own writer job, so appends
//! queued meanwhile are committed between steps. One `optimize` of the whole index held the
//! writer for as long as rewriting every tenant's search index takes — seconds at millions of
//! entries, past the request timeout of the appends waiting behind it.

use super::WriteError;
use rusqlite::Connection;
use std::time::Duration;

/// Index pages written per merge step. At 1,000 a step held the writer 0.6–0.9 s on a 1M-entry
/// log (each step reads and rewrites more than it writes), and every append queued behind it
/// waited that long (BENCHMARKS.md, issue #20 part 8, P1); a quarter of that keeps a step near
/// 0.2 s.
pub(crate) const MERGE_PAGES: i64 = 250;

/// Starts a merge of every segment of the search index into one (`'merge'` with a negative
/// page count assigns all segments to one level) and does its first step. `true` when there
/// was work to do.
pub(crate) fn start_merge(conn: &mut Connection) -> Result<bool, WriteError> {
    merge_step(conn, -MERGE_PAGES)
}

/// One more step of the merge in progress; `false` once it has finished (FTS5 then has
/// nothing to merge, and a step changes nothing).
pub(crate) fn continue_merge(conn: &mut Connection) -> Result<bool, WriteError> {
    merge_step(conn, MERGE_PAGES)
}

/// Runs `'merge', pages`; FTS5's documented test for whether it did any work is a change of
/// at least two in the connection's total changes.
fn merge_step(conn: &mut Connection, pages: i64) -> Result<bool, WriteError> {
    let before = conn.total_changes();
    conn.execute(
        "INSERT INTO entries_fts (entries_fts, rank) VALUES ('merge', ?1)",
        [pages],
    )?;
    Ok(conn.total_changes().saturating_sub(before) >= 2)
}

/// The index pages the search index holds: a bound on the merge steps a full merge takes.
pub(crate) fn index_pages(conn: &mut Connection) -> Result<u64, WriteError> {
    let pages: i64 = conn.query_row("SELECT count(*) FROM entries_fts_data", [], |r| r.get(0))?;
    Ok(pages.max(0) as u64)
}

/// Merges the whole index in one job: the fallback when the steps did not finish within
/// their bound, because deleted documents must leave the index before the caller is told.
pub(crate) fn optimize(conn: &mut Connection) -> Result<(), WriteError> {
    conn.execute(
        "INSERT INTO entries_fts (entries_fts) VALUES ('optimize')",
        [],
    )?;
    Ok(())
}

/// Copies the WAL into the database and truncates it, so no page image with removed data
/// survives in it. A reader holding an old snapshot can delay the truncation; it is retried
/// briefly, and otherwise happens at the next checkpoint.
pub(crate) fn truncate_wal(conn: &mut Connection) -> Result<(), WriteError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether any stored block of the search index holds `bytes`.
    fn index_holds(conn: &Connection, bytes: &[u8]) -> bool {
        let mut stmt = conn
            .prepare("SELECT block FROM entries_fts_data")
            .expect("prepare");
        let blocks: Vec<Vec<u8>> = stmt
            .query_map([], |r| r.get::<_, Option<Vec<u8>>>(0))
            .expect("blocks")
            .filter_map(|b| b.ok().flatten())
            .collect();
        blocks
            .iter()
            .any(|b| b.windows(bytes.len()).any(|w| w == bytes))
    }

    #[test]
    fn the_stepwise_merge_drops_a_deleted_documents_tokens() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE VIRTUAL TABLE entries_fts USING fts5(
                 words, content = '', contentless_delete = 1, detail = none, tokenize = 'ascii'
             );",
        )
        .expect("schema");
        // Several segments, as the derived-index batches write them; the subject's document
        // in a segment of its own, so its token is stored in full.
        for batch in 0..6 {
            let tx = conn.transaction().expect("tx");
            for i in 0..300 {
                let rowid = batch * 1000 + i;
                tx.execute(
                    "INSERT INTO entries_fts (rowid, words) VALUES (?1, ?2)",
                    (rowid, format!("1xentry 1xn{rowid} 1yntry")),
                )
                .expect("insert");
            }
            tx.commit().expect("commit");
        }
        conn.execute(
            "INSERT INTO entries_fts (rowid, words) VALUES (99999, '1xerinerasable')",
            [],
        )
        .expect("subject");
        conn.execute("DELETE FROM entries_fts WHERE rowid = 99999", [])
            .expect("delete");
        assert!(
            index_holds(&conn, b"1xerinerasable"),
            "a delete alone leaves the token (what the merge is for)"
        );
        let mut merging = start_merge(&mut conn).expect("start");
        let mut steps = 0;
        while merging {
            merging = continue_merge(&mut conn).expect("step");
            steps += 1;
            assert!(steps < 1000, "the merge ends");
        }
        assert!(!index_holds(&conn, b"1xerinerasable"));
        let found: i64 = conn
            .query_row(
                "SELECT count(*) FROM entries_fts WHERE entries_fts MATCH '\"1xentry\"'",
                [],
                |r| r.get(0),
            )
            .expect("search");
        assert_eq!(found, 1800, "every other document kept");
    }
}
