//! Verification of a tenant's log on SQLite: the four row streams [`crate::verification`]
//! checks (leaf hashes, entries with their vault and filter columns and target rows in seq
//! order, the erasure ledger, inner tree nodes), read in one snapshot without loading the log.

use super::admin::tenant_origin;
use super::error::backend;
use super::pk::log_range;
use super::pk::{tenant_base, SEQ_LIMIT};
use super::vault::{bytes, integer, row_slots, VAULT_COLUMNS};
use crate::verification::{
    EntryRow, IndexCopies, ScalarCopies, TargetCopy, Verifier, SCALAR_COLUMNS,
};
use crate::{LogVerification, StoreError};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};
use sealtrail_core::TenantId;
use std::collections::HashSet;
use std::iter::Peekable;

/// Verifies `tenant`'s log; `progress` receives the number of entries checked so far.
pub(crate) fn verify_log(
    conn: &Connection,
    tenant: TenantId,
    progress: &dyn Fn(u64),
) -> Result<LogVerification, StoreError> {
    let (Some(head), Some(base)) = (log_range(conn, tenant)?, tenant_base(tenant)) else {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)));
    };
    let origin = tenant_origin(conn, tenant)?;
    let mut verifier = Verifier::new(tenant, head.size, head.first_seq, &origin, progress)?;
    leaves(conn, tenant, &mut verifier)?;
    entries(conn, base, &mut verifier)?;
    super::ledger::stream(conn, tenant, &mut verifier)?;
    nodes(conn, tenant, &mut verifier)?;
    verifier.finish()
}

/// Streams the stored level-0 hashes.
fn leaves(
    conn: &Connection,
    tenant: TenantId,
    verifier: &mut Verifier<'_>,
) -> Result<(), StoreError> {
    let read = backend("reading leaf hashes");
    let mut stmt = conn
        .prepare("SELECT idx, hash FROM tree_nodes WHERE tenant = ?1 AND level = 0 ORDER BY idx")
        .map_err(&read)?;
    let mut rows = stmt.query([tenant.0]).map_err(&read)?;
    while let Some(row) = rows.next().map_err(&read)? {
        let idx = row.get::<_, i64>(0).map_err(&read)?.max(0) as u64;
        let hash = bytes(row, 1).map_err(&read)?.unwrap_or_default();
        verifier.leaf(idx, &hash);
    }
    Ok(())
}

/// A non-NULL column written as text onto `out`, the way the checked copies are compared.
fn write_text(out: &mut String, value: ValueRef<'_>) {
    use std::fmt::Write as _;
    match value {
        ValueRef::Null => {}
        ValueRef::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        ValueRef::Real(f) => {
            let _ = write!(out, "{f}");
        }
        ValueRef::Text(b) | ValueRef::Blob(b) => match std::str::from_utf8(b) {
            Ok(text) => out.push_str(text),
            // Not what the store writes; shown lossily, it then differs from the entry.
            Err(_) => out.push_str(&String::from_utf8_lossy(b)),
        },
    }
}

/// Any column as text (`None` for NULL).
fn text(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<String>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => None,
        value => {
            let mut out = String::new();
            write_text(&mut out, value);
            Some(out)
        }
    })
}

/// Appends any column onto `copies`, without a string of its own.
fn push_scalar(copies: &mut ScalarCopies, row: &Row<'_>, idx: usize) -> rusqlite::Result<()> {
    match row.get_ref(idx)? {
        ValueRef::Null => copies.push_null(),
        ValueRef::Integer(i) => copies.push_integer(i),
        ValueRef::Text(b) | ValueRef::Blob(b) => copies.push_bytes(b),
        // Not what the store writes; shown as text, it then differs from the entry.
        ValueRef::Real(f) => copies.push(Some(&f.to_string())),
    }
    Ok(())
}

/// The pks whose derived indexes (target rows, search words, facet counts) are still queued:
/// their target rows are written later, from the committed entry.
fn queued(conn: &Connection, lo: i64, hi: i64) -> Result<HashSet<i64>, StoreError> {
    let read = backend("reading the index queue");
    let mut stmt = conn
        .prepare("SELECT pk FROM index_queue WHERE pk >= ?1 AND pk <= ?2")
        .map_err(&read)?;
    let pks = stmt
        .query_map((lo, hi), |r| r.get::<_, i64>(0))
        .map_err(&read)?
        .collect::<rusqlite::Result<HashSet<i64>>>()
        .map_err(&read)?;
    Ok(pks)
}

