//! Filters, pages and counts.
//!
//! A query is first narrowed to a seq range: the tenant's slice of `pk`, cut by the period's
//! window in receipt time (translated to seqs through the `(tenant, recorded_at)` index, since
//! `recorded_at` never decreases along seq; see [`crate::event_time`] for event-time periods)
//! and by the cursor. The remaining filter fields become SQL conditions
//! with every value bound as a parameter. Free text drives the query from the FTS5 index.

use super::error::backend;
use super::pk::log_range;
use super::pk::{tenant_base, SEQ_LIMIT};
use super::search::match_expression;
use super::vault;
use crate::actor_columns::ActorColumns;
use crate::conditions::{self, Dialect};
use crate::event_time::{receipt_window, LATE_ENTRY};
use crate::paging;
use crate::stored_entry::{SealedPage, StoredEntry};
use crate::tallies::{self, Plan};
use crate::StoreError;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use sealtrail_core::filter::{Filter, Query};
use sealtrail_core::timeline::{Tally, TallyUnit};
use sealtrail_core::{TenantId, Timestamp};

/// A half-open seq range `[lo, hi)` of one tenant's log.
#[derive(Debug, Clone, Copy)]
struct SeqRange {
    base: i64,
    lo: i64,
    hi: i64,
}

impl SeqRange {
    fn is_empty(&self) -> bool {
        self.lo >= self.hi
    }

    fn narrowed(self, lo: i64, hi: i64) -> SeqRange {
        SeqRange {
            base: self.base,
            lo: self.lo.max(lo),
            hi: self.hi.min(hi),
        }
    }
}

/// The filter, minus its date range, as SQL over `entries AS e`.
struct Conditions {
    /// The FTS5 MATCH expression, when the text holds at least one word.
    fts: Option<String>,
    /// `AND`-joined clauses; each refers to parameters by number.
    clauses: Vec<String>,
    /// Parameters `?1`…; the range bounds and limit are appended after these.
    params: Vec<Value>,
}

impl Conditions {
    /// True when nothing beyond the seq range narrows the log.
    fn is_empty(&self) -> bool {
        self.fts.is_none() && self.clauses.is_empty()
    }

    /// The conditions for `filter` over `range` ([`conditions`], in SQLite's [`Sqlite`]
    /// dialect). Reads the index to learn which actor column a value occurs in, so the common
    /// case can be answered in seq order from one index.
    fn new(
        conn: &Connection,
        tenant: TenantId,
        filter: &Filter,
        range: SeqRange,
    ) -> Result<Conditions, StoreError> {
        let actor = match &filter.actor {
            Some(actor) => Some(match ActorColumns::without_probe(actor) {
                Some(columns) => columns,
                None => actor_columns(conn, tenant, actor, range)?,
            }),
            None => None,
        };
        let shared = conditions::Conditions::<Sqlite>::of(tenant, filter, actor);
        Ok(Conditions {
            fts: match filter.text.as_deref() {
                Some(text) => match_expression(conn, tenant, text)?,
                None => None,
            },
            clauses: shared.clauses,
            params: shared.params,
        })
    }

    /// `SELECT <what>` over the range with every condition, ordered by seq when asked.
    /// `?lo`/`?hi` in clauses name the pk bounds, which are bound after the conditions'.
    /// `what` may only refer to `e` when `needs_row` is set: with search alone, counts and
    /// probes are answered from the FTS index without touching the entries.
    fn select(&self, what: &str, needs_row: bool, order: Option<&str>, limit: bool) -> String {
        let lo = self.params.len() + 1;
        let hi = lo + 1;
        let mut sql = match &self.fts {
            Some(_) if !needs_row && self.clauses.is_empty() => format!(
                "SELECT {what} FROM entries_fts
                 WHERE entries_fts MATCH ?{fts} AND rowid >= ?{lo} AND rowid < ?{hi}",
                fts = hi + 1
            ),
            // CROSS JOIN keeps the FTS index as the outer loop: it yields matches in rowid
            // (= seq) order, so a page stops after `limit` matches.
            Some(_) => format!(
                "SELECT {what} FROM entries_fts CROSS JOIN entries AS e ON e.pk = entries_fts.rowid
                 WHERE entries_fts MATCH ?{fts} AND entries_fts.rowid >= ?{lo} AND entries_fts.rowid < ?{hi}",
                fts = hi + 1
            ),
            None => format!("SELECT {what} FROM entries AS e WHERE e.pk >= ?{lo} AND e.pk < ?{hi}"),
        };
        for clause in &self.clauses {
            sql.push_str(" AND ");
            sql.push_str(
                &clause
                    .replace("?lo", &format!("?{lo}"))
                    .replace("?hi", &format!("?{hi}")),
            );
        }
        if let Some(order) = order {
            let key = if self.fts.is_some() {
                "entries_fts.rowid"
            } else {
                "e.pk"
            };
            sql.push_str(&format!(" ORDER BY {key} {order}"));
        }
        if limit {
            let n = hi + 1 + usize::from(self.fts.is_some());
            sql.push_str(&format!(" LIMIT ?{n}"));
        }
        sql
    }

