//! Puts a workload into a Sealtrail store, with the recorded times of a year of history.
//!
//! Loading goes through the same parser, validation and redaction as `POST /v1/events`, then
//! straight to [`Store::append`]: the stored log is exactly what HTTP ingest would have built,
//! but a replayed [`sealtrail_store::Clock`] dates each batch at its events' time, so date
//! presets, retention and pruning behave as on a log that really grew for a year. The HTTP
//! path itself is measured separately (scenarios I1 and I2).

use crate::batches::{Batches, Producer};
use crate::error::BenchError;
use crate::workload::{tenant_name, Submission, WorkloadSpec};
use sealtrail_core::entry::{Actor, ActorType, NewEntry};
use sealtrail_core::ingest::{parse_body, Limits};
use sealtrail_core::keys::Scope;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_service::tenants;
use sealtrail_store::{ReplayHandle, Store, TenantLimits};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinHandle;

/// The name of the tenant that holds the single large log of the export and verify scenarios.
pub const BULK_TENANT: &str = "bench-bulk";

/// A tenant of the loaded workload and the admin key the benchmark uses for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadedTenant {
    /// Rank in the workload (0 = largest); the bulk tenant has rank `u32::MAX`.
    pub rank: u32,
    /// Its tenant name: `bench-0001` for rank 0 and so on, or [`BULK_TENANT`].
    pub name: String,
    /// Its [`TenantId`] in the store, for the calls that bypass HTTP (the load itself, V1).
    pub id: i64,
    /// Plaintext admin key (the benchmark's own throwaway data directory).
    pub key: String,
    /// Events stored for it by the load (duplicates not counted).
    pub events: u64,
}

/// What the load stored and how fast.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Loaded {
    /// Workload tenants by rank.
    pub tenants: Vec<LoadedTenant>,
    /// The tenant with the one large log.
    pub bulk: LoadedTenant,
    /// Entries stored (duplicates excluded).
    pub stored: u64,
    /// Submissions answered as duplicates.
    pub duplicates: u64,
    /// Wall time of the load.
    pub seconds: f64,
}

/// Creates the tenants and loads `spec` plus a `bulk_events` log into `store`, in batches of
/// `batch` events (at most 1,000, the API's limit), moving `clock` along with the events.
pub async fn load(
    store: Arc<dyn Store>,
    clock: &ReplayHandle,
    spec: &WorkloadSpec,
    bulk_events: u64,
    batch: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Loaded, BenchError> {
    let started = Instant::now();
    let batch = batch.clamp(1, Limits::default().max_batch);
    clock.set(spec.start());
    let mut tenants = Vec::with_capacity(spec.tenants as usize);
    for rank in 0..spec.tenants {
        tenants.push(create_tenant(store.as_ref(), rank, &tenant_name(rank)).await?);
    }
    let mut bulk = create_tenant(store.as_ref(), u32::MAX, BULK_TENANT).await?;

    let mut loader = Loader {
        store,
        clock: clock.clone(),
        inflight: None,
        stored: 0,
        duplicates: 0,
    };
    let mut batches = Batches::new(spec, bulk_events, batch);
    let mut reported = 0;
    while let Some((producer, submissions)) = batches.next() {
        let target = match producer {
            Producer::Tenant(rank) => &mut tenants[rank as usize],
            Producer::Bulk => &mut bulk,
        };
        target.events += loader.send(TenantId(target.id), &submissions).await?;
        if batches.submitted() / 100_000 > reported {
            reported = batches.submitted() / 100_000;
            progress(batches.submitted());
        }
    }
    loader.finish().await?;
    Ok(Loaded {
        tenants,
        bulk,
        stored: loader.stored,
        duplicates: loader.duplicates,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The actor the benchmark's own administrative actions are recorded under.
fn bench_actor() -> Actor {
    Actor {
        kind: ActorType::System,
        id: Some("bench".into()),
        name: Some("sealtrail bench".into()),
        email: None,
        via: Some("benchmark loader".into()),
    }
}

async fn create_tenant(
    store: &dyn Store,
    rank: u32,
    name: &str,
) -> Result<LoadedTenant, BenchError> {
    let actor = bench_actor();
    let tenant = tenants::create_tenant(store, name, &actor).await?;
    let key = tenants::create_api_key(store, tenant.id, "bench", &[Scope::Admin], &actor).await?;
    // The benchmark measures the engine, not the per-tenant rate limits (which would cap I1's
    // 256 clients at a fraction of what the node does): its tenants have none.
    store
        .set_limits(tenant.id, TenantLimits::UNLIMITED)
        .await
        .map_err(BenchError::store("lifting the bench tenants' rate limits"))?;
    Ok(LoadedTenant {
        rank,
        name: name.to_string(),
        id: tenant.id.0,
        key: key.plaintext,
        events: 0,
    })
}

/// Sends batches one at a time, preparing the next while the previous one commits.
struct Loader {
    store: Arc<dyn Store>,
    clock: ReplayHandle,
    inflight: Option<JoinHandle<Result<(u64, u64), BenchError>>>,
    stored: u64,
    duplicates: u64,
}

impl Loader {
    /// Starts storing one tenant's batch once the previous one has committed; returns how many
    /// of its submissions are new events (the workload marks its own duplicates).
    async fn send(&mut self, tenant: TenantId, batch: &[Submission]) -> Result<u64, BenchError> {
        let entries = prepare(batch)?;
        let at = batch
            .iter()
            .map(|s| s.event.at)
            .max()
            .unwrap_or(Timestamp(0));
        self.finish().await?;
        // Only now, with nothing in flight, may the clock move: a group reads it once.
        self.clock.set(at);
        let store = self.store.clone();
        self.inflight = Some(tokio::spawn(async move {
            let appended = store
                .append(tenant, entries)
                .await
                .map_err(BenchError::store("loading the workload"))?;
            let duplicates = appended.iter().filter(|a| a.duplicate).count() as u64;
            Ok((appended.len() as u64 - duplicates, duplicates))
        }));
        Ok(batch.iter().filter(|s| !s.duplicate).count() as u64)
    }

    /// Waits for the batch in flight.
    async fn finish(&mut self) -> Result<(), BenchError> {
        if let Some(handle) = self.inflight.take() {
            let (stored, duplicates) = handle
                .await
                .map_err(|e| BenchError::Workload(format!("loader task: {e}")))??;
            self.stored += stored;
            self.duplicates += duplicates;
        }
        Ok(())
    }
}

/// Parses and validates a batch exactly as the ingest endpoint does.
fn prepare(batch: &[Submission]) -> Result<Vec<NewEntry>, BenchError> {
    let events: Vec<_> = batch.iter().map(|s| s.event.to_json()).collect();
    let body = serde_json::to_vec(&json!({ "events": events }))
        .map_err(|e| BenchError::Workload(format!("encoding a batch: {e}")))?;
    let parsed = parse_body(&body, &Limits::default(), Timestamp::now())
        .map_err(|e| BenchError::Workload(format!("the workload produced a bad batch: {e}")))?;
    parsed
        .items
        .into_iter()
        .map(|item| {
            item.map_err(|e| {
                BenchError::Workload(format!("the workload produced a bad event: {e}"))
            })
        })
        .collect()
}
