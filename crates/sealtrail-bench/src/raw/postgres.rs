//! The raw PostgreSQL baseline: a plain audit table in a given database.
//!
//! Index choices mirror the SQLite baseline's (see [`super::sqlite`]) for the same reasons:
//! `PRIMARY KEY (tenant, seq)`; `(tenant, recorded_at, seq)` for pages, `since`, cursors and the
//! export; `(tenant, actor_id, recorded_at, seq)`; `(tenant, action, recorded_at, seq)`;
//! `UNIQUE (tenant, idempotency_key)`; nothing on `result` or `id`. Search is one *global* GIN
//! index on `to_tsvector('simple', description)` (tenant filtered after matching), the naive
//! design; substring search is `ILIKE` over the tenant's rows, which no B-tree index can serve.
//!
//! Times are `bigint` Unix milliseconds like Sealtrail's own PostgreSQL schema, so the two
//! compare the same column types. Statements are prepared once per connection and the session
//! plans every execution with its actual values (`plan_cache_mode = force_custom_plan`): one
//! generic plan cannot suit both a tenant with half the rows and one with a hundred.
//!
//! A synchronous client owns a small Tokio runtime: create, use and drop a [`RawPostgres`] on
//! a plain thread, or wrapped in [`super::off_runtime::OffRuntime`] (as the benchmark does),
//! never directly on an async task.

use super::csv_out::{CsvRows, ExportRow, TEXT_COLUMNS};
use super::sql::{contains_pattern, export_select, Conditions, Param};
use super::{
    count_value, limit_param, RawCursor, RawEngine, RawError, RawFilter, RawInsert, RawRow,
};
use crate::workload::BenchEvent;
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};
use std::collections::HashMap;
use uuid::Uuid;

/// [`RawEngine::name`].
const NAME: &str = "raw PostgreSQL";

const SCHEMA: &str = r#"
DROP TABLE IF EXISTS raw_events;
CREATE TABLE raw_events (
    tenant          bigint NOT NULL,
    seq             bigint NOT NULL,
    id              uuid NOT NULL,
    recorded_at     bigint NOT NULL,
    occurred_at     bigint NOT NULL,
    action          text NOT NULL,
    channel         text NOT NULL,
    result          text NOT NULL,
    actor_type      text NOT NULL,
    actor_id        text NOT NULL,
    actor_email     text,
    actor_name      text NOT NULL,
    description     text NOT NULL,
    target_type     text NOT NULL,
    target_id       text NOT NULL,
    target_name     text NOT NULL,
    ip              text NOT NULL,
    user_agent      text NOT NULL,
    properties      jsonb NOT NULL,
    idempotency_key text NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE INDEX raw_events_by_time ON raw_events (tenant, recorded_at, seq);
CREATE INDEX raw_events_by_actor ON raw_events (tenant, actor_id, recorded_at, seq);
CREATE INDEX raw_events_by_action ON raw_events (tenant, action, recorded_at, seq);
CREATE UNIQUE INDEX raw_events_idempotency ON raw_events (tenant, idempotency_key);
CREATE INDEX raw_events_words ON raw_events USING gin (to_tsvector('simple', description));
"#;

/// One statement per batch: the batch's columns as arrays, `unnest`ed into rows.
const INSERT: &str = "INSERT INTO raw_events (tenant, seq, id, recorded_at, occurred_at, action, \
     channel, result, actor_type, actor_id, actor_email, actor_name, description, target_type, \
     target_id, target_name, ip, user_agent, properties, idempotency_key) \
     SELECT tenant, seq, id, at, at, action, channel, result, actor_type, actor_id, actor_email, \
     actor_name, description, target_type, target_id, target_name, ip, user_agent, \
     properties::jsonb, idempotency_key \
     FROM unnest($1::bigint[], $2::bigint[], $3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::text[], \
     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], \
     $15::text[], $16::text[], $17::text[], $18::text[], $19::text[]) \
     AS u(tenant, seq, id, at, action, channel, result, actor_type, actor_id, actor_email, actor_name, \
     description, target_type, target_id, target_name, ip, user_agent, properties, \
     idempotency_key)";

/// The raw PostgreSQL baseline on one connection.
pub struct RawPostgres {
    client: Client,
    insert: Statement,
    /// Prepared page, count, search and export statements by SQL text.
    statements: HashMap<String, Statement>,
}

impl RawPostgres {
    /// Connects to `url` (without TLS: the baseline runs against a local server) and creates
    /// `raw_events` in that database, dropping a previous one so a run never measures leftovers.
    /// Sets `synchronous_commit = on`, the durability Sealtrail's PostgreSQL backend promises,
    /// whatever the server's default.
    pub fn create(url: &str) -> Result<RawPostgres, RawError> {
        let mut client = Client::connect(url, NoTls).map_err(pg("connecting"))?;
        client
            .batch_execute(
                "SET synchronous_commit = on; \
                 SET plan_cache_mode = force_custom_plan; \
                 SET client_min_messages = warning;",
            )
            .map_err(pg("setting the session"))?;
        client
            .batch_execute(SCHEMA)
            .map_err(pg("creating the schema"))?;
        let insert = client.prepare(INSERT).map_err(pg("preparing the insert"))?;
        Ok(RawPostgres {
            client,
            insert,
            statements: HashMap::new(),
        })
    }

    /// The prepared statement for `sql`, preparing it on first use.
    fn statement(&mut self, sql: &str) -> Result<Statement, RawError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).map_err(pg("preparing a query"))?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// Runs a page query (`SELECT seq, recorded_at, <the row as JSON> … LIMIT`) with
    /// `params`: the whole row is read and decoded, as an application rendering the page must.
    fn rows(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<RawRow>, RawError> {
        let statement = self.statement(sql)?;
        let bound: Vec<&(dyn ToSql + Sync)> = params.iter().map(bind).collect();
        let rows = self
            .client
            .query(&statement, &bound)
            .map_err(pg("running a page query"))?;
        rows.iter()
            .map(|r| {
                std::hint::black_box(r.try_get::<_, String>(2)?);
                Ok(RawRow {
                    seq: r.try_get(0)?,
                    recorded_at: r.try_get(1)?,
                })
            })
            .collect::<Result<_, postgres::Error>>()
            .map_err(pg("reading a page"))
    }
}

/// PostgreSQL's placeholder `n`.
fn mark(n: usize) -> String {
    format!("${n}")
}

/// A shared parameter as the driver's.
fn bind<'a>(param: &'a Param<'_>) -> &'a (dyn ToSql + Sync) {
    match param {
        Param::Int(value) => value,
        Param::Text(value) => value,
    }
}

/// Wraps a driver error with what was being done.
fn pg(context: &'static str) -> impl Fn(postgres::Error) -> RawError {
    move |source| RawError::Postgres { context, source }
}

/// The text cells of `e` in insert (and [`super::sql::COLUMNS`]) order.
fn text_cells<'a>(e: &'a BenchEvent, properties: &'a str) -> [Option<&'a str>; TEXT_COLUMNS] {
    [
        Some(e.action),
        Some(e.channel),
        Some(e.result),
        Some(e.actor_type),
        Some(&e.actor_id),
        e.actor_email.as_deref(),
        Some(&e.actor_name),
        Some(&e.description),
        Some(e.target_type),
        Some(&e.target_id),
        Some(&e.target_name),
        Some(&e.ip),
        Some(e.user_agent),
        Some(properties),
        Some(&e.idempotency_key),
    ]
}

