//! Export jobs on SQLite: records in the `export_jobs` table, changed on the writer; file
//! bytes in `<data_dir>/export-files/<tenant>/<id>.<attempt>`, written and fsynced off the
//! writer so a large export never holds up appends (see [`crate::Jobs`] for why files, not
//! rows). Each attempt writes its own file, so deleting the file of an attempt that was taken
//! away can never cut into the file of the attempt that replaced it.

use super::error::backend;
use super::{SqliteStore, WriteError};
use crate::erasure::Plan;
use crate::jobs::BACK_TO_QUEUE;
use crate::{JobAttempt, JobEnd, JobSweep, StoreError, StoredJob, SweepRules};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use sealtrail_core::jobs::JobState;
use sealtrail_core::{TenantId, Timestamp};
use std::fs;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use uuid::Uuid;

/// The columns [`job_from_row`] reads.
const COLUMNS: &str = "tenant, id, state, spec, node, attempt, heartbeat_at, row_count, \
                       byte_count, created_at, started_at, finished_at, expires_at, error";

/// The directory beside the database that holds job files.
pub(crate) const FILES_DIR: &str = "export-files";

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<Result<StoredJob, StoreError>> {
    let (id, state): (String, String) = (row.get(1)?, row.get(2)?);
    let count = |i: usize| -> rusqlite::Result<u64> { Ok(row.get::<_, i64>(i)?.max(0) as u64) };
    let time = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(Timestamp))
    };
    let job = StoredJob {
        tenant: TenantId(row.get(0)?),
        id: Uuid::nil(),
        state: JobState::Queued,
        spec: row.get(3)?,
        node: row.get(4)?,
        attempt: row.get(5)?,
        heartbeat_at: time(6)?,
        rows: count(7)?,
        bytes: count(8)?,
        created_at: Timestamp(row.get(9)?),
        started_at: time(10)?,
        finished_at: time(11)?,
        expires_at: time(12)?,
        error: row.get(13)?,
    };
    Ok((|| {
        Ok(StoredJob {
            id: Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("job id {id}")))?,
            state: JobState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("job state {state}")))?,
            ..job
        })
    })())
}

fn many(
    conn: &Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<StoredJob>, StoreError> {
    let read = backend("reading export jobs");
    let mut stmt = conn.prepare_cached(sql).map_err(&read)?;
    let rows = stmt
        .query_map(args, job_from_row)
        .map_err(&read)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(&read)?;
    rows.into_iter().collect()
}

fn one(conn: &Connection, tenant: TenantId, id: Uuid) -> Result<Option<StoredJob>, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM export_jobs WHERE tenant = ?1 AND id = ?2"),
        params![tenant.0, id.to_string()],
        job_from_row,
    )
    .optional()
    .map_err(backend("reading an export job"))?
    .transpose()
}

/// A count as SQLite stores it.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn add(conn: &mut Connection, job: &StoredJob, max_pending: u32) -> Result<bool, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let pending: i64 = tx.query_row(
        "SELECT count(*) FROM export_jobs WHERE tenant = ?1 AND state IN ('queued', 'running')",
        [job.tenant.0],
        |r| r.get(0),
    )?;
    if pending >= i64::from(max_pending) {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO export_jobs (tenant, id, state, spec, attempt, row_count, byte_count, created_at)
         VALUES (?1, ?2, ?3, ?4, 0, 0, 0, ?5)",
        params![
            job.tenant.0,
            job.id.to_string(),
            job.state.as_str(),
            job.spec,
            job.created_at.millis()
        ],
    )
    .map_err(|e| match super::error::constraint_kind(&e) {
        Some(super::error::Constraint::ForeignKey) => {
            WriteError::Store(StoreError::NotFound(format!("tenant {}", job.tenant.0)))
        }
        _ => e.into(),
    })?;
    tx.commit()?;
    Ok(true)
}

fn claim(
    conn: &mut Connection,
    node: &str,
    now: Timestamp,
) -> Result<Option<StoredJob>, WriteError> {
    let next: Option<(i64, String)> = conn
        .query_row(
            "SELECT tenant, id FROM export_jobs WHERE state = 'queued'
             ORDER BY created_at, id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((tenant, id)) = next else {
        return Ok(None);
    };
    conn.execute(
        "UPDATE export_jobs SET state = 'running', node = ?3, attempt = attempt + 1,
                started_at = ?4, heartbeat_at = ?4, row_count = 0, byte_count = 0
         WHERE tenant = ?1 AND id = ?2 AND state = 'queued'",
        params![tenant, id, node, now.millis()],
    )?;
    let id = Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("job id {id}")))?;
    Ok(one(conn, TenantId(tenant), id)?)
}

