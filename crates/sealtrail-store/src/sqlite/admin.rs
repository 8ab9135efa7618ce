//! Tenants (with their log origin and lifecycle settings) and API keys: small writes run as
//! jobs on the writer connection (so entries keep a single writer), reads go through the read
//! pool.

use super::error::{backend, constraint_kind, Constraint};
use super::pk::MAX_TENANT;
use super::WriteError;
use crate::guards::{check_retention, export_exclusions};
use crate::key_rows::{StoredKey, KEY_COLUMNS};
use crate::{Retention, StoreError, TenantLimits, TenantSettings, TileAccess};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use sealtrail_core::ip_allowlist::IpAllowlist;
use sealtrail_core::keys::{ApiKey, Scope};
/// Re-exported so backfill and tests keep naming it here; the rule itself lives in `rules`.
pub(crate) use sealtrail_core::policy::log_origin;
use sealtrail_core::{Tenant, TenantId, Timestamp};

fn tenant_from_row(row: &Row<'_>) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        id: TenantId(row.get(0)?),
        name: row.get(1)?,
        created_at: Timestamp(row.get(2)?),
    })
}

/// Creates the tenant and its empty log head in one transaction.
pub(crate) fn create_tenant(conn: &mut Connection, name: &str) -> Result<Tenant, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let created_at = Timestamp::now();
    let inserted = tx.execute(
        "INSERT INTO tenants (name, created_at) VALUES (?1, ?2)",
        params![name, created_at.millis()],
    );
    if let Err(e) = inserted {
        return Err(match constraint_kind(&e) {
            Some(Constraint::Unique) => {
                StoreError::Conflict(format!("tenant name `{name}` is already taken")).into()
            }
            _ => e.into(),
        });
    }
    let id = tx.last_insert_rowid();
    let installation: String = tx.query_row(
        "SELECT value FROM meta WHERE key = 'installation_id'",
        [],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE tenants SET log_origin = ?2 WHERE id = ?1",
        params![id, log_origin(&installation, name)],
    )?;
    if id > MAX_TENANT {
        return Err(StoreError::Backend(format!(
            "tenant id {id} exceeds the largest this store supports ({MAX_TENANT})"
        ))
        .into());
    }
    tx.execute(
        "INSERT INTO log_heads (tenant, next_seq, last_recorded_at) VALUES (?1, 0, 0)",
        [id],
    )?;
    tx.commit()?;
    Ok(Tenant {
        id: TenantId(id),
        name: name.to_string(),
        created_at,
    })
}

/// The stored origin of a tenant's log.
pub(crate) fn tenant_origin(conn: &Connection, tenant: TenantId) -> Result<String, StoreError> {
    conn.prepare_cached("SELECT log_origin FROM tenants WHERE id = ?1")
        .and_then(|mut s| s.query_row([tenant.0], |r| r.get(0)).optional())
        .map_err(backend("reading a log origin"))?
        .ok_or_else(|| StoreError::NotFound(format!("tenant {}", tenant.0)))
}

/// A tenant's retention and legal hold.
pub(crate) fn settings(conn: &Connection, tenant: TenantId) -> Result<TenantSettings, StoreError> {
    conn.prepare_cached(
        "SELECT retention_days, legal_hold, export_excluded, ip_allowlist, limits, tile_access,
                default_period, cors_origins
         FROM tenants WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.query_row([tenant.0], |r| {
            let days: Option<i64> = r.get(0)?;
            let excluded: String = r.get(2)?;
            let allowlist: String = r.get(3)?;
            let limits: String = r.get(4)?;
            let tile_access: String = r.get(5)?;
            let cors: String = r.get(7)?;
            let corrupt = |column: usize, e: serde_json::Error| {
                rusqlite::Error::FromSqlConversionFailure(
                    column,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            };
            Ok(TenantSettings {
                retention: Retention::from_stored(days),
                legal_hold: r.get(1)?,
                // Written only by `set_export_exclusions`; unreadable means corrupt, and
                // excluding nothing would leak what was meant to stay out: refuse instead.
                export_excluded_properties: serde_json::from_str(&excluded)
                    .map_err(|e| corrupt(2, e))?,
                // Likewise: an unreadable allowlist must not turn into "allow everyone".
                ip_allowlist: serde_json::from_str(&allowlist).map_err(|e| corrupt(3, e))?,
                // Likewise: unreadable limits must not turn into "unlimited".
                limits: serde_json::from_str(&limits).map_err(|e| corrupt(4, e))?,
                tile_access: crate::guards::stored_tile_access(tile_access).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        5,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?,
                default_period: crate::guards::stored_default_period(r.get(6)?),
                // Unreadable means corrupt: refuse rather than guess who may call.
                cors_origins: serde_json::from_str(&cors).map_err(|e| corrupt(7, e))?,
            })
        })
        .optional()
    })
    .map_err(backend("reading tenant settings"))?
    .ok_or_else(|| StoreError::NotFound(format!("tenant {}", tenant.0)))
}

