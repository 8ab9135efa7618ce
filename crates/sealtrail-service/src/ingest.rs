//! Ingesting one request's events: parse and validate the body with the strict rules (secrets
//! redacted), give each event without its own key one derived from the request's
//! `Idempotency-Key` (`<header>#<index>`, so a retried batch is recognised event by event),
//! admit the events against the writer's queue and the tenant's limits, and append them.
//!
//! The caller reserved queue room before it read the body ([`crate::usage::Usage::reserve_queue`],
//! so a refused request costs no parsing); [`ingest()`] cuts that reservation to the events
//! actually sent. When it returns, every stored event is durably committed: the caller may
//! acknowledge them.

use crate::schemas::SchemaRegistry;
use crate::usage::admission::Admitted;
use crate::usage::Usage;
use crate::ServiceError;
use sealtrail_core::entry::{Appended, NewEntry};
use sealtrail_core::ingest::{self, FieldError, Limits};
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::Store;

/// One request to ingest.
pub struct IngestRequest<B> {
    /// The tenant the caller's key belongs to.
    pub tenant: TenantId,
    /// The body as received: one event object, or `{"events": [...]}`. Dropped once parsed, so
    /// a large batch is not held while it waits for its commit.
    pub body: B,
    /// The request's `Idempotency-Key`, already checked for length and characters.
    pub idempotency_key: Option<String>,
}

/// What became of a request's events.
#[derive(Debug)]
pub struct Ingested {
    /// True for `{"events": [...]}`, which is answered per item even when it holds one event.
    pub is_batch: bool,
    /// `(index in the request, where it was stored)`: new entries and duplicates of earlier
    /// ones, in request order.
    pub stored: Vec<(usize, Appended)>,
    /// `(index in the request, why)` for the events of a batch that broke a rule; nothing of
    /// them was stored. Always empty for a single event, which fails the whole request instead.
    pub rejected: Vec<(usize, FieldError)>,
}

impl Ingested {
    /// Events that were already stored (same idempotency key): answered with the original.
    pub fn duplicates(&self) -> usize {
        self.stored.iter().filter(|(_, a)| a.duplicate).count()
    }

    /// Events stored by this request.
    pub fn accepted(&self) -> usize {
        self.stored.len() - self.duplicates()
    }
}

/// Parses, admits and durably appends a request's events (module docs). A single event that
/// breaks a rule fails with [`ServiceError::Field`]; a body that is not events at all with
/// [`ServiceError::Body`]; limits with [`ServiceError::Limited`] or
/// [`ServiceError::Overloaded`], in every case with nothing stored.
pub async fn ingest<B: AsRef<[u8]>>(
    store: &dyn Store,
    usage: &Usage,
    limits: &Limits,
    schemas: &SchemaRegistry,
    request: IngestRequest<B>,
    queued: Admitted,
) -> Result<Ingested, ServiceError> {
    let parsed = ingest::parse_body(request.body.as_ref(), limits, Timestamp::now())?;
    drop(request.body);

    let compiled = schemas.for_tenant(store, request.tenant).await?;
    let mut indices = Vec::with_capacity(parsed.items.len());
    let mut entries = Vec::with_capacity(parsed.items.len());
    let mut rejected = Vec::new();
    for (index, item) in parsed.items.into_iter().enumerate() {
        // An event breaking its action's schema is refused like any other broken rule.
        let item = item.and_then(|entry| compiled.check(&entry, None).map(|()| entry));
        match item {
            Ok(mut entry) => {
                derive_key(&mut entry, request.idempotency_key.as_deref(), index);
                indices.push(index);
                entries.push(entry);
            }
            Err(e) if !parsed.is_batch => return Err(e.into()),
            Err(e) => rejected.push((index, e)),
        }
    }
    metrics::counter!("sealtrail_events_ingested_total", "status" => "rejected")
        .increment(rejected.len() as u64);
    let appended = append_entries(store, usage, request.tenant, entries, queued).await?;
    Ok(Ingested {
        is_batch: parsed.is_batch,
        stored: indices.into_iter().zip(appended).collect(),
        rejected,
    })
}

/// Gives an event without its own idempotency key the one derived from the request's
/// `Idempotency-Key` header and its place in the request (`<header>#<index>`).
pub(crate) fn derive_key(entry: &mut NewEntry, header: Option<&str>, index: usize) {
    if entry.idempotency_key.is_none() {
        entry.idempotency_key = header.map(|key| format!("{key}#{index}"));
    }
}

