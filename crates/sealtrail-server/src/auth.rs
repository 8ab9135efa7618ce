//! Who is calling: the API key in `Authorization: Bearer`, and therefore which tenant.
//!
//! The tenant always comes from the key — never from a header or parameter the client could
//! change — so no endpoint can be pointed at another tenant's data. Every endpoint but ingest
//! also checks the tenant's IP allowlist ([`Caller`]); ingest ([`IngestCaller`]) does not,
//! because applications send events from wherever they run, while reading the trail is what
//! the allowlist protects.

use crate::client_addr::ClientInfo;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use sealtrail_core::entry::{Actor, ActorType};
use sealtrail_core::ip_allowlist::IpAllowlist;
use sealtrail_core::keys::{self, ApiKey, Scope};
use sealtrail_core::TenantId;
use sealtrail_store::StoreError;
use std::net::IpAddr;

/// An authenticated caller: a live API key and the tenant it belongs to.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's stored record (never the secret).
    pub key: ApiKey,
    /// Its tenant's IP allowlist, read with the key (one lookup for both).
    ip_allowlist: Vec<String>,
}

impl Caller {
    /// The tenant every store call of this request is scoped to.
    pub fn tenant(&self) -> TenantId {
        self.key.tenant
    }

    /// Refuses with 403, naming the scope, when the key does not grant it.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.key.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "missing_scope",
                format!(
                    "this API key has scopes [{}]; this request needs `{scope}`",
                    Scope::join(&self.key.scopes)
                ),
            ))
        }
    }

    /// How Sealtrail's own audit entries attribute actions taken with this key.
    pub fn as_actor(&self) -> Actor {
        Actor {
            kind: ActorType::Api,
            id: Some(format!("key:{}", self.key.id)),
            name: Some(self.key.name.clone()),
            email: None,
            via: Some("API key".into()),
        }
    }
}

/// Refuses with 403 `ip_not_allowed`, naming the address, when the tenant's allowlist does not
/// include `ip`.
pub async fn enforce_allowlist(
    state: &AppState,
    tenant: TenantId,
    ip: IpAddr,
) -> Result<(), ApiError> {
    let entries = state.store.settings(tenant).await?.ip_allowlist;
    check_allowlist(&entries, ip)
}

/// Refuses with 403 `ip_not_allowed`, naming the address, when `entries` (a tenant's
/// allowlist) does not include `ip`.
fn check_allowlist(entries: &[String], ip: IpAddr) -> Result<(), ApiError> {
    let list = IpAllowlist::parse(entries).map_err(StoreError::Corrupt)?;
    if list.allows(ip) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ip_not_allowed",
            format!("requests from {ip} are not on this tenant's IP allowlist"),
        ))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = IngestCaller::from_request_parts(parts, state).await?.0;
        allowlisted(parts, state, caller).await
    }
}

/// `caller` once the request's address is on its tenant's IP allowlist: what [`Caller`] adds
/// to [`IngestCaller`], for the extractors of the compatible APIs, which read the key from
/// their own headers but guard reading the trail the same way.
pub async fn allowlisted(
    parts: &mut Parts,
    state: &AppState,
    caller: Caller,
) -> Result<Caller, ApiError> {
    let client = ClientInfo::from_request_parts(parts, state).await?;
    check_allowlist(&caller.ip_allowlist, client.ip)?;
    Ok(caller)
}

/// An authenticated caller whose request is not subject to the IP allowlist: event ingest.
#[derive(Debug, Clone)]
pub struct IngestCaller(pub Caller);

impl FromRequestParts<AppState> for IngestCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header_value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthenticated("missing `Authorization: Bearer <API key>` header")
        })?;
        let presented = header_value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthenticated("the Authorization header must read `Bearer <API key>`")
            })?;
        let caller = authenticate(state, presented).await?;
        // The CORS layer answers with this tenant's allowed origins.
        if let Some(slot) = parts.extensions.get::<crate::cors::TenantSlot>() {
            let _ = slot.0.set(caller.tenant());
        }
        Ok(IngestCaller(caller))
    }
}

/// The caller holding `presented`, whatever header carried it (`Bearer` here, Retraced's
/// `token=` on its compatible routes): one check of the key's hash, revocation and request
/// rate for every route.
pub async fn authenticate(state: &AppState, presented: &str) -> Result<Caller, ApiError> {
    let invalid = || ApiError::unauthenticated("invalid or revoked API key");
    let prefix = keys::prefix_of(presented).ok_or_else(invalid)?;
    let (key, settings) = state
        .store
        .api_key_with_settings(prefix)
        .await?
        .ok_or_else(invalid)?;
    if !keys::verify(presented, &key.hash) || key.revoked_at.is_some() {
        return Err(invalid());
    }
    state.usage.charge_key(&key, settings.limits)?;
    Ok(Caller {
        key,
        ip_allowlist: settings.ip_allowlist,
    })
}
