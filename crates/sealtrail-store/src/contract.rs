//! The one contract suite every backend runs, so SQLite and (later) PostgreSQL are proven to
//! behave the same. A backend's integration test invokes [`store_contract_tests!`] with an
//! async setup function returning a [`StoreUnderTest`]; the macro expands to one
//! `#[tokio::test]` per case below, so a failure names the case.
//!
//! ```ignore
//! async fn setup() -> StoreUnderTest { /* open a fresh, empty store */ }
//! sealtrail_store::store_contract_tests!(setup);
//! ```

pub mod fixtures;

use crate::{Store, StoreError};
use fixtures::*;
use sealtrail_core::entry::{Changes, Context, Entry, Outcome, RequestInfo, Target};
use sealtrail_core::filter::{ActionMatch, Cursor, Direction, Filter};
use sealtrail_core::keys::Scope;
use sealtrail_core::{TenantId, Timestamp};
use serde_json::json;
use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// A fresh, empty store plus whatever keeps it alive (temporary directory, server handle).
pub struct StoreUnderTest {
    /// The store the cases exercise.
    pub store: Arc<dyn Store>,
    /// Dropped after the case, never used: temp dirs, containers, child processes.
    pub guard: Box<dyn Any + Send + Sync>,
}

/// Expands to one `#[tokio::test]` per contract case, each on a fresh store from `$setup`
/// (an `async fn() -> StoreUnderTest`).
#[macro_export]
macro_rules! store_contract_tests {
    ($setup:path) => {
        $crate::store_contract_tests!(@cases $setup;
            append_assigns_gapless_seq_in_request_order,
            append_to_an_unknown_tenant_is_not_found,
            get_round_trips_every_field,
            idempotent_retries_return_the_original,
            every_filter_field_matches_the_dataset,
            action_prefix_matches_whole_segments,
            property_filters_compare_scalars_as_text,
            property_filters_accept_hostile_keys,
            text_search_matches_word_prefixes,
            hostile_search_syntax_never_errors,
            cursor_pages_cover_every_match_once_while_appending,
            previous_page_cursor_returns_the_page_before,
            count_equals_what_the_pages_yield,
            facets_count_values_present,
            tenants_are_isolated,
            tenants_create_conflict_and_lookup,
            api_keys_insert_list_and_revoke,
            concurrent_appends_are_acknowledged_once_and_gapless,
            health_is_ok,
        );
    };
    (@cases $setup:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let under_test: $crate::contract::StoreUnderTest = $setup().await;
                $crate::contract::$case(under_test.store.clone()).await;
                drop(under_test);
            }
        )*
    };
}

/// Seq starts at 0 per tenant, follows request order without gaps, and `recorded_at` never
/// decreases along it.
pub async fn append_assigns_gapless_seq_in_request_order(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    assert!(
        append(&store, t, Vec::new()).await.is_empty(),
        "an empty append stores nothing"
    );
    let first = append(
        &store,
        t,
        (0..5)
            .map(|i| event("user.created", &format!("u{i}")))
            .collect(),
    )
    .await;
    let second = append(
        &store,
        t,
        (0..3)
            .map(|i| event("user.deleted", &format!("u{i}")))
            .collect(),
    )
    .await;
    let all: Vec<_> = first.iter().chain(&second).collect();
    assert_eq!(
        all.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
    assert!(all.iter().all(|a| !a.duplicate));
    assert!(all.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at));
    let ids: HashSet<_> = all.iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 8, "ids are unique");
    assert!(
        all.iter().all(|a| a.id.get_version_num() == 7),
        "ids are UUIDv7"
    );
    assert_eq!(store.log_size(t).await.ok(), Some(8));
    for (i, a) in first.iter().enumerate() {
        let e = store.get(t, a.id).await.ok().flatten();
        let e = e.unwrap_or_else(|| panic!("entry {i} readable"));
        assert_eq!(
            (e.seq, e.recorded_at, e.actor.id.as_deref()),
            (a.seq, a.recorded_at, Some(format!("u{i}").as_str()))
        );
    }
}

/// Appending to a tenant that does not exist stores nothing and says so.
pub async fn append_to_an_unknown_tenant_is_not_found(store: Arc<dyn Store>) {
    let r = store
        .append(TenantId(987_654), vec![event("a.created", "u")])
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    assert_eq!(store.log_size(TenantId(987_654)).await.ok(), Some(0));
}

