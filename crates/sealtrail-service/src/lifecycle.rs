//! Retention pruning and GDPR erasure, shared by the scheduler, the HTTP API and the CLI, so
//! each path enforces the same rules and leaves the same audit entry.
//!
//! Both keep the Merkle tree intact (the store deletes bodies and vault values, never tree
//! hashes), so every proof and checkpoint issued before still verifies afterwards.

use crate::audit::{props, SelfAudit};
use crate::ServiceError;
use sealtrail_core::entry::Actor;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{
    ErasureMode, ErasureOutcome, PruneOrder, PruneOutcome, PseudonymKey, Retention, Store,
    StoreError, TileAccess,
};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Milliseconds in a day, for retention windows.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What a prune request did.
#[derive(Debug, Clone)]
pub enum PruneResult {
    /// Entries older than the cutoff were removed (possibly none) and the prune was audited.
    Pruned(PruneOutcome),
    /// The tenant keeps its log forever; nothing to do.
    KeepForever,
}

/// Prunes one tenant by its retention window, recorded in its own log as done by `actor` (the
/// System actor for the nightly run). Refused under legal hold.
pub async fn prune_tenant(
    store: &dyn Store,
    tenant: TenantId,
    actor: &Actor,
    now: Timestamp,
) -> Result<PruneResult, ServiceError> {
    let settings = store.settings(tenant).await?;
    let (days, cutoff) = match (settings.retention, settings.retention.cutoff(now)) {
        (Retention::Days(days), Some(cutoff)) => (days, cutoff),
        _ => return Ok(PruneResult::KeepForever),
    };
    if settings.legal_hold {
        return Err(ServiceError::Refused(
            "the tenant is under legal hold: nothing is pruned until the hold is lifted".into(),
        ));
    }
    let order = PruneOrder {
        cutoff,
        by: actor.clone(),
        retention_days: Some(days),
    };
    // The store writes the prune's own `retention.pruned` entry before it removes anything.
    let outcome = store.prune(tenant, &order).await?;
    Ok(PruneResult::Pruned(outcome))
}

