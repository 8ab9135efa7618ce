//! Sinks on SQLite: one row per sink; every change is one statement on the writer, and a
//! delivery or failure is recorded only while the sink is still active at the cursor it was
//! attempted at.

use super::error::{backend, constraint_kind, Constraint};
use super::WriteError;
use crate::{NewSink, SinkRecord, StoreError};
use rusqlite::{params, Connection, OptionalExtension, Row};
use sealtrail_core::sinks::{SinkFormat, SinkKind, SinkState};
use sealtrail_core::{TenantId, Timestamp};
use uuid::Uuid;

/// The columns [`sink_from_row`] reads.
const COLUMNS: &str = "tenant, id, name, kind, url, state, cursor, secret_version, failures, \
                       last_error, last_attempt_at, delivered_at, created_at, format, credential";

fn sink_from_row(row: &Row<'_>) -> rusqlite::Result<Result<SinkRecord, StoreError>> {
    let (id, kind, state): (String, String, String) = (row.get(1)?, row.get(3)?, row.get(5)?);
    let format: String = row.get(13)?;
    let cursor: i64 = row.get(6)?;
    Ok((|| {
        Ok(SinkRecord {
            tenant: TenantId(row.get(0).map_err(backend("reading a sink"))?),
            id: Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("sink id {id}")))?,
            name: row.get(2).map_err(backend("reading a sink"))?,
            kind: SinkKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("sink kind {kind}")))?,
            url: row.get(4).map_err(backend("reading a sink"))?,
            state: SinkState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("sink state {state}")))?,
            cursor: u64::try_from(cursor)
                .map_err(|_| StoreError::Corrupt(format!("sink cursor {cursor}")))?,
            secret_version: row.get(7).map_err(backend("reading a sink"))?,
            failures: row.get(8).map_err(backend("reading a sink"))?,
            last_error: row.get(9).map_err(backend("reading a sink"))?,
            last_attempt_at: row
                .get::<_, Option<i64>>(10)
                .map_err(backend("reading a sink"))?
                .map(Timestamp),
            delivered_at: row
                .get::<_, Option<i64>>(11)
                .map_err(backend("reading a sink"))?
                .map(Timestamp),
            created_at: Timestamp(row.get(12).map_err(backend("reading a sink"))?),
            format: SinkFormat::parse(&format)
                .ok_or_else(|| StoreError::Corrupt(format!("sink format {format}")))?,
            credential: row.get(14).map_err(backend("reading a sink"))?,
        })
    })())
}

fn one(conn: &Connection, tenant: TenantId, id: Uuid) -> Result<Option<SinkRecord>, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM sinks WHERE tenant = ?1 AND id = ?2"),
        params![tenant.0, id.to_string()],
        sink_from_row,
    )
    .optional()
    .map_err(backend("reading a sink"))?
    .transpose()
}

fn many(
    conn: &Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<SinkRecord>, StoreError> {
    let read = backend("reading sinks");
    let mut stmt = conn.prepare_cached(sql).map_err(&read)?;
    let rows = stmt
        .query_map(args, sink_from_row)
        .map_err(&read)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(&read)?;
    rows.into_iter().collect()
}

/// Adds an active sink.
pub(crate) fn add(
    conn: &mut Connection,
    tenant: TenantId,
    sink: &NewSink,
) -> Result<SinkRecord, WriteError> {
    super::aliases::require_tenant(conn, tenant)?;
    let cursor = i64::try_from(sink.cursor)
        .map_err(|_| StoreError::Corrupt(format!("sink cursor {}", sink.cursor)))?;
    let inserted = conn.execute(
        "INSERT INTO sinks (tenant, id, name, kind, url, state, cursor, secret_version, failures, created_at, format, credential)
         VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, 1, 0, ?7, ?8, ?9)",
        params![
            tenant.0,
            sink.id.to_string(),
            sink.name,
            sink.kind.as_str(),
            sink.url,
            cursor,
            Timestamp::now().millis(),
            sink.format.as_str(),
            sink.credential
        ],
    );
    if let Err(e) = inserted {
        return Err(match constraint_kind(&e) {
            Some(Constraint::Unique) => StoreError::Conflict(format!(
                "the tenant already has a sink named `{}`",
                sink.name
            ))
            .into(),
            _ => e.into(),
        });
    }
    Ok(one(conn, tenant, sink.id)?
        .ok_or_else(|| StoreError::NotFound(format!("sink {}", sink.id)))?)
}

/// The tenant's sinks, by name.
pub(crate) fn list(conn: &Connection, tenant: TenantId) -> Result<Vec<SinkRecord>, StoreError> {
    many(
        conn,
        &format!("SELECT {COLUMNS} FROM sinks WHERE tenant = ?1 ORDER BY name"),
        &[&tenant.0],
    )
}

