//! The audit page in a real headless Chromium against a real server on a real SQLite file:
//! sign in, filter by event and date, keep the filters in the URL across a reload, Clear, page,
//! open Details, export exactly the view as CSV, sign out; hostile content stays inert text; the
//! page fits a phone. Screenshots land in `target/test-artifacts/`.

use crate::browser::Browser;
use crate::common::TestServer;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::Locator;
use sealtrail_core::entry::Actor;
use sealtrail_core::users::Role;
use sealtrail_core::Timestamp;
use sealtrail_service::users::{self, Acting};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";

/// A user of the default tenant with a known password.
async fn user(s: &TestServer, email: &str, role: Role) {
    users::create_user(
        s.store.as_ref(),
        s.store.tenant_by_name("default").await.unwrap().unwrap().id,
        email,
        Some("Ada Lovelace"),
        role,
        Some(PASSWORD.into()),
        &Acting::operator(Actor::system("test")),
    )
    .await
    .unwrap();
}

async fn ingest(s: &TestServer, events: Vec<Value>) {
    let r = s
        .post_events(&s.admin_key, &json!({ "events": events }))
        .await;
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
}

/// 70 events: every third deleted (24 of them), the rest created/updated; #68 (an update in the
/// hardware channel) records a before/after change.
fn dataset() -> Vec<Value> {
    (0..70)
        .map(|i| {
            let event = ["deleted", "created", "updated"][i % 3];
            let mut e = json!({
                "action": format!("hardware.{event}"),
                "event": event,
                "channel": if i % 2 == 0 { "hardware" } else { "auth" },
                "description": format!("Hardware #{i} {event}"),
                "actor": { "type": "user", "id": format!("u{}", i % 4), "name": format!("User {}", i % 4), "email": format!("u{}@example.com", i % 4) },
                "targets": [{ "type": "hardware", "id": i.to_string(), "name": format!("Laptop {i}") }],
            });
            if i == 68 {
                e["changes"] = json!({ "before": { "owner": "ada" }, "after": { "owner": "grace" } });
            }
            e
        })
        .collect()
}

async fn sign_in(b: &Browser, url: &str, email: &str) {
    b.goto(&format!("{url}/audit")).await;
    b.wait_until("the sign-in form is shown", async |c| {
        c.current_url().await.is_ok_and(|u| u.path() == "/signin")
    })
    .await;
    let workspace = b.wait_for("#workspace").await;
    assert_eq!(
        workspace.prop("value").await.unwrap().as_deref(),
        Some("default"),
        "the only workspace is filled in"
    );
    b.wait_for("#email").await.send_keys(email).await.unwrap();
    b.wait_for("#password")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.wait_for("#sign-in").await.click().await.unwrap();
    b.wait_for("#count").await;
}

async fn count_text(b: &Browser) -> String {
    b.wait_for("#count").await.text().await.unwrap()
}

/// The number in "24 entries" / "1 entry" / "No entries".
fn count_of(text: &str) -> usize {
    text.split_whitespace()
        .next()
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or(0)
}

async fn api_total(s: &TestServer, query: &str) -> usize {
    let v = s
        .get_json(&s.admin_key, &format!("/v1/events?{query}"))
        .await;
    v["total"].as_u64().unwrap() as usize
}

async fn wait_for_url(b: &Browser, what: &str, wanted: impl Fn(&str) -> bool) {
    b.wait_until(what, async |c| {
        c.current_url().await.is_ok_and(|u| wanted(u.as_str()))
    })
    .await;
}