    /// Parameters for [`Conditions::select`]: the conditions', the range, the MATCH text and
    /// the limit, in that order.
    fn params(&self, range: SeqRange, limit: Option<i64>) -> Vec<Value> {
        let mut params = self.params.clone();
        params.push(Value::Integer(range.base | range.lo));
        params.push(Value::Integer(range.base | range.hi));
        if let Some(fts) = &self.fts {
            params.push(Value::Text(fts.clone()));
        }
        if let Some(limit) = limit {
            params.push(Value::Integer(limit));
        }
        params
    }

    /// Up to `limit` matching entries in `range`, in seq order `order`, as stored.
    fn fetch(
        &self,
        conn: &Connection,
        range: SeqRange,
        order: &str,
        limit: i64,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let descending = order == "DESC";
        if self.is_empty() {
            // No condition: the page is a stretch of the table, read in pk order as it lies
            // (an export reads every entry this way, a page at a time).
            vault::load_first(
                conn,
                "e.pk >= ?1 AND e.pk < ?2",
                self.params(range, None),
                descending,
                Some(limit),
            )
        } else {
            self.load_matches(conn, range, order, limit)
        }
    }

    /// The stored rows of up to `limit` matches in `range`, in seq order `order`.
    fn load_matches(
        &self,
        conn: &Connection,
        range: SeqRange,
        order: &str,
        limit: i64,
    ) -> Result<Vec<crate::stored_entry::StoredEntry>, StoreError> {
        // Pick the page's pks first, then read only those bodies: when an index union (actor)
        // drives the search, sorting pks is cheap while sorting every matching body is not.
        let pk = if self.fts.is_some() {
            "entries_fts.rowid"
        } else {
            "e.pk"
        };
        let pks = self.select(pk, false, Some(order), true);
        vault::load(
            conn,
            &format!("e.pk IN ({pks})"),
            self.params(range, Some(limit)),
            order == "DESC",
        )
    }

    /// True when some entry in `range` matches.
    fn exists(&self, conn: &Connection, range: SeqRange) -> Result<bool, StoreError> {
        if range.is_empty() {
            return Ok(false);
        }
        let sql = self.select("1", false, None, true);
        conn.prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_row(params_from_iter(self.params(range, Some(1))), |_| Ok(()))
                    .optional()
            })
            .map(|found| found.is_some())
            .map_err(backend("probing for entries"))
    }

    /// The number of matching entries in `range`.
    fn count(&self, conn: &Connection, range: SeqRange) -> Result<u64, StoreError> {
        if range.is_empty() {
            return Ok(0);
        }
        if self.is_empty() {
            // Every seq from the prune horizon (`first_seq`, where every range starts) to the
            // head exists: only pruning deletes entries, and only below that horizon.
            return Ok((range.hi - range.lo) as u64);
        }
        let sql = self.select("count(*)", false, None, false);
        conn.prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_row(params_from_iter(self.params(range, None)), |r| {
                    r.get::<_, i64>(0)
                })
            })
            .map(|n| n.max(0) as u64)
            .map_err(backend("counting entries"))
    }
}

/// The least string above every string that starts with `start`: its last character
/// incremented (skipping the surrogate gap). `None` when that character is the last one Unicode
/// has, or `start` is empty.
fn successor(start: &str) -> Option<String> {
    let last = start.chars().last()?;
    let next = match last as u32 {
        0xD7FF => 0xE000,
        n => n + 1,
    };
    let next = char::from_u32(next)?;
    let mut out = start[..start.len() - last.len_utf8()].to_string();
    out.push(next);
    Some(out)
}

