//! `/audit`: the filtered, newest-first trail with its count, facet dropdowns, cursor pages and
//! Export buttons; `/audit/export` (the current view as a download); `/audit/entries/{id}`.
//!
//! The page uses the API's own filter parameters (`q`, `event`, `channel`, `actor`, …), parsed
//! by the same function, so a page URL, an API call and an export select exactly the same
//! entries — and the URL is the bookmarkable, shareable state of the view.

use crate::download::stream_download;
use crate::proofs::entry_integrity;
use crate::request::query_params;
use crate::state::AppState;
use crate::web::entry_view::EntryRow;
use crate::web::error::{render, PageError};
use crate::web::form::{SelectOption, PERIODS};
use crate::web::frame::PageFrame;
use crate::web::session::WebUser;
use crate::web::timeline::TimelineView;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use sealtrail_core::filter::{parse_query, ActorSearchParams, Cursor, FacetActor, Facets, Query};
use sealtrail_core::Timestamp;
use sealtrail_export::Format;
use sealtrail_store::Lookup;
use uuid::Uuid;

/// The filter fields the form shows, in URL order.
const FIELDS: [&str; 15] = [
    "q",
    "event",
    "action",
    "channel",
    "actor",
    "result",
    "category",
    "target_type",
    "target_name",
    "ip",
    "range",
    "from",
    "to",
    "time",
    "system",
];

/// The filter form as the URL has it (raw strings, so a refused value is shown back).
#[derive(Debug, Clone, Default)]
pub struct FilterForm {
    /// Free text.
    pub q: String,
    /// From date (`YYYY-MM-DD`).
    pub from: String,
    /// To date.
    pub to: String,
    /// "System only" is ticked.
    pub system: bool,
    /// The period reads the time received (`time=recorded`), not the event's own time.
    pub time_received: bool,
    /// Object name (a target's exact name).
    pub target_name: String,
    /// Client IP address.
    pub ip: String,
    /// Action name or pattern (`document.viewed`, `waiver.*`).
    pub action: String,
    /// Filters the URL carries that the form has no control for (`properties.…`,
    /// `target_id`, …), kept as hidden fields so changing a dropdown does not drop them.
    pub kept: Vec<(String, String)>,
}

impl FilterForm {
    /// The From field's input type: a date picker for a date (or nothing), plain text for an
    /// exact time (a timeline bar's hour), so the value is shown and kept when the form is
    /// submitted again rather than dropped by a date control that cannot hold it.
    pub fn from_type(&self) -> &'static str {
        date_input_type(&self.from)
    }

    /// The To field's input type, as [`FilterForm::from_type`].
    pub fn to_type(&self) -> &'static str {
        date_input_type(&self.to)
    }
}

fn date_input_type(value: &str) -> &'static str {
    let is_date = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if value.is_empty() || is_date {
        "date"
    } else {
        "text"
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    frame: PageFrame,
    form: FilterForm,
    events: Vec<SelectOption>,
    channels: Vec<SelectOption>,
    actors: Vec<SelectOption>,
    /// More actors than a dropdown holds: the Actor field is a search box suggesting them
    /// (`/audit/actors`), with the most frequent listed up front.
    actor_search: bool,
    /// The actor filter as the URL has it, shown in the search box.
    actor_value: String,
    results: Vec<SelectOption>,
    categories: Vec<SelectOption>,
    target_types: Vec<SelectOption>,
    ranges: Vec<SelectOption>,
    active: bool,
    count_text: String,
    rows: Vec<EntryRow>,
    error: String,
    next_url: String,
    prev_url: String,
    exports: Vec<SelectOption>,
    /// The current view's query string, for "Queue this view".
    queue_query: String,
    /// The formats a queued export can take.
    queue_formats: Vec<SelectOption>,
    /// Entries over time for the current filters.
    timeline: TimelineView,
}

