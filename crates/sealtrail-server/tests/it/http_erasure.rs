//! GDPR erasure over real HTTP, as issue #15 attacked it: erasing actor `100` must leave
//! another person's "Invoice 1005 paid, 3100 EUR" and city `Berlin` alone, a word that names
//! no actor or target answers 404, and a dry run lists exactly the subject's entries before
//! anything changes.

use crate::common::{expect_error, TestServer};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

async fn post(s: &TestServer, path: &str) -> Response {
    s.client
        .post(format!("{}{path}", s.url))
        .bearer_auth(&s.admin_key)
        .send()
        .await
        .unwrap()
}

/// An entry as `GET /v1/events/{id}` shows it, without the parts of `integrity` that move as
/// the log grows (the tree size, the proof, the checkpoint); the leaf hash stays.
async fn entry(s: &TestServer, id: &str) -> Value {
    let mut body = s.get_json(&s.admin_key, &format!("/v1/events/{id}")).await;
    let leaf = body["integrity"]["leaf_hash"].clone();
    assert!(leaf.is_string(), "{body}");
    body["integrity"] = json!({ "leaf_hash": leaf });
    body
}

async fn total(s: &TestServer, query: &str) -> u64 {
    let page = s
        .get_json(&s.admin_key, &format!("/v1/events?{query}"))
        .await;
    page["total"].as_u64().unwrap()
}

#[tokio::test]
async fn erasing_a_short_actor_id_leaves_other_peoples_evidence_alone() {
    let s = TestServer::start().await;
    let by_100 = |action: &str| {
        json!({
            "action": action,
            "channel": "billing",
            "description": format!("Ann Lee did {action}"),
            "actor": { "id": "100", "name": "Ann Lee", "email": "ann@example.com" },
            "context": { "ip": "203.0.113.7", "user_agent": "Firefox/140" },
        })
    };
    let bobs = json!({
        "action": "invoice.paid",
        "channel": "billing",
        "description": "Invoice 1005 paid, 3100 EUR",
        "actor": { "id": "bob", "name": "Bob Stone", "email": "bob@example.com" },
        "targets": [{ "type": "invoice", "id": "inv-1005", "name": "Invoice 1005" }],
        "properties": { "city": "Berlin", "amount": 3100, "invoice": "1005" },
    });
    let events = json!({ "events": [by_100("invoice.created"), bobs, by_100("invoice.sent")] });
    let r = s.post_events(&s.admin_key, &events).await;
    assert_eq!(r.status(), StatusCode::OK);
    let acks: Value = r.json().await.unwrap();
    let id = |i: usize| acks["results"][i]["id"].as_str().unwrap().to_string();
    let (own, other) = ([id(0), id(2)], id(1));
    let before = entry(&s, &other).await;

    // `Berlin` is a city in Bob's entry, not an actor or target: 404, nothing changes.
    for path in [
        "/v1/subjects/Berlin/erase?dry_run=true",
        "/v1/subjects/Berlin/erase",
    ] {
        let error = expect_error(
            post(&s, path).await,
            StatusCode::NOT_FOUND,
            "subject_not_found",
        )
        .await;
        assert_eq!(
            error["message"],
            "no actor or target in this log is identified by `Berlin`"
        );
    }
    for path in [
        "/v1/subjects/100/erase?dry-run=true",
        "/v1/subjects/100/erase?dry_run=maybe",
        "/v1/subjects/100/erase?dry_run=true&dry_run=false",
    ] {
        let r = post(&s, path).await;
        expect_error(r, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    }

    // The dry run lists actor 100's two entries, and only them.
    let r = post(&s, "/v1/subjects/100/erase?dry_run=true").await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut dry: Value = r.json().await.unwrap();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["entries_scrubbed"], 2, "{dry}");
    let listed: Vec<&str> = dry["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, own, "{dry}");
    assert_eq!(
        dry["fields"],
        json!({ "actor": 2, "context": 2, "description": 2 }),
        "the full name is replaced in their descriptions: {dry}"
    );
    assert_eq!(
        dry["entries"][0]["fields"],
        json!(["actor", "context", "description"])
    );
    assert_eq!(dry["truncated"], false);
    assert_eq!(
        total(&s, "actor=100").await,
        2,
        "the dry run changed nothing"
    );
    assert_eq!(
        total(&s, "action=subject.erased").await,
        0,
        "nor audited anything"
    );

    let r = post(&s, "/v1/subjects/100/erase").await;
    assert_eq!(r.status(), StatusCode::OK);
    let real: Value = r.json().await.unwrap();
    assert_eq!(real["dry_run"], false);
    assert_eq!(
        real["rewrites_pending"],
        json!([]),
        "nothing is left on disk"
    );
    dry["dry_run"] = json!(false);
    assert_eq!(real, dry, "the erasure did what the dry run said");

    assert_eq!(entry(&s, &other).await, before, "Bob's entry is unchanged");
    let pseudonym = real["pseudonym"].as_str().unwrap();
    for id in &own {
        let e = entry(&s, id).await;
        assert_eq!(e["actor"]["id"], pseudonym, "{e}");
        assert!(
            e["actor"]["email"].is_null() && e["context"].is_null(),
            "{e}"
        );
        assert!(!e.to_string().contains("Ann Lee"), "{e}");
    }
    assert_eq!(total(&s, "actor=100").await, 0);
    assert_eq!(total(&s, "properties.city=Berlin").await, 1);
    assert_eq!(total(&s, "action=subject.erased").await, 1);
    let again = post(&s, "/v1/subjects/100/erase").await;
    expect_error(again, StatusCode::NOT_FOUND, "subject_not_found").await;

    let health = s
        .client
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}
