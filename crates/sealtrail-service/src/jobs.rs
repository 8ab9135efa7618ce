//! Background export jobs: ask for an export, get an id at once, poll its progress, download
//! the file when it is ready — for exports too large to wait for in one request.
//!
//! Jobs live in the store ([`sealtrail_store::Jobs`]), not on a node: any node answers a
//! job's status, list and download, and any node with a free runner takes the oldest queued
//! job. A runner streams the one export implementation ([`crate::export_stream::start`],
//! which also appends the `audit_log.exported` entry) into the store in pieces of
//! [`PIECE_BYTES`], reports progress every [`HEARTBEAT`], and records the job ready only
//! after every byte is stored. A job whose runner stops reporting for [`SILENT_FOR`] (its
//! node died) goes back to the queue for another node, at most [`MAX_ATTEMPTS`] times; a
//! restarted node takes back its own jobs at once; a node shutting down hands its jobs back.
//! At most `concurrency` jobs run at once on a node; files are served until `retention`
//! after they are ready.

mod record;
mod runner;
mod upkeep;

pub use record::{JobId, JobRecord, JobSpec};
pub use sealtrail_core::jobs::JobState;
use upkeep::GAVE_UP_SPEC;
pub use upkeep::{DOWNLOAD_GRACE, GAVE_UP, RECORD_KEEP};

use crate::checkpointer::Checkpointer;
use bytes::Bytes;
use futures::Stream;
use sealtrail_core::entry::Actor;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_export::Format;
use sealtrail_store::{Store, StoreError, StoredJob};
use serde_json::Value;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};

/// Most unfinished (queued or running) jobs one tenant may have, so one tenant cannot fill the
/// queue for everyone.
pub const MAX_PENDING_PER_TENANT: usize = 10;
/// How much of a job's file is stored at a time (and read at a time when it is served).
pub const PIECE_BYTES: usize = 1 << 20;
/// How often a runner reports progress (and so shows it is alive).
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a running job may go without a report before another node takes it over.
pub const SILENT_FOR: Duration = Duration::from_secs(30);
/// How many times a job is started before it is failed (an export that stops its node must
/// not stop every node in turn).
pub const MAX_ATTEMPTS: u32 = 3;

/// Why a job operation failed; the HTTP layer maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// No such job for this tenant (another tenant's id looks exactly like this).
    #[error("export job not found")]
    NotFound,
    /// The job has no file to download (yet, or ever if it failed).
    #[error("the export job is {0}; download it once it is ready")]
    NotReady(JobState),
    /// The file was deleted at the end of its retention period.
    #[error("the export job's file expired and was deleted; request the export again")]
    Expired,
    /// The tenant already has [`MAX_PENDING_PER_TENANT`] unfinished jobs.
    #[error("{MAX_PENDING_PER_TENANT} export jobs are already queued or running; wait for one to finish")]
    TooMany,
    /// The store failed.
    #[error("export jobs: {0}")]
    Store(#[from] StoreError),
    /// A stored job's description could not be read.
    #[error("export job {id}: unreadable description: {source}")]
    Corrupt {
        /// The job.
        id: String,
        /// The JSON error.
        source: serde_json::Error,
    },
}

/// How many jobs run at once on this node, how long files are kept, and the node's name.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// This node's stable name (the one its sink leases use): its jobs are taken back at
    /// start when it restarts.
    pub node: String,
    /// How long a ready file is kept before it is deleted.
    pub retention: Duration,
    /// Most jobs running at once on this node (at least 1); the rest wait queued.
    pub concurrency: usize,
}

/// A validated export to run in the background.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The caller's label.
    pub name: String,
    /// Output format.
    pub format: Format,
    /// The filters as given, recorded in the job, the file and the audit entry.
    pub filters: Value,
    /// The filter parameters as validated; whichever node runs the job parses them again
    /// against the submission time, so relative ranges mean what they meant then.
    pub params: Vec<(String, String)>,
    /// Who asked, for the audit entry.
    pub actor: Actor,
}

/// The export job service shared by the handlers, the runners and the sweep.
pub struct ExportJobs {
    config: JobsConfig,
    permits: Arc<Semaphore>,
    running: AtomicUsize,
    queued: Notify,
    store: Arc<dyn Store>,
    checkpointer: Arc<Checkpointer>,
    shutdown: watch::Receiver<bool>,
}

