//! Retention pruning, the part every backend shares: how a prune is cut into steps, what the
//! legal hold does to it, which facet counts the removed entries take with them, and the loop
//! that drives the steps. Each backend's step (`sqlite::prune`, `pg::lifecycle::prune`) only
//! reads the tenant's state and deletes rows.
//!
//! Since `recorded_at` never decreases along seq, the entries to remove are always a prefix
//! `[first_seq, end)` of the log; each step removes a bounded chunk of it in its own write
//! transaction, so appends queued behind a big prune wait for one chunk, not for the whole
//! prune. Tree hashes are never removed, so every proof and every consistency check between
//! old and new tree sizes still holds.
//!
//! **The log says what was pruned.** Before the first step, the prune appends its
//! `retention.pruned` entry ([`record`]) naming `end` as the first seq it keeps; `verify`
//! accepts a prune horizon only up to the highest such seq named by a verified entry. Written
//! first, the entry is durable before any row goes: a crash in between leaves a horizon behind
//! the one named (the next prune finishes the job), never one ahead of it. Someone deleting
//! rows and moving the horizon by hand has no such entry, and `verify` names the gap.

use crate::facets::FacetDeltas;
use crate::stored_entry::StoredEntry;
use crate::{PruneOrder, PruneOutcome, StoreError};
use sealtrail_core::entry::{Context, NewEntry, Outcome, PRUNE_ACTION};
use sealtrail_core::{TenantId, Timestamp};
use serde_json::{json, Map};
use std::future::Future;
use std::ops::Range;

/// Entries removed per write transaction on PostgreSQL: large enough to amortise a
/// transaction, small enough that appends waiting for the tenant's log head are delayed by
/// well under a second. (SQLite's single writer holds every tenant's appends behind a chunk,
/// so it removes fewer at a time: `sqlite::prune::CHUNK`.)
pub(crate) const CHUNK: u64 = 5_000;

/// Where a prune starts and stops, fixed before it writes anything.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// The oldest seq held when the prune was planned.
    pub first_seq: u64,
    /// The first seq the prune keeps: the first entry recorded at or after the cutoff, or the
    /// log size; never below `first_seq` (a longer window does not bring entries back).
    pub end: u64,
}

impl Plan {
    /// The plan for a log pruned below `first_seq` whose first entry recorded at or after the
    /// cutoff is `at_cutoff`.
    pub(crate) fn new(first_seq: u64, at_cutoff: u64) -> Plan {
        Plan {
            first_seq,
            end: at_cutoff.max(first_seq),
        }
    }
}

/// The `retention.pruned` entry a prune appends before it removes anything. Its
/// `first_kept_seq` is what `verify` holds the prune horizon to.
pub(crate) fn record(order: &PruneOrder, plan: Plan) -> NewEntry {
    let removing = plan.end - plan.first_seq;
    let cutoff = order.cutoff.to_rfc3339();
    let mut properties = Map::new();
    properties.insert("removed".into(), json!(removing));
    properties.insert("cutoff".into(), json!(cutoff));
    properties.insert("first_removed_seq".into(), json!(plan.first_seq));
    properties.insert("first_kept_seq".into(), json!(plan.end));
    if let Some(days) = order.retention_days {
        properties.insert("retention_days".into(), json!(days));
    }
    NewEntry {
        occurred_at: None,
        channel: "compliance".into(),
        action: PRUNE_ACTION.into(),
        event: "deleted".into(),
        category: Some("Security Events".into()),
        description: format!("Retention prune removes {removing} entries recorded before {cutoff}"),
        result: Outcome::Success,
        actor: order.by.clone(),
        targets: Vec::new(),
        context: Context::default(),
        changes: None,
        properties,
        redacted: Vec::new(),
        idempotency_key: None,
    }
}

/// What one step did and where the prune stands.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    /// Entries removed by this step.
    pub removed: u64,
    /// The oldest seq still held after this step.
    pub first_kept_seq: u64,
    /// True when nothing more is to be removed (or a legal hold stopped the prune).
    pub done: bool,
}

/// What the next step does.
#[derive(Debug, Clone)]
pub(crate) enum Chunk {
    /// Remove the entries with these seqs.
    Remove(Range<u64>),
    /// Nothing is left to remove: the step ends the prune as it is.
    Done(Step),
}

/// Applies the legal hold to a step of a tenant under hold. The first step is refused, so the
/// caller learns that nothing was pruned; a later step (the hold was set while the prune ran)
/// ends the prune quietly, and the outcome reports what was removed before.
pub(crate) fn under_hold(
    tenant: TenantId,
    first_step: bool,
    first_seq: u64,
) -> Result<Step, StoreError> {
    if first_step {
        return Err(StoreError::Conflict(format!(
            "legal hold: tenant {} is under legal hold, nothing was pruned",
            tenant.0
        )));
    }
    Ok(Step {
        removed: 0,
        first_kept_seq: first_seq,
        done: true,
    })
}

