//! Cases on the timeline's tallies: per hour or day and outcome, exactly what the entries say,
//! whether a backend reads its day rollup or scans, before and after a prune.

use super::fixtures::*;
use sealtrail_core::entry::Outcome;
use sealtrail_core::filter::{Filter, TimeBasis};
use sealtrail_core::timeline::{unit_index, Tally, TallyUnit};
use sealtrail_core::{Entry, Timestamp};
use sealtrail_store::{PruneOrder, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// What the tallies must be: the matching entries grouped by hour or day of the filter's clock.
fn expected(
    entries: &[Entry],
    filter: &Filter,
    unit: TallyUnit,
) -> BTreeMap<(i64, &'static str), u64> {
    let mut out = BTreeMap::new();
    for e in entries {
        let at = match filter.time {
            TimeBasis::Occurred => e.occurred_at,
            TimeBasis::Recorded => e.recorded_at,
        };
        *out.entry((unit_index(at, unit), e.result.as_str()))
            .or_insert(0) += 1;
    }
    out
}

fn summed(tallies: &[Tally], unit: TallyUnit) -> BTreeMap<(i64, &'static str), u64> {
    let mut out = BTreeMap::new();
    for t in tallies {
        assert!(t.count > 0, "no zero tallies: {t:?}");
        assert_eq!(t.start.millis() % unit.millis(), 0, "unit-aligned: {t:?}");
        *out.entry((unit_index(t.start, unit), t.result.as_str()))
            .or_insert(0) += t.count;
    }
    out
}

async fn check(store: &Arc<dyn Store>, t: sealtrail_core::TenantId, name: &str, filter: Filter) {
    for unit in [TallyUnit::Hour, TallyUnit::Day] {
        let matching = all_pages(store, t, &filter, 1000).await;
        let tallies = match store.tallies(t, &filter, unit).await {
            Ok(tallies) => tallies,
            Err(e) => panic!("tallies {name}: {e}"),
        };
        assert_eq!(
            summed(&tallies, unit),
            expected(&matching, &filter, unit),
            "{name} by {unit:?}"
        );
    }
}

/// Entries spread over days (imports, late and timely ones, several outcomes): the tallies of
/// the whole log, of periods starting and ending mid-day, of one outcome, of other filters and
/// on receipt time all equal the entries' own grouping; a prune takes its entries out of them.
pub async fn tallies_count_every_entry_by_hour_day_and_outcome(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    let now = Timestamp::now().millis();
    let mut old = Vec::new();
    for i in 0..12 {
        let mut e = dataset_entry(i);
        e.occurred_at = Some(Timestamp(now - 400 * DAY + i as i64 * 7 * HOUR));
        e.result = Outcome::ALL[i % 3];
        old.push(e);
    }
    append(&store, t, old.clone()).await;
    append(&store, other, old).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut recent = Vec::new();
    for i in 0..24 {
        let mut e = dataset_entry(i);
        e.occurred_at = (i % 4 != 0).then(|| Timestamp(now - (i as i64) * 5 * HOUR));
        e.result = Outcome::ALL[i % 4];
        recent.push(e);
    }
    let acks = append(&store, t, recent).await;

    let mid_day = |ms: i64| Some(Timestamp(ms - ms.rem_euclid(DAY) + 10 * HOUR + 1_234));
    let cases = [
        ("the whole log", Filter::default()),
        (
            "since a mid-day",
            Filter {
                from: mid_day(now - 3 * DAY),
                ..Filter::default()
            },
        ),
        (
            "between two mid-days, failures only",
            Filter {
                from: mid_day(now - 401 * DAY),
                until: mid_day(now - DAY),
                result: Some(Outcome::Failure),
                ..Filter::default()
            },
        ),
        (
            "within one day",
            Filter {
                from: mid_day(now - 2 * DAY),
                until: Some(Timestamp(
                    mid_day(now - 2 * DAY).unwrap().millis() + 5 * HOUR,
                )),
                ..Filter::default()
            },
        ),
        (
            "an actor",
            Filter {
                actor: Some("u1".into()),
                ..Filter::default()
            },
        ),
        (
            "on receipt time",
            Filter {
                from: Some(Timestamp(now - DAY)),
                time: TimeBasis::Recorded,
                ..Filter::default()
            },
        ),
    ];
    for (name, filter) in &cases {
        check(&store, t, name, filter.clone()).await;
    }

    // A prune of the old entries takes them out of every tally.
    let cutoff = acks[0].recorded_at;
    if let Err(e) = store.prune(t, &PruneOrder::at(cutoff)).await {
        panic!("prune: {e}");
    }
    for (name, filter) in cases {
        check(&store, t, &format!("after the prune: {name}"), filter).await;
    }
    let whole = store
        .tallies(t, &Filter::default(), TallyUnit::Day)
        .await
        .unwrap_or_default();
    assert!(
        whole.iter().all(|x| x.start.millis() > now - 300 * DAY),
        "nothing of the pruned year is left: {whole:?}"
    );
}
