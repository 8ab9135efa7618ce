//! Usage limits over real HTTP: per-key request rates, per-tenant ingest rates and daily
//! quotas (set through the API and the settings page, audited), and the node's ingest buffer.
//! Every refusal is a 429 or 503 with `Retry-After`, stores nothing, and is counted in
//! `/metrics`.

use crate::common::web::*;
use crate::common::{event, expect_error, TestServer};
use reqwest::{Method, StatusCode};
use sealtrail_core::keys::Scope;
use serde_json::{json, Value};
use std::time::Duration;

async fn set_limits(s: &TestServer, body: Value) -> reqwest::Response {
    s.client
        .put(format!("{}/v1/settings/limits", s.url))
        .bearer_auth(&s.admin_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn log_size(s: &TestServer) -> u64 {
    s.get_json(&s.admin_key, "/v1/tenant").await["log_size"]
        .as_u64()
        .unwrap()
}

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn batch(n: usize, tag: &str) -> Value {
    json!({ "events": (0..n).map(|i| event("user.created", &format!("{tag}{i}"))).collect::<Vec<_>>() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_validated_shown_and_audited() {
    let s = TestServer::start().await;
    let settings = s.get_json(&s.admin_key, "/v1/settings").await;
    assert_eq!(
        settings["limits"],
        json!({"requests_per_second_per_key": 500, "ingest_events_per_second": 5000, "daily_event_quota": null})
    );
    let missing = set_limits(&s, json!({"requests_per_second_per_key": 10})).await;
    let error = expect_error(
        missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["field"], "ingest_events_per_second");
    let zero = set_limits(
        &s,
        json!({"requests_per_second_per_key": 0, "ingest_events_per_second": null, "daily_event_quota": null}),
    )
    .await;
    let error = expect_error(zero, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("requests_per_second_per_key"));
    let unknown = set_limits(
        &s,
        json!({"requests_per_second_per_key": 1, "ingest_events_per_second": 1, "daily_event_quota": 1, "burst": 9}),
    )
    .await;
    expect_error(unknown, StatusCode::BAD_REQUEST, "malformed_json").await;
    let reader = s.key(&[Scope::Read]).await;
    let r = s
        .client
        .put(format!("{}/v1/settings/limits", s.url))
        .bearer_auth(&reader)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::FORBIDDEN, "missing_scope").await;

    let strict = json!({"requests_per_second_per_key": 50, "ingest_events_per_second": null, "daily_event_quota": 1000000});
    let r = set_limits(&s, strict.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["limits"], strict);
    assert_eq!(
        s.get_json(&s.admin_key, "/v1/settings").await["limits"],
        strict
    );
    let audited = audited(&s, "limits.changed").await;
    assert_eq!(audited.len(), 1, "refused changes are not audited");
    assert_eq!(
        audited[0]["changes"]["before"]["ingest_events_per_second"],
        5000
    );
    assert_eq!(audited[0]["changes"]["after"], strict);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_rate_gets_429_and_other_keys_do_not() {
    let s = TestServer::start().await;
    let other = s.key(&[Scope::Read]).await;
    let r = set_limits(
        &s,
        json!({"requests_per_second_per_key": 2, "ingest_events_per_second": null, "daily_event_quota": null}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let reader = s.key(&[Scope::Read]).await;
    let mut refused = None;
    for _ in 0..10 {
        let r = s.get(&reader, "/v1/tenant").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status(), StatusCode::OK);
    }
    let refused = refused.expect("a burst of 10 against 2/s was never refused");
    let wait = retry_after(&refused);
    assert!((1..=2).contains(&wait), "{wait}");
    let error = expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("2 requests per second"));
    // Another key of the same tenant has its own allowance.
    assert_eq!(s.get(&other, "/v1/tenant").await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(s.get(&reader, "/v1/tenant").await.status(), StatusCode::OK);
    assert!(s
        .metrics_text()
        .await
        .contains("sealtrail_requests_refused_total{reason=\"key_rate\"}"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_ingest_rate_stores_nothing_of_the_refused_batch() {
    let s = TestServer::start().await;
    let ingest = s.key(&[Scope::Ingest]).await;
    let r = set_limits(
        &s,
        json!({"requests_per_second_per_key": null, "ingest_events_per_second": 100, "daily_event_quota": null}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let first = s.post_events(&ingest, &batch(200, "a")).await;
    assert_eq!(first.status(), StatusCode::OK);
    let size = log_size(&s).await;
    let second = s.post_events(&ingest, &batch(200, "b")).await;
    let wait = retry_after(&second);
    assert!((1..=3).contains(&wait), "{wait}");
    let error = expect_error(second, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("100 events per second"));
    assert_eq!(
        log_size(&s).await,
        size,
        "nothing of the refused batch was stored"
    );
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let again = s.post_events(&ingest, &batch(200, "b")).await;
    assert_eq!(again.status(), StatusCode::OK);
    let text = s.metrics_text().await;
    assert!(
        text.contains("sealtrail_ingest_refused_total{reason=\"tenant_rate\"} 1"),
        "{text}"
    );
    assert!(text.contains("sealtrail_ingest_refused_events_total{reason=\"tenant_rate\"} 200"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_quota_refuses_ingest_until_midnight_but_never_sealtrails_own_entries() {
    let s = TestServer::start().await;
    let used_before = log_size(&s).await;
    let quota = used_before + 1 + 30; // today's entries so far, the limits.changed entry, 30 more
    let r = set_limits(
        &s,
        json!({"requests_per_second_per_key": null, "ingest_events_per_second": null, "daily_event_quota": quota}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        s.post_events(&s.admin_key, &batch(25, "a")).await.status(),
        StatusCode::OK
    );
    let over = s.post_events(&s.admin_key, &batch(10, "b")).await;
    let wait = retry_after(&over);
    assert!(wait <= 86_400, "{wait}");
    let error = expect_error(over, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("daily quota of {quota} events")),
        "{message}"
    );
    assert!(message.contains("00:00 UTC"));
    // What still fits is accepted.
    assert_eq!(
        s.post_events(&s.admin_key, &batch(5, "c")).await.status(),
        StatusCode::OK
    );
    let size = log_size(&s).await;
    assert_eq!(size, quota);
    // Sealtrail's own actions are still recorded past the quota.
    s.key(&[Scope::Read]).await;
    assert_eq!(log_size(&s).await, size + 1, "api_key.created was recorded");
    // Lifting the quota lets ingest through at once.
    let r = set_limits(
        &s,
        json!({"requests_per_second_per_key": null, "ingest_events_per_second": null, "daily_event_quota": null}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        s.post_events(&s.admin_key, &batch(10, "d")).await.status(),
        StatusCode::OK
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_ingest_buffer_answers_503_and_frees_up() {
    let s = TestServer::start_with(|c| {
        c.ingest_capacity.body_buffer_mib = 8;
        c.max_body_bytes = 8 << 20;
    })
    .await;
    // A client announcing a maximal body that is still arriving holds the whole buffer.
    let slow = s.ingest_in_progress(8 << 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = s
        .post_events(&s.admin_key, &event("user.created", "u1"))
        .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after(&r), 1);
    expect_error(r, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    // A large batch refused while it is still being sent gets the 503 too, not a connection
    // reset: the server reads and drops the rest of the body before answering.
    for _ in 0..3 {
        let mut large = vec![b' '; 4 << 20];
        large[0] = b'{';
        large[(4 << 20) - 1] = b'}';
        // `post_raw` fails the test on a broken connection.
        let r = s.post_raw(&s.admin_key, large).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after(&r), 1);
    }
    drop(slow);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = s
        .post_events(&s.admin_key, &event("user.created", "u1"))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(s
        .metrics_text()
        .await
        .contains("sealtrail_ingest_refused_total{reason=\"body_buffer_full\"}"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_writer_queue_refuses_before_reading_or_parsing_the_body() {
    let s = TestServer::start_with(|c| c.ingest_capacity.queued_events = 1_000).await;
    // A body of 64 KiB may hold up to 1,000 events: while it arrives it holds the whole queue.
    let slow = s.ingest_in_progress(64 << 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Malformed JSON gets 503, not 400: it was refused before any parsing.
    let malformed = || s.post_raw(&s.admin_key, "{\"oops");
    let r = malformed().await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after(&r), 1);
    expect_error(r, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    drop(slow);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(malformed().await.status(), StatusCode::BAD_REQUEST);
    // A full batch fits again: the reservation was cut to what was parsed, then released.
    let r = s.post_events(&s.admin_key, &batch(1_000, "q")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(s
        .metrics_text()
        .await
        .contains("sealtrail_ingest_refused_total{reason=\"queue_full\"}"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_set_limits_on_the_settings_page() {
    let s = TestServer::start().await;
    let mut admin = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let page = admin.get("/settings").await;
    assert!(page.body.contains("id=\"key_rate\""), "{}", page.body);
    let csrf = admin.csrf().await;
    let done = admin
        .post(
            "/settings/limits",
            &[
                ("csrf", &csrf),
                ("key_rate", "40"),
                ("ingest_rate", ""),
                ("daily_quota", "1,000,000"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/settings?done=limits");
    let page = admin.get("/settings?done=limits").await;
    assert!(page.body.contains("Usage limits saved."));
    assert!(page
        .body
        .contains(r#"id="key_rate" name="key_rate" type="number" min="1" value="40""#));
    assert_eq!(
        s.get_json(&s.admin_key, "/v1/settings").await["limits"],
        json!({"requests_per_second_per_key": 40, "ingest_events_per_second": null, "daily_event_quota": 1000000})
    );
    let refused = admin
        .post(
            "/settings/limits",
            &[
                ("csrf", &csrf),
                ("key_rate", "fast"),
                ("ingest_rate", ""),
                ("daily_quota", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.error().contains("whole number"),
        "{}",
        refused.error()
    );
    let zero = admin
        .post(
            "/settings/limits",
            &[
                ("csrf", &csrf),
                ("key_rate", "0"),
                ("ingest_rate", ""),
                ("daily_quota", ""),
            ],
        )
        .await;
    assert_eq!(zero.status, StatusCode::UNPROCESSABLE_ENTITY);
    let changed = audited(&s, "limits.changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["actor"]["email"], s.owner_email.as_str());
    // A member cannot change them.
    let (member, pw) = make_user(&s, sealtrail_core::users::Role::Member, "m@example.com").await;
    let mut b = Browser::signed_in(&s, &member.email, &pw).await;
    let csrf = b.csrf().await;
    let r = b
        .post("/settings/limits", &[("csrf", &csrf), ("key_rate", "1")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (status, _) = api(&s, Method::GET, &s.admin_key, "/v1/settings", None, None).await;
    assert_eq!(status, StatusCode::OK);
    s.stop().await;
}
