//! The PostgreSQL schema, its migrations and the monthly partitions of `entries`.
//!
//! Every table is keyed by tenant first (`tenants` aside), so the schema can be distributed by
//! tenant (for example with Citus) without change. Migrations run under a transaction-scoped
//! advisory lock, so any number of nodes starting at once apply each one exactly once.

use super::pool::{Conn, PgResult, Tx};
use crate::StoreError;
use postgres::IsolationLevel;
use sealtrail_core::Timestamp;
use time::{Date, Month, OffsetDateTime, Time};

/// The advisory lock key migrations and partition maintenance serialise on.
const MAINTENANCE_LOCK: i64 = 0x5EA1_7A11;

/// How many months of partitions exist ahead of the current one; the writer refuses to guess,
/// so a month must exist before anything is recorded in it.
pub(crate) const MONTHS_AHEAD: u32 = 3;

/// The schema, oldest first. Never edit a released entry: add a new one.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, V1_INITIAL),
    (2, V2_TENANT_LIMITS),
    (3, V3_ERASURE_LEDGER),
    (4, V4_TILE_ACCESS),
    (5, V5_DEFAULT_PERIOD),
    (6, V6_LATE_ENTRIES),
    (7, V7_DAY_ROLLUP),
    (8, V8_INNER_SUFFIXES),
    (9, V9_COVERING_ACTOR_INDEXES),
    (10, V10_ACTION_SCHEMAS),
    (11, V11_TENANT_ALIASES),
    (12, V12_SINKS),
    (13, V13_SINK_LEASES),
    (14, V14_SINK_FORMATS),
    (15, V15_CORS_ORIGINS),
    (16, V16_SHARED_JOBS_AND_ATTEMPTS),
    (17, V17_ERASURE_REWRITES),
    (18, V18_ACTOR_PRESENCE),
    (19, V19_SEALED_ERASURE_RUNS),
];

/// Version 19: each erasure run's seal (`crate::erasure::ledger::run_seal`), so a run written
/// into the database by hand is never recorded as this deployment's.
const V19_SEALED_ERASURE_RUNS: &str = "ALTER TABLE erasure_runs ADD COLUMN seal bytea;";

/// Version 18: whether an actor filter's value occurs as an id and as an e-mail among a
/// tenant's seqs `[lo, hi)` received in `[from, until)` (`query::scope`; the receipt
/// times let the executor skip the month partitions outside them), as two index probes on
/// generic plans.
/// The actor columns keep no statistics (version 17), so a plan made for the actual values
/// knows nothing more, and planning it over every month partition cost 1.3–2.9 ms a time.
/// The function's own `plan_cache_mode` holds only while it runs. Without a period the probes
/// name no receipt times at all: a condition on `recorded_at`, even an open one, made the
/// `(tenant, recorded_at, seq)` index a third candidate for the generic plan, which then
/// picked it (1.56 ms instead of 0.79 for a page filtered by actor). The seq range is written as
/// row comparisons that only the `(tenant, actor_…, seq)` indexes can bound a scan with:
/// written plainly, the primary key `(tenant, seq)` could bound it as well, and with no
/// statistics on the actor columns the planner, finding the two equally cheap, walked some
/// month's every row of the tenant through it (1.1 ms instead of 0.08 ms for a frequent id).
const V18_ACTOR_PRESENCE: &str = "
CREATE FUNCTION actor_presence(p_tenant bigint, p_actor text, p_lo bigint, p_hi bigint,
                               p_from bigint, p_until bigint,
                               OUT as_id boolean, OUT as_email boolean)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
    IF p_from IS NULL AND p_until IS NULL THEN
        as_id := EXISTS (SELECT 1 FROM entries
                         WHERE tenant = p_tenant AND actor_id = p_actor
                           AND (actor_id, seq) >= (p_actor, p_lo)
                           AND (actor_id, seq) < (p_actor, p_hi));
        as_email := EXISTS (SELECT 1 FROM entries
                            WHERE tenant = p_tenant AND actor_email = p_actor
                              AND (actor_email, seq) >= (p_actor, p_lo)
                              AND (actor_email, seq) < (p_actor, p_hi));
    ELSE
        as_id := EXISTS (SELECT 1 FROM entries
                         WHERE tenant = p_tenant AND actor_id = p_actor
                           AND (actor_id, seq) >= (p_actor, p_lo)
                           AND (actor_id, seq) < (p_actor, p_hi)
                           AND recorded_at >= coalesce(p_from, -9223372036854775808)
                           AND recorded_at < coalesce(p_until, 9223372036854775807));
        as_email := EXISTS (SELECT 1 FROM entries
                            WHERE tenant = p_tenant AND actor_email = p_actor
                              AND (actor_email, seq) >= (p_actor, p_lo)
                              AND (actor_email, seq) < (p_actor, p_hi)
                              AND recorded_at >= coalesce(p_from, -9223372036854775808)
                              AND recorded_at < coalesce(p_until, 9223372036854775807));
    END IF;
