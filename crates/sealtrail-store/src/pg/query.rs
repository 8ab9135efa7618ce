//! Filters, pages and counts on PostgreSQL.
//!
//! A query is first narrowed to a seq range, as on SQLite: the tenant's kept seqs, cut by the
//! period's window in receipt time (a time becomes a seq through the `(tenant, recorded_at,
//! seq)` index, since `recorded_at` never decreases along seq; see [`crate::event_time`] for
//! event-time periods) and by the cursor; [`crate::paging`] does the rest. The head, the
//! period's seqs and the actor probe are one statement ([`scope`]), so a filtered page is two
//! round trips to PostgreSQL, not four or five. Every other filter field becomes a condition
//! with its value bound as a parameter: equality on indexed columns, `starts_with` for action prefixes (collation-independent),
//! JSONB containment for targets and properties (GIN), and a `tsquery` of prefix terms for
//! free text (GIN over tenant-prefixed words). A text page is steered by how dense its
//! matches are among the newest rows: walked in seq order, or read from the GIN index. Other
//! newest-first pages read the month partition holding the log's head before the rest of the
//! log, where that month is the node's current one and holds enough of the tenant's rows
//! ([`PgMatches::newest_first`]), instead of merging a first row from every month.

use super::pool::{PgError, PgResult, Statements};
use super::read::{bound, stored_from_row, STORED_COLUMNS};
use super::schema;
use super::search::tsquery;
use crate::actor_columns::ActorColumns;
use crate::conditions::{self, Dialect};
use crate::event_time::{receipt_window, LATE_ENTRY};
use crate::paging::{self, Matches};
use crate::stored_entry::{SealedPage, StoredEntry};
use crate::tallies::{self, Plan};
use crate::StoreError;
use postgres::error::SqlState;
use postgres::types::ToSql;
use sealtrail_core::filter::{Filter, Query};
use sealtrail_core::timeline::{Tally, TallyUnit};
use sealtrail_core::{TenantId, Timestamp};
use serde_json::{json, Map, Value};

/// A bound parameter of a built query.
type Param = Box<dyn ToSql + Sync + Send>;

/// The filter, minus its date range, as SQL over `entries AS e`. Parameters `$1`–`$3` are
/// the tenant and the seq range; the conditions' own start at `$4`.
struct Conditions {
    clauses: Vec<String>,
    params: Vec<Param>,
    /// The placeholder of the free text's `tsquery`, kept apart from the other clauses
    /// because how it is written decides the plan ([`Steer`]).
    text: Option<String>,
}

/// How a query over the tenant's seqs is steered. A text filter's cost depends on how dense
/// its matches are, which the planner cannot know for prefix terms: walking the tenant in seq
/// order pays off for a common word (a page in a few hundred rows), the GIN index for a rare
/// one (733 ms against 3 ms for a word in 0.02% of 150k entries). [`PgMatches::text_matches`]
/// measures the density on the newest rows and picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Steer {
    /// Whatever the planner picks (counts, timelines, filters without text).
    Planner,
    /// The tenant's rows in seq order, each row's words tested: `ts_match_vq` is the function
    /// behind `@@`, but as a call it is not an index condition, so the GIN index stays out.
    Walk,
    /// Matches from the GIN index first, then sorted. The tenant and seq bounds are written
    /// as expressions so no btree joins the bitmap: words are tenant-prefixed, so the GIN
    /// posting list already holds only the tenant's entries, and a `BitmapAnd` with every
    /// row of the tenant tripled the time.
    WordsFirst,
}