#[tokio::test]
async fn sign_in_filter_reload_clear_page_details_export_and_sign_out() {
    let s = TestServer::start().await;
    ingest(&s, dataset()).await;
    user(&s, "ada@example.com", Role::Admin).await;
    let b = Browser::launch().await;
    sign_in(&b, &s.url, "ada@example.com").await;

    // Everything, newest first, counted like the API counts it.
    let all = api_total(&s, "").await;
    assert_eq!(count_of(&count_text(&b).await), all);
    assert!(
        b.client().find(Locator::Id("clear")).await.is_err(),
        "no Clear without filters: {}",
        b.current_url().await
    );
    let descriptions = b
        .client()
        .find_all(Locator::Css("tr.entry .desc"))
        .await
        .unwrap();
    assert_eq!(
        descriptions[0].text().await.unwrap(),
        "ada@example.com signed in",
        "newest first: the sign-in itself is the latest entry"
    );
    assert_eq!(
        descriptions[1].text().await.unwrap(),
        "User ada@example.com created with role admin"
    );
    assert_eq!(
        descriptions[2].text().await.unwrap(),
        "Hardware #69 deleted"
    );

    // Event dropdown: choosing reloads at once, and the URL carries the filter.
    let event = b.wait_for("#f-event").await;
    event.select_by_value("deleted").await.unwrap();
    wait_for_url(&b, "the URL carries event=deleted", |u| {
        u.contains("event=deleted")
    })
    .await;
    b.wait_until("the count shows the deleted entries", async |c| {
        let text = c.find(Locator::Id("count")).await.ok();
        match text {
            Some(el) => el.text().await.is_ok_and(|t| count_of(&t) == 24),
            None => false,
        }
    })
    .await;
    for badge in b
        .client()
        .find_all(Locator::Css("tr.entry td[data-label=Event] .badge"))
        .await
        .unwrap()
    {
        assert_eq!(badge.text().await.unwrap(), "deleted");
        assert!(badge.attr("class").await.unwrap().unwrap().contains("rose"));
    }

    // A date: today (UTC) as From, typed into the date control like a person would.
    let today = &Timestamp::now().to_rfc3339()[..10];
    let (y, m, d) = (&today[0..4], &today[5..7], &today[8..10]);
    let from = b.wait_for("#f-from").await;
    from.send_keys(&format!("{m}{d}{y}")).await.unwrap();
    wait_for_url(&b, "the URL carries from=<today>", |u| {
        u.contains(&format!("from={today}")) && u.contains("event=deleted")
    })
    .await;
    b.wait_for("#count").await;
    assert_eq!(
        count_of(&count_text(&b).await),
        24,
        "everything was recorded today"
    );
    assert!(
        !b.current_url().await.contains("q="),
        "empty fields stay out of the URL"
    );

    // Reload: the filters come back from the URL.
    let filtered_url = b.current_url().await;
    b.client().refresh().await.unwrap();
    b.wait_for("#count").await;
    assert_eq!(b.current_url().await, filtered_url);
    let selected = b.wait_for("#f-event").await.prop("value").await.unwrap();
    assert_eq!(selected.as_deref(), Some("deleted"));
    let kept = b.wait_for("#f-from").await.prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some(today));
    assert_eq!(count_of(&count_text(&b).await), 24);
    b.screenshot("audit-filtered").await;

    // Export exactly this view as CSV: the file's rows are the on-screen count, same ids.
    b.wait_for("a[data-export=CSV]")
        .await
        .click()
        .await
        .unwrap();
    let csv_path = b.wait_for_download("csv").await;
    let bytes = std::fs::read(&csv_path).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM for Excel");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 24, "the export has the on-screen count of rows");
    assert!(rows.iter().all(|r| &r[5] == "deleted"), "event column");
    let shown: Vec<String> = {
        let mut ids = Vec::new();
        for row in b.client().find_all(Locator::Css("tr.entry")).await.unwrap() {
            ids.push(row.attr("data-id").await.unwrap().unwrap());
        }
        ids
    };
    let exported: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(
        &exported[..shown.len()],
        &shown[..],
        "same entries, same order"
    );
    let exports = s
        .get_json(&s.admin_key, "/v1/events?action=audit_log.exported")
        .await;
    let entry = &exports["entries"][0];
    assert_eq!(
        entry["actor"]["email"], "ada@example.com",
        "the export is audited under the user"
    );
    assert_eq!(entry["properties"]["filters"]["event"], "deleted");

    // Clear drops every filter and disappears itself.
    b.wait_for("#clear").await.click().await.unwrap();
    wait_for_url(&b, "the URL has no filters", |u| u.ends_with("/audit")).await;
    b.wait_for("#count").await;
    assert_eq!(count_of(&count_text(&b).await), api_total(&s, "").await);
    assert!(b.client().find(Locator::Id("clear")).await.is_err());

    // Cursor pages: Older then Newer, 50 rows a page, no entry twice.
    let page_one: Vec<String> = row_ids(&b).await;
    assert_eq!(page_one.len(), 50);
    follow(&b, "#older").await;
    let page_two = row_ids(&b).await;
    assert!(!page_two.is_empty() && page_two.iter().all(|id| !page_one.contains(id)));
    assert_eq!(
        page_one.len() + page_two.len(),
        api_total(&s, "").await,
        "two pages hold all"
    );
    follow(&b, "#newer").await;
    assert_eq!(row_ids(&b).await, page_one);

    // Details: an update's before/after and raw JSON, expanded in place.
    b.goto(&format!("{}/audit?event=updated&channel=hardware", s.url))
        .await;
    let toggle = b.wait_for("tr.entry .details-toggle").await;
    let controls = toggle.attr("aria-controls").await.unwrap().unwrap();
    let panel = b.wait_for(&format!("#{controls}")).await;
    assert!(!panel.is_displayed().await.unwrap(), "collapsed at first");
    toggle.click().await.unwrap();
    assert!(panel.is_displayed().await.unwrap(), "expanded in place");
    assert_eq!(
        toggle.attr("aria-expanded").await.unwrap().as_deref(),
        Some("true")
    );
    let changed = panel
        .find(Locator::Css("table.changes tr.changed"))
        .await
        .unwrap();
    assert_eq!(changed.text().await.unwrap(), "owner ada grace");
    let json_text = panel
        .find(Locator::Css("pre.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let raw: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(raw["description"], "Hardware #68 updated");
    let status = panel
        .find(Locator::Css(".integrity"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status.contains("checkpoint"), "{status}");
    b.screenshot("audit-details").await;

    // Sign out: the session ends, and the page asks to sign in again.
    b.wait_for("#sign-out").await.click().await.unwrap();
    wait_for_url(&b, "back on the sign-in page", |u| u.contains("/signin")).await;
    b.goto(&format!("{}/audit", s.url)).await;
    wait_for_url(&b, "the page needs a sign-in again", |u| {
        u.contains("/signin?next=")
    })
    .await;
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "no script or CSP errors: {errors:?}");
    b.close().await;
    s.stop().await;
}

/// An event imported today from last year shows when it happened, with the receipt time on
/// hover and in Details; "Period reads: Time received" finds it by arrival instead.
#[tokio::test]
async fn a_late_event_shows_its_own_time_and_the_receipt_on_hover() {
    let s = TestServer::start().await;
    let mut imported = json!({
        "action": "invoice.paid",
        "description": "Invoice 17 paid (imported)",
        "actor": { "id": "u1", "name": "Billing import" },
        "occurred_at": "2025-03-10T12:00:00Z",
    });
    let timely = json!({ "action": "invoice.viewed", "actor": { "id": "u2" } });
    ingest(&s, vec![imported.take(), timely]).await;
    user(&s, "ada@example.com", Role::Admin).await;
    let b = Browser::launch().await;
    sign_in(&b, &s.url, "ada@example.com").await;

    b.goto(&format!("{}/audit?from=2025-03-10&to=2025-03-10", s.url))
        .await;
    assert_eq!(count_text(&b).await, "1 entry");
    let when = b.wait_for("tr.entry time.when").await;
    assert_eq!(
        when.attr("datetime").await.unwrap().as_deref(),
        Some("2025-03-10T12:00:00.000Z"),
        "the When column is the event's own time"
    );
    let hover = when.attr("title").await.unwrap().unwrap_or_default();
    assert!(
        hover.starts_with("Happened 2025-03-10 12:00:00 UTC · received "),
        "{hover}"
    );
    b.wait_for("tr.entry .details-toggle")
        .await
        .click()
        .await
        .unwrap();
    let received = b
        .wait_for("tr.details dd.received")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !received.starts_with("2025-03-10") && received.contains("apart from the event time"),
        "{received}"
    );

    // The same day on the receipt clock: nothing arrived then.
    b.wait_for("#f-time")
        .await
        .select_by_value("recorded")
        .await
        .unwrap();
    wait_for_url(&b, "the URL carries time=recorded", |u| {
        u.contains("time=recorded") && u.contains("from=2025-03-10")
    })
    .await;
    b.wait_for("#empty").await;
    assert_eq!(count_text(&b).await, "No entries");
    assert!(b.client().find(Locator::Id("clear")).await.is_ok());
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "no script or CSP errors: {errors:?}");
    b.close().await;
    s.stop().await;
}

