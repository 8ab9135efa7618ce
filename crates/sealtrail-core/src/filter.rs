//! The query language: one [`Filter`] type parsed once from URL query parameters and shared by
//! the HTTP API, the CLI, exports and every store backend, so "export exactly what is on screen"
//! holds by construction.

mod parameters;
pub use parameters::{is_parameter, Parameter, ParameterKind, PARAMETERS};

use crate::entry::Outcome;
use crate::timestamp::Timestamp;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, Time};

/// How the `action` filter matches: `user.created` exactly, or `user.*` as a dotted prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionMatch {
    /// Matches this action only, not the actions below it.
    Exact(String),
    /// Matches the prefix itself and anything below it: `user` matches `user` and `user.created`.
    /// Written `user.*`.
    Prefix(String),
    /// Matches every action starting with these characters, across segment boundaries:
    /// `evid*` matches `evidence.uploaded`, `evidence.verdict_*` matches
    /// `evidence.verdict_set`. Written as text ending in `*` (but not `.*`).
    StartsWith(String),
}

/// Reads an `action` value: exact, `user.*` (the segment and everything below it), or text
/// ending in `*` (every action starting with that text). A `*` anywhere else would silently
/// match nothing, so it is refused naming what is allowed.
fn action_pattern(value: String) -> Result<ActionMatch, ParamError> {
    let pattern = match value.strip_suffix(".*") {
        Some(segment) if segment == "*" || segment.is_empty() => ActionMatch::Prefix(String::new()),
        Some(segment) => ActionMatch::Prefix(segment.to_string()),
        None => match value.strip_suffix('*') {
            Some(start) => ActionMatch::StartsWith(start.to_string()),
            None => ActionMatch::Exact(value.clone()),
        },
    };
    let rest = match &pattern {
        ActionMatch::Exact(a) | ActionMatch::Prefix(a) | ActionMatch::StartsWith(a) => a,
    };
    if rest.contains('*') {
        return Err(param_error(
            "action",
            "may hold `*` only at its end: `evidence.*` (that segment and below it) or \
             `evid*` (every action starting with `evid`)",
        ));
    }
    Ok(pattern)
}

/// Which clock a period (`from`/`to`/`range`) reads. The log's order, cursors and retention
/// always follow receipt (`recorded_at`, which never decreases along seq); only which entries
/// fall inside a period depends on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeBasis {
    /// The event's own time (`occurred_at`): an event sent late, or imported from last year,
    /// falls in the day it happened. What an auditor's "events of 28 November" means.
    #[default]
    Occurred,
    /// When Sealtrail received it (`recorded_at`): "what arrived during the outage".
    Recorded,
}

impl TimeBasis {
    /// The spelling of the `time` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeBasis::Occurred => "occurred",
            TimeBasis::Recorded => "recorded",
        }
    }
}

/// Every way to narrow the log. Empty fields do not filter.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Filter {
    /// Inclusive lower bound on the event time (or receipt time; see `time`).
    pub from: Option<Timestamp>,
    /// Exclusive upper bound on the same clock (a `to` date means "through the end of that day").
    pub until: Option<Timestamp>,
    /// Which clock `from` and `until` read: the event's own time unless `time=recorded`.
    #[serde(default)]
    pub time: TimeBasis,
    /// Matches the actor's id or e-mail exactly.
    pub actor: Option<String>,
    /// `None` matches every action; see [`ActionMatch`] for exact and prefix forms.
    pub action: Option<ActionMatch>,
    /// Badge kinds, such as `deleted`: an entry matches any of them (`event` may repeat in
    /// the URL); empty matches every kind.
    pub event: Vec<String>,
    /// Exact channel; the `subject` query parameter sets it too, as the web page calls it that.
    pub channel: Option<String>,
    /// Category labels, such as "Policy Changes": any of them (`category` may repeat, as seed
    /// 004 exports "Policy Changes" and "Agent Operations" together); empty matches every one.
    pub category: Vec<String>,
    /// Match any target, not only the primary one.
    pub target_type: Option<String>,
    /// Exact target id; with the other target fields, all must hold for one and the same target.
    pub target_id: Option<String>,
    /// Exact target name; like the other target fields it must match the same target.
    pub target_name: Option<String>,
    /// Exact outcome, parsed from its wire spelling so an unknown value is refused up front.
    pub result: Option<Outcome>,
    /// Client IP in canonical text form, so it compares equal to what ingest stored.
    pub ip: Option<String>,
    /// Only entries whose actor is not a person: `system`, `api` and `integration` actors (the
    /// "System" filter isolates automation, integrations and API callers together).
    pub system_only: bool,
    /// `properties.<key>=value`: the property's scalar value, rendered as text, equals `value`.
    pub properties: Vec<(String, String)>,
    /// Free text: every word must occur in a word of the description, actor e-mail/name or
    /// action (anywhere inside it for three characters or more, at its start for fewer).
    pub text: Option<String>,
}

