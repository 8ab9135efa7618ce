//! Keeping jobs honest across nodes: a job whose runner went silent goes back to the queue
//! (or fails after [`MAX_ATTEMPTS`]), a ready file stops being served when its retention
//! passes and is deleted [`DOWNLOAD_GRACE`] later, and old records are forgotten.

use super::{ExportJobs, MAX_ATTEMPTS, SILENT_FOR};
use sealtrail_core::Timestamp;
use sealtrail_store::{JobSweep, StoreError, SweepRules};
use std::time::Duration;

/// The error a job reports after its runners stopped [`MAX_ATTEMPTS`] times.
pub const GAVE_UP: &str = "the export was interrupted 3 times (its node stopped); request it again";

/// The error a job reports when its stored description cannot be run.
pub(super) const GAVE_UP_SPEC: &str =
    "the export job's stored description could not be read; request it again";

/// How long a finished job's record (not its file) stays listed after `expires_at`, so a
/// client polling an old id learns "expired" or "failed" instead of "not found".
pub const RECORD_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long an expired file's bytes are kept, so a download that started just before expiry
/// finishes; nothing new is served once the file has expired.
pub const DOWNLOAD_GRACE: Duration = Duration::from_secs(10 * 60);

/// Longest time between sweeps.
pub(super) const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// The rules a sweep at `now` applies.
fn rules(now: Timestamp, retention: Duration, dead_node: Option<String>) -> SweepRules {
    SweepRules {
        now,
        silent_for: SILENT_FOR,
        dead_node,
        max_attempts: MAX_ATTEMPTS,
        failed_error: GAVE_UP.to_string(),
        failed_expires_at: now.plus(retention),
        expire_before: now,
        delete_files_before: now.minus(DOWNLOAD_GRACE),
        records_before: now.minus(RECORD_KEEP),
    }
}

/// One sweep of every tenant's jobs; `dead_node` names this node at start, whose running
/// jobs died with its previous process.
pub(super) async fn sweep(
    jobs: &ExportJobs,
    dead_node: Option<String>,
) -> Result<JobSweep, StoreError> {
    let rules = rules(Timestamp::now(), jobs.config.retention, dead_node);
    let swept = jobs.store.sweep_jobs(rules).await?;
    if swept.failed > 0 {
        metrics::counter!("sealtrail_export_jobs_total", "outcome" => "failed")
            .increment(swept.failed);
    }
    if swept.requeued > 0 {
        // Another node (or this one) takes them at its next look at the queue.
        jobs.queued.notify_one();
    }
    Ok(swept)
}

/// Logs what a periodic sweep changed.
pub(super) fn log(swept: &JobSweep) {
    if swept.requeued > 0 || swept.failed > 0 {
        tracing::warn!(
            requeued = swept.requeued,
            failed = swept.failed,
            "export jobs whose node went silent were taken over"
        );
    }
    if swept.expired > 0 {
        tracing::info!(expired = swept.expired, "export job files expired");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_takes_silent_jobs_and_deletes_files_after_the_grace() {
        let now = Timestamp(1_000_000_000);
        let r = rules(now, Duration::from_secs(3600), Some("node-a".into()));
        assert_eq!(r.silent_for, Duration::from_secs(30));
        assert_eq!(r.expire_before, now);
        assert_eq!(r.delete_files_before, Timestamp(now.0 - 600_000));
        assert_eq!(r.records_before, Timestamp(now.0 - 7 * 86_400_000));
        assert_eq!(r.failed_expires_at, Timestamp(now.0 + 3_600_000));
        assert_eq!(r.max_attempts, 3);
        assert!(GAVE_UP.contains(&MAX_ATTEMPTS.to_string()));
    }
}