/// Above the table, entries over time stacked by outcome: a bar's tooltip names its failures,
/// clicking a bar narrows the period to it, dragging across bars to all of them; the counts
/// then shown are the bars' own.
#[tokio::test]
async fn the_timeline_narrows_the_period_by_click_and_by_drag() {
    let s = TestServer::start().await;
    let now = Timestamp::now().millis();
    let events: Vec<Value> = (0..60i64)
        .map(|i| {
            json!({
                "action": "agent.promoted",
                "actor": { "id": format!("u{}", i % 3) },
                "result": if i % 5 == 0 { "failure" } else { "success" },
                "occurred_at": Timestamp(now - i * 3 * 3_600_000).to_rfc3339(),
            })
        })
        .collect();
    ingest(&s, events).await;
    user(&s, "ada@example.com", Role::Admin).await;
    let b = Browser::launch().await;
    sign_in(&b, &s.url, "ada@example.com").await;

    let view = "action=agent.promoted&range=7d";
    b.goto(&format!("{}/audit?{view}", s.url)).await;
    let api = s
        .get_json(&s.admin_key, &format!("/v1/timeline?{view}"))
        .await;
    let totals: Vec<u64> = api["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b["counts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_u64().unwrap())
                .sum()
        })
        .collect();
    assert_eq!(
        totals.len(),
        8,
        "seven days from a mid-day touch eight days"
    );
    let bars = b
        .client()
        .find_all(Locator::Css("#timeline a.bar"))
        .await
        .unwrap();
    assert_eq!(bars.len(), totals.len(), "one bar per day, as the API says");
    let caption = b
        .wait_for("#timeline figcaption")
        .await
        .text()
        .await
        .unwrap();
    assert!(caption.starts_with("Entries per day (UTC)"), "{caption}");
    let title = |i: usize| {
        let bar = bars[i].clone();
        async move {
            bar.find(Locator::Css("title"))
                .await
                .unwrap()
                .prop("textContent")
                .await
                .unwrap()
                .unwrap_or_default()
        }
    };
    let busy = (1..totals.len() - 1).find(|i| totals[*i] > 0).unwrap();
    let tooltip = title(busy).await;
    assert!(
        tooltip.contains(&format!("{} entries", totals[busy])) && tooltip.contains("failed"),
        "{tooltip}"
    );
    let failures = b
        .client()
        .find_all(Locator::Css("#timeline rect.tl-fail"))
        .await
        .unwrap();
    assert!(
        !failures.is_empty(),
        "failures are drawn in their own colour"
    );
    b.screenshot("audit-timeline").await;

    // Click: the period becomes that day, the other filters stay.
    bars[busy].click().await.unwrap();
    wait_for_url(&b, "the URL names the bar's day", |u| {
        u.contains("from=")
            && u.contains("to=")
            && u.contains("action=agent.promoted")
            && !u.contains("range=")
    })
    .await;
    b.wait_for("#count").await;
    assert_eq!(count_of(&count_text(&b).await) as u64, totals[busy]);

    // Drag from the first bar with entries to the last: every bar in between.
    b.goto(&format!("{}/audit?{view}", s.url)).await;
    let hits = b
        .client()
        .find_all(Locator::Css("#timeline a.bar rect.hit"))
        .await
        .unwrap();
    let (lo, hi) = (1, totals.len() - 2);
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: hits[lo].clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveToElement {
            element: hits[(lo + hi) / 2].clone(),
            duration: Some(std::time::Duration::from_millis(100)),
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::MoveToElement {
            element: hits[hi].clone(),
            duration: Some(std::time::Duration::from_millis(100)),
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    b.client().perform_actions(drag).await.unwrap();
    wait_for_url(&b, "the URL names the dragged days", |u| {
        u.contains("from=") && !u.contains("range=")
    })
    .await;
    b.wait_for("#count").await;
    let dragged: u64 = totals[lo..=hi].iter().sum();
    assert_eq!(count_of(&count_text(&b).await) as u64, dragged);
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "no script or CSP errors: {errors:?}");
    b.close().await;
    s.stop().await;
}

