//! The vault: the values an envelope commits to, a salt and a value column per part in the
//! entry row (written with it, so an append writes each event once), and the one place stored
//! rows are read back as [`StoredEntry`]s (envelope + slots, idempotency key from its column).

use super::error::backend;
use crate::stored_entry::{slots_from_columns, vault_columns, ReadColumns, StoredEntry};
use crate::StoreError;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, params_from_iter, Connection, Row};
use sealtrail_core::envelope::Slot;

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

/// A salt column's bytes borrowed from the row (until it steps on); `None` for NULL (an
/// erased value). A number, which the store never writes there, reads as no bytes at all, so
/// the slot is reported malformed rather than taken for an erased one.
fn salt_ref<'r>(row: &'r Row<'_>, idx: usize) -> rusqlite::Result<Option<&'r [u8]>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => None,
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b),
        ValueRef::Integer(_) | ValueRef::Real(_) => Some(&[]),
    })
}

/// An integer column; `None` for anything else (only a foreign edit stores anything else).
pub(crate) fn integer(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<i64>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Integer(i) => Some(i),
        _ => None,
    })
}

/// The vault columns of `entries AS e`, in the order [`row_slots`] reads them.
pub(crate) const VAULT_COLUMNS: &str =
    "e.actor_salt, e.actor_value, e.context_salt, e.context_value, e.payload_salt, e.payload_value";

/// The slots of a row whose vault columns start at `first` (selected with [`VAULT_COLUMNS`]),
/// each decoded on its own so verification reports a damaged one at its seq.
pub(crate) fn row_slots(
    row: &Row<'_>,
    first: usize,
) -> rusqlite::Result<Vec<Result<Slot, StoreError>>> {
    let part = |i: usize| -> rusqlite::Result<ReadColumns<'_>> {
        Ok((
            salt_ref(row, first + 2 * i)?,
            bytes(row, first + 2 * i + 1)?,
        ))
    };
    Ok(slots_from_columns([part(0)?, part(1)?, part(2)?]))
}

/// Rewrites the vault columns of entry `pk` from `slots` (erasure).
pub(crate) fn write_slots(conn: &Connection, pk: i64, slots: &[Slot]) -> rusqlite::Result<()> {
    let [actor, context, payload] = vault_columns(slots);
    conn.prepare_cached(
        "UPDATE entries SET actor_salt = ?2, actor_value = ?3, context_salt = ?4,
             context_value = ?5, payload_salt = ?6, payload_value = ?7
         WHERE pk = ?1",
    )?
    .execute(params![
        pk, actor.0, actor.1, context.0, context.1, payload.0, payload.1
    ])?;
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
    load_first(conn, condition, params, descending, None)
}

/// [`load`], stopping after `limit` rows when given: a page read straight from the table in
/// pk order, with no list of pks picked first.
pub(crate) fn load_first(
    conn: &Connection,
    condition: &str,
    mut params: Vec<Value>,
    descending: bool,
    limit: Option<i64>,
) -> Result<Vec<StoredEntry>, StoreError> {
    let order = if descending { "DESC" } else { "ASC" };
    let limit = match limit {
        Some(n) => {
            params.push(Value::Integer(n));
            format!(" LIMIT ?{}", params.len())
        }
        None => String::new(),
    };
    let sql = format!(
        "SELECT e.pk, e.seq, e.id, e.envelope, e.idempotency_key, {VAULT_COLUMNS}
         FROM entries AS e
         WHERE {condition}
         ORDER BY e.pk {order}{limit}"
    );
    let read = backend("reading entries");
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(backend("preparing an entry read"))?;
    let mut rows = stmt.query(params_from_iter(params)).map_err(&read)?;
    let mut out: Vec<StoredEntry> = Vec::new();
    while let Some(row) = rows.next().map_err(&read)? {
        out.push(StoredEntry {
            pk: row.get(0).map_err(&read)?,
            seq: row.get(1).map_err(&read)?,
            id: bytes(row, 2).map_err(&read)?.unwrap_or_default(),
            envelope: bytes(row, 3).map_err(&read)?.unwrap_or_default(),
            idempotency_key: row.get(4).map_err(&read)?,
            slots: row_slots(row, 5)
                .map_err(&read)?
                .into_iter()
                .collect::<Result<_, _>>()?,
        });
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
