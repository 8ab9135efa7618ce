//! Users and their web sessions on PostgreSQL, behaving exactly as the SQLite backend does (the
//! contract suite checks both). Sessions are keyed by the SHA-256 of their token; the token
//! itself is never stored.
//!
//! Writes run in the pool's READ COMMITTED transactions, where a failed statement aborts the
//! whole transaction: expected refusals (a taken e-mail, an unknown tenant or user) are found
//! with `ON CONFLICT DO NOTHING` and plain lookups, never by catching an error. Users and
//! tenants are never deleted, so one seen to exist still exists when the insert runs.

use super::pool::{PgResult, Tx};
use crate::guards::last_owner_refusal;
use crate::{NewUser, StoreError, UserChange};
use postgres::Row;
use sealtrail_core::policy::loses_last_owner;
use sealtrail_core::session::Session;
use sealtrail_core::users::{Role, User};
use sealtrail_core::{TenantId, Timestamp};

/// The columns [`user_from_row`] decodes, in its order.
const USER_COLUMNS: &str =
    "id, tenant, email, name, role, password_hash, created_at, deactivated_at";

/// Decodes a user row; an unknown role means the row was not written by this version.
fn user_from_row(row: &Row) -> PgResult<User> {
    let id: String = row.try_get(0)?;
    let role: String = row.try_get(4)?;
    let role = role
        .parse::<Role>()
        .map_err(|e| StoreError::Corrupt(format!("user {id} role: {e}")))?;
    Ok(User {
        tenant: TenantId(row.try_get(1)?),
        email: row.try_get(2)?,
        name: row.try_get(3)?,
        role,
        password_hash: row.try_get(5)?,
        created_at: Timestamp(row.try_get(6)?),
        deactivated_at: row.try_get::<_, Option<i64>>(7)?.map(Timestamp),
        id,
    })
}

/// True if a tenant with this id exists.
fn tenant_exists(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<bool> {
    Ok(tx
        .query_opt("SELECT 1 FROM tenants WHERE id = $1", &[&tenant.0])?
        .is_some())
}

/// Stores a new user. `Conflict` for an e-mail taken in the tenant (a concurrent creation of
/// the same e-mail is waited for, then seen), `NotFound` for an unknown tenant.
pub(crate) fn create_user(tx: &mut Tx<'_>, tenant: TenantId, user: &NewUser) -> PgResult<User> {
    if !tenant_exists(tx, tenant)? {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)).into());
    }
    let id = uuid::Uuid::now_v7().to_string();
    let created_at = Timestamp::now();
    let inserted = tx.query_opt(
        "INSERT INTO users (id, tenant, email, name, role, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant, email) DO NOTHING RETURNING id",
        &[
            &id,
            &tenant.0,
            &user.email,
            &user.name,
            &user.role.as_str(),
            &user.password_hash,
            &created_at.millis(),
        ],
    )?;
    if inserted.is_none() {
        return Err(StoreError::Conflict(format!(
            "a user with e-mail `{}` already exists in this tenant",
            user.email
        ))
        .into());
    }
    Ok(User {
        id,
        tenant,
        email: user.email.clone(),
        name: user.name.clone(),
        role: user.role,
        created_at,
        deactivated_at: None,
        password_hash: user.password_hash.clone(),
    })
}

/// The tenant's user with this e-mail, active or not.
pub(crate) fn user_by_email(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    email: &str,
) -> PgResult<Option<User>> {
    if email.contains('\0') {
        // PostgreSQL text cannot hold U+0000, so nothing stored can match it.
        return Ok(None);
    }
    tx.query_opt(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE tenant = $1 AND email = $2"),
        &[&tenant.0, &email],
    )?
    .as_ref()
    .map(user_from_row)
    .transpose()
}

/// The tenant's user with this id; `None` for another tenant's user.
pub(crate) fn user_by_id(tx: &mut Tx<'_>, tenant: TenantId, id: &str) -> PgResult<Option<User>> {
    if id.contains('\0') {
        // PostgreSQL text cannot hold U+0000, so nothing stored can match it.
        return Ok(None);
    }
    tx.query_opt(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE tenant = $1 AND id = $2"),
        &[&tenant.0, &id],
    )?
    .as_ref()
    .map(user_from_row)
    .transpose()
}

/// The tenant's users, oldest first; ties in the same millisecond go by id in byte order, as
/// SQLite's binary collation sorts them.
pub(crate) fn list_users(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<Vec<User>> {
    tx.query(
        &format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant = $1
             ORDER BY created_at, id COLLATE \"C\""
        ),
        &[&tenant.0],
    )?
    .iter()
    .map(user_from_row)
    .collect()
}

