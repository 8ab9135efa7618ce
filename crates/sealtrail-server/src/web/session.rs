//! The signed-in user of a page request: session cookie → stored session → active user → the
//! tenant's IP allowlist, checked on every request (a role change, deactivation or allowlist
//! change takes effect on the next click, not at the next sign-in).

use crate::client_addr::ClientInfo;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::frame::PageFrame;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use sealtrail_core::entry::Actor;
use sealtrail_core::ip_allowlist::IpAllowlist;
use sealtrail_core::session::{self, SESSION_LIFETIME_MS};
use sealtrail_core::users::{Role, User};
use sealtrail_core::{Tenant, Timestamp};
use sealtrail_service::users::{user_actor, Acting};

/// The session cookie's name.
pub const COOKIE: &str = "sealtrail_session";

/// A signed-in user, with where the request came from.
#[derive(Debug, Clone)]
pub struct WebUser {
    /// The user as stored now.
    pub user: User,
    /// Their tenant.
    pub tenant: Tenant,
    /// The request's address and user agent.
    pub client: ClientInfo,
    /// The session token from the cookie (for the CSRF token and sign-out).
    pub token: String,
}

impl WebUser {
    /// The page frame for this user.
    pub fn frame(&self, title: &str, current: &'static str) -> PageFrame {
        PageFrame {
            title: title.to_string(),
            user_name: self.user.name.clone(),
            user_email: self.user.email.clone(),
            role: self.user.role.to_string(),
            tenant: self.tenant.name.clone(),
            csrf: session::csrf_token(&self.token),
            can_view_log: self.user.role.can_view_log(),
            can_manage: self.user.role.can_manage(),
            current,
        }
    }

    /// How this user's actions are attributed.
    pub fn actor(&self) -> Actor {
        user_actor(&self.user)
    }

    /// This user acting through the page, for account changes.
    pub fn acting(&self) -> Acting {
        Acting::user(&self.user, self.client.context())
    }

    /// Refuses with a page naming the roles that can read the log.
    pub fn require_log_access(&self) -> Result<(), PageError> {
        if self.user.role.can_view_log() {
            return Ok(());
        }
        Err(PageError::Forbidden {
            title: "You can't view the audit log".into(),
            message: format!(
                "Your role in {} is {}. The audit log records who did what to whose data, so only \
                 the {} roles can see it. Ask an owner to change your role if you need access.",
                self.tenant.name,
                self.user.role,
                Role::log_viewers()
            ),
            frame: Some(Box::new(self.frame("Access denied", ""))),
        })
    }

    /// Refuses with a page naming the roles that can change settings.
    pub fn require_manage(&self) -> Result<(), PageError> {
        if self.user.role.can_manage() {
            return Ok(());
        }
        Err(PageError::Forbidden {
            title: "You can't change settings".into(),
            message: format!(
                "Your role in {} is {}. Settings, API keys and users are managed by the owner, \
                 super-admin and admin roles.",
                self.tenant.name, self.user.role
            ),
            frame: Some(Box::new(self.frame("Access denied", ""))),
        })
    }

    /// Checks a submitted form's CSRF token.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), PageError> {
        if session::csrf_matches(&self.token, submitted) {
            Ok(())
        } else {
            Err(PageError::BadRequest(
                "This form has expired or came from another site. Reload the page and try again."
                    .into(),
            ))
        }
    }
}

/// The value of the session cookie, if the request carries one.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The `Set-Cookie` header that stores a session (or, with an empty token, removes it).
pub fn set_cookie(token: &str, secure: bool) -> HeaderValue {
    let max_age = if token.is_empty() {
        0
    } else {
        SESSION_LIFETIME_MS / 1000
    };
    let secure = if secure { "; Secure" } else { "" };
    let value =
        format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&value)
        .unwrap_or(HeaderValue::from_static("sealtrail_session=; Max-Age=0"))
}

/// Refuses a form post whose `Origin` (or, lacking it, `Referer`) names another site: a second
/// line of defence behind the CSRF token, and the only one for the sign-in form.
pub fn check_same_origin(headers: &HeaderMap) -> Result<(), PageError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let (Some(host), Some(claimed)) = (host, claimed) else {
        return Ok(());
    };
    let authority = claimed
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
        .unwrap_or("");
    if authority.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(PageError::BadRequest(
            "This form was submitted from another site and was refused.".into(),
        ))
    }
}

fn path_and_query(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/audit".into())
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let next = if parts.method == axum::http::Method::GET {
            path_and_query(parts)
        } else {
            "/audit".to_string()
        };
        let sign_in = |reason| PageError::SignIn {
            next: next.clone(),
            reason,
        };
        let token = cookie_token(&parts.headers).ok_or_else(|| sign_in(None))?;
        let stored = state
            .store
            .session(session::hash_token(&token))
            .await?
            .ok_or_else(|| sign_in(None))?;
        if !stored.is_live(Timestamp::now()) {
            return Err(sign_in(Some("expired")));
        }
        let user = state
            .store
            .user_by_id(stored.tenant, &stored.user_id)
            .await?
            .filter(User::is_active)
            .ok_or_else(|| sign_in(None))?;
        let tenant = state
            .store
            .tenant_by_id(stored.tenant)
            .await?
            .ok_or_else(|| sign_in(None))?;
        let client = ClientInfo::from_request_parts(parts, state)
            .await
            .map_err(|e| PageError::Internal(format!("{e:?}")))?;
        let allowlist = IpAllowlist::parse(&state.store.settings(tenant.id).await?.ip_allowlist)
            .map_err(PageError::Internal)?;
        let web_user = WebUser {
            user,
            tenant,
            client,
            token,
        };
        if !allowlist.allows(web_user.client.ip) {
            return Err(PageError::Forbidden {
                title: "Your address is not allowed".into(),
                message: format!(
                    "{} restricts the audit log to listed IP addresses, and your address {} is \
                     not on the list. Connect from an allowed network (for example your office \
                     or VPN), or ask an admin to add your address.",
                    web_user.tenant.name, web_user.client.ip
                ),
                frame: None,
            });
        }
        Ok(web_user)
    }
}