/// Every field survives storage, via `get` and via `query`.
pub async fn get_round_trips_every_field(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let mut new = event("member.role_changed", "alice");
    new.occurred_at = Some(Timestamp(1_795_000_123_456));
    new.channel = "security".into();
    new.category = Some("Policy Changes".into());
    new.description = "Alice made Bob an admin".into();
    new.result = Outcome::Approved;
    new.actor.via = Some("API (Console)".into());
    new.targets.push(Target {
        kind: "member".into(),
        id: Some("bob".into()),
        name: None,
    });
    new.context = Context {
        ip: Some("2001:db8::1".into()),
        user_agent: Some("curl/8".into()),
        location: Some("Berlin".into()),
        request: Some(RequestInfo {
            method: Some("PATCH".into()),
            path: Some("/members/bob".into()),
            body: Some(json!({ "role": "admin" })),
            response: Some(json!({ "ok": true })),
        }),
    };
    new.changes = Some(Changes {
        before: Some(json!({ "role": "member" })),
        after: Some(json!({ "role": "admin" })),
    });
    new.properties =
        props(json!({ "z": 1, "a": [1, "two", null], "m": { "deep": true }, "s": "x" }));
    new.redacted = vec!["properties.password".into()];
    new.idempotency_key = Some("req-1".into());
    let plain = event("a.created", "bob");

    let acks = append(&store, t, vec![new.clone(), plain.clone()]).await;
    let expected = Entry::from_new(new, acks[0].id, acks[0].seq, acks[0].recorded_at);
    let got = store.get(t, acks[0].id).await.ok().flatten();
    assert_eq!(got.as_ref(), Some(&expected));
    let got_plain = store.get(t, acks[1].id).await.ok().flatten();
    assert_eq!(
        got_plain,
        Some(Entry::from_new(
            plain,
            acks[1].id,
            acks[1].seq,
            acks[1].recorded_at
        ))
    );
    assert_eq!(
        got_plain.map(|e| e.occurred_at),
        Some(acks[1].recorded_at),
        "occurred_at defaults to recorded_at"
    );
    let listed = page(&store, t, &Filter::default(), 10, None).await;
    assert_eq!(listed.entries.last(), Some(&expected));
    assert_eq!(
        store.get(t, uuid::Uuid::now_v7()).await.ok(),
        Some(None),
        "unknown id"
    );
}

/// Keys already in the log, or earlier in the same batch, come back as the original.
pub async fn idempotent_retries_return_the_original(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let first = append(
        &store,
        t,
        vec![
            keyed("a.created", "u", "k1"),
            keyed("a.created", "u", "k2"),
            keyed("a.created", "u", "k1"),
            event("a.created", "u"),
        ],
    )
    .await;
    assert_eq!(
        first
            .iter()
            .map(|a| (a.seq, a.duplicate))
            .collect::<Vec<_>>(),
        [(0, false), (1, false), (0, true), (2, false)]
    );
    assert_eq!(
        (first[2].id, first[2].recorded_at),
        (first[0].id, first[0].recorded_at)
    );
    let retry = append(
        &store,
        t,
        vec![
            keyed("a.created", "u", "k2"),
            keyed("a.created", "u", "k3"),
            keyed("b.created", "u", "k1"),
        ],
    )
    .await;
    assert_eq!(
        retry
            .iter()
            .map(|a| (a.seq, a.duplicate))
            .collect::<Vec<_>>(),
        [(1, true), (3, false), (0, true)]
    );
    assert_eq!(retry[0].id, first[1].id);
    assert_eq!(store.log_size(t).await.ok(), Some(4));
    let facets = store.facets(t).await.ok().unwrap_or_default();
    assert_eq!(
        facets
            .actions
            .iter()
            .map(|v| (v.value.as_str(), v.count))
            .collect::<Vec<_>>(),
        [("a.created", 4)],
        "duplicates do not count"
    );
    assert!(facets.actions.iter().all(|v| v.value != "b.created"));
}

/// Appends the 24-entry dataset in three timed chunks; returns the tenant and the first
/// `recorded_at` of the second and third chunks.
async fn seed_dataset(store: &Arc<dyn Store>, name: &str) -> (TenantId, Timestamp, Timestamp) {
    let t = tenant(store, name).await;
    let mut starts = Vec::new();
    for chunk in 0..3 {
        if chunk > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let acks = append(
            store,
            t,
            (chunk * 8..chunk * 8 + 8).map(dataset_entry).collect(),
        )
        .await;
        starts.push(acks[0].recorded_at);
    }
    (t, starts[1], starts[2])
}

/// Asserts `count` and the paged query agree with `expected` for every filter.
async fn expect_counts(store: &Arc<dyn Store>, t: TenantId, cases: Vec<(&str, Filter, u64)>) {
    for (name, filter, expected) in cases {
        assert_eq!(count(store, t, &filter).await, expected, "count: {name}");
        let entries = all_pages(store, t, &filter, 1000).await;
        assert_eq!(entries.len() as u64, expected, "query: {name}");
        assert!(
            entries.windows(2).all(|w| w[0].seq > w[1].seq),
            "newest first: {name}"
        );
    }
}