impl Conditions {
    fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        Pg::placeholder(self.params.len())
    }

    /// The conditions for `filter` ([`conditions`], in PostgreSQL's [`Pg`] dialect, then the
    /// free text as a tsquery), its actor filter on the columns [`scope`] found it in.
    fn new(tenant: TenantId, filter: &Filter, actor: Option<ActorColumns>) -> Conditions {
        let shared = conditions::Conditions::<Pg>::of(tenant, filter, actor);
        let mut c = Conditions {
            clauses: shared.clauses,
            params: shared.params,
            text: None,
        };
        if let Some(q) = filter.text.as_deref().and_then(|t| tsquery(tenant, t)) {
            c.text = Some(c.bind(q));
        }
        c
    }

    /// True when some entries of the seq range may not match.
    fn narrow(&self) -> bool {
        !self.clauses.is_empty() || self.text.is_some()
    }

    /// `SELECT <what>` over the tenant's seqs `[$2, $3)` with every condition.
    fn select(&self, what: &str) -> String {
        self.select_as(what, Steer::Planner, "entries")
    }

    /// [`Conditions::select`], steered by `steer`, from `table` (`entries` or one of its
    /// month partitions, a name this module computed).
    fn select_as(&self, what: &str, steer: Steer, table: &str) -> String {
        let (tenant, seq) = match steer {
            Steer::WordsFirst => ("e.tenant + 0", "e.seq + 0"),
            Steer::Planner | Steer::Walk => ("e.tenant", "e.seq"),
        };
        let mut sql = format!(
            "SELECT {what} FROM {table} AS e WHERE {tenant} = $1 AND {seq} >= $2 AND {seq} < $3"
        );
        for clause in &self.clauses {
            sql.push_str(" AND ");
            sql.push_str(clause);
        }
        if let Some(p) = &self.text {
            sql.push_str(&match steer {
                Steer::Walk => format!(" AND ts_match_vq(e.words, {p}::text::tsquery)"),
                Steer::Planner | Steer::WordsFirst => format!(" AND e.words @@ {p}::text::tsquery"),
            });
        }
        sql
    }

    /// Parameters for [`Conditions::select`], then `extra` (a limit).
    fn params<'p>(
        &'p self,
        head: &'p [&'p (dyn ToSql + Sync); 3],
        extra: Option<&'p (dyn ToSql + Sync)>,
    ) -> Vec<&'p (dyn ToSql + Sync)> {
        let mut all: Vec<&(dyn ToSql + Sync)> = head.to_vec();
        all.extend(
            self.params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync)),
        );
        all.extend(extra);
        all
    }
}

/// The PostgreSQL answers to [`paging::page`]'s questions for one filter.
struct PgMatches<'t, S: Statements> {
    tx: &'t mut S,
    tenant: TenantId,
    conditions: Conditions,
    /// Where the log's newest entries are, read first by newest-first pages
    /// ([`PgMatches::newest_first`]); `None` where it is not known.
    newest: Option<NewestMonth>,
}

/// Rows the near end of a text search walks per row of the page asked for, before choosing
/// between walking on and the GIN index.
const WALK_ROWS_PER_MATCH: u64 = 2;

/// The fewest rows the near end of a text search walks (a one-row probe walks this many).
const WALK_ROWS_MIN: u64 = 64;

/// Past the near end, the search walks on while its matches were at least one in this many
/// rows walked: a page then costs about this many rows per match more. Walking costs 3–8 µs
/// a row in the size-S bench (each row's `tsvector` is read), so a word in one row of 32
/// fills a page of 50 in about 1,600 rows, where the GIN index would read and sort its
/// thousands of matches.
const DENSE_ONE_IN: u64 = 32;

/// A filtered page reads the newest month first only where that month holds this many of
/// the tenant's rows per row of the page: a filter matching fewer leaves the page short, and
/// the rest of the log is then a second statement (at the size-S bench's mid tenant, ~330
/// entries a month, a page by person and action took 0.1–0.2 ms longer that way).
const NEAR_ROWS_PER_MATCH: u64 = 8;

