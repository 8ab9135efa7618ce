//! Builders and helpers shared by the contract cases: entries, tenants, paging to the end.

use sealtrail_core::entry::{Actor, ActorType, Context, NewEntry, Outcome, Target};
use sealtrail_core::filter::{Cursor, Filter, Page, Query};
use sealtrail_core::{Entry, TenantId, Timestamp};
use sealtrail_store::{Lookup, Store};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// A minimal valid event: a user acting on one hardware record.
pub fn event(action: &str, actor: &str) -> NewEntry {
    NewEntry {
        occurred_at: None,
        channel: "hardware".into(),
        action: action.into(),
        event: action.rsplit('.').next().unwrap_or(action).into(),
        category: None,
        description: format!("{actor} did {action}"),
        result: Outcome::Success,
        actor: Actor {
            kind: ActorType::User,
            id: Some(actor.into()),
            name: Some(actor.into()),
            email: Some(format!("{actor}@example.com")),
            via: None,
        },
        targets: vec![Target {
            kind: "hardware".into(),
            id: Some("142".into()),
            name: Some("Laptop 142".into()),
        }],
        context: Context::default(),
        changes: None,
        properties: Map::new(),
        redacted: Vec::new(),
        idempotency_key: None,
    }
}

/// `event` with an idempotency key.
pub fn keyed(action: &str, actor: &str, key: &str) -> NewEntry {
    NewEntry {
        idempotency_key: Some(key.into()),
        ..event(action, actor)
    }
}

