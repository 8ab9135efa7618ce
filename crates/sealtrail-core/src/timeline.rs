//! Entries over time: how many matched per hour or day (the store's tallies), folded into the
//! bars a chart above the table shows — per hour for a day or two, per day for a quarter, per
//! week or month beyond — stacked by outcome so failures and denials stand out.
//!
//! The store only counts (by UTC hour or day and outcome, on the filter's own clock); which
//! bar width fits the period and how empty stretches show (as empty bars, so a gap reads as a
//! gap) is decided here, once, for the API and the page.

use crate::entry::Outcome;
use crate::filter::Filter;
use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use time::{Date, Month, Time};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// What the store counts by: a UTC hour or a UTC day (of the filter's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TallyUnit {
    /// Hours since the epoch.
    Hour,
    /// Days since the epoch.
    Day,
}

impl TallyUnit {
    /// The unit's length in milliseconds (UTC has no leap seconds in Unix time).
    pub fn millis(self) -> i64 {
        match self {
            TallyUnit::Hour => HOUR,
            TallyUnit::Day => DAY,
        }
    }
}

/// How many matching entries had one outcome within one hour or day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tally {
    /// The start of the hour or day (UTC).
    pub start: Timestamp,
    /// The outcome counted.
    pub result: Outcome,
    /// Matching entries (never zero in a store's answer).
    pub count: u64,
}

/// How wide each bar is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BarWidth {
    /// One UTC hour: periods up to two days.
    Hour,
    /// One UTC day: up to 92 days.
    Day,
    /// Monday to Monday (UTC): up to two years.
    Week,
    /// A calendar month: up to twenty years.
    Month,
    /// A calendar year: anything longer (an import of decades).
    Year,
}

/// One bar: the entries of `[start, end)` by outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bar {
    /// Inclusive start; the period's own start for a first bar that begins inside it.
    pub start: Timestamp,
    /// Exclusive end; the period's own end for a last bar that ends inside it.
    pub end: Timestamp,
    /// Entries per outcome, in [`Outcome::ALL`] order.
    pub counts: [u64; 6],
}

impl Bar {
    /// Every entry of the bar.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Entries with this outcome.
    pub fn count(&self, result: Outcome) -> u64 {
        Outcome::ALL
            .iter()
            .position(|r| *r == result)
            .map_or(0, |i| self.counts[i])
    }
}

/// The chart's data: bars oldest first, covering the whole period without gaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Timeline {
    /// What one bar spans.
    pub width: BarWidth,
    /// Oldest first; empty when nothing matches and the period is open.
    pub bars: Vec<Bar>,
}

/// Counting by hour is for periods of two days at most; anything longer is counted by day
/// (and folded into weeks, months or years as it grows).
pub fn tally_unit(filter: &Filter, now: Timestamp) -> TallyUnit {
    match filter.from {
        Some(from) if filter.until.unwrap_or(now).millis() - from.millis() <= 2 * DAY => {
            TallyUnit::Hour
        }
        _ => TallyUnit::Day,
    }
}

/// The bars for `tallies` (counted by `unit`) over the filter's period: from its start (or the
/// earliest tally) to its end (or the later of now and the latest tally).
pub fn fold(tallies: &[Tally], unit: TallyUnit, filter: &Filter, now: Timestamp) -> Timeline {
    let earliest = tallies.iter().map(|t| t.start).min();
    // An open period ends now, or with the unit of the latest entry when that lies ahead (an
    // event up to a day ahead of the clock).
    let latest = tallies.iter().map(|t| t.start).max();
    let open_end = match latest {
        Some(l) if l >= now => Timestamp(l.millis() + unit.millis()),
        _ => now,
    };
    let lo = filter.from.or(earliest);
    let hi = filter.until.or(lo.map(|_| open_end));
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Timeline {
            width: width_for(unit, 0),
            bars: Vec::new(),
        };
    };
    let width = width_for(unit, hi.millis() - lo.millis());
    // Without a period start, the first bar is a whole one.
    let lo = if filter.from.is_some() {
        lo
    } else {
        floor(lo, width)
    };
    let mut bars = Vec::new();
    let mut start = floor(lo, width);
    while start < hi {
        let end = next(start, width);
        bars.push(Bar {
            start: start.max(lo),
            end: end.min(hi),
            counts: [0; 6],
        });
        start = end;
    }
    for tally in tallies {
        // A tally's unit may begin before the period when the period begins inside it (the
        // store counted only the entries within the period); one wholly before it is dropped.
        if tally.start.millis() + unit.millis() <= lo.millis() {
            continue;
        }
        let at = tally.start.max(lo);
        let i = bars.partition_point(|b| b.end <= at);
        if let (Some(bar), Some(r)) = (
            bars.get_mut(i),
            Outcome::ALL.iter().position(|r| *r == tally.result),
        ) {
            if at < bar.end {
                bar.counts[r] += tally.count;
            }
        }
    }
    Timeline { width, bars }
}

