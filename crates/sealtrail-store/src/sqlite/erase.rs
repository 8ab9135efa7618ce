//! GDPR erasure on SQLite: the SQL of the three phases described in [`crate::erasure`], which
//! holds everything that is not SQL.
//!
//! 1. [`collect_identifiers`] (read pool): the prefilter over the actor columns.
//! 2. [`scrub_chunk`] (writer, bounded chunks): vault rows, filter columns, targets, facets
//!    and search documents of the changed entries are rewritten.
//! 3. [`purge_traces`] (writer): FTS segments are merged so deleted tokens go, and the WAL is
//!    checkpointed and truncated; with `secure_delete` no old page keeps the data.

use super::append::{insert_document, insert_targets, tenant_base, SEQ_LIMIT};
use super::error::backend;
use super::facets;
use super::read::log_head;
use super::vault;
use super::WriteError;
use crate::erasure::{self, like_literal, Plan, Step, SubjectIdentifiers};
use crate::facets::FacetDeltas;
use crate::scrub::Identifiers;
use crate::tokens::{index_document, props_column};
use crate::StoreError;
use rusqlite::{params, Connection, TransactionBehavior};
use sealtrail_core::TenantId;
use std::time::Duration;

/// Phase 1: the subject's identifiers. The SQL prefilter uses the denormalised columns; the
/// vault value decides.
pub(crate) fn collect_identifiers(
    conn: &Connection,
    tenant: TenantId,
    subject: &str,
) -> Result<Identifiers, StoreError> {
    let mut found = SubjectIdentifiers::new(subject);
    let Some(base) = tenant_base(tenant) else {
        return Ok(found.finish());
    };
    let read = backend("finding the subject's entries");
    let mut stmt = conn
        .prepare_cached(
            // CROSS JOIN makes entries the outer loop, so the actor columns filter the rows
            // before any vault value is read.
            "SELECT v.value FROM entries AS e CROSS JOIN vault AS v ON v.pk = e.pk AND v.part = 0
             WHERE e.pk >= ?1 AND e.pk <= ?2
               AND (e.actor_id = ?3 OR e.actor_email LIKE ?4 ESCAPE '\\')",
        )
        .map_err(&read)?;
    let mut rows = stmt
        .query(params![
            base,
            base | (SEQ_LIMIT - 1),
            subject,
            like_literal(subject)
        ])
        .map_err(&read)?;
    while let Some(row) = rows.next().map_err(&read)? {
        let bytes: Vec<u8> = row.get(0).map_err(&read)?;
        found.add_actor(&bytes);
    }
    Ok(found.finish())
}

/// Phase 2: scrubs the entries in `[from_seq, from_seq + CHUNK)` (clamped to the kept log) in
/// one write transaction.
pub(crate) fn scrub_chunk(
    conn: &mut Connection,
    tenant: TenantId,
    from_seq: u64,
    plan: &Plan,
) -> Result<Step, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (Some(head), Some(base)) = (log_head(&tx, tenant)?, tenant_base(tenant)) else {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)).into());
    };
    let Some(chunk) = erasure::chunk(from_seq, head.first_seq, head.size) else {
        return Ok(Step::finished(from_seq.max(head.first_seq)));
    };
    let stored = vault::load_range(&tx, base | chunk.start as i64, base | chunk.end as i64)?;
    let mut deltas = FacetDeltas::default();
    // Search documents are rewritten after every other statement of the chunk, as in the
    // append path: FTS5 flushes its pending index at each statement savepoint.
    let mut documents = Vec::new();
    for row in &stored {
        let Some(scrubbed) = erasure::scrub(tenant, row, plan, &mut deltas)? else {
            continue;
        };
        for (old, new) in row.slots.iter().zip(&scrubbed.slots) {
            if old != new {
                vault::write_slot(&tx, row.pk, new)?;
            }
        }
        let entry = &scrubbed.entry;
        tx.prepare_cached(
            "UPDATE entries SET actor_id = ?2, actor_email = ?3, ip = ?4, props = ?5 WHERE pk = ?1",
        )?
        .execute(params![
            row.pk,
            entry.actor.id,
            entry.actor.email,
            entry.context.ip,
            props_column(&entry.properties)
        ])?;
        tx.prepare_cached("DELETE FROM entry_targets WHERE pk = ?1")?
            .execute([row.pk])?;
        insert_targets(&tx, row.pk, entry)?;
        documents.push((row.pk, index_document(tenant, entry)));
    }
    facets::flush(&tx, &deltas)?;
    for (pk, words) in &documents {
        tx.prepare_cached("DELETE FROM entries_fts WHERE rowid = ?1")?
            .execute([pk])?;
        insert_document(&tx, *pk, words)?;
    }
    tx.commit()?;
    Ok(Step {
        scrubbed: documents.len() as u64,
        next_seq: chunk.end,
        done: false,
    })
}

/// Phase 3: rewrites the search index without the deleted documents' tokens, then copies the
/// WAL into the database and truncates it, so no page image with erased data survives in
/// either file. A reader holding an old snapshot can delay the truncation; it is retried
/// briefly, and otherwise happens at the next checkpoint.
pub(crate) fn purge_traces(conn: &mut Connection) -> Result<(), WriteError> {
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
    tracing::warn!("WAL checkpoint after erasure was blocked by readers; old pages remain in the WAL until the next checkpoint");
    Ok(())
}
