//! Users and their web sessions: small writes run as jobs on the writer connection, lookups go
//! through the read pool. Sessions are keyed by the SHA-256 of their token; the token itself is
//! never stored.

use super::error::{backend, constraint_kind, Constraint};
use super::WriteError;
use crate::guards::last_owner_refusal;
use crate::{NewUser, StoreError, UserChange};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use sealtrail_core::policy::loses_last_owner;
use sealtrail_core::session::Session;
use sealtrail_core::users::{Role, User};
use sealtrail_core::{TenantId, Timestamp};

const USER_COLUMNS: &str =
    "id, tenant, email, name, role, password_hash, created_at, deactivated_at";

/// Decodes a user row; an unknown role means the row was not written by this version.
fn user_from_row(row: &Row<'_>) -> rusqlite::Result<Result<User, StoreError>> {
    let id: String = row.get(0)?;
    let role: String = row.get(4)?;
    let role = match role.parse::<Role>() {
        Ok(r) => r,
        Err(e) => return Ok(Err(StoreError::Corrupt(format!("user {id} role: {e}")))),
    };
    Ok(Ok(User {
        tenant: TenantId(row.get(1)?),
        email: row.get(2)?,
        name: row.get(3)?,
        role,
        password_hash: row.get(5)?,
        created_at: Timestamp(row.get(6)?),
        deactivated_at: row.get::<_, Option<i64>>(7)?.map(Timestamp),
        id,
    }))
}

fn one_user(
    conn: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Option<User>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE {condition}"
    ))
    .and_then(|mut s| s.query_row(params, user_from_row).optional())
    .map_err(backend("reading a user"))?
    .transpose()
}

/// Stores a new user. `Conflict` for a taken e-mail, `NotFound` for an unknown tenant.
pub(crate) fn create_user(
    conn: &mut Connection,
    tenant: TenantId,
    user: NewUser,
) -> Result<User, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id = uuid::Uuid::now_v7().to_string();
    let created_at = Timestamp::now();
    let inserted = tx.execute(
        "INSERT INTO users (id, tenant, email, name, role, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            tenant.0,
            user.email,
            user.name,
            user.role.as_str(),
            user.password_hash,
            created_at.millis()
        ],
    );
    if let Err(e) = inserted {
        return Err(match constraint_kind(&e) {
            Some(Constraint::Unique) => StoreError::Conflict(format!(
                "a user with e-mail `{}` already exists in this tenant",
                user.email
            ))
            .into(),
            Some(Constraint::ForeignKey) => {
                StoreError::NotFound(format!("tenant {}", tenant.0)).into()
            }
            _ => e.into(),
        });
    }
    tx.commit()?;
    Ok(User {
        id,
        tenant,
        email: user.email,
        name: user.name,
        role: user.role,
        created_at,
        deactivated_at: None,
        password_hash: user.password_hash,
    })
}

/// The tenant's user with this e-mail.
pub(crate) fn user_by_email(
    conn: &Connection,
    tenant: TenantId,
    email: &str,
) -> Result<Option<User>, StoreError> {
    one_user(conn, "tenant = ?1 AND email = ?2", params![tenant.0, email])
}

/// The tenant's user with this id.
pub(crate) fn user_by_id(
    conn: &Connection,
    tenant: TenantId,
    id: &str,
) -> Result<Option<User>, StoreError> {
    one_user(conn, "tenant = ?1 AND id = ?2", params![tenant.0, id])
}

/// The tenant's users, oldest first.
pub(crate) fn list_users(conn: &Connection, tenant: TenantId) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant = ?1 ORDER BY created_at, id"
        ))
        .map_err(backend("listing users"))?;
    let rows = stmt
        .query_map([tenant.0], user_from_row)
        .map_err(backend("listing users"))?;
    let mut users = Vec::new();
    for row in rows {
        users.push(row.map_err(backend("listing users"))??);
    }
    Ok(users)
}

