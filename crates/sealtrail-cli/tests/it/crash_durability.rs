//! The durability harness (issue #7): eight writers send batches of 1–100 events to a real
//! `sealtrail serve` on the embedded SQLite database while the server is killed with SIGKILL at
//! random moments and restarted on the same data directory. A client ledger records every
//! acknowledged event; after each restart every acknowledged event must be stored exactly once
//! at its acknowledged seq, seq must be gapless, and `sealtrail verify` must pass. Requests
//! whose answer was lost in a crash are retried after the restart with the same idempotency
//! keys, as a real client would, and must then resolve to exactly one entry each.
//!
//! `.ci/run` runs the short version (5 crashes). The long one:
//! `SEALTRAIL_CRASHES=50 cargo test -p sealtrail --test crash_durability -- --nocapture`
//! (`SEALTRAIL_CRASH_SEED` repeats a run).

use crate::common::{assert_log_holds, get_json, Acks, Served};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A small deterministic generator, so a failing run can be repeated from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Acknowledged events: idempotency key → (id, seq).
type Ledger = Arc<Mutex<Acks>>;

/// One writer's request that has not been answered yet: sent again after a crash.
type Pending = Option<(Vec<String>, Value)>;

/// Sends batches until the server stops answering; returns the unanswered request, if any.
async fn write_until_crash(
    writer: usize,
    url: String,
    key: String,
    ledger: Ledger,
    mut pending: Pending,
    mut rng: Rng,
    next_batch: Arc<Mutex<u64>>,
) -> Pending {
    let http = reqwest::Client::new();
    loop {
        let (keys, body) = match pending.take() {
            Some(request) => request,
            None => {
                let batch = {
                    let mut n = next_batch.lock().unwrap_or_else(|e| e.into_inner());
                    *n += 1;
                    *n
                };
                let size = 1 + rng.below(100) as usize;
                let keys: Vec<String> = (0..size)
                    .map(|i| format!("w{writer}-b{batch}-e{i}"))
                    .collect();
                let events: Vec<Value> = keys
                    .iter()
                    .map(|k| {
                        json!({
                            "action": "crash.tested",
                            "actor": { "id": format!("writer-{writer}") },
                            "description": format!("crash test event {k}"),
                            "targets": [{ "type": "crash-batch", "id": format!("w{writer}-b{batch}") }],
                            "idempotency_key": k,
                        })
                    })
                    .collect();
                (keys, json!({ "events": events }))
            }
        };
        let sent = http
            .post(format!("{url}/v1/events"))
            .bearer_auth(&key)
            .json(&body)
            .timeout(Duration::from_secs(20))
            .send()
            .await;
        let answer = match sent {
            Ok(r) if r.status() == StatusCode::OK => r.json::<Value>().await.ok(),
            _ => None,
        };
        let Some(answer) = answer else {
            return Some((keys, body));
        };
        let results = answer["results"].as_array().cloned().unwrap_or_default();
        assert_eq!(results.len(), keys.len(), "one result per event: {answer}");
        let mut ledger = ledger.lock().unwrap_or_else(|e| e.into_inner());
        for (k, result) in keys.iter().zip(&results) {
            let id = result["id"].as_str().unwrap_or_default().to_string();
            let seq = result["seq"].as_u64().unwrap_or(u64::MAX);
            assert!(
                !id.is_empty() && seq != u64::MAX,
                "ack without id/seq: {result}"
            );
            if let Some(earlier) = ledger.insert(k.clone(), (id.clone(), seq)) {
                // A retry after a crash answers with the original: never a second entry.
                assert_eq!(
                    earlier,
                    (id, seq),
                    "event {k} acknowledged twice differently"
                );
            }
        }
    }
}

