//! Cases on the log itself: seq, time, ids, round trips, idempotency, concurrency, health.

use super::fixtures::*;
use sealtrail_core::entry::{Changes, Context, Entry, Outcome, RequestInfo, Target};
use sealtrail_core::filter::Filter;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{Lookup, Store, StoreError};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Seq starts at 0 per tenant, follows request order without gaps, and `recorded_at` never
/// decreases along it.
pub async fn append_assigns_gapless_seq_in_request_order(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    assert!(
        append(&store, t, Vec::new()).await.is_empty(),
        "an empty append stores nothing"
    );
    let first = append(
        &store,
        t,
        (0..5)
            .map(|i| event("user.created", &format!("u{i}")))
            .collect(),
    )
    .await;
    let second = append(
        &store,
        t,
        (0..3)
            .map(|i| event("user.deleted", &format!("u{i}")))
            .collect(),
    )
    .await;
    let all: Vec<_> = first.iter().chain(&second).collect();
    assert_eq!(
        all.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
    assert!(all.iter().all(|a| !a.duplicate));
    assert!(all.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at));
    let ids: HashSet<_> = all.iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 8, "ids are unique");
    assert!(
        all.iter().all(|a| a.id.get_version_num() == 7),
        "ids are UUIDv7"
    );
    assert_eq!(store.log_size(t).await.ok(), Some(8));
    for (i, a) in first.iter().enumerate() {
        let e = found(&store, t, a.id).await;
        let e = e.unwrap_or_else(|| panic!("entry {i} readable"));
        assert_eq!(
            (e.seq, e.recorded_at, e.actor.id.as_deref()),
            (a.seq, a.recorded_at, Some(format!("u{i}").as_str()))
        );
    }
}

/// Appending to a tenant that does not exist stores nothing and says so.
pub async fn append_to_an_unknown_tenant_is_not_found(store: Arc<dyn Store>) {
    let r = store
        .append(TenantId(987_654), vec![event("a.created", "u")])
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    assert_eq!(store.log_size(TenantId(987_654)).await.ok(), Some(0));
}

/// Every field survives storage, via `get` and via `query`.
pub async fn get_round_trips_every_field(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let mut new = event("member.role_changed", "alice");
    new.occurred_at = Some(Timestamp(1_795_000_123_456));
    new.channel = "security".into();
    new.category = Some("Policy Changes".into());
    new.description = "Alice made Bob an admin".into();
    new.result = Outcome::Approved;
    new.actor.via = Some("API (Console)".into());
    new.targets.push(Target {
        kind: "member".into(),
        id: Some("bob".into()),
        name: None,
    });
    new.context = Context {
        ip: Some("2001:db8::1".into()),
        user_agent: Some("curl/8".into()),
        location: Some("Berlin".into()),
        request: Some(RequestInfo {
            method: Some("PATCH".into()),
            path: Some("/members/bob".into()),
            body: Some(json!({ "role": "admin" })),
            response: Some(json!({ "ok": true })),
        }),
    };
    new.changes = Some(Changes {
        before: Some(json!({ "role": "member" })),
        after: Some(json!({ "role": "admin" })),
    });
    new.properties =
        props(json!({ "z": 1, "a": [1, "two", null], "m": { "deep": true }, "s": "x" }));
    new.redacted = vec!["properties.password".into()];
    new.idempotency_key = Some("req-1".into());
    let plain = event("a.created", "bob");

    let acks = append(&store, t, vec![new.clone(), plain.clone()]).await;
    let expected = Entry::from_new(new, acks[0].id, acks[0].seq, acks[0].recorded_at);
    let got = found(&store, t, acks[0].id).await;
    assert_eq!(got.as_ref(), Some(&expected));
    let got_plain = found(&store, t, acks[1].id).await;
    assert_eq!(
        got_plain,
        Some(Entry::from_new(
            plain,
            acks[1].id,
            acks[1].seq,
            acks[1].recorded_at
        ))
    );
    assert_eq!(
        got_plain.map(|e| e.occurred_at),
        Some(acks[1].recorded_at),
        "occurred_at defaults to recorded_at"
    );
    let listed = page(&store, t, &Filter::default(), 10, None).await;
    assert_eq!(listed.entries.last(), Some(&expected));
    assert_eq!(
        store.get(t, uuid::Uuid::now_v7()).await.ok(),
        Some(Lookup::Missing),
        "unknown id"
    );
}

