//! Export jobs on PostgreSQL: records in `export_jobs`, file bytes in `export_files` (one row
//! per write, keyed by its offset), so every node answers a job's status and serves its file.
//! A runner's write first locks its job's row (`FOR SHARE`) under the attempt it claimed: a
//! sweep that takes the job away waits for that write, or the write sees the job gone.

use super::pool::{PgResult, Tx};
use super::PgStore;
use crate::erasure::Plan;
use crate::jobs::BACK_TO_QUEUE;
use crate::{JobAttempt, JobEnd, JobSweep, StoreError, StoredJob, SweepRules};
use postgres::Row;
use sealtrail_core::jobs::JobState;
use sealtrail_core::{TenantId, Timestamp};
use uuid::Uuid;

/// The columns [`job_from_row`] reads.
const COLUMNS: &str = "tenant, id, state, spec, node, attempt, heartbeat_at, row_count, \
                       byte_count, created_at, started_at, finished_at, expires_at, error";

/// The database's time in milliseconds: every node's heartbeats and the silence they are
/// compared with are measured by one clock.
const DB_NOW: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// Files of jobs in these states (or expired past the grace) are deleted by a sweep.
const FILES_UNNEEDED: &str =
    "j.state IN ('queued', 'failed') OR (j.state = 'expired' AND j.expires_at <= $1)";

fn job_from_row(row: &Row) -> PgResult<StoredJob> {
    let (id, state): (String, String) = (row.try_get(1)?, row.try_get(2)?);
    let attempt: i32 = row.try_get(5)?;
    let count = |i: usize| -> PgResult<u64> { Ok(row.try_get::<_, i64>(i)?.max(0) as u64) };
    let time = |i: usize| -> PgResult<Option<Timestamp>> {
        Ok(row.try_get::<_, Option<i64>>(i)?.map(Timestamp))
    };
    Ok(StoredJob {
        tenant: TenantId(row.try_get(0)?),
        id: Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("job id {id}")))?,
        state: JobState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("job state {state}")))?,
        spec: row.try_get(3)?,
        node: row.try_get(4)?,
        attempt: u32::try_from(attempt).unwrap_or(0),
        heartbeat_at: time(6)?,
        rows: count(7)?,
        bytes: count(8)?,
        created_at: Timestamp(row.try_get(9)?),
        started_at: time(10)?,
        finished_at: time(11)?,
        expires_at: time(12)?,
        error: row.try_get(13)?,
    })
}

/// A count or attempt as PostgreSQL stores it.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn attempt_value(attempt: u32) -> i32 {
    i32::try_from(attempt).unwrap_or(i32::MAX)
}

/// An attempt's key columns as PostgreSQL stores them: tenant, id, attempt.
fn key(job: &JobAttempt) -> (i64, String, i32) {
    (job.tenant.0, job.id.to_string(), attempt_value(job.attempt))
}

fn add(tx: &mut Tx<'_>, job: &StoredJob, max_pending: u32) -> PgResult<bool> {
    // One submission per tenant at a time, on every node, so the limit is exact.
    if tx
        .query_opt(
            "SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
            &[&job.tenant.0],
        )?
        .is_none()
    {
        return Err(StoreError::NotFound(format!("tenant {}", job.tenant.0)).into());
    }
    let pending: i64 = tx
        .query_one(
            "SELECT count(*) FROM export_jobs WHERE tenant = $1 AND state IN ('queued', 'running')",
            &[&job.tenant.0],
        )?
        .try_get(0)?;
    if pending >= i64::from(max_pending) {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO export_jobs (tenant, id, state, spec, attempt, row_count, byte_count, created_at)
         VALUES ($1, $2, $3, $4, 0, 0, 0, $5)",
        &[
            &job.tenant.0,
            &job.id.to_string(),
            &job.state.as_str(),
            &job.spec,
            &job.created_at.millis(),
        ],
    )?;
    Ok(true)
}