/// Erases a data subject's personal data from the tenant's log and records the erasure —
/// under the pseudonym only, so the record of the erasure holds no personal data itself. With
/// [`ErasureMode::DryRun`] it only reports what the erasure would change: nothing is changed
/// and nothing is recorded. A subject that no actor or target is answers
/// [`ServiceError::NoSuchSubject`], with nothing changed or recorded either.
pub async fn erase_subject(
    store: &dyn Store,
    tenant: TenantId,
    subject: &str,
    mode: ErasureMode,
    actor: &Actor,
    key: &PseudonymKey,
) -> Result<ErasureOutcome, ServiceError> {
    let subject = subject.trim();
    if subject.is_empty() || subject.chars().count() > 320 || subject.chars().any(char::is_control)
    {
        return Err(ServiceError::Invalid(
            "the subject must be an actor or target id or an e-mail address of 1-320 characters"
                .into(),
        ));
    }
    // The store ends a real erasure with its `subject.erased` entry, naming `actor`.
    match store.erase_subject(tenant, subject, mode, actor, key).await {
        Ok(outcome) => Ok(outcome),
        // The tenant comes from an authenticated key or a name already resolved, so what was
        // not found is the subject.
        Err(StoreError::NotFound(_)) => Err(ServiceError::NoSuchSubject(subject.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// A retention window as the API and audit entries show it: days, or `"forever"`.
pub fn retention_json(retention: Retention) -> Value {
    match retention {
        Retention::Days(d) => json!(d),
        Retention::Forever => json!("forever"),
    }
}

/// Changes the retention window (refused below the 30-day floor) and audits the change.
pub async fn set_retention(
    store: &dyn Store,
    tenant: TenantId,
    retention: Retention,
    actor: &Actor,
) -> Result<(), ServiceError> {
    let before = store.settings(tenant).await?.retention;
    store.set_retention(tenant, retention).await?;
    let audit = SelfAudit {
        channel: "compliance",
        action: "retention.changed",
        event: "updated",
        description: format!(
            "Retention changed from {} to {}",
            retention_json(before),
            retention_json(retention)
        ),
        actor: actor.clone(),
        target: None,
        properties: props(&[
            ("before", retention_json(before)),
            ("after", retention_json(retention)),
        ]),
    };
    store.append(tenant, vec![audit.into_entry()]).await?;
    Ok(())
}

/// Places or lifts a legal hold (which blocks pruning) and audits it.
pub async fn set_legal_hold(
    store: &dyn Store,
    tenant: TenantId,
    on: bool,
    actor: &Actor,
) -> Result<(), ServiceError> {
    store.set_legal_hold(tenant, on).await?;
    let audit = SelfAudit {
        channel: "compliance",
        action: if on {
            "legal_hold.placed"
        } else {
            "legal_hold.lifted"
        },
        event: "updated",
        description: if on {
            "Legal hold placed: retention pruning is suspended".into()
        } else {
            "Legal hold lifted: retention pruning resumes".into()
        },
        actor: actor.clone(),
        target: None,
        properties: Map::new(),
    };
    store.append(tenant, vec![audit.into_entry()]).await?;
    Ok(())
}

/// Sets who may read the log's tree tiles (`/tlog/{tenant}/...`) and audits the change: opening
/// them to keys or to everyone is a security decision an auditor wants to see.
pub async fn set_tile_access(
    store: &dyn Store,
    tenant: TenantId,
    access: TileAccess,
    actor: &Actor,
) -> Result<(), ServiceError> {
    let before = store.settings(tenant).await?.tile_access;
    store.set_tile_access(tenant, access).await?;
    let audit = SelfAudit {
        channel: "security",
        action: "tile_access.changed",
        event: "updated",
        description: format!(
            "Access to the log's tree tiles changed from {} to {}",
            before.as_str(),
            access.as_str()
        ),
        actor: actor.clone(),
        target: None,
        properties: props(&[
            ("before", json!(before.as_str())),
            ("after", json!(access.as_str())),
        ]),
    };
    store.append(tenant, vec![audit.into_entry()]).await?;
    Ok(())
}

/// Sets the period the audit page opens on (`None`: any time) and audits the change: what an
/// admin sees first shapes what they notice, so changing it is on the record.
pub async fn set_default_period(
    store: &dyn Store,
    tenant: TenantId,
    period: Option<String>,
    actor: &Actor,
) -> Result<(), ServiceError> {
    let before = store.settings(tenant).await?.default_period;
    store.set_default_period(tenant, period.clone()).await?;
    let shown = |p: &Option<String>| p.clone().unwrap_or_else(|| "any time".into());
    let audit = SelfAudit {
        channel: "compliance",
        action: "default_period.changed",
        event: "updated",
        description: format!(
            "The audit page's default period changed from {} to {}",
            shown(&before),
            shown(&period)
        ),
        actor: actor.clone(),
        target: None,
        properties: props(&[("before", json!(before)), ("after", json!(period))]),
    };
    store.append(tenant, vec![audit.into_entry()]).await?;
    Ok(())
}

/// Replaces the `properties` keys exports leave out, and audits the change.
pub async fn set_export_exclusions(
    store: &dyn Store,
    tenant: TenantId,
    keys: Vec<String>,
    actor: &Actor,
) -> Result<Vec<String>, ServiceError> {
    let before = store.settings(tenant).await?.export_excluded_properties;
    let after = store
        .set_export_exclusions(tenant, keys)
        .await?
        .export_excluded_properties;
    let audit = SelfAudit {
        channel: "compliance",
        action: "export_exclusions.changed",
        event: "updated",
        description: format!(
            "Properties never exported changed from [{}] to [{}]",
            before.join(", "),
            after.join(", ")
        ),
        actor: actor.clone(),
        target: None,
        properties: props(&[("before", json!(before)), ("after", json!(after))]),
    };
    store.append(tenant, vec![audit.into_entry()]).await?;
    Ok(after)
}

/// Writes the missing `subject.erased` entry of every erasure run that a crash (or a stopped
/// node) left without one, for every tenant; `serve` runs it at start and nightly. Only runs
/// sealed with `key`, this deployment's pseudonym key, are recorded.
pub async fn finish_erasures(store: &dyn Store, key: &PseudonymKey) -> Result<u64, StoreError> {
    let mut recorded = 0;
    for tenant in store.list_tenants().await? {
        match store.finish_erasures(tenant.id, key).await {
            Ok(n) => recorded += n,
            Err(e) => {
                tracing::warn!(tenant = %tenant.name, error = %e, "recording erasure runs failed")
            }
        }
    }
    Ok(recorded)
}

/// Prunes every tenant; one tenant's failure (or legal hold) does not stop the others.
pub async fn prune_all(
    store: &dyn Store,
    now: Timestamp,
    key: &PseudonymKey,
) -> Result<(), StoreError> {
    let actor = Actor::system("Retention");
    let outcome = async {
        finish_erasures(store, key).await?;
        let mut failed = false;
        for tenant in store.list_tenants().await? {
            match prune_tenant(store, tenant.id, &actor, now).await {
                Ok(PruneResult::Pruned(o)) => {
                    metrics::counter!("sealtrail_pruned_entries_total").increment(o.removed);
                    tracing::info!(tenant = %tenant.name, removed = o.removed, "retention prune done")
                }
                Ok(PruneResult::KeepForever) => {}
                Err(e) => {
                    failed = true;
                    tracing::warn!(tenant = %tenant.name, error = %e, "retention prune skipped")
                }
            }
        }
        Ok::<bool, StoreError>(failed)
    }
    .await;
    let label = match outcome {
        Ok(false) => "done",
        _ => "failed",
    };
    metrics::counter!("sealtrail_prune_runs_total", "outcome" => label).increment(1);
    metrics::gauge!("sealtrail_last_prune_timestamp_seconds")
        .set(Timestamp::now().millis() as f64 / 1000.0);
    outcome.map(|_| ())
}

/// Time of day (UTC) the nightly prune runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyAt {
    /// Hour, 0-23.
    pub hour: u8,
    /// Minute, 0-59.
    pub minute: u8,
}

impl std::str::FromStr for DailyAt {
    type Err = String;
    /// Parses `HH:MM` (24-hour, UTC).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a time of day like 03:00 (24-hour, UTC)");
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let hour: u8 = h.parse().map_err(|_| bad())?;
        let minute: u8 = m.parse().map_err(|_| bad())?;
        if hour > 23 || minute > 59 {
            return Err(bad());
        }
        Ok(DailyAt { hour, minute })
    }
}

impl DailyAt {
    /// How long from `now` until the next occurrence (never zero: a run at exactly the time
    /// waits a full day for the next).
    pub fn until_next(self, now: Timestamp) -> Duration {
        let day_ms = now.millis().rem_euclid(DAY_MS);
        let at_ms = (i64::from(self.hour) * 60 + i64::from(self.minute)) * 60_000;
        let mut wait = at_ms - day_ms;
        if wait <= 0 {
            wait += DAY_MS;
        }
        Duration::from_millis(wait as u64)
    }
}

/// Runs the prune every day at `at` until `shutdown` changes.
pub async fn run_daily_prune(
    store: Arc<dyn Store>,
    at: DailyAt,
    key: Arc<PseudonymKey>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let wait = at.until_next(Timestamp::now());
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = prune_all(store.as_ref(), Timestamp::now(), &key).await {
            tracing::warn!(error = %e, "nightly prune failed; will run again tomorrow");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_at_parses_and_waits_until_the_next_occurrence() {
        let at: DailyAt = "03:00".parse().unwrap();
        let two_am = Timestamp::parse_rfc3339("2026-11-23T02:00:00Z").unwrap();
        assert_eq!(at.until_next(two_am), Duration::from_secs(3600));
        let four_am = Timestamp::parse_rfc3339("2026-11-23T04:00:00Z").unwrap();
        assert_eq!(at.until_next(four_am), Duration::from_secs(23 * 3600));
        let exactly = Timestamp::parse_rfc3339("2026-11-23T03:00:00Z").unwrap();
        assert_eq!(at.until_next(exactly), Duration::from_secs(24 * 3600));
        assert!("24:00".parse::<DailyAt>().is_err());
        assert!("3".parse::<DailyAt>().is_err());
    }
}