fn value_of<'a>(params: &'a [(String, String)], key: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == key || (key == "channel" && k == "subject"))
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

/// The query string of the current filters (empty values dropped) plus `extra` pairs.
fn url_with(params: &[(String, String)], extra: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if !v.trim().is_empty() && k != "cursor" && k != "limit" {
            out.append_pair(k, v);
        }
    }
    for (k, v) in extra {
        out.append_pair(k, v);
    }
    out.finish()
}

fn options(
    values: impl IntoIterator<Item = (String, String)>,
    selected: &str,
) -> Vec<SelectOption> {
    let chosen: Vec<&str> = Some(selected)
        .filter(|s| !s.is_empty())
        .into_iter()
        .collect();
    options_of(values, &chosen)
}

/// The options of a select where any number may be chosen (`event`, `category`).
fn options_of(
    values: impl IntoIterator<Item = (String, String)>,
    chosen: &[&str],
) -> Vec<SelectOption> {
    let mut opts: Vec<SelectOption> = values
        .into_iter()
        .map(|(value, label)| SelectOption {
            selected: chosen.contains(&value.as_str()),
            value,
            label,
        })
        .collect();
    // A value chosen in a shared link but no longer present (pruned) still shows as chosen.
    for value in chosen {
        if !opts.iter().any(|o| o.value == *value) {
            opts.push(SelectOption {
                value: value.to_string(),
                label: value.to_string(),
                selected: true,
            });
        }
    }
    opts
}

/// Every non-empty value of a parameter that may repeat.
fn values_of<'a>(params: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(k, v)| k == key && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
        .collect()
}

/// An actor as the Actor box offers it: the value the `actor` filter matches (id, else
/// e-mail) and a label a person recognises. `None` for an actor with neither id nor e-mail,
/// which that filter cannot select.
fn actor_option(a: &FacetActor) -> Option<(String, String)> {
    let value = a.id.clone().or_else(|| a.email.clone())?;
    let label = match (&a.name, &a.email) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (Some(n), None) => n.clone(),
        (None, Some(e)) => e.clone(),
        (None, None) => value.clone(),
    };
    Some((value, label))
}

fn facet_options(facets: &Facets, params: &[(String, String)]) -> [Vec<SelectOption>; 6] {
    let plain = |values: &[sealtrail_core::filter::FacetValue]| {
        values
            .iter()
            .map(|v| (v.value.clone(), format!("{} ({})", v.value, v.count)))
            .collect::<Vec<_>>()
    };
    let actors = facets.actors.iter().filter_map(actor_option);
    [
        options_of(plain(&facets.events), &values_of(params, "event")),
        options(plain(&facets.channels), value_of(params, "channel")),
        options(actors.collect::<Vec<_>>(), value_of(params, "actor")),
        options(plain(&facets.results), value_of(params, "result")),
        options_of(plain(&facets.categories), &values_of(params, "category")),
        options(plain(&facets.target_types), value_of(params, "target_type")),
    ]
}

fn count_text(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match n {
        0 => "No entries".into(),
        1 => "1 entry".into(),
        _ => format!("{grouped} entries"),
    }
}