impl Filter {
    /// True when a period bounds the filter (either end): only then does its clock matter.
    pub fn has_period(&self) -> bool {
        self.from.is_some() || self.until.is_some()
    }

    /// True when no field narrows the log (the page hides its Clear link then). Which clock
    /// a period reads narrows nothing without a period.
    pub fn is_empty(&self) -> bool {
        *self
            == Filter {
                time: self.time,
                ..Filter::default()
            }
    }
}

/// Which way a cursor pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Entries older than the cursor (the "next page" in a newest-first list).
    Older,
    /// Entries newer than the cursor (the "previous page").
    Newer,
}

/// Keyset position: stable while new entries arrive, unlike offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The seq of the last entry shown on the current page, in the direction of travel.
    pub seq: u64,
    /// Which side of `seq` the next page lies on.
    pub direction: Direction,
}

/// Why a cursor string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cursor is not one this server issued")]
pub struct CursorError;

impl Cursor {
    /// Opaque text form so clients do not build cursors by hand.
    pub fn encode(&self) -> String {
        let dir = match self.direction {
            Direction::Older => 'o',
            Direction::Newer => 'n',
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1{dir}{}", self.seq))
    }

    /// Parses what [`Cursor::encode`] produced.
    pub fn decode(s: &str) -> Result<Self, CursorError> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| CursorError)?;
        let text = std::str::from_utf8(&raw).map_err(|_| CursorError)?;
        let rest = text.strip_prefix("v1").ok_or(CursorError)?;
        let mut chars = rest.chars();
        let direction = match chars.next() {
            Some('o') => Direction::Older,
            Some('n') => Direction::Newer,
            _ => return Err(CursorError),
        };
        let digits = chars.as_str();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CursorError);
        }
        let seq = digits.parse().map_err(|_| CursorError)?;
        Ok(Cursor { seq, direction })
    }
}

/// One page request: newest first, `limit` entries, optionally continuing from a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// Which entries to match; `Filter::default()` matches the whole log.
    pub filter: Filter,
    /// 1..=[`Query::MAX_LIMIT`].
    pub limit: usize,
    /// `None` asks for the first (newest) page.
    pub cursor: Option<Cursor>,
}

impl Query {
    /// Default page size: what an admin page shows.
    pub const DEFAULT_LIMIT: usize = 50;
    /// Largest page a client may ask for; exports stream instead of paging.
    pub const MAX_LIMIT: usize = 1000;
}

/// A page of entries, always newest first, with cursors for both directions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// At most the query's `limit` entries, newest first.
    pub entries: Vec<crate::entry::Entry>,
    /// Present when older entries match the filter.
    pub next_cursor: Option<Cursor>,
    /// Present when newer entries match the filter.
    pub prev_cursor: Option<Cursor>,
}

/// One distinct value present in a tenant's log, with how many entries carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FacetValue {
    /// The value as stored (for `results`, the outcome's wire spelling).
    pub value: String,
    /// Entries currently held that carry it (pruning subtracts the entries it removes).
    pub count: u64,
}

