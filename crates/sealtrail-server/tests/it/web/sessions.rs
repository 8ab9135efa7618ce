//! The web page: sign-in, sessions, sign-out, cookies.

use crate::common::web::*;
use crate::common::TestServer;
use futures::future::join_all;
use reqwest::StatusCode;
use sealtrail_core::users::Role;

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
