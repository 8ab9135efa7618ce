//! People and their access: users, roles, passwords, sign-in and the IP allowlist. Shared by
//! the web page, the CLI and first-start set-up, so every path enforces the same rules and
//! leaves the same audit entries (channel `security` for account changes, `auth` for sign-ins).

use crate::audit::{props, SelfAudit};
use crate::passwords::PasswordWork;
use crate::ServiceError;
use sealtrail_core::entry::{Actor, ActorType, Changes, Context, Outcome, Target};
use sealtrail_core::ip_allowlist::IpAllowlist;
use sealtrail_core::session::{self, Session, SESSION_LIFETIME_MS};
use sealtrail_core::users::{self, Role, User};
use sealtrail_core::{Tenant, TenantId, Timestamp};
use sealtrail_store::{NewUser, Store, StoreError, UserChange};
use serde_json::{json, Map};
use std::net::IpAddr;

/// Who is acting and from where, for the audit entry an account change leaves.
#[derive(Debug, Clone)]
pub struct Acting {
    /// The actor recorded.
    pub actor: Actor,
    /// The acting user's role; `None` for the operator at the CLI, who may do anything.
    pub role: Option<Role>,
    /// Address and user agent of the request, when there was one.
    pub context: Context,
}

impl Acting {
    /// The operator at the command line (or first-start set-up).
    pub fn operator(actor: Actor) -> Self {
        Acting {
            actor,
            role: None,
            context: Context::default(),
        }
    }

    /// A signed-in user acting through the web page.
    pub fn user(user: &User, context: Context) -> Self {
        Acting {
            actor: user_actor(user),
            role: Some(user.role),
            context,
        }
    }

    fn may_assign(&self, role: Role) -> Result<(), ServiceError> {
        match self.role {
            Some(mine) if !mine.can_assign(role) => Err(ServiceError::Forbidden(format!(
                "your role ({mine}) cannot give or take away the {role} role"
            ))),
            _ => Ok(()),
        }
    }
}

/// How a user appears as the actor of their own actions.
pub fn user_actor(user: &User) -> Actor {
    Actor {
        kind: ActorType::User,
        id: Some(user.id.clone()),
        name: Some(user.name.clone()),
        email: Some(user.email.clone()),
        via: Some("Web".into()),
    }
}

fn user_target(user: &User) -> Target {
    Target {
        kind: "user".into(),
        id: Some(user.id.clone()),
        name: Some(user.email.clone()),
    }
}

/// A user just created, with the first password when Sealtrail generated it (shown once).
#[derive(Debug, Clone)]
pub struct CreatedUser {
    /// The stored user.
    pub user: User,
    /// The generated password; `None` when the caller chose one.
    pub generated_password: Option<String>,
}

/// Hashes in the process's bounded password work (Argon2 takes tens of milliseconds and
/// 19 MiB by design).
async fn hash(password: String) -> Result<String, ServiceError> {
    PasswordWork::global()
        .hash(password)
        .await
        .map_err(|e| ServiceError::Store(StoreError::Backend(e.to_string())))
}

/// Verifies for a signed-in user, waiting for a slot.
async fn verify(password: String, stored: String) -> bool {
    PasswordWork::global().verify(password, stored).await
}

async fn append(
    store: &dyn Store,
    tenant: TenantId,
    audit: SelfAudit,
    result: Outcome,
    context: &Context,
    changes: Option<Changes>,
) -> Result<(), StoreError> {
    store
        .append(
            tenant,
            vec![audit.into_entry_with(result, context.clone(), changes)],
        )
        .await
        .map(|_| ())
}

/// One field's before and after, as the page's Details shows changes side by side.
fn field_change(
    field: &str,
    before: serde_json::Value,
    after: serde_json::Value,
) -> Option<Changes> {
    Some(Changes {
        before: Some(json!({ field: before })),
        after: Some(json!({ field: after })),
    })
}

