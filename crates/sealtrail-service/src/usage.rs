//! Usage limits on the API: what one key, one tenant and the whole node may ask for.
//!
//! * per API key: requests per second to any `/v1` endpoint (tenant setting);
//! * per tenant: ingested events per second, and events per UTC day (tenant settings);
//! * per node: ingest bodies being read and events queued for the writer ([`admission`]).
//!
//! Rates are counted per node (a cluster of N nodes behind a balancer allows up to N times the
//! rate); the quota is counted by the store, so it holds across nodes (see [`quota`]). Refusals
//! are 429 with `Retry-After` for the caller's own limits and 503 with `Retry-After` for the
//! node's capacity, and each is counted in `/metrics`.

pub mod admission;
pub mod bucket;
pub mod quota;

use crate::ServiceError;
use admission::{Admitted, Full, IngestAdmission};
use bucket::{Buckets, Rate};
use quota::DailyQuotas;
use sealtrail_core::keys::ApiKey;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{Store, StoreError, TenantLimits};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a tenant's limits are used from memory before they are read again (changes made on
/// this node apply at once; on other nodes within this long).
pub const LIMITS_CACHE_FOR: Duration = Duration::from_secs(5);

/// The node's capacity for ingest (defaults in `sealtrail_server::ServerConfig::new`).
#[derive(Debug, Clone, Copy)]
pub struct IngestCapacity {
    /// MiB of request bodies read and parsed at once.
    pub body_buffer_mib: usize,
    /// Events parsed and waiting for, or inside, a group commit.
    pub queued_events: usize,
}

/// Counts a refusal in `/metrics` and builds its answer.
fn refused(reason: &'static str, events: u64, error: ServiceError) -> ServiceError {
    metrics::counter!("sealtrail_ingest_refused_total", "reason" => reason).increment(1);
    if events > 0 {
        metrics::counter!("sealtrail_ingest_refused_events_total", "reason" => reason)
            .increment(events);
    }
    error
}

/// 503 for a request the writer's queue has no room for.
fn queue_full(events: u64) -> ServiceError {
    refused(
        "queue_full",
        events,
        ServiceError::Overloaded(
            "the writer's queue is full; nothing from this request was stored — retry shortly"
                .into(),
        ),
    )
}

/// Everything the usage limits remember.
#[derive(Debug)]
pub struct Usage {
    buckets: Buckets,
    quotas: DailyQuotas,
    admission: IngestAdmission,
    limits: Mutex<HashMap<TenantId, (TenantLimits, Instant)>>,
}

impl Usage {
    /// Limits with the node's ingest capacity.
    pub fn new(capacity: IngestCapacity) -> Self {
        Usage {
            buckets: Buckets::default(),
            quotas: DailyQuotas::default(),
            admission: IngestAdmission::new(capacity.body_buffer_mib, capacity.queued_events),
            limits: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant's limits, from memory when read less than [`LIMITS_CACHE_FOR`] ago.
    pub async fn limits(
        &self,
        store: &dyn Store,
        tenant: TenantId,
    ) -> Result<TenantLimits, StoreError> {
        let now = Instant::now();
        if let Some((limits, at)) = crate::lock(&self.limits).get(&tenant) {
            if now.saturating_duration_since(*at) < LIMITS_CACHE_FOR {
                return Ok(*limits);
            }
        }
        let limits = store.settings(tenant).await?.limits;
        crate::lock(&self.limits).insert(tenant, (limits, now));
        Ok(limits)
    }

    /// Uses `limits` for the tenant from now on (after a change on this node).
    pub fn remember_limits(&self, tenant: TenantId, limits: TenantLimits) {
        crate::lock(&self.limits).insert(tenant, (limits, Instant::now()));
    }

    /// Charges one request to `key`: 429 `rate_limited` over its tenant's per-key rate.
    /// `limits` are the tenant's, read with the key (and remembered for the node's other
    /// checks).
    pub fn charge_key(&self, key: &ApiKey, limits: TenantLimits) -> Result<(), ServiceError> {
        self.remember_limits(key.tenant, limits);
        let Some(per_second) = limits.requests_per_second_per_key else {
            return Ok(());
        };
        let bucket = format!("key:{}", key.id);
        self.buckets
            .take(&bucket, 1, Rate::per_second(per_second), Instant::now())
            .map_err(|wait| {
                metrics::counter!("sealtrail_requests_refused_total", "reason" => "key_rate")
                    .increment(1);
                ServiceError::Limited {
 code: "rate_limited",
 message: format!(
                        "this API key is over its limit of {per_second} requests per second; retry after the Retry-After delay"
                    ),
 retry_after: wait,
 }
            })
    }

    /// Reserves room to read an ingest body: 503 `overloaded` when the node is reading as much
    /// as it allows.
    pub fn admit_body(
        &self,
        declared: Option<u64>,
        max_body: usize,
    ) -> Result<Admitted, ServiceError> {
        self.admission.body(declared, max_body).map_err(|_| {
            refused(
                "body_buffer_full",
                0,
                ServiceError::Overloaded(
                    "the server is reading as many event batches as it allows; retry shortly"
                        .into(),
                ),
            )
        })
    }

    /// Reserves writer-queue room for the most events a body of `declared` bytes can hold,
    /// before the body is read: 503 when the queue is full, so a refused request costs no
    /// parsing. [`Usage::admit_events`] cuts the reservation to the parsed count.
    pub fn reserve_queue(
        &self,
        declared: Option<u64>,
        max_batch: usize,
    ) -> Result<Admitted, ServiceError> {
        let bound = admission::events_upper_bound(declared, max_batch);
        self.admission
            .events(bound)
            .map_err(|_: Full| queue_full(bound as u64))
    }

    /// Admits `events` parsed events of `tenant` for storing into the `queued` reservation:
    /// 503 when the writer's queue cannot hold them, 429 `rate_limited` over the tenant's
    /// ingest rate, 429 `quota_exceeded` over its daily quota. Hold the result until the
    /// append returns.
    pub async fn admit_events(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        events: usize,
        mut queued: Admitted,
    ) -> Result<Admitted, ServiceError> {
        let n = events as u64;
        self.admission
            .resize(&mut queued, events)
            .map_err(|_: Full| queue_full(n))?;
        let limits = self.limits(store, tenant).await?;
        if let Some(per_second) = limits.ingest_events_per_second {
            let bucket = format!("tenant:{}", tenant.0);
            if let Err(wait) =
                self.buckets
                    .take(&bucket, n, Rate::per_second(per_second), Instant::now())
            {
                return Err(refused(
                    "tenant_rate",
                    n,
                    ServiceError::Limited {
 code: "rate_limited",
 message: format!(
                            "this tenant is over its ingest limit of {per_second} events per second; nothing from this request was stored"
                        ),
 retry_after: wait,
 },
                ));
            }
        }
        if let Some(quota) = limits.daily_event_quota {
            if let Err(over) = self
                .quotas
                .admit(store, tenant, quota, n, Timestamp::now())
                .await?
            {
                return Err(refused(
                    "daily_quota",
                    n,
                    ServiceError::Limited {
 code: "quota_exceeded",
 message: format!(
                            "this tenant's daily quota of {} events is used up ({} recorded today, {n} more sent); it resets at 00:00 UTC and nothing from this request was stored",
                            over.quota, over.used
                        ),
 retry_after: over.resets_in,
 },
                ));
            }
        }
        Ok(queued)
    }
}
