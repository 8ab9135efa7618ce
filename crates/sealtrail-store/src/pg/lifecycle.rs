//! Retention pruning and GDPR erasure on PostgreSQL (the store's `Lifecycle` role). Everything
//! that is not SQL is shared with the SQLite backend ([`crate::pruning`], [`crate::erasure`],
//! [`crate::facets`]); the submodules hold the SQL:
//!
//! * [`prune`] — one chunk of old entries per transaction, then empty old partitions dropped;
//! * [`erase`] — who the subject is, then one chunk of entries scrubbed (or, in a dry run,
//!   previewed) per transaction, and the ledger of runs ([`ledger`]).
//!
//! Several nodes may write one tenant at once: every prune or erasure transaction first locks
//! the tenant's log-head row ([`lock_head`]), as appends do, so it serialises with appends and
//! with other nodes' prunes and erasures, and always sees the log as the last of them left it.

/// Erasure's SQL.
mod erase;
/// The erasure ledger's SQL.
pub(super) mod ledger;
/// Pruning's SQL and the partition drop.
mod prune;
/// Rewriting what held an erased subject.
pub(super) mod rewrite;

use super::admin;
use super::pool::{PgResult, Pool, Tx};
use crate::erasure;
use crate::{
    pruning, ErasureMode, ErasureOutcome, PruneOrder, PruneOutcome, PseudonymKey, StoreError,
};
use sealtrail_core::entry::{Actor, NewEntry};
use sealtrail_core::{TenantId, Timestamp};
use std::sync::Arc;

/// A tenant's log head as locked for one prune or erasure transaction.
#[derive(Debug, Clone, Copy)]
struct LockedHead {
    /// Number of entries ever appended (the tree size).
    size: u64,
    /// The oldest seq not pruned.
    first_seq: u64,
    /// Whether the tenant is under legal hold (read once the lock is held).
    legal_hold: bool,
}

/// Locks the tenant's log-head row until the transaction ends; `NotFound` for a tenant that
/// does not exist. The legal hold is read by a second statement, after the lock is held: under
/// READ COMMITTED a statement that waited for a lock re-reads only the locked row, so reading
/// the hold in the same statement could miss one set (and acknowledged) while it waited.
fn lock_head(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<LockedHead> {
    // Before any row lock: a partition being rewritten after an erasure must not change under
    // the copy, and waiting here holds up no append.
    rewrite::share_rewrite_lock(tx)?;
    let row = tx.query_opt(
        "SELECT next_seq, first_seq FROM log_heads WHERE tenant = $1 FOR UPDATE",
        &[&tenant.0],
    )?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("tenant {}", tenant.0)))?;
    let hold = tx.query_one("SELECT legal_hold FROM tenants WHERE id = $1", &[&tenant.0])?;
    Ok(LockedHead {
        size: row.try_get::<_, i64>(0)?.max(0) as u64,
        first_seq: row.try_get::<_, i64>(1)?.max(0) as u64,
        legal_hold: hold.try_get(0)?,
    })
}

/// Prunes `tenant`'s entries recorded before the order's cutoff (see [`crate::pruning`]): the
/// plan under the log-head lock, the prune's entry through `append`, then one chunk per
/// transaction; then drops the month partitions that became empty.
pub(crate) async fn prune<A, AF>(
    pool: &Arc<Pool>,
    tenant: TenantId,
    order: &PruneOrder,
    append: A,
) -> Result<PruneOutcome, StoreError>
where
    A: FnOnce(NewEntry) -> AF,
    AF: std::future::Future<Output = Result<(), StoreError>>,
{
    let cutoff = order.cutoff;
    let outcome = pruning::run(
        tenant,
        order,
        || {
            pool.write("planning a prune", move |tx| {
                prune::plan(tx, tenant, cutoff)
            })
        },
        append,
        |first, end| {
            pool.write("pruning entries", move |tx| {
                prune::step(tx, tenant, first, end, cutoff)
            })
        },
    )
    .await?;
    if outcome.removed > 0 {
        prune::drop_empty_partitions(pool).await;
    }
    Ok(outcome)
}