/// Creates a user. Without `password` a strong one is generated and returned once.
pub async fn create_user(
    store: &dyn Store,
    tenant: TenantId,
    email: &str,
    name: Option<&str>,
    role: Role,
    password: Option<String>,
    by: &Acting,
) -> Result<CreatedUser, ServiceError> {
    by.may_assign(role)?;
    let email = users::normalize_email(email).map_err(ServiceError::Invalid)?;
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => users::validate_display_name(n).map_err(ServiceError::Invalid)?,
        None => email.split('@').next().unwrap_or(&email).to_string(),
    };
    if let Some(p) = &password {
        users::validate_password(p).map_err(ServiceError::Invalid)?;
    }
    if store.user_by_email(tenant, &email).await?.is_some() {
        return Err(ServiceError::Refused(format!(
            "a user with e-mail {email} already exists in this tenant"
        )));
    }
    let generated = password.is_none().then(users::generate_password);
    let plaintext = password.or_else(|| generated.clone()).unwrap_or_default();
    let password_hash = hash(plaintext).await?;
    let user = store
        .create_user(
            tenant,
            NewUser {
                email,
                name,
                role,
                password_hash,
            },
        )
        .await?;
    let audit = SelfAudit {
        channel: "security",
        action: "user.created",
        event: "created",
        description: format!("User {} created with role {role}", user.email),
        actor: by.actor.clone(),
        target: Some(user_target(&user)),
        properties: props(&[("role", json!(role.as_str()))]),
    };
    append(store, tenant, audit, Outcome::Success, &by.context, None).await?;
    Ok(CreatedUser {
        user,
        generated_password: generated,
    })
}

async fn existing(store: &dyn Store, tenant: TenantId, id: &str) -> Result<User, ServiceError> {
    store
        .user_by_id(tenant, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("user {id}")))
}

/// The tenant's user by id or e-mail, for the CLI, which names people by address.
pub async fn find_user(
    store: &dyn Store,
    tenant: TenantId,
    id_or_email: &str,
) -> Result<User, ServiceError> {
    if let Some(u) = store.user_by_id(tenant, id_or_email).await? {
        return Ok(u);
    }
    let email = users::normalize_email(id_or_email).unwrap_or_default();
    store
        .user_by_email(tenant, &email)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("user {id_or_email}")))
}

/// Changes a user's role. Only owners touch the owner role; the last active owner keeps it.
pub async fn change_role(
    store: &dyn Store,
    tenant: TenantId,
    id: &str,
    role: Role,
    by: &Acting,
) -> Result<User, ServiceError> {
    let before = existing(store, tenant, id).await?;
    by.may_assign(before.role)?;
    by.may_assign(role)?;
    if before.role == role {
        return Ok(before);
    }
    let after = store
        .update_user(tenant, id, UserChange::Role(role))
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("user {id}")))?;
    let audit = SelfAudit {
        channel: "security",
        action: "user.role_changed",
        event: "updated",
        description: format!(
            "Role of {} changed from {} to {role}",
            after.email, before.role
        ),
        actor: by.actor.clone(),
        target: Some(user_target(&after)),
        properties: Map::new(),
    };
    let changes = field_change("role", json!(before.role.as_str()), json!(role.as_str()));
    append(store, tenant, audit, Outcome::Success, &by.context, changes).await?;
    Ok(after)
}

/// Deactivates a user (revocation): they cannot sign in and their sessions end at once.
pub async fn deactivate_user(
    store: &dyn Store,
    tenant: TenantId,
    id: &str,
    by: &Acting,
) -> Result<User, ServiceError> {
    let before = existing(store, tenant, id).await?;
    by.may_assign(before.role)?;
    if !before.is_active() {
        return Ok(before);
    }
    let after = store
        .update_user(tenant, id, UserChange::Deactivate)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("user {id}")))?;
    let audit = SelfAudit {
        channel: "security",
        action: "user.deactivated",
        event: "deactivated",
        description: format!("User {} deactivated; their sessions ended", after.email),
        actor: by.actor.clone(),
        target: Some(user_target(&after)),
        properties: props(&[("role", json!(after.role.as_str()))]),
    };
    append(store, tenant, audit, Outcome::Success, &by.context, None).await?;
    Ok(after)
}

