//! Derived indexes — every target row, facet count and search document — built after the
//! acknowledging commit, in larger batches sorted by pk (so by tenant).
//!
//! Why: one single event of a tenant dirtied a page in each tenant-clustered B-tree it touched,
//! so a group of single events from many tenants wrote several pages per event. The append
//! transaction now writes the entry row, its tree nodes and one row of `index_queue` (a tiny
//! table, so its pages are shared by the whole group); this module indexes the queued entries
//! a few hundred milliseconds later, where a tenant's pages are touched once per batch and its
//! facet counts are summed before they are written.
//!
//! Invariants:
//! - Exactly once: a batch deletes the queue rows it indexes in its own transaction, so a crash
//!   before its commit leaves the queue (and the entries) to be indexed after the restart, and
//!   a crash after it leaves nothing queued. Entries queued by another process on the same file
//!   are indexed by whichever process commits first; the other finds their queue rows gone and
//!   skips them.
//! - Nothing stale is read: the store runs a batch before any read that uses a derived index
//!   while entries are pending (`SqliteStore::settle`), and before every other job of the
//!   writer (prune and erasure see a fully indexed log).

use super::error::backend;
use super::facets;
use super::vault;
use super::WriteError;
use crate::facets::FacetDeltas;
use crate::index_terms::index_document;
use crate::StoreError;
use rusqlite::types::Value;
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use sealtrail_core::{Entry, TenantId};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Pending entries that run a batch at once, before they are due (a batch indexes the whole
/// queue, which the writer's throughput over [`MAX_LAG`] bounds).
pub(crate) const BATCH: usize = 4_096;

/// How long after its commit an entry's derived indexes are due when no read asks for them
/// sooner (a read that needs them has the writer catch up first). They are written then,
/// except while appends wait behind a backlog of more than [`SLICE`] entries: that drains one
/// slice per group, so under sustained load an entry can wait longer, at most until
/// [`BATCH`] entries are held and one batch takes them all. `sealtrail_index_lag_seconds`
/// reports the actual wait; it is also how long a reader in another process on the same file
/// may miss the entry.
pub(crate) const MAX_LAG: Duration = Duration::from_millis(200);

/// Most held entries one batch indexes while appends are waiting behind it. A batch holds
/// the writer, and under single events from many tenants 1,000 entries took about 100 ms,
/// which was the whole p99 of single-event ingest (BENCHMARKS.md, part 3). A larger backlog
/// then drains one slice after each group, oldest first. With nothing waiting (one client
/// sending batches, an idle moment) one batch takes everything, which costs fewer commits; so
/// does a backlog past [`BATCH`], which slices would not drain while groups bring more than a
/// slice each (the backlog, held in memory, and the lag would grow without bound).
pub(crate) const SLICE: usize = 256;

/// After a failed (non-fatal) batch, how long the writer waits before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Entries committed but not yet indexed, kept by the writer so a batch does not read them back.
#[derive(Default)]
pub(crate) struct Pending {
    /// `(pk, tenant, entry)` in commit order.
    entries: Vec<(i64, TenantId, Entry)>,
    /// Each committed group's entry count and commit time, oldest first: the front is the
    /// oldest held entry's, also after a slice has taken some.
    groups: VecDeque<(usize, Instant)>,
    /// After a failed batch, when the next may run (instead of when the oldest entry is due).
    retry_at: Option<Instant>,
    /// Set while entries may be queued that this process does not hold in memory (a batch
    /// failed after taking them): the next batch reads them back from their rows.
    recover: bool,
}

impl Pending {
    /// Adds the entries of a committed group.
    pub(crate) fn extend(&mut self, committed: Vec<(i64, TenantId, Entry)>) {
        if committed.is_empty() {
            return;
        }
        self.groups.push_back((committed.len(), Instant::now()));
        self.entries.extend(committed);
    }

    /// Forgets every held entry once they are all indexed (or taken by a batch).
    fn clear_times(&mut self) {
        self.groups.clear();
        self.retry_at = None;
    }

    /// Accounts for the oldest `taken` entries leaving the queue.
    fn took_oldest(&mut self, mut taken: usize) {
        while taken > 0 {
            let Some((count, _)) = self.groups.front_mut() else {
                break;
            };
            if *count > taken {
                *count -= taken;
                break;
            }
            taken -= *count;
            self.groups.pop_front();
        }
    }

    /// When the oldest held entry was committed.
    fn since(&self) -> Option<Instant> {
        self.groups.front().map(|(_, at)| *at)
    }

    /// Entries waiting (those of other processes not counted).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when a batch would have something to do.
    pub(crate) fn has_work(&self) -> bool {
        !self.entries.is_empty() || self.recover
    }

    /// When the next batch is due if nothing else triggers it.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.has_work()
            .then(|| self.retry_at.or(self.since().map(|s| s + MAX_LAG)))
            .flatten()
    }

    /// True when a batch should run now: the batch is full or the oldest entry is due.
    pub(crate) fn ready(&self, now: Instant) -> bool {
        self.entries.len() >= BATCH || self.due().is_some_and(|due| due <= now)
    }

    /// Seconds the oldest pending entry has waited.
    pub(crate) fn lag(&self, now: Instant) -> f64 {
        self.since()
            .map_or(0.0, |s| now.saturating_duration_since(s).as_secs_f64())
    }

    /// Postpones the next attempt after a failed batch.
    pub(crate) fn retry_later(&mut self) {
        self.retry_at = Some(Instant::now() + RETRY_AFTER);
    }
}

