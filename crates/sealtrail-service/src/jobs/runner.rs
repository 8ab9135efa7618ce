//! Running one job: wait for a slot, stream the export into `<id>.export.<ext>.part`, fsync,
//! rename, and only then record the job as ready.

use super::files::{remove, sync_dir};
use super::{ExportJobs, JobError, JobRecord, JobState, Progress};
use crate::export_stream::{self, ExportRequest};
use sealtrail_core::entry::Actor;
use sealtrail_core::filter::Query;
use sealtrail_core::Timestamp;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

/// Why a run did not produce a file.
#[derive(Debug, thiserror::Error)]
enum RunError {
    /// The export itself stopped (store, encoder, or the audit entry could not be appended).
    #[error("export stopped: {0}")]
    Export(std::io::Error),
    /// The job file could not be written.
    #[error(transparent)]
    File(#[from] JobError),
    /// The server is shutting down; the next start marks the job failed.
    #[error("server shutting down")]
    Shutdown,
}

/// The job's whole life after submission. Never panics and never leaves a `.part` behind
/// except when the server shuts down mid-run (the next start removes it).
pub(super) async fn run(jobs: Arc<ExportJobs>, record: JobRecord, query: Query, actor: Actor) {
    let mut shutdown = jobs.shutdown.clone();
    let permit = tokio::select! {
        permit = jobs.permits.clone().acquire_owned() => match permit {
            Ok(permit) => permit,
            Err(_) => return, // the semaphore is never closed
        },
        () = stopped(&mut shutdown) => return,
    };
    let progress = Arc::new(Progress::default());
    live(&jobs, &record, Some(progress.clone()));
    let part = jobs.files.part_path(&record);
    let result = write(
        &jobs,
        &record,
        query,
        actor,
        &progress,
        &part,
        &mut shutdown,
    )
    .await;
    let rows = progress.rows.load(Ordering::Relaxed);
    let bytes = progress.bytes.load(Ordering::Relaxed);
    let (state, error) = match result {
        Ok(()) => (JobState::Ready, None),
        Err(RunError::Shutdown) => {
            live(&jobs, &record, None);
            return;
        }
        Err(e) => {
            tracing::warn!(job = %record.id, error = %e, "export job failed");
            if let Err(e) = jobs.blocking(move |_| remove(&part)).await {
                tracing::warn!(job = %record.id, error = %e, "partial export file not removed");
            }
            let message = "the export failed (the cause has been logged); request it again";
            (JobState::Failed, Some(message.to_string()))
        }
    };
    let outcome = if state == JobState::Ready {
        "ready"
    } else {
        "failed"
    };
    metrics::counter!("sealtrail_export_jobs_total", "outcome" => outcome).increment(1);
    let retention = jobs.retention;
    let finished = jobs
        .blocking(move |files| {
            files.update(record.tenant, record.id, |r| {
                r.rows = rows;
                r.bytes = bytes;
                r.error = error;
                r.finish(state, Timestamp::now(), retention);
                true
            })
        })
        .await;
    match finished {
        Ok(Some(r)) => {
            tracing::info!(job = %r.id, state = %r.state, rows, bytes, "export job finished")
        }
        Ok(None) => tracing::warn!(job = %record.id, "export job record vanished while it ran"),
        Err(e) => tracing::error!(job = %record.id, error = %e, "export job result not recorded"),
    }
    live(&jobs, &record, None);
    drop(permit);
}

/// Marks the job running, streams the export into the `.part` file, then makes it durable and
/// gives it its final name.
async fn write(
    jobs: &Arc<ExportJobs>,
    record: &JobRecord,
    query: Query,
    actor: Actor,
    progress: &Progress,
    part: &Path,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), RunError> {
    let (tenant, id) = (record.tenant, record.id);
    jobs.blocking(move |files| {
        files.update(tenant, id, |r| {
            r.state = JobState::Running;
            r.started_at = Some(Timestamp::now());
            true
        })
    })
    .await?
    .ok_or(JobError::NotFound)?;
    let io = |source| {
        RunError::File(JobError::Io {
            path: part.to_path_buf(),
            source,
        })
    };
    let mut file = tokio::fs::File::create(part).await.map_err(io)?;
    let mut chunks = export_stream::start(
        jobs.store.clone(),
        jobs.checkpointer.clone(),
        ExportRequest {
            tenant,
            query,
            format: record.format,
            filters: record.filters.clone(),
            actor,
            progress: Some(progress.rows.clone()),
            job: Some(id.to_string()),
            oldest_first: false,
        },
    );
    loop {
        let chunk = tokio::select! {
            chunk = chunks.recv() => chunk,
            () = stopped(shutdown) => return Err(RunError::Shutdown),
        };
        match chunk {
            Some(Ok(bytes)) => {
                file.write_all(&bytes).await.map_err(io)?;
                progress
                    .bytes
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            Some(Err(e)) => return Err(RunError::Export(e)),
            // The export ended cleanly: its audit entry is already committed.
            None => break,
        }
    }
    file.flush().await.map_err(io)?;
    file.sync_all().await.map_err(io)?;
    drop(file);
    let done = jobs.files.final_path(record);
    let dir = jobs.files.tenant_dir(tenant);
    tokio::fs::rename(part, &done).await.map_err(io)?;
    jobs.blocking(move |_| sync_dir(&dir)).await?;
    Ok(())
}

/// Registers (or, with `None`, removes) a job's live counters.
fn live(jobs: &ExportJobs, record: &JobRecord, progress: Option<Arc<Progress>>) {
    let mut live = crate::lock(&jobs.live);
    match progress {
        Some(p) => live.insert(record.id, p),
        None => live.remove(&record.id),
    };
    metrics::gauge!("sealtrail_export_jobs_running").set(live.len() as f64);
}

/// Resolves once the server shuts down (or the server that owned the signal is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
