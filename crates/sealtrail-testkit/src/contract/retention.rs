//! Cases on retention: pruning removes old entries from every read path while proofs and
//! consistency across the prune still hold, the legal hold blocks it, and retention has a floor.

use super::fixtures::*;
use super::integrity::{grow, head, leaf_hashes};
use sealtrail_core::filter::Filter;
use sealtrail_core::merkle;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{Lookup, PruneOrder, Retention, Store, StoreError, TenantSettings};
use std::sync::Arc;
use std::time::Duration;

/// Entries recorded before the cutoff disappear (lookups say `Pruned`, queries, counts and
/// facets no longer see them) while the tree keeps proving them; appends continue gapless.
pub async fn prune_removes_old_entries_and_keeps_proofs(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    let theirs = append(&store, other, vec![event("a.created", "u")]).await;
    let mut old = Vec::new();
    for i in 0..30 {
        let mut e = dataset_entry(i);
        e.description = format!("ancient record {i}");
        e.channel = "legacy".into();
        old.push(e);
    }
    let old_acks = append(&store, t, old).await;
    let before = head(&store, t).await;
    let old_leaves = leaf_hashes(&store, t).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let new_acks = append(&store, t, (0..20).map(dataset_entry).collect()).await;
    let cutoff = new_acks[0].recorded_at;
    let full = head(&store, t).await;
    assert_eq!(full.size, 50);

    let outcome = match store.prune(t, &PruneOrder::at(cutoff)).await {
        Ok(o) => o,
        Err(e) => panic!("prune: {e}"),
    };
    assert_eq!(
        (outcome.removed, outcome.cutoff, outcome.first_kept_seq),
        (30, cutoff, 30)
    );
    // The prune's own entry (seq 50) went into the log before anything was removed; the
    // tree only grew by it.
    let pruned = head(&store, t).await;
    assert_eq!(pruned.size, 51);
    let proof = store.consistency_proof(t, 50, 51).await.unwrap_or_default();
    assert!(merkle::verify_consistency(50, 51, &full.root, &pruned.root, &proof).is_ok());
    let newest = all_pages(&store, t, &Filter::default(), 7).await;
    let record = &newest[0];
    assert_eq!(record.seq, 50);
    assert_eq!(
        (
            record.action.as_str(),
            record.properties.get("first_kept_seq"),
            record.properties.get("removed")
        ),
        (
            "retention.pruned",
            Some(&serde_json::json!(30)),
            Some(&serde_json::json!(30))
        )
    );
    for a in &old_acks {
        assert_eq!(
            store.get(t, a.id).await.ok(),
            Some(Lookup::Pruned { seq: a.seq })
        );
    }
    assert!(found(&store, t, new_acks[0].id).await.is_some());
    assert_eq!(
        store.get(other, old_acks[0].id).await.ok(),
        Some(Lookup::Missing)
    );
    assert!(found(&store, other, theirs[0].id).await.is_some());

    let all = Filter::default();
    assert_eq!(count(&store, t, &all).await, 21);
    assert_eq!(
        seqs(&all_pages(&store, t, &all, 7).await),
        (30..51).rev().collect::<Vec<_>>()
    );
    let text = Filter {
        text: Some("ancient".into()),
        ..Filter::default()
    };
    assert_eq!(count(&store, t, &text).await, 0);
    let legacy = Filter {
        channel: Some("legacy".into()),
        ..Filter::default()
    };
    assert_eq!(count(&store, t, &legacy).await, 0);
    let since_epoch = Filter {
        from: Some(Timestamp(0)),
        ..Filter::default()
    };
    assert_eq!(count(&store, t, &since_epoch).await, 21);
    let until_cutoff = Filter {
        until: Some(cutoff),
        ..Filter::default()
    };
    assert_eq!(count(&store, t, &until_cutoff).await, 0);
    let facets = store.facets(t).await.unwrap_or_default();
    assert!(
        facets.channels.iter().all(|c| c.value != "legacy"),
        "{facets:?}"
    );
    assert_eq!(facets.actions.iter().map(|a| a.count).sum::<u64>(), 21);
    assert_eq!(facets.actors.iter().map(|a| a.count).sum::<u64>(), 21);
    let leaves = store.leaves(t, 0, 100).await.unwrap_or_default();
    assert_eq!(leaves.first().map(|l| l.seq), Some(30));

    // Proofs for pruned seqs and consistency across the prune still verify.
    for (seq, leaf) in old_leaves.iter().step_by(7) {
        let proof = store.inclusion_proof(t, *seq, 50).await.unwrap_or_default();
        assert!(
            merkle::verify_inclusion(*seq, 50, leaf, &proof, &full.root).is_ok(),
            "seq {seq}"
        );
    }
    let proof = store.consistency_proof(t, 30, 50).await.unwrap_or_default();
    assert!(merkle::verify_consistency(30, 50, &before.root, &full.root, &proof).is_ok());

    let more = append(
        &store,
        t,
        vec![event("a.created", "u"), event("b.created", "u")],
    )
    .await;
    assert_eq!(more.iter().map(|a| a.seq).collect::<Vec<_>>(), [51, 52]);
    assert_eq!(count(&store, t, &all).await, 23);
    let after = head(&store, t).await;
    let proof = store.consistency_proof(t, 50, 53).await.unwrap_or_default();
    assert!(merkle::verify_consistency(50, 53, &full.root, &after.root, &proof).is_ok());
    let verified = store.verify_log(t, &|_| {}).await;
    let verified = match verified {
        Ok(v) => v,
        Err(e) => panic!("verify_log: {e}"),
    };
    assert_eq!(verified.first_problem, None);
    assert_eq!((verified.size, verified.root), (53, after.root));
    assert_eq!((verified.checked, verified.pruned), (23, 30));

    // Nothing more is old enough: the prune still says so in the log (seq 53).
    let again = store.prune(t, &PruneOrder::at(cutoff)).await.ok();
    assert_eq!(again.map(|o| (o.removed, o.first_kept_seq)), Some((0, 30)));
    // Everything up to its own entry (seq 54), which it keeps.
    let everything = store
        .prune(t, &PruneOrder::at(Timestamp(i64::MAX)))
        .await
        .ok();
    assert_eq!(
        everything.map(|o| (o.removed, o.first_kept_seq)),
        Some((24, 54))
    );
    assert_eq!(seqs(&all_pages(&store, t, &all, 10).await), [54]);
    let facets = store.facets(t).await.unwrap_or_default();
    assert_eq!(
        facets
            .actions
            .iter()
            .map(|a| (a.value.as_str(), a.count))
            .collect::<Vec<_>>(),
        [("retention.pruned", 1)]
    );
    let next = append(&store, t, vec![event("c.created", "u")]).await;
    assert_eq!(next[0].seq, 55);
    assert_eq!(count(&store, t, &all).await, 2);
    let verified = store.verify_log(t, &|_| {}).await.ok();
    assert_eq!(
        verified.map(|v| (v.first_problem, v.checked, v.pruned)),
        Some((None, 2, 54))
    );
    assert_eq!(
        count(&store, other, &all).await,
        1,
        "other tenant untouched"
    );
}

