//! A webhook sink with two real `sealtrail serve` nodes on one real PostgreSQL database: one
//! node at a time delivers it (a lease in the database), so with both nodes up every entry
//! arrives exactly once and in order; when the node holding the lease is SIGKILLed, the
//! other takes the sink over once the lease runs out and delivers the rest from the stored
//! cursor, losing nothing.

use crate::common::log_size;
use crate::common::receiver::Receiver;
use crate::pg_nodes::start_nodes;
use sealtrail_testkit::pg_harness;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// Which node's data directory holds the id that leases the sink now.
async fn lease_holder(database: &str, dirs: &[&Path]) -> usize {
    let database = database.to_string();
    let owner: String = tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&database, postgres::NoTls).unwrap();
        client
            .query_one("SELECT lease_owner FROM sinks", &[])
            .unwrap()
            .get(0)
    })
    .await
    .unwrap();
    dirs.iter()
        .position(|dir| std::fs::read_to_string(dir.join("node-id")).unwrap().trim() == owner)
        .unwrap_or_else(|| panic!("the lease is held by {owner}, no node of this test"))
}

async fn ingest(url: &str, key: &str, round: usize) {
    let events: Vec<Value> = (0..300)
        .map(|i| json!({"action": "nodes.delivered", "actor": {"id": format!("r{round}u{i}")}}))
        .collect();
    crate::common::post_batch(url, key, events).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_at_a_time_delivers_a_sink_and_another_takes_over_when_it_dies() {
    let server = pg_harness::require_shared();
    let database = server.create_database().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dirs = [a.path(), b.path()];
    let (mut nodes, key) = start_nodes(&database, &dirs, &["--sink-private-networks"]);
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let receiver = Receiver::start().await;
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{}/v1/sinks", urls[1]))
        .bearer_auth(&key)
        .json(&json!({"name": "SIEM", "url": receiver.url, "start": "beginning"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    receiver.trust(&created);

    // Both nodes up, both taking ingest: one sender, so nothing arrives twice.
    for round in 0..4 {
        ingest(&urls[round % 2], &key, round).await;
    }
    let size = log_size(&urls[0], &key).await;
    receiver.wait_for(size, Duration::from_secs(30)).await;
    receiver.assert_complete(size);
    assert_eq!(
        receiver.resent(),
        Vec::<u64>::new(),
        "two nodes sent one sink"
    );

    // The holder dies; the survivor takes the sink over when the lease runs out (30 s).
    let holder = lease_holder(&database, &dirs).await;
    let survivor = 1 - holder;
    nodes.remove(holder).sigkill();
    let url = &urls[survivor];
    for round in 4..6 {
        ingest(url, &key, round).await;
    }
    receiver.wait_for(size + 600, Duration::from_secs(90)).await;
    receiver.assert_complete(size + 600);
    assert_eq!(lease_holder(&database, &dirs).await, survivor);
    for node in nodes {
        node.stop_cleanly();
    }
}
