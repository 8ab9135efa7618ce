//! After an erasure, rewrites the relations that held the subject, so no dead row version or
//! index entry in any table or index file still holds an erased value (`UPDATE` leaves the old
//! row versions behind, and `VACUUM` only marks their space free; a GIN index never drops a
//! word's key at all).
//!
//! An erasure chunk lists the month partitions it changed, and `facet_actors`, in
//! `pending_rewrites` in the chunk's own transaction, so a rewrite interrupted by a crash is
//! finished later (by the next erasure, or in the background after a start or the nightly
//! prune). One node rewrites at a time (a session advisory lock; another node finding it taken
//! leaves the work to the holder, which goes on until nothing is pending). A partition is
//! rewritten online, the way `VACUUM FULL` would but without holding the log for the copy:
//!
//! 1. under the advisory lock, which prune and erasure chunks take shared (they wait for the
//!    copy, polling, without holding any row lock; nothing else updates or deletes entries),
//!    copy the partition's live rows into a new table and build its indexes and a `CHECK`
//!    matching the partition bound — appends and reads go on;
//! 2. in one short transaction holding `entries` exclusively (each try waits at most
//!    [`LOCK_WAIT`] in the lock queue, so appends stall no longer than that per try): copy the
//!    rows appended meanwhile (per tenant, those above the highest seq copied: a tenant's
//!    appends commit in seq order), detach and drop the old partition, attach the new one
//!    (the `CHECK` spares the validating scan) under the old names.
//!
//! `facet_actors` and `export_files` are not partitioned: each is copied into a new table
//! while holding it `EXCLUSIVE` (reads go on; appends, which count actors, wait for the copy)
//! and swapped in — a new table, so statistics gathered on the old one go too; the small
//! `export_jobs` (whose specs an erasure rewrites) by `VACUUM FULL`. Then
//! `pg_statistic` itself is rewritten. WAL segments still hold the old values until they are
//! recycled, and archives and backups until they expire (docs/scale-out.md says so).

use super::super::pool::{Conn, PgResult, Tx};
use crate::StoreError;
use postgres::IsolationLevel;
use sealtrail_core::TenantId;

/// The advisory lock a rewrite holds exclusively and prune and erasure chunks share.
pub(crate) const REWRITE_LOCK: i64 = 0x5EA1_E4A5;

/// How long a rewrite waits in the lock queue each time: appends queued behind it wait no
/// longer than this per try.
const LOCK_WAIT: &str = "200ms";

/// How many times a rewrite tries for its exclusive lock before leaving the work for later;
/// tries are spaced by a second or two.
const LOCK_TRIES: u64 = 20;

/// The tables outside `entries` that hold erased values: the actors' facet counts, and the
/// files of export jobs (withdrawn by an erasure).
pub(crate) const PLAIN_TABLES: [&str; 2] = ["facet_actors", "export_files"];

/// Small tables holding erased values (the specs of export jobs) that `VACUUM FULL` rewrites
/// in place: it keeps the table's constraints and index names, and holds the table for the
/// few milliseconds its copy takes.
pub(crate) const VACUUMED_TABLES: [&str; 1] = ["export_jobs"];

/// What one pass over the pending rewrites did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RewriteReport {
    /// Relations rewritten.
    pub rewritten: Vec<String>,
    /// Relations left for a later pass (their lock could not be had).
    pub deferred: Vec<String>,
}

