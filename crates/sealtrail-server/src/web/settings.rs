//! `/settings`: the tenant's retention window and legal hold, IP allowlist, API keys (a new key
//! is shown once) and users with their roles (a new user's first password is shown once).
//! Every change goes through the same functions the API and CLI use, so it is validated and
//! audited the same way, attributed to the signed-in user.

use crate::state::AppState;
use crate::web::error::{admin_message, render, PageError};
use crate::web::form::{SelectOption, PERIODS};
use crate::web::frame::PageFrame;
use crate::web::session::{check_same_origin, WebUser};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sealtrail_core::ip_allowlist::split_entries;
use sealtrail_core::keys::Scope;
use sealtrail_core::users::Role;
use sealtrail_service::lifecycle;
use sealtrail_service::users;
use sealtrail_service::{tenants, ServiceError};
use sealtrail_store::{Retention, TenantLimits, TileAccess};
use serde::Deserialize;

/// A key as the settings page lists it.
#[derive(Debug, Clone)]
pub struct KeyView {
    id: String,
    name: String,
    scopes: String,
    created: String,
    revoked: String,
}

/// An action's schema as the settings page lists it: its versions and the newest document.
#[derive(Debug, Clone)]
pub struct SchemaView {
    action: String,
    versions: String,
    registered: String,
    document: String,
}

/// A user as the settings page lists it.
#[derive(Debug, Clone)]
pub struct UserView {
    id: String,
    name: String,
    email: String,
    role: String,
    roles: Vec<SelectOption>,
    active: bool,
    created: String,
    editable: bool,
    is_self: bool,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    frame: PageFrame,
    notice: String,
    error: String,
    retention_days: String,
    retention_forever: bool,
    /// The shortest retention accepted ([`Retention::MIN_DAYS`]), shown and enforced by the form.
    retention_floor: u32,
    legal_hold: bool,
    key_rate: String,
    ingest_rate: String,
    daily_quota: String,
    allowlist_text: String,
    cors_text: String,
    your_ip: String,
    tile_options: Vec<SelectOption>,
    /// "Any time" and the period presets, the tenant's default chosen.
    period_options: Vec<SelectOption>,
    tiles_prefix: String,
    keys: Vec<KeyView>,
    schemas: Vec<SchemaView>,
    sinks: Vec<super::sink_forms::SinkRow>,
    sink_kinds: Vec<SelectOption>,
    sink_formats: Vec<SelectOption>,
    users: Vec<UserView>,
    invite_roles: Vec<SelectOption>,
    secret_title: String,
    secret: String,
}

/// Text typed by a user, isolated for a plain-text message (the Unicode equivalent of
/// `<bdi>`), so a right-to-left override in a name cannot reorder the message around it.
pub(super) fn isolated(text: &str) -> String {
    format!("\u{2068}{text}\u{2069}")
}

fn date(t: sealtrail_core::Timestamp) -> String {
    t.to_rfc3339().chars().take(10).collect()
}

