//! What only a real file shows: reopening, two stores writing one file, group commit, and
//! migrations racing.

use sealtrail_core::entry::NewEntry;
use sealtrail_core::filter::{Filter, Query};
use sealtrail_core::keys::Scope;
use sealtrail_core::TenantId;
use sealtrail_store::sqlite::{SqliteOptions, SqliteStore};
use sealtrail_store::{Directory, EventLog};
use sealtrail_store::{Store, StoreError};
use sealtrail_testkit::contract::fixtures::{event, keyed};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn open(dir: &Path) -> SqliteStore {
    SqliteStore::open(dir, SqliteOptions::default()).expect("open store")
}

/// Every entry of the tenant, newest first, following cursors.
async fn everything(store: &dyn Store, tenant: TenantId) -> Vec<sealtrail_core::Entry> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let query = Query {
            filter: Filter::default(),
            limit: 1000,
            cursor,
        };
        let page = store.query(tenant, &query).await.expect("query");
        out.extend(page.entries);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_everything_and_seq_continues() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (tenant, first_ids) = {
        let store = open(dir.path());
        assert_eq!(store.db_path(), dir.path().join("sealtrail.db"));
        let t = store.create_tenant("acme").await.expect("tenant");
        store
            .insert_api_key(t.id, "aaaaaaaaaaa1", [7; 32], "ci", &[Scope::Ingest])
            .await
            .expect("key");
        let batch: Vec<NewEntry> = (0..10)
            .map(|i| keyed("user.created", "alice", &format!("k{i}")))
            .collect();
        let acks = store.append(t.id, batch).await.expect("append");
        (t, acks.into_iter().map(|a| a.id).collect::<Vec<_>>())
    };

    let store = open(dir.path());
    assert_eq!(
        store.tenant_by_name("acme").await.expect("tenant"),
        Some(tenant.clone())
    );
    let key = store
        .api_key_by_prefix("aaaaaaaaaaa1")
        .await
        .expect("key")
        .expect("key kept");
    assert_eq!((key.tenant, key.hash), (tenant.id, [7; 32]));
    assert_eq!(store.log_size(tenant.id).await.expect("size"), 10);
    for id in &first_ids {
        assert!(matches!(
            store.get(tenant.id, *id).await.expect("get"),
            sealtrail_store::Lookup::Found(_)
        ));
    }
    let text = Filter {
        text: Some("alice".into()),
        ..Filter::default()
    };
    assert_eq!(
        store.count(tenant.id, &text).await.expect("count"),
        10,
        "the search index survived"
    );
    let next = store
        .append(
            tenant.id,
            vec![
                event("user.deleted", "bob"),
                keyed("x.created", "alice", "k3"),
            ],
        )
        .await
        .expect("append");
    assert_eq!(
        (next[0].seq, next[0].duplicate),
        (10, false),
        "seq continues"
    );
    assert_eq!(
        (next[1].seq, next[1].id, next[1].duplicate),
        (3, first_ids[3], true),
        "keys from before the restart still deduplicate"
    );
    let facets = store.facets(tenant.id).await.expect("facets");
    let counts: Vec<_> = facets
        .actions
        .iter()
        .map(|v| (v.value.as_str(), v.count))
        .collect();
    assert_eq!(counts, [("user.created", 10), ("user.deleted", 1)]);
    drop(store);

    let conn = rusqlite::Connection::open(dir.path().join("sealtrail.db")).expect("raw open");
    let (rows, max): (i64, i64) = conn
        .query_row(
            "SELECT count(*), max(version) FROM schema_migrations",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("migrations");
    assert_eq!(
        (rows, max),
        (SqliteStore::schema_version(), SqliteStore::schema_version()),
        "each migration applied once"
    );
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_keep_seq_gapless() {
    const TASKS_PER_STORE: usize = 6;
    const PER_TASK: usize = 60;
    let dir = tempfile::tempdir().expect("temp dir");
    let (a_sqlite, b_sqlite) = (Arc::new(open(dir.path())), Arc::new(open(dir.path())));
    let a: Arc<dyn Store> = a_sqlite.clone();
    let b: Arc<dyn Store> = b_sqlite.clone();
    let tenant = a.create_tenant("acme").await.expect("tenant").id;
    assert!(b.tenant_by_id(tenant).await.expect("visible").is_some());

    let mut handles = Vec::new();
    for (name, store) in [("a", a.clone()), ("b", b.clone())] {
        for task in 0..TASKS_PER_STORE {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                let mut acks = Vec::new();
                for i in 0..PER_TASK {
                    let key = format!("{name}{task}-{i}");
                    let batch = vec![
                        keyed("load.created", name, &key),
                        keyed("load.created", name, &key),
                    ];
                    let got = store.append(tenant, batch).await.expect("append");
                    assert_eq!(got[1].seq, got[0].seq, "in-batch duplicate");
                    acks.push((key, got[0].id, got[0].seq));
                }
                acks
            }));
        }
    }
    let mut acked = Vec::new();
    for h in handles {
        acked.extend(h.await.expect("task"));
    }
    let total = 2 * TASKS_PER_STORE * PER_TASK;
    // A store settles only its own pending derived indexes before a read; another process's
    // (here the other store's) reach the file within `MAX_LAG` of their commit (200 ms, later
    // under load). Wait for both to have written theirs, so the facet counts below hold
    // whichever store reads them.
    for (name, store) in [("a", &a_sqlite), ("b", &b_sqlite)] {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.entries_awaiting_indexes() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "store {name} still holds entries to index after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let seqs: HashSet<u64> = acked.iter().map(|(_, _, s)| *s).collect();
    assert_eq!(
        seqs,
        (0..total as u64).collect::<HashSet<_>>(),
        "gapless and unique across both writers"
    );
    for store in [&a, &b] {
        assert_eq!(store.log_size(tenant).await.expect("size"), total as u64);
        let stored: HashMap<String, (uuid::Uuid, u64)> = everything(store.as_ref(), tenant)
            .await
            .into_iter()
            .filter_map(|e| e.idempotency_key.clone().map(|k| (k, (e.id, e.seq))))
            .collect();
        assert_eq!(stored.len(), total);
        for (key, id, seq) in &acked {
            assert_eq!(stored.get(key), Some(&(*id, *seq)));
        }
        let facets = store.facets(tenant).await.expect("facets");
        assert_eq!(
            facets.actions.iter().map(|v| v.count).sum::<u64>(),
            total as u64
        );
    }
    let entries = everything(a.as_ref(), tenant).await;
    assert!(
        entries
            .windows(2)
            .all(|w| w[0].recorded_at >= w[1].recorded_at),
        "recorded_at never decreases along seq"
    );
    // Each writer read its left siblings inside its own transaction, so the interleaved
    // groups still built one consistent tree.
    let verified = a.verify_log(tenant, &|_| {}).await.expect("verify");
    assert_eq!(verified.first_problem, None);
    assert_eq!(verified.checked, total as u64);
    let (head_a, head_b) = (
        a.tree_head(tenant).await.expect("head"),
        b.tree_head(tenant).await.expect("head"),
    );
    assert_eq!(head_a, head_b);
    assert_eq!(head_a.root, verified.root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_share_group_commits() {
    const REQUESTS: usize = 64;
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions {
        group_commit_wait: Duration::from_millis(20),
        ..SqliteOptions::default()
    };
    let store = Arc::new(SqliteStore::open(dir.path(), options).expect("open"));
    let tenant = store.create_tenant("acme").await.expect("tenant").id;
    let before = store.commit_count();
    let mut handles = Vec::new();
    for i in 0..REQUESTS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .append(tenant, vec![event("a.created", &format!("u{i}"))])
                .await
        }));
    }
    for h in handles {
        h.await.expect("task").expect("append");
    }
    let commits = store.commit_count() - before;
    assert!(
        commits >= 1 && commits < REQUESTS as u64 / 2,
        "{commits} commits for {REQUESTS} requests"
    );
    assert_eq!(store.log_size(tenant).await.expect("size"), REQUESTS as u64);
}

