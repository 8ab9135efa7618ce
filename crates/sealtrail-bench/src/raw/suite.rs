//! The checks every baseline passes, written once over `&mut dyn RawEngine` so the SQLite and
//! PostgreSQL baselines are held to the same answers. Each check compares the engine with a
//! brute-force evaluation over the events it inserted.

use super::sql::COLUMNS;
use super::{RawCursor, RawEngine, RawError, RawFilter, RawRow};
use crate::workload::{terms, BenchEvent, Workload, WorkloadSpec};
use sealtrail_core::Timestamp;
use std::collections::HashSet;

const END: Timestamp = Timestamp(1_795_000_000_000);
/// Tenants of the generated data; tenant [`EMPTY`] has none.
const TENANTS: u32 = 3;
const EMPTY: u32 = 9;
const EVENTS: usize = 1_200;
const BATCH: usize = 64;

/// Hand-made descriptions stored in tenant 0, for substring and search edge cases.
const SPECIAL: [&str; 5] = [
    "quota at 50% of limit",
    "quota at 500 of limit",
    "key a_b rotated",
    "key axb rotated",
    "Role ASSIGNED to Bob",
];

/// One inserted entry as the test knows it.
struct Stored {
    tenant: u32,
    seq: i64,
    event: BenchEvent,
}

/// Everything inserted, for brute-force answers.
struct Model {
    rows: Vec<Stored>,
}

impl Model {
    /// The tenant's entries matching `keep`, newest first by (recorded_at, seq).
    fn newest(&self, tenant: u32, keep: impl Fn(&BenchEvent) -> bool) -> Vec<RawRow> {
        let mut rows: Vec<RawRow> = self
            .rows
            .iter()
            .filter(|s| s.tenant == tenant && keep(&s.event))
            .map(|s| RawRow {
                seq: s.seq,
                recorded_at: s.event.at.millis(),
            })
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse((r.recorded_at, r.seq)));
        rows
    }

    fn event(&self, tenant: u32, seq: i64) -> &BenchEvent {
        let found = self
            .rows
            .iter()
            .find(|s| s.tenant == tenant && s.seq == seq);
        &found
            .expect("the engine returned a seq it was never given")
            .event
    }
}

/// What `filter` selects, evaluated in Rust.
fn matches(filter: &RawFilter, e: &BenchEvent) -> bool {
    filter.action.as_deref().is_none_or(|a| a == e.action)
        && filter.result.as_deref().is_none_or(|r| r == e.result)
        && filter.actor_id.as_deref().is_none_or(|a| a == e.actor_id)
        && filter.since.is_none_or(|s| e.at.millis() >= s)
}