/// SQLite's spelling of filter conditions: `?n` placeholders; `?lo`/`?hi` in a clause name the
/// pk bounds, bound after the conditions' own parameters ([`Conditions::select`]).
struct Sqlite;

impl Dialect for Sqlite {
    type Param = Value;

    fn text(value: String) -> Value {
        Value::Text(value)
    }

    fn integer(value: i64) -> Value {
        Value::Integer(value)
    }

    fn placeholder(n: usize) -> String {
        format!("?{n}")
    }

    fn actor(
        c: &mut conditions::Conditions<Self>,
        tenant: TenantId,
        columns: ActorColumns,
        actor: &str,
    ) -> String {
        let t = c.bind(Value::Integer(tenant.0));
        let p = c.bind_text(actor);
        // `tenant = ?` lets SQLite use the (tenant, actor_…) index, which yields the actor's
        // entries in pk order; with both columns it unions the two and sorts.
        format!("e.tenant = {t} AND {}", columns.condition(&p))
    }

    fn action_starts_with(c: &mut conditions::Conditions<Self>, start: &str) -> String {
        // Anything in ["evid", "evie"): exactly the strings starting "evid" (text compares
        // byte-wise, and UTF-8 keeps code point order), so the action index serves it.
        let lo = c.bind_text(start);
        match successor(start) {
            Some(hi) => {
                let hi = c.bind_text(hi);
                format!("(e.action >= {lo} AND e.action < {hi})")
            }
            None => format!("substr(e.action, 1, length({lo})) = {lo}"),
        }
    }

    fn target(c: &mut conditions::Conditions<Self>, fields: &[(&'static str, &str)]) -> String {
        let on: Vec<String> = fields
            .iter()
            .map(|(field, value)| format!("t.{field} = {}", c.bind_text(*value)))
            .collect();
        format!(
            "e.pk IN (SELECT t.pk FROM entry_targets AS t
                      WHERE t.pk >= ?lo AND t.pk < ?hi AND {})",
            on.join(" AND ")
        )
    }

    fn property(c: &mut conditions::Conditions<Self>, key: &str, value: &str) -> String {
        // Keys are bound, never spliced into a JSON path, so any key is safe.
        let k = c.bind_text(key);
        let v = c.bind_text(value);
        format!(
            "EXISTS (SELECT 1 FROM json_each(e.props) AS p WHERE p.key = {k} AND p.value = {v})"
        )
    }
}

/// Where `actor` occurs in `range`: two index probes in the query's own snapshot.
fn actor_columns(
    conn: &Connection,
    tenant: TenantId,
    actor: &str,
    range: SeqRange,
) -> Result<ActorColumns, StoreError> {
    conn.prepare_cached(
        "SELECT
           EXISTS (SELECT 1 FROM entries
                   WHERE tenant = ?1 AND actor_id = ?2 AND pk >= ?3 AND pk < ?4),
           EXISTS (SELECT 1 FROM entries
                   WHERE tenant = ?1 AND actor_email = ?2 AND pk >= ?3 AND pk < ?4)",
    )
    .and_then(|mut s| {
        s.query_row(
            (
                tenant.0,
                actor,
                range.base | range.lo,
                range.base | range.hi,
            ),
            |r| Ok(ActorColumns::from_presence(r.get(0)?, r.get(1)?)),
        )
    })
    .map_err(backend("looking up an actor"))
}

/// The tenant's seqs that can hold the filter's period; `None` when nothing can match.
fn seq_range(
    conn: &Connection,
    tenant: TenantId,
    filter: &Filter,
) -> Result<Option<SeqRange>, StoreError> {
    let Some(base) = tenant_base(tenant) else {
        return Ok(None);
    };
    let Some(head) = log_range(conn, tenant)? else {
        return Ok(None);
    };
    let hi = bound(head.size);
    let mut range = SeqRange {
        base,
        lo: bound(head.first_seq),
        hi,
    };
    let window = receipt_window(filter);
    if let Some(from) = window.from {
        // Only kept entries are searched, so the answer is never below `first_seq`.
        range.lo = first_seq_at_or_after(conn, tenant, from)?
            .unwrap_or(hi)
            .max(range.lo);
    }
    if let Some(until) = window.until {
        range.hi = first_seq_at_or_after(conn, tenant, until)?
            .unwrap_or(hi)
            .min(hi);
    }
    if let Some(period) = window.late {
        if range.hi < hi && late_entry_beyond(conn, tenant, period, base | range.hi)? {
            range.hi = hi;
        }
    }
    Ok((!range.is_empty()).then_some(range))
}

/// True when a late entry whose event time lies in `[from, until)` has a pk at or above `pk`,
/// answered from the partial index of late entries.
fn late_entry_beyond(
    conn: &Connection,
    tenant: TenantId,
    (from, until): (Option<Timestamp>, Timestamp),
    pk: i64,
) -> Result<bool, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT EXISTS (SELECT 1 FROM entries INDEXED BY entries_late
                        WHERE tenant = ?1 AND {LATE_ENTRY}
                          AND occurred_at >= ?2 AND occurred_at < ?3 AND pk >= ?4)"
    ))
    .and_then(|mut s| {
        s.query_row(
            (
                tenant.0,
                from.map_or(i64::MIN, Timestamp::millis),
                until.millis(),
                pk,
            ),
            |r| r.get(0),
        )
    })
    .map_err(backend("looking for late entries"))
}

