//! No secret is ever written in plain text, on either backend: after a real `serve` has shown
//! an admin key, an API key, a web session, a webhook sink's signing secret and a Splunk HEC
//! token, and been sent an event carrying a password, none of them is found in any file of its
//! data directory — nor, on PostgreSQL, in any file of the database cluster (tables, indexes
//! and the WAL), after a `CHECKPOINT`.

use crate::common::Served;
use reqwest::{Client, StatusCode};
use sealtrail_testkit::pg_harness::PgServer;
use serde_json::{json, Value};
use std::path::Path;

/// Uses the node the way an admin would, and returns every secret it showed or was sent.
async fn show_secrets(url: &str, admin_key: &str, owner_password: &str) -> Vec<String> {
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{url}{path}"))
            .bearer_auth(admin_key)
            .json(&body)
            .send()
    };
    let key: Value = post(
        "/v1/keys",
        json!({ "name": "reporting", "scopes": ["read"] }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let api_key = key["secret"].as_str().unwrap().to_string();
    let webhook: Value = post(
        "/v1/sinks",
        json!({ "name": "SIEM", "url": "https://siem.example.com/in" }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let webhook_secret = webhook["secret"].as_str().unwrap().to_string();
    let hec_token = format!("6f1c2b9e-hec-{}", std::process::id());
    let splunk = post(
        "/v1/sinks",
        json!({ "name": "Splunk", "kind": "splunk_hec",
                "url": "https://splunk.example.com:8088/services/collector/event", "token": hec_token }),
    )
    .await
    .unwrap();
    assert_eq!(splunk.status(), StatusCode::CREATED);
    let password = format!("hunter2-at-rest-{}", std::process::id());
    let r = post(
        "/v1/events",
        json!({ "action": "user.password_reset", "description": format!("reset with password={password}"),
                "actor": { "id": "u-1" }, "properties": { "ticket": marker() } }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let signed_in = client
        .post(format!("{url}/signin"))
        .header("origin", url)
        .form(&[
            ("workspace", "default"),
            ("email", "admin@localhost"),
            ("password", owner_password),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    let session = cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, token)| token.to_string())
        .unwrap();
    assert!(session.len() >= 20, "{cookie}");
    vec![
        admin_key.to_string(),
        owner_password.to_string(),
        api_key,
        webhook_secret,
        hec_token,
        password,
        session,
    ]
}

/// A value that is no secret and must be found, so a scan that finds nothing proves something.
fn marker() -> String {
    format!("ticket-at-rest-{}", std::process::id())
}

/// Every file under `dir` holding one of `secrets`, as "secret in file".
fn holding(dir: &Path, secrets: &[String], found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            holding(&path, secrets, found);
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for secret in secrets {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                found.push(format!("{secret} in {}", path.display()));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_written_in_plain_text_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path());
    let key = served.read_first_key();
    let password = served.owner_password.clone().unwrap();
    let secrets = show_secrets(&served.url, &key, &password).await;
    served.stop_cleanly();
    let mut found = Vec::new();
    holding(dir.path(), &[marker()], &mut found);
    assert!(!found.is_empty(), "the scan reads the database");
    found.clear();
    holding(dir.path(), &secrets, &mut found);
    assert!(found.is_empty(), "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_written_in_plain_text_on_postgres() {
    let server = PgServer::start().unwrap();
    let database = server.create_database().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start_with(dir.path(), &["--database", &database]);
    let key = served.read_first_key();
    let password = served.owner_password.clone().unwrap();
    let secrets = show_secrets(&served.url, &key, &password).await;
    served.stop_cleanly();
    let url = database.clone();
    tokio::task::spawn_blocking(move || {
        postgres::Client::connect(&url, postgres::NoTls)
            .unwrap()
            .batch_execute("CHECKPOINT")
            .unwrap()
    })
    .await
    .unwrap();
    let mut found = Vec::new();
    holding(server.data_dir(), &[marker()], &mut found);
    assert!(!found.is_empty(), "the scan reads the cluster's files");
    found.clear();
    holding(dir.path(), &secrets, &mut found);
    holding(server.data_dir(), &secrets, &mut found);
    assert!(found.is_empty(), "{found:?}");
}