impl RawEngine for RawPostgres {
    fn insert_rows(&mut self, rows: &[RawInsert<'_>]) -> Result<(), RawError> {
        let properties = rows
            .iter()
            .map(|r| serde_json::to_string(&r.event.properties))
            .collect::<Result<Vec<_>, _>>()?;
        let mut tenants = Vec::with_capacity(rows.len());
        let mut seqs = Vec::with_capacity(rows.len());
        let mut ids = Vec::with_capacity(rows.len());
        let mut ats = Vec::with_capacity(rows.len());
        let mut text: Vec<Vec<Option<&str>>> = (0..TEXT_COLUMNS)
            .map(|_| Vec::with_capacity(rows.len()))
            .collect();
        for (row, properties) in rows.iter().zip(&properties) {
            let e = row.event;
            tenants.push(i64::from(row.tenant));
            seqs.push(row.seq);
            ids.push(Uuid::now_v7());
            ats.push(e.at.millis());
            for (column, cell) in text.iter_mut().zip(text_cells(e, properties)) {
                column.push(cell);
            }
        }
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenants, &seqs, &ids, &ats];
        params.extend(text.iter().map(|c| c as &(dyn ToSql + Sync)));
        // One statement outside an explicit transaction is one transaction: all rows or none,
        // durable when the server answers, without BEGIN/COMMIT round trips.
        let inserted = self.client.execute(&self.insert, &params);
        inserted.map(drop).map_err(|source| {
            if source.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                let detail = source
                    .as_db_error()
                    .map_or_else(|| source.to_string(), |db| db.to_string());
                RawError::Conflict {
                    engine: NAME,
                    tenant: rows.first().map_or(0, |r| r.tenant),
                    detail,
                }
            } else {
                RawError::Postgres {
                    context: "inserting a batch",
                    source,
                }
            }
        })
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
            "SELECT seq, recorded_at, row_to_json(raw_events)::text FROM raw_events WHERE {} \
             ORDER BY recorded_at DESC, seq DESC LIMIT {limit}",
            c.sql
        );
        self.rows(&sql, &c.params)
    }

    fn count(&mut self, tenant: u32, filter: &RawFilter) -> Result<u64, RawError> {
        let c = Conditions::matching(tenant, filter, mark);
        let statement =
            self.statement(&format!("SELECT count(*) FROM raw_events WHERE {}", c.sql))?;
        let bound: Vec<&(dyn ToSql + Sync)> = c.params.iter().map(bind).collect();
        let row = self
            .client
            .query_one(&statement, &bound)
            .map_err(pg("counting"))?;
        count_value(row.try_get(0).map_err(pg("reading the count"))?)
    }

    fn day_counts(&mut self, tenant: u32, filter: &RawFilter) -> Result<u64, RawError> {
        let c = Conditions::matching(tenant, filter, mark);
        let statement = self.statement(&format!(
            "SELECT occurred_at / 86400000, result, count(*) FROM raw_events WHERE {} \
             GROUP BY 1, 2",
            c.sql
        ))?;
        let bound: Vec<&(dyn ToSql + Sync)> = c.params.iter().map(bind).collect();
        let rows = self
            .client
            .query(&statement, &bound)
            .map_err(pg("counting by day"))?;
        Ok(rows.len() as u64)
    }

    fn search(&mut self, tenant: u32, term: &str, limit: usize) -> Result<Vec<RawRow>, RawError> {
        // plainto_tsquery takes any text: no character of the term is query syntax.
        let sql = "SELECT seq, recorded_at, row_to_json(raw_events)::text FROM raw_events \
                   WHERE tenant = $1 \
                   AND to_tsvector('simple', description) @@ plainto_tsquery('simple', $2) \
                   ORDER BY recorded_at DESC, seq DESC LIMIT $3";
        let params = [
            Param::Int(i64::from(tenant)),
            Param::Text(term),
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
        let sql = "SELECT seq, recorded_at, row_to_json(raw_events)::text FROM raw_events \
                   WHERE tenant = $1 AND description ILIKE $2 ESCAPE '\\' \
                   ORDER BY recorded_at DESC, seq DESC LIMIT $3";
        let params = [
            Param::Int(i64::from(tenant)),
            Param::Text(&pattern),
            Param::Int(limit_param(limit)?),
        ];
        self.rows(sql, &params)
    }

    fn export_csv(&mut self, tenant: u32, out: &mut dyn std::io::Write) -> Result<u64, RawError> {
        let statement = self.statement(&format!(
            "SELECT {} FROM raw_events WHERE tenant = $1 ORDER BY recorded_at, seq",
            export_select()
        ))?;
        let tenant = i64::from(tenant);
        // Streams rows as they arrive instead of collecting a whole tenant in memory.
        let mut rows = self
            .client
            .query_raw(&statement, [&tenant as &(dyn ToSql + Sync)])
            .map_err(pg("running the export"))?;
        let mut csv = CsvRows::new(out)?;
        while let Some(row) = rows.next().map_err(pg("reading the export"))? {
            let read = pg("reading an export row");
            let mut text = [""; TEXT_COLUMNS];
            for (k, cell) in text.iter_mut().enumerate() {
                let value: Option<&str> = row.try_get(5 + k).map_err(&read)?;
                *cell = value.unwrap_or_default();
            }
            let export = ExportRow {
                tenant: row.try_get(0).map_err(&read)?,
                seq: row.try_get(1).map_err(&read)?,
                id: row.try_get(2).map_err(&read)?,
                recorded_at: row.try_get(3).map_err(&read)?,
                occurred_at: row.try_get(4).map_err(&read)?,
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
    use sealtrail_testkit::pg_harness;

    /// A baseline in a fresh database of the shared test server; a missing PostgreSQL fails
    /// the test (the harness never skips).
    fn fresh() -> RawPostgres {
        let url = pg_harness::require_shared().create_database().unwrap();
        RawPostgres::create(&url).unwrap()
    }

    #[test]
    fn pages_are_newest_first_filtered_and_cursor_complete() {
        suite::pages(&mut fresh());
    }

    #[test]
    fn search_matches_words_and_substring_matches_literally() {
        suite::search_and_substring(&mut fresh());
    }

    #[test]
    fn export_writes_every_entry_oldest_first() {
        suite::export(&mut fresh());
    }

    #[test]
    fn idempotency_keys_are_unique_per_tenant_and_batches_atomic() {
        suite::idempotency(&mut fresh());
    }

    #[test]
    fn commits_are_synchronous_and_create_replaces_a_previous_table() {
        let url = pg_harness::require_shared().create_database().unwrap();
        let mut first = RawPostgres::create(&url).unwrap();
        suite::insert_one(&mut first, 1, "left-over");
        let setting = first
            .client
            .query_one("SHOW synchronous_commit", &[])
            .unwrap();
        assert_eq!(setting.get::<_, String>(0), "on");
        drop(first);
        let mut second = RawPostgres::create(&url).unwrap();
        assert_eq!(second.count(1, &RawFilter::default()).unwrap(), 0);
    }
}
