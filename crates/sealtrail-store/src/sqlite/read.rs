//! The read side: a pool of read-only connections used from `spawn_blocking`, each call in
//! one read transaction so everything it returns comes from one snapshot.

use super::error::{backend, poisoned};
use super::pk::{log_range, tenant_base};
use super::schema::open_reader;
use super::vault;
use crate::blocking;
use crate::facets::{self, ActorSearch};
use crate::stored_entry::StoredEntry;
use crate::{LeafRecord, Lookup, StoreError};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};
use sealtrail_core::filter::{FacetActor, Facets};
use sealtrail_core::{TenantId, Timestamp};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use uuid::Uuid;

/// Read-only connections shared by all readers. The semaphore bounds concurrent reads to the
/// number of connections, so a connection is always free once a permit is held.
pub(crate) struct ReadPool {
    conns: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    /// Opens `size` (at least one) read-only connections to the database at `path`.
    pub(crate) fn open(path: &Path, size: usize) -> Result<Arc<Self>, StoreError> {
        let size = size.max(1);
        let conns = (0..size)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(ReadPool {
            conns: Mutex::new(conns),
            permits: Arc::new(Semaphore::new(size)),
        }))
    }

    /// Runs `f` on a pooled connection inside one read transaction, off the async threads.
    pub(crate) async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = self.clone();
        blocking::with_permit(&self.permits, "read pool", move || pool.in_transaction(f)).await
    }

    /// Runs `f` on a pooled connection in one read transaction, on this thread; the caller
    /// holds a permit, so a connection is free.
    fn in_transaction<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let lease = Lease {
            conn: self.conns.lock().map_err(poisoned)?.pop(),
            pool: self,
        };
        let conn = lease
            .conn
            .as_ref()
            .ok_or_else(|| StoreError::Backend("no read connection available".into()))?;
        let tx = conn
            .unchecked_transaction()
            .map_err(backend("starting a read transaction"))?;
        let result = f(&tx)?;
        tx.commit().map_err(backend("ending a read transaction"))?;
        Ok(result)
    }

    /// Runs `f` on a pooled connection on the calling thread when one is free at once, else
    /// as [`ReadPool::read`] does. Only for point lookups on small, always-cached tables (an
    /// API key by prefix, on every request): such a lookup takes microseconds, and the trip
    /// to a blocking thread and back cost more than the query (a profile under single-event
    /// ingest put it at 6–7% of the server's CPU).
    pub(crate) async fn read_point<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let Ok(_permit) = self.permits.clone().try_acquire_owned() else {
            return self.read(f).await;
        };
        self.in_transaction(f)
    }
}

/// A borrowed connection, returned to the pool even if the read fails or panics.
struct Lease<'a> {
    conn: Option<Connection>,
    pool: &'a ReadPool,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A poisoned pool only means another read panicked; the connections are still fine.
            let mut conns = self.pool.conns.lock().unwrap_or_else(|e| e.into_inner());
            conns.push(conn);
        }
    }
}

/// Entries recorded at or after `since`: the log size minus the first such seq (one probe of
/// the `(tenant, recorded_at)` index; `recorded_at` never decreases along seq).
pub(crate) fn entries_since(
    conn: &Connection,
    tenant: TenantId,
    since: Timestamp,
) -> Result<u64, StoreError> {
    let Some(head) = log_range(conn, tenant)? else {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)));
    };
    let first: Option<i64> = conn
        .prepare_cached(
            "SELECT seq FROM entries WHERE tenant = ?1 AND recorded_at >= ?2
             ORDER BY recorded_at, pk LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(params![tenant.0, since.millis()], |r| r.get(0))
                .optional()
        })
        .map_err(backend("counting recent entries"))?;
    Ok(first.map_or(0, |seq| head.size.saturating_sub(seq.max(0) as u64)))
}

/// One entry by id, only if it belongs to `tenant`; a pruned id answers `Pruned`.
pub(crate) fn get(conn: &Connection, tenant: TenantId, id: Uuid) -> Result<Lookup, StoreError> {
    let found = vault::load(
        conn,
        "e.id = ?1 AND e.tenant = ?2",
        vec![
            Value::Blob(id.as_bytes().to_vec()),
            Value::Integer(tenant.0),
        ],
        false,
    )?;
    if let Some(stored) = found.first() {
        return Ok(Lookup::Found(Box::new(stored.open()?)));
    }
    let pruned: Option<i64> = conn
        .prepare_cached("SELECT seq FROM pruned_ids WHERE tenant = ?1 AND id = ?2")
        .and_then(|mut s| {
            s.query_row((tenant.0, id.as_bytes().as_slice()), |r| r.get(0))
                .optional()
        })
        .map_err(backend("reading pruned ids"))?;
    Ok(match pruned {
        Some(seq) => Lookup::Pruned {
            seq: seq.max(0) as u64,
        },
        None => Lookup::Missing,
    })
}

