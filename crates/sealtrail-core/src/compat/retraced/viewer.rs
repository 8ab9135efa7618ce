//! Retraced's embedded-viewer credentials: a **viewer token** the application fetches with its
//! API key for one of its users (`GET …/viewertoken`), which the viewer in that user's browser
//! exchanges for a **viewer session** (`POST /viewer/v1/viewersession`) and then sends with
//! every search. Both carry their scope — tenant, Retraced group, the viewing actor, admin or
//! not, an optional target, the action its views are audited under — and an expiry, sealed
//! with HMAC-SHA256 under a deployment key, so any node can check them without a shared
//! table and nobody can widen the scope or the lifetime.
//!
//! A token lives [`TOKEN_TTL_MILLIS`] (Retraced's five minutes); a session
//! [`SESSION_TTL_MILLIS`], after which the viewer asks the application for a new token.
//! Neither can be revoked before it expires: revoking the API key that issued them stops new
//! ones, and the short lifetimes bound the rest.

use super::{GROUP_PROPERTY, PROPERTY};
use crate::entry::NewEntry;
use crate::ingest::{validate_event, FieldError, Limits};
use crate::timestamp::Timestamp;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

/// How long a viewer token can be exchanged for a session: five minutes, as Retraced.
pub const TOKEN_TTL_MILLIS: i64 = 5 * 60 * 1000;
/// How long a viewer session searches: one hour.
pub const SESSION_TTL_MILLIS: i64 = 60 * 60 * 1000;
/// The action a viewer's searches are audited under unless the token names another.
pub const DEFAULT_VIEW_ACTION: &str = "audit.log.view";

/// What a viewer may see and how its views are recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerScope {
    /// The tenant (Retraced project) the token was issued for.
    pub tenant: i64,
    /// The project id as the application named it (the tenant's name).
    pub project: String,
    /// Only entries of this Retraced group, when set.
    pub group_id: Option<String>,
    /// The application's user doing the viewing: the actor of the view entries.
    pub actor_id: String,
    /// Retraced's admin flag (it lets a viewer manage the group's API tokens).
    pub is_admin: bool,
    /// Only entries with this target id, when set.
    pub target_id: Option<String>,
    /// The action each search is recorded under.
    pub view_log_action: String,
}

/// Which credential a sealed string is: a token cannot be used as a session, nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Fetched by the application, exchanged once by the viewer.
    Token,
    /// Sent by the viewer with each search.
    Session,
}

impl Stage {
    fn prefix(self) -> &'static str {
        match self {
            Stage::Token => "rvt1.",
            Stage::Session => "rvs1.",
        }
    }

    fn ttl(self) -> i64 {
        match self {
            Stage::Token => TOKEN_TTL_MILLIS,
            Stage::Session => SESSION_TTL_MILLIS,
        }
    }
}