/// A distinct actor present in the log, for the Actor dropdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FacetActor {
    /// Actor type in its wire spelling (`user`, `system`, ...), serialised as `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Actor id as stored; `None` when the entries' actor had none.
    pub id: Option<String>,
    /// Display name as stored; `None` when the entries' actor had none.
    pub name: Option<String>,
    /// E-mail as stored; `None` when the entries' actor had none.
    pub email: Option<String>,
    /// Entries currently held by this exact identity (type, id, name and e-mail together).
    pub count: u64,
}

/// The values present in a tenant's data, so dropdowns list only what can match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Facets {
    /// Distinct channels, most frequent first.
    pub channels: Vec<FacetValue>,
    /// Distinct actions, most frequent first.
    pub actions: Vec<FacetValue>,
    /// Distinct badge kinds, most frequent first.
    pub events: Vec<FacetValue>,
    /// Distinct categories, most frequent first; entries without one are not counted.
    pub categories: Vec<FacetValue>,
    /// Outcomes present, most frequent first.
    pub results: Vec<FacetValue>,
    /// Distinct target types, most frequent first; a type counts once per entry.
    pub target_types: Vec<FacetValue>,
    /// The most frequent actor identities, most frequent first: at most
    /// [`Facets::ACTORS_LISTED`], so a tenant with tens of thousands of actors gets a usable
    /// list (and a small answer); [`Facets::actors_total`] says how many there are, and the
    /// rest are found by name, e-mail or id (`Store::find_actors`).
    pub actors: Vec<FacetActor>,
    /// How many distinct actor identities the log holds (`actors` lists the first of them).
    #[serde(default)]
    pub actors_total: u64,
}

impl Facets {
    /// The most actors a facet list holds. Beyond this a dropdown stops being usable (and
    /// the list costs more to send than the page it filters); the page then offers a
    /// search-as-you-type box instead.
    pub const ACTORS_LISTED: usize = 100;

    /// True when every actor of the log is in `actors`.
    pub fn lists_every_actor(&self) -> bool {
        self.actors.len() as u64 >= self.actors_total
    }
}

/// An actor search as a caller asks for it (`?q=mart&limit=20`): the Actor box's
/// suggestions on the page, `GET /v1/facets/actors` in the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorSearchParams {
    /// Text to find inside ids, names and e-mails; empty finds nothing.
    pub text: String,
    /// Most actors to return.
    pub limit: usize,
}

impl ActorSearchParams {
    /// Suggestions a box shows when the caller names no limit.
    pub const DEFAULT_LIMIT: usize = 20;
    /// Most actors one search returns.
    pub const MAX_LIMIT: usize = 500;
    /// Longest search text: an actor search looks inside ids, names and e-mails, none of
    /// which a person types at this length.
    pub const MAX_TEXT_CHARS: usize = 200;

    /// Reads `q` and `limit` (1 to [`ActorSearchParams::MAX_LIMIT`]); anything else is refused by
    /// name, as the list's own parameters are.
    pub fn parse(params: &[(String, String)]) -> Result<Self, ParamError> {
        let mut search = ActorSearchParams {
            text: String::new(),
            limit: Self::DEFAULT_LIMIT,
        };
        for (key, value) in params {
            match key.as_str() {
                "q" => {
                    if value.chars().count() > Self::MAX_TEXT_CHARS {
                        return Err(param_error(
                            "q",
                            format!("at most {} characters", Self::MAX_TEXT_CHARS),
                        ));
                    }
                    search.text = value.clone();
                }
                "limit" => {
                    search.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=Self::MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            param_error(
                                "limit",
                                format!("a whole number from 1 to {}", Self::MAX_LIMIT),
                            )
                        })?;
                }
                other => {
                    return Err(param_error(
                        other,
                        "unknown parameter; expected `q` or `limit`",
                    ))
                }
            }
        }
        Ok(search)
    }
}

