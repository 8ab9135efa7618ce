//! A tenant's sinks: created, paused, resumed, replayed and deleted by people (each change
//! recorded in the log), and delivered by [`delivery::Deliverer`].
//!
//! A sink's signing secret is never stored: it is derived from the deployment's pseudonym
//! key, the tenant, the sink's id and its secret version, so every node can sign with it and
//! a copy of the database alone cannot forge a batch. It is shown once, when the sink is
//! created.

pub mod address;
pub mod archive;
pub mod credential;
pub mod delivery;
pub mod encode;
pub mod syslog;

use crate::audit::{props, SelfAudit};
use crate::ServiceError;
use sealtrail_core::entry::{Actor, Target};
use sealtrail_core::sinks::{self, SinkFormat, SinkKind, SinkState};
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{NewSink, PseudonymKey, SinkRecord, Store};
use serde_json::json;
use uuid::Uuid;

/// Where a new sink starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// With the first entry of the log (an archive of everything).
    Beginning,
    /// With the next entry appended (a SIEM that wants what happens from now on).
    Now,
}

/// What a person asks for when creating a sink.
#[derive(Debug, Clone)]
pub struct CreateSink {
    /// A name unique within the tenant.
    pub name: String,
    /// What receives the entries.
    pub kind: SinkKind,
    /// Where to send them.
    pub url: String,
    /// The shape each entry is sent in.
    pub format: SinkFormat,
    /// The receiver's own token: required for a Splunk HEC sink (its token) and an archive
    /// (its access key), refused for a webhook (which checks Sealtrail's signature instead). Kept only sealed ([`credential`]).
    pub token: Option<String>,
    /// Where delivery starts.
    pub start: StartAt,
}

/// A sink just created, with the only copy of its secret that is ever shown.
#[derive(Debug, Clone)]
pub struct CreatedSink {
    /// The sink.
    pub sink: SinkRecord,
    /// Its signing secret (`whsec_…`), for the receiver's configuration.
    pub secret: String,
}

/// The signing secret of `sink` (never stored; the same on every node of a deployment).
pub fn secret(key: &PseudonymKey, sink: &SinkRecord) -> [u8; 32] {
    key.derive(&format!(
        "sealtrail sink secret v1 {} {} {}",
        sink.tenant.0, sink.id, sink.secret_version
    ))
}

/// How far a sink is behind its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lag {
    /// Entries recorded and not yet acknowledged by the receiver.
    pub entries: u64,
    /// How long the oldest of them has waited, in whole seconds (0 when none waits).
    pub seconds: u64,
}

/// The lag of `sink` in a log of `log_size` entries at `now`: what the page, the API and the
/// CLI show beside the `sealtrail_sink_lag_*` gauges (one stored leaf read).
pub async fn lag(
    store: &dyn Store,
    sink: &SinkRecord,
    log_size: u64,
    now: Timestamp,
) -> Result<Lag, sealtrail_store::StoreError> {
    let entries = log_size.saturating_sub(sink.cursor);
    if entries == 0 {
        return Ok(Lag {
            entries,
            seconds: 0,
        });
    }
    let oldest = store.leaves(sink.tenant, sink.cursor, 1).await?;
    let recorded = oldest
        .first()
        .and_then(|leaf| sealtrail_core::envelope::open(&leaf.envelope, &leaf.slots).ok())
        .map_or(now, |entry| entry.recorded_at);
    let seconds = now.millis().saturating_sub(recorded.millis()).max(0) as u64 / 1000;
    Ok(Lag { entries, seconds })
}

/// A lag in seconds as people read it: `42 s`, `7 min`, `3 h`, `2 d`.
pub fn lag_text(seconds: u64) -> String {
    match seconds {
        0..=119 => format!("{seconds} s"),
        120..=7199 => format!("{} min", seconds / 60),
        7200..=172_799 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86_400),
    }
}

/// Creates a sink, recorded as `sink.created`.
pub async fn create(
    store: &dyn Store,
    key: &PseudonymKey,
    tenant: TenantId,
    request: CreateSink,
    private_networks: bool,
    actor: &Actor,
) -> Result<CreatedSink, ServiceError> {
    let name = request.name.trim().to_string();
    sinks::check_name(&name).map_err(ServiceError::Invalid)?;
    sinks::check_url(request.kind, &request.url).map_err(ServiceError::Invalid)?;
    if !private_networks {
        address::check_sink_literal(request.kind, &request.url).map_err(ServiceError::Invalid)?;
    }
    let token = request.token.filter(|t| !t.trim().is_empty());
    match (request.kind.needs_token(), &token) {
        (true, None) => {
            return Err(ServiceError::Invalid(format!(
                "token: a {} sink needs {}",
                request.kind.as_str(),
                request.kind.token_hint()
            )))
        }
        (true, Some(token)) => {
            sinks::check_token(request.kind, token.trim()).map_err(ServiceError::Invalid)?
        }
        (false, Some(_)) => {
            return Err(ServiceError::Invalid(format!(
                "token: a {} sink takes no token (receivers check Sealtrail's signature)",
                request.kind.as_str()
            )))
        }
        (false, None) => {}
    }
    if request.kind == SinkKind::Archive {
        // Two archives in one place would write the same object names over each other.
        let place = |url: &str| {
            sinks::archive::parse(url)
                .ok()
                .map(|t| (t.endpoint, t.bucket, t.prefix))
        };
        let here = place(&request.url);
        let taken = store
            .sinks(tenant)
            .await?
            .into_iter()
            .any(|s| s.kind == SinkKind::Archive && place(&s.url) == here);
        if taken {
            return Err(ServiceError::Invalid(
                "url: another archive sink of this tenant already writes to this bucket and prefix; give this one its own prefix".into(),
            ));
        }
    }
    let id = Uuid::now_v7();
    let credential = token.map(|t| credential::seal(key, tenant, id, t.trim()));
    let cursor = match request.start {
        StartAt::Beginning => 0,
        StartAt::Now => store.log_size(tenant).await?,
    };
    let sink = store
        .add_sink(
            tenant,
            NewSink {
                id,
                name,
                kind: request.kind,
                url: request.url,
                format: request.format,
                credential,
                cursor,
            },
        )
        .await?;
    record(store, &sink, actor, "sink.created", "created", "created").await?;
    let secret = sinks::secret_text(&secret(key, &sink));
    Ok(CreatedSink { sink, secret })
}

