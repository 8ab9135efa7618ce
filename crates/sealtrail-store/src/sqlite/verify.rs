//! Verification of a tenant's log on SQLite: the three row streams [`crate::verification`]
//! checks (leaf hashes, entries with their vault columns in seq order, inner tree
//! nodes), read in one snapshot without loading the log.

use super::admin::tenant_origin;
use super::append::{tenant_base, SEQ_LIMIT};
use super::error::backend;
use super::read::log_head;
use super::vault::{bytes, integer, row_slots, VAULT_COLUMNS};
use crate::verification::{EntryRow, Verifier};
use crate::{LogVerification, StoreError};
use rusqlite::Connection;
use sealtrail_core::TenantId;

/// Verifies `tenant`'s log; `progress` receives the number of entries checked so far.
pub(crate) fn verify_log(
    conn: &Connection,
    tenant: TenantId,
    progress: &dyn Fn(u64),
) -> Result<LogVerification, StoreError> {
    let (Some(head), Some(base)) = (log_head(conn, tenant)?, tenant_base(tenant)) else {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)));
    };
    let origin = tenant_origin(conn, tenant)?;
    let mut verifier = Verifier::new(head.size, head.first_seq, &origin, progress)?;
    leaves(conn, tenant, &mut verifier)?;
    entries(conn, base, &mut verifier)?;
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

/// Streams every entry row of the tenant with its vault columns, in seq order.
fn entries(conn: &Connection, base: i64, verifier: &mut Verifier<'_>) -> Result<(), StoreError> {
    let read = backend("reading entries");
    let bounds = (base, base | (SEQ_LIMIT - 1));
    let mut entries = conn
        .prepare(&format!(
            "SELECT e.pk, e.seq, e.id, e.envelope, {VAULT_COLUMNS} FROM entries AS e
             WHERE e.pk >= ?1 AND e.pk <= ?2 ORDER BY e.pk"
        ))
        .map_err(&read)?;
    let mut rows = entries.query(bounds).map_err(&read)?;
    while let Some(row) = rows.next().map_err(&read)? {
        let pk: i64 = row.get(0).map_err(&read)?;
        verifier.entry(EntryRow {
            seq: (pk - base) as u64,
            seq_column: integer(row, 1).map_err(&read)?,
            id: bytes(row, 2).map_err(&read)?.unwrap_or_default(),
            envelope: bytes(row, 3).map_err(&read)?.unwrap_or_default(),
            slots: row_slots(row, 4).map_err(&read)?,
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