/// Why a viewer credential was refused; the viewer only needs to know it must get a new one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewerError {
    /// Not a credential of this stage, or its seal does not check.
    #[error("invalid viewer {0}")]
    Invalid(&'static str),
    /// Its lifetime is over.
    #[error("expired viewer {0}: ask the application for a new one")]
    Expired(&'static str),
}

/// The sealed payload: the scope, the stage and the expiry.
#[derive(Serialize, Deserialize)]
struct Sealed {
    stage: Stage,
    expires: i64,
    #[serde(flatten)]
    scope: ViewerScope,
}

/// A credential of `stage` for `scope`, valid from `now` for the stage's lifetime.
pub fn seal(scope: &ViewerScope, stage: Stage, key: &[u8; 32], now: Timestamp) -> String {
    let sealed = Sealed {
        stage,
        expires: now.millis().saturating_add(stage.ttl()),
        scope: scope.clone(),
    };
    let payload = serde_json::to_vec(&sealed).unwrap_or_default();
    let body = format!("{}{}", stage.prefix(), URL_SAFE_NO_PAD.encode(payload));
    let tag = URL_SAFE_NO_PAD.encode(mac(key, &body).finalize().into_bytes());
    format!("{body}.{tag}")
}

/// The scope of a credential of `stage`, once its seal and expiry check.
pub fn open(
    credential: &str,
    stage: Stage,
    key: &[u8; 32],
    now: Timestamp,
) -> Result<ViewerScope, ViewerError> {
    let name = match stage {
        Stage::Token => "token",
        Stage::Session => "session",
    };
    let invalid = || ViewerError::Invalid(name);
    let (body, tag) = credential.trim().rsplit_once('.').ok_or_else(invalid)?;
    let payload = body.strip_prefix(stage.prefix()).ok_or_else(invalid)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
    mac(key, body).verify_slice(&tag).map_err(|_| invalid())?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
    let sealed: Sealed = serde_json::from_slice(&payload).map_err(|_| invalid())?;
    if sealed.stage != stage {
        return Err(invalid());
    }
    if now.millis() >= sealed.expires {
        return Err(ViewerError::Expired(name));
    }
    Ok(sealed.scope)
}

/// The entry a viewer's search is recorded as, in the tenant's own log: the token's action
/// (`audit.log.view` unless it names another), read by the viewing actor, scoped to the group
/// like the entries it read (so the group's viewers see who looked), with the search text.
/// Built through the native validator, which also checks a token's custom action when the
/// token is issued.
pub fn view_entry(
    scope: &ViewerScope,
    search: &str,
    ip: Option<&str>,
    now: Timestamp,
) -> Result<NewEntry, FieldError> {
    let mut retraced = serde_json::Map::new();
    let mut properties = serde_json::Map::new();
    if let Some(group) = &scope.group_id {
        properties.insert(GROUP_PROPERTY.into(), json!(group));
        retraced.insert("group".into(), json!({ "id": group }));
    }
    if let Some(target) = &scope.target_id {
        retraced.insert("target_id".into(), json!(target));
    }
    retraced.insert("search".into(), json!(search));
    properties.insert(PROPERTY.into(), serde_json::Value::Object(retraced));
    let mut event = json!({
        "action": scope.view_log_action,
        "channel": "security",
        "event": "read",
        "description": "Viewed the audit log in the embedded viewer",
        "actor": {"type": "user", "id": scope.actor_id, "via": "Retraced viewer"},
        "properties": properties,
    });
    if let Some(ip) = ip {
        event["context"] = json!({ "ip": ip });
    }
    validate_event(event, &Limits::default(), now)
}

/// The MAC over a credential's body under `key`.
fn mac(key: &[u8; 32], body: &str) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
    mac.update(body.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const NOW: Timestamp = Timestamp(1_795_000_000_000);

    fn scope() -> ViewerScope {
        ViewerScope {
            tenant: 3,
            project: "acme".into(),
            group_id: Some("org-7".into()),
            actor_id: "ada@example.com".into(),
            is_admin: false,
            target_id: None,
            view_log_action: DEFAULT_VIEW_ACTION.into(),
        }
    }

    #[test]
    fn a_credential_opens_only_at_its_stage_under_its_key_within_its_lifetime() {
        let token = seal(&scope(), Stage::Token, &KEY, NOW);
        assert_eq!(open(&token, Stage::Token, &KEY, NOW), Ok(scope()));
        assert_eq!(
            open(&token, Stage::Session, &KEY, NOW),
            Err(ViewerError::Invalid("session"))
        );
        assert_eq!(
            open(&token, Stage::Token, &[8; 32], NOW),
            Err(ViewerError::Invalid("token"))
        );
        let late = Timestamp(NOW.millis() + TOKEN_TTL_MILLIS);
        assert_eq!(
            open(&token, Stage::Token, &KEY, late),
            Err(ViewerError::Expired("token"))
        );
        let session = seal(&scope(), Stage::Session, &KEY, NOW);
        let later = Timestamp(NOW.millis() + SESSION_TTL_MILLIS - 1);
        assert_eq!(open(&session, Stage::Session, &KEY, later), Ok(scope()));
    }

    #[test]
    fn a_widened_scope_or_lifetime_breaks_the_seal() {
        let token = seal(&scope(), Stage::Token, &KEY, NOW);
        let (body, tag) = token.rsplit_once('.').unwrap();
        let payload = URL_SAFE_NO_PAD
            .decode(body.strip_prefix("rvt1.").unwrap())
            .unwrap();
        let mut value: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        value["group_id"] = serde_json::Value::Null;
        value["expires"] = serde_json::json!(i64::MAX);
        let forged = format!(
            "rvt1.{}.{tag}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).unwrap())
        );
        assert_eq!(
            open(&forged, Stage::Token, &KEY, NOW),
            Err(ViewerError::Invalid("token"))
        );
        for junk in ["", ".", "rvt1.", "rvt1.x.y", "Bearer x"] {
            assert!(open(junk, Stage::Token, &KEY, NOW).is_err(), "{junk}");
        }
    }

    #[test]
    fn a_view_is_recorded_in_the_group_under_the_tokens_action() {
        let entry = view_entry(&scope(), "crud:c,u,d", Some("192.0.2.9"), NOW).unwrap();
        assert_eq!(entry.action, "audit.log.view");
        assert_eq!(entry.event, "read");
        assert_eq!(entry.actor.id.as_deref(), Some("ada@example.com"));
        assert_eq!(entry.properties[GROUP_PROPERTY], "org-7");
        assert_eq!(entry.properties[PROPERTY]["search"], "crud:c,u,d");
        assert_eq!(entry.context.ip.as_deref(), Some("192.0.2.9"));
        let custom = ViewerScope {
            view_log_action: "not an action".into(),
            ..scope()
        };
        assert_eq!(
            view_entry(&custom, "", None, NOW).unwrap_err().field,
            "action"
        );
    }
}
