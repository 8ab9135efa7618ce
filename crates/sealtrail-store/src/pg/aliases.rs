//! Tenant aliases on PostgreSQL: other names of a tenant, each tenant's own.

use super::pool::{PgResult, Tx};
use crate::StoreError;
use sealtrail_core::{TenantId, Timestamp};

/// `NotFound` unless `tenant` exists: what a tenant's settings rows are added to must exist.
pub(crate) fn require_tenant(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<()> {
    match tx.query_opt("SELECT 1 FROM tenants WHERE id = $1", &[&tenant.0])? {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("tenant {}", tenant.0)).into()),
    }
}

/// Adds `alias` to `tenant`.
pub(crate) fn add(tx: &mut Tx<'_>, tenant: TenantId, alias: &str) -> PgResult<()> {
    require_tenant(tx, tenant)?;
    let inserted = tx.execute(
        "INSERT INTO tenant_aliases (alias, tenant, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (tenant, alias) DO NOTHING",
        &[&alias, &tenant.0, &Timestamp::now().millis()],
    )?;
    if inserted == 0 {
        return Err(
            StoreError::Conflict(format!("the tenant already has the alias `{alias}`")).into(),
        );
    }
    Ok(())
}

/// Removes `alias` from `tenant`; false when the tenant had no such alias.
pub(crate) fn remove(tx: &mut Tx<'_>, tenant: TenantId, alias: &str) -> PgResult<bool> {
    let removed = tx.execute(
        "DELETE FROM tenant_aliases WHERE alias = $1 AND tenant = $2",
        &[&alias, &tenant.0],
    )?;
    Ok(removed > 0)
}

/// `tenant`'s aliases, sorted.
pub(crate) fn list(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<Vec<String>> {
    tx.query(
        "SELECT alias FROM tenant_aliases WHERE tenant = $1 ORDER BY alias",
        &[&tenant.0],
    )?
    .iter()
    .map(|row| Ok(row.try_get(0)?))
    .collect()
}

/// Whether `tenant` has `alias`.
pub(crate) fn has(tx: &mut Tx<'_>, tenant: TenantId, alias: &str) -> PgResult<bool> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM tenant_aliases WHERE tenant = $1 AND alias = $2",
            &[&tenant.0, &alias],
        )?
        .is_some())
}