/// The widest useful bar for a span counted by `unit`: about 24 to 120 bars. Hours nest in
/// every wider bar, so hourly tallies of a long span fold into days and beyond too.
fn width_for(unit: TallyUnit, span: i64) -> BarWidth {
    match span {
        _ if unit == TallyUnit::Hour && span <= 2 * DAY => BarWidth::Hour,
        _ if span <= 92 * DAY => BarWidth::Day,
        _ if span <= 2 * 366 * DAY => BarWidth::Week,
        _ if span <= 20 * 366 * DAY => BarWidth::Month,
        _ => BarWidth::Year,
    }
}

/// The start of the bar holding `at`.
fn floor(at: Timestamp, width: BarWidth) -> Timestamp {
    let ms = at.millis();
    match width {
        BarWidth::Hour => Timestamp(ms - ms.rem_euclid(HOUR)),
        BarWidth::Day => Timestamp(ms - ms.rem_euclid(DAY)),
        // 1970-01-01 was a Thursday: Mondays fall 4 days after each multiple of 7 days.
        BarWidth::Week => Timestamp(ms - (ms - 4 * DAY).rem_euclid(7 * DAY)),
        BarWidth::Month | BarWidth::Year => {
            let date = at.to_datetime().date();
            let month = if width == BarWidth::Month {
                date.month()
            } else {
                Month::January
            };
            midnight(Date::from_calendar_date(date.year(), month, 1).unwrap_or(date))
        }
    }
}

/// The start of the bar after the one starting at `start`.
fn next(start: Timestamp, width: BarWidth) -> Timestamp {
    let ms = start.millis();
    match width {
        BarWidth::Hour => Timestamp(ms + HOUR),
        BarWidth::Day => Timestamp(ms + DAY),
        BarWidth::Week => Timestamp(ms + 7 * DAY),
        BarWidth::Month | BarWidth::Year => {
            let date = start.to_datetime().date();
            let (year, month) = match (width, date.month()) {
                (BarWidth::Year, _) => (date.year() + 1, Month::January),
                (_, Month::December) => (date.year() + 1, Month::January),
                (_, m) => (date.year(), m.next()),
            };
            match Date::from_calendar_date(year, month, 1) {
                Ok(d) => midnight(d),
                // Past year 9999: one more day keeps the loop finite.
                Err(_) => Timestamp(ms + DAY),
            }
        }
    }
}

fn midnight(date: Date) -> Timestamp {
    Timestamp::from_datetime(date.with_time(Time::MIDNIGHT).assume_utc())
}

/// The day (since the epoch) that `at` falls on, and the hour: what the store groups by.
pub fn unit_index(at: Timestamp, unit: TallyUnit) -> i64 {
    at.millis().div_euclid(unit.millis())
}