/// Applies one change inside a transaction that also checks the tenant keeps an active owner,
/// so two admins demoting two owners at once cannot leave a tenant nobody can administer.
pub(crate) fn update_user(
    conn: &mut Connection,
    tenant: TenantId,
    id: &str,
    change: UserChange,
) -> Result<Option<User>, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(before) = user_by_id(&tx, tenant, id)? else {
        return Ok(None);
    };
    let now = Timestamp::now().millis();
    let ends_sessions = match &change {
        UserChange::Role(role) => {
            tx.execute(
                "UPDATE users SET role = ?3 WHERE tenant = ?1 AND id = ?2",
                params![tenant.0, id, role.as_str()],
            )?;
            false
        }
        UserChange::PasswordHash(hash) => {
            tx.execute(
                "UPDATE users SET password_hash = ?3 WHERE tenant = ?1 AND id = ?2",
                params![tenant.0, id, hash],
            )?;
            true
        }
        UserChange::Deactivate => {
            tx.execute(
                "UPDATE users SET deactivated_at = COALESCE(deactivated_at, ?3)
                 WHERE tenant = ?1 AND id = ?2",
                params![tenant.0, id, now],
            )?;
            true
        }
    };
    if ends_sessions {
        tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    }
    let was_owner = before.role == Role::Owner && before.is_active();
    if was_owner {
        let owners: i64 = tx.query_row(
            "SELECT count(*) FROM users WHERE tenant = ?1 AND role = 'owner'
             AND deactivated_at IS NULL",
            [tenant.0],
            |r| r.get(0),
        )?;
        if loses_last_owner(was_owner, owners) {
            return Err(last_owner_refusal().into());
        }
    }
    let after = user_by_id(&tx, tenant, id)?;
    tx.commit()?;
    Ok(after)
}

/// Records a session.
pub(crate) fn create_session(conn: &mut Connection, session: Session) -> Result<(), WriteError> {
    let inserted = conn.execute(
        "INSERT INTO sessions (token_hash, tenant, user_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            session.token_hash.as_slice(),
            session.tenant.0,
            session.user_id,
            session.created_at.millis(),
            session.expires_at.millis()
        ],
    );
    match inserted {
        Ok(_) => Ok(()),
        Err(e) => Err(match constraint_kind(&e) {
            Some(Constraint::ForeignKey) => StoreError::NotFound(format!(
                "user {} in tenant {}",
                session.user_id, session.tenant.0
            ))
            .into(),
            Some(Constraint::Unique) => {
                StoreError::Conflict("a session with this token already exists".into()).into()
            }
            _ => e.into(),
        }),
    }
}

/// The session with this token hash.
pub(crate) fn session(
    conn: &Connection,
    token_hash: [u8; 32],
) -> Result<Option<Session>, StoreError> {
    conn.prepare_cached(
        "SELECT tenant, user_id, created_at, expires_at FROM sessions WHERE token_hash = ?1",
    )
    .and_then(|mut s| {
        s.query_row([token_hash.as_slice()], |r| {
            Ok(Session {
                token_hash,
                tenant: TenantId(r.get(0)?),
                user_id: r.get(1)?,
                created_at: Timestamp(r.get(2)?),
                expires_at: Timestamp(r.get(3)?),
            })
        })
        .optional()
    })
    .map_err(backend("reading a session"))
}

/// Ends one session.
pub(crate) fn delete_session(
    conn: &mut Connection,
    token_hash: [u8; 32],
) -> Result<(), WriteError> {
    conn.execute(
        "DELETE FROM sessions WHERE token_hash = ?1",
        [token_hash.as_slice()],
    )?;
    Ok(())
}

/// Deletes expired sessions.
pub(crate) fn delete_expired_sessions(
    conn: &mut Connection,
    now: Timestamp,
) -> Result<u64, WriteError> {
    let n = conn.execute(
        "DELETE FROM sessions WHERE expires_at <= ?1",
        [now.millis()],
    )?;
    Ok(n as u64)
}