/// Whether the job is running under `attempt` (the guard on every runner's write).
fn running(conn: &Connection, job: &JobAttempt) -> Result<bool, WriteError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM export_jobs
             WHERE tenant = ?1 AND id = ?2 AND state = 'running' AND attempt = ?3",
            params![job.tenant.0, job.id.to_string(), job.attempt],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn end(
    conn: &mut Connection,
    job: &JobAttempt,
    (rows, bytes): (u64, u64),
    end: &JobEnd,
    now: Timestamp,
) -> Result<bool, WriteError> {
    let key = params![job.tenant.0, job.id.to_string(), job.attempt];
    let guard = "WHERE tenant = ?1 AND id = ?2 AND state = 'running' AND attempt = ?3";
    let changed = match end.finished() {
        Some((state, expires_at, error)) => conn.execute(
            &format!(
                "UPDATE export_jobs SET state = ?4, node = NULL, heartbeat_at = NULL,
                        row_count = ?5, byte_count = ?6, finished_at = ?7, expires_at = ?8,
                        error = ?9 {guard}"
            ),
            params![
                key[0],
                key[1],
                key[2],
                state.as_str(),
                int(rows),
                int(bytes),
                now.millis(),
                expires_at.millis(),
                error
            ],
        )?,
        None => conn.execute(
            &format!("UPDATE export_jobs SET {BACK_TO_QUEUE}, attempt = attempt - 1 {guard}"),
            key,
        )?,
    };
    Ok(changed == 1)
}

/// When a running job's last report makes it silent, by this machine's clock (one node).
fn stale_before(rules: &SweepRules) -> i64 {
    rules.now.minus(rules.silent_for).millis()
}

fn sweep(conn: &mut Connection, rules: &SweepRules) -> Result<JobSweep, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let taken = "state = 'running' AND (heartbeat_at < ?1 OR node = ?2)";
    let failed = tx.execute(
        &format!(
            "UPDATE export_jobs SET state = 'failed', node = NULL, heartbeat_at = NULL,
                    error = ?4, finished_at = ?5, expires_at = ?5
             WHERE {taken} AND attempt >= ?3"
        ),
        params![
            stale_before(rules),
            rules.dead_node,
            rules.max_attempts,
            rules.failed_error,
            rules.failed_expires_at.millis()
        ],
    )?;
    let requeued = tx.execute(
        &format!("UPDATE export_jobs SET {BACK_TO_QUEUE} WHERE {taken}"),
        params![stale_before(rules), rules.dead_node],
    )?;
    let expired = tx.execute(
        "UPDATE export_jobs SET state = 'expired' WHERE state = 'ready' AND expires_at <= ?1",
        [rules.expire_before.millis()],
    )?;
    let forgotten = tx.execute(
        "DELETE FROM export_jobs WHERE state IN ('failed', 'expired') AND expires_at <= ?1",
        [rules.records_before.millis()],
    )?;
    tx.commit()?;
    Ok(JobSweep {
        requeued: requeued as u64,
        failed: failed as u64,
        expired: expired as u64,
        forgotten: forgotten as u64,
    })
}

/// Every job's id, attempt, state and expiry, for [`tidy`].
fn all_jobs(conn: &Connection) -> Result<Vec<JobFileState>, StoreError> {
    let read = backend("listing export jobs");
    let mut stmt = conn
        .prepare_cached("SELECT tenant, id, attempt, state, expires_at FROM export_jobs")
        .map_err(&read)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(JobFileState {
                file: format!("{}/{}", r.get::<_, i64>(0)?, r.get::<_, String>(1)?),
                attempt: r.get(2)?,
                state: r.get(3)?,
                expires_at: r.get::<_, Option<i64>>(4)?.map(Timestamp),
            })
        })
        .map_err(&read)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(&read)?;
    Ok(rows)
}

/// What [`tidy`] needs to know of a job.
struct JobFileState {
    /// `<tenant>/<id>`.
    file: String,
    attempt: u32,
    state: String,
    expires_at: Option<Timestamp>,
}

/// How old a file of a job the database does not know must be before it is deleted: the job
/// may have been added, claimed and written to after the list was read.
const UNKNOWN_FILE_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Where job files live, beside the database.
pub(crate) fn files_root(db_path: &Path) -> PathBuf {
    db_path.parent().unwrap_or(Path::new(".")).join(FILES_DIR)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Backend(format!("export job file {}: {e}", path.display()))
}

