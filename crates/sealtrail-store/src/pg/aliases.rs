//! Tenant aliases on PostgreSQL: other names of a tenant, each naming one tenant only.

use super::pool::{PgResult, Tx};
use crate::StoreError;
use sealtrail_core::{TenantId, Timestamp};

/// Adds `alias` to `tenant`.
pub(crate) fn add(tx: &mut Tx<'_>, tenant: TenantId, alias: &str) -> PgResult<()> {
    if tx
        .query_opt("SELECT 1 FROM tenants WHERE id = $1", &[&tenant.0])?
        .is_none()
    {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)).into());
    }
    let inserted = tx.execute(
        "INSERT INTO tenant_aliases (alias, tenant, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (alias) DO NOTHING",
        &[&alias, &tenant.0, &Timestamp::now().millis()],
    )?;
    if inserted == 0 {
        return Err(
            StoreError::Conflict(format!("the alias `{alias}` already names a tenant")).into(),
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

/// The tenant `alias` names.
pub(crate) fn tenant_of(tx: &mut Tx<'_>, alias: &str) -> PgResult<Option<TenantId>> {
    Ok(tx
        .query_opt(
            "SELECT tenant FROM tenant_aliases WHERE alias = $1",
            &[&alias],
        )?
        .map(|row| row.try_get(0))
        .transpose()?
        .map(TenantId))
}