/// Each filter field alone and combined, against counts that follow from `dataset_entry`.
pub async fn every_filter_field_matches_the_dataset(store: Arc<dyn Store>) {
    let (t, second, third) = seed_dataset(&store, "acme").await;
    let f = Filter::default;
    let s = |v: &str| Some(v.to_string());
    let cases = vec![
        ("empty", f(), 24),
        (
            "actor id",
            Filter {
                actor: s("u1"),
                ..f()
            },
            6,
        ),
        (
            "actor email",
            Filter {
                actor: s("u1@example.com"),
                ..f()
            },
            6,
        ),
        (
            "actor name is not an actor filter",
            Filter {
                actor: s("User 1"),
                ..f()
            },
            0,
        ),
        (
            "action exact",
            Filter {
                action: Some(ActionMatch::Exact("user.created".into())),
                ..f()
            },
            8,
        ),
        (
            "event",
            Filter {
                event: s("deleted"),
                ..f()
            },
            8,
        ),
        (
            "channel",
            Filter {
                channel: s("auth"),
                ..f()
            },
            12,
        ),
        (
            "category",
            Filter {
                category: s("Security Events"),
                ..f()
            },
            6,
        ),
        (
            "result",
            Filter {
                result: Some(Outcome::Failure),
                ..f()
            },
            4,
        ),
        (
            "ip",
            Filter {
                ip: s("10.0.0.2"),
                ..f()
            },
            8,
        ),
        (
            "system",
            Filter {
                system_only: true,
                ..f()
            },
            1,
        ),
        (
            "target type (any target)",
            Filter {
                target_type: s("user"),
                ..f()
            },
            6,
        ),
        (
            "target id (second target)",
            Filter {
                target_id: s("42"),
                ..f()
            },
            6,
        ),
        (
            "target name",
            Filter {
                target_name: s("Zoë"),
                ..f()
            },
            6,
        ),
        (
            "target type+id",
            Filter {
                target_type: s("hardware"),
                target_id: s("101"),
                ..f()
            },
            5,
        ),
        (
            "target type+id on different targets",
            Filter {
                target_type: s("user"),
                target_id: s("101"),
                ..f()
            },
            0,
        ),
        (
            "from",
            Filter {
                from: Some(second),
                ..f()
            },
            16,
        ),
        (
            "until",
            Filter {
                until: Some(third),
                ..f()
            },
            16,
        ),
        (
            "from+until",
            Filter {
                from: Some(second),
                until: Some(third),
                ..f()
            },
            8,
        ),
        (
            "until the first entry",
            Filter {
                until: Some(Timestamp(0)),
                ..f()
            },
            0,
        ),
        (
            "from the future",
            Filter {
                from: Some(Timestamp(third.0 + 3_600_000)),
                ..f()
            },
            0,
        ),
        (
            "channel+result",
            Filter {
                channel: s("auth"),
                result: Some(Outcome::Failure),
                ..f()
            },
            4,
        ),
        (
            "channel+action prefix",
            Filter {
                channel: s("hardware"),
                action: Some(ActionMatch::Prefix("user".into())),
                ..f()
            },
            8,
        ),
        (
            "actor+action",
            Filter {
                actor: s("u0"),
                action: Some(ActionMatch::Exact("user.created".into())),
                ..f()
            },
            2,
        ),
        (
            "range+channel+text",
            Filter {
                from: Some(second),
                channel: s("hardware"),
                text: s("entry"),
                ..f()
            },
            8,
        ),
        (
            "everything at once",
            Filter {
                from: Some(second),
                until: Some(third),
                actor: s("u1"),
                action: Some(ActionMatch::Prefix("user".into())),
                event: s("created"),
                channel: s("hardware"),
                target_type: s("user"),
                target_id: s("42"),
                result: Some(Outcome::Success),
                ip: s("10.0.0.0"),
                properties: vec![("repo".into(), "web".into())],
                text: s("entry 9"),
                ..f()
            },
            1,
        ),
    ];
    expect_counts(&store, t, cases).await;
}

/// `user` as a prefix matches `user` and `user.*`, never `users.*` or `username`.
pub async fn action_prefix_matches_whole_segments(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let actions = [
        "user",
        "user.created",
        "user.role.changed",
        "users.created",
        "username.set",
        "a.user.created",
        "userx",
    ];
    append(&store, t, actions.iter().map(|a| event(a, "u")).collect()).await;
    let prefix = |p: &str| Filter {
        action: Some(ActionMatch::Prefix(p.into())),
        ..Filter::default()
    };
    expect_counts(
        &store,
        t,
        vec![
            ("user", prefix("user"), 3),
            ("user.role", prefix("user.role"), 1),
            ("users", prefix("users"), 1),
            ("use", prefix("use"), 0),
            ("empty prefix matches all", prefix(""), 7),
            (
                "exact user",
                Filter {
                    action: Some(ActionMatch::Exact("user".into())),
                    ..Filter::default()
                },
                1,
            ),
        ],
    )
    .await;
}