/// The first seq recorded at or after `at`. Valid because `recorded_at` never decreases along
/// seq, so the entries at or after `at` are exactly a suffix of the log.
fn first_seq_at_or_after(
    conn: &Connection,
    tenant: TenantId,
    at: Timestamp,
) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached(
        "SELECT seq FROM entries WHERE tenant = ?1 AND recorded_at >= ?2
         ORDER BY recorded_at, pk LIMIT 1",
    )
    .and_then(|mut s| {
        s.query_row((tenant.0, at.millis()), |r| r.get(0))
            .optional()
    })
    .map_err(backend("locating a date in the log"))
}

/// A cursor's seq as a signed bound (seqs never exceed 2^40, so clamping changes nothing).
fn bound(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// The SQLite answers to [`paging::page`]'s questions for one filter.
struct SqlMatches<'c> {
    conn: &'c Connection,
    conditions: Conditions,
    range: SeqRange,
}

impl paging::Matches for SqlMatches<'_> {
    fn fetch(
        &mut self,
        lo: u64,
        hi: u64,
        descending: bool,
        limit: u64,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let window = self.range.narrowed(bound(lo), bound(hi));
        let order = if descending { "DESC" } else { "ASC" };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conditions.fetch(self.conn, window, order, limit)
    }

    fn exists(&mut self, lo: u64, hi: u64) -> Result<bool, StoreError> {
        let window = self.range.narrowed(bound(lo), bound(hi));
        self.conditions.exists(self.conn, window)
    }
}

/// One page, newest first, with cursors for the neighbouring pages, not yet opened.
pub(crate) fn query(
    conn: &Connection,
    tenant: TenantId,
    query: &Query,
) -> Result<SealedPage, StoreError> {
    let Some(range) = seq_range(conn, tenant, &query.filter)? else {
        return Ok(SealedPage::empty());
    };
    let mut matches = SqlMatches {
        conn,
        conditions: Conditions::new(conn, tenant, &query.filter, range)?,
        range,
    };
    paging::page(&mut matches, range.lo as u64, range.hi as u64, query)
}

/// The exact number of matching entries.
pub(crate) fn count(
    conn: &Connection,
    tenant: TenantId,
    filter: &Filter,
) -> Result<u64, StoreError> {
    if tallies::counts_from_rollup(filter) {
        // A period (or an outcome) alone: its days from the rollup, not every entry's row.
        return Ok(tallies(conn, tenant, filter, TallyUnit::Day)?
            .iter()
            .map(|t| t.count)
            .sum());
    }
    match seq_range(conn, tenant, filter)? {
        Some(range) => Conditions::new(conn, tenant, filter, range)?.count(conn, range),
        None => Ok(0),
    }
}