impl ExportJobs {
    /// Takes back the jobs this node was running before a restart (they go back to the
    /// queue), and expires what is due — before the first request is served.
    pub async fn open(
        config: JobsConfig,
        store: Arc<dyn Store>,
        checkpointer: Arc<Checkpointer>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, JobError> {
        let jobs = Arc::new(ExportJobs {
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
            config,
            running: AtomicUsize::new(0),
            queued: Notify::new(),
            store,
            checkpointer,
            shutdown,
        });
        let swept = upkeep::sweep(&jobs, Some(jobs.config.node.clone())).await?;
        if swept.requeued > 0 || swept.failed > 0 {
            tracing::warn!(
                requeued = swept.requeued,
                failed = swept.failed,
                "export jobs interrupted by the restart were taken back"
            );
        }
        Ok(jobs)
    }

    /// Records a queued job and wakes this node's runners; any node with a free runner may
    /// take it.
    pub async fn submit(&self, tenant: TenantId, job: NewJob) -> Result<JobRecord, JobError> {
        let now = Timestamp::now();
        let id = JobId::new();
        let spec = JobSpec {
            name: job.name,
            format: job.format,
            filters: job.filters,
            params: job.params,
            file_name: job.format.file_name(now),
            actor: job.actor,
        };
        let stored = StoredJob::queued(tenant, id.uuid(), spec.to_json(), now);
        let limit = u32::try_from(MAX_PENDING_PER_TENANT).unwrap_or(u32::MAX);
        if !self.store.add_job(stored.clone(), limit).await? {
            return Err(JobError::TooMany);
        }
        self.queued.notify_one();
        JobRecord::from_stored(stored, now)
    }

    /// One of the tenant's jobs, as any node sees it.
    pub async fn get(&self, tenant: TenantId, id: JobId) -> Result<JobRecord, JobError> {
        let stored = self
            .store
            .job(tenant, id.uuid())
            .await?
            .ok_or(JobError::NotFound)?;
        JobRecord::from_stored(stored, Timestamp::now())
    }

    /// The tenant's jobs, newest first. A job whose stored description cannot be read is
    /// logged and left out, so it does not hide the others.
    pub async fn list(&self, tenant: TenantId) -> Result<Vec<JobRecord>, JobError> {
        let now = Timestamp::now();
        let mut records = Vec::new();
        for stored in self.store.jobs(tenant).await? {
            match JobRecord::from_stored(stored, now) {
                Ok(record) => records.push(record),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable export job"),
            }
        }
        Ok(records)
    }

    /// A ready job and its file as a stream of pieces read from the store. A file that loses
    /// its bytes mid-download (it expired, and the grace after expiry passed) ends the stream
    /// with an error, never as a shorter file.
    pub async fn open_download(
        &self,
        tenant: TenantId,
        id: JobId,
    ) -> Result<(JobRecord, JobFile), JobError> {
        let record = self.get(tenant, id).await?;
        record.ensure_downloadable()?;
        let file = JobFile {
            store: self.store.clone(),
            tenant,
            id: id.uuid(),
            attempt: record.attempt,
            length: record.bytes,
        };
        Ok((record, file))
    }

    /// Takes queued jobs whenever a runner is free (woken by submissions, and every second
    /// for jobs queued on other nodes), and sweeps every [`upkeep::SWEEP_EVERY`], until
    /// shutdown.
    pub async fn run(self: Arc<Self>) {
        let mut claim_tick = tokio::time::interval(Duration::from_secs(1));
        claim_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let sweep_every = self
            .config
            .retention
            .clamp(Duration::from_secs(1), upkeep::SWEEP_EVERY);
        let mut sweep_tick = tokio::time::interval(sweep_every);
        sweep_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = self.shutdown.clone();
        loop {
            tokio::select! {
                _ = claim_tick.tick() => {}
                () = self.queued.notified() => {}
                _ = sweep_tick.tick() => {
                    match upkeep::sweep(&self, None).await {
                        Ok(swept) => upkeep::log(&swept),
                        Err(e) => tracing::warn!(error = %e, "export job sweep failed; will retry"),
                    }
                }
                _ = shutdown.changed() => return,
            }
            self.claim_while_free().await;
        }
    }

    /// Starts a runner for each queued job while this node has a free slot.
    async fn claim_while_free(self: &Arc<Self>) {
        while let Ok(permit) = self.permits.clone().try_acquire_owned() {
            match self
                .store
                .claim_job(&self.config.node, Timestamp::now())
                .await
            {
                Ok(Some(job)) => {
                    tokio::spawn(runner::run(self.clone(), job, permit));
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming an export job failed; will retry");
                    return;
                }
            }
        }
    }
}

/// A ready job's file, read from the store piece by piece as it is sent.
pub struct JobFile {
    store: Arc<dyn Store>,
    tenant: TenantId,
    id: uuid::Uuid,
    attempt: u32,
    length: u64,
}

impl JobFile {
    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The file's bytes, in pieces of at most [`PIECE_BYTES`].
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
        futures::stream::try_unfold((self, 0u64), |(file, offset)| async move {
            if offset >= file.length {
                return Ok(None);
            }
            let piece = file
                .store
                .read_job_file(file.tenant, file.id, file.attempt, offset, PIECE_BYTES)
                .await
                .map_err(std::io::Error::other)?;
            if piece.is_empty() {
                return Err(std::io::Error::other(
                    "the export job's file was deleted while it was being downloaded",
                ));
            }
            let next = offset + piece.len() as u64;
            Ok(Some((Bytes::from(piece), (file, next))))
        })
    }
}

/// Deletes the jobs directory of versions that kept jobs as files on each node
/// (`<data_dir>/exports`): their records are not carried over, and their files may hold
/// personal data that nothing would ever delete otherwise.
pub fn remove_legacy_files(dir: &std::path::Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => tracing::info!(dir = %dir.display(), "removed the old export jobs directory"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "old export jobs directory not removed")
        }
    }
}
