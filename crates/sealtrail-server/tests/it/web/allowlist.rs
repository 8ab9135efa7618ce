//! The web page: the IP allowlist.

use crate::common::web::*;
use crate::common::{event, TestServer};
use reqwest::{Method, StatusCode};
use sealtrail_core::keys::Scope;
use serde_json::{json, Value};

/// Every `/v1` endpoint but ingest, with a request that succeeds when the address is allowed.
fn guarded_endpoints(entry: &str, job: &str) -> Vec<(Method, String, Option<Value>)> {
    let get = |p: String| (Method::GET, p, None);
    vec![
        get("/v1/events".into()),
        get("/v1/events?action=laptop.*&limit=5".into()),
        get(format!("/v1/events/{entry}")),
        get("/v1/facets".into()),
        get("/v1/export?format=csv".into()),
        get("/v1/exports".into()),
        get(format!("/v1/exports/{job}")),
        get("/v1/checkpoint".into()),
        get("/v1/proof/inclusion?seq=0".into()),
        get("/v1/proof/consistency?old=1".into()),
        get("/v1/settings".into()),
        get("/v1/keys".into()),
        get("/v1/tenant".into()),
        (Method::POST, "/v1/checkpoint".into(), None),
        (
            Method::PUT,
            "/v1/settings/retention".into(),
            Some(json!({ "days": 400 })),
        ),
        (
            Method::POST,
            "/v1/keys".into(),
            Some(json!({ "name": "made while allowed", "scopes": ["read"] })),
        ),
        (
            Method::POST,
            "/v1/exports".into(),
            Some(json!({ "format": "csv" })),
        ),
    ]
}

const PAGES: [&str; 6] = [
    "/audit",
    "/audit?channel=hardware",
    "/audit/export?format=csv",
    "/audit/actors?q=ali",
    "/settings",
    "/account",
];