/// The lowercased text an actor search looks for: Unicode lowercase, trimmed, so "ZOË " finds
/// "zoë@example.org". `None` for text with nothing to look for.
pub fn actor_search_text(text: &str) -> Option<String> {
    let text = text.trim().to_lowercase();
    (!text.is_empty()).then_some(text)
}

impl FacetActor {
    /// True when `needle` (from [`actor_search_text`]) occurs in the actor's id, name or
    /// e-mail, ignoring case. Both backends decide matches with this one function, so a
    /// search finds the same actors everywhere whatever the database's collation.
    pub fn matches(
        needle: &str,
        id: Option<&str>,
        name: Option<&str>,
        email: Option<&str>,
    ) -> bool {
        [id, name, email].into_iter().flatten().any(|field| {
            if field.is_ascii() && needle.is_ascii() {
                field
                    .as_bytes()
                    .windows(needle.len().max(1))
                    .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
                    && !needle.is_empty()
            } else {
                field.to_lowercase().contains(needle)
            }
        })
    }
}

/// A query parameter that could not be understood; `param` names it for the client.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("query parameter `{param}`: {message}")]
pub struct ParamError {
    /// The parameter as the client spelled it (e.g. `properties.plan`), so it can fix that one.
    pub param: String,
    /// What is wrong and what is accepted instead, shown to the client verbatim.
    pub message: String,
}

fn param_error(param: &str, message: impl Into<String>) -> ParamError {
    ParamError {
        param: param.to_string(),
        message: message.into(),
    }
}

/// Longest value accepted for any single filter parameter.
pub const MAX_PARAM_LEN: usize = 512;

/// Named date ranges, as the seeds' "Timespan" and "time range" dropdowns offer them.
pub const PRESETS: [&str; 6] = ["24h", "7d", "30d", "90d", "3m", "this_month"];

/// Checks a tenant's default period for the audit page: `None` (any time) or one of
/// [`PRESETS`], so the page never opens on a range it cannot apply.
pub fn check_default_period(period: Option<&str>) -> Result<(), String> {
    match period {
        None => Ok(()),
        Some(p) if PRESETS.contains(&p) => Ok(()),
        Some(p) => Err(format!(
            "unknown period `{p}`: use one of {} or null for any time",
            PRESETS.join(", ")
        )),
    }
}

/// The parameters that may repeat, each value widening the match (any of them).
pub const MULTI_VALUED: [&str; 2] = ["event", "category"];

/// At most this many values per multi-valued parameter: enough for any real selection, and a
/// bound on the query a URL can make the database run.
pub const MAX_VALUES: usize = 50;

/// Adds one value of a repeatable parameter (ignoring empty ones and repeats).
fn add_value(values: &mut Vec<String>, key: &str, value: Option<String>) -> Result<(), ParamError> {
    let Some(value) = value else {
        return Ok(());
    };
    if !values.contains(&value) {
        if values.len() == MAX_VALUES {
            return Err(param_error(
                key,
                format!("given more than {MAX_VALUES} times"),
            ));
        }
        values.push(value);
    }
    Ok(())
}

