//! The [`Jobs`] role: background export jobs and their files, kept where every node of a
//! deployment finds them, so any node answers a job's status, list and download, and a job
//! whose node died is taken up by another.
//!
//! A job is claimed by one node at a time; each claim is a new `attempt`, and a runner's
//! writes (progress, file bytes, its end) count only while the job is still running under the
//! attempt it claimed — a runner that was presumed dead and replaced cannot overwrite its
//! successor's work.
//!
//! File bytes live in the database on PostgreSQL (rows of at most one write each, so every
//! node reads them), and in files beside the database on SQLite, whose one database is only
//! ever served by one node (rows there would pass every byte through the log's single writer
//! and leave the database file grown by the largest export ever made).

use crate::StoreError;
use async_trait::async_trait;
use sealtrail_core::jobs::JobState;
use sealtrail_core::{TenantId, Timestamp};
use uuid::Uuid;

/// The error a job withdrawn by an erasure reports: its file was exported before a data
/// subject was erased, so it may hold what was erased.
pub(crate) const WITHDRAWN: &str =
    "withdrawn: a data subject was erased from the log after this export; request it again";

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJob {
    /// The tenant that asked: checked on every read.
    pub tenant: TenantId,
    /// The job's id.
    pub id: Uuid,
    /// Where the job is.
    pub state: JobState,
    /// What to export, fixed at submission (JSON the service writes and reads; the store
    /// never looks inside).
    pub spec: String,
    /// The node running it (while running).
    pub node: Option<String>,
    /// How many times it has been claimed; a runner acts only under the attempt it claimed.
    pub attempt: u32,
    /// When its runner last reported (while running); a job silent for too long is taken
    /// from its node.
    pub heartbeat_at: Option<Timestamp>,
    /// Entries written so far (final once it has finished).
    pub rows: u64,
    /// Bytes written so far (final once it has finished).
    pub bytes: u64,
    /// When it was accepted.
    pub created_at: Timestamp,
    /// When a runner last picked it up.
    pub started_at: Option<Timestamp>,
    /// When it became ready or failed.
    pub finished_at: Option<Timestamp>,
    /// When a ready file stops being served (and is then deleted).
    pub expires_at: Option<Timestamp>,
    /// Why it failed, for the caller.
    pub error: Option<String>,
}

impl StoredJob {
    /// A job as accepted, before any runner has claimed it: no node, no attempt, nothing
    /// written yet.
    pub fn queued(tenant: TenantId, id: Uuid, spec: String, created_at: Timestamp) -> StoredJob {
        StoredJob {
            tenant,
            id,
            state: JobState::Queued,
            spec,
            node: None,
            attempt: 0,
            heartbeat_at: None,
            rows: 0,
            bytes: 0,
            created_at,
            started_at: None,
            finished_at: None,
            expires_at: None,
            error: None,
        }
    }
}

/// One attempt at a job: what a runner's writes name, so they count only while the job is
/// still running under that attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobAttempt {
    /// The job's tenant.
    pub tenant: TenantId,
    /// The job.
    pub id: Uuid,
    /// The attempt the runner claimed.
    pub attempt: u32,
}

impl StoredJob {
    /// The attempt this record was claimed as.
    pub fn current_attempt(&self) -> JobAttempt {
        JobAttempt {
            tenant: self.tenant,
            id: self.id,
            attempt: self.attempt,
        }
    }
}

/// How a runner's attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// The file is whole and every byte of it stored: serve it until `expires_at`.
    Ready {
        /// When the file stops being served.
        expires_at: Timestamp,
    },
    /// No file; the caller is told `error`, and the record stays listed until `expires_at`.
    Failed {
        /// What the caller reads.
        error: String,
        /// When the record may be dropped (with [`SweepRules::records_before`]).
        expires_at: Timestamp,
    },
    /// The node is shutting down: the job goes back to the queue (its bytes deleted) for
    /// any node to run again, and the attempt is given back — a clean stop is no
    /// interruption counted against [`SweepRules::max_attempts`].
    Released,
}

impl JobEnd {
    /// The state, expiry and error a finished job is left with; `None` for [`JobEnd::Released`],
    /// which sends it back to the queue ([`BACK_TO_QUEUE`]).
    pub(crate) fn finished(&self) -> Option<(JobState, Timestamp, Option<&str>)> {
        match self {
            JobEnd::Ready { expires_at } => Some((JobState::Ready, *expires_at, None)),
            JobEnd::Failed { error, expires_at } => {
                Some((JobState::Failed, *expires_at, Some(error.as_str())))
            }
            JobEnd::Released => None,
        }
    }
}

