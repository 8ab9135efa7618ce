//! Publishing through Retraced's API: the request's project must be the key's tenant, every
//! event is checked (Retraced's rules, then Sealtrail's) before any is stored, and the
//! answer carries each entry's id with the hash the client recomputes.
//!
//! A Retraced project maps to one Sealtrail tenant by name: the project id in the URL must be
//! the name of the tenant the API key belongs to, so a key still reaches exactly one tenant
//! and the URL can never point it at another. Retraced's `group` (the vendor's customer) is
//! kept on each entry (`properties.retraced.group`), where reads can scope by it.

pub mod saved_exports;

use crate::ingest::{append_entries, derive_key};
use crate::schemas::SchemaRegistry;
use crate::usage::admission::Admitted;
use crate::usage::Usage;
use crate::ServiceError;
use sealtrail_core::compat::retraced::viewer::{self, Stage, ViewerScope};
use sealtrail_core::compat::retraced::{self, Publication};
use sealtrail_core::filter::{parse_query, Page};
use sealtrail_core::ingest::Limits;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::Store;
use uuid::Uuid;

/// One publish request (`/event` or `/event/bulk`).
pub struct PublishRequest<B> {
    /// The tenant the caller's key belongs to.
    pub tenant: TenantId,
    /// The project id the client put in the URL: must name that tenant.
    pub project: String,
    /// `{"events": [...]}` (bulk) rather than one event.
    pub bulk: bool,
    /// The body as received; dropped once parsed.
    pub body: B,
    /// The request's `Idempotency-Key`, if it sent one (Retraced's own clients do not; a
    /// retrying proxy or a hand-written client may), applied as on native ingest.
    pub idempotency_key: Option<String>,
}

/// One stored event, as the client expects to hear of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The entry's id (the original's, for a duplicate of an earlier request).
    pub id: Uuid,
    /// The client's canonical hash of the event it sent, with that id.
    pub hash: String,
}

/// Checks that `project` names `tenant`, parses and checks every event, then durably
/// appends them all (or refuses them all) and answers in request order.
pub async fn publish<B: AsRef<[u8]>>(
    store: &dyn Store,
    usage: &Usage,
    limits: &Limits,
    schemas: &SchemaRegistry,
    request: PublishRequest<B>,
    queued: Admitted,
) -> Result<Vec<Published>, ServiceError> {
    check_project(store, request.tenant, &request.project).await?;
    let publications = retraced::parse_publish(
        request.body.as_ref(),
        limits,
        Timestamp::now(),
        request.bulk,
    )?;
    drop(request.body);
    let misfits = schemas
        .check(
            store,
            request.tenant,
            publications
                .iter()
                .enumerate()
                .map(|(i, p)| (i, &p.entry, None)),
        )
        .await?;
    if !misfits.is_empty() {
        return Err(retraced::schema_refusal(misfits, request.bulk).into());
    }
    let mut entries = Vec::with_capacity(publications.len());
    let mut hashes = Vec::with_capacity(publications.len());
    for (index, Publication { mut entry, hash }) in publications.into_iter().enumerate() {
        derive_key(&mut entry, request.idempotency_key.as_deref(), index);
        entries.push(entry);
        hashes.push(hash);
    }
    let appended = append_entries(store, usage, request.tenant, entries, queued).await?;
    Ok(appended
        .into_iter()
        .zip(hashes)
        .map(|(a, hash)| Published {
            id: a.id,
            hash: hash.with_id(&a.id.to_string()),
        })
        .collect())
}

/// Refuses ([`ServiceError::Forbidden`]) a project id that is neither the name of the key's
/// tenant nor one of its aliases: the key decides the tenant, the URL only has to agree.
pub async fn check_project(
    store: &dyn Store,
    tenant: TenantId,
    project: &str,
) -> Result<(), ServiceError> {
    if crate::tenants::is_named(store, tenant, project).await? {
        return Ok(());
    }
    let name = store
        .tenant_by_id(tenant)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    Err(ServiceError::Forbidden(format!(
        "this API key belongs to the tenant `{name}`: use its name (or one of its aliases) as the project id, not `{project}`"
    )))
}

/// What the application asks a viewer token for (`GET …/viewertoken`).
#[derive(Debug, Clone, Default)]
pub struct ViewerTokenRequest {
    /// `group_id` (or its old name `team_id`): the viewer sees only this group's entries.
    pub group_id: Option<String>,
    /// `actor_id`: the application's user who will view; required.
    pub actor_id: String,
    /// `is_admin`.
    pub is_admin: bool,
    /// `target_id`: the viewer sees only entries with this target.
    pub target_id: Option<String>,
    /// `view_log_action`: the action the viewer's searches are recorded under.
    pub view_log_action: Option<String>,
}

