//! Cases on filters, search and counts, mostly over the 24-entry dataset.

use super::fixtures::*;
use sealtrail_core::entry::{Actor, ActorType, Outcome};
use sealtrail_core::filter::{ActionMatch, Filter, Query};
use sealtrail_core::Timestamp;
use sealtrail_store::Store;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;

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
                event: vec!["deleted".into()],
                ..f()
            },
            8,
        ),
        (
            "any of two events",
            Filter {
                event: vec!["deleted".into(), "created".into()],
                ..f()
            },
            16,
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
                category: vec!["Security Events".into()],
                ..f()
            },
            6,
        ),
        (
            "any of two categories, one absent",
            Filter {
                category: vec!["Security Events".into(), "No Such Category".into()],
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
                event: vec!["created".into()],
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

/// `user` as a prefix matches `user` and `user.*`, never `users.*` or `username`; a start of
/// text (`use*`) matches across segments.
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
    let starts = |s: &str| Filter {
        action: Some(ActionMatch::StartsWith(s.into())),
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
            // `use*` and `user.r*`: a start of text, across segment boundaries.
            ("starts use", starts("use"), 6),
            ("starts user.r", starts("user.r"), 1),
            ("starts users", starts("users"), 1),
            ("starts userx.", starts("userx."), 0),
            ("starts empty matches all", starts(""), 7),
        ],
    )
    .await;
}

/// An actor value matches ids and emails alike, newest first, whether it occurs as an id
/// only, as an email only, as both in different entries, or in another tenant only.
pub async fn actor_filter_matches_ids_and_emails(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    let with_email = |actor: &str, email: &str| {
        let mut e = event("user.updated", actor);
        e.actor.email = Some(email.into());
        e
    };
    append(
        &store,
        t,
        vec![
            with_email("bob@example.com", "robert@example.org"), // 0: id
            with_email("u2", "bob@example.com"),                 // 1: email
            with_email("u3", "carol@example.com"),               // 2
            with_email("bob@example.com", "robert@example.org"), // 3: id
            with_email("u4", "bob@example.com"),                 // 4: email
        ],
    )
    .await;
    append(&store, other, vec![with_email("u9", "eve@example.com")]).await;
    let actor = |a: &str| Filter {
        actor: Some(a.into()),
        ..Filter::default()
    };
    let cases: [(&str, &[u64]); 6] = [
        ("bob@example.com", &[4, 3, 1, 0]),
        ("robert@example.org", &[3, 0]),
        ("u3", &[2]),
        ("carol@example.com", &[2]),
        ("eve@example.com", &[]),
        ("nobody", &[]),
    ];
    for (value, want) in cases {
        for limit in [1, 2, 50] {
            let got = seqs(&all_pages(&store, t, &actor(value), limit).await);
            assert_eq!(got, want, "actor={value}, pages of {limit}");
        }
        assert_eq!(
            count(&store, t, &actor(value)).await,
            want.len() as u64,
            "{value}"
        );
    }
}

/// `system_only` selects every actor that is not a person (system, API, integration), and
/// system actors sent without an id stay distinct in filters and facets: each gets its own
/// `system:<name>` id.
pub async fn system_filter_selects_every_non_person_and_merges_no_one(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let as_actor = |kind: ActorType, id: &str, name: &str| {
        let mut e = event("member.invited", "x");
        e.actor = Actor {
            kind,
            id: Some(id.into()),
            name: Some(name.into()),
            email: None,
            via: None,
        };
        e
    };
    let system = |name: &str| as_actor(ActorType::System, &Actor::system_id(Some(name)), name);
    append(
        &store,
        t,
        vec![
            event("member.invited", "u1"),                          // 0: a person
            system("CSV Import"),                                   // 1
            system("Bulk Invite"),                                  // 2
            as_actor(ActorType::Api, "app_billing", "Billing app"), // 3
            as_actor(ActorType::Integration, "scim", "SCIM sync"),  // 4
            system("CSV Import"),                                   // 5
        ],
    )
    .await;
    let non_people = Filter {
        system_only: true,
        ..Filter::default()
    };
    assert_eq!(
        seqs(&all_pages(&store, t, &non_people, 2).await),
        [5, 4, 3, 2, 1]
    );
    assert_eq!(count(&store, t, &non_people).await, 5);
    let one = Filter {
        actor: Some("system:CSV Import".into()),
        ..Filter::default()
    };
    assert_eq!(seqs(&all_pages(&store, t, &one, 10).await), [5, 1]);
    let facets = store.facets(t).await.unwrap();
    let mut ids: Vec<(&str, u64)> = facets
        .actors
        .iter()
        .map(|a| (a.id.as_deref().unwrap_or(""), a.count))
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            ("app_billing", 1),
            ("scim", 1),
            ("system:Bulk Invite", 1),
            ("system:CSV Import", 2),
            ("u1", 1)
        ]
    );
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

/// Every query word must occur in a word of the description, action, actor e-mail or name:
/// anywhere inside it for three characters or more, at its start for fewer; case-insensitive
/// and Unicode-aware.
pub async fn text_search_matches_words_and_text_inside_them(store: Arc<dyn Store>) {
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
            ("inside a word", q("ssigned"), 1),
            ("end of a word", q("GNED"), 1),
            ("inside a word, with a word", q("aptop zoë"), 1),
            ("longer than any word holding it", q("ssignedx"), 0),
            ("inside the action", q("dware"), 8),
            ("inside the e-mail domain", q("xample"), 23),
            ("inside every description", q("ecorded"), 23),
            ("two letters only start words", q("ss"), 0),
            ("two letters starting a word", q("re"), 23),
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
        let page = store
            .query(
                t,
                &Query {
                    filter: filter.clone(),
                    limit: 1000,
                    cursor: None,
                },
            )
            .await;
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