/// Parses the shared filter and paging parameters.
///
/// Unknown parameters are refused rather than ignored: a typo such as `acter=` would otherwise
/// silently widen an export handed to an auditor. `extra_allowed` lists parameters the caller
/// handles itself (for example `format` on the export endpoint).
pub fn parse_query(
    params: &[(String, String)],
    now: Timestamp,
    extra_allowed: &[&str],
) -> Result<Query, ParamError> {
    let mut filter = Filter::default();
    let mut limit = Query::DEFAULT_LIMIT;
    let mut cursor = None;
    let mut range: Option<(Timestamp, Option<Timestamp>)> = None;
    let mut seen: Vec<&str> = Vec::new();

    for (key, value) in params {
        let key = key.as_str();
        if value.len() > MAX_PARAM_LEN {
            return Err(param_error(
                key,
                format!("longer than {MAX_PARAM_LEN} bytes"),
            ));
        }
        if !key.starts_with("properties.") && !MULTI_VALUED.contains(&key) {
            if seen.contains(&key) {
                return Err(param_error(key, "given more than once"));
            }
            seen.push(key);
        }
        let value = value.trim();
        let text = || -> Result<Option<String>, ParamError> {
            if value.chars().any(char::is_control) {
                return Err(param_error(key, "contains control characters"));
            }
            Ok((!value.is_empty()).then(|| value.to_string()))
        };
        if !is_parameter(key) && !key.starts_with("properties.") && !extra_allowed.contains(&key) {
            return Err(param_error(key, "is not a known filter"));
        }
        match key {
            "from" => filter.from = parse_bound(key, value, false)?,
            "to" => filter.until = parse_bound(key, value, true)?,
            "range" => {
                // `any` is an explicit "no period" (the page's "Any time"), so a tenant's
                // default period is not applied over it.
                if !value.is_empty() && value != "any" {
                    range = Some(preset_range(value, now)?);
                }
            }
            "time" => {
                filter.time = match value {
                    "" | "occurred" => TimeBasis::Occurred,
                    "recorded" => TimeBasis::Recorded,
                    _ => {
                        return Err(param_error(
                            key,
                            "must be `occurred` (the event's own time, the default) or \
                             `recorded` (when Sealtrail received it)",
                        ))
                    }
                }
            }
            "actor" => filter.actor = text()?,
            "action" => filter.action = text()?.map(action_pattern).transpose()?,
            "event" => add_value(&mut filter.event, key, text()?)?,
            "channel" | "subject" => filter.channel = text()?,
            "category" => add_value(&mut filter.category, key, text()?)?,
            "target_type" => filter.target_type = text()?,
            "target_id" => filter.target_id = text()?,
            "target_name" => filter.target_name = text()?,
            "result" => {
                filter.result = match text()? {
                    Some(r) => Some(r.parse().map_err(|m: String| param_error(key, m))?),
                    None => None,
                }
            }
            "ip" => {
                filter.ip = match text()? {
                    Some(ip) => Some(
                        ip.parse::<std::net::IpAddr>()
                            .map_err(|_| param_error(key, "is not an IPv4 or IPv6 address"))?
                            .to_string(),
                    ),
                    None => None,
                }
            }
            "system" => {
                filter.system_only = match value {
                    "" | "false" | "0" => false,
                    "true" | "1" => true,
                    _ => return Err(param_error(key, "must be true or false")),
                }
            }
            "q" | "search" => filter.text = text()?,
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=Query::MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        param_error(
                            key,
                            format!("must be an integer from 1 to {}", Query::MAX_LIMIT),
                        )
                    })?
            }
            "cursor" => {
                if !value.is_empty() {
                    cursor =
                        Some(Cursor::decode(value).map_err(|e| param_error(key, e.to_string()))?);
                }
            }
            _ if key.starts_with("properties.") => {
                let prop = &key["properties.".len()..];
                if prop.is_empty()
                    || prop.len() > 128
                    || !prop
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(param_error(
                        key,
                        "property name must be 1-128 letters, digits, '_' or '-'",
                    ));
                }
                if let Some(v) = text()? {
                    filter.properties.push((prop.to_string(), v));
                }
            }
            _ if extra_allowed.contains(&key) => {}
            _ => return Err(param_error(key, "is not a known filter")),
        }
    }

    if let Some((from, until)) = range {
        if filter.from.is_some() || filter.until.is_some() {
            return Err(param_error("range", "cannot be combined with from/to"));
        }
        filter.from = Some(from);
        filter.until = until;
    }
    if let (Some(from), Some(until)) = (filter.from, filter.until) {
        if from >= until {
            return Err(param_error("from", "must be before `to`"));
        }
    }
    Ok(Query {
        filter,
        limit,
        cursor,
    })
}