impl<S: Statements> PgMatches<'_, S> {
    /// Up to `limit` matches in `[lo, hi)` as rows of `what`, by seq, descending when asked,
    /// with `steer` deciding how the query runs.
    fn rows(
        &mut self,
        (lo, hi): (u64, u64),
        descending: bool,
        limit: u64,
        steer: Steer,
        what: &str,
    ) -> Result<Vec<postgres::Row>, StoreError> {
        if lo >= hi || limit == 0 {
            return Ok(Vec::new());
        }
        let order = if descending { "DESC" } else { "ASC" };
        let limit_index = self.conditions.params.len() + 4;
        let sql = format!(
            "{} ORDER BY e.seq {order} LIMIT ${limit_index}",
            self.conditions.select_as(what, steer, "entries")
        );
        let (lo, hi, limit) = (bound(lo), bound(hi), bound(limit));
        let head: [&(dyn ToSql + Sync); 3] = [&self.tenant.0, &lo, &hi];
        let params = self.conditions.params(&head, Some(&limit));
        self.tx
            .query(&sql, &params)
            .map_err(|e| e.into_store("reading a page"))
    }

    /// Up to `limit` matches in `[lo, hi)`, newest first, as stored rows: those in the month
    /// partition holding the log's head first, then (if the page is not full) those below it.
    ///
    /// Over the whole table a page is a Merge Append of every month partition, which must
    /// take a first row from each before it returns any: 0.3–0.4 ms of a page's 0.4 ms
    /// unfiltered, 0.5 of 0.8 ms by person and action, at the size-S bench's large tenant
    /// (16 partitions), where the newest partition alone took 0.08 and 0.3 ms. The seqs from
    /// the tenant's first in that month ([`NewestMonth`]) to the head are all in it and no
    /// seq below is, so a page is split there: no row is read twice and none is missed, and a
    /// page below the newest month reads the table as before. (A `recorded_at` condition on
    /// `entries` would let PostgreSQL skip the other partitions as well, but made the period
    /// index a candidate plan for every page.)
    ///
    /// The limit is written as a subquery: with its value known, the planner, which has no
    /// statistics on the actor columns, expected fewer matches in one month than a page holds
    /// and sorted every match of the person instead of walking the index (5 ms instead of
    /// 0.1 for the first five runs of each connection's statement).
    fn newest_first(
        &mut self,
        (lo, hi): (u64, u64),
        limit: u64,
        what: &str,
    ) -> Result<Vec<postgres::Row>, StoreError> {
        let Some(newest) = self.newest.clone() else {
            return self.rows((lo, hi), true, limit, Steer::Planner, what);
        };
        // Rows of the month the page needs per match for the month alone to fill it: every
        // row without a filter; with one, a match in `NEAR_ROWS_PER_MATCH` rows.
        let rows_per_match = match self.conditions.narrow() {
            true => NEAR_ROWS_PER_MATCH,
            false => 1,
        };
        let Some(split) = newest.split((lo, hi), limit, rows_per_match) else {
            return self.rows((lo, hi), true, limit, Steer::Planner, what);
        };
        let limit_index = self.conditions.params.len() + 4;
        let sql = format!(
            "{} ORDER BY e.seq DESC LIMIT (SELECT ${limit_index}::bigint)",
            self.conditions
                .select_as(what, Steer::Planner, &newest.partition)
        );
        let (split_b, hi_b, limit_b) = (bound(split), bound(hi), bound(limit));
        let head: [&(dyn ToSql + Sync); 3] = [&self.tenant.0, &split_b, &hi_b];
        let params = self.conditions.params(&head, Some(&limit_b));
        let mut rows = match self.tx.query(&sql, &params) {
            Ok(rows) => rows,
            // Only a partition dropped under the page (it held the head a moment ago) is
            // passed over: the whole table answers.
            Err(PgError::Sql(e)) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => {
                return self.rows((lo, hi), true, limit, Steer::Planner, what);
            }
            Err(e) => return Err(e.into_store("reading a page")),
        };
        let found = rows.len() as u64;
        if found < limit {
            rows.extend(self.rows((lo, split), true, limit - found, Steer::Planner, what)?);
        }
        Ok(rows)
    }

    /// Up to `limit` text matches in `[lo, hi)` from the end a page starts at, as rows of
    /// `what`. The rows nearest that end are walked first (a common word fills the page
    /// there); how many matched says how dense the text is, and so whether walking on or
    /// reading the GIN index finds the rest sooner. Either way the answer is the same set of
    /// matches.
    fn text_matches(
        &mut self,
        (lo, hi): (u64, u64),
        descending: bool,
        limit: u64,
        what: &str,
    ) -> Result<Vec<postgres::Row>, StoreError> {
        let near_rows = limit
            .saturating_mul(WALK_ROWS_PER_MATCH)
            .max(WALK_ROWS_MIN)
            .min(hi - lo);
        let (near, far) = if descending {
            ((hi - near_rows, hi), (lo, hi - near_rows))
        } else {
            ((lo, lo + near_rows), (lo + near_rows, hi))
        };
        let mut rows = self.rows(near, descending, limit, Steer::Walk, what)?;
        let found = rows.len() as u64;
        if found >= limit || far.0 >= far.1 {
            return Ok(rows);
        }
        let steer = if found.saturating_mul(DENSE_ONE_IN) >= near_rows {
            Steer::Walk
        } else {
            Steer::WordsFirst
        };
        rows.extend(self.rows(far, descending, limit - found, steer, what)?);
        Ok(rows)
    }
}