/// Makes prune and erasure chunks wait while a rewrite copies a partition: call first in their
/// transaction, before any row lock. Polls rather than queueing on the lock, so no statement
/// runs for as long as a copy, and a waiting chunk holds nothing another session needs.
pub(crate) fn share_rewrite_lock(tx: &mut Tx<'_>) -> PgResult<()> {
    loop {
        let row = tx.query_one(
            "SELECT pg_try_advisory_xact_lock_shared($1)",
            &[&REWRITE_LOCK],
        )?;
        if row.try_get::<_, bool>(0)? {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// Spaces the tries for an exclusive lock (1–2 s, varying so two waiters do not keep
/// meeting).
fn pause_between_tries(try_number: u64) {
    let jitter = (std::process::id() as u64 + try_number * 7919) % 1000;
    std::thread::sleep(std::time::Duration::from_millis(1000 + jitter));
}

/// Records that the partitions holding `seqs` of `tenant`, and `facet_actors`, must be
/// rewritten: called in the erasure chunk's transaction that changed them.
pub(crate) fn request(tx: &mut Tx<'_>, tenant: TenantId, seqs: &[i64]) -> PgResult<()> {
    if seqs.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO pending_rewrites (relation)
         SELECT DISTINCT c.relname::text FROM entries e JOIN pg_class c ON c.oid = e.tableoid
         WHERE e.tenant = $1 AND e.seq = ANY($2)
         UNION SELECT 'facet_actors'
         ON CONFLICT DO NOTHING",
        &[&tenant.0, &seqs],
    )?;
    Ok(())
}

/// Whether `name` is a month partition's name as Sealtrail makes them (`entries_YYYY_MM`):
/// the only names spliced into the statements here besides the facet tables.
fn is_partition_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    name.len() == "entries_2026_12".len()
        && name.starts_with("entries_")
        && bytes[12] == b'_'
        && bytes[8..12]
            .iter()
            .chain(&bytes[13..])
            .all(u8::is_ascii_digit)
}

/// Rewrites every pending relation, until none is left or none could be done; returns what
/// was done and what must wait. Another node already rewriting answers an empty report: it
/// takes what is pending too.
pub(crate) fn run_pending(conn: &mut Conn) -> PgResult<RewriteReport> {
    let locked = {
        let mut tx = conn.begin(IsolationLevel::ReadCommitted, false)?;
        let row = tx.query_one("SELECT pg_try_advisory_lock($1)", &[&REWRITE_LOCK])?;
        tx.commit()?;
        row.try_get::<_, bool>(0)?
    };
    if !locked {
        return Ok(RewriteReport::default());
    }
    let result = run_locked(conn);
    let unlocked = conn.batch(&format!("SELECT pg_advisory_unlock({REWRITE_LOCK})"));
    let report = result?;
    unlocked?;
    Ok(report)
}

pub(crate) fn pending(conn: &mut Conn) -> PgResult<Vec<String>> {
    let mut tx = conn.begin(IsolationLevel::ReadCommitted, true)?;
    let rows = tx.query(
        "SELECT relation FROM pending_rewrites ORDER BY relation",
        &[],
    )?;
    let names = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    tx.commit()?;
    Ok(names)
}

/// One relation: `Ok(false)` when its lock could not be had.
fn rewrite_one(conn: &mut Conn, relation: &str) -> PgResult<bool> {
    if PLAIN_TABLES.contains(&relation) {
        rewrite_table(conn, relation)
    } else if VACUUMED_TABLES.contains(&relation) {
        vacuum_full(conn, relation)
    } else if is_partition_name(relation) {
        rewrite_partition(conn, relation)
    } else {
        tracing::warn!(
            relation,
            "not a relation Sealtrail rewrites; request dropped"
        );
        Ok(true)
    }
}

fn run_locked(conn: &mut Conn) -> PgResult<RewriteReport> {
    let mut report = RewriteReport::default();
    loop {
        let mut progressed = false;
        report.deferred.clear();
        for relation in pending(conn)? {
            match rewrite_one(conn, &relation) {
                Ok(true) => {
                    let mut tx = conn.begin(IsolationLevel::ReadCommitted, false)?;
                    tx.execute(
                        "DELETE FROM pending_rewrites WHERE relation = $1",
                        &[&relation],
                    )?;
                    tx.commit()?;
                    report.rewritten.push(relation);
                    progressed = true;
                }
                Ok(false) => report.deferred.push(relation),
                // One relation failing (its table gone, a full disk) must not keep the others
                // from being rewritten; it stays pending.
                Err(e) => {
                    tracing::warn!(relation, error = %e, "rewriting a relation failed; it stays pending");
                    report.deferred.push(relation);
                }
            }
        }
        if !progressed {
            break;
        }
    }
    if !report.rewritten.is_empty() {
        rewrite_statistics(conn);
    }
    Ok(report)
}

/// Rewrites `pg_statistic`, whose dead rows (statistics of the replaced tables) may still hold
/// values gathered before this version stopped collecting them on personal columns. Needs
/// the database's owner; a refusal is logged, not fatal.
fn rewrite_statistics(conn: &mut Conn) {
    let done = conn
        .batch(&format!("SET lock_timeout = '{LOCK_WAIT}'"))
        .and_then(|()| conn.batch("VACUUM (FULL) pg_statistic"));
    if let Err(e) = done {
        tracing::warn!(error = %e, "pg_statistic not rewritten after an erasure");
    }
    let _ = conn.batch("RESET lock_timeout");
}

/// Rewrites a small table with `VACUUM FULL`, waiting at most [`LOCK_WAIT`] for it each try;
/// `false` when its lock could not be had.
fn vacuum_full(conn: &mut Conn, table: &str) -> PgResult<bool> {
    conn.batch(&format!("SET lock_timeout = '{LOCK_WAIT}'"))?;
    let mut done = Ok(false);
    for try_number in 0..LOCK_TRIES {
        match conn.batch(&format!("VACUUM (FULL) {table}")) {
            Ok(()) => {
                done = Ok(true);
                break;
            }
            Err(e) if lock_timed_out(&e) => pause_between_tries(try_number),
            Err(e) => {
                done = Err(e);
                break;
            }
        }
    }
    let _ = conn.batch("RESET lock_timeout");
    done
}

/// True when PostgreSQL gave up waiting for a lock (`lock_timeout`).
fn lock_timed_out(e: &super::super::pool::PgError) -> bool {
    matches!(e, super::super::pool::PgError::Sql(e)
        if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE))
}

