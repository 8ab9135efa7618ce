//! Keeping the jobs directory honest: after a restart no job still claims to be queued or
//! running (its runner died with the old process), and a file is deleted once its retention
//! has passed — checked by a periodic sweep and again on every read, so an expired file is
//! never served between sweeps.

use super::files::{remove, JobFiles};
use super::record::{add, JobRecord, JobState};
use super::JobError;
use sealtrail_core::Timestamp;
use std::time::Duration;

/// The error a job interrupted by a restart reports.
pub const INTERRUPTED: &str = "interrupted by a restart; request it again";

/// How long a finished job's record (not its file) stays listed after `expires_at`, so a
/// client polling an old id learns "expired" or "failed" instead of "not found".
pub const RECORD_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// At start: fails every queued or running job and deletes partial files, so a half-written
/// file is never presented as ready. Returns how many jobs were failed.
pub(super) fn recover(
    files: &JobFiles,
    now: Timestamp,
    retention: Duration,
) -> Result<usize, JobError> {
    let mut failed = 0;
    for tenant in files.tenants()? {
        for record in files.list(tenant)? {
            if !record.state.is_pending() {
                continue;
            }
            files.update(tenant, record.id, |r| {
                if !r.state.is_pending() {
                    return false;
                }
                r.error = Some(INTERRUPTED.into());
                r.finish(JobState::Failed, now, retention);
                true
            })?;
            failed += 1;
        }
        // After the records: a crash in between leaves a failed record and a file that the
        // next start removes, never a ready record without its file.
        files.tidy(tenant)?;
    }
    Ok(failed)
}

/// Expires every due job and drops records [`RECORD_KEEP`] after they expired. Returns how
/// many jobs expired.
pub(super) fn sweep(files: &JobFiles, now: Timestamp) -> Result<usize, JobError> {
    let mut expired = 0;
    for tenant in files.tenants()? {
        for record in files.list(tenant)? {
            let due = record.expires_at.is_some_and(|t| t <= now);
            match record.state {
                JobState::Ready if due => {
                    expire_if_due(files, record, now)?;
                    expired += 1;
                }
                JobState::Failed | JobState::Expired
                    if record
                        .expires_at
                        .is_some_and(|t| add(t, RECORD_KEEP) <= now) =>
                {
                    files.delete(&record)?;
                }
                // A crash between marking a job expired and deleting its file leaves the file.
                JobState::Expired => remove(&files.final_path(&record))?,
                _ => {}
            }
        }
    }
    Ok(expired)
}

/// Marks a ready job expired and deletes its file once `expires_at` has passed; returns the
/// record as it now is.
pub(super) fn expire_if_due(
    files: &JobFiles,
    record: JobRecord,
    now: Timestamp,
) -> Result<JobRecord, JobError> {
    if record.state != JobState::Ready || record.expires_at.is_none_or(|t| t > now) {
        return Ok(record);
    }
    let updated = files.update(record.tenant, record.id, |r| {
        if r.state != JobState::Ready {
            return false;
        }
        r.state = JobState::Expired;
        true
    })?;
    // The record first: a reader that finds the file gone already sees "expired".
    remove(&files.final_path(&record))?;
    tracing::info!(job = %record.id, "export job expired; file deleted");
    Ok(updated.unwrap_or(record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::record::JobId;
    use sealtrail_core::TenantId;
    use sealtrail_export::Format;
    use serde_json::json;

    fn record(state: JobState) -> JobRecord {
        JobRecord {
            id: JobId::new(),
            tenant: TenantId(7),
            name: "n".into(),
            format: Format::Csv,
            filters: json!({}),
            state,
            rows: 0,
            bytes: 0,
            file_name: "audit-log-x.csv".into(),
            created_at: Timestamp(1_000),
            started_at: None,
            finished_at: None,
            expires_at: None,
            error: None,
        }
    }

    fn setup() -> (tempfile::TempDir, JobFiles) {
        let dir = tempfile::tempdir().unwrap();
        let files = JobFiles::open(dir.path().join("exports")).unwrap();
        (dir, files)
    }

    #[test]
    fn recovery_fails_pending_jobs_and_deletes_partial_files() {
        let (_dir, files) = setup();
        let running = record(JobState::Running);
        let queued = record(JobState::Queued);
        let mut ready = record(JobState::Ready);
        ready.finish(JobState::Ready, Timestamp(2_000), Duration::from_secs(3600));
        for r in [&running, &queued, &ready] {
            files.write(r).unwrap();
        }
        std::fs::write(files.part_path(&running), b"half").unwrap();
        // Renamed but never recorded as ready: complete, yet not trusted.
        std::fs::write(files.final_path(&running), b"whole?").unwrap();
        std::fs::write(files.final_path(&ready), b"whole").unwrap();
        let tmp = files.tenant_dir(TenantId(7)).join("stray.json.tmp");
        std::fs::write(&tmp, b"{").unwrap();

        assert_eq!(
            recover(&files, Timestamp(5_000), Duration::from_secs(60)).unwrap(),
            2
        );
        for r in [&running, &queued] {
            let after = files.read(r.tenant, r.id).unwrap().unwrap();
            assert_eq!(after.state, JobState::Failed);
            assert_eq!(after.error.as_deref(), Some(INTERRUPTED));
            assert_eq!(after.finished_at, Some(Timestamp(5_000)));
        }
        assert!(!files.part_path(&running).exists());
        assert!(!files.final_path(&running).exists());
        assert!(!tmp.exists());
        assert!(files.final_path(&ready).exists(), "ready files are kept");
    }

    #[test]
    fn sweep_expires_ready_files_then_drops_old_records() {
        let (_dir, files) = setup();
        let mut ready = record(JobState::Ready);
        ready.finish(JobState::Ready, Timestamp(1_000), Duration::from_secs(1));
        files.write(&ready).unwrap();
        std::fs::write(files.final_path(&ready), b"x").unwrap();

        assert_eq!(sweep(&files, Timestamp(1_999)).unwrap(), 0);
        assert!(files.final_path(&ready).exists());
        assert_eq!(sweep(&files, Timestamp(2_000)).unwrap(), 1);
        assert!(!files.final_path(&ready).exists());
        let after = files.read(ready.tenant, ready.id).unwrap().unwrap();
        assert_eq!(after.state, JobState::Expired);
        assert_eq!(after.expires_at, Some(Timestamp(2_000)));

        let later = add(Timestamp(2_000), RECORD_KEEP);
        sweep(&files, later).unwrap();
        assert!(files.read(ready.tenant, ready.id).unwrap().is_none());
    }
}