/// Properties from a JSON object literal.
pub fn props(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Entry `i` of the filter dataset (24 entries); the expected counts in the cases follow from
/// these rules.
pub fn dataset_entry(i: usize) -> NewEntry {
    let action = ["user.created", "user.deleted", "hardware.updated"][i % 3];
    let user = format!("u{}", i % 4);
    let mut e = event(action, &user);
    e.channel = if i % 2 == 0 { "auth" } else { "hardware" }.into();
    e.category = (i % 4 == 0).then(|| "Security Events".to_string());
    e.result = if i % 6 == 0 {
        Outcome::Failure
    } else {
        Outcome::Success
    };
    e.actor.name = Some(format!("User {}", i % 4));
    if i == 23 {
        e.actor = Actor::system("Nightly job");
    }
    e.context.ip = Some(format!("10.0.0.{}", i % 3));
    e.description = if i == 7 {
        "Laptop assigned to Zoë".into()
    } else {
        format!("Entry {i} recorded")
    };
    let hw = 100 + i % 5;
    e.targets = vec![Target {
        kind: "hardware".into(),
        id: Some(hw.to_string()),
        name: Some(format!("Laptop {hw}")),
    }];
    if i % 4 == 1 {
        e.targets.push(Target {
            kind: "user".into(),
            id: Some("42".into()),
            name: Some("Zoë".into()),
        });
    }
    e.properties = props(json!({
        "repo": if i % 2 == 0 { "api" } else { "web" },
        "n": i,
        "flag": i % 3 == 0,
        "code": i.to_string(),
        "nested": { "n": i },
    }));
    e
}

/// Creates a tenant with this name and returns its id.
pub async fn tenant(store: &Arc<dyn Store>, name: &str) -> TenantId {
    match store.create_tenant(name).await {
        Ok(t) => t.id,
        Err(e) => panic!("create_tenant({name}): {e}"),
    }
}

/// Appends and unwraps, naming the failure.
pub async fn append(
    store: &Arc<dyn Store>,
    tenant: TenantId,
    entries: Vec<NewEntry>,
) -> Vec<sealtrail_core::Appended> {
    match store.append(tenant, entries).await {
        Ok(a) => a,
        Err(e) => panic!("append: {e}"),
    }
}

/// The entry with this id if `get` finds it; `None` for missing or pruned (failures panic).
pub async fn found(store: &Arc<dyn Store>, tenant: TenantId, id: uuid::Uuid) -> Option<Entry> {
    match store.get(tenant, id).await {
        Ok(Lookup::Found(entry)) => Some(*entry),
        Ok(Lookup::Pruned { .. } | Lookup::Missing) => None,
        Err(e) => panic!("get {id}: {e}"),
    }
}

/// One page, unwrapped.
pub async fn page(
    store: &Arc<dyn Store>,
    tenant: TenantId,
    filter: &Filter,
    limit: usize,
    cursor: Option<Cursor>,
) -> Page {
    let query = Query {
        filter: filter.clone(),
        limit,
        cursor,
    };
    match store.query(tenant, &query).await {
        Ok(p) => p,
        Err(e) => panic!("query {filter:?} cursor {cursor:?}: {e}"),
    }
}

/// Every match, newest first, by following `next_cursor` with pages of `limit`.
pub async fn all_pages(
    store: &Arc<dyn Store>,
    tenant: TenantId,
    filter: &Filter,
    limit: usize,
) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let p = page(store, tenant, filter, limit, cursor).await;
        assert!(p.entries.len() <= limit, "page larger than its limit");
        out.extend(p.entries);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// The exact count, unwrapped.
pub async fn count(store: &Arc<dyn Store>, tenant: TenantId, filter: &Filter) -> u64 {
    match store.count(tenant, filter).await {
        Ok(n) => n,
        Err(e) => panic!("count {filter:?}: {e}"),
    }
}

/// Seqs of entries, in the order given.
pub fn seqs(entries: &[Entry]) -> Vec<u64> {
    entries.iter().map(|e| e.seq).collect()
}

/// Appends the 24-entry dataset in three timed chunks; returns the tenant and the first
/// `recorded_at` of the second and third chunks.
pub async fn seed_dataset(store: &Arc<dyn Store>, name: &str) -> (TenantId, Timestamp, Timestamp) {
    let t = tenant(store, name).await;
    let mut starts = Vec::new();
    for chunk in 0..3 {
        if chunk > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let acks = append(
            store,
            t,
            (chunk * 8..chunk * 8 + 8).map(dataset_entry).collect(),
        )
        .await;
        starts.push(acks[0].recorded_at);
    }
    (t, starts[1], starts[2])
}

/// Asserts `count` and the paged query agree with `expected` for every filter.
pub async fn expect_counts(store: &Arc<dyn Store>, t: TenantId, cases: Vec<(&str, Filter, u64)>) {
    for (name, filter, expected) in cases {
        assert_eq!(count(store, t, &filter).await, expected, "count: {name}");
        let entries = all_pages(store, t, &filter, 1000).await;
        assert_eq!(entries.len() as u64, expected, "query: {name}");
        assert!(
            entries.windows(2).all(|w| w[0].seq > w[1].seq),
            "newest first: {name}"
        );
    }
}

/// The pseudonym key of the contract suite: pinned, so a dry run and the erasure after it
/// (and both backends) agree on a subject's pseudonym.
pub fn pseudonym_key() -> sealtrail_store::PseudonymKey {
    sealtrail_store::PseudonymKey::from_bytes([7; 32])
}

/// Erases `subject` (or previews it) as the System actor "Erasure" with [`pseudonym_key`],
/// and unwraps, naming the failure.
pub async fn erase(
    store: &Arc<dyn Store>,
    t: TenantId,
    subject: &str,
    mode: sealtrail_store::ErasureMode,
) -> sealtrail_store::ErasureOutcome {
    match store
        .erase_subject(
            t,
            subject,
            mode,
            &Actor::system("Erasure"),
            &pseudonym_key(),
        )
        .await
    {
        Ok(o) => o,
        Err(e) => panic!("erase {subject} ({mode:?}): {e}"),
    }
}

/// The actions of an export case posted in batches of 500, oldest first: three batches where
/// every other entry is `bulk.imported`, then five where all are (matches sparse, then dense,
/// so an export of `action=bulk.imported` crosses pages of both kinds). Shared by the HTTP
/// export test and the one against a real `serve` on PostgreSQL.
pub fn dense_and_sparse_batches() -> Vec<Vec<&'static str>> {
    let sparse = || {
        (0..500)
            .map(|i| {
                if i % 2 == 0 {
                    "bulk.imported"
                } else {
                    "doc.viewed"
                }
            })
            .collect()
    };
    let mut batches: Vec<Vec<&'static str>> = (0..3).map(|_| sparse()).collect();
    batches.extend((0..5).map(|_| vec!["bulk.imported"; 500]));
    batches
}

/// The `bulk.imported` entries [`dense_and_sparse_batches`] makes.
pub const DENSE_AND_SPARSE_MATCHES: usize = 3 * 250 + 5 * 500;