/// Matching entries per hour or day and outcome ([`tallies::plan`] picks rollup or scan).
///
/// The rollup is a derived index, written after the acknowledging commit: entries still in
/// `index_queue` are not in it yet, so they are counted from their rows. Every read runs in
/// one read transaction (`read::ReadPool`), so both come from one snapshot and an entry is in
/// exactly one of the two. No wait for the writer.
pub(crate) fn tallies(
    conn: &Connection,
    tenant: TenantId,
    filter: &Filter,
    unit: TallyUnit,
) -> Result<Vec<Tally>, StoreError> {
    match tallies::plan(filter, unit) {
        Plan::Scan => scan_tallies(conn, tenant, filter, unit),
        Plan::Rollup {
            first,
            end,
            result,
            edges,
        } => {
            let mut out = conn
                .prepare_cached(
                    "SELECT value, count FROM facet_values
                     WHERE tenant = ?1 AND kind = ?2 AND value >= ?3 AND value < ?4",
                )
                .and_then(|mut s| {
                    s.query_map(
                        params![
                            tenant.0,
                            tallies::DAY_KIND,
                            tallies::day_bound(first.unwrap_or(0)),
                            tallies::day_bound(end.unwrap_or(tallies::LAST_DAY)),
                        ],
                        |r| Ok(tallies::rollup_tally(&r.get::<_, String>(0)?, r.get(1)?)),
                    )?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(backend("reading the day rollup"))?;
            let (lo, hi) = tallies::whole_days(first, end);
            let Some(base) = tenant_base(tenant) else {
                return Ok(Vec::new());
            };
            // The queue first (`CROSS JOIN` keeps that order), and only this tenant's part of
            // it: a few thousand rows at most, where the planner's other choice — the tenant's
            // entries in the period, each looked up in the queue — read every entry of a large
            // tenant (200 ms for 158k entries while the indexer caught up).
            let queued = conn
                .prepare_cached(
                    "SELECT e.occurred_at / 86400000, e.result, count(*)
                     FROM index_queue AS q CROSS JOIN entries AS e ON e.pk = q.pk
                     WHERE q.pk >= ?1 AND q.pk < ?1 + ?2
                       AND e.occurred_at >= ?3 AND e.occurred_at < ?4
                     GROUP BY 1, 2",
                )
                .and_then(|mut s| {
                    s.query_map(params![base, SEQ_LIMIT, lo, hi], |r| {
                        Ok(tallies::scanned_tally(
                            r.get(0)?,
                            TallyUnit::Day,
                            &r.get::<_, String>(1)?,
                            r.get(2)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(backend("counting entries not yet in the day rollup"))?;
            out.extend(queued);
            tallies::rollup_answer(out.into_iter().flatten(), result, &edges, |edge| {
                scan_tallies(conn, tenant, edge, TallyUnit::Day)
            })
        }
    }
}

/// Groups the filter's matches by unit (on its own clock) and outcome.
fn scan_tallies(
    conn: &Connection,
    tenant: TenantId,
    filter: &Filter,
    unit: TallyUnit,
) -> Result<Vec<Tally>, StoreError> {
    let Some(range) = seq_range(conn, tenant, filter)? else {
        return Ok(Vec::new());
    };
    let conditions = Conditions::new(conn, tenant, filter, range)?;
    // The unit's length is a constant of this build, not input.
    let what = format!(
        "{} / {}, e.result, count(*)",
        tallies::time_column(filter),
        unit.millis()
    );
    let sql = format!(
        "{} GROUP BY 1, 2",
        conditions.select(&what, true, None, false)
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_map(params_from_iter(conditions.params(range, None)), |r| {
                Ok(tallies::scanned_tally(
                    r.get(0)?,
                    unit,
                    &r.get::<_, String>(1)?,
                    r.get(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map(|rows| rows.into_iter().flatten().collect())
        .map_err(backend("tallying entries"))
}

#[cfg(test)]
mod tests {
    use super::successor;

    #[test]
    fn the_successor_bounds_exactly_the_strings_with_that_start() {
        assert_eq!(successor("evid").as_deref(), Some("evie"));
        assert_eq!(successor("a.").as_deref(), Some("a/"));
        assert_eq!(successor("zo\u{eb}").as_deref(), Some("zo\u{ec}"));
        assert_eq!(successor("x\u{d7ff}").as_deref(), Some("x\u{e000}"));
        assert_eq!(successor("x\u{10ffff}"), None);
        assert_eq!(successor(""), None);
    }
}
