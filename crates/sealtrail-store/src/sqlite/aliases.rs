//! Tenant aliases on SQLite: other names of a tenant, each tenant's own.

use super::error::{backend, constraint_kind, Constraint};
use super::WriteError;
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sealtrail_core::{TenantId, Timestamp};

/// `NotFound` unless `tenant` exists: what a tenant's settings rows are added to must exist.
pub(crate) fn require_tenant(conn: &Connection, tenant: TenantId) -> Result<(), WriteError> {
    let known: Option<i64> = conn
        .query_row("SELECT 1 FROM tenants WHERE id = ?1", [tenant.0], |r| {
            r.get(0)
        })
        .optional()?;
    match known {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("tenant {}", tenant.0)).into()),
    }
}

/// Adds `alias` to `tenant`.
pub(crate) fn add(conn: &mut Connection, tenant: TenantId, alias: &str) -> Result<(), WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    require_tenant(&tx, tenant)?;
    let inserted = tx.execute(
        "INSERT INTO tenant_aliases (alias, tenant, created_at) VALUES (?1, ?2, ?3)",
        params![alias, tenant.0, Timestamp::now().millis()],
    );
    if let Err(e) = inserted {
        return Err(match constraint_kind(&e) {
            Some(Constraint::Unique) => {
                StoreError::Conflict(format!("the tenant already has the alias `{alias}`")).into()
            }
            _ => e.into(),
        });
    }
    tx.commit()?;
    Ok(())
}

/// Removes `alias` from `tenant`; false when the tenant had no such alias.
pub(crate) fn remove(
    conn: &mut Connection,
    tenant: TenantId,
    alias: &str,
) -> Result<bool, WriteError> {
    let removed = conn.execute(
        "DELETE FROM tenant_aliases WHERE alias = ?1 AND tenant = ?2",
        params![alias, tenant.0],
    )?;
    Ok(removed > 0)
}

/// `tenant`'s aliases, sorted.
pub(crate) fn list(conn: &Connection, tenant: TenantId) -> Result<Vec<String>, StoreError> {
    let read = backend("reading tenant aliases");
    let mut stmt = conn
        .prepare_cached("SELECT alias FROM tenant_aliases WHERE tenant = ?1 ORDER BY alias")
        .map_err(&read)?;
    let aliases = stmt
        .query_map([tenant.0], |r| r.get(0))
        .map_err(&read)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(&read)?;
    Ok(aliases)
}

/// Whether `tenant` has `alias`.
pub(crate) fn has(conn: &Connection, tenant: TenantId, alias: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM tenant_aliases WHERE tenant = ?1 AND alias = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![tenant.0, alias], |r| r.get::<_, i64>(0))
                .optional()
        })
        .map(|found| found.is_some())
        .map_err(backend("reading tenant aliases"))
}
