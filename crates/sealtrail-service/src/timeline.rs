//! The timeline above the audit table, for the API and the page alike: the store tallies the
//! filter's matches by hour or day, [`sealtrail_core::timeline::fold`] makes the bars.

use sealtrail_core::filter::Filter;
use sealtrail_core::timeline::{fold, tally_unit, Timeline};
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{Store, StoreError};

/// The bars of the entries `filter` selects: per hour for a period of two days or less, per
/// day, week, month or year as the period (or, without one, the log) grows.
pub async fn timeline(
    store: &dyn Store,
    tenant: TenantId,
    filter: &Filter,
    now: Timestamp,
) -> Result<Timeline, StoreError> {
    let unit = tally_unit(filter, now);
    let tallies = store.tallies(tenant, filter, unit).await?;
    Ok(fold(&tallies, unit, filter, now))
}