/// The next chunk of `[first_seq, end)`, at most `most` seqs.
pub(crate) fn next_chunk(first_seq: u64, end: u64, most: u64) -> Chunk {
    let hi = end.min(first_seq.saturating_add(most.max(1)));
    if first_seq >= hi {
        return Chunk::Done(Step {
            removed: 0,
            first_kept_seq: first_seq,
            done: true,
        });
    }
    Chunk::Remove(first_seq..hi)
}

/// The step that removed `removed` entries of `chunk`, on the way to `end`.
pub(crate) fn removed(chunk: Range<u64>, removed: u64, end: u64) -> Step {
    Step {
        removed,
        first_kept_seq: chunk.end,
        done: chunk.end >= end,
    }
}

/// How many of `rows` (one chunk, in seq order, from its first seq on) may go: those whose
/// *committed* time — the envelope's, not the `recorded_at` column the plan selected by — is
/// before `cutoff`, up to the first that is not, does not open, or leaves a gap. A column
/// edited to make recent entries look old therefore stops the prune instead of steering it
/// (and the edit is what `verify` then reports).
pub(crate) fn provably_older(rows: &[StoredEntry], first_seq: u64, cutoff: Timestamp) -> usize {
    for (i, (expected, row)) in (first_seq..).zip(rows).enumerate() {
        let older = u64::try_from(row.seq).ok() == Some(expected)
            && row.open().is_ok_and(|entry| entry.recorded_at < cutoff);
        if !older {
            tracing::warn!(
                seq = row.seq,
                "prune stopped: the entry's committed time is not before the cutoff, or it does not open, although its recorded_at column placed it before; run `sealtrail verify`"
            );
            return i;
        }
    }
    rows.len()
}

/// The step that removed the first `kept_from - chunk.start` entries of `chunk` and stopped
/// there because the next one is not provably older than the cutoff.
pub(crate) fn stopped(chunk: Range<u64>, kept_from: u64) -> Step {
    Step {
        removed: kept_from - chunk.start,
        first_kept_seq: kept_from,
        done: true,
    }
}

/// The facet counts the removed entries take with them. A damaged row is still removed; only
/// its facet counts cannot be corrected, which is logged.
pub(crate) fn facet_deltas(tenant: TenantId, removed: &[StoredEntry]) -> FacetDeltas {
    let mut facets = FacetDeltas::default();
    for row in removed {
        match row.open() {
            Ok(entry) => facets.add(tenant, &entry, -1),
            Err(e) => {
                tracing::warn!(error = %e, pk = row.pk, "pruning an entry that does not open")
            }
        }
    }
    facets
}

/// Runs a prune to its end: `plan` reads where the log stands (refusing under legal hold),
/// `append` writes the prune's entry and waits for it to be durable, then `step(first)` runs
/// one write transaction removing the next chunk of `[first_seq, end)` until one is done.
pub(crate) async fn run<P, A, S, PF, AF, SF>(
    tenant: TenantId,
    order: &PruneOrder,
    plan: P,
    append: A,
    mut step: S,
) -> Result<PruneOutcome, StoreError>
where
    P: FnOnce() -> PF,
    PF: Future<Output = Result<Plan, StoreError>>,
    A: FnOnce(NewEntry) -> AF,
    AF: Future<Output = Result<(), StoreError>>,
    S: FnMut(bool, u64) -> SF,
    SF: Future<Output = Result<Step, StoreError>>,
{
    let plan = plan().await?;
    append(record(order, plan)).await?;
    let mut removed = 0;
    let mut first = true;
    loop {
        let step = step(first, plan.end).await?;
        first = false;
        removed += step.removed;
        if step.done {
            if removed > 0 {
                tracing::info!(tenant = tenant.0, removed, "pruned entries");
            }
            return Ok(PruneOutcome {
                removed,
                cutoff: order.cutoff,
                first_kept_seq: step.first_kept_seq,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_prefix_once() {
        let mut first = 0;
        let mut seen = 0;
        loop {
            match next_chunk(first, 12_345, CHUNK) {
                Chunk::Remove(r) => {
                    assert!(r.end - r.start <= CHUNK);
                    seen += r.end - r.start;
                    let step = removed(r.clone(), r.end - r.start, 12_345);
                    first = step.first_kept_seq;
                }
                Chunk::Done(step) => {
                    assert_eq!((step.first_kept_seq, step.done), (12_345, true));
                    break;
                }
            }
        }
        assert_eq!(seen, 12_345);
    }

    #[test]
    fn a_hold_refuses_the_first_step_only() {
        assert!(matches!(
            under_hold(TenantId(1), true, 3),
            Err(StoreError::Conflict(m)) if m.contains("legal hold")
        ));
        let later = under_hold(TenantId(1), false, 3).ok();
        assert_eq!(
            later.map(|s| (s.removed, s.first_kept_seq, s.done)),
            Some((0, 3, true))
        );
    }
}
