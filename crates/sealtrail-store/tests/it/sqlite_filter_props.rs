//! Property test: on random small datasets, the store's `query` and `count` agree with a naive
//! in-memory implementation of the filter semantics, for random filters and page sizes.

use proptest::prelude::*;
use sealtrail_core::entry::{Actor, ActorType, NewEntry, Outcome, Target};
use sealtrail_core::filter::{ActionMatch, Cursor, Filter, Query, TimeBasis};
use sealtrail_core::{Entry, TenantId, Timestamp};
use sealtrail_store::sqlite::{SqliteOptions, SqliteStore};
use sealtrail_store::Store;
use sealtrail_store::{Directory, EventLog};
use sealtrail_testkit::contract::fixtures::event;
use serde_json::{json, Map, Value};
use std::time::Duration;

const ACTIONS: &[&str] = &[
    "user",
    "user.created",
    "user.deleted",
    "users.created",
    "hardware.updated",
    "user.role.changed",
];
const CHANNELS: &[&str] = &["auth", "hardware", "pii-read"];
const ACTORS: &[(&str, Option<&str>, &str)] = &[
    ("u1", Some("alice@example.com"), "Alice Smith"),
    ("u2", Some("bob@example.com"), "Bob"),
    ("u3", None, "Zoë Ünal"),
    ("bob@example.com", Some("robert@example.org"), "Robert"),
];
const CATEGORIES: &[Option<&str>] = &[None, Some("Security Events"), Some("Policy Changes")];
const IPS: &[Option<&str>] = &[None, Some("10.0.0.1"), Some("10.0.0.2"), Some("::1")];
const TARGET_TYPES: &[&str] = &["hardware", "user"];
const TARGET_IDS: &[Option<&str>] = &[None, Some("1"), Some("42"), Some("142")];
const TARGET_NAMES: &[Option<&str>] = &[None, Some("Laptop 1"), Some("Zoë")];
const PROP_KEYS: &[&str] = &["repo", "n", "flag", "a'b", "$.x", "\""];
const WORDS: &[&str] = &[
    "Laptop",
    "assigned",
    "to",
    "Zoë",
    "ZOË",
    "user",
    "created",
    "alice@example.com",
    "Ünïcode",
    "naïve",
    "42",
    "x-ray",
    "ΣΊΣΥΦΟΣ",
];
const QUERY_WORDS: &[&str] = &[
    "lap",
    "ZO",
    "zoë",
    "user",
    "alice",
    "example.com",
    "\"",
    "OR",
    "a*",
    "42",
    "x-r",
    "ünï",
    "NEAR(",
    "-",
    "σί",
    "rob",
];
const FILTER_TEXT: &[&str] = &["api", "web", "7", "7.5", "true", "false", "-1", "null", "x"];

fn prop_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec!["api", "web", "7", "true"]).prop_map(|s| json!(s)),
        prop::sample::select(vec![7.0, 0.0, -1.0, 7.5]).prop_map(|n: f64| if n.fract() == 0.0 {
            json!(n as i64)
        } else {
            json!(n)
        }),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
        Just(json!([7])),
    ]
}