END
$fn$;
";

/// Version 17: the relations an erasure changed and that must be rewritten so no file keeps
/// an erased value (`lifecycle::rewrite`), and no statistics on the columns holding personal
/// values (their most common values would sit in `pg_statistic`); new partitions get the same.
const V17_ERASURE_REWRITES: &str = "
CREATE TABLE pending_rewrites (relation text PRIMARY KEY);
ALTER TABLE entries ALTER COLUMN actor_id SET STATISTICS 0, ALTER COLUMN actor_email SET STATISTICS 0,
    ALTER COLUMN ip SET STATISTICS 0, ALTER COLUMN props SET STATISTICS 0,
    ALTER COLUMN targets SET STATISTICS 0, ALTER COLUMN words SET STATISTICS 0,
    ALTER COLUMN actor_value SET STATISTICS 0, ALTER COLUMN context_value SET STATISTICS 0,
    ALTER COLUMN payload_value SET STATISTICS 0, ALTER COLUMN idempotency_key SET STATISTICS 0;
ALTER TABLE facet_actors ALTER COLUMN key SET STATISTICS 0, ALTER COLUMN id SET STATISTICS 0,
    ALTER COLUMN name SET STATISTICS 0, ALTER COLUMN email SET STATISTICS 0;
";

/// Version 16: export jobs and their files (`crate::Jobs`) and sign-in attempts
/// (`crate::SignInAttempts`) in the database, so every node answers for every job and counts
/// every guess.
const V16_SHARED_JOBS_AND_ATTEMPTS: &str = "
CREATE TABLE export_jobs (
    tenant       bigint NOT NULL REFERENCES tenants(id),
    id           text NOT NULL,
    state        text NOT NULL,
    spec         text NOT NULL,
    node         text,
    attempt      integer NOT NULL,
    heartbeat_at bigint,
    row_count    bigint NOT NULL,
    byte_count   bigint NOT NULL,
    created_at   bigint NOT NULL,
    started_at   bigint,
    finished_at  bigint,
    expires_at   bigint,
    error        text,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX export_jobs_queue ON export_jobs (state, created_at);
CREATE TABLE export_files (
    tenant bigint NOT NULL,
    job    text NOT NULL,
    start  bigint NOT NULL,
    data   bytea NOT NULL,
    PRIMARY KEY (tenant, job, start)
);
CREATE TABLE sign_in_attempts (
    key   bytea NOT NULL,
    at    bigint NOT NULL,
    token bytea NOT NULL
);
CREATE INDEX sign_in_attempts_key ON sign_in_attempts (key, at);
CREATE INDEX sign_in_attempts_at ON sign_in_attempts (at);
CREATE INDEX sign_in_attempts_token ON sign_in_attempts (token);
CREATE TABLE sign_in_familiar (
    key bytea PRIMARY KEY,
    at  bigint NOT NULL
);
";

/// Version 15: the web origins allowed to call a tenant's API from a browser (none by default).
const V15_CORS_ORIGINS: &str =
    "ALTER TABLE tenants ADD COLUMN cors_origins jsonb NOT NULL DEFAULT '[]'::jsonb;";

/// Version 14: the shape a sink sends (`sealtrail` or `ocsf`) and a receiver's own token,
/// encrypted by the service (`credential`).
const V14_SINK_FORMATS: &str = "
ALTER TABLE sinks ADD COLUMN format text NOT NULL DEFAULT 'sealtrail';
ALTER TABLE sinks ADD COLUMN credential bytea;
";

/// Version 13: which node delivers each sink, and until when (`crate::Sinks::claim_sinks`).
const V13_SINK_LEASES: &str = "
ALTER TABLE sinks ADD COLUMN lease_owner text;
ALTER TABLE sinks ADD COLUMN lease_until bigint;
";

/// Version 12: push-delivery sinks and the cursor each has reached (`crate::Sinks`). No
/// secret is stored: a sink's is derived from the deployment's key and its id.
const V12_SINKS: &str = "
CREATE TABLE sinks (
    tenant          bigint NOT NULL REFERENCES tenants(id),
    id              text NOT NULL,
    name            text COLLATE \"C\" NOT NULL,
    kind            text NOT NULL,
    url             text NOT NULL,
    state           text NOT NULL,
    cursor          bigint NOT NULL,
    secret_version  integer NOT NULL,
    failures        integer NOT NULL,
    last_error      text,
    last_attempt_at bigint,
    delivered_at    bigint,
    created_at      bigint NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, name)
);
CREATE INDEX sinks_active ON sinks (state) WHERE state = 'active';
";