/// Sets a new password (every session of the user ends). Users changing their own password
/// must give the current one (`current`); operators resetting one do not. Returns the
/// generated password when `new` is `None`.
pub async fn set_password(
    store: &dyn Store,
    tenant: TenantId,
    id: &str,
    current: Option<String>,
    new: Option<String>,
    by: &Acting,
) -> Result<Option<String>, ServiceError> {
    let user = existing(store, tenant, id).await?;
    if let Some(current) = current {
        if !verify(current, user.password_hash.clone()).await {
            return Err(ServiceError::Invalid(
                "the current password is not correct".into(),
            ));
        }
    }
    if let Some(p) = &new {
        users::validate_password(p).map_err(ServiceError::Invalid)?;
    }
    let generated = new.is_none().then(users::generate_password);
    let plaintext = new.or_else(|| generated.clone()).unwrap_or_default();
    let password_hash = hash(plaintext).await?;
    store
        .update_user(tenant, id, UserChange::PasswordHash(password_hash))
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("user {id}")))?;
    let audit = SelfAudit {
        channel: "security",
        action: "user.password_changed",
        event: "updated",
        description: format!("Password of {} changed; their sessions ended", user.email),
        actor: by.actor.clone(),
        target: Some(user_target(&user)),
        properties: Map::new(),
    };
    append(store, tenant, audit, Outcome::Success, &by.context, None).await?;
    Ok(generated)
}

/// Replaces the tenant's IP allowlist and audits the change. When the change comes from a
/// request, a list that would shut out that request's own address is refused: an admin locking
/// themselves out by a typo is the classic way to lose an admin console.
pub async fn set_ip_allowlist(
    store: &dyn Store,
    tenant: TenantId,
    entries: Vec<String>,
    from: Option<IpAddr>,
    by: &Acting,
) -> Result<Vec<String>, ServiceError> {
    let parsed = IpAllowlist::parse(&entries).map_err(ServiceError::Invalid)?;
    if let Some(ip) = from {
        if !parsed.allows(ip) {
            return Err(ServiceError::Invalid(format!(
                "this list would block your own address {ip}; add it (or its network) first"
            )));
        }
    }
    let before = store.settings(tenant).await?.ip_allowlist;
    let after = store
        .set_ip_allowlist(tenant, parsed.entries())
        .await?
        .ip_allowlist;
    let describe = |l: &[String]| {
        if l.is_empty() {
            "any address".to_string()
        } else {
            l.join(", ")
        }
    };
    let audit = SelfAudit {
        channel: "security",
        action: "ip_allowlist.changed",
        event: "updated",
        description: format!(
            "IP allowlist changed from {} to {}",
            describe(&before),
            describe(&after)
        ),
        actor: by.actor.clone(),
        target: None,
        properties: Map::new(),
    };
    let changes = field_change("ip_allowlist", json!(before), json!(after));
    append(store, tenant, audit, Outcome::Success, &by.context, changes).await?;
    Ok(after)
}

/// Replaces the web origins allowed to call the tenant's API from a browser, and audits the
/// change: naming an origin lets that site's pages read the log with a key they hold.
pub async fn set_cors_origins(
    store: &dyn Store,
    tenant: TenantId,
    origins: Vec<String>,
    by: &Acting,
) -> Result<Vec<String>, ServiceError> {
    let checked = sealtrail_core::cors::check_origins(&origins).map_err(ServiceError::Invalid)?;
    let before = store.settings(tenant).await?.cors_origins;
    let after = store.set_cors_origins(tenant, checked).await?.cors_origins;
    let describe = |l: &[String]| {
        if l.is_empty() {
            "none".to_string()
        } else {
            l.join(", ")
        }
    };
    let audit = SelfAudit {
        channel: "security",
        action: "cors_origins.changed",
        event: "updated",
        description: format!(
            "Web origins allowed to call the API from a browser changed from {} to {}",
            describe(&before),
            describe(&after)
        ),
        actor: by.actor.clone(),
        target: None,
        properties: Map::new(),
    };
    let changes = field_change("cors_origins", json!(before), json!(after));
    append(store, tenant, audit, Outcome::Success, &by.context, changes).await?;
    Ok(after)
}

/// Why a sign-in was refused. The page shows one message for the first three, so nobody can
/// learn which accounts exist; the audit entry records the real reason.
#[derive(Debug)]
pub enum SignInRefusal {
    /// Unknown workspace, unknown e-mail or wrong password.
    BadCredentials,
    /// The account exists but was deactivated.
    Deactivated,
    /// Correct credentials from an address the tenant's allowlist does not include.
    AddressNotAllowed(IpAddr),
    /// Too many password checks are waiting; this one was not made (nothing is audited).
    Busy,
}

/// A successful sign-in: the cookie token (shown to the browser only) and who signed in.
#[derive(Debug)]
pub struct SignedIn {
    /// The session token for the cookie; only its hash is stored.
    pub token: String,
    /// The user.
    pub user: User,
}

