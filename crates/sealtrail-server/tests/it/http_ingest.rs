//! `POST /v1/events` over real HTTP: acknowledgements, batches, idempotency and every 4xx path.

use crate::common::{event, expect_error, TestServer};
use reqwest::StatusCode;
use sealtrail_core::keys::Scope;
use serde_json::{json, Value};

#[tokio::test]
async fn single_event_is_acknowledged_with_id_and_seq_and_readable() {
    let s = TestServer::start().await;
    let r = s
        .post_events(&s.admin_key, &event("hardware.updated", "alice"))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let ack: Value = r.json().await.unwrap();
    assert_eq!(ack["status"], "created");
    let id = ack["id"].as_str().unwrap();
    assert!(ack["seq"].as_u64().is_some());
    let entry = s.get_json(&s.admin_key, &format!("/v1/events/{id}")).await;
    assert_eq!(entry["action"], "hardware.updated");
    assert_eq!(entry["event"], "updated");
    assert_eq!(entry["actor"]["email"], "alice@example.com");
    assert_eq!(entry["seq"], ack["seq"]);
}

#[tokio::test]
async fn batch_reports_per_item_results_and_stores_the_valid_ones() {
    let s = TestServer::start().await;
    let bad = json!({ "action": "x.y", "actor": { "id": "a", "email": "not-an-email" } });
    let body = json!({ "events": [event("a.created", "u1"), bad, event("a.deleted", "u2")] });
    let r = s.post_events(&s.admin_key, &body).await;
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 2);
    assert_eq!(v["rejected"], 1);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "created");
    assert_eq!(results[1]["status"], "rejected");
    assert_eq!(results[1]["index"], 1);
    assert_eq!(results[1]["error"]["field"], "actor.email");
    assert_eq!(results[1]["error"]["rule"], "format");
    assert_eq!(results[2]["status"], "created");
    let seq0 = results[0]["seq"].as_u64().unwrap();
    assert_eq!(
        results[2]["seq"].as_u64().unwrap(),
        seq0 + 1,
        "rejected items consume no seq"
    );
}

