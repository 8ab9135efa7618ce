//! The life of a background export job, shared by the store that keeps jobs and the service
//! that runs them, so every node reads a job's state the same way.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a job is in its life: `queued → running → ready → expired`, or `failed` from
/// `queued`/`running`; a running job whose node stopped goes back to `queued` for another
/// node to run. Only `ready` has a file to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Accepted, waiting for a free runner on any node.
    Queued,
    /// Being written by one node, which reports progress while it runs.
    Running,
    /// Complete and stored; downloadable from any node until `expires_at`.
    Ready,
    /// Stopped without a file (see its error); request it again.
    Failed,
    /// Was ready; its file is deleted after the retention period.
    Expired,
}

impl JobState {
    /// Whether the job has not finished yet (it counts against the per-tenant limit).
    pub fn is_pending(self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
    }

    /// The name used in the API and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Ready => "ready",
            JobState::Failed => "failed",
            JobState::Expired => "expired",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(name: &str) -> Option<JobState> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Ready,
            JobState::Failed,
            JobState::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            JobState::Queued,
            JobState::Running,
            JobState::Ready,
            JobState::Failed,
            JobState::Expired,
        ] {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(JobState::parse("done"), None);
        assert!(JobState::Running.is_pending() && !JobState::Ready.is_pending());
    }
}