/// Erases a data subject from `tenant`'s log (see [`crate::erasure`]), or with
/// [`ErasureMode::DryRun`] computes what that would change from the same steps, each chunk in
/// a read-only snapshot instead of a locked write transaction.
///
/// The old row versions would stay in the table and index files, so each chunk lists the
/// partitions it changed and [`PgStore::finish_erasures`](crate::pg::PgStore) rewrites them
/// ([`rewrite`]) before the erasure answers; old WAL segments are recycled by checkpoints
/// (docs/scale-out.md).
pub(crate) async fn erase_subject(
    pool: &Arc<Pool>,
    tenant: TenantId,
    subject: &str,
    mode: ErasureMode,
    by: &Actor,
    key: &PseudonymKey,
) -> Result<ErasureOutcome, StoreError> {
    erasure::check_subject(subject)?;
    let origin = pool
        .read("reading a log origin", move |tx| {
            admin::tenant_origin(tx, tenant)
        })
        .await?;
    let (owned, finder_key) = (subject.to_string(), key.clone());
    let plan = pool
        .read("finding the subject's entries", move |tx| {
            erase::find_subject(tx, tenant, &owned, &origin, &finder_key)
        })
        .await?;
    let plan = Arc::new(plan);
    if mode == ErasureMode::DryRun {
        return erasure::run(tenant, &plan, mode, |from| {
            let plan = plan.clone();
            pool.read("previewing an erasure", move |tx| {
                erase::preview_chunk(tx, tenant, from, &plan)
            })
        })
        .await;
    }
    let run = erasure::ledger::new_run_id();
    let (pseudonym, by) = (plan.pseudonym.clone(), by.clone());
    let seal = erasure::ledger::run_seal(key, tenant, &run, &pseudonym);
    pool.write("starting an erasure", move |tx| {
        ledger::begin(tx, tenant, run, &pseudonym, &by, &seal)
    })
    .await?;
    let outcome = erasure::run(tenant, &plan, mode, |from| {
        let plan = plan.clone();
        pool.write("erasing a data subject", move |tx| {
            erase::scrub_chunk(tx, tenant, from, &plan, run)
        })
    })
    .await?;
    pool.write("finishing an erasure", move |tx| {
        ledger::touch(tx, tenant, run, true)
    })
    .await?;
    pool.write("withdrawing exports after an erasure", move |tx| {
        super::jobs::withdraw(tx, tenant, Timestamp::now(), &plan)
    })
    .await?;
    Ok(outcome)
}

/// The erasure runs of `tenant` that need their entry ([`erasure::ledger::record_pending`]).
pub(crate) async fn pending_erasures(
    pool: &Arc<Pool>,
    tenant: TenantId,
) -> Result<Vec<erasure::ledger::RunSummary>, StoreError> {
    pool.read("reading unrecorded erasure runs", move |tx| {
        ledger::pending(tx, tenant)
    })
    .await
}

/// Remembers that run `run`'s entry is at `seq`.
pub(crate) async fn mark_recorded(
    pool: &Arc<Pool>,
    tenant: TenantId,
    run: [u8; 16],
    seq: u64,
) -> Result<(), StoreError> {
    pool.write("recording an erasure run", move |tx| {
        ledger::mark_recorded(tx, tenant, run, seq)
    })
    .await
}

/// Rewrites the relations erasures changed ([`rewrite`]), so no table or index file keeps an
/// erased value; what cannot get its lock now is left for the next call (the next erasure,
/// start or nightly prune). Answers the relations still pending after the pass (another node
/// rewriting takes them too). Never fails the caller: the erasure itself has been done.
pub(crate) async fn rewrite_erased(pool: Arc<Pool>) -> Vec<String> {
    let done = pool
        .with_conn(|conn| {
            let report = rewrite::run_pending(conn);
            let pending = rewrite::pending(conn);
            Ok((report, pending))
        })
        .await;
    let (report, pending) = match done {
        Ok(both) => both,
        Err(e) => {
            tracing::error!(error = %e, "rewriting the relations an erasure changed failed; will retry");
            return vec![format!("(unknown: {e})")];
        }
    };
    match report {
        Ok(report) => {
            if !report.rewritten.is_empty() {
                tracing::info!(relations = ?report.rewritten, "rewrote the relations an erasure changed");
            }
            if !report.deferred.is_empty() {
                tracing::warn!(relations = ?report.deferred, "relations an erasure changed could not be locked for their rewrite; will retry");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "rewriting the relations an erasure changed failed; will retry")
        }
    }
    pending.unwrap_or_else(|e| {
        tracing::error!(error = %e, "reading the rewrites still pending failed");
        vec![format!("(unknown: {e})")]
    })
}
