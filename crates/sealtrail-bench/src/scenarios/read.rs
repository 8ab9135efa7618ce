//! Q1 (newest-50 pages with 0–3 filters, then 20 cursor pages), Q2 (counts), T1 (the
//! timeline) and S1 (search), each timed over HTTP against Sealtrail and directly against the
//! raw engine, same filters; and W1, the `/audit` page itself, signed in.

use crate::error::BenchError;
use crate::http::Api;
use crate::raw::{RawCursor, RawEngine, RawFilter};
use crate::stats::Latency;
use crate::workload::{Terms, DAY_MS};
use sealtrail_core::Timestamp;
use serde::Serialize;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Page size of every page scenario: the web page's.
const PAGE: usize = 50;
/// Follow-on pages after the first.
const FOLLOW_PAGES: usize = 20;

/// A tenant a read scenario runs on.
pub struct ReadTenant<'a> {
    /// "large", "mid" or "small".
    pub size: &'static str,
    /// The tenant's admin API key, sent with every Sealtrail request.
    pub key: &'a str,
    /// Its id in the raw engine's tables.
    pub raw_id: u32,
    /// Entries it holds.
    pub entries: u64,
}

/// One set of filters, as query parameters and as the raw engine's filter.
#[derive(Debug, Clone)]
pub struct FilterCase {
    /// How many filters.
    pub filters: usize,
    /// Human description, e.g. "actor + action".
    pub label: String,
    params: String,
    raw: RawFilter,
}

/// The four filter sets: none; the most active person; plus the second most common action;
/// plus the last 90 days.
pub fn filter_cases(now: Timestamp) -> Vec<FilterCase> {
    let since = now.millis() - 90 * DAY_MS;
    let actor = "u0";
    let action = "document.viewed";
    let from = Timestamp(since).to_rfc3339();
    vec![
        FilterCase {
            filters: 0,
            label: "none".into(),
            params: String::new(),
            raw: RawFilter::default(),
        },
        FilterCase {
            filters: 1,
            label: format!("actor={actor}"),
            params: format!("&actor={actor}"),
            raw: RawFilter {
                actor_id: Some(actor.into()),
                ..RawFilter::default()
            },
        },
        FilterCase {
            filters: 2,
            label: format!("actor={actor}, action={action}"),
            params: format!("&actor={actor}&action={action}"),
            raw: RawFilter {
                actor_id: Some(actor.into()),
                action: Some(action.into()),
                ..RawFilter::default()
            },
        },
        FilterCase {
            filters: 3,
            label: format!("actor={actor}, action={action}, last 90 days"),
            params: format!("&actor={actor}&action={action}&from={from}"),
            raw: RawFilter {
                actor_id: Some(actor.into()),
                action: Some(action.into()),
                since: Some(since),
                ..RawFilter::default()
            },
        },
    ]
}

/// Q1 figures for one tenant and filter set.
#[derive(Debug, Clone, Serialize)]
pub struct PageFigures {
    /// "large", "mid" or "small" (ranks 0, 30 and the last).
    pub tenant: &'static str,
    /// Entries the tenant held when Q1 ran (I1 and I2 included).
    pub tenant_entries: u64,
    /// Number of filters applied, 0–3.
    pub filters: usize,
    /// The filters in words, e.g. "actor=u0, action=document.viewed".
    pub label: String,
    /// Rows on the first page.
    pub rows: usize,
    /// The first page over HTTP, `reps` times after one untimed warm-up request.
    pub sealtrail: Latency,
    /// The same filters as an in-process keyset query (no HTTP); `None` without a baseline.
    pub raw: Option<Latency>,
    /// The 20 pages after the first, each followed by its cursor.
    pub follow_sealtrail: Latency,
    /// The raw engine's follow-on pages by keyset cursor; `None` without a baseline.
    pub follow_raw: Option<Latency>,
}

