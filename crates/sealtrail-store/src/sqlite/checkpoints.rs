//! Signed checkpoints and the equivocation guard: a log must never sign a smaller tree than it
//! already signed, nor two roots for one size, nor anything but its actual root. The guard
//! checks and records in one write transaction, and reads what is on disk, so it holds across
//! restarts and across processes sharing the file.

use super::error::backend;
use super::tree::{hash_from_blob, root_at, size_of};
use super::WriteError;
use crate::guards::{record_checkpoint, CheckpointRecords};
use crate::{CheckpointToRecord, Hash, StoreError, StoredCheckpoint};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sealtrail_core::{TenantId, Timestamp};

/// The columns [`from_row`] reads, in order.
const COLUMNS: &str = "size, root, note, signed_at";

/// One checkpoint row, undecoded (decoding can fail with a store error, not an SQL one).
fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Vec<u8>, String, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

/// A checkpoint row as a record; a root that is not 32 bytes was not written by us.
fn decode(row: (i64, Vec<u8>, String, i64)) -> Result<StoredCheckpoint, StoreError> {
    let (size, root, note, signed_at) = row;
    Ok(StoredCheckpoint {
        size: size.max(0) as u64,
        root: hash_from_blob(&root)?,
        note,
        signed_at: Timestamp(signed_at),
    })
}

/// The checkpoint with the largest size.
pub(crate) fn latest(
    conn: &Connection,
    tenant: TenantId,
) -> Result<Option<StoredCheckpoint>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM checkpoints WHERE tenant = ?1 ORDER BY size DESC LIMIT 1"
    ))
    .and_then(|mut s| s.query_row([tenant.0], from_row).optional())
    .map_err(backend("reading checkpoints"))?
    .map(decode)
    .transpose()
}

/// The checkpoint for exactly `size`.
pub(crate) fn at(
    conn: &Connection,
    tenant: TenantId,
    size: u64,
) -> Result<Option<StoredCheckpoint>, StoreError> {
    let Ok(size) = i64::try_from(size) else {
        return Ok(None);
    };
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM checkpoints WHERE tenant = ?1 AND size = ?2"
    ))
    .and_then(|mut s| s.query_row(params![tenant.0, size], from_row).optional())
    .map_err(backend("reading checkpoints"))?
    .map(decode)
    .transpose()
}

/// Checks `(size, root)` against the recorded checkpoints and the tree, then records it.
pub(crate) fn record(
    conn: &mut Connection,
    tenant: TenantId,
    size: u64,
    root: Hash,
    note: &str,
) -> Result<StoredCheckpoint, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let record = record_in(&tx, tenant, size, root, note)?;
    tx.commit()?;
    Ok(record)
}

/// Records a batch in one transaction: a refusal answers only its item, an SQL error fails
/// the whole batch (nothing of it is committed).
pub(crate) fn record_many(
    conn: &mut Connection,
    batch: &[CheckpointToRecord],
) -> Result<Vec<Result<StoredCheckpoint, StoreError>>, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for c in batch {
        results.push(match record_in(&tx, c.tenant, c.size, c.root, &c.note) {
            Ok(record) => Ok(record),
            Err(WriteError::Store(refused)) => Err(refused),
            Err(sql) => return Err(sql),
        });
    }
    tx.commit()?;
    Ok(results)
}

/// The guard and the insert, inside the caller's transaction ([`record_checkpoint`]); a
/// refusal writes nothing.
fn record_in(
    tx: &Connection,
    tenant: TenantId,
    size: u64,
    root: Hash,
    note: &str,
) -> Result<StoredCheckpoint, WriteError> {
    record_checkpoint(&mut Records(tx), tenant, size, root, note)
}

/// SQLite's reads and writes for [`record_checkpoint`].
struct Records<'c>(&'c Connection);

impl CheckpointRecords for Records<'_> {
    type Error = WriteError;

    fn log_size(&mut self, tenant: TenantId) -> Result<u64, WriteError> {
        Ok(size_of(self.0, tenant)?)
    }

    fn at(&mut self, tenant: TenantId, size: u64) -> Result<Option<StoredCheckpoint>, WriteError> {
        Ok(at(self.0, tenant, size)?)
    }

    fn latest(&mut self, tenant: TenantId) -> Result<Option<StoredCheckpoint>, WriteError> {
        Ok(latest(self.0, tenant)?)
    }

    fn root_at(&mut self, tenant: TenantId, size: u64) -> Result<Hash, WriteError> {
        Ok(root_at(self.0, tenant, size)?)
    }

    fn set_note(&mut self, tenant: TenantId, size: u64, note: &str) -> Result<(), WriteError> {
        self.0.execute(
            "UPDATE checkpoints SET note = ?3 WHERE tenant = ?1 AND size = ?2",
            params![tenant.0, size as i64, note],
        )?;
        Ok(())
    }

    fn insert(&mut self, tenant: TenantId, record: &StoredCheckpoint) -> Result<(), WriteError> {
        self.0.execute(
            "INSERT INTO checkpoints (tenant, size, root, note, signed_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                tenant.0,
                record.size as i64,
                record.root.as_slice(),
                record.note,
                record.signed_at.millis()
            ],
        )?;
        Ok(())
    }
}
