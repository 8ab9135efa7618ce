//! The web page: cSRF and origin.

use crate::common::web::*;
use crate::common::TestServer;
use reqwest::StatusCode;
use serde_json::json;

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