/// Clicks a pager link and waits until its page has loaded (its URL, then its pager).
async fn follow(b: &Browser, link: &str) {
    let a = b.wait_for(link).await;
    let href = a.attr("href").await.unwrap().unwrap();
    assert_eq!(href.matches("cursor=").count(), 1, "{href}");
    a.click().await.unwrap();
    wait_for_url(b, &format!("the page {href} is open"), |u| {
        u.ends_with(&href)
    })
    .await;
    b.wait_for(".pager").await;
}

async fn row_ids(b: &Browser) -> Vec<String> {
    let mut ids = Vec::new();
    for row in b.client().find_all(Locator::Css("tr.entry")).await.unwrap() {
        ids.push(row.attr("data-id").await.unwrap().unwrap());
    }
    ids
}

#[tokio::test]
async fn hostile_content_is_shown_as_text_and_never_runs() {
    let s = TestServer::start().await;
    let script = "<script>window.__pwned = 1</script>";
    let image = "\"><img src=x onerror=\"window.__pwned = 2\">";
    let rtl = "\u{202E}txt.exe";
    let long = "W".repeat(3_900);
    ingest(
        &s,
        vec![json!({
            "action": "user.updated",
            "event": "updated",
            "channel": "security",
            "description": format!("{script} {image} {rtl} {long}"),
            "actor": { "type": "user", "id": "x", "name": image, "email": "evil@example.com" },
            "targets": [{ "type": "user", "id": script, "name": rtl }],
            "changes": { "before": { "name": script }, "after": { "name": image } },
        })],
    )
    .await;
    user(&s, "ada@example.com", Role::Owner).await;
    let b = Browser::launch().await;
    sign_in(&b, &s.url, "ada@example.com").await;
    b.goto(&format!("{}/audit?event=updated", s.url)).await;
    let desc = b.wait_for("tr.entry .desc").await.text().await.unwrap();
    assert!(
        desc.starts_with(script),
        "shown as the literal text: {desc:.80}"
    );
    b.wait_for("tr.entry .details-toggle")
        .await
        .click()
        .await
        .unwrap();
    let pwned = b
        .client()
        .execute("return window.__pwned === undefined && document.querySelectorAll('img[src=x]').length === 0;", vec![])
        .await
        .unwrap();
    assert_eq!(pwned, json!(true), "no injected script or element ran");
    let overflow = b
        .client()
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow,
        json!(true),
        "a 3,900-character word wraps instead of widening the page"
    );
    b.screenshot("audit-hostile").await;
    b.close().await;
    s.stop().await;
}