fn claim(tx: &mut Tx<'_>, node: &str, now: Timestamp) -> PgResult<Option<StoredJob>> {
    tx.query_opt(
        &format!(
            "UPDATE export_jobs SET state = 'running', node = $1, attempt = attempt + 1,
                    started_at = $2, heartbeat_at = {DB_NOW}, row_count = 0, byte_count = 0
             WHERE (tenant, id) = (
                 SELECT tenant, id FROM export_jobs WHERE state = 'queued'
                 ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING {COLUMNS}"
        ),
        &[&node, &now.millis()],
    )?
    .map(|row| job_from_row(&row))
    .transpose()
}

fn write_file(tx: &mut Tx<'_>, job: &JobAttempt, offset: u64, data: &[u8]) -> PgResult<bool> {
    let (tenant, id, attempt) = key(job);
    let running = tx.query_opt(
        "SELECT 1 FROM export_jobs
         WHERE tenant = $1 AND id = $2 AND state = 'running' AND attempt = $3 FOR SHARE",
        &[&tenant, &id, &attempt],
    )?;
    if running.is_none() {
        return Ok(false);
    }
    tx.execute(
        "DELETE FROM export_files WHERE tenant = $1 AND job = $2 AND start >= $3",
        &[&tenant, &id, &int(offset)],
    )?;
    tx.execute(
        "INSERT INTO export_files (tenant, job, start, data) VALUES ($1, $2, $3, $4)",
        &[&tenant, &id, &int(offset), &data],
    )?;
    Ok(true)
}

fn end(
    tx: &mut Tx<'_>,
    job: &JobAttempt,
    (rows, bytes): (u64, u64),
    end: &JobEnd,
    now: Timestamp,
) -> PgResult<bool> {
    let guard = "WHERE tenant = $1 AND id = $2 AND state = 'running' AND attempt = $3";
    let (tenant, id, attempt) = key(job);
    let changed = match end.finished() {
        Some((state, expires_at, error)) => tx.execute(
            &format!(
                "UPDATE export_jobs SET state = $4, node = NULL, heartbeat_at = NULL,
                        row_count = $5, byte_count = $6, finished_at = $7, expires_at = $8,
                        error = $9 {guard}"
            ),
            &[
                &tenant,
                &id,
                &attempt,
                &state.as_str(),
                &int(rows),
                &int(bytes),
                &now.millis(),
                &expires_at.millis(),
                &error,
            ],
        )?,
        None => tx.execute(
            &format!("UPDATE export_jobs SET {BACK_TO_QUEUE}, attempt = attempt - 1 {guard}"),
            &[&tenant, &id, &attempt],
        )?,
    };
    if changed == 1 && !matches!(end, JobEnd::Ready { .. }) {
        tx.execute(
            "DELETE FROM export_files WHERE tenant = $1 AND job = $2",
            &[&tenant, &id],
        )?;
    }
    Ok(changed == 1)
}

fn read_file(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    id: &str,
    offset: u64,
    max: usize,
) -> PgResult<Vec<u8>> {
    let row = tx.query_opt(
        "SELECT f.start, substring(f.data FROM ($3 - f.start + 1)::int FOR $4)
         FROM export_files f JOIN export_jobs j ON j.tenant = f.tenant AND j.id = f.job
         WHERE f.tenant = $1 AND f.job = $2 AND f.start <= $3
           AND j.state IN ('ready', 'expired')
         ORDER BY f.start DESC LIMIT 1",
        &[
            &tenant.0,
            &id,
            &int(offset),
            &i32::try_from(max).unwrap_or(i32::MAX),
        ],
    )?;
    Ok(match row {
        Some(row) => row.try_get::<_, Vec<u8>>(1)?,
        None => Vec::new(),
    })
}

fn sweep(tx: &mut Tx<'_>, rules: &SweepRules) -> PgResult<JobSweep> {
    let taken = format!("state = 'running' AND (heartbeat_at < {DB_NOW} - $1 OR node = $2)");
    let max_attempts = attempt_value(rules.max_attempts);
    let silent = i64::try_from(rules.silent_for.as_millis()).unwrap_or(i64::MAX);
    let failed = tx.execute(
        &format!(
            "UPDATE export_jobs SET state = 'failed', node = NULL, heartbeat_at = NULL,
                    error = $4, finished_at = $5, expires_at = $5
             WHERE {taken} AND attempt >= $3"
        ),
        &[
            &silent,
            &rules.dead_node,
            &max_attempts,
            &rules.failed_error,
            &rules.failed_expires_at.millis(),
        ],
    )?;
    let requeued = tx.execute(
        &format!("UPDATE export_jobs SET {BACK_TO_QUEUE} WHERE {taken}"),
        &[&silent, &rules.dead_node],
    )?;
    let expired = tx.execute(
        "UPDATE export_jobs SET state = 'expired' WHERE state = 'ready' AND expires_at <= $1",
        &[&rules.expire_before.millis()],
    )?;
    tx.execute(
        &format!(
            "DELETE FROM export_files f USING export_jobs j
             WHERE j.tenant = f.tenant AND j.id = f.job AND ({FILES_UNNEEDED})"
        ),
        &[&rules.delete_files_before.millis()],
    )?;
    let forgotten = tx.execute(
        "DELETE FROM export_jobs WHERE state IN ('failed', 'expired') AND expires_at <= $1",
        &[&rules.records_before.millis()],
    )?;
    // Bytes whose job is gone (it was forgotten while a write was under way).
    tx.execute(
        "DELETE FROM export_files f WHERE NOT EXISTS (
             SELECT 1 FROM export_jobs j WHERE j.tenant = f.tenant AND j.id = f.job)",
        &[],
    )?;
    Ok(JobSweep {
        requeued,
        failed,
        expired,
        forgotten,
    })
}

#[async_trait::async_trait]
impl crate::Jobs for PgStore {
    async fn add_job(&self, job: StoredJob, max_pending: u32) -> Result<bool, StoreError> {
        self.pool
            .write("adding an export job", move |tx| add(tx, &job, max_pending))
            .await
    }

