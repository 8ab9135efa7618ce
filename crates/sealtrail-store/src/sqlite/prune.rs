//! Retention pruning on SQLite: [`plan`] reads where the log stands, then one step removes the
//! next chunk of the planned entries (envelope, vault values, targets, search words, facet
//! counts) in one immediate transaction, keeping their tree hashes. The prune's own entry,
//! how a prune is cut into steps and what the legal hold does are shared with every backend
//! in [`crate::pruning`].

use super::admin::settings;
use super::error::backend;
use super::facets;
use super::pk::log_range;
use super::pk::tenant_base;
use super::{vault, WriteError};
use crate::pruning::{self, Chunk, Plan, Step};
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sealtrail_core::{TenantId, Timestamp};

/// Entries removed per write transaction. The one writer holds every tenant's appends behind
/// a chunk: 5,000 (PostgreSQL's [`pruning::CHUNK`]) held it 0.3–0.4 s on a 1M-entry log
/// (BENCHMARKS.md, issue #20 part 8, P1); 1,500 keeps a chunk near 0.1 s.
pub(crate) const CHUNK: u64 = 1_500;

/// The first kept seq recorded at or after `cutoff`, or the log size if every kept entry is
/// older. Entries appended after this is computed are never pruned by the same run.
fn end_seq(
    conn: &Connection,
    tenant: TenantId,
    cutoff: Timestamp,
    size: u64,
) -> Result<u64, StoreError> {
    let seq: Option<i64> = conn
        .prepare_cached(
            "SELECT seq FROM entries WHERE tenant = ?1 AND recorded_at >= ?2
             ORDER BY recorded_at, pk LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(params![tenant.0, cutoff.millis()], |r| r.get(0))
                .optional()
        })
        .map_err(backend("locating the prune cutoff"))?;
    Ok(seq.map_or(size, |s| s.max(0) as u64))
}

/// Where a prune of entries recorded before `cutoff` starts and stops; `Conflict` under legal
/// hold, before anything is written.
pub(crate) fn plan(
    conn: &Connection,
    tenant: TenantId,
    cutoff: Timestamp,
) -> Result<Plan, StoreError> {
    let hold = settings(conn, tenant)?.legal_hold;
    let Some(head) = log_range(conn, tenant)? else {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)));
    };
    if hold {
        pruning::under_hold(tenant, true, head.first_seq)?;
    }
    Ok(Plan::new(
        head.first_seq,
        end_seq(conn, tenant, cutoff, head.size)?,
    ))
}

/// Removes the next chunk of the planned entries, up to `end`, each only if its committed time
/// is before `cutoff` ([`pruning::provably_older`]); `first` on the prune's first step (a legal
/// hold placed since the plan refuses it).
pub(crate) fn step(
    conn: &mut Connection,
    tenant: TenantId,
    first: bool,
    end: u64,
    cutoff: Timestamp,
) -> Result<Step, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let hold = settings(&tx, tenant)?.legal_hold;
    let (Some(head), Some(base)) = (log_range(&tx, tenant)?, tenant_base(tenant)) else {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)).into());
    };
    if hold {
        return Ok(pruning::under_hold(tenant, first, head.first_seq)?);
    }
    let chunk = match pruning::next_chunk(head.first_seq, end, CHUNK) {
        Chunk::Remove(chunk) => chunk,
        Chunk::Done(step) => return Ok(step),
    };
    let (pk_lo, pk_hi) = (base | chunk.start as i64, base | chunk.end as i64);
    let mut stored = vault::load_range(&tx, pk_lo, pk_hi)?;
    let going = pruning::provably_older(&stored, chunk.start, cutoff);
    let stop = (going < (chunk.end - chunk.start) as usize).then(|| chunk.start + going as u64);
    stored.truncate(going);
    let (chunk, pk_hi) = match stop {
        Some(at) => (chunk.start..at, base | at as i64),
        None => (chunk, pk_hi),
    };
    {
        let mut remember = tx.prepare_cached(
            "INSERT OR IGNORE INTO pruned_ids (tenant, id, seq) VALUES (?1, ?2, ?3)",
        )?;
        for row in &stored {
            remember.execute(params![tenant.0, row.id, row.seq])?;
        }
    }
    for table in ["entry_targets", "entries"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE pk >= ?1 AND pk < ?2"),
            params![pk_lo, pk_hi],
        )?;
    }
    tx.execute(
        "UPDATE log_heads SET first_seq = ?2 WHERE tenant = ?1",
        params![tenant.0, chunk.end as i64],
    )?;
    facets::flush(&tx, &pruning::facet_deltas(tenant, &stored))?;
    // Last, as in the append path: FTS5 flushes its pending changes at every statement
    // savepoint once it has joined the transaction.
    let mut unindex = tx.prepare_cached("DELETE FROM entries_fts WHERE rowid = ?1")?;
    for row in &stored {
        unindex.execute([row.pk])?;
    }
    drop(unindex);
    tx.commit()?;
    Ok(match stop {
        Some(at) => pruning::stopped(chunk.start..at, at),
        None => pruning::removed(chunk, stored.len() as u64, end),
    })
}