/// Indexes queued entries in one transaction and returns how many. With `whole` (a reader or
/// a job is waiting for all of it, or no append is waiting behind it), or when `pending`
/// holds at most [`SLICE`] or at least [`BATCH`] entries, that is every queued entry: the
/// ones held, and any other process (or a crashed run) left queued. Otherwise it is the
/// oldest [`SLICE`] held ones ([`index_slice`]).
pub(crate) fn index_queued(
    conn: &mut Connection,
    pending: &mut Pending,
    whole: bool,
) -> Result<u64, WriteError> {
    if !whole && !pending.recover && (SLICE + 1..BATCH).contains(&pending.entries.len()) {
        return index_slice(conn, pending);
    }
    // Nothing held and nothing queued (every open, when the last run closed cleanly): no
    // write lock taken, no transaction.
    if pending.entries.is_empty() {
        let queued: bool =
            conn.query_row("SELECT EXISTS (SELECT 1 FROM index_queue)", [], |r| {
                r.get(0)
            })?;
        if !queued {
            pending.clear_times();
            pending.recover = false;
            return Ok(0);
        }
    }
    // Until this batch commits, what it took from `pending` is only in the queue table: a
    // failed batch is retried from there.
    pending.recover = true;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let queued: Vec<i64> = tx
        .prepare_cached("SELECT pk FROM index_queue ORDER BY pk")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut held: HashMap<i64, (TenantId, Entry)> = pending
        .entries
        .drain(..)
        .map(|(pk, tenant, entry)| (pk, (tenant, entry)))
        .collect();
    let mut batch: Vec<(i64, TenantId, Entry)> = Vec::with_capacity(queued.len());
    let mut unheld = Vec::new();
    for pk in queued {
        match held.remove(&pk) {
            Some((tenant, entry)) => batch.push((pk, tenant, entry)),
            None => unheld.push(pk),
        }
    }
    // Entries held here but no longer queued were indexed by another process: `held` drops them.
    for chunk in unheld.chunks(500) {
        batch.extend(read_back(&tx, chunk)?);
    }
    tx.execute("DELETE FROM index_queue", [])?;
    write_indexes(&tx, &mut batch)?;
    tx.commit()?;
    pending.clear_times();
    pending.recover = false;
    Ok(batch.len() as u64)
}

/// Indexes the oldest [`SLICE`] entries `pending` holds, deleting exactly their queue rows; one
/// whose row is already gone was indexed by another process and is skipped. The rest stay
/// pending, due from the oldest one's commit, so the writer takes the next slice after its
/// next group once that is due.
fn index_slice(conn: &mut Connection, pending: &mut Pending) -> Result<u64, WriteError> {
    // As in the full batch: until this commits, what it took is only in the queue table.
    pending.recover = true;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut batch = Vec::with_capacity(SLICE);
    {
        let mut dequeue = tx.prepare_cached("DELETE FROM index_queue WHERE pk = ?1")?;
        for (pk, tenant, entry) in pending.entries.drain(..SLICE) {
            if dequeue.execute([pk])? == 1 {
                batch.push((pk, tenant, entry));
            }
        }
    }
    write_indexes(&tx, &mut batch)?;
    tx.commit()?;
    pending.recover = false;
    pending.took_oldest(SLICE);
    Ok(batch.len() as u64)
}

/// Writes the target rows, facet counts and search documents of `batch`, sorted by pk so a
/// tenant's pages are touched once.
fn write_indexes(tx: &Connection, batch: &mut [(i64, TenantId, Entry)]) -> Result<(), WriteError> {
    batch.sort_unstable_by_key(|(pk, _, _)| *pk);
    let mut deltas = FacetDeltas::default();
    for (pk, tenant, entry) in batch.iter() {
        insert_targets(tx, *pk, entry)?;
        deltas.add(*tenant, entry, 1);
    }
    facets::flush(tx, &deltas)?;
    // Last: FTS5 flushes its pending index at every statement savepoint once it has joined
    // the transaction, so interleaving its inserts with the others would write one tiny
    // segment per entry.
    for (pk, tenant, entry) in batch.iter() {
        insert_document(tx, *pk, &index_document(*tenant, entry))?;
    }
    Ok(())
}