fn file_path(root: &Path, tenant: TenantId, id: Uuid, attempt: u32) -> PathBuf {
    root.join(tenant.0.to_string())
        .join(format!("{id}.{attempt}"))
}

/// Writes `data` at `offset`, dropping whatever followed, and makes it durable.
fn write_file(path: &Path, offset: u64, data: &[u8]) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(io(path))?;
    file.set_len(offset).map_err(io(path))?;
    file.seek(SeekFrom::Start(offset)).map_err(io(path))?;
    file.write_all(data).map_err(io(path))?;
    file.sync_data().map_err(io(path))?;
    if offset == 0 {
        // The file's name must survive a crash too.
        if let Some(dir) = path.parent() {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
    }
    Ok(())
}

fn read_file(path: &Path, offset: u64, max: usize) -> Result<Vec<u8>, StoreError> {
    let mut file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    };
    file.seek(SeekFrom::Start(offset)).map_err(io(path))?;
    let mut data = Vec::with_capacity(max.min(1 << 20));
    file.take(max as u64)
        .read_to_end(&mut data)
        .map_err(io(path))?;
    Ok(data)
}

/// Deletes every file no attempt will write or serve again: files of earlier attempts, of
/// attempts that were taken away or failed, of expired jobs past the download grace, and of
/// jobs the database no longer knows (once they are old). A file of an attempt newer than
/// the listed one belongs to a runner that claimed the job after the list was read: kept.
fn tidy(
    root: &Path,
    jobs: &[JobFileState],
    delete_files_before: Timestamp,
) -> Result<(), StoreError> {
    let jobs: std::collections::HashMap<&str, &JobFileState> =
        jobs.iter().map(|j| (j.file.as_str(), j)).collect();
    let tenants = match fs::read_dir(root) {
        Ok(dirs) => dirs,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(root)(e)),
    };
    for dir in tenants {
        let dir = dir.map_err(io(root))?;
        let tenant = dir.file_name().to_string_lossy().into_owned();
        let dir = dir.path();
        if !dir.is_dir() {
            continue;
        }
        for file in fs::read_dir(&dir).map_err(io(&dir))? {
            let file = file.map_err(io(&dir))?;
            let name = file.file_name().to_string_lossy().into_owned();
            let (id, attempt) = name.rsplit_once('.').unwrap_or((name.as_str(), ""));
            let attempt: Option<u32> = attempt.parse().ok();
            let delete = match (jobs.get(format!("{tenant}/{id}").as_str()), attempt) {
                (Some(job), Some(a)) if a > job.attempt => false,
                (Some(job), Some(a)) if a == job.attempt => match job.state.as_str() {
                    "running" | "ready" => false,
                    "expired" => job.expires_at.is_some_and(|t| t <= delete_files_before),
                    _ => true,
                },
                (Some(_), _) => true,
                (None, _) => file
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= UNKNOWN_FILE_AGE),
            };
            if delete {
                let path = file.path();
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&path)(e)),
                }
            }
        }
        // Fails harmlessly while the directory still holds a file.
        let _ = fs::remove_dir(&dir);
    }
    Ok(())
}

impl SqliteStore {
    /// After an erasure of `tenant`: files exported before it may hold the erased values, so
    /// the tenant's ready jobs expire at once, running ones go back to the queue (to run again
    /// on the erased log), every file of the tenant's jobs is deleted, and every job's spec
    /// is rewritten without the subject ([`crate::erasure::scrub_spec`]; `secure_delete`
    /// zeroes the old text). Answers how many specs changed.
    pub(super) async fn withdraw_exports(
        &self,
        tenant: TenantId,
        now: Timestamp,
        plan: Arc<Plan>,
    ) -> Result<usize, StoreError> {
        let rewritten = self
            .writer
            .run_job(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let rewritten = scrub_specs(&tx, tenant, &plan)?;
                tx.execute(
                    "UPDATE export_jobs SET state = 'expired', expires_at = ?2, error = ?3
                     WHERE tenant = ?1 AND state = 'ready'",
                    params![tenant.0, now.millis(), crate::jobs::WITHDRAWN],
                )?;
                tx.execute(
                    &format!(
                        "UPDATE export_jobs SET {BACK_TO_QUEUE}
                         WHERE tenant = ?1 AND state = 'running'"
                    ),
                    [tenant.0],
                )?;
                tx.commit()?;
                Ok(rewritten)
            })
            .await?;
        let dir = files_root(&self.db_path).join(tenant.0.to_string());
        crate::blocking::run("export job files", move || match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&dir)(e)),
        })
        .await?;
        Ok(rewritten)
    }
}