/// String "7", number 7 and bool true/"true" compare as their text.
pub async fn property_filters_compare_scalars_as_text(store: Arc<dyn Store>) {
    let (t, _, _) = seed_dataset(&store, "acme").await;
    let p = |pairs: &[(&str, &str)]| Filter {
        properties: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Filter::default()
    };
    expect_counts(
        &store,
        t,
        vec![
            ("number", p(&[("n", "7")]), 1),
            ("string digits", p(&[("code", "7")]), 1),
            ("string", p(&[("repo", "web")]), 12),
            ("bool", p(&[("flag", "true")]), 8),
            ("bool false", p(&[("flag", "false")]), 16),
            ("number is not 7.0", p(&[("n", "7.0")]), 0),
            (
                "nested objects are not scalars",
                p(&[("nested", "{\"n\":7}")]),
                0,
            ),
            ("no dotted paths", p(&[("nested.n", "7")]), 0),
            ("missing key", p(&[("nope", "7")]), 0),
            ("case-sensitive value", p(&[("repo", "WEB")]), 0),
            ("all pairs must match", p(&[("repo", "web"), ("n", "7")]), 1),
            ("conflicting pairs", p(&[("repo", "api"), ("n", "7")]), 0),
        ],
    )
    .await;
}

/// Keys are data, never syntax: quotes, JSON-path characters and SQL quotes are matched
/// literally.
pub async fn property_filters_accept_hostile_keys(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let mut e = event("a.created", "u");
    e.properties = props(
        json!({ "a'b": "quote", "$.x": 1, "\"": true, "a.b": "dot", "x\\y": "slash", "[0]": "bracket", "": "empty" }),
    );
    let mut other = event("a.created", "u");
    other.properties = props(json!({ "a": { "b": "dot" }, "x": 1, "b": "quote" }));
    append(&store, t, vec![e, other]).await;
    let p = |k: &str, v: &str| Filter {
        properties: vec![(k.into(), v.into())],
        ..Filter::default()
    };
    expect_counts(
        &store,
        t,
        vec![
            ("sql quote", p("a'b", "quote"), 1),
            ("json path", p("$.x", "1"), 1),
            ("double quote", p("\"", "true"), 1),
            ("dot is not a path", p("a.b", "dot"), 1),
            ("backslash", p("x\\y", "slash"), 1),
            ("brackets", p("[0]", "bracket"), 1),
            ("empty key", p("", "empty"), 1),
            ("injection", p("x' OR '1'='1", "1"), 0),
            ("value with quotes", p("a'b", "' OR 1=1 --"), 0),
        ],
    )
    .await;
}

/// Every query word must prefix a word of the description, action, actor e-mail or name;
/// case-insensitive and Unicode-aware.
pub async fn text_search_matches_word_prefixes(store: Arc<dyn Store>) {
    let (t, _, _) = seed_dataset(&store, "acme").await;
    let q = |text: &str| Filter {
        text: Some(text.into()),
        ..Filter::default()
    };
    expect_counts(
        &store,
        t,
        vec![
            ("word", q("assigned"), 1),
            ("prefix", q("assig"), 1),
            ("not an infix", q("ssigned"), 0),
            ("upper-case unicode", q("ZOË"), 1),
            ("unicode prefix", q("zo"), 1),
            ("and of words", q("laptop zoë"), 1),
            ("and with a missing word", q("laptop bob"), 0),
            ("description words", q("ENTRY"), 23),
            ("email", q("u1@example.com"), 6),
            ("email domain", q("example"), 23),
            ("actor name", q("user 3"), 5),
            ("action words", q("user.created"), 8),
            ("action word", q("deleted"), 8),
            ("digits", q("entry 12"), 1),
            ("target names are not searched", q("zoë laptop 101"), 0),
            ("only punctuation narrows nothing", q("..."), 24),
        ],
    )
    .await;
}

