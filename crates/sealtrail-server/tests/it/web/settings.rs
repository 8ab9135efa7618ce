//! The web page: settings actions.

use crate::common::web::*;
use crate::common::TestServer;
use reqwest::{Method, StatusCode};
use sealtrail_core::users::Role;
use serde_json::{json, Value};

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

/// Seeds 003 and 004: the audit page opens on the tenant's default period (set on the
/// settings page or the API, audited), while a period picked on the page, "Any time"
/// included, always wins.
#[tokio::test]
async fn the_audit_page_opens_on_the_default_period() {
    let s = TestServer::start().await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let csrf = b.csrf().await;
    let opened = b.get("/audit").await;
    assert!(
        !opened.body.contains("\" selected>Last"),
        "any time by default"
    );

    let saved = b
        .post("/settings/period", &[("csrf", &csrf), ("period", "3m")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location(), "/settings?done=period");
    let shown = b.get("/settings?done=period").await;
    assert!(shown.body.contains("Default period saved."));
    assert!(shown
        .body
        .contains(r#"<option value="3m" selected>Last 3 months</option>"#));

    let opened = b.get("/audit").await;
    assert!(
        opened
            .body
            .contains(r#"<option value="3m" selected>Last 3 months</option>"#),
        "{}",
        opened.body
    );
    assert!(
        opened.link("clear").is_none(),
        "the default is no filter to clear"
    );
    assert!(
        opened.body.contains("/audit/export?range=3m"),
        "exports what is shown"
    );
    let any_time = b.get("/audit?range=any").await;
    assert!(
        !any_time.body.contains("\" selected>Last"),
        "the page's choice wins"
    );
    assert!(
        any_time.link("clear").is_none(),
        "any time is no filter either"
    );
    // Every link of the page keeps the choice: none drops back to the default period.
    assert!(!any_time.body.contains("range=3m"), "{}", any_time.body);
    let without_script = b.get("/audit?range=&event=").await;
    assert!(!without_script.body.contains("\" selected>Last"));
    let picked = b.get("/audit?range=24h").await;
    assert!(picked.body.contains(r#"<option value="24h" selected>"#));

    let bad = b
        .post(
            "/settings/period",
            &[("csrf", &csrf), ("period", "fortnight")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.error().contains("unknown period"), "{}", bad.body);

    let (status, v) = api(
        &s,
        Method::PUT,
        &s.admin_key,
        "/v1/settings/default-period",
        Some(json!({ "period": null })),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["default_period"], Value::Null);
    let opened = b.get("/audit").await;
    assert!(
        !opened.body.contains("\" selected>Last"),
        "back to any time"
    );
    let changes = audited(&s, "default_period.changed").await;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0]["properties"]["before"], "3m");
}

#[tokio::test]
async fn the_settings_page_lists_each_actions_schema_versions() {
    let s = TestServer::start().await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let empty = b.get("/settings").await;
    assert!(
        empty.body.contains("No action has a schema"),
        "{}",
        empty.body
    );
    for limit in [10, 20] {
        let r = s
            .client
            .post(format!("{}/v1/schemas/invoice.paid", s.url))
            .bearer_auth(&s.admin_key)
            .json(&json!({"properties": {"description": {"maxLength": limit}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let page = b.get("/settings").await;
    let table = &page.body[page.body.find("id=\"schemas\"").expect("the schemas table")..];
    assert!(table.contains("<code>invoice.paid</code>"), "{table}");
    assert!(table.contains("<td>1, 2</td>"), "{table}");
    let newest = unescape(table);
    assert!(
        newest.contains("\"maxLength\": 20"),
        "the newest document: {newest}"
    );
}

/// Streaming from the page: a sink created with its secret shown once, its receiver's
/// failure shown where its state is, then paused, resumed and deleted, each recorded; a
/// private-network receiver refused without the operator's consent.
#[tokio::test]
async fn sinks_through_the_page() {
    let s = TestServer::start().await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let csrf = b.csrf().await;
    let refused = b
        .post(
            "/settings/sinks",
            &[
                ("csrf", &csrf),
                ("name", "inside"),
                ("url", "http://10.0.0.7/in"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("private network"), "{}", refused.body);

    // A receiver that is not there: the sink shows why nothing arrives.
    let created = b
        .post(
            "/settings/sinks",
            &[
                ("csrf", &csrf),
                ("name", "SIEM"),
                ("url", "https://receiver.invalid/in"),
                ("start", "beginning"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let secret = created.text_of("secret").expect("the secret is shown");
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(created.headers["cache-control"], "no-store");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let page = loop {
        let page = b.get("/settings").await;
        if page.body.contains("failure(s) in a row") {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "no failure shown");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        !page.body.contains(&secret),
        "the secret is shown only once"
    );
    let table = &page.body[page.body.find("id=\"sinks\"").expect("the sinks table")..];
    assert!(
        table.contains("<bdi>SIEM</bdi>") && table.contains("active"),
        "{table}"
    );
    let id = attr_after(table, "action=\"/settings/sinks/").unwrap();
    let id = id.split('/').next().unwrap().to_string();

    for (action, notice, state) in [
        ("pause", "Sink paused.", "paused"),
        ("resume", "Sink resumed", "active"),
    ] {
        let done = b
            .post(
                &format!("/settings/sinks/{id}/{action}"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(
            done.status,
            StatusCode::SEE_OTHER,
            "{action}: {}",
            done.body
        );
        let shown = b.get(done.location()).await;
        assert!(shown.body.contains(notice), "{action}: {}", shown.body);
        let listed = s.get_json(&s.admin_key, &format!("/v1/sinks/{id}")).await;
        assert_eq!(listed["state"], state);
    }
    let deleted = b
        .post(&format!("/settings/sinks/{id}/delete"), &[("csrf", &csrf)])
        .await;
    let shown = b.get(deleted.location()).await;
    assert!(shown.body.contains("Sink deleted."));
    assert!(!shown.body.contains("id=\"sinks\""), "no sinks left");
    for action in [
        "sink.created",
        "sink.paused",
        "sink.resumed",
        "sink.deleted",
    ] {
        let recorded = audited(&s, action).await;
        assert_eq!(recorded.len(), 1, "{action}");
        assert_eq!(
            recorded[0]["actor"]["email"],
            s.owner_email.as_str(),
            "{action}"
        );
    }
    // Without the form's token nothing changes.
    let forged = b
        .post(
            "/settings/sinks",
            &[("name", "x"), ("url", "https://example.com/")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    let listed = s.get_json(&s.admin_key, "/v1/sinks").await;
    assert_eq!(listed, json!([]), "nothing was created without the token");

    // A Splunk collector in OCSF: the token goes in once and is never shown again.
    let token = "B5A79AAD-D822-46CC-80D1-819F80D7BFB0";
    let splunk = b
        .post(
            "/settings/sinks",
            &[
                ("csrf", &csrf),
                ("name", "Splunk"),
                ("kind", "splunk_hec"),
                (
                    "url",
                    "https://splunk.invalid:8088/services/collector/event",
                ),
                ("token", token),
                ("format", "ocsf"),
            ],
        )
        .await;
    assert_eq!(splunk.status, StatusCode::OK, "{}", splunk.body);
    let page = b.get("/settings").await;
    assert!(page.body.contains("Splunk HEC, OCSF 6003"), "{}", page.body);
    assert!(!page.body.contains(token));
    let without_token = b
        .post(
            "/settings/sinks",
            &[
                ("csrf", &csrf),
                ("name", "Splunk 2"),
                ("kind", "splunk_hec"),
                (
                    "url",
                    "https://splunk.invalid:8088/services/collector/event",
                ),
            ],
        )
        .await;
    assert_eq!(without_token.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        without_token.body.contains("token"),
        "{}",
        without_token.body
    );

    // Every kind and format is offered, an archive among them: its access key is sealed like
    // a token, and a private endpoint is refused as any receiver's address is.
    for option in [
        "value=\"webhook\"",
        "value=\"splunk_hec\"",
        "value=\"syslog\"",
        "value=\"archive\"",
        "value=\"ocsf\"",
    ] {
        assert!(page.body.contains(option), "{option}");
    }
    let secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
    let archive = b
        .post(
            "/settings/sinks",
            &[
                ("csrf", &csrf),
                ("name", "Archive"),
                ("kind", "archive"),
                ("url", "s3://acme-audit/sealtrail?region=eu-west-1"),
                ("token", &format!("AKIAEXAMPLE:{secret}")),
            ],
        )
        .await;
    assert_eq!(archive.status, StatusCode::OK, "{}", archive.body);
    let page = b.get("/settings").await;
    assert!(
        page.body.contains("S3 archive, Sealtrail JSON"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(secret));
    let private = b
        .post(
            "/settings/sinks",
            &[
                ("csrf", &csrf),
                ("name", "Archive 2"),
                ("kind", "archive"),
                ("url", "s3://acme-audit?endpoint=http://169.254.169.254"),
                ("token", "AKIAEXAMPLE:x"),
            ],
        )
        .await;
    assert_eq!(private.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Browser origins (CORS) from the settings page: saved normalised, shown back, audited with
/// the signed-in owner as actor, a bad one refused by name; a preflight from the saved origin
/// is then answered.
#[tokio::test]
async fn browser_origins_through_the_page() {
    let s = TestServer::start().await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let csrf = b.csrf().await;
    let saved = b
        .post(
            "/settings/cors",
            &[
                ("csrf", &csrf),
                ("origins", "https://Shop.Example.com\nhttp://localhost:3000"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let shown = b.get("/settings?done=cors").await;
    assert!(shown.body.contains("Browser origins saved."));
    assert!(
        shown
            .body
            .contains("https://shop.example.com\nhttp://localhost:3000</textarea>"),
        "{}",
        shown.body
    );
    let recorded = audited(&s, "cors_origins.changed").await;
    assert_eq!(recorded[0]["actor"]["email"], s.owner_email.as_str());
    let preflight = s
        .client
        .request(Method::OPTIONS, format!("{}/v1/events", s.url))
        .header("Origin", "https://shop.example.com")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);

    let bad = b
        .post(
            "/settings/cors",
            &[
                ("csrf", &csrf),
                ("origins", "https://shop.example.com/path"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("is not an origin"), "{}", bad.body);
}