async fn view(state: &AppState, user: &WebUser) -> Result<SettingsPage, PageError> {
    let tenant = user.tenant.id;
    let settings = state.store.settings(tenant).await?;
    let keys = state
        .store
        .list_api_keys(tenant)
        .await?
        .into_iter()
        .map(|k| KeyView {
            created: date(k.created_at),
            revoked: k.revoked_at.map(date).unwrap_or_default(),
            scopes: Scope::join(&k.scopes),
            id: k.id,
            name: k.name,
        })
        .collect();
    let stored = state.store.action_schemas(tenant).await?;
    let schemas = stored
        .chunk_by(|a, b| a.action == b.action)
        .filter_map(|versions| {
            let latest = versions.last()?;
            let document = serde_json::from_str::<serde_json::Value>(&latest.document)
                .and_then(|d| serde_json::to_string_pretty(&d))
                .unwrap_or_else(|_| latest.document.clone());
            Some(SchemaView {
                action: latest.action.clone(),
                versions: versions
                    .iter()
                    .map(|v| v.version.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                registered: date(latest.created_at),
                document,
            })
        })
        .collect();
    let sinks = super::sink_forms::rows(state, tenant).await?;
    let mine = user.user.role;
    let users = state
        .store
        .list_users(tenant)
        .await?
        .into_iter()
        .map(|u| UserView {
            roles: Role::ALL
                .iter()
                .filter(|r| mine.can_assign(**r) || **r == u.role)
                .map(|r| SelectOption {
                    value: r.as_str().into(),
                    label: r.as_str().into(),
                    selected: *r == u.role,
                })
                .collect(),
            editable: mine.can_assign(u.role) && u.is_active(),
            is_self: u.id == user.user.id,
            active: u.is_active(),
            created: date(u.created_at),
            role: u.role.to_string(),
            id: u.id,
            name: u.name,
            email: u.email,
        })
        .collect();
    let (days, forever) = match settings.retention {
        Retention::Days(d) => (d.to_string(), false),
        Retention::Forever => (String::new(), true),
    };
    Ok(SettingsPage {
        frame: user.frame("Settings", "settings"),
        notice: String::new(),
        error: String::new(),
        retention_days: days,
        retention_forever: forever,
        retention_floor: Retention::MIN_DAYS,
        legal_hold: settings.legal_hold,
        key_rate: limit_field(settings.limits.requests_per_second_per_key),
        ingest_rate: limit_field(settings.limits.ingest_events_per_second),
        daily_quota: limit_field(settings.limits.daily_event_quota),
        allowlist_text: settings.ip_allowlist.join("\n"),
        cors_text: settings.cors_origins.join("\n"),
        your_ip: user.client.ip.to_string(),
        period_options: std::iter::once(("", "Any time"))
            .chain(PERIODS)
            .map(|(value, label)| SelectOption {
                value: value.into(),
                label: label.into(),
                selected: settings.default_period.as_deref().unwrap_or_default() == value,
            })
            .collect(),
        tile_options: TileAccess::ALL
            .iter()
            .map(|a| SelectOption {
                value: a.as_str().into(),
                label: tile_access_label(*a).into(),
                selected: *a == settings.tile_access,
            })
            .collect(),
        tiles_prefix: format!("/tlog/{}", user.tenant.name),
        keys,
        schemas,
        sinks,
        sink_kinds: super::sink_forms::kind_options(),
        sink_formats: super::sink_forms::format_options(),
        users,
        invite_roles: Role::ALL
            .iter()
            .filter(|r| mine.can_assign(**r))
            .map(|r| SelectOption {
                value: r.as_str().into(),
                label: r.as_str().into(),
                selected: *r == Role::Member,
            })
            .collect(),
        secret_title: String::new(),
        secret: String::new(),
    })
}

/// Which confirmation to show after a change (fixed texts: nothing from the URL is echoed).
#[derive(Debug, Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

/// `GET /settings`.
pub async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    user.require_manage()?;
    let mut page = view(&state, &user).await?;
    page.notice = match done.done.as_deref() {
        Some("retention") => "Retention window saved.",
        Some("legal-hold") => "Legal hold updated.",
        Some("tiles") => "Log monitoring access saved.",
        Some("period") => "Default period saved.",
        Some("limits") => "Usage limits saved.",
        Some("allowlist") => "IP allowlist saved.",
        Some("cors") => "Browser origins saved.",
        Some("key-revoked") => "API key revoked.",
        Some("role") => "Role changed.",
        Some("deactivated") => "User deactivated; their sessions have ended.",
        Some("sink-paused") => "Sink paused.",
        Some("sink-resumed") => "Sink resumed: delivery continues from its cursor.",
        Some("sink-deleted") => "Sink deleted.",
        _ => "",
    }
    .into();
    Ok(render(&page))
}

