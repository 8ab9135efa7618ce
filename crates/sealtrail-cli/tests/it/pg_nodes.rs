//! Several real `sealtrail serve` nodes on one real PostgreSQL database (started by the test
//! harness with `initdb`/`pg_ctl`): clients on every node write to the same tenant at once,
//! a node is killed mid-ingest, and afterwards every acknowledged event is stored exactly once
//! at its acknowledged seq, seq is gapless, and `sealtrail verify` proves the Merkle tree.

use crate::common::{assert_log_holds, Acks, Served};
use sealtrail_testkit::pg_harness;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Starts one node per directory on `url`, each with `extra` options; the first creates the
/// tenant and key and its signing and pseudonym key files, which the others share (every
/// node signs checkpoints of the same logs, and the same sinks' batches).
pub fn start_nodes(url: &str, dirs: &[&Path], extra: &[&str]) -> (Vec<Served>, String) {
    let mut args = vec!["--database", url, "--no-nightly-prune"];
    args.extend_from_slice(extra);
    let mut first = Served::start_with(dirs[0], &args);
    let key = first.read_first_key();
    let signing_key = dirs[0].join("checkpoint-signing.key");
    let signing_key = signing_key.to_str().unwrap_or_default().to_string();
    let pseudonym_key = dirs[0].join("pseudonym.key");
    let pseudonym_key = pseudonym_key.to_str().unwrap_or_default().to_string();
    let mut nodes = vec![first];
    for dir in &dirs[1..] {
        let mut args = args.clone();
        args.extend_from_slice(&[
            "--signing-key-file",
            &signing_key,
            "--pseudonym-key-file",
            &pseudonym_key,
        ]);
        nodes.push(Served::start_with(dir, &args));
    }
    (nodes, key)
}

/// One client's events: single events and batches of up to 7, each event with its own
/// idempotency key. A request that fails (its node died) is sent again, unchanged, to the
/// next node, as a client behind a load balancer would retry it.
async fn run_client(
    client_id: usize,
    urls: Vec<String>,
    key: String,
    requests: usize,
    progress: Arc<AtomicUsize>,
) -> Acks {
    let http = reqwest::Client::new();
    let mut acks = Acks::new();
    for r in 0..requests {
        let size = if r % 3 == 0 {
            1
        } else {
            1 + (r * 7 + client_id) % 7
        };
        let events: Vec<Value> = (0..size)
            .map(|i| {
                json!({
                    "action": "load.created",
                    "actor": { "id": format!("client-{client_id}") },
                    "description": format!("client {client_id} request {r} event {i}"),
                    "idempotency_key": format!("c{client_id}-r{r}-e{i}"),
                })
            })
            .collect();
        let body = if size == 1 {
            events[0].clone()
        } else {
            json!({ "events": events })
        };
        let mut answer = None;
        for attempt in 0..20 {
            let url = &urls[(client_id + attempt) % urls.len()];
            let sent = http
                .post(format!("{url}/v1/events"))
                .bearer_auth(&key)
                .json(&body)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            if let Ok(response) = sent {
                if response.status().is_success() {
                    answer = response.json::<Value>().await.ok();
                    if answer.is_some() {
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let answer =
            answer.unwrap_or_else(|| panic!("client {client_id} request {r} never acknowledged"));
        let results: Vec<Value> = if size == 1 {
            vec![answer]
        } else {
            answer["results"].as_array().cloned().unwrap_or_default()
        };
        assert_eq!(results.len(), size, "one result per event");
        for (i, result) in results.iter().enumerate() {
            let id = result["id"].as_str().unwrap_or_default().to_string();
            let seq = result["seq"].as_u64().unwrap_or(u64::MAX);
            assert!(
                !id.is_empty() && seq != u64::MAX,
                "ack without id/seq: {result}"
            );
            acks.insert(format!("c{client_id}-r{r}-e{i}"), (id, seq));
        }
        progress.fetch_add(1, Ordering::SeqCst);
    }
    acks
}

/// The checks both tests end with.
async fn assert_pg_log_holds(url: &str, key: &str, acked: &Acks, database: &str, dir: &Path) {
    let dir = dir.to_str().unwrap_or_default();
    let args = [
        "--tenant",
        "default",
        "--database",
        database,
        "--data-dir",
        dir,
    ];
    assert_log_holds(url, key, acked, &args, "after ingest").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_with_eight_clients_each_keep_one_gapless_log() {
    let server = pg_harness::require_shared();
    let database = server.create_database().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (nodes, key) = start_nodes(&database, &[a.path(), b.path()], &[]);
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();

    let progress = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..16 {
        // Client c starts on node c % 2: eight clients per node, one tenant.
        let client = run_client(c, urls.clone(), key.clone(), 40, progress.clone());
        clients.push(tokio::spawn(client));
    }
    let mut acked = Acks::new();
    for client in clients {
        acked.extend(client.await.unwrap());
    }
    assert!(acked.len() > 16 * 40, "batches were sent");
    assert_pg_log_holds(&urls[1], &key, &acked, &database, a.path()).await;
    for node in nodes {
        node.stop_cleanly();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_node_mid_ingest_loses_no_acknowledged_event() {
    let server = pg_harness::require_shared();
    let database = server.create_database().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut nodes, key) = start_nodes(&database, &[a.path(), b.path()], &[]);
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();

    const REQUESTS: usize = 60;
    let progress = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..16 {
        let client = run_client(c, urls.clone(), key.clone(), REQUESTS, progress.clone());
        clients.push(tokio::spawn(client));
    }
    // Let ingest get going on both nodes, then SIGKILL the first one: its in-flight requests
    // fail and are retried on the second node.
    while progress.load(Ordering::SeqCst) < 16 * REQUESTS / 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nodes.remove(0).sigkill();
    let at_kill = progress.load(Ordering::SeqCst);
    assert!(
        at_kill < 16 * REQUESTS / 2,
        "the kill came mid-ingest ({at_kill} requests done)"
    );

    let mut acked = Acks::new();
    for client in clients {
        acked.extend(client.await.unwrap());
    }
    assert_pg_log_holds(&urls[1], &key, &acked, &database, a.path()).await;
    for node in nodes {
        node.stop_cleanly();
    }
}