prop_compose! {
    fn new_entry()(
        action in prop::sample::select(ACTIONS),
        channel in prop::sample::select(CHANNELS),
        actor in prop::sample::select(ACTORS),
        system in prop::bool::weighted(0.15),
        category in prop::sample::select(CATEGORIES),
        result in prop::sample::select(Outcome::ALL.to_vec()),
        ip in prop::sample::select(IPS),
        targets in prop::collection::vec((prop::sample::select(TARGET_TYPES), prop::sample::select(TARGET_IDS), prop::sample::select(TARGET_NAMES)), 0..3),
        properties in prop::collection::vec((prop::sample::select(PROP_KEYS), prop_value()), 0..4),
        words in prop::collection::vec(prop::sample::select(WORDS), 0..4),
        key in prop::option::weighted(0.3, 0..6usize),
        occurred in prop::option::weighted(0.6, prop::sample::select(OCCURRED_OFFSETS)),
    ) -> NewEntry {
        let mut e = event(action, actor.0);
        e.channel = channel.into();
        e.actor = if system {
            Actor::system("Scheduler")
        } else {
            Actor { kind: ActorType::User, id: Some(actor.0.into()), email: actor.1.map(Into::into), name: Some(actor.2.into()), via: None }
        };
        e.category = category.map(Into::into);
        e.result = result;
        e.context.ip = ip.map(Into::into);
        e.targets = targets.into_iter().map(|(kind, id, name)| Target { kind: kind.into(), id: id.map(Into::into), name: name.map(Into::into) }).collect();
        e.properties = properties.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>();
        e.description = words.join(" ");
        e.idempotency_key = key.map(|k| format!("key-{k}"));
        // An offset from the time of the run until `at_run_time` makes it absolute.
        e.occurred_at = occurred.map(Timestamp);
        e
    }
}

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Event times relative to receipt: an import from last year, late events (days, an hour),
/// timely ones, and events up to the day ahead that ingest allows.
const OCCURRED_OFFSETS: &[i64] = &[
    -400 * DAY,
    -3 * DAY,
    -25 * HOUR,
    -HOUR,
    -30_000,
    0,
    3 * HOUR,
    23 * HOUR,
];

/// The generated entries with their `occurred_at` offsets made absolute from `now`.
fn at_run_time(chunks: Vec<Vec<NewEntry>>, now: Timestamp) -> Vec<Vec<NewEntry>> {
    chunks
        .into_iter()
        .map(|chunk| {
            chunk
                .into_iter()
                .map(|mut e| {
                    e.occurred_at = e
                        .occurred_at
                        .map(|offset| Timestamp(now.millis() + offset.millis()));
                    e
                })
                .collect()
        })
        .collect()
}

/// A filter before its date bounds are resolved against the dataset's timestamps.
#[derive(Debug, Clone)]
struct FilterSpec {
    filter: Filter,
    from: Option<(usize, i64)>,
    until: Option<(usize, i64)>,
}

prop_compose! {
    fn filter_spec()(
        actor in prop::option::weighted(0.2, prop::sample::select(vec!["u1", "u2", "u3", "bob@example.com", "alice@example.com", "robert@example.org", "system", "nobody"])),
        action in prop::option::weighted(0.25, (0..3u8, prop::sample::select(vec!["user", "user.created", "users", "hardware", "user.role", "use", "us", "user.", "hardware.upd", ""]))),
        event in prop::option::weighted(0.15, prop::collection::vec(prop::sample::select(vec!["created", "deleted", "user", "nothing"]), 1..3)),
        channel in prop::option::weighted(0.2, prop::sample::select(CHANNELS)),
        category in prop::option::weighted(0.15, prop::collection::vec(prop::sample::select(vec!["Security Events", "Policy Changes"]), 1..3)),
        target_type in prop::option::weighted(0.15, prop::sample::select(TARGET_TYPES)),
        target_id in prop::option::weighted(0.15, prop::sample::select(vec!["1", "42", "142", "9"])),
        target_name in prop::option::weighted(0.1, prop::sample::select(vec!["Laptop 1", "Zoë", "zoë"])),
        result in prop::option::weighted(0.15, prop::sample::select(Outcome::ALL.to_vec())),
        ip in prop::option::weighted(0.15, prop::sample::select(vec!["10.0.0.1", "10.0.0.2", "::1"])),
        system_only in prop::bool::weighted(0.1),
        properties in prop::collection::vec((prop::sample::select(PROP_KEYS), prop::sample::select(FILTER_TEXT)), 0..2),
        text in prop::option::weighted(0.3, prop::collection::vec(prop::sample::select(QUERY_WORDS), 1..3)),
        from in prop::option::weighted(0.3, (0..40usize, -1..=1i64)),
        until in prop::option::weighted(0.3, (0..40usize, -1..=1i64)),
        received in prop::bool::weighted(0.3),
    ) -> FilterSpec {
        FilterSpec {
            filter: Filter {
                from: None,
                until: None,
                time: if received { TimeBasis::Recorded } else { TimeBasis::Occurred },
                actor: actor.map(Into::into),
                action: action.map(|(form, a)| match form {
                    0 => ActionMatch::Exact(a.into()),
                    1 => ActionMatch::Prefix(a.into()),
                    _ => ActionMatch::StartsWith(a.into()),
                }),
                event: event.into_iter().flatten().map(String::from).collect(),
                channel: channel.map(Into::into),
                category: category.into_iter().flatten().map(String::from).collect(),
                target_type: target_type.map(Into::into),
                target_id: target_id.map(Into::into),
                target_name: target_name.map(Into::into),
                result,
                ip: ip.map(Into::into),
                system_only,
                properties: properties.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                text: text.map(|w| w.join(" ")),
            },
            from,
            until,
        }
    }
}

