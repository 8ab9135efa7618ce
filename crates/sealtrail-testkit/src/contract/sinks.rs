//! Sinks: each tenant's own, names unique within it, and a cursor that moves only forward
//! from where a delivery started (never past a pause, a replay or a removal).

use sealtrail_core::sinks::{SinkFormat, SinkKind, SinkState};
use sealtrail_core::Timestamp;
use sealtrail_store::{NewSink, Store, StoreError};
use std::sync::Arc;
use uuid::Uuid;

fn webhook(name: &str, cursor: u64) -> NewSink {
    NewSink {
        id: Uuid::now_v7(),
        name: name.to_string(),
        kind: SinkKind::Webhook,
        url: "https://siem.example.com/in".to_string(),
        format: SinkFormat::Sealtrail,
        credential: None,
        cursor,
    }
}

/// A delivery moves the cursor only from where it started and only while the sink is
/// active; failures count up at one cursor and stop the sink when told; pausing, replaying
/// and removing are each seen by the next delivery.
pub async fn sink_cursors_move_only_forward_from_where_delivery_started(store: Arc<dyn Store>) {
    let acme = store.create_tenant("acme").await.unwrap().id;
    let added = store.add_sink(acme, webhook("SIEM", 0)).await.unwrap();
    assert_eq!(
        (
            added.state,
            added.cursor,
            added.failures,
            added.secret_version
        ),
        (SinkState::Active, 0, 0, 1)
    );
    assert_eq!(store.sinks(acme).await.unwrap(), vec![added.clone()]);
    assert!(store.active_sinks().await.unwrap().contains(&added));
    let id = added.id;
    let now = Timestamp::now();

    assert!(store.sink_delivered(acme, id, 0, 5, now).await.unwrap());
    assert!(
        !store.sink_delivered(acme, id, 0, 7, now).await.unwrap(),
        "a delivery that started at an old cursor changes nothing"
    );
    assert_eq!(
        store
            .sink_failed(acme, id, 5, "503", 16, now)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        store
            .sink_failed(acme, id, 5, "503", 16, now)
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        store
            .sink_failed(acme, id, 4, "old", 16, now)
            .await
            .unwrap(),
        None
    );
    let failing = &store.sinks(acme).await.unwrap()[0];
    assert_eq!((failing.cursor, failing.failures), (5, 2));
    assert_eq!(failing.last_error.as_deref(), Some("503"));
    assert_eq!(failing.delivered_at, Some(now));

    let paused = store
        .set_sink_state(acme, id, SinkState::Paused, None)
        .await
        .unwrap();
    assert_eq!(
        (paused.state, paused.cursor, paused.failures),
        (SinkState::Paused, 5, 0)
    );
    assert!(!store
        .active_sinks()
        .await
        .unwrap()
        .iter()
        .any(|s| s.id == id));
    assert!(
        !store.sink_delivered(acme, id, 5, 9, now).await.unwrap(),
        "paused"
    );
    assert_eq!(
        store.sink_failed(acme, id, 5, "x", 16, now).await.unwrap(),
        None
    );

    let replayed = store
        .set_sink_state(acme, id, SinkState::Active, Some(2))
        .await
        .unwrap();
    assert_eq!((replayed.state, replayed.cursor), (SinkState::Active, 2));
    assert!(
        !store.sink_delivered(acme, id, 5, 9, now).await.unwrap(),
        "replayed"
    );
    assert_eq!(
        store
            .sink_failed(acme, id, 2, "refused", 1, now)
            .await
            .unwrap(),
        Some(1)
    );
    let dead = &store.sinks(acme).await.unwrap()[0];
    assert_eq!((dead.state, dead.cursor), (SinkState::DeadLetter, 2));
    assert!(!store
        .active_sinks()
        .await
        .unwrap()
        .iter()
        .any(|s| s.id == id));
    // Counted by state across tenants, for /metrics.
    assert!(store
        .sink_state_counts()
        .await
        .unwrap()
        .contains(&(SinkState::DeadLetter, 1)));

    assert!(store.remove_sink(acme, id).await.unwrap());
    assert!(!store
        .sink_state_counts()
        .await
        .unwrap()
        .iter()
        .any(|(state, _)| *state == SinkState::DeadLetter));
    assert!(!store.remove_sink(acme, id).await.unwrap());
    assert!(!store.sink_delivered(acme, id, 2, 3, now).await.unwrap());
    assert!(store.sinks(acme).await.unwrap().is_empty());
}