#[tokio::test]
async fn the_allowlist_guards_every_page_and_api_endpoint_but_ingest() {
    let s = TestServer::start().await;
    let entry = ingest(&s, vec![event("laptop.assigned", "alice")]).await[0].clone();
    let ingest_key = s.key(&[Scope::Ingest]).await;
    let (_, job) = api(
        &s,
        Method::POST,
        &s.admin_key,
        "/v1/exports",
        Some(json!({ "format": "csv" })),
        None,
    )
    .await;
    let job = job["id"].as_str().unwrap().to_string();
    let me = owner(&s).await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let entry_page = format!("/audit/entries/{entry}");
    let endpoints = guarded_endpoints(&entry, &job);

    // Allowed (no list): the baseline every refusal below is compared with.
    for path in PAGES.iter().copied().chain([entry_page.as_str()]) {
        assert_eq!(b.get(path).await.status, StatusCode::OK, "GET {path}");
    }
    for (method, path, body) in &endpoints {
        let (status, v) = api(&s, method.clone(), &s.admin_key, path, body.clone(), None).await;
        assert!(status.is_success(), "{method} {path}: {status} {v}");
    }

    // A list that excludes 127.0.0.1.
    set_allowlist(&s, &["203.0.113.0/24"]).await;
    for path in PAGES.iter().copied().chain([entry_page.as_str()]) {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "GET {path}");
        assert!(page.content_type().starts_with("text/html"), "{path}");
        assert!(page.body.contains("127.0.0.1"), "{path}: {}", page.body);
        assert!(!page.body.contains(&entry), "{path} leaks the entry");
    }
    let csrf = {
        // The token is still the session's; the refusal comes from the address, not the form.
        sealtrail_core::session::csrf_token(b.cookie.as_deref().unwrap())
    };
    let post = b
        .post("/settings/retention", &[("csrf", &csrf), ("days", "45")])
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert!(post.body.contains("127.0.0.1"));
    assert_ne!(retention_days(&s).await, json!(45));
    for key in [&s.admin_key, &s.key(&[Scope::Read, Scope::Export]).await] {
        for (method, path, body) in &endpoints {
            let (status, v) = api(&s, method.clone(), key, path, body.clone(), None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {v}");
            assert_eq!(v["error"]["code"], "ip_not_allowed", "{method} {path}: {v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("127.0.0.1"),
                "{v}"
            );
        }
    }
    let (status, v) = api(
        &s,
        Method::POST,
        &s.admin_key,
        "/v1/admin/prune",
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("ip_not_allowed"))
    );
    // Ingest is never restricted.
    for key in [&ingest_key, &s.admin_key] {
        let r = s
            .post_events(key, &json!(event("laptop.returned", "bob")))
            .await;
        assert!(r.status().is_success(), "ingest refused: {}", r.status());
    }
    // The right password from a refused address opens no session.
    let mut stranger = Browser::new(&s);
    let refused = stranger
        .sign_in("default", &s.owner_email, &s.owner_password)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.error().contains("127.0.0.1"), "{}", refused.error());
    assert!(refused.set_cookie().is_none());
    assert!(stranger.cookie.is_none());

    // A list including 127.0.0.1 lets everything through again, the old session included.
    set_allowlist(&s, &["127.0.0.1/32"]).await;
    for path in PAGES.iter().copied().chain([entry_page.as_str()]) {
        assert_eq!(b.get(path).await.status, StatusCode::OK, "GET {path}");
    }
    for (method, path, body) in &endpoints {
        let (status, v) = api(&s, method.clone(), &s.admin_key, path, body.clone(), None).await;
        assert!(status.is_success(), "{method} {path}: {status} {v}");
    }
    let denied = audited(&s, "auth.sign_in_failed").await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    let d = &denied[0];
    assert_eq!(d["result"], "denied");
    assert_eq!(d["properties"]["reason"], "address not on the IP allowlist");
    assert_eq!(d["actor"]["id"], me.id.as_str());
    assert_eq!(d["actor"]["email"], s.owner_email.as_str());
    assert_eq!(d["context"]["ip"], "127.0.0.1");
    assert_eq!(audited(&s, "laptop.returned").await.len(), 2);

    // Through the settings page: a list that locks out the saver is refused, with the address.
    let csrf = b.csrf().await;
    let locked = b
        .post(
            "/settings/allowlist",
            &[("csrf", &csrf), ("entries", "203.0.113.0/24")],
        )
        .await;
    assert_eq!(
        locked.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        locked.body
    );
    assert!(locked.error().contains("127.0.0.1"), "{}", locked.error());
    assert_eq!(allowlist(&s).await, ["127.0.0.1"]);
    let bad = b
        .post(
            "/settings/allowlist",
            &[("csrf", &csrf), ("entries", "127.0.0.1\nnot-an-ip")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.error().contains("not-an-ip"), "{}", bad.error());
    assert_eq!(allowlist(&s).await, ["127.0.0.1"]);
    let changes_before = audited(&s, "ip_allowlist.changed").await.len();
    let saved = b
        .post(
            "/settings/allowlist",
            &[
                ("csrf", &csrf),
                ("entries", "127.0.0.0/8\r\n198.51.100.0/24"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location(), "/settings?done=allowlist");
    assert_eq!(allowlist(&s).await, ["127.0.0.0/8", "198.51.100.0/24"]);
    let page = b.get("/settings?done=allowlist").await;
    assert!(page.body.contains("IP allowlist saved."));
    assert_eq!(
        page.text_of("entries").unwrap(),
        "127.0.0.0/8\n198.51.100.0/24"
    );
    let changes = audited(&s, "ip_allowlist.changed").await;
    assert_eq!(
        changes.len(),
        changes_before + 1,
        "refused lists are not audited as changes"
    );
    let c = &changes[0];
    assert_eq!(c["changes"]["before"]["ip_allowlist"], json!(["127.0.0.1"]));
    assert_eq!(
        c["changes"]["after"]["ip_allowlist"],
        json!(["127.0.0.0/8", "198.51.100.0/24"])
    );
    assert_eq!(c["actor"]["type"], "user");
    assert_eq!(c["actor"]["id"], me.id.as_str());
    assert_eq!(c["actor"]["email"], s.owner_email.as_str());
    assert_eq!(c["context"]["ip"], "127.0.0.1");
    // An empty list allows everyone again.
    let cleared = b
        .post("/settings/allowlist", &[("csrf", &csrf), ("entries", "")])
        .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER);
    assert!(allowlist(&s).await.is_empty());

    // Without a trusted proxy, X-Forwarded-For changes nothing: the peer is checked.
    set_allowlist(&s, &["203.0.113.0/24"]).await;
    let spoofing = b.forwarded_for(Some("203.0.113.7"));
    for path in PAGES {
        let page = spoofing.clone().get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("127.0.0.1"));
    }
    let (status, v) = api(
        &s,
        Method::GET,
        &s.admin_key,
        "/v1/events",
        None,
        Some("203.0.113.7"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1"));
    let mut stranger = Browser::new(&s).forwarded_for(Some("203.0.113.7"));
    let refused = stranger
        .sign_in("default", &s.owner_email, &s.owner_password)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    s.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_allowlist_sees_the_forwarded_address() {
    let s = TestServer::start_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".into()];
        c.secure_cookies = false;
    })
    .await;
    let me = owner(&s).await;
    set_allowlist(&s, &["203.0.113.0/24"]).await;
    let mut b = Browser::new(&s).forwarded_for(Some("203.0.113.7"));
    let page = b
        .sign_in("default", &s.owner_email, &s.owner_password)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let cookie = page.set_cookie().unwrap();
    assert!(
        !cookie.contains("Secure"),
        "secure_cookies = false: {cookie}"
    );
    assert!(cookie.contains("HttpOnly"));
    let signed_in = &audited_from(&s, "auth.signed_in", Some("203.0.113.7")).await[0];
    assert_eq!(signed_in["context"]["ip"], "203.0.113.7");
    assert_eq!(signed_in["actor"]["id"], me.id.as_str());

    for path in PAGES {
        assert_eq!(b.get(path).await.status, StatusCode::OK, "{path} via proxy");
    }
    let settings = b.get("/settings").await;
    assert_eq!(settings.text_of("your-ip").unwrap(), "203.0.113.7");
    // The same session straight from the proxy's own address, or for another client, is refused.
    for (forwarded, shown) in [
        (None, "127.0.0.1"),
        (Some("198.51.100.9"), "198.51.100.9"),
        // The rightmost address not a trusted proxy is the client; a value the client put in
        // front of it is not believed.
        (Some("203.0.113.7, 198.51.100.9"), "198.51.100.9"),
    ] {
        let page = b.forwarded_for(forwarded).get("/audit").await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{forwarded:?}");
        assert!(page.body.contains(shown), "{forwarded:?}: {}", page.body);
        let (status, v) = api(&s, Method::GET, &s.admin_key, "/v1/events", None, forwarded).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{forwarded:?}");
        assert!(v["error"]["message"].as_str().unwrap().contains(shown));
    }
    let (status, _) = api(
        &s,
        Method::GET,
        &s.admin_key,
        "/v1/events",
        None,
        Some("203.0.113.7"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The lock-out check uses the forwarded address too.
    let csrf = b.csrf().await;
    let locked = b
        .post(
            "/settings/allowlist",
            &[("csrf", &csrf), ("entries", "10.0.0.0/8")],
        )
        .await;
    assert_eq!(locked.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(locked.error().contains("203.0.113.7"), "{}", locked.error());
    let saved = b
        .post(
            "/settings/allowlist",
            &[("csrf", &csrf), ("entries", "10.0.0.0/8 203.0.113.7")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(allowlist(&s).await, ["10.0.0.0/8", "203.0.113.7"]);
    let changed = &audited_from(&s, "ip_allowlist.changed", Some("203.0.113.7")).await[0];
    assert_eq!(changed["context"]["ip"], "203.0.113.7");
    s.stop().await;
}