/// Version 11: other names of tenants, by which compatible APIs name them (a WorkOS
/// organization id, a Retraced project id); each tenant's own, so no tenant can claim (or
/// learn of) another's.
const V11_TENANT_ALIASES: &str = "
CREATE TABLE tenant_aliases (
    tenant     bigint NOT NULL REFERENCES tenants(id),
    alias      text COLLATE \"C\" NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (tenant, alias)
);
";

/// Version 10: per-action schemas, each registration a new version (`crate::Schemas`).
const V10_ACTION_SCHEMAS: &str = "
CREATE TABLE action_schemas (
    tenant     bigint NOT NULL REFERENCES tenants(id),
    action     text NOT NULL,
    version    integer NOT NULL,
    document   text NOT NULL,
    source     text,
    created_at bigint NOT NULL,
    PRIMARY KEY (tenant, action, version)
);
";

/// Version 9: the actor indexes also carry what counts and timelines of an actor's entries
/// read (action, outcome, both clocks), as SQLite's do, so those are index-only scans instead
/// of a heap read per entry: a count of one actor's one action over 150k entries took 132 ms
/// and takes about 5 ms. Built once over the log; the old indexes go after.
const V9_COVERING_ACTOR_INDEXES: &str = "
CREATE INDEX entries_by_actor_id_covering ON entries (tenant, actor_id, seq)
    INCLUDE (action, result, occurred_at, recorded_at) WHERE actor_id IS NOT NULL;
CREATE INDEX entries_by_actor_email_covering ON entries (tenant, actor_email, seq)
    INCLUDE (action, result, occurred_at, recorded_at) WHERE actor_email IS NOT NULL;
DROP INDEX entries_by_actor_id;
DROP INDEX entries_by_actor_email;
ALTER INDEX entries_by_actor_id_covering RENAME TO entries_by_actor_id;
ALTER INDEX entries_by_actor_email_covering RENAME TO entries_by_actor_email;";

