//! What an attacker or a careless producer sends, over real HTTP: secrets in every kind of
//! field never reach storage, search or exports; numbers are stored and signed digit for digit;
//! a JSON key that would turn into a number is refused.

use crate::common::{expect_error, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ6b2UifQ.c2lnbmF0dXJlLXZhbHVl";
const STRIPE: &str = "sk_live_51HqA2bC3dE4fG5hI6jK7lM8n";
const GOOGLE: &str = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW";
const GITHUB: &str = "ghp_A1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvWx";
const DB_PASSWORD: &str = "s3cr3t-Passw0rd";
const BEARER: &str = "abc123def456ghi789";
const RESET_TOKEN: &str = "q9w8e7r6t5y4";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_any_field_never_reach_storage_search_or_exports() {
    let s = TestServer::start().await;
    let body = json!({
        "action": "user.password_reset",
        "category": format!("Ops {STRIPE}"),
        "description": "Password reset requested with password=hunter2-secret",
        "actor": { "id": "u_17", "name": format!("Ada {JWT}"), "email": "ada@example.com", "via": format!("CI {GITHUB}") },
        "targets": [{ "type": "user", "id": "u_99", "name": format!("Sam {GOOGLE}") }],
        "context": {
            "ip": "203.0.113.7",
            "user_agent": format!("curl/8 (Authorization: Bearer {BEARER})"),
            "location": format!("postgres://app:{DB_PASSWORD}@db.internal:5432/prod"),
            "request": { "method": "POST", "path": format!("/reset?token={RESET_TOKEN}&user=7") }
        },
        "properties": { "pwd": "hunter3-secret", "user_pin": 730_295_816_413_u64, "shipping": "DHL", "note": "api_key: zz-secret-zz" }
    });
    let r = s.post_events(&s.admin_key, &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let detail = s
        .get(&s.admin_key, &format!("/v1/events/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let secrets = [
        JWT,
        STRIPE,
        GOOGLE,
        GITHUB,
        DB_PASSWORD,
        BEARER,
        RESET_TOKEN,
        "hunter2-secret",
        "hunter3-secret",
        // Long enough that a random id or hash cannot contain it by chance
        // (a four-digit PIN appeared inside a leaf hash once in ~200 runs).
        "730295816413",
        "zz-secret-zz",
    ];
    for secret in secrets {
        assert!(!detail.contains(secret), "{secret} stored: {detail}");
    }
    let entry: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(
        entry["context"]["request"]["path"],
        "/reset?token=[REDACTED]&user=7"
    );
    assert_eq!(
        entry["properties"]["shipping"], "DHL",
        "ordinary values are kept"
    );
    let redacted: Vec<&str> = entry["redacted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for path in [
        "actor.name",
        "actor.via",
        "category",
        "targets[0].name",
        "context.user_agent",
        "context.location",
        "context.request.path",
        "description",
        "properties.pwd",
        "properties.user_pin",
        "properties.note",
    ] {
        assert!(redacted.contains(&path), "{path} not in {redacted:?}");
    }
    // Not findable by search, not present in any export.
    let found = s.get_json(&s.admin_key, "/v1/events?q=hunter2").await;
    assert_eq!(found["total"], 0);
    for format in ["csv", "ndjson", "json"] {
        let export = s
            .get(&s.admin_key, &format!("/v1/export?format={format}"))
            .await
            .text()
            .await
            .unwrap();
        for secret in secrets {
            assert!(!export.contains(secret), "{secret} in the {format} export");
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_are_stored_and_signed_digit_for_digit() {
    let s = TestServer::start().await;
    let raw = r#"{"action": "invoice.paid", "actor": {"id": "u_17"},
        "properties": {"amount": 123456789012345678901234567890, "rate": 0.1000000000000000000001,
                       "big": 18446744073709551616, "zero": -0, "one": 1.0}}"#;
    let r = s.post_raw(&s.admin_key, raw).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let detail = s
        .get(&s.admin_key, &format!("/v1/events/{id}"))
        .await
        .text()
        .await
        .unwrap();
    for digits in [
        r#""amount":123456789012345678901234567890"#,
        r#""rate":0.1000000000000000000001"#,
        r#""big":18446744073709551616"#,
        r#""zero":-0"#,
        r#""one":1.0"#,
    ] {
        assert!(
            detail.replace(' ', "").contains(digits),
            "{digits} not in {detail}"
        );
    }
    let ndjson = s
        .get(&s.admin_key, "/v1/export?format=ndjson")
        .await
        .text()
        .await
        .unwrap();
    assert!(ndjson.contains("123456789012345678901234567890"));
    assert!(!ndjson.contains("e+29"), "rounded: {ndjson}");
    // A property filter matches the exact digits.
    let found = s
        .get_json(
            &s.admin_key,
            "/v1/events?properties.amount=123456789012345678901234567890",
        )
        .await;
    assert_eq!(found["total"], 1);
    // And the stored value is the committed one: the whole log verifies.
    let tenant = s.store.tenant_by_name("default").await.unwrap().unwrap();
    let verified = s.store.verify_log(tenant.id, &|_| {}).await.unwrap();
    assert_eq!(verified.first_problem, None);
    assert_eq!(verified.checked, verified.size);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_would_become_a_number_is_refused_naming_it() {
    let s = TestServer::start().await;
    let before = s.get_json(&s.admin_key, "/v1/tenant").await["log_size"].clone();
    let raw = r#"{"action": "a.b", "actor": {"id": "u"}, "properties": {"x": {"$serde_json::private::Number": "5"}}}"#;
    let r = s.post_raw(&s.admin_key, raw).await;
    let error = expect_error(r, StatusCode::BAD_REQUEST, "reserved_key").await;
    assert_eq!(error["field"], "properties.x.$serde_json::private::Number");
    assert_eq!(
        s.get_json(&s.admin_key, "/v1/tenant").await["log_size"],
        before
    );
    s.stop().await;
}
