//! 16 concurrent clients x 1,000 single-event requests over real HTTP: every acknowledged
//! event is present exactly once and seq is gapless.

use crate::common::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_lose_and_duplicate_nothing() {
    const CLIENTS: usize = 16;
    const PER_CLIENT: usize = 1000;
    let s = TestServer::start().await;
    // Durability under load, not the per-key rate limit (tested in http_limits.rs).
    s.lift_limits().await;
    let before = s.get_json(&s.admin_key, "/v1/tenant").await["log_size"]
        .as_u64()
        .unwrap();

    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = s.client.clone();
        let url = format!("{}/v1/events", s.url);
        let key = s.admin_key.clone();
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::with_capacity(PER_CLIENT);
            for i in 0..PER_CLIENT {
                let body = json!({
                    "action": "load.created",
                    "actor": { "id": format!("client-{c}") },
                    "description": format!("client {c} event {i}"),
                    "idempotency_key": format!("c{c}-e{i}"),
                });
                let r = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::CREATED);
                let ack: Value = r.json().await.unwrap();
                acks.push((
                    format!("c{c}-e{i}"),
                    ack["id"].as_str().unwrap().to_string(),
                    ack["seq"].as_u64().unwrap(),
                ));
            }
            acks
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert_eq!(acked.len(), CLIENTS * PER_CLIENT);

    let mut stored: HashMap<String, (String, u64)> = HashMap::new();
    let mut seqs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/events?action=load.created&limit=1000&count=false&cursor={c}"),
            None => "/v1/events?action=load.created&limit=1000&count=false".to_string(),
        };
        let page = s.get_json(&s.admin_key, &path).await;
        for e in page["entries"].as_array().unwrap() {
            let key = e["idempotency_key"].as_str().unwrap().to_string();
            let seq = e["seq"].as_u64().unwrap();
            seqs.push(seq);
            assert!(
                stored
                    .insert(key, (e["id"].as_str().unwrap().to_string(), seq))
                    .is_none(),
                "stored twice"
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    for (key, id, seq) in &acked {
        assert_eq!(
            stored.get(key),
            Some(&(id.clone(), *seq)),
            "acknowledged event {key} missing or moved"
        );
    }
    let unique: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), CLIENTS * PER_CLIENT);
    let expected: HashSet<u64> = (before..before + (CLIENTS * PER_CLIENT) as u64).collect();
    assert_eq!(unique, expected, "seq is gapless");
    let after = s.get_json(&s.admin_key, "/v1/tenant").await["log_size"]
        .as_u64()
        .unwrap();
    assert_eq!(after, before + (CLIENTS * PER_CLIENT) as u64);
}