/// Admits validated entries against the writer's queue and the tenant's limits, appends
/// them, and counts them: every ingest route, native or compatible, stores through here, so
/// limits, durability and metrics cannot differ between them. When it returns the entries are
/// durably committed, in order, each answered with its place (or the original it duplicates).
pub(crate) async fn append_entries(
    store: &dyn Store,
    usage: &Usage,
    tenant: TenantId,
    entries: Vec<NewEntry>,
    queued: Admitted,
) -> Result<Vec<Appended>, ServiceError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let _queued = usage
        .admit_events(store, tenant, entries.len(), queued)
        .await?;
    let appended = store.append(tenant, entries).await?;
    let duplicates = appended.iter().filter(|a| a.duplicate).count() as u64;
    metrics::counter!("sealtrail_events_ingested_total", "status" => "created")
        .increment(appended.len() as u64 - duplicates);
    metrics::counter!("sealtrail_events_ingested_total", "status" => "duplicate")
        .increment(duplicates);
    Ok(appended)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::IngestCapacity;
    use sealtrail_store::sqlite::{SqliteOptions, SqliteStore};
    use sealtrail_store::{Directory, EventLog};

    fn usage() -> Usage {
        Usage::new(IngestCapacity {
            body_buffer_mib: 8,
            queued_events: 10_000,
        })
    }

    async fn send(
        store: &dyn Store,
        usage: &Usage,
        tenant: TenantId,
        body: &str,
        key: Option<&str>,
    ) -> Result<Ingested, ServiceError> {
        let limits = Limits::default();
        let queued = usage.reserve_queue(None, limits.max_batch)?;
        let request = IngestRequest {
            tenant,
            body: body.as_bytes().to_vec(),
            idempotency_key: key.map(str::to_string),
        };
        ingest(
            store,
            usage,
            &limits,
            &SchemaRegistry::default(),
            request,
            queued,
        )
        .await
    }

    #[tokio::test]
    async fn a_retried_batch_is_recognised_event_by_event_and_bad_events_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
        let tenant = store.create_tenant("acme").await.unwrap().id;
        let usage = usage();
        let batch = r#"{"events": [
            {"action": "doc.created", "actor": {"id": "u1"}},
            {"action": "", "actor": {"id": "u1"}},
            {"action": "doc.deleted", "actor": {"id": "u1"}}
        ]}"#;
        let first = send(&store, &usage, tenant, batch, Some("req-7"))
            .await
            .unwrap();
        assert!(first.is_batch);
        assert_eq!((first.accepted(), first.duplicates()), (2, 0));
        let indices: Vec<usize> = first.stored.iter().map(|(i, _)| *i).collect();
        assert_eq!(indices, [0, 2]);
        assert_eq!(first.rejected.len(), 1);
        assert_eq!(first.rejected[0].0, 1);
        assert_eq!(first.rejected[0].1.field, "action");

        // The same request again: the derived keys `req-7#0` and `req-7#2` find the originals.
        let again = send(&store, &usage, tenant, batch, Some("req-7"))
            .await
            .unwrap();
        assert_eq!((again.accepted(), again.duplicates()), (0, 2));
        for ((_, a), (_, b)) in first.stored.iter().zip(&again.stored) {
            assert_eq!((a.id, a.seq), (b.id, b.seq));
        }
        // Without the header the same events are new ones.
        let fresh = send(&store, &usage, tenant, batch, None).await.unwrap();
        assert_eq!(fresh.accepted(), 2);
    }

    #[tokio::test]
    async fn a_single_bad_event_or_a_body_that_is_not_events_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
        let tenant = store.create_tenant("acme").await.unwrap().id;
        let usage = usage();
        let single = send(&store, &usage, tenant, r#"{"actor": {"id": "u1"}}"#, None).await;
        assert!(
            matches!(&single, Err(ServiceError::Field(e)) if e.field == "action"),
            "{single:?}"
        );
        let garbage = send(&store, &usage, tenant, "not json", None).await;
        assert!(matches!(garbage, Err(ServiceError::Body(_))), "{garbage:?}");
        let sizes = store.log_sizes().await.unwrap();
        let size = sizes
            .iter()
            .find(|(t, _)| *t == tenant)
            .map_or(0, |(_, n)| *n);
        assert_eq!(size, 0);
    }
}
