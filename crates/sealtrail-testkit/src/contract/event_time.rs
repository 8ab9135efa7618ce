//! Cases on periods read on event time (`occurred_at`) and on receipt time (`recorded_at`).

use super::fixtures::*;
use sealtrail_core::entry::{LATE_AFTER_MILLIS, OCCURRED_AT_MAX_AHEAD_MILLIS};
use sealtrail_core::filter::{Filter, TimeBasis};
use sealtrail_core::{Entry, Timestamp};
use sealtrail_store::Store;
use std::sync::Arc;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// A late event, an import from last year, an event slightly ahead of the clock and timely
/// ones: an event-time period finds each in the period it happened in (whatever the receipt
/// time), a receipt-time period finds them when they arrived; pages stay newest-received
/// first, and counts agree with the pages, alone and with other filters.
pub async fn event_time_periods_find_late_and_imported_entries(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let before = Timestamp::now();
    let at = |millis: i64| Some(Timestamp(millis));
    let now = before.millis();
    let import = Timestamp::parse_rfc3339("2025-03-10T12:00:00Z").unwrap();
    let mut events = Vec::new();
    for (actor, occurred) in [
        ("timely", None),
        ("an-hour-ago", at(now - HOUR)),
        ("imported", Some(import)),
        ("three-days-late", at(now - 3 * DAY)),
        ("ahead", at(now + 2 * HOUR)),
        ("imported-too", Some(Timestamp(import.millis() + HOUR))),
    ] {
        let mut e = event("document.viewed", actor);
        e.occurred_at = occurred;
        events.push(e);
    }
    append(&store, t, events).await;
    let actors = |entries: &[Entry]| -> Vec<String> {
        entries
            .iter()
            .map(|e| e.actor.id.clone().unwrap_or_default())
            .collect()
    };
    let cases: Vec<(&str, Filter, Vec<&str>)> = vec![
        (
            "the import's day, on event time",
            Filter {
                from: Some(Timestamp::parse_rfc3339("2025-03-10T00:00:00Z").unwrap()),
                until: Some(Timestamp::parse_rfc3339("2025-03-11T00:00:00Z").unwrap()),
                ..Filter::default()
            },
            vec!["imported-too", "imported"],
        ),
        (
            "the import's day, on receipt time",
            Filter {
                from: Some(Timestamp::parse_rfc3339("2025-03-10T00:00:00Z").unwrap()),
                until: Some(Timestamp::parse_rfc3339("2025-03-11T00:00:00Z").unwrap()),
                time: TimeBasis::Recorded,
                ..Filter::default()
            },
            vec![],
        ),
        (
            "the last two days, on event time",
            Filter {
                from: at(now - 2 * DAY),
                ..Filter::default()
            },
            vec!["ahead", "an-hour-ago", "timely"],
        ),
        (
            "the last two days, on receipt time",
            Filter {
                from: at(now - 2 * DAY),
                time: TimeBasis::Recorded,
                ..Filter::default()
            },
            vec![
                "imported-too",
                "ahead",
                "three-days-late",
                "imported",
                "an-hour-ago",
                "timely",
            ],
        ),
        (
            "four to two days ago: only the late entry, found beyond the receipt window",
            Filter {
                from: at(now - 4 * DAY),
                until: at(now - 2 * DAY),
                ..Filter::default()
            },
            vec!["three-days-late"],
        ),
        (
            "up to an hour from now",
            Filter {
                until: at(now + HOUR),
                ..Filter::default()
            },
            vec![
                "imported-too",
                "three-days-late",
                "imported",
                "an-hour-ago",
                "timely",
            ],
        ),
        (
            "from an hour from now",
            Filter {
                from: at(now + HOUR),
                ..Filter::default()
            },
            vec!["ahead"],
        ),
        (
            "a period with nothing in it",
            Filter {
                from: at(now - 30 * DAY),
                until: at(now - 20 * DAY),
                ..Filter::default()
            },
            vec![],
        ),
        (
            "event time and an actor",
            Filter {
                from: Some(Timestamp::parse_rfc3339("2025-01-01T00:00:00Z").unwrap()),
                until: at(now - DAY),
                actor: Some("imported".into()),
                ..Filter::default()
            },
            vec!["imported"],
        ),
        (
            "a late entry's actor, by e-mail, found beyond the receipt window",
            Filter {
                from: at(now - 4 * DAY),
                until: at(now - 2 * DAY),
                actor: Some("three-days-late@example.com".into()),
                ..Filter::default()
            },
            vec!["three-days-late"],
        ),
        (
            "the last two days and an actor, by e-mail",
            Filter {
                from: at(now - 2 * DAY),
                actor: Some("an-hour-ago@example.com".into()),
                ..Filter::default()
            },
            vec!["an-hour-ago"],
        ),
    ];
    for (name, filter, expected) in cases {
        assert_eq!(
            count(&store, t, &filter).await,
            expected.len() as u64,
            "count: {name}"
        );
        for limit in [1, 2, 50] {
            let entries = all_pages(&store, t, &filter, limit).await;
            assert_eq!(actors(&entries), expected, "pages of {limit}: {name}");
        }
    }
    // The bounds the windows rely on are the ones ingest enforces.
    assert_eq!(OCCURRED_AT_MAX_AHEAD_MILLIS, DAY);
    assert_eq!(LATE_AFTER_MILLIS, DAY);
}