    async fn job(&self, tenant: TenantId, id: Uuid) -> Result<Option<StoredJob>, StoreError> {
        let id = id.to_string();
        self.pool
            .read("reading an export job", move |tx| {
                tx.query_opt(
                    &format!("SELECT {COLUMNS} FROM export_jobs WHERE tenant = $1 AND id = $2"),
                    &[&tenant.0, &id],
                )?
                .map(|row| job_from_row(&row))
                .transpose()
            })
            .await
    }

    async fn jobs(&self, tenant: TenantId) -> Result<Vec<StoredJob>, StoreError> {
        self.pool
            .read("listing export jobs", move |tx| {
                tx.query(
                    &format!(
                        "SELECT {COLUMNS} FROM export_jobs WHERE tenant = $1
                         ORDER BY created_at DESC, id DESC"
                    ),
                    &[&tenant.0],
                )?
                .iter()
                .map(job_from_row)
                .collect()
            })
            .await
    }

    async fn claim_job(&self, node: &str, now: Timestamp) -> Result<Option<StoredJob>, StoreError> {
        let node = node.to_string();
        self.pool
            .write("claiming an export job", move |tx| claim(tx, &node, now))
            .await
    }

    async fn job_progress(
        &self,
        job: JobAttempt,
        rows: u64,
        bytes: u64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let _ = now; // stamped with the database's clock instead
        let (tenant, id, attempt) = key(&job);
        self.pool
            .write("recording an export job's progress", move |tx| {
                Ok(tx.execute(
                    &format!(
                        "UPDATE export_jobs SET row_count = $4, byte_count = $5, heartbeat_at = {DB_NOW}
                         WHERE tenant = $1 AND id = $2 AND state = 'running' AND attempt = $3"
                    ),
                    &[&tenant, &id, &attempt, &int(rows), &int(bytes)],
                )? == 1)
            })
            .await
    }

    async fn write_job_file(
        &self,
        job: JobAttempt,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<bool, StoreError> {
        self.pool
            .write("writing an export job's file", move |tx| {
                write_file(tx, &job, offset, &data)
            })
            .await
    }

    async fn end_job(
        &self,
        job: JobAttempt,
        rows: u64,
        bytes: u64,
        job_end: JobEnd,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.pool
            .write("ending an export job", move |tx| {
                end(tx, &job, (rows, bytes), &job_end, now)
            })
            .await
    }

    async fn read_job_file(
        &self,
        tenant: TenantId,
        id: Uuid,
        _attempt: u32,
        offset: u64,
        max: usize,
    ) -> Result<Vec<u8>, StoreError> {
        // Only the attempt that ended ready has bytes here: every other lost them with its end.
        let id = id.to_string();
        self.pool
            .read("reading an export job's file", move |tx| {
                read_file(tx, tenant, &id, offset, max)
            })
            .await
    }

    async fn sweep_jobs(&self, rules: SweepRules) -> Result<JobSweep, StoreError> {
        self.pool
            .write("sweeping export jobs", move |tx| sweep(tx, &rules))
            .await
    }
}

/// After an erasure of `tenant`: files exported before it may hold the erased values, so the
/// tenant's ready jobs expire at once, running ones go back to the queue (to run again on the
/// erased log), and all their bytes are deleted — then rewritten away with the table. Every
/// job's spec is rewritten without the subject ([`crate::erasure::scrub_spec`]), and the
/// table rewritten too when one changed (`UPDATE` leaves the old text in a dead row).
pub(crate) fn withdraw(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    now: Timestamp,
    plan: &Plan,
) -> PgResult<u64> {
    let specs = tx.query(
        "SELECT id, spec FROM export_jobs WHERE tenant = $1 FOR UPDATE",
        &[&tenant.0],
    )?;
    let mut rewritten = 0u64;
    for row in &specs {
        let (id, spec): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if let Some(scrubbed) = crate::erasure::scrub_spec(&spec, plan) {
            tx.execute(
                "UPDATE export_jobs SET spec = $3 WHERE tenant = $1 AND id = $2",
                &[&tenant.0, &id, &scrubbed],
            )?;
            rewritten += 1;
        }
    }
    if rewritten > 0 {
        tx.execute(
            "INSERT INTO pending_rewrites (relation) VALUES ('export_jobs') ON CONFLICT DO NOTHING",
            &[],
        )?;
    }
    let expired = tx.execute(
        "UPDATE export_jobs SET state = 'expired', expires_at = $2, error = $3
         WHERE tenant = $1 AND state = 'ready'",
        &[&tenant.0, &now.millis(), &crate::jobs::WITHDRAWN],
    )?;
    let requeued = tx.execute(
        &format!("UPDATE export_jobs SET {BACK_TO_QUEUE} WHERE tenant = $1 AND state = 'running'"),
        &[&tenant.0],
    )?;
    let deleted = tx.execute("DELETE FROM export_files WHERE tenant = $1", &[&tenant.0])?;
    if deleted > 0 {
        tx.execute(
            "INSERT INTO pending_rewrites (relation) VALUES ('export_files') ON CONFLICT DO NOTHING",
            &[],
        )?;
    }
    Ok(expired + requeued)
}
