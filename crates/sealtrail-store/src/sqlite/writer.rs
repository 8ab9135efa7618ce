//! SQLite's side of group commit ([`crate::group`]): the writer thread owns the only read-write
//! connection; appends are grouped into one `BEGIN IMMEDIATE … COMMIT`, and tenant, key and
//! lifecycle changes run as jobs on the same connection between groups.

use super::append::write_group;
use super::error::{is_busy, is_fatal};
use crate::group::{
    CommitError, GroupOutcome, GroupWriter, RequestRef, WriterHandle, WriterShared,
};
use crate::{Clock, StoreError};
use rusqlite::Connection;

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

/// The writer thread's connection.
pub(crate) struct SqliteWriter {
    conn: Connection,
    clock: Clock,
}

impl SqliteWriter {
    /// Wraps an already migrated read-write connection.
    pub(crate) fn new(conn: Connection, clock: Clock) -> Self {
        SqliteWriter { conn, clock }
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
        write_group(&mut self.conn, &self.clock, requests).map_err(|error| match error {
            WriteError::Sql(e) if is_fatal(&e) => CommitError::Fatal(e.to_string()),
            // Another process held the write lock past the busy timeout: retrying request by
            // request would only wait that long again, once per request.
            WriteError::Sql(e) if is_busy(&e) => {
                CommitError::Group(StoreError::Backend(e.to_string()))
            }
            WriteError::Sql(e) => CommitError::Request(StoreError::Backend(e.to_string())),
            WriteError::Store(e) => CommitError::Request(e),
        })
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
