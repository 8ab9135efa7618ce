//! Retention pruning: entries recorded before a cutoff lose their rows (envelope, vault values,
//! targets, search words, facet counts) but keep their tree hashes, so every proof and every
//! consistency check between old and new tree sizes still holds. Since `recorded_at` never
//! decreases along seq, the entries to remove are always a prefix `[first_seq, end)` of the
//! log; each step removes a bounded chunk of it in its own write transaction, so appends
//! queued behind a big prune wait for one chunk, not for the whole prune.

use super::admin::settings;
use super::append::tenant_base;
use super::error::backend;
use super::facets::FacetDeltas;
use super::read::log_head;
use super::{vault, WriteError};
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sealtrail_core::{TenantId, Timestamp};

/// Entries removed per write transaction.
pub(crate) const CHUNK: u64 = 5_000;

/// What one step did and where the prune stands.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    /// Entries removed by this step.
    pub removed: u64,
    /// The oldest seq still held after this step.
    pub first_kept_seq: u64,
    /// The seq the prune stops at (fixed by the first step).
    pub end: u64,
    /// True when nothing more is to be removed (or a legal hold stopped the prune).
    pub done: bool,
}

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

/// Removes the next chunk of entries older than `cutoff`. `end` is `None` on the first step,
/// which fixes it. A legal hold refuses the first step and ends a later one quietly (the
/// outcome then reports what was removed before the hold was set).
pub(crate) fn step(
    conn: &mut Connection,
    tenant: TenantId,
    cutoff: Timestamp,
    end: Option<u64>,
) -> Result<Step, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let hold = settings(&tx, tenant)?.legal_hold;
    let (Some(head), Some(base)) = (log_head(&tx, tenant)?, tenant_base(tenant)) else {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)).into());
    };
    if hold {
        if end.is_none() {
            return Err(StoreError::Conflict(format!(
                "legal hold: tenant {} is under legal hold, nothing was pruned",
                tenant.0
            ))
            .into());
        }
        return Ok(Step {
            removed: 0,
            first_kept_seq: head.first_seq,
            end: head.first_seq,
            done: true,
        });
    }
    let end = match end {
        Some(end) => end,
        None => end_seq(&tx, tenant, cutoff, head.size)?,
    };
    let lo = head.first_seq;
    let hi = end.min(lo.saturating_add(CHUNK));
    if lo >= hi {
        return Ok(Step {
            removed: 0,
            first_kept_seq: lo,
            end,
            done: true,
        });
    }
    let (pk_lo, pk_hi) = (base | lo as i64, base | hi as i64);
    let stored = vault::load_range(&tx, pk_lo, pk_hi)?;
    let mut facets = FacetDeltas::default();
    {
        let mut remember = tx.prepare_cached(
            "INSERT OR IGNORE INTO pruned_ids (tenant, id, seq) VALUES (?1, ?2, ?3)",
        )?;
        for row in &stored {
            match row.open() {
                Ok(entry) => facets.add(tenant, &entry, -1),
                // A damaged row is still removed; only its facet counts cannot be corrected.
                Err(e) => {
                    tracing::warn!(error = %e, pk = row.pk, "pruning an entry that does not open")
                }
            }
            remember.execute(params![tenant.0, row.id, row.seq])?;
        }
    }
    for table in ["entry_targets", "vault", "entries"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE pk >= ?1 AND pk < ?2"),
            params![pk_lo, pk_hi],
        )?;
    }
    tx.execute(
        "UPDATE log_heads SET first_seq = ?2 WHERE tenant = ?1",
        params![tenant.0, hi as i64],
    )?;
    facets.flush(&tx)?;
    // Last, as in the append path: FTS5 flushes its pending changes at every statement
    // savepoint once it has joined the transaction.
    let mut unindex = tx.prepare_cached("DELETE FROM entries_fts WHERE rowid = ?1")?;
    for row in &stored {
        unindex.execute([row.pk])?;
    }
    drop(unindex);
    tx.commit()?;
    Ok(Step {
        removed: stored.len() as u64,
        first_kept_seq: hi,
        end,
        done: hi >= end,
    })
}
