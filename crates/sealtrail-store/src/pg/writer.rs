//! PostgreSQL's side of group commit ([`crate::group_commit`]): this node's writer thread owns one
//! connection and commits its queued appends in groups. Unlike SQLite, a failed group never
//! stops the writer: PostgreSQL itself refuses to carry on after a failed fsync (it crashes and
//! recovers from its WAL), so the writer only has to reconnect. A group whose connection broke
//! may or may not have committed; its requests are failed without a retry, so a retry can
//! never store an entry twice (clients retry with their idempotency keys).

use super::append::write_group;
use super::pool::{lost, Conn, PgError};
use super::schema::{ensure_partitions, MONTHS_AHEAD};
use crate::group_commit::{CommitError, GroupOutcome, GroupWriter, RequestRef};
use crate::{Clock, StoreError};
use std::time::{Duration, Instant};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Partitions are created again once the newest one ends within this many milliseconds: weeks
/// of margin, so a month never starts without its partition.
const PARTITION_MARGIN_MS: i64 = 20 * 86_400_000;

/// After a failed partition check, how long before the writer tries again (each try may wait
/// for a lock for up to two seconds, which an append group should not pay every time).
const PARTITION_RETRY: Duration = Duration::from_secs(60);

/// The writer thread's connection and what it knows about the partitions.
pub(crate) struct PgWriter {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    conn: Option<Conn>,
    /// Times before this have a partition.
    covered_until: i64,
    /// No partition check before this instant (set after a failed one).
    next_check: Option<Instant>,
    /// Where `recorded_at` comes from; partitions are created ahead of it.
    clock: Clock,
}

impl PgWriter {
    /// Opens the writer's connection (on a blocking thread: the synchronous client must not be
    /// created on an async one).
    pub(crate) fn connect(
        config: postgres::Config,
        tls: MakeRustlsConnect,
        clock: Clock,
    ) -> Result<PgWriter, StoreError> {
        let conn = Conn::open(&config, &tls)?;
        Ok(PgWriter {
            config,
            tls,
            conn: Some(conn),
            covered_until: 0,
            next_check: None,
            clock,
        })
    }

    /// The connection, reopened if the last one broke.
    fn conn(&mut self) -> Result<&mut Conn, StoreError> {
        if self.conn.as_ref().is_none_or(Conn::is_closed) {
            self.conn = Some(Conn::open(&self.config, &self.tls)?);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Backend("no writer connection".into()))
    }

    /// Makes sure partitions reach well past now: a comparison, except every two to three
    /// months per node. A failed check only matters once the partitions run out; until then
    /// it is logged and tried again later, and appends carry on.
    fn ensure_partitions(&mut self) -> Result<(), PgError> {
        let now = self.clock.now();
        if now.millis() + PARTITION_MARGIN_MS < self.covered_until
            || self.next_check.is_some_and(|at| Instant::now() < at)
        {
            return Ok(());
        }
        let conn = self.conn()?;
        match ensure_partitions(conn, now) {
            Ok(covered) => {
                self.covered_until = covered;
                self.next_check = None;
                tracing::debug!(months_ahead = MONTHS_AHEAD, "entry partitions checked");
                Ok(())
            }
            Err(e) if now.millis() < self.covered_until && !lost(&e) => {
                tracing::warn!(error = %e, "could not create entry partitions ahead; will retry");
                self.next_check = Some(Instant::now() + PARTITION_RETRY);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn classify(&mut self, error: PgError) -> CommitError {
        if lost(&error) {
            self.conn = None;
            return CommitError::Group(StoreError::Unavailable(format!(
                "the connection to PostgreSQL broke during a commit; the request may not have \
                 been stored, retry it with the same idempotency key: {}",
                error
            )));
        }
        match error {
            PgError::Store(e) => CommitError::Request(e),
            PgError::Sql(e) => {
                CommitError::Request(PgError::Sql(e).into_store("appending entries"))
            }
        }
    }
}

impl GroupWriter for PgWriter {
    fn commit(&mut self, requests: &[RequestRef<'_>]) -> Result<GroupOutcome, CommitError> {
        if let Err(e) = self.ensure_partitions() {
            return Err(self.classify(e));
        }
        let clock = self.clock.clone();
        let result = match self.conn() {
            Ok(conn) => write_group(conn, &clock, requests),
            Err(e) => return Err(CommitError::Group(e)),
        };
        result.map_err(|e| self.classify(e))
    }
}
