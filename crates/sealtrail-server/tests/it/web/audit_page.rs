//! The web page: the audit page's features.

use crate::common::web::*;
use crate::common::{event, TestServer};
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use sealtrail_export::Format;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};

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
        ("channel=hardware&channel=people", "channel"),
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
    // A refused value is shown back as typed: in a text field, which (unlike a date picker)
    // can hold it; a date stays a date picker.
    let bad = b.get("/audit?from=notadate").await;
    assert_eq!(
        attr_after(
            &bad.body,
            "id=\"f-from\" name=\"from\" type=\"text\" value=\""
        )
        .unwrap(),
        "notadate"
    );
    let good = b.get("/audit?from=2026-11-01").await;
    assert!(good
        .body
        .contains("id=\"f-from\" name=\"from\" type=\"date\" value=\"2026-11-01\""));
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

/// Seeds 003 and 004 on the page: every system actor is its own choice in the Actor dropdown,
/// non-person actors carry a badge naming their type, each row shows its category, and a
/// compound verb still gets the right event badge.
#[tokio::test]
async fn actors_categories_and_compound_verbs_read_as_the_seeds_expect() {
    let s = TestServer::start().await;
    let system = |name: &str| {
        json!({ "action": "member.invited", "channel": "people",
                "actor": { "type": "system", "name": name } })
    };
    ingest(
        &s,
        vec![
            system("CSV Import"),
            system("Bulk Invite"),
            system("CSV Import"),
            json!({ "action": "control.effectiveness_updated", "channel": "controls",
                    "category": "Policy Changes",
                    "targets": [{ "type": "control", "id": "c-7", "name": "Access reviews" }],
                    "context": { "ip": "203.0.113.7" },
                    "actor": { "type": "api", "id": "app_grc", "name": "GRC app" } }),
            json!({ "action": "agent.promoted", "channel": "controls",
                    "category": "Agent Operations",
                    "actor": { "type": "integration", "id": "okta", "name": "Okta" } }),
        ],
    )
    .await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    let all = b.get("/audit").await;
    let actors = all.options("f-actor");
    for id in ["system:CSV Import", "system:Bulk Invite"] {
        assert_eq!(actors.iter().filter(|a| *a == id).count(), 1, "{actors:?}");
    }
    let one = b.get("/audit?actor=system%3ACSV%20Import").await;
    assert_eq!(one.text_of("count").unwrap(), "2 entries");

    let controls = b.get("/audit?channel=controls").await;
    assert_eq!(controls.text_of("count").unwrap(), "2 entries");
    for text in [
        "<span class=\"badge system\">API</span>",
        "<span class=\"badge system\">Integration</span>",
        "<bdi>Policy Changes</bdi>",
        "<bdi>Agent Operations</bdi>",
    ] {
        assert!(controls.body.contains(text), "{text} missing");
    }
    assert!(
        !controls.body.contains("<bdi>other</bdi>"),
        "compound verbs get a kind"
    );
    assert_eq!(controls.body.matches("<bdi>updated</bdi>").count(), 2);

    let automation = b.get("/audit?system=true&channel=controls").await;
    assert_eq!(automation.text_of("count").unwrap(), "2 entries");

    // Seed 004 exports two categories together: any of the chosen ones, shown as chosen,
    // and the export links carry both.
    let both = b
        .get("/audit?category=Policy%20Changes&category=Agent%20Operations")
        .await;
    assert_eq!(both.text_of("count").unwrap(), "2 entries");
    for value in ["Policy Changes", "Agent Operations"] {
        assert!(
            both.body
                .contains(&format!("<option value=\"{value}\" selected>")),
            "{value} chosen"
        );
    }
    let export = both
        .body
        .find("/audit/export?")
        .map(|i| &both.body[i..i + 90]);
    assert!(
        export.is_some_and(|e| e.contains("Policy") && e.contains("Agent")),
        "{export:?}"
    );
    let one = b.get("/audit?category=Agent%20Operations").await;
    assert_eq!(one.text_of("count").unwrap(), "1 entry");
    // Seed 003 narrows by object type, object name and address from the page's own controls.
    assert!(all
        .options("f-target-type")
        .contains(&"control".to_string()));
    for (query, expected) in [
        ("target_type=control", "1 entry"),
        ("target_name=Access%20reviews", "1 entry"),
        ("ip=203.0.113.7", "1 entry"),
        ("ip=198.51.100.1", "No entries"),
    ] {
        let page = b.get(&format!("/audit?{query}")).await;
        assert_eq!(page.text_of("count").unwrap(), expected, "{query}");
        assert_eq!(page.link("clear").as_deref(), Some("/audit"), "{query}");
    }
    let typed = b
        .get("/audit?target_name=Access%20reviews&ip=203.0.113.7")
        .await;
    assert!(typed
        .body
        .contains(r#"id="f-target-name" name="target_name" type="search" value="Access reviews""#));
    assert!(typed
        .body
        .contains(r#"id="f-ip" name="ip" type="search" value="203.0.113.7""#));
}

/// Seeds 000 and 002 filter by action (`waiver.*`) and by their own fields (`repository`):
/// the page has a field for the action, and keeps a filter it has no control for (a property)
/// as a hidden field, so changing a dropdown does not silently widen the view.
#[tokio::test]
async fn an_action_pattern_and_filters_without_a_control_stay_applied() {
    let s = TestServer::start().await;
    seed(&s).await;
    let mut waivers = Vec::new();
    for repository in ["core", "web"] {
        let mut e = event("waiver.granted", "dana");
        e["properties"] = json!({ "repository": repository });
        waivers.push(e);
    }
    ingest(&s, waivers).await;
    let mut b = Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;

    let employees = b.get("/audit?action=employee.*").await;
    assert_eq!(count_of(&employees), 30);
    assert!(
        employees
            .body
            .contains(r#"name="action" type="search" value="employee.*""#),
        "the action field shows the pattern"
    );
    assert_eq!(employees.link("clear").as_deref(), Some("/audit"));

    let query = "action=waiver.*&properties.repository=core";
    assert_eq!(api_total(&s, query).await, 1);
    let kept = b.get(&format!("/audit?{query}")).await;
    assert_eq!(count_of(&kept), 1);
    assert!(
        kept.body
            .contains(r#"<input type="hidden" name="properties.repository" value="core">"#),
        "the property filter is submitted again with the form"
    );
    assert_eq!(kept.link("clear").as_deref(), Some("/audit"));
}
