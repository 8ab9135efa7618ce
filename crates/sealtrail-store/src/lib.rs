//! Storage behind one trait, so the HTTP server, CLI and exports never know which engine holds
//! the log, and one contract suite ([`contract`]) proves every backend behaves the same.

use async_trait::async_trait;
use sealtrail_core::entry::{Appended, Entry, NewEntry};
use sealtrail_core::filter::{Facets, Filter, Page, Query};
use sealtrail_core::keys::{ApiKey, Scope};
use sealtrail_core::{Tenant, TenantId};
use uuid::Uuid;

pub mod sqlite;

#[cfg(feature = "contract")]
pub mod contract;

/// Everything that can go wrong in storage, phrased for operators (clients see only a 5xx or 503).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The tenant (or key) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness rule refused the write (for example a tenant name already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The writer stopped accepting writes after an unrecoverable error (e.g. fsync failed);
    /// the process must restart so recovery runs from what is durably on disk.
    #[error("the log writer has stopped after a fatal storage error: {0}")]
    WriterFailed(String),
    /// A backend error on this operation only.
    #[error("storage error: {0}")]
    Backend(String),
    /// Stored bytes did not decode; indicates corruption or a schema mismatch.
    #[error("corrupt stored entry: {0}")]
    Corrupt(String),
}

/// A stored API key as found by its prefix, with the tenant it belongs to.
pub type KeyRecord = ApiKey;

/// The persistence contract. Every method is tenant-scoped where data is tenant-owned: no call
/// can read or write another tenant's entries.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Appends one request's events to `tenant`'s log, in order, and returns only once they are
    /// durably committed. Events whose `idempotency_key` already exists in the tenant's log (or
    /// earlier in the same batch) are not stored again: their original id and seq come back with
    /// `duplicate = true`. Concurrent calls are grouped into shared transactions.
    async fn append(
        &self,
        tenant: TenantId,
        entries: Vec<NewEntry>,
    ) -> Result<Vec<Appended>, StoreError>;

    /// One page of entries matching the query, newest first.
    async fn query(&self, tenant: TenantId, query: &Query) -> Result<Page, StoreError>;

    /// How many entries match the filter.
    async fn count(&self, tenant: TenantId, filter: &Filter) -> Result<u64, StoreError>;

    /// One entry by id, or `None` if it does not exist in this tenant.
    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Option<Entry>, StoreError>;

    /// Distinct values present in the tenant's log, with counts.
    async fn facets(&self, tenant: TenantId) -> Result<Facets, StoreError>;

    /// Number of entries ever appended to the tenant's log (the next seq).
    async fn log_size(&self, tenant: TenantId) -> Result<u64, StoreError>;

    /// Creates a tenant; `Conflict` if the name is taken.
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError>;

    /// All tenants, oldest first.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// A tenant by its name.
    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StoreError>;

    /// A tenant by its internal id.
    async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, StoreError>;

    /// Stores a new key's record (prefix as id, hash, scopes). The plaintext never reaches here.
    async fn insert_api_key(
        &self,
        tenant: TenantId,
        prefix: &str,
        hash: [u8; 32],
        name: &str,
        scopes: &[Scope],
    ) -> Result<ApiKey, StoreError>;

    /// The key with this prefix, revoked or not, in any tenant (authentication starts here).
    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<KeyRecord>, StoreError>;

    /// The tenant's keys, newest first, including revoked ones (an audit needs both).
    async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes a key of this tenant. Returns the key as it now is, or `None` if the tenant has
    /// no key with that id. Revoking twice keeps the first revocation time.
    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        id: &str,
    ) -> Result<Option<ApiKey>, StoreError>;

    /// Checks the backend can serve: used by `/healthz`.
    async fn health(&self) -> Result<(), StoreError>;
}
