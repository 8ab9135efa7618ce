//! Retraced's GraphQL search (`search(query, first, after, last, before)`), answered by a
//! real GraphQL executor so every selection set Retraced's client and embeddable viewer send
//! is parsed and validated as GraphQL specifies. The search itself — the structured query,
//! a viewer's scope and the record of its view, the page and its count — is
//! `service::retraced::search`; this module maps its page onto Retraced's event nodes.
//!
//! Results are newest first. `last`/`first` is the page size; `before` (or `after`) is the
//! cursor of the last edge shown, and the next page holds older entries; `hasPreviousPage`
//! says older entries remain, as Retraced's clients read it.

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, ErrorExtensions, Object, Schema, SimpleObject, ID,
};
use sealtrail_core::compat::retraced::viewer::ViewerScope;
use sealtrail_core::compat::retraced::{GROUP_PROPERTY, PROPERTY};
use sealtrail_core::entry::{Entry, Outcome};
use sealtrail_core::filter::{Cursor, Direction};
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_service::retraced;
use sealtrail_service::usage::Usage;
use sealtrail_service::ServiceError;
use sealtrail_store::Store;
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};

/// The schema: one query, no mutations.
pub type SearchSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// Page size when the search names none (Retraced's viewer always does).
const DEFAULT_PAGE: i32 = 20;

/// The one schema, built on first use (its registry does not depend on the request).
pub fn schema() -> &'static SearchSchema {
    static SCHEMA: OnceLock<SearchSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
            .limit_depth(8)
            .limit_complexity(256)
            .finish()
    })
}

/// Who is searching and what they may see, handed to the executor with each request.
pub struct SearchScope {
    /// The log.
    pub store: Arc<dyn Store>,
    /// The tenant, from the key or the viewer session, never from the query.
    pub tenant: TenantId,
    /// An embedded viewer's session: its group and target bound every search, and each
    /// search is recorded before it is answered. `None` for the application's own key.
    pub viewer: Option<ViewerSearch>,
}

/// What a viewer's searches are bound by and recorded with.
pub struct ViewerSearch {
    /// The session's scope (group, target, viewing actor, recorded action).
    pub scope: ViewerScope,
    /// The admission the view entries go through, as every event does.
    pub usage: Arc<Usage>,
    /// The viewer's address, for the view entry's context.
    pub ip: String,
}

/// The root of the schema.
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Newest-first entries matching Retraced's structured `query`, within the caller's scope.
    /// One search per request (its complexity is most of the limit), so a request costs one
    /// page and one count, and a viewer's request one recorded view.
    #[graphql(complexity = 200)]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<SearchQueryResult> {
        let scope = ctx.data::<SearchScope>()?;
        let viewer = scope.viewer.as_ref().map(|v| retraced::Viewer {
            scope: &v.scope,
            usage: &v.usage,
            ip: &v.ip,
        });
        let request = retraced::SearchRequest {
            text: query.as_deref().unwrap_or_default(),
            size: last.or(first).unwrap_or(DEFAULT_PAGE),
            cursor: before.or(after),
        };
        let (page, total) = retraced::search(scope.store.as_ref(), scope.tenant, viewer, request)
            .await
            .map_err(search_failed)?;
        Ok(SearchQueryResult {
            edges: page
                .entries
                .iter()
                .map(|entry| EventEdge {
                    cursor: Cursor {
                        seq: entry.seq,
                        direction: Direction::Older,
                    }
                    .encode(),
                    node: Event::from(entry),
                })
                .collect(),
            page_info: PageInfo {
                has_next_page: page.prev_cursor.is_some(),
                has_previous_page: page.next_cursor.is_some(),
            },
            total_count: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }
}

/// A refused or failed search as GraphQL's error: the request's mistakes as they are; over
/// the tenant's limits, at the node's capacity or a store failure (logged) marked as the
/// server's, so the answer says to retry.
fn search_failed(e: ServiceError) -> async_graphql::Error {
    let server_side = |message: String| {
        async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", SERVER_ERROR))
    };
    match e {
        ServiceError::Limited { message, .. } | ServiceError::Overloaded(message) => {
            server_side(message)
        }
        ServiceError::Store(e) => {
            tracing::error!(error = %e, "Retraced search failed");
            server_side("the search failed; it has been logged; retry later".into())
        }
        other => async_graphql::Error::new(other.to_string()),
    }
}

/// The `code` extension of an error that is the server's, not the request's: the answer is
/// then 503 (retry), never 400.
pub const SERVER_ERROR: &str = "server_error";

/// One page of a search.
#[derive(SimpleObject)]
pub struct SearchQueryResult {
    edges: Vec<EventEdge>,
    page_info: PageInfo,
    total_count: i32,
}

/// One entry and the cursor that pages past it.
#[derive(SimpleObject)]
pub struct EventEdge {
    node: Event,
    cursor: String,
}

/// Whether newer (`hasNextPage`) or older (`hasPreviousPage`) entries remain.
#[derive(SimpleObject)]
pub struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
}

/// A key and its value, as Retraced lists `fields` and `metadata`.
#[derive(SimpleObject)]
#[graphql(name = "Field")]
pub struct KeyValue {
    key: String,
    value: String,
}

/// Retraced's group of an entry.
#[derive(SimpleObject)]
#[graphql(name = "Group")]
pub struct EventGroup {
    id: Option<String>,
    name: Option<String>,
}

/// The entry's actor in Retraced's shape.
#[derive(SimpleObject)]
#[graphql(name = "Actor")]
pub struct EventActor {
    id: Option<String>,
    name: Option<String>,
    href: Option<String>,
    fields: Vec<KeyValue>,
}