/// True when `description` holds `word` as a whole word, case-insensitively.
fn has_word(description: &str, word: &str) -> bool {
    description
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// Workload events over three tenants with shuffled times, four indices per instant (so a
/// tenant has ties that only `seq` orders, and `seq` order is not time order), plus
/// [`SPECIAL`] in tenant 0; inserted per tenant in batches.
fn load(engine: &mut dyn RawEngine) -> Model {
    let mut spec = WorkloadSpec::standard(11, EVENTS as u64, END);
    spec.tenants = TENANTS;
    spec.duplicate_rate = 0.0;
    let mut events: Vec<(u32, BenchEvent)> = Workload::new(spec)
        .enumerate()
        .map(|(i, s)| {
            let slot = (i * 7_919 % EVENTS / 4) as i64;
            let at = Timestamp(END.millis() - slot * 1_000);
            (s.tenant, BenchEvent { at, ..s.event })
        })
        .collect();
    let template = events[0].1.clone();
    for (k, description) in SPECIAL.iter().enumerate() {
        let event = BenchEvent {
            at: Timestamp(END.millis() - 5_000 - k as i64),
            description: description.to_string(),
            idempotency_key: format!("special-{k}"),
            ..template.clone()
        };
        events.push((0, event));
    }
    let mut rows = Vec::new();
    for tenant in 0..TENANTS {
        let mine: Vec<&BenchEvent> = events
            .iter()
            .filter(|(t, _)| *t == tenant)
            .map(|(_, e)| e)
            .collect();
        for (b, batch) in mine.chunks(BATCH).enumerate() {
            let first_seq = 1 + (b * BATCH) as i64;
            engine.insert_batch(tenant, first_seq, batch).unwrap();
            for (i, e) in batch.iter().enumerate() {
                let event = (*e).clone();
                let seq = first_seq + i as i64;
                rows.push(Stored { tenant, seq, event });
            }
        }
    }
    Model { rows }
}

/// Every page of `filter` with `size` rows per page, following cursors until an empty page.
fn all_pages(engine: &mut dyn RawEngine, tenant: u32, filter: &RawFilter) -> Vec<RawRow> {
    let (mut rows, mut after) = (Vec::new(), None::<RawCursor>);
    loop {
        let page = engine.newest(tenant, filter, after.as_ref(), 7).unwrap();
        assert!(page.len() <= 7, "a page exceeded its limit");
        let Some(last) = page.last() else {
            return rows;
        };
        // A cursor that does not advance would page forever: fail instead.
        if let (Some(cursor), Some(first)) = (&after, page.first()) {
            let below = (first.recorded_at, first.seq) < (cursor.recorded_at, cursor.seq);
            assert!(below, "page after {cursor:?} starts at {first:?}");
        }
        after = Some((*last).into());
        rows.extend(page);
    }
}

/// Newest-first order, every filter alone and combined, counts, cursor paging and tenant
/// isolation, all against brute force.
pub(crate) fn pages(engine: &mut dyn RawEngine) {
    let model = load(engine);
    let all = model.newest(0, |_| true);
    assert_eq!(
        engine.newest(0, &RawFilter::default(), None, 10).unwrap(),
        all[..10]
    );
    let ties = all.windows(2).any(|w| w[0].recorded_at == w[1].recorded_at);
    assert!(
        ties,
        "the data must hold same-instant entries to test the seq tie-break"
    );

    let times: Vec<i64> = all.iter().map(|r| r.recorded_at).collect();
    let pick = model.event(0, all[all.len() / 3].seq).clone();
    let text = |s: &str| Some(s.to_string());
    let single = [
        RawFilter {
            action: text("session.login"),
            ..RawFilter::default()
        },
        RawFilter {
            result: text("failure"),
            ..RawFilter::default()
        },
        RawFilter {
            actor_id: text(&pick.actor_id),
            ..RawFilter::default()
        },
        RawFilter {
            since: Some(times[times.len() / 2]),
            ..RawFilter::default()
        },
    ];
    let combined = [
        RawFilter {
            action: text("session.login"),
            result: text("success"),
            since: Some(times[times.len() / 2]),
            ..RawFilter::default()
        },
        RawFilter {
            action: text(pick.action),
            result: text(pick.result),
            actor_id: text(&pick.actor_id),
            since: Some(pick.at.millis()),
        },
    ];
    for filter in single.iter().chain(&combined) {
        for tenant in [0, 1, 2, EMPTY] {
            let expected = model.newest(tenant, |e| matches(filter, e));
            if tenant == 0 {
                let selective = !expected.is_empty() && expected.len() < all.len();
                assert!(
                    selective,
                    "{filter:?} selects {} of {}",
                    expected.len(),
                    all.len()
                );
            }
            let paged = all_pages(engine, tenant, filter);
            assert_eq!(paged, expected, "tenant {tenant}, {filter:?}");
            let distinct: HashSet<RawRow> = paged.iter().copied().collect();
            assert_eq!(distinct.len(), paged.len(), "pages overlap");
            let count = engine.count(tenant, filter).unwrap();
            assert_eq!(
                count,
                expected.len() as u64,
                "count, tenant {tenant}, {filter:?}"
            );
        }
    }
    assert_eq!(engine.count(EMPTY, &RawFilter::default()).unwrap(), 0);
}

/// Word search returns exactly the tenant's entries holding the word; substring search finds
/// infixes case-insensitively and takes `%` and `_` literally.
pub(crate) fn search_and_substring(engine: &mut dyn RawEngine) {
    let model = load(engine);
    let common = terms().common;
    for tenant in [0, 1, EMPTY] {
        let expected = model.newest(tenant, |e| has_word(&e.description, &common));
        assert_eq!(engine.search(tenant, &common, 10_000).unwrap(), expected);
    }
    let expected = model.newest(0, |e| has_word(&e.description, &common));
    assert!(
        expected.len() > 100,
        "the common term is in {} entries",
        expected.len()
    );
    assert_eq!(engine.search(0, &common, 5).unwrap(), expected[..5]);
    let upper = engine.search(0, &common.to_uppercase(), 5).unwrap();
    assert_eq!(upper, expected[..5], "search ignores case");

    // A word of tenant 1 that tenant 0 never used: the global index holds it, tenant 0 must
    // not see it.
    let theirs = model.rows.iter().filter(|s| s.tenant == 1);
    let word = theirs
        .filter_map(|s| s.event.description.split_once(": ").map(|(_, words)| words))
        .flat_map(|words| words.split(' ').map(String::from))
        .find(|w| model.newest(0, |e| has_word(&e.description, w)).is_empty())
        .expect("some word of tenant 1 is not in tenant 0");
    assert!(engine.search(0, &word, 50).unwrap().is_empty());
    assert!(!engine.search(1, &word, 50).unwrap().is_empty());
    let quota = model.newest(0, |e| has_word(&e.description, "quota"));
    assert_eq!(quota.len(), 2);
    assert_eq!(engine.search(0, "quota", 50).unwrap(), quota);
    let syntax = engine.search(0, "quota OR rotated", 50).unwrap();
    assert!(
        syntax.is_empty(),
        "query syntax in a term is not interpreted"
    );

    let contains = |needle: &str| {
        let needle = needle.to_lowercase();
        move |e: &BenchEvent| e.description.to_lowercase().contains(&needle)
    };
    for (needle, expected_len) in [("50%", Some(1)), ("a_b", Some(1)), ("ssigned", None)] {
        for tenant in [0, 1, EMPTY] {
            let expected = model.newest(tenant, contains(needle));
            let found = engine.substring(tenant, needle, 10_000).unwrap();
            assert_eq!(found, expected, "{needle:?} in tenant {tenant}");
            if let (0, Some(len)) = (tenant, expected_len) {
                assert_eq!(found.len(), len, "{needle:?} matched a wildcard");
            }
        }
    }
    let assigned = model.newest(0, contains("ssigned"));
    let special = model
        .rows
        .iter()
        .find(|s| s.event.description == SPECIAL[4]);
    let special = special.map(|s| s.seq).expect("the special entry is stored");
    assert!(
        assigned.iter().any(|r| r.seq == special),
        "infix match ignores case"
    );
    assert_eq!(engine.substring(0, "ssigned", 1).unwrap(), assigned[..1]);
}

/// The export holds every entry of the tenant oldest first with every column, and nothing of
/// other tenants.
pub(crate) fn export(engine: &mut dyn RawEngine) {
    let model = load(engine);
    let mut bytes = Vec::new();
    let written = engine.export_csv(0, &mut bytes).unwrap();
    let mut oldest = model.newest(0, |_| true);
    oldest.reverse();
    assert_eq!(written, oldest.len() as u64);

    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, COLUMNS);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), oldest.len());
    let mut ids = HashSet::new();
    for (record, row) in records.iter().zip(&oldest) {
        let cell = |name: &str| &record[COLUMNS.iter().position(|c| *c == name).unwrap()];
        assert_eq!(
            (cell("tenant"), cell("seq")),
            ("0", row.seq.to_string().as_str())
        );
        let e = model.event(0, row.seq);
        assert_eq!(cell("recorded_at"), e.at.to_rfc3339());
        assert_eq!(cell("occurred_at"), e.at.to_rfc3339());
        let texts = [
            ("action", e.action),
            ("result", e.result),
            ("actor_id", &e.actor_id),
            ("actor_email", e.actor_email.as_deref().unwrap_or("")),
            ("description", &e.description),
            ("target_name", &e.target_name),
            ("user_agent", e.user_agent),
            ("idempotency_key", &e.idempotency_key),
        ];
        for (name, value) in texts {
            assert_eq!(cell(name), value, "{name} of seq {}", row.seq);
        }
        let properties: serde_json::Value = serde_json::from_str(cell("properties")).unwrap();
        assert_eq!(properties, serde_json::Value::Object(e.properties.clone()));
        let id = uuid::Uuid::parse_str(cell("id")).unwrap();
        assert_eq!(id.get_version_num(), 7);
        assert!(ids.insert(id), "ids are unique");
    }

    let mut empty = Vec::new();
    assert_eq!(engine.export_csv(EMPTY, &mut empty).unwrap(), 0);
    let text = String::from_utf8(empty).unwrap();
    assert_eq!(text.trim_end(), COLUMNS.join(","));
}

