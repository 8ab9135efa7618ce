//! Retraced's publisher API over real HTTP: the real `@retracedhq/retraced` client (Node.js,
//! installed by `.ci/run` with `npm ci` in `tests/clients`) publishing single and bulk events,
//! each of its own hash checks passing, and the error shapes and all-or-nothing bulk seen
//! directly.

use crate::common::TestServer;
use reqwest::StatusCode;
use sealtrail_core::keys::Scope;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

/// The folder holding the Node.js clients and their `node_modules`.
fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Runs one of the client scripts; fails (never skips) when Node.js or the packages are
/// missing, saying how to install them.
pub fn run_node(script: &str, args: &[&str]) -> Value {
    let dir = clients_dir();
    assert!(
        dir.join("node_modules/@retracedhq/retraced").exists(),
        "the Node.js clients are not installed: run `npm ci --prefix {}` (.ci/run does)",
        dir.display()
    );
    let out = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("node runs (Debian's nodejs; .ci/run installs it)");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints one JSON object")
}

#[tokio::test]
async fn the_real_retraced_client_publishes_and_checks_every_hash() {
    let s = TestServer::start().await;
    let key = s.key(&[Scope::Ingest]).await;
    let url = s.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        run_node("retraced_publish.js", &[&url, &key, "default"])
    })
    .await
    .unwrap();

    // One event with every Retraced field, read back through Sealtrail's own API.
    let id = out["single"].as_str().unwrap();
    let entry = s.get_json(&s.admin_key, &format!("/v1/events/{id}")).await;
    assert_eq!(entry["action"], "document.updated");
    assert_eq!(entry["event"], "updated");
    assert_eq!(entry["result"], "failure");
    assert_eq!(entry["description"], "Ada updated Plan");
    assert_eq!(entry["occurred_at"], "2026-11-20T10:00:00.000Z");
    assert_eq!(entry["actor"]["id"], "ada@example.com");
    assert_eq!(entry["actor"]["email"], "ada@example.com");
    assert_eq!(entry["actor"]["name"], "Ada");
    assert_eq!(entry["actor"]["via"], "billing");
    assert_eq!(
        entry["targets"],
        json!([{"type": "document", "id": "doc_1", "name": "Plan"}])
    );
    assert_eq!(entry["context"]["ip"], "203.0.113.7");
    let properties = &entry["properties"];
    assert_eq!(properties["site"], "Berlin");
    let retraced = &properties["retraced"];
    assert_eq!(retraced["group"], json!({"id": "org-7", "name": "Acme"}));
    assert_eq!(retraced["actor"]["href"], "https://app.example/u/1");
    assert_eq!(retraced["target"]["href"], "https://app.example/d/1");
    assert_eq!(retraced["external_id"], "ext-1");
    assert_eq!(
        (&retraced["component"], &retraced["version"]),
        (&json!("billing"), &json!("1.2"))
    );
    assert_eq!(retraced["metadata"]["trace"], "t-1");
    assert_ne!(
        retraced["metadata"]["password"], "hunter2",
        "secrets are redacted"
    );

    // 200 generated events in bulks of 50: every hash matched (or the client would have
    // thrown), and each is its own entry.
    let bulk: Vec<&str> = out["bulk"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(bulk.len(), 200);
    let distinct: std::collections::HashSet<_> = bulk.iter().collect();
    assert_eq!(distinct.len(), 200);
    let listed = s
        .get_json(&s.admin_key, "/v1/events?action=record.updated&limit=1")
        .await;
    assert_eq!(listed["total"], 200);
    assert!(out["prefixed"].as_str().is_some(), "{out}");

    // Refusals reach the client as Retraced's statuses, and store nothing.
    let refusals = &out["refusals"];
    assert_eq!(
        refusals["no_crud"],
        "Unexpected HTTP response: 400 Bad Request"
    );
    assert_eq!(
        refusals["bad_bulk"],
        "Unexpected HTTP response: 400 Bad Request"
    );
    assert_eq!(
        refusals["other_project"],
        "Unexpected HTTP response: 401 Unauthorized"
    );
    assert_eq!(
        refusals["bad_key"],
        "Unexpected HTTP response: 401 Unauthorized"
    );
    let logins = s
        .get_json(&s.admin_key, "/v1/events?action=user.login")
        .await;
    assert_eq!(logins["total"], 1, "only the prefixed login was stored");
}

/// Posts `body` to a publisher route of project `default` with Retraced's header.
async fn publish(s: &TestServer, auth: &str, path: &str, body: &Value) -> reqwest::Response {
    s.client
        .post(format!("{}/publisher/v1/project/default/{path}", s.url))
        .header("Authorization", auth)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn refusals_have_retraceds_shape_and_a_bulk_is_all_or_nothing() {
    let s = TestServer::start().await;
    let key = s.key(&[Scope::Ingest]).await;
    let auth = format!("Token token={key}");
    let good = json!({"action": "user.login", "crud": "c", "actor": {"id": "u1"}});

    let r = publish(&s, &auth, "event", &good).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let ack: Value = r.json().await.unwrap();
    assert_eq!(ack["hash"].as_str().unwrap().len(), 64);
    assert!(ack["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());

    let bad = json!({"action": "user.login", "crud": "x", "actor": {"id": 5}});
    let r = publish(&s, &auth, "event/bulk", &json!({"events": [good, bad]})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["status"].as_u64(), body["type"].as_str()),
        (Some(400), Some("Error"))
    );
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("One or more invalid inputs, no events were logged"));
    assert_eq!(body["invalid"][0]["index"], 1);
    let fields: Vec<&str> = body["invalid"][0]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["crud", "actor.id"]);
    let listed = s
        .get_json(&s.admin_key, "/v1/events?action=user.login")
        .await;
    assert_eq!(listed["total"], 1, "the refused bulk stored nothing");

    for (auth, status) in [
        ("", StatusCode::UNAUTHORIZED),
        (format!("Bearer {key}").as_str(), StatusCode::UNAUTHORIZED),
        ("token=st_nope", StatusCode::UNAUTHORIZED),
    ] {
        let r = publish(&s, auth, "event", &good).await;
        assert_eq!(r.status(), status, "{auth}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], status.as_u16());
    }
    let reader = s.key(&[Scope::Read]).await;
    let r = publish(&s, &format!("token={reader}"), "event", &good).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("ingest"), "{body}");
}
