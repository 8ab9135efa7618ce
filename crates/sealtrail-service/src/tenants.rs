//! Tenant and API-key administration, shared by the HTTP API and the CLI so both enforce the
//! same rules and both leave the same audit entries.

use crate::audit::{props, SelfAudit};
use crate::ServiceError;
use sealtrail_core::entry::{Actor, Target};
use sealtrail_core::keys::{self, ApiKey, Scope};
use sealtrail_core::{validate_tenant_name, Tenant, TenantId};
use sealtrail_store::{Store, StoreError, TenantLimits};
use serde_json::{json, Map};

/// A key just created: the only moment its plaintext exists.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The stored record.
    pub key: ApiKey,
    /// The secret to show once; it is not stored.
    pub plaintext: String,
}

/// What the first start of an empty data dir created, to print once.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// Name of the tenant created.
    pub tenant: String,
    /// Plaintext admin key for it.
    pub admin_key: String,
    /// E-mail of the first user, an owner, who signs in to the web page.
    pub owner_email: String,
    /// That user's generated password, shown once.
    pub owner_password: String,
}

/// The first user's sign-in name on a new installation.
pub const FIRST_OWNER_EMAIL: &str = "admin@localhost";

/// Longest key label accepted.
const MAX_KEY_NAME: usize = 128;

/// Creates a tenant and records it in the new tenant's own log.
pub async fn create_tenant(
    store: &dyn Store,
    name: &str,
    actor: &Actor,
) -> Result<Tenant, ServiceError> {
    validate_tenant_name(name).map_err(ServiceError::Invalid)?;
    let tenant = store.create_tenant(name).await?;
    let audit = SelfAudit {
        channel: "security",
        action: "tenant.created",
        event: "created",
        description: format!("Tenant {name} created"),
        actor: actor.clone(),
        target: Some(Target {
            kind: "tenant".into(),
            id: Some(name.to_string()),
            name: Some(name.to_string()),
        }),
        properties: Map::new(),
    };
    store.append(tenant.id, vec![audit.into_entry()]).await?;
    Ok(tenant)
}

/// Creates an API key, stores only its hash, and audits the creation (never the secret).
pub async fn create_api_key(
    store: &dyn Store,
    tenant: TenantId,
    name: &str,
    scopes: &[Scope],
    actor: &Actor,
) -> Result<CreatedKey, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_KEY_NAME || name.chars().any(char::is_control)
    {
        return Err(ServiceError::Invalid(format!(
            "key name must be 1-{MAX_KEY_NAME} characters without control characters"
        )));
    }
    if scopes.is_empty() {
        return Err(ServiceError::Invalid(
            "at least one scope is required (ingest, read, export, monitor, admin)".into(),
        ));
    }
    let generated = keys::generate();
    let key = store
        .insert_api_key(tenant, &generated.prefix, generated.hash, name, scopes)
        .await?;
    let audit = SelfAudit {
        channel: "security",
        action: "api_key.created",
        event: "created",
        description: format!(
            "API key \"{name}\" created with scopes {}",
            Scope::join(scopes)
        ),
        actor: actor.clone(),
        target: Some(key_target(&key)),
        properties: props(&[("scopes", json!(Scope::join(scopes)))]),
    };
    store.append(tenant, vec![audit.into_entry()]).await?;
    Ok(CreatedKey {
        key,
        plaintext: generated.plaintext,
    })
}

/// Revokes a key of `tenant`. Revoking an already revoked key is not an error and is not
/// audited twice.
pub async fn revoke_api_key(
    store: &dyn Store,
    tenant: TenantId,
    id: &str,
    actor: &Actor,
) -> Result<ApiKey, ServiceError> {
    let before = store
        .list_api_keys(tenant)
        .await?
        .into_iter()
        .find(|k| k.id == id);
    let Some(before) = before else {
        return Err(ServiceError::NotFound(format!("API key {id}")));
    };
    let key = store
        .revoke_api_key(tenant, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("API key {id}")))?;
    if before.revoked_at.is_none() {
        let audit = SelfAudit {
            channel: "security",
            action: "api_key.revoked",
            event: "deleted",
            description: format!("API key \"{}\" revoked", key.name),
            actor: actor.clone(),
            target: Some(key_target(&key)),
            properties: Map::new(),
        };
        store.append(tenant, vec![audit.into_entry()]).await?;
    }
    Ok(key)
}

/// A limit as people read it: the number, or "unlimited".
fn limit_text<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "unlimited".to_string(), |v| v.to_string())
}

