//! Publishing through Retraced's API: the request's project must be the key's tenant, every
//! event is checked (Retraced's rules, then Sealtrail's) before any is stored, and the
//! answer carries each entry's id with the hash the client recomputes.
//!
//! A Retraced project maps to one Sealtrail tenant by name: the project id in the URL must be
//! the name of the tenant the API key belongs to, so a key still reaches exactly one tenant
//! and the URL can never point it at another. Retraced's `group` (the vendor's customer) is
//! kept on each entry (`properties.retraced.group`), where reads can scope by it.

use crate::ingest::{append_entries, derive_key};
use crate::usage::admission::Admitted;
use crate::usage::Usage;
use crate::ServiceError;
use sealtrail_core::compat::retraced::{self, Publication};
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
    request: PublishRequest<B>,
    queued: Admitted,
) -> Result<Vec<Published>, ServiceError> {
    let tenant = store
        .tenant_by_id(request.tenant)
        .await?
        .ok_or_else(|| ServiceError::NotFound("the key's tenant".into()))?;
    if tenant.name != request.project {
        return Err(ServiceError::Forbidden(format!(
            "this API key writes to the tenant `{}`: use it as the project id, not `{}`",
            tenant.name, request.project
        )));
    }
    let publications = retraced::parse_publish(
        request.body.as_ref(),
        limits,
        Timestamp::now(),
        request.bulk,
    )?;
    drop(request.body);
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
