//! A webhook sink while `sealtrail serve` is killed with SIGKILL, again and again, at least
//! once between two acknowledged batches: after each restart delivery resumes from the
//! stored cursor, so in the end the receiver holds every entry of the log, each resend
//! carries the same entry id, and every batch arrived in seq order.

use crate::common::receiver::Receiver;
use crate::common::{log_size, post_batch, Served};
use serde_json::{json, Value};
use std::time::Duration;

/// The log's size as the killed server left it, read from its database file directly.
fn log_size_at_kill(dir: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(dir.join("sealtrail.db")).unwrap();
    conn.query_row("SELECT count(*) FROM entries", [], |r| r.get::<_, i64>(0))
        .unwrap() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sink_loses_nothing_when_the_server_is_killed_during_delivery() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Served::start_with(dir.path(), &["--sink-private-networks"]);
    let key = server.read_first_key();
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{}/v1/sinks", server.url))
        .bearer_auth(&key)
        .json(&json!({"name": "archive", "url": receiver.url, "start": "beginning"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    receiver.trust(&created);

    let mut killed_mid_delivery = 0;
    let mut held_before = 0;
    for round in 0..6u64 {
        let events: Vec<Value> = (0..1000)
            .map(|i| json!({"action": "crash.delivered", "actor": {"id": format!("r{round}u{i}")}}))
            .collect();
        post_batch(&server.url, &key, events).await;
        // Kill it somewhere inside the delivery of those 1,000 (10 batches of 100, which
        // the first pass after the append starts within half a second and finishes in a
        // few hundred milliseconds on the test machine).
        tokio::time::sleep(Duration::from_millis(
            [150, 300, 450, 600, 750, 900][round as usize],
        ))
        .await;
        server.sigkill();
        let held = receiver.distinct();
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
    let size = log_size(&server.url, &key).await;
    receiver.wait_for(size, Duration::from_secs(60)).await;
    receiver.assert_complete(size);
    server.stop_cleanly();
}