/// Replaces the tenant's usage limits (validated by the store) and audits the change with the
/// before and after values; an unchanged set is not audited.
pub async fn set_limits(
    store: &dyn Store,
    tenant: TenantId,
    limits: TenantLimits,
    actor: &Actor,
) -> Result<TenantLimits, ServiceError> {
    let before = store.settings(tenant).await?.limits;
    let after = store.set_limits(tenant, limits).await?.limits;
    if before != after {
        let audit = SelfAudit {
            channel: "security",
            action: "limits.changed",
            event: "updated",
            description: format!(
                "Usage limits changed: {} requests/s per API key, {} ingested events/s, daily quota {}",
                limit_text(after.requests_per_second_per_key),
                limit_text(after.ingest_events_per_second),
                limit_text(after.daily_event_quota)
            ),
            actor: actor.clone(),
            target: None,
            properties: Map::new(),
        };
        let changes = sealtrail_core::entry::Changes {
            before: Some(json!(before)),
            after: Some(json!(after)),
        };
        let entry = audit.into_entry_with(
            sealtrail_core::entry::Outcome::Success,
            sealtrail_core::entry::Context::default(),
            Some(changes),
        );
        store.append(tenant, vec![entry]).await?;
    }
    Ok(after)
}

fn key_target(key: &ApiKey) -> Target {
    Target {
        kind: "api_key".into(),
        id: Some(key.id.clone()),
        name: Some(key.name.clone()),
    }
}

/// On the first start with an empty store, creates the `default` tenant, an admin key and an
/// owner who can sign in to the web page, so a new user can make their first request and open
/// the audit page at once. Does nothing when any tenant exists.
pub async fn bootstrap(store: &dyn Store) -> Result<Option<Bootstrap>, ServiceError> {
    if !store.list_tenants().await?.is_empty() {
        return Ok(None);
    }
    let system = Actor::system("Sealtrail");
    let tenant = match create_tenant(store, "default", &system).await {
        Ok(tenant) => tenant,
        // Another node sharing the database won the race to set it up: it prints the
        // credentials, this one starts without.
        Err(ServiceError::Store(StoreError::Conflict(_))) => return Ok(None),
        Err(e) => return Err(e),
    };
    let created = create_api_key(
        store,
        tenant.id,
        "bootstrap admin",
        &[Scope::Admin],
        &system,
    )
    .await?;
    let owner = crate::users::create_user(
        store,
        tenant.id,
        FIRST_OWNER_EMAIL,
        Some("Administrator"),
        sealtrail_core::users::Role::Owner,
        None,
        &crate::users::Acting::operator(system),
    )
    .await?;
    Ok(Some(Bootstrap {
        tenant: tenant.name,
        admin_key: created.plaintext,
        owner_email: owner.user.email,
        owner_password: owner.generated_password.unwrap_or_default(),
    }))
}

/// Whether `name` names `tenant`: its name, or one of its aliases (how the compatible APIs'
/// project and organization ids are matched to the key's tenant).
pub async fn is_named(
    store: &dyn Store,
    tenant: TenantId,
    name: &str,
) -> Result<bool, ServiceError> {
    if store
        .tenant_by_id(tenant)
        .await?
        .is_some_and(|t| t.name == name)
    {
        return Ok(true);
    }
    if sealtrail_core::validate_tenant_alias(name).is_err() {
        return Ok(false);
    }
    Ok(store.has_tenant_alias(tenant, name).await?)
}

/// Gives `tenant` the alias `alias`, recorded in its log as `tenant.alias_added`.
pub async fn add_alias(
    store: &dyn Store,
    tenant: TenantId,
    alias: &str,
    actor: &Actor,
) -> Result<(), ServiceError> {
    sealtrail_core::validate_tenant_alias(alias).map_err(ServiceError::Invalid)?;
    store.add_tenant_alias(tenant, alias).await?;
    audit_alias(
        store,
        tenant,
        alias,
        actor,
        "tenant.alias_added",
        "created",
        "added",
    )
    .await
}

/// Removes `tenant`'s alias `alias` (`NotFound` when it has none), recorded as
/// `tenant.alias_removed`.
pub async fn remove_alias(
    store: &dyn Store,
    tenant: TenantId,
    alias: &str,
    actor: &Actor,
) -> Result<(), ServiceError> {
    if !store.remove_tenant_alias(tenant, alias).await? {
        return Err(ServiceError::NotFound(format!(
            "alias `{alias}` of this tenant"
        )));
    }
    audit_alias(
        store,
        tenant,
        alias,
        actor,
        "tenant.alias_removed",
        "deleted",
        "removed",
    )
    .await
}

/// The audit entry of an alias change.
async fn audit_alias(
    store: &dyn Store,
    tenant: TenantId,
    alias: &str,
    actor: &Actor,
    action: &'static str,
    event: &'static str,
    verb: &str,
) -> Result<(), ServiceError> {
    let audit = SelfAudit {
        channel: "security",
        action,
        event,
        description: format!("Tenant alias {alias} {verb}"),
        actor: actor.clone(),
        target: Some(Target {
            kind: "tenant_alias".into(),
            id: Some(alias.to_string()),
            name: None,
        }),
        properties: Map::new(),
    };
    store.append(tenant, vec![audit.into_entry()]).await?;
    Ok(())
}