/// FTS syntax in the text is data: it returns results or nothing, never an error.
pub async fn hostile_search_syntax_never_errors(store: Arc<dyn Store>) {
    let (t, _, _) = seed_dataset(&store, "acme").await;
    let hostile = [
        "\"",
        "*",
        "NEAR(",
        "-",
        "OR",
        ")",
        "(",
        "a\"b",
        "AND",
        "NOT",
        "user*",
        "\"user\"",
        "col:val",
        "^entry",
        "{a b}",
        "entry OR",
        "NEAR(entry laptop, 2)",
        "-entry",
        "'; DROP TABLE entries; --",
        "\0",
        "entry\u{200b}",
        "🦀",
        "x".repeat(500).as_str(),
        "+",
        "a:b:c",
        "[",
        "]",
        "\\",
    ]
    .map(str::to_string);
    for text in hostile {
        let filter = Filter {
            text: Some(text.clone()),
            ..Filter::default()
        };
        let page = store.query(t, &fixtures_query(&filter)).await;
        let n = store.count(t, &filter).await;
        match (page, n) {
            (Ok(page), Ok(n)) => assert_eq!(page.entries.len() as u64, n.min(1000), "{text:?}"),
            (p, n) => panic!("{text:?}: {:?} / {:?}", p.err(), n.err()),
        }
    }
    assert_eq!(
        count(
            &store,
            t,
            &Filter {
                text: Some("entry OR laptop".into()),
                ..Filter::default()
            }
        )
        .await,
        0,
        "OR is a word, not an operator"
    );
    assert_eq!(
        count(
            &store,
            t,
            &Filter {
                text: Some("\"entry\"".into()),
                ..Filter::default()
            }
        )
        .await,
        23
    );
}

fn fixtures_query(filter: &Filter) -> sealtrail_core::filter::Query {
    sealtrail_core::filter::Query {
        filter: filter.clone(),
        limit: 1000,
        cursor: None,
    }
}

/// Following `next_cursor` and then `prev_cursor` visits every match exactly once while new
/// entries keep arriving between pages.
pub async fn cursor_pages_cover_every_match_once_while_appending(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let mut batch = Vec::new();
    for i in 0..40 {
        let mut e = event("a.created", "u");
        e.channel = if i % 2 == 0 { "auth" } else { "hardware" }.into();
        batch.push(e);
    }
    append(&store, t, batch).await;
    let auth = Filter {
        channel: Some("auth".into()),
        ..Filter::default()
    };
    let arrive = |store: Arc<dyn Store>| async move {
        let mut a = event("a.created", "late");
        a.channel = "auth".into();
        append(&store, t, vec![a, event("a.created", "late")]).await;
    };

    // Older, page by page.
    let mut forward = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    let last = loop {
        let p = page(&store, t, &auth, 6, cursor).await;
        assert_eq!(
            p.prev_cursor.is_none(),
            pages == 0,
            "only the first page has no previous page"
        );
        pages += 1;
        forward.extend(seqs(&p.entries));
        arrive(store.clone()).await;
        match p.next_cursor {
            Some(c) => {
                assert_eq!(c.direction, Direction::Older);
                cursor = Some(c);
            }
            None => break p,
        }
    };
    let original_auth: Vec<u64> = (0..40).rev().filter(|s| s % 2 == 0).collect();
    assert_eq!(
        forward, original_auth,
        "older pages: every original match once, newest first"
    );
    assert_eq!(pages, 4);

    // Newer, from the last page back to the top, picking up what arrived meanwhile.
    let mut backward = seqs(&last.entries);
    let mut cursor = last.prev_cursor;
    while let Some(c) = cursor {
        assert_eq!(c.direction, Direction::Newer);
        let p = page(&store, t, &auth, 6, Some(c)).await;
        assert!(
            p.entries.windows(2).all(|w| w[0].seq > w[1].seq),
            "newer pages are newest first too"
        );
        assert!(
            p.next_cursor.is_some(),
            "a newer page always has older matches"
        );
        let mut s = seqs(&p.entries);
        s.extend(backward);
        backward = s;
        cursor = p.prev_cursor;
        if cursor.is_some() {
            arrive(store.clone()).await;
        }
    }
    let everything = seqs(&all_pages(&store, t, &auth, 1000).await);
    assert_eq!(
        backward, everything,
        "newer pages: every match once, including late arrivals"
    );
    assert!(everything.len() > 20);
}

