//! Running one attempt of a job: stream the export into the store piece by piece, report
//! progress every [`HEARTBEAT`], and record the job ready only after its last byte is stored.
//! An attempt that learns the job was taken from it (its reports came too late) stops
//! without touching the job again.

use super::{ExportJobs, JobError, JobSpec, GAVE_UP_SPEC, HEARTBEAT, PIECE_BYTES};
use crate::export_stream::{self, ExportRequest};
use sealtrail_core::filter::parse_query;
use sealtrail_core::Timestamp;
use sealtrail_store::{JobEnd, StoredJob};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{watch, OwnedSemaphorePermit};

/// How an attempt stopped short of a ready file.
#[derive(Debug, thiserror::Error)]
enum RunError {
    /// The export itself stopped (store, encoder, or the audit entry could not be appended).
    #[error("export stopped: {0}")]
    Export(std::io::Error),
    /// The job's description or filters could not be read.
    #[error(transparent)]
    Spec(#[from] JobError),
    /// Storing a piece or a report failed.
    #[error("storing the export failed: {0}")]
    Store(#[from] sealtrail_store::StoreError),
    /// The job was taken from this attempt (it was presumed dead): stop, change nothing.
    #[error("the job was taken over by another attempt")]
    TakenOver,
    /// The node is shutting down: the job goes back to the queue.
    #[error("server shutting down")]
    Shutdown,
}

/// The attempt's whole life after its claim. Never panics; whatever happens, the job ends
/// ready, failed or back in the queue — or, when taken over, is left to its new attempt.
pub(super) async fn run(jobs: Arc<ExportJobs>, job: StoredJob, permit: OwnedSemaphorePermit) {
    let running = jobs.running.fetch_add(1, Ordering::Relaxed) + 1;
    metrics::gauge!("sealtrail_export_jobs_running").set(running as f64);
    let rows = Arc::new(AtomicU64::new(0));
    let mut bytes = 0u64;
    let result = write(&jobs, &job, &rows, &mut bytes).await;
    let rows = rows.load(Ordering::Relaxed);
    let now = Timestamp::now();
    let end = match result {
        Ok(()) => Some(JobEnd::Ready {
            expires_at: now.plus(jobs.config.retention),
        }),
        Err(RunError::TakenOver) => {
            tracing::warn!(job = %job.id, "export job was taken over by another node; stopped");
            None
        }
        Err(RunError::Shutdown) => Some(JobEnd::Released),
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "export job failed");
            let message = match e {
                RunError::Spec(_) => GAVE_UP_SPEC,
                _ => "the export failed (the cause has been logged); request it again",
            };
            Some(JobEnd::Failed {
                error: message.to_string(),
                expires_at: now.plus(jobs.config.retention),
            })
        }
    };
    if let Some(end) = end {
        let outcome = match &end {
            JobEnd::Ready { .. } => Some("ready"),
            JobEnd::Failed { .. } => Some("failed"),
            JobEnd::Released => None,
        };
        let ended = jobs
            .store
            .end_job(job.current_attempt(), rows, bytes, end, now)
            .await;
        match ended {
            Ok(true) => {
                if let Some(outcome) = outcome {
                    metrics::counter!("sealtrail_export_jobs_total", "outcome" => outcome)
                        .increment(1);
                    tracing::info!(job = %job.id, outcome, rows, bytes, "export job finished");
                }
            }
            Ok(false) => tracing::warn!(job = %job.id, "export job was taken over before it ended"),
            // The job stays running until its silence hands it to another attempt.
            Err(e) => tracing::error!(job = %job.id, error = %e, "export job result not recorded"),
        }
    }
    let running = jobs
        .running
        .fetch_sub(1, Ordering::Relaxed)
        .saturating_sub(1);
    metrics::gauge!("sealtrail_export_jobs_running").set(running as f64);
    drop(permit);
}

/// Streams the export into the store, reporting progress on the way.
async fn write(
    jobs: &Arc<ExportJobs>,
    job: &StoredJob,
    rows: &Arc<AtomicU64>,
    bytes: &mut u64,
) -> Result<(), RunError> {
    let spec = JobSpec::of(job)?;
    let query = parse_query(&spec.params, job.created_at, &[]).map_err(|e| JobError::Corrupt {
        id: job.id.to_string(),
        source: serde::de::Error::custom(e.to_string()),
    })?;
    let mut chunks = export_stream::start(
        jobs.store.clone(),
        jobs.checkpointer.clone(),
        ExportRequest {
            tenant: job.tenant,
            query,
            format: spec.format,
            filters: spec.filters,
            actor: spec.actor,
            progress: Some(rows.clone()),
            job: Some(job.id.to_string()),
            oldest_first: false,
        },
    );
    let mut shutdown = jobs.shutdown.clone();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut piece: Vec<u8> = Vec::with_capacity(PIECE_BYTES);
    loop {
        let chunk = tokio::select! {
            chunk = chunks.recv() => chunk,
            _ = heartbeat.tick() => {
                let report = jobs
                    .store
                    .job_progress(
                        job.current_attempt(),
                        rows.load(Ordering::Relaxed),
                        *bytes + piece.len() as u64,
                        Timestamp::now(),
                    )
                    .await;
                match report {
                    Ok(true) => {}
                    Ok(false) => return Err(RunError::TakenOver),
                    // A moment without the database (a failover) is no reason to fail the
                    // job: the next report tries again, and only a silence of SILENT_FOR
                    // hands the job to another attempt.
                    Err(e) => tracing::warn!(job = %job.id, error = %e, "export job progress not recorded"),
                }
                continue;
            }
            () = stopped(&mut shutdown) => return Err(RunError::Shutdown),
        };
        match chunk {
            Some(Ok(data)) => {
                piece.extend_from_slice(&data);
                while piece.len() >= PIECE_BYTES {
                    let rest = piece.split_off(PIECE_BYTES);
                    store_piece(jobs, job, bytes, std::mem::replace(&mut piece, rest)).await?;
                }
            }
            Some(Err(e)) => return Err(RunError::Export(e)),
            // The export ended cleanly: its audit entry is already committed.
            None => break,
        }
    }
    if !piece.is_empty() || *bytes == 0 {
        store_piece(jobs, job, bytes, piece).await?;
    }
    Ok(())
}

/// Stores one piece at the end of what is stored so far.
async fn store_piece(
    jobs: &ExportJobs,
    job: &StoredJob,
    bytes: &mut u64,
    piece: Vec<u8>,
) -> Result<(), RunError> {
    let len = piece.len() as u64;
    let stored = jobs
        .store
        .write_job_file(job.current_attempt(), *bytes, piece)
        .await?;
    if !stored {
        return Err(RunError::TakenOver);
    }
    *bytes += len;
    Ok(())
}

/// Resolves once the server shuts down (or the server that owned the signal is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
