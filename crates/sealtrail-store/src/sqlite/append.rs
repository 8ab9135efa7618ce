//! The body of one group-commit transaction: assigning seq and time from the tenant's log head,
//! honouring idempotency keys, and writing the entry with its targets, search words and facet
//! counts, all inside the same `BEGIN IMMEDIATE … COMMIT`.

use super::tokens::{index_document, props_column};
use super::WriteError;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sealtrail_core::entry::{Appended, Entry, NewEntry};
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

/// One request's events, as the writer hands them over (borrowed, so a failed group can be
/// retried request by request).
pub(crate) struct RequestRef<'a> {
    /// The log the events go to.
    pub tenant: TenantId,
    /// The events, in request order.
    pub entries: &'a [NewEntry],
}

/// What one committed group produced.
pub(crate) struct GroupOutcome {
    /// One answer per request, in order. A request can fail on its own (unknown tenant) without
    /// failing the group; it then wrote nothing.
    pub results: Vec<Result<Vec<Appended>, crate::StoreError>>,
    /// Entries actually stored (duplicates excluded).
    pub stored: u64,
}

/// A tenant's log head as read inside the transaction and advanced in memory.
struct Head {
    next_seq: i64,
    last_recorded_at: i64,
    dirty: bool,
}

/// Counts accumulated over a group and written once per distinct value before COMMIT.
#[derive(Default)]
struct FacetDeltas {
    values: HashMap<(i64, &'static str, String), i64>,
    actors: HashMap<(i64, String), (ActorKey, i64)>,
}

/// The identity a facet actor row stands for: type, id, name, e-mail.
struct ActorKey(&'static str, Option<String>, Option<String>, Option<String>);

/// Per-transaction state: heads read so far and idempotency keys assigned in this group.
#[derive(Default)]
struct GroupState {
    heads: HashMap<i64, Option<Head>>,
    keys: HashMap<(i64, String), Appended>,
    facets: FacetDeltas,
}

/// Writes every request in one immediate transaction and commits it. Nothing is acknowledged
/// by this function; the caller replies only after it returns `Ok`, i.e. after COMMIT.
pub(crate) fn write_group(
    conn: &mut Connection,
    requests: &[RequestRef<'_>],
) -> Result<GroupOutcome, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Taken after the write lock is held, so time only moves forward across processes too.
    let now = Timestamp::now().millis();
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
    flush_facets(&tx, &state.facets)?;
    flush_heads(&tx, &state.heads)?;
    tx.commit()?;
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
    for new in request.entries {
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
        let entry = Entry::from_new(new.clone(), id, seq as u64, Timestamp(recorded_at));
        insert_entry(tx, tenant, base | seq, new, &entry)?;
        count_facets(&mut state.facets, tenant, &entry);
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
            .prepare_cached("SELECT next_seq, last_recorded_at FROM log_heads WHERE tenant = ?1")?
            .query_row([tenant.0], |r| {
                Ok(Head {
                    next_seq: r.get(0)?,
                    last_recorded_at: r.get(1)?,
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

/// Writes the entry row, its targets and its search document.
fn insert_entry(
    tx: &Connection,
    tenant: TenantId,
    pk: i64,
    new: &NewEntry,
    entry: &Entry,
) -> Result<(), WriteError> {
    let body = serde_json::to_string(entry).map_err(|e| {
        WriteError::Store(crate::StoreError::Backend(format!("encoding entry: {e}")))
    })?;
    tx.prepare_cached(
        "INSERT INTO entries (pk, tenant, seq, id, recorded_at, occurred_at, channel, action,
             event, category, result, actor_type, actor_id, actor_email, ip, idempotency_key,
             props, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
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
        body,
    ])?;
    if !entry.targets.is_empty() {
        let mut insert = tx.prepare_cached(
            "INSERT INTO entry_targets (pk, ord, type, id, name) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (ord, target) in entry.targets.iter().enumerate() {
            insert.execute(params![pk, ord as i64, target.kind, target.id, target.name])?;
        }
    }
    let document = index_document(tenant, new);
    if !document.is_empty() {
        tx.prepare_cached("INSERT INTO entries_fts (rowid, words) VALUES (?1, ?2)")?
            .execute(params![pk, document])?;
    }
    Ok(())
}

/// Adds one entry's values to the group's facet deltas. A target type counts once per entry,
/// however many targets of that type the entry has.
fn count_facets(deltas: &mut FacetDeltas, tenant: TenantId, entry: &Entry) {
    let t = tenant.0;
    let mut bump = |kind: &'static str, value: &str| {
        *deltas
            .values
            .entry((t, kind, value.to_string()))
            .or_insert(0) += 1;
    };
    bump("channel", &entry.channel);
    bump("action", &entry.action);
    bump("event", &entry.event);
    if let Some(category) = &entry.category {
        bump("category", category);
    }
    bump("result", entry.result.as_str());
    let mut types: Vec<&str> = entry.targets.iter().map(|t| t.kind.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    for kind in types {
        bump("target_type", kind);
    }
    let actor = &entry.actor;
    // JSON keeps a missing field (null) distinct from an empty one ("").
    let key =
        serde_json::json!([actor.kind.as_str(), actor.id, actor.name, actor.email]).to_string();
    deltas
        .actors
        .entry((t, key))
        .or_insert_with(|| {
            let identity = ActorKey(
                actor.kind.as_str(),
                actor.id.clone(),
                actor.name.clone(),
                actor.email.clone(),
            );
            (identity, 0)
        })
        .1 += 1;
}

fn flush_facets(tx: &Connection, deltas: &FacetDeltas) -> Result<(), WriteError> {
    let mut values = tx.prepare_cached(
        "INSERT INTO facet_values (tenant, kind, value, count) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant, kind, value) DO UPDATE SET count = count + excluded.count",
    )?;
    for ((tenant, kind, value), n) in &deltas.values {
        values.execute(params![tenant, kind, value, n])?;
    }
    let mut actors = tx.prepare_cached(
        "INSERT INTO facet_actors (tenant, key, type, id, name, email, count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (tenant, key) DO UPDATE SET count = count + excluded.count",
    )?;
    for ((tenant, key), (actor, n)) in &deltas.actors {
        actors.execute(params![tenant, key, actor.0, actor.1, actor.2, actor.3, n])?;
    }
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
