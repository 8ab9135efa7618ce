//! A column whose type changed under the node (an operator's migration, a restore into an
//! older schema) makes the reads that decode it answer an error naming the column, the same
//! every time, instead of a panic on the request's thread.

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
async fn a_column_of_another_type_is_an_error_not_a_panic() {
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
    assert!(store.facets(t).await.is_ok());

    sql(
        &url,
        "ALTER TABLE facet_values ALTER COLUMN count TYPE numeric",
    )
    .await;
    // A node started after the change (the first one's prepared statements now fail on
    // their own: PostgreSQL will not change a cached plan's result type).
    let store: Arc<dyn Store> = match PgStore::connect(&url, PgOptions::default()).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("connect again: {e}"),
    };
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