/// Runs Q1 for every filter set on `tenant`, `reps` timed first pages each.
pub async fn pages(
    api: &Api,
    tenant: &ReadTenant<'_>,
    mut raw: Option<&mut dyn RawEngine>,
    now: Timestamp,
    reps: usize,
) -> Result<Vec<PageFigures>, BenchError> {
    let mut out = Vec::new();
    for case in filter_cases(now) {
        let path = format!("/v1/events?limit={PAGE}&count=false{}", case.params);
        let (sealtrail, first) = time_http(api, tenant.key, &path, reps).await?;
        let rows = first["entries"].as_array().map_or(0, Vec::len);
        // One untimed walk first, as every other figure here is timed after a warm-up.
        follow_http(api, tenant.key, &path, &first).await?;
        let mut follow = follow_http(api, tenant.key, &path, &first).await?;
        let (raw_first, raw_follow) = match raw.as_deref_mut() {
            Some(engine) => {
                let (a, b) = raw_pages(engine, tenant.raw_id, &case.raw, reps)?;
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        out.push(PageFigures {
            tenant: tenant.size,
            tenant_entries: tenant.entries,
            filters: case.filters,
            label: case.label,
            rows,
            sealtrail,
            raw: raw_first,
            follow_sealtrail: Latency::of(&mut follow),
            follow_raw: raw_follow,
        });
    }
    Ok(out)
}

/// The up to [`FOLLOW_PAGES`] pages after `first`, each fetched by the cursor of the one
/// before, timed one by one.
async fn follow_http(
    api: &Api,
    key: &str,
    path: &str,
    first: &Value,
) -> Result<Vec<Duration>, BenchError> {
    let mut follow = Vec::new();
    let mut cursor = first["next_cursor"].as_str().map(str::to_string);
    while let (Some(c), true) = (cursor.take(), follow.len() < FOLLOW_PAGES) {
        let next = format!("{path}&cursor={c}");
        let started = Instant::now();
        let body = api.get_body(key, &next).await?;
        follow.push(started.elapsed());
        let page = crate::http::parse_json(&next, &body)?;
        cursor = page["next_cursor"].as_str().map(str::to_string);
    }
    Ok(follow)
}

fn raw_pages(
    engine: &mut dyn RawEngine,
    tenant: u32,
    filter: &RawFilter,
    reps: usize,
) -> Result<(Latency, Latency), BenchError> {
    let (first_page, first) = time_raw(reps, || engine.newest(tenant, filter, None, PAGE))?;
    let walk = |engine: &mut dyn RawEngine| -> Result<Vec<Duration>, BenchError> {
        let mut follow = Vec::new();
        let mut last = first.last().copied().map(RawCursor::from);
        while let (Some(cursor), true) = (last.take(), follow.len() < FOLLOW_PAGES) {
            let started = Instant::now();
            let page = engine.newest(tenant, filter, Some(&cursor), PAGE)?;
            follow.push(started.elapsed());
            if page.len() == PAGE {
                last = page.last().copied().map(RawCursor::from);
            }
        }
        Ok(follow)
    };
    // Untimed first, as on Sealtrail's side.
    walk(engine)?;
    let mut follow = walk(engine)?;
    Ok((first_page, Latency::of(&mut follow)))
}

/// Q2 figures: counting the entries of one filter set.
#[derive(Debug, Clone, Serialize)]
pub struct CountFigures {
    /// "large", "mid" or "small"; Q2 runs on the large tenant only.
    pub tenant: &'static str,
    /// Number of filters applied, 0–3.
    pub filters: usize,
    /// The filters in words, e.g. "actor=u0".
    pub label: String,
    /// The count Sealtrail answered; the raw engine's count is timed but not compared.
    pub total: u64,
    /// `GET /v1/events?limit=1&count=true`, `reps` times after one untimed warm-up.
    pub sealtrail: Latency,
    /// The same count in-process on the raw table; `None` without a baseline.
    pub raw: Option<Latency>,
}

/// Runs Q2 on `tenant` for every filter set: the list endpoint with its total, as the web
/// page asks for it.
pub async fn counts(
    api: &Api,
    tenant: &ReadTenant<'_>,
    mut raw: Option<&mut dyn RawEngine>,
    now: Timestamp,
    reps: usize,
) -> Result<Vec<CountFigures>, BenchError> {
    let mut out = Vec::new();
    for case in filter_cases(now) {
        let path = format!("/v1/events?limit=1&count=true{}", case.params);
        let (sealtrail, answer) = time_http(api, tenant.key, &path, reps).await?;
        let total = answer["total"].as_u64().unwrap_or(0);
        let raw = match raw.as_deref_mut() {
            Some(engine) => Some(time_raw(reps, || engine.count(tenant.raw_id, &case.raw))?.0),
            None => None,
        };
        out.push(CountFigures {
            tenant: tenant.size,
            filters: case.filters,
            label: case.label,
            total,
            sealtrail,
            raw,
        });
    }
    Ok(out)
}

/// T1 figures: the timeline (entries per period and outcome) of one filter set.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineFigures {
    /// "large", "mid" or "small"; T1 runs on the large tenant only.
    pub tenant: &'static str,
    /// The filters in words, e.g. "actor=u0".
    pub label: String,
    /// Bars in Sealtrail's answer, and their width ("day", "week", …).
    pub bars: usize,
    /// What one bar spans.
    pub width: String,
    /// `GET /v1/timeline`, `reps` times after one untimed warm-up.
    pub sealtrail: Latency,
    /// The raw table's `GROUP BY` of the same matches per day and result; `None` without one.
    pub raw: Option<Latency>,
}

/// Runs T1 on `tenant`: the whole log, the last 90 days alone (whole days from the rollup,
/// the first part-day scanned), then the Q2 filter sets with an actor (scanned matches).
pub async fn timelines(
    api: &Api,
    tenant: &ReadTenant<'_>,
    mut raw: Option<&mut dyn RawEngine>,
    now: Timestamp,
    reps: usize,
) -> Result<Vec<TimelineFigures>, BenchError> {
    let mut cases = filter_cases(now);
    let since = now.millis() - 90 * DAY_MS;
    cases.insert(
        1,
        FilterCase {
            filters: 1,
            label: "last 90 days".into(),
            params: format!("&from={}", Timestamp(since).to_rfc3339()),
            raw: RawFilter {
                since: Some(since),
                ..RawFilter::default()
            },
        },
    );
    let mut out = Vec::new();
    for case in cases {
        let path = format!("/v1/timeline?{}", case.params.trim_start_matches('&'));
        let (sealtrail, answer) = time_http(api, tenant.key, &path, reps).await?;
        let raw = match raw.as_deref_mut() {
            Some(engine) => Some(time_raw(reps, || engine.day_counts(tenant.raw_id, &case.raw))?.0),
            None => None,
        };
        out.push(TimelineFigures {
            tenant: tenant.size,
            label: case.label,
            bars: answer["bars"].as_array().map_or(0, Vec::len),
            width: answer["width"].as_str().unwrap_or("").to_string(),
            sealtrail,
            raw,
        });
    }
    Ok(out)
}

/// S1 figures for one term.
#[derive(Debug, Clone, Serialize)]
pub struct SearchFigures {
    /// "common", "mid" or "rare" (a whole word), or "common substring", "mid substring" or
    /// "rare substring" (that word without its first letter: text inside a word).
    pub kind: &'static str,
    /// The text searched.
    pub term: String,
    /// Entries of the tenant that match, by Sealtrail's count.
    pub matches: u64,
    /// Matches as a share of the tenant's entries.
    pub share: f64,
    /// Sealtrail's newest 50 over HTTP.
    pub sealtrail: Option<Latency>,
    /// The raw engine's newest 50 (full-text for a word, `LIKE` for a substring); `None`
    /// without one.
    pub raw: Option<Latency>,
}

/// Runs S1 on `tenant`: the newest 50 entries matching a common, a mid and a rare word, then
/// the same words without their first letter (found only inside words).
pub async fn search(
    api: &Api,
    tenant: &ReadTenant<'_>,
    mut raw: Option<&mut dyn RawEngine>,
    terms: &Terms,
    reps: usize,
) -> Result<Vec<SearchFigures>, BenchError> {
    let mut out = Vec::new();
    let cases = [
        ("common", terms.common.clone(), false),
        ("mid", terms.mid.clone(), false),
        ("rare", terms.rare.clone(), false),
        ("common substring", substring_of(&terms.common), true),
        ("mid substring", substring_of(&terms.mid), true),
        ("rare substring", substring_of(&terms.rare), true),
    ];
    for (kind, term, inside) in cases {
        let counted: Value = api
            .get_json(
                tenant.key,
                &format!("/v1/events?limit=1&count=true&q={term}"),
            )
            .await?;
        let matches = counted["total"].as_u64().unwrap_or(0);
        let path = format!("/v1/events?limit={PAGE}&count=false&q={term}");
        let (sealtrail, _) = time_http(api, tenant.key, &path, reps).await?;
        let raw = match raw.as_deref_mut() {
            Some(engine) if inside => {
                Some(time_raw(reps, || engine.substring(tenant.raw_id, &term, PAGE))?.0)
            }
            Some(engine) => Some(time_raw(reps, || engine.search(tenant.raw_id, &term, PAGE))?.0),
            None => None,
        };
        out.push(SearchFigures {
            kind,
            share: matches as f64 / tenant.entries.max(1) as f64,
            term,
            matches,
            sealtrail: Some(sealtrail),
            raw,
        });
    }
    Ok(out)
}

/// Entries the tenant's log holds now.
pub async fn total(api: &Api, key: &str) -> Result<u64, BenchError> {
    let answer = api.get_json(key, "/v1/events?limit=1&count=true").await?;
    answer["total"]
        .as_u64()
        .ok_or_else(|| BenchError::Http("the list answer has no total".into()))
}

/// A word without its first letter: found only by a search inside words.
fn substring_of(word: &str) -> String {
    word.chars().skip(1).collect()
}

/// W1 figures for one view of the `/audit` page.
#[derive(Debug, Clone, Serialize)]
pub struct AuditPageFigures {
    /// The view in words.
    pub label: String,
    /// The page's address.
    pub path: String,
    /// Size of the HTML.
    pub bytes: usize,
    /// The whole page (list, count, timeline and facets, rendered), signed in, over HTTP.
    pub sealtrail: Latency,
}

/// The views W1 times: how the page opens, and a person's filter with a period.
pub fn audit_page_views() -> Vec<(String, String)> {
    vec![
        ("as it opens".into(), "/audit".into()),
        (
            "actor=u0, last 30 days".into(),
            "/audit?actor=u0&range=30d".into(),
        ),
    ]
}

/// W1: the `/audit` page as a signed-in admin opens it — every read the page makes (list,
/// count, timeline, facets) and the rendering, `reps` times per view after one warm-up.
pub async fn audit_page(
    api: &Api,
    cookie: &str,
    reps: usize,
) -> Result<Vec<AuditPageFigures>, BenchError> {
    let mut out = Vec::new();
    for (label, path) in audit_page_views() {
        let bytes = api.page(cookie, &path).await?;
        let mut samples = Vec::with_capacity(reps);
        for _ in 0..reps {
            let started = Instant::now();
            api.page(cookie, &path).await?;
            samples.push(started.elapsed());
        }
        out.push(AuditPageFigures {
            label,
            path,
            bytes,
            sealtrail: Latency::of(&mut samples),
        });
    }
    Ok(out)
}

/// One untimed request (warming caches; its answer is returned), then `reps` timed ones.
async fn time_http(
    api: &Api,
    key: &str,
    path: &str,
    reps: usize,
) -> Result<(Latency, Value), BenchError> {
    let answer = api.get_json(key, path).await?;
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        api.get_body(key, path).await?;
        samples.push(started.elapsed());
    }
    Ok((Latency::of(&mut samples), answer))
}

/// The raw engine's counterpart of [`time_http`]: one untimed run, whose result is returned,
/// then `reps` timed ones.
fn time_raw<T>(
    reps: usize,
    mut run: impl FnMut() -> Result<T, crate::raw::RawError>,
) -> Result<(Latency, T), BenchError> {
    let result = run()?;
    let mut samples: Vec<Duration> = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        run()?;
        samples.push(started.elapsed());
    }
    Ok((Latency::of(&mut samples), result))
}