/// Changes a tenant's retention (refusing one below the floor) or legal hold, whichever is
/// given, and returns the settings as they now are.
pub(crate) fn update_settings(
    conn: &mut Connection,
    tenant: TenantId,
    retention: Option<Retention>,
    legal_hold: Option<bool>,
) -> Result<TenantSettings, WriteError> {
    if let Some(retention) = retention {
        check_retention(retention)?;
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(retention) = retention {
        let days = match retention {
            Retention::Days(d) => Some(i64::from(d)),
            Retention::Forever => None,
        };
        tx.execute(
            "UPDATE tenants SET retention_days = ?2 WHERE id = ?1",
            params![tenant.0, days],
        )?;
    }
    if let Some(hold) = legal_hold {
        tx.execute(
            "UPDATE tenants SET legal_hold = ?2 WHERE id = ?1",
            params![tenant.0, hold],
        )?;
    }
    let now = settings(&tx, tenant)?;
    tx.commit()?;
    Ok(now)
}

/// Normalises and stores the export exclusion list.
pub(crate) fn set_export_exclusions(
    conn: &mut Connection,
    tenant: TenantId,
    keys: Vec<String>,
) -> Result<TenantSettings, WriteError> {
    let keys = export_exclusions(&keys)?;
    set_json_setting(conn, tenant, JsonSetting::ExportExcluded, &keys)
}

/// Replaces the tenant's limits and returns the settings as they now are.
pub(crate) fn set_limits(
    conn: &mut Connection,
    tenant: TenantId,
    limits: TenantLimits,
) -> Result<TenantSettings, WriteError> {
    limits.check()?;
    set_setting(conn, tenant, "limits", &limits.to_json().to_string())
}

/// Sets the period the audit page opens on (checked by the caller) and returns the settings as
/// they now are.
pub(crate) fn set_default_period(
    conn: &mut Connection,
    tenant: TenantId,
    period: Option<String>,
) -> Result<TenantSettings, WriteError> {
    set_setting(conn, tenant, "default_period", &period.unwrap_or_default())
}

/// Sets who may read the log's tiles and returns the settings as they now are.
pub(crate) fn set_tile_access(
    conn: &mut Connection,
    tenant: TenantId,
    access: TileAccess,
) -> Result<TenantSettings, WriteError> {
    set_setting(conn, tenant, "tile_access", &access.as_str())
}

/// The tenant settings stored as JSON arrays of strings.
#[derive(Clone, Copy)]
enum JsonSetting {
    ExportExcluded,
    IpAllowlist,
    CorsOrigins,
}

/// Stores one JSON-array setting and returns the settings as they now are.
fn set_json_setting(
    conn: &mut Connection,
    tenant: TenantId,
    setting: JsonSetting,
    values: &[String],
) -> Result<TenantSettings, WriteError> {
    let (column, what) = match setting {
        JsonSetting::ExportExcluded => ("export_excluded", "exclusions"),
        JsonSetting::IpAllowlist => ("ip_allowlist", "the IP allowlist"),
        JsonSetting::CorsOrigins => ("cors_origins", "the CORS origins"),
    };
    let json = serde_json::to_string(values)
        .map_err(|e| StoreError::Backend(format!("encoding {what}: {e}")))?;
    set_setting(conn, tenant, column, &json)
}

/// Stores one settings column of a tenant (`column` is one of this module's literals, never
/// input) and returns the settings as they now are; `NotFound` for an unknown tenant.
fn set_setting(
    conn: &mut Connection,
    tenant: TenantId,
    column: &'static str,
    value: &dyn rusqlite::ToSql,
) -> Result<TenantSettings, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sql = format!("UPDATE tenants SET {column} = ?2 WHERE id = ?1");
    if tx.execute(&sql, params![tenant.0, value])? == 0 {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)).into());
    }
    let now = settings(&tx, tenant)?;
    tx.commit()?;
    Ok(now)
}

/// Parses, normalises and stores the IP allowlist.
pub(crate) fn set_ip_allowlist(
    conn: &mut Connection,
    tenant: TenantId,
    entries: Vec<String>,
) -> Result<TenantSettings, WriteError> {
    let list = IpAllowlist::parse(&entries).map_err(StoreError::Invalid)?;
    set_json_setting(conn, tenant, JsonSetting::IpAllowlist, &list.entries())
}

/// Checks, normalises and stores the CORS origins.
pub(crate) fn set_cors_origins(
    conn: &mut Connection,
    tenant: TenantId,
    origins: Vec<String>,
) -> Result<TenantSettings, WriteError> {
    let list = sealtrail_core::cors::check_origins(&origins).map_err(StoreError::Invalid)?;
    set_json_setting(conn, tenant, JsonSetting::CorsOrigins, &list)
}

