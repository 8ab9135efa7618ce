//! SQLite's side of group commit ([`crate::group_commit`]): the writer thread owns the only read-write
//! connection; appends are grouped into one `BEGIN IMMEDIATE … COMMIT`, and tenant, key and
//! lifecycle changes run as jobs on the same connection between groups. Derived indexes are
//! written in batches after the acknowledging commits ([`super::derive`]).

use super::append::write_group;
use super::derive::{index_queued, Pending};
use super::error::{backend, is_busy, is_fatal};
use crate::group_commit::{
    CommitError, GroupOutcome, GroupWriter, RequestRef, WriterHandle, WriterShared,
};
use crate::{Clock, StoreError};
use rusqlite::Connection;
use std::time::Instant;

/// Why a write did not happen: an SQLite error (which may be fatal for the writer) or a
/// refusal already phrased for the caller.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// SQLite failed; [`is_fatal`] decides whether the writer may carry on.
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    /// A refusal for the caller (conflict, unknown tenant, …).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WriteError {
    /// The error for a caller outside the writer's classification (start-up, migrations): an
    /// SQLite error says what was being done, a refusal stays as phrased.
    pub(crate) fn while_doing(self, doing: &str) -> StoreError {
        match self {
            WriteError::Sql(e) => backend(doing)(e),
            WriteError::Store(e) => e,
        }
    }
}

/// The writer thread's connection, and the committed entries whose derived indexes it has
/// still to write.
pub(crate) struct SqliteWriter {
    conn: Connection,
    clock: Clock,
    pending: Pending,
}

impl SqliteWriter {
    /// Wraps an already migrated read-write connection, after indexing whatever an earlier
    /// run left queued (a crash between a commit and its derived indexes), so the first read
    /// after a restart already finds every acknowledged entry.
    pub(crate) fn open(mut conn: Connection, clock: Clock) -> Result<Self, StoreError> {
        let mut pending = Pending::default();
        let indexed = index_queued(&mut conn, &mut pending, true)
            .map_err(|e| e.while_doing("indexing queued entries"))?;
        if indexed > 0 {
            tracing::info!(indexed, "indexed entries an earlier run had left queued");
        }
        Ok(SqliteWriter {
            conn,
            clock,
            pending,
        })
    }
}

/// Converts a write error, stopping the writer if it is fatal.
fn classify(shared: &WriterShared, error: WriteError) -> StoreError {
    match error {
        WriteError::Sql(e) if is_fatal(&e) => {
            shared.fail(e.to_string());
            StoreError::WriterFailed(e.to_string())
        }
        WriteError::Sql(e) => StoreError::Backend(e.to_string()),
        WriteError::Store(e) => e,
    }
}

impl GroupWriter for SqliteWriter {
    fn commit(&mut self, requests: &[RequestRef<'_>]) -> Result<GroupOutcome, CommitError> {
        write_group(&mut self.conn, &self.clock, requests, &mut self.pending).map_err(|error| {
            match error {
                WriteError::Sql(e) if is_fatal(&e) => CommitError::Fatal(e.to_string()),
                // Another process held the write lock past the busy timeout: retrying request by
                // request would only wait that long again, once per request.
                WriteError::Sql(e) if is_busy(&e) => {
                    CommitError::Group(StoreError::Backend(e.to_string()))
                }
                WriteError::Sql(e) => CommitError::Request(StoreError::Backend(e.to_string())),
                WriteError::Store(e) => CommitError::Request(e),
            }
        })
    }

    fn deferred_due(&self) -> Option<Instant> {
        self.pending.due()
    }

    fn deferred_entries(&self) -> u64 {
        self.pending.len() as u64
    }

    fn run_deferred(&mut self, shared: &WriterShared, all: bool) -> u64 {
        let now = Instant::now();
        // Nothing to do, or not yet: the count readers see was set when it last changed
        // (after the commit that added entries, after the batch that took them).
        if !self.pending.has_work() || !(all || self.pending.ready(now)) {
            return 0;
        }
        if shared.failure().is_some() {
            // Nothing more is written after a fatal error; the queue rows stay for the next
            // start to index.
            self.pending = Pending::default();
            shared.set_deferred(0);
            return 0;
        }
        metrics::histogram!("sealtrail_index_lag_seconds").record(self.pending.lag(now));
        // Everything at once unless appends are waiting behind it (then one slice per group).
        let whole = all || !shared.appends_waiting();
        let indexed = match index_queued(&mut self.conn, &mut self.pending, whole) {
            Ok(indexed) => indexed,
            Err(error) => {
                let error = classify(shared, error);
                if shared.failure().is_none() {
                    tracing::warn!(%error, "writing derived indexes failed; retrying shortly");
                    self.pending.retry_later();
                }
                0
            }
        };
        shared.set_deferred(self.pending.len() as u64);
        indexed
    }
}

impl WriterHandle<SqliteWriter> {
    /// Runs `job` on the writer connection, between groups; a fatal SQLite error stops the
    /// writer as a failed group would.
    pub(crate) async fn run_job<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Connection) -> Result<T, WriteError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(move |writer, shared| job(&mut writer.conn).map_err(|e| classify(shared, e)))
            .await
    }
}