/// Version 8: every entry's search lexemes gain the inner suffixes that find text inside words
/// ([`crate::index_terms`]: "<tenant>y<suffix>" for each suffix of three or more characters
/// starting inside a word of at most 40), derived here from the word lexemes already stored,
/// character for character as the append path derives them. One pass over the log, once.
const V8_INNER_SUFFIXES: &str = "UPDATE entries SET words = words || array_to_tsvector(ARRAY(
    SELECT split_part(lexeme, 'x', 1) || 'y' || substr(word, i)
    FROM unnest(tsvector_to_array(words)) AS lexeme,
         LATERAL (SELECT substr(lexeme, strpos(lexeme, 'x') + 1) AS word) AS w,
         LATERAL generate_series(2, char_length(word) - 2) AS i
    WHERE split_part(lexeme, 'x', 1) ~ '^[0-9]+$' AND char_length(word) <= 40))
WHERE words IS NOT NULL;";

/// Version 7: the timeline's day rollup ([`crate::tallies`]), a `facet_values` row per tenant,
/// event-time day and outcome, counted from the log once (appends keep it from then on).
const V7_DAY_ROLLUP: &str = "INSERT INTO facet_values (tenant, kind, value, count)
    SELECT tenant, 'day', lpad((occurred_at / 86400000)::text, 7, '0') || '/' || result,
           count(*)
    FROM entries GROUP BY tenant, occurred_at / 86400000, result;";

/// Version 6: entries received more than a day after their event time, by tenant and event
/// time ([`crate::event_time`]): what a period on event time must look for beyond the seq
/// range the receipt-time index gives it. Usually almost empty; a bulk import fills it.
const V6_LATE_ENTRIES: &str = "CREATE INDEX entries_late ON entries (tenant, occurred_at)
    WHERE recorded_at > occurred_at + 86400000;";

/// Version 5: the period the audit page opens on (a filter preset; empty is any time).
const V5_DEFAULT_PERIOD: &str =
    "ALTER TABLE tenants ADD COLUMN default_period text NOT NULL DEFAULT '';";

/// Version 4: who may read the log's tree tiles ([`crate::TileAccess`]); off for every tenant.
const V4_TILE_ACCESS: &str =
    "ALTER TABLE tenants ADD COLUMN tile_access text NOT NULL DEFAULT 'off';";

/// Version 3: the erasure ledger ([`crate::erasure::ledger`]), and one run per tenant listing
/// every value erased before it existed, recorded by the next start like any run that was
/// never recorded.
const V3_ERASURE_LEDGER: &str = r#"
CREATE TABLE erasure_runs (
    tenant       bigint NOT NULL,
    run          bytea NOT NULL,
    pseudonym    text NOT NULL,
    actor        text NOT NULL,           -- JSON: who erased, for the run's entry
    finished     boolean NOT NULL DEFAULT false,
    updated_at   bigint NOT NULL,         -- ms, the run's last chunk
    recorded_seq bigint,                  -- its subject.erased entry, once written
    PRIMARY KEY (tenant, run)
);
CREATE TABLE erased_slots (
    tenant bigint NOT NULL,
    run    bytea NOT NULL,
    seq    bigint NOT NULL,
    part   smallint NOT NULL,
    hash   bytea NOT NULL,                -- SHA-256 of the replacement written
    PRIMARY KEY (tenant, run, seq, part)
);
INSERT INTO erasure_runs (tenant, run, pseudonym, actor, finished, updated_at)
SELECT t.tenant, uuid_send(gen_random_uuid()), '',
       '{"type":"system","id":"system","name":"Upgrade"}', true,
       (extract(epoch FROM clock_timestamp()) * 1000)::bigint
FROM (SELECT DISTINCT tenant FROM entries
      WHERE actor_salt IS NULL OR context_salt IS NULL OR payload_salt IS NULL) AS t;
INSERT INTO erased_slots (tenant, run, seq, part, hash)
SELECT e.tenant, r.run, e.seq, p.part, sha256(p.value)
FROM entries AS e
JOIN erasure_runs AS r ON r.tenant = e.tenant
CROSS JOIN LATERAL (VALUES (0::smallint, e.actor_salt, e.actor_value),
                           (1::smallint, e.context_salt, e.context_value),
                           (2::smallint, e.payload_salt, e.payload_value)) AS p(part, salt, value)
