//! Background export jobs: ask for an export, get an id at once, poll its progress, download
//! the file when it is ready — for exports too large to wait for in one request.
//!
//! A job runs the one export implementation ([`crate::export_stream::start`], which also appends the
//! `audit_log.exported` entry) into `<data_dir>/exports/<tenant>/<id>.export.<ext>.part`,
//! fsyncs it and renames it to `<id>.export.<ext>` only when complete; the job's record is `<id>.json`, replaced
//! atomically. A restart fails every unfinished job, so a half file is never offered as ready.
//! At most `concurrency` jobs run at once; files are deleted `retention` after they are ready.

mod files;
mod record;
mod runner;
mod upkeep;

pub use record::{JobId, JobRecord, JobState};
pub use upkeep::{INTERRUPTED, RECORD_KEEP};

use crate::checkpointer::Checkpointer;
use files::JobFiles;
use sealtrail_core::entry::Actor;
use sealtrail_core::filter::Query;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_export::Format;
use sealtrail_store::Store;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Most unfinished (queued or running) jobs one tenant may have, so one tenant cannot fill the
/// queue for everyone.
pub const MAX_PENDING_PER_TENANT: usize = 10;

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
    /// Reading or writing the jobs directory failed.
    #[error("export jobs directory {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A job record could not be read or written as JSON.
    #[error("export job record {path}: {source}")]
    Corrupt {
        /// The record file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A blocking file task panicked or was cancelled.
    #[error("export job file task failed: {0}")]
    Task(String),
}

/// Where jobs live, how many run at once and how long their files are kept.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// The jobs directory (`<data_dir>/exports`).
    pub root: PathBuf,
    /// How long a ready file is kept before it is deleted.
    pub retention: Duration,
    /// Most jobs running at once (at least 1); the rest wait queued.
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
    /// The parsed filters (relative ranges already resolved against the submission time).
    pub query: Query,
    /// Who asked, for the audit entry.
    pub actor: Actor,
}

/// Live counters of a running job, read by status requests while the record on disk still
/// holds the values from when it started.
#[derive(Debug, Default)]
struct Progress {
    rows: Arc<AtomicU64>,
    bytes: AtomicU64,
}

/// The export job service shared by the handlers, the runners and the expiry sweep.
pub struct ExportJobs {
    files: Arc<JobFiles>,
    retention: Duration,
    permits: Arc<Semaphore>,
    live: Mutex<HashMap<JobId, Arc<Progress>>>,
    store: Arc<dyn Store>,
    checkpointer: Arc<Checkpointer>,
    shutdown: watch::Receiver<bool>,
}

impl ExportJobs {
    /// Opens the jobs directory, fails jobs a previous process left unfinished (deleting their
    /// partial files) and expires what is due — before the first request is served.
    pub fn open(
        config: JobsConfig,
        store: Arc<dyn Store>,
        checkpointer: Arc<Checkpointer>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, JobError> {
        let files = JobFiles::open(config.root)?;
        let now = Timestamp::now();
        let failed = upkeep::recover(&files, now, config.retention)?;
        if failed > 0 {
            tracing::warn!(
                failed,
                "export jobs interrupted by the restart were marked failed"
            );
        }
        upkeep::sweep(&files, now)?;
        Ok(Arc::new(ExportJobs {
            files: Arc::new(files),
            retention: config.retention,
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
            live: Mutex::new(HashMap::new()),
            store,
            checkpointer,
            shutdown,
        }))
    }

    /// Records a queued job and starts its runner, which waits for a free slot.
    pub async fn submit(
        self: &Arc<Self>,
        tenant: TenantId,
        job: NewJob,
    ) -> Result<JobRecord, JobError> {
        let now = Timestamp::now();
        let record = JobRecord {
            id: JobId::new(),
            tenant,
            name: job.name,
            format: job.format,
            filters: job.filters,
            state: JobState::Queued,
            rows: 0,
            bytes: 0,
            file_name: job.format.file_name(now),
            created_at: now,
            started_at: None,
            finished_at: None,
            expires_at: None,
            error: None,
        };
        let queued = record.clone();
        self.blocking(move |files| {
            let _guard = files.lock();
            let pending = files.list(tenant)?;
            if pending.iter().filter(|r| r.state.is_pending()).count() >= MAX_PENDING_PER_TENANT {
                return Err(JobError::TooMany);
            }
            files.write(&queued)
        })
        .await?;
        tokio::spawn(runner::run(
            self.clone(),
            record.clone(),
            job.query,
            job.actor,
        ));
        Ok(record)
    }

    /// One of the tenant's jobs, with live progress while it runs.
    pub async fn get(&self, tenant: TenantId, id: JobId) -> Result<JobRecord, JobError> {
        let now = Timestamp::now();
        let record = self
            .blocking(move |files| {
                let record = files.read(tenant, id)?.ok_or(JobError::NotFound)?;
                upkeep::expire_if_due(files, record, now)
            })
            .await?;
        Ok(self.with_progress(record))
    }

    /// The tenant's jobs, newest first.
    pub async fn list(&self, tenant: TenantId) -> Result<Vec<JobRecord>, JobError> {
        let now = Timestamp::now();
        let mut records = self
            .blocking(move |files| {
                files
                    .list(tenant)?
                    .into_iter()
                    .map(|r| upkeep::expire_if_due(files, r, now))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        records.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        Ok(records.into_iter().map(|r| self.with_progress(r)).collect())
    }

    /// A ready job and its open file. The file is opened before returning, so a sweep deleting
    /// it afterwards cannot cut the download short.
    pub async fn open_download(
        &self,
        tenant: TenantId,
        id: JobId,
    ) -> Result<(JobRecord, tokio::fs::File), JobError> {
        let record = self.get(tenant, id).await?;
        record.ensure_downloadable()?;
        let path = self.files.final_path(&record);
        match tokio::fs::File::open(&path).await {
            Ok(file) => Ok((record, file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(JobError::Expired),
            Err(source) => Err(JobError::Io { path, source }),
        }
    }

    /// Expires due files every `min(retention, 1 min)` (at least every second) until shutdown.
    pub async fn run_sweeper(self: Arc<Self>) {
        let every = self
            .retention
            .clamp(Duration::from_secs(1), Duration::from_secs(60));
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = self.shutdown.clone();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            let now = Timestamp::now();
            match self.blocking(move |files| upkeep::sweep(files, now)).await {
                Ok(0) => {}
                Ok(expired) => tracing::info!(expired, "export job files expired"),
                Err(e) => tracing::warn!(error = %e, "export job sweep failed; will retry"),
            }
        }
    }

    /// Runs file I/O on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&JobFiles) -> Result<T, JobError> + Send + 'static,
    ) -> Result<T, JobError> {
        let files = self.files.clone();
        tokio::task::spawn_blocking(move || f(&files))
            .await
            .map_err(|e| JobError::Task(e.to_string()))?
    }

    /// Overlays the live counters of a running job on its stored record.
    fn with_progress(&self, mut record: JobRecord) -> JobRecord {
        if record.state == JobState::Running {
            let live = crate::lock(&self.live);
            if let Some(progress) = live.get(&record.id) {
                record.rows = progress.rows.load(Ordering::Relaxed);
                record.bytes = progress.bytes.load(Ordering::Relaxed);
            }
        }
        record
    }
}
