//! The web page: hostile content.

use crate::common::web::*;
use crate::common::{event, TestServer};
use reqwest::StatusCode;
use serde_json::json;

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const RLO: char = '\u{202E}';

/// No markup from stored text: the only script element is the page's own, no `<img` at all,
/// and the policy forbids inline script.
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