/// Keys already in the log, or earlier in the same batch, come back as the original.
pub async fn idempotent_retries_return_the_original(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let first = append(
        &store,
        t,
        vec![
            keyed("a.created", "u", "k1"),
            keyed("a.created", "u", "k2"),
            keyed("a.created", "u", "k1"),
            event("a.created", "u"),
        ],
    )
    .await;
    assert_eq!(
        first
            .iter()
            .map(|a| (a.seq, a.duplicate))
            .collect::<Vec<_>>(),
        [(0, false), (1, false), (0, true), (2, false)]
    );
    assert_eq!(
        (first[2].id, first[2].recorded_at),
        (first[0].id, first[0].recorded_at)
    );
    let retry = append(
        &store,
        t,
        vec![
            keyed("a.created", "u", "k2"),
            keyed("a.created", "u", "k3"),
            keyed("b.created", "u", "k1"),
        ],
    )
    .await;
    assert_eq!(
        retry
            .iter()
            .map(|a| (a.seq, a.duplicate))
            .collect::<Vec<_>>(),
        [(1, true), (3, false), (0, true)]
    );
    assert_eq!(retry[0].id, first[1].id);
    assert_eq!(store.log_size(t).await.ok(), Some(4));
    let facets = store.facets(t).await.ok().unwrap_or_default();
    assert_eq!(
        facets
            .actions
            .iter()
            .map(|v| (v.value.as_str(), v.count))
            .collect::<Vec<_>>(),
        [("a.created", 4)],
        "duplicates do not count"
    );
    assert!(facets.actions.iter().all(|v| v.value != "b.created"));
}

/// 16 tasks × 200 single-event appends: every acknowledgement is stored once, seq is gapless.
pub async fn concurrent_appends_are_acknowledged_once_and_gapless(store: Arc<dyn Store>) {
    const TASKS: usize = 16;
    const PER_TASK: usize = 200;
    let t = tenant(&store, "acme").await;
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for i in 0..PER_TASK {
                let key = format!("t{task}-{i}");
                let a = append(
                    &store,
                    t,
                    vec![keyed("load.created", &format!("client-{task}"), &key)],
                )
                .await;
                acks.push((key, a[0].id, a[0].seq));
            }
            acks
        }));
    }
    let mut acked = Vec::new();
    for h in handles {
        match h.await {
            Ok(a) => acked.extend(a),
            Err(e) => panic!("task failed: {e}"),
        }
    }
    let total = TASKS * PER_TASK;
    let seq_set: HashSet<u64> = acked.iter().map(|(_, _, s)| *s).collect();
    assert_eq!(
        seq_set,
        (0..total as u64).collect::<HashSet<_>>(),
        "acknowledged seqs are gapless and unique"
    );
    let stored: HashMap<String, (uuid::Uuid, u64)> = all_pages(&store, t, &Filter::default(), 1000)
        .await
        .into_iter()
        .filter_map(|e| e.idempotency_key.clone().map(|k| (k, (e.id, e.seq))))
        .collect();
    assert_eq!(stored.len(), total);
    for (key, id, seq) in acked {
        assert_eq!(stored.get(&key), Some(&(id, seq)), "{key}");
    }
    assert_eq!(store.log_size(t).await.ok(), Some(total as u64));
}

/// A fresh store reports healthy.
pub async fn health_is_ok(store: Arc<dyn Store>) {
    let r = store.health().await;
    assert!(r.is_ok(), "{r:?}");
}
