//! The body of one group-commit transaction: assigning seq and time from the tenant's log head,
//! honouring idempotency keys, sealing the entry (one row: filter columns, envelope and vault
//! values), adding its leaf to the tenant's Merkle tree and queueing it for its derived indexes
//! ([`super::derive`]), all inside the same `BEGIN IMMEDIATE … COMMIT`.

use super::derive::Pending;
use super::tree::{append_leaf, NodeCache};
use super::WriteError;
use crate::group::{GroupOutcome, RequestRef};
use crate::tokens::props_column;
use crate::Clock;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sealtrail_core::entry::{Appended, Entry};
use sealtrail_core::envelope::Sealed;
use sealtrail_core::{TenantId, Timestamp};
use std::collections::HashMap;
use uuid::Uuid;

/// Bits of `pk` that hold the seq; the tenant id sits above them.
pub(crate) const SEQ_BITS: u32 = 40;
/// Largest tenant id whose entries fit the `pk` encoding (`pk` is a signed 64-bit integer).
pub(crate) const MAX_TENANT: i64 = (1 << (63 - SEQ_BITS)) - 1;
/// One more than the largest seq a tenant's log can hold.
pub(crate) const SEQ_LIMIT: i64 = 1 << SEQ_BITS;

/// The first `pk` of a tenant's log, or `None` for an id the encoding cannot hold (such a
/// tenant cannot exist, so reads treat it as empty).
pub(crate) fn tenant_base(tenant: TenantId) -> Option<i64> {
    (0..=MAX_TENANT)
        .contains(&tenant.0)
        .then_some(tenant.0 << SEQ_BITS)
}

/// A tenant's log head as read inside the transaction and advanced in memory.
struct Head {
    next_seq: i64,
    last_recorded_at: i64,
    /// The log's origin, named in every envelope.
    origin: String,
    dirty: bool,
}

/// Per-transaction state: heads read so far, idempotency keys assigned in this group, tree
/// nodes written so far, and the entries stored (for their derived indexes).
#[derive(Default)]
struct GroupState {
    heads: HashMap<i64, Option<Head>>,
    keys: HashMap<(i64, String), Appended>,
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
    let mut state = GroupState::default();
    let mut results = Vec::with_capacity(requests.len());
    let mut stored = 0u64;
    for request in requests {
        match append_request(&tx, &mut state, now, request)? {
            Ok((appended, n)) => {
                stored += n;
                results.push(Ok(appended));
            }
            Err(refused) => results.push(Err(refused)),
        }
    }
    flush_heads(&tx, &state.heads)?;
    tx.commit()?;
    pending.extend(state.stored);
    Ok(GroupOutcome { results, stored })
}

