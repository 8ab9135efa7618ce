//! Webhook sinks over HTTP, against a receiver written here that checks every batch as
//! docs/streaming.md tells receivers to: the signature over the time and the body, the
//! batch's shape, and the entries' order; delivered at least once, in seq order, with ids
//! stable across resends.

use crate::common::{event, expect_error, TestServer};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use sealtrail_core::keys::Scope;
use sealtrail_core::sinks::{parse_secret, verify, SIGNATURE_HEADER};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the receiver saw.
#[derive(Default)]
struct Received {
    /// Every entry of every accepted batch, in arrival order.
    entries: Vec<Value>,
    /// Batches accepted.
    batches: usize,
    /// Requests answered with a failure on purpose.
    refused: usize,
    /// Batches whose signature or shape was wrong (must stay 0).
    bad: Vec<String>,
    /// The next this many requests are answered 503.
    fail_next: usize,
    /// The signing secret to check with, once known.
    secret: Option<[u8; 32]>,
    /// The first accepted batch as sent: its signature header and body.
    first: Option<(String, Vec<u8>)>,
}

type Shared = Arc<Mutex<Received>>;

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut r = shared.lock().unwrap();
    // A batch may come before the test has read the secret from the creation's answer: a
    // failure like any other, retried.
    if r.secret.is_none() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if r.fail_next > 0 {
        r.fail_next -= 1;
        r.refused += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let now = sealtrail_core::Timestamp::now().millis() / 1000;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(secret) = r.secret else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    if !verify(&secret, signature, &body, now) {
        r.bad.push(format!("bad signature {signature}"));
        return StatusCode::UNAUTHORIZED;
    }
    let batch: Value = serde_json::from_slice(&body).unwrap();
    if batch["type"] == "sealtrail.test" {
        return StatusCode::NO_CONTENT;
    }
    if batch["type"] != "sealtrail.entries" || batch["tenant"] != "default" {
        r.bad.push(format!("unexpected batch {batch}"));
    }
    let entries = batch["entries"].as_array().cloned().unwrap_or_default();
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    if seqs.windows(2).any(|w| w[1] != w[0] + 1) {
        r.bad.push(format!("a batch out of order: {seqs:?}"));
    }
    r.entries.extend(entries);
    r.batches += 1;
    if r.first.is_none() {
        r.first = Some((signature.to_string(), body.to_vec()));
    }
    StatusCode::OK
}

/// A receiver on its own loopback port: its URL and what it saw.
async fn receiver() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let app = Router::new()
        .route("/in", post(receive))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, shared)
}