/// Up to `limit` kept leaves from `from_seq` on, ascending, with their stored bytes.
pub(crate) fn leaves(
    conn: &Connection,
    tenant: TenantId,
    from_seq: u64,
    limit: usize,
) -> Result<Vec<LeafRecord>, StoreError> {
    let (Some(head), Some(base)) = (log_range(conn, tenant)?, tenant_base(tenant)) else {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)));
    };
    let lo = from_seq.max(head.first_seq);
    let hi = head.size.min(lo.saturating_add(limit as u64));
    if lo >= hi {
        return Ok(Vec::new());
    }
    vault::load_range(conn, base | lo as i64, base | hi as i64)?
        .into_iter()
        .map(StoredEntry::into_leaf)
        .collect()
}

/// The next seq of the tenant's log (0 for a tenant that has none).
pub(crate) fn log_size(conn: &Connection, tenant: TenantId) -> Result<u64, StoreError> {
    Ok(log_range(conn, tenant)?.map_or(0, |h| h.size))
}

/// Every tenant's log size (its next seq).
pub(crate) fn log_sizes(conn: &Connection) -> Result<Vec<(TenantId, u64)>, StoreError> {
    conn.prepare_cached("SELECT tenant, next_seq FROM log_heads ORDER BY tenant")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((TenantId(r.get(0)?), r.get::<_, i64>(1)?.max(0) as u64))
            })?
            .collect()
        })
        .map_err(backend("reading the log sizes"))
}

/// The tenant's facet counts, most frequent first.
pub(crate) fn facets(conn: &Connection, tenant: TenantId) -> Result<Facets, StoreError> {
    let mut facets = Facets::default();
    let mut values = conn
        .prepare_cached(&format!(
            "SELECT kind, value, count FROM facet_values
             WHERE tenant = ?1 AND {} AND count > 0
             ORDER BY kind, count DESC, value",
            facets::listed_kinds_condition()
        ))
        .map_err(backend("reading facets"))?;
    let rows = values
        .query_map([tenant.0], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(backend("reading facets"))?;
    for row in rows {
        let (kind, value, count) = row.map_err(backend("reading facets"))?;
        facets::add_stored_value(&mut facets, &kind, value, count);
    }
    facets.actors_total = conn
        .prepare_cached("SELECT count(*) FROM facet_actors WHERE tenant = ?1 AND count > 0")
        .and_then(|mut s| s.query_row([tenant.0], |r| r.get::<_, i64>(0)))
        .map_err(backend("reading facets"))?
        .max(0) as u64;
    let mut actors = conn
        .prepare_cached(
            "SELECT type, id, name, email, count FROM facet_actors
             WHERE tenant = ?1 AND count > 0
             ORDER BY count DESC, id, email, name, type
             LIMIT ?2",
        )
        .map_err(backend("reading facets"))?;
    let rows = actors
        .query_map(params![tenant.0, Facets::ACTORS_LISTED as i64], |r| {
            Ok(FacetActor {
                kind: r.get(0)?,
                id: r.get(1)?,
                name: r.get(2)?,
                email: r.get(3)?,
                count: r.get::<_, i64>(4)? as u64,
            })
        })
        .map_err(backend("reading facets"))?;
    for row in rows {
        facets.actors.push(row.map_err(backend("reading facets"))?);
    }
    Ok(facets)
}

/// Actors whose id, name or e-mail holds the search's text ([`ActorSearch`]): the tenant's
/// actor rows are read in key order and only the matching ones copied out.
pub(crate) fn find_actors(
    conn: &Connection,
    tenant: TenantId,
    mut search: ActorSearch,
) -> Result<Vec<FacetActor>, StoreError> {
    let read = backend("searching actors");
    let mut statement = conn
        .prepare_cached(
            "SELECT type, id, name, email, count FROM facet_actors
             WHERE tenant = ?1 AND count > 0",
        )
        .map_err(&read)?;
    let mut rows = statement.query([tenant.0]).map_err(&read)?;
    while let Some(row) = rows.next().map_err(&read)? {
        let text = |i: usize| -> rusqlite::Result<Option<&str>> {
            match row.get_ref(i)? {
                ValueRef::Text(t) => Ok(std::str::from_utf8(t).ok()),
                _ => Ok(None),
            }
        };
        if search.wants(
            text(1).map_err(&read)?,
            text(2).map_err(&read)?,
            text(3).map_err(&read)?,
        ) {
            search.add(FacetActor {
                kind: row.get(0).map_err(&read)?,
                id: row.get(1).map_err(&read)?,
                name: row.get(2).map_err(&read)?,
                email: row.get(3).map_err(&read)?,
                count: row.get::<_, i64>(4).map_err(&read)?.max(0) as u64,
            });
        }
    }
    Ok(search.finish())
}
