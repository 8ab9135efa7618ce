//! Hostile and broken clients against a real server on loopback: half-sent requests, more
//! connections than allowed, more requests than allowed, and a shutdown with a stuck client.
//! The server must stay answerable throughout and always sign its final checkpoint.

// Tests may unwrap: a failing unwrap is a failing test (the workspace denies it elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Its own process: these tests time header, body and shutdown deadlines to the second, which
// the browser and export tests of the shared binary would make noisy on a small machine.
#[path = "it/common/mod.rs"]
mod common;

use common::{event, TestServer};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn host(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

/// Opens a connection and sends a request head that never ends.
async fn half_sent_head(url: &str) -> TcpStream {
    let mut stream = TcpStream::connect(host(url)).await.unwrap();
    stream
        .write_all(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

/// Reads until the server closes the connection (or `limit` passes); returns what it sent.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

async fn healthz_ok(s: &TestServer) {
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        s.client.get(format!("{}/healthz", s.url)).send(),
    )
    .await
    .expect("healthz answered within 5 s")
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "healthz was slow"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_and_never_lock_out_other_clients() {
    let s = TestServer::start_with(|c| {
        c.max_connections = 16;
        c.header_timeout = Duration::from_secs(2);
    })
    .await;
    // Far more slow clients than the server allows connections.
    let mut slow = Vec::new();
    for _ in 0..60 {
        slow.push(half_sent_head(&s.url).await);
    }
    // A client that sends its request promptly takes the place of a silent one.
    healthz_ok(&s).await;
    let r = s
        .post_events(&s.admin_key, &event("user.created", "u1"))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Every slow connection is closed: those evicted at once, the rest at the header timeout.
    let started = Instant::now();
    for stream in &mut slow {
        let closed = read_until_closed(stream, Duration::from_secs(6)).await;
        assert!(closed.is_some(), "a half-sent request was kept open");
    }
    assert!(started.elapsed() < Duration::from_secs(6));
    healthz_ok(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_answered_408_by_the_request_timeout() {
    let s = TestServer::start_with(|c| {
        c.request_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(3);
    })
    .await;
    let mut stream = s.ingest_in_progress(1000).await;
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    healthz_ok(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_cap_get_503_with_retry_after_and_probes_still_answer() {
    let s = TestServer::start_with(|c| c.max_concurrent_requests = 2).await;
    // Two requests in progress (their bodies are still "arriving").
    let _busy1 = s.ingest_in_progress(1000).await;
    let _busy2 = s.ingest_in_progress(1000).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = s.get(&s.admin_key, "/v1/tenant").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded");
    // A large batch refused while still being sent gets the 503 as an answer, not a reset
    // connection: the listener reads and drops the rest of the body first.
    for _ in 0..3 {
        // `post_raw` fails the test on a broken connection.
        let r = s.post_raw(&s.admin_key, vec![b' '; 4 << 20]).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()["retry-after"], "1");
    }
    healthz_ok(&s).await;
    let metrics = s
        .client
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("sealtrail_requests_refused_total{reason=\"concurrency\"}"),
        "{text}"
    );
    drop((_busy1, _busy2));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_busy_a_newcomer_gets_503_not_a_hang() {
    let s = TestServer::start_with(|c| c.max_connections = 2).await;
    let _busy1 = s.ingest_in_progress(1000).await;
    let _busy2 = s.ingest_in_progress(1000).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut third = TcpStream::connect(host(&s.url)).await.unwrap();
    let answer = read_until_closed(&mut third, Duration::from_secs(3))
        .await
        .expect("refused and closed promptly");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cuts_a_stuck_client_after_the_deadline_and_signs_the_final_checkpoint() {
    let s = TestServer::start_with(|c| {
        c.shutdown_timeout = Duration::from_secs(1);
        // Long enough that only the shutdown deadline can end the stuck request.
        c.request_timeout = Duration::from_secs(60);
        c.idle_timeout = Duration::from_secs(120);
        c.checkpoint_interval = Duration::from_secs(3600);
    })
    .await;
    for i in 0..5 {
        let r = s
            .post_events(&s.admin_key, &event("user.created", &format!("u{i}")))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let mut stuck = s.ingest_in_progress(1000).await;
    let store = s.store.clone();
    let tenant = store.tenant_by_name("default").await.unwrap().unwrap();
    let started = Instant::now();
    s.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited {:?} for a stuck client",
        started.elapsed()
    );
    assert!(read_until_closed(&mut stuck, Duration::from_secs(2))
        .await
        .is_some());
    let head = store.tree_head(tenant.id).await.unwrap();
    let signed = store.latest_checkpoint(tenant.id).await.unwrap().unwrap();
    assert_eq!(
        signed.size, head.size,
        "the final checkpoint covers the log"
    );
}
