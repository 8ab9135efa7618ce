//! Tenants (with their log origin and lifecycle settings) and API keys on PostgreSQL, behaving
//! exactly as the SQLite backend does (the contract suite checks both).
//!
//! Writes run in the pool's READ COMMITTED transactions, where a failed statement aborts the
//! whole transaction: expected refusals (a taken name or prefix, an unknown tenant) are
//! therefore found with `ON CONFLICT DO NOTHING` and plain lookups, never by catching an error.

use super::pool::{PgError, PgResult, Statements, Tx};
use crate::guards::{check_retention, export_exclusions};
use crate::key_rows::{StoredKey, KEY_COLUMNS};
use crate::{Retention, StoreError, TenantLimits, TenantSettings, TileAccess};
use postgres::types::Json;
use postgres::Row;
use sealtrail_core::ip_allowlist::IpAllowlist;
use sealtrail_core::keys::{ApiKey, Scope};
use sealtrail_core::policy::log_origin;
use sealtrail_core::{Tenant, TenantId, Timestamp};
use std::sync::LazyLock;

/// Decodes `id, name, created_at`.
fn tenant_from_row(row: &Row) -> PgResult<Tenant> {
    Ok(Tenant {
        id: TenantId(row.try_get(0)?),
        name: row.try_get(1)?,
        created_at: Timestamp(row.try_get(2)?),
    })
}

/// Creates the tenant, with its log origin, and its empty log head in the caller's
/// transaction, so no tenant ever exists without a log.
pub(crate) fn create_tenant(tx: &mut Tx<'_>, name: &str) -> PgResult<Tenant> {
    let installation: String = tx
        .query_one("SELECT value FROM meta WHERE key = 'installation_id'", &[])?
        .try_get(0)?;
    let created_at = Timestamp::now();
    // A concurrent creation of the same name is waited for, then seen as the conflict.
    let inserted = tx.query_opt(
        "INSERT INTO tenants (name, created_at, log_origin) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING RETURNING id",
        &[
            &name,
            &created_at.millis(),
            &log_origin(&installation, name),
        ],
    )?;
    let Some(row) = inserted else {
        return Err(StoreError::Conflict(format!("tenant name `{name}` is already taken")).into());
    };
    let id: i64 = row.try_get(0)?;
    tx.execute(
        "INSERT INTO log_heads (tenant, next_seq, last_recorded_at, first_seq)
         VALUES ($1, 0, 0, 0)",
        &[&id],
    )?;
    Ok(Tenant {
        id: TenantId(id),
        name: name.to_string(),
        created_at,
    })
}

