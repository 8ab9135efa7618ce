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
pub fn clients_dir() -> PathBuf {
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

#[tokio::test]
async fn the_real_client_searches_and_a_viewer_sees_only_its_group() {
    let s = TestServer::start().await;
    let key = s.key(&[Scope::Ingest, Scope::Read]).await;
    let url = s.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        run_node("retraced_query.js", &[&url, &key, "default"])
    })
    .await
    .unwrap();
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_string())
            .collect()
    };

    // The client paged through all 50, newest first, 7 at a time, each once.
    let mut published = ids(&out["published"]["org-a"]);
    published.extend(ids(&out["published"]["org-b"]));
    published.reverse();
    assert_eq!(out["total"], 50);
    assert_eq!(ids(&out["paged"]), published);
    assert_eq!(out["pages"], json!([7, 7, 7, 7, 7, 7, 7, 1]));
    assert_eq!(out["updates"], 25, "crud:u selects the updates only");
    let sample = &out["sample"];
    assert_eq!(sample["crud"], "u");
    assert_eq!(sample["group"], json!({"id": "org-b", "name": "ORG-B"}));
    assert_eq!(sample["target"]["type"], "invoice");
    assert_eq!(sample["fields"]["amount"], "119");
    assert_eq!(sample["metadata"], json!([{"key": "batch", "value": "b1"}]));
    assert_eq!(sample["display"]["markdown"], "Invoice \\[19\\] paid");
    assert!(sample["received"].as_str().unwrap().ends_with('Z'));

    // The viewer of org-a sees org-a's 30 entries only, in two pages, whatever it searches.
    let viewer = &out["viewer"];
    assert_eq!(
        out["session"],
        json!({"status": 200, "project_id": "default"})
    );
    assert_eq!(viewer["total"], 30);
    assert_eq!(viewer["more"], true);
    let mut seen: Vec<String> = viewer["first"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert_eq!(n["group"]["id"], "org-a");
            n["id"].as_str().unwrap().to_string()
        })
        .collect();
    seen.extend(ids(&viewer["second"]));
    let mut org_a = ids(&out["published"]["org-a"]);
    org_a.reverse();
    assert_eq!(seen, org_a);
    assert_eq!(
        viewer["widened"], 0,
        "a search cannot leave the session's group"
    );
    assert_eq!(viewer["forged"], 401);
    assert_eq!(viewer["token_as_session"], 401);

    // Every viewer search is in the log: the viewing actor, the group, the search text.
    let views = s
        .get_json(&s.admin_key, "/v1/events?action=audit.log.view")
        .await;
    assert_eq!(views["total"], 3, "three searches were answered: {views}");
    let view = &views["entries"][0];
    assert_eq!(view["actor"]["id"], "viewer@org-a.example");
    assert_eq!(view["properties"]["retraced_group"], "org-a");
    assert_eq!(view["event"], "read");
}

#[tokio::test]
async fn viewer_tokens_need_read_and_the_tenants_own_project() {
    let s = TestServer::start().await;
    let ingest_only = s.key(&[Scope::Ingest]).await;
    let reader = s.key(&[Scope::Read]).await;
    let token = |key: String, project: &'static str, query: &'static str| {
        let s = &s;
        async move {
            s.client
                .get(format!(
                    "{}/publisher/v1/project/{project}/viewertoken?{query}",
                    s.url
                ))
                .header("Authorization", format!("Token token={key}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let ok = "group_id=g&actor_id=a&is_admin=false";
    assert_eq!(
        token(reader.clone(), "default", ok).await,
        StatusCode::CREATED
    );
    assert_eq!(
        token(ingest_only, "default", ok).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        token(reader.clone(), "other", ok).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        token(reader.clone(), "default", "group_id=g").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "actor_id is required"
    );
    assert_eq!(
        token(
            reader.clone(),
            "default",
            "group_id=g&actor_id=a&view_log_action=not%20an%20action"
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // A viewer sees one group, named exactly: none, or one with spaces around it, is refused
    // (the list filter would trim it into another group, or into none).
    for query in [
        "actor_id=a",
        "group_id=%20&actor_id=a",
        "group_id=g%20&actor_id=a",
    ] {
        assert_eq!(
            token(reader.clone(), "default", query).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
    }
    assert_eq!(
        token(reader.clone(), "default", "group_id=&team_id=g&actor_id=a").await,
        StatusCode::CREATED,
        "team_id is read when group_id is empty"
    );
    // One search per request: a request cannot multiply the work (or a viewer's views).
    let twice = s
        .client
        .post(format!("{}/publisher/v1/project/default/graphql", s.url))
        .header("Authorization", format!("Token token={reader}"))
        .json(&json!({"query": "{ a: search(query: \"\") { totalCount } b: search(query: \"\") { totalCount } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    let once = s
        .client
        .post(format!("{}/publisher/v1/project/default/graphql", s.url))
        .header("Authorization", format!("Token token={reader}"))
        .json(&json!({"query": "{ search(query: \"\") { totalCount } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(once.status(), StatusCode::OK);

    // The viewer's routes answer a browser's preflight from the application's origin.
    let preflight = s
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/viewer/v1/graphql", s.url),
        )
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
}
