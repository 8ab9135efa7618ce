//! The embedded viewer's saved exports over the log: saving one appends the entry that keeps
//! it (admitted like any event), listing them is a query of the viewer's group, and rendering
//! one gives the list parameters of its search within the viewer's scope, for the caller to
//! stream as an export (which records itself, as every export does).

use crate::ingest::append_entries;
use crate::usage::Usage;
use crate::ServiceError;
use sealtrail_core::compat::retraced::saved_export::{self, SavedExport};
use sealtrail_core::compat::retraced::viewer::ViewerScope;
use sealtrail_core::filter::parse_query;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{Lookup, Store};
use serde_json::Value;
use uuid::Uuid;

/// Most saved exports one listing answers (the viewer asks without a limit).
pub const MAX_LISTED: usize = 100;

/// Saves the viewer's export request durably; answers it as the viewer lists it.
pub async fn save(
    store: &dyn Store,
    usage: &Usage,
    scope: &ViewerScope,
    request: &Value,
    ip: Option<&str>,
) -> Result<Value, ServiceError> {
    let saved = saved_export::parse_request(request)
        .map_err(|refusal| ServiceError::Invalid(refusal.to_string()))?;
    let entry = saved_export::saved_entry(scope, &saved, ip, Timestamp::now())?;
    let queued = usage.reserve_queue(None, 1)?;
    let tenant = TenantId(scope.tenant);
    let appended = append_entries(store, usage, tenant, vec![entry], queued).await?;
    let Some(stored) = appended.first() else {
        return Err(ServiceError::Invalid(
            "the saved export was not stored".into(),
        ));
    };
    match store.get(tenant, stored.id).await? {
        Lookup::Found(entry) => Ok(saved_export::listed(&entry, &saved)),
        _ => Err(ServiceError::NotFound(
            "the saved export just stored".into(),
        )),
    }
}

/// The viewer's group's saved exports, newest first (at most `limit`, capped at
/// [`MAX_LISTED`]).
pub async fn list(
    store: &dyn Store,
    scope: &ViewerScope,
    limit: Option<usize>,
) -> Result<Vec<Value>, ServiceError> {
    let limit = limit.unwrap_or(MAX_LISTED).clamp(1, MAX_LISTED);
    let params = saved_export::listing_params(scope, limit);
    let query = parse_query(&params, Timestamp::now(), &[])
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let page = store.query(TenantId(scope.tenant), &query).await?;
    Ok(page
        .entries
        .iter()
        .filter_map(|entry| {
            saved_export::saved_in_scope(entry, scope)
                .map(|saved| saved_export::listed(entry, &saved))
        })
        .collect())
}

/// The list parameters that render saved export `id` for the viewer of `scope`, with its
/// name; `NotFound` for an id that is not a saved export of the viewer's group and target
/// (another group's looks exactly like a missing one).
pub async fn render_params(
    store: &dyn Store,
    scope: &ViewerScope,
    id: &str,
) -> Result<(SavedExport, Vec<(String, String)>), ServiceError> {
    let missing = || ServiceError::NotFound(format!("saved export `{}`", truncated(id)));
    let id = Uuid::parse_str(id).map_err(|_| missing())?;
    let saved = match store.get(TenantId(scope.tenant), id).await? {
        Lookup::Found(entry) => saved_export::saved_in_scope(&entry, scope).ok_or_else(missing)?,
        _ => return Err(missing()),
    };
    let params = saved_export::scoped_params(&saved, scope)
        .map_err(|refusal| ServiceError::Invalid(refusal.to_string()))?;
    Ok((saved, params))
}

fn truncated(text: &str) -> String {
    text.chars().take(64).collect()
}