async fn create_sink(s: &TestServer, url: &str, start: &str) -> (Value, [u8; 32]) {
    let r = s
        .client
        .post(format!("{}/v1/sinks", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({"name": "SIEM", "url": url, "start": start}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let secret = parse_secret(created["secret"].as_str().unwrap()).unwrap();
    (created["sink"].clone(), secret)
}

/// `DELETE /v1/sinks/{id}` with `key`.
async fn delete_sink(s: &TestServer, key: &str, id: &str) -> reqwest::Response {
    s.client
        .delete(format!("{}/v1/sinks/{id}", s.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// Waits (up to 30 s) until the receiver holds every seq below the log's size.
async fn wait_for_everything(s: &TestServer, shared: &Shared) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let size = s.get_json(&s.admin_key, "/v1/tenant").await["log_size"]
            .as_u64()
            .unwrap();
        let mut seqs: Vec<u64> = shared
            .lock()
            .unwrap()
            .entries
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        if seqs.len() as u64 == size && seqs.last() == Some(&(size - 1)) {
            return seqs;
        }
        assert!(
            Instant::now() < deadline,
            "the receiver has {} of {size} entries",
            seqs.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_webhook_gets_every_entry_in_order_signed_and_each_id_once_per_delivery() {
    let s = TestServer::start_with(|c| c.sink_private_networks = true).await;
    let (url, shared) = receiver().await;
    let (sink, secret) = create_sink(&s, &url, "beginning").await;
    shared.lock().unwrap().secret = Some(secret);
    let secret_text = sealtrail_core::sinks::secret_text(&secret);
    for batch in 0..5 {
        let events: Vec<Value> = (0..60)
            .map(|i| event(&format!("door.opened_{batch}"), &format!("user{i}")))
            .collect();
        assert_eq!(
            s.post_events(&s.admin_key, &json!({ "events": events }))
                .await
                .status(),
            200
        );
    }
    let seqs = wait_for_everything(&s, &shared).await;
    {
        let r = shared.lock().unwrap();
        assert!(r.bad.is_empty(), "{:?}", r.bad);
        // In order across batches too: the arrival order is seq order.
        let arrived: Vec<u64> = r
            .entries
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(arrived, seqs, "each entry once, in seq order");
        assert!(r.batches >= 3, "at most 100 entries a batch: {}", r.batches);
    }
    let shown = s
        .get_json(
            &s.admin_key,
            &format!("/v1/sinks/{}", sink["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(shown["state"], "active");
    assert_eq!(shown["failures"], 0);
    assert!(shown["delivered_at"].is_string());
    // The receiver recipe of docs/streaming.md (Python, standard library only) accepts a
    // batch as sent, and refuses it with one byte changed.
    let (header, body) = shared.lock().unwrap().first.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (bytes, expected) in [(body.clone(), true), ([&body[..], b" "].concat(), false)] {
        let path = dir.path().join("batch.json");
        std::fs::write(&path, &bytes).unwrap();
        let out = std::process::Command::new("python3")
            .arg(crate::compat_retraced::clients_dir().join("verify_webhook.py"))
            .args([secret_text.as_str(), header.as_str()])
            .arg(&path)
            .output()
            .expect("python3 runs");
        assert_eq!(
            out.status.success(),
            expected,
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // The secret is shown once: never in a listing or in the log.
    let listed = s.get_json(&s.admin_key, "/v1/sinks").await;
    assert!(!listed.to_string().contains("whsec_"));
    let created = s
        .get_json(&s.admin_key, "/v1/events?action=sink.created")
        .await;
    assert_eq!(created["total"], 1);
    assert!(!created.to_string().contains("whsec_"));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_backoff_and_loses_nothing() {
    let s = TestServer::start_with(|c| c.sink_private_networks = true).await;
    let (url, shared) = receiver().await;
    {
        let mut r = shared.lock().unwrap();
        r.fail_next = 3;
    }
    let (sink, secret) = create_sink(&s, &url, "beginning").await;
    shared.lock().unwrap().secret = Some(secret);
    let events: Vec<Value> = (0..20)
        .map(|i| event("invoice.paid", &format!("u{i}")))
        .collect();
    s.post_events(&s.admin_key, &json!({ "events": events }))
        .await;
    let id = sink["id"].as_str().unwrap().to_string();
    // While it fails, the sink shows why.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = s.get_json(&s.admin_key, &format!("/v1/sinks/{id}")).await;
        if shown["failures"].as_u64().unwrap_or(0) >= 1 {
            assert!(
                shown["last_error"].as_str().unwrap().contains("503"),
                "{shown}"
            );
            assert!(shown["lag_entries"].as_u64().unwrap() > 0);
            break;
        }
        assert!(Instant::now() < deadline, "no failure recorded: {shown}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_everything(&s, &shared).await;
    {
        let r = shared.lock().unwrap();
        assert_eq!(r.refused, 3);
        assert!(r.bad.is_empty(), "{:?}", r.bad);
    }
    // The cursor moves just after the receiver answered: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let shown = s.get_json(&s.admin_key, &format!("/v1/sinks/{id}")).await;
        if shown["lag_entries"].as_u64() == Some(0) || Instant::now() > deadline {
            break shown;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (shown["failures"].as_u64(), shown["lag_entries"].as_u64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn pausing_replaying_and_deleting_are_recorded_and_each_tenants_own() {
    let s = TestServer::start_with(|c| c.sink_private_networks = true).await;
    let (url, shared) = receiver().await;
    let (sink, secret) = create_sink(&s, &url, "now").await;
    shared.lock().unwrap().secret = Some(secret);
    let id = sink["id"].as_str().unwrap().to_string();
    let action = |verb: &str| format!("{}/v1/sinks/{id}/{verb}", s.url);

    // Test batch: signed, no entries, cursor untouched.
    let tested: Value = s
        .client
        .post(action("test"))
        .bearer_auth(&s.admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tested, json!({"delivered": true, "error": null}));

    let paused = s
        .client
        .post(action("pause"))
        .bearer_auth(&s.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 200);
    // (A batch already on its way when the pause landed may still arrive: at least once.)
    tokio::time::sleep(Duration::from_millis(700)).await;
    let delivered = shared.lock().unwrap().entries.len();
    s.post_events(&s.admin_key, &event("door.opened", "ana"))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        shared.lock().unwrap().entries.len(),
        delivered,
        "nothing while paused"
    );
    let resumed = s
        .client
        .post(action("resume"))
        .bearer_auth(&s.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !shared
        .lock()
        .unwrap()
        .entries
        .iter()
        .any(|e| e["action"] == "door.opened")
    {
        assert!(
            Instant::now() < deadline,
            "nothing delivered after resuming"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Replay from 0: everything again, with the same ids.
    let before: Vec<Value> = shared.lock().unwrap().entries.clone();
    let replayed = s
        .client
        .post(action("replay"))
        .bearer_auth(&s.admin_key)
        .json(&json!({"from_seq": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 200);
    wait_for_everything(&s, &shared).await;
    let again = shared.lock().unwrap().entries.clone();
    for old in &before {
        let twin = again
            .iter()
            .filter(|e| e["seq"] == old["seq"])
            .collect::<Vec<_>>();
        assert!(twin.len() >= 2 && twin.iter().all(|e| e["id"] == old["id"]));
    }
    let beyond = s
        .client
        .post(action("replay"))
        .bearer_auth(&s.admin_key)
        .json(&json!({"from_seq": 1_000_000}))
        .send()
        .await
        .unwrap();
    expect_error(
        beyond,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // Replay from a time: the cursor goes to the first entry recorded at or after it.
    let middle = &before[before.len() / 2];
    let at = middle["recorded_at"].as_str().unwrap().to_string();
    let from_time = s
        .client
        .post(action("replay"))
        .bearer_auth(&s.admin_key)
        .json(&json!({ "from_time": at }))
        .send()
        .await
        .unwrap();
    assert_eq!(from_time.status(), 200);
    let cursor = from_time.json::<Value>().await.unwrap()["cursor"]
        .as_u64()
        .unwrap();
    for entry in &before {
        let seq = entry["seq"].as_u64().unwrap();
        let recorded = entry["recorded_at"].as_str().unwrap();
        assert_eq!(
            seq >= cursor,
            recorded >= at.as_str(),
            "seq {seq} at {recorded}"
        );
    }
    for (body, field) in [
        (json!({"from_time": "yesterday"}), "from_time"),
        (json!({"from_seq": 0, "from_time": at}), "from_seq"),
        (json!({}), "from_seq"),
    ] {
        let refused = s
            .client
            .post(action("replay"))
            .bearer_auth(&s.admin_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let error = expect_error(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error["field"], field, "{body}");
    }

    // Another tenant's admin cannot see, change or delete it.
    let (_, other) = s
        .tenant_with_key("globex", &[Scope::Admin, Scope::Read])
        .await;
    let listed = s.get_json(&other, "/v1/sinks").await;
    assert_eq!(listed, json!([]));
    for verb in ["pause", "resume", "test"] {
        let r = s
            .client
            .post(action(verb))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{verb}");
    }
    let r = delete_sink(&s, &other, &id).await;
    assert_eq!(r.status(), 404);
    // A read key may not manage sinks.
    let reader = s.key(&[Scope::Read]).await;
    let r = s
        .client
        .get(format!("{}/v1/sinks", s.url))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let deleted = delete_sink(&s, &s.admin_key, &id).await;
    assert_eq!(deleted.status(), 204);
    for action in [
        "sink.created",
        "sink.paused",
        "sink.resumed",
        "sink.replayed",
        "sink.deleted",
    ] {
        let recorded = s
            .get_json(&s.admin_key, &format!("/v1/events?action={action}"))
            .await;
        // Two replays (from seq 0, from a time); refused ones are not recorded.
        let times = if action == "sink.replayed" { 2 } else { 1 };
        assert_eq!(recorded["total"], times, "{action}");
    }
}

#[tokio::test]
async fn unusable_sinks_are_refused_by_field() {
    let s = TestServer::start_with(|c| c.sink_private_networks = true).await;
    for (body, field) in [
        (json!({"name": "x", "url": "ftp://host/"}), None),
        (json!({"name": "x", "url": "https://user:pw@host/"}), None),
        (json!({"name": "", "url": "https://host/"}), None),
        (
            json!({"name": "x", "url": "https://host/", "kind": "carrier-pigeon"}),
            Some("kind"),
        ),
        (
            json!({"name": "x", "url": "https://host/", "start": "yesterday"}),
            Some("start"),
        ),
    ] {
        let r = s
            .client
            .post(format!("{}/v1/sinks", s.url))
            .bearer_auth(&s.admin_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let error = expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        if let Some(field) = field {
            assert_eq!(error["field"], field, "{body}");
        }
    }
    let listed = s.get_json(&s.admin_key, "/v1/sinks").await;
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn receivers_on_private_networks_need_the_operators_consent() {
    let s = TestServer::start().await;
    let (url, shared) = receiver().await;
    // Written out: refused when created.
    let r = s
        .client
        .post(format!("{}/v1/sinks", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({"name": "inside", "url": url}))
        .send()
        .await
        .unwrap();
    let error = expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("private network"),
        "{error}"
    );
    // By a name that resolves there: refused where the connection would be made.
    let by_name = url.replace("127.0.0.1", "localhost");
    let (sink, secret) = create_sink(&s, &by_name, "beginning").await;
    shared.lock().unwrap().secret = Some(secret);
    let id = sink["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = s.get_json(&s.admin_key, &format!("/v1/sinks/{id}")).await;
        if let Some(error) = shown["last_error"].as_str() {
            assert!(error.contains("private network"), "{error}");
            break;
        }
        assert!(Instant::now() < deadline, "no refusal recorded: {shown}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tested: Value = s
        .client
        .post(format!("{}/v1/sinks/{id}/test", s.url))
        .bearer_auth(&s.admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tested["delivered"], false);
    assert!(
        shared.lock().unwrap().entries.is_empty(),
        "nothing reached the receiver"
    );
    let created = s
        .get_json(&s.admin_key, "/v1/events?action=sink.created")
        .await;
    assert_eq!(
        created["entries"][0]["properties"]["receiver"],
        by_name.trim_end_matches("/in"),
        "the log keeps where it points, not its path"
    );
}

/// The value `/metrics` shows for `metric` of sink `id`, if it shows one.
async fn sink_gauge(s: &TestServer, metric: &str, id: &str) -> Option<f64> {
    let text = s.metrics_text().await;
    let series = format!("{metric}{{sink=\"{id}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
}

/// A sink that was lagging and is then deleted must not keep its last lag on `/metrics` (the
/// lag alert would fire for it until the next restart): the node zeroes it.
#[tokio::test]
async fn a_deleted_sink_leaves_no_lag_behind_on_metrics() {
    let s = TestServer::start_with(|c| c.sink_private_networks = true).await;
    let (url, shared) = receiver().await;
    shared.lock().unwrap().fail_next = usize::MAX;
    let (sink, _) = create_sink(&s, &url, "beginning").await;
    let id = sink["id"].as_str().unwrap().to_string();
    let events: Vec<Value> = (0..5)
        .map(|i| event("invoice.paid", &format!("u{i}")))
        .collect();
    s.post_events(&s.admin_key, &json!({ "events": events }))
        .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while sink_gauge(&s, "sealtrail_sink_lag_entries", &id)
        .await
        .unwrap_or(0.0)
        < 1.0
    {
        assert!(Instant::now() < deadline, "the lag never showed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = delete_sink(&s, &s.admin_key, &id).await;
    assert!(r.status().is_success(), "{}", r.status());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let entries = sink_gauge(&s, "sealtrail_sink_lag_entries", &id).await;
        let seconds = sink_gauge(&s, "sealtrail_sink_lag_seconds", &id).await;
        if entries == Some(0.0) && seconds.is_none_or(|v| v == 0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deleted sink still shows a lag: {entries:?} entries, {seconds:?} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