/// Queued entries this process does not hold, read back from their rows. An entry that no
/// longer opens (a row edited behind the store's back) is left unindexed and reported;
/// `verify` names it.
fn read_back(tx: &Connection, pks: &[i64]) -> Result<Vec<(i64, TenantId, Entry)>, WriteError> {
    let marks = vec!["?"; pks.len()].join(", ");
    let stored = vault::load(
        tx,
        &format!("e.pk IN ({marks})"),
        pks.iter().map(|pk| Value::Integer(*pk)).collect(),
        false,
    )?;
    let mut out = Vec::with_capacity(stored.len());
    for row in stored {
        let tenant = TenantId(row.pk >> super::pk::SEQ_BITS);
        match row.open() {
            Ok(entry) => out.push((row.pk, tenant, entry)),
            Err(error) => {
                tracing::error!(pk = row.pk, %error, "a queued entry does not open; it is left out of search, target filters and facets")
            }
        }
    }
    Ok(out)
}

/// Writes an entry's target rows (erasure deletes and rewrites them from scrubbed values).
pub(crate) fn insert_targets(tx: &Connection, pk: i64, entry: &Entry) -> rusqlite::Result<()> {
    if !entry.targets.is_empty() {
        let mut insert = tx.prepare_cached(
            "INSERT INTO entry_targets (pk, ord, type, id, name) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (ord, target) in entry.targets.iter().enumerate() {
            insert.execute(params![pk, ord as i64, target.kind, target.id, target.name])?;
        }
    }
    Ok(())
}

/// Indexes an entry's search words (from [`index_document`]) under its pk.
pub(crate) fn insert_document(tx: &Connection, pk: i64, words: &str) -> rusqlite::Result<()> {
    if !words.is_empty() {
        tx.prepare_cached("INSERT INTO entries_fts (rowid, words) VALUES (?1, ?2)")?
            .execute(params![pk, words])?;
    }
    Ok(())
}

/// Version 14: every indexed entry's search document again, now with the inner suffixes that
/// find text inside words ([`crate::index_terms`]). Entries still queued are indexed when the
/// queue reaches them, already in the new form. One pass over the log, once, at upgrade.
pub(crate) fn migrate_v14(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let write = backend("re-indexing search words");
    tx.execute_batch("INSERT INTO entries_fts (entries_fts) VALUES ('delete-all')")
        .map_err(&write)?;
    let mut after = i64::MIN;
    loop {
        let stored = vault::load_first(
            tx,
            "e.pk > ?1 AND e.pk NOT IN (SELECT pk FROM index_queue)",
            vec![Value::Integer(after)],
            false,
            Some(1000),
        )?;
        let Some(last) = stored.last() else {
            return Ok(());
        };
        after = last.pk;
        for row in stored {
            let tenant = TenantId(row.pk >> super::pk::SEQ_BITS);
            match row.open() {
                Ok(entry) => {
                    insert_document(tx, row.pk, &index_document(tenant, &entry)).map_err(&write)?
                }
                // As when it was first indexed: left out, and `verify` names it.
                Err(error) => {
                    tracing::error!(pk = row.pk, %error, "an entry does not open; it is left out of search")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_core::Timestamp;
    use sealtrail_testkit::contract::fixtures::event;

    fn committed(n: usize) -> Vec<(i64, TenantId, Entry)> {
        (0..n)
            .map(|i| {
                let new = event("a.created", "u");
                let entry = Entry::from_new(new, uuid::Uuid::nil(), i as u64, Timestamp(0));
                (i as i64, TenantId(1), entry)
            })
            .collect()
    }

    #[test]
    fn after_a_slice_the_lag_is_the_oldest_held_entrys() {
        let mut pending = Pending::default();
        pending.extend(committed(100));
        std::thread::sleep(Duration::from_millis(60));
        pending.extend(committed(300));
        let now = Instant::now();
        assert!(pending.lag(now) >= 0.06);
        // A slice took the first group and half of the second: the second group is the oldest.
        pending.entries.drain(..250);
        pending.took_oldest(250);
        assert!(pending.lag(now) < 0.06, "lag {}", pending.lag(now));
        assert_eq!(pending.groups, VecDeque::from([(150, pending.groups[0].1)]));
        pending.entries.drain(..);
        pending.took_oldest(150);
        assert_eq!((pending.since(), pending.groups.len()), (None, 0));
    }
}
