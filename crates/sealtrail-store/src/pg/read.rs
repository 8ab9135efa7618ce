//! Single entries, leaves, log heads and facets, each read inside the caller's snapshot.

use super::pool::{column, PgResult, Statements, Tx};
use crate::facets::{self, ActorSearch};
use crate::stored_entry::{slots_from_columns, StoredEntry};
use crate::{LeafRecord, Lookup, StoreError};
use postgres::types::ToSql;
use postgres::Row;
use sealtrail_core::envelope::Slot;
use sealtrail_core::filter::{FacetActor, Facets};
use sealtrail_core::{TenantId, Timestamp};
use uuid::Uuid;

/// A tenant's log head: how far the log reaches and where pruning has cut it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogHead {
    /// Number of entries ever appended (the next seq, the tree size).
    pub size: u64,
    /// The oldest seq not pruned.
    pub first_seq: u64,
}

/// The tenant's log head, `None` for a tenant that does not exist.
pub(crate) fn log_head(tx: &mut impl Statements, tenant: TenantId) -> PgResult<Option<LogHead>> {
    tx.query_opt(
        "SELECT next_seq, first_seq FROM log_heads WHERE tenant = $1",
        &[&tenant.0],
    )?
    .map(|r| -> PgResult<LogHead> {
        Ok(LogHead {
            size: r.try_get::<_, i64>(0)?.max(0) as u64,
            first_seq: r.try_get::<_, i64>(1)?.max(0) as u64,
        })
    })
    .transpose()
}

