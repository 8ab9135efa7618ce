//! Entries per UTC hour or day and outcome (the timeline above the table), for every backend.
//!
//! A scan groups the matching entries (the filter's seq range and conditions, as a page reads
//! them) by unit and outcome: fine for a selective filter or a short period. The common
//! views — the whole log, a period, an outcome — would scan a large tenant's every entry, so
//! the writer also keeps a **day rollup**: a facet row of kind `day` per (event-time day,
//! outcome), added with the other facet counts and subtracted by pruning. Such a view reads
//! the rollup for its whole days and scans only the part-days at a period's edges (a preset
//! such as "last 7 days" starts mid-day), so the answer is exact either way.

use crate::event_time::filters_event_time;
use sealtrail_core::filter::{Filter, TimeBasis};
use sealtrail_core::timeline::{unit_index, unit_start, Tally, TallyUnit};
use sealtrail_core::{Outcome, Timestamp};

/// The facet kind of the day rollup.
pub(crate) const DAY_KIND: &str = "day";

/// The rollup value of one day and outcome: fixed-width digits first, so text order is day
/// order and a range of days is a range of values (`0020791/success`).
pub(crate) fn day_value(occurred_at: Timestamp, result: Outcome) -> String {
    format!(
        "{:07}/{}",
        unit_index(occurred_at, TallyUnit::Day),
        result.as_str()
    )
}

/// A day after any a timestamp can name (9999-12-31 is day 2,932,896): an open end.
pub(crate) const LAST_DAY: i64 = 9_999_999;

/// The lowest rollup value of `day` (any outcome sorts after it), for range bounds.
pub(crate) fn day_bound(day: i64) -> String {
    format!("{day:07}/")
}

/// A stored rollup value back as a tally; `None` for a value this build cannot read.
pub(crate) fn rollup_tally(value: &str, count: i64) -> Option<Tally> {
    let (day, result) = value.split_once('/')?;
    Some(Tally {
        start: unit_start(day.parse().ok()?, TallyUnit::Day),
        result: result.parse().ok()?,
        count: u64::try_from(count).ok().filter(|n| *n > 0)?,
    })
}

/// How a backend answers the tallies of one filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// Scan the filter's matching entries, grouping by `unit`.
    Scan,
    /// Read the rollup for days `[first, end)` (either side open), with an outcome when the
    /// filter names one, and scan each edge filter (part-days) by day.
    Rollup {
        /// First whole day, or `None` from the log's start.
        first: Option<i64>,
        /// Day after the last whole day, or `None` to the end.
        end: Option<i64>,
        /// Only this outcome.
        result: Option<Outcome>,
        /// The part-days at the period's edges, each a filter to scan.
        edges: Vec<Filter>,
    },
}

/// The cheapest exact way to tally `filter` by `unit`.
pub(crate) fn plan(filter: &Filter, unit: TallyUnit) -> Plan {
    let only_time_and_result = Filter {
        from: None,
        until: None,
        time: TimeBasis::Occurred,
        result: None,
        ..filter.clone()
    } == Filter::default();
    let event_time = filter.time == TimeBasis::Occurred || !filter.has_period();
    if unit != TallyUnit::Day || !only_time_and_result || !event_time {
        return Plan::Scan;
    }
    let day = TallyUnit::Day.millis();
    let first = filter
        .from
        .map(|f| f.millis().div_euclid(day) + i64::from(f.millis() % day != 0));
    let end = filter.until.map(|u| u.millis().div_euclid(day));
    let mut edges = Vec::new();
    if let (Some(first), Some(end)) = (first, end) {
        if first >= end {
            // The whole period lies within one day (or two part-days): scan it.
            return Plan::Scan;
        }
    }
    if let (Some(from), Some(first)) = (filter.from, first) {
        let whole = unit_start(first, TallyUnit::Day);
        if from < whole {
            edges.push(Filter {
                until: Some(whole),
                ..filter.clone()
            });
        }
    }
    if let (Some(until), Some(end)) = (filter.until, end) {
        let whole = unit_start(end, TallyUnit::Day);
        if whole < until {
            edges.push(Filter {
                from: Some(whole),
                ..filter.clone()
            });
        }
    }
    debug_assert!(edges.iter().all(filters_event_time));
    Plan::Rollup {
        first,
        end,
        result: filter.result,
        edges,
    }
}

/// The answer of a [`Plan::Rollup`]: the rollup's tallies (and a backend's entries not yet in
/// it), only of `result` when the filter names one, plus each edge as `scan` tallies it by day.
pub(crate) fn rollup_answer<E>(
    stored: impl IntoIterator<Item = Tally>,
    result: Option<Outcome>,
    edges: &[Filter],
    mut scan: impl FnMut(&Filter) -> Result<Vec<Tally>, E>,
) -> Result<Vec<Tally>, E> {
    let mut out: Vec<Tally> = stored
        .into_iter()
        .filter(|t| result.is_none_or(|r| t.result == r))
        .collect();
    for edge in edges {
        out.extend(scan(edge)?);
    }
    Ok(out)
}

