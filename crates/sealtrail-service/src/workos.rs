//! Creating an event through WorkOS's API (`POST /audit_logs/events`): the event's
//! `organization_id` must name the key's tenant, and its `Idempotency-Key` (which the WorkOS
//! SDKs send with every event, and resend when they retry) makes a retried request answer
//! the original entry instead of storing a second one.

use crate::ingest::{append_entries, derive_key};
use crate::schemas::SchemaRegistry;
use crate::usage::admission::Admitted;
use crate::usage::Usage;
use crate::ServiceError;
use sealtrail_core::compat::workos;
use sealtrail_core::entry::Appended;
use sealtrail_core::ingest::Limits;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::Store;

/// One `POST /audit_logs/events`.
pub struct CreateEvent<B> {
    /// The tenant the caller's key belongs to.
    pub tenant: TenantId,
    /// The body as received.
    pub body: B,
    /// The request's `Idempotency-Key`.
    pub idempotency_key: Option<String>,
}

/// Checks, maps and durably appends one WorkOS event; a retry with the same idempotency key
/// answers the original entry (`duplicate`).
pub async fn create_event<B: AsRef<[u8]>>(
    store: &dyn Store,
    usage: &Usage,
    limits: &Limits,
    schemas: &SchemaRegistry,
    request: CreateEvent<B>,
    queued: Admitted,
) -> Result<Appended, ServiceError> {
    let event = workos::parse_event(request.body.as_ref(), limits, Timestamp::now())?;
    drop(request.body);
    check_organization(store, request.tenant, &event.organization_id).await?;
    let misfits = schemas
        .check(store, request.tenant, [(0, &event.entry, event.version)])
        .await?;
    if let Some((_, e)) = misfits.into_iter().next() {
        return Err(ServiceError::Field(workos::in_request(e)));
    }
    let mut entry = event.entry;
    derive_key(&mut entry, request.idempotency_key.as_deref(), 0);
    let mut appended = append_entries(store, usage, request.tenant, vec![entry], queued).await?;
    appended
        .pop()
        .ok_or_else(|| ServiceError::Invalid("the event was not stored".into()))
}

/// Refuses, as WorkOS does ([`ServiceError::NotFound`], "Organization not found"), an
/// organization id that is neither the name of the key's tenant nor one of its aliases
/// (`sealtrail tenants alias add`).
pub async fn check_organization(
    store: &dyn Store,
    tenant: TenantId,
    organization: &str,
) -> Result<(), ServiceError> {
    if crate::tenants::is_named(store, tenant, organization).await? {
        Ok(())
    } else {
        Err(ServiceError::NotFound(format!(
            "Organization not found: '{organization}'. (A key reaches only its own tenant; use the tenant's name or one of its aliases as the organization id.)"
        )))
    }
}
