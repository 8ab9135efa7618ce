//! The settings page's "Streaming" section: each sink with its state, lag and last failure
//! (what a person needs to see a receiver that is down or a dead letter), and the forms that
//! create (the secret shown once), pause, resume and delete one, through `service::sinks`.

use super::form::SelectOption;
use super::session::WebUser;
use super::settings::{accept, finish, isolated, show_once};
use crate::state::AppState;
use crate::web::error::PageError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use sealtrail_core::sinks::{SinkFormat, SinkKind, SinkState};
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_service::sinks::{self, CreateSink, StartAt};
use sealtrail_service::ServiceError;

/// One sink as the page lists it.
pub struct SinkRow {
    /// Its id (for the forms).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where it delivers.
    pub url: String,
    /// What receives, in which shape: "Webhook, Sealtrail JSON", "Splunk HEC, OCSF 6003".
    pub kind: String,
    /// `active`, `paused` or `dead letter`.
    pub state: String,
    /// Whether it is stopped (paused or a dead letter): offers Resume instead of Pause.
    pub stopped: bool,
    /// Entries recorded and not yet acknowledged by the receiver.
    pub lag: u64,
    /// How long the oldest of them has waited ("7 min"; "" when none waits).
    pub oldest: String,
    /// Failures in a row, with the last one, for a person to read ("" when none).
    pub failure: String,
    /// When a batch was last acknowledged ("never").
    pub delivered: String,
}

/// The tenant's sinks for the page.
pub async fn rows(state: &AppState, tenant: TenantId) -> Result<Vec<SinkRow>, PageError> {
    let size = state.store.log_size(tenant).await?;
    let now = Timestamp::now();
    let mut rows = Vec::new();
    for s in state.store.sinks(tenant).await? {
        let lag = sinks::lag(state.store.as_ref(), &s, size, now).await?;
        rows.push(SinkRow {
            id: s.id.to_string(),
            kind: format!("{}, {}", kind_label(s.kind), format_label(s.format)),
            stopped: s.state != SinkState::Active,
            state: match s.state {
                SinkState::Active => "active",
                SinkState::Paused => "paused",
                SinkState::DeadLetter => "dead letter",
            }
            .to_string(),
            lag: lag.entries,
            oldest: if lag.entries == 0 {
                String::new()
            } else {
                sinks::lag_text(lag.seconds)
            },
            failure: s
                .last_error
                .map(|e| format!("{} failure(s) in a row; last: {e}", s.failures))
                .unwrap_or_default(),
            delivered: s
                .delivered_at
                .map(|t| {
                    t.to_rfc3339()
                        .chars()
                        .take(19)
                        .collect::<String>()
                        .replace('T', " ")
                })
                .unwrap_or_else(|| "never".into()),
            name: s.name,
            url: s.url,
        });
    }
    Ok(rows)
}

fn kind_label(kind: SinkKind) -> &'static str {
    match kind {
        SinkKind::Webhook => "Webhook",
        SinkKind::SplunkHec => "Splunk HEC",
        SinkKind::Syslog => "Syslog over TLS",
        SinkKind::Archive => "S3 archive",
    }
}

fn format_label(format: SinkFormat) -> &'static str {
    match format {
        SinkFormat::Sealtrail => "Sealtrail JSON",
        SinkFormat::Ocsf => "OCSF 6003",
    }
}

/// The create form's receivers, one per [`SinkKind`], so the page offers every kind there is.
pub fn kind_options() -> Vec<SelectOption> {
    let label = |kind| match kind {
        SinkKind::Webhook => "Webhook",
        SinkKind::SplunkHec => "Splunk HTTP Event Collector",
        SinkKind::Syslog => "Syslog over TLS (RFC 5425)",
        SinkKind::Archive => "S3-compatible archive (verifiable offline)",
    };
    SinkKind::ALL
        .into_iter()
        .map(|kind| SelectOption {
            value: kind.as_str().into(),
            label: label(kind).into(),
            selected: kind == SinkKind::Webhook,
        })
        .collect()
}

/// The create form's formats, one per [`SinkFormat`].
pub fn format_options() -> Vec<SelectOption> {
    let label = |format| match format {
        SinkFormat::Sealtrail => "Sealtrail JSON",
        SinkFormat::Ocsf => "OCSF 6003 (API Activity)",
    };
    SinkFormat::ALL
        .into_iter()
        .map(|format| SelectOption {
            value: format.as_str().into(),
            label: label(format).into(),
            selected: format == SinkFormat::Sealtrail,
        })
        .collect()
}

/// `POST /settings/sinks`: creates a sink and shows its signing secret once.
pub async fn create(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = accept(&user, &headers, &body)?;
    let start = match f.get("start") {
        "now" => StartAt::Now,
        _ => StartAt::Beginning,
    };
    // Unknown values from a hand-made form are refused by name rather than defaulted.
    let kind = match f.get("kind") {
        "" => Some(SinkKind::Webhook),
        kind => SinkKind::parse(kind),
    };
    let format = match f.get("format") {
        "" => Some(SinkFormat::Sealtrail),
        format => SinkFormat::parse(format),
    };
    let (Some(kind), Some(format)) = (kind, format) else {
        let refused = ServiceError::Invalid("kind or format: not one the page offers".into());
        return finish(&state, &user, Err(refused), "").await;
    };
    let token = Some(f.get("token").trim().to_string()).filter(|t| !t.is_empty());
    let result = sinks::create(
        state.store.as_ref(),
        &state.pseudonym_key,
        user.tenant.id,
        CreateSink {
            name: f.get("name").to_string(),
            kind,
            url: f.get("url").trim().to_string(),
            format,
            token,
            start,
        },
        state.deliverer.private_networks(),
        &user.actor(),
    )
    .await;
    match result {
        Ok(created) => {
            state.deliverer.wake();
            let title = format!(
                "Sink \"{}\" created. Give this signing secret to the receiver now: it is not stored and cannot be shown again.",
                isolated(&created.sink.name)
            );
            show_once(&state, &user, title, created.secret).await
        }
        Err(e) => finish(&state, &user, Err(e), "").await,
    }
}

/// `POST /settings/sinks/{id}/{pause|resume|delete}`.
pub async fn change(
    State(state): State<AppState>,
    user: WebUser,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    accept(&user, &headers, &body)?;
    let (store, tenant, actor) = (state.store.as_ref(), user.tenant.id, user.actor());
    let (result, done) = match action.as_str() {
        "pause" => (
            sinks::pause(store, tenant, &id, &actor).await.map(|_| ()),
            "sink-paused",
        ),
        "resume" => {
            let resumed = sinks::resume(store, tenant, &id, &actor).await;
            if let Ok(sink) = &resumed {
                state.deliverer.reset(sink.id);
            }
            (resumed.map(|_| ()), "sink-resumed")
        }
        "delete" => (
            sinks::delete(store, tenant, &id, &actor).await,
            "sink-deleted",
        ),
        _ => (
            Err(ServiceError::NotFound("that action on a sink".into())),
            "",
        ),
    };
    finish(&state, &user, result, done).await
}
