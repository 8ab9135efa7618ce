//! Exports of a real `serve` on PostgreSQL, where a page is read ahead while another is
//! converted (`EventLog::reads_pages_ahead`): through dense pages, where the page read ahead is
//! the one wanted, and then sparse ones, where it is not and is read again, newest and oldest
//! first, an export holds exactly the entries the API lists, in order.

use crate::common::{get_json, post_batch, Served};
use sealtrail_testkit::contract::fixtures::{dense_and_sparse_batches, DENSE_AND_SPARSE_MATCHES};
use sealtrail_testkit::pg_harness::PgServer;
use serde_json::{json, Value};

/// The ids of the entries an NDJSON export holds, in its order.
async fn exported_ids(url: &str, key: &str, query: &str) -> Vec<Value> {
    let r = reqwest::Client::new()
        .get(format!("{url}/v1/export?format=ndjson&{query}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes()
        .await
        .unwrap()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).unwrap()["id"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_read_ahead_through_dense_and_sparse_pages_hold_exactly_the_listed_entries() {
    let server = PgServer::start().unwrap();
    let database = server.create_database().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start_with(dir.path(), &["--database", &database]);
    let key = served.read_first_key();
    let batch = |actions: Vec<&str>| -> Vec<Value> {
        actions
            .iter()
            .enumerate()
            .map(|(i, action)| {
                json!({ "action": action, "channel": "docs",
                        "actor": { "id": format!("u{}", i % 5) } })
            })
            .collect()
    };
    // Oldest: every other entry matches; newest: a dense run of 2,500 matches.
    for actions in dense_and_sparse_batches() {
        post_batch(&served.url, &key, batch(actions)).await;
    }
    let mut listed: Vec<Value> = Vec::new();
    let mut path = "/v1/events?action=bulk.imported&limit=1000&count=false".to_string();
    loop {
        let page = get_json(&served.url, &key, &path).await;
        listed.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => {
                path = format!("/v1/events?action=bulk.imported&limit=1000&count=false&cursor={c}")
            }
            None => break,
        }
    }
    assert_eq!(listed.len(), DENSE_AND_SPARSE_MATCHES);
    let newest = exported_ids(&served.url, &key, "action=bulk.imported").await;
    assert_eq!(newest, listed);
    let mut oldest = exported_ids(&served.url, &key, "action=bulk.imported&order=oldest").await;
    oldest.reverse();
    assert_eq!(oldest, listed);
    // The whole log, every page dense: the unfiltered export holds every listed entry too.
    let all = exported_ids(&served.url, &key, "").await;
    assert!(all.len() >= 4000, "{}", all.len());
}