/// The target rows of entry `pk` from a stream ordered by pk (rows of earlier pks, whose entry
/// is gone, are passed over: the entry stream reports the missing entry).
fn targets_of<I>(pk: i64, rows: &mut Peekable<I>) -> rusqlite::Result<Vec<TargetCopy>>
where
    I: Iterator<Item = rusqlite::Result<(i64, TargetCopy)>>,
{
    let mut targets = Vec::new();
    while let Some(next) = rows.peek() {
        match next {
            Ok((at, _)) if *at > pk => break,
            Err(_) => {
                if let Some(Err(e)) = rows.next() {
                    return Err(e);
                }
            }
            Ok(_) => {
                if let Some(Ok((at, target))) = rows.next() {
                    if at == pk {
                        targets.push(target);
                    }
                }
            }
        }
    }
    Ok(targets)
}

/// Streams every entry row of the tenant with its vault and filter columns and its target
/// rows, in seq order.
fn entries(conn: &Connection, base: i64, verifier: &mut Verifier<'_>) -> Result<(), StoreError> {
    let read = backend("reading entries");
    let (lo, hi) = (base, base | (SEQ_LIMIT - 1));
    let queued = queued(conn, lo, hi)?;
    let scalars = SCALAR_COLUMNS.map(|c| format!("e.{c}")).join(", ");
    let mut entries = conn
        .prepare(&format!(
            "SELECT e.pk, e.seq, e.id, e.envelope, {VAULT_COLUMNS}, e.props, {scalars}
             FROM entries AS e
             WHERE e.pk >= ?1 AND e.pk <= ?2 ORDER BY e.pk"
        ))
        .map_err(&read)?;
    let mut targets = conn
        .prepare(
            "SELECT pk, type, id, name FROM entry_targets
             WHERE pk >= ?1 AND pk <= ?2 ORDER BY pk, ord",
        )
        .map_err(&read)?;
    let mut target_rows = targets
        .query_map((lo, hi), |r| {
            Ok((r.get::<_, i64>(0)?, (text(r, 1)?, text(r, 2)?, text(r, 3)?)))
        })
        .map_err(&read)?
        .peekable();
    let mut rows = entries.query((lo, hi)).map_err(&read)?;
    let first_scalar = 11;
    while let Some(row) = rows.next().map_err(&read)? {
        let pk: i64 = row.get(0).map_err(&read)?;
        let row_targets = targets_of(pk, &mut target_rows).map_err(&read)?;
        let mut scalars = ScalarCopies::default();
        for i in first_scalar..first_scalar + SCALAR_COLUMNS.len() {
            push_scalar(&mut scalars, row, i).map_err(&read)?;
        }
        verifier.entry(EntryRow {
            seq: (pk - base) as u64,
            seq_column: integer(row, 1).map_err(&read)?,
            id: match row.get_ref(2).map_err(&read)? {
                ValueRef::Blob(b) | ValueRef::Text(b) => <[u8; 16]>::try_from(b).ok(),
                _ => None,
            },
            envelope: bytes(row, 3).map_err(&read)?.unwrap_or_default(),
            slots: row_slots(row, 4).map_err(&read)?,
            copies: IndexCopies {
                scalars,
                props: text(row, 10).map_err(&read)?,
                // A queued entry's target rows are written later, from the committed entry:
                // until then it has none, and any it has were not written by the store.
                targets: Some(row_targets).filter(|rows| !queued.contains(&pk) || !rows.is_empty()),
                // The search index is contentless: its words cannot be read back.
                words: None,
            },
        });
    }
    Ok(())
}

/// Streams the stored inner nodes in (level, idx) order.
fn nodes(
    conn: &Connection,
    tenant: TenantId,
    verifier: &mut Verifier<'_>,
) -> Result<(), StoreError> {
    let read = backend("reading tree nodes");
    let mut stmt = conn
        .prepare("SELECT level, idx, hash FROM tree_nodes WHERE tenant = ?1 AND level > 0 ORDER BY level, idx")
        .map_err(&read)?;
    let mut rows = stmt.query([tenant.0]).map_err(&read)?;
    while let Some(row) = rows.next().map_err(&read)? {
        let hash = bytes(row, 2).map_err(&read)?.unwrap_or_default();
        verifier.node(
            integer(row, 0).map_err(&read)?,
            integer(row, 1).map_err(&read)?,
            &hash,
        );
    }
    Ok(())
}
