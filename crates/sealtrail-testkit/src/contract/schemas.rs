//! Per-action schemas: versions counted per tenant and action from 1, kept as registered,
//! listed in order, isolated by tenant, concurrent registrations each getting their own
//! version (or a conflict to retry, never a lost or shared one).

use sealtrail_core::TenantId;
use sealtrail_store::{Store, StoreError};
use std::sync::Arc;

/// Versions start at 1 per tenant and action, are kept as registered with their source, and
/// list by action then version; an unknown tenant is not found.
pub async fn action_schemas_are_versioned_per_tenant_and_action(store: Arc<dyn Store>) {
    let acme = store.create_tenant("acme").await.unwrap().id;
    let globex = store.create_tenant("globex").await.unwrap().id;
    let first = store
        .add_action_schema(acme, "invoice.paid", r#"{"type":"object"}"#, None)
        .await
        .unwrap();
    assert_eq!((first.action.as_str(), first.version), ("invoice.paid", 1));
    let second = store
        .add_action_schema(
            acme,
            "invoice.paid",
            r#"{"required":["properties"]}"#,
            Some(r#"{"targets":[{"type":"invoice"}]}"#),
        )
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    assert!(second.created_at >= first.created_at);
    let other = store
        .add_action_schema(acme, "user.signed_in", "{}", None)
        .await
        .unwrap();
    assert_eq!(other.version, 1, "versions count per action");
    let elsewhere = store
        .add_action_schema(globex, "invoice.paid", "{}", None)
        .await
        .unwrap();
    assert_eq!(elsewhere.version, 1, "versions count per tenant");

    let listed = store.action_schemas(acme).await.unwrap();
    assert_eq!(listed, vec![first, second, other]);
    assert_eq!(
        listed[1].source.as_deref(),
        Some(r#"{"targets":[{"type":"invoice"}]}"#)
    );
    assert_eq!(store.action_schemas(globex).await.unwrap(), vec![elsewhere]);

    let missing = store
        .add_action_schema(TenantId(987_654), "a.b", "{}", None)
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

/// Eight registrations at once: each either gets a version of its own or a conflict to
/// retry; the versions kept are 1..n without a gap.
pub async fn concurrent_schema_registrations_never_share_a_version(store: Arc<dyn Store>) {
    let tenant = store.create_tenant("acme").await.unwrap().id;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .add_action_schema(tenant, "doc.shared", &format!(r#"{{"title":"{i}"}}"#), None)
                    .await
            })
        })
        .collect();
    let mut stored = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(schema) => stored.push(schema),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(!stored.is_empty());
    let listed = store.action_schemas(tenant).await.unwrap();
    assert_eq!(
        listed.len(),
        stored.len(),
        "every success is kept, every conflict is not"
    );
    let versions: Vec<u32> = listed.iter().map(|s| s.version).collect();
    assert_eq!(versions, (1..=listed.len() as u32).collect::<Vec<_>>());
    for schema in &stored {
        assert!(listed.contains(schema));
    }
}