/// A `from`/`to` value: a full RFC 3339 instant, or a plain `YYYY-MM-DD` date meaning that UTC day.
/// `to` is inclusive for the user and stored as an exclusive bound.
fn parse_bound(key: &str, value: &str, upper: bool) -> Result<Option<Timestamp>, ParamError> {
    if value.is_empty() {
        return Ok(None);
    }
    if let Ok(date) = Date::parse(
        value,
        time::macros::format_description!("[year]-[month]-[day]"),
    ) {
        let day = if upper {
            date.next_day().unwrap_or(date)
        } else {
            date
        };
        return Ok(Some(Timestamp::from_datetime(
            day.with_time(Time::MIDNIGHT).assume_utc(),
        )));
    }
    let t = Timestamp::parse_rfc3339(value).map_err(|_| {
        param_error(
            key,
            "must be a date (2026-11-23) or an RFC 3339 time (2026-11-23T09:30:00Z)",
        )
    })?;
    Ok(Some(if upper { Timestamp(t.0 + 1) } else { t }))
}

/// The same instant `months` calendar months earlier, on the last day of that month when it is
/// shorter (31 May − 3 months = 28 or 29 February).
fn months_back(at: OffsetDateTime, months: u8) -> OffsetDateTime {
    // The target month in one step, then the day cut once: stepping a month at a time would
    // let a short month in between shorten the result (31 March would give 28 December).
    let date = at.date();
    let index = date.year() * 12 + i32::from(u8::from(date.month())) - 1 - i32::from(months);
    let year = index.div_euclid(12);
    let month = u8::try_from(index.rem_euclid(12) + 1)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .unwrap_or(date.month());
    let day = date.day().min(month.length(year));
    at.replace_date(Date::from_calendar_date(year, month, day).unwrap_or(date))
}

