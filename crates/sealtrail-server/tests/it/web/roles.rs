//! The web page: roles × pages.

use crate::common::web::*;
use crate::common::{event, TestServer};
use futures::future::join_all;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use sealtrail_core::users::Role;
use sealtrail_export::Format;
use serde_json::json;

const LOG_VIEWERS: &str = "owner, super-admin, admin, it-admin";

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