/// The tenant's sink `id`, or `NotFound`.
pub async fn find(
    store: &dyn Store,
    tenant: TenantId,
    id: &str,
) -> Result<SinkRecord, ServiceError> {
    let missing = || {
        ServiceError::NotFound(format!(
            "sink `{}`",
            id.chars().take(64).collect::<String>()
        ))
    };
    let id = Uuid::parse_str(id).map_err(|_| missing())?;
    store
        .sinks(tenant)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(missing)
}

/// Stops delivery (`sink.paused`); it resumes from the same cursor.
pub async fn pause(
    store: &dyn Store,
    tenant: TenantId,
    id: &str,
    actor: &Actor,
) -> Result<SinkRecord, ServiceError> {
    let sink = find(store, tenant, id).await?;
    let sink = store
        .set_sink_state(tenant, sink.id, SinkState::Paused, None)
        .await?;
    record(store, &sink, actor, "sink.paused", "updated", "paused").await?;
    Ok(sink)
}

/// Starts delivery again from the cursor (`sink.resumed`): after a pause, or after a dead
/// letter once the receiver is fixed.
pub async fn resume(
    store: &dyn Store,
    tenant: TenantId,
    id: &str,
    actor: &Actor,
) -> Result<SinkRecord, ServiceError> {
    let sink = find(store, tenant, id).await?;
    let sink = store
        .set_sink_state(tenant, sink.id, SinkState::Active, None)
        .await?;
    record(store, &sink, actor, "sink.resumed", "updated", "resumed").await?;
    Ok(sink)
}

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFrom {
    /// From this seq (0: the whole log).
    Seq(u64),
    /// From the first entry recorded at or after this time: what a receiver that lost a
    /// period knows.
    Time(Timestamp),
}

/// Delivers again from `from` (`sink.replayed`), and resumes the sink: a receiver that lost
/// data asks for it again. Entries since pruned are not resent.
pub async fn replay(
    store: &dyn Store,
    tenant: TenantId,
    id: &str,
    from: ReplayFrom,
    actor: &Actor,
) -> Result<SinkRecord, ServiceError> {
    let sink = find(store, tenant, id).await?;
    let size = store.log_size(tenant).await?;
    let from_seq = match from {
        ReplayFrom::Seq(seq) => seq,
        // `recorded_at` never decreases along seq, so the entries at or after the time are
        // the log's last ones. The size is read first: an entry appended in between makes the
        // replay start one entry early (a duplicate), never late.
        ReplayFrom::Time(at) => size.saturating_sub(store.entries_since(tenant, at).await?),
    };
    if from_seq > size {
        return Err(ServiceError::Invalid(format!(
            "`from_seq` {from_seq} is beyond the log's {size} entries"
        )));
    }
    let sink = store
        .set_sink_state(tenant, sink.id, SinkState::Active, Some(from_seq))
        .await?;
    record(
        store,
        &sink,
        actor,
        "sink.replayed",
        "updated",
        &format!("replayed from seq {from_seq}"),
    )
    .await?;
    Ok(sink)
}

/// Deletes a sink (`sink.deleted`); its receiver gets nothing more.
pub async fn delete(
    store: &dyn Store,
    tenant: TenantId,
    id: &str,
    actor: &Actor,
) -> Result<(), ServiceError> {
    let sink = find(store, tenant, id).await?;
    if !store.remove_sink(tenant, sink.id).await? {
        return Err(ServiceError::NotFound(format!("sink `{}`", sink.id)));
    }
    record(store, &sink, actor, "sink.deleted", "deleted", "deleted").await
}

async fn record(
    store: &dyn Store,
    sink: &SinkRecord,
    actor: &Actor,
    action: &'static str,
    event: &'static str,
    verb: &str,
) -> Result<(), ServiceError> {
    let audit = SelfAudit {
        channel: "security",
        action,
        event,
        description: format!("Sink {} {verb}", sink.name),
        actor: actor.clone(),
        target: Some(Target {
            kind: "sink".into(),
            id: Some(sink.id.to_string()),
            name: Some(sink.name.clone()),
        }),
        properties: props(&[
            ("kind", json!(sink.kind.as_str())),
            ("format", json!(sink.format.as_str())),
            // Only where it points: a receiver's token may be in its path or query, and the log
            // must not keep it.
            ("receiver", json!(receiver_origin(&sink.url))),
            ("state", json!(sink.state.as_str())),
            ("cursor", json!(sink.cursor)),
        ]),
    };
    store.append(sink.tenant, vec![audit.into_entry()]).await?;
    Ok(())
}

/// The scheme and host (with port) of a receiver's URL, without the path or query where
/// receivers often take a token.
fn receiver_origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}")
}
