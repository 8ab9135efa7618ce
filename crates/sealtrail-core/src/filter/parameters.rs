//! The list's filter and paging parameters as one table: [`super::parse_query`] accepts exactly
//! the names listed here, and the API's description (the OpenAPI document) is written from
//! the same table, so what is documented and what is accepted cannot part ways.

use super::{Query, PRESETS};

/// What values a parameter takes, as a document describes it to a client or a fuzzer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterKind {
    /// Free text (trimmed; empty means "not given").
    Text,
    /// Free text that may be given several times, any value matching.
    RepeatableText,
    /// One of a fixed set of words (the empty string means "not given").
    OneOf(&'static [&'static str]),
    /// A whole number in an inclusive range.
    Integer {
        /// Smallest value accepted.
        min: u64,
        /// Largest value accepted.
        max: u64,
    },
    /// An RFC 3339 instant or a `YYYY-MM-DD` date (UTC).
    Instant,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// An opaque cursor from a previous page.
    Cursor,
}

/// One documented query parameter of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parameter {
    /// The query parameter's name.
    pub name: &'static str,
    /// What it selects, for the reader of the API's description.
    pub description: &'static str,
    /// The values it takes.
    pub kind: ParameterKind,
}

const fn param(name: &'static str, description: &'static str, kind: ParameterKind) -> Parameter {
    Parameter {
        name,
        description,
        kind,
    }
}

/// `range` also takes `any`, the page's explicit "Any time".
const RANGES: [&str; 7] = [
    PRESETS[0], PRESETS[1], PRESETS[2], PRESETS[3], PRESETS[4], PRESETS[5], "any",
];

/// The result badges a `result` filter names (see [`crate::entry::Outcome::ALL`]).
const RESULTS: [&str; 6] = [
    "success", "failure", "denied", "warning", "approved", "allowed",
];

/// Every filter and paging parameter of `GET /v1/events` and the requests that share its
/// filters (counts, timeline, exports). `properties.<name>=<value>` is accepted besides these,
/// for any property name of letters, digits, `_` and `-`.
pub const PARAMETERS: &[Parameter] = &[
    param("from", "Start of the period (inclusive): an RFC 3339 instant or a YYYY-MM-DD date.", ParameterKind::Instant),
    param("to", "End of the period: an RFC 3339 instant (exclusive) or a YYYY-MM-DD date (that whole day included).", ParameterKind::Instant),
    param("range", "A named period ending now; cannot be combined with from/to. `any` means no period.", ParameterKind::OneOf(&RANGES)),
    param("time", "Which time the period applies to: the event's own (`occurred`, the default) or its receipt (`recorded`).", ParameterKind::OneOf(&["occurred", "recorded"])),
    param("actor", "An actor's id, name or e-mail, matched exactly.", ParameterKind::Text),
    param("action", "An action (`member.role_changed`), every action under a prefix (`member.*`), or every action starting with some text (`member.ro*`).", ParameterKind::Text),
    param("event", "The badge kind (`created`, `updated`, `deleted`, `read`, `other` or a producer's own); repeat for any of several.", ParameterKind::RepeatableText),
    param("channel", "The log area (`auth`, `billing`, ...).", ParameterKind::Text),
    param("subject", "Another name of `channel`.", ParameterKind::Text),
    param("category", "The grouping label; repeat for any of several.", ParameterKind::RepeatableText),
    param("target_type", "The type of any of the entry's targets.", ParameterKind::Text),
    param("target_id", "The id of any of the entry's targets.", ParameterKind::Text),
    param("target_name", "The name of any of the entry's targets.", ParameterKind::Text),
    param("result", "The outcome badge.", ParameterKind::OneOf(&RESULTS)),
    param("ip", "The client address the action came from.", ParameterKind::IpAddress),
    param("system", "Only actions of system actors (`true`), or any (`false`, the default).", ParameterKind::OneOf(&["true", "false", "1", "0"])),
    param("q", "Words or parts of words to find in descriptions, actions, actor names and e-mails, targets and properties.", ParameterKind::Text),
    param("search", "Another name of `q`.", ParameterKind::Text),
    param("limit", "Entries per page.", ParameterKind::Integer { min: 1, max: Query::MAX_LIMIT as u64 }),
    param("cursor", "`next_cursor` or `prev_cursor` of the page before.", ParameterKind::Cursor),
];

/// Whether `name` is one of [`PARAMETERS`].
pub fn is_parameter(name: &str) -> bool {
    PARAMETERS.iter().any(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse_query;
    use crate::Timestamp;

    /// A value the parameter accepts that changes the parsed query.
    fn sample(p: &Parameter) -> &'static str {
        match p.kind {
            ParameterKind::Text | ParameterKind::RepeatableText => "value",
            ParameterKind::OneOf(values) => values[0],
            ParameterKind::Integer { .. } => "7",
            ParameterKind::Instant => "2026-01-02",
            ParameterKind::IpAddress => "192.0.2.1",
            ParameterKind::Cursor => "",
        }
    }

    #[test]
    fn every_documented_parameter_is_accepted() {
        for p in PARAMETERS {
            let params = vec![(p.name.to_string(), sample(p).to_string())];
            assert!(
                parse_query(&params, Timestamp::now(), &[]).is_ok(),
                "{} is documented but refused",
                p.name
            );
        }
    }

    #[test]
    fn a_parameter_the_table_does_not_list_is_refused() {
        for name in ["acter", "tenant", "seq", "format", "count"] {
            let params = vec![(name.to_string(), "x".to_string())];
            let refused = parse_query(&params, Timestamp::now(), &[]).unwrap_err();
            assert_eq!(refused.param, name);
        }
    }

    #[test]
    fn the_table_lists_every_outcome_and_period() {
        for outcome in crate::entry::Outcome::ALL {
            assert!(RESULTS.contains(&outcome.as_str()));
        }
        for preset in PRESETS {
            assert!(RANGES.contains(&preset));
        }
    }
}