/// Replaces a plain table with a copy of its live rows, holding it `EXCLUSIVE` (reads go
/// on) for the copy; `false` when its lock could not be had.
fn rewrite_table(conn: &mut Conn, table: &str) -> PgResult<bool> {
    let copy = format!("{table}_rewrite");
    let no_stats = if table == "facet_actors" {
        format!("{};", facet_actors_no_statistics_sql(&copy))
    } else {
        String::new()
    };
    for try_number in 0..LOCK_TRIES {
        let mut tx = conn.begin(IsolationLevel::ReadCommitted, false)?;
        let swapped = tx.inner().batch_execute(&format!(
            "SET LOCAL lock_timeout = '{LOCK_WAIT}';
             SET LOCAL statement_timeout = 0;
             LOCK TABLE {table} IN EXCLUSIVE MODE;
             CREATE TABLE {copy} (LIKE {table} INCLUDING ALL);
             {no_stats}
             INSERT INTO {copy} SELECT * FROM {table};
             DROP TABLE {table};
             ALTER TABLE {copy} RENAME TO {table};
             ALTER INDEX {copy}_pkey RENAME TO {table}_pkey"
        ));
        match swapped {
            Ok(()) => {
                tx.commit()?;
                return Ok(true);
            }
            Err(e) => {
                let e = super::super::pool::PgError::from(e);
                drop(tx);
                if !lock_timed_out(&e) {
                    return Err(e);
                }
                pause_between_tries(try_number);
            }
        }
    }
    Ok(false)
}

/// No statistics on `facet_actors`' personal columns.
pub(crate) fn facet_actors_no_statistics_sql(table: &str) -> String {
    format!(
        "ALTER TABLE {table} ALTER COLUMN key SET STATISTICS 0, ALTER COLUMN id SET STATISTICS 0, \
         ALTER COLUMN name SET STATISTICS 0, ALTER COLUMN email SET STATISTICS 0"
    )
}

/// The partition's bound as the catalogue writes it (`FOR VALUES FROM (…) TO (…)`), or
/// `None` when it is no longer a partition of `entries` (a prune dropped it).
fn bound_text(tx: &mut Tx<'_>, partition: &str) -> PgResult<Option<String>> {
    tx.query_opt(
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c
         JOIN pg_inherits i ON i.inhrelid = c.oid
         WHERE c.relname = $1 AND i.inhparent = 'entries'::regclass",
        &[&partition],
    )?
    .map(|row| Ok(row.try_get::<_, String>(0)?))
    .transpose()
}

/// The partition's bound, `(from, to)` in milliseconds (see [`bound_text`]).
fn bound(tx: &mut Tx<'_>, partition: &str) -> PgResult<Option<(i64, i64)>> {
    let Some(text) = bound_text(tx, partition)? else {
        return Ok(None);
    };
    // FOR VALUES FROM ('1764547200000') TO ('1767225600000')
    let numbers: Vec<i64> = text
        .split(|c: char| !c.is_ascii_digit() && c != '-')
        .filter_map(|s| s.parse().ok())
        .collect();
    match numbers.as_slice() {
        [from, to] => Ok(Some((*from, *to))),
        _ => Err(StoreError::Corrupt(format!("partition {partition} has bound {text}")).into()),
    }
}