/// The previous-page cursor of page 2 returns exactly page 1; beyond-the-end cursors are
/// empty pages that still point back.
pub async fn previous_page_cursor_returns_the_page_before(store: Arc<dyn Store>) {
    let (t, _, _) = seed_dataset(&store, "acme").await;
    let f = Filter {
        channel: Some("auth".into()),
        ..Filter::default()
    };
    let p1 = page(&store, t, &f, 5, None).await;
    let p2 = page(&store, t, &f, 5, p1.next_cursor).await;
    let p3 = page(&store, t, &f, 5, p2.next_cursor).await;
    assert_eq!(
        (p1.entries.len(), p2.entries.len(), p3.entries.len()),
        (5, 5, 2)
    );
    assert!(p3.next_cursor.is_none());
    let back = page(&store, t, &f, 5, p2.prev_cursor).await;
    assert_eq!(seqs(&back.entries), seqs(&p1.entries));
    assert!(back.prev_cursor.is_none(), "page 1 has nothing newer");
    assert_eq!(back.next_cursor, p1.next_cursor);
    let back2 = page(&store, t, &f, 5, p3.prev_cursor).await;
    assert_eq!(seqs(&back2.entries), seqs(&p2.entries));

    let past_end = page(
        &store,
        t,
        &f,
        5,
        Some(Cursor {
            seq: 0,
            direction: Direction::Older,
        }),
    )
    .await;
    assert!(past_end.entries.is_empty() && past_end.next_cursor.is_none());
    let beyond = page(
        &store,
        t,
        &f,
        5,
        Some(Cursor {
            seq: 1_000,
            direction: Direction::Newer,
        }),
    )
    .await;
    assert!(beyond.entries.is_empty() && beyond.prev_cursor.is_none());
    let from_beyond = page(&store, t, &f, 5, beyond.next_cursor).await;
    assert_eq!(
        seqs(&from_beyond.entries),
        seqs(&p1.entries),
        "an empty newer page points back to the newest"
    );
}

/// `count` agrees with the number of entries the pages yield.
pub async fn count_equals_what_the_pages_yield(store: Arc<dyn Store>) {
    let (t, second, _) = seed_dataset(&store, "acme").await;
    let filters = [
        Filter::default(),
        Filter {
            from: Some(second),
            ..Filter::default()
        },
        Filter {
            channel: Some("auth".into()),
            ..Filter::default()
        },
        Filter {
            text: Some("entry".into()),
            ..Filter::default()
        },
        Filter {
            text: Some("u2".into()),
            result: Some(Outcome::Success),
            ..Filter::default()
        },
        Filter {
            target_id: Some("42".into()),
            ..Filter::default()
        },
        Filter {
            properties: vec![("flag".into(), "true".into())],
            ..Filter::default()
        },
    ];
    for filter in filters {
        for limit in [1, 3, 7, 1000] {
            let entries = all_pages(&store, t, &filter, limit).await;
            let unique: HashSet<u64> = seqs(&entries).into_iter().collect();
            assert_eq!(
                unique.len(),
                entries.len(),
                "no duplicates across pages: {filter:?}"
            );
            assert_eq!(
                entries.len() as u64,
                count(&store, t, &filter).await,
                "{filter:?} limit {limit}"
            );
        }
    }
}

/// Facets list the values present, with entry counts, most frequent first then by value.
pub async fn facets_count_values_present(store: Arc<dyn Store>) {
    let (t, _, _) = seed_dataset(&store, "acme").await;
    let f = match store.facets(t).await {
        Ok(f) => f,
        Err(e) => panic!("facets: {e}"),
    };
    let vals = |v: &[sealtrail_core::filter::FacetValue]| {
        v.iter()
            .map(|v| (v.value.clone(), v.count))
            .collect::<Vec<_>>()
    };
    let o = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(v, n)| (v.to_string(), *n))
            .collect::<Vec<_>>()
    };
    assert_eq!(vals(&f.channels), o(&[("auth", 12), ("hardware", 12)]));
    assert_eq!(
        vals(&f.actions),
        o(&[
            ("hardware.updated", 8),
            ("user.created", 8),
            ("user.deleted", 8)
        ])
    );
    assert_eq!(
        vals(&f.events),
        o(&[("created", 8), ("deleted", 8), ("updated", 8)])
    );
    assert_eq!(vals(&f.categories), o(&[("Security Events", 6)]));
    assert_eq!(vals(&f.results), o(&[("success", 20), ("failure", 4)]));
    assert_eq!(vals(&f.target_types), o(&[("hardware", 24), ("user", 6)]));
    let actors: Vec<_> = f
        .actors
        .iter()
        .map(|a| {
            (
                a.kind.as_str(),
                a.id.as_deref(),
                a.email.as_deref(),
                a.count,
            )
        })
        .collect();
    assert_eq!(
        actors,
        [
            ("user", Some("u0"), Some("u0@example.com"), 6),
            ("user", Some("u1"), Some("u1@example.com"), 6),
            ("user", Some("u2"), Some("u2@example.com"), 6),
            ("user", Some("u3"), Some("u3@example.com"), 5),
            ("system", Some("system"), None, 1),
        ]
    );
    assert_eq!(f.actors[0].name.as_deref(), Some("User 0"));
    let empty = tenant(&store, "empty").await;
    assert_eq!(store.facets(empty).await.ok(), Some(Default::default()));
}