/// Appends one request. The outer `Result` fails the whole group (an SQL error); the inner one
/// refuses only this request, before it has written anything.
#[allow(clippy::type_complexity)]
fn append_request(
    tx: &Connection,
    state: &mut GroupState,
    now: i64,
    request: &RequestRef<'_>,
) -> Result<Result<(Vec<Appended>, u64), crate::StoreError>, WriteError> {
    let tenant = request.tenant;
    let Some(base) = tenant_base(tenant) else {
        return Ok(Err(unknown_tenant(tenant)));
    };
    match load_head(tx, state, tenant)? {
        None => return Ok(Err(unknown_tenant(tenant))),
        Some(next_seq) if next_seq + request.entries.len() as i64 > SEQ_LIMIT => {
            return Ok(Err(crate::StoreError::Backend(format!(
                "tenant {} has reached the maximum log size",
                tenant.0
            ))));
        }
        Some(_) => {}
    }

    let mut out = Vec::with_capacity(request.entries.len());
    let mut stored = 0;
    for presealed in request.entries {
        let new = presealed.entry();
        if let Some(key) = &new.idempotency_key {
            if let Some(original) = find_duplicate(tx, state, tenant, key)? {
                out.push(original);
                continue;
            }
        }
        let Some(Some(head)) = state.heads.get_mut(&tenant.0) else {
            return Ok(Err(unknown_tenant(tenant)));
        };
        let seq = head.next_seq;
        let recorded_at = now.max(head.last_recorded_at);
        head.next_seq += 1;
        head.last_recorded_at = recorded_at;
        head.dirty = true;

        let id = Uuid::now_v7();
        let (entry, sealed) = presealed.place(id, seq as u64, Timestamp(recorded_at), &head.origin);
        insert_entry(tx, tenant, base | seq, &entry, &sealed)?;
        append_leaf(tx, &mut state.nodes, tenant, seq as u64, sealed.leaf_hash)?;
        tx.prepare_cached("INSERT INTO index_queue (pk) VALUES (?1)")?
            .execute([base | seq])?;
        let appended = Appended {
            id,
            seq: seq as u64,
            recorded_at: Timestamp(recorded_at),
            duplicate: false,
        };
        if let Some(key) = &new.idempotency_key {
            state.keys.insert(
                (tenant.0, key.clone()),
                Appended {
                    duplicate: true,
                    ..appended.clone()
                },
            );
        }
        out.push(appended);
        state.stored.push((base | seq, tenant, entry));
        stored += 1;
    }
    Ok(Ok((out, stored)))
}

fn unknown_tenant(tenant: TenantId) -> crate::StoreError {
    crate::StoreError::NotFound(format!("tenant {}", tenant.0))
}

/// Reads the tenant's head once per transaction and returns its next seq; `None` when the
/// tenant does not exist.
fn load_head(
    tx: &Connection,
    state: &mut GroupState,
    tenant: TenantId,
) -> Result<Option<i64>, WriteError> {
    if let std::collections::hash_map::Entry::Vacant(slot) = state.heads.entry(tenant.0) {
        let head = tx
            .prepare_cached(
                "SELECT h.next_seq, h.last_recorded_at, t.log_origin
                 FROM log_heads AS h JOIN tenants AS t ON t.id = h.tenant
                 WHERE h.tenant = ?1",
            )?
            .query_row([tenant.0], |r| {
                Ok(Head {
                    next_seq: r.get(0)?,
                    last_recorded_at: r.get(1)?,
                    origin: r.get(2)?,
                    dirty: false,
                })
            })
            .optional()?;
        slot.insert(head);
    }
    Ok(state
        .heads
        .get(&tenant.0)
        .and_then(Option::as_ref)
        .map(|h| h.next_seq))
}

/// The original entry for an idempotency key, from this group or from the stored log.
fn find_duplicate(
    tx: &Connection,
    state: &GroupState,
    tenant: TenantId,
    key: &str,
) -> Result<Option<Appended>, WriteError> {
    if let Some(original) = state.keys.get(&(tenant.0, key.to_string())) {
        return Ok(Some(original.clone()));
    }
    let found = tx
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
    match found {
        None => Ok(None),
        Some((id, seq, recorded_at)) => {
            let id = Uuid::from_slice(&id).map_err(|e| {
                WriteError::Store(crate::StoreError::Corrupt(format!("entry id: {e}")))
            })?;
            Ok(Some(Appended {
                id,
                seq: seq as u64,
                recorded_at: Timestamp(recorded_at),
                duplicate: true,
            }))
        }
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

fn flush_heads(tx: &Connection, heads: &HashMap<i64, Option<Head>>) -> Result<(), WriteError> {
    let mut update = tx.prepare_cached(
        "UPDATE log_heads SET next_seq = ?2, last_recorded_at = ?3 WHERE tenant = ?1",
    )?;
    for (tenant, head) in heads {
        if let Some(head) = head.as_ref().filter(|h| h.dirty) {
            update.execute(params![tenant, head.next_seq, head.last_recorded_at])?;
        }
    }
    Ok(())
}
