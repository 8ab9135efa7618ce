//! Reading over real HTTP: list, filters, cursors, detail, facets, tenant isolation, key
//! management, health and metrics.

use crate::common::{event, expect_error, TestServer};
use reqwest::StatusCode;
use sealtrail_core::keys::Scope;
use serde_json::{json, Value};

async fn seed(s: &TestServer) {
    let mut events = Vec::new();
    for i in 0..30 {
        let mut e = event(
            if i % 3 == 0 {
                "user.created"
            } else {
                "hardware.updated"
            },
            &format!("u{}", i % 4),
        );
        e["channel"] = json!(if i % 2 == 0 { "auth" } else { "hardware" });
        e["result"] = json!(if i % 5 == 0 { "failure" } else { "success" });
        e["context"] = json!({ "ip": format!("10.0.0.{}", i % 3) });
        e["properties"] = json!({ "repo": if i % 2 == 0 { "api" } else { "web" }, "n": i });
        if i == 7 {
            e["description"] = json!("Laptop assigned to Zoë");
        }
        events.push(e);
    }
    events.push(json!({ "action": "backup.completed", "actor": { "type": "system" }, "channel": "compliance", "description": "Nightly backup" }));
    let r = s
        .post_events(&s.admin_key, &json!({ "events": events }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

fn total(v: &Value) -> u64 {
    v["total"].as_u64().unwrap()
}

#[tokio::test]
async fn list_is_newest_first_with_total_and_filters() {
    let s = TestServer::start().await;
    seed(&s).await;
    let all = s.get_json(&s.admin_key, "/v1/events?limit=1000").await;
    let entries = all["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, total(&all));
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );

    let cases: &[(&str, u64)] = &[
        ("action=user.created", 11), // + the first owner, created at start
        ("action=user.*", 11),
        ("action=hardware.*", 20),
        ("channel=auth", 15),
        ("subject=auth", 15),
        ("event=created", 13),
        ("result=failure", 6),
        ("actor=u1", 8),
        ("actor=u1%40example.com", 8),
        ("ip=10.0.0.2", 10),
        ("system=true", 4),
        ("properties.repo=web", 15),
        ("properties.n=7", 1),
        ("q=assigned", 1),
        ("q=ZO%C3%8B", 1),
        ("target_type=hardware&target_id=142", 30),
        ("channel=auth&result=failure", 3),
        ("range=24h", 34),
        ("from=2000-01-01&to=2000-12-31", 0),
    ];
    for (query, expected) in cases {
        let v = s
            .get_json(&s.admin_key, &format!("/v1/events?{query}&limit=1000"))
            .await;
        assert_eq!(total(&v), *expected, "{query}");
        assert_eq!(
            v["entries"].as_array().unwrap().len() as u64,
            *expected,
            "{query}"
        );
    }
}

/// Seed 000's auditor asks for "the events of 10 March 2025" after last year's history was
/// imported today: periods read the event's own time; `time=recorded` reads receipt time.
#[tokio::test]
async fn periods_read_event_time_unless_asked_for_receipt_time() {
    let s = TestServer::start().await;
    let three_days_ago =
        sealtrail_core::Timestamp(sealtrail_core::Timestamp::now().millis() - 3 * 24 * 3_600_000);
    let mut imported = event("invoice.paid", "importer");
    imported["occurred_at"] = json!("2025-03-10T12:00:00Z");
    let mut late = event("invoice.sent", "outage");
    late["occurred_at"] = json!(three_days_ago.to_rfc3339());
    let timely = event("invoice.viewed", "now");
    let r = s
        .post_events(&s.admin_key, &json!({ "events": [imported, late, timely] }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let actions = |v: &Value| -> Vec<String> {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    };
    for (query, expected) in [
        ("from=2025-03-10&to=2025-03-10", vec!["invoice.paid"]),
        (
            "from=2025-03-10&to=2025-03-10&time=occurred",
            vec!["invoice.paid"],
        ),
        ("from=2025-03-10&to=2025-03-10&time=recorded", vec![]),
        ("range=24h&action=invoice.*", vec!["invoice.viewed"]),
        (
            "range=24h&action=invoice.*&time=recorded",
            vec!["invoice.viewed", "invoice.sent", "invoice.paid"],
        ),
        (
            "range=7d&action=invoice.*",
            vec!["invoice.viewed", "invoice.sent"],
        ),
    ] {
        let v = s
            .get_json(&s.admin_key, &format!("/v1/events?{query}"))
            .await;
        assert_eq!(actions(&v), expected, "{query}");
        assert_eq!(total(&v), expected.len() as u64, "{query}");
    }
    // An export of that day holds the imported event, with both of its times.
    let r = s
        .get(
            &s.admin_key,
            "/v1/export?format=csv&from=2025-03-10&to=2025-03-10",
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(&body[3..]);
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][column("action")], "invoice.paid");
    assert_eq!(
        &rows[0][column("occurred_at (UTC)")],
        "2025-03-10T12:00:00.000Z"
    );
    let received =
        sealtrail_core::Timestamp::parse_rfc3339(&rows[0][column("recorded_at (UTC)")]).unwrap();
    assert!(
        received.millis() > three_days_ago.millis(),
        "received today"
    );
}

#[tokio::test]
async fn cursor_pages_cover_everything_once_in_both_directions() {
    let s = TestServer::start().await;
    seed(&s).await;
    let mut seen = Vec::new();
    let mut cursors = Vec::new();
    let mut path = "/v1/events?limit=7&channel=auth".to_string();
    loop {
        let page = s.get_json(&s.admin_key, &path).await;
        seen.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap()),
        );
        cursors.push(page["prev_cursor"].clone());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/events?limit=7&channel=auth&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 15);
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(dedup, seen);
    assert!(cursors[0].is_null(), "first page has no previous page");
    let prev = cursors[1].as_str().unwrap();
    let back = s
        .get_json(
            &s.admin_key,
            &format!("/v1/events?limit=7&channel=auth&cursor={prev}"),
        )
        .await;
    let back: Vec<u64> = back["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(back, seen[..7].to_vec());
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_the_parameter() {
    let s = TestServer::start().await;
    for (query, param) in [
        ("acter=x", "acter"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("result=ok", "result"),
        ("from=last-week", "from"),
        ("range=2w", "range"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("ip=300.1.1.1", "ip"),
        ("count=maybe", "count"),
        ("time=received", "time"),
    ] {
        let e = expect_error(
            s.get(&s.admin_key, &format!("/v1/events?{query}")).await,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        )
        .await;
        assert_eq!(e["field"], param, "{query}");
    }
    // Not a UUID: it names no entry, so 404 like an id that is not in the log.
    expect_error(
        s.get(&s.admin_key, "/v1/events/not-a-uuid").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        s.get(
            &s.admin_key,
            "/v1/events/0190d9a4-0000-7000-8000-000000000000",
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        s.get(&s.admin_key, "/v1/nope").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn tenants_are_isolated_on_every_read_endpoint() {
    let s = TestServer::start().await;
    seed(&s).await;
    let (_, other) = s.tenant_with_key("other", &[Scope::Admin]).await;
    let theirs: Value = s
        .post_events(&other, &event("secret.viewed", "mallory"))
        .await
        .json()
        .await
        .unwrap();
    let mine = s.get_json(&s.admin_key, "/v1/events?limit=1").await["entries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    expect_error(
        s.get(&other, &format!("/v1/events/{mine}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let their_id = theirs["id"].as_str().unwrap();
    expect_error(
        s.get(&s.admin_key, &format!("/v1/events/{their_id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        theirs["seq"], 2,
        "each tenant's log has its own seq (0: tenant created, 1: key created)"
    );

    let listed = s.get_json(&other, "/v1/events?limit=1000").await;
    assert!(listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"]["id"] != "u1"));
    assert_eq!(
        s.get_json(&other, "/v1/events?q=assigned").await["total"],
        0
    );
    assert_eq!(
        s.get_json(&s.admin_key, "/v1/events?q=mallory").await["total"],
        0
    );
    let facets = s.get_json(&other, "/v1/facets").await;
    assert!(!facets.to_string().contains("hardware.updated"));
    // Their timeline counts their 3 entries, never the 30 of the seed.
    let timeline = s.get_json(&other, "/v1/timeline").await;
    assert_eq!(timeline_total(&timeline), 3);
    let my_keys = s.get_json(&s.admin_key, "/v1/keys").await;
    let their_keys = s.get_json(&other, "/v1/keys").await;
    for k in their_keys.as_array().unwrap() {
        assert!(!my_keys.as_array().unwrap().contains(k));
        let id = k["id"].as_str().unwrap();
        let r = s
            .client
            .delete(format!("{}/v1/keys/{id}", s.url))
            .bearer_auth(&s.admin_key)
            .send()
            .await
            .unwrap();
        expect_error(r, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_eq!(s.get_json(&other, "/v1/tenant").await["name"], "other");
}

/// Every bar's count, summed.
fn timeline_total(v: &Value) -> u64 {
    v["bars"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["counts"].as_array().unwrap().clone())
        .map(|n| n.as_u64().unwrap())
        .sum()
}

/// Seed 004's admin sees the last day per hour, a quarter per day, and where failures and
/// denials cluster; the bars hold exactly the entries the same filters list.
#[tokio::test]
async fn the_timeline_counts_what_the_filters_select_per_hour_or_day() {
    let s = TestServer::start().await;
    let now = sealtrail_core::Timestamp::now().millis();
    let mut events = Vec::new();
    for i in 0..40i64 {
        let mut e = event("agent.promoted", &format!("u{}", i % 3));
        e["occurred_at"] = json!(sealtrail_core::Timestamp(now - i * 7 * 3_600_000).to_rfc3339());
        e["result"] = json!(["success", "failure", "denied", "success"][i as usize % 4]);
        events.push(e);
    }
    let r = s
        .post_events(&s.admin_key, &json!({ "events": events }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for (query, width) in [
        ("action=agent.promoted", "day"),
        ("action=agent.promoted&range=24h", "hour"),
        ("action=agent.promoted&range=7d&result=failure", "day"),
        ("action=agent.promoted&actor=u1&range=90d", "day"),
        ("range=30d", "day"),
        ("from=2025-01-01&to=2026-12-31&time=recorded", "week"),
    ] {
        let timeline = s
            .get_json(&s.admin_key, &format!("/v1/timeline?{query}"))
            .await;
        assert_eq!(timeline["width"], width, "{query}");
        let listed = s
            .get_json(&s.admin_key, &format!("/v1/events?{query}"))
            .await;
        assert_eq!(timeline_total(&timeline), total(&listed), "{query}");
        let bars = timeline["bars"].as_array().unwrap();
        assert!(
            bars.windows(2).all(|w| w[0]["end"] == w[1]["start"]),
            "contiguous bars: {query}"
        );
    }
    // Counts are in `Outcome::ALL` order: success, failure, denied, …
    let day = s
        .get_json(&s.admin_key, "/v1/timeline?action=agent.promoted&range=24h")
        .await;
    let by_result = |i: usize| -> u64 {
        day["bars"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["counts"][i].as_u64().unwrap())
            .sum()
    };
    assert_eq!((by_result(0), by_result(1), by_result(2)), (2, 1, 1));
    let e = expect_error(
        s.get(&s.admin_key, "/v1/timeline?range=2w").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    assert_eq!(e["field"], "range");
    let (_, ingest_only) = s.tenant_with_key("writer", &[Scope::Ingest]).await;
    expect_error(
        s.get(&ingest_only, "/v1/timeline").await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
}

#[tokio::test]
async fn facets_list_values_present_with_counts() {
    let s = TestServer::start().await;
    seed(&s).await;
    let f = s.get_json(&s.admin_key, "/v1/facets").await;
    let count_of = |kind: &str, value: &str| {
        f[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["value"] == value)
            .map(|v| v["count"].as_u64().unwrap())
    };
    assert_eq!(count_of("channels", "auth"), Some(15));
    assert_eq!(count_of("actions", "hardware.updated"), Some(20));
    assert_eq!(
        count_of("events", "created"),
        Some(10 + 3),
        "bootstrap's tenant, key and owner creation count too"
    );
    assert_eq!(count_of("results", "failure"), Some(6));
    assert!(f["actors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["email"] == "u1@example.com" && a["count"] == 8));
    assert!(f["actors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["type"] == "system"));
}

#[tokio::test]
async fn api_keys_are_created_once_listed_without_secrets_revoked_and_audited() {
    let s = TestServer::start().await;
    let r = s
        .client
        .post(format!("{}/v1/keys", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({ "name": "ci ingest", "scopes": ["ingest"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["key"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.post_events(&secret, &event("a.created", "u"))
            .await
            .status(),
        StatusCode::CREATED
    );

    let listed = s.get_json(&s.admin_key, "/v1/keys").await;
    assert!(!listed.to_string().contains(&secret));
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["id"] == id.as_str() && k["scopes"] == json!(["ingest"])));

    let r = s
        .client
        .delete(format!("{}/v1/keys/{id}", s.url))
        .bearer_auth(&s.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    expect_error(
        s.post_events(&secret, &event("a.created", "u")).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    let audit = s
        .get_json(&s.admin_key, "/v1/events?channel=security&limit=100")
        .await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"api_key.created") && actions.contains(&"api_key.revoked"),
        "{actions:?}"
    );
    assert!(
        !audit.to_string().contains(&secret),
        "secrets never reach the log"
    );

    let bad = s
        .client
        .post(format!("{}/v1/keys", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({ "name": "x", "scopes": ["root"] }))
        .send()
        .await
        .unwrap();
    expect_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn health_and_metrics() {
    let s = TestServer::start().await;
    s.post_events(&s.admin_key, &event("a.created", "u")).await;
    let h = s
        .client
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), StatusCode::OK);
    let text = s.metrics_text().await;
    assert!(text.contains("sealtrail_http_requests_total"), "{text}");
    assert!(text.contains("sealtrail_events_ingested_total"), "{text}");
    s.stop().await;
}

/// A tenant with more actors than `/v1/facets` lists: the list holds the most frequent ones
/// and `actors_total` says how many there are; `/v1/facets/actors?q=` finds the rest by any
/// part of their id, name or e-mail, in any case, only in the caller's tenant; bad parameters
/// are refused by name; a key without `read` is refused.
#[tokio::test]
async fn actors_beyond_the_facet_list_are_found_by_search() {
    let s = TestServer::start().await;
    let events: Vec<Value> = (0..130)
        .map(|i| event("doc.viewed", &format!("member{i:03}")))
        .chain((0..3).map(|_| {
            json!({ "action": "doc.viewed", "actor": { "id": "zoe", "name": "Zoë Martin", "email": "zoe@example.org" } })
        }))
        .collect();
    for chunk in events.chunks(200) {
        let r = s
            .post_events(&s.admin_key, &json!({ "events": chunk }))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let f = s.get_json(&s.admin_key, "/v1/facets").await;
    assert_eq!(f["actors"].as_array().unwrap().len(), 100);
    assert!(
        f["actors_total"].as_u64().unwrap() >= 131,
        "{}",
        f["actors_total"]
    );
    let counts: Vec<u64> = f["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["count"].as_u64().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "most frequent first"
    );
    assert!(f["actors"].as_array().unwrap()[..3]
        .iter()
        .any(|a| a["id"] == "zoe"));

    let found = s
        .get_json(&s.admin_key, "/v1/facets/actors?q=ZO%C3%8B")
        .await;
    assert_eq!(found["actors"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["actors"][0]["email"], "zoe@example.org");
    assert_eq!(found["actors"][0]["count"], 3);
    let members = s
        .get_json(&s.admin_key, "/v1/facets/actors?q=ember12&limit=5")
        .await;
    let ids: Vec<&str> = members["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "member120",
            "member121",
            "member122",
            "member123",
            "member124"
        ]
    );

    let (_, other) = s.tenant_with_key("elsewhere", &[Scope::Read]).await;
    let theirs = s.get_json(&other, "/v1/facets/actors?q=zo").await;
    assert_eq!(
        theirs["actors"],
        json!([]),
        "another tenant's actors stay hidden"
    );
    for bad in ["limit=0", "limit=501", "limit=many", "actor=zoe"] {
        let r = s
            .get(&s.admin_key, &format!("/v1/facets/actors?{bad}"))
            .await;
        expect_error(r, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    }
    let ingest_only = s.key(&[Scope::Ingest]).await;
    let r = s.get(&ingest_only, "/v1/facets/actors?q=zo").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// Seed 003: the System filter isolates every actor that is not a person (automation, API
/// callers, integrations), and system actors sent without an id never merge: each has its own
/// id in the facets, so picking one in the Actor dropdown shows only its entries.
#[tokio::test]
async fn system_filter_takes_every_non_person_and_never_merges_system_actors() {
    let s = TestServer::start().await;
    let actor = |kind: &str, name: &str| {
        let mut a = json!({ "type": kind, "name": name });
        if kind != "system" {
            a["id"] = json!(name.to_lowercase().replace(' ', "-"));
        }
        json!({ "action": "member.invited", "channel": "people", "actor": a })
    };
    let events = vec![
        actor("user", "Ada Admin"),
        actor("system", "CSV Import"),
        actor("system", "Bulk Invite"),
        actor("system", "SCIM sync"),
        actor("api", "Billing app"),
        actor("integration", "Okta"),
        actor("system", "CSV Import"),
    ];
    let r = s
        .post_events(&s.admin_key, &json!({ "events": events }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let listed = s
        .get_json(&s.admin_key, "/v1/events?channel=people&system=true")
        .await;
    assert_eq!(total(&listed), 6, "{listed}");
    let kinds: Vec<&str> = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"]["type"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"user"), "{kinds:?}");

    let facets = s.get_json(&s.admin_key, "/v1/facets").await;
    let ids: Vec<&str> = facets["actors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    for id in [
        "system:CSV Import",
        "system:Bulk Invite",
        "system:SCIM sync",
    ] {
        assert_eq!(
            ids.iter().filter(|i| **i == id).count(),
            1,
            "{id} in {ids:?}"
        );
    }
    let one = s
        .get_json(&s.admin_key, "/v1/events?actor=system%3ACSV%20Import")
        .await;
    assert_eq!(total(&one), 2, "{one}");
    assert!(one["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"]["name"] == "CSV Import"));
}

/// The search box finds text inside words, as the seeds' admins type it: "ssigned" for a
/// reassigned ticket, "rail" for a guardrail, part of an e-mail or a name; every word typed must
/// occur; another tenant's identical text is never counted.
#[tokio::test]
async fn search_finds_text_inside_words_of_descriptions_actors_and_actions() {
    let s = TestServer::start().await;
    let mut reassigned = event("ticket.reassigned", "agent-7");
    reassigned["description"] = json!("Ticket #4412 reassigned from Sam to Priya");
    reassigned["actor"]["email"] = json!("priya.raman@helpdesk.example");
    reassigned["actor"]["name"] = json!("Priya Raman");
    let mut guardrail = event("agent.guardrail_triggered", "policy-bot");
    guardrail["description"] = json!("Guardrail blocked an outbound prompt");
    let r = s
        .post_events(
            &s.admin_key,
            &json!({ "events": [reassigned, guardrail, event("user.created", "u1")] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (_, other) = s.tenant_with_key("other", &[Scope::Admin]).await;
    let mut theirs = event("ticket.reassigned", "agent-9");
    theirs["description"] = json!("Ticket reassigned");
    assert!(s.post_events(&other, &theirs).await.status().is_success());

    for (q, expected) in [
        ("ssigned", 1),
        ("ardrai", 1),
        ("GUARDR", 1),
        ("utbound", 1),
        ("aman", 1),
        ("helpdesk.exam", 1),
        ("ssigned priya", 1),
        ("ssigned ardrai", 0),
        ("ss", 0),
    ] {
        let found = s.get_json(&s.admin_key, &format!("/v1/events?q={q}")).await;
        assert_eq!(total(&found), expected, "q={q}");
    }
    // Short, common text inside words: the entry is among the matches.
    for (q, action) in [
        ("rail", "agent.guardrail_triggered"),
        ("reated", "user.created"),
    ] {
        let found = s.get_json(&s.admin_key, &format!("/v1/events?q={q}")).await;
        assert!(
            found["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == action),
            "q={q}: {found}"
        );
    }
    assert_eq!(total(&s.get_json(&other, "/v1/events?q=ssigned").await), 1);
}
