//! The vault: the values an envelope commits to, one row per part, and the one place stored
//! entries are turned back into [`Entry`]s (envelope + slots, idempotency key from its column).

use super::error::backend;
use crate::stored::{part_code, slot_bytes, slot_from_row, slot_part, StoredEntry};
use crate::StoreError;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, params_from_iter, Connection, Row};
use sealtrail_core::envelope::{Slot, VaultValue};

/// A byte column as bytes whatever its storage class, so a row edited behind the store's back
/// (TEXT where a BLOB belongs) reads as changed bytes, which verification then reports, rather
/// than failing the whole read.
pub(crate) fn bytes(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Vec<u8>>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => None,
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
        ValueRef::Integer(i) => Some(i.to_string().into_bytes()),
        ValueRef::Real(f) => Some(f.to_string().into_bytes()),
    })
}

/// An integer column; `None` for anything else (only a foreign edit stores anything else).
pub(crate) fn integer(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<i64>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Integer(i) => Some(i),
        _ => None,
    })
}

/// Inserts or replaces one slot of entry `pk`.
pub(crate) fn write_slot(conn: &Connection, pk: i64, slot: &Slot) -> rusqlite::Result<()> {
    let (salt, erased) = match slot {
        Slot::Committed(v) => (Some(v.salt.as_slice()), false),
        Slot::Erased { .. } => (None, true),
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO vault (pk, part, salt, value, erased) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        pk,
        part_code(slot_part(slot)),
        salt,
        slot_bytes(slot),
        erased
    ])?;
    Ok(())
}

/// Inserts the three committed values of a freshly sealed entry.
pub(crate) fn insert_sealed(
    conn: &Connection,
    pk: i64,
    vault: &[VaultValue; 3],
) -> rusqlite::Result<()> {
    for value in vault {
        write_slot(conn, pk, &Slot::Committed(value.clone()))?;
    }
    Ok(())
}

/// Loads entries with their slots. `condition` is SQL over `entries AS e` using the parameters
/// `params` (numbered from `?1`); rows come back ordered by pk, descending when asked.
pub(crate) fn load(
    conn: &Connection,
    condition: &str,
    params: Vec<Value>,
    descending: bool,
) -> Result<Vec<StoredEntry>, StoreError> {
    let order = if descending { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT e.pk, e.seq, e.id, e.envelope, e.idempotency_key, v.part, v.salt, v.value, v.erased
         FROM entries AS e LEFT JOIN vault AS v ON v.pk = e.pk
         WHERE {condition}
         ORDER BY e.pk {order}, v.part"
    );
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(backend("preparing an entry read"))?;
    let mut rows = stmt
        .query(params_from_iter(params))
        .map_err(backend("reading entries"))?;
    let mut out: Vec<StoredEntry> = Vec::new();
    while let Some(row) = rows.next().map_err(backend("reading entries"))? {
        let read = |r: &Row<'_>| -> rusqlite::Result<_> {
            Ok((
                r.get::<_, i64>(0)?,
                r.get_ref(5)?.data_type() != rusqlite::types::Type::Null,
                integer(r, 5)?,
                bytes(r, 6)?,
                bytes(r, 7)?,
                integer(r, 8)?,
            ))
        };
        let (pk, has_slot, part, salt, value, erased) =
            read(row).map_err(backend("reading entries"))?;
        if out.last().is_none_or(|last| last.pk != pk) {
            out.push(StoredEntry {
                pk,
                seq: row.get(1).map_err(backend("reading entries"))?,
                id: bytes(row, 2)
                    .map_err(backend("reading entries"))?
                    .unwrap_or_default(),
                envelope: bytes(row, 3)
                    .map_err(backend("reading entries"))?
                    .unwrap_or_default(),
                idempotency_key: row.get(4).map_err(backend("reading entries"))?,
                slots: Vec::with_capacity(3),
            });
        }
        if let (true, Some(last)) = (has_slot, out.last_mut()) {
            let slot = slot_from_row(
                part.unwrap_or(-1),
                salt,
                value.unwrap_or_default(),
                erased.unwrap_or(0) != 0,
            )?;
            last.slots.push(slot);
        }
    }
    Ok(out)
}

/// Entries with `lo <= pk < hi`, ascending.
pub(crate) fn load_range(
    conn: &Connection,
    lo: i64,
    hi: i64,
) -> Result<Vec<StoredEntry>, StoreError> {
    load(
        conn,
        "e.pk >= ?1 AND e.pk < ?2",
        vec![Value::Integer(lo), Value::Integer(hi)],
        false,
    )
}
