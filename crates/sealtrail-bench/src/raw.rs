//! Raw-engine baselines: the same writes and reads the benchmarks make against Sealtrail, done
//! directly on SQLite (and PostgreSQL when given) with the schema a competent engineer would
//! build for a plain audit table: one table of the event's columns, the indexes those queries
//! need, a global full-text index over the description, and no tamper evidence.
//!
//! A Sealtrail figure alone says little on a noisy machine; next to the raw engine's figure from
//! the same run it says what the log's guarantees cost. That is why these baselines are honest
//! designs rather than straw men, and why they are deliberately *not* Sealtrail's design (no
//! tenant-packed keys, no tenant-prefixed search tokens): the comparison is against what one
//! would otherwise build.
//!
//! * [`sqlite`] — [`RawSqlite`], one connection on a WAL file with `synchronous = FULL`.
//! * [`postgres`] — [`RawPostgres`], one synchronous client with `synchronous_commit = on`.

mod csv_out;
pub mod off_runtime;
pub mod postgres;
pub mod singles;
mod sql;
pub mod sqlite;
#[cfg(test)]
mod suite;

pub use self::postgres::RawPostgres;
pub use self::sqlite::RawSqlite;

use crate::workload::BenchEvent;

/// The filters the benchmark's list and count scenarios apply, so the baselines answer the same
/// questions as Sealtrail's query API. Every field set must match (AND); `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawFilter {
    /// Exact action, e.g. `"session.login"`.
    pub action: Option<String>,
    /// Exact result: `"success"`, `"failure"` or `"denied"`.
    pub result: Option<String>,
    /// Exact actor id, e.g. `"u12"`.
    pub actor_id: Option<String>,
    /// Only entries recorded at or after this instant (Unix milliseconds).
    pub since: Option<i64>,
}

/// One row of a page: enough to check order and to continue paging, and small enough that the
/// measured time is the engine's, not the cost of materialising whole events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawRow {
    /// The entry's position in its tenant's log, as given to [`RawEngine::insert_rows`].
    pub seq: i64,
    /// When it was recorded (Unix milliseconds).
    pub recorded_at: i64,
}

/// A keyset cursor: the last row of the previous page. Pages are ordered newest first by
/// `(recorded_at DESC, seq DESC)`, so the next page is every row strictly below this pair; an
/// offset would make deep pages cost O(depth), which is not what a competent design does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawCursor {
    /// `recorded_at` of the previous page's last row.
    pub recorded_at: i64,
    /// `seq` of the previous page's last row.
    pub seq: i64,
}

impl From<RawRow> for RawCursor {
    /// The cursor continuing after `row`, so callers page with `rows.last().map(Into::into)`.
    fn from(row: RawRow) -> Self {
        RawCursor {
            recorded_at: row.recorded_at,
            seq: row.seq,
        }
    }
}