/// Names are unique within a tenant, not across; no tenant reads, changes or removes
/// another's sink; an unknown tenant has none to add to.
pub async fn sinks_are_each_tenants_own(store: Arc<dyn Store>) {
    let acme = store.create_tenant("acme").await.unwrap().id;
    let globex = store.create_tenant("globex").await.unwrap().id;
    let ours = store.add_sink(acme, webhook("SIEM", 3)).await.unwrap();
    assert!(matches!(
        store.add_sink(acme, webhook("SIEM", 0)).await,
        Err(StoreError::Conflict(_))
    ));
    let theirs = store.add_sink(globex, webhook("SIEM", 0)).await.unwrap();
    assert_eq!(store.sinks(globex).await.unwrap(), vec![theirs.clone()]);
    assert!(matches!(
        store
            .set_sink_state(globex, ours.id, SinkState::Paused, None)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(!store
        .sink_delivered(globex, ours.id, 3, 4, Timestamp::now())
        .await
        .unwrap());
    assert!(!store.remove_sink(globex, ours.id).await.unwrap());
    assert_eq!(store.sinks(acme).await.unwrap(), vec![ours]);
    let unknown = sealtrail_core::TenantId(i64::MAX);
    assert!(matches!(
        store.add_sink(unknown, webhook("SIEM", 0)).await,
        Err(StoreError::NotFound(_))
    ));
}

/// One node at a time delivers a sink: a claim leases every free active sink to the node
/// asking, renews its own, leaves another node's live lease alone, and takes over one that
/// has run out; paused sinks are not claimed.
pub async fn sinks_are_leased_to_one_node_at_a_time(store: Arc<dyn Store>) {
    let acme = store.create_tenant("acme").await.unwrap().id;
    let first = store.add_sink(acme, webhook("SIEM", 0)).await.unwrap();
    let paused = store.add_sink(acme, webhook("archive", 0)).await.unwrap();
    store
        .set_sink_state(acme, paused.id, SinkState::Paused, None)
        .await
        .unwrap();
    let t = |ms: i64| Timestamp(1_800_000_000_000 + ms);
    let ids = |sinks: Vec<sealtrail_store::SinkRecord>| {
        sinks.into_iter().map(|s| s.id).collect::<Vec<_>>()
    };

    let a = store.claim_sinks("node-a", t(30_000), t(0)).await.unwrap();
    assert_eq!(ids(a), vec![first.id], "free active sinks, not paused ones");
    let b = store
        .claim_sinks("node-b", t(40_000), t(10_000))
        .await
        .unwrap();
    assert!(b.is_empty(), "node-a's lease is live");
    let renewed = store
        .claim_sinks("node-a", t(60_000), t(20_000))
        .await
        .unwrap();
    assert_eq!(ids(renewed), vec![first.id], "a node renews its own");
    let late = store
        .claim_sinks("node-b", t(90_000), t(61_000))
        .await
        .unwrap();
    assert_eq!(ids(late), vec![first.id], "an expired lease is taken over");
    let lost = store
        .claim_sinks("node-a", t(100_000), t(62_000))
        .await
        .unwrap();
    assert!(lost.is_empty(), "and the old holder no longer has it");
}

/// A sink's kind, format and (opaque, encrypted) credential come back exactly as stored,
/// from every read: the one it was added with, the tenant's list and a claim.
pub async fn a_sinks_format_and_credential_are_kept_exactly(store: Arc<dyn Store>) {
    let acme = store.create_tenant("acme").await.unwrap().id;
    let credential: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    let added = store
        .add_sink(
            acme,
            NewSink {
                kind: SinkKind::SplunkHec,
                format: SinkFormat::Ocsf,
                credential: Some(credential.clone()),
                ..webhook("Splunk", 0)
            },
        )
        .await
        .unwrap();
    assert_eq!(added.kind, SinkKind::SplunkHec);
    assert_eq!(added.format, SinkFormat::Ocsf);
    assert_eq!(added.credential.as_deref(), Some(credential.as_slice()));
    let plain = store.add_sink(acme, webhook("hooks", 0)).await.unwrap();
    assert_eq!(
        (plain.format, plain.credential),
        (SinkFormat::Sealtrail, None)
    );
    let listed = store.sinks(acme).await.unwrap();
    assert_eq!(listed.iter().find(|s| s.id == added.id), Some(&added));
    let claimed = store
        .claim_sinks(
            "n",
            Timestamp(2_000_000_000_000),
            Timestamp(1_000_000_000_000),
        )
        .await
        .unwrap();
    assert_eq!(claimed.iter().find(|s| s.id == added.id), Some(&added));
}
