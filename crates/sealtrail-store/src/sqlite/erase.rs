//! GDPR erasure on SQLite: the SQL of the three phases described in [`crate::erasure`], which
//! holds everything that is not SQL.
//!
//! 1. [`find_subject`] (read pool): the prefilters over the actor columns and the target
//!    copies (`entry_targets`).
//! 2. [`scrub_chunk`] (writer, bounded chunks): vault rows, filter columns, targets, facets
//!    and search documents of the changed entries are rewritten; [`preview_chunk`] (read
//!    pool) computes the same changes for a dry run and writes nothing.
//! 3. [`super::purge`] (writer jobs): FTS segments are merged so deleted tokens go, and the
//!    WAL is checkpointed and truncated; with `secure_delete` no old page keeps the data.

use super::derive::{insert_document, insert_targets};
use super::error::backend;
use super::facets;
use super::ledger;
use super::pk::log_range;
use super::pk::{tenant_base, SEQ_LIMIT};
use super::vault;
use super::WriteError;
use crate::erasure::{self, like_literal, Plan, Step, SubjectIdentifiers};
use crate::facets::FacetDeltas;
use crate::index_terms::{index_document, props_column};
use crate::{PseudonymKey, StoreError};
use rusqlite::{params, Connection, TransactionBehavior};
use sealtrail_core::TenantId;

/// Phase 1: who the subject is, as a plan for erasing them from the log named `log_origin`;
/// `NotFound` when no actor or target is the subject. The SQL prefilters use the
/// denormalised columns; [`SubjectIdentifiers`] decides.
pub(crate) fn find_subject(
    conn: &Connection,
    tenant: TenantId,
    subject: &str,
    log_origin: &str,
    key: &PseudonymKey,
) -> Result<Plan, StoreError> {
    let mut found = SubjectIdentifiers::new(subject);
    if let Some(base) = tenant_base(tenant) {
        let (lo, hi) = (base, base | (SEQ_LIMIT - 1));
        add_actors(conn, lo, hi, subject, &mut found)?;
        add_targets(conn, lo, hi, &mut found)?;
    }
    found.finish(log_origin, key)
}

/// The subject's actors among the entries with `lo <= pk <= hi`.
fn add_actors(
    conn: &Connection,
    lo: i64,
    hi: i64,
    subject: &str,
    found: &mut SubjectIdentifiers,
) -> Result<(), StoreError> {
    let read = backend("finding the subject's actors");
    let mut stmt = conn
        .prepare_cached(
            // LIKE ignores ASCII case, as the decision does.
            "SELECT e.actor_value FROM entries AS e
             WHERE e.pk >= ?1 AND e.pk <= ?2
               AND (e.actor_id = ?3 OR e.actor_email LIKE ?4 ESCAPE '\\')",
        )
        .map_err(&read)?;
    let mut rows = stmt
        .query(params![lo, hi, subject, like_literal(subject)])
        .map_err(&read)?;
    while let Some(row) = rows.next().map_err(&read)? {
        if let Some(bytes) = vault::bytes(row, 0).map_err(&read)? {
            found.add_actor(&bytes);
        }
    }
    Ok(())
}

/// The subject's targets among the entries with `lo <= pk <= hi`, from their copies in
/// `entry_targets` (no vault value is read): by id through `entry_targets_by_id`; by e-mail
/// (id or name, ignoring ASCII case) over the tenant's target rows, only when the subject
/// has an e-mail address.
fn add_targets(
    conn: &Connection,
    lo: i64,
    hi: i64,
    found: &mut SubjectIdentifiers,
) -> Result<(), StoreError> {
    let read = backend("finding the subject's targets");
    let mut hits: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut collect = |sql: &str, value: String| -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![lo, hi, value], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for row in rows {
            hits.push(row?);
        }
        Ok(())
    };
    for id in found.target_ids() {
        collect(
            "SELECT DISTINCT t.id, t.name FROM entry_targets AS t
             WHERE t.id = ?3 AND t.pk >= ?1 AND t.pk <= ?2",
            id,
        )
        .map_err(&read)?;
    }
    for email in found.target_emails() {
        collect(
            "SELECT DISTINCT t.id, t.name FROM entry_targets AS t
             WHERE t.pk >= ?1 AND t.pk <= ?2
               AND (t.id LIKE ?3 ESCAPE '\\' OR t.name LIKE ?3 ESCAPE '\\')",
            like_literal(&email),
        )
        .map_err(&read)?;
    }
    for (id, name) in &hits {
        found.add_target(id.as_deref(), name.as_deref());
    }
    Ok(())
}

/// Phase 2 of a dry run: what [`scrub_chunk`] would change in the same chunk, read from one
/// snapshot, writing nothing.
pub(crate) fn preview_chunk(
    conn: &Connection,
    tenant: TenantId,
    from_seq: u64,
    plan: &Plan,
) -> Result<Step, StoreError> {
    let (Some(head), Some(base)) = (log_range(conn, tenant)?, tenant_base(tenant)) else {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)));
    };
    let Some(chunk) = erasure::chunk(from_seq, head.first_seq, head.size) else {
        return Ok(Step::finished(from_seq.max(head.first_seq)));
    };
    let stored = vault::load_range(conn, base | chunk.start as i64, base | chunk.end as i64)?;
    Ok(Step {
        changed: erasure::preview(&stored, plan)?,
        next_seq: chunk.end,
        done: false,
    })
}

/// Phase 2: scrubs the entries in `[from_seq, from_seq + CHUNK)` (clamped to the kept log) in
/// one write transaction, listing every replaced value in the ledger under `run`.
pub(crate) fn scrub_chunk(
    conn: &mut Connection,
    tenant: TenantId,
    from_seq: u64,
    plan: &Plan,
    run: [u8; 16],
) -> Result<Step, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (Some(head), Some(base)) = (log_range(&tx, tenant)?, tenant_base(tenant)) else {
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
    let mut changed = Vec::new();
    for row in &stored {
        let Some(scrubbed) = erasure::scrub(tenant, row, plan, &mut deltas)? else {
            continue;
        };
        if row.slots != scrubbed.slots {
            vault::write_slots(&tx, row.pk, &scrubbed.slots)?;
        }
        ledger::list(&tx, tenant, run, &scrubbed)?;
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
        changed.push(scrubbed.summary);
    }
    facets::flush(&tx, &deltas)?;
    ledger::touch(&tx, tenant, run, false)?;
    for (pk, words) in &documents {
        tx.prepare_cached("DELETE FROM entries_fts WHERE rowid = ?1")?
            .execute([pk])?;
        insert_document(&tx, *pk, words)?;
    }
    tx.commit()?;
    Ok(Step {
        changed,
        next_seq: chunk.end,
        done: false,
    })
}