/// A posted form's fields (repeated names kept, for the scope checkboxes).
pub(super) struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of field `name` ("" when absent).
    pub(super) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Field `name` as a list: one entry per line or comma-separated (the allowlist and CORS
    /// origin boxes).
    fn entries(&self, name: &str) -> Vec<String> {
        split_entries(self.get(name))
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Checks role, origin and CSRF token, and decodes the form.
pub(super) fn accept(
    user: &WebUser,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Fields, PageError> {
    user.require_manage()?;
    check_same_origin(headers)?;
    let fields = Fields(
        form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    );
    user.check_csrf(fields.get("csrf"))?;
    Ok(fields)
}

/// After a change: back to the page with a confirmation, or the page again with the refusal.
pub(super) async fn finish(
    state: &AppState,
    user: &WebUser,
    result: Result<(), ServiceError>,
    done: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/settings?done={done}")).into_response()),
        Err(e) => match admin_message(&e) {
            Some(message) => {
                let mut page = view(state, user).await?;
                page.error = message;
                let status = match e {
                    ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                Ok((status, render(&page)).into_response())
            }
            None => Err(PageError::Internal(e.to_string())),
        },
    }
}

/// The settings page with a secret that exists only in this response (a new key, a first
/// password): the page is not cached (`no-store`) and a reload does not show it again.
pub(super) async fn show_once(
    state: &AppState,
    user: &WebUser,
    title: String,
    secret: String,
) -> Result<Response, PageError> {
    let mut page = view(state, user).await?;
    page.secret_title = title;
    page.secret = secret;
    Ok(render(&page))
}

/// `POST /settings/retention`: a number of days (at least 30) or "keep forever".
pub async fn retention(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = accept(&user, &headers, &body)?;
    let retention = if f.get("forever") == "on" {
        Ok(Retention::Forever)
    } else {
        f.get("days")
            .trim()
            .parse::<u32>()
            .map(Retention::Days)
            .map_err(|_| ServiceError::Invalid("retention must be a whole number of days".into()))
    };
    // A refusal by the store (below the floor) is shown on the page like any other.
    let result = match retention {
        Ok(r) => {
            lifecycle::set_retention(state.store.as_ref(), user.tenant.id, r, &user.actor()).await
        }
        Err(e) => Err(e),
    };
    finish(&state, &user, result, "retention").await
}

/// A limit in its form field: the number, or empty for unlimited.
fn limit_field<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// A limit typed in the form: empty is unlimited, otherwise a whole number.
fn parse_limit<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, ServiceError> {
    let text = text.trim().replace(['_', ','], "");
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        ServiceError::Invalid(format!(
            "{what} must be a whole number, or empty for unlimited"
        ))
    })
}

/// `POST /settings/limits`: the rate limits and daily quota (empty fields are unlimited).
pub async fn limits(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = accept(&user, &headers, &body)?;
    let parsed = (|| {
        Ok(TenantLimits {
            requests_per_second_per_key: parse_limit(
                f.get("key_rate"),
                "Requests per second per API key",
            )?,
            ingest_events_per_second: parse_limit(
                f.get("ingest_rate"),
                "Ingested events per second",
            )?,
            daily_event_quota: parse_limit(f.get("daily_quota"), "Events per day")?,
        })
    })();
    let result = match parsed {
        Ok(limits) => {
            tenants::set_limits(state.store.as_ref(), user.tenant.id, limits, &user.actor())
                .await
                .map(|now| state.usage.remember_limits(user.tenant.id, now))
        }
        Err(e) => Err(e),
    };
    finish(&state, &user, result, "limits").await
}

/// `POST /settings/legal-hold`.
pub async fn legal_hold(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = accept(&user, &headers, &body)?;
    let on = f.get("hold") == "on";
    let result =
        lifecycle::set_legal_hold(state.store.as_ref(), user.tenant.id, on, &user.actor()).await;
    finish(&state, &user, result, "legal-hold").await
}

/// How the page names each tile-access choice.
fn tile_access_label(access: TileAccess) -> &'static str {
    match access {
        TileAccess::Off => "Off",
        TileAccess::Monitor => "API keys with the monitor scope",
        TileAccess::Public => "Anyone (public log)",
    }
}

/// `POST /settings/tiles`: who may read the log's checkpoint and tree tiles.
pub async fn tiles(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = accept(&user, &headers, &body)?;
    let result = match TileAccess::parse(f.get("access")) {
        Some(access) => {
            lifecycle::set_tile_access(state.store.as_ref(), user.tenant.id, access, &user.actor())
                .await
        }
        None => Err(ServiceError::Invalid(
            "choose who may read the tiles".into(),
        )),
    };
    finish(&state, &user, result, "tiles").await
}

