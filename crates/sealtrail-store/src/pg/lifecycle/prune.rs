//! Retention pruning on PostgreSQL: one step removes the next chunk of entries older than the
//! cutoff (the row with its vault values, filter and search columns; its idempotency key; its
//! facet counts), remembers the pruned ids and advances the prune horizon, keeping every tree
//! node. How a prune is cut into steps and what the legal hold does is shared with every
//! backend in [`crate::pruning`].

use super::lock_head;
use crate::pg::facets;
use crate::pg::pool::{Conn, PgError, PgResult, Pool, Tx};
use crate::pg::read::{bound, load_range, stored_from_row, STORED_COLUMNS};
use crate::pg::schema;
use crate::pruning::{self, Chunk, Plan, Step};
use crate::stored_entry::StoredEntry;
use postgres::error::SqlState;
use postgres::IsolationLevel;
use sealtrail_core::{TenantId, Timestamp};
use std::sync::Arc;

/// The first seq recorded at or after `cutoff`, or the log size if every kept entry is
/// older. Entries appended after this is computed are never pruned by the same run.
fn end_seq(tx: &mut Tx<'_>, tenant: TenantId, cutoff: Timestamp, size: u64) -> PgResult<u64> {
    let row = tx.query_opt(
        "SELECT seq FROM entries WHERE tenant = $1 AND recorded_at >= $2
         ORDER BY recorded_at, seq LIMIT 1",
        &[&tenant.0, &cutoff.millis()],
    )?;
    Ok(match row {
        Some(row) => row.try_get::<_, i64>(0)?.max(0) as u64,
        None => size,
    })
}

/// Deletes the entries with seqs in `[lo, hi)` and records their ids in `pruned_ids`, in one
/// statement; returns the deleted rows, ascending, for their facet counts.
fn remove_entries(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    lo: u64,
    hi: u64,
) -> PgResult<Vec<StoredEntry>> {
    let sql = format!(
        "WITH gone AS (
             DELETE FROM entries AS e WHERE e.tenant = $1 AND e.seq >= $2 AND e.seq < $3
             RETURNING {STORED_COLUMNS}
         ), remembered AS (
             INSERT INTO pruned_ids (tenant, id, seq) SELECT $1, id, seq FROM gone
             ON CONFLICT DO NOTHING
         )
         SELECT * FROM gone ORDER BY seq"
    );
    let rows = tx.query(&sql, &[&tenant.0, &bound(lo), &bound(hi)])?;
    Ok(rows
        .iter()
        .map(stored_from_row)
        .collect::<Result<Vec<_>, _>>()?)
}

/// Where a prune of entries recorded before `cutoff` starts and stops; `Conflict` under legal
/// hold, before anything is written.
pub(super) fn plan(tx: &mut Tx<'_>, tenant: TenantId, cutoff: Timestamp) -> PgResult<Plan> {
    let head = lock_head(tx, tenant)?;
    if head.legal_hold {
        pruning::under_hold(tenant, true, head.first_seq)?;
    }
    let at_cutoff = end_seq(tx, tenant, cutoff, head.size)?;
    Ok(Plan::new(head.first_seq, at_cutoff))
}

/// Removes the next chunk of the planned entries, up to `end`, under the tenant's log-head
/// lock; `first` on the prune's first step (a legal hold placed since the plan refuses it).
/// Each entry goes only if its committed time is before `cutoff` ([`pruning::provably_older`]).
pub(super) fn step(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    first: bool,
    end: u64,
    cutoff: Timestamp,
) -> PgResult<Step> {
    let head = lock_head(tx, tenant)?;
    if head.legal_hold {
        return Ok(pruning::under_hold(tenant, first, head.first_seq)?);
    }
    let chunk = match pruning::next_chunk(head.first_seq, end, pruning::CHUNK) {
        Chunk::Remove(chunk) => chunk,
        Chunk::Done(step) => return Ok(step),
    };
    let candidates = load_range(tx, tenant, chunk.start, chunk.end)?;
    let going = pruning::provably_older(&candidates, chunk.start, cutoff) as u64;
    let stop = (going < chunk.end - chunk.start).then_some(chunk.start + going);
    let chunk = match stop {
        Some(at) => chunk.start..at,
        None => chunk,
    };
    let removed = remove_entries(tx, tenant, chunk.start, chunk.end)?;
    tx.execute(
        "DELETE FROM idempotency_keys WHERE tenant = $1 AND seq >= $2 AND seq < $3",
        &[&tenant.0, &bound(chunk.start), &bound(chunk.end)],
    )?;
    tx.execute(
        "UPDATE log_heads SET first_seq = $2 WHERE tenant = $1",
        &[&tenant.0, &bound(chunk.end)],
    )?;
    facets::flush(tx, &pruning::facet_deltas(tenant, &removed))?;
    Ok(match stop {
        Some(at) => pruning::stopped(chunk, at),
        None => pruning::removed(chunk, removed.len() as u64, end),
    })
}

/// Drops the month partitions that are now empty and end before the current month, in one
/// short transaction. This only returns space sooner (the rows are already gone), so it
/// never fails the prune: if the lock is not granted in time (busy tables, another node
/// dropping the same partition), it is skipped and the next prune tries again.
pub(super) async fn drop_empty_partitions(pool: &Arc<Pool>) {
    let Some(before) = schema::months_from(Timestamp::now(), 0)
        .first()
        .map(|m| m.from)
    else {
        return;
    };
    let result = pool.with_conn(move |conn| Ok(try_drop(conn, before))).await;
    match result {
        Ok(Ok(dropped)) if dropped.is_empty() => {}
        Ok(Ok(dropped)) => tracing::info!(?dropped, "dropped empty entry partitions"),
        Ok(Err(PgError::Sql(e))) if is_busy(&e) => tracing::info!(
            error = %crate::pg::error::describe(&e),
            "skipped dropping empty entry partitions; the next prune will try again"
        ),
        Ok(Err(e)) => tracing::warn!(error = %e, "dropping empty entry partitions failed"),
        Err(e) => tracing::warn!(error = %e, "dropping empty entry partitions failed"),
    }
}

/// The drop transaction itself; rolled back (by dropping it) on any error.
fn try_drop(conn: &mut Conn, before: i64) -> PgResult<Vec<String>> {
    let mut tx = conn.begin(IsolationLevel::ReadCommitted, false)?;
    tx.inner().batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}'",
        schema::PARTITION_LOCK_TIMEOUT
    ))?;
    let dropped = schema::drop_empty_partitions(&mut tx, before)?;
    tx.commit()?;
    Ok(dropped)
}

/// True for the errors that only mean "not now": the lock timed out, a deadlock with
/// appends was broken, or another node dropped the partition first.
fn is_busy(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(code) if *code == SqlState::LOCK_NOT_AVAILABLE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::UNDEFINED_TABLE
    )
}