/// One index of the partition: its name, whether it backs the primary key, and its
/// definition after ` USING `.
struct IndexDef {
    name: String,
    primary: bool,
    unique: bool,
    rest: String,
}

fn indexes(tx: &mut Tx<'_>, partition: &str) -> PgResult<Vec<IndexDef>> {
    let rows = tx.query(
        "SELECT c.relname::text, x.indisprimary, x.indisunique, pg_get_indexdef(x.indexrelid)
         FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
         WHERE x.indrelid = $1::text::regclass ORDER BY c.relname",
        &[&partition],
    )?;
    let mut out = Vec::new();
    for row in rows {
        let definition: String = row.try_get(3)?;
        let rest = definition
            .split_once(" USING ")
            .map(|(_, rest)| rest.to_string())
            .ok_or_else(|| StoreError::Corrupt(format!("index definition {definition}")))?;
        out.push(IndexDef {
            name: row.try_get(0)?,
            primary: row.try_get(1)?,
            unique: row.try_get(2)?,
            rest,
        });
    }
    Ok(out)
}

/// The columns that carry personal values: no statistics are kept on them, so no
/// most-common value of an erased subject sits in `pg_statistic`.
pub(crate) const PERSONAL_COLUMNS: [&str; 10] = [
    "actor_id",
    "actor_email",
    "ip",
    "props",
    "targets",
    "words",
    "actor_value",
    "context_value",
    "payload_value",
    "idempotency_key",
];

/// `ALTER TABLE … ALTER COLUMN … SET STATISTICS 0` for every personal column of `table`.
pub(crate) fn no_statistics_sql(table: &str) -> String {
    let columns: Vec<String> = PERSONAL_COLUMNS
        .iter()
        .map(|c| format!("ALTER COLUMN {c} SET STATISTICS 0"))
        .collect();
    format!("ALTER TABLE {table} {}", columns.join(", "))
}

/// Rewrites one month partition online (see the module documentation); `false` when the
/// exclusive lock for the swap could not be had (the copy is dropped; tried again later).
fn rewrite_partition(conn: &mut Conn, partition: &str) -> PgResult<bool> {
    let copy = format!("{partition}_rewrite");
    conn.batch(&format!("DROP TABLE IF EXISTS {copy}"))?;
    let indexes = {
        let mut tx = conn.begin(IsolationLevel::ReadCommitted, false)?;
        let Some((from, to)) = bound(&mut tx, partition)? else {
            return Ok(true);
        };
        let defs = indexes(&mut tx, partition)?;
        tx.inner().batch_execute(&format!(
            "SET LOCAL statement_timeout = 0;
             CREATE TABLE {copy} (LIKE entries INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMPRESSION);
             {no_stats};
             INSERT INTO {copy} SELECT * FROM {partition};
             ALTER TABLE {copy} ADD CONSTRAINT {copy}_bound
                 CHECK (recorded_at IS NOT NULL AND recorded_at >= {from} AND recorded_at < {to})",
            no_stats = no_statistics_sql(&copy),
        ))?;
        for (i, index) in defs.iter().enumerate() {
            let sql = if index.primary {
                let columns = index
                    .rest
                    .split_once('(')
                    .and_then(|(_, cols)| cols.rsplit_once(')'))
                    .map(|(cols, _)| cols.to_string())
                    .ok_or_else(|| StoreError::Corrupt(format!("primary key of {partition}")))?;
                format!("ALTER TABLE {copy} ADD CONSTRAINT {copy}_i{i} PRIMARY KEY ({columns})")
            } else {
                let unique = if index.unique { "UNIQUE " } else { "" };
                format!(
                    "CREATE {unique}INDEX {copy}_i{i} ON {copy} USING {}",
                    index.rest
                )
            };
            tx.inner().batch_execute(&sql)?;
        }
        tx.commit()?;
        defs
    };
    let marks = copied_marks(conn, &copy)?;
    for try_number in 0..LOCK_TRIES {
        match swap(conn, partition, &copy, &indexes, &marks) {
            Ok(true) => return Ok(true),
            // The partition went away meanwhile (a prune dropped it): nothing to replace.
            Ok(false) => {
                conn.batch(&format!("DROP TABLE IF EXISTS {copy}"))?;
                return Ok(true);
            }
            Err(e) if lock_timed_out(&e) => pause_between_tries(try_number),
            Err(e) => {
                let _ = conn.batch(&format!("DROP TABLE IF EXISTS {copy}"));
                return Err(e);
            }
        }
    }
    conn.batch(&format!("DROP TABLE IF EXISTS {copy}"))?;
    Ok(false)
}

