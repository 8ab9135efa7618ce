//! The raw SQLite baseline: a plain audit table on one WAL file.
//!
//! Index choices, each there because a benchmark query needs it and a competent engineer would
//! add it, and nothing more (no index on `id`: no scenario looks an entry up by id):
//!
//! * `pk INTEGER PRIMARY KEY` — an explicit rowid, so the full-text index's rowids stay valid
//!   across `VACUUM` (an implicit rowid may be renumbered).
//! * `UNIQUE (tenant, seq)` — a tenant's positions are unique.
//! * `(tenant, recorded_at, seq)` — the newest-first page, `since`, keyset cursors and the
//!   oldest-first export are one index range; `seq` is in it so ties need no sort.
//! * `(tenant, actor_id, recorded_at, seq)` — "what did this person do", newest first.
//! * `(tenant, action, recorded_at, seq)` — filtering by action is the most common audit-log
//!   filter, and a rare action's newest page would otherwise scan the tenant's whole history.
//! * `UNIQUE (tenant, idempotency_key)` — retries are refused per tenant.
//! * No index on `result`: three values, 94% `success`; the time index with a row filter finds
//!   a page of failures after ~20 rows, of denials after ~100.
//! * `raw_fts` — one *global* FTS5 index over `description` (external content, kept in step by
//!   a trigger, default `unicode61` tokenizer): matches come from every tenant and the tenant is
//!   filtered after the match. That is the naive design Sealtrail's tenant-scoped index is
//!   measured against.
//!
//! Reads and writes share one connection: the benchmark drives a baseline from one thread, so a
//! second connection would only split the page cache (32 MiB, Sealtrail's writer's size) and add
//! nothing to measure.

use super::csv_out::{CsvRows, ExportRow, TEXT_COLUMNS};
use super::sql::{contains_pattern, export_select, Conditions, Param};
use super::{
    count_value, limit_param, RawCursor, RawEngine, RawError, RawFilter, RawInsert, RawRow,
};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, ToSql, TransactionBehavior};
use std::path::Path;
use uuid::Uuid;

const SCHEMA: &str = r#"
CREATE TABLE raw_events (
    pk              INTEGER PRIMARY KEY,
    tenant          INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    id              BLOB NOT NULL,
    recorded_at     INTEGER NOT NULL,
    occurred_at     INTEGER NOT NULL,
    action          TEXT NOT NULL,
    channel         TEXT NOT NULL,
    result          TEXT NOT NULL,
    actor_type      TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    actor_email     TEXT,
    actor_name      TEXT NOT NULL,
    description     TEXT NOT NULL,
    target_type     TEXT NOT NULL,
    target_id       TEXT NOT NULL,
    target_name     TEXT NOT NULL,
    ip              TEXT NOT NULL,
    user_agent      TEXT NOT NULL,
    properties      TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    UNIQUE (tenant, seq)
);
CREATE INDEX raw_events_by_time ON raw_events (tenant, recorded_at, seq);
CREATE INDEX raw_events_by_actor ON raw_events (tenant, actor_id, recorded_at, seq);
CREATE INDEX raw_events_by_action ON raw_events (tenant, action, recorded_at, seq);
CREATE UNIQUE INDEX raw_events_idempotency ON raw_events (tenant, idempotency_key);

CREATE VIRTUAL TABLE raw_fts USING fts5(
    description, content = 'raw_events', content_rowid = 'pk'
);
CREATE TRIGGER raw_events_fts AFTER INSERT ON raw_events BEGIN
    INSERT INTO raw_fts (rowid, description) VALUES (new.pk, new.description);
END;
"#;

/// [`RawEngine::name`].
const NAME: &str = "raw SQLite";

const INSERT: &str = "INSERT INTO raw_events (tenant, seq, id, recorded_at, occurred_at, action, \
     channel, result, actor_type, actor_id, actor_email, actor_name, description, target_type, \
     target_id, target_name, ip, user_agent, properties, idempotency_key) \
     VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
     ?18, ?19)";

/// Statements kept prepared: the insert, the export and every filter combination of the page
/// and count queries fit.
const STATEMENT_CACHE: usize = 64;

/// The raw SQLite baseline on one database file.
pub struct RawSqlite {
    conn: Connection,
}