/// The stored origin of a tenant's log; `NotFound` for an unknown tenant.
pub(crate) fn tenant_origin(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<String> {
    match tx.query_opt("SELECT log_origin FROM tenants WHERE id = $1", &[&tenant.0])? {
        Some(row) => Ok(row.try_get(0)?),
        None => Err(unknown_tenant(tenant)),
    }
}

/// The refusal for a tenant that does not exist.
fn unknown_tenant(tenant: TenantId) -> PgError {
    StoreError::NotFound(format!("tenant {}", tenant.0)).into()
}

/// The settings columns of `tenants`, in the order [`settings_from_row`] decodes them.
const SETTINGS_COLUMNS: &str =
    "retention_days, legal_hold, export_excluded, ip_allowlist, limits, tile_access, default_period, cors_origins";

/// Decodes [`SETTINGS_COLUMNS`], the row's columns from `first` on. An unreadable list (or
/// limits object) is `Corrupt`, never empty: excluding nothing would leak what was meant to
/// stay out of exports, and an empty allowlist would let everyone in.
fn settings_from_row(row: &Row, first: usize, tenant: TenantId) -> PgResult<TenantSettings> {
    let days: Option<i32> = row.try_get(first)?;
    let list = |column: usize, what: &str| -> PgResult<Vec<String>> {
        let value: serde_json::Value = row.try_get(first + column)?;
        serde_json::from_value(value)
            .map_err(|e| StoreError::Corrupt(format!("tenant {} {what}: {e}", tenant.0)).into())
    };
    Ok(TenantSettings {
        retention: Retention::from_stored(days.map(i64::from)),
        legal_hold: row.try_get(first + 1)?,
        export_excluded_properties: list(2, "export exclusions")?,
        ip_allowlist: list(3, "IP allowlist")?,
        limits: TenantLimits::from_json(row.try_get(first + 4)?, tenant.0)?,
        tile_access: crate::guards::stored_tile_access(row.try_get(first + 5)?)?,
        default_period: crate::guards::stored_default_period(row.try_get(first + 6)?),
        cors_origins: list(7, "CORS origins")?,
    })
}

/// The settings columns of the row a `SELECT` or `UPDATE … RETURNING` found, decoded;
/// `NotFound` when there was no row (no such tenant).
fn settings_or_not_found(row: Option<Row>, tenant: TenantId) -> PgResult<TenantSettings> {
    match row {
        Some(row) => settings_from_row(&row, 0, tenant),
        None => Err(unknown_tenant(tenant)),
    }
}

/// A tenant's retention, legal hold, export exclusions and IP allowlist.
pub(crate) fn settings(tx: &mut impl Statements, tenant: TenantId) -> PgResult<TenantSettings> {
    let row = tx.query_opt(
        &format!("SELECT {SETTINGS_COLUMNS} FROM tenants WHERE id = $1"),
        &[&tenant.0],
    )?;
    settings_or_not_found(row, tenant)
}

/// Changes the retention, refusing one below the floor (and, unlike SQLite, one beyond the
/// `integer` column: over five million years, where "forever" is meant), and returns the
/// settings as they now are.
pub(crate) fn set_retention(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    retention: Retention,
) -> PgResult<TenantSettings> {
    check_retention(retention)?;
    let days = match retention {
        Retention::Days(d) => Some(i32::try_from(d).map_err(|_| {
            StoreError::Invalid(format!(
                "retention of {d} days is longer than this store supports; choose forever"
            ))
        })?),
        Retention::Forever => None,
    };
    let row = tx.query_opt(
        &format!(
            "UPDATE tenants SET retention_days = $2 WHERE id = $1
         RETURNING {SETTINGS_COLUMNS}"
        ),
        &[&tenant.0, &days],
    )?;
    settings_or_not_found(row, tenant)
}

/// Sets or lifts the legal hold and returns the settings as they now are.
pub(crate) fn set_legal_hold(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    hold: bool,
) -> PgResult<TenantSettings> {
    // Waits for a prune chunk in progress (it holds the log head): once "held" is answered, no
    // prune chunk of this tenant is running or can start without seeing the hold.
    tx.query_opt(
        "SELECT 1 FROM log_heads WHERE tenant = $1 FOR UPDATE",
        &[&tenant.0],
    )?;
    let row = tx.query_opt(
        &format!(
            "UPDATE tenants SET legal_hold = $2 WHERE id = $1
         RETURNING {SETTINGS_COLUMNS}"
        ),
        &[&tenant.0, &hold],
    )?;
    settings_or_not_found(row, tenant)
}

/// Normalises (shared rule) and stores the export exclusion list.
pub(crate) fn set_export_exclusions(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    keys: &[String],
) -> PgResult<TenantSettings> {
    let keys = export_exclusions(keys)?;
    let row = tx.query_opt(
        &format!(
            "UPDATE tenants SET export_excluded = $2 WHERE id = $1
         RETURNING {SETTINGS_COLUMNS}"
        ),
        &[&tenant.0, &Json(&keys)],
    )?;
    settings_or_not_found(row, tenant)
}

/// Replaces the tenant's limits and returns the settings as they now are.
pub(crate) fn set_limits(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    limits: TenantLimits,
) -> PgResult<TenantSettings> {
    limits.check()?;
    let row = tx.query_opt(
        &format!(
            "UPDATE tenants SET limits = $2 WHERE id = $1
         RETURNING {SETTINGS_COLUMNS}"
        ),
        &[&tenant.0, &limits.to_json()],
    )?;
    settings_or_not_found(row, tenant)
}

/// Sets the period the audit page opens on (checked by the caller) and returns the settings as
/// they now are.
pub(crate) fn set_default_period(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    period: Option<&str>,
) -> PgResult<TenantSettings> {
    let row = tx.query_opt(
        &format!(
            "UPDATE tenants SET default_period = $2 WHERE id = $1 RETURNING {SETTINGS_COLUMNS}"
        ),
        &[&tenant.0, &period.unwrap_or_default()],
    )?;
    settings_or_not_found(row, tenant)
}

/// Sets who may read the log's tiles and returns the settings as they now are.
pub(crate) fn set_tile_access(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    access: TileAccess,
) -> PgResult<TenantSettings> {
    let row = tx.query_opt(
        &format!(
            "UPDATE tenants SET tile_access = $2 WHERE id = $1
         RETURNING {SETTINGS_COLUMNS}"
        ),
        &[&tenant.0, &access.as_str()],
    )?;
    settings_or_not_found(row, tenant)
}

/// Parses, normalises and stores the IP allowlist; `Invalid` names the first bad entry.
pub(crate) fn set_ip_allowlist(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    entries: &[String],
) -> PgResult<TenantSettings> {
    let list = IpAllowlist::parse(entries).map_err(StoreError::Invalid)?;
    let row = tx.query_opt(
        &format!(
            "UPDATE tenants SET ip_allowlist = $2 WHERE id = $1
         RETURNING {SETTINGS_COLUMNS}"
        ),
        &[&tenant.0, &Json(list.entries())],
    )?;
    settings_or_not_found(row, tenant)
}

/// Checks, normalises and stores the CORS origins; `Invalid` names the first bad one.
pub(crate) fn set_cors_origins(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    origins: &[String],
) -> PgResult<TenantSettings> {
    let list = sealtrail_core::cors::check_origins(origins).map_err(StoreError::Invalid)?;
    let row = tx.query_opt(
        &format!(
            "UPDATE tenants SET cors_origins = $2 WHERE id = $1
         RETURNING {SETTINGS_COLUMNS}"
        ),
        &[&tenant.0, &Json(list)],
    )?;
    settings_or_not_found(row, tenant)
}

/// Every origin any tenant allows.
pub(crate) fn cors_origins_of_all_tenants(tx: &mut Tx<'_>) -> PgResult<Vec<String>> {
    let rows = tx.query(
        "SELECT DISTINCT jsonb_array_elements_text(cors_origins) FROM tenants
         WHERE cors_origins <> '[]'::jsonb",
        &[],
    )?;
    let mut all: Vec<String> = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    all.sort_unstable();
    Ok(all)
}

/// Every tenant, oldest first (ids only grow).
pub(crate) fn list_tenants(tx: &mut Tx<'_>) -> PgResult<Vec<Tenant>> {
    tx.query("SELECT id, name, created_at FROM tenants ORDER BY id", &[])?
        .iter()
        .map(tenant_from_row)
        .collect()
}

/// A tenant by name.
pub(crate) fn tenant_by_name(tx: &mut Tx<'_>, name: &str) -> PgResult<Option<Tenant>> {
    if name.contains('\0') {
        // PostgreSQL text cannot hold U+0000, so nothing stored can match it.
        return Ok(None);
    }
    tx.query_opt(
        "SELECT id, name, created_at FROM tenants WHERE name = $1",
        &[&name],
    )?
    .as_ref()
    .map(tenant_from_row)
    .transpose()
}

/// A tenant by id.
pub(crate) fn tenant_by_id(tx: &mut Tx<'_>, id: TenantId) -> PgResult<Option<Tenant>> {
    tx.query_opt(
        "SELECT id, name, created_at FROM tenants WHERE id = $1",
        &[&id.0],
    )?
    .as_ref()
    .map(tenant_from_row)
    .transpose()
}

/// Decodes a key row selected as [`KEY_COLUMNS`].
fn key_from_row(row: &Row) -> PgResult<ApiKey> {
    let stored = StoredKey {
        id: row.try_get(0)?,
        tenant: row.try_get(1)?,
        name: row.try_get(2)?,
        scopes: row.try_get(3)?,
        hash: row.try_get(4)?,
        created_at: row.try_get(5)?,
        revoked_at: row.try_get(6)?,
    };
    Ok(stored.decode()?)
}

/// Stores a key record. `Conflict` for a taken prefix (checked first, as on SQLite), else
/// `NotFound` for an unknown tenant.
pub(crate) fn insert_api_key(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    prefix: &str,
    hash: [u8; 32],
    name: &str,
    scopes: &[Scope],
) -> PgResult<ApiKey> {
    let created_at = Timestamp::now();
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    // Tenants are never deleted, so one that exists now still exists at the insert.
    let tenant_exists = tx
        .query_opt("SELECT 1 FROM tenants WHERE id = $1", &[&tenant.0])?
        .is_some();
    let inserted = tenant_exists
        && tx
            .query_opt(
                "INSERT INTO api_keys (id, tenant, name, scopes, hash, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO NOTHING RETURNING id",
                &[
                    &prefix,
                    &tenant.0,
                    &name,
                    &Scope::join(&scopes),
                    &hash.as_slice(),
                    &created_at.millis(),
                ],
            )?
            .is_some();
    if !inserted {
        // The tenant exists, so the insert met the prefix; or it does not, and the prefix may
        // still be taken elsewhere (SQLite checks uniqueness before the foreign key).
        let taken = tenant_exists
            || tx
                .query_opt("SELECT 1 FROM api_keys WHERE id = $1", &[&prefix])?
                .is_some();
        return Err(if taken {
            StoreError::Conflict(format!("an API key with prefix `{prefix}` already exists")).into()
        } else {
            unknown_tenant(tenant)
        });
    }
    Ok(ApiKey {
        id: prefix.to_string(),
        tenant,
        name: name.to_string(),
        scopes,
        created_at,
        revoked_at: None,
        hash,
    })
}

/// The key with this prefix in any tenant.
pub(crate) fn api_key_by_prefix(
    tx: &mut impl Statements,
    prefix: &str,
) -> PgResult<Option<ApiKey>> {
    if prefix.contains('\0') {
        // PostgreSQL text cannot hold U+0000, so nothing stored can match it.
        return Ok(None);
    }
    tx.query_opt(
        &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"),
        &[&prefix],
    )?
    .as_ref()
    .map(key_from_row)
    .transpose()
}

/// The statement of [`api_key_with_settings`]: [`KEY_COLUMNS`], then [`SETTINGS_COLUMNS`] from
/// the key's tenant, qualified (both tables have an `id`, a `name`, a `created_at`). Built
/// once: every request runs it.
static KEY_WITH_SETTINGS: LazyLock<String> = LazyLock::new(|| {
    let qualified = |columns: &str, table: &str| {
        columns
            .split(", ")
            .map(|c| format!("{table}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "SELECT {}, {} FROM api_keys AS k JOIN tenants AS t ON t.id = k.tenant WHERE k.id = $1",
        qualified(KEY_COLUMNS, "k"),
        qualified(SETTINGS_COLUMNS, "t"),
    )
});

/// The key with this prefix in any tenant and its tenant's settings, in one statement.
pub(crate) fn api_key_with_settings(
    tx: &mut impl Statements,
    prefix: &str,
) -> PgResult<Option<(ApiKey, TenantSettings)>> {
    if prefix.contains('\0') {
        return Ok(None);
    }
    let Some(row) = tx.query_opt(&KEY_WITH_SETTINGS, &[&prefix])? else {
        return Ok(None);
    };
    let key = key_from_row(&row)?;
    let settings = settings_from_row(&row, KEY_COLUMNS.matches(", ").count() + 1, key.tenant)?;
    Ok(Some((key, settings)))
}

/// The tenant's keys, newest first, revoked ones included. Keys created in the same
/// millisecond fall back to their prefix, byte order (SQLite uses insertion order, which
/// PostgreSQL does not keep).
pub(crate) fn list_api_keys(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<Vec<ApiKey>> {
    tx.query(
        &format!(
            "SELECT {KEY_COLUMNS} FROM api_keys
             WHERE tenant = $1 ORDER BY created_at DESC, id COLLATE \"C\" DESC"
        ),
        &[&tenant.0],
    )?
    .iter()
    .map(key_from_row)
    .collect()
}

/// Revokes the tenant's key, keeping the first revocation time; `None` if the tenant has no
/// key with that id (including another tenant's key).
pub(crate) fn revoke_api_key(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    id: &str,
) -> PgResult<Option<ApiKey>> {
    if id.contains('\0') {
        // PostgreSQL text cannot hold U+0000, so nothing stored can match it.
        return Ok(None);
    }
    tx.query_opt(
        &format!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3)
             WHERE id = $1 AND tenant = $2 RETURNING {KEY_COLUMNS}"
        ),
        &[&id, &tenant.0, &Timestamp::now().millis()],
    )?
    .as_ref()
    .map(key_from_row)
    .transpose()
}