/// Every active sink.
pub(crate) fn active(conn: &Connection) -> Result<Vec<SinkRecord>, StoreError> {
    many(
        conn,
        &format!("SELECT {COLUMNS} FROM sinks WHERE state = 'active' ORDER BY tenant, name"),
        &[],
    )
}

/// Sinks per state, across tenants.
pub(crate) fn state_counts(conn: &Connection) -> Result<Vec<(SinkState, u64)>, StoreError> {
    let read = backend("counting sinks");
    let mut stmt = conn
        .prepare_cached("SELECT state, count(*) FROM sinks GROUP BY state ORDER BY state")
        .map_err(read)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(backend("counting sinks"))?;
    let mut out = Vec::new();
    for row in rows {
        let (state, count) = row.map_err(backend("counting sinks"))?;
        let state = SinkState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("sink state {state}")))?;
        out.push((state, count.max(0) as u64));
    }
    Ok(out)
}

/// Leases to `node` every active sink that is free, expired or already its own.
pub(crate) fn claim(
    conn: &mut Connection,
    node: &str,
    until: Timestamp,
    now: Timestamp,
) -> Result<Vec<SinkRecord>, WriteError> {
    let read = backend("claiming sinks");
    let mut stmt = conn
        .prepare_cached(&format!(
            "UPDATE sinks SET lease_owner = ?1, lease_until = ?2
             WHERE state = 'active'
               AND (lease_owner IS NULL OR lease_owner = ?1 OR lease_until < ?3)
             RETURNING {COLUMNS}"
        ))
        .map_err(&read)?;
    let rows = stmt
        .query_map(params![node, until.millis(), now.millis()], sink_from_row)
        .map_err(&read)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(&read)?;
    Ok(rows.into_iter().collect::<Result<Vec<_>, _>>()?)
}

/// Sets the state (and the cursor, for a replay), clearing the failures.
pub(crate) fn set_state(
    conn: &mut Connection,
    tenant: TenantId,
    id: Uuid,
    state: SinkState,
    cursor: Option<u64>,
) -> Result<SinkRecord, WriteError> {
    let cursor = cursor
        .map(|c| i64::try_from(c).map_err(|_| StoreError::Corrupt(format!("sink cursor {c}"))))
        .transpose()?;
    let changed = conn.execute(
        "UPDATE sinks SET state = ?3, cursor = coalesce(?4, cursor), failures = 0
         WHERE tenant = ?1 AND id = ?2",
        params![tenant.0, id.to_string(), state.as_str(), cursor],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("sink {id}")).into());
    }
    Ok(one(conn, tenant, id)?.ok_or_else(|| StoreError::NotFound(format!("sink {id}")))?)
}

/// Moves the cursor from `from` to `to` if the sink is still active there.
pub(crate) fn delivered(
    conn: &mut Connection,
    tenant: TenantId,
    id: Uuid,
    from: u64,
    to: u64,
    at: Timestamp,
) -> Result<bool, WriteError> {
    let (from, to) = (cursor_value(from)?, cursor_value(to)?);
    let changed = conn.execute(
        "UPDATE sinks SET cursor = ?4, failures = 0, last_error = NULL,
                          last_attempt_at = ?5, delivered_at = ?5
         WHERE tenant = ?1 AND id = ?2 AND cursor = ?3 AND state = 'active'",
        params![tenant.0, id.to_string(), from, to, at.millis()],
    )?;
    Ok(changed == 1)
}

/// Records a failure at `at_cursor` if the sink is still active there.
pub(crate) fn failed(
    conn: &mut Connection,
    tenant: TenantId,
    id: Uuid,
    at_cursor: u64,
    error: &str,
    dead_after: u32,
    at: Timestamp,
) -> Result<Option<u32>, WriteError> {
    let failures = conn
        .query_row(
            "UPDATE sinks SET failures = failures + 1, last_error = ?4, last_attempt_at = ?5,
                              state = CASE WHEN failures + 1 >= ?6 THEN 'dead_letter'
                                           ELSE 'active' END
             WHERE tenant = ?1 AND id = ?2 AND cursor = ?3 AND state = 'active'
             RETURNING failures",
            params![
                tenant.0,
                id.to_string(),
                cursor_value(at_cursor)?,
                error,
                at.millis(),
                dead_after
            ],
            |r| r.get::<_, u32>(0),
        )
        .optional()?;
    Ok(failures)
}

/// Removes a sink.
pub(crate) fn remove(
    conn: &mut Connection,
    tenant: TenantId,
    id: Uuid,
) -> Result<bool, WriteError> {
    Ok(conn.execute(
        "DELETE FROM sinks WHERE tenant = ?1 AND id = ?2",
        params![tenant.0, id.to_string()],
    )? == 1)
}

fn cursor_value(cursor: u64) -> Result<i64, StoreError> {
    i64::try_from(cursor).map_err(|_| StoreError::Corrupt(format!("sink cursor {cursor}")))
}