/// Issues a viewer token for the key's tenant (which `project` must name), scoped as asked.
/// Refused when the actor is missing or the view action is not a valid Sealtrail action.
pub async fn viewer_token(
    store: &dyn Store,
    key: &[u8; 32],
    tenant: TenantId,
    project: &str,
    request: ViewerTokenRequest,
) -> Result<String, ServiceError> {
    check_project(store, tenant, project).await?;
    // The scope is taken exactly as given: a value with spaces around it (or only spaces)
    // would otherwise be trimmed by the list filter into another group, or into none.
    let exact = |name: &str, value: &Option<String>| match value {
        Some(v) if v.is_empty() || v.trim() != v => Err(ServiceError::Invalid(format!(
            "`{name}` must not be empty or begin or end with spaces"
        ))),
        _ => Ok(()),
    };
    exact("group_id", &request.group_id)?;
    exact("target_id", &request.target_id)?;
    if request.group_id.is_none() {
        return Err(ServiceError::Invalid(
            "`group_id` is required: a viewer sees one group's entries".into(),
        ));
    }
    if request.actor_id.trim().is_empty() {
        return Err(ServiceError::Invalid(
            "`actor_id` is required: the application's user who will view the log".into(),
        ));
    }
    let scope = ViewerScope {
        tenant: tenant.0,
        project: project.to_string(),
        group_id: request.group_id,
        actor_id: request.actor_id,
        is_admin: request.is_admin,
        target_id: request.target_id,
        view_log_action: request
            .view_log_action
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| viewer::DEFAULT_VIEW_ACTION.into()),
    };
    let now = Timestamp::now();
    // The action is checked now, by the validator that will record each view.
    viewer::view_entry(&scope, "", None, now)
        .map_err(|e| ServiceError::Invalid(format!("view_log_action: {}", e.message)))?;
    Ok(viewer::seal(&scope, Stage::Token, key, now))
}

/// Exchanges a viewer token for a session (`POST /viewer/v1/viewersession`): the session
/// and the scope it carries.
pub fn viewer_session(key: &[u8; 32], token: &str) -> Result<(String, ViewerScope), ServiceError> {
    let now = Timestamp::now();
    let scope = viewer::open(token, Stage::Token, key, now)
        .map_err(|e| ServiceError::Unauthenticated(e.to_string()))?;
    Ok((viewer::seal(&scope, Stage::Session, key, now), scope))
}

/// The scope of a viewer session, once its seal and expiry check.
pub fn open_session(key: &[u8; 32], session: &str) -> Result<ViewerScope, ServiceError> {
    viewer::open(session, Stage::Session, key, Timestamp::now())
        .map_err(|e| ServiceError::Unauthenticated(e.to_string()))
}

/// Records one viewer search in the tenant's log (durably, before the results are sent):
/// reading the trail through an embedded viewer is part of the trail. Admitted like any
/// event (the writer's queue, the tenant's rate and quota), so a viewer cannot write the log
/// faster than the tenant's producers may.
pub async fn record_view(
    store: &dyn Store,
    usage: &Usage,
    scope: &ViewerScope,
    search: &str,
    ip: Option<&str>,
) -> Result<(), ServiceError> {
    let entry = viewer::view_entry(scope, search, ip, Timestamp::now())?;
    let queued = usage.reserve_queue(None, 1)?;
    append_entries(store, usage, TenantId(scope.tenant), vec![entry], queued).await?;
    Ok(())
}

/// An embedded viewer's search: its session's scope, the admission its view entry goes
/// through, and its address.
pub struct Viewer<'a> {
    /// The session's scope.
    pub scope: &'a ViewerScope,
    /// The node's admission of events.
    pub usage: &'a Usage,
    /// The viewer's address.
    pub ip: &'a str,
}

/// What a Retraced search asks for.
pub struct SearchRequest<'a> {
    /// The structured query string (`action:"user.*" crud:c,u free words`).
    pub text: &'a str,
    /// Entries per page (`last` or `first`).
    pub size: i32,
    /// The cursor of the last entry shown (`before` or `after`); the page holds older ones.
    pub cursor: Option<String>,
}

/// One Retraced search of `tenant`, newest first: the structured query as Sealtrail's
/// filters; for a viewer, its session's group and target set on the parsed filter (replacing
/// whatever the text said about them, so no search can widen the scope) and the view recorded
/// before anything is read. Answers the page and the total count of matches.
pub async fn search(
    store: &dyn Store,
    tenant: TenantId,
    viewer: Option<Viewer<'_>>,
    request: SearchRequest<'_>,
) -> Result<(Page, u64), ServiceError> {
    let mut params = retraced::search::search_params(request.text)
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    params.push(("limit".into(), request.size.to_string()));
    if let Some(cursor) = request.cursor.filter(|c| !c.is_empty()) {
        params.push(("cursor".into(), cursor));
    }
    let mut query = parse_query(&params, Timestamp::now(), &[])
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    if let Some(viewer) = viewer {
        let filter = &mut query.filter;
        if let Some(group) = &viewer.scope.group_id {
            filter
                .properties
                .retain(|(k, _)| k != retraced::GROUP_PROPERTY);
            filter
                .properties
                .push((retraced::GROUP_PROPERTY.to_string(), group.clone()));
        }
        if let Some(target) = &viewer.scope.target_id {
            filter.target_id = Some(target.clone());
        }
        record_view(
            store,
            viewer.usage,
            viewer.scope,
            request.text,
            Some(viewer.ip),
        )
        .await?;
    }
    let (page, total) = tokio::join!(
        store.query(tenant, &query),
        store.count(tenant, &query.filter)
    );
    Ok((page?, total?))
}