WHERE p.salt IS NULL AND p.value IS NOT NULL;
"#;

/// Version 2: per-tenant rate limits and daily quota ([`crate::TenantLimits`]); existing tenants
/// get the defaults.
const V2_TENANT_LIMITS: &str = r#"
ALTER TABLE tenants ADD COLUMN limits jsonb NOT NULL
    DEFAULT '{"requests_per_second_per_key":500,"ingest_events_per_second":5000,"daily_event_quota":null}';
"#;

/// Version 1: everything the SQLite schema holds at its version 4, laid out for scale.
const V1_INITIAL: &str = r#"
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
-- Eight random hex digits, as on SQLite: short enough to read in a checkpoint origin.
INSERT INTO meta (key, value) VALUES ('installation_id', left(gen_random_uuid()::text, 8));

CREATE TABLE tenants (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    created_at      bigint NOT NULL,
    -- "sealtrail/<installation id>/<tenant name>", fixed at creation: every envelope names it.
    log_origin      text NOT NULL,
    -- Days to keep entries; NULL keeps them forever.
    retention_days  integer DEFAULT 365,
    legal_hold      boolean NOT NULL DEFAULT false,
    export_excluded jsonb NOT NULL DEFAULT '[]',
    ip_allowlist    jsonb NOT NULL DEFAULT '[]'
);

-- One row per tenant: the next seq, the newest recorded_at and the prune horizon. Every append
-- locks it (FOR UPDATE) for its transaction, so any number of nodes keep seq gapless.
CREATE TABLE log_heads (
    tenant           bigint PRIMARY KEY REFERENCES tenants(id),
    next_seq         bigint NOT NULL,
    last_recorded_at bigint NOT NULL,
    first_seq        bigint NOT NULL DEFAULT 0
);

CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    tenant     bigint NOT NULL REFERENCES tenants(id),
    name       text NOT NULL,
    scopes     text NOT NULL,
    hash       bytea NOT NULL,
    created_at bigint NOT NULL,
    revoked_at bigint
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at);

-- The log, partitioned by month of recorded_at (milliseconds since the epoch, UTC). The
-- vault (the values each envelope commits to) lives in the row: per part a 16-byte salt and
-- the value; an erased part has no salt and shows its pseudonymous replacement.
CREATE TABLE entries (
    tenant          bigint NOT NULL,
    seq             bigint NOT NULL,
    recorded_at     bigint NOT NULL,
    id              uuid NOT NULL,
    occurred_at     bigint NOT NULL,
    channel         text NOT NULL,
    action          text NOT NULL,
    event           text NOT NULL,
    category        text,
    result          text NOT NULL,
    actor_type      text NOT NULL,
    actor_id        text,
    actor_email     text,
    ip              text,
    idempotency_key text,
    -- {"key": "scalar rendered as text"}, for properties.<key> filters (GIN, containment).
    props           jsonb,
    -- [{"type", "id", "name"}, …]: one target must contain every given target field.
    targets         jsonb,
    -- Search words, each prefixed with the tenant id, so a common word in one tenant never
    -- walks another tenant's postings.
    words           tsvector,
    envelope        bytea NOT NULL,
    actor_salt      bytea,
    actor_value     bytea,
    context_salt    bytea,
    context_value   bytea,
    payload_salt    bytea,
    payload_value   bytea,
    PRIMARY KEY (tenant, seq, recorded_at)
) PARTITION BY RANGE (recorded_at);
CREATE INDEX entries_by_time ON entries (tenant, recorded_at, seq);
CREATE INDEX entries_by_id ON entries (tenant, id);
CREATE INDEX entries_by_actor_id ON entries (tenant, actor_id, seq) WHERE actor_id IS NOT NULL;
CREATE INDEX entries_by_actor_email ON entries (tenant, actor_email, seq)
    WHERE actor_email IS NOT NULL;
