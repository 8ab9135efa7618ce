//! What an export job is: its id, what it exports ([`JobSpec`], fixed at submission) and the
//! record the API reports, read from the store the same way on every node.

use super::{JobError, JobState};
use sealtrail_core::entry::Actor;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_export::Format;
use sealtrail_store::StoredJob;
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

    /// The id as the store keeps it.
    pub fn uuid(self) -> Uuid {
        self.0
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

/// What a job exports, fixed when it is submitted and stored with it, so whichever node runs
/// it exports exactly what was asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The caller's label for the job.
    pub name: String,
    /// Output format, by its URL name.
    #[serde(with = "format_name")]
    pub format: Format,
    /// The filters as given (GET /v1/events parameter names), as recorded in the audit entry.
    pub filters: Value,
    /// The validated filter parameters, parsed again by the runner against `created_at`.
    pub params: Vec<(String, String)>,
    /// The download's file name, `audit-log-<UTC>.<ext>`.
    pub file_name: String,
    /// Who asked, for the audit entry.
    pub actor: Actor,
}

impl JobSpec {
    /// The spec as the store keeps it.
    pub fn to_json(&self) -> String {
        // A struct of strings, JSON values and an actor always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The spec a stored job was submitted with.
    pub fn of(job: &StoredJob) -> Result<JobSpec, JobError> {
        serde_json::from_str(&job.spec).map_err(|source| JobError::Corrupt {
            id: job.id.to_string(),
            source,
        })
    }
}

/// One job as the API and the page report it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// The job's id.
    pub id: JobId,
    /// The tenant that asked: checked on every read.
    pub tenant: TenantId,
    /// The caller's label for the job.
    pub name: String,
    /// Output format.
    pub format: Format,
    /// The filters as given (GET /v1/events parameter names), as recorded in the audit entry.
    pub filters: Value,
    /// Where the job is (`expired` as soon as `expires_at` passes, before a sweep records it).
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
    /// When a ready file stops being served (finished + retention); the record itself is
    /// dropped a week later.
    pub expires_at: Option<Timestamp>,
    /// Why it failed, for the caller.
    pub error: Option<String>,
    /// The attempt whose file a download reads.
    pub attempt: u32,
}

impl JobRecord {
    /// The record of a stored job as of `now`.
    pub fn from_stored(job: StoredJob, now: Timestamp) -> Result<JobRecord, JobError> {
        let spec = JobSpec::of(&job)?;
        let lapsed = job.state == JobState::Ready && job.expires_at.is_some_and(|t| t <= now);
        Ok(JobRecord {
            id: JobId(job.id),
            tenant: job.tenant,
            name: spec.name,
            format: spec.format,
            filters: spec.filters,
            state: if lapsed { JobState::Expired } else { job.state },
            rows: job.rows,
            bytes: job.bytes,
            file_name: spec.file_name,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            expires_at: job.expires_at,
            error: job.error,
            attempt: job.attempt,
        })
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

    fn stored(state: JobState, expires_at: Option<Timestamp>) -> StoredJob {
        let spec = JobSpec {
            name: "q3".into(),
            format: Format::Bundle,
            filters: json!({ "range": "7d" }),
            params: vec![("range".into(), "7d".into())],
            file_name: "audit-log-20261123T101500Z.tar".into(),
            actor: Actor::system("test"),
        };
        StoredJob {
            tenant: TenantId(1),
            id: Uuid::now_v7(),
            state,
            spec: spec.to_json(),
            node: None,
            attempt: 1,
            heartbeat_at: None,
            rows: 0,
            bytes: 0,
            created_at: Timestamp(1_795_000_000_000),
            started_at: None,
            finished_at: None,
            expires_at,
            error: None,
        }
    }

    fn record(state: JobState) -> JobRecord {
        JobRecord::from_stored(stored(state, None), Timestamp(0)).unwrap()
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
    fn a_ready_job_past_its_expiry_reads_as_expired_before_any_sweep() {
        let job = stored(JobState::Ready, Some(Timestamp(5_000)));
        let before = JobRecord::from_stored(job.clone(), Timestamp(4_999)).unwrap();
        assert_eq!(before.state, JobState::Ready);
        let after = JobRecord::from_stored(job, Timestamp(5_000)).unwrap();
        assert_eq!(after.state, JobState::Expired);
        assert!(matches!(
            after.ensure_downloadable(),
            Err(JobError::Expired)
        ));
    }

    #[test]
    fn specs_round_trip_with_format_names() {
        let job = stored(JobState::Queued, None);
        let spec = JobSpec::of(&job).unwrap();
        let text: Value = serde_json::from_str(&job.spec).unwrap();
        assert_eq!(text["format"], "bundle");
        assert_eq!(spec.to_json(), job.spec);
        let broken = StoredJob {
            spec: "{".into(),
            ..job
        };
        assert!(matches!(
            JobSpec::of(&broken),
            Err(JobError::Corrupt { .. })
        ));
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
}
