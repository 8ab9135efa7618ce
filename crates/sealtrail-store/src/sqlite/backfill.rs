//! Migration 2 in Rust: after the new tables and columns exist, give the installation its id
//! and every tenant its log origin, then seal every entry version 1 stored as plaintext JSON
//! (`body`), in seq order per tenant, build its tree nodes, and drop `body`. All of it runs in
//! the migration's one transaction: a crash leaves the file at version 1, to be redone.

use super::error::backend;
use super::tree::{append_leaf, NodeCache};
use crate::stored_entry::part_code;
use crate::StoreError;
use rusqlite::{params, Transaction};
use sealtrail_core::envelope::{random_salts, seal, VaultValue};
use sealtrail_core::policy::log_origin;
use sealtrail_core::{Entry, TenantId};
use std::collections::HashMap;

/// Version 2 (tables and columns; [`backfill::migrate_v2`] runs this, then seals the entries
/// version 1 stored and drops their plaintext `body`): tamper evidence, retention and erasure.
const V2_INTEGRITY: &str = r#"
-- Installation-wide values; `installation_id` names this installation in log origins.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- "sealtrail/<installation id>/<tenant name>", fixed at creation: every envelope names it.
ALTER TABLE tenants ADD COLUMN log_origin TEXT NOT NULL DEFAULT '';
-- Days to keep entries; NULL keeps them forever.
ALTER TABLE tenants ADD COLUMN retention_days INTEGER DEFAULT 365;
ALTER TABLE tenants ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;

-- Seqs below first_seq were pruned: their rows are gone, their tree hashes are kept.
ALTER TABLE log_heads ADD COLUMN first_seq INTEGER NOT NULL DEFAULT 0;

-- The canonical envelope: the Merkle leaf, stored verbatim and never rewritten.
ALTER TABLE entries ADD COLUMN envelope BLOB;

-- The values the envelope commits to (part 0 actor, 1 context, 2 payload). Erasure replaces
-- a value with a pseudonymous stand-in (erased = 1, salt NULL); the commitment stays.
-- Version 6 moves these into the entry rows.
CREATE TABLE vault (
    pk     INTEGER NOT NULL,
    part   INTEGER NOT NULL,
    salt   BLOB,
    value  BLOB NOT NULL,
    erased INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pk, part)
) WITHOUT ROWID;

-- Every complete subtree hash of every tenant's tree (level 0 = leaf hashes). Never deleted,
-- not even by pruning, so roots and proofs always cost O(log n) reads.
CREATE TABLE tree_nodes (
    tenant INTEGER NOT NULL,
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    hash   BLOB NOT NULL,
    PRIMARY KEY (tenant, level, idx)
) WITHOUT ROWID;

-- Ids of pruned entries, so a lookup answers "pruned" (410) rather than "missing" (404).
CREATE TABLE pruned_ids (
    tenant INTEGER NOT NULL,
    id     BLOB NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;

-- Signed checkpoints: the equivocation guard reads these, so it survives restarts.
CREATE TABLE checkpoints (
    tenant    INTEGER NOT NULL,
    size      INTEGER NOT NULL,
    root      BLOB NOT NULL,
    note      TEXT NOT NULL,
    signed_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, size)
) WITHOUT ROWID;
"#;

/// Rows sealed per read batch; also bounds the node cache, so memory stays constant.
const BATCH: i64 = 1_000;

/// Applies schema version 2 and backfills what it needs from version-1 data.
pub(crate) fn migrate_v2(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(V2_INTEGRITY)
        .map_err(backend("applying migration 2"))?;
    let installation = hex::encode(&random_salts()[0][..4]);
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('installation_id', ?1)",
        [&installation],
    )
    .map_err(backend("recording the installation id"))?;
    let origins = assign_origins(tx, &installation)?;
    seal_legacy_entries(tx, &origins)?;
    tx.execute_batch("ALTER TABLE entries DROP COLUMN body")
        .map_err(backend("dropping the plaintext entry bodies"))?;
    Ok(())
}

/// Sets every existing tenant's origin and returns them by tenant id.
fn assign_origins(
    tx: &Transaction<'_>,
    installation: &str,
) -> Result<HashMap<i64, String>, StoreError> {
    let tenants: Vec<(i64, String)> = tx
        .prepare("SELECT id, name FROM tenants")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()
        })
        .map_err(backend("listing tenants"))?;
    let mut origins = HashMap::new();
    for (id, name) in tenants {
        let origin = log_origin(installation, &name);
        tx.execute(
            "UPDATE tenants SET log_origin = ?2 WHERE id = ?1",
            params![id, origin],
        )
        .map_err(backend("setting a log origin"))?;
        origins.insert(id, origin);
    }
    Ok(origins)
}

/// Seals version-1 entries in pk order, which is seq order within each tenant, so every
/// tree append finds its left siblings already stored.
fn seal_legacy_entries(
    tx: &Transaction<'_>,
    origins: &HashMap<i64, String>,
) -> Result<(), StoreError> {
    let mut after = i64::MIN;
    let mut sealed = 0u64;
    loop {
        let batch: Vec<(i64, i64, i64, String)> = tx
            .prepare_cached(
                "SELECT pk, tenant, seq, body FROM entries WHERE pk > ?1 ORDER BY pk LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![after, BATCH], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<Result<_, _>>()
            })
            .map_err(backend("reading version-1 entries"))?;
        let Some(last) = batch.last() else {
            break;
        };
        after = last.0;
        let mut nodes = NodeCache::default();
        for (pk, tenant, seq, body) in batch {
            let entry: Entry = serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("version-1 entry at pk {pk}: {e}")))?;
            if i64::try_from(entry.seq).ok() != Some(seq) {
                return Err(StoreError::Corrupt(format!(
                    "version-1 entry at pk {pk} claims seq {} in its body",
                    entry.seq
                )));
            }
            let origin = origins.get(&tenant).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "entry at pk {pk} belongs to unknown tenant {tenant}"
                ))
            })?;
            let s = seal(&entry, origin, random_salts());
            tx.prepare_cached("UPDATE entries SET envelope = ?2 WHERE pk = ?1")
                .and_then(|mut st| st.execute(params![pk, s.envelope]))
                .map_err(backend("storing an envelope"))?;
            insert_v2_vault(tx, pk, &s.vault).map_err(backend("storing vault values"))?;
            append_leaf(tx, &mut nodes, TenantId(tenant), entry.seq, s.leaf_hash)
                .map_err(|e| e.while_doing("storing tree nodes"))?;
            sealed += 1;
        }
    }
    if sealed > 0 {
        tracing::info!(sealed, "sealed version-1 entries into envelopes and trees");
    }
    Ok(())
}

/// Stores a sealed entry's values in the version-2 `vault` table (one row per part), which
/// version 6 then folds into the entry rows.
fn insert_v2_vault(tx: &Transaction<'_>, pk: i64, vault: &[VaultValue; 3]) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO vault (pk, part, salt, value, erased) VALUES (?1, ?2, ?3, ?4, 0)",
    )?;
    for value in vault {
        insert.execute(params![
            pk,
            part_code(value.part),
            value.salt.as_slice(),
            value.value
        ])?;
    }
    Ok(())
}
