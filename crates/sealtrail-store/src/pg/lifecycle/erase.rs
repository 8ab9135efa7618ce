//! GDPR erasure on PostgreSQL: the SQL of the phases described in [`crate::erasure`], which
//! holds everything that is not SQL. The vault values live in the entry row, so one `UPDATE`
//! per changed entry rewrites its erased values together with every copy derived from them:
//! the filter columns, targets, properties and search words.

use super::lock_head;
use crate::erasure::{self, like_literal, Plan, Scrubbed, Step, SubjectIdentifiers};
use crate::facets::FacetDeltas;
use crate::index_terms::{props_column, targets_column};
use crate::pg::facets;
use crate::pg::pool::{PgResult, Tx};
use crate::pg::read::{existing_head, load_range};
use crate::pg::search::lexemes;
use crate::stored_entry::vault_columns;
use crate::{PseudonymKey, StoreError};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use sealtrail_core::TenantId;
use serde_json::json;

/// Phase 1: who the subject is, as a plan for erasing them from the log named `log_origin`;
/// `NotFound` when no actor or target is the subject. The prefilters use the filter columns
/// (`ILIKE` is at least as lenient as the ASCII-case comparison that decides);
/// [`SubjectIdentifiers`] decides.
pub(super) fn find_subject(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    subject: &str,
    log_origin: &str,
    key: &PseudonymKey,
) -> PgResult<Plan> {
    let mut found = SubjectIdentifiers::new(subject);
    add_actors(tx, tenant, subject, &mut found)?;
    add_targets(tx, tenant, &mut found)?;
    Ok(found.finish(log_origin, key)?)
}

/// The subject's actors, streamed.
fn add_actors(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    subject: &str,
    found: &mut SubjectIdentifiers,
) -> PgResult<()> {
    let pattern = like_literal(subject);
    let params: [&(dyn ToSql + Sync); 3] = [&tenant.0, &subject, &pattern];
    let mut rows = tx.inner().query_raw(
        "SELECT actor_value FROM entries
         WHERE tenant = $1 AND (actor_id = $2 OR actor_email ILIKE $3)",
        params,
    )?;
    while let Some(row) = rows.next()? {
        if let Some(actor) = row.try_get::<_, Option<Vec<u8>>>(0)? {
            found.add_actor(&actor);
        }
    }
    Ok(())
}

/// The subject's targets, from the `targets` column (no vault value is decoded): by id
/// through its GIN index; by e-mail (id or name, ignoring case) over the tenant's rows, only
/// when the subject has an e-mail address — like the actor e-mail prefilter, which no index
/// answers either.
fn add_targets(tx: &mut Tx<'_>, tenant: TenantId, found: &mut SubjectIdentifiers) -> PgResult<()> {
    let mut rows = Vec::new();
    for id in found.target_ids() {
        let contains = json!([{ "id": id }]).to_string();
        rows.extend(tx.query(
            "SELECT DISTINCT t->>'id', t->>'name'
             FROM entries AS e CROSS JOIN LATERAL jsonb_array_elements(e.targets) AS t
             WHERE e.tenant = $1 AND e.targets @> $2::text::jsonb",
            &[&tenant.0, &contains],
        )?);
    }
    for email in found.target_emails() {
        let pattern = like_literal(&email);
        rows.extend(tx.query(
            "SELECT DISTINCT t->>'id', t->>'name'
             FROM entries AS e CROSS JOIN LATERAL jsonb_array_elements(e.targets) AS t
             WHERE e.tenant = $1 AND e.targets IS NOT NULL
               AND (t->>'id' ILIKE $2 OR t->>'name' ILIKE $2)",
            &[&tenant.0, &pattern],
        )?);
    }
    for row in rows {
        let id: Option<String> = row.try_get(0)?;
        let name: Option<String> = row.try_get(1)?;
        found.add_target(id.as_deref(), name.as_deref());
    }
    Ok(())
}

/// Phase 2 of a dry run: what [`scrub_chunk`] would change in the same chunk, in a read-only
/// snapshot that locks nothing.
pub(super) fn preview_chunk(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    from_seq: u64,
    plan: &Plan,
) -> PgResult<Step> {
    let head = existing_head(tx, tenant)?;
    let Some(chunk) = erasure::chunk(from_seq, head.first_seq, head.size) else {
        return Ok(Step::finished(from_seq.max(head.first_seq)));
    };
    let stored = load_range(tx, tenant, chunk.start, chunk.end)?;
    Ok(Step {
        changed: erasure::preview(&stored, plan)?,
        next_seq: chunk.end,
        done: false,
    })
}

/// Phase 2: scrubs the entries of the next chunk from `from_seq` under the tenant's log-head
/// lock, so appends and other nodes' prunes wait for it and it sees the log they left.
pub(super) fn scrub_chunk(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    from_seq: u64,
    plan: &Plan,
    run: [u8; 16],
) -> PgResult<Step> {
    let head = lock_head(tx, tenant)?;
    let Some(chunk) = erasure::chunk(from_seq, head.first_seq, head.size) else {
        return Ok(Step::finished(from_seq.max(head.first_seq)));
    };
    let stored = load_range(tx, tenant, chunk.start, chunk.end)?;
    let mut deltas = FacetDeltas::default();
    let mut changed = Vec::new();
    let mut seqs = Vec::new();
    for row in &stored {
        if let Some(after) = erasure::scrub(tenant, row, plan, &mut deltas)? {
            rewrite(tx, tenant, row.seq, &after)?;
            super::ledger::list(tx, tenant, run, &after)?;
            changed.push(after.summary);
            seqs.push(row.seq);
        }
    }
    facets::flush(tx, &deltas)?;
    super::rewrite::request(tx, tenant, &seqs)?;
    super::ledger::touch(tx, tenant, run, false)?;
    Ok(Step {
        changed,
        next_seq: chunk.end,
        done: false,
    })
}

/// Writes one scrubbed entry: its vault values and every column derived from the entry, so
/// no filter, search word or target still holds an erased value.
fn rewrite(tx: &mut Tx<'_>, tenant: TenantId, seq: i64, after: &Scrubbed) -> PgResult<()> {
    let [actor, context, payload] = vault_columns(&after.slots);
    let entry = &after.entry;
    let props = props_column(&entry.properties);
    let targets = targets_column(entry);
    let words = lexemes(tenant, entry);
    // Written as the append path writes them (`pg::append`); recorded_at names the partition,
    // so only one is visited.
    let updated = tx.execute(
        "UPDATE entries SET
             actor_salt = $4, actor_value = $5, context_salt = $6, context_value = $7,
             payload_salt = $8, payload_value = $9,
             actor_id = $10, actor_email = $11, ip = $12, props = $13::text::jsonb,
             targets = $14::text::jsonb, words = array_to_tsvector($15::text[])
         WHERE tenant = $1 AND seq = $2 AND recorded_at = $3",
        &[
            &tenant.0,
            &seq,
            &entry.recorded_at.millis(),
            &actor.0,
            &actor.1,
            &context.0,
            &context.1,
            &payload.0,
            &payload.1,
            &entry.actor.id,
            &entry.actor.email,
            &entry.context.ip,
            &props,
            &targets,
            &words,
        ],
    )?;
    // The envelope's time names the row; a row whose column says otherwise was changed behind
    // the store's back, and must not be counted as erased while it still holds the values.
    if updated != 1 {
        return Err(StoreError::Corrupt(format!(
            "erasing seq {seq} of tenant {}: its row's recorded_at differs from its envelope",
            tenant.0
        ))
        .into());
    }
    Ok(())
}