/// The highest seq of each tenant in the copy, as two arrays (tenants, seqs). The copy does
/// not change once made, so this is read before the exclusive lock is asked for, and the
/// catch-up under the lock compares with plain values: comparing with a subquery on the copy
/// (which has no statistics) let the planner scan the old partition and run the subquery for
/// each of its rows, 10 minutes under the lock for a 290k-row month with appends running.
fn copied_marks(conn: &mut Conn, copy: &str) -> PgResult<(Vec<i64>, Vec<i64>)> {
    let mut tx = conn.begin(IsolationLevel::ReadCommitted, true)?;
    let rows = tx.query(
        &format!("SELECT tenant, max(seq) FROM {copy} GROUP BY tenant"),
        &[],
    )?;
    let mut marks = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    for row in &rows {
        marks.0.push(row.try_get::<_, i64>(0)?);
        marks.1.push(row.try_get::<_, i64>(1)?);
    }
    tx.commit()?;
    Ok(marks)
}

/// The short exclusive step: the rows appended during the copy (each tenant's rows above the
/// highest seq copied, `marks`, found through the partition's `(tenant, seq)` key), then the
/// new table in the old one's place under its names. `false` when the partition is gone.
fn swap(
    conn: &mut Conn,
    partition: &str,
    copy: &str,
    indexes: &[IndexDef],
    marks: &(Vec<i64>, Vec<i64>),
) -> PgResult<bool> {
    let mut tx = conn.begin(IsolationLevel::ReadCommitted, false)?;
    tx.inner().batch_execute(&format!(
        "SET LOCAL lock_timeout = '{LOCK_WAIT}'; LOCK TABLE entries IN ACCESS EXCLUSIVE MODE"
    ))?;
    let Some(bound_text) = bound_text(&mut tx, partition)? else {
        return Ok(false);
    };
    // The bound comes from the catalogue (`FOR VALUES FROM (…) TO (…)`), checked by `bound`.
    let mut renames = vec![
        format!("ALTER TABLE {copy} RENAME TO {partition}"),
        format!("ALTER TABLE {partition} DROP CONSTRAINT {copy}_bound"),
    ];
    for (i, index) in indexes.iter().enumerate() {
        renames.push(format!("ALTER INDEX {copy}_i{i} RENAME TO {}", index.name));
    }
    // One index range per tenant, reading only the rows appended: `OFFSET 0` keeps the
    // planner from flattening the lateral into a join over the whole month (measured on a
    // 291k-row month with 40k rows appended: the old subquery form 111 s, the flattened join
    // read all 291k rows, this form 40k), and no sequential scan is allowed for a tenant
    // absent from the copy.
    tx.inner().batch_execute("SET LOCAL enable_seqscan = off")?;
    tx.execute(
        &format!(
            "INSERT INTO {copy}
             SELECT p.* FROM log_heads h
             LEFT JOIN unnest($1::bigint[], $2::bigint[]) AS m(tenant, seq) ON m.tenant = h.tenant
             CROSS JOIN LATERAL (
                 SELECT * FROM {partition} e
                 WHERE e.tenant = h.tenant AND e.seq > coalesce(m.seq, -1) OFFSET 0) p"
        ),
        &[&marks.0, &marks.1],
    )?;
    tx.inner().batch_execute(&format!(
        "ALTER TABLE entries DETACH PARTITION {partition};
         DROP TABLE {partition};
         ALTER TABLE entries ATTACH PARTITION {copy} {bound_text};
         {renames}",
        renames = renames.join(";\n"),
    ))?;
    tx.commit()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_month_partition_names_are_spliced() {
        assert!(is_partition_name("entries_2026_12"));
        for bad in [
            "entries_2026_1",
            "entries",
            "entries_2026_12; DROP",
            "tenants",
            "entries_20x6_12",
        ] {
            assert!(!is_partition_name(bad), "{bad}");
        }
        assert!(no_statistics_sql("entries")
            .starts_with("ALTER TABLE entries ALTER COLUMN actor_id SET STATISTICS 0, "));
    }
}
