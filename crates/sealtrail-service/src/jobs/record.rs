//! What an export job is: its id, its state machine and the record kept in `<id>.json`.
//!
//! The record is the job's whole truth on disk, so a restart (or another process reading the
//! directory) sees the same job the API reported.

use super::JobError;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_export::Format;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use uuid::Uuid;

/// A job's id: a UUIDv7 (74 random bits), so ids cannot be guessed and sort by creation time.
/// Only the canonical hyphenated form is accepted, so an id is always a safe file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(Uuid);

impl JobId {
    /// A fresh id for a new job.
    pub fn new() -> Self {
        JobId(Uuid::now_v7())
    }

    /// Parses an id from a URL or file name; anything but the canonical form is `None`, which
    /// the API answers like an unknown id.
    pub fn parse(s: &str) -> Option<Self> {
        let uuid = Uuid::parse_str(s).ok()?;
        (uuid.hyphenated().to_string() == s).then_some(JobId(uuid))
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl TryFrom<String> for JobId {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        JobId::parse(&s).ok_or_else(|| format!("`{s}` is not an export job id"))
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.to_string()
    }
}

/// Where a job is in its life: `queued → running → ready → expired`, or `failed` from
/// `queued`/`running`. Only `ready` has a file to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Accepted, waiting for a free runner.
    Queued,
    /// Being written to `<id>.export.<ext>.part`.
    Running,
    /// Complete, fsynced and renamed; downloadable until `expires_at`.
    Ready,
    /// Stopped without a file (see `error`); request it again.
    Failed,
    /// Was ready; its file has been deleted after the retention period.
    Expired,
}

impl JobState {
    /// Whether the job has not finished yet (it counts against the per-tenant limit, and a
    /// restart fails it).
    pub fn is_pending(self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
    }

    /// The name used in the API and on disk.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Ready => "ready",
            JobState::Failed => "failed",
            JobState::Expired => "expired",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One job as stored in `<data_dir>/exports/<tenant>/<id>.json` and reported by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job's id.
    pub id: JobId,
    /// The tenant that asked (also the directory it lives in): checked on every read.
    pub tenant: TenantId,
    /// The caller's label for the job.
    pub name: String,
    /// Output format, by its URL name.
    #[serde(with = "format_name")]
    pub format: Format,
    /// The filters as given (GET /v1/events parameter names), as recorded in the audit entry.
    pub filters: Value,
    /// Where the job is.
    pub state: JobState,
    /// Entries written so far (final once the job has finished).
    pub rows: u64,
    /// Bytes written so far (final once the job has finished).
    pub bytes: u64,
    /// The download's file name, `audit-log-<UTC>.<ext>`, fixed when the job is created.
    pub file_name: String,
    /// When the job was accepted (relative ranges such as `7d` count back from here).
    pub created_at: Timestamp,
    /// When a runner picked it up.
    pub started_at: Option<Timestamp>,
    /// When it became ready or failed.
    pub finished_at: Option<Timestamp>,
    /// When a ready file is deleted (finished + retention); the record itself is dropped a
    /// week later.
    pub expires_at: Option<Timestamp>,
    /// Why it failed, for the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl JobRecord {
    /// The name of the finished file: `<id>.export.<ext>` — not `<id>.<ext>`, which for the
    /// `json` format would be the record's own name.
    pub fn file_stem(&self) -> String {
        format!("{}.export.{}", self.id, self.format.file_extension())
    }

    /// Refuses a download unless the job is ready, saying why: 409 while it is not (yet) a
    /// file, 410 once the file has been deleted.
    pub fn ensure_downloadable(&self) -> Result<(), JobError> {
        match self.state {
            JobState::Ready => Ok(()),
            JobState::Expired => Err(JobError::Expired),
            state => Err(JobError::NotReady(state)),
        }
    }

    /// Marks the job finished at `now`, starting its retention clock.
    pub(super) fn finish(
        &mut self,
        state: JobState,
        now: Timestamp,
        retention: std::time::Duration,
    ) {
        self.state = state;
        self.finished_at = Some(now);
        self.expires_at = Some(add(now, retention));
    }
}

/// `t + d`, saturating rather than overflowing for absurd retention settings.
pub(super) fn add(t: Timestamp, d: std::time::Duration) -> Timestamp {
    let millis = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    Timestamp(t.0.saturating_add(millis))
}

/// Stores a [`Format`] by its URL name (`csv`, `bundle`, ...), which is also what the API shows.
mod format_name {
    use sealtrail_export::Format;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(format: &Format, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(format.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Format, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(state: JobState) -> JobRecord {
        JobRecord {
            id: JobId::new(),
            tenant: TenantId(1),
            name: "q3".into(),
            format: Format::Bundle,
            filters: json!({ "range": "7d" }),
            state,
            rows: 0,
            bytes: 0,
            file_name: "audit-log-20261123T101500Z.tar".into(),
            created_at: Timestamp(1_795_000_000_000),
            started_at: None,
            finished_at: None,
            expires_at: None,
            error: None,
        }
    }

    #[test]
    fn only_ready_jobs_download() {
        assert!(record(JobState::Ready).ensure_downloadable().is_ok());
        for state in [JobState::Queued, JobState::Running, JobState::Failed] {
            assert!(matches!(
                record(state).ensure_downloadable(),
                Err(JobError::NotReady(s)) if s == state
            ));
        }
        assert!(matches!(
            record(JobState::Expired).ensure_downloadable(),
            Err(JobError::Expired)
        ));
    }

    #[test]
    fn records_round_trip_with_names_on_disk() {
        let r = record(JobState::Queued);
        let text = serde_json::to_value(&r).unwrap();
        assert_eq!(text["format"], "bundle");
        assert_eq!(text["state"], "queued");
        assert!(text.get("error").is_none());
        assert_eq!(serde_json::from_value::<JobRecord>(text).unwrap(), r);
        assert_eq!(r.file_stem(), format!("{}.export.tar", r.id));
    }

    #[test]
    fn ids_are_canonical_only() {
        let id = JobId::new();
        assert_eq!(JobId::parse(&id.to_string()), Some(id));
        assert_eq!(JobId::parse(&id.to_string().to_uppercase()), None);
        assert_eq!(JobId::parse("../../etc/passwd"), None);
        assert_eq!(JobId::parse(&id.to_string().replace('-', "")), None);
        assert_ne!(JobId::new(), JobId::new());
    }

    #[test]
    fn finishing_starts_the_retention_clock() {
        let mut r = record(JobState::Running);
        let now = Timestamp(1_000);
        r.finish(JobState::Ready, now, std::time::Duration::from_secs(2));
        assert_eq!(r.expires_at, Some(Timestamp(3_000)));
        assert_eq!(add(now, std::time::Duration::MAX), Timestamp(i64::MAX));
    }
}
