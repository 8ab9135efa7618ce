//! The erasure ledger on SQLite (`erasure_runs`, `erased_slots`): the SQL behind
//! [`crate::erasure::ledger`], which says why it exists and what `verify` does with it.

use super::error::backend;
use super::WriteError;
use crate::erasure::ledger::{value_hash, RunSummary, STALE_AFTER_MS};
use crate::erasure::Scrubbed;
use crate::stored_entry::part_code;
use crate::verification::Verifier;
use crate::StoreError;
use rusqlite::{params, Connection, Transaction};
use sealtrail_core::entry::Actor;
use sealtrail_core::{TenantId, Timestamp};

/// Version 8: the ledger, and one run listing every value erased before it existed, recorded
/// by the next start like any run that was never recorded.
pub(crate) fn migrate_v8(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "CREATE TABLE erasure_runs (
             tenant       INTEGER NOT NULL,
             run          BLOB NOT NULL,
             pseudonym    TEXT NOT NULL,
             actor        TEXT NOT NULL,           -- JSON: who erased, for the run's entry
             finished     INTEGER NOT NULL DEFAULT 0,
             updated_at   INTEGER NOT NULL,        -- ms, the run's last chunk
             recorded_seq INTEGER,                 -- its subject.erased entry, once written
             PRIMARY KEY (tenant, run)
         ) WITHOUT ROWID;
         CREATE TABLE erased_slots (
             tenant INTEGER NOT NULL,
             run    BLOB NOT NULL,
             seq    INTEGER NOT NULL,
             part   INTEGER NOT NULL,
             hash   BLOB NOT NULL,                 -- SHA-256 of the replacement written
             PRIMARY KEY (tenant, run, seq, part)
         ) WITHOUT ROWID;",
    )
    .map_err(backend("creating the erasure ledger"))?;
    list_earlier_erasures(tx)
}

/// Lists every value erased before the ledger existed, one run per tenant.
fn list_earlier_erasures(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let read = backend("listing earlier erasures");
    let mut stmt = tx
        .prepare(
            "SELECT tenant, seq, actor_salt IS NULL AND actor_value IS NOT NULL, actor_value,
                    context_salt IS NULL AND context_value IS NOT NULL, context_value,
                    payload_salt IS NULL AND payload_value IS NOT NULL, payload_value
             FROM entries
             WHERE actor_salt IS NULL OR context_salt IS NULL OR payload_salt IS NULL
             ORDER BY pk",
        )
        .map_err(&read)?;
    let mut rows = stmt.query([]).map_err(&read)?;
    let mut runs: std::collections::HashMap<i64, [u8; 16]> = Default::default();
    let write = backend("listing an earlier erasure");
    while let Some(row) = rows.next().map_err(&read)? {
        let tenant: i64 = row.get(0).map_err(&read)?;
        let seq: i64 = row.get(1).map_err(&read)?;
        let run = match runs.get(&tenant) {
            Some(run) => *run,
            None => {
                let run = crate::erasure::ledger::new_run_id();
                // The same actor PostgreSQL's upgrade writes (id `system`), whichever build
                // upgrades the file.
                let actor = r#"{"type":"system","id":"system","name":"Upgrade"}"#;
                tx.execute(
                    "INSERT INTO erasure_runs (tenant, run, pseudonym, actor, finished, updated_at)
                     VALUES (?1, ?2, '', ?3, 1, ?4)",
                    params![tenant, run.as_slice(), actor, Timestamp::now().millis()],
                )
                .map_err(&write)?;
                runs.insert(tenant, run);
                run
            }
        };
        for part in 0..3usize {
            let erased: bool = row.get(2 + 2 * part).map_err(&read)?;
            if erased {
                let value: Vec<u8> = row.get(3 + 2 * part).map_err(&read)?;
                tx.execute(
                    "INSERT INTO erased_slots (tenant, run, seq, part, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        tenant,
                        run.as_slice(),
                        seq,
                        part as i64,
                        value_hash(&value).as_slice()
                    ],
                )
                .map_err(&write)?;
            }
        }
    }
    Ok(())
}

/// Starts run `run` of an erasure of the subject called `pseudonym` by `by`, sealed with
/// `seal` ([`crate::erasure::ledger::run_seal`]).
pub(crate) fn begin(
    conn: &mut Connection,
    tenant: TenantId,
    run: [u8; 16],
    pseudonym: &str,
    by: &Actor,
    seal: &[u8],
) -> Result<(), WriteError> {
    let actor = serde_json::to_string(by)
        .map_err(|e| StoreError::Invalid(format!("the erasing actor: {e}")))?;
    conn.execute(
        "INSERT INTO erasure_runs (tenant, run, pseudonym, actor, updated_at, seal)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            tenant.0,
            run.as_slice(),
            pseudonym,
            actor,
            Timestamp::now().millis(),
            seal
        ],
    )?;
    Ok(())
}

