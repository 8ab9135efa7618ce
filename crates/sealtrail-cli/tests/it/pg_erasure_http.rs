//! A GDPR erasure asked for over HTTP of a real `serve` on PostgreSQL leaves no byte of the
//! subject in any table or index file of the cluster, nor in the node's data directory: the
//! log's partition, its search index, the actors' facets and an export job's stored file
//! (scanned after `CHECKPOINT`, every file but the WAL, which docs/scale-out.md covers).

use crate::common::{get_json, post_batch, Served};
use reqwest::{Client, StatusCode};
use sealtrail_testkit::pg_harness::PgServer;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// Every file under `dir` but the WAL holding `needle` (ignoring ASCII case).
fn holding(dir: &Path, needle: &str, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "pg_wal") {
            continue;
        }
        if path.is_dir() {
            holding(&path, needle, found);
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
            {
                found.push(format!("{needle} in {}", path.display()));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_over_http_leaves_the_subject_in_no_file_of_the_cluster() {
    let server = PgServer::start().unwrap();
    let database = server.create_database().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start_with(dir.path(), &["--database", &database]);
    let key = served.read_first_key();
    let n = std::process::id();
    let (id, email, name) = (
        format!("u-erin-{n}"),
        format!("erin.erasable.{n}@example.org"),
        format!("Erin Erasable{n}"),
    );
    let events: Vec<Value> = (0..300)
        .map(|i| {
            if i % 3 == 0 {
                json!({ "action": "document.shared", "channel": "docs",
                        "description": format!("{name} shared document {i}"),
                        "actor": { "id": id, "email": email, "name": name } })
            } else {
                json!({ "action": "document.viewed", "channel": "docs",
                        "description": format!("document {i} viewed"), "actor": { "id": format!("u-{}", i % 7) } })
            }
        })
        .collect();
    post_batch(&served.url, &key, events).await;

    // An export of the log, stored by the server until it expires.
    let client = Client::new();
    let r = client
        .post(format!("{}/v1/exports", served.url))
        .bearer_auth(&key)
        .json(&json!({ "format": "csv" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..300 {
        let state = get_json(&served.url, &key, &format!("/v1/exports/{job}")).await;
        if state["state"] == "ready" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let checkpoint = |url: String| {
        tokio::task::spawn_blocking(move || {
            postgres::Client::connect(&url, postgres::NoTls)
                .unwrap()
                .batch_execute("CHECKPOINT")
                .unwrap()
        })
    };
    checkpoint(database.clone()).await.unwrap();
    let mut before = Vec::new();
    holding(server.data_dir(), &email, &mut before);
    assert!(!before.is_empty(), "the scan finds the subject before");

    let r = client
        .post(format!("{}/v1/subjects/{email}/erase", served.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = client
        .get(format!("{}/v1/exports/{job}/download", served.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::GONE,
        "the earlier export is withdrawn"
    );

    checkpoint(database.clone()).await.unwrap();
    let mut left = Vec::new();
    for needle in [&id, &email, &name] {
        holding(server.data_dir(), needle, &mut left);
        holding(dir.path(), needle, &mut left);
    }
    assert!(left.is_empty(), "{left:?}");
    served.stop_cleanly();
}