#[tokio::test]
async fn a_group_never_exceeds_max_batch_entries_but_big_requests_still_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions {
        max_batch_entries: 5,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(dir.path(), options).expect("open");
    let tenant = store.create_tenant("acme").await.expect("tenant").id;
    let acks = store
        .append(tenant, (0..12).map(|_| event("a.created", "u")).collect())
        .await
        .expect("append");
    assert_eq!(
        acks.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>(),
        "one request is never split"
    );
}

#[test]
fn two_processes_opening_a_fresh_file_at_once_both_succeed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let barrier = Arc::new(Barrier::new(4));
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let path = dir.path().to_path_buf();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                SqliteStore::open(&path, SqliteOptions::default()).map(drop)
            })
        })
        .collect();
    for o in openers {
        o.join().expect("thread").expect("open");
    }
    let conn = rusqlite::Connection::open(dir.path().join("sealtrail.db")).expect("raw open");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
        .expect("rows");
    assert_eq!(rows, SqliteStore::schema_version());
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(open(dir.path()));
    let conn = rusqlite::Connection::open(dir.path().join("sealtrail.db")).expect("raw open");
    conn.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)",
        [],
    )
    .expect("insert");
    drop(conn);
    match SqliteStore::open(dir.path(), SqliteOptions::default()) {
        Err(StoreError::Backend(message)) => assert!(message.contains("9999"), "{message}"),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}
