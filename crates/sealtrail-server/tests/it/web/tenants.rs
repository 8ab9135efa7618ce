//! The web page: tenants.

use crate::common::web::*;
use crate::common::{event, TestServer};
use reqwest::{Method, StatusCode};
use sealtrail_core::keys::Scope;
use sealtrail_core::users::Role;
use sealtrail_service::users;
use serde_json::Value;

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