CREATE INDEX entries_words ON entries USING gin (words);
CREATE INDEX entries_props ON entries USING gin (props jsonb_path_ops);
CREATE INDEX entries_targets ON entries USING gin (targets jsonb_path_ops);

-- Idempotency keys outlive partition boundaries: a unique index on a partitioned table must
-- include the partition key, so the keys live in their own table. Pruning removes them with
-- their entries.
CREATE TABLE idempotency_keys (
    tenant      bigint NOT NULL,
    key         text NOT NULL,
    seq         bigint NOT NULL,
    id          uuid NOT NULL,
    recorded_at bigint NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX idempotency_keys_by_seq ON idempotency_keys (tenant, seq);

-- Facet counts maintained by the writer, so the dropdowns cost O(distinct values).
CREATE TABLE facet_values (
    tenant bigint NOT NULL,
    kind   text NOT NULL,
    value  text NOT NULL,
    count  bigint NOT NULL,
    PRIMARY KEY (tenant, kind, value)
);
CREATE TABLE facet_actors (
    tenant bigint NOT NULL,
    key    text NOT NULL,
    type   text NOT NULL,
    id     text,
    name   text,
    email  text,
    count  bigint NOT NULL,
    PRIMARY KEY (tenant, key)
);

-- Every complete subtree hash of every tenant's tree (level 0 = leaf hashes). Never deleted.
CREATE TABLE tree_nodes (
    tenant bigint NOT NULL,
    level  integer NOT NULL,
    idx    bigint NOT NULL,
    hash   bytea NOT NULL,
    PRIMARY KEY (tenant, level, idx)
);

-- Ids of pruned entries, so a lookup answers "pruned" (410) rather than "missing" (404).
CREATE TABLE pruned_ids (
    tenant bigint NOT NULL,
    id     uuid NOT NULL,
    seq    bigint NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- Signed checkpoints: the equivocation guard reads these, on every node.
CREATE TABLE checkpoints (
    tenant    bigint NOT NULL,
    size      bigint NOT NULL,
    root      bytea NOT NULL,
    note      text NOT NULL,
    signed_at bigint NOT NULL,
    PRIMARY KEY (tenant, size)
);

CREATE TABLE users (
    id             text PRIMARY KEY,
    tenant         bigint NOT NULL REFERENCES tenants(id),
    email          text NOT NULL,
    name           text NOT NULL,
    role           text NOT NULL,
    password_hash  text NOT NULL,
    created_at     bigint NOT NULL,
    deactivated_at bigint,
    UNIQUE (tenant, email)
);

CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    tenant     bigint NOT NULL REFERENCES tenants(id),
    user_id    text NOT NULL REFERENCES users(id),
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
"#;

/// The newest schema version this build knows.
pub(crate) fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Applies every migration not yet recorded, each in its own transaction, then makes sure the
/// partitions for this month and the next [`MONTHS_AHEAD`] exist.
pub(crate) fn migrate(conn: &mut Conn) -> Result<(), StoreError> {
    let run = |conn: &mut Conn| -> PgResult<()> {
        for (version, sql) in MIGRATIONS {
            let mut tx = conn.begin(IsolationLevel::ReadCommitted, false)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MAINTENANCE_LOCK])?;
            tx.inner().batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version    integer PRIMARY KEY,
                     applied_at bigint NOT NULL
                 )",
            )?;
            let newest: Option<i32> = tx
                .query_one("SELECT max(version) FROM schema_migrations", &[])?
                .try_get(0)?;
            if let Some(newest) = newest.filter(|n| *n > latest_version()) {
                return Err(StoreError::Backend(format!(
                    "the database has schema version {newest}, newer than this build's {}; \
                     upgrade Sealtrail before connecting it",
                    latest_version()
                ))
                .into());
            }
            let applied = tx
                .query_opt(
                    "SELECT 1 FROM schema_migrations WHERE version = $1",
                    &[version],
                )?
                .is_some();
            if !applied {
                tx.inner().batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    &[version, &Timestamp::now().millis()],
                )?;
                tracing::info!(version, "applied PostgreSQL schema migration");
            }
            tx.commit()?;
        }
        Ok(())
    };
    run(conn).map_err(|e| e.into_store("migrating the PostgreSQL schema"))?;
    ensure_partitions(conn, Timestamp::now())
        .map_err(|e| e.into_store("creating entry partitions"))?;
    Ok(())
}

