//! Who is calling: the API key in `Authorization: Bearer`, and therefore which tenant.
//!
//! The tenant always comes from the key — never from a header or parameter the client could
//! change — so no endpoint can be pointed at another tenant's data.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use sealtrail_core::entry::{Actor, ActorType};
use sealtrail_core::keys::{self, ApiKey, Scope};
use sealtrail_core::TenantId;

/// An authenticated caller: a live API key and the tenant it belongs to.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's stored record (never the secret).
    pub key: ApiKey,
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

impl FromRequestParts<AppState> for Caller {
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
        let invalid = || ApiError::unauthenticated("invalid or revoked API key");
        let prefix = keys::prefix_of(presented).ok_or_else(invalid)?;
        let key = state
            .store
            .api_key_by_prefix(prefix)
            .await?
            .ok_or_else(invalid)?;
        if !keys::verify(presented, &key.hash) || key.revoked_at.is_some() {
            return Err(invalid());
        }
        Ok(Caller { key })
    }
}