/// The log head of an existing tenant, `NotFound` otherwise.
pub(crate) fn existing_head(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<LogHead> {
    log_head(tx, tenant)?.ok_or_else(|| StoreError::NotFound(format!("tenant {}", tenant.0)).into())
}

/// The next seq of the tenant's log (0 for a tenant that has none).
pub(crate) fn log_size(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<u64> {
    Ok(log_head(tx, tenant)?.map_or(0, |h| h.size))
}

/// Every tenant's log size (its next seq).
pub(crate) fn log_sizes(tx: &mut Tx<'_>) -> PgResult<Vec<(TenantId, u64)>> {
    let rows = tx.query(
        "SELECT tenant, next_seq FROM log_heads ORDER BY tenant",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            Ok((
                TenantId(row.try_get(0)?),
                row.try_get::<_, i64>(1)?.max(0) as u64,
            ))
        })
        .collect()
}

/// Entries recorded at or after `since`: the log size minus the first such seq (one probe of
/// `entries_by_time`; `recorded_at` never decreases along seq).
pub(crate) fn entries_since(tx: &mut Tx<'_>, tenant: TenantId, since: Timestamp) -> PgResult<u64> {
    let head = existing_head(tx, tenant)?;
    let first = tx.query_opt(
        "SELECT seq FROM entries WHERE tenant = $1 AND recorded_at >= $2
         ORDER BY recorded_at, seq LIMIT 1",
        &[&tenant.0, &since.millis()],
    )?;
    Ok(match first {
        Some(row) => head
            .size
            .saturating_sub(row.try_get::<_, i64>(0)?.max(0) as u64),
        None => 0,
    })
}

/// The columns [`stored_from_row`] decodes, for `entries AS e`.
pub(crate) const STORED_COLUMNS: &str = "e.seq, e.id, e.envelope, e.idempotency_key, \
     e.actor_salt, e.actor_value, e.context_salt, e.context_value, e.payload_salt, e.payload_value";

/// The vault values of an entry row selected with [`STORED_COLUMNS`] ([`slots_from_columns`]).
pub(crate) fn row_slots(row: &Row) -> Result<Vec<Result<Slot, StoreError>>, StoreError> {
    Ok(slots_from_columns([
        (column::<Option<&[u8]>>(row, 4)?, column(row, 5)?),
        (column::<Option<&[u8]>>(row, 6)?, column(row, 7)?),
        (column::<Option<&[u8]>>(row, 8)?, column(row, 9)?),
    ]))
}

/// An entry row (selected with [`STORED_COLUMNS`]) as stored; a damaged vault value fails it.
pub(crate) fn stored_from_row(row: &Row) -> Result<StoredEntry, StoreError> {
    let seq: i64 = column(row, 0)?;
    let id: Uuid = column(row, 1)?;
    Ok(StoredEntry {
        pk: seq,
        seq,
        id: id.as_bytes().to_vec(),
        envelope: column(row, 2)?,
        idempotency_key: column(row, 3)?,
        slots: row_slots(row)?.into_iter().collect::<Result<_, _>>()?,
    })
}

/// Entries matching `condition` (SQL over `entries AS e` with parameters `$1…`), ordered by
/// seq, descending when asked.
pub(crate) fn load(
    tx: &mut Tx<'_>,
    condition: &str,
    params: &[&(dyn ToSql + Sync)],
    descending: bool,
) -> PgResult<Vec<StoredEntry>> {
    let order = if descending { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {STORED_COLUMNS} FROM entries AS e WHERE {condition} ORDER BY e.seq {order}"
    );
    let rows = tx.query(&sql, params)?;
    Ok(rows
        .iter()
        .map(stored_from_row)
        .collect::<Result<Vec<_>, _>>()?)
}

/// The tenant's entries with `lo <= seq < hi`, ascending.
pub(crate) fn load_range(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    lo: u64,
    hi: u64,
) -> PgResult<Vec<StoredEntry>> {
    let (lo, hi) = (bound(lo), bound(hi));
    load(
        tx,
        "e.tenant = $1 AND e.seq >= $2 AND e.seq < $3",
        &[&tenant.0, &lo, &hi],
        false,
    )
}

/// A seq as a signed bound (seqs never come near `i64::MAX`, so clamping changes nothing).
pub(crate) fn bound(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// One entry by id, only if it belongs to `tenant`; a pruned id answers `Pruned`.
pub(crate) fn get(tx: &mut Tx<'_>, tenant: TenantId, id: Uuid) -> PgResult<Lookup> {
    let found = load(tx, "e.tenant = $1 AND e.id = $2", &[&tenant.0, &id], false)?;
    if let Some(stored) = found.first() {
        return Ok(Lookup::Found(Box::new(stored.open()?)));
    }
    let pruned = tx.query_opt(
        "SELECT seq FROM pruned_ids WHERE tenant = $1 AND id = $2",
        &[&tenant.0, &id],
    )?;
    Ok(match pruned {
        Some(row) => Lookup::Pruned {
            seq: row.try_get::<_, i64>(0)?.max(0) as u64,
        },
        None => Lookup::Missing,
    })
}

/// Up to `limit` kept leaves from `from_seq` on, ascending, with their stored bytes.
pub(crate) fn leaves(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    from_seq: u64,
    limit: usize,
) -> PgResult<Vec<LeafRecord>> {
    let head = existing_head(tx, tenant)?;
    let lo = from_seq.max(head.first_seq);
    let hi = head.size.min(lo.saturating_add(limit as u64));
    if lo >= hi {
        return Ok(Vec::new());
    }
    let rows = load_range(tx, tenant, lo, hi)?;
    Ok(rows
        .into_iter()
        .map(StoredEntry::into_leaf)
        .collect::<Result<Vec<_>, StoreError>>()?)
}

/// Actors whose id, name or e-mail holds the search's text ([`ActorSearch`]), matched here
/// rather than with the database's `lower()`, whose idea of case depends on the cluster's
/// locale.
pub(crate) fn find_actors(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    mut search: ActorSearch,
) -> PgResult<Vec<FacetActor>> {
    let rows = tx.query(
        "SELECT type, id, name, email, count FROM facet_actors WHERE tenant = $1 AND count > 0",
        &[&tenant.0],
    )?;
    for row in rows {
        let (id, name, email): (Option<&str>, Option<&str>, Option<&str>) =
            (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        if search.wants(id, name, email) {
            search.add(FacetActor {
                kind: row.try_get(0)?,
                id: id.map(str::to_string),
                name: name.map(str::to_string),
                email: email.map(str::to_string),
                count: row.try_get::<_, i64>(4)?.max(0) as u64,
            });
        }
    }
    Ok(search.finish())
}

/// The tenant's facet counts, most frequent first.
pub(crate) fn facets(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<Facets> {
    let mut facets = Facets::default();
    let rows = tx.query(
        &format!(
            "SELECT kind, value, count FROM facet_values
             WHERE tenant = $1 AND {} AND count > 0
             ORDER BY kind, count DESC, value COLLATE \"C\"",
            facets::listed_kinds_condition()
        ),
        &[&tenant.0],
    )?;
    for row in rows {
        let kind: String = row.try_get(0)?;
        facets::add_stored_value(&mut facets, &kind, row.try_get(1)?, row.try_get(2)?);
    }
    let total: i64 = tx
        .query_one(
            "SELECT count(*) FROM facet_actors WHERE tenant = $1 AND count > 0",
            &[&tenant.0],
        )?
        .try_get(0)?;
    facets.actors_total = total.max(0) as u64;
    let rows = tx.query(
        "SELECT type, id, name, email, count FROM facet_actors
         WHERE tenant = $1 AND count > 0
         ORDER BY count DESC, id COLLATE \"C\" NULLS FIRST, email COLLATE \"C\" NULLS FIRST,
                  name COLLATE \"C\" NULLS FIRST,
                  type COLLATE \"C\"
         LIMIT $2",
        &[&tenant.0, &(Facets::ACTORS_LISTED as i64)],
    )?;
    for row in rows {
        facets.actors.push(FacetActor {
            kind: row.try_get(0)?,
            id: row.try_get(1)?,
            name: row.try_get(2)?,
            email: row.try_get(3)?,
            count: row.try_get::<_, i64>(4)?.max(0) as u64,
        });
    }
    Ok(facets)
}