impl<S: Statements> Matches for PgMatches<'_, S> {
    fn fetch(
        &mut self,
        lo: u64,
        hi: u64,
        descending: bool,
        limit: u64,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        if lo >= hi {
            return Ok(Vec::new());
        }
        let rows = if self.conditions.text.is_some() {
            self.text_matches((lo, hi), descending, limit, STORED_COLUMNS)?
        } else if descending {
            self.newest_first((lo, hi), limit, STORED_COLUMNS)?
        } else {
            self.rows((lo, hi), descending, limit, Steer::Planner, STORED_COLUMNS)?
        };
        rows.iter().map(stored_from_row).collect()
    }

    fn exists(&mut self, lo: u64, hi: u64) -> Result<bool, StoreError> {
        if lo >= hi {
            return Ok(false);
        }
        if self.conditions.text.is_some() {
            return Ok(!self.text_matches((lo, hi), true, 1, "1")?.is_empty());
        }
        // Seqs from the newest month's first to the head are all in its partition: a probe
        // for newer matches above a page there reads that partition alone.
        let table = match &self.newest {
            Some(newest) if lo >= newest.first_seq => newest.partition.as_str(),
            _ => "entries",
        };
        let conditions = &self.conditions;
        let sql = |table: &str| {
            format!(
                "SELECT EXISTS ({})",
                conditions.select_as("1", Steer::Planner, table)
            )
        };
        let (lo, hi) = (bound(lo), bound(hi));
        let head: [&(dyn ToSql + Sync); 3] = [&self.tenant.0, &lo, &hi];
        let params = conditions.params(&head, None);
        let row = match self.tx.query_one(&sql(table), &params) {
            // As for pages: a partition dropped under the probe leaves the whole table.
            Err(PgError::Sql(e))
                if table != "entries" && e.code() == Some(&SqlState::UNDEFINED_TABLE) =>
            {
                self.tx.query_one(&sql("entries"), &params)
            }
            other => other,
        }
        .map_err(|e| e.into_store("probing for entries"))?;
        row.try_get(0)
            .map_err(|e| PgError::Sql(e).into_store("probing for entries"))
    }
}

/// PostgreSQL's spelling of filter conditions: `$n` placeholders after the tenant and the seq
/// range (`$1`–`$3`), `starts_with` for action prefixes (collation-independent), and JSONB
/// containment for targets and properties (GIN).
struct Pg;

impl Dialect for Pg {
    type Param = Param;

    fn text(value: String) -> Param {
        Box::new(value)
    }

    fn integer(value: i64) -> Param {
        Box::new(value)
    }

    fn placeholder(n: usize) -> String {
        format!("${}", n + 3)
    }

