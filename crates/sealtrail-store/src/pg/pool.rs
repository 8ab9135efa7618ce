//! Connections: a small pool of synchronous clients used from `spawn_blocking`, each with its
//! own cache of prepared statements, and [`Tx`], the transaction every store function works in.
//!
//! Reads run in `REPEATABLE READ READ ONLY` transactions, so everything one call returns comes
//! from one snapshot (as on SQLite), except the few that need no shared snapshot and are asked
//! on every request: the API key with its tenant's settings, a list page, a count
//! ([`Pool::read_unshared`]). Writes through the pool run in `READ COMMITTED`
//! transactions that take the row locks they need explicitly; a deadlock or serialization
//! failure runs them again. (Appends go through the writer instead, see `writer`.) A connection
//! that broke (server restart, network) is dropped and replaced on next use, so a node outlives
//! a database failover without restarting (connect and keepalive timeouts: [`with_timeouts`]).

use super::error::{describe, is_connection_lost, is_retryable, is_unstorable_text};
use crate::blocking;
use crate::StoreError;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, Row, Statement};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Most distinct statements a connection keeps prepared; the query builder makes one per filter
/// combination, so the cache is bounded and simply cleared when full.
const STATEMENT_CACHE: usize = 256;

/// How often a transaction that lost a deadlock or serialization race is run again.
const RETRIES: usize = 5;

/// An error inside a store function: PostgreSQL's (which the pool may retry or report), or a
/// refusal already phrased for the caller.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PgError {
    /// PostgreSQL failed.
    #[error("{}", describe(.0))]
    Sql(#[from] postgres::Error),
    /// A refusal for the caller (conflict, unknown tenant, …).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PgError {
    /// The error the caller sees.
    pub(crate) fn into_store(self, context: &str) -> StoreError {
        match self {
            PgError::Sql(e) if is_connection_lost(&e) => {
                StoreError::Unavailable(format!("{context}: {}", describe(&e)))
            }
            PgError::Sql(e) if is_unstorable_text(&e) => StoreError::Invalid(format!(
                "{context}: the text contains a character PostgreSQL cannot hold (U+0000)"
            )),
            PgError::Sql(e) => StoreError::Backend(format!("{context}: {}", describe(&e))),
            PgError::Store(e) => e,
        }
    }

    fn is_retryable(&self) -> bool {
        matches!(self, PgError::Sql(e) if is_retryable(e))
    }

    /// PostgreSQL's `feature_not_supported`, which a prepared statement whose result type
    /// changed under it also raises.
    fn is_unsupported(&self) -> bool {
        matches!(self, PgError::Sql(e) if e.code() == Some(&postgres::error::SqlState::FEATURE_NOT_SUPPORTED))
    }
}

/// Result of a store function.
pub(crate) type PgResult<T> = Result<T, PgError>;

/// Column `idx` of `row`, for functions that answer [`StoreError`] directly (store functions
/// use `row.try_get(idx)?`): `Row::get` panics when a column does not hold the type asked for,
/// as after a schema changed under the node, and that panic would be on a request's thread.
pub(crate) fn column<'a, T: postgres::types::FromSql<'a>>(
    row: &'a Row,
    idx: usize,
) -> Result<T, StoreError> {
    row.try_get(idx)
        .map_err(|e| PgError::Sql(e).into_store("reading a row"))
}

/// One connection and its prepared statements.
pub(crate) struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    /// Opens a connection (encrypted when the server offers TLS, see `tls`) with the settings
    /// every Sealtrail session needs.
    pub(crate) fn open(
        config: &postgres::Config,
        tls: &MakeRustlsConnect,
    ) -> Result<Conn, StoreError> {
        let mut client = config.connect(tls.clone()).map_err(|e| {
            StoreError::Unavailable(format!("connecting to PostgreSQL: {}", describe(&e)))
        })?;
        // UTC so any timestamp PostgreSQL renders is unambiguous; a statement timeout so a
        // runaway query cannot hold a connection forever; synchronous_commit on whatever the
        // database or role says, because an append is acknowledged when COMMIT returns.
        // Large values compressed with lz4 where the server has it (PostgreSQL 14 or newer,
        // built with it): an entry's row passes the 2 KB TOAST threshold, so its search words
        // are compressed on every append and decompressed on every read of them. Copying a
        // 902k-entry log took 25.0 s with lz4 against 43.9 s with the default pglz, and reading
        // its words back 2.9 s against 4.0 s (BENCHMARKS.md, issue #20).
        client
            .batch_execute(
                "SET TIME ZONE 'UTC'; SET statement_timeout = '10min'; \
                 SET synchronous_commit = on; \
                 SELECT set_config('default_toast_compression', 'lz4', false) \
                 FROM pg_settings \
                 WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)",
            )
            .map_err(|e| StoreError::Backend(format!("configuring a session: {}", describe(&e))))?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    /// True once the connection can no longer be used.
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Runs statements outside any transaction (`VACUUM`, session settings and locks).
    pub(crate) fn batch(&mut self, sql: &str) -> PgResult<()> {
        Ok(self.client.batch_execute(sql)?)
    }

    /// Starts a transaction at `isolation`, read-only when asked.
    pub(crate) fn begin(&mut self, isolation: IsolationLevel, read_only: bool) -> PgResult<Tx<'_>> {
        let tx = self
            .client
            .build_transaction()
            .isolation_level(isolation)
            .read_only(read_only)
            .start()?;
        Ok(Tx {
            tx,
            statements: &mut self.statements,
        })
    }
}

