//! Cases on usage limits: a new tenant has the defaults, changes are validated, stored per
//! tenant and leave other settings alone, and the daily count the quota uses is exact.

use super::fixtures::*;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{Store, StoreError, TenantLimits};
use std::sync::Arc;
use std::time::Duration;

/// Defaults on creation; a valid change is kept (for this tenant only) and a refused one
/// changes nothing.
pub async fn limits_default_validate_and_stay_per_tenant(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    let settings = |t| {
        let store = store.clone();
        async move { store.settings(t).await.ok() }
    };
    assert_eq!(
        settings(t).await.map(|s| s.limits),
        Some(TenantLimits::DEFAULT)
    );
    let before = settings(t).await;
    let strict = TenantLimits {
        requests_per_second_per_key: Some(3),
        ingest_events_per_second: None,
        daily_event_quota: Some(1_000),
    };
    let changed = store.set_limits(t, strict).await.ok();
    assert_eq!(changed.as_ref().map(|s| s.limits), Some(strict));
    let now = settings(t).await;
    assert_eq!(now.as_ref().map(|s| s.limits), Some(strict));
    assert_eq!(
        now.map(|s| (s.retention, s.ip_allowlist)),
        before.map(|s| (s.retention, s.ip_allowlist)),
        "other settings untouched"
    );
    assert_eq!(
        settings(other).await.map(|s| s.limits),
        Some(TenantLimits::DEFAULT),
        "limits are per tenant"
    );
    let zero = TenantLimits {
        daily_event_quota: Some(0),
        ..strict
    };
    let refused = store.set_limits(t, zero).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(settings(t).await.map(|s| s.limits), Some(strict));
    let unknown = store
        .set_limits(TenantId(987_654), TenantLimits::UNLIMITED)
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    let back = store.set_limits(t, TenantLimits::UNLIMITED).await.ok();
    assert_eq!(back.map(|s| s.limits), Some(TenantLimits::UNLIMITED));
}

/// `entries_since` counts exactly the entries recorded at or after a time, per tenant.
pub async fn entries_since_counts_by_recorded_time(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    append(
        &store,
        other,
        (0..7)
            .map(|i| event("x.created", &format!("o{i}")))
            .collect(),
    )
    .await;
    let count = |since: Timestamp| {
        let store = store.clone();
        async move { store.entries_since(t, since).await.ok() }
    };
    assert_eq!(count(Timestamp(0)).await, Some(0), "an empty log");
    let mut batches = Vec::new();
    for size in [3usize, 4, 5] {
        let acks = append(
            &store,
            t,
            (0..size)
                .map(|i| event("a.created", &format!("u{i}")))
                .collect(),
        )
        .await;
        batches.push(acks);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(count(Timestamp(0)).await, Some(12));
    assert_eq!(count(batches[1][0].recorded_at).await, Some(9));
    assert_eq!(count(batches[2][0].recorded_at).await, Some(5));
    let after = Timestamp(batches[2][0].recorded_at.millis() + 1);
    assert_eq!(count(after).await, Some(0));
    let unknown = store.entries_since(TenantId(987_654), Timestamp(0)).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}
