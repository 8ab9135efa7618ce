//! Per-action schemas on PostgreSQL: the next version is taken in the writing transaction;
//! two nodes registering one action at once meet at the primary key, and the later one is
//! told to retry.

use super::pool::{PgResult, Tx};
use crate::{StoreError, StoredSchema};
use postgres::Row;
use sealtrail_core::{TenantId, Timestamp};

/// The columns [`schema_from_row`] reads.
const COLUMNS: &str = "action, version, document, source, created_at";

fn schema_from_row(row: &Row) -> PgResult<StoredSchema> {
    let version: i32 = row.try_get(1)?;
    Ok(StoredSchema {
        action: row.try_get(0)?,
        version: u32::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("schema version {version}")))?,
        document: row.try_get(2)?,
        source: row.try_get(3)?,
        created_at: Timestamp(row.try_get(4)?),
    })
}

/// Stores the next version of `action`'s schema.
pub(crate) fn add(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    action: &str,
    document: &str,
    source: Option<&str>,
) -> PgResult<StoredSchema> {
    super::aliases::require_tenant(tx, tenant)?;
    let created_at = Timestamp::now();
    let row = tx.query_opt(
        &format!(
            "INSERT INTO action_schemas (tenant, action, version, document, source, created_at)
             SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5
               FROM action_schemas WHERE tenant = $1 AND action = $2
             ON CONFLICT DO NOTHING
             RETURNING {COLUMNS}"
        ),
        &[&tenant.0, &action, &document, &source, &created_at.millis()],
    )?;
    match row {
        Some(row) => schema_from_row(&row),
        None => Err(StoreError::Conflict(format!(
            "another version of `{action}`'s schema was registered at the same time; retry"
        ))
        .into()),
    }
}

/// Every version of every action's schema of `tenant`, by action then version.
pub(crate) fn list(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<Vec<StoredSchema>> {
    tx.query(
        &format!(
            "SELECT {COLUMNS} FROM action_schemas WHERE tenant = $1
             ORDER BY action COLLATE \"C\", version"
        ),
        &[&tenant.0],
    )?
    .iter()
    .map(schema_from_row)
    .collect()
}
