//! Connection setup and schema migrations.
//!
//! Migrations are an ordered list of steps (SQL scripts, or Rust for data backfills). Each runs
//! in its own `BEGIN IMMEDIATE` transaction that first re-checks `schema_migrations`, so
//! reopening is idempotent and two processes opening a fresh file at once serialise on
//! SQLite's write lock instead of racing.

use super::backfill;
use super::error::backend;
use crate::StoreError;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use sealtrail_core::Timestamp;
use std::path::Path;
use std::time::Duration;

/// How long a connection waits for another writer (this process's other store, or a CLI
/// command on the same file) before reporting the database busy.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements each connection keeps prepared; the writer and the query builder reuse a few
/// dozen distinct statements.
const STATEMENT_CACHE: usize = 128;

/// One migration: plain SQL, or Rust for steps that must compute data (hashes, envelopes).
enum Step {
    /// A script run with `execute_batch`.
    Sql(&'static str),
    /// A function run inside the migration's transaction.
    Rust(fn(&Transaction<'_>) -> Result<(), StoreError>),
}

/// The schema, oldest first. Never edit a released entry: add a new one.
const MIGRATIONS: &[(i64, Step)] = &[
    (1, Step::Sql(V1_INITIAL)),
    (2, Step::Rust(backfill::migrate_v2)),
    (3, Step::Sql(V3_EXPORT_EXCLUSIONS)),
    (4, Step::Sql(V4_USERS_SESSIONS_ALLOWLIST)),
    (5, Step::Sql(V5_TENANT_LIMITS)),
    (6, Step::Sql(V6_VAULT_IN_ENTRY_ROWS)),
    (7, Step::Sql(V7_INDEX_QUEUE)),
    (8, Step::Rust(super::ledger::migrate_v8)),
    (9, Step::Sql(V9_TILE_ACCESS)),
    (10, Step::Sql(V10_DEFAULT_PERIOD)),
    (11, Step::Sql(V11_LATE_ENTRIES)),
    (12, Step::Sql(V12_DAY_ROLLUP)),
    (13, Step::Sql(V13_COVERING_ACTOR_INDEXES)),
    (14, Step::Rust(super::derive::migrate_v14)),
    (15, Step::Sql(V15_ACTION_SCHEMAS)),
    (16, Step::Sql(V16_TENANT_ALIASES)),
    (17, Step::Sql(V17_SINKS)),
    (18, Step::Sql(V18_SINK_LEASES)),
    (19, Step::Sql(V19_SINK_FORMATS)),
    (20, Step::Sql(V20_CORS_ORIGINS)),
    (21, Step::Sql(V21_SHARED_JOBS_AND_ATTEMPTS)),
    (22, Step::Sql(V22_NO_DELETE_MERGE)),
    (23, Step::Sql(V23_SEALED_ERASURE_RUNS)),
];

/// Version 23: each erasure run's seal (`crate::erasure::ledger::run_seal`), so a run written
/// into the database by hand is never recorded as this deployment's.
const V23_SEALED_ERASURE_RUNS: &str = "ALTER TABLE erasure_runs ADD COLUMN seal BLOB;";

/// Version 22: FTS5's own delete-merge off (`deletemerge` 0). A prune or an erasure deletes
/// thousands of documents, and once a tenth of a level's entries were deleted FTS5 rewrote
/// that whole level inside the transaction of whichever chunk crossed the line: on a
/// 1M-entry log one prune chunk wrote 45,000 pages and held the writer, and every append
/// queued behind it, 9–14 s (BENCHMARKS.md, issue #20 part 8, P1). The purge after every prune
/// and erasure merges the index step by step anyway, which is what drops deleted documents
/// (`purge`).
const V22_NO_DELETE_MERGE: &str =
    "INSERT INTO entries_fts (entries_fts, rank) VALUES ('deletemerge', 0);";

/// Version 21: export jobs (`crate::Jobs`) and sign-in attempts (`crate::SignInAttempts`) in
/// the database, where every node of a deployment finds them.
const V21_SHARED_JOBS_AND_ATTEMPTS: &str = "
CREATE TABLE export_jobs (
    tenant       INTEGER NOT NULL REFERENCES tenants(id),
    id           TEXT NOT NULL,
    state        TEXT NOT NULL,
    spec         TEXT NOT NULL,
    node         TEXT,
    attempt      INTEGER NOT NULL,
    heartbeat_at INTEGER,
    row_count    INTEGER NOT NULL,
    byte_count   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    expires_at   INTEGER,
    error        TEXT,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX export_jobs_queue ON export_jobs (state, created_at);
CREATE TABLE sign_in_attempts (
    key   BLOB NOT NULL,
    at    INTEGER NOT NULL,
    token BLOB NOT NULL
);
CREATE INDEX sign_in_attempts_key ON sign_in_attempts (key, at);
CREATE INDEX sign_in_attempts_at ON sign_in_attempts (at);
CREATE INDEX sign_in_attempts_token ON sign_in_attempts (token);
CREATE TABLE sign_in_familiar (
    key BLOB PRIMARY KEY,
    at  INTEGER NOT NULL
);
";

/// Version 20: the web origins allowed to call a tenant's API from a browser (none by default).
const V20_CORS_ORIGINS: &str =
    "ALTER TABLE tenants ADD COLUMN cors_origins TEXT NOT NULL DEFAULT '[]';";

/// Version 19: the shape a sink sends (`sealtrail` or `ocsf`) and a receiver's own token,
/// encrypted by the service (`credential`).
const V19_SINK_FORMATS: &str = "
ALTER TABLE sinks ADD COLUMN format TEXT NOT NULL DEFAULT 'sealtrail';
ALTER TABLE sinks ADD COLUMN credential BLOB;
";

/// Version 18: which node delivers each sink, and until when (`crate::Sinks::claim_sinks`).
const V18_SINK_LEASES: &str = "
ALTER TABLE sinks ADD COLUMN lease_owner TEXT;
ALTER TABLE sinks ADD COLUMN lease_until INTEGER;
";

/// Version 17: push-delivery sinks and the cursor each has reached (`crate::Sinks`). No
/// secret is stored: a sink's is derived from the deployment's key and its id.
const V17_SINKS: &str = "
CREATE TABLE sinks (
    tenant          INTEGER NOT NULL REFERENCES tenants(id),
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    url             TEXT NOT NULL,
    state           TEXT NOT NULL,
    cursor          INTEGER NOT NULL,
    secret_version  INTEGER NOT NULL,
    failures        INTEGER NOT NULL,
    last_error      TEXT,
    last_attempt_at INTEGER,
    delivered_at    INTEGER,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, name)
);
CREATE INDEX sinks_active ON sinks (state) WHERE state = 'active';
";

/// Version 16: other names of tenants, by which compatible APIs name them (a WorkOS
/// organization id, a Retraced project id); each tenant's own, so no tenant can claim (or
/// learn of) another's.
const V16_TENANT_ALIASES: &str = "
CREATE TABLE tenant_aliases (
    tenant     INTEGER NOT NULL REFERENCES tenants(id),
    alias      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, alias)
);
";

/// Version 15: per-action schemas, each registration a new version (`crate::Schemas`).
const V15_ACTION_SCHEMAS: &str = "
CREATE TABLE action_schemas (
    tenant     INTEGER NOT NULL REFERENCES tenants(id),
    action     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    document   TEXT NOT NULL,
    source     TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, action, version)
);
";

/// Version 13: the actor indexes carry, after the key and `pk` (so an actor's entries still
/// come in seq order), the event time, outcome and action. A page of one actor's entries in a
/// period, or with an action, and the timeline of an actor, then read only the index for the
/// entries that do not match, instead of each one's row (several KiB, with its vault values):
/// the top actor of a large tenant has hundreds of thousands. Rebuilt once, at upgrade.
const V13_COVERING_ACTOR_INDEXES: &str = "
DROP INDEX entries_actor_id;
DROP INDEX entries_actor_email;
CREATE INDEX entries_actor_id ON entries(tenant, actor_id, pk, occurred_at, result, action)
    WHERE actor_id IS NOT NULL;
CREATE INDEX entries_actor_email ON entries(tenant, actor_email, pk, occurred_at, result, action)
    WHERE actor_email IS NOT NULL;
";

/// Version 12: the timeline's day rollup ([`crate::tallies`]), a `facet_values` row per tenant,
/// event-time day and outcome, counted from the entries already indexed (those still queued
/// are counted when the queue reaches them, like their other facet counts). One pass over
/// the log, once.
const V12_DAY_ROLLUP: &str = "INSERT INTO facet_values (tenant, kind, value, count)
    SELECT tenant, 'day', printf('%07d/%s', occurred_at / 86400000, result), count(*)
    FROM entries WHERE pk NOT IN (SELECT pk FROM index_queue)
    GROUP BY tenant, occurred_at / 86400000, result;";

/// Version 11: entries received more than a day after their event time, by tenant and event
/// time ([`crate::event_time`]): what a period on event time must look for beyond the seq
/// range the receipt-time index gives it. Usually almost empty; a bulk import fills it.
const V11_LATE_ENTRIES: &str = "CREATE INDEX entries_late ON entries(tenant, occurred_at)
    WHERE recorded_at > occurred_at + 86400000;";

/// Version 10: the period the audit page opens on (a filter preset; empty is any time).
const V10_DEFAULT_PERIOD: &str =
    "ALTER TABLE tenants ADD COLUMN default_period TEXT NOT NULL DEFAULT '';";

/// Version 9: who may read the log's tree tiles ([`crate::TileAccess`]); off for every tenant.
const V9_TILE_ACCESS: &str =
    "ALTER TABLE tenants ADD COLUMN tile_access TEXT NOT NULL DEFAULT 'off';";

/// Version 7: entries committed but not yet in their derived indexes (targets, facet counts,
/// search words), which `sqlite::derive` builds in batches after the acknowledging commit.
/// Every entry already stored is indexed, so the queue starts empty.
const V7_INDEX_QUEUE: &str = "CREATE TABLE index_queue (pk INTEGER PRIMARY KEY);";

/// Version 6: the vault moves into the entry row, a salt and a value column per part (as on
/// PostgreSQL), so an append writes one row per event instead of four rows in two B-trees. An
/// erased part keeps no salt. Dropping the table under `secure_delete` zeroes its pages.
const V6_VAULT_IN_ENTRY_ROWS: &str = r#"
ALTER TABLE entries ADD COLUMN actor_salt BLOB;
ALTER TABLE entries ADD COLUMN actor_value BLOB;
ALTER TABLE entries ADD COLUMN context_salt BLOB;
ALTER TABLE entries ADD COLUMN context_value BLOB;
ALTER TABLE entries ADD COLUMN payload_salt BLOB;
ALTER TABLE entries ADD COLUMN payload_value BLOB;

UPDATE entries SET
    actor_salt = v.actor_salt, actor_value = v.actor_value,
    context_salt = v.context_salt, context_value = v.context_value,
    payload_salt = v.payload_salt, payload_value = v.payload_value
FROM (
    SELECT pk,
        max(CASE WHEN part = 0 AND erased = 0 THEN salt END) AS actor_salt,
        max(CASE WHEN part = 0 THEN value END) AS actor_value,
        max(CASE WHEN part = 1 AND erased = 0 THEN salt END) AS context_salt,
        max(CASE WHEN part = 1 THEN value END) AS context_value,
        max(CASE WHEN part = 2 AND erased = 0 THEN salt END) AS payload_salt,
        max(CASE WHEN part = 2 THEN value END) AS payload_value
    FROM vault GROUP BY pk
) AS v
WHERE v.pk = entries.pk;

DROP TABLE vault;
"#;

/// Version 5: per-tenant rate limits and daily quota (JSON, [`crate::TenantLimits`]); existing
/// tenants get the defaults.
const V5_TENANT_LIMITS: &str = r#"
ALTER TABLE tenants ADD COLUMN limits TEXT NOT NULL
    DEFAULT '{"requests_per_second_per_key":500,"ingest_events_per_second":5000,"daily_event_quota":null}';
"#;

/// Version 4: people who sign in to the web page, their sessions (token hashes only), and the
/// per-tenant IP allowlist (a JSON array of normalised CIDR strings).
const V4_USERS_SESSIONS_ALLOWLIST: &str = r#"
ALTER TABLE tenants ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '[]';

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    tenant         INTEGER NOT NULL REFERENCES tenants(id),
    email          TEXT NOT NULL,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    deactivated_at INTEGER,
    UNIQUE (tenant, email)
);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    tenant     INTEGER NOT NULL REFERENCES tenants(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
"#;

/// Version 3: per-tenant `properties` keys that exports leave out (a JSON array of strings).
const V3_EXPORT_EXCLUSIONS: &str =
    "ALTER TABLE tenants ADD COLUMN export_excluded TEXT NOT NULL DEFAULT '[]';";

/// Version 1: tenants, keys, per-tenant log heads, entries with their filter columns, targets,
/// the tenant-scoped search index and incrementally maintained facets.
const V1_INITIAL: &str = r#"
CREATE TABLE tenants (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- One row per tenant: the next seq to assign and the newest recorded_at. Read and advanced
-- inside the write transaction, so any number of writers on this file keep seq gapless.
CREATE TABLE log_heads (
    tenant           INTEGER PRIMARY KEY REFERENCES tenants(id),
    next_seq         INTEGER NOT NULL,
    last_recorded_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant     INTEGER NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    hash       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_keys_by_tenant ON api_keys(tenant, created_at);

-- pk = (tenant << 40) | seq: a tenant's log is one contiguous rowid range, so "newest first"
-- is a reverse rowid scan and every query is tenant-scoped by a range bound.
CREATE TABLE entries (
    pk              INTEGER PRIMARY KEY,
    tenant          INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    id              BLOB NOT NULL UNIQUE,
    recorded_at     INTEGER NOT NULL,
    occurred_at     INTEGER NOT NULL,
    channel         TEXT NOT NULL,
    action          TEXT NOT NULL,
    event           TEXT NOT NULL,
    category        TEXT,
    result          TEXT NOT NULL,
    actor_type      TEXT NOT NULL,
    actor_id        TEXT,
    actor_email     TEXT,
    ip              TEXT,
    idempotency_key TEXT,
    props           TEXT,   -- {"key": "scalar rendered as text"} for property filters
    body            TEXT NOT NULL
);
CREATE INDEX entries_recorded ON entries(tenant, recorded_at);
CREATE INDEX entries_actor_id ON entries(tenant, actor_id) WHERE actor_id IS NOT NULL;
CREATE INDEX entries_actor_email ON entries(tenant, actor_email) WHERE actor_email IS NOT NULL;
CREATE UNIQUE INDEX entries_idempotency ON entries(tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Every target of every entry, so target filters match any target, not only the first.
CREATE TABLE entry_targets (
    pk   INTEGER NOT NULL,
    ord  INTEGER NOT NULL,
    type TEXT NOT NULL,
    id   TEXT,
    name TEXT,
    PRIMARY KEY (pk, ord)
) WITHOUT ROWID;
CREATE INDEX entry_targets_by_id ON entry_targets(id) WHERE id IS NOT NULL;

-- Contentless search index, rowid = entries.pk. Tokens are produced in Rust as
-- "<tenant>x<word>", so a tenant's search never touches another tenant's postings.
CREATE VIRTUAL TABLE entries_fts USING fts5(
    words, content = '', contentless_delete = 1, detail = none, tokenize = 'ascii'
);

-- Facet counts maintained by the writer, so the dropdowns cost O(distinct values).
CREATE TABLE facet_values (
    tenant INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    value  TEXT NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind, value)
) WITHOUT ROWID;
CREATE TABLE facet_actors (
    tenant INTEGER NOT NULL,
    key    TEXT NOT NULL,   -- JSON [type, id, name, email]: tells a missing field from ""
    type   TEXT NOT NULL,
    id     TEXT,
    name   TEXT,
    email  TEXT,
    count  INTEGER NOT NULL,
    PRIMARY KEY (tenant, key)
) WITHOUT ROWID;
"#;

/// Opens the read-write connection the writer thread owns and switches the file to WAL with
/// the writer's pragmas (no auto-checkpoints: [`super::wal`] owns them). The caller installs
/// the WAL backstop and then migrates ([`migrate`]), in that order, so a long migration cannot
/// grow the WAL without bound.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(backend("opening the database"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(backend("setting busy_timeout"))?;
    set_wal(&conn)?;
    // secure_delete zeroes freed cells and pages, so pruned or erased content does not linger
    // in the file after the WAL is checkpointed. Checkpoints run on their own thread
    // (`wal.rs`), never inside the writer's commits. That thread keeps the WAL near 64 MiB;
    // a file grown past 128 MiB by a stalled checkpoint is cut back when it is next reset.
    // (A limit below the usual size would truncate the file at every reset, and the kernel
    // would then zero every block the next frames extend it by: 11% of the writer's time.)
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA wal_autocheckpoint = 0;
         PRAGMA journal_size_limit = 134217728;
         PRAGMA secure_delete = ON;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -32768;",
    )
    .map_err(backend("setting pragmas"))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Creates (or opens) a database migrated only up to `version`, for upgrade tests that need a
/// file as an older build left it.
#[cfg(any(test, feature = "test-support"))]
pub(crate) fn create_at_version(path: &Path, version: i64) -> Result<(), StoreError> {
    let mut conn = Connection::open(path).map_err(backend("opening the database"))?;
    set_wal(&conn)?;
    migrate(&mut conn, version)
}

/// Opens one connection for the read pool. Read-only at the SQLite level, so no query path
/// can ever write, whatever SQL it builds.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn =
        Connection::open_with_flags(path, flags).map_err(backend("opening a read connection"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(backend("setting busy_timeout"))?;
    conn.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384;")
        .map_err(backend("setting pragmas"))?;
    conn.execute_batch(super::search::VOCABULARY)
        .map_err(backend("opening the search vocabulary"))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Switching to WAL needs a moment of exclusive access; if another process is opening the same
/// file right now, wait for it rather than fail.
fn set_wal(conn: &Connection) -> Result<(), StoreError> {
    let mut attempts = 0;
    loop {
        let mode: Result<String, _> =
            conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0));
        match mode {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(StoreError::Backend(format!(
                    "the database refused WAL mode (journal_mode is {mode})"
                )))
            }
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 100 =>
            {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(backend("enabling WAL")(e)),
        }
    }
}

/// The newest schema version this build knows.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Applies every migration up to `target` not yet recorded, each in its own immediate
/// transaction.
pub(crate) fn migrate(conn: &mut Connection, target: i64) -> Result<(), StoreError> {
    for (version, step) in MIGRATIONS.iter().filter(|(v, _)| *v <= target) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("starting a migration"))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER PRIMARY KEY,
                 applied_at INTEGER NOT NULL
             )",
        )
        .map_err(backend("creating schema_migrations"))?;
        let newest: Option<i64> = tx
            .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .map_err(backend("reading schema_migrations"))?;
        if let Some(newest) = newest.filter(|n| *n > latest_version()) {
            return Err(StoreError::Backend(format!(
                "the database has schema version {newest}, newer than this build's {}; \
                 upgrade Sealtrail before opening it",
                latest_version()
            )));
        }
        let applied = tx
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE version = ?1",
                [version],
                |_| Ok(()),
            )
            .optional()
            .map_err(backend("reading schema_migrations"))?
            .is_some();
        if !applied {
            match step {
                Step::Sql(sql) => tx
                    .execute_batch(sql)
                    .map_err(backend(&format!("applying migration {version}")))?,
                Step::Rust(apply) => apply(&tx)?,
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                (version, Timestamp::now().millis()),
            )
            .map_err(backend("recording a migration"))?;
            tracing::info!(version, "applied schema migration");
        }
        tx.commit().map_err(backend("committing a migration"))?;
    }
    Ok(())
}