    fn actor(
        c: &mut conditions::Conditions<Self>,
        _tenant: TenantId,
        columns: ActorColumns,
        actor: &str,
    ) -> String {
        let p = c.bind_text(actor);
        columns.condition(&p)
    }

    fn action_starts_with(c: &mut conditions::Conditions<Self>, start: &str) -> String {
        let start = c.bind_text(start);
        format!("starts_with(e.action, {start})")
    }

    fn target(c: &mut conditions::Conditions<Self>, fields: &[(&'static str, &str)]) -> String {
        let target: Map<String, Value> = fields
            .iter()
            .map(|(field, value)| (field.to_string(), Value::String(value.to_string())))
            .collect();
        let p = c.bind(Box::new(json!([target])));
        format!("e.targets @> {p}")
    }

    fn property(c: &mut conditions::Conditions<Self>, key: &str, value: &str) -> String {
        let p = c.bind(Box::new(json!({ key: value })));
        format!("e.props @> {p}")
    }
}

/// What a page, count or tally must know before it reads entries: the tenant's kept seqs
/// `[lo, hi)` that can hold the filter's period, and which column an actor filter searches.
#[derive(Debug, Clone)]
struct Scope {
    seqs: (u64, u64),
    actor: Option<ActorColumns>,
    /// Where the log's newest entries are, when the log's head was received in the month
    /// asked about ([`PgMatches::newest_first`]).
    newest: Option<NewestMonth>,
}

/// The month partition that holds the log's head, and the tenant's first seq in it: every
/// seq from there to the head lies in that partition (`recorded_at` never decreases along
/// seq), every seq below it in older ones.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NewestMonth {
    partition: String,
    first_seq: u64,
}

impl NewestMonth {
    /// `month`'s partition with the tenant's first seq in it (`None` when it has none), if
    /// the head, received at `head_at` (Unix milliseconds), is in that month: a head in
    /// another month (a quiet tenant, a node whose clock is in another month than the
    /// writer's) leaves pages to the whole table.
    fn of(month: &schema::MonthPartition, head_at: i64, first_seq: Option<u64>) -> Option<Self> {
        first_seq
            .filter(|_| (month.from..month.to).contains(&head_at))
            .map(|first_seq| NewestMonth {
                partition: month.name.clone(),
                first_seq,
            })
    }

