//! The web page over real HTTP against a real server on a real SQLite file: roles on every
//! page, the IP allowlist on pages and API (with and without a trusted proxy), sign-in and its
//! throttle, sessions and cookies, CSRF and origin checks, the settings actions, hostile stored
//! content, and the audit page's filters, pagination and exports.
//!
//! The client follows no redirects and keeps the session cookie by hand, so every `303`, every
//! `Set-Cookie` attribute and every reuse of an old cookie is visible to the tests.

use crate::common::web::*;
use crate::common::{event, TestServer};
use futures::future::join_all;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use sealtrail_core::keys::Scope;
use sealtrail_core::users::Role;
use sealtrail_export::Format;
use sealtrail_service::users;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};

const LOG_VIEWERS: &str = "owner, super-admin, admin, it-admin";

// ---------------------------------------------------------------------------------------------
// 1. Roles × pages.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_role_sees_exactly_the_pages_it_may() {
    let s = TestServer::start().await;
    let id = ingest(&s, vec![event("laptop.assigned", "alice")]).await[0].clone();
    let users = join_all(Role::ALL.map(|r| {
        let s = &s;
        async move {
            (
                r,
                make_user(s, r, &format!("{}@example.com", r.as_str())).await,
            )
        }
    }))
    .await;
    let browsers = join_all(users.iter().map(|(role, (user, pw))| {
        let s = &s;
        async move { (*role, Browser::signed_in(s, &user.email, pw).await) }
    }))
    .await;

    for (i, (role, mut b)) in browsers.into_iter().enumerate() {
        let named = format!("Your role in default is {}", role.as_str());
        let viewer = role.can_view_log();
        let manager = role.can_manage();
        assert_eq!(
            viewer,
            matches!(
                role,
                Role::Owner | Role::SuperAdmin | Role::Admin | Role::ItAdmin
            )
        );

        for path in [
            "/audit".to_string(),
            "/audit/export?format=csv".to_string(),
            format!("/audit/entries/{id}"),
        ] {
            let page = b.get(&path).await;
            if viewer {
                assert_eq!(page.status, StatusCode::OK, "{role:?} GET {path}");
                assert!(
                    page.body.contains(&id),
                    "{role:?} GET {path} shows the entry"
                );
                assert_eq!(page.headers["cache-control"], "no-store", "{path}");
            } else {
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{role:?} GET {path}");
                assert!(page.content_type().starts_with("text/html"));
                assert!(page.body.contains(&named), "{role:?} {path}: {}", page.body);
                assert!(
                    page.body.contains(LOG_VIEWERS),
                    "{role:?} {path}: {}",
                    page.body
                );
                assert!(!page.body.contains(&id), "{role:?} {path} leaks the entry");
            }
        }
        let csv = b.get_bytes("/audit/export?format=csv").await;
        if viewer {
            assert_eq!(csv.1[CONTENT_TYPE], Format::Csv.content_type());
        }

        let settings = b.get("/settings").await;
        if manager {
            assert_eq!(settings.status, StatusCode::OK, "{role:?} /settings");
            assert!(settings.body.contains("Settings for default"));
        } else {
            assert_eq!(settings.status, StatusCode::FORBIDDEN, "{role:?} /settings");
            assert!(settings.body.contains(&named), "{}", settings.body);
            assert!(settings.body.contains("owner, super-admin and admin"));
        }

        let account = b.get("/account").await;
        assert_eq!(account.status, StatusCode::OK, "{role:?} /account");
        assert!(account
            .body
            .contains(&format!("{}@example.com", role.as_str())));
        assert!(account.body.contains(&format!("role {}", role.as_str())));
        // The navigation offers only what the role may open.
        assert_eq!(
            account.body.contains(">Audit log</a>"),
            viewer,
            "{role:?} nav"
        );
        assert_eq!(
            account.body.contains("href=\"/settings\""),
            manager,
            "{role:?} nav"
        );

        let csrf = account.csrf();
        let before = retention_days(&s).await;
        let days = (100 + i).to_string();
        let post = b
            .post("/settings/retention", &[("csrf", &csrf), ("days", &days)])
            .await;
        if manager {
            assert_eq!(
                post.status,
                StatusCode::SEE_OTHER,
                "{role:?}: {}",
                post.body
            );
            assert_eq!(post.location(), "/settings?done=retention");
            assert_eq!(retention_days(&s).await, json!(100 + i));
        } else {
            assert_eq!(
                post.status,
                StatusCode::FORBIDDEN,
                "{role:?} POST retention"
            );
            assert!(post.body.contains(&named));
            assert_eq!(
                retention_days(&s).await,
                before,
                "{role:?} changed retention"
            );
        }
    }

    // Without a session every page sends the browser to sign in, and back afterwards.
    let mut anonymous = Browser::new(&s);
    for path in [
        "/audit?event=created&q=laptop%20142".to_string(),
        "/audit/export?format=csv&channel=hardware".to_string(),
        format!("/audit/entries/{id}"),
        "/settings?done=role".to_string(),
        "/account".to_string(),
    ] {
        let page = anonymous.get(&path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(
            page.location(),
            format!("/signin?next={}", url_encode(&path))
        );
        let form = anonymous.get(page.location()).await;
        assert_eq!(form.status, StatusCode::OK);
        assert_eq!(
            attr_after(&form.body, r#"name="next" value=""#).unwrap(),
            path
        );
    }
    let before = retention_days(&s).await;
    let post = anonymous
        .post("/settings/retention", &[("csrf", "x"), ("days", "40")])
        .await;
    assert_eq!(post.status, StatusCode::SEE_OTHER);
    assert!(post.location().starts_with("/signin?next="));
    assert_eq!(retention_days(&s).await, before);
    // Signing in from the redirect returns to the page first asked for.
    let mut b = Browser::new(&s);
    let back = "/audit?event=created&q=laptop%20142";
    let page = b
        .sign_in_to("default", &s.owner_email, &s.owner_password, back)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), back);
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 2. The IP allowlist.
// ---------------------------------------------------------------------------------------------

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