/// Every origin any tenant allows.
pub(crate) fn cors_origins_of_all_tenants(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT cors_origins FROM tenants WHERE cors_origins <> '[]'")
        .map_err(backend("reading CORS origins"))?;
    let lists = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(backend("reading CORS origins"))?;
    let mut all: Vec<String> = Vec::new();
    for list in lists {
        let list = list.map_err(backend("reading CORS origins"))?;
        let origins: Vec<String> = serde_json::from_str(&list)
            .map_err(|e| StoreError::Corrupt(format!("a tenant's CORS origins: {e}")))?;
        all.extend(origins);
    }
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

/// Every tenant, oldest first.
pub(crate) fn list_tenants(conn: &Connection) -> Result<Vec<Tenant>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT id, name, created_at FROM tenants ORDER BY id")
        .map_err(backend("listing tenants"))?;
    let rows = stmt
        .query_map([], tenant_from_row)
        .map_err(backend("listing tenants"))?;
    rows.collect::<Result<_, _>>()
        .map_err(backend("listing tenants"))
}

/// A tenant by name.
pub(crate) fn tenant_by_name(conn: &Connection, name: &str) -> Result<Option<Tenant>, StoreError> {
    conn.prepare_cached("SELECT id, name, created_at FROM tenants WHERE name = ?1")
        .and_then(|mut s| s.query_row([name], tenant_from_row).optional())
        .map_err(backend("reading a tenant"))
}

/// A tenant by id.
pub(crate) fn tenant_by_id(conn: &Connection, id: TenantId) -> Result<Option<Tenant>, StoreError> {
    conn.prepare_cached("SELECT id, name, created_at FROM tenants WHERE id = ?1")
        .and_then(|mut s| s.query_row([id.0], tenant_from_row).optional())
        .map_err(backend("reading a tenant"))
}

/// Decodes a key row selected as [`KEY_COLUMNS`]; the outer error is SQLite's, the inner one a
/// malformed row's.
fn key_from_row(row: &Row<'_>) -> rusqlite::Result<Result<ApiKey, StoreError>> {
    let stored = StoredKey {
        id: row.get(0)?,
        tenant: row.get(1)?,
        name: row.get(2)?,
        scopes: row.get(3)?,
        hash: row.get(4)?,
        created_at: row.get(5)?,
        revoked_at: row.get(6)?,
    };
    Ok(stored.decode())
}

/// Stores a key record. `NotFound` for an unknown tenant, `Conflict` for a taken prefix.
pub(crate) fn insert_api_key(
    conn: &mut Connection,
    tenant: TenantId,
    prefix: &str,
    hash: [u8; 32],
    name: &str,
    scopes: &[Scope],
) -> Result<ApiKey, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let created_at = Timestamp::now();
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let inserted = tx.execute(
        "INSERT INTO api_keys (id, tenant, name, scopes, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![prefix, tenant.0, name, Scope::join(&scopes), hash.as_slice(), created_at.millis()],
    );
    if let Err(e) = inserted {
        return Err(match constraint_kind(&e) {
            Some(Constraint::Unique) => {
                StoreError::Conflict(format!("an API key with prefix `{prefix}` already exists"))
                    .into()
            }
            Some(Constraint::ForeignKey) => {
                StoreError::NotFound(format!("tenant {}", tenant.0)).into()
            }
            _ => e.into(),
        });
    }
    tx.commit()?;
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
    conn: &Connection,
    prefix: &str,
) -> Result<Option<ApiKey>, StoreError> {
    conn.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"))
        .and_then(|mut s| s.query_row([prefix], key_from_row).optional())
        .map_err(backend("reading an API key"))?
        .transpose()
}

/// The tenant's keys, newest first, revoked ones included.
pub(crate) fn list_api_keys(
    conn: &Connection,
    tenant: TenantId,
) -> Result<Vec<ApiKey>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant = ?1 ORDER BY created_at DESC, rowid DESC"
        ))
        .map_err(backend("listing API keys"))?;
    let rows = stmt
        .query_map([tenant.0], key_from_row)
        .map_err(backend("listing API keys"))?;
    let mut keys = Vec::new();
    for row in rows {
        keys.push(row.map_err(backend("listing API keys"))??);
    }
    Ok(keys)
}

/// Revokes the tenant's key, keeping the first revocation time; `None` if the tenant has no
/// key with that id (including another tenant's key).
pub(crate) fn revoke_api_key(
    conn: &mut Connection,
    tenant: TenantId,
    id: &str,
) -> Result<Option<ApiKey>, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?3) WHERE id = ?1 AND tenant = ?2",
        params![id, tenant.0, Timestamp::now().millis()],
    )?;
    let key = tx
        .query_row(
            &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1 AND tenant = ?2"),
            params![id, tenant.0],
            key_from_row,
        )
        .optional()?
        .transpose()?;
    tx.commit()?;
    Ok(key)
}
