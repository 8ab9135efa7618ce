//! A column whose type changed under a running node (an operator's migration, a restore into
//! an older schema): a type the node still reads is read on, its prepared statements made
//! afresh; one it cannot read makes the reads that decode it answer an error naming the
//! column, the same every time, instead of a panic on the request's thread.

use postgres::NoTls;
use sealtrail_store::pg::{PgOptions, PgStore};
use sealtrail_store::Store;
use sealtrail_testkit::contract::fixtures::{append, event, tenant};
use sealtrail_testkit::pg_harness;
use std::sync::Arc;

/// Runs SQL on a connection of its own, as an operator would.
async fn sql(url: &str, statements: &'static str) {
    let url = url.to_string();
    let done = tokio::task::spawn_blocking(move || -> Result<(), postgres::Error> {
        postgres::Client::connect(&url, NoTls)?.batch_execute(statements)
    })
    .await;
    assert!(matches!(done, Ok(Ok(()))), "{done:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_column_changed_under_a_running_node_is_read_on_or_named() {
    let url = match pg_harness::require_shared().create_database() {
        Ok(url) => url,
        Err(e) => panic!("create a database: {e}"),
    };
    let store: Arc<dyn Store> = match PgStore::connect(&url, PgOptions::default()).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("connect: {e}"),
    };
    let t = tenant(&store, "acme").await;
    append(&store, t, vec![event("a.created", "u0")]).await;
    let before = match store.facets(t).await {
        Ok(facets) => facets,
        Err(e) => panic!("facets: {e}"),
    };

    // A type the node still reads: the running node's prepared statements are prepared
    // afresh (PostgreSQL refuses to change a cached plan's result type) and it carries on.
    sql(
        &url,
        "ALTER TABLE facet_values ALTER COLUMN value TYPE varchar(400)",
    )
    .await;
    match store.facets(t).await {
        Ok(after) => assert_eq!(after, before),
        Err(e) => panic!("facets after a compatible change: {e}"),
    }

    // A type it cannot read: an error naming the column, the same every time.
    sql(
        &url,
        "ALTER TABLE facet_values ALTER COLUMN count TYPE numeric",
    )
    .await;
    for _ in 0..3 {
        match store.facets(t).await {
            Err(e) => {
                let message = e.to_string();
                assert!(message.contains("column"), "{message}");
                assert!(!message.contains("panicked"), "{message}");
            }
            Ok(facets) => panic!("read a numeric count as an integer: {facets:?}"),
        }
    }
}