/// Every acknowledged event once at its seq, seq gapless, the whole log verifies, and the
/// derived indexes (search words, target rows, facet counts, written after the acknowledging
/// commit) hold every stored event exactly once, whenever the kill came.
async fn check(url: &str, key: &str, dir: &Path, ledger: &Ledger, crash: usize) {
    let acked = ledger.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let dir = dir.to_str().unwrap_or_default();
    let when = format!("after crash {crash}");
    assert_log_holds(url, key, &acked, &["--data-dir", dir], &when).await;
    let get = |path: String| async move { get_json(url, key, &path).await };
    let total = |filter: &str| {
        let page = get(format!("/v1/events?limit=1&{filter}"));
        async move { page.await["total"].as_u64().unwrap_or(u64::MAX) }
    };
    let stored = total("action=crash.tested").await;
    assert!(stored >= acked.len() as u64, "{when}: {stored} stored");
    assert_eq!(total("q=crash").await, stored, "{when}: search");
    assert_eq!(
        total("target_type=crash-batch").await,
        stored,
        "{when}: target rows"
    );
    let facets = get("/v1/facets".into()).await;
    let counted = facets["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["value"] == "crash.tested")
        .and_then(|a| a["count"].as_u64())
        // Facets list only values that occur: none stored yet (a kill before the first
        // commit) is no entry at all.
        .unwrap_or(0);
    assert_eq!(counted, stored, "{when}: facet count");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_events_survive_sigkill_at_random_moments() {
    let crashes: usize = std::env::var("SEALTRAIL_CRASHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let seed: u64 = std::env::var("SEALTRAIL_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("crash harness: {crashes} crashes, SEALTRAIL_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let ledger: Ledger = Arc::default();
    let next_batch = Arc::new(Mutex::new(0u64));
    let mut pending: Vec<Pending> = vec![None; 8];
    let mut server = Served::start(dir.path());
    let key = server.read_first_key();
    let mut acknowledged_at_crash = Vec::new();

    for crash in 1..=crashes {
        let writers: Vec<_> = (0..8)
            .map(|w| {
                tokio::spawn(write_until_crash(
                    w,
                    server.url.clone(),
                    key.clone(),
                    ledger.clone(),
                    pending[w].take(),
                    Rng(rng.next() | 1),
                    next_batch.clone(),
                ))
            })
            .collect();
        // Somewhere between "barely started" and "well into a stream of group commits".
        tokio::time::sleep(Duration::from_millis(50 + rng.below(600))).await;
        server.sigkill();
        for (w, writer) in writers.into_iter().enumerate() {
            pending[w] = writer.await.unwrap();
        }
        acknowledged_at_crash.push(ledger.lock().unwrap_or_else(|e| e.into_inner()).len());

        server = Served::start(dir.path());
        check(&server.url, &key, dir.path(), &ledger, crash).await;
    }
    // Resolve the requests the last crash left unanswered, then check once more.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (url, key, ledger) = (server.url.clone(), key.clone(), ledger.clone());
            let request = pending[w].take();
            async move {
                if let Some((keys, body)) = request {
                    let answer: Value = reqwest::Client::new()
                        .post(format!("{url}/v1/events"))
                        .bearer_auth(&key)
                        .json(&body)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    let results = answer["results"].as_array().cloned().unwrap_or_default();
                    let mut ledger = ledger.lock().unwrap_or_else(|e| e.into_inner());
                    for (k, r) in keys.iter().zip(&results) {
                        let ack = (
                            r["id"].as_str().unwrap_or_default().to_string(),
                            r["seq"].as_u64().unwrap_or(u64::MAX),
                        );
                        if let Some(earlier) = ledger.insert(k.clone(), ack.clone()) {
                            assert_eq!(earlier, ack);
                        }
                    }
                }
            }
        })
        .collect();
    futures_join(writers).await;
    check(&server.url, &key, dir.path(), &ledger, crashes + 1).await;
    eprintln!("acknowledged events at each crash: {acknowledged_at_crash:?}");
    assert!(
        acknowledged_at_crash
            .windows(2)
            .filter(|w| w[1] > w[0])
            .count()
            + 1
            >= crashes / 2,
        "most crashes came while events were being acknowledged"
    );
    server.stop_cleanly();
}

/// Awaits every future (the CLI's dev-dependencies have no `futures` crate).
async fn futures_join<F: std::future::Future<Output = ()> + Send + 'static>(futures: Vec<F>) {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    for handle in handles {
        handle.await.unwrap();
    }
}
