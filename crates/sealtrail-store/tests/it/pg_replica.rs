//! Reads from a real streaming replica: a second PostgreSQL server made with `pg_basebackup -R`
//! from the test's own primary. Once the primary is gone, pages and counts still answer (so
//! they come from the replica) while appends fail (they never do).

use sealtrail_core::filter::{Filter, Query};
use sealtrail_store::pg::{PgOptions, PgStore};
use sealtrail_store::Store;
use sealtrail_testkit::contract::fixtures::{append, event, tenant};
use sealtrail_testkit::pg_harness::PgServer;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_counts_are_served_by_the_replica() {
    let primary = PgServer::start().expect("start a private PostgreSQL");
    let url = primary.create_database().expect("create a database");
    let database = url.rsplit('/').next().unwrap_or_default().to_string();
    let store = PgStore::connect(&url, PgOptions::default())
        .await
        .expect("connect to the primary");
    let replica = primary.start_replica().expect("start a streaming replica");
    let store: Arc<dyn Store> = Arc::new(
        store
            .with_read_replica(&replica.url(&database), 2)
            .await
            .expect("connect to the replica"),
    );
    let t = tenant(&store, "acme").await;
    append(
        &store,
        t,
        (0..10)
            .map(|i| event("doc.read", &format!("u{i}")))
            .collect(),
    )
    .await;

    // The replica catches up within moments.
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.count(t, &Filter::default()).await.unwrap_or(0) < 10 {
        assert!(Instant::now() < deadline, "the replica never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    primary.crash().expect("stop the primary");
    let page = store
        .query(
            t,
            &Query {
                filter: Filter::default(),
                limit: 5,
                cursor: None,
            },
        )
        .await
        .expect("a page from the replica while the primary is down");
    assert_eq!(page.entries.len(), 5);
    assert!(page.next_cursor.is_some());
    let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [9, 8, 7, 6, 5]);
    assert_eq!(store.count(t, &Filter::default()).await.ok(), Some(10));
    assert!(store.facets(t).await.is_ok());
    assert!(
        store
            .append(t, vec![event("doc.read", "late")])
            .await
            .is_err(),
        "appends go to the primary, which is down"
    );
}