impl RawSqlite {
    /// Creates a fresh database at `path` (which must not exist yet, so a baseline never
    /// measures leftovers) in WAL mode with `synchronous = FULL`, the durability Sealtrail's
    /// SQLite backend promises, and the schema described in the module documentation.
    pub fn create(path: &Path) -> Result<RawSqlite, RawError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if path.exists() {
            return Err(RawError::Setup {
                engine: NAME,
                detail: format!("{} already exists", path.display()),
            });
        }
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite("opening the file"))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sqlite("enabling WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(RawError::Setup {
                engine: NAME,
                detail: format!("WAL refused (journal_mode is {mode})"),
            });
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -32768;",
        )
        .map_err(sqlite("setting pragmas"))?;
        conn.execute_batch(SCHEMA)
            .map_err(sqlite("creating the schema"))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(RawSqlite { conn })
    }

    /// Runs a page query (`SELECT seq, recorded_at, <every column> … LIMIT`) with `params`,
    /// reading every column of every row as an application rendering the page must: a
    /// baseline that read only the sort key would flatter the engine.
    fn rows(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<RawRow>, RawError> {
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(sqlite("preparing a page query"))?;
        let bound: Vec<&dyn ToSql> = params.iter().map(bind).collect();
        let rows = stmt
            .query_map(bound.as_slice(), |r| {
                for i in 2..r.as_ref().column_count() {
                    std::hint::black_box(r.get::<_, rusqlite::types::Value>(i)?);
                }
                Ok(RawRow {
                    seq: r.get(0)?,
                    recorded_at: r.get(1)?,
                })
            })
            .map_err(sqlite("running a page query"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sqlite("reading a page"))
    }
}

/// SQLite's placeholder `n`.
fn mark(n: usize) -> String {
    format!("?{n}")
}

/// A shared parameter as rusqlite's.
fn bind<'a>(param: &'a Param<'_>) -> &'a dyn ToSql {
    match param {
        Param::Int(value) => value,
        Param::Text(value) => value,
    }
}

/// Wraps a rusqlite error with what was being done.
fn sqlite(context: &'static str) -> impl Fn(rusqlite::Error) -> RawError {
    move |source| RawError::Sqlite { context, source }
}

impl RawEngine for RawSqlite {
    fn insert_rows(&mut self, rows: &[RawInsert<'_>]) -> Result<(), RawError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite("beginning the insert"))?;
        {
            let mut insert = tx
                .prepare_cached(INSERT)
                .map_err(sqlite("preparing the insert"))?;
            for row in rows {
                let e = row.event;
                let properties = serde_json::to_string(&e.properties)?;
                let inserted = insert.execute(params![
                    row.tenant,
                    row.seq,
                    Uuid::now_v7().as_bytes(),
                    e.at.millis(),
                    e.action,
                    e.channel,
                    e.result,
                    e.actor_type,
                    e.actor_id,
                    e.actor_email,
                    e.actor_name,
                    e.description,
                    e.target_type,
                    e.target_id,
                    e.target_name,
                    e.ip,
                    e.user_agent,
                    properties,
                    e.idempotency_key,
                ]);
                inserted.map_err(|source| match source.sqlite_error_code() {
                    Some(ErrorCode::ConstraintViolation) => RawError::Conflict {
                        engine: NAME,
                        tenant: row.tenant,
                        detail: source.to_string(),
                    },
                    _ => RawError::Sqlite {
                        context: "inserting an entry",
                        source,
                    },
                })?;
            }
        }
        tx.commit().map_err(sqlite("committing the insert"))
    }

    fn newest(
        &mut self,
        tenant: u32,
        filter: &RawFilter,
        after: Option<&RawCursor>,
        limit: usize,
    ) -> Result<Vec<RawRow>, RawError> {
        let (c, limit) = Conditions::page(tenant, filter, after, limit_param(limit)?, mark);
        let sql = format!(
            "SELECT seq, recorded_at, {} FROM raw_events WHERE {} \
             ORDER BY recorded_at DESC, seq DESC LIMIT {limit}",
            export_select(),
            c.sql
        );
        self.rows(&sql, &c.params)
    }

    fn count(&mut self, tenant: u32, filter: &RawFilter) -> Result<u64, RawError> {
        let c = Conditions::matching(tenant, filter, mark);
        let sql = format!("SELECT count(*) FROM raw_events WHERE {}", c.sql);
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(sqlite("preparing the count"))?;
        let bound: Vec<&dyn ToSql> = c.params.iter().map(bind).collect();
        let count: i64 = stmt
            .query_row(bound.as_slice(), |r| r.get(0))
            .map_err(sqlite("counting"))?;
        count_value(count)
    }

    fn day_counts(&mut self, tenant: u32, filter: &RawFilter) -> Result<u64, RawError> {
        let c = Conditions::matching(tenant, filter, mark);
        let sql = format!(
            "SELECT occurred_at / 86400000, result, count(*) FROM raw_events WHERE {} \
             GROUP BY 1, 2",
            c.sql
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(sqlite("preparing the day counts"))?;
        let bound: Vec<&dyn ToSql> = c.params.iter().map(bind).collect();
        let groups = stmt
            .query_map(bound.as_slice(), |r| r.get::<_, i64>(2))
            .map_err(sqlite("counting by day"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite("counting by day"))?;
        Ok(groups.len() as u64)
    }

    fn search(&mut self, tenant: u32, term: &str, limit: usize) -> Result<Vec<RawRow>, RawError> {
        // The term as one FTS5 string (a phrase), so no character in it is query syntax.
        let phrase = format!("\"{}\"", term.replace('"', "\"\""));
        let sql =
            "SELECT e.seq, e.recorded_at, e.* FROM raw_fts JOIN raw_events e ON e.pk = raw_fts.rowid \
             WHERE raw_fts MATCH ?1 AND e.tenant = ?2 \
             ORDER BY e.recorded_at DESC, e.seq DESC LIMIT ?3";
        let params = [
            Param::Text(&phrase),
            Param::Int(i64::from(tenant)),
            Param::Int(limit_param(limit)?),
        ];
        self.rows(sql, &params)
    }

    fn substring(
        &mut self,
        tenant: u32,
        needle: &str,
        limit: usize,
    ) -> Result<Vec<RawRow>, RawError> {
        let pattern = contains_pattern(needle);
        let sql = "SELECT seq, recorded_at, * FROM raw_events \
                   WHERE tenant = ?1 AND description LIKE ?2 ESCAPE '\\' \
                   ORDER BY recorded_at DESC, seq DESC LIMIT ?3";
        let params = [
            Param::Int(i64::from(tenant)),
            Param::Text(&pattern),
            Param::Int(limit_param(limit)?),
        ];
        self.rows(sql, &params)
    }

    fn export_csv(&mut self, tenant: u32, out: &mut dyn std::io::Write) -> Result<u64, RawError> {
        let sql = format!(
            "SELECT {} FROM raw_events WHERE tenant = ?1 ORDER BY recorded_at, seq",
            export_select()
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(sqlite("preparing the export"))?;
        let mut rows = stmt.query([tenant]).map_err(sqlite("running the export"))?;
        let mut csv = CsvRows::new(out)?;
        while let Some(row) = rows.next().map_err(sqlite("reading the export"))? {
            let read = |i: usize| row.get::<_, i64>(i);
            let blob = row.get_ref(2).and_then(|v| v.as_blob().map_err(Into::into));
            let id = blob.map_err(sqlite("reading an id"))?;
            let id = Uuid::from_slice(id).map_err(|e| RawError::OutOfRange {
                what: "stored id",
                value: e.to_string(),
            })?;
            let mut text = [""; TEXT_COLUMNS];
            for (k, cell) in text.iter_mut().enumerate() {
                *cell = match row.get_ref(5 + k).map_err(sqlite("reading a cell"))? {
                    ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                        .map_err(|e| sqlite("reading a cell")(rusqlite::Error::Utf8Error(e)))?,
                    _ => "",
                };
            }
            let export = ExportRow {
                tenant: read(0).map_err(sqlite("reading the tenant"))?,
                seq: read(1).map_err(sqlite("reading a seq"))?,
                id,
                recorded_at: read(3).map_err(sqlite("reading recorded_at"))?,
                occurred_at: read(4).map_err(sqlite("reading occurred_at"))?,
                text,
            };
            csv.write(&export)?;
        }
        csv.finish()
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

#[cfg(test)]
mod tests {
    use super::super::suite;
    use super::*;

    fn fresh() -> (tempfile::TempDir, RawSqlite) {
        let dir = tempfile::tempdir().unwrap();
        let engine = RawSqlite::create(&dir.path().join("raw.db")).unwrap();
        (dir, engine)
    }

    #[test]
    fn pages_are_newest_first_filtered_and_cursor_complete() {
        suite::pages(&mut fresh().1);
    }

    #[test]
    fn search_matches_words_and_substring_matches_literally() {
        suite::search_and_substring(&mut fresh().1);
    }

    #[test]
    fn export_writes_every_entry_oldest_first() {
        suite::export(&mut fresh().1);
    }

    #[test]
    fn idempotency_keys_are_unique_per_tenant_and_batches_atomic() {
        suite::idempotency(&mut fresh().1);
    }

    #[test]
    fn the_file_is_wal_with_full_sync_and_never_reused() {
        let (dir, engine) = fresh();
        let pragma = |name: &str| -> String {
            engine
                .conn
                .query_row(&format!("PRAGMA {name}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
        assert_eq!(pragma("synchronous"), "Integer(2)");
        let again = RawSqlite::create(&dir.path().join("raw.db"));
        assert!(matches!(again, Err(RawError::Setup { .. })));
    }
}
