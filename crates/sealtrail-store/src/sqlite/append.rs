//! The body of one group-commit transaction on SQLite: [`crate::sequencer`] decides seq, time,
//! id and idempotency from the tenant's log head; this file reads the heads and stored keys and
//! writes each placed entry (one row: filter columns, envelope and vault values), its leaf in
//! the tenant's Merkle tree and its row in the queue of derived indexes ([`super::derive`]),
//! all inside the same `BEGIN IMMEDIATE … COMMIT`.

use super::derive::Pending;
use super::pk::{tenant_base, SEQ_LIMIT};
use super::tree::{append_leaf, NodeCache};
use super::WriteError;
use crate::group_commit::{GroupOutcome, RequestRef};
use crate::index_terms::props_column;
use crate::sequencer::{AppendTarget, LogHead, Sequencer};
use crate::Clock;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sealtrail_core::entry::{Appended, Entry};
use sealtrail_core::envelope::Sealed;
use sealtrail_core::{TenantId, Timestamp};
use uuid::Uuid;

/// The SQLite side of a group: the open transaction, the tree nodes written so far, and the
/// entries stored (for their derived indexes once committed).
struct Target<'t> {
    tx: &'t Connection,
    nodes: NodeCache,
    stored: Vec<(i64, TenantId, Entry)>,
}

/// Writes every request in one immediate transaction and commits it. Nothing is acknowledged
/// by this function; the caller replies only after it returns `Ok`, i.e. after COMMIT. The
/// stored entries are handed to `pending` only once committed.
pub(crate) fn write_group(
    conn: &mut Connection,
    clock: &Clock,
    requests: &[RequestRef<'_>],
    pending: &mut Pending,
) -> Result<GroupOutcome, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Taken after the write lock is held, so time only moves forward across processes too.
    let now = clock.now().millis();
    let mut sequencer = Sequencer::default();
    let mut target = Target {
        tx: &tx,
        nodes: NodeCache::default(),
        stored: Vec::new(),
    };
    let outcome = sequencer.append_group(&mut target, now, requests)?;
    let committed = target.stored;
    flush_heads(&tx, &sequencer)?;
    tx.commit()?;
    pending.extend(committed);
    Ok(outcome)
}

impl AppendTarget for Target<'_> {
    type Error = WriteError;

    fn load_head(&mut self, tenant: TenantId) -> Result<Option<LogHead>, WriteError> {
        if tenant_base(tenant).is_none() {
            return Ok(None);
        }
        Ok(self
            .tx
            .prepare_cached(
                "SELECT h.next_seq, h.last_recorded_at, t.log_origin
                 FROM log_heads AS h JOIN tenants AS t ON t.id = h.tenant
                 WHERE h.tenant = ?1",
            )?
            .query_row([tenant.0], |r| {
                Ok(LogHead::new(r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?)
    }

    fn seq_limit(&self) -> i64 {
        SEQ_LIMIT
    }

    fn stored_original(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<Appended>, WriteError> {
        let found = self
            .tx
            .prepare_cached(
                "SELECT id, seq, recorded_at FROM entries
                 WHERE tenant = ?1 AND idempotency_key = ?2",
            )?
            .query_row(params![tenant.0, key], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .optional()?;
        let Some((id, seq, recorded_at)) = found else {
            return Ok(None);
        };
        let id = Uuid::from_slice(&id)
            .map_err(|e| WriteError::Store(crate::StoreError::Corrupt(format!("entry id: {e}"))))?;
        Ok(Some(Appended {
            id,
            seq: seq as u64,
            recorded_at: Timestamp(recorded_at),
            duplicate: true,
        }))
    }

    fn write(
        &mut self,
        tenant: TenantId,
        entry: Entry,
        sealed: Sealed,
        _head: &LogHead,
    ) -> Result<(), WriteError> {
        // `load_head` found no head for a tenant the encoding cannot hold, so this is Some.
        let Some(base) = tenant_base(tenant) else {
            return Err(WriteError::Store(crate::StoreError::NotFound(format!(
                "tenant {}",
                tenant.0
            ))));
        };
        let pk = base | entry.seq as i64;
        insert_entry(self.tx, tenant, pk, &entry, &sealed)?;
        append_leaf(
            self.tx,
            &mut self.nodes,
            tenant,
            entry.seq,
            sealed.leaf_hash,
        )?;
        self.tx
            .prepare_cached("INSERT INTO index_queue (pk) VALUES (?1)")?
            .execute([pk])?;
        self.stored.push((pk, tenant, entry));
        Ok(())
    }
}

/// Writes the entry row: filter columns, envelope and vault values.
fn insert_entry(
    tx: &Connection,
    tenant: TenantId,
    pk: i64,
    entry: &Entry,
    sealed: &Sealed,
) -> Result<(), WriteError> {
    let [actor, context, payload] = &sealed.vault;
    tx.prepare_cached(
        "INSERT INTO entries (pk, tenant, seq, id, recorded_at, occurred_at, channel, action,
             event, category, result, actor_type, actor_id, actor_email, ip, idempotency_key,
             props, envelope, actor_salt, actor_value, context_salt, context_value,
             payload_salt, payload_value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
             ?19, ?20, ?21, ?22, ?23, ?24)",
    )?
    .execute(params![
        pk,
        tenant.0,
        entry.seq as i64,
        entry.id.as_bytes().as_slice(),
        entry.recorded_at.millis(),
        entry.occurred_at.millis(),
        entry.channel,
        entry.action,
        entry.event,
        entry.category,
        entry.result.as_str(),
        entry.actor.kind.as_str(),
        entry.actor.id,
        entry.actor.email,
        entry.context.ip,
        entry.idempotency_key,
        props_column(&entry.properties),
        sealed.envelope,
        actor.salt.as_slice(),
        actor.value,
        context.salt.as_slice(),
        context.value,
        payload.salt.as_slice(),
        payload.value,
    ])?;
    Ok(())
}

fn flush_heads(tx: &Connection, sequencer: &Sequencer) -> Result<(), WriteError> {
    let mut update = tx.prepare_cached(
        "UPDATE log_heads SET next_seq = ?2, last_recorded_at = ?3 WHERE tenant = ?1",
    )?;
    for (tenant, head) in sequencer.dirty_heads() {
        update.execute(params![tenant.0, head.next_seq, head.last_recorded_at])?;
    }
    Ok(())
}