/// True when a count of `filter` is best summed from the rollup: a period on event time or
/// an outcome and nothing else. (Without either, a count is the log's length; with any other
/// filter, the entries are scanned.)
pub(crate) fn counts_from_rollup(filter: &Filter) -> bool {
    (filter.has_period() || filter.result.is_some())
        && matches!(plan(filter, TallyUnit::Day), Plan::Rollup { .. })
}

/// The event-time bounds of the whole days `[first, end)` (open sides as the extremes).
pub(crate) fn whole_days(first: Option<i64>, end: Option<i64>) -> (i64, i64) {
    let day = TallyUnit::Day.millis();
    (
        first.map_or(i64::MIN, |d| d.saturating_mul(day)),
        end.map_or(i64::MAX, |d| d.saturating_mul(day)),
    )
}

/// The column a scan groups by: the filter's own clock.
pub(crate) fn time_column(filter: &Filter) -> &'static str {
    match filter.time {
        TimeBasis::Occurred => "e.occurred_at",
        TimeBasis::Recorded => "e.recorded_at",
    }
}

/// A scanned group back as a tally; `None` for an outcome this build cannot read.
pub(crate) fn scanned_tally(
    unit_index: i64,
    unit: TallyUnit,
    result: &str,
    count: i64,
) -> Option<Tally> {
    Some(Tally {
        start: unit_start(unit_index, unit),
        result: result.parse().ok()?,
        count: u64::try_from(count).ok().filter(|n| *n > 0)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn rollup_values_sort_by_day_and_read_back() {
        let v = day_value(at("2026-12-04T10:30:00Z"), Outcome::Denied);
        assert_eq!(v, "0020791/denied");
        assert!(day_bound(20791) < v && v < day_bound(20792));
        assert_eq!(
            rollup_tally(&v, 3),
            Some(Tally {
                start: at("2026-12-04T00:00:00Z"),
                result: Outcome::Denied,
                count: 3
            })
        );
        assert_eq!(rollup_tally("0020791/meh", 3), None);
        assert_eq!(rollup_tally(&v, 0), None);
    }

    #[test]
    fn whole_days_come_from_the_rollup_and_part_days_are_scanned() {
        let seven_days = Filter {
            from: Some(at("2026-11-27T10:30:00Z")),
            ..Filter::default()
        };
        let Plan::Rollup {
            first,
            end,
            edges,
            result,
        } = plan(&seven_days, TallyUnit::Day)
        else {
            panic!("a period alone reads the rollup");
        };
        assert_eq!((first, end, result), (Some(20785), None, None));
        assert_eq!(edges.len(), 1);
        assert_eq!(edges[0].from, seven_days.from);
        assert_eq!(edges[0].until, Some(at("2026-11-28T00:00:00Z")));

        let dates = Filter {
            from: Some(at("2026-11-01T00:00:00Z")),
            until: Some(at("2026-12-01T00:00:00Z")),
            result: Some(Outcome::Failure),
            ..Filter::default()
        };
        assert_eq!(
            plan(&dates, TallyUnit::Day),
            Plan::Rollup {
                first: Some(20758),
                end: Some(20788),
                result: Some(Outcome::Failure),
                edges: vec![]
            }
        );
        assert!(matches!(
            plan(&Filter::default(), TallyUnit::Day),
            Plan::Rollup {
                first: None,
                end: None,
                ..
            }
        ));
        // Anything else is scanned: other filters, receipt time, hours, a part-day.
        let actor = Filter {
            actor: Some("u1".into()),
            ..Filter::default()
        };
        let received = Filter {
            time: TimeBasis::Recorded,
            ..dates.clone()
        };
        let part_day = Filter {
            from: Some(at("2026-11-27T10:30:00Z")),
            until: Some(at("2026-11-27T18:00:00Z")),
            ..Filter::default()
        };
        for f in [&actor, &received, &part_day] {
            assert_eq!(plan(f, TallyUnit::Day), Plan::Scan);
        }
        assert_eq!(plan(&dates, TallyUnit::Hour), Plan::Scan);
        assert!(counts_from_rollup(&dates) && counts_from_rollup(&seven_days));
        assert!(
            !counts_from_rollup(&Filter::default()),
            "the log's length is cheaper"
        );
        assert!(!counts_from_rollup(&actor) && !counts_from_rollup(&received));
        assert_eq!(
            whole_days(Some(20758), None),
            (at("2026-11-01T00:00:00Z").millis(), i64::MAX)
        );
    }
}
