//! WorkOS Audit Logs' API over real HTTP, driven by the real `@workos-inc/node` SDK
//! (installed by `.ci/run` with `npm ci` in `tests/clients`).

use crate::common::TestServer;
use crate::compat_retraced::run_node;
use reqwest::StatusCode;
use sealtrail_core::keys::Scope;
use serde_json::{json, Value};

#[tokio::test]
async fn the_real_workos_sdk_creates_events_once_even_when_it_retries() {
    let s = TestServer::start().await;
    let key = s.key(&[Scope::Ingest]).await;
    // The organization id WorkOS gave this customer, as an alias of the tenant.
    let org = "org_01EHZNVPK3SFK441A1RGBFSHRT";
    let r = s
        .client
        .post(format!("{}/v1/tenant/aliases", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({ "alias": org }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let url = s.url.clone();
    let out = tokio::task::spawn_blocking(move || run_node("workos_events.js", &[&url, &key, org]))
        .await
        .unwrap();
    assert_eq!(out["plain"], "ok", "{out}");
    assert_eq!(out["keyed"], "ok");
    assert_eq!(
        out["keyed_again"], "ok",
        "a repeated key answers the original"
    );
    assert_eq!(out["lost_response"], "ok");
    assert_eq!(
        out["lost_response_attempts"], 2,
        "the SDK retried after the 503"
    );
    assert_eq!(out["invalid"], "BadRequestException: 400");
    assert_eq!(out["other_org"], "NotFoundException: 404");
    assert_eq!(out["bad_key"], "UnauthorizedException: 401");

    let tenant = s.get_json(&s.admin_key, "/v1/tenant").await;
    assert_eq!(tenant["aliases"], json!([org]));
    let added = s
        .get_json(&s.admin_key, "/v1/events?action=tenant.alias_added")
        .await;
    assert_eq!(added["total"], 1, "the alias is in the log");

    // Three distinct events stored, each once: the retry and the repeat found the originals.
    let listed = s
        .get_json(&s.admin_key, "/v1/events?action=document.shared")
        .await;
    assert_eq!(listed["total"], 3, "{listed}");
    let entries = listed["entries"].as_array().unwrap();
    let actors: Vec<&str> = entries
        .iter()
        .map(|e| e["actor"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(actors, ["user_3", "user_2", "user_1"]);
    let e = &entries[2];
    assert_eq!(e["actor"]["name"], "User 1");
    assert_eq!(
        e["targets"],
        json!([{"type": "document", "id": "doc_1", "name": "Doc 1"}])
    );
    assert_eq!(e["context"]["ip"], "203.0.113.7");
    assert_eq!(e["context"]["user_agent"], "Chrome/104");
    assert_eq!(e["properties"]["channel"], "web");
    assert_eq!(e["properties"]["shared_with"], 2);
    assert_eq!(
        e["properties"]["workos"],
        json!({"version": 1, "actor_metadata": {"role": "editor"}, "targets": [{"metadata": {"pages": 3}}]})
    );
}

#[tokio::test]
async fn errors_have_workos_shapes() {
    let s = TestServer::start().await;
    let key = s.key(&[Scope::Ingest]).await;
    let post = |body: Value, key: String| {
        let s = &s;
        async move {
            s.client
                .post(format!("{}/audit_logs/events", s.url))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = post(
        json!({"organization_id": "default", "event": {"action": "a.b"}}),
        key.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().contains_key("x-request-id"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Invalid Audit Log event.");
    assert_eq!(body["code"], "invalid_audit_log_event");
    assert_eq!(body["errors"][0]["instancePath"], "/event/occurred_at");

    // Aliases: a malformed one is refused; a removed one names the tenant no more.
    let alias = |method: reqwest::Method, path: &'static str, body: Value| {
        let s = &s;
        async move {
            s.client
                .request(method, format!("{}{path}", s.url))
                .bearer_auth(&s.admin_key)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let (post_m, delete_m) = (reqwest::Method::POST, reqwest::Method::DELETE);
    let bad = alias(
        post_m.clone(),
        "/v1/tenant/aliases",
        json!({"alias": "a b"}),
    )
    .await;
    assert_eq!(bad, StatusCode::UNPROCESSABLE_ENTITY);
    let add = || {
        alias(
            post_m.clone(),
            "/v1/tenant/aliases",
            json!({"alias": "org_7"}),
        )
    };
    assert_eq!(add().await, StatusCode::CREATED);
    assert_eq!(add().await, StatusCode::CONFLICT);
    let event = |org: &str| {
        json!({"organization_id": org, "event": {"action": "a.b",
        "occurred_at": "2026-11-01T00:00:00Z", "actor": {"id": "u", "type": "user"},
        "targets": [], "context": {"location": "x"}}})
    };
    assert_eq!(
        post(event("org_7"), key.clone()).await.status(),
        StatusCode::OK
    );
    let remove = || alias(delete_m.clone(), "/v1/tenant/aliases/org_7", json!(null));
    assert_eq!(remove().await, StatusCode::NO_CONTENT);
    assert_eq!(remove().await, StatusCode::NOT_FOUND);
    assert_eq!(
        post(event("org_7"), key.clone()).await.status(),
        StatusCode::NOT_FOUND
    );
    // No lookup is made for what cannot be an alias; a NUL is refused with the body.
    assert_eq!(
        post(event("org/x y"), key.clone()).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(event("org\u{0}x"), key.clone()).await.status(),
        StatusCode::BAD_REQUEST
    );

    let reader = s.key(&[Scope::Read]).await;
    let r = post(json!({}), reader).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("ingest"),
        "{body}"
    );
}

#[tokio::test]
async fn the_real_workos_sdk_exports_a_range_and_downloads_it_by_link() {
    let s = TestServer::start().await;
    let key = s.key(&[Scope::Ingest, Scope::Export]).await;
    let url = s.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        run_node("workos_exports.js", &[&url, &key, "default"])
    })
    .await
    .unwrap();
    assert_eq!(
        out["created"],
        json!({"object": "audit_log_export", "state": "pending", "url": null}),
        "{out}"
    );
    assert_eq!(out["state"], "ready");
    assert_eq!(out["status"], 200);
    assert!(out["content_type"]
        .as_str()
        .unwrap()
        .starts_with("text/csv"));
    // Only the three `invoice.paid` events of the range, as CSV rows.
    let csv = out["csv"].as_str().unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows.iter().all(|r| r.contains("invoice.paid")), "{csv}");
    assert_eq!(out["tampered"], 404);
    assert_eq!(out["by_name"], "BadRequestException: 400");

    // The link expires: one made to have expired already is refused.
    let link = out["url"].as_str().unwrap();
    let expired = link
        .split('&')
        .map(|part| match part.strip_prefix("expires=") {
            Some(_) => "expires=1".to_string(),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&");
    let r = s.client.get(expired).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The export itself is in the log, as every export is.
    let exported = s
        .get_json(&s.admin_key, "/v1/events?action=audit_log.exported")
        .await;
    assert_eq!(exported["total"], 1, "{exported}");
}

#[tokio::test]
async fn schemas_registered_with_the_real_sdk_are_enforced_at_ingest() {
    let s = TestServer::start().await;
    let key = s.key(&[Scope::Ingest, Scope::Read, Scope::Admin]).await;
    let url = s.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        run_node("workos_schemas.js", &[&url, &key, "default"])
    })
    .await
    .unwrap();
    assert_eq!(out["versions"], json!([1, 2]), "{out}");
    assert_eq!(out["listed"][0]["version"], 2, "newest first");
    assert_eq!(out["listed"][0]["metadata"], json!({"amount": "number"}));
    assert_eq!(
        out["listed"][0]["targets"],
        json!([{"type": "invoice", "metadata": {"currency": "string"}}])
    );
    assert_eq!(out["matching"], "ok");
    assert_eq!(
        out["wrong_type"],
        "UnprocessableEntityException: 422 schema"
    );
    assert_eq!(
        out["wrong_target"],
        "UnprocessableEntityException: 422 schema"
    );
    assert_eq!(
        out["old_version"], "ok",
        "version 1 did not constrain the actor"
    );
    assert_eq!(
        out["unknown_version"],
        "UnprocessableEntityException: 422 schema_version"
    );
    assert_eq!(out["bad_schema"], "BadRequestException: 400");
    assert_eq!(
        out["retention"],
        json!({"initial": 365, "two_years": 730, "one_month": 30,
            "bad": "BadRequestException: 400", "other_org": "NotFoundException: 404"})
    );
    let changed = s
        .get_json(&s.admin_key, "/v1/events?action=retention.changed")
        .await;
    assert_eq!(changed["total"], 2, "each retention change is in the log");

    // Two events were stored; both registrations are in the log.
    let paid = s
        .get_json(&s.admin_key, "/v1/events?action=invoice.paid")
        .await;
    assert_eq!(paid["total"], 2);
    let registered = s
        .get_json(&s.admin_key, "/v1/events?action=action_schema.registered")
        .await;
    assert_eq!(registered["total"], 2);

    // The 422 names the request's field, as WorkOS's does.
    let r = s
        .client
        .post(format!("{}/audit_logs/events", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({"organization_id": "default", "event": {
            "action": "invoice.paid", "occurred_at": "2026-11-01T00:00:00Z",
            "actor": {"id": "u", "type": "user"}, "targets": [{"id": "i", "type": "invoice"}],
            "context": {"location": "192.0.2.1"}, "metadata": {"amount": "lots"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Validation failed.");
    assert_eq!(body["errors"][0]["code"], "schema");
    assert_eq!(body["errors"][0]["field"], "event.metadata.amount");
}

#[tokio::test]
async fn the_real_workos_python_sdk_works_unchanged() {
    let s = TestServer::start().await;
    let key = s
        .key(&[Scope::Ingest, Scope::Read, Scope::Export, Scope::Admin])
        .await;
    let url = s.url.clone();
    let script = crate::compat_retraced::clients_dir().join("workos_python.py");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .args([&url, &key, "default"])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the Python SDK failed (is `workos==10.8.0` installed? .ci/run installs it):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["created"], json!([true, true, true]), "{out}");
    assert_eq!(out["idempotent"], json!([true, true]));
    assert_eq!(out["schema_version"], 1);
    assert_eq!(out["schemas"], json!([1]));
    assert_eq!(out["actions"], json!(["report.downloaded"]));
    assert_eq!(out["refused"], "UnprocessableEntityError");
    assert_eq!(out["export_state"], "ready");
    assert_eq!(
        out["csv_rows"], 4,
        "three events and the idempotent one, once"
    );
}