    /// Where a newest-first page of `limit` rows over `[lo, hi)` splits, when the month is
    /// worth reading first: it holds at least `rows_per_match` of the range's rows per row
    /// of the page.
    fn split(&self, (lo, hi): (u64, u64), limit: u64, rows_per_match: u64) -> Option<u64> {
        if lo >= hi {
            return None;
        }
        let split = self.first_seq.clamp(lo, hi);
        let needed = limit.saturating_mul(rows_per_match).max(1);
        (hi - split >= needed).then_some(split)
    }
}

/// The statement [`scope`] runs, with the period's ends, the month probe and the actor probe
/// only where asked for (one cached statement per combination). `$1` is the tenant; the
/// receipt times, the month's bounds and the actor follow in that order, each only when
/// present.
///
/// - The month probe finds the tenant's first seq received in a month (the node's current
///   one, for a page): one index descent in that month's partition.
/// - The period's ends become seqs through the `(tenant, recorded_at, seq)` index:
///   `recorded_at` never decreases along seq, so the entries received at or after a time are
///   exactly a suffix of the log.
/// - The actor probe (for a value that may be an e-mail, [`ActorColumns::without_probe`]) is
///   the schema's `actor_presence` function (two index probes on generic
///   plans: planning them for the actual values over every month partition took 1.3–2.9 ms
///   and chose the same probes). It looks from the period's first seq to the head: a late
///   entry can carry the range past the period's end, and a superset of the range only ever
///   adds a column to search, never drops one that holds the actor.
///
/// One statement instead of up to four: on an idle server each round trip to PostgreSQL was
/// about a tenth of a millisecond of a page that should take one.
fn scope_statement(from: bool, until: bool, month: bool, actor: bool) -> String {
    let mut next = 1;
    let mut param = || {
        next += 1;
        format!("${next}")
    };
    let first_at = |p: &str| {
        format!(
            "(SELECT seq FROM entries WHERE tenant = $1 AND recorded_at >= {p}
              ORDER BY recorded_at, seq LIMIT 1)"
        )
    };
    let mut columns = String::from("h.next_seq, h.first_seq, h.last_recorded_at");
    let mut joins = String::new();
    let from_param = from.then(&mut param);
    if let Some(p) = &from_param {
        joins.push_str(&format!(" LEFT JOIN LATERAL {} AS f ON true", first_at(p)));
        columns.push_str(", f.seq AS from_seq");
    }
    if until {
        let p = param();
        joins.push_str(&format!(" LEFT JOIN LATERAL {} AS u ON true", first_at(&p)));
        columns.push_str(", u.seq AS until_seq");
    }
    if month {
        let (start, end) = (param(), param());
        joins.push_str(&format!(
            " LEFT JOIN LATERAL (SELECT seq FROM entries
                                 WHERE tenant = $1 AND recorded_at >= {start} AND recorded_at < {end}
                                 ORDER BY recorded_at, seq LIMIT 1) AS m ON true"
        ));
        columns.push_str(", m.seq AS month_seq");
    }
    if actor {
        let p = param();
        let (lo, from) = match &from_param {
            Some(from) => (
                "greatest(h.first_seq, coalesce(f.seq, h.next_seq))".to_string(),
                from.clone(),
            ),
            None => ("h.first_seq".to_string(), "NULL::bigint".to_string()),
        };
        joins.push_str(&format!(
            " CROSS JOIN LATERAL actor_presence($1, {p}, {lo}, h.next_seq, {from}, NULL::bigint) AS p"
        ));
        columns.push_str(", p.as_id, p.as_email");
    }
    format!("SELECT {columns} FROM log_heads AS h{joins} WHERE h.tenant = $1")
}

/// The [`Scope`] of `filter` in `tenant`'s log, learnt in one statement (two when an
/// event-time period's end must look for late entries), with where its newest entries are
/// when `month` (a page's) holds the head; `None` for a tenant that does not exist.
fn scope(
    tx: &mut impl Statements,
    tenant: TenantId,
    filter: &Filter,
    month: Option<&schema::MonthPartition>,
) -> PgResult<Option<Scope>> {
    let window = receipt_window(filter);
    let from = window.from.map(Timestamp::millis);
    let until = window.until.map(Timestamp::millis);
    let known = filter
        .actor
        .as_deref()
        .and_then(ActorColumns::without_probe);
    let probe = filter.actor.as_deref().filter(|_| known.is_none());
    let sql = scope_statement(
        from.is_some(),
        until.is_some(),
        month.is_some(),
        probe.is_some(),
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant.0];
    params.extend(from.as_ref().map(|p| p as &(dyn ToSql + Sync)));
    params.extend(until.as_ref().map(|p| p as &(dyn ToSql + Sync)));
    if let Some(month) = month {
        params.extend([&month.from as &(dyn ToSql + Sync), &month.to]);
    }
    params.extend(probe.as_ref().map(|p| p as &(dyn ToSql + Sync)));
    let Some(row) = tx.query_opt(&sql, &params)? else {
        return Ok(None);
    };
    let seq = |column: &str| -> PgResult<Option<u64>> {
        Ok(row
            .try_get::<_, Option<i64>>(column)?
            .map(|s| s.max(0) as u64))
    };
    let size = seq("next_seq")?.unwrap_or(0);
    let (mut lo, mut hi) = (seq("first_seq")?.unwrap_or(0), size);
    if from.is_some() {
        lo = seq("from_seq")?.unwrap_or(hi).max(lo);
    }
    if until.is_some() {
        hi = seq("until_seq")?.unwrap_or(hi).min(hi);
    }
    if let Some(period) = window.late {
        if hi < size && late_entry_beyond(tx, tenant, period, hi)? {
            hi = size;
        }
    }
    let actor = match probe {
        Some(_) => Some(ActorColumns::from_presence(
            row.try_get("as_id")?,
            row.try_get("as_email")?,
        )),
        None => known,
    };
    let newest = match month {
        Some(month) => NewestMonth::of(month, row.try_get("last_recorded_at")?, seq("month_seq")?),
        None => None,
    };
    Ok(Some(Scope {
        seqs: (lo, hi),
        actor,
        newest,
    }))
}

