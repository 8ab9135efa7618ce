//! Fault injection on fsync (issue #7): `strace` attaches to a running `sealtrail serve` and
//! makes every `fsync`/`fdatasync` fail with EIO. The request whose commit hits the failure
//! must get an error, and the writer must then refuse every later write (503) instead of
//! carrying on with a disk it can no longer trust. After a SIGKILL and a restart, every event
//! acknowledged before the fault is stored exactly once at its seq, seq is gapless, the
//! request that failed resolves to exactly one entry per event when retried with its
//! idempotency keys, and `sealtrail verify` passes.

use crate::common::{get_json, text, Served, BIN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A batch of `n` events with idempotency keys `<tag>-<i>`.
fn batch(tag: &str, n: usize) -> (Vec<String>, Value) {
    let keys: Vec<String> = (0..n).map(|i| format!("{tag}-{i}")).collect();
    let events: Vec<Value> = keys
        .iter()
        .map(|k| json!({ "action": "fault.tested", "actor": { "id": "writer" }, "idempotency_key": k }))
        .collect();
    (keys, json!({ "events": events }))
}

async fn send(url: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/events"))
        .bearer_auth(key)
        .json(body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Idempotency key → (id, seq) of each result.
fn acks(keys: &[String], answer: &Value) -> HashMap<String, (String, u64)> {
    let results = answer["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), keys.len(), "{answer}");
    keys.iter()
        .zip(&results)
        .map(|(k, r)| {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            (k.clone(), (id, r["seq"].as_u64().unwrap_or(u64::MAX)))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fsync_stops_the_writer_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Served::start(dir.path());
    let key = server.read_first_key();

    let mut acknowledged = HashMap::new();
    for b in 0..5 {
        let (keys, body) = batch(&format!("before{b}"), 50);
        let (status, answer) = send(&server.url, &key, &body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        acknowledged.extend(acks(&keys, &answer));
    }

    // From now on every fsync of the server fails with EIO.
    let mut strace = Command::new("strace")
        .args(["-f", "-e", "trace=fsync,fdatasync", "-e"])
        .arg("inject=fsync,fdatasync:error=EIO")
        .args(["-o", "/dev/null", "-p", &server.child.id().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace (apt-get install strace; .ci/run installs it)");
    let mut attached = String::new();
    let mut strace_err = BufReader::new(strace.stderr.take().unwrap());
    strace_err.read_line(&mut attached).unwrap();
    assert!(attached.contains("attached"), "strace: {attached}");
    // Threads of the server are attached one by one; give it a moment to reach all of them.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (failed_keys, failed_body) = batch("during", 50);
    let (status, answer) = send(&server.url, &key, &failed_body).await;
    assert!(
        status.is_server_error(),
        "the commit failed, so must the request: {status} {answer}"
    );
    let (later_keys, later_body) = batch("after", 10);
    let (status, answer) = send(&server.url, &key, &later_body).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "the writer stopped: {answer}"
    );
    assert_eq!(answer["error"]["code"], "storage_unavailable", "{answer}");
    let health = reqwest::get(format!("{}/healthz", server.url))
        .await
        .unwrap();
    assert!(
        health.status().is_server_error(),
        "health reports the stopped writer"
    );

    let _ = strace.kill();
    let _ = strace.wait();
    server.sigkill();

    let server = Served::start(dir.path());
    // What failed may or may not have reached the disk; retried with the same keys it
    // resolves to exactly one entry per event either way.
    for (keys, body) in [(failed_keys, failed_body), (later_keys, later_body)] {
        let (status, answer) = send(&server.url, &key, &body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        acknowledged.extend(acks(&keys, &answer));
    }

    let page = get_json(
        &server.url,
        &key,
        "/v1/events?action=fault.tested&limit=1000",
    )
    .await;
    let entries = page["entries"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        entries.len(),
        acknowledged.len(),
        "each event stored exactly once"
    );
    for e in &entries {
        let k = e["idempotency_key"].as_str().unwrap_or_default();
        let stored = (
            e["id"].as_str().unwrap_or_default().to_string(),
            e["seq"].as_u64().unwrap_or(u64::MAX),
        );
        assert_eq!(
            acknowledged.get(k),
            Some(&stored),
            "{k} is where it was acknowledged"
        );
    }
    let total = get_json(&server.url, &key, "/v1/events?limit=1").await;
    let size = total["entries"][0]["seq"].as_u64().unwrap_or(0) + 1;
    assert_eq!(
        total["total"].as_u64(),
        Some(size),
        "seq is gapless: {total}"
    );

    let verify = Command::new(BIN)
        .args(["verify", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}\n{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );
    server.stop_cleanly();
}