/// Rewrites the specs of `tenant`'s jobs that name `plan`'s subject; answers how many.
fn scrub_specs(conn: &Connection, tenant: TenantId, plan: &Plan) -> rusqlite::Result<usize> {
    let specs = conn
        .prepare("SELECT id, spec FROM export_jobs WHERE tenant = ?1")?
        .query_map([tenant.0], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut update =
        conn.prepare("UPDATE export_jobs SET spec = ?3 WHERE tenant = ?1 AND id = ?2")?;
    let mut rewritten = 0;
    for (id, spec) in specs {
        if let Some(scrubbed) = crate::erasure::scrub_spec(&spec, plan) {
            update.execute(params![tenant.0, id, scrubbed])?;
            rewritten += 1;
        }
    }
    Ok(rewritten)
}

#[async_trait::async_trait]
impl crate::Jobs for SqliteStore {
    async fn add_job(&self, job: StoredJob, max_pending: u32) -> Result<bool, StoreError> {
        self.writer
            .run_job(move |conn| add(conn, &job, max_pending))
            .await
    }

    async fn job(&self, tenant: TenantId, id: Uuid) -> Result<Option<StoredJob>, StoreError> {
        self.reads.read(move |conn| one(conn, tenant, id)).await
    }

    async fn jobs(&self, tenant: TenantId) -> Result<Vec<StoredJob>, StoreError> {
        self.reads
            .read(move |conn| {
                many(
                    conn,
                    &format!(
                        "SELECT {COLUMNS} FROM export_jobs WHERE tenant = ?1
                         ORDER BY created_at DESC, id DESC"
                    ),
                    &[&tenant.0],
                )
            })
            .await
    }

    async fn claim_job(&self, node: &str, now: Timestamp) -> Result<Option<StoredJob>, StoreError> {
        // Most calls find nothing queued: ask a reader before queueing behind the writer.
        let queued = self
            .reads
            .read(|conn| {
                conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM export_jobs WHERE state = 'queued')",
                    [],
                    |r| r.get::<_, bool>(0),
                )
                .map_err(backend("looking for queued export jobs"))
            })
            .await?;
        if !queued {
            return Ok(None);
        }
        let node = node.to_string();
        self.writer
            .run_job(move |conn| claim(conn, &node, now))
            .await
    }

    async fn job_progress(
        &self,
        job: JobAttempt,
        rows: u64,
        bytes: u64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.writer
            .run_job(move |conn| {
                let changed = conn.execute(
                    "UPDATE export_jobs SET row_count = ?4, byte_count = ?5, heartbeat_at = ?6
                     WHERE tenant = ?1 AND id = ?2 AND state = 'running' AND attempt = ?3",
                    params![
                        job.tenant.0,
                        job.id.to_string(),
                        job.attempt,
                        int(rows),
                        int(bytes),
                        now.millis()
                    ],
                )?;
                Ok(changed == 1)
            })
            .await
    }

    async fn write_job_file(
        &self,
        job: JobAttempt,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let current = self
            .reads
            .read(move |conn| {
                running(conn, &job).map_err(|e| e.while_doing("checking an export job"))
            })
            .await?;
        if !current {
            return Ok(false);
        }
        let path = file_path(&files_root(&self.db_path), job.tenant, job.id, job.attempt);
        crate::blocking::run("export job file", move || write_file(&path, offset, &data)).await?;
        Ok(true)
    }

    async fn end_job(
        &self,
        job: JobAttempt,
        rows: u64,
        bytes: u64,
        job_end: JobEnd,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.writer
            .run_job(move |conn| end(conn, &job, (rows, bytes), &job_end, now))
            .await
    }

    async fn read_job_file(
        &self,
        tenant: TenantId,
        id: Uuid,
        attempt: u32,
        offset: u64,
        max: usize,
    ) -> Result<Vec<u8>, StoreError> {
        let path = file_path(&files_root(&self.db_path), tenant, id, attempt);
        crate::blocking::run("export job file", move || read_file(&path, offset, max)).await
    }

    async fn sweep_jobs(&self, rules: SweepRules) -> Result<JobSweep, StoreError> {
        let delete_before = rules.delete_files_before;
        let swept = self.writer.run_job(move |conn| sweep(conn, &rules)).await?;
        // After the records: a job that lost its file is never ready.
        let jobs = self.reads.read(all_jobs).await?;
        let root = files_root(&self.db_path);
        crate::blocking::run("export job files", move || {
            tidy(&root, &jobs, delete_before)
        })
        .await?;
        Ok(swept)
    }
}