/// The entry's first target in Retraced's shape.
#[derive(SimpleObject)]
#[graphql(name = "Target")]
pub struct EventTarget {
    id: Option<String>,
    name: Option<String>,
    href: Option<String>,
    #[graphql(name = "type")]
    kind: Option<String>,
    fields: Vec<KeyValue>,
}

/// How the viewer shows an entry: its description as Markdown.
#[derive(SimpleObject)]
pub struct Display {
    markdown: Option<String>,
}

/// One entry in Retraced's event shape (docs/compat.md, "Search").
#[derive(SimpleObject)]
#[graphql(rename_fields = "snake_case")]
pub struct Event {
    id: ID,
    action: String,
    description: Option<String>,
    group: Option<EventGroup>,
    actor: Option<EventActor>,
    target: Option<EventTarget>,
    crud: Option<String>,
    display: Display,
    received: String,
    created: String,
    canonical_time: String,
    is_failure: bool,
    is_anonymous: bool,
    source_ip: Option<String>,
    country: Option<String>,
    // snake_case would write these `loc_subdiv_1`: Retraced's names have no underscore there.
    #[graphql(name = "loc_subdiv1")]
    loc_subdiv1: Option<String>,
    #[graphql(name = "loc_subdiv2")]
    loc_subdiv2: Option<String>,
    component: Option<String>,
    version: Option<String>,
    fields: Vec<KeyValue>,
    raw: String,
    external_id: Option<String>,
    metadata: Vec<KeyValue>,
}

impl From<&Entry> for Event {
    fn from(entry: &Entry) -> Self {
        let retraced = entry
            .properties
            .get(PROPERTY)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let part = |name: &str| retraced.get(name).and_then(Value::as_object);
        let pairs = |v: Option<&Value>| {
            v.and_then(Value::as_object)
                .map(key_values)
                .unwrap_or_default()
        };
        let group = part("group")
            .map(|g| EventGroup {
                id: text(g.get("id")),
                name: text(g.get("name")),
            })
            .or_else(|| {
                text(entry.properties.get(GROUP_PROPERTY)).map(|id| EventGroup {
                    id: Some(id),
                    name: None,
                })
            });
        let actor_extra = part("actor");
        let target_extra = part("target");
        let fields: Map<String, Value> = entry
            .properties
            .iter()
            .filter(|(k, _)| *k != PROPERTY && *k != GROUP_PROPERTY)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Event {
            id: ID(entry.id.to_string()),
            action: entry.action.clone(),
            description: Some(entry.description.clone()),
            group,
            actor: Some(EventActor {
                id: entry.actor.id.clone(),
                name: entry.actor.name.clone(),
                href: text(actor_extra.and_then(|a| a.get("href"))),
                fields: pairs(actor_extra.and_then(|a| a.get("fields"))),
            }),
            target: entry.targets.first().map(|t| EventTarget {
                id: t.id.clone(),
                name: t.name.clone(),
                href: text(target_extra.and_then(|x| x.get("href"))),
                kind: Some(t.kind.clone()),
                fields: pairs(target_extra.and_then(|x| x.get("fields"))),
            }),
            crud: crud(&entry.event).map(str::to_string),
            display: Display {
                markdown: Some(markdown_escape(&entry.description)),
            },
            received: moment(entry.recorded_at),
            created: moment(entry.occurred_at),
            canonical_time: moment(entry.occurred_at),
            is_failure: matches!(entry.result, Outcome::Failure | Outcome::Denied),
            is_anonymous: retraced.get("is_anonymous").and_then(Value::as_bool) == Some(true),
            source_ip: entry.context.ip.clone(),
            country: None,
            loc_subdiv1: None,
            loc_subdiv2: None,
            component: text(retraced.get("component")),
            version: text(retraced.get("version")),
            fields: key_values(&fields),
            raw: serde_json::to_string(entry).unwrap_or_default(),
            external_id: text(retraced.get("external_id")),
            metadata: pairs(retraced.get("metadata")),
        }
    }
}

/// `[{key, value}]` of an object; values that are not strings as their JSON text.
fn key_values(object: &Map<String, Value>) -> Vec<KeyValue> {
    object
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.clone(),
            value: match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        })
        .collect()
}

/// Retraced's `crud` letter of a Sealtrail badge kind; other kinds have none.
fn crud(event: &str) -> Option<&'static str> {
    match event {
        "created" => Some("c"),
        "read" => Some("r"),
        "updated" => Some("u"),
        "deleted" => Some("d"),
        _ => None,
    }
}

/// A time as Retraced formats it (`moment.utc(t).format()`: whole seconds, `Z`).
fn moment(at: Timestamp) -> String {
    let text = at.to_string();
    match (text.find('.'), text.strip_suffix('Z')) {
        (Some(dot), Some(_)) => format!("{}Z", &text[..dot]),
        _ => text,
    }
}

/// The description with Markdown's syntax characters escaped: the viewer renders
/// `display.markdown`, and an event's text must show as written, never as links or markup.
fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_{}[]()<>#+-.!|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_retraced_writes_them() {
        let at = Timestamp::parse_rfc3339("2026-12-03T07:41:56.123Z").unwrap();
        assert_eq!(moment(at), "2026-12-03T07:41:56Z");
    }

    #[test]
    fn markdown_in_a_description_is_shown_as_text() {
        assert_eq!(
            markdown_escape("[click](javascript:x) <b>"),
            "\\[click\\]\\(javascript:x\\) \\<b\\>"
        );
    }
}