/// The start of a unit index, the inverse of [`unit_index`].
pub fn unit_start(index: i64, unit: TallyUnit) -> Timestamp {
    Timestamp(index.saturating_mul(unit.millis()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn tally(start: &str, result: Outcome, count: u64) -> Tally {
        Tally {
            start: at(start),
            result,
            count,
        }
    }

    #[test]
    fn a_day_is_counted_by_hour_and_gaps_are_empty_bars() {
        let now = at("2026-12-04T10:30:00Z");
        let filter = Filter {
            from: Some(at("2026-12-03T10:30:00Z")),
            ..Filter::default()
        };
        assert_eq!(tally_unit(&filter, now), TallyUnit::Hour);
        let tallies = [
            tally("2026-12-03T10:00:00Z", Outcome::Success, 4),
            tally("2026-12-03T14:00:00Z", Outcome::Failure, 2),
            tally("2026-12-04T10:00:00Z", Outcome::Denied, 1),
        ];
        let t = fold(&tallies, TallyUnit::Hour, &filter, now);
        assert_eq!(t.width, BarWidth::Hour);
        assert_eq!(t.bars.len(), 25, "10:30 to 10:30 touches 25 hours");
        assert_eq!(
            t.bars[0].start,
            at("2026-12-03T10:30:00Z"),
            "clipped to the period"
        );
        assert_eq!(t.bars[0].end, at("2026-12-03T11:00:00Z"));
        assert_eq!(t.bars[0].count(Outcome::Success), 4);
        assert_eq!(t.bars[4].count(Outcome::Failure), 2);
        assert_eq!(t.bars[24].count(Outcome::Denied), 1);
        assert_eq!(t.bars[24].end, now);
        assert_eq!(t.bars.iter().map(Bar::total).sum::<u64>(), 7);
        assert!(t.bars.windows(2).all(|w| w[0].end == w[1].start), "no gaps");
    }

    #[test]
    fn longer_periods_fold_days_into_weeks_months_and_years() {
        let now = at("2026-12-04T10:30:00Z");
        let from = |s: &str| Filter {
            from: Some(at(s)),
            ..Filter::default()
        };
        assert_eq!(
            tally_unit(&from("2026-11-04T00:00:00Z"), now),
            TallyUnit::Day
        );
        let tallies = [
            tally("2026-06-10T00:00:00Z", Outcome::Success, 3),
            tally("2026-06-11T00:00:00Z", Outcome::Warning, 1),
        ];
        let t = fold(&tallies, TallyUnit::Day, &from("2026-11-04T00:00:00Z"), now);
        assert_eq!((t.width, t.bars.len()), (BarWidth::Day, 31));
        assert_eq!(
            t.bars.iter().map(Bar::total).sum::<u64>(),
            0,
            "before the period"
        );

        let year = fold(&tallies, TallyUnit::Day, &from("2025-12-04T00:00:00Z"), now);
        assert_eq!(year.width, BarWidth::Week);
        let june = year
            .bars
            .iter()
            .find(|b| b.total() > 0)
            .expect("a week with entries");
        assert_eq!(
            june.start,
            at("2026-06-08T00:00:00Z"),
            "weeks start on Monday"
        );
        assert_eq!(
            (june.count(Outcome::Success), june.count(Outcome::Warning)),
            (3, 1)
        );

        // Any time: from the earliest tally to now.
        let imported = [tally("2019-03-10T00:00:00Z", Outcome::Success, 5)];
        let any = fold(&imported, TallyUnit::Day, &Filter::default(), now);
        assert_eq!(any.width, BarWidth::Month);
        assert_eq!(any.bars[0].start, at("2019-03-01T00:00:00Z"));
        assert_eq!(any.bars[0].total(), 5);
        assert_eq!(any.bars.last().map(|b| b.end), Some(now));
        let decades = [tally("1990-01-05T00:00:00Z", Outcome::Success, 1)];
        let t = fold(&decades, TallyUnit::Day, &Filter::default(), now);
        assert_eq!((t.width, t.bars.len()), (BarWidth::Year, 37));
    }

    #[test]
    fn nothing_matching_in_an_open_period_has_no_bars() {
        let now = at("2026-12-04T10:30:00Z");
        let t = fold(&[], TallyUnit::Day, &Filter::default(), now);
        assert!(t.bars.is_empty());
        let t = fold(
            &[],
            TallyUnit::Day,
            &Filter {
                from: Some(at("2026-12-01T00:00:00Z")),
                ..Filter::default()
            },
            now,
        );
        assert_eq!(t.bars.len(), 4, "a period shows its empty days");
    }

    #[test]
    fn unit_indexes_round_trip() {
        let t = at("2026-12-04T10:30:00Z");
        let day = unit_index(t, TallyUnit::Day);
        assert_eq!(unit_start(day, TallyUnit::Day), at("2026-12-04T00:00:00Z"));
        let hour = unit_index(t, TallyUnit::Hour);
        assert_eq!(
            unit_start(hour, TallyUnit::Hour),
            at("2026-12-04T10:00:00Z")
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        const NOW: i64 = 1_796_378_400_000; // 2026-12-04T10:00:00Z

        proptest! {
            /// Bars tile the period without gaps or overlaps, and hold exactly the tallies
            /// that fall inside it, whatever the period, the unit and the tallies.
            #[test]
            fn bars_tile_the_period_and_keep_every_tally_inside_it(
                offsets in prop::collection::vec((-4_000i64..48, 0usize..6, 1u64..50), 0..40),
                from in prop::option::of(-4_000i64..0),
                length in prop::option::of(1i64..4_000),
                hourly in any::<bool>(),
            ) {
                let unit = if hourly { TallyUnit::Hour } else { TallyUnit::Day };
                let tallies: Vec<Tally> = offsets
                    .iter()
                    .map(|(o, r, n)| Tally {
                        start: unit_start(unit_index(Timestamp(NOW + o * HOUR), unit), unit),
                        result: Outcome::ALL[*r],
                        count: *n,
                    })
                    .collect();
                let filter = Filter {
                    from: from.map(|f| Timestamp(NOW + f * HOUR + 1_234)),
                    until: from.zip(length).map(|(f, l)| Timestamp(NOW + (f + l) * HOUR)),
                    ..Filter::default()
                };
                let t = fold(&tallies, unit, &filter, Timestamp(NOW));
                prop_assert!(t.bars.len() <= 2_000, "{} bars", t.bars.len());
                prop_assert!(t.bars.windows(2).all(|w| w[0].end == w[1].start));
                prop_assert!(t.bars.iter().all(|b| b.start < b.end));
                if let Some(first) = t.bars.first() {
                    if let Some(from) = filter.from {
                        prop_assert_eq!(first.start, from);
                    }
                }
                let (lo, hi) = match (t.bars.first(), t.bars.last()) {
                    (Some(f), Some(l)) => (f.start.millis(), l.end.millis()),
                    _ => (0, 0),
                };
                let inside: u64 = tallies
                    .iter()
                    .filter(|x| x.start.millis() + unit.millis() > lo && x.start.millis() < hi)
                    .map(|x| x.count)
                    .sum();
                let drawn: u64 = t.bars.iter().map(Bar::total).sum();
                prop_assert_eq!(drawn, inside);
                if filter.from.is_none() {
                    prop_assert_eq!(drawn, tallies.iter().map(|x| x.count).sum::<u64>());
                }
            }
        }
    }
}