/// One month of `entries`: its table name and `[from, to)` in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MonthPartition {
    /// `entries_YYYY_MM`.
    pub name: String,
    /// First millisecond of the month (UTC).
    pub from: i64,
    /// First millisecond of the next month.
    pub to: i64,
}

fn month_start(year: i32, month: Month) -> Option<OffsetDateTime> {
    Date::from_calendar_date(year, month, 1)
        .ok()
        .map(|d| d.with_time(Time::MIDNIGHT).assume_utc())
}

/// The month holding `at` and the `ahead` months after it.
pub(crate) fn months_from(at: Timestamp, ahead: u32) -> Vec<MonthPartition> {
    let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
    else {
        return Vec::new();
    };
    let (mut year, mut month) = (at.year(), at.month());
    let mut out = Vec::new();
    for _ in 0..=ahead {
        let (next_year, next_month) = match month {
            Month::December => (year + 1, Month::January),
            m => (year, m.next()),
        };
        if let (Some(from), Some(to)) =
            (month_start(year, month), month_start(next_year, next_month))
        {
            out.push(MonthPartition {
                name: format!("entries_{year:04}_{:02}", u8::from(month)),
                from: (from.unix_timestamp_nanos() / 1_000_000) as i64,
                to: (to.unix_timestamp_nanos() / 1_000_000) as i64,
            });
        }
        (year, month) = (next_year, next_month);
    }
    out
}

/// Creates any missing partition for the month of `now` and the [`MONTHS_AHEAD`] after it;
/// returns the end of the newest one (the writer refuses times beyond it). Existing partitions
/// are looked up first, so the usual call takes no lock at all; creating one needs a brief
/// exclusive lock on `entries`, which is given up after [`PARTITION_LOCK_TIMEOUT`] rather than
/// queueing every reader and writer behind a long-running read. Runs under the maintenance
/// lock, so nodes doing it at once do not collide.
pub(crate) fn ensure_partitions(conn: &mut Conn, now: Timestamp) -> PgResult<i64> {
    let months = months_from(now, MONTHS_AHEAD);
    let mut tx = conn.begin(IsolationLevel::ReadCommitted, false)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MAINTENANCE_LOCK])?;
    tx.inner().batch_execute(&format!(
        "SET LOCAL lock_timeout = '{PARTITION_LOCK_TIMEOUT}'"
    ))?;
    let names: Vec<String> = months.iter().map(|m| m.name.clone()).collect();
    let existing: Vec<String> = tx
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'entries'::regclass AND c.relname = ANY($1)",
            &[&names],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut covered = 0;
    for month in &months {
        if !existing.contains(&month.name) {
            create_partition(&mut tx, month)?;
        }
        covered = covered.max(month.to);
    }
    bound_pending_word_lists(&mut tx)?;
    tx.commit()?;
    Ok(covered)
}

/// The most a partition's search index keeps in its GIN pending list, in kB. Every search
/// reads the whole pending list of every partition it touches, and the insert that finds the
/// list full merges it inside the append transaction. PostgreSQL's default (4 MB) cost a rare
/// word's search 2.5 of its 7.5 ms in the size-S bench (900 pending pages over the
/// partitions); a smaller list is merged more often in smaller steps.
const WORDS_PENDING_LIST_KB: i32 = 512;