#[tokio::test]
async fn idempotency_key_header_and_per_event_key_deduplicate_retries() {
    let s = TestServer::start().await;
    let body = json!({ "events": [event("a.created", "u1"), event("a.updated", "u1")] });
    let send = || {
        s.client
            .post(format!("{}/v1/events", s.url))
            .bearer_auth(&s.admin_key)
            .header("Idempotency-Key", "retry-123")
            .json(&body)
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    let second: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(first["accepted"], 2);
    assert_eq!(second["accepted"], 0);
    assert_eq!(second["duplicates"], 2);
    for i in 0..2 {
        assert_eq!(first["results"][i]["id"], second["results"][i]["id"]);
        assert_eq!(second["results"][i]["status"], "duplicate");
    }

    let mut own = event("b.created", "u2");
    own["idempotency_key"] = json!("client-id-9");
    let a = s.post_events(&s.admin_key, &own).await;
    assert_eq!(a.status(), StatusCode::CREATED);
    let b = s.post_events(&s.admin_key, &own).await;
    assert_eq!(b.status(), StatusCode::OK);
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a["id"], b["id"]);
    assert_eq!(b["status"], "duplicate");
    let list = s
        .get_json(&s.admin_key, "/v1/events?action=b.created")
        .await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn secrets_are_redacted_before_storage() {
    let s = TestServer::start().await;
    let mut e = event("user.updated", "alice");
    e["properties"] = json!({ "password": "hunter2", "note": "card 4111 1111 1111 1111" });
    let ack: Value = s.post_events(&s.admin_key, &e).await.json().await.unwrap();
    let entry = s
        .get_json(
            &s.admin_key,
            &format!("/v1/events/{}", ack["id"].as_str().unwrap()),
        )
        .await;
    let text = entry.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("4111 1111 1111 1111"),
        "{text}"
    );
    let redacted: Vec<&str> = entry["redacted"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(redacted.contains(&"properties.password"), "{redacted:?}");
    assert!(redacted.contains(&"properties.note"), "{redacted:?}");
}

#[tokio::test]
async fn malformed_json_is_400_naming_the_position() {
    let s = TestServer::start().await;
    let e = expect_error(
        s.post_raw(&s.admin_key, "{\"action\": ").await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("line"), "{e}");
}

#[tokio::test]
async fn invalid_utf8_duplicate_keys_and_deep_nesting_are_400() {
    let s = TestServer::start().await;
    expect_error(
        s.post_raw(&s.admin_key, b"{\"action\": \"a\xff\"}".to_vec())
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_utf8",
    )
    .await;
    let dup = r#"{"action":"a.b","actor":{"id":"x","id":"y"}}"#;
    let e = expect_error(
        s.post_raw(&s.admin_key, dup).await,
        StatusCode::BAD_REQUEST,
        "duplicate_key",
    )
    .await;
    assert_eq!(e["field"], "actor.id");
    let deep = format!(
        r#"{{"action":"a.b","actor":{{"id":"x"}},"properties":{}1{}}}"#,
        "{\"k\":".repeat(40),
        "}".repeat(40)
    );
    expect_error(
        s.post_raw(&s.admin_key, deep).await,
        StatusCode::BAD_REQUEST,
        "too_deep",
    )
    .await;
    let very_deep = "[".repeat(200_000);
    expect_error(
        s.post_raw(&s.admin_key, very_deep).await,
        StatusCode::BAD_REQUEST,
        "too_deep",
    )
    .await;
}

#[tokio::test]
async fn wrong_types_missing_fields_and_unknown_fields_are_422_naming_the_field() {
    let s = TestServer::start().await;
    let cases = [
        (json!({ "actor": { "id": "a" } }), "action", "required"),
        (
            json!({ "action": 5, "actor": { "id": "a" } }),
            "action",
            "type",
        ),
        (json!({ "action": "a.b" }), "actor", "required"),
        (
            json!({ "action": "a.b", "actor": { "id": "a" }, "result": "maybe" }),
            "result",
            "enum",
        ),
        (
            json!({ "action": "a.b", "actor": { "id": "a" }, "occurred_at": "yesterday" }),
            "occurred_at",
            "format",
        ),
        (
            json!({ "action": "a.b", "actor": { "id": "a" }, "context": { "ip": "999.1.1.1" } }),
            "context.ip",
            "format",
        ),
        (
            json!({ "action": "a.b", "actor": { "id": "a" }, "acter": 1 }),
            "acter",
            "unknown_field",
        ),
        (
            json!({ "action": "a.b", "actor": { "id": "a" }, "targets": [{ "id": "1" }] }),
            "targets[0].type",
            "required",
        ),
    ];
    for (body, field, rule) in cases {
        let e = expect_error(
            s.post_events(&s.admin_key, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(e["field"], field, "{body}");
        assert_eq!(e["rule"], rule, "{body}");
    }
    expect_error(
        s.post_events(&s.admin_key, &json!([1, 2])).await,
        StatusCode::BAD_REQUEST,
        "wrong_shape",
    )
    .await;
    expect_error(
        s.post_events(&s.admin_key, &json!({ "events": [] })).await,
        StatusCode::BAD_REQUEST,
        "empty_batch",
    )
    .await;
}

#[tokio::test]
async fn oversized_bodies_events_and_batches_are_refused() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 256 * 1024).await;
    let huge = "x".repeat(300 * 1024);
    expect_error(
        s.post_raw(&s.admin_key, huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    let mut big = event("a.b", "u");
    big["properties"] = json!({ "blob": "y".repeat(70 * 1024) });
    let e = expect_error(
        s.post_events(&s.admin_key, &big).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(e["rule"], "max_size");

    let many: Vec<Value> = (0..1001)
        .map(|_| json!({ "action": "a.b", "actor": { "id": "u" } }))
        .collect();
    expect_error(
        s.post_events(&s.admin_key, &json!({ "events": many }))
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch_too_large",
    )
    .await;
    let total = s.get_json(&s.admin_key, "/v1/events?action=a.b").await["total"].clone();
    assert_eq!(total, 0, "nothing from refused requests was stored");
}

#[tokio::test]
async fn authentication_and_scopes() {
    let s = TestServer::start().await;
    let e = event("a.created", "u");
    let no_auth = s
        .client
        .post(format!("{}/v1/events", s.url))
        .json(&e)
        .send()
        .await
        .unwrap();
    assert!(no_auth.headers().contains_key("www-authenticate"));
    expect_error(no_auth, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    expect_error(
        s.post_events("st_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &e)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    expect_error(
        s.post_events("garbage", &e).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // A real prefix with a wrong secret must not authenticate.
    let read = s.key(&[Scope::Read]).await;
    let forged = format!(
        "{}{}",
        &read[..read.len() - 1],
        if read.ends_with('a') { 'b' } else { 'a' }
    );
    expect_error(
        s.get(&forged, "/v1/events").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    let e403 = expect_error(
        s.post_events(&read, &e).await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    assert!(e403["message"].as_str().unwrap().contains("ingest"));
    let ingest = s.key(&[Scope::Ingest]).await;
    assert_eq!(
        s.post_events(&ingest, &e).await.status(),
        StatusCode::CREATED
    );
    for path in ["/v1/events", "/v1/facets", "/v1/tenant"] {
        expect_error(
            s.get(&ingest, path).await,
            StatusCode::FORBIDDEN,
            "missing_scope",
        )
        .await;
        assert_eq!(s.get(&read, path).await.status(), StatusCode::OK, "{path}");
    }
    expect_error(
        s.get(&read, "/v1/keys").await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
}