/// Stores one generated event with idempotency key `key` as the tenant's next seq.
pub(crate) fn insert_one(engine: &mut dyn RawEngine, tenant: u32, key: &str) {
    let next = engine.count(tenant, &RawFilter::default()).unwrap() as i64 + 1;
    let event = BenchEvent {
        idempotency_key: key.to_string(),
        ..sample()
    };
    engine.insert_batch(tenant, next, &[&event]).unwrap();
}

fn sample() -> BenchEvent {
    let mut workload = Workload::new(WorkloadSpec::standard(5, 1, END));
    workload.next().expect("one event").event
}

/// A key the tenant holds is refused (and the whole batch with it, so nothing of it stays),
/// a seq the tenant holds likewise, while another tenant may use the same key.
pub(crate) fn idempotency(engine: &mut dyn RawEngine) {
    let keyed = |key: &str, description: &str| BenchEvent {
        idempotency_key: key.to_string(),
        description: description.to_string(),
        ..sample()
    };
    let (first, retry, other) = (keyed("k1", "first"), keyed("k1", "retry"), keyed("k2", "x"));
    engine.insert_batch(5, 1, &[&first]).unwrap();
    let refused = engine.insert_batch(5, 2, &[&other, &retry]);
    assert!(
        matches!(refused, Err(RawError::Conflict { tenant: 5, .. })),
        "{refused:?}"
    );
    assert_eq!(engine.count(5, &RawFilter::default()).unwrap(), 1);
    assert!(engine.substring(5, "retry", 10).unwrap().is_empty());
    engine.insert_batch(5, 2, &[&other]).unwrap();
    let same_seq = engine.insert_batch(5, 2, &[&keyed("k3", "y")]);
    assert!(
        matches!(same_seq, Err(RawError::Conflict { .. })),
        "{same_seq:?}"
    );
    engine.insert_batch(6, 1, &[&retry]).unwrap();
    assert_eq!(engine.count(5, &RawFilter::default()).unwrap(), 2);
    assert_eq!(engine.count(6, &RawFilter::default()).unwrap(), 1);
    assert_eq!(engine.substring(6, "retry", 10).unwrap().len(), 1);
    assert!(engine.name().starts_with("raw "));
}
