//! Splunk HTTP Event Collector sinks over HTTP, against a collector written here that checks
//! each request as Splunk's HEC documentation describes it: `POST …/services/collector/event`,
//! `Authorization: Splunk <token>`, a body of JSON event objects concatenated one per line
//! (not an array), each with `time` in epoch seconds, `host`, `source`, `sourcetype`, the
//! `event` itself and indexed `fields` that are strings. In both formats, Sealtrail's own
//! entry JSON and OCSF 6003; and a collector refusing the token stops the sink at once.

use crate::common::{event, TestServer};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "B5A79AAD-D822-46CC-80D1-819F80D7BFB0";

#[derive(Default)]
struct Collector {
    /// Every event object accepted, in arrival order.
    events: Vec<Value>,
    /// Requests that broke the HEC rules (must stay empty).
    bad: Vec<String>,
    /// Answer 403 to everything (a revoked token).
    revoked: bool,
}

type Shared = Arc<Mutex<Collector>>;

async fn collect(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut c = shared.lock().unwrap();
    if c.revoked {
        return StatusCode::FORBIDDEN;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    if header("authorization") != format!("Splunk {TOKEN}") {
        c.bad
            .push(format!("authorization `{}`", header("authorization")));
        return StatusCode::UNAUTHORIZED;
    }
    if header("content-type") != "application/json" {
        c.bad
            .push(format!("content type `{}`", header("content-type")));
    }
    let text = String::from_utf8(body.to_vec()).unwrap();
    if text.trim_start().starts_with('[') {
        c.bad.push("an array, not concatenated events".into());
        return StatusCode::BAD_REQUEST;
    }
    for line in text.lines().filter(|l| !l.is_empty()) {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            c.bad.push(format!("not one JSON object per line: {line}"));
            return StatusCode::BAD_REQUEST;
        };
        let time_ok = event["time"]
            .as_f64()
            .is_some_and(|t| t > 1.0e9 && t < 1.0e10);
        let fields_ok = event["fields"]
            .as_object()
            .is_some_and(|f| !f.is_empty() && f.values().all(Value::is_string));
        if !time_ok
            || !fields_ok
            || event["host"].as_str().unwrap_or_default().is_empty()
            || event["source"] != "sealtrail:default"
            || !event["event"].is_object()
        {
            c.bad.push(format!("an event out of shape: {event}"));
        }
        c.events.push(event);
    }
    StatusCode::OK
}

async fn collector() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let app = Router::new()
        .route("/services/collector/event", post(collect))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/services/collector/event",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, shared)
}

