//! The jobs directory: `<root>/<tenant>/<id>.json` records, written atomically, next to the
//! `<id>.export.<ext>.part` file of a running job and the `<id>.export.<ext>` file of a ready
//! one.
//!
//! Everything here is synchronous file I/O (callers run it on a blocking thread); one lock
//! serialises read-modify-write of records, so the runner and the expiry sweep never overwrite
//! each other's change.

use super::record::{JobId, JobRecord, JobState};
use super::JobError;
use sealtrail_core::TenantId;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Suffix of a job file while it is being written.
pub(super) const PART: &str = "part";
/// Suffix of a record being replaced.
const TMP: &str = "json.tmp";

/// The on-disk home of every tenant's export jobs.
#[derive(Debug)]
pub(super) struct JobFiles {
    root: PathBuf,
    lock: Mutex<()>,
}

/// Attaches the path to an I/O error.
pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JobError + '_ {
    move |source| JobError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl JobFiles {
    /// Creates the root directory if needed.
    pub(super) fn open(root: PathBuf) -> Result<Self, JobError> {
        fs::create_dir_all(&root).map_err(io(&root))?;
        Ok(JobFiles {
            root,
            lock: Mutex::new(()),
        })
    }

    /// Serialises record updates; a poisoned lock only means another update panicked, and the
    /// files themselves are always whole (atomic renames), so it is safe to carry on.
    pub(super) fn lock(&self) -> MutexGuard<'_, ()> {
        crate::lock(&self.lock)
    }

    /// `<root>/<tenant>`.
    pub(super) fn tenant_dir(&self, tenant: TenantId) -> PathBuf {
        self.root.join(tenant.0.to_string())
    }

    /// `<root>/<tenant>/<id>.json`.
    fn record_path(&self, tenant: TenantId, id: JobId) -> PathBuf {
        self.tenant_dir(tenant).join(format!("{id}.json"))
    }

    /// Where a ready job's file lives.
    pub(super) fn final_path(&self, record: &JobRecord) -> PathBuf {
        self.tenant_dir(record.tenant).join(record.file_stem())
    }

    /// Where a running job writes.
    pub(super) fn part_path(&self, record: &JobRecord) -> PathBuf {
        self.tenant_dir(record.tenant)
            .join(format!("{}.{PART}", record.file_stem()))
    }

    /// Every tenant directory present.
    pub(super) fn tenants(&self) -> Result<Vec<TenantId>, JobError> {
        let mut tenants = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io(&self.root))? {
            let entry = entry.map_err(io(&self.root))?;
            if let Some(id) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                tenants.push(TenantId(id));
            }
        }
        Ok(tenants)
    }

    /// One record, or `None` when there is none (or it belongs to another tenant).
    pub(super) fn read(&self, tenant: TenantId, id: JobId) -> Result<Option<JobRecord>, JobError> {
        let path = self.record_path(tenant, id);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let record: JobRecord =
            serde_json::from_slice(&text).map_err(|source| JobError::Corrupt { path, source })?;
        Ok((record.tenant == tenant && record.id == id).then_some(record))
    }

    /// Every record of a tenant, in no particular order. An unreadable record is logged and
    /// skipped so one bad file does not hide the others.
    pub(super) fn list(&self, tenant: TenantId) -> Result<Vec<JobRecord>, JobError> {
        let dir = self.tenant_dir(tenant);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir)(e)),
        };
        let mut records = Vec::new();
        for entry in entries {
            let name = entry.map_err(io(&dir))?.file_name();
            let Some(id) = name.to_str().and_then(record_id) else {
                continue;
            };
            match self.read(tenant, id) {
                Ok(Some(record)) => records.push(record),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable export job record"),
            }
        }
        Ok(records)
    }

    /// Writes a record atomically: a temporary file, fsynced, renamed over the old one, and the
    /// directory fsynced — a crash leaves the old record or the new one, never half of either.
    pub(super) fn write(&self, record: &JobRecord) -> Result<(), JobError> {
        let dir = self.tenant_dir(record.tenant);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = self.record_path(record.tenant, record.id);
        let tmp = dir.join(format!("{}.{TMP}", record.id));
        let text = serde_json::to_vec_pretty(record).map_err(|source| JobError::Corrupt {
            path: path.clone(),
            source,
        })?;
        let mut file = fs::File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&text).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&dir)
    }

    /// Reads, changes and rewrites one record under the lock; `change` returns whether it
    /// changed anything. `None` when the record does not exist.
    pub(super) fn update(
        &self,
        tenant: TenantId,
        id: JobId,
        change: impl FnOnce(&mut JobRecord) -> bool,
    ) -> Result<Option<JobRecord>, JobError> {
        let _guard = self.lock();
        let Some(mut record) = self.read(tenant, id)? else {
            return Ok(None);
        };
        if change(&mut record) {
            self.write(&record)?;
        }
        Ok(Some(record))
    }

    /// Deletes a record and any file of its job.
    pub(super) fn delete(&self, record: &JobRecord) -> Result<(), JobError> {
        remove(&self.final_path(record))?;
        remove(&self.part_path(record))?;
        remove(&self.record_path(record.tenant, record.id))
    }

    /// Deletes every file of a tenant's directory that is not a record or the file of a ready
    /// job: temporary records, `.part` files (only call this when no job is running, i.e. at
    /// start), and files of jobs that failed, expired or lost their record.
    pub(super) fn tidy(&self, tenant: TenantId) -> Result<(), JobError> {
        let dir = self.tenant_dir(tenant);
        for entry in fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if record_id(name).is_some() || !path.is_file() {
                continue;
            }
            let keep = name
                .split('.')
                .next()
                .and_then(JobId::parse)
                .and_then(|id| self.read(tenant, id).ok().flatten())
                .is_some_and(|r| r.state == JobState::Ready && r.file_stem() == name);
            if !keep {
                tracing::info!(path = %path.display(), "removing a leftover export job file");
                remove(&path)?;
            }
        }
        Ok(())
    }
}

/// The job a file name is the record of: exactly `<id>.json`.
fn record_id(name: &str) -> Option<JobId> {
    name.strip_suffix(".json").and_then(JobId::parse)
}

/// Removes a file; one that is already gone is fine.
pub(super) fn remove(path: &Path) -> Result<(), JobError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Makes a rename in `dir` durable (on Unix a directory can be fsynced; elsewhere the rename
/// is as durable as the platform makes it).
pub(super) fn sync_dir(dir: &Path) -> Result<(), JobError> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