/// A transaction with cached prepared statements: every store function works in one.
pub(crate) struct Tx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
}

/// Runs `run` on `conn` again while it loses a deadlock, serialization race or standby
/// conflict, up to [`RETRIES`] times, and phrases its error for the caller with `context`.
///
/// A statement PostgreSQL refuses as unsupported runs once more with the connection's
/// statements prepared afresh: after a column's type changed under a prepared statement
/// (an operator's migration), PostgreSQL will not change the cached plan's result type
/// ("cached plan must not change result type") and the connection failed every such read
/// until it was replaced.
fn retried<T>(
    context: &str,
    conn: &mut Conn,
    mut run: impl FnMut(&mut Conn) -> PgResult<T>,
) -> Result<T, StoreError> {
    let mut attempt = 0;
    let mut prepared_afresh = false;
    loop {
        match run(conn) {
            Err(e) if e.is_retryable() && attempt < RETRIES => attempt += 1,
            Err(e) if e.is_unsupported() && !prepared_afresh => {
                conn.statements.clear();
                prepared_afresh = true;
            }
            other => return other.map_err(|e| e.into_store(context)),
        }
    }
}

/// The prepared statement for `sql` from `statements`, prepared by `prepare` on first use.
fn cached(
    statements: &mut HashMap<String, Statement>,
    sql: &str,
    prepare: impl FnOnce(&str) -> Result<Statement, postgres::Error>,
) -> Result<Statement, postgres::Error> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = prepare(sql)?;
    if statements.len() >= STATEMENT_CACHE {
        statements.clear();
    }
    statements.insert(sql.to_string(), statement.clone());
    Ok(statement)
}

/// What a read's statements run on: a transaction (one snapshot for all of them), or a
/// connection outside one ([`Pool::read_unshared`]), where each
/// statement is its own snapshot.
pub(crate) trait Statements {
    /// All rows of a (cached) statement.
    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<Vec<Row>>;

    /// At most one row of a (cached) statement.
    fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<Option<Row>>;

    /// Exactly one row of a (cached) statement.
    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<Row>;
}

impl Statements for Tx<'_> {
    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<Vec<Row>> {
        Tx::query(self, sql, params)
    }

    fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<Option<Row>> {
        Tx::query_opt(self, sql, params)
    }

    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<Row> {
        Tx::query_one(self, sql, params)
    }
}

impl Conn {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        let client = &mut self.client;
        cached(&mut self.statements, sql, |sql| client.prepare(sql))
    }
}

impl Statements for Conn {
    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<Vec<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.client.query(&statement, params)?)
    }

    fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<Option<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.client.query_opt(&statement, params)?)
    }

    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<Row> {
        let statement = self.statement(sql)?;
        Ok(self.client.query_one(&statement, params)?)
    }
}

impl<'a> Tx<'a> {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        let tx = &mut self.tx;
        cached(self.statements, sql, |sql| tx.prepare(sql))
    }

    /// All rows of a (cached) statement.
    pub(crate) fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> PgResult<Vec<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.tx.query(&statement, params)?)
    }

    /// At most one row.
    pub(crate) fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> PgResult<Option<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.tx.query_opt(&statement, params)?)
    }

    /// Exactly one row.
    pub(crate) fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<Row> {
        let statement = self.statement(sql)?;
        Ok(self.tx.query_one(&statement, params)?)
    }

    /// Rows changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<u64> {
        let statement = self.statement(sql)?;
        Ok(self.tx.execute(&statement, params)?)
    }

    /// The underlying transaction, for streaming reads (`query_raw`) and scripts.
    pub(crate) fn inner(&mut self) -> &mut postgres::Transaction<'a> {
        &mut self.tx
    }

    /// Commits; the caller acknowledges nothing before this returns `Ok`.
    pub(crate) fn commit(self) -> PgResult<()> {
        Ok(self.tx.commit()?)
    }
}