async fn create(s: &TestServer, body: Value) -> reqwest::Response {
    s.client
        .post(format!("{}/v1/sinks", s.url))
        .bearer_auth(&s.admin_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn ingest(s: &TestServer, count: usize) {
    let events: Vec<Value> = (0..count)
        .map(|i| event("document.updated", &format!("user-{i}")))
        .collect();
    let r = s
        .client
        .post(format!("{}/v1/events", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Waits until the collector holds an event for every seq of the log, in order.
async fn wait_for_log(s: &TestServer, shared: &Shared, seq_of: fn(&Value) -> u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let size = s.get_json(&s.admin_key, "/v1/tenant").await["log_size"]
            .as_u64()
            .unwrap();
        let seqs: Vec<u64> = shared.lock().unwrap().events.iter().map(seq_of).collect();
        if seqs.len() as u64 >= size {
            assert_eq!(
                seqs,
                (0..size).collect::<Vec<_>>(),
                "every seq once, in order"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {size} arrived",
            seqs.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_splunk_collector_gets_every_entry_as_hec_events_in_either_format() {
    let s = TestServer::start_with(|c| c.sink_private_networks = true).await;
    ingest(&s, 150).await;

    // Sealtrail's own entry JSON.
    let (url, native) = collector().await;
    let r = create(
        &s,
        json!({"name": "Splunk", "kind": "splunk_hec", "url": url, "token": TOKEN}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["sink"]["kind"], "splunk_hec");
    assert_eq!(created["sink"]["format"], "sealtrail");
    assert!(
        !created.to_string().contains(TOKEN),
        "the token is never shown back"
    );
    wait_for_log(&s, &native, |e| e["event"]["seq"].as_u64().unwrap()).await;
    {
        let (bad, first) = {
            let c = native.lock().unwrap();
            (c.bad.clone(), c.events[0].clone())
        };
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(first["sourcetype"], "sealtrail:audit");
        assert_eq!(first["fields"]["tenant"], "default");
        let entry = s
            .get_json(
                &s.admin_key,
                &format!("/v1/events/{}", first["event"]["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(first["event"]["action"], entry["action"]);
        let millis =
            sealtrail_core::Timestamp::parse_rfc3339(entry["occurred_at"].as_str().unwrap())
                .unwrap()
                .millis();
        assert_eq!(
            first["time"].to_string(),
            format!("{}.{:03}", millis / 1000, millis % 1000)
        );
    }

    // OCSF 6003 for the same log.
    let (url, ocsf) = collector().await;
    let r = create(
        &s,
        json!({"name": "Splunk OCSF", "kind": "splunk_hec", "format": "ocsf", "url": url, "token": TOKEN}),
    )
    .await;
    assert_eq!(r.status(), 201);
    wait_for_log(&s, &ocsf, |e| {
        e["event"]["metadata"]["sequence"].as_u64().unwrap()
    })
    .await;
    let (bad, events) = {
        let c = ocsf.lock().unwrap();
        (c.bad.clone(), c.events.clone())
    };
    assert!(bad.is_empty(), "{bad:?}");
    for e in &events {
        assert_eq!(e["sourcetype"], "ocsf:sealtrail");
        assert_eq!(e["event"]["class_uid"], 6003);
        assert_eq!(e["event"]["metadata"]["tenant_uid"], "default");
        assert!(e["event"]["metadata"]["log_source"]
            .as_str()
            .unwrap()
            .ends_with("/default"));
        assert!(e["event"]["src_endpoint"].is_object(), "required by 6003");
    }

    // The token is stored only sealed.
    let stored = s.store.sinks(sealtrail_core::TenantId(1)).await.unwrap();
    for sink in stored {
        let sealed = sink.credential.unwrap();
        assert!(!sealed.windows(8).any(|w| w == &TOKEN.as_bytes()[..8]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_refusing_the_token_stops_the_sink_for_a_person() {
    let s = TestServer::start_with(|c| c.sink_private_networks = true).await;
    let (url, shared) = collector().await;
    shared.lock().unwrap().revoked = true;
    ingest(&s, 5).await;
    let r = create(
        &s,
        json!({"name": "Splunk", "kind": "splunk_hec", "url": url, "token": TOKEN}),
    )
    .await;
    let id = r.json::<Value>().await.unwrap()["sink"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let sink = loop {
        let sink = s.get_json(&s.admin_key, &format!("/v1/sinks/{id}")).await;
        if sink["state"] == "dead_letter" {
            break sink;
        }
        assert!(Instant::now() < deadline, "still {sink}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        sink["failures"], 1,
        "a refused token is not retried 16 times"
    );
    assert!(sink["last_error"].as_str().unwrap().contains("403"));
    assert_eq!(sink["cursor"], 0, "nothing skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_go_with_splunk_only() {
    let s = TestServer::start_with(|c| c.sink_private_networks = true).await;
    let url = "http://127.0.0.1:9/services/collector/event";
    for (body, field) in [
        (
            json!({"name": "a", "kind": "splunk_hec", "url": url}),
            "token",
        ),
        (
            json!({"name": "b", "kind": "splunk_hec", "url": url, "token": "has space"}),
            "token",
        ),
        (json!({"name": "c", "url": url, "token": TOKEN}), "token"),
        (json!({"name": "d", "url": url, "format": "cef"}), "format"),
        (json!({"name": "e", "url": url, "kind": "kafka"}), "kind"),
        (
            json!({"name": "f", "url": url, "kind": "syslog"}),
            "syslog+tls",
        ),
    ] {
        let r = create(&s, body.clone()).await;
        assert_eq!(r.status(), 422, "{body}");
        let answer = r.text().await.unwrap();
        assert!(answer.contains(field), "{body}: {answer}");
    }
}
