//! The per-tenant daily event quota: how much the tenant's log grew today (UTC), counted
//! exactly by the store every few seconds and, in between, by what this node admitted.
//!
//! Between two counts, other nodes' admissions are not seen, so with several nodes a tenant can
//! overshoot by what the others admit in that interval ([`RECOUNT_EVERY`]); requests already
//! admitted but not yet committed when a count is taken can likewise be missed once. The count
//! includes every entry of the day, Sealtrail's own; only ingest is ever refused.

use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the day's count is taken again from the store.
pub const RECOUNT_EVERY: Duration = Duration::from_secs(5);
/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// A refused admission: the day's use, the quota, and when it resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// Entries counted today (before this request).
    pub used: u64,
    /// The tenant's quota.
    pub quota: u64,
    /// Until 00:00 UTC.
    pub resets_in: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Tally {
    /// UTC day number the counts are for.
    day: i64,
    /// The store's count at `counted_at`.
    counted: u64,
    /// Events this node admitted since.
    admitted: u64,
    counted_at: Instant,
}

/// Daily tallies per tenant.
#[derive(Debug, Default)]
pub struct DailyQuotas {
    tallies: Mutex<HashMap<TenantId, Tally>>,
}

impl DailyQuotas {
    fn fresh(&self, tenant: TenantId, day: i64, now: Instant) -> Option<Tally> {
        let tallies = crate::lock(&self.tallies);
        tallies
            .get(&tenant)
            .filter(|t| t.day == day && now.saturating_duration_since(t.counted_at) < RECOUNT_EVERY)
            .copied()
    }

    /// Admits `events` more for `tenant` under `quota`, or refuses them all.
    pub async fn admit(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        quota: u64,
        events: u64,
        now: Timestamp,
    ) -> Result<Result<(), QuotaExceeded>, StoreError> {
        let day = now.millis().div_euclid(DAY_MS);
        let clock = Instant::now();
        if self.fresh(tenant, day, clock).is_none() {
            let counted = store.entries_since(tenant, Timestamp(day * DAY_MS)).await?;
            crate::lock(&self.tallies).insert(
                tenant,
                Tally {
                    day,
                    counted,
                    admitted: 0,
                    counted_at: clock,
                },
            );
        }
        let mut tallies = crate::lock(&self.tallies);
        let Some(tally) = tallies.get_mut(&tenant) else {
            return Ok(Ok(()));
        };
        let used = tally.counted + tally.admitted;
        if used.saturating_add(events) > quota {
            let resets_in = (day + 1) * DAY_MS - now.millis();
            return Ok(Err(QuotaExceeded {
                used,
                quota,
                resets_in: Duration::from_millis(resets_in.max(1) as u64),
            }));
        }
        tally.admitted += events;
        Ok(Ok(()))
    }
}