/// Connections shared by every reader and small writer of one store. The semaphore bounds
/// concurrent calls to the pool size, so a connection (idle or newly opened) is always allowed
/// once a permit is held.
pub(crate) struct Pool {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    idle: Mutex<Vec<Conn>>,
    permits: Arc<Semaphore>,
}

impl Pool {
    /// A pool of at most `size` connections, opened lazily.
    pub(crate) fn new(config: postgres::Config, tls: MakeRustlsConnect, size: usize) -> Arc<Pool> {
        Arc::new(Pool {
            config: with_timeouts(config),
            tls,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1))),
        })
    }

    /// Runs `f` on a pooled connection off the async threads. A connection that broke is
    /// dropped instead of returned.
    pub(crate) async fn with_conn<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = self.clone();
        blocking::with_permit(&self.permits, "connection pool", move || {
            let idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut conn = match idle {
                Some(conn) if !conn.is_closed() => conn,
                _ => Conn::open(&pool.config, &pool.tls)?,
            };
            let result = f(&mut conn);
            if !conn.is_closed() {
                pool.idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(conn);
            }
            result
        })
        .await
    }

    /// Runs `f` in one read-only snapshot. A snapshot cancelled by a conflict (on a hot
    /// standby, replaying a vacuum or a partition drop cancels such reads) is taken again.
    pub(crate) async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        context: &'static str,
        f: impl Fn(&mut Tx<'_>) -> PgResult<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.transaction(IsolationLevel::RepeatableRead, true, context, f)
            .await
    }

    /// Runs `f`'s statements outside an explicit transaction, each in a snapshot of its own,
    /// for reads that need no shared one: a single statement (the API key and tenant settings
    /// every request looks up), or a page or count bounded by the seqs the log head named
    /// first (entries below it never change but by a prune or an erasure, and a statement
    /// that sees one of those sees what a read just after it would). The `START TRANSACTION`
    /// and `COMMIT` of [`Pool::read`] are two round trips to the database each time. A
    /// statement cancelled by a conflict runs `f` again.
    pub(crate) async fn read_unshared<T: Send + 'static>(
        self: &Arc<Self>,
        context: &'static str,
        f: impl Fn(&mut Conn) -> PgResult<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.with_conn(move |conn| retried(context, conn, |conn| f(conn)))
            .await
    }

    /// Runs `f` in a read-write transaction and commits it; a lost deadlock or serialization
    /// race runs it again (so `f` must only touch the database).
    pub(crate) async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        context: &'static str,
        f: impl Fn(&mut Tx<'_>) -> PgResult<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.transaction(IsolationLevel::ReadCommitted, false, context, f)
            .await
    }

    /// Runs `f` in one committed transaction, again (up to [`RETRIES`] times) whenever
    /// PostgreSQL cancelled it for a deadlock or serialization conflict.
    async fn transaction<T: Send + 'static>(
        self: &Arc<Self>,
        isolation: IsolationLevel,
        read_only: bool,
        context: &'static str,
        f: impl Fn(&mut Tx<'_>) -> PgResult<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.with_conn(move |conn| {
            retried(context, conn, |conn| {
                let mut tx = conn.begin(isolation, read_only)?;
                let value = f(&mut tx)?;
                tx.commit()?;
                Ok(value)
            })
        })
        .await
    }
}

/// True when an error means the connection it came from is unusable.
pub(crate) fn lost(error: &PgError) -> bool {
    matches!(error, PgError::Sql(e) if is_connection_lost(e))
}

impl Drop for Pool {
    fn drop(&mut self) {
        // A synchronous client owns a small runtime, which must not be dropped on an async
        // thread (the store is often dropped on one): close idle connections elsewhere.
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        if !idle.is_empty() {
            let closing = std::thread::Builder::new()
                .name("sealtrail-pg-close".into())
                .spawn(move || drop(idle));
            if let Err(e) = closing {
                tracing::warn!(error = %e, "could not close idle PostgreSQL connections");
            }
        }
    }
}

/// The connection settings with the timeouts a node needs to outlive a failover: without
/// them a connection to a vanished host hangs for minutes and a silently dropped one for a
/// quarter of an hour, with every append of the node behind it. Settings given in the URL win.
pub(crate) fn with_timeouts(mut config: postgres::Config) -> postgres::Config {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    config.keepalives(true);
    if config.get_keepalives_idle() == std::time::Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(std::time::Duration::from_secs(30));
    }
    config
}
