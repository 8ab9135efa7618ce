//! Per-action schemas as a service: registering a version (checked, stored, audited) and
//! the compiled schemas every ingest route checks events against.
//!
//! Each node keeps a tenant's compiled schemas for [`CACHE_TTL`]: ingest checks events
//! without a database read per request, a registration on this node applies at once, and one
//! made on another node of a PostgreSQL deployment applies here within that time.

use crate::audit::SelfAudit;
use crate::ServiceError;
use sealtrail_core::entry::{Actor, NewEntry, Target};
use sealtrail_core::ingest::{validate_action, FieldError};
use sealtrail_core::schemas::{check_document, ActionSchemas};
use sealtrail_core::TenantId;
use sealtrail_store::{Store, StoredSchema};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a node uses a tenant's compiled schemas before reading them again.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// The compiled schemas of the tenants this node has seen recently.
#[derive(Default)]
pub struct SchemaRegistry {
    cache: Mutex<HashMap<TenantId, Cached>>,
    /// Bumped by every registration on this node: a read that began before one does not
    /// put its older set back into the cache.
    generation: AtomicU64,
}

/// One tenant's compiled schemas and when they were read.
struct Cached {
    read_at: Instant,
    /// The `(action, version)`s compiled: a re-read finding the same ones reuses them
    /// instead of compiling every document again.
    versions: Vec<(String, u32)>,
    schemas: Arc<ActionSchemas>,
}

impl SchemaRegistry {
    /// `tenant`'s compiled schemas, read from the store at most every [`CACHE_TTL`].
    pub async fn for_tenant(
        &self,
        store: &dyn Store,
        tenant: TenantId,
    ) -> Result<Arc<ActionSchemas>, ServiceError> {
        let previous = match self.cache.lock() {
            Ok(cache) => cache
                .get(&tenant)
                .map(|c| (c.read_at, c.versions.clone(), c.schemas.clone())),
            Err(_) => None,
        };
        if let Some((read_at, _, schemas)) = &previous {
            if read_at.elapsed() < CACHE_TTL {
                return Ok(schemas.clone());
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let rows = store.action_schemas(tenant).await?;
        let versions: Vec<(String, u32)> =
            rows.iter().map(|r| (r.action.clone(), r.version)).collect();
        let schemas = match previous {
            Some((_, seen, schemas)) if seen == versions => schemas,
            _ => {
                // Compiling is CPU work on untrusted documents: off the async workers.
                let compiled = tokio::task::spawn_blocking(move || {
                    ActionSchemas::compile(
                        rows.iter()
                            .map(|r| (r.action.as_str(), r.version, r.document.as_str())),
                    )
                })
                .await
                .map_err(|e| ServiceError::Invalid(format!("compiling schemas failed: {e}")))?;
                Arc::new(compiled)
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            if self.generation.load(Ordering::Acquire) == generation {
                cache.insert(
                    tenant,
                    Cached {
                        read_at: Instant::now(),
                        versions,
                        schemas: schemas.clone(),
                    },
                );
            }
        }
        Ok(schemas)
    }

    /// Checks each entry against its action's schema (the version each names, else the
    /// newest); `(index, why)` for those that do not match.
    pub async fn check<'a>(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        entries: impl IntoIterator<Item = (usize, &'a NewEntry, Option<u64>)>,
    ) -> Result<Vec<(usize, FieldError)>, ServiceError> {
        let schemas = self.for_tenant(store, tenant).await?;
        let mut refused = Vec::new();
        for (index, entry, version) in entries {
            if schemas.is_empty() {
                break;
            }
            if let Err(e) = schemas.check(entry, version) {
                refused.push((index, e));
            }
        }
        Ok(refused)
    }

    /// Registers `document` as the next version of `action`'s schema for `tenant`, audited as
    /// `action_schema.registered`; `source` is the form it was sent in when that was not a
    /// JSON Schema (WorkOS's). Applies to this node's ingest at once.
    pub async fn register(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        action: &str,
        document: &Value,
        source: Option<&Value>,
        actor: &Actor,
    ) -> Result<StoredSchema, ServiceError> {
        validate_action(action)
            .map_err(|e| ServiceError::Invalid(format!("action `{action}`: {}", e.message)))?;
        check_document(document).map_err(|e| ServiceError::Invalid(e.0))?;
        let source = source.map(Value::to_string);
        let stored = store
            .add_action_schema(tenant, action, &document.to_string(), source.as_deref())
            .await?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&tenant);
        }
        let audit = SelfAudit {
            channel: "security",
            action: "action_schema.registered",
            event: "created",
            description: format!("Schema version {} of {action} registered", stored.version),
            actor: actor.clone(),
            target: Some(Target {
                kind: "action_schema".into(),
                id: Some(action.to_string()),
                name: Some(format!("{action} v{}", stored.version)),
            }),
            properties: Map::from_iter([("version".to_string(), json!(stored.version))]),
        };
        store.append(tenant, vec![audit.into_entry()]).await?;
        Ok(stored)
    }
}

/// Every version of every action's schema of `tenant`, by action then version.
pub async fn list(store: &dyn Store, tenant: TenantId) -> Result<Vec<StoredSchema>, ServiceError> {
    Ok(store.action_schemas(tenant).await?)
}
