//! Signed checkpoints and the equivocation guard. Nodes record concurrently, so recording locks
//! the tenant row first: the checks and the insert then see every other node's checkpoint.

use super::pool::{column, PgError, PgResult, Tx};
use super::read::existing_head;
use super::tree::{hash_from_bytes, root_at};
use crate::guards::{record_checkpoint, CheckpointRecords};
use crate::{Hash, StoreError, StoredCheckpoint};
use postgres::Row;
use sealtrail_core::{TenantId, Timestamp};

fn decode(row: &Row) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: column::<i64>(row, 0)?.max(0) as u64,
        root: hash_from_bytes(column::<&[u8]>(row, 1)?)?,
        note: column(row, 2)?,
        signed_at: Timestamp(column(row, 3)?),
    })
}

/// The checkpoint with the largest size.
pub(crate) fn latest(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<Option<StoredCheckpoint>> {
    let row = tx.query_opt(
        "SELECT size, root, note, signed_at FROM checkpoints WHERE tenant = $1
         ORDER BY size DESC LIMIT 1",
        &[&tenant.0],
    )?;
    Ok(row.as_ref().map(decode).transpose()?)
}

/// The checkpoint recorded for exactly `size`.
pub(crate) fn at(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    size: u64,
) -> PgResult<Option<StoredCheckpoint>> {
    let Ok(size) = i64::try_from(size) else {
        return Ok(None);
    };
    let row = tx.query_opt(
        "SELECT size, root, note, signed_at FROM checkpoints WHERE tenant = $1 AND size = $2",
        &[&tenant.0, &size],
    )?;
    Ok(row.as_ref().map(decode).transpose()?)
}

/// Checks `(size, root)` against the recorded checkpoints and the tree, then records it.
pub(crate) fn record(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    size: u64,
    root: Hash,
    note: &str,
) -> PgResult<StoredCheckpoint> {
    // Serialises recorders of this tenant across nodes without blocking appends (which lock
    // the log head, not the tenant row) or foreign-key checks (FOR KEY SHARE).
    tx.query_opt(
        "SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
        &[&tenant.0],
    )?;
    record_checkpoint(&mut Records(tx), tenant, size, root, note)
}

/// PostgreSQL's reads and writes for [`record_checkpoint`], in the transaction that holds the
/// tenant row.
struct Records<'a, 't>(&'a mut Tx<'t>);

impl CheckpointRecords for Records<'_, '_> {
    type Error = PgError;

    fn log_size(&mut self, tenant: TenantId) -> PgResult<u64> {
        Ok(existing_head(self.0, tenant)?.size)
    }

    fn at(&mut self, tenant: TenantId, size: u64) -> PgResult<Option<StoredCheckpoint>> {
        at(self.0, tenant, size)
    }

    fn latest(&mut self, tenant: TenantId) -> PgResult<Option<StoredCheckpoint>> {
        latest(self.0, tenant)
    }

    fn root_at(&mut self, tenant: TenantId, size: u64) -> PgResult<Hash> {
        root_at(self.0, tenant, size)
    }

    fn set_note(&mut self, tenant: TenantId, size: u64, note: &str) -> PgResult<()> {
        self.0.execute(
            "UPDATE checkpoints SET note = $3 WHERE tenant = $1 AND size = $2",
            &[&tenant.0, &(size as i64), &note],
        )?;
        Ok(())
    }

    fn insert(&mut self, tenant: TenantId, record: &StoredCheckpoint) -> PgResult<()> {
        self.0.execute(
            "INSERT INTO checkpoints (tenant, size, root, note, signed_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &tenant.0,
                &(record.size as i64),
                &record.root.as_slice(),
                &record.note,
                &record.signed_at.millis(),
            ],
        )?;
        Ok(())
    }
}