/// The search words of a text: split on anything not a letter or digit, lowercased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .flat_map(|w| {
            w.to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The filter semantics, written out plainly.
fn matches(f: &Filter, e: &Entry) -> bool {
    let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    let target_ok = (f.target_type.is_none() && f.target_id.is_none() && f.target_name.is_none())
        || e.targets.iter().any(|t| {
            eq(&f.target_type, &t.kind)
                && f.target_id
                    .as_ref()
                    .is_none_or(|id| t.id.as_ref() == Some(id))
                && f.target_name
                    .as_ref()
                    .is_none_or(|n| t.name.as_ref() == Some(n))
        });
    let action_ok = match &f.action {
        None => true,
        Some(ActionMatch::Exact(a)) => &e.action == a,
        Some(ActionMatch::Prefix(p)) => {
            p.is_empty() || &e.action == p || e.action.starts_with(&format!("{p}."))
        }
        Some(ActionMatch::StartsWith(start)) => e.action.starts_with(start.as_str()),
    };
    let text_ok = f.text.as_deref().is_none_or(|text| {
        let mut have = words(&e.description);
        have.extend(words(&e.action));
        have.extend(e.actor.email.iter().flat_map(|m| words(m)));
        have.extend(e.actor.name.iter().flat_map(|n| words(n)));
        words(text)
            .iter()
            .all(|q| have.iter().any(|w| w.starts_with(q.as_str())))
    });
    let when = match f.time {
        TimeBasis::Occurred => e.occurred_at,
        TimeBasis::Recorded => e.recorded_at,
    };
    f.from.is_none_or(|t| when >= t)
        && f.until.is_none_or(|t| when < t)
        && f.actor
            .as_ref()
            .is_none_or(|a| e.actor.id.as_ref() == Some(a) || e.actor.email.as_ref() == Some(a))
        && action_ok
        && (f.event.is_empty() || f.event.contains(&e.event))
        && eq(&f.channel, &e.channel)
        && (f.category.is_empty() || e.category.as_ref().is_some_and(|c| f.category.contains(c)))
        && f.result.is_none_or(|r| r == e.result)
        && f.ip
            .as_ref()
            .is_none_or(|ip| e.context.ip.as_ref() == Some(ip))
        && (!f.system_only || e.actor.kind != ActorType::User)
        && target_ok
        && f.properties
            .iter()
            .all(|(k, v)| e.properties.get(k).and_then(scalar_text).as_deref() == Some(v.as_str()))
        && text_ok
}