/// No read ever sees another tenant's data; each tenant has its own seq and idempotency keys.
pub async fn tenants_are_isolated(store: Arc<dyn Store>) {
    let (a, _, _) = seed_dataset(&store, "acme").await;
    let b = tenant(&store, "globex").await;
    let theirs = append(
        &store,
        b,
        vec![
            keyed("secret.viewed", "mallory", "k1"),
            event("user.created", "u1"),
        ],
    )
    .await;
    let mine = append(&store, a, vec![keyed("a.created", "u1", "k1")]).await;
    assert_eq!(
        (theirs[0].seq, theirs[0].duplicate),
        (0, false),
        "each tenant's log starts at 0"
    );
    assert_eq!(
        (mine[0].seq, mine[0].duplicate),
        (24, false),
        "the same key in two tenants is two entries"
    );

    assert_eq!(store.log_size(a).await.ok(), Some(25));
    assert_eq!(store.log_size(b).await.ok(), Some(2));
    assert_eq!(store.get(a, theirs[0].id).await.ok(), Some(None));
    assert_eq!(store.get(b, mine[0].id).await.ok(), Some(None));
    assert!(store.get(b, theirs[0].id).await.ok().flatten().is_some());

    let f = Filter::default;
    assert_eq!(count(&store, b, &f()).await, 2);
    assert_eq!(seqs(&all_pages(&store, b, &f(), 1).await), [1, 0]);
    let q = |t: &str| Filter {
        text: Some(t.into()),
        ..f()
    };
    assert_eq!(count(&store, b, &q("assigned")).await, 0);
    assert_eq!(count(&store, a, &q("mallory")).await, 0);
    assert_eq!(count(&store, b, &q("mallory")).await, 1);
    assert_eq!(
        count(
            &store,
            b,
            &Filter {
                actor: Some("u1".into()),
                ..f()
            }
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &store,
            b,
            &Filter {
                target_id: Some("142".into()),
                ..f()
            }
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &store,
            b,
            &Filter {
                channel: Some("auth".into()),
                ..f()
            }
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &store,
            b,
            &Filter {
                properties: vec![("repo".into(), "web".into())],
                ..f()
            }
        )
        .await,
        0
    );
    let p = page(
        &store,
        b,
        &f(),
        10,
        Some(Cursor {
            seq: 20,
            direction: Direction::Older,
        }),
    )
    .await;
    assert_eq!(
        seqs(&p.entries),
        [1, 0],
        "a cursor from another tenant's range reveals nothing else"
    );

    let facets = store.facets(b).await.ok().unwrap_or_default();
    let text = format!("{facets:?}");
    assert!(
        !text.contains("hardware.updated") && !text.contains("u0"),
        "{text}"
    );
    assert_eq!(store.log_size(TenantId(9_999)).await.ok(), Some(0));
    assert_eq!(count(&store, TenantId(9_999), &f()).await, 0);
}