#[tokio::test]
async fn the_page_fits_a_phone_and_roles_without_access_are_told_why() {
    let s = TestServer::start().await;
    ingest(&s, dataset()).await;
    user(&s, "hr@example.com", Role::Hr).await;
    users::create_user(
        s.store.as_ref(),
        s.store.tenant_by_name("default").await.unwrap().unwrap().id,
        "it@example.com",
        None,
        Role::ItAdmin,
        Some(PASSWORD.into()),
        &Acting::operator(Actor::system("test")),
    )
    .await
    .unwrap();

    let b = Browser::launch().await;
    b.set_window_size(390, 844).await;
    sign_in(&b, &s.url, "it@example.com").await;
    let fits = b
        .client()
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "no sideways scrolling on a phone");
    let header_hidden = b
        .client()
        .execute("return getComputedStyle(document.querySelector('table.log thead')).display === 'none';", vec![])
        .await
        .unwrap();
    assert_eq!(header_hidden, json!(true), "rows become labelled cards");
    b.screenshot("audit-phone").await;
    b.wait_for("#sign-out").await.click().await.unwrap();
    wait_for_url(&b, "signed out", |u| u.contains("/signin")).await;

    sign_in_expecting_refusal(&b, &s.url, "hr@example.com").await;
    b.close().await;
    s.stop().await;
}