/// `GET /audit/actors?q=`: the Actor box's suggestions as `[{value, label}]`, for a tenant
/// with more actors than the page lists (the box's script asks as the admin types).
pub async fn actor_suggestions(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    user.require_log_access()?;
    let search = ActorSearchParams::parse(&query_params(raw.as_deref()))
        .map_err(|e| PageError::BadRequest(e.to_string()))?;
    let actors = state
        .store
        .find_actors(user.tenant.id, &search.text, search.limit)
        .await?;
    let options: Vec<serde_json::Value> = actors
        .iter()
        .filter_map(actor_option)
        .map(|(value, label)| serde_json::json!({ "value": value, "label": label }))
        .collect();
    // Names and e-mails of the log: never kept by a browser or proxy cache, as the pages.
    let mut response = axum::Json(options).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// `GET /audit`.
pub async fn page(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    user.require_log_access()?;
    let tenant = user.tenant.id;
    let mut params = query_params(raw.as_deref());
    // An address naming no period opens on the tenant's default. "Any time" on the page is
    // `range=any`, a real value the script submits and the pager links keep, so a period
    // chosen on the page (any time included) is never overridden.
    let mut defaulted = false;
    if !params
        .iter()
        .any(|(k, _)| matches!(k.as_str(), "range" | "from" | "to"))
    {
        if let Some(period) = state.store.settings(tenant).await?.default_period {
            params.push(("range".into(), period));
            defaulted = true;
        }
    }
    let now = Timestamp::now();
    let facets = state.store.facets(tenant).await?;
    let [events, channels, actors, results, categories, target_types] =
        facet_options(&facets, &params);
    // `any` is the "Any time" option itself, not a preset to mark chosen.
    let range = match value_of(&params, "range") {
        "any" => "",
        preset => preset,
    };
    let ranges = options(PERIODS.map(|(v, l)| (v.to_string(), l.to_string())), range);
    let form = FilterForm {
        q: value_of(&params, "q").to_string(),
        from: value_of(&params, "from").to_string(),
        to: value_of(&params, "to").to_string(),
        system: matches!(value_of(&params, "system"), "true" | "1" | "on"),
        time_received: value_of(&params, "time") == "recorded",
        target_name: value_of(&params, "target_name").to_string(),
        ip: value_of(&params, "ip").to_string(),
        action: value_of(&params, "action").to_string(),
        kept: params
            .iter()
            .filter(|(k, v)| {
                !FIELDS.contains(&k.as_str())
                    && !matches!(k.as_str(), "cursor" | "limit" | "format")
                    && !v.trim().is_empty()
            })
            .cloned()
            .collect(),
    };
    // The default period alone is how the page opens, not a filter to clear.
    let active = !form.kept.is_empty()
        || params.iter().any(|(k, v)| {
            FIELDS.contains(&k.as_str())
                && !v.trim().is_empty()
                && v != "false"
                && !(k == "range" && (defaulted || v == "any"))
                && !(k == "time" && v == "occurred")
        });
    let exports = Format::ALL
        .iter()
        .map(|f| SelectOption {
            value: format!(
                "/audit/export?{}",
                url_with(&params, &[("format", f.as_str())])
            ),
            label: export_label(*f).to_string(),
            selected: false,
        })
        .collect();
    let mut view = AuditPage {
        frame: user.frame("Audit log", "audit"),
        form,
        events,
        channels,
        actor_search: !facets.lists_every_actor(),
        actor_value: value_of(&params, "actor").to_string(),
        actors,
        results,
        categories,
        target_types,
        ranges,
        active,
        count_text: String::new(),
        rows: Vec::new(),
        error: String::new(),
        next_url: String::new(),
        prev_url: String::new(),
        exports,
        queue_query: url_with(&params, &[]),
        queue_formats: Format::ALL
            .iter()
            .map(|f| SelectOption {
                value: f.as_str().to_string(),
                label: export_label(*f).to_string(),
                selected: *f == Format::Csv,
            })
            .collect(),
        timeline: TimelineView::default(),
    };
    let normalised = filter_language(params.clone());
    let query = match parse_query(&normalised, now, &[]) {
        Ok(q) => Query {
            limit: q.limit.min(Query::DEFAULT_LIMIT),
            ..q
        },
        Err(e) => {
            view.error = e.to_string();
            view.count_text = count_text(0);
            return Ok(render(&view));
        }
    };
    let (page, count, checkpoint, timeline) = tokio::try_join!(
        state.store.query(tenant, &query),
        state.store.count(tenant, &query.filter),
        state.store.latest_checkpoint(tenant),
        sealtrail_service::timeline::timeline(state.store.as_ref(), tenant, &query.filter, now),
    )?;
    // A bar narrows the period and keeps every other filter.
    let without_period: Vec<(String, String)> = normalised
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "range" | "from" | "to"))
        .cloned()
        .collect();
    view.timeline = TimelineView::new(&timeline, &url_with(&without_period, &[]));
    let signed = checkpoint.map(|c| c.size);
    view.rows = page
        .entries
        .iter()
        .map(|e| EntryRow::new(e, now, signed))
        .collect();
    view.count_text = count_text(count);
    let page_url = |c: &Cursor| {
        format!(
            "/audit?{}",
            url_with(&normalised, &[("cursor", &c.encode())])
        )
    };
    view.next_url = page.next_cursor.as_ref().map(page_url).unwrap_or_default();
    view.prev_url = page.prev_cursor.as_ref().map(page_url).unwrap_or_default();
    Ok(render(&view))
}