/// True when a late entry whose event time lies in `[from, until)` has a seq at or above
/// `seq`, answered from the partial index of late entries.
fn late_entry_beyond(
    tx: &mut impl Statements,
    tenant: TenantId,
    (from, until): (Option<Timestamp>, Timestamp),
    seq: u64,
) -> PgResult<bool> {
    let row = tx.query_one(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM entries
                            WHERE tenant = $1 AND {LATE_ENTRY}
                              AND occurred_at >= $2 AND occurred_at < $3 AND seq >= $4)"
        ),
        &[
            &tenant.0,
            &from.map_or(i64::MIN, Timestamp::millis),
            &until.millis(),
            &bound(seq),
        ],
    )?;
    Ok(row.try_get(0)?)
}

/// One page, newest first, with cursors for the neighbouring pages, not yet opened.
pub(crate) fn query(
    tx: &mut impl Statements,
    tenant: TenantId,
    query: &Query,
) -> PgResult<SealedPage> {
    let month = schema::months_from(Timestamp::now(), 0).into_iter().next();
    let Some(Scope {
        seqs: (lo, hi),
        actor,
        newest,
    }) = scope(tx, tenant, &query.filter, month.as_ref())?
    else {
        return Ok(SealedPage::empty());
    };
    let conditions = Conditions::new(tenant, &query.filter, actor);
    let mut matches = PgMatches {
        tx,
        tenant,
        conditions,
        newest,
    };
    Ok(paging::page(&mut matches, lo, hi, query)?)
}

/// The exact number of matching entries.
pub(crate) fn count(tx: &mut impl Statements, tenant: TenantId, filter: &Filter) -> PgResult<u64> {
    if tallies::counts_from_rollup(filter) {
        // A period (or an outcome) alone: its days from the rollup (kept in the append
        // transaction on PostgreSQL), not every entry's row.
        return Ok(tallies(tx, tenant, filter, TallyUnit::Day)?
            .iter()
            .map(|t| t.count)
            .sum());
    }
    let Some(Scope {
        seqs: (lo, hi),
        actor,
        ..
    }) = scope(tx, tenant, filter, None)?
    else {
        return Ok(0);
    };
    if lo >= hi {
        return Ok(0);
    }
    let conditions = Conditions::new(tenant, filter, actor);
    if !conditions.narrow() {
        // Every seq from the prune horizon to the head exists: only pruning deletes entries,
        // and only below that horizon.
        return Ok(hi - lo);
    }
    let sql = conditions.select("count(*)");
    let (lo, hi) = (bound(lo), bound(hi));
    let head: [&(dyn ToSql + Sync); 3] = [&tenant.0, &lo, &hi];
    let params = conditions.params(&head, None);
    let n: i64 = tx.query_one(&sql, &params)?.try_get(0)?;
    Ok(n.max(0) as u64)
}

/// Matching entries per hour or day and outcome ([`tallies::plan`] picks rollup or scan).
pub(crate) fn tallies(
    tx: &mut impl Statements,
    tenant: TenantId,
    filter: &Filter,
    unit: TallyUnit,
) -> PgResult<Vec<Tally>> {
    match tallies::plan(filter, unit) {
        Plan::Scan => scan_tallies(tx, tenant, filter, unit),
        Plan::Rollup {
            first,
            end,
            result,
            edges,
        } => {
            let rows = tx.query(
                "SELECT value, count FROM facet_values
                 WHERE tenant = $1 AND kind = $2 AND value >= $3 AND value < $4",
                &[
                    &tenant.0,
                    &tallies::DAY_KIND,
                    &tallies::day_bound(first.unwrap_or(0)),
                    &tallies::day_bound(end.unwrap_or(tallies::LAST_DAY)),
                ],
            )?;
            let mut stored = Vec::with_capacity(rows.len());
            for r in &rows {
                stored.extend(tallies::rollup_tally(r.try_get(0)?, r.try_get(1)?));
            }
            tallies::rollup_answer(stored, result, &edges, |edge| {
                scan_tallies(tx, tenant, edge, TallyUnit::Day)
            })
        }
    }
}