/// What a job going back to the queue is set to, on both backends: no node, no report, no
/// progress, not started (its bytes are deleted beside this).
pub(crate) const BACK_TO_QUEUE: &str = "state = 'queued', node = NULL, heartbeat_at = NULL, \
     row_count = 0, byte_count = 0, started_at = NULL";

/// What [`Jobs::sweep_jobs`] applies, all decided by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepRules {
    /// When the sweep runs, by the caller's clock.
    pub now: Timestamp,
    /// Running jobs that have not reported for this long are taken from their node. Measured
    /// by the database's clock where there is one (PostgreSQL stamps reports with its own
    /// time), so nodes whose clocks disagree do not take each other's live jobs.
    pub silent_for: std::time::Duration,
    /// A node known to have stopped (this node, just started): its running jobs are taken at
    /// once, whatever their last report.
    pub dead_node: Option<String>,
    /// A taken job that has already been claimed this many times fails instead of going back
    /// to the queue (an export that kills its node must not kill every node in turn).
    pub max_attempts: u32,
    /// The error such a job reports.
    pub failed_error: String,
    /// `expires_at` of jobs failed by the sweep.
    pub failed_expires_at: Timestamp,
    /// Ready jobs whose `expires_at` is at or before this become expired.
    pub expire_before: Timestamp,
    /// Expired jobs whose `expires_at` is at or before this lose their bytes (later than
    /// `expire_before`, so a download that started just before expiry can finish).
    pub delete_files_before: Timestamp,
    /// Failed and expired jobs whose `expires_at` is at or before this are forgotten.
    pub records_before: Timestamp,
}

/// What a sweep changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobSweep {
    /// Running jobs put back in the queue.
    pub requeued: u64,
    /// Running jobs failed after too many attempts.
    pub failed: u64,
    /// Ready jobs that expired.
    pub expired: u64,
    /// Records forgotten.
    pub forgotten: u64,
}

/// Every tenant's export jobs (see the module documentation).
#[async_trait]
pub trait Jobs: Send + Sync + 'static {
    /// Adds a queued job unless its tenant already has `max_pending` queued or running ones
    /// (checked and added in one transaction, so concurrent submissions on several nodes
    /// cannot exceed it); answers whether it was added.
    async fn add_job(&self, job: StoredJob, max_pending: u32) -> Result<bool, StoreError>;

    /// One of the tenant's jobs (`None` for another tenant's id).
    async fn job(&self, tenant: TenantId, id: Uuid) -> Result<Option<StoredJob>, StoreError>;

    /// The tenant's jobs, newest first.
    async fn jobs(&self, tenant: TenantId) -> Result<Vec<StoredJob>, StoreError>;

    /// Takes the oldest queued job of any tenant for `node`: running, one more attempt,
    /// started and reported `now`, no bytes yet. Two nodes never take the same job.
    async fn claim_job(&self, node: &str, now: Timestamp) -> Result<Option<StoredJob>, StoreError>;

    /// A runner's progress report, stamped `now` (on PostgreSQL, the database's own time);
    /// `false` when the job is no longer running under `attempt` (its runner should stop).
    async fn job_progress(
        &self,
        attempt: JobAttempt,
        rows: u64,
        bytes: u64,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Stores `data` at `offset` of the job's file (dropping anything stored at or after
    /// `offset`, so a retried write is harmless), durably before returning; `false` when the
    /// job is no longer running under `attempt`.
    async fn write_job_file(
        &self,
        attempt: JobAttempt,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<bool, StoreError>;

    /// Ends an attempt with its final counts; `false` when the job is no longer running
    /// under `attempt` (nothing changes).
    async fn end_job(
        &self,
        attempt: JobAttempt,
        rows: u64,
        bytes: u64,
        end: JobEnd,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Up to `max` bytes of the file `attempt` of a job wrote, from `offset` (fewer at the end
    /// of a stored piece; none past the end of the file or once its bytes are deleted).
    async fn read_job_file(
        &self,
        tenant: TenantId,
        id: Uuid,
        attempt: u32,
        offset: u64,
        max: usize,
    ) -> Result<Vec<u8>, StoreError>;

    /// Applies `rules` to every tenant's jobs at once, deleting the bytes of every job that
    /// no longer needs them.
    async fn sweep_jobs(&self, rules: SweepRules) -> Result<JobSweep, StoreError>;
}