const PAGES: [&str; 5] = [
    "/audit",
    "/audit?channel=hardware",
    "/audit/export?format=csv",
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

// ---------------------------------------------------------------------------------------------
// 3. Sign-in, sessions, sign-out, cookies.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sign_in_failures_look_alike_and_are_audited() {
    let s = TestServer::start().await;
    let me = owner(&s).await;
    let mut b = Browser::new(&s);
    let form = b.get("/signin").await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(
        attr_after(&form.body, r#"name="workspace" value=""#).unwrap(),
        "default"
    );

    let wrong_password = b
        .sign_in("default", &s.owner_email, "not the password")
        .await;
    let unknown_email = b
        .sign_in("default", "nobody@example.com", "whatever pass")
        .await;
    let unknown_workspace = b.sign_in("acme", &s.owner_email, &s.owner_password).await;
    let message = "Wrong workspace, e-mail or password.";
    for (what, page) in [
        ("wrong password", &wrong_password),
        ("unknown e-mail", &unknown_email),
        ("unknown workspace", &unknown_workspace),
    ] {
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(page.error(), message, "{what}");
        assert!(page.set_cookie().is_none(), "{what}");
        // The form comes back with what was typed, except the password.
        assert!(
            !page.body.contains(&s.owner_password),
            "{what} echoes the password"
        );
    }
    assert!(b.cookie.is_none());

    let failed = audited(&s, "auth.sign_in_failed").await;
    assert_eq!(
        failed.len(),
        2,
        "an unknown workspace has no log to record it in: {failed:?}"
    );
    let (unknown, wrong) = (&failed[0], &failed[1]);
    assert_eq!(wrong["result"], "failure");
    assert_eq!(wrong["properties"]["reason"], "wrong password");
    assert_eq!(wrong["actor"]["id"], me.id.as_str());
    assert_eq!(wrong["actor"]["email"], s.owner_email.as_str());
    assert_eq!(wrong["context"]["ip"], "127.0.0.1");
    assert_eq!(unknown["result"], "failure");
    assert_eq!(unknown["properties"]["reason"], "no such user");
    assert_eq!(unknown["properties"]["email"], "nobody@example.com");
    assert_eq!(unknown["actor"]["type"], "system");
    assert_eq!(unknown["context"]["ip"], "127.0.0.1");
    let serialized = serde_json::to_string(&failed).unwrap();
    assert!(
        !serialized.contains("not the password"),
        "a typed password reached the log"
    );

    // Success: a session and an audited sign-in with the user as actor.
    let page = b
        .sign_in(
            "default",
            &format!("  {}  ", s.owner_email.to_uppercase()),
            &s.owner_password,
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "e-mail is case- and space-insensitive"
    );
    let signed = audited(&s, "auth.signed_in").await;
    assert_eq!(signed.len(), 1);
    assert_eq!(signed[0]["result"], "success");
    assert_eq!(signed[0]["actor"]["id"], me.id.as_str());
    assert_eq!(signed[0]["actor"]["email"], s.owner_email.as_str());
    assert_eq!(signed[0]["context"]["ip"], "127.0.0.1");
    // Signed in, the sign-in page goes straight on.
    let again = b.get("/signin?next=/settings").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.location(), "/settings");
    s.stop().await;
}

