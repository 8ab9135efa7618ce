//! The web page: the Exports panel (seed 004 queues a named export of the current view and
//! downloads it later from the page).

use crate::common::web::*;
use crate::common::TestServer;
use reqwest::StatusCode;
use sealtrail_core::users::Role;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_view_is_queued_by_name_watched_and_downloaded_from_the_page() {
    let s = TestServer::start().await;
    let categorised = |action: &str, category: &str| {
        json!({ "action": action, "channel": "controls", "category": category,
                "actor": { "id": "u1", "name": "Ada" } })
    };
    ingest(
        &s,
        vec![
            categorised("policy.updated", "Policy Changes"),
            categorised("agent.promoted", "Agent Operations"),
            categorised("evidence.uploaded", "Evidence"),
        ],
    )
    .await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let view = "category=Policy+Changes&category=Agent+Operations";
    let page = b.get(&format!("/audit?{view}")).await;
    assert!(page.body.contains("Queue this view"), "{}", page.body);
    assert!(
        page.body.contains(r#"name="query" value="category="#),
        "{}",
        page.body
    );
    let csrf = page.csrf();

    let queued = b
        .post(
            "/exports",
            &[
                ("csrf", &csrf),
                ("query", view),
                ("name", "Q4 policy and agent changes"),
                ("format", "csv"),
            ],
        )
        .await;
    assert_eq!(queued.status, StatusCode::SEE_OTHER, "{}", queued.body);
    assert!(queued.location().starts_with("/exports?queued="));

    // The panel lists it with its progress until it is ready, then offers the file.
    let mut listed = b.get(queued.location()).await;
    for _ in 0..100 {
        if listed.body.contains(r#"data-state="ready""#) {
            break;
        }
        assert!(listed.body.contains("Export queued."));
        tokio::time::sleep(Duration::from_millis(50)).await;
        listed = b.get("/exports").await;
    }
    assert!(
        listed.body.contains("Q4 policy and agent changes"),
        "{}",
        listed.body
    );
    assert!(
        listed.body.contains(r#"data-state="ready""#),
        "{}",
        listed.body
    );
    assert!(
        !listed.body.contains("http-equiv=\"refresh\""),
        "nothing left to wait for"
    );
    let start = listed.body.find("/exports/").unwrap();
    let href = &listed.body[start..start + listed.body[start..].find('"').unwrap()];
    let (status, headers, csv) = b.get_bytes(href).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-store");
    let text = String::from_utf8(csv).unwrap();
    assert!(text.starts_with('\u{feff}'));
    assert_eq!(
        text.lines().count(),
        3,
        "header and the two chosen categories: {text}"
    );
    assert!(!text.contains("evidence.uploaded"));
    let recorded = audited(&s, "audit_log.exported").await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["actor"]["email"], s.owner_email.as_str());

    // Refusals: a bad format or name, a missing CSRF token, a role that may not read the log.
    let bad = b
        .post(
            "/exports",
            &[("csrf", &csrf), ("query", ""), ("format", "docx")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let forged = b
        .post("/exports", &[("query", ""), ("format", "csv")])
        .await;
    assert_eq!(
        forged.status,
        StatusCode::BAD_REQUEST,
        "as every form without its token"
    );
    assert!(forged.body.contains("This form has expired"));
    let (_, member_pw) = make_user(&s, Role::Member, "member@example.com").await;
    let mut member = Browser::signed_in(&s, "member@example.com", &member_pw).await;
    assert_eq!(member.get("/exports").await.status, StatusCode::FORBIDDEN);
    assert_eq!(member.get_bytes(href).await.0, StatusCode::FORBIDDEN);
    let member_csrf = member.get("/account").await.csrf();
    let refused = member
        .post(
            "/exports",
            &[("csrf", &member_csrf), ("query", ""), ("format", "csv")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/exports/not-a-job/download").await.status,
        StatusCode::NOT_FOUND
    );
}
