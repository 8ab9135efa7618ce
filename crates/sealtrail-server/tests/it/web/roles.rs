//! The web page: roles × pages.

use crate::common::web::*;
use crate::common::{event, TestServer};
use futures::future::join_all;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use sealtrail_core::users::Role;
use sealtrail_export::Format;
use serde_json::json;

/// The roles that read the log, as docs/web.md's role table declares them. Written out here,
/// not derived from `Role`'s own methods, so a change to those methods cannot move the
/// expectation with it.
const LOG_VIEWERS: &[Role] = &[Role::Owner, Role::SuperAdmin, Role::Admin, Role::ItAdmin];
/// The roles that change settings, keys and users (docs/web.md).
const MANAGERS: &[Role] = &[Role::Owner, Role::SuperAdmin, Role::Admin];
/// Every role: a signed-in user always reaches their own account page.
const EVERYONE: &[Role] = &Role::ALL;

/// Role × page: each page (`{id}` stands for a stored entry) and the roles it answers 200 to.
/// Every other signed-in role gets a 403 page naming its role and who may open the page.
const PAGES: &[(&str, &[Role], &str)] = &[
    ("/audit", LOG_VIEWERS, "owner, super-admin, admin, it-admin"),
    (
        "/audit/export?format=csv",
        LOG_VIEWERS,
        "owner, super-admin, admin, it-admin",
    ),
    (
        "/audit/actors?q=ali",
        LOG_VIEWERS,
        "owner, super-admin, admin, it-admin",
    ),
    (
        "/audit/entries/{id}",
        LOG_VIEWERS,
        "owner, super-admin, admin, it-admin",
    ),
    (
        "/exports",
        LOG_VIEWERS,
        "owner, super-admin, admin, it-admin",
    ),
    ("/settings", MANAGERS, "owner, super-admin and admin"),
    ("/account", EVERYONE, ""),
];

/// Every form of the settings page: only [`MANAGERS`] may post them; anyone else gets a 403
/// page and nothing changes.
const FORMS: &[&str] = &[
    "/settings/retention",
    "/settings/legal-hold",
    "/settings/limits",
    "/settings/tiles",
    "/settings/allowlist",
    "/settings/keys",
    "/settings/keys/key_unknown/revoke",
    "/settings/users",
    "/settings/users/user_unknown/role",
];

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
        for (template, allowed, who_may) in PAGES {
            let path = template.replace("{id}", &id);
            let page = b.get(&path).await;
            if allowed.contains(&role) {
                assert_eq!(page.status, StatusCode::OK, "{role:?} GET {path}");
                assert_eq!(page.headers["cache-control"], "no-store", "{path}");
            } else {
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{role:?} GET {path}");
                assert!(page.content_type().starts_with("text/html"));
                assert!(page.body.contains(&named), "{role:?} {path}: {}", page.body);
                assert!(
                    page.body.contains(who_may),
                    "{role:?} {path}: {}",
                    page.body
                );
                assert!(!page.body.contains(&id), "{role:?} {path} leaks the entry");
            }
        }
        if LOG_VIEWERS.contains(&role) {
            for path in ["/audit".to_string(), format!("/audit/entries/{id}")] {
                assert!(b.get(&path).await.body.contains(&id), "{role:?} {path}");
            }
            let (_, headers, csv) = b.get_bytes("/audit/export?format=csv").await;
            assert_eq!(headers[CONTENT_TYPE], Format::Csv.content_type());
            assert!(String::from_utf8_lossy(&csv).contains(&id), "{role:?} CSV");
        }

        let account = b.get("/account").await;
        assert!(account
            .body
            .contains(&format!("{}@example.com", role.as_str())));
        assert!(account.body.contains(&format!("role {}", role.as_str())));
        // The navigation offers only what the role may open.
        assert_eq!(
            account.body.contains(">Audit log</a>"),
            LOG_VIEWERS.contains(&role),
            "{role:?} nav"
        );
        assert_eq!(
            account.body.contains("href=\"/settings\""),
            MANAGERS.contains(&role),
            "{role:?} nav"
        );

        let csrf = account.csrf();
        if MANAGERS.contains(&role) {
            let days = (100 + i).to_string();
            let post = b
                .post("/settings/retention", &[("csrf", &csrf), ("days", &days)])
                .await;
            assert_eq!(
                post.status,
                StatusCode::SEE_OTHER,
                "{role:?}: {}",
                post.body
            );
            assert_eq!(post.location(), "/settings?done=retention");
            assert_eq!(retention_days(&s).await, json!(100 + i));
        } else {
            let before = tenant_state(&s).await;
            for form in FORMS {
                let post = b
                    .post(
                        form,
                        &[("csrf", &csrf), ("days", "40"), ("entries", "10.0.0.0/8")],
                    )
                    .await;
                assert_eq!(post.status, StatusCode::FORBIDDEN, "{role:?} POST {form}");
                assert!(post.body.contains(&named), "{role:?} POST {form}");
            }
            assert_eq!(tenant_state(&s).await, before, "{role:?} changed something");
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

/// Everything a settings form could change (settings, keys, users), as comparable text.
async fn tenant_state(s: &TestServer) -> String {
    let t = tenant(s).await;
    format!(
        "{:?} {:?} {:?}",
        s.store.settings(t).await.unwrap(),
        s.store.list_api_keys(t).await.unwrap(),
        s.store.list_users(t).await.unwrap()
    )
}
