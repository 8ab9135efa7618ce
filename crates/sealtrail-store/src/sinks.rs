//! The [`Sinks`] role: each tenant's push-delivery sinks and the cursor each has reached.
//!
//! The cursor is the next seq to deliver and moves only forward by compare-and-set
//! ([`Sinks::sink_delivered`]): a delivery that finishes after a person paused, replayed or
//! removed the sink changes nothing, so a replay is never skipped over and no entry is
//! marked delivered that was not.

use crate::StoreError;
use async_trait::async_trait;
use sealtrail_core::sinks::{SinkFormat, SinkKind, SinkState};
use sealtrail_core::{TenantId, Timestamp};
use uuid::Uuid;

/// A sink as stored. Its signing secret is not: it is derived from the deployment's key, the
/// sink's id and [`SinkRecord::secret_version`] whenever it is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkRecord {
    /// The sink's id.
    pub id: Uuid,
    /// Its tenant: it delivers that tenant's log only.
    pub tenant: TenantId,
    /// A name for people, unique within the tenant.
    pub name: String,
    /// What receives the entries.
    pub kind: SinkKind,
    /// Where they are sent.
    pub url: String,
    /// The shape each entry is sent in.
    pub format: SinkFormat,
    /// The receiver's own token (a Splunk HEC token), encrypted by the service under a key
    /// derived from the deployment's key: never readable from the database alone.
    pub credential: Option<Vec<u8>>,
    /// Whether it is being delivered.
    pub state: SinkState,
    /// The next seq to deliver.
    pub cursor: u64,
    /// Which of the sink's secrets signs (rotating the secret adds one).
    pub secret_version: u32,
    /// Failed attempts in a row at the cursor (0 after a delivery).
    pub failures: u32,
    /// The last failure, as a person should read it (the receiver's status and the start of
    /// its answer, or the connection error).
    pub last_error: Option<String>,
    /// When delivery was last attempted.
    pub last_attempt_at: Option<Timestamp>,
    /// When a batch was last acknowledged.
    pub delivered_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A sink to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSink {
    /// Its id, chosen by the caller (the secret is derived from it).
    pub id: Uuid,
    /// A name unique within the tenant.
    pub name: String,
    /// What receives the entries.
    pub kind: SinkKind,
    /// Where they are sent (checked by the caller).
    pub url: String,
    /// The shape each entry is sent in.
    pub format: SinkFormat,
    /// The receiver's token, already encrypted by the caller.
    pub credential: Option<Vec<u8>>,
    /// The first seq to deliver: 0 for the whole log, the log's size for new entries only.
    pub cursor: u64,
}

/// Each tenant's sinks and their delivery state.
#[async_trait]
pub trait Sinks: Send + Sync + 'static {
    /// Adds an active sink; `Conflict` when the tenant has one of that name, `NotFound` for
    /// an unknown tenant.
    async fn add_sink(&self, tenant: TenantId, sink: NewSink) -> Result<SinkRecord, StoreError>;

    /// The tenant's sinks, by name.
    async fn sinks(&self, tenant: TenantId) -> Result<Vec<SinkRecord>, StoreError>;

    /// Every active sink of every tenant.
    async fn active_sinks(&self) -> Result<Vec<SinkRecord>, StoreError>;

    /// How many sinks of every tenant are in each state (states with none left out): what
    /// `/metrics` reports, so a dead letter on any node is seen even after a restart.
    async fn sink_state_counts(&self) -> Result<Vec<(SinkState, u64)>, StoreError>;

    /// The active sinks `node` may deliver until `until`: those whose lease is free, expired
    /// (before `now`) or already `node`'s, each leased to `node` in the same statement. With
    /// several nodes on one database each sink is delivered by one node at a time, and a
    /// node that dies gives its sinks up when their leases run out.
    async fn claim_sinks(
        &self,
        node: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<SinkRecord>, StoreError>;

    /// Sets a sink's state, and its cursor when `cursor` is given (a replay), clearing its
    /// failures; `NotFound` when the tenant has no such sink.
    async fn set_sink_state(
        &self,
        tenant: TenantId,
        id: Uuid,
        state: SinkState,
        cursor: Option<u64>,
    ) -> Result<SinkRecord, StoreError>;

    /// Records a batch the receiver acknowledged: the cursor moves from `from` to `to` and
    /// the failures are cleared, only if the sink is still active at `from`; answers whether
    /// it moved.
    async fn sink_delivered(
        &self,
        tenant: TenantId,
        id: Uuid,
        from: u64,
        to: u64,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Records a failed attempt at cursor `at_cursor` (one more failure, its error), and
    /// stops the sink as [`SinkState::DeadLetter`] once its failures in a row reach
    /// `dead_after` (counted in the same statement, so nodes and resumes in between cannot
    /// make it stale); only if the sink is still active at that cursor. Answers the failures
    /// in a row now, or `None` when the sink moved on meanwhile.
    async fn sink_failed(
        &self,
        tenant: TenantId,
        id: Uuid,
        at_cursor: u64,
        error: &str,
        dead_after: u32,
        at: Timestamp,
    ) -> Result<Option<u32>, StoreError>;

    /// Removes a sink; false when the tenant has no such sink.
    async fn remove_sink(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
}
