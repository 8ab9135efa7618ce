//! A period on event time (`occurred_at`) as a seq range, for every backend.
//!
//! The log is ordered by receipt: `recorded_at` never decreases along seq, so a receipt-time
//! period is exactly one seq range, found through the `(tenant, recorded_at)` index. Event
//! time is not ordered, but it is bounded by receipt time on both sides for all but a few
//! entries, which is what makes an event-time period cheap:
//! - nothing happens more than [`OCCURRED_AT_MAX_AHEAD_MILLIS`] after it is received (ingest
//!   refuses it), so every entry of a period starting at `from` was received at or after
//!   `from` minus that: the range's first seq;
//! - an entry received more than [`LATE_AFTER_MILLIS`] after it happened is *late* and sits in
//!   the small partial index `entries_late`; every other entry of a period ending at `until`
//!   was received before `until` plus that: the range's end, unless `entries_late` holds an
//!   entry of the period beyond it (then the range runs to the head of the log).
//!
//! The period itself is then a condition on `occurred_at` over that range
//! ([`crate::conditions`]). Without a period, or on receipt time, nothing here applies.

use sealtrail_core::entry::{LATE_AFTER_MILLIS, OCCURRED_AT_MAX_AHEAD_MILLIS};
use sealtrail_core::filter::{Filter, TimeBasis};
use sealtrail_core::Timestamp;

/// The partial index's condition, word for word as both schemas write it: a planner uses a
/// partial index only for a query that repeats its condition.
pub(crate) const LATE_ENTRY: &str = "recorded_at > occurred_at + 86400000";

/// Where a filter's period lies in receipt time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReceiptWindow {
    /// The range starts at the first seq received at or after this.
    pub(crate) from: Option<Timestamp>,
    /// The range ends before the first seq received at or after this.
    pub(crate) until: Option<Timestamp>,
    /// For an event-time period with an end: the period (`[from, until)` on `occurred_at`)
    /// whose late entries beyond the range's end must be looked for. When one exists, the
    /// range runs to the head instead.
    pub(crate) late: Option<(Option<Timestamp>, Timestamp)>,
}

/// The receipt-time window holding every entry of `filter`'s period.
pub(crate) fn receipt_window(filter: &Filter) -> ReceiptWindow {
    match filter.time {
        TimeBasis::Recorded => ReceiptWindow {
            from: filter.from,
            until: filter.until,
            late: None,
        },
        TimeBasis::Occurred => ReceiptWindow {
            from: filter
                .from
                .map(|at| Timestamp(at.millis().saturating_sub(OCCURRED_AT_MAX_AHEAD_MILLIS))),
            until: filter
                .until
                .map(|at| Timestamp(at.millis().saturating_add(LATE_AFTER_MILLIS))),
            late: filter.until.map(|until| (filter.from, until)),
        },
    }
}

/// True when the filter's period reads event time, so `occurred_at` must be a condition.
pub(crate) fn filters_event_time(filter: &Filter) -> bool {
    filter.time == TimeBasis::Occurred && filter.has_period()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn the_late_condition_says_what_the_constant_says() {
        assert_eq!(
            LATE_ENTRY,
            format!("recorded_at > occurred_at + {LATE_AFTER_MILLIS}")
        );
    }

    #[test]
    fn an_event_time_period_widens_into_receipt_time_by_the_two_bounds() {
        let filter = Filter {
            from: Some(at("2026-11-28T00:00:00Z")),
            until: Some(at("2026-11-29T00:00:00Z")),
            ..Filter::default()
        };
        assert_eq!(
            receipt_window(&filter),
            ReceiptWindow {
                from: Some(at("2026-11-27T00:00:00Z")),
                until: Some(at("2026-11-30T00:00:00Z")),
                late: Some((filter.from, at("2026-11-29T00:00:00Z"))),
            }
        );
        assert!(filters_event_time(&filter));
        let received = Filter {
            time: TimeBasis::Recorded,
            ..filter.clone()
        };
        assert_eq!(
            receipt_window(&received),
            ReceiptWindow {
                from: filter.from,
                until: filter.until,
                late: None
            }
        );
        assert!(!filters_event_time(&received));
        // Open-ended ("the last 7 days"): the range runs to the head, no late check needed.
        let open = Filter {
            until: None,
            ..filter
        };
        assert_eq!(receipt_window(&open).late, None);
        assert!(!filters_event_time(&Filter::default()));
    }
}