/// Lists the values one scrubbed entry now shows instead of its committed ones, in the
/// transaction that writes them.
pub(crate) fn list(
    tx: &Connection,
    tenant: TenantId,
    run: [u8; 16],
    scrubbed: &Scrubbed,
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO erased_slots (tenant, run, seq, part, hash)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for slot in &scrubbed.slots {
        let part = slot.part();
        if scrubbed.summary.parts.contains(&part) {
            insert.execute(params![
                tenant.0,
                run.as_slice(),
                scrubbed.summary.seq as i64,
                part_code(part),
                value_hash(slot.bytes()).as_slice()
            ])?;
        }
    }
    Ok(())
}

/// Notes that run `run` is still moving (after each chunk) or, with `finished`, that it
/// reached the head of the log.
pub(crate) fn touch(
    tx: &Connection,
    tenant: TenantId,
    run: [u8; 16],
    finished: bool,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE erasure_runs SET updated_at = ?3, finished = finished OR ?4
         WHERE tenant = ?1 AND run = ?2",
    )?
    .execute(params![
        tenant.0,
        run.as_slice(),
        Timestamp::now().millis(),
        finished
    ])?;
    Ok(())
}

/// Marks run `run` finished.
pub(crate) fn finish(
    conn: &mut Connection,
    tenant: TenantId,
    run: [u8; 16],
) -> Result<(), WriteError> {
    touch(conn, tenant, run, true)?;
    Ok(())
}

/// The runs of `tenant` without an entry that are finished or have not moved for
/// [`STALE_AFTER_MS`], summarised from their ledger rows.
pub(crate) fn pending(conn: &Connection, tenant: TenantId) -> Result<Vec<RunSummary>, StoreError> {
    let read = backend("reading unrecorded erasure runs");
    let stale = Timestamp::now().millis() - STALE_AFTER_MS;
    let had_runs: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM erasure_runs WHERE tenant = ?1
                            AND (recorded_seq IS NOT NULL OR seal IS NOT NULL))",
        )
        .and_then(|mut s| s.query_row([tenant.0], |r| r.get(0)))
        .map_err(&read)?;
    type RunRow = (Vec<u8>, String, String, bool, Option<Vec<u8>>);
    let runs: Vec<RunRow> = conn
        .prepare_cached(
            "SELECT run, pseudonym, actor, finished, seal FROM erasure_runs
             WHERE tenant = ?1 AND recorded_seq IS NULL AND (finished OR updated_at < ?2)",
        )
        .and_then(|mut s| {
            s.query_map(params![tenant.0, stale], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .map_err(&read)?;
    let mut summaries = Vec::new();
    for (run, pseudonym, actor, finished, seal) in runs {
        let Ok(id) = <[u8; 16]>::try_from(run.as_slice()) else {
            return Err(StoreError::Corrupt(
                "an erasure run with a malformed id".into(),
            ));
        };
        let by: Actor = serde_json::from_str(&actor)
            .map_err(|e| StoreError::Corrupt(format!("the actor of an erasure run: {e}")))?;
        let rows: Vec<(i64, i64, Vec<u8>)> = conn
            .prepare_cached(
                "SELECT seq, part, hash FROM erased_slots
                 WHERE tenant = ?1 AND run = ?2 ORDER BY seq, part",
            )
            .and_then(|mut s| {
                s.query_map(params![tenant.0, run], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            })
            .map_err(&read)?;
        summaries.push(
            RunSummary::from_rows(
                id,
                pseudonym,
                by,
                finished,
                rows.iter()
                    .map(|(seq, part, hash)| (*seq as u64, *part as u8, hash.as_slice())),
            )
            .with_seal(seal, had_runs),
        );
    }
    Ok(summaries)
}

/// Remembers that run `run`'s entry is at `seq`.
pub(crate) fn mark_recorded(
    conn: &mut Connection,
    tenant: TenantId,
    run: [u8; 16],
    seq: u64,
) -> Result<(), WriteError> {
    conn.execute(
        "UPDATE erasure_runs SET recorded_seq = ?3 WHERE tenant = ?1 AND run = ?2",
        params![tenant.0, run.as_slice(), seq as i64],
    )?;
    Ok(())
}

/// Streams the tenant's ledger rows into `verifier`, in (run, seq, part) order.
pub(crate) fn stream(
    conn: &Connection,
    tenant: TenantId,
    verifier: &mut Verifier<'_>,
) -> Result<(), StoreError> {
    let read = backend("reading the erasure ledger");
    let mut stmt = conn
        .prepare(
            "SELECT run, seq, part, hash FROM erased_slots WHERE tenant = ?1
             ORDER BY run, seq, part",
        )
        .map_err(&read)?;
    let mut rows = stmt.query([tenant.0]).map_err(&read)?;
    while let Some(row) = rows.next().map_err(&read)? {
        let run = super::vault::bytes(row, 0)
            .map_err(&read)?
            .unwrap_or_default();
        let seq = super::vault::integer(row, 1).map_err(&read)?.unwrap_or(-1);
        let part = super::vault::integer(row, 2).map_err(&read)?.unwrap_or(-1);
        let hash = super::vault::bytes(row, 3)
            .map_err(&read)?
            .unwrap_or_default();
        verifier.listed(&run, seq, part, &hash);
    }
    Ok(())
}
