//! The one error of every service action. Each variant is a kind of mistake or failure the
//! caller can act on; the HTTP layer maps each to one status, the CLI prints the message.

use crate::checkpointer::CheckpointError;
use crate::jobs::JobError;
use sealtrail_core::ingest::{FieldError, RequestError};
use sealtrail_store::StoreError;
use std::time::Duration;

/// Why a service action was refused or failed. Nothing was changed unless the variant says so.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request itself is wrong (bad name, no scopes); the message says how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// The request is well formed but the current state forbids it (e.g. a legal hold blocks
    /// a prune); the message says what must change first.
    #[error("{0}")]
    Refused(String),
    /// The credential presented (a Retraced viewer token or session) is invalid or expired;
    /// the message says to get a new one.
    #[error("{0}")]
    Unauthenticated(String),
    /// The acting user's role does not allow this change (e.g. an admin touching an owner).
    #[error("{0}")]
    Forbidden(String),
    /// The named tenant, key or user does not exist (in this tenant).
    #[error("{0} not found")]
    NotFound(String),
    /// No actor or target in the tenant's log is the data subject named (erasure): told apart
    /// from other misses so the answer can say what was looked for.
    #[error("no actor or target in this log is identified by `{0}`")]
    NoSuchSubject(String),
    /// The caller is over one of its own limits (a key's request rate, the tenant's ingest
    /// rate or daily quota); `code` names which, `retry_after` says when it frees up.
    #[error("{message}")]
    Limited {
        /// Stable machine-readable name of the limit (`rate_limited`, `quota_exceeded`).
        code: &'static str,
        /// What was exceeded and that nothing was stored.
        message: String,
        /// When a retry may succeed.
        retry_after: Duration,
    },
    /// The node is at one of its capacity limits (bodies being read, the writer's queue);
    /// nothing from the request was done and a retry shortly may succeed.
    #[error("{0}")]
    Overloaded(String),
    /// The request body as a whole cannot be read as events (not UTF-8 or JSON, too deep,
    /// too many events); the error says what and where.
    #[error(transparent)]
    Body(#[from] RequestError),
    /// The one event sent breaks a rule; the error names its field and the rule.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// A Retraced publish request breaks Retraced's rules or Sealtrail's; nothing of it was
    /// stored, and the refusal lists every event at fault.
    #[error(transparent)]
    Retraced(#[from] sealtrail_core::compat::retraced::Refusal),
    /// A WorkOS event breaks WorkOS's rules or Sealtrail's; nothing was stored, and the
    /// error names the value at fault.
    #[error(transparent)]
    Workos(#[from] sealtrail_core::compat::workos::Invalid),
    /// An export job operation failed.
    #[error(transparent)]
    Job(#[from] JobError),
    /// A checkpoint could not be signed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Storage failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}
