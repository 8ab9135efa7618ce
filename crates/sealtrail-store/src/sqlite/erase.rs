//! GDPR erasure in three phases:
//!
//! 1. [`collect_identifiers`] (read pool): the subject's entries (actor id equal to the
//!    subject, or actor e-mail equal ignoring case) give the identifiers: the subject string
//!    and every id, e-mail and name found in those actors.
//! 2. [`scrub_chunk`] (writer, bounded chunks): the subject's own entries get a pseudonymous
//!    actor and an empty context; every vault value of the tenant naming an identifier is
//!    replaced by an erased stand-in with the identifiers swapped for the pseudonym; the
//!    denormalised copies (filter columns, targets, properties, search words, facets) are
//!    rebuilt from the scrubbed values.
//! 3. [`purge_traces`] (writer): FTS segments are merged so deleted tokens go, and the WAL is
//!    checkpointed and truncated; with `secure_delete` no old page keeps the data.
//!
//! Envelopes and tree nodes are never touched, so every proof and checkpoint stays valid.

use super::append::{insert_document, insert_targets, tenant_base};
use super::error::backend;
use super::facets::FacetDeltas;
use super::read::log_head;
use super::scrub::{erased_actor, erased_context, same_text, Identifiers};
use super::tokens::{index_document, props_column};
use super::vault::{self, slot_bytes, slot_part, StoredEntry};
use super::WriteError;
use crate::StoreError;
use rusqlite::{params, Connection, TransactionBehavior};
use sealtrail_core::envelope::{canonical_json, Part, Slot};
use sealtrail_core::TenantId;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// Entries examined per write transaction.
pub(crate) const CHUNK: u64 = 2_000;

/// Everything a scrub step needs, computed once per erasure.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The actor id or e-mail being erased.
    pub subject: String,
    /// Its stand-in.
    pub pseudonym: String,
    /// What to replace wherever it appears.
    pub identifiers: Identifiers,
}

/// Where one step got to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    /// Entries changed by this step.
    pub scrubbed: u64,
    /// The seq the next step starts at.
    pub next_seq: u64,
    /// True once the scan has reached the head of the log.
    pub done: bool,
}

/// True when this actor value (vault JSON) is the subject.
fn is_subject(actor: &Value, subject: &str) -> bool {
    let id = actor.get("id").and_then(Value::as_str);
    let email = actor.get("email").and_then(Value::as_str);
    id == Some(subject) || email.is_some_and(|e| same_text(e, subject))
}

/// `LIKE` pattern matching `s` literally (ASCII case-insensitively).
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Phase 1: the subject's identifiers. The SQL prefilter uses the denormalised columns; the
/// vault value decides. Names shorter than three characters are too ambiguous to keep.
pub(crate) fn collect_identifiers(
    conn: &Connection,
    tenant: TenantId,
    subject: &str,
) -> Result<Identifiers, StoreError> {
    let mut found: BTreeSet<String> = BTreeSet::from([subject.to_string()]);
    let Some(base) = tenant_base(tenant) else {
        return Ok(Identifiers::new(found.iter().map(String::as_str)));
    };
    let mut stmt = conn
        .prepare_cached(
            // CROSS JOIN makes entries the outer loop, so the actor columns filter the rows
            // before any vault value is read.
            "SELECT v.value FROM entries AS e CROSS JOIN vault AS v ON v.pk = e.pk AND v.part = 0
             WHERE e.pk >= ?1 AND e.pk <= ?2
               AND (e.actor_id = ?3 OR e.actor_email LIKE ?4 ESCAPE '\\')",
        )
        .map_err(backend("finding the subject's entries"))?;
    let mut rows = stmt
        .query(params![
            base,
            base | (super::append::SEQ_LIMIT - 1),
            subject,
            like_literal(subject)
        ])
        .map_err(backend("finding the subject's entries"))?;
    while let Some(row) = rows
        .next()
        .map_err(backend("finding the subject's entries"))?
    {
        let bytes: Vec<u8> = row
            .get(0)
            .map_err(backend("finding the subject's entries"))?;
        let Ok(actor) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        if !is_subject(&actor, subject) {
            continue;
        }
        for (field, min_chars) in [("id", 1), ("email", 1), ("name", 3)] {
            if let Some(v) = actor.get(field).and_then(Value::as_str) {
                if v.trim().chars().count() >= min_chars {
                    found.insert(v.to_string());
                }
            }
        }
    }
    Ok(Identifiers::new(found.iter().map(String::as_str)))
}

/// The slots an entry should have after erasure, or `None` if nothing changes.
fn scrubbed_slots(stored: &StoredEntry, plan: &Plan) -> Option<Vec<Slot>> {
    let actor = stored
        .slots
        .iter()
        .find(|s| slot_part(s) == Part::Actor)
        .and_then(|s| serde_json::from_slice::<Value>(slot_bytes(s)).ok());
    let own = actor.is_some_and(|a| is_subject(&a, &plan.subject));
    let mut changed = false;
    let slots = stored
        .slots
        .iter()
        .map(|slot| {
            let part = slot_part(slot);
            let replacement = match part {
                Part::Actor if own => Some(erased_actor(&plan.pseudonym)),
                Part::Context if own => Some(erased_context()),
                _ => serde_json::from_slice::<Value>(slot_bytes(slot))
                    .ok()
                    .and_then(|mut v| {
                        plan.identifiers
                            .scrub_json(&mut v, &plan.pseudonym)
                            .then(|| canonical_json(&v))
                    }),
            };
            match replacement {
                Some(replacement) => {
                    let new = Slot::Erased { part, replacement };
                    changed |= new != *slot;
                    new
                }
                None => slot.clone(),
            }
        })
        .collect();
    changed.then_some(slots)
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
    let lo = from_seq.max(head.first_seq);
    let hi = head.size.min(lo.saturating_add(CHUNK));
    if lo >= hi {
        return Ok(Step {
            scrubbed: 0,
            next_seq: lo,
            done: true,
        });
    }
    let stored = vault::load_range(&tx, base | lo as i64, base | hi as i64)?;
    let mut facets = FacetDeltas::default();
    // Search documents are rewritten after every other statement of the chunk, as in the
    // append path: FTS5 flushes its pending index at each statement savepoint.
    let mut documents = Vec::new();
    let mut scrubbed = 0;
    for row in &stored {
        let Some(slots) = scrubbed_slots(row, plan) else {
            continue;
        };
        let before = row.open()?;
        let after = StoredEntry {
            slots,
            ..row.clone()
        };
        for (old, new) in row.slots.iter().zip(&after.slots) {
            if old != new {
                vault::write_slot(&tx, row.pk, new)?;
            }
        }
        let entry = after.open()?;
        facets.add(tenant, &before, -1);
        facets.add(tenant, &entry, 1);
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
        insert_targets(&tx, row.pk, &entry)?;
        documents.push((row.pk, index_document(tenant, &entry)));
        scrubbed += 1;
    }
    facets.flush(&tx)?;
    for (pk, words) in &documents {
        tx.prepare_cached("DELETE FROM entries_fts WHERE rowid = ?1")?
            .execute([pk])?;
        insert_document(&tx, *pk, words)?;
    }
    tx.commit()?;
    Ok(Step {
        scrubbed,
        next_seq: hi,
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
