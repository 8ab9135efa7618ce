//! Errors as clients and operators meet them: RFC 9457 problem documents with the earlier
//! `error` object kept, an `X-Request-Id` on every answer (the client's when sensible), the
//! same status for the same kind of mistake on every route, a 405 that says so.

use crate::common::{expect_error, TestServer};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn errors_are_problem_documents_with_the_request_id() {
    let s = TestServer::start().await;
    let r = s
        .client
        .get(format!("{}/v1/events?limit=0", s.url))
        .bearer_auth(&s.admin_key)
        .header("x-request-id", "trace-4bf92f35")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-4bf92f35", "echoed");
    let body: Value = {
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        body
    };
    assert_eq!(body["request_id"], "trace-4bf92f35");
    assert_eq!(body["title"], "Bad Request");
    assert_eq!(body["field"], "limit");
    assert_eq!(body["error"]["field"], "limit", "the earlier shape is kept");

    // An id a client should not have sent is replaced, and one is made when none is sent.
    let r = s
        .client
        .get(format!("{}/healthz", s.url))
        .header("x-request-id", "has spaces and {braces}")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).map(|_| ()), Ok(()), "{id}");
    let r = s
        .client
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("x-request-id"));
    s.stop().await;
}

#[tokio::test]
async fn the_same_mistake_gets_the_same_status_everywhere() {
    let s = TestServer::start().await;
    let get = |path: &str| {
        s.client
            .get(format!("{}{path}", s.url))
            .bearer_auth(&s.admin_key)
            .send()
    };
    // An entry id that is not a UUID names no entry, like one that is not in the log.
    expect_error(
        get("/v1/events/not-a-uuid").await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        get("/v1/events/0193a0b0-0000-7000-8000-000000000000")
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // A proof asked for beyond the log is a bad parameter, as on every other route.
    let e = expect_error(
        get("/v1/proof/consistency?old=5&new=3").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    assert_eq!(e["field"], "old");
    expect_error(
        get("/v1/proof/inclusion?seq=999999&size=1000000")
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_error(
        get("/v1/proof/inclusion?seq=x").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    s.stop().await;
}

#[tokio::test]
async fn a_method_a_path_does_not_take_is_a_405_problem_with_allow() {
    let s = TestServer::start().await;
    let r = s
        .client
        .patch(format!("{}/v1/events", s.url))
        .bearer_auth(&s.admin_key)
        .send()
        .await
        .unwrap();
    let allow = r
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_string());
    let e = expect_error(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    assert!(e["message"].as_str().unwrap().contains("PATCH"));
    let allow = allow.expect("an Allow header");
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    s.stop().await;
}
