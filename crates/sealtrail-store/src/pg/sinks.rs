//! Sinks on PostgreSQL: one row per sink; a delivery or failure is recorded only while the
//! sink is still active at the cursor it was attempted at, so two nodes delivering one sink
//! at once cannot move its cursor past what a receiver acknowledged.

use super::pool::{PgResult, Tx};
use crate::{NewSink, SinkRecord, StoreError};
use postgres::Row;
use sealtrail_core::sinks::{SinkFormat, SinkKind, SinkState};
use sealtrail_core::{TenantId, Timestamp};
use uuid::Uuid;

/// The columns [`sink_from_row`] reads.
const COLUMNS: &str = "tenant, id, name, kind, url, state, cursor, secret_version, failures, \
                       last_error, last_attempt_at, delivered_at, created_at, format, credential";

fn sink_from_row(row: &Row) -> PgResult<SinkRecord> {
    let (id, kind, state): (String, String, String) =
        (row.try_get(1)?, row.try_get(3)?, row.try_get(5)?);
    let cursor: i64 = row.try_get(6)?;
    let format: String = row.try_get(13)?;
    let (secret_version, failures): (i32, i32) = (row.try_get(7)?, row.try_get(8)?);
    let corrupt = |what: String| StoreError::Corrupt(what);
    Ok(SinkRecord {
        tenant: TenantId(row.try_get(0)?),
        id: Uuid::parse_str(&id).map_err(|_| corrupt(format!("sink id {id}")))?,
        name: row.try_get(2)?,
        kind: SinkKind::parse(&kind).ok_or_else(|| corrupt(format!("sink kind {kind}")))?,
        url: row.try_get(4)?,
        state: SinkState::parse(&state).ok_or_else(|| corrupt(format!("sink state {state}")))?,
        cursor: u64::try_from(cursor).map_err(|_| corrupt(format!("sink cursor {cursor}")))?,
        secret_version: u32::try_from(secret_version)
            .map_err(|_| corrupt(format!("sink secret version {secret_version}")))?,
        failures: u32::try_from(failures)
            .map_err(|_| corrupt(format!("sink failures {failures}")))?,
        last_error: row.try_get(9)?,
        last_attempt_at: row.try_get::<_, Option<i64>>(10)?.map(Timestamp),
        delivered_at: row.try_get::<_, Option<i64>>(11)?.map(Timestamp),
        created_at: Timestamp(row.try_get(12)?),
        format: SinkFormat::parse(&format)
            .ok_or_else(|| corrupt(format!("sink format {format}")))?,
        credential: row.try_get(14)?,
    })
}

fn cursor_value(cursor: u64) -> PgResult<i64> {
    Ok(i64::try_from(cursor).map_err(|_| StoreError::Corrupt(format!("sink cursor {cursor}")))?)
}

/// Adds an active sink.
pub(crate) fn add(tx: &mut Tx<'_>, tenant: TenantId, sink: &NewSink) -> PgResult<SinkRecord> {
    super::aliases::require_tenant(tx, tenant)?;
    let row = tx.query_opt(
        &format!(
            "INSERT INTO sinks (tenant, id, name, kind, url, state, cursor, secret_version, failures, created_at, format, credential)
             VALUES ($1, $2, $3, $4, $5, 'active', $6, 1, 0, $7, $8, $9)
             ON CONFLICT DO NOTHING
             RETURNING {COLUMNS}"
        ),
        &[
            &tenant.0,
            &sink.id.to_string(),
            &sink.name,
            &sink.kind.as_str(),
            &sink.url,
            &cursor_value(sink.cursor)?,
            &Timestamp::now().millis(),
            &sink.format.as_str(),
            &sink.credential,
        ],
    )?;
    match row {
        Some(row) => sink_from_row(&row),
        None => Err(StoreError::Conflict(format!(
            "the tenant already has a sink named `{}`",
            sink.name
        ))
        .into()),
    }
}

