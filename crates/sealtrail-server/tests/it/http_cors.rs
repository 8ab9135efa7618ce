//! CORS as a page on another site meets it: preflights refused until a tenant names the
//! origin, then answered; the answer itself labelled only for the tenant that allows the
//! origin (another tenant's key from the same page gets no `Access-Control-Allow-Origin`);
//! the setting checked, normalised and audited.

use crate::common::web::audited;
use crate::common::{expect_error, TestServer};
use reqwest::StatusCode;
use sealtrail_core::keys::Scope;
use serde_json::{json, Value};

const SITE: &str = "https://widget.example.com";

async fn preflight(s: &TestServer, path: &str, origin: &str, method: &str) -> reqwest::Response {
    s.client
        .request(reqwest::Method::OPTIONS, format!("{}{path}", s.url))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap()
}

async fn from_site(s: &TestServer, key: &str, origin: &str) -> reqwest::Response {
    s.client
        .get(format!("{}/v1/events?limit=5", s.url))
        .bearer_auth(key)
        .header("Origin", origin)
        .send()
        .await
        .unwrap()
}

async fn set_origins(s: &TestServer, origins: Value) -> reqwest::Response {
    s.client
        .put(format!("{}/v1/settings/cors", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({ "origins": origins }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn only_origins_a_tenant_names_may_call_its_api_from_a_browser() {
    let s = TestServer::start().await;
    // None by default: the preflight is refused, the answer carries no allowance.
    expect_error(
        preflight(&s, "/v1/events", SITE, "GET").await,
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
    )
    .await;
    let r = from_site(&s, &s.admin_key, SITE).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // A bad origin is refused by name and changes nothing.
    let r = set_origins(&s, json!(["https://ok.example", "https://*.example.com"])).await;
    let e = expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(
        e["message"].as_str().unwrap().contains("*.example.com"),
        "{e}"
    );

    let r = set_origins(&s, json!(["https://Widget.Example.com:443/"])).await;
    assert_eq!(r.status(), StatusCode::OK);
    let settings: Value = r.json().await.unwrap();
    assert_eq!(settings["cors_origins"], json!([SITE]), "normalised");
    let recorded = audited(&s, "cors_origins.changed").await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["channel"], "security");

    // Now the preflight is answered for that origin, for reads and ingest.
    let r = preflight(&s, "/v1/events", SITE, "POST").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["access-control-allow-origin"], SITE);
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    let headers = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(headers.contains("authorization") && headers.contains("idempotency-key"));
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none(),
        "never cookies"
    );
    // Not for other origins, methods, or routes a widget has no business with.
    assert_eq!(
        preflight(&s, "/v1/events", "https://evil.example", "GET")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        preflight(&s, "/v1/events", SITE, "DELETE").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_ne!(
        preflight(&s, "/v1/settings/cors", SITE, "PUT")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // Reads of checkpoints, yes; signing one on demand, no.
    assert_eq!(
        preflight(&s, "/v1/checkpoint", SITE, "GET").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        preflight(&s, "/v1/checkpoint", SITE, "POST").await.status(),
        StatusCode::FORBIDDEN
    );

    // The answer is allowed to the page only for the tenant that named the origin.
    let r = from_site(&s, &s.admin_key, SITE).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["access-control-allow-origin"], SITE);
    assert!(r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("x-request-id"));
    assert!(r.headers()["vary"].to_str().unwrap().contains("origin"));
    let (_, other) = s.tenant_with_key("other", &[Scope::Read]).await;
    let r = from_site(&s, &other, SITE).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers().get("access-control-allow-origin").is_none(),
        "another tenant did not name this origin"
    );
    let r = from_site(&s, &s.admin_key, "https://evil.example").await;
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // Cleared: refused again.
    assert_eq!(set_origins(&s, json!([])).await.status(), StatusCode::OK);
    assert_eq!(
        preflight(&s, "/v1/events", SITE, "GET").await.status(),
        StatusCode::FORBIDDEN
    );
    s.stop().await;
}
