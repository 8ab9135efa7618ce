//! Per-action schemas on SQLite: a registration is the next version in one immediate
//! transaction on the writer, so two registrations of one action cannot take one version.

use super::error::{constraint_kind, Constraint};
use super::WriteError;
use crate::{StoreError, StoredSchema};
use rusqlite::{params, Connection, Row, TransactionBehavior};
use sealtrail_core::{TenantId, Timestamp};

/// The columns [`schema_from_row`] reads.
const COLUMNS: &str = "action, version, document, source, created_at";

fn schema_from_row(row: &Row<'_>) -> rusqlite::Result<StoredSchema> {
    Ok(StoredSchema {
        action: row.get(0)?,
        version: row.get(1)?,
        document: row.get(2)?,
        source: row.get(3)?,
        created_at: Timestamp(row.get(4)?),
    })
}

/// Stores the next version of `action`'s schema.
pub(crate) fn add(
    conn: &mut Connection,
    tenant: TenantId,
    action: &str,
    document: &str,
    source: Option<&str>,
) -> Result<StoredSchema, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    super::aliases::require_tenant(&tx, tenant)?;
    let version: u32 = tx.query_row(
        "SELECT coalesce(max(version), 0) + 1 FROM action_schemas WHERE tenant = ?1 AND action = ?2",
        params![tenant.0, action],
        |r| r.get(0),
    )?;
    let created_at = Timestamp::now();
    let inserted = tx.execute(
        "INSERT INTO action_schemas (tenant, action, version, document, source, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            tenant.0,
            action,
            version,
            document,
            source,
            created_at.millis()
        ],
    );
    if let Err(e) = inserted {
        return Err(match constraint_kind(&e) {
            Some(Constraint::Unique) => StoreError::Conflict(format!(
                "version {version} of `{action}`'s schema was registered at the same time; retry"
            ))
            .into(),
            _ => e.into(),
        });
    }
    tx.commit()?;
    Ok(StoredSchema {
        action: action.to_string(),
        version,
        document: document.to_string(),
        source: source.map(str::to_string),
        created_at,
    })
}

/// Every version of every action's schema of `tenant`, by action then version.
pub(crate) fn list(conn: &Connection, tenant: TenantId) -> Result<Vec<StoredSchema>, StoreError> {
    let read = super::error::backend("reading action schemas");
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM action_schemas WHERE tenant = ?1 ORDER BY action, version"
        ))
        .map_err(&read)?;
    let rows = stmt
        .query_map([tenant.0], schema_from_row)
        .map_err(&read)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(&read)?;
    Ok(rows)
}