/// The form's parameters in the filter language: the "System only" checkbox may send
/// `system=on`, which the filter parser spells `true`.
fn filter_language(params: Vec<(String, String)>) -> Vec<(String, String)> {
    params
        .into_iter()
        .map(|(k, v)| match (k.as_str(), v.as_str()) {
            ("system", "on") => (k, "true".to_string()),
            _ => (k, v),
        })
        .collect()
}

fn export_label(format: Format) -> &'static str {
    match format {
        Format::Csv => "CSV",
        Format::Json => "JSON",
        Format::Ndjson => "NDJSON",
        Format::Xlsx => "Excel",
        Format::Pdf => "PDF report",
        Format::Bundle => "Evidence bundle",
    }
}

/// `GET /audit/export`: the current view, every page of it, in the chosen format. The download
/// is audited under the signed-in user, like every export.
pub async fn export(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    user.require_log_access()?;
    let params: Vec<(String, String)> = filter_language(query_params(raw.as_deref()))
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    stream_download(&state, user.tenant.id, user.actor(), &params)
        .map_err(|e| PageError::BadRequest(e.body.message))
}

#[derive(Template)]
#[template(path = "entry.html")]
struct EntryPage {
    frame: PageFrame,
    row: EntryRow,
    leaf_hash: String,
    tree_size: String,
    proof: Vec<String>,
    root: String,
}

/// `GET /audit/entries/{id}`: one entry on its own page (a link to quote), with its inclusion
/// proof against the latest signed checkpoint.
pub async fn entry(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    user.require_log_access()?;
    let tenant = user.tenant.id;
    let uuid = Uuid::parse_str(&id)
        .map_err(|_| PageError::NotFound("There is no entry with this id.".into()))?;
    let entry = match state.store.get(tenant, uuid).await? {
        Lookup::Found(e) => e,
        Lookup::Pruned { seq } => {
            return Err(PageError::Gone(format!(
                "Entry {uuid} (position {seq} in the log) was removed by retention pruning. Its \
                 hash is still part of the log, so proofs about the rest of the log remain valid."
            )))
        }
        Lookup::Missing => {
            return Err(PageError::NotFound(
                "There is no entry with this id.".into(),
            ))
        }
    };
    let integrity = entry_integrity(&state, tenant, entry.seq)
        .await
        .map_err(|e| PageError::Internal(e.body.message))?;
    let text = |key: &str| {
        integrity
            .get(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .unwrap_or_default()
    };
    let proof = integrity
        .get("inclusion_proof")
        .and_then(|p| p.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|h| h.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let root = integrity
        .get("checkpoint")
        .and_then(|c| c.get("root"))
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_default();
    let checkpoint = state.store.latest_checkpoint(tenant).await?;
    let page = EntryPage {
        frame: user.frame("Entry", "audit"),
        row: EntryRow::new(&entry, Timestamp::now(), checkpoint.map(|c| c.size)),
        leaf_hash: text("leaf_hash"),
        tree_size: text("tree_size"),
        proof,
        root,
    };
    Ok(render(&page).into_response())
}