fn preset_range(value: &str, now: Timestamp) -> Result<(Timestamp, Option<Timestamp>), ParamError> {
    let back = |d: Duration| Timestamp(now.0 - d.whole_milliseconds() as i64);
    match value {
        "24h" => Ok((back(Duration::hours(24)), None)),
        "7d" => Ok((back(Duration::days(7)), None)),
        "30d" => Ok((back(Duration::days(30)), None)),
        "90d" => Ok((back(Duration::days(90)), None)),
        "3m" => Ok((
            Timestamp::from_datetime(months_back(now.to_datetime(), 3)),
            None,
        )),
        "this_month" | "this-month" | "month" => {
            let dt: OffsetDateTime = now.to_datetime();
            let first = Date::from_calendar_date(dt.year(), dt.month(), 1)
                .unwrap_or(dt.date())
                .with_time(Time::MIDNIGHT)
                .assume_utc();
            Ok((Timestamp::from_datetime(first), None))
        }
        _ => Err(param_error(
            "range",
            format!("must be one of {}", PRESETS.join(", ")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-23T09:30:00Z").unwrap()
    }

    #[test]
    fn a_period_reads_event_time_unless_asked_for_receipt_time() {
        let q = parse_query(&p(&[("range", "7d")]), now(), &[]).unwrap();
        assert_eq!(q.filter.time, TimeBasis::Occurred);
        let q = parse_query(&p(&[("range", "7d"), ("time", "recorded")]), now(), &[]).unwrap();
        assert_eq!(q.filter.time, TimeBasis::Recorded);
        let q = parse_query(&p(&[("time", "occurred")]), now(), &[]).unwrap();
        assert!(
            q.filter.is_empty(),
            "a clock without a period narrows nothing"
        );
        let e = parse_query(&p(&[("time", "received")]), now(), &[]).unwrap_err();
        assert_eq!(e.param, "time");
        assert!(e.message.contains("`recorded`"), "{}", e.message);
    }

    #[test]
    fn action_prefix_and_exact() {
        let q = parse_query(&p(&[("action", "user.*")]), now(), &[]).unwrap();
        assert_eq!(q.filter.action, Some(ActionMatch::Prefix("user".into())));
        let q = parse_query(&p(&[("action", "user.created")]), now(), &[]).unwrap();
        assert_eq!(
            q.filter.action,
            Some(ActionMatch::Exact("user.created".into()))
        );
        // Seed 004 exports two categories together; a repeated value counts once.
        let q = parse_query(
            &p(&[
                ("category", "Policy Changes"),
                ("event", "created"),
                ("category", "Agent Operations"),
                ("category", "Policy Changes"),
                ("event", ""),
            ]),
            now(),
            &[],
        )
        .unwrap();
        assert_eq!(q.filter.category, ["Policy Changes", "Agent Operations"]);
        assert_eq!(q.filter.event, ["created"]);
        let many: Vec<(String, String)> = (0..=MAX_VALUES)
            .map(|i| ("event".to_string(), format!("e{i}")))
            .collect();
        assert_eq!(parse_query(&many, now(), &[]).unwrap_err().param, "event");
        let e = parse_query(&p(&[("channel", "a"), ("channel", "b")]), now(), &[]).unwrap_err();
        assert_eq!(e.message, "given more than once");
        // Seed 003 opens on the last three calendar months.
        let at = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
        let q = parse_query(&p(&[("range", "3m")]), at("2026-05-31T10:00:00Z"), &[]).unwrap();
        assert_eq!(q.filter.from, Some(at("2026-02-28T10:00:00Z")));
        let q = parse_query(&p(&[("range", "3m")]), at("2026-01-15T00:00:00Z"), &[]).unwrap();
        assert_eq!(q.filter.from, Some(at("2025-10-15T00:00:00Z")));
        // A short month in between does not shorten the result.
        for (now, from) in [
            ("2026-03-31T08:00:00Z", "2025-12-31T08:00:00Z"),
            ("2026-08-31T08:00:00Z", "2026-05-31T08:00:00Z"),
            ("2026-03-30T08:00:00Z", "2025-12-30T08:00:00Z"),
            ("2028-05-31T08:00:00Z", "2028-02-29T08:00:00Z"),
        ] {
            let q = parse_query(&p(&[("range", "3m")]), at(now), &[]).unwrap();
            assert_eq!(q.filter.from, Some(at(from)), "{now}");
        }
        let q = parse_query(&p(&[("range", "any")]), now(), &[]).unwrap();
        assert_eq!((q.filter.from, q.filter.until), (None, None));
        assert!(check_default_period(Some("3m")).is_ok() && check_default_period(None).is_ok());
        assert!(check_default_period(Some("fortnight"))
            .unwrap_err()
            .contains("24h, 7d"));
        // Seed 004's patterns: a trailing `*` is a start of text, across segments.
        for (pattern, start) in [
            ("evid*", "evid"),
            ("evidence.verdict_*", "evidence.verdict_"),
        ] {
            let q = parse_query(&p(&[("action", pattern)]), now(), &[]).unwrap();
            assert_eq!(q.filter.action, Some(ActionMatch::StartsWith(start.into())));
        }
        for misplaced in ["*.created", "evi*ence", "user.**"] {
            let e = parse_query(&p(&[("action", misplaced)]), now(), &[]).unwrap_err();
            assert_eq!(e.param, "action", "{misplaced}");
            assert!(e.message.contains("`evid*`"), "{}", e.message);
        }
    }

    #[test]
    fn dates_are_whole_utc_days_and_to_is_inclusive() {
        let q = parse_query(
            &p(&[("from", "2026-11-01"), ("to", "2026-11-02")]),
            now(),
            &[],
        )
        .unwrap();
        assert_eq!(
            q.filter.from.unwrap().to_rfc3339(),
            "2026-11-01T00:00:00.000Z"
        );
        assert_eq!(
            q.filter.until.unwrap().to_rfc3339(),
            "2026-11-03T00:00:00.000Z"
        );
    }

    #[test]
    fn presets() {
        let q = parse_query(&p(&[("range", "this_month")]), now(), &[]).unwrap();
        assert_eq!(
            q.filter.from.unwrap().to_rfc3339(),
            "2026-11-01T00:00:00.000Z"
        );
        let q = parse_query(&p(&[("range", "24h")]), now(), &[]).unwrap();
        assert_eq!(
            q.filter.from.unwrap().to_rfc3339(),
            "2026-11-22T09:30:00.000Z"
        );
        assert!(parse_query(&p(&[("range", "2w")]), now(), &[]).is_err());
    }

    #[test]
    fn unknown_and_malformed_params_name_the_param() {
        let e = parse_query(&p(&[("acter", "x")]), now(), &[]).unwrap_err();
        assert_eq!(e.param, "acter");
        let e = parse_query(&p(&[("limit", "0")]), now(), &[]).unwrap_err();
        assert_eq!(e.param, "limit");
        let e = parse_query(&p(&[("result", "ok")]), now(), &[]).unwrap_err();
        assert!(e.message.contains("success"));
        let e = parse_query(
            &p(&[("from", "2026-11-05"), ("to", "2026-11-01")]),
            now(),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.param, "from");
    }

    #[test]
    fn properties_filters() {
        let q = parse_query(
            &p(&[("properties.repo", "api"), ("properties.verdict", "fail")]),
            now(),
            &[],
        )
        .unwrap();
        assert_eq!(q.filter.properties.len(), 2);
        assert!(parse_query(&p(&[("properties.", "x")]), now(), &[]).is_err());
    }

    #[test]
    fn actor_search_parameters_are_checked_by_name() {
        let ok = ActorSearchParams::parse(&p(&[("q", "mart"), ("limit", "5")])).unwrap();
        assert_eq!((ok.text.as_str(), ok.limit), ("mart", 5));
        assert_eq!(ActorSearchParams::parse(&[]).unwrap().limit, 20);
        for (bad, param) in [
            (p(&[("limit", "0")]), "limit"),
            (p(&[("limit", "501")]), "limit"),
            (p(&[("limit", "x")]), "limit"),
            (p(&[("actor", "u1")]), "actor"),
            (vec![("q".to_string(), "a".repeat(201))], "q"),
        ] {
            assert_eq!(ActorSearchParams::parse(&bad).unwrap_err().param, param);
        }
    }

    #[test]
    fn actor_search_ignores_case_in_every_field() {
        let needle = actor_search_text(" ZOË ").unwrap();
        assert!(FacetActor::matches(&needle, None, Some("Zoë Martin"), None));
        assert!(FacetActor::matches(
            "martin7",
            Some("u7"),
            None,
            Some("Hiro.MARTIN7@x.example")
        ));
        assert!(!FacetActor::matches(
            "zoe",
            Some("u7"),
            Some("Zoë"),
            Some("z@x")
        ));
        assert_eq!(actor_search_text("  "), None);
    }

    proptest::proptest! {
        /// The fast ASCII path finds exactly what Unicode lowercasing finds.
        #[test]
        fn actor_search_is_a_case_insensitive_substring_test(
            field in "[a-zA-Z0-9@. ÉéİßK]{0,12}",
            text in "[a-zA-Z0-9@. ÉéK]{1,4}",
        ) {
            if let Some(needle) = actor_search_text(&text) {
                let expected = field.to_lowercase().contains(&needle);
                proptest::prop_assert_eq!(FacetActor::matches(&needle, None, Some(&field), None), expected);
            }
        }

        #[test]
        fn cursor_round_trips(seq in 0u64..u64::MAX, older in proptest::bool::ANY) {
            let c = Cursor { seq, direction: if older { Direction::Older } else { Direction::Newer } };
            proptest::prop_assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        }

        #[test]
        fn cursor_decode_never_panics(s in ".{0,40}") {
            let _ = Cursor::decode(&s);
        }

        #[test]
        fn parse_query_never_panics(pairs in proptest::collection::vec(("[a-z_.]{0,12}", ".{0,20}"), 0..6)) {
            let _ = parse_query(&pairs, Timestamp(1_795_000_000_000), &[]);
        }
    }
}