/// Sets [`WORDS_PENDING_LIST_KB`] on each partition's search index that lacks it. The option
/// cannot be set on the partitioned index once it exists, and a new partition's index takes
/// its options from it, so each partition's own index is set: at start-up for existing
/// databases (no rebuild: the option only governs future inserts) and after a partition is
/// created.
fn bound_pending_word_lists(tx: &mut Tx<'_>) -> PgResult<()> {
    let option = format!("gin_pending_list_limit={WORDS_PENDING_LIST_KB}");
    let unbounded: Vec<String> = tx
        .query(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE i.inhparent = 'entries_words'::regclass
               AND NOT coalesce(c.reloptions, '{}') @> ARRAY[$1::text]",
            &[&option],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    for index in unbounded {
        // The name comes quoted from the catalogue, the number is a constant of this build.
        tx.inner()
            .batch_execute(&format!("ALTER INDEX {index} SET ({option})"))?;
    }
    Ok(())
}

/// How long creating or dropping a partition waits for its exclusive lock on `entries`.
pub(crate) const PARTITION_LOCK_TIMEOUT: &str = "2s";

fn create_partition(tx: &mut Tx<'_>, month: &MonthPartition) -> PgResult<()> {
    // Names and bounds are computed here, never taken from input.
    tx.inner().batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} PARTITION OF entries FOR VALUES FROM ({}) TO ({}); {}",
        month.name,
        month.from,
        month.to,
        super::lifecycle::rewrite::no_statistics_sql(&month.name)
    ))?;
    Ok(())
}

/// Drops the month partitions that end before `before` and hold no rows (every tenant pruned
/// them): cheaper than deleting, and it returns the space to the operating system at once.
pub(crate) fn drop_empty_partitions(tx: &mut Tx<'_>, before: i64) -> PgResult<Vec<String>> {
    // One node at a time, and never while another creates partitions; a node that finds the
    // lock taken leaves the drop to the one holding it.
    let locked: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&MAINTENANCE_LOCK])?
        .try_get(0)?;
    if !locked {
        return Ok(Vec::new());
    }
    let rows = tx.query(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'entries'::regclass",
        &[],
    )?;
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        let bound: String = row.try_get(1)?;
        let Some(to) = partition_end(&bound) else {
            continue;
        };
        if to > before || !name.starts_with("entries_") {
            continue;
        }
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        // Locked before looking, so an insert still in flight is waited for and seen, never
        // dropped with the table.
        tx.inner()
            .batch_execute(&format!("LOCK TABLE {quoted} IN ACCESS EXCLUSIVE MODE"))?;
        let empty = tx
            .inner()
            .query_one(&format!("SELECT NOT EXISTS (SELECT 1 FROM {quoted})"), &[])?
            .try_get::<_, bool>(0)?;
        if empty {
            tx.inner().batch_execute(&format!("DROP TABLE {quoted}"))?;
            dropped.push(name);
        }
    }
    Ok(dropped)
}

/// The upper bound of `FOR VALUES FROM ('a') TO ('b')`.
fn partition_end(bound: &str) -> Option<i64> {
    let to = bound.split(" TO ").nth(1)?;
    to.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim_matches('\'')
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_roll_over_the_year() {
        // 2026-11-23T00:00:00Z
        let months = months_from(Timestamp(1_795_392_000_000), 3);
        let names: Vec<&str> = months.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "entries_2026_11",
                "entries_2026_12",
                "entries_2027_01",
                "entries_2027_02"
            ]
        );
        for pair in months.windows(2) {
            assert_eq!(pair[0].to, pair[1].from);
        }
        assert_eq!(months[0].from, 1_793_491_200_000); // 2026-11-01T00:00:00Z
    }

    #[test]
    fn partition_bounds_are_parsed() {
        assert_eq!(
            partition_end("FOR VALUES FROM ('1793491200000') TO ('1796083200000')"),
            Some(1_796_083_200_000)
        );
        assert_eq!(partition_end("DEFAULT"), None);
    }
}