/// Groups the filter's matches by unit (on its own clock) and outcome.
fn scan_tallies(
    tx: &mut impl Statements,
    tenant: TenantId,
    filter: &Filter,
    unit: TallyUnit,
) -> PgResult<Vec<Tally>> {
    let Some(Scope {
        seqs: (lo, hi),
        actor,
        ..
    }) = scope(tx, tenant, filter, None)?
    else {
        return Ok(Vec::new());
    };
    if lo >= hi {
        return Ok(Vec::new());
    }
    let conditions = Conditions::new(tenant, filter, actor);
    // The unit's length is a constant of this build, not input.
    let what = format!(
        "{} / {}, e.result, count(*)",
        tallies::time_column(filter),
        unit.millis()
    );
    let sql = format!("{} GROUP BY 1, 2", conditions.select(&what));
    let (lo, hi) = (bound(lo), bound(hi));
    let head: [&(dyn ToSql + Sync); 3] = [&tenant.0, &lo, &hi];
    let params = conditions.params(&head, None);
    let rows = tx.query(&sql, &params)?;
    let mut tallies = Vec::with_capacity(rows.len());
    for r in &rows {
        tallies.extend(tallies::scanned_tally(
            r.try_get(0)?,
            unit,
            r.try_get::<_, &str>(1)?,
            r.try_get(2)?,
        ));
    }
    Ok(tallies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn december() -> schema::MonthPartition {
        schema::MonthPartition {
            name: "entries_2026_12".into(),
            from: 1_796_083_200_000,
            to: 1_798_761_600_000,
        }
    }

    #[test]
    fn only_a_head_received_in_the_month_makes_it_the_newest() {
        let month = december();
        let inside = NewestMonth::of(&month, month.from, Some(40));
        assert_eq!(
            inside,
            Some(NewestMonth {
                partition: "entries_2026_12".into(),
                first_seq: 40
            })
        );
        assert_eq!(NewestMonth::of(&month, month.to - 1, Some(40)), inside);
        // A quiet tenant, or a writer whose clock is a month ahead of this node's.
        assert_eq!(NewestMonth::of(&month, month.from - 1, Some(40)), None);
        assert_eq!(NewestMonth::of(&month, month.to, Some(40)), None);
        // An empty log's head time is 0; a month without the tenant's entries has no seq.
        assert_eq!(NewestMonth::of(&month, 0, None), None);
        assert_eq!(NewestMonth::of(&month, month.from, None), None);
    }

    #[test]
    fn a_page_splits_at_the_month_only_where_the_month_can_fill_it() {
        let newest = NewestMonth {
            partition: "entries_2026_12".into(),
            first_seq: 100,
        };
        // 60 rows of the month above the split: a page of 51 unfiltered, not a filtered one.
        assert_eq!(newest.split((0, 160), 51, 1), Some(100));
        assert_eq!(newest.split((0, 160), 51, NEAR_ROWS_PER_MATCH), None);
        assert_eq!(newest.split((0, 160), 7, NEAR_ROWS_PER_MATCH), Some(100));
        // A cursor below the month, or a period ending before it: the whole table.
        assert_eq!(newest.split((0, 100), 1, 1), None);
        assert_eq!(newest.split((0, 90), 1, 1), None);
        // A period starting inside the month splits at its own start.
        assert_eq!(newest.split((130, 160), 10, 1), Some(130));
        assert_eq!(newest.split((160, 160), 1, 1), None);
    }
}
