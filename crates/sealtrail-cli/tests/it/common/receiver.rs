//! A webhook receiver for the sink tests, on a loopback port: it checks every batch's
//! signature with the secret the sink was created with, and records each entry's id under its
//! seq, so a test can tell a resend (same id) from a loss or a reorder.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use sealtrail_core::sinks::{parse_secret, verify, SIGNATURE_HEADER};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the receiver has been sent.
#[derive(Default)]
pub struct Received {
    secret: Option<[u8; 32]>,
    /// Every id received for each seq, one per time it was received.
    pub ids: BTreeMap<u64, Vec<String>>,
    /// Bad signatures and batches out of seq order.
    pub problems: Vec<String>,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    /// Where to point a sink.
    pub url: String,
    pub received: Arc<Mutex<Received>>,
}

impl Receiver {
    /// Listens on a loopback port; answers 503 until [`Receiver::trust`] gives it a secret.
    pub async fn start() -> Receiver {
        let received: Arc<Mutex<Received>> = Arc::default();
        let app = Router::new()
            .route("/in", post(receive))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/in", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, received }
    }

    /// Checks signatures with the secret a sink's creation answered.
    pub fn trust(&self, created: &Value) {
        self.received.lock().unwrap().secret =
            Some(parse_secret(created["secret"].as_str().unwrap()).unwrap());
    }

    /// How many distinct seqs it holds.
    pub fn distinct(&self) -> u64 {
        self.received.lock().unwrap().ids.len() as u64
    }

    /// Waits until it holds `size` distinct seqs, failing after `within`.
    pub async fn wait_for(&self, size: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let held = self.distinct();
            if held == size {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver holds {held} of {size} entries"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every seq from 0 to `size` arrived, with no problem, each resend with the same id.
    pub fn assert_complete(&self, size: u64) {
        let r = self.received.lock().unwrap();
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

    /// The seqs received more than once.
    pub fn resent(&self) -> Vec<u64> {
        let r = self.received.lock().unwrap();
        r.ids
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(seq, _)| *seq)
            .collect()
    }
}

async fn receive(
    State(shared): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
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