/// Tenants: create, refuse a taken name, list oldest first, look up by name and id.
pub async fn tenants_create_conflict_and_lookup(store: Arc<dyn Store>) {
    assert_eq!(store.list_tenants().await.ok().map(|l| l.len()), Some(0));
    let acme = match store.create_tenant("acme").await {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let globex = match store.create_tenant("globex").await {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    assert_ne!(acme.id, globex.id);
    assert_eq!(acme.name, "acme");
    assert!(acme.created_at <= globex.created_at);
    let again = store.create_tenant("acme").await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(
        store.list_tenants().await.ok(),
        Some(vec![acme.clone(), globex.clone()])
    );
    assert_eq!(
        store.tenant_by_name("acme").await.ok(),
        Some(Some(acme.clone()))
    );
    assert_eq!(store.tenant_by_name("nope").await.ok(), Some(None));
    let by_id = store.tenant_by_id(globex.id).await.ok().flatten();
    assert_eq!(
        by_id.map(|t| (t.id, t.name)),
        Some((globex.id, "globex".to_string()))
    );
    assert_eq!(store.tenant_by_id(TenantId(424_242)).await.ok(), Some(None));
    assert_eq!(store.log_size(acme.id).await.ok(), Some(0));
}

/// API keys: insert, find by prefix across tenants, list newest first with revoked ones,
/// revoke once (the first time is kept), never across tenants.
pub async fn api_keys_insert_list_and_revoke(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "globex").await;
    let insert = |t: TenantId, prefix: &'static str, hash: u8, scopes: Vec<Scope>| {
        let store = store.clone();
        async move {
            match store
                .insert_api_key(t, prefix, [hash; 32], &format!("{prefix} key"), &scopes)
                .await
            {
                Ok(k) => k,
                Err(e) => panic!("insert {prefix}: {e}"),
            }
        }
    };
    let k1 = insert(a, "aaaaaaaaaaa1", 1, vec![Scope::Read, Scope::Ingest]).await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    let k2 = insert(a, "aaaaaaaaaaa2", 2, vec![Scope::Admin]).await;
    let kb = insert(b, "bbbbbbbbbbb1", 3, vec![Scope::Export]).await;
    assert_eq!(
        (
            k1.tenant,
            k1.name.as_str(),
            k1.scopes.clone(),
            k1.hash,
            k1.revoked_at
        ),
        (
            a,
            "aaaaaaaaaaa1 key",
            vec![Scope::Ingest, Scope::Read],
            [1; 32],
            None
        )
    );
    assert_eq!(
        store.api_key_by_prefix("aaaaaaaaaaa1").await.ok(),
        Some(Some(k1.clone()))
    );
    assert_eq!(
        store.api_key_by_prefix("bbbbbbbbbbb1").await.ok(),
        Some(Some(kb.clone()))
    );
    assert_eq!(store.api_key_by_prefix("nope").await.ok(), Some(None));

    let dup = store
        .insert_api_key(b, "aaaaaaaaaaa1", [9; 32], "dup", &[Scope::Read])
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let orphan = store
        .insert_api_key(
            TenantId(777_777),
            "ccccccccccc1",
            [9; 32],
            "x",
            &[Scope::Read],
        )
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");

    assert_eq!(
        store.list_api_keys(a).await.ok(),
        Some(vec![k2.clone(), k1.clone()])
    );
    assert_eq!(
        store.revoke_api_key(b, &k1.id).await.ok(),
        Some(None),
        "another tenant's key"
    );
    assert_eq!(store.revoke_api_key(a, "nope").await.ok(), Some(None));
    let revoked = store.revoke_api_key(a, &k1.id).await.ok().flatten();
    let when = revoked.as_ref().and_then(|k| k.revoked_at);
    assert!(when.is_some());
    tokio::time::sleep(Duration::from_millis(3)).await;
    let again = store.revoke_api_key(a, &k1.id).await.ok().flatten();
    assert_eq!(
        again.and_then(|k| k.revoked_at),
        when,
        "the first revocation time is kept"
    );
    let listed = store.list_api_keys(a).await.ok().unwrap_or_default();
    assert_eq!(
        listed
            .iter()
            .map(|k| (k.id.as_str(), k.revoked_at.is_some()))
            .collect::<Vec<_>>(),
        [("aaaaaaaaaaa2", false), ("aaaaaaaaaaa1", true)]
    );
    assert_eq!(store.list_api_keys(b).await.ok(), Some(vec![kb]));
    assert_eq!(
        store
            .api_key_by_prefix(&k1.id)
            .await
            .ok()
            .flatten()
            .and_then(|k| k.revoked_at),
        when
    );
}

/// 16 tasks × 200 single-event appends: every acknowledgement is stored once, seq is gapless.
pub async fn concurrent_appends_are_acknowledged_once_and_gapless(store: Arc<dyn Store>) {
    const TASKS: usize = 16;
    const PER_TASK: usize = 200;
    let t = tenant(&store, "acme").await;
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for i in 0..PER_TASK {
                let key = format!("t{task}-{i}");
                let a = append(
                    &store,
                    t,
                    vec![keyed("load.created", &format!("client-{task}"), &key)],
                )
                .await;
                acks.push((key, a[0].id, a[0].seq));
            }
            acks
        }));
    }
    let mut acked = Vec::new();
    for h in handles {
        match h.await {
            Ok(a) => acked.extend(a),
            Err(e) => panic!("task failed: {e}"),
        }
    }
    let total = TASKS * PER_TASK;
    let seq_set: HashSet<u64> = acked.iter().map(|(_, _, s)| *s).collect();
    assert_eq!(
        seq_set,
        (0..total as u64).collect::<HashSet<_>>(),
        "acknowledged seqs are gapless and unique"
    );
    let stored: HashMap<String, (uuid::Uuid, u64)> = all_pages(&store, t, &Filter::default(), 1000)
        .await
        .into_iter()
        .filter_map(|e| e.idempotency_key.clone().map(|k| (k, (e.id, e.seq))))
        .collect();
    assert_eq!(stored.len(), total);
    for (key, id, seq) in acked {
        assert_eq!(stored.get(&key), Some(&(id, seq)), "{key}");
    }
    assert_eq!(store.log_size(t).await.ok(), Some(total as u64));
}

/// A fresh store reports healthy.
pub async fn health_is_ok(store: Arc<dyn Store>) {
    let r = store.health().await;
    assert!(r.is_ok(), "{r:?}");
}