/// `POST /settings/period`: the period the audit page opens on (empty: any time).
pub async fn default_period(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = accept(&user, &headers, &body)?;
    let period = Some(f.get("period").to_string()).filter(|p| !p.is_empty());
    let result =
        lifecycle::set_default_period(state.store.as_ref(), user.tenant.id, period, &user.actor())
            .await;
    finish(&state, &user, result, "period").await
}

/// `POST /settings/allowlist`: one entry per line (or comma-separated); refused if it would
/// lock out the address saving it.
pub async fn allowlist(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = accept(&user, &headers, &body)?;
    let result = users::set_ip_allowlist(
        state.store.as_ref(),
        user.tenant.id,
        f.entries("entries"),
        Some(user.client.ip),
        &user.acting(),
    )
    .await
    .map(|_| ());
    finish(&state, &user, result, "allowlist").await
}

/// `POST /settings/cors`: the web origins allowed to call the API from a browser, one per line
/// (or comma-separated).
pub async fn cors(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = accept(&user, &headers, &body)?;
    let result =
        crate::cors::set_origins(&state, user.tenant.id, f.entries("origins"), &user.acting())
            .await
            .map(|_| ());
    finish(&state, &user, result, "cors").await
}

/// `POST /settings/keys`: creates a key and shows it once.
pub async fn create_key(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = accept(&user, &headers, &body)?;
    let scopes: Result<Vec<Scope>, String> = f.all("scope").iter().map(|s| s.parse()).collect();
    let result = match scopes {
        Ok(scopes) => {
            tenants::create_api_key(
                state.store.as_ref(),
                user.tenant.id,
                f.get("name"),
                &scopes,
                &user.actor(),
            )
            .await
        }
        Err(e) => Err(ServiceError::Invalid(e)),
    };
    match result {
        Ok(created) => {
            let title = format!(
                "API key \"{}\" created. Copy it now: it is not stored and cannot be shown again.",
                isolated(&created.key.name)
            );
            show_once(&state, &user, title, created.plaintext).await
        }
        Err(e) => finish(&state, &user, Err(e), "").await,
    }
}

/// `POST /settings/keys/{id}/revoke`.
pub async fn revoke_key(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    accept(&user, &headers, &body)?;
    let result = tenants::revoke_api_key(state.store.as_ref(), user.tenant.id, &id, &user.actor())
        .await
        .map(|_| ());
    finish(&state, &user, result, "key-revoked").await
}

/// `POST /settings/users`: creates a user with a generated first password, shown once.
pub async fn create_user(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = accept(&user, &headers, &body)?;
    let result = match f.get("role").parse::<Role>() {
        Ok(role) => {
            users::create_user(
                state.store.as_ref(),
                user.tenant.id,
                f.get("email"),
                Some(f.get("name")),
                role,
                None,
                &user.acting(),
            )
            .await
        }
        Err(e) => Err(ServiceError::Invalid(e)),
    };
    match result {
        Ok(created) => {
            let title = format!(
                "User {} created as {}. Give them this first password; it is shown only once \
                 (they can change it under Account).",
                isolated(&created.user.email),
                created.user.role
            );
            let password = created.generated_password.unwrap_or_default();
            show_once(&state, &user, title, password).await
        }
        Err(e) => finish(&state, &user, Err(e), "").await,
    }
}

/// `POST /settings/users/{id}/role`.
pub async fn change_role(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = accept(&user, &headers, &body)?;
    let result = match f.get("role").parse::<Role>() {
        Ok(role) => users::change_role(
            state.store.as_ref(),
            user.tenant.id,
            &id,
            role,
            &user.acting(),
        )
        .await
        .map(|_| ()),
        Err(e) => Err(ServiceError::Invalid(e)),
    };
    finish(&state, &user, result, "role").await
}

/// `POST /settings/users/{id}/deactivate`.
pub async fn deactivate_user(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    accept(&user, &headers, &body)?;
    let result = users::deactivate_user(state.store.as_ref(), user.tenant.id, &id, &user.acting())
        .await
        .map(|_| ());
    finish(&state, &user, result, "deactivated").await
}