/// Checks credentials and, when they hold, opens a session. Every attempt against an existing
/// workspace is audited (channel `auth`), successful or not.
pub async fn sign_in(
    store: &dyn Store,
    tenant: Option<&Tenant>,
    email: &str,
    password: String,
    ip: IpAddr,
    context: &Context,
) -> Result<Result<SignedIn, SignInRefusal>, StoreError> {
    let email = users::normalize_email(email).unwrap_or_default();
    let user = match tenant {
        Some(t) if !email.is_empty() => store.user_by_email(t.id, &email).await?,
        _ => None,
    };
    // Verify even when there is no such user, so both failures take the same time.
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| users::decoy_hash().to_string());
    let Ok(matched) = PasswordWork::global()
        .verify_or_busy(password, stored)
        .await
    else {
        return Ok(Err(SignInRefusal::Busy));
    };
    let password_ok = matched && user.is_some();
    let Some(tenant) = tenant else {
        return Ok(Err(SignInRefusal::BadCredentials));
    };
    let refusal = match &user {
        Some(u) if password_ok && !u.is_active() => Some(SignInRefusal::Deactivated),
        Some(_) if password_ok => {
            let allowlist = IpAllowlist::parse(&store.settings(tenant.id).await?.ip_allowlist)
                .map_err(StoreError::Corrupt)?;
            (!allowlist.allows(ip)).then_some(SignInRefusal::AddressNotAllowed(ip))
        }
        _ => Some(SignInRefusal::BadCredentials),
    };
    let (actor, target) = match &user {
        Some(u) => (user_actor(u), Some(user_target(u))),
        None => (Actor::system("Sign-in"), None),
    };
    if let Some(refusal) = refusal {
        let (reason, result) = match &refusal {
            SignInRefusal::BadCredentials if user.is_some() => ("wrong password", Outcome::Failure),
            SignInRefusal::BadCredentials => ("no such user", Outcome::Failure),
            SignInRefusal::Deactivated => ("account deactivated", Outcome::Denied),
            SignInRefusal::AddressNotAllowed(_) => {
                ("address not on the IP allowlist", Outcome::Denied)
            }
            SignInRefusal::Busy => ("not checked: server busy", Outcome::Failure),
        };
        let audit = SelfAudit {
            channel: "auth",
            action: "auth.sign_in_failed",
            event: "sign-in-failed",
            description: format!("Failed sign-in as {email}: {reason}"),
            actor,
            target,
            properties: props(&[("email", json!(email)), ("reason", json!(reason))]),
        };
        append(store, tenant.id, audit, result, context, None).await?;
        return Ok(Err(refusal));
    }
    let Some(user) = user else {
        return Ok(Err(SignInRefusal::BadCredentials));
    };
    let token = open_session(store, &user).await?;
    let audit = SelfAudit {
        channel: "auth",
        action: "auth.signed_in",
        event: "sign-in",
        description: format!("{} signed in", user.email),
        actor,
        target,
        properties: Map::new(),
    };
    append(store, tenant.id, audit, Outcome::Success, context, None).await?;
    Ok(Ok(SignedIn { token, user }))
}

/// Opens a session for a user whose identity was just proven (a sign-in, or a password change
/// that ended every other session); returns the cookie token.
pub async fn open_session(store: &dyn Store, user: &User) -> Result<String, StoreError> {
    let token = session::generate_token();
    let now = Timestamp::now();
    store
        .create_session(Session {
            token_hash: session::hash_token(&token),
            tenant: user.tenant,
            user_id: user.id.clone(),
            created_at: now,
            expires_at: Timestamp(now.millis() + SESSION_LIFETIME_MS),
        })
        .await?;
    Ok(token)
}

/// Ends a session and audits the sign-out.
pub async fn sign_out(
    store: &dyn Store,
    token: &str,
    user: &User,
    context: &Context,
) -> Result<(), StoreError> {
    store.delete_session(session::hash_token(token)).await?;
    let audit = SelfAudit {
        channel: "auth",
        action: "auth.signed_out",
        event: "sign-out",
        description: format!("{} signed out", user.email),
        actor: user_actor(user),
        target: Some(user_target(user)),
        properties: Map::new(),
    };
    append(store, user.tenant, audit, Outcome::Success, context, None).await
}