/// Why a baseline operation failed, with what it was doing, so a failed benchmark run says which
/// engine and which step broke instead of printing a bare driver error.
#[derive(Debug, thiserror::Error)]
pub enum RawError {
    /// SQLite refused or failed an operation.
    #[error("raw SQLite, {context}: {source}")]
    Sqlite {
        /// What was being done.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: rusqlite::Error,
    },
    /// PostgreSQL refused or failed an operation (or the connection broke).
    #[error("raw PostgreSQL, {context}: {source}")]
    Postgres {
        /// What was being done.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: ::postgres::Error,
    },
    /// A unique key already holds the value: the tenant already has an entry with this
    /// idempotency key (or this seq). Separate from other failures because a workload replaying
    /// client retries expects exactly this refusal and nothing else; the batch was rolled back.
    #[error("{engine}: tenant {tenant} already holds a row with one of these keys ({detail})")]
    Conflict {
        /// [`RawEngine::name`] of the engine that refused.
        engine: &'static str,
        /// The tenant written to.
        tenant: u32,
        /// The driver's message, naming the constraint.
        detail: String,
    },
    /// The engine cannot be set up the way the baseline requires (the file already exists, WAL
    /// mode refused), so a run never measures a baseline that is not what it claims to be.
    #[error("{engine}: {detail}")]
    Setup {
        /// [`RawEngine::name`] of the engine.
        engine: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The engine was used after it was closed (only possible while it is being dropped).
    #[error("the raw engine is already closed")]
    Closed,
    /// Writing the CSV export failed (the output refused bytes).
    #[error("writing the raw CSV export: {0}")]
    Csv(#[from] ::csv::Error),
    /// An event's properties could not be rendered as JSON.
    #[error("rendering properties as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A number does not fit the column or the answer type (a seq past `i64::MAX`, a negative
    /// count), which would otherwise wrap silently.
    #[error("{what} out of range: {value}")]
    OutOfRange {
        /// Which number.
        what: &'static str,
        /// Its value, as text.
        value: String,
    },
}

/// The operations the benchmark scenarios run on a baseline, so one scenario body measures
/// Sealtrail and every raw engine alike. Reads of a tenant never return another tenant's rows.
pub trait RawEngine {
    /// Stores `rows` (each with its tenant and seq, a fresh UUIDv7 id and `recorded_at =
    /// occurred_at = event.at`) in one transaction, durable on return (SQLite WAL +
    /// `synchronous = FULL`; PostgreSQL `synchronous_commit = on`): the unit the ingest figures
    /// compare. Rows may belong to several tenants, as a group commit of single events does. An
    /// idempotency key or seq a tenant already has fails the whole transaction with
    /// [`RawError::Conflict`].
    fn insert_rows(&mut self, rows: &[RawInsert<'_>]) -> Result<(), RawError>;

    /// Stores `events` for one tenant with `seq = first_seq + i`, in one transaction (see
    /// [`RawEngine::insert_rows`]).
    fn insert_batch(
        &mut self,
        tenant: u32,
        first_seq: i64,
        events: &[&BenchEvent],
    ) -> Result<(), RawError> {
        let rows = events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                Ok(RawInsert {
                    tenant,
                    seq: seq_at(first_seq, i)?,
                    event,
                })
            })
            .collect::<Result<Vec<_>, RawError>>()?;
        self.insert_rows(&rows)
    }

    /// Up to `limit` entries of the tenant matching `filter`, newest first by
    /// `(recorded_at DESC, seq DESC)`, strictly after `after` when given: the list page.
    fn newest(
        &mut self,
        tenant: u32,
        filter: &RawFilter,
        after: Option<&RawCursor>,
        limit: usize,
    ) -> Result<Vec<RawRow>, RawError>;

    /// How many entries of the tenant match `filter`: the total a list page shows.
    fn count(&mut self, tenant: u32, filter: &RawFilter) -> Result<u64, RawError>;

    /// How many entries of the tenant match `filter` per event-time UTC day and result (one
    /// `GROUP BY` over the matches): the counterpart of the timeline. Returns the groups.
    fn day_counts(&mut self, tenant: u32, filter: &RawFilter) -> Result<u64, RawError>;

    /// Newest `limit` entries of the tenant whose description contains the word `term`
    /// (full-text index, case-insensitive). The index is global, so the engine matches across
    /// all tenants and filters the tenant afterwards: the naive design search figures compare.
    fn search(&mut self, tenant: u32, term: &str, limit: usize) -> Result<Vec<RawRow>, RawError>;

    /// Newest `limit` entries whose description contains `needle` anywhere (substring,
    /// case-insensitive, `%` and `_` literal; e.g. "ssigned" finds "assigned"): what users type
    /// when a word search misses a fragment.
    fn substring(
        &mut self,
        tenant: u32,
        needle: &str,
        limit: usize,
    ) -> Result<Vec<RawRow>, RawError>;

    /// Writes every entry of the tenant, oldest first, as CSV (a header, then one row per entry
    /// with every column; times as RFC 3339, properties as JSON) to `out`; returns the rows
    /// written. The comparison point for Sealtrail's full-tenant export.
    fn export_csv(&mut self, tenant: u32, out: &mut dyn std::io::Write) -> Result<u64, RawError>;

    /// A short name for reports: "raw SQLite" / "raw PostgreSQL".
    fn name(&self) -> &'static str;
}

/// One row for [`RawEngine::insert_rows`].
#[derive(Debug, Clone, Copy)]
pub struct RawInsert<'a> {
    /// The tenant whose log the row continues.
    pub tenant: u32,
    /// Its position in that log.
    pub seq: i64,
    /// The event.
    pub event: &'a BenchEvent,
}

/// `first_seq + offset`, refusing to wrap, because a wrapped seq would silently collide with
/// an earlier entry.
fn seq_at(first_seq: i64, offset: usize) -> Result<i64, RawError> {
    i64::try_from(offset)
        .ok()
        .and_then(|offset| first_seq.checked_add(offset))
        .ok_or_else(|| RawError::OutOfRange {
            what: "seq",
            value: format!("{first_seq} + {offset}"),
        })
}

/// A page size as the engines' integer type.
fn limit_param(limit: usize) -> Result<i64, RawError> {
    i64::try_from(limit).map_err(|_| RawError::OutOfRange {
        what: "limit",
        value: limit.to_string(),
    })
}

/// A count from the engine as the answer type; a negative count means a broken engine.
fn count_value(count: i64) -> Result<u64, RawError> {
    u64::try_from(count).map_err(|_| RawError::OutOfRange {
        what: "count",
        value: count.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_and_limit_conversions_refuse_to_wrap() {
        assert_eq!(seq_at(10, 5).unwrap(), 15);
        assert!(matches!(
            seq_at(i64::MAX, 1),
            Err(RawError::OutOfRange { what: "seq", .. })
        ));
        assert_eq!(limit_param(50).unwrap(), 50);
        assert!(limit_param(usize::MAX).is_err());
        assert_eq!(count_value(7).unwrap(), 7);
        assert!(count_value(-1).is_err());
    }

    #[test]
    fn a_cursor_continues_after_its_row() {
        let row = RawRow {
            seq: 4,
            recorded_at: 99,
        };
        assert_eq!(
            RawCursor::from(row),
            RawCursor {
                recorded_at: 99,
                seq: 4
            }
        );
    }
}
