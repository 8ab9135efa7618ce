//! Where a tenant's log lives in the `entries` table: `pk = (tenant << 40) | seq`, so a
//! tenant's entries are one contiguous, seq-ordered key range, and the range of it that still
//! has rows (from the prune horizon to the head).

use super::error::backend;
use crate::StoreError;
use rusqlite::{Connection, OptionalExtension};
use sealtrail_core::TenantId;

/// Bits of `pk` that hold the seq; the tenant id sits above them.
pub(crate) const SEQ_BITS: u32 = 40;
/// Largest tenant id whose entries fit the `pk` encoding (`pk` is a signed 64-bit integer).
pub(crate) const MAX_TENANT: i64 = (1 << (63 - SEQ_BITS)) - 1;
/// One more than the largest seq a tenant's log can hold.
pub(crate) const SEQ_LIMIT: i64 = 1 << SEQ_BITS;

/// The first `pk` of a tenant's log, or `None` for an id the encoding cannot hold (such a
/// tenant cannot exist, so reads treat it as empty).
pub(crate) fn tenant_base(tenant: TenantId) -> Option<i64> {
    (0..=MAX_TENANT)
        .contains(&tenant.0)
        .then_some(tenant.0 << SEQ_BITS)
}

/// How far a tenant's log reaches and where pruning has cut it: the seqs `[first_seq, size)`
/// have entry rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogRange {
    /// Number of entries ever appended (the next seq, the tree size).
    pub size: u64,
    /// The oldest seq not pruned.
    pub first_seq: u64,
}

/// The tenant's log range from its head row, `None` for a tenant that does not exist.
pub(crate) fn log_range(
    conn: &Connection,
    tenant: TenantId,
) -> Result<Option<LogRange>, StoreError> {
    if tenant_base(tenant).is_none() {
        return Ok(None);
    }
    conn.prepare_cached("SELECT next_seq, first_seq FROM log_heads WHERE tenant = ?1")
        .and_then(|mut s| {
            s.query_row([tenant.0], |r| {
                Ok(LogRange {
                    size: r.get::<_, i64>(0)?.max(0) as u64,
                    first_seq: r.get::<_, i64>(1)?.max(0) as u64,
                })
            })
            .optional()
        })
        .map_err(backend("reading the log head"))
}
