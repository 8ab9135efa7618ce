//! A webhook sink while `sealtrail serve` is killed with SIGKILL, again and again, at least
//! once between two acknowledged batches: after each restart delivery resumes from the
//! stored cursor, so in the end the receiver holds every entry of the log, each resend
//! carries the same entry id, and every batch arrived in seq order.

use crate::common::Served;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use sealtrail_core::sinks::{parse_secret, verify, SIGNATURE_HEADER};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Received {
    secret: Option<[u8; 32]>,
    /// Every id received for each seq.
    ids: BTreeMap<u64, Vec<String>>,
    problems: Vec<String>,
}

type Shared = Arc<Mutex<Received>>;

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut r = shared.lock().unwrap();
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let Some(secret) = r.secret else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    if !verify(&secret, &signature, &body, now) {
        r.problems.push(format!("bad signature {signature}"));
        return StatusCode::UNAUTHORIZED;
    }
    let batch: Value = serde_json::from_slice(&body).unwrap();
    let entries = batch["entries"].as_array().cloned().unwrap_or_default();
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    if seqs.windows(2).any(|w| w[1] != w[0] + 1) {
        r.problems.push(format!("a batch out of order: {seqs:?}"));
    }
    for entry in entries {
        let seq = entry["seq"].as_u64().unwrap();
        r.ids
            .entry(seq)
            .or_default()
            .push(entry["id"].as_str().unwrap().to_string());
    }
    StatusCode::OK
}

async fn log_size(client: &reqwest::Client, url: &str, key: &str) -> u64 {
    let tenant: Value = client
        .get(format!("{url}/v1/tenant"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tenant["log_size"].as_u64().unwrap()
}

/// The log's size as the killed server left it, read from its database file directly.
fn log_size_at_kill(dir: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(dir.join("sealtrail.db")).unwrap();
    conn.query_row("SELECT count(*) FROM entries", [], |r| r.get::<_, i64>(0))
        .unwrap() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sink_loses_nothing_when_the_server_is_killed_during_delivery() {
    let shared: Shared = Arc::default();
    let app = Router::new()
        .route("/in", post(receive))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let mut server = Served::start_with(dir.path(), &["--sink-private-networks"]);
    let key = server.read_first_key();
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{}/v1/sinks", server.url))
        .bearer_auth(&key)
        .json(&json!({"name": "archive", "url": receiver, "start": "beginning"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    shared.lock().unwrap().secret =
        Some(parse_secret(created["secret"].as_str().unwrap()).unwrap());

    let mut killed_mid_delivery = 0;
    let mut held_before = 0;
    for round in 0..6u64 {
        let events: Vec<Value> = (0..1000)
            .map(|i| json!({"action": "crash.delivered", "actor": {"id": format!("r{round}u{i}")}}))
            .collect();
        let r = client
            .post(format!("{}/v1/events", server.url))
            .bearer_auth(&key)
            .json(&json!({ "events": events }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // Kill it somewhere inside the delivery of those 1,000 (10 batches of 100, which
        // the first pass after the append starts within half a second and finishes in a
        // few hundred milliseconds on the test machine).
        tokio::time::sleep(Duration::from_millis(
            [150, 300, 450, 600, 750, 900][round as usize],
        ))
        .await;
        server.sigkill();
        let held = shared.lock().unwrap().ids.len() as u64;
        let size = log_size_at_kill(dir.path());
        // Mid-delivery: at least one batch of this interval acknowledged, and not all.
        if held >= held_before + 100 && held < size {
            killed_mid_delivery += 1;
        }
        held_before = held;
        server = Served::start_with(dir.path(), &["--sink-private-networks"]);
    }

    // At least one kill found entries acknowledged by the log and not yet by the receiver.
    assert!(killed_mid_delivery >= 1, "no kill landed during a delivery");
    let size = log_size(&client, &server.url, &key).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let received = shared.lock().unwrap().ids.len() as u64;
        if received == size {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the receiver holds {received} of {size} entries after the restarts"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    {
        let r = shared.lock().unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(
            r.ids.keys().copied().collect::<Vec<_>>(),
            (0..size).collect::<Vec<_>>()
        );
        for (seq, ids) in &r.ids {
            assert!(
                ids.iter().all(|id| *id == ids[0]),
                "seq {seq} came with different ids: {ids:?}"
            );
        }
    }
    server.stop_cleanly();
}