/// The tenant's sinks, by name.
pub(crate) fn list(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<Vec<SinkRecord>> {
    tx.query(
        &format!("SELECT {COLUMNS} FROM sinks WHERE tenant = $1 ORDER BY name COLLATE \"C\""),
        &[&tenant.0],
    )?
    .iter()
    .map(sink_from_row)
    .collect()
}

/// Every active sink.
pub(crate) fn active(tx: &mut Tx<'_>) -> PgResult<Vec<SinkRecord>> {
    tx.query(
        &format!(
            "SELECT {COLUMNS} FROM sinks WHERE state = 'active' ORDER BY tenant, name COLLATE \"C\""
        ),
        &[],
    )?
    .iter()
    .map(sink_from_row)
    .collect()
}

/// Sinks per state, across tenants.
pub(crate) fn state_counts(tx: &mut Tx<'_>) -> PgResult<Vec<(SinkState, u64)>> {
    let mut out = Vec::new();
    for row in tx.query(
        "SELECT state, count(*) FROM sinks GROUP BY state ORDER BY state",
        &[],
    )? {
        let state: String = row.try_get(0)?;
        let count: i64 = row.try_get(1)?;
        let state = SinkState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("sink state {state}")))?;
        out.push((state, count.max(0) as u64));
    }
    Ok(out)
}

/// Leases to `node` every active sink that is free, expired or already its own.
pub(crate) fn claim(
    tx: &mut Tx<'_>,
    node: &str,
    until: Timestamp,
    now: Timestamp,
) -> PgResult<Vec<SinkRecord>> {
    tx.query(
        &format!(
            "UPDATE sinks SET lease_owner = $1, lease_until = $2
             WHERE state = 'active'
               AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $3)
             RETURNING {COLUMNS}"
        ),
        &[&node, &until.millis(), &now.millis()],
    )?
    .iter()
    .map(sink_from_row)
    .collect()
}

/// Sets the state (and the cursor, for a replay), clearing the failures.
pub(crate) fn set_state(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    id: Uuid,
    state: SinkState,
    cursor: Option<u64>,
) -> PgResult<SinkRecord> {
    let cursor = cursor.map(cursor_value).transpose()?;
    let row = tx.query_opt(
        &format!(
            "UPDATE sinks SET state = $3, cursor = coalesce($4, cursor), failures = 0
             WHERE tenant = $1 AND id = $2
             RETURNING {COLUMNS}"
        ),
        &[&tenant.0, &id.to_string(), &state.as_str(), &cursor],
    )?;
    match row {
        Some(row) => sink_from_row(&row),
        None => Err(StoreError::NotFound(format!("sink {id}")).into()),
    }
}

/// Moves the cursor from `from` to `to` if the sink is still active there.
pub(crate) fn delivered(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    id: Uuid,
    from: u64,
    to: u64,
    at: Timestamp,
) -> PgResult<bool> {
    let changed = tx.execute(
        "UPDATE sinks SET cursor = $4, failures = 0, last_error = NULL,
                          last_attempt_at = $5, delivered_at = $5
         WHERE tenant = $1 AND id = $2 AND cursor = $3 AND state = 'active'",
        &[
            &tenant.0,
            &id.to_string(),
            &cursor_value(from)?,
            &cursor_value(to)?,
            &at.millis(),
        ],
    )?;
    Ok(changed == 1)
}

/// Records a failure at `at_cursor` if the sink is still active there.
pub(crate) fn failed(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    id: Uuid,
    at_cursor: u64,
    error: &str,
    dead_after: u32,
    at: Timestamp,
) -> PgResult<Option<u32>> {
    let dead_after = i32::try_from(dead_after).unwrap_or(i32::MAX);
    let row = tx.query_opt(
        "UPDATE sinks SET failures = failures + 1, last_error = $4, last_attempt_at = $5,
                          state = CASE WHEN failures + 1 >= $6 THEN 'dead_letter'
                                       ELSE 'active' END
         WHERE tenant = $1 AND id = $2 AND cursor = $3 AND state = 'active'
         RETURNING failures",
        &[
            &tenant.0,
            &id.to_string(),
            &cursor_value(at_cursor)?,
            &error,
            &at.millis(),
            &dead_after,
        ],
    )?;
    row.map(|row| {
        let failures: i32 = row.try_get(0)?;
        Ok(u32::try_from(failures).unwrap_or(0))
    })
    .transpose()
}

/// Removes a sink.
pub(crate) fn remove(tx: &mut Tx<'_>, tenant: TenantId, id: Uuid) -> PgResult<bool> {
    Ok(tx.execute(
        "DELETE FROM sinks WHERE tenant = $1 AND id = $2",
        &[&tenant.0, &id.to_string()],
    )? == 1)
}
