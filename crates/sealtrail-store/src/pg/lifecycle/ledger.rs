//! The erasure ledger on PostgreSQL (`erasure_runs`, `erased_slots`; schema version 3): the
//! SQL behind [`crate::erasure::ledger`], which says why it exists and what `verify` does with
//! it.

use crate::erasure::ledger::{value_hash, RunSummary, STALE_AFTER_MS};
use crate::erasure::Scrubbed;
use crate::pg::pool::{PgResult, Tx};
use crate::stored_entry::part_code;
use crate::verification::Verifier;
use crate::StoreError;
use postgres::fallible_iterator::FallibleIterator;
use sealtrail_core::entry::Actor;
use sealtrail_core::{TenantId, Timestamp};

/// Starts run `run` of an erasure of the subject called `pseudonym` by `by`.
pub(super) fn begin(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    run: [u8; 16],
    pseudonym: &str,
    by: &Actor,
    seal: &[u8],
) -> PgResult<()> {
    let actor = serde_json::to_string(by)
        .map_err(|e| StoreError::Invalid(format!("the erasing actor: {e}")))?;
    tx.execute(
        "INSERT INTO erasure_runs (tenant, run, pseudonym, actor, updated_at, seal)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &tenant.0,
            &run.as_slice(),
            &pseudonym,
            &actor,
            &Timestamp::now().millis(),
            &seal,
        ],
    )?;
    Ok(())
}

/// Lists the values one scrubbed entry now shows instead of its committed ones, in the
/// transaction that writes them.
pub(super) fn list(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    run: [u8; 16],
    scrubbed: &Scrubbed,
) -> PgResult<()> {
    for slot in &scrubbed.slots {
        let part = slot.part();
        if scrubbed.summary.parts.contains(&part) {
            tx.execute(
                "INSERT INTO erased_slots (tenant, run, seq, part, hash)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant, run, seq, part) DO UPDATE SET hash = EXCLUDED.hash",
                &[
                    &tenant.0,
                    &run.as_slice(),
                    &(scrubbed.summary.seq as i64),
                    &(part_code(part) as i16),
                    &value_hash(slot.bytes()).as_slice(),
                ],
            )?;
        }
    }
    Ok(())
}

/// Notes that run `run` is still moving (after each chunk) or, with `finished`, that it
/// reached the head of the log.
pub(super) fn touch(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    run: [u8; 16],
    finished: bool,
) -> PgResult<()> {
    tx.execute(
        "UPDATE erasure_runs SET updated_at = $3, finished = finished OR $4
         WHERE tenant = $1 AND run = $2",
        &[
            &tenant.0,
            &run.as_slice(),
            &Timestamp::now().millis(),
            &finished,
        ],
    )?;
    Ok(())
}

/// The runs of `tenant` without an entry that are finished or have not moved for
/// [`STALE_AFTER_MS`], summarised from their ledger rows.
pub(super) fn pending(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<Vec<RunSummary>> {
    let stale = Timestamp::now().millis() - STALE_AFTER_MS;
    let had_runs: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM erasure_runs WHERE tenant = $1
                            AND (recorded_seq IS NOT NULL OR seal IS NOT NULL))",
            &[&tenant.0],
        )?
        .try_get(0)?;
    let runs = tx.query(
        "SELECT run, pseudonym, actor, finished, seal FROM erasure_runs
         WHERE tenant = $1 AND recorded_seq IS NULL AND (finished OR updated_at < $2)",
        &[&tenant.0, &stale],
    )?;
    let mut summaries = Vec::new();
    for row in runs {
        let run: Vec<u8> = row.try_get(0)?;
        let Ok(id) = <[u8; 16]>::try_from(run.as_slice()) else {
            return Err(StoreError::Corrupt("an erasure run with a malformed id".into()).into());
        };
        let actor: String = row.try_get(2)?;
        let by: Actor = serde_json::from_str(&actor)
            .map_err(|e| StoreError::Corrupt(format!("the actor of an erasure run: {e}")))?;
        let listed = tx.query(
            "SELECT seq, part, hash FROM erased_slots
             WHERE tenant = $1 AND run = $2 ORDER BY seq, part",
            &[&tenant.0, &run],
        )?;
        let mut rows = Vec::with_capacity(listed.len());
        for r in &listed {
            rows.push((
                r.try_get::<_, i64>(0)?.max(0) as u64,
                r.try_get::<_, i16>(1)?.max(0) as u8,
                r.try_get::<_, Vec<u8>>(2)?,
            ));
        }
        summaries.push(
            RunSummary::from_rows(
                id,
                row.try_get(1)?,
                by,
                row.try_get(3)?,
                rows.iter()
                    .map(|(seq, part, hash)| (*seq, *part, hash.as_slice())),
            )
            .with_seal(row.try_get(4)?, had_runs),
        );
    }
    Ok(summaries)
}

/// Remembers that run `run`'s entry is at `seq`.
pub(super) fn mark_recorded(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    run: [u8; 16],
    seq: u64,
) -> PgResult<()> {
    tx.execute(
        "UPDATE erasure_runs SET recorded_seq = $3 WHERE tenant = $1 AND run = $2",
        &[&tenant.0, &run.as_slice(), &(seq as i64)],
    )?;
    Ok(())
}

/// Streams the tenant's ledger rows into `verifier`, in (run, seq, part) order.
pub(in crate::pg) fn stream(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    verifier: &mut Verifier<'_>,
) -> PgResult<()> {
    let mut rows = tx.inner().query_raw(
        "SELECT run, seq, part::bigint, hash FROM erased_slots WHERE tenant = $1
         ORDER BY run, seq, part",
        [tenant.0],
    )?;
    while let Some(row) = rows.next()? {
        let run: Vec<u8> = row.try_get(0)?;
        let hash: Vec<u8> = row.try_get(3)?;
        verifier.listed(&run, row.try_get(1)?, row.try_get(2)?, &hash);
    }
    Ok(())
}
