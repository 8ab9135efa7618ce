//! How PostgreSQL stores an entry's large values: rows past the 2 KB TOAST threshold are
//! compressed with lz4 wherever the server offers it (PostgreSQL 14 or newer built with it),
//! which costs far less CPU on every append and every read than the default pglz, and such
//! rows read back and verify like any other.

use postgres::NoTls;
use sealtrail_store::pg::{PgOptions, PgStore};
use sealtrail_store::Store;
use sealtrail_testkit::contract::fixtures::{event, tenant};
use sealtrail_testkit::pg_harness::PgServer;
use std::sync::Arc;

/// The compression methods of the stored search words, and whether the server offers lz4.
async fn words_compression(url: &str) -> (Vec<Option<String>>, bool) {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&url, NoTls).unwrap();
        let methods = client
            .query(
                "SELECT DISTINCT pg_column_compression(words) FROM entries ORDER BY 1",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        let offered = client
            .query_one(
                "SELECT count(*) FROM pg_settings
                 WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0)
            == 1;
        (methods, offered)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_entries_are_compressed_with_lz4_and_still_verify() {
    let server = PgServer::start().unwrap();
    let url = server.create_database().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(PgStore::connect(&url, PgOptions::default()).await.unwrap());
    let t = tenant(&store, "acme").await;
    // Descriptions of many distinct words: each row's search words (every word and its inner
    // suffixes) pass the threshold.
    let entries = (0..40)
        .map(|i| {
            let mut e = event("document.reviewed", &format!("u-{i}"));
            e.description = (0..120)
                .map(|w| format!("reviewing{i}section{w}paragraph"))
                .collect::<Vec<_>>()
                .join(" ");
            e
        })
        .collect::<Vec<_>>();
    store.append(t, entries).await.unwrap();

    let (methods, offered) = words_compression(&url).await;
    // The test cluster's server offers lz4 (Debian's build does); one without it keeps its
    // own default, which is then all this test can see.
    if offered {
        assert_eq!(methods, vec![Some("lz4".to_string())]);
    }

    let verification = store.verify_log(t, &|_| {}).await.unwrap();
    assert_eq!(verification.first_problem, None);
    assert_eq!(verification.checked, 40);
}