async fn sign_in_expecting_refusal(b: &Browser, url: &str, email: &str) {
    b.goto(&format!("{url}/signin")).await;
    b.wait_for("#email").await.send_keys(email).await.unwrap();
    b.wait_for("#password")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.wait_for("#sign-in").await.click().await.unwrap();
    wait_for_url(b, "signed in and sent to the audit page", |u| {
        u.ends_with("/audit")
    })
    .await;
    let heading = b.wait_for("main h1").await.text().await.unwrap();
    assert_eq!(heading, "You can't view the audit log");
    let body = b.wait_for("main").await.text().await.unwrap();
    assert!(body.contains("Your role in default is hr"), "{body}");
    assert!(
        body.contains("owner, super-admin, admin, it-admin"),
        "{body}"
    );
}

/// Seeds 001 and 004: a tenant with more actors than a dropdown holds gets a search box whose
/// suggestions come from the server as the admin types (by name, any case), and picking one
/// filters the log; the search box finds text inside words ("ssigned" in "reassigned").
#[tokio::test]
async fn many_actors_are_found_by_typing_and_search_finds_text_inside_words() {
    let s = TestServer::start().await;
    let mut events: Vec<Value> = (0..120)
        .map(|i| {
            json!({
                "action": "document.viewed",
                "description": format!("Document {i} viewed"),
                "actor": { "type": "user", "id": format!("m{i:03}"), "name": format!("Member {i}"), "email": format!("member{i}@example.com") },
            })
        })
        .collect();
    for i in 0..3 {
        events.push(json!({
            "action": "ticket.reassigned",
            "description": format!("Ticket {i} reassigned to the guardrail team"),
            "actor": { "type": "user", "id": "zoe", "name": "Zoë Martin", "email": "zoe@example.org" },
        }));
    }
    ingest(&s, events).await;
    user(&s, "ada@example.com", Role::Owner).await;
    let b = Browser::launch().await;
    sign_in(&b, &s.url, "ada@example.com").await;

    let input = b.wait_for("input#f-actor[list=f-actor-options]").await;
    input.send_keys("ZOË").await.unwrap();
    b.wait_until("the server suggested Zoë", async |c| {
        c.execute(
            "var l = document.getElementById('f-actor-options');
             return l.getAttribute('data-for') === 'ZOË'
                 && Array.prototype.map.call(l.options, function (o) { return o.value; }).join() === 'zoe';",
            vec![],
        )
        .await
        .is_ok_and(|v| v == json!(true))
    })
    .await;
    let label = b
        .client()
        .execute(
            "return document.querySelector('#f-actor-options option').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(label, json!("Zoë Martin <zoe@example.org>"));
    b.screenshot("audit-actor-search").await;
    // Picking the suggestion (the browser's own list is not scriptable): the value it sets.
    input.clear().await.unwrap();
    input.send_keys("zoe\u{E007}").await.unwrap();
    wait_for_url(&b, "filtered by the picked actor", |u| {
        u.contains("actor=zoe")
    })
    .await;
    assert_eq!(count_of(&count_text(&b).await), 3);

    b.goto(&format!("{}/audit", s.url)).await;
    b.wait_for("#f-q")
        .await
        .send_keys("ssigned\u{E007}")
        .await
        .unwrap();
    wait_for_url(&b, "searched", |u| u.contains("q=ssigned")).await;
    assert_eq!(count_of(&count_text(&b).await), 3);
    let desc = b.wait_for("tr.entry .desc").await.text().await.unwrap();
    assert!(desc.contains("reassigned"), "{desc}");
    b.goto(&format!("{}/audit?q=ardrai", s.url)).await;
    assert_eq!(
        count_of(&count_text(&b).await),
        3,
        "\"ardrai\" inside \"guardrail\""
    );
    assert!(b.console_errors().await.is_empty());
    b.close().await;
    s.stop().await;
}
