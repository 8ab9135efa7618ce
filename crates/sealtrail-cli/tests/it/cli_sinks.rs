//! `sealtrail sinks …` against a running server's data directory: a sink the operator creates
//! from the shell is delivered by the server, signed with the secret the command printed;
//! listing, pausing, testing and deleting work, each recorded in the log as the CLI's.

use crate::common::{get_json, sealtrail, text, Served};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use sealtrail_core::sinks::{parse_secret, verify, SIGNATURE_HEADER};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every signed batch the receiver got: (signature header, body).
type Batches = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

async fn receive(State(batches): State<Batches>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    batches.lock().unwrap().push((signature, body.to_vec()));
    StatusCode::OK
}

/// `sinks create` for a Splunk collector in OCSF, with `extra` options.
fn splunk_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "sinks",
        "create",
        "--name",
        "Splunk",
        "--kind",
        "splunk_hec",
    ];
    args.extend_from_slice(&["--format", "ocsf", "--url"]);
    args.push("https://splunk.invalid:8088/services/collector/event");
    args.extend_from_slice(extra);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_manages_sinks_from_the_shell() {
    let batches: Batches = Arc::default();
    let app = Router::new()
        .route("/in", post(receive))
        .with_state(batches.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut server = Served::start_with(d, &["--sink-private-networks"]);
    let key = server.read_first_key();
    let u = server.url.clone();

    // A receiver on loopback needs the operator's explicit consent, here as on the API.
    let refused = sealtrail(
        &["sinks", "create", "--name", "archive", "--url", &receiver],
        &u,
        "",
        d,
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("private network"),
        "{}",
        text(&refused.stderr)
    );

    let created = sealtrail(
        &[
            "sinks",
            "create",
            "--name",
            "archive",
            "--url",
            &receiver,
            "--private-network",
        ],
        &u,
        "",
        d,
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let secret = parse_secret(text(&created.stdout).trim()).expect("the secret on stdout");

    // The running server delivers it: every batch verifies with the printed secret.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let delivered: usize = batches
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| {
                let batch: Value = serde_json::from_slice(body).unwrap();
                batch["entries"].as_array().map_or(0, Vec::len)
            })
            .sum();
        if delivered > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "nothing delivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (signature, body) in batches.lock().unwrap().iter() {
        assert!(verify(&secret, signature, body, now), "{signature}");
    }

    let listed = sealtrail(&["sinks", "list"], &u, "", d);
    let listing = text(&listed.stdout);
    assert!(
        listing.contains("archive") && listing.contains("active"),
        "{listing}"
    );
    let id = listing.split_whitespace().next().unwrap().to_string();

    let tested = sealtrail(&["sinks", "test", &id, "--private-network"], &u, "", d);
    assert!(tested.status.success(), "{}", text(&tested.stderr));
    let paused = sealtrail(&["sinks", "pause", &id], &u, "", d);
    assert!(
        text(&paused.stdout).contains("paused"),
        "{}",
        text(&paused.stderr)
    );
    let deleted = sealtrail(&["sinks", "delete", &id], &u, "", d);
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
    let gone = sealtrail(&["sinks", "pause", &id], &u, "", d);
    assert_eq!(gone.status.code(), Some(1));

    // Each change is in the log, attributed to the CLI.
    for action in ["sink.created", "sink.paused", "sink.deleted"] {
        let page = get_json(&u, &key, &format!("/v1/events?action={action}")).await;
        assert_eq!(page["total"], 1, "{action}");
        assert_eq!(page["entries"][0]["actor"]["id"], "cli", "{action}");
    }

    // A Splunk collector: the token from a file (never a flag), OCSF events.
    let untokened = sealtrail(&splunk_args(&[]), &u, "", d);
    assert_eq!(untokened.status.code(), Some(1));
    assert!(
        text(&untokened.stderr).contains("token"),
        "{}",
        text(&untokened.stderr)
    );
    let token_file = d.join("hec.token");
    std::fs::write(&token_file, "B5A79AAD-D822-46CC-80D1-819F80D7BFB0\n").unwrap();
    let token_arg = token_file.to_str().unwrap();
    let made = sealtrail(&splunk_args(&["--token-file", token_arg]), &u, "", d);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let listing = text(&sealtrail(&["sinks", "list"], &u, "", d).stdout);
    assert!(
        listing.contains("Splunk") && listing.contains("splunk_hec") && listing.contains("ocsf"),
        "{listing}"
    );
    assert!(!listing.contains("B5A79AAD"));
    server.stop_cleanly();
}