#[tokio::test]
async fn cookies_redirects_and_sign_out() {
    let s = TestServer::start().await;
    let me = owner(&s).await;
    let mut b = Browser::new(&s);
    let page = b
        .sign_in("default", &s.owner_email, &s.owner_password)
        .await;
    let cookie = page.set_cookie().unwrap().to_string();
    assert!(cookie.starts_with("sealtrail_session="), "{cookie}");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for wanted in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} missing: {cookie}");
    }
    assert!(
        attributes.iter().any(|a| a.starts_with("Max-Age=")),
        "{cookie}"
    );
    assert!(
        !attributes.iter().any(|a| a.starts_with("Domain")),
        "{cookie}"
    );
    let token = b.cookie.clone().unwrap();
    assert!(token.len() >= 32, "session token too short: {token}");

    // `next` never leaves the site.
    for hostile in [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "https:/evil.example",
        "javascript:alert(1)",
        "/audit\r\nSet-Cookie: x=y",
    ] {
        let mut other = Browser::new(&s);
        let page = other
            .sign_in_to("default", &s.owner_email, &s.owner_password, hostile)
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{hostile}");
        assert_eq!(page.location(), "/audit", "{hostile}");
        let form = other
            .with_cookie(None)
            .get(&format!("/signin?next={}", url_encode(hostile)))
            .await;
        assert_eq!(
            attr_after(&form.body, r#"name="next" value=""#).unwrap(),
            "/audit",
            "{hostile}"
        );
    }

    // Sign-out needs the form's token; without it the session lives on.
    let refused = b.post("/signout", &[("csrf", "")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(b.get("/audit").await.status, StatusCode::OK);
    let csrf = b.csrf().await;
    let out = b.post("/signout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.location().starts_with("/signin?reason=signed-out"),
        "{}",
        out.location()
    );
    let cleared = out.set_cookie().unwrap();
    assert!(cleared.starts_with("sealtrail_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(b.cookie.is_none());
    // The old cookie no longer works: the session ended on the server, not only in the browser.
    let mut replay = b.with_cookie(Some(token.clone()));
    for path in ["/audit", "/account", "/settings"] {
        let page = replay.get(path).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "{path} with the old cookie"
        );
        assert!(page.location().starts_with("/signin?next="));
    }
    let form = replay.get("/signin").await;
    assert_eq!(form.status, StatusCode::OK, "a dead cookie shows the form");
    assert!(form.body.contains("id=\"sign-in\""));
    let notice = b.get(out.location()).await;
    assert!(notice.body.contains("You have signed out."));
    let signed_out = audited(&s, "auth.signed_out").await;
    assert_eq!(signed_out.len(), 1);
    assert_eq!(signed_out[0]["actor"]["id"], me.id.as_str());
    assert_eq!(signed_out[0]["context"]["ip"], "127.0.0.1");
    // A made-up cookie is just "not signed in", and signing in never adopts it.
    let mut planted = b.with_cookie(Some("attacker-chosen-session-value".into()));
    let page = planted.get("/audit").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = planted
        .sign_in("default", &s.owner_email, &s.owner_password)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_ne!(
        planted.cookie.as_deref(),
        Some("attacker-chosen-session-value")
    );
    assert_ne!(planted.cookie, Some(token));
    s.stop().await;
}

#[tokio::test]
async fn deactivation_ends_sessions_at_once_and_blocks_sign_in() {
    let s = TestServer::start().await;
    let ((leaver, leaver_pw), (_, other_pw)) = tokio::join!(
        make_user(&s, Role::ItAdmin, "leaver@example.com"),
        make_user(&s, Role::ItAdmin, "stayer@example.com")
    );
    let mut admin = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let mut session = Browser::signed_in(&s, &leaver.email, &leaver_pw).await;
    let mut other = Browser::signed_in(&s, "stayer@example.com", &other_pw).await;
    assert_eq!(session.get("/audit").await.status, StatusCode::OK);

    let csrf = admin.csrf().await;
    let done = admin
        .post(
            &format!("/settings/users/{}/deactivate", leaver.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/settings?done=deactivated");
    let page = session.get("/audit").await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "a deactivated user's session still works"
    );
    assert!(page.location().starts_with("/signin"));
    assert_eq!(
        other.get("/audit").await.status,
        StatusCode::OK,
        "others stay signed in"
    );

    let mut b = Browser::new(&s);
    let refused = b.sign_in("default", &leaver.email, &leaver_pw).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.error(), "Wrong workspace, e-mail or password.");
    assert!(b.cookie.is_none());
    let failed = &audited(&s, "auth.sign_in_failed").await[0];
    assert_eq!(failed["result"], "denied");
    assert_eq!(failed["properties"]["reason"], "account deactivated");
    assert_eq!(failed["actor"]["id"], leaver.id.as_str());
    let deactivated = &audited(&s, "user.deactivated").await[0];
    assert_eq!(deactivated["actor"]["id"], owner(&s).await.id.as_str());
    assert_eq!(deactivated["targets"][0]["id"], leaver.id.as_str());
    assert_eq!(deactivated["context"]["ip"], "127.0.0.1");
    let listed = admin.get("/settings").await;
    assert!(listed.body.contains("deactivated"));
    s.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account() {
    let s = TestServer::start().await;
    let ((user, pw), (raced, raced_pw)) = tokio::join!(
        make_user(&s, Role::Admin, "guessed@example.com"),
        make_user(&s, Role::Admin, "raced@example.com")
    );
    let mut b = Browser::new(&s);
    for i in 0..5 {
        let page = b
            .sign_in("default", &user.email, &format!("guess number {i}"))
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let page = b.sign_in("default", &user.email, &pw).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(
        page.error().contains("Too many failed sign-ins"),
        "{}",
        page.error()
    );
    assert!(page.set_cookie().is_none());
    // Spelling the account differently is the same account.
    let page = b
        .sign_in(
            " default ",
            &format!(" {} ", user.email.to_uppercase()),
            &pw,
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(audited(&s, "auth.signed_in").await.len(), 0);
    assert_eq!(audited(&s, "auth.sign_in_failed").await.len(), 5);
    // Other accounts from the same address are not locked out by one account's failures.
    Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;

    // Guesses sent at once are counted as they start, not only as they finish: no more than
    // the limit get their password checked.
    let attempts = join_all((0..12).map(|i| {
        let mut b = Browser::new(&s);
        let email = raced.email.clone();
        async move {
            b.sign_in("default", &email, &format!("parallel guess {i}"))
                .await
                .status
        }
    }))
    .await;
    let checked = attempts
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = attempts
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + throttled, attempts.len(), "{attempts:?}");
    assert!(
        checked <= 5,
        "{checked} parallel guesses were checked: {attempts:?}"
    );
    let mut b = Browser::new(&s);
    assert_eq!(
        b.sign_in("default", &raced.email, &raced_pw).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // 30 failures from one address, spread over many accounts, stop that address altogether.
    let so_far = audited(&s, "auth.sign_in_failed").await.len();
    let remaining = 30 - so_far;
    for batch in (0..remaining).collect::<Vec<_>>().chunks(6) {
        join_all(batch.iter().map(|i| {
            let mut b = Browser::new(&s);
            async move {
                let page = b
                    .sign_in("default", &format!("spray{i}@example.com"), "Winter2024!!")
                    .await;
                assert_eq!(page.status, StatusCode::UNAUTHORIZED);
            }
        }))
        .await;
    }
    assert_eq!(audited(&s, "auth.sign_in_failed").await.len(), 30);
    let mut b = Browser::new(&s);
    let page = b
        .sign_in("default", &s.owner_email, &s.owner_password)
        .await;
    assert_eq!(
        page.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the address is over its limit"
    );
    s.stop().await;
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_is_audited() {
    let s = TestServer::start().await;
    let me = owner(&s).await;
    let mut here = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let mut elsewhere = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let old_cookie = here.cookie.clone();
    let csrf = here.csrf().await;
    let new = "a brand new passphrase";
    let mismatch = here
        .post(
            "/account",
            &[
                ("csrf", &csrf),
                ("current", &s.owner_password),
                ("new", new),
                ("confirm", "different"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    let wrong = here
        .post(
            "/account",
            &[
                ("csrf", &csrf),
                ("current", "wrong current pw"),
                ("new", new),
                ("confirm", new),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("current password is not correct"));
    let short = here
        .post(
            "/account",
            &[
                ("csrf", &csrf),
                ("current", &s.owner_password),
                ("new", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.body.contains("at least 12 characters"));
    assert!(audited(&s, "user.password_changed").await.is_empty());

    let changed = here
        .post(
            "/account",
            &[
                ("csrf", &csrf),
                ("current", &s.owner_password),
                ("new", new),
                ("confirm", new),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert!(changed.body.contains("Password changed."));
    assert_ne!(
        here.cookie, old_cookie,
        "a fresh session replaces the old one"
    );
    assert_eq!(here.get("/audit").await.status, StatusCode::OK);
    assert_eq!(elsewhere.get("/audit").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        here.with_cookie(old_cookie).get("/audit").await.status,
        StatusCode::SEE_OTHER
    );
    let mut b = Browser::new(&s);
    assert_eq!(
        b.sign_in("default", &s.owner_email, &s.owner_password)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    Browser::signed_in(&s, &s.owner_email, new).await;
    let audit = &audited(&s, "user.password_changed").await[0];
    assert_eq!(audit["actor"]["id"], me.id.as_str());
    assert_eq!(audit["context"]["ip"], "127.0.0.1");
    assert!(!serde_json::to_string(audit).unwrap().contains(new));
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 4. CSRF and origin.
// ---------------------------------------------------------------------------------------------

fn with_token<'a>(
    fields: &[(&'a str, &'a str)],
    token: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut f = fields.to_vec();
    if let Some(t) = token {
        f.push(("csrf", t));
    }
    f
}

#[tokio::test]
async fn forms_need_this_sessions_token_and_this_origin() {
    let s = TestServer::start().await;
    let mut a = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let mut other = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let mine = a.csrf().await;
    let theirs = other.csrf().await;
    assert_ne!(mine, theirs);
    let before = retention_days(&s).await;
    let users_before = s.store.list_users(tenant(&s).await).await.unwrap().len();
    let evil = [("origin", "https://evil.example")];
    let evil_referer = [("referer", "https://evil.example/page")];
    let lookalike = [("origin", "http://127.0.0.1.evil.example")];

    // (what, csrf field, extra headers)
    type Attempt<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, &'a str)]);
    let attempts: Vec<Attempt> = vec![
        ("no token", None, &[]),
        ("empty token", Some(""), &[]),
        ("another session's token", Some(&theirs), &[]),
        ("foreign Origin", Some(&mine), &evil),
        ("foreign Referer", Some(&mine), &evil_referer),
        ("look-alike Origin", Some(&mine), &lookalike),
    ];
    for (what, token, headers) in &attempts {
        let with = |extra: &[(&'static str, &'static str)]| with_token(extra, *token);
        let page = a
            .post_with("/settings/retention", &with(&[("days", "45")]), headers)
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "retention, {what}");
        assert!(page.content_type().starts_with("text/html"));
        let page = a
            .post_with(
                "/settings/users",
                &with(&[("email", "csrf@example.com"), ("role", "owner")]),
                headers,
            )
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "users, {what}");
        let page = a.post_with("/signout", &with(&[]), headers).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "sign-out, {what}");
        let page = a
            .post_with(
                "/account",
                &with_token(
                    &[
                        ("current", &s.owner_password),
                        ("new", "hijacked password"),
                        ("confirm", "hijacked password"),
                    ],
                    *token,
                ),
                headers,
            )
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "password, {what}");
    }
    assert_eq!(retention_days(&s).await, before);
    assert_eq!(
        s.store.list_users(tenant(&s).await).await.unwrap().len(),
        users_before
    );
    assert_eq!(
        a.get("/audit").await.status,
        StatusCode::OK,
        "still signed in"
    );
    assert!(audited(&s, "retention.changed").await.is_empty());
    assert!(audited(&s, "user.password_changed").await.is_empty());

    // A sign-in posted from another site is refused too (login CSRF).
    let mut b = Browser::new(&s);
    let page = b
        .post_with(
            "/signin",
            &[
                ("workspace", "default"),
                ("email", &s.owner_email),
                ("password", &s.owner_password),
            ],
            &evil,
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(b.cookie.is_none());

    // The same forms from this site with this session's token work (the checks are not just
    // refusing everything): without any Origin/Referer (older browsers) and with a matching one.
    let ok = a
        .post_with(
            "/settings/retention",
            &[("csrf", &mine), ("days", "45")],
            &[],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(retention_days(&s).await, json!(45));
    let ok = a
        .post("/settings/retention", &[("csrf", &mine), ("days", "46")])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(retention_days(&s).await, json!(46));
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 5. Settings actions.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn settings_actions_through_the_page() {
    let s = TestServer::start().await;
    let me = owner(&s).await;
    let (admin_user, admin_pw) = make_user(&s, Role::Admin, "deputy@example.com").await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let csrf = b.csrf().await;

    // An API key, shown once.
    let created = b
        .post(
            "/settings/keys",
            &[
                ("csrf", &csrf),
                ("name", "CI reader"),
                ("scope", "read"),
                ("scope", "export"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let secret = created.text_of("secret").expect("the new key is shown");
    assert!(secret.starts_with("st_"), "{secret}");
    assert!(created.body.contains("cannot be shown again"));
    assert_eq!(
        created.headers["cache-control"], "no-store",
        "a page with a secret must not be cached"
    );
    let (status, _) = api(&s, Method::GET, &secret, "/v1/events", None, None).await;
    assert_eq!(status, StatusCode::OK, "the shown key works");
    let (status, _) = api(&s, Method::GET, &secret, "/v1/keys", None, None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "with the scopes chosen, no more"
    );
    let listed = b.get("/settings").await;
    assert!(listed.body.contains("CI reader"));
    assert!(!listed.body.contains(&secret), "the key is shown only once");
    let key_id = s
        .get_json(&s.admin_key, "/v1/keys")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "CI reader")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let no_scope = b
        .post("/settings/keys", &[("csrf", &csrf), ("name", "nothing")])
        .await;
    assert_eq!(no_scope.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_scope.error().contains("at least one scope"));
    let revoked = b
        .post(
            &format!("/settings/keys/{key_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(revoked.location(), "/settings?done=key-revoked");
    let (status, _) = api(&s, Method::GET, &secret, "/v1/events", None, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked key stops working"
    );
    for action in ["api_key.created", "api_key.revoked"] {
        let e = &audited(&s, action).await[0];
        assert_eq!(e["actor"]["id"], me.id.as_str(), "{action}");
        assert_eq!(e["targets"][0]["id"], key_id.as_str(), "{action}");
        assert!(!serde_json::to_string(e).unwrap().contains(&secret));
    }

    // A user, with a first password shown once that signs in.
    let added = b
        .post(
            "/settings/users",
            &[
                ("csrf", &csrf),
                ("email", "New.Hire@Example.com"),
                ("name", "New Hire"),
                ("role", "it-admin"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let first_password = added.text_of("secret").unwrap();
    assert!(first_password.len() >= 12, "{first_password}");
    let mut hire = Browser::signed_in(&s, "new.hire@example.com", &first_password).await;
    assert_eq!(
        hire.get("/audit").await.status,
        StatusCode::OK,
        "it-admin reads the log"
    );
    assert!(!b.get("/settings").await.body.contains(&first_password));
    let hire_user = s
        .store
        .user_by_email(tenant(&s).await, "new.hire@example.com")
        .await
        .unwrap()
        .unwrap();
    let created = &audited(&s, "user.created").await[0];
    assert_eq!(created["actor"]["id"], me.id.as_str());
    assert_eq!(created["targets"][0]["id"], hire_user.id.as_str());
    assert_eq!(created["properties"]["role"], "it-admin");
    assert_eq!(created["context"]["ip"], "127.0.0.1");
    assert!(!serde_json::to_string(created)
        .unwrap()
        .contains(&first_password));
    let duplicate = b
        .post(
            "/settings/users",
            &[
                ("csrf", &csrf),
                ("email", "new.hire@example.com"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(duplicate.error().contains("already exists"));

    // A role change, audited with before and after, effective on the next click.
    let changed = b
        .post(
            &format!("/settings/users/{}/role", hire_user.id),
            &[("csrf", &csrf), ("role", "member")],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    assert_eq!(changed.location(), "/settings?done=role");
    let page = hire.get("/audit").await;
    assert_eq!(
        page.status,
        StatusCode::FORBIDDEN,
        "the demoted user still reads the log"
    );
    assert!(page.body.contains("Your role in default is member"));
    let role = &audited(&s, "user.role_changed").await[0];
    assert_eq!(role["changes"]["before"], json!({ "role": "it-admin" }));
    assert_eq!(role["changes"]["after"], json!({ "role": "member" }));
    assert_eq!(role["actor"]["id"], me.id.as_str());
    assert_eq!(role["actor"]["email"], s.owner_email.as_str());
    assert_eq!(role["targets"][0]["id"], hire_user.id.as_str());
    assert_eq!(role["context"]["ip"], "127.0.0.1");

    // An admin cannot create an owner, nor change or deactivate one.
    let mut deputy = Browser::signed_in(&s, &admin_user.email, &admin_pw).await;
    let dcsrf = deputy.csrf().await;
    let users_before = s.store.list_users(tenant(&s).await).await.unwrap().len();
    let page = deputy
        .post(
            "/settings/users",
            &[
                ("csrf", &dcsrf),
                ("email", "boss@example.com"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(
        page.error()
            .contains("your role (admin) cannot give or take away the owner role"),
        "{}",
        page.error()
    );
    assert_eq!(
        s.store.list_users(tenant(&s).await).await.unwrap().len(),
        users_before
    );
    let page = deputy
        .post(
            &format!("/settings/users/{}/role", me.id),
            &[("csrf", &dcsrf), ("role", "member")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.error().contains("owner role"), "{}", page.error());
    let page = deputy
        .post(
            &format!("/settings/users/{}/role", admin_user.id),
            &[("csrf", &dcsrf), ("role", "owner")],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::FORBIDDEN,
        "an admin promoting themselves"
    );
    let page = deputy
        .post(
            &format!("/settings/users/{}/deactivate", me.id),
            &[("csrf", &dcsrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(owner(&s).await.role, Role::Owner);
    assert!(owner(&s).await.is_active());
    let deputy_view = deputy.get("/settings").await;
    assert!(
        !deputy_view
            .body
            .contains(&format!("/settings/users/{}/role", me.id)),
        "the admin is not offered the owner's role form"
    );
    assert!(
        !deputy_view
            .options("new-role")
            .contains(&"owner".to_string()),
        "the admin is not offered the owner role"
    );

    // The last owner stays an owner.
    let page = b
        .post(
            &format!("/settings/users/{}/role", me.id),
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        page.error().contains("last active owner"),
        "{}",
        page.error()
    );
    let page = b
        .post(
            &format!("/settings/users/{}/deactivate", me.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.error().contains("last active owner"),
        "{}",
        page.error()
    );
    assert_eq!(owner(&s).await.role, Role::Owner);
    assert!(owner(&s).await.is_active());
    assert_eq!(
        b.get("/settings").await.status,
        StatusCode::OK,
        "still signed in and in charge"
    );

    // Retention: at least 30 days, a whole number, or forever.
    for (days, message) in [("10", "30"), ("abc", "whole number"), ("", "whole number")] {
        let page = b
            .post("/settings/retention", &[("csrf", &csrf), ("days", days)])
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "days={days}");
        assert!(
            page.error().contains(message),
            "days={days}: {}",
            page.error()
        );
        assert_eq!(retention_days(&s).await, json!(365));
    }
    let page = b
        .post("/settings/retention", &[("csrf", &csrf), ("days", "90")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(retention_days(&s).await, json!(90));
    let page = b
        .post(
            "/settings/retention",
            &[("csrf", &csrf), ("days", ""), ("forever", "on")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(retention_days(&s).await, Value::Null);
    let changed = &audited(&s, "retention.changed").await[0];
    assert_eq!(changed["actor"]["id"], me.id.as_str());

    // Legal hold on and off.
    let page = b
        .post("/settings/legal-hold", &[("csrf", &csrf), ("hold", "on")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        s.get_json(&s.admin_key, "/v1/settings").await["legal_hold"],
        true
    );
    let page = b.post("/settings/legal-hold", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        s.get_json(&s.admin_key, "/v1/settings").await["legal_hold"],
        false
    );
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Hostile content.
// ---------------------------------------------------------------------------------------------

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const RLO: char = '\u{202E}';

/// No markup from stored text: the only script element is the page's own, no `<img` at all,
/// and the policy forbids inline script.
/// The log-monitoring choice on the settings page opens and closes the tiles, a key with the
/// `monitor` scope made on the page reads them, and members cannot change it.
#[tokio::test]
async fn log_monitoring_access_through_the_page() {
    let s = TestServer::start().await;
    let (_, member_pw) = make_user(&s, Role::Member, "member@example.com").await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let csrf = b.csrf().await;
    let page = b.get("/settings").await;
    assert_eq!(page.options("tile-access").len(), 3, "{}", page.body);
    assert!(page.body.contains("/tlog/default/checkpoint"));
    let checkpoint = format!("{}/tlog/default/checkpoint", s.url);
    let anonymous = || async { s.client.get(&checkpoint).send().await.unwrap().status() };
    assert_eq!(anonymous().await, StatusCode::NOT_FOUND, "off by default");

    let saved = b
        .post("/settings/tiles", &[("csrf", &csrf), ("access", "public")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location(), "/settings?done=tiles");
    let shown = b.get("/settings?done=tiles").await;
    assert!(shown.body.contains("Log monitoring access saved."));
    assert!(
        shown.body.contains(r#"<option value="public" selected>"#),
        "{}",
        shown.body
    );
    assert_eq!(anonymous().await, StatusCode::OK);

    let bad = b
        .post(
            "/settings/tiles",
            &[("csrf", &csrf), ("access", "everyone")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.error().contains("choose who may read the tiles"),
        "{}",
        bad.body
    );

    let created = b
        .post(
            "/settings/keys",
            &[("csrf", &csrf), ("name", "monitor"), ("scope", "monitor")],
        )
        .await;
    let monitor = created.text_of("secret").expect("the new key is shown");
    b.post("/settings/tiles", &[("csrf", &csrf), ("access", "monitor")])
        .await;
    assert_eq!(
        anonymous().await,
        StatusCode::NOT_FOUND,
        "no key: as if there were no log"
    );
    let with_key = s
        .client
        .get(&checkpoint)
        .bearer_auth(&monitor)
        .send()
        .await
        .unwrap();
    assert_eq!(with_key.status(), StatusCode::OK);
    assert!(with_key.text().await.unwrap().starts_with("sealtrail/"));
    let (status, _) = api(&s, Method::GET, &monitor, "/v1/events", None, None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a monitor key reads no entry"
    );

    let mut member = Browser::signed_in(&s, "member@example.com", &member_pw).await;
    let member_csrf = member.get("/account").await.csrf();
    let refused = member
        .post(
            "/settings/tiles",
            &[("csrf", &member_csrf), ("access", "public")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(anonymous().await, StatusCode::NOT_FOUND, "unchanged");
    let audited = s
        .get_json(&s.admin_key, "/v1/events?action=tile_access.changed")
        .await;
    assert_eq!(audited["total"], 2, "{audited}");
}

fn assert_inert(page: &Page, what: &str) {
    assert_eq!(page.status, StatusCode::OK, "{what}: {}", page.body);
    let body = &page.body;
    assert!(!body.contains("<script>alert"), "{what}: raw script");
    assert!(!body.contains("<img"), "{what}: raw img");
    for (i, _) in body.match_indices("<script") {
        let tag = &body[i..i + body[i..].find('>').unwrap()];
        assert!(
            tag.contains(" src=\"/assets/"),
            "{what}: inline script {tag}"
        );
    }
    assert!(!body.to_ascii_lowercase().contains(" onerror=\""), "{what}");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert!(page.content_type().starts_with("text/html; charset=utf-8"));
    // Every right-to-left override sits in an isolate (<bdi>, or U+2068…U+2069 in a message),
    // the JSON <pre> (one value per line), or an <option>.
    for (i, _) in body.match_indices(RLO) {
        let before = &body[..i];
        let opened = |open: &str, close: &str| {
            before
                .rfind(open)
                .is_some_and(|o| before.rfind(close).is_none_or(|c| c < o))
        };
        assert!(
            opened("<bdi>", "</bdi>")
                || opened("\u{2068}", "\u{2069}")
                || opened("<pre", "</pre>")
                || opened("<option", "</option>"),
            "{what}: U+202E outside an isolate near {:?}",
            &before[before.len().saturating_sub(80)..]
        );
    }
}

#[tokio::test]
async fn stored_text_is_never_markup() {
    let s = TestServer::start().await;
    let long = "A".repeat(5000);
    let rtl = format!("{RLO}gpj.exe");
    let hostile = json!({
        "action": "document.updated",
        "channel": "docs",
        "description": format!("{SCRIPT} {IMG} {rtl}"),
        "actor": { "id": IMG, "name": format!("{SCRIPT}{rtl}"), "email": format!("{SCRIPT}@x.example") },
        "targets": [{ "type": format!("doc{IMG}"), "id": IMG, "name": format!("{SCRIPT}{rtl}") }],
        "context": { "user_agent": SCRIPT, "location": IMG },
        "properties": { "p": SCRIPT, "q": IMG, "long": long, "rtl": rtl, SCRIPT: IMG },
        "changes": {
            "before": { "title": SCRIPT, IMG: "x" },
            "after": { "title": IMG, "body": long, "dir": rtl },
        },
    });
    let long_description = json!({
        "action": "document.created",
        "channel": "docs",
        "description": format!("{}{SCRIPT}", "B".repeat(4096 - SCRIPT.len())),
        "actor": { "id": "writer", "name": long[..256].to_string() },
    });
    let ids = ingest(&s, vec![hostile.clone(), long_description]).await;
    // The payloads are stored verbatim (so the page below really had to escape them).
    let stored = s
        .get_json(&s.admin_key, &format!("/v1/events/{}", ids[0]))
        .await;
    let stored = if stored.get("entry").is_some() {
        stored["entry"].clone()
    } else {
        stored
    };
    assert_eq!(stored["description"], hostile["description"]);
    assert_eq!(stored["actor"]["name"], hostile["actor"]["name"]);
    assert_eq!(stored["properties"]["long"], json!(long));
    // Channel and event names are identifiers: markup there is refused at ingest.
    for (field, value) in [("channel", SCRIPT), ("event", IMG)] {
        let mut e = event("document.viewed", "mallory");
        e[field] = json!(value);
        let r = s.post_events(&s.admin_key, &e).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
    }

    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let escaped_script = "&#60;script&#62;alert(1)&#60;/script&#62;";
    let escaped_img = "&#34;&#62;&#60;img src=x onerror=alert(1)&#62;";
    let audit = b.get("/audit").await;
    assert_inert(&audit, "/audit");
    assert!(audit.body.contains(escaped_script));
    assert!(audit.body.contains(escaped_img), "{}", audit.body);
    assert!(
        audit.body.contains(&long),
        "the 5,000-character value is shown whole"
    );
    assert!(audit.body.contains(RLO));
    // The actor dropdown carries the hostile id as an escaped option value.
    assert!(b
        .get("/audit")
        .await
        .options("f-actor")
        .contains(&IMG.to_string()));

    let entry = b.get(&format!("/audit/entries/{}", ids[0])).await;
    assert_inert(&entry, "entry page");
    assert!(entry.body.contains(escaped_script) && entry.body.contains(escaped_img));
    assert!(entry.body.contains(&long));
    assert!(
        entry.body.contains("class=\"changes\""),
        "the before/after table is shown"
    );
    let entry = b.get(&format!("/audit/entries/{}", ids[1])).await;
    assert_inert(&entry, "long entry page");
    assert!(entry.body.contains(&"B".repeat(4000)));

    // Reflected: filters echo hostile input escaped, including in an error message.
    for query in [
        format!("q={}", url_encode(SCRIPT)),
        format!("q={}", url_encode(IMG)),
        format!("actor={}", url_encode(IMG)),
        format!("from={}", url_encode(IMG)),
        format!("channel={}", url_encode(SCRIPT)),
        format!("event={}&range={}", url_encode(IMG), url_encode(SCRIPT)),
    ] {
        let page = b.get(&format!("/audit?{query}")).await;
        assert_inert(&page, &query);
    }
    let page = b.get(&format!("/audit?actor={}", url_encode(IMG))).await;
    assert_eq!(
        page.row_ids(),
        [ids[0].clone()],
        "filtering by the hostile actor finds it"
    );
    let page = Browser::new(&s)
        .get(&format!("/signin?workspace={}", url_encode(IMG)))
        .await;
    assert_inert(&page, "sign-in workspace");
    let page = b
        .with_cookie(None)
        .sign_in(IMG, &format!("{SCRIPT}@x.example"), "password guess")
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(!page.body.contains("<script>alert") && !page.body.contains("<img"));
    // Names typed into the settings page (a key, a user) are text too, there and in the header.
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let csrf = b.csrf().await;
    let key_name = format!("{IMG}{rtl}");
    let page = b
        .post(
            "/settings/keys",
            &[("csrf", &csrf), ("name", &key_name), ("scope", "read")],
        )
        .await;
    assert_inert(&page, "key created");
    let user_name = format!("{SCRIPT}{rtl}");
    let page = b
        .post(
            "/settings/users",
            &[
                ("csrf", &csrf),
                ("email", "mallory@example.com"),
                ("name", &user_name),
                ("role", "admin"),
            ],
        )
        .await;
    assert_inert(&page, "user created");
    let mallory_pw = page.text_of("secret").unwrap();
    let settings = b.get("/settings").await;
    assert_inert(&settings, "settings");
    assert!(settings.body.contains(escaped_script) && settings.body.contains(escaped_img));
    let mut mallory = Browser::signed_in(&s, "mallory@example.com", &mallory_pw).await;
    for path in ["/account", "/audit", "/settings"] {
        assert_inert(&mallory.get(path).await, path);
    }
    // An unknown entry id in the URL is not echoed as markup either.
    let page = b
        .get(&format!("/audit/entries/{}", url_encode(SCRIPT)))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains("<script>alert"));
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 7. The audit page's features.
// ---------------------------------------------------------------------------------------------

/// 60 hardware events (created/updated/deleted in turn, by alice and bob) and 30 people events
/// (28 updated and 2 deleted, by carol).
async fn seed(s: &TestServer) {
    let mut events = Vec::new();
    for i in 0..60 {
        let kind = ["created", "updated", "deleted"][i % 3];
        let mut e = event(
            &format!("laptop.{kind}"),
            if i % 2 == 0 { "alice" } else { "bob" },
        );
        e["event"] = json!(kind);
        e["description"] = json!(format!("Laptop {i} {kind}"));
        events.push(e);
    }
    for i in 0..30 {
        let kind = if i < 28 { "updated" } else { "deleted" };
        let mut e = event(&format!("employee.{kind}"), "carol");
        e["channel"] = json!("people");
        e["event"] = json!(kind);
        e["description"] = json!(format!("Employee record {i} {kind}"));
        events.push(e);
    }
    ingest(s, events).await;
}

fn count_of(page: &Page) -> u64 {
    let text = page.text_of("count").unwrap();
    match text.as_str() {
        "No entries" => 0,
        "1 entry" => 1,
        _ => text
            .strip_suffix(" entries")
            .unwrap_or_else(|| panic!("count text {text:?}"))
            .replace(',', "")
            .parse()
            .unwrap(),
    }
}

async fn api_total(s: &TestServer, query: &str) -> u64 {
    s.get_json(&s.admin_key, &format!("/v1/events?{query}&limit=1"))
        .await["total"]
        .as_u64()
        .unwrap()
}

/// Follows the `id` link (older/newer) from `start` to the end; returns each page's rows.
async fn walk(b: &mut Browser, start: &str, id: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut url = start.to_string();
    loop {
        let page = b.get(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{url}");
        pages.push(page.row_ids());
        match page.link(id) {
            Some(next) => url = next,
            None => return pages,
        }
        assert!(pages.len() < 20, "paging does not end");
    }
}

#[tokio::test]
async fn filters_counts_dropdowns_and_empty_states() {
    let s = TestServer::start().await;
    seed(&s).await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;

    let all = b.get("/audit").await;
    assert_eq!(count_of(&all), api_total(&s, "").await);
    assert!(count_of(&all) > 90);
    assert_eq!(all.row_ids().len(), 50, "one page is 50 rows");
    assert!(
        all.text_of("clear").is_none(),
        "Clear is offered only when a filter is active"
    );
    for (query, expected) in [
        ("channel=people&event=deleted", 2),
        ("channel=people", 30),
        ("channel=hardware&event=created", 20),
        ("actor=carol", 30),
        ("actor=alice&event=deleted", 10),
        ("q=Employee", 30),
        ("q=laptop%207", 1),
        ("range=24h&channel=people", 30),
    ] {
        let page = b.get(&format!("/audit?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{query}");
        assert_eq!(api_total(&s, query).await, expected, "{query} (API)");
        assert_eq!(count_of(&page), expected, "{query}");
        assert_eq!(page.row_ids().len() as u64, expected.min(50), "{query}");
        assert_eq!(page.link("clear").as_deref(), Some("/audit"), "{query}");
    }
    let two = b.get("/audit?channel=people&event=deleted").await;
    assert_eq!(two.text_of("count").unwrap(), "2 entries");
    assert!(two.body.contains("<option value=\"people\" selected>"));
    assert_eq!(
        b.get("/audit?q=Employee%20record%203%20")
            .await
            .text_of("count")
            .unwrap(),
        "1 entry"
    );

    // Dropdowns offer exactly the values in the data.
    let facets = s.get_json(&s.admin_key, "/v1/facets").await;
    let values = |key: &str| -> BTreeSet<String> {
        facets[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["value"].as_str().unwrap().to_string())
            .collect()
    };
    let shown = |id: &str| all.options(id).into_iter().collect::<BTreeSet<_>>();
    assert_eq!(shown("f-channel"), values("channels"));
    assert_eq!(shown("f-event"), values("events"));
    assert_eq!(shown("f-result"), values("results"));
    assert!(shown("f-channel").is_superset(&["hardware", "people"].map(String::from).into()));
    assert!(
        shown("f-event").is_superset(&["created", "updated", "deleted"].map(String::from).into())
    );
    assert!(
        !shown("f-event").contains("exported"),
        "nothing was exported yet"
    );
    assert!(shown("f-actor").is_superset(&["alice", "bob", "carol"].map(String::from).into()));

    // Nothing matches: say so, and suggest what to change.
    let empty = b.get("/audit?q=nosuchwordanywhere").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.text_of("count").unwrap(), "No entries");
    assert!(empty.body.contains("id=\"empty\""));
    assert!(empty.body.contains("widening the date range"));
    assert!(empty.body.contains("clear the filters"));
    assert!(empty.row_ids().is_empty());
    let empty = b.get("/audit?from=2000-01-01&to=2000-01-31").await;
    assert_eq!(count_of(&empty), 0);
    assert!(empty.body.contains("widening the date range"));

    // A filter that cannot be understood is an error banner on the page, not a 500.
    for (query, field) in [
        ("from=notadate", "from"),
        ("range=fortnight", "range"),
        ("result=maybe", "result"),
        ("bogus=1", "bogus"),
        ("event=created&event=deleted", "event"),
    ] {
        let page = b.get(&format!("/audit?{query}")).await;
        assert!(
            page.status == StatusCode::OK || page.status == StatusCode::BAD_REQUEST,
            "{query}: {}",
            page.status
        );
        let error = page.error();
        assert!(error.contains(field), "{query}: banner {error:?}");
        assert!(
            page.row_ids().is_empty(),
            "{query}: rows shown for a refused filter"
        );
        assert!(
            page.body.contains("id=\"filters\""),
            "{query}: the form is still there"
        );
    }
    let bad = b.get("/audit?from=notadate").await;
    assert_eq!(
        attr_after(
            &bad.body,
            "id=\"f-from\" name=\"from\" type=\"date\" value=\""
        )
        .unwrap(),
        "notadate"
    );
    s.stop().await;
}

#[tokio::test]
async fn pages_cover_every_entry_once_both_ways() {
    let s = TestServer::start().await;
    seed(&s).await;
    let badges = (0..30).map(|i| {
        let mut e = event("badge.scanned", &format!("u{i}"));
        e["channel"] = json!("facilities");
        e
    });
    ingest(&s, badges.collect()).await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let everything: Vec<String> = s.get_json(&s.admin_key, "/v1/events?limit=1000").await
        ["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert!(everything.len() > 100);

    let first = b.get("/audit").await;
    assert!(
        first.link("newer").is_none(),
        "the first page has no newer page"
    );
    let pages = walk(&mut b, "/audit", "older").await;
    assert_eq!(pages.len(), everything.len().div_ceil(50));
    assert!(pages.iter().all(|p| !p.is_empty()));
    let walked: Vec<String> = pages.concat();
    assert_eq!(walked, everything, "newest first, each entry exactly once");

    // Back from the last page with "Newer".
    let mut url = "/audit".to_string();
    for _ in 1..pages.len() {
        url = b.get(&url).await.link("older").unwrap();
    }
    let last = b.get(&url).await;
    assert!(last.link("older").is_none());
    let back = walk(&mut b, &url, "newer").await;
    let mut forward = pages.clone();
    forward.reverse();
    assert_eq!(back, forward, "newer pages retrace the older ones");

    // Paging keeps the filters.
    let pages = walk(&mut b, "/audit?channel=hardware", "older").await;
    let hardware: Vec<String> = pages.concat();
    assert_eq!(hardware.len(), 60);
    assert_eq!(hardware.iter().collect::<HashSet<_>>().len(), 60);
    let second = b
        .get("/audit?channel=hardware")
        .await
        .link("older")
        .unwrap();
    assert!(second.contains("channel=hardware"), "{second}");
    let page = b.get(&second).await;
    assert_eq!(
        count_of(&page),
        60,
        "the count is of the whole view, not the page"
    );
    // Export links on a later page export the whole view, not from the cursor.
    for href in export_links(&page) {
        assert!(!href.contains("cursor"), "{href}");
        assert!(href.contains("channel=hardware"), "{href}");
    }
    s.stop().await;
}

fn export_links(page: &Page) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = page.body.as_str();
    while let Some(i) = rest.find("href=\"/audit/export?") {
        rest = &rest[i..];
        links.push(attr_after(rest, "href=\"").unwrap());
        rest = &rest[1..];
    }
    links
}

#[tokio::test]
async fn exports_of_the_view_match_it_and_are_audited() {
    let s = TestServer::start().await;
    seed(&s).await;
    let me = owner(&s).await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;

    let view = b.get("/audit?event=created").await;
    let shown = count_of(&view);
    assert!(shown >= 20, "{shown}");
    let (status, headers, body) = b.get_bytes("/audit/export?format=csv&event=created").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CONTENT_TYPE], Format::Csv.content_type());
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment") && disposition.contains(".csv"),
        "{disposition}"
    );
    let text = String::from_utf8(body).unwrap();
    let mut csv = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = csv.headers().unwrap().clone();
    let event_col = header.iter().position(|h| h == "event").unwrap();
    let id_col = header.iter().position(|h| h == "entry_id").unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.len() as u64,
        shown,
        "the export holds exactly the view's rows"
    );
    assert!(rows.iter().all(|r| &r[event_col] == "created"));
    let page_ids: HashSet<String> = view.row_ids().into_iter().collect();
    let csv_ids: HashSet<String> = rows.iter().map(|r| r[id_col].to_string()).collect();
    assert!(page_ids.is_subset(&csv_ids));

    let exported = audited(&s, "audit_log.exported").await;
    assert_eq!(exported.len(), 1);
    let e = &exported[0];
    assert_eq!(e["actor"]["type"], "user");
    assert_eq!(e["actor"]["id"], me.id.as_str());
    assert_eq!(e["actor"]["email"], s.owner_email.as_str());
    assert_eq!(e["properties"]["format"], "csv");
    assert_eq!(e["properties"]["rows"], json!(shown));
    assert!(
        e["properties"]["filters"].to_string().contains("created"),
        "{e}"
    );

    // One button per format, each carrying the view's filters, each a working download.
    let query = "event=created&channel=hardware&q=laptop";
    let view = b.get(&format!("/audit?{query}")).await;
    let links = export_links(&view);
    let formats: Vec<String> = links
        .iter()
        .map(|href| {
            let query = href.split_once('?').unwrap().1;
            let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            for (k, v) in [
                ("event", "created"),
                ("channel", "hardware"),
                ("q", "laptop"),
            ] {
                assert!(
                    pairs.contains(&(k.into(), v.into())),
                    "{href} lacks {k}={v}"
                );
            }
            pairs.iter().find(|(k, _)| k == "format").unwrap().1.clone()
        })
        .collect();
    let all_formats: Vec<String> = Format::ALL.iter().map(|f| f.as_str().to_string()).collect();
    assert_eq!(formats, all_formats);
    for (href, format) in links.iter().zip(Format::ALL) {
        let (status, headers, body) = b.get_bytes(href).await;
        assert_eq!(status, StatusCode::OK, "{href}");
        assert_eq!(headers[CONTENT_TYPE], format.content_type(), "{href}");
        assert!(!body.is_empty());
    }
    assert_eq!(
        audited(&s, "audit_log.exported").await.len(),
        1 + Format::ALL.len()
    );
    // The JSON export of the filtered view has exactly its entries.
    let (_, _, json_body) = b
        .get_bytes(&format!("/audit/export?format=json&{query}"))
        .await;
    let v: Value = serde_json::from_slice(&json_body).unwrap();
    let n = v
        .as_array()
        .or_else(|| v["entries"].as_array())
        .map(Vec::len)
        .unwrap();
    assert_eq!(n as u64, count_of(&view));
    // An export with a refused filter is an error page, and audits nothing.
    let before = audited(&s, "audit_log.exported").await.len();
    let page = b.get("/audit/export?format=csv&from=notadate").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("from"));
    let page = b.get("/audit/export?format=docx").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(audited(&s, "audit_log.exported").await.len(), before);
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 8. Tenants.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_workspace_sees_and_manages_only_its_own() {
    let s = TestServer::start().await;
    let (acme, acme_key) = s.tenant_with_key("acme", &[Scope::Admin]).await;
    let r = s
        .post_events(&acme_key, &event("secret.plan", "wile"))
        .await;
    assert!(r.status().is_success());
    let acme_entry: Value = r.json().await.unwrap();
    let acme_entry = acme_entry["results"][0]["id"]
        .as_str()
        .or_else(|| acme_entry["id"].as_str())
        .unwrap()
        .to_string();
    let acme_user = users::create_user(
        s.store.as_ref(),
        acme,
        "wile@acme.example",
        None,
        Role::Owner,
        Some("acme owner password".into()),
        &operator(),
    )
    .await
    .unwrap()
    .user;
    let acme_key_id = s.get_json(&acme_key, "/v1/keys").await.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let mut wile = Browser::new(&s);
    let page = wile
        .sign_in("acme", "wile@acme.example", "acme owner password")
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);

    // Another workspace's entry is "not found", and appears in no list or export.
    let page = b.get(&format!("/audit/entries/{acme_entry}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains("secret.plan"));
    assert!(!b.get("/audit").await.body.contains(&acme_entry));
    assert!(!b.get("/audit?q=secret").await.body.contains(&acme_entry));
    let (_, _, csv) = b.get_bytes("/audit/export?format=csv").await;
    assert!(!String::from_utf8_lossy(&csv).contains(&acme_entry));
    let acme_page = wile.get("/audit").await;
    assert!(acme_page.body.contains(&acme_entry));
    assert!(acme_page.body.contains("acme"));
    assert_eq!(
        wile.get(&format!("/audit/entries/{acme_entry}"))
            .await
            .status,
        StatusCode::OK
    );
    // The same person's credentials do not open another workspace.
    let page = Browser::new(&s)
        .sign_in("acme", &s.owner_email, &s.owner_password)
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);

    // Another workspace's users and keys cannot be changed from this one.
    let csrf = b.csrf().await;
    for path in [
        format!("/settings/users/{}/role", acme_user.id),
        format!("/settings/users/{}/deactivate", acme_user.id),
        format!("/settings/keys/{acme_key_id}/revoke"),
    ] {
        let page = b.post(&path, &[("csrf", &csrf), ("role", "member")]).await;
        assert!(
            page.status == StatusCode::UNPROCESSABLE_ENTITY || page.status == StatusCode::NOT_FOUND,
            "{path}: {}",
            page.status
        );
        assert!(
            page.error().contains("not found"),
            "{path}: {}",
            page.error()
        );
    }
    let still = s
        .store
        .user_by_id(acme, &acme_user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((still.role, still.is_active()), (Role::Owner, true));
    assert_eq!(
        wile.get("/audit").await.status,
        StatusCode::OK,
        "their session lives on"
    );
    let (status, _) = api(&s, Method::GET, &acme_key, "/v1/events", None, None).await;
    assert_eq!(status, StatusCode::OK, "their key still works");
    // A session belongs to its workspace: the default allowlist does not bind acme's user, and
    // acme's does.
    set_allowlist(&s, &["203.0.113.0/24"]).await;
    assert_eq!(wile.get("/audit").await.status, StatusCode::OK);
    assert_eq!(b.get("/audit").await.status, StatusCode::FORBIDDEN);
    s.stop().await;
}