/// Pruning more entries than one write transaction takes (5,000 in the SQLite backend) works
/// in several steps and still removes exactly the old ones.
pub async fn prune_in_chunks_removes_exactly_the_old_entries(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let n = 5_123;
    for start in (0..n).step_by(1000) {
        let k = 1000.min(n - start);
        append(
            &store,
            t,
            (start..start + k)
                .map(|i| event("bulk.created", &format!("u{}", i % 7)))
                .collect(),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let kept = append(&store, t, vec![event("kept.created", "u")]).await;
    let outcome = store
        .prune(t, &PruneOrder::at(kept[0].recorded_at))
        .await
        .ok();
    assert_eq!(
        outcome.map(|o| (o.removed, o.first_kept_seq)),
        Some((n as u64, n as u64))
    );
    assert_eq!(
        count(&store, t, &Filter::default()).await,
        2,
        "kept + the prune's entry"
    );
    let verified = store.verify_log(t, &|_| {}).await.ok();
    assert_eq!(
        verified.map(|v| (v.first_problem, v.checked)),
        Some((None, 2))
    );
}

/// A legal hold refuses every prune until it is lifted.
pub async fn legal_hold_blocks_prune(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    grow(&store, t, 5).await;
    let held = store.set_legal_hold(t, true).await.ok();
    assert_eq!(held.map(|s| s.legal_hold), Some(true));
    let r = store.prune(t, &PruneOrder::at(Timestamp(i64::MAX))).await;
    assert!(
        matches!(&r, Err(StoreError::Conflict(m)) if m.contains("legal hold")),
        "{r:?}"
    );
    assert_eq!(
        count(&store, t, &Filter::default()).await,
        5,
        "nothing was pruned"
    );
    assert!(store.set_legal_hold(t, false).await.is_ok());
    let r = store
        .prune(t, &PruneOrder::at(Timestamp(i64::MAX)))
        .await
        .ok();
    assert_eq!(r.map(|o| o.removed), Some(5));
}

/// Retention defaults to a year, can be forever, and never goes below 30 days.
pub async fn retention_has_a_floor(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let defaults = TenantSettings {
        retention: Retention::Days(365),
        legal_hold: false,
        export_excluded_properties: Vec::new(),
        ip_allowlist: Vec::new(),
        limits: sealtrail_store::TenantLimits::DEFAULT,
        tile_access: sealtrail_store::TileAccess::Off,
        default_period: None,
        cors_origins: Vec::new(),
    };
    assert_eq!(store.settings(t).await.ok(), Some(defaults.clone()));
    for days in [0, 1, 29] {
        let r = store.set_retention(t, Retention::Days(days)).await;
        assert!(matches!(r, Err(StoreError::Invalid(_))), "{days}: {r:?}");
    }
    assert_eq!(
        store.settings(t).await.ok(),
        Some(defaults.clone()),
        "refusals change nothing"
    );
    let r = store.set_retention(t, Retention::Days(30)).await.ok();
    assert_eq!(r.map(|s| s.retention), Some(Retention::Days(30)));
    let r = store.set_retention(t, Retention::Forever).await.ok();
    assert_eq!(r.map(|s| s.retention), Some(Retention::Forever));
    assert!(store.set_legal_hold(t, true).await.is_ok());
    let now = store.settings(t).await.ok();
    assert_eq!(
        now,
        Some(TenantSettings {
            retention: Retention::Forever,
            legal_hold: true,
            export_excluded_properties: Vec::new(),
            ip_allowlist: Vec::new(),
            limits: sealtrail_store::TenantLimits::DEFAULT,
            tile_access: sealtrail_store::TileAccess::Off,
            default_period: None,
            cors_origins: Vec::new(),
        })
    );
    let other = tenant(&store, "globex").await;
    assert_eq!(
        store.settings(other).await.ok(),
        Some(defaults),
        "settings are per tenant"
    );
    let unknown = store.settings(TenantId(987_654)).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    assert_eq!(
        Retention::Days(30).cutoff(Timestamp(40 * 86_400_000)),
        Some(Timestamp(10 * 86_400_000))
    );
    assert_eq!(Retention::Forever.cutoff(Timestamp(0)), None);
}

/// Export exclusions are normalised, validated, per tenant, and survive as set.
pub async fn export_exclusions_are_per_tenant_and_validated(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    let set = store
        .set_export_exclusions(
            t,
            vec![" dialogue ".into(), "notes".into(), "dialogue".into()],
        )
        .await
        .map(|s| s.export_excluded_properties)
        .ok();
    assert_eq!(set, Some(vec!["dialogue".to_string(), "notes".to_string()]));
    assert_eq!(
        store
            .settings(t)
            .await
            .ok()
            .map(|s| s.export_excluded_properties),
        set
    );
    assert_eq!(
        store
            .settings(other)
            .await
            .ok()
            .map(|s| s.export_excluded_properties),
        Some(Vec::new())
    );
    for bad in [String::new(), "a\nb".into(), "k".repeat(129)] {
        let r = store.set_export_exclusions(t, vec![bad.clone()]).await;
        assert!(matches!(r, Err(StoreError::Invalid(_))), "{bad:?}: {r:?}");
    }
    let cleared = store.set_export_exclusions(t, Vec::new()).await.ok();
    assert_eq!(
        cleared.map(|s| s.export_excluded_properties),
        Some(Vec::new())
    );
    let unknown = store
        .set_export_exclusions(TenantId(987_654), vec!["x".into()])
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

/// The audit page's default period: any time until set, one of the presets, per tenant, reset
/// with `None`; anything else is refused and changes nothing.
pub async fn default_period_is_a_preset_per_tenant(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    let period = |s: Result<TenantSettings, StoreError>| s.map(|s| s.default_period);
    assert_eq!(period(store.settings(t).await).ok(), Some(None));
    for preset in ["24h", "3m", "this_month"] {
        let set = store.set_default_period(t, Some(preset.into())).await;
        assert_eq!(period(set).ok(), Some(Some(preset.to_string())));
        assert_eq!(
            period(store.settings(t).await).ok(),
            Some(Some(preset.to_string()))
        );
    }
    for bad in ["", "fortnight", "24H", "30d; DROP TABLE tenants"] {
        let r = store.set_default_period(t, Some(bad.into())).await;
        assert!(matches!(r, Err(StoreError::Invalid(_))), "{bad}: {r:?}");
    }
    assert_eq!(
        period(store.settings(t).await).ok(),
        Some(Some("this_month".to_string())),
        "refusals change nothing"
    );
    assert_eq!(period(store.settings(other).await).ok(), Some(None));
    assert_eq!(
        period(store.set_default_period(t, None).await).ok(),
        Some(None)
    );
    let unknown = store
        .set_default_period(TenantId(987_654), Some("7d".into()))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}