/// Appends the dataset in chunks (distinct recorded_at per chunk) and returns what the log
/// should now hold, oldest first, built from the acknowledgements.
async fn load(store: &dyn Store, tenant: TenantId, chunks: Vec<Vec<NewEntry>>) -> Vec<Entry> {
    let mut model: Vec<Entry> = Vec::new();
    for chunk in chunks {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let acks = store.append(tenant, chunk.clone()).await.expect("append");
        for (new, ack) in chunk.into_iter().zip(acks) {
            if ack.duplicate {
                let original = model
                    .iter()
                    .find(|e| e.id == ack.id)
                    .expect("duplicate of a stored entry");
                assert_eq!(original.idempotency_key, new.idempotency_key);
            } else {
                assert_eq!(ack.seq, model.len() as u64, "gapless seq");
                model.push(Entry::from_new(new, ack.id, ack.seq, ack.recorded_at));
            }
        }
    }
    model
}

async fn check(
    store: &dyn Store,
    tenant: TenantId,
    model: &[Entry],
    spec: FilterSpec,
    limit: usize,
) -> Result<(), TestCaseError> {
    // Bounds fall on (or a millisecond beside) an entry's time on the filter's own clock.
    let basis = spec.filter.time;
    let at = |(i, delta): (usize, i64)| -> Timestamp {
        let base = model
            .get(i % model.len().max(1))
            .map_or(Timestamp(1_000), |e| match basis {
                TimeBasis::Occurred => e.occurred_at,
                TimeBasis::Recorded => e.recorded_at,
            });
        Timestamp(base.0 + delta)
    };
    let mut filter = spec.filter;
    filter.from = spec.from.map(at);
    filter.until = spec.until.map(at);
    let expected: Vec<u64> = model
        .iter()
        .rev()
        .filter(|e| matches(&filter, e))
        .map(|e| e.seq)
        .collect();

    let count = store
        .count(tenant, &filter)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(count, expected.len() as u64, "count for {:?}", filter);
    let all = store
        .query(
            tenant,
            &Query {
                filter: filter.clone(),
                limit: 1000,
                cursor: None,
            },
        )
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        all.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        expected.clone(),
        "query for {:?}",
        filter
    );
    for e in &all.entries {
        prop_assert_eq!(
            Some(e),
            model.get(e.seq as usize),
            "stored entry equals the model"
        );
    }

    // Page down with `limit`, then back up with the previous-page cursors.
    let mut pages: Vec<Vec<u64>> = Vec::new();
    let mut cursor: Option<Cursor> = None;
    let mut last_prev = None;
    loop {
        let page = store
            .query(
                tenant,
                &Query {
                    filter: filter.clone(),
                    limit,
                    cursor,
                },
            )
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            page.prev_cursor.is_some(),
            !pages.is_empty() && !page.entries.is_empty()
        );
        pages.push(page.entries.iter().map(|e| e.seq).collect());
        last_prev = page.prev_cursor.or(last_prev);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    prop_assert_eq!(
        pages.concat(),
        expected.clone(),
        "paging down with limit {}",
        limit
    );
    let mut up = Vec::new();
    let mut cursor = last_prev;
    while let Some(c) = cursor {
        let page = store
            .query(
                tenant,
                &Query {
                    filter: filter.clone(),
                    limit,
                    cursor: Some(c),
                },
            )
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        up.push(page.entries.iter().map(|e| e.seq).collect::<Vec<_>>());
        cursor = page.prev_cursor;
    }
    up.reverse();
    if pages.len() > 1 {
        prop_assert_eq!(
            up,
            pages[..pages.len() - 1].to_vec(),
            "paging back up with limit {}",
            limit
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn query_and_count_agree_with_a_naive_filter(
        chunks in prop::collection::vec(prop::collection::vec(new_entry(), 1..12), 1..4),
        specs in prop::collection::vec(filter_spec(), 1..10),
        limit in 1..6usize,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        runtime.block_on(async {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
            let tenant = store.create_tenant("acme").await.expect("tenant").id;
            // A second tenant with the same data must never leak into the first one's answers.
            let other = store.create_tenant("other").await.expect("tenant").id;
            let chunks = at_run_time(chunks, Timestamp::now());
            store.append(other, chunks.concat()).await.expect("append other");
            let model = load(&store, tenant, chunks).await;
            for spec in specs {
                check(&store, tenant, &model, spec, limit).await?;
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}