/// Applies one change and checks the tenant keeps an active owner. The tenant row is locked
/// first, so concurrent changes to one tenant's users serialise on every node: two admins
/// demoting two owners at once cannot leave a tenant nobody can administer (the second sees
/// the first's committed change and is refused).
pub(crate) fn update_user(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    id: &str,
    change: &UserChange,
) -> PgResult<Option<User>> {
    let locked = tx.query_opt(
        "SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
        &[&tenant.0],
    )?;
    if locked.is_none() {
        return Ok(None);
    }
    let Some(before) = user_by_id(tx, tenant, id)? else {
        return Ok(None);
    };
    let ends_sessions = match change {
        UserChange::Role(role) => {
            tx.execute(
                "UPDATE users SET role = $3 WHERE tenant = $1 AND id = $2",
                &[&tenant.0, &id, &role.as_str()],
            )?;
            false
        }
        UserChange::PasswordHash(hash) => {
            tx.execute(
                "UPDATE users SET password_hash = $3 WHERE tenant = $1 AND id = $2",
                &[&tenant.0, &id, hash],
            )?;
            true
        }
        UserChange::Deactivate => {
            tx.execute(
                "UPDATE users SET deactivated_at = COALESCE(deactivated_at, $3)
                 WHERE tenant = $1 AND id = $2",
                &[&tenant.0, &id, &Timestamp::now().millis()],
            )?;
            true
        }
    };
    if ends_sessions {
        tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&id])?;
    }
    let was_owner = before.role == Role::Owner && before.is_active();
    if was_owner {
        let owners: i64 = tx
            .query_one(
                "SELECT count(*) FROM users WHERE tenant = $1 AND role = $2
                 AND deactivated_at IS NULL",
                &[&tenant.0, &Role::Owner.as_str()],
            )?
            .try_get(0)?;
        if loses_last_owner(was_owner, owners) {
            // Returning an error rolls the whole change back, sessions included.
            return Err(last_owner_refusal().into());
        }
    }
    user_by_id(tx, tenant, id)
}

/// Records a session. `NotFound` for an unknown user or tenant, `Conflict` for a token hash
/// already stored (checked first, as SQLite checks uniqueness before foreign keys).
pub(crate) fn create_session(tx: &mut Tx<'_>, session: &Session) -> PgResult<()> {
    let owner_exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)
                AND EXISTS (SELECT 1 FROM tenants WHERE id = $2)",
            &[&session.user_id, &session.tenant.0],
        )?
        .try_get(0)?;
    let token = session.token_hash.as_slice();
    let inserted = owner_exists
        && tx
            .query_opt(
                "INSERT INTO sessions (token_hash, tenant, user_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (token_hash) DO NOTHING RETURNING 1",
                &[
                    &token,
                    &session.tenant.0,
                    &session.user_id,
                    &session.created_at.millis(),
                    &session.expires_at.millis(),
                ],
            )?
            .is_some();
    if inserted {
        return Ok(());
    }
    let taken = owner_exists
        || tx
            .query_opt("SELECT 1 FROM sessions WHERE token_hash = $1", &[&token])?
            .is_some();
    Err(if taken {
        StoreError::Conflict("a session with this token already exists".into())
    } else {
        StoreError::NotFound(format!(
            "user {} in tenant {}",
            session.user_id, session.tenant.0
        ))
    }
    .into())
}

/// The session with this token hash, in any tenant, expired or not.
pub(crate) fn session(tx: &mut Tx<'_>, token_hash: [u8; 32]) -> PgResult<Option<Session>> {
    let Some(row) = tx.query_opt(
        "SELECT tenant, user_id, created_at, expires_at FROM sessions WHERE token_hash = $1",
        &[&token_hash.as_slice()],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(Session {
        token_hash,
        tenant: TenantId(row.try_get(0)?),
        user_id: row.try_get(1)?,
        created_at: Timestamp(row.try_get(2)?),
        expires_at: Timestamp(row.try_get(3)?),
    }))
}

/// Ends one session; ending an unknown one is not an error.
pub(crate) fn delete_session(tx: &mut Tx<'_>, token_hash: [u8; 32]) -> PgResult<()> {
    tx.execute(
        "DELETE FROM sessions WHERE token_hash = $1",
        &[&token_hash.as_slice()],
    )?;
    Ok(())
}

/// Deletes the sessions with `expires_at <= now` in every tenant; returns how many.
pub(crate) fn delete_expired_sessions(tx: &mut Tx<'_>, now: Timestamp) -> PgResult<u64> {
    tx.execute(
        "DELETE FROM sessions WHERE expires_at <= $1",
        &[&now.millis()],
    )
}
